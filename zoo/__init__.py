"""gan-zoo: pretrained GANs on PyTorch Lightning.

    import zoo
    G = zoo.load("dcgan-fmnist")
    x = G.sample(64, seed=0)          # [64, 1, 28, 28] in [-1, 1]
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import InvalidArgumentError, UnknownModelError, WeightsError, WeightsNotFoundError, ZooError
from .generator import Generator
from .registry import get_entry, info, list_families, list_models
from .serialization import load_folder

__version__ = "0.1.0"


def load(
    name: str | os.PathLike,
    *,
    ema: bool = True,
    device: str | torch.device = "cpu",
    weights: str | os.PathLike | None = None,
) -> Generator:
    """Load a pretrained generator in eval mode.

    Args:
        name: a zoo name (``zoo.list_models()``), a local weights folder, or ``hf://ORG/REPO[@REVISION]``.
        ema: the EMA generator (default, what the scores refer to) or the raw one where it is shipped.
        device: where to put it.
        weights: a local copy of the upstream file for entries whose weights are not bundled (e.g. ``biggan-128``).
    """
    if isinstance(name, os.PathLike) or (isinstance(name, str) and Path(name).is_dir()):
        return load_folder(name, ema=ema, device=device)
    if not isinstance(name, str):
        raise InvalidArgumentError(f"name must be a zoo name, a folder or hf://ORG/REPO, got {type(name).__name__}")
    if name.startswith("hf://"):
        from .hub import load_from_hub

        return load_from_hub(name, ema=ema, device=device)
    entry = get_entry(name)
    if entry.bundled_dir is not None and weights is None:
        return load_folder(entry.bundled_dir, ema=ema, device=device, sha256=entry.weights.get("sha256"))
    from .hub import load_entry_weights

    return load_entry_weights(entry, ema=ema, device=device, weights=weights)


__all__ = [
    "load", "list_models", "list_families", "info", "get_entry", "Generator",
    "ZooError", "UnknownModelError", "InvalidArgumentError", "WeightsError", "WeightsNotFoundError",
]
