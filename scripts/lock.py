"""Bump the locked environment and regenerate the field tables with it, in one step.

    python3 scripts/lock.py            # after editing pyproject.toml: re-lock, keeping the locked versions
    python3 scripts/lock.py --upgrade  # bump every package to the newest release pyproject.toml allows
    python3 scripts/lock.py --tables   # only regenerate core/data/*.json from the current lock
    .venv/bin/python scripts/lock.py --check test
                                       # exit 1 unless that environment holds exactly the test lock

``pyproject.toml`` declares what katib-llm supports (ranges, for users installing the SDK into
their own environment); ``requirements/<target>.txt`` pins what the tests, the quickstart and the
images install, every package with its version and sha256 hashes (pip-tools' ``pip-compile
--generate-hashes``). One resolution decides every version: ``test`` (the README's test command:
the ``test`` extra, a superset of all others) is resolved first, and each other target under its
pins, so a package has the same version in every file. torch is pinned to the CPU wheel
(``torch==2.13.0``, which resolves to ``2.13.0+cpu``) so that no CUDA build and no ``nvidia-*``
package enters a lock; ``train.txt``, the runtime image's, leaves torch out: the Dockerfile installs
it from the torch index it is given (CPU by default, CUDA on request).

The field tables (``src/katib_llm/core/data/*.json``) are then regenerated, when the lock's
transformers or peft differ from the versions they name (or with ``--tables``), by
``scripts/gen_field_tables.py`` in a fresh virtual environment installed from ``local.txt``, so they
name and match the locked transformers and peft. ``tests/contract/test_lock.py`` and
``tests/core/test_layering.py`` check the lock against ``pyproject.toml`` and the tables against the
lock. Needs network access to the package index (and, for torch, the machine's CPU wheel).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "requirements"
TABLES = REPO / "src" / "katib_llm" / "core" / "data"
PIP_TOOLS = "pip-tools==7.7.0"
# Pinned beside the project's own requirements: the build backend that `pip install
# --no-build-isolation -e .` and the images' wheel stage build katib-llm with, and in the targets
# that install torch, its CPU wheel.
PINS = ("setuptools", "wheel")
TORCH = "torch==2.13.0"
WITH_TORCH = {"test", "local", "train"}
WITHOUT_TORCH = {"train"}  # resolved with torch (its dependencies are locked), torch itself left out
# target -> (pyproject extra or None for the base install, what installs it)
TARGETS = {
    "test": ("test", "the README's test command and CI"),
    "local": ("local", "the README's quickstart command (the local backend)"),
    "webhook": ("webhook", "the webhook image (Dockerfile, target webhook)"),
    "train": ("train", "the runtime image (Dockerfile, target runtime; torch left out: it comes from the torch index the build names)"),
    "base": (None, "the early-stopping image (Dockerfile, target earlystopping): the base install"),
}
COMMAND = "python3 scripts/lock.py"
BLOCK_START = re.compile(r"\n(?=[^\s#])")
PIN_LINE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.M)


def pins(lock_text: str) -> dict[str, str]:
    """Normalised package name -> locked version, from a lock file's text."""
    return {normalise(name): version for name, version in PIN_LINE.findall(lock_text)}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _drop_blocks(text: str, names: set[str]) -> str:
    """The lock without the entries of ``names`` (and the self-reference pip-compile adds for
    katib-llm's extras naming katib-llm, which pip could not hash)."""
    text = re.sub(r"# WARNING: pip install will require the following package to be hashed\.\n# Consider.*\n", "", text)
    blocks = BLOCK_START.split(text)
    kept = [b for b in blocks
            if not b.startswith("katib-llm @") and normalise(b.split("==")[0].split(" ")[0]) not in names]
    return "\n".join(kept)


def _tool_venv(tmp: Path) -> Path:
    venv.create(tmp / "tools", with_pip=True)
    python = tmp / "tools" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", PIP_TOOLS], check=True)
    return python


