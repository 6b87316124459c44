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
        self.runner: Runner | None = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        runner = self.runner
        if self.view is not None:
            if runner is not None and runner.stop is not None:
                self.view.update(self._view(runner), force=True)  # the final state, with why it stopped
            self.view.close()
        elif self.enabled and runner is not None and runner.stop is not None and runner.stop[0] == state.FAILED:
            print(f"{runner.name}: Failed ({runner.stop[1]}): {runner.stop_message}", file=self.stream, flush=True)

    def __call__(self, kind: str, runner: Runner) -> None:
        if not self.enabled:
            return
        self.runner = runner
        if self.view is not None:
            self.view.update(self._view(runner), force=kind == "finished")
            return
        if kind == "finished":
            for t in runner.trials():
                st = t.user_attrs.get("katib_state")
                if st in state.TERMINAL and t.number not in self.reported:
                    self.reported.add(t.number)
                    budget = "".join(f", {name} used {used} left {left}" for name, used, left in runner.budget_rows())
                    cause = t.user_attrs.get("message") or t.user_attrs.get("reason")
                    why = f" ({cause})" if cause else ""
                    print(f"trial {t.user_attrs.get('name')}: {st}{why} objective={t.user_attrs.get('objective')} "
                          f"{t.user_attrs.get('assignments')} (best so far: {runner.best_value()}{budget})",
                          file=self.stream, flush=True)

    def _view(self, runner: Runner) -> Any:
        from rich.table import Table

        counts = state.count(runner.katib_states())
        limit = runner.spec.get("maxTrialCount")
        budget = "; ".join(f"{name} used {used}, left {left}" for name, used, left in runner.budget_rows())
        captions = [f"budget: {budget}"] if budget else []
        if runner.stop is not None and runner.stop[0] == state.FAILED:
            captions.append(f"Failed ({runner.stop[1]}): {runner.stop_message}")
        table = Table(title=f"{runner.name}: {counts.completed}/{limit or '?'} done, {len(runner.running)} running, "
                            f"best {_short(runner.best_value())}", caption="\n".join(captions) or None,
                      expand=False)
        for col in ("trial", "state", "reports", "last objective", "parameters", "cause"):
            table.add_column(col, overflow="fold")
        for t in runner.trials()[-12:]:
            run = runner.running.get(t.number)
            values = run.objective_values if run else (t.user_attrs.get("metrics") or {}).get(runner.metric_names[0], [])
            table.add_row(str(t.user_attrs.get("name", t.number)), t.user_attrs.get("katib_state", state.RUNNING),
                          str(len(values)), f"{values[-1]:.4f}" if values else "",
                          " ".join(f"{k}={v}" for k, v in (t.user_attrs.get("assignments") or {}).items()),
                          _clip(str(t.user_attrs.get("message") or t.user_attrs.get("reason") or "")))
        return table


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
