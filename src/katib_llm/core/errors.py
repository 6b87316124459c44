"""Field errors and denials: every rule reports a stable code and the field path it judged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with an Experiment, pinned to a field.

    ``path`` is a dotted path (``spec.parameters[2].feasibleSpace.min``) or an annotation
    (``metadata.annotations[<our prefix>model]``); ``code`` is stable (docs and
    tests refer to it); ``message`` says what is accepted.
    """

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


class AdmissionDenied(Exception):
    """Raised by callers that prefer exceptions (CLI, SDK) when the core denies."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        super().__init__(format_errors(self.errors))


def format_errors(errors: list[FieldError]) -> str:
    """One line per error, the form used in AdmissionReview status messages."""
    return "; ".join(str(e) for e in errors)
