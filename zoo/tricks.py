"""Training tricks as engine switches (FAMILIES.md C.12, C.13, C.22; ganhacks; Salimans et al. 2016).

Each is off by default and set in a recipe's ``model.init_args`` (the engine, ``GANModule``, validates them):

- ``label_smoothing`` s: one-sided label smoothing, D's real target 1 - s (Salimans et al. 2016, arXiv:1606.03498:
  0.9 as target, never smoothing the fakes).
- ``label_noise`` a: soft, noisy targets, real ~ U[1 - a, 1] and fake ~ U[0, a] per sample (ganhacks #6, which
  quotes real in [0.7, 1.2] and fake in [0, 0.3]; a target above 1 makes the cross-entropy unbounded below, so the
  real range stops at 1).
- ``label_flip`` p: each of D's targets is flipped (t -> 1 - t) with probability p (ganhacks #6 "occasionally flip").
  The three act on the binary cross-entropy of the minimax / non-saturating losses only.
- ``instance_noise`` sigma: Gaussian noise of std sigma_t added to every D input, real and fake, annealed linearly
  from sigma to 0 over the run (Sonderby et al. 2017, arXiv:1610.04490; Arjovsky & Bottou 2017).
- ``pack`` m: PacGAN (Lin et al. 2018, arXiv:1712.04086): D sees m samples at once, all real or all fake, stacked
  along the channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import InvalidArgumentError


@dataclass(frozen=True)
class LabelTargets:
    """D's binary cross-entropy targets under label smoothing, noise and flipping."""

    smoothing: float = 0.0
    noise: float = 0.0
    flip: float = 0.0

    def __post_init__(self):
        for name in ("smoothing", "noise", "flip"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise InvalidArgumentError(f"label_{name} must lie in [0, 1), got {value}")

    @property
    def active(self) -> bool:
        return bool(self.smoothing or self.noise or self.flip)

    def targets(self, like: Tensor, real: bool) -> Tensor:
        """One target per score of ``like``."""
        target = torch.full_like(like, 1.0 - self.smoothing if real else 0.0)
        if self.noise:
            u = self.noise * torch.rand_like(like)
            target = target - u if real else target + u
        if self.flip:
            flipped = torch.rand_like(like) < self.flip
            target = torch.where(flipped, 1.0 - target, target)
        return target

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """BCE(D(x), t_real) + BCE(D(G(z)), t_fake) on logits: the minimax D loss with these targets."""
        return (F.binary_cross_entropy_with_logits(real, self.targets(real, True))
                + F.binary_cross_entropy_with_logits(fake, self.targets(fake, False)))


def instance_noise_std(sigma: float, g_iters: int, max_g_iters: int | None) -> float:
    """sigma at the start, decaying linearly to 0 at ``max_g_iters``."""
    if not sigma:
        return 0.0
    if not max_g_iters:
        raise InvalidArgumentError("instance_noise anneals to 0 at max_g_iters: set model.max_g_iters")
    return sigma * max(0.0, 1.0 - g_iters / max_g_iters)


def pack(x: Tensor, m: int) -> Tensor:
    """[B, C, H, W] -> [B/m, m*C, H, W]: samples m*i .. m*i + m - 1 become one input of m*C channels."""
    if x.shape[0] % m:
        raise InvalidArgumentError(f"a batch of {x.shape[0]} cannot be packed in groups of {m}: use a batch size "
                                   f"(per process and micro-batch) that is a multiple of pack")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])
