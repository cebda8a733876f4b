"""osltools: observational scaling laws of language models, with their uncertainty."""

__version__ = "0.1.0"

from .data import Panel  # noqa: E402
from .exceptions import DataError, FitError, OSLError, OSLWarning  # noqa: E402

__all__ = ["Panel", "OSLError", "DataError", "FitError", "OSLWarning", "__version__"]
