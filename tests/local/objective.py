"""A cheap trial for local-backend tests: a known curve of x, printed as Katib metric lines.

Env: KATIB_LLM_HPARAMS (x), OBJ_STEPS, OBJ_SLEEP (seconds per step), OBJ_FAIL_ABOVE (exit 3
when x is above it), OBJ_SILENT (print no metric), OBJ_NAN (score is NaN at every step, printed
the way the shipped trainer prints it: left out, with a notice), OBJ_LEDGER (append "<trial> done" when the
trial completes, to count completions across runs), OBJ_COST (also print a metric "cost" = x at
every step: a second objective that trades off against score for x < 0.3), OBJ_LOCK (hold a multiprocessing lock, a
named semaphore, as tqdm and torch do, so a stopped trial has one to release).
"""

import json
import os
import sys
import time

from katib_llm.core.metrics import format_metric_line, metric_lines

hp = json.loads(os.environ["KATIB_LLM_HPARAMS"])
x = float(hp.get("x", 0.5))
steps = int(os.environ.get("OBJ_STEPS", "4"))
pause = float(os.environ.get("OBJ_SLEEP", "0.02"))
print(f"objective: x={x} pid={os.getpid()}", flush=True)
if os.environ.get("OBJ_LOCK"):
    import multiprocessing

    lock = multiprocessing.Lock()
if "OBJ_FAIL_ABOVE" in os.environ and x > float(os.environ["OBJ_FAIL_ABOVE"]):
    print("objective: failing on purpose", file=sys.stderr, flush=True)
    sys.exit(3)
for s in range(1, steps + 1):
    time.sleep(pause)
    if os.environ.get("OBJ_NAN"):
        print("\n".join(metric_lines({"score": float("nan")})), flush=True)
    elif not os.environ.get("OBJ_SILENT"):
        # Rises with the step; the final level is highest at x = 0.3.
        print(format_metric_line("score", (1.0 - (x - 0.3) ** 2) * s / steps), flush=True)
        if os.environ.get("OBJ_COST"):
            print(format_metric_line("cost", x), flush=True)
if os.environ.get("OBJ_LEDGER"):
    with open(os.environ["OBJ_LEDGER"], "a") as f:
        f.write(f"{os.environ.get('TRIAL_NAME', '?')} done\n")
