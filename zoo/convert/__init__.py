"""Checkpoint converters: upstream GAN checkpoints -> zoo generators, never by unpickling.

A converter is registered under a source name (``zoo convert SOURCE ...``) and turns an upstream weights file (plus an
optional upstream config file) into a zoo ``Generator`` whose outputs match the upstream model's.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import InvalidArgumentError
from ..generator import Generator

Converter = Callable[..., Generator]
CONVERTERS: dict[str, Converter] = {}


def register_converter(source: str):
    """Decorator: register ``fn(weights_file, config_file=None, **options) -> Generator`` as ``source``."""

    def decorate(fn: Converter) -> Converter:
        CONVERTERS[source] = fn
        return fn

    return decorate


def convert(source: str, weights_file: str | os.PathLike, config_file: str | os.PathLike | None = None,
            **options) -> Generator:
    """Convert an upstream checkpoint with the converter registered as ``source``."""
    _import_converters()
    if source not in CONVERTERS:
        raise InvalidArgumentError(f"unknown converter {source!r}: choose one of {', '.join(sorted(CONVERTERS))}")
    return CONVERTERS[source](weights_file, config_file, **options)


def _import_converters() -> None:
    """Converter modules register themselves on import; list them here."""
    from . import pytorch_pretrained_biggan, studiogan  # noqa: F401
