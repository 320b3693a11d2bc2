"""2-D Gaussian mixtures, the toy data of the mode-collapse experiments: a ring of 8 Gaussians (Metz et al.,
"Unrolled Generative Adversarial Networks", ICLR 2017, arXiv:1611.02163) and a 5x5 grid (Lin et al., "PacGAN",
NeurIPS 2018, arXiv:1712.04086; Dumoulin et al. 2017).

Every mode has the same weight and an isotropic std. The networks see the points divided by ``scale`` so that they
lie inside the zoo's output range (-1, 1) of a tanh generator; ``MixtureStream`` yields such batches shaped
``[B, 2, 1, 1]`` (two "channels" of a 1x1 image), which every family's engine code takes as it takes images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight isotropic Gaussians at ``centres`` ([K, 2]); the model sees points divided by ``scale``."""

    name: str
    centres: Tensor
    std: float
    scale: float

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` points [n, 2] in data coordinates (not divided by ``scale``)."""
        modes = torch.randint(len(self.centres), (n,), generator=generator)
        return self.centres[modes] + self.std * torch.randn(n, 2, generator=generator)


def ring(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """``modes`` Gaussians evenly spaced on a circle (Metz et al.: 8 modes, radius 2, std 0.02)."""
    if modes < 1 or radius <= 0 or std <= 0:
        raise InvalidArgumentError(f"need modes >= 1, radius > 0 and std > 0, got {modes}, {radius}, {std}")
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    centres = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(f"ring{modes}", centres, std, scale=1.25 * radius)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """``side`` x ``side`` Gaussians on a square lattice centred on 0 (PacGAN: 5x5 at -4, -2, 0, 2, 4, std 0.05)."""
    if side < 1 or spacing <= 0 or std <= 0:
        raise InvalidArgumentError(f"need side >= 1, spacing > 0 and std > 0, got {side}, {spacing}, {std}")
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    centres = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture(f"grid{side}x{side}", centres, std, scale=1.25 * max(float(ticks.abs().max()), spacing))


class MixtureStream(IterableDataset):
    """An endless stream of batches ``[batch_size, 2, 1, 1]`` of ``mixture``'s points divided by its scale, drawn
    from a generator seeded with ``seed`` (use with ``DataLoader(stream, batch_size=None)``)."""

    def __init__(self, mixture: GaussianMixture, batch_size: int, seed: int = 0):
        super().__init__()
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
        self.mixture, self.batch_size, self.seed = mixture, batch_size, seed

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            points = self.mixture.sample(self.batch_size, generator) / self.mixture.scale
            yield points[:, :, None, None]
