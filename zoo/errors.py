"""Errors the zoo raises for bad input. Each message is one line that names the fix.

They subclass the built-in exception a caller would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``), so
``except ValueError`` keeps working; the command line prints them as ``error: <message>`` without a traceback.
"""


class ZooError(Exception):
    """Base class of every error the zoo raises on purpose."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class UnknownModelError(ZooError, KeyError):
    """A model name that is not in the zoo index."""


class InvalidArgumentError(ZooError, ValueError):
    """An argument with the wrong value (n <= 0, labels for an unconditional model, ...)."""


class WeightsError(ZooError, ValueError):
    """A weights file that is missing, altered (sha256 mismatch) or does not fit the model."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """Weights that are neither bundled, cached nor downloadable right now."""


class DataNotFoundError(ZooError, FileNotFoundError):
    """A data set that is not on this machine."""
