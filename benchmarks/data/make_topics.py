"""Regenerate benchmarks/data/topics/{train,test}.csv: short news headlines in four topics.

A small AG News-like set (world, sports, business, science/tech) for the HPO efficiency
benchmark, built from templates so that it ships in the repo (no downloads). Deterministic
(seeded). Templates share words across topics ("record", "wins", "deal", "launch", "talks",
"cuts"), so a classifier has to read the whole headline, not one keyword; and 5 % of the
training labels are flipped (a realistic amount of annotation noise), so the eval loss of a
well-tuned fine-tune stays above zero and configurations keep being ranked.
Run: python benchmarks/data/make_topics.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

LABELS = ["world", "sports", "business", "scitech"]
COUNTRIES = ["France", "Japan", "Brazil", "Kenya", "Canada", "India", "Egypt", "Norway", "Mexico", "Vietnam",
             "Poland", "Chile", "Turkey", "Ghana", "Peru", "Spain"]
LEADERS = ["the prime minister", "the president", "the foreign minister", "opposition leaders", "the UN envoy",
           "the defence minister", "rebel commanders", "the new chancellor"]
TEAMS = ["United", "the Lions", "City", "the Rangers", "Real", "the Eagles", "the Tigers", "Athletic", "the Giants",
         "Rovers", "the Sharks", "Olympique"]
ATHLETES = ["the veteran striker", "the world champion", "the teenage sprinter", "the top seed", "the captain",
            "the rookie quarterback", "the Olympic swimmer", "the defending champion"]
EVENTS = ["the cup final", "the world championship", "the open", "the title race", "the grand prix", "the playoffs",
          "the marathon", "the derby"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Northwind", "Umbrella Holdings", "Stark Industries", "Wayne Enterprises",
             "Tyrell", "Hooli", "Vandelay Imports", "Soylent", "Cyberdyne"]
SECTORS = ["airline", "retail", "banking", "steel", "oil", "insurance", "shipping", "mining", "car", "food"]
TECH = ["a new smartphone", "a quantum chip", "an AI model", "a solar cell", "a gene therapy", "a battery design",
        "a Mars rover", "a vaccine", "an open-source browser", "a satellite", "a fusion reactor", "a robot arm"]
LABS = ["NASA", "CERN", "MIT researchers", "a university team", "astronomers", "biologists", "engineers",
        "physicists", "a startup lab", "climate scientists"]
NUMBERS = ["2", "3", "5", "7", "10", "12", "15", "20", "25", "40"]

TEMPLATES = {
    "world": [
        "{leader} of {country} holds talks with {country2} on border dispute",
        "{country} votes in snap election as {leader} faces record turnout",
        "ceasefire in {country} holds as {leader} calls for peace talks",
        "protests spread across {country} after {leader} cuts fuel subsidies",
        "{country} and {country2} sign deal to reopen embassies",
        "floods in {country} leave thousands homeless, {leader} declares emergency",
        "{leader} wins backing of parliament in {country} after week of unrest",
        "UN warns of famine in {country} as aid convoys are blocked",
        "{country} expels {country2} diplomats over spying claims",
        "{leader} visits {country} to launch new trade and security pact",
    ],
    "sports": [
        "{team} beat {team2} {n}-1 to reach {event}",
        "{athlete} sets record as {team} win {event}",
        "{team} sign {athlete} in record transfer deal",
        "{athlete} withdraws from {event} with knee injury",
        "{team} fire coach after {n} straight losses",
        "{athlete} wins gold in {country} and breaks world record",
        "{team} hold {team2} to goalless draw in {event}",
        "late goal sends {team} past {team2} into {event}",
        "{athlete} signs new {n}-year contract with {team}",
        "fans celebrate as {team} launch title defence with big win",
    ],
    "business": [
        "{company} shares jump {n}% after record quarterly profit",
        "{company} to cut {n},000 jobs as {sector} demand slows",
        "{company} agrees {n} billion deal to buy rival {company2}",
        "{sector} stocks fall as central bank raises interest rates",
        "{company} wins talks with unions over {sector} pay deal",
        "oil prices climb {n}% as {country} cuts output",
        "{company} launches bond sale to fund {sector} expansion",
        "regulators fine {company} over {sector} price fixing",
        "{company} chief executive steps down after profit warning",
        "investors cheer as {company} raises dividend by {n}%",
    ],
    "scitech": [
        "{lab} unveil {tech} that doubles battery life",
        "{company} launches {tech} to rival market leader",
        "{lab} discover water ice on distant moon",
        "study finds {tech} cuts energy use by {n}%",
        "{lab} test {tech} in record-breaking experiment",
        "hackers exploit flaw in {company} software, patch released",
        "{lab} sequence genome of ancient plant",
        "{tech} passes first human trial, {lab} say",
        "{company} wins race to build {tech} for space agency",
        "{lab} warn that {n} species face extinction as oceans warm",
    ],
}


def headline(label: str, rng: random.Random) -> str:
    def pick(xs: list[str], avoid: str | None = None) -> str:
        return rng.choice([x for x in xs if x != avoid])

    country, team, company = pick(COUNTRIES), pick(TEAMS), pick(COMPANIES)
    slots = {"country": country, "country2": pick(COUNTRIES, country), "leader": pick(LEADERS),
             "team": team, "team2": pick(TEAMS, team), "athlete": pick(ATHLETES), "event": pick(EVENTS),
             "company": company, "company2": pick(COMPANIES, company), "sector": pick(SECTORS),
             "tech": pick(TECH), "lab": pick(LABS), "n": pick(NUMBERS)}
    text = rng.choice(TEMPLATES[label]).format(**slots)
    return text[0].upper() + text[1:]


def rows(n: int, rng: random.Random, noise: float) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        text = headline(label, rng)
        if rng.random() < noise:
            label = rng.choice([x for x in LABELS if x != label])
        out.append((text, label))
    rng.shuffle(out)
    return out


def main() -> None:
    rng = random.Random(11)
    here = Path(__file__).resolve().parent / "topics"
    here.mkdir(exist_ok=True)
    for name, n, noise in (("train", 1600, 0.05), ("test", 200, 0.0)):
        with open(here / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(rows(n, rng, noise))


if __name__ == "__main__":
    main()
