"""Regenerate examples/data/sentiment/{train,test}.csv: short labelled movie-review sentences.

Deterministic (seeded). Negations ("not good", "never boring") flip the label, so a model has
to read more than one word; that makes the learning rate and LoRA rank matter in the quickstart.
Run: python examples/data/make_sentiment.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

POS = ["good", "great", "wonderful", "moving", "delightful", "brilliant", "charming", "funny", "gripping",
       "beautiful", "clever", "touching"]
NEG = ["bad", "dull", "boring", "awful", "clumsy", "tedious", "messy", "bland", "weak", "predictable",
       "forgettable", "painful"]
SUBJECTS = ["the film", "this movie", "the story", "the acting", "the script", "the ending", "the soundtrack",
            "the plot", "the cast", "the direction", "the dialogue", "the pacing"]
TEMPLATES = ["{s} was {a}.", "{s} is {a}.", "honestly, {s} felt {a}.", "i thought {s} was {a}.",
             "{s} seemed {a} to me.", "overall {s} was quite {a}."]
NEGATED = ["{s} was not {a}.", "{s} was never {a}.", "i would not call {s} {a}.", "{s} was hardly {a}."]


def rows(n: int, rng: random.Random) -> list[tuple[str, int]]:
    out = []
    for _ in range(n):
        positive = rng.random() < 0.5
        negate = rng.random() < 0.3
        word = rng.choice(POS if positive != negate else NEG)
        template = rng.choice(NEGATED if negate else TEMPLATES)
        out.append((template.format(s=rng.choice(SUBJECTS), a=word), int(positive)))
    return out


def main() -> None:
    rng = random.Random(7)
    here = Path(__file__).resolve().parent / "sentiment"
    here.mkdir(exist_ok=True)
    for name, n in (("train", 320), ("test", 80)):
        with open(here / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(rows(n, rng))


if __name__ == "__main__":
    main()
