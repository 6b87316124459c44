"""The one error type the runtime reports to users: a single clear line, never a traceback."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn


class RuntimeInputError(Exception):
    """Bad input (argument, environment variable, file, remote) that the user must fix.

    The message names the offending field or URI and, where it helps, the accepted form.
    Entrypoints print it as one line on stderr and exit non-zero.
    """


class OneLineArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors are one :class:`RuntimeInputError` line, not usage + error;
    ``hint`` says where the accepted form is."""

    def __init__(self, *args: Any, hint: str = "see --help", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hint = hint

    def error(self, message: str) -> NoReturn:
        raise RuntimeInputError(f"bad argument: {message} ({self.hint})")
