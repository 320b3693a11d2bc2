"""The protocol record that travels with every score.

FID, IS and KID depend on the feature network, its weights, the number of samples, the reference set, the resize
method and the seed (Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", show
resizing alone moving FID by several points), so a number without this record is not comparable to anything.
"""

from __future__ import annotations

import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ..errors import InvalidArgumentError

PACKAGES = ("torch", "torchvision", "torch-fidelity", "torchmetrics", "numpy", "scipy")
REQUIRED = ("extractor", "extractor_weights_sha256", "resize", "n_generated", "reference", "seed", "weights_sha256",
            "metric_settings", "versions", "date")
REFERENCE_FIELDS = ("dataset", "split", "count", "resolution")


def package_versions() -> dict[str, str]:
    from ..version import __version__

    out = {"gan-zoo": __version__}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def protocol_record(*, extractor, n_generated: int, reference: dict[str, Any], seed: int,
                    weights_sha256: dict[str, str] | None, metric_settings: dict[str, Any],
                    sampling: str) -> dict[str, Any]:
    """Everything needed to reproduce (or refuse to compare) a score. ``extractor`` is an ``ExtractorSpec``."""
    record = {
        "extractor": extractor.name,
        "extractor_weights_sha256": extractor.weights_sha256,
        "extractor_weights_official": extractor.official,
        "resize": extractor.resize,
        "n_generated": int(n_generated),
        "sampling": sampling,
        "reference": dict(reference),
        "seed": int(seed),
        "weights_sha256": dict(weights_sha256) if weights_sha256 else None,
        "metric_settings": dict(metric_settings),
        "versions": package_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
    }
    check_protocol(record)
    return record


def check_protocol(record: dict[str, Any]) -> None:
    """Refuse a record that lacks a field (``weights_sha256`` may be None only for real data)."""
    missing = [k for k in REQUIRED if k not in record]
    missing += [f"reference.{k}" for k in REFERENCE_FIELDS if k not in record.get("reference", {})]
    if missing:
        raise InvalidArgumentError(f"protocol record lacks {', '.join(missing)}: build it with protocol_record()")


def protocol_key(record: dict[str, Any]) -> tuple:
    """What makes two scores comparable: same extractor weights, sample count, reference and seed."""
    ref = record["reference"]
    return (record["extractor"], record["extractor_weights_sha256"], record["n_generated"], ref["dataset"],
            ref["split"], ref["count"], ref["resolution"], record["seed"])
