"""Trial processes: one fresh process per trial, forked from a warm, pre-imported server.

A fresh ``python`` costs seconds before training starts (importing torch, transformers and
peft ~3 s, then interpreter exit ~1 s, measured). The forkserver imports the trainer's heavy
modules once; each trial is a new child forked from it, so trials stay isolated (a crash or a
leak dies with the child) but start warm. In the child, ``python -m MOD``, ``python FILE``,
``python -c CODE`` and ``torchrun --nproc-per-node=1 -m MOD`` run in-process; anything else
(a shell script, ``torchrun`` with several processes) runs as a subprocess.

``mode="fresh"`` runs every step as a plain subprocess instead (what a naive runner does); the
benchmark compares the two.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import multiprocessing
import os
import runpy
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from katib_llm.core.trialenv import TrialEnv

from .steps import Step

PRELOAD_MODULE = "katib_llm.local._warm"
_PYTHONS = {"python", "python3", f"python{sys.version_info.major}.{sys.version_info.minor}"}
_ctx: Any = None


def context() -> Any:
    """The forkserver context, with the heavy imports preloaded (set once per process)."""
    global _ctx
    if _ctx is None:
        _ctx = multiprocessing.get_context("forkserver")
        # KATIB_LLM_PRELOAD: comma-separated modules to preload instead (empty: none).
        preload = os.environ.get(TrialEnv.PRELOAD)
        modules = [m for m in preload.split(",") if m] if preload is not None else [PRELOAD_MODULE]
        _ctx.set_forkserver_preload(modules)
    return _ctx


@contextlib.contextmanager
def _caller_main_hidden() -> Iterator[None]:
    """Start processes without multiprocessing re-running the caller's ``__main__`` in them.

    A forkserver child is prepared like a spawned one: multiprocessing re-imports the parent's
    main module (by ``__spec__`` name or ``__file__``) as ``__mp_main__`` so that pickled
    references to it resolve. A trial child runs katib-llm's code only (a function objective
    travels as source), so that re-run is never needed and does harm: a script without an
    ``if __name__ == "__main__":`` guard ran its ``tune()`` again inside every trial (which then
    failed on the work-dir lock), and a script read from stdin (``python - < run.py``) has
    ``__file__ == "<stdin>"``, which every trial tried to open and failed. Hiding the two
    attributes while the child is started makes multiprocessing prepare no main module, as it
    does for ``python -c`` and Jupyter kernels.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {key: main.__dict__[key] for key in ("__spec__", "__file__") if key in main.__dict__}
    try:
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def warm_up() -> float:
    """Start the forkserver (it imports the heavy modules once); return the seconds it took."""
    import multiprocessing.forkserver as forkserver

    start = time.time()
    ctx = context()
    forkserver.ensure_running()
    probe = ctx.Process(target=_noop)  # returns once the preload finished
    with _caller_main_hidden():
        probe.start()
    probe.join()
    return time.time() - start


def _noop() -> None:
    os._exit(0)


def _torchrun_nproc(argv: list[str]) -> tuple[int, list[str]] | None:
    """``torchrun [opts] -m MOD args`` → (nproc, ["-m", MOD, args...])."""
    nproc, i = 1, 1
    while i < len(argv):
        a = argv[i]
        if a in ("-m", "--module") or not a.startswith("-"):
            return nproc, (["-m"] + argv[i + 1:] if a in ("-m", "--module") else argv[i:])
        key, _, value = a.partition("=")
        if key in ("--nproc-per-node", "--nproc_per_node"):
            if not value and i + 1 < len(argv):
                value, i = argv[i + 1], i + 1
            nproc = int(value) if value.isdigit() else 1
        i += 1
    return None


def in_process_form(argv: list[str]) -> list[str] | None:
    """The python-level argv (``-m MOD ...`` / ``FILE ...`` / ``-c CODE``) to run warm, or None."""
    exe = os.path.basename(argv[0])
    if exe in _PYTHONS or argv[0] == sys.executable:
        rest = [a for a in argv[1:]]
        while rest and rest[0] in ("-u", "-B", "-O"):
            rest = rest[1:]
        return rest if rest else None
    if exe == "torchrun":
        parsed = _torchrun_nproc(argv)
        if parsed and parsed[0] == 1:
            return parsed[1]
    return None


