"""gan-zoo: pretrained GANs on PyTorch Lightning.

    import zoo
    G = zoo.load("dcgan-fmnist")
    x = G.sample(64, seed=0)          # [64, 1, 28, 28] in [-1, 1]

This module is the public facade. Its names are imported on first use, so ``import zoo`` (and ``zoo --help``) costs
no torch import, and loading a model imports no training code (no Lightning).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import InvalidArgumentError, UnknownModelError, WeightsError, WeightsNotFoundError, ZooError
from .registry import get_entry, info, list_models
from .version import __version__

if TYPE_CHECKING:
    from .generator import Generator
    from .weights import load, resolve

_LAZY = {"load": "weights", "resolve": "weights", "Generator": "generator"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def list_families() -> list[str]:
    """The registered training families (importing them imports Lightning)."""
    from . import families  # noqa: F401  (each family registers itself on import)
    from .registry import FAMILIES

    return sorted(FAMILIES)


__all__ = [
    "load", "resolve", "list_models", "list_families", "info", "get_entry", "Generator", "__version__",
    "ZooError", "UnknownModelError", "InvalidArgumentError", "WeightsError", "WeightsNotFoundError",
]
