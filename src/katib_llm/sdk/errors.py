"""The SDK's argument error: raised before anything is submitted, naming the argument."""

from __future__ import annotations


class TuneArgumentError(ValueError):
    """A bad argument to :meth:`KatibClient.tune` (or another SDK call).

    ``argument`` is the parameter's name as the caller wrote it (``hp_space["lr"]``,
    ``resources_per_worker.gpu``); the message says what is accepted.
    """

    def __init__(self, argument: str, message: str):
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}")


class ExperimentDenied(ValueError):
    """The admission core denied the Experiment ``tune()`` built; ``errors`` are its field errors."""

    def __init__(self, errors: list):
        from katib_llm.core.errors import format_errors

        self.errors = list(errors)
        super().__init__("the Experiment would be denied by katib-llm's webhook: " + format_errors(self.errors))
