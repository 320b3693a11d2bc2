"""Mode counts, the measures of mode collapse on data with known modes (FAMILIES.md E.5).

- Gaussian mixtures (the 2-D ring and grid of Metz et al. 2017, arXiv:1611.02163, and Lin et al. 2018,
  arXiv:1712.04086): a sample is *high quality* when it lies within ``radius`` standard deviations of some mode's
  centre, and a mode is *covered* when at least ``min_share`` of all samples lie within that distance of it.
- Stacked images with a classifier per channel (stacked MNIST in both papers, 1000 modes from 3 channels of 10
  classes): the mode of a sample is its tuple of predicted classes; a mode is covered when it receives at least
  ``min_count`` samples, and KL(mode histogram || uniform) measures how unevenly they are spread.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import InvalidArgumentError


def mixture_coverage(samples: Tensor, centres: Tensor, std: float, radius: float = 3.0,
                     min_share: float = 0.01) -> dict:
    """Modes covered and the share of high-quality samples of ``samples`` [N, 2] against ``centres`` [K, 2].

    Non-finite samples are neither high quality nor near a mode. Returns ``modes`` (covered), ``num_modes``,
    ``quality`` (share in [0, 1]) and ``counts`` (samples within reach of each mode).
    """
    if samples.dim() != 2 or samples.shape[1] != centres.shape[1] or len(samples) == 0:
        raise InvalidArgumentError(f"samples must be [N > 0, {centres.shape[1]}], got {list(samples.shape)}")
    if std <= 0 or radius <= 0 or not 0 < min_share <= 1:
        raise InvalidArgumentError(f"need std > 0, radius > 0 and min_share in (0, 1], got {std}, {radius}, "
                                   f"{min_share}")
    near = torch.cdist(samples.double(), centres.double()) <= radius * std  # NaN compares False
    counts = near.sum(0)
    n = len(samples)
    return {"modes": int((counts >= min_share * n).sum()), "num_modes": len(centres),
            "quality": float(near.any(1).double().mean()), "counts": counts.tolist()}


def stacked_coverage(predictions: Tensor, num_classes: int = 10, min_count: int = 1) -> dict:
    """Modes covered and KL(histogram || uniform) (nats) of predicted class tuples ``predictions`` [N, C].

    The mode of row (c_1, ..., c_C) is sum_i c_i * num_classes^(C - i): ``num_classes ** C`` modes in all.
    """
    if predictions.dim() != 2 or len(predictions) == 0:
        raise InvalidArgumentError(f"predictions must be [N > 0, channels], got {list(predictions.shape)}")
    if min_count < 1:
        raise InvalidArgumentError(f"min_count must be >= 1, got {min_count}")
    channels = predictions.shape[1]
    weights = num_classes ** torch.arange(channels - 1, -1, -1)
    num_modes = num_classes ** channels
    counts = torch.bincount((predictions.long() * weights).sum(1), minlength=num_modes)
    p = counts.double() / counts.sum()
    nonzero = p > 0
    kl = float((p[nonzero] * (p[nonzero] * num_modes).log()).sum())  # log(num_modes) - H(p)
    return {"modes": int((counts >= min_count).sum()), "num_modes": num_modes, "kl_uniform": kl,
            "max_kl": math.log(num_modes)}
