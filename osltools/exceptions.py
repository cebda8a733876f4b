"""Errors and warnings of osltools.

Every error the toolkit raises on purpose is an :class:`OSLError`; its message
names the argument (and, for data, the model and column), the bad value and
what would be accepted. Warnings are :class:`OSLWarning` subclasses so users
can filter them by kind.
"""

from __future__ import annotations

from dataclasses import dataclass


class OSLError(Exception):
    """Base class of every error raised by osltools on purpose."""


class DataError(OSLError, ValueError):
    """Benchmark or metadata input that cannot be used as given."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating data: where it is and what is wrong."""

    message: str
    model: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        return self.message


class DataValidationError(DataError):
    """One or more validation problems; ``problems`` lists them one per line."""

    def __init__(self, problems: list[Problem], *, source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = head + str(self.problems[0])
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{head}{len(self.problems)} problems in the data:\n{lines}"
        super().__init__(text)


class DatasetError(OSLError):
    """A public dataset could not be found, downloaded or verified."""


class ChecksumError(DatasetError):
    """A file's sha256 differs from the pinned one."""


class DatasetNotAvailableError(DatasetError, FileNotFoundError):
    """No local copy and no way to download; the message says where to put the file."""


class ConfigError(OSLError, ValueError):
    """An option, argument or configuration value that is not accepted."""


class FitError(OSLError, RuntimeError):
    """A model could not be fitted; the message says what to try."""


class OSLWarning(UserWarning):
    """Base class of osltools warnings."""


class PlausibilityWarning(OSLWarning):
    """Metadata that is valid but implausible (e.g. tokens per parameter)."""


class JoinWarning(OSLWarning):
    """Models present in one input and absent from the other when joining."""


class ConvergenceWarning(OSLWarning):
    """An iterative procedure stopped before meeting its tolerance."""


class SmallFamilyWarning(OSLWarning):
    """A model family is too small for the requested estimate and was left out."""


class ResamplingWarning(OSLWarning):
    """Some bootstrap or cross-validation replicates failed."""
