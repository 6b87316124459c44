"""The SDK's errors: raised before anything is submitted, naming the argument."""

from __future__ import annotations

from typing import Any


class TuneArgumentError(ValueError):
    """A bad argument to :meth:`KatibClient.tune` (or another SDK call).

    ``argument`` is the parameter's name as the caller wrote it (``hp_space['lr']``,
    ``resources_per_worker.gpu``); the message says what is accepted. ``errors`` holds the
    admission core's field errors when the core judged the argument (see :class:`ArgumentDenied`).
    """

    def __init__(self, argument: str, message: str, errors: list[Any] | None = None):
        self.argument = argument
        self.message = message
        self.errors = list(errors or [])
        ValueError.__init__(self, f"{argument}: {message}")


class ExperimentDenied(ValueError):
    """The admission core denied the Experiment ``tune()`` built; ``errors`` are its field errors."""

    def __init__(self, errors: list[Any]):
        from katib_llm.core.errors import format_errors

        self.errors = list(errors)
        super().__init__("the Experiment would be denied by katib-llm's webhook: " + format_errors(self.errors))


class ArgumentDenied(TuneArgumentError, ExperimentDenied):
    """The core denied a field that one ``tune()`` argument set.

    Both a :class:`TuneArgumentError` (``argument`` names the argument) and an
    :class:`ExperimentDenied` (``errors`` are the core's :class:`~katib_llm.core.errors.FieldError`,
    ``errors[0]`` the one ``argument`` maps)."""

    def __init__(self, argument: str, errors: list[Any]):
        TuneArgumentError.__init__(self, argument, errors[0].message + f" [{errors[0].code}]", errors)