def _project_copy(tmp: Path) -> Path:
    """pyproject.toml, README.md and src/ copied aside: building the metadata writes egg-info."""
    copy = tmp / "project"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, copy / name)
    shutil.copytree(REPO / "src", copy / "src", symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if (REPO / "trial-templates").exists():  # src/katib_llm/trial_templates links to it
        shutil.copytree(REPO / "trial-templates", copy / "trial-templates")
    return copy


def compile_target(python: Path, project: Path, target: str, constraints: Path | None, upgrade: bool) -> str:
    extra, used_by = TARGETS[target]
    inputs = project / f"{target}.in"
    lines = [*PINS, *([TORCH] if target in WITH_TORCH else [])] + ([f"-c {constraints}"] if constraints else [])
    inputs.write_text("\n".join(lines) + "\n")
    out = project / f"{target}.txt"
    if (LOCKS / out.name).exists() and not upgrade:  # pip-compile keeps the pins it finds there
        shutil.copy2(LOCKS / out.name, out)
    cmd = [python, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe", "--strip-extras",
           *(["--upgrade"] if upgrade else []),
           "--no-emit-find-links", "--no-emit-index-url", "--no-header", "--output-file", str(out),
           *(["--extra", extra] if extra else []), "pyproject.toml", inputs.name]
    subprocess.run(cmd, check=True, cwd=project)
    body = _drop_blocks(out.read_text(), {"torch"} if target in WITHOUT_TORCH else set())
    header = (f"# The locked environment of {used_by}.\n"
              f"# Generated from pyproject.toml by `{COMMAND}` (pip-compile --generate-hashes); do not edit.\n"
              f"# Installed with `pip install --require-hashes -r requirements/{target}.txt`, then katib-llm with --no-deps.\n")
    return header + body


def relock(upgrade: bool) -> None:
    LOCKS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        python, project = _tool_venv(tmp), _project_copy(tmp)
        test = compile_target(python, project, "test", None, upgrade)
        (LOCKS / "test.txt").write_text(test)
        constraints = tmp / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins(test).items())))
        for target in TARGETS:
            if target != "test":
                (LOCKS / f"{target}.txt").write_text(compile_target(python, project, target, constraints, upgrade))
            print(f"wrote requirements/{target}.txt: {len(pins((LOCKS / f'{target}.txt').read_text()))} packages")


def tables_match_lock() -> bool:
    """Whether every field table names the library version the lock pins."""
    lock = pins((LOCKS / "local.txt").read_text())
    for path in TABLES.glob("*.json"):
        ((library, version),) = json.loads(path.read_text())["generated_from"].items()
        if lock.get(normalise(library)) != version:
            return False
    return True


def regenerate_tables() -> None:
    """core/data/*.json from the locked transformers and peft, in a fresh environment."""
    with tempfile.TemporaryDirectory() as tmp_name:
        env = Path(tmp_name) / "venv"
        venv.create(env, with_pip=True)
        python = env / "bin" / "python"
        subprocess.run([python, "-m", "pip", "install", "-q", "--require-hashes", "-r", str(LOCKS / "local.txt")],
                       check=True)
        subprocess.run([python, str(REPO / "scripts" / "gen_field_tables.py")], check=True)


def check(target: str) -> int:
    """Compare this interpreter's installed distributions with ``requirements/<target>.txt``: the
    same names at the same versions (pip, the installer, and editable installs aside)."""
    listed = subprocess.run([sys.executable, "-m", "pip", "list", "--format=json", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout
    installed = {normalise(d["name"]): d["version"] for d in json.loads(listed)}
    installed.pop("pip", None)
    locked = pins((LOCKS / f"{target}.txt").read_text())
    wrong = {n: v for n, v in installed.items() if locked.get(n) != v}
    missing = sorted(set(locked) - set(installed))
    for name, have in sorted(wrong.items()):
        print(f"{name}: installed {have}, " + (f"locked {locked[name]}" if name in locked else "not in the lock"),
              file=sys.stderr)
    for name in missing:
        print(f"{name}: locked {locked[name]}, not installed", file=sys.stderr)
    print(f"{len(installed)} installed, {len(locked)} in requirements/{target}.txt: "
          + ("exactly the lock" if not (wrong or missing) else f"{len(wrong)} differ, {len(missing)} missing"))
    return 1 if wrong or missing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true",
                        help="bump every package to the newest release pyproject.toml allows (default: keep the "
                             "locked versions, add and drop only what pyproject.toml changed)")
    parser.add_argument("--tables", action="store_true", help="only regenerate the field tables from the lock")
    parser.add_argument("--check", metavar="TARGET", choices=sorted(TARGETS),
                        help="compare the running interpreter's environment with requirements/TARGET.txt")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.check)
    if not args.tables:
        relock(args.upgrade)
    if args.tables or not tables_match_lock():
        regenerate_tables()
    else:
        print("the field tables already name the locked transformers and peft: left as they are")
    return 0


if __name__ == "__main__":
    sys.exit(main())
