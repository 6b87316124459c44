"""Live progress of a local run: a live table in Jupyter or on a terminal, one line per finished trial otherwise."""

from __future__ import annotations

import sys
from typing import Any

from katib_llm.io.live import LiveView, in_notebook

from . import state
from .runner import Runner


class Progress:
    """Callback for :class:`Runner` events; use as a context manager around the run.

    In Jupyter and on a terminal a live table (:class:`katib_llm.io.live.LiveView`); otherwise
    one line per finished trial; nothing with ``enabled=False``.
    """

    def __init__(self, enabled: bool = True, stream: Any = None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.view = LiveView(True, self.stream, min_interval=1.0 if in_notebook() else 0.25) \
            if enabled and (tty or in_notebook()) else None
        self.reported: set[int] = set()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.view is not None:
            self.view.close()

    def __call__(self, kind: str, runner: Runner) -> None:
        if not self.enabled:
            return
        if self.view is not None:
            self.view.update(self._view(runner), force=kind == "finished")
            return
        if kind == "finished":
            for t in runner.trials():
                st = t.user_attrs.get("katib_state")
                if st in state.TERMINAL and t.number not in self.reported:
                    self.reported.add(t.number)
                    budget = "".join(f", {name} used {used} left {left}" for name, used, left in runner.budget_rows())
                    why = f" ({t.user_attrs['reason']})" if t.user_attrs.get("reason") else ""
                    print(f"trial {t.user_attrs.get('name')}: {st}{why} objective={t.user_attrs.get('objective')} "
                          f"{t.user_attrs.get('assignments')} (best so far: {runner.best_value()}{budget})",
                          file=self.stream, flush=True)

    def _view(self, runner: Runner) -> Any:
        from rich.table import Table

        counts = state.count(runner.katib_states())
        limit = runner.spec.get("maxTrialCount")
        budget = "; ".join(f"{name} used {used}, left {left}" for name, used, left in runner.budget_rows())
        table = Table(title=f"{runner.name}: {counts.completed}/{limit or '?'} done, {len(runner.running)} running, "
                            f"best {_short(runner.best_value())}", caption=f"budget: {budget}" if budget else None,
                      expand=False)
        for col in ("trial", "state", "reports", "last objective", "parameters"):
            table.add_column(col)
        for t in runner.trials()[-12:]:
            run = runner.running.get(t.number)
            values = run.objective_values if run else (t.user_attrs.get("metrics") or {}).get(runner.metric_names[0], [])
            table.add_row(str(t.user_attrs.get("name", t.number)), t.user_attrs.get("katib_state", state.RUNNING),
                          str(len(values)), f"{values[-1]:.4f}" if values else "",
                          " ".join(f"{k}={v}" for k, v in (t.user_attrs.get("assignments") or {}).items()))
        return table


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
