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


class IndexFormatError(ZooError, ValueError):
    """A zoo index file (``index.json``) that is not valid."""


class DataNotFoundError(ZooError, FileNotFoundError):
    """A data set that is not on this machine."""


class HubError(WeightsNotFoundError):
    """A Hub file that cannot be had right now: offline and not cached, unknown revision, missing repo or file."""


class HubEntryMissingError(HubError):
    """A file that a Hub repo does not have at that revision."""

    def __init__(self, repo_id: str, filename: str, revision: str):
        super().__init__(f"{repo_id} has no file {filename} at revision {revision}")
        self.repo_id, self.filename, self.revision = repo_id, filename, revision


class NotAZooRepoError(WeightsError):
    """A Hub repo or folder without a zoo ``config.json`` (one naming ``generator_class``)."""


class WriteError(ZooError, OSError):
    """A file that could not be written (disk full, no permission); the previous file, if any, is left as it was."""


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: how a message quotes a user's value (one line, bounded)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
