"""Regenerate benchmarks/data/reviews/{train,test}.csv: short product reviews in three classes.

The HPO benchmark's second task (different data and a different classification head from
``topics``: 3 labels, not 4): negative / mixed / positive reviews of household products, built
from templates so that it ships in the repo (no downloads). Deterministic (seeded). Cue words
are shared across classes and negated ("not great", "never failed"), and a mixed review joins a
good and a bad clause, so a classifier has to read the whole sentence; 5 % of the training
labels are flipped (annotation noise), so a well-tuned fine-tune's eval loss stays above zero.
Run: python benchmarks/data/make_reviews.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

LABELS = ["negative", "mixed", "positive"]
PRODUCTS = ["kettle", "blender", "vacuum", "toaster", "lamp", "fan", "heater", "drill", "mixer", "iron", "router",
            "speaker", "monitor", "keyboard", "chair", "mattress"]
GOOD = ["works great", "is well made", "arrived early", "is very quiet", "is easy to clean", "does the job",
        "feels solid", "was worth the price", "is really fast", "looks lovely"]
BAD = ["broke in a week", "is far too loud", "arrived damaged", "is hard to clean", "stopped working",
       "feels cheap", "was a waste of money", "is painfully slow", "smells of plastic", "leaks everywhere"]
NOT_GOOD = ["is not great", "is not worth it", "never worked properly", "is not what I expected"]
NOT_BAD = ["never failed once", "is not loud at all", "had no problems", "is not flimsy"]
OPENERS = ["Honestly, the", "The", "My new", "Our", "This", "After a month, the"]
JOINS = ["but", "although", "yet", "even though"]


def clauses(kind: str, rng: random.Random, k: int) -> list[str]:
    return rng.sample({"good": GOOD + NOT_BAD, "bad": BAD + NOT_GOOD}[kind], k)


def review(label: str, rng: random.Random) -> str:
    product = f"{rng.choice(OPENERS)} {rng.choice(PRODUCTS)}"
    if label in ("positive", "negative"):
        first, second = clauses("good" if label == "positive" else "bad", rng, 2)
        return f"{product} {first} and {second}"
    first, second = rng.sample(["good", "bad"], 2)
    return f"{product} {clauses(first, rng, 1)[0]} {rng.choice(JOINS)} it {clauses(second, rng, 1)[0]}"


def rows(n: int, rng: random.Random, noise: float) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        text = review(label, rng)
        if rng.random() < noise:
            label = rng.choice([x for x in LABELS if x != label])
        out.append((text, label))
    rng.shuffle(out)
    return out


def main() -> None:
    rng = random.Random(20261208)
    dest = Path(__file__).resolve().parent / "reviews"
    dest.mkdir(exist_ok=True)
    for split, n, noise in (("train", 1600, 0.05), ("test", 200, 0.0)):
        with open(dest / f"{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label"])
            w.writerows(rows(n, rng, noise))


if __name__ == "__main__":
    main()
