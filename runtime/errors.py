"""The one error type the runtime reports to users: a single clear line, never a traceback."""

from __future__ import annotations


class RuntimeInputError(Exception):
    """Bad input (argument, environment variable, file, remote) that the user must fix.

    The message names the offending field or URI and, where it helps, the accepted form.
    Entrypoints print it as one line on stderr and exit non-zero.
    """
