"""The ASHA rule (katib_llm.core.asha) on hand-made and recorded curves.

Recorded curves: eval_loss of 16 real LoRA fine-tunes (tests/earlystopping/data/topics_curves.json).
An independent oracle recomputes every decision from its definition: at rung k (report
min_resource * eta**(s+k)) a trial continues iff its best value over its first rung reports is
no worse than the max(1, n // eta)-th best among the n trials that reached the rung so far, it
included.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from katib_llm.core.asha import (CONTINUE, MAX_REPORT, STOP, AshaSettings, Ladder, decide, rung_index,
                                 rungs)
from katib_llm.core.early_stopping import SettingsError

CURVES = json.loads((Path(__file__).parent / "data" / "topics_curves.json").read_text())


def settings(min_resource: int = 1, eta: int = 2, rate: int = 0) -> AshaSettings:
    return AshaSettings.parse([("min_resource", str(min_resource)), ("reduction_factor", str(eta)),
                               ("min_early_stopping_rate", str(rate))])


def oracle(reached_before: list[float], value: float, eta: int) -> str:
    """Rank by counting: continue iff fewer than max(1, n // eta) trials are strictly better."""
    everyone = reached_before + [value]
    better = sum(1 for v in everyone if v < value)
    return CONTINUE if better < max(1, len(everyone) // eta) else STOP


def test_rungs_are_geometric_from_min_resource_times_eta_to_the_rate():
    assert rungs(settings(1, 2, 0), 20) == [1, 2, 4, 8, 16]
    assert rungs(settings(2, 3, 1), 60) == [6, 18, 54]
    assert rung_index(settings(2, 3, 1), 18) == 1 and rung_index(settings(2, 3, 1), 7) is None


def test_defaults_are_katibs_successivehalving_defaults():
    assert AshaSettings.parse([]) == AshaSettings(1, 4, 0)


@pytest.mark.parametrize("pairs, message", [
    # each setting's own bound (core.early_stopping) refuses these before any power is taken
    ([("min_resource", "10"), ("reduction_factor", "10"), ("min_early_stopping_rate", "1000000000")],
     "min_early_stopping_rate"),
    ([("min_resource", str(MAX_REPORT + 1))], "min_resource"),
    # within every bound, but the first rung past the last report ASHA keeps
    ([("min_resource", "2000"), ("reduction_factor", "100"), ("min_early_stopping_rate", "1")], "past report"),
    ([("reduction_factor", "1")], "reduction_factor"),
    ([("eta", "3")], "unknown setting"),
])
def test_overflowing_or_bad_settings_are_refused_not_computed(pairs, message):
    with pytest.raises(SettingsError, match=message):
        AshaSettings.parse(pairs)



def test_promotion_at_each_rung_by_hand():
    """eta=2, rungs at reports 1, 2, 4; minimize. Each decision at its rung, in arrival order."""
    ladder = Ladder(settings(1, 2, 0), maximize=False)
    assert ladder.record("a", [1.0]).decision == CONTINUE            # rung 0, alone: top 1
    assert ladder.record("b", [2.0]).decision == STOP                # rung 0, n=2 keep 1: a better
    assert ladder.record("c", [0.5]).decision == CONTINUE            # rung 0, best so far
    assert ladder.record("a", [1.0, 0.9]).decision == CONTINUE       # rung 1, first there
    assert ladder.record("c", [0.5, 0.4]).decision == CONTINUE       # rung 1, n=2 keep 1: c best
    d = ladder.record("a", [1.0, 0.9, 0.8, 0.7])                      # rung 2, first there
    assert (d.decision, d.rung) == (CONTINUE, 2)
    d = ladder.record("c", [0.5, 0.4, 0.9, 0.75])                    # rung 2 value = best = 0.4
    assert (d.decision, d.rung, d.reached) == (CONTINUE, 2, 2)
    assert ladder.record("a", [1.0, 0.9, 0.8, 0.7]).decision == STOP  # a retried request: c now leads


def test_rung_value_is_the_best_so_far():
    ladder = Ladder(settings(1, 2, 0), maximize=False)
    ladder.record("a", [1.0])
    ladder.record("a", [1.0, 0.9])
    decision = ladder.record("c", [0.5, 0.95])                       # rung 1 value: min(0.5, 0.95) = 0.5
    assert decision.decision == CONTINUE and decision.rung == 1 and decision.reached == 2


def test_running_trials_count_as_soon_as_they_reach_a_rung():
    """Asynchronous: nobody waits for a rung to fill; a running trial's rung value counts at once."""
    ladder = Ladder(settings(1, 3, 0), maximize=True)
    assert ladder.record("a", [0.2]).decision == CONTINUE            # n=1
    assert ladder.record("b", [0.1]).decision == STOP                # n=2, keep max(1, 0) = 1
    assert ladder.record("c", [0.3]).decision == CONTINUE            # n=3, keep 1: c best
    assert ladder.record("d", [0.25]).decision == STOP               # n=4, keep 1
    d = ladder.record("e", [0.29])                                   # n=5, keep 1: 0.3 still best
    assert (d.decision, d.reached, d.threshold) == (STOP, 5, 0.3)
    f = ladder.record("f", [0.26])                                   # n=6, keep 2: 0.3, 0.29
    assert (f.decision, f.threshold) == (STOP, 0.29)
    assert ladder.record("g", [0.29]).decision == CONTINUE           # n=7, keep 2: tie with e continues


def test_ties_continue_and_a_retried_request_gets_the_same_answer():
    ladder = Ladder(settings(1, 2, 0), maximize=False)
    assert ladder.record("a", [1.0]).decision == CONTINUE
    assert ladder.record("b", [1.0]).decision == CONTINUE            # tie at the threshold: promoted
    first = ladder.record("c", [3.0])
    assert first == ladder.record("c", [3.0])                        # its own earlier value is replaced
    assert len(ladder.by_rung[0]) == 3


def test_non_finite_values_rank_worst():
    ladder = Ladder(settings(1, 2, 0), maximize=False)
    ladder.record("a", [1.0])
    assert ladder.record("b", [math.nan]).decision == STOP
    assert ladder.record("c", [0.5]).decision == CONTINUE            # nan did not poison the ranking
    assert decide(settings(), True, "x", {}, math.nan, 1).decision == CONTINUE  # alone at a rung: top 1


def test_reports_between_rungs_always_continue():
    ladder = Ladder(settings(2, 2, 0), maximize=False)               # rungs 2, 4, 8
    assert ladder.record("a", [9.0]).rung is None
    assert ladder.record("a", [9.0, 9.0, 9.0]).decision == CONTINUE


@pytest.mark.parametrize("eta, min_resource, parallel", [(2, 1, 1), (2, 1, 3), (3, 1, 2), (2, 2, 4)])
def test_recorded_curves_match_the_oracle_at_every_rung(eta, min_resource, parallel):
    """Trials start in order, ``parallel`` at a time, and report one evaluation per tick each."""
    s = settings(min_resource, eta, 0)
    ladder = Ladder(s, maximize=False)
    seen: dict[int, list[float]] = {}
    pending = [(c["trial"], c["evals"]) for c in CURVES["curves"]]
    running: dict[str, tuple[list[float], int]] = {}
    decisions = {CONTINUE: 0, STOP: 0}
    stopped_at_rung: dict[int, int] = {}
    while pending or running:
        while pending and len(running) < parallel:
            name, evals = pending.pop(0)
            running[name] = (evals, 0)
        for name in list(running):
            evals, done = running[name]
            done += 1
            report = done
            index = rung_index(s, report)
            got = ladder.record(name, evals[:done])
            if index is not None:
                value = min(evals[:report])
                expected = oracle(seen.setdefault(index, []), value, eta)
                seen[index].append(value)
                assert got.decision == expected, (name, report, seen[index])
                decisions[got.decision] += 1
                if got.decision == STOP:
                    stopped_at_rung[index] = stopped_at_rung.get(index, 0) + 1
            if got.decision == STOP or done == len(evals):
                del running[name]
            else:
                running[name] = (evals, done)
    assert decisions[STOP] > 0 and decisions[CONTINUE] > 0
    assert len(stopped_at_rung) >= 2, stopped_at_rung               # trials are stopped at more than one rung


def test_learn_rebuilds_a_ladder_that_decides_as_the_original():
    s = settings(1, 2, 0)
    original, rebuilt = Ladder(s, False), Ladder(s, False)
    for c in CURVES["curves"][:6]:
        for report in range(1, len(c["evals"]) + 1):
            original.record(c["trial"], c["evals"][:report])
        rebuilt.learn(c["trial"], c["evals"])
    assert rebuilt.by_rung == original.by_rung
    newcomer = CURVES["curves"][7]["evals"]
    assert rebuilt.record("new", newcomer[:2]) == original.record("new", newcomer[:2])


def test_a_full_rung_is_reported_to_the_caller():
    ladder = Ladder(settings(1, 2, 0), False, max_trials=2)
    ladder.record("a", [1.0])
    ladder.record("b", [1.0])
    assert ladder.full(1, "c") and not ladder.full(1, "a") and not ladder.full(3, "c")
