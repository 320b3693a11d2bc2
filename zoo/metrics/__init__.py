"""Evaluation: FID, IS, KID and precision/recall through torch-fidelity, and class coverage.

Every score carries its protocol (``zoo.metrics.protocol``): which feature extractor and weights, how many samples,
which reference split, how images were resized, the seed, the generator weights' sha256 and the package versions.

    from zoo.metrics import evaluate
    result = evaluate("dcgan-fmnist", n_samples=10_000)      # {"metrics", "coverage", "protocol"}
"""

from __future__ import annotations

_LAZY = {
    "evaluate": "fidelity", "evaluate_generator": "fidelity", "evaluate_real": "fidelity", "score_folders": "fidelity",
    "resolve_extractor": "extractors", "FIDCallback": "callback",
}


def __getattr__(name: str):
    # lazy: importing zoo.metrics.protocol or .reference does not load torch-fidelity or Lightning
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LAZY)