def _run_python(pyargv: list[str], env: dict[str, str]) -> int:
    os.environ.clear()
    os.environ.update(env)
    try:
        if pyargv[0] == "-m":
            sys.argv = [pyargv[1]] + pyargv[2:]
            runpy.run_module(pyargv[1], run_name="__main__", alter_sys=True)
        elif pyargv[0] == "-c":
            sys.argv = ["-c"] + pyargv[2:]
            exec(compile(pyargv[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            sys.argv = list(pyargv)
            runpy.run_path(pyargv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # the trial's own error: log it like the interpreter would
        import traceback
        traceback.print_exc()
        return 1
    return 0


def _subprocess_argv(argv: list[str]) -> list[str]:
    exe = os.path.basename(argv[0])
    if exe in _PYTHONS:
        return [sys.executable] + argv[1:]
    if exe == "torchrun":
        found = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
        return [found, "--standalone"] + argv[1:]
    return argv


def run_steps(steps: list[Step], base_env: dict[str, str], cwd: str, timing_file: str, warm: bool) -> int:
    """Run the steps in order in this process (the trial child); return the exit code."""
    timings: list[dict[str, Any]] = []
    rc = 0
    for step in steps:
        env = {**base_env, **step.env}
        start = time.time()
        pyargv = in_process_form(step.argv) if warm else None
        if pyargv is not None:
            rc = _run_python(pyargv, env)
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                rc = subprocess.call(_subprocess_argv(step.argv), env=env, cwd=cwd)
            except OSError as exc:
                print(f"katib-llm local: cannot run {step.argv[0]!r}: {exc}", file=sys.stderr)
                rc = 127
        sys.stdout.flush()
        sys.stderr.flush()
        if _terminated:  # stopped, not finished: no record a resumed run would read as the step's exit
            break
        timings.append({"container": step.container, "init": step.init, "start": start, "end": time.time(),
                        "exit_code": rc})
        Path(timing_file).write_text(json.dumps(timings))
        if rc != 0:
            break
    return rc


def _die_with_runner(runner_pid: int) -> None:
    """Kill this trial's process group as soon as the runner is gone (e.g. SIGKILLed).

    Our parent is the forkserver, which outlives the runner by its interpreter teardown, so a
    parent-death signal alone would let a trial run on unobserved. A pidfd on the runner
    becomes readable the moment it exits, with no pid-reuse race.
    """
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    try:
        fd = os.pidfd_open(runner_pid)
    except (OSError, AttributeError):
        fd = None
    if fd is None and not _pid_alive(runner_pid):
        os.killpg(0, signal.SIGKILL)

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _pid_alive(runner_pid):
                time.sleep(0.2)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="katib-llm-runner-watch", daemon=True).start()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# Set in a trial child by SIGTERM: the step it interrupted did not finish.
_terminated = False


def _exit_on_sigterm() -> None:
    """Let SIGTERM (early stopping, a stopped run) unwind the trial like an exit.

    The default action ends the process on the spot, skipping the ``finally`` in :func:`_child`
    that releases what the trial registered with the runner's resource tracker (tqdm's and
    torch's named semaphores): each stopped trial left one, and the run ended warning about
    "N leaked semaphore objects". Once only: :func:`kill_group` follows with SIGKILL.
    """
    def stop(signum: int, frame: Any) -> None:
        global _terminated
        _terminated = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _child(steps: list[Step], base_env: dict[str, str], log_path: str, cwd: str, timing_file: str,
           threads: int, warm: bool, runner_pid: int) -> None:
    """Entry point of a trial child: own process group, fd 1/2 to the trial log, run, exit."""
    os.setsid()
    _die_with_runner(runner_pid)
    _exit_on_sigterm()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), line_buffering=True, write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), line_buffering=True, write_through=True)
    os.chdir(cwd)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    rc = 1
    try:
        rc = run_steps(steps, base_env, cwd, timing_file, warm)
    finally:
        try:  # release semaphores the trial created, so the resource tracker does not warn
            from multiprocessing import util
            util._run_finalizers()
        except Exception:  # noqa: BLE001
            pass
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc if 0 <= rc < 256 else 1)  # skip interpreter teardown: it costs ~1 s


@dataclass
class TrialProcess:
    """A running trial: its process and where it writes."""

    process: Any
    log_path: Path
    started: float

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def exit_code(self) -> int | None:
        return self.process.exitcode

    def kill(self, grace: float = 3.0) -> None:
        """Stop the trial and everything it started (its process group)."""
        kill_group(self.pid, grace)
        self.process.join(timeout=grace)


def kill_group(pid: int, grace: float = 3.0) -> None:
    """SIGTERM a trial's process group, then SIGKILL whatever is left after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.time() + grace
        while time.time() < deadline:
            try:
                os.killpg(pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)


def start_trial(steps: list[Step], env: dict[str, str], trial_dir: Path, threads: int,
                mode: str = "warm") -> TrialProcess:
    """Launch a trial in a new process and return at once."""
    log_path = trial_dir / "stdout.log"
    base_env = dict(env)
    base_env.setdefault("OMP_NUM_THREADS", str(threads))
    base_env.setdefault(TrialEnv.NUM_THREADS, str(threads))
    if mode == "warm":
        proc = context().Process(target=_child, args=(steps, base_env, str(log_path), str(trial_dir),
                                                     str(trial_dir / "steps.json"), threads, True, os.getpid()),
                                    daemon=False)
    elif mode == "fresh":
        proc = multiprocessing.get_context("fork").Process(
            target=_child, args=(steps, base_env, str(log_path), str(trial_dir), str(trial_dir / "steps.json"),
                                 threads, False, os.getpid()), daemon=False)
    else:
        raise ValueError(f"mode: {mode!r}; accepted: warm, fresh")
    started = time.time()
    with _caller_main_hidden():
        proc.start()
    return TrialProcess(proc, log_path, started)
