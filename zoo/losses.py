"""Adversarial losses. Each takes raw discriminator outputs (logits / critic values, any shape), never probabilities.

Notation: r = D(x) on real data, f = D(G(z)) on fakes, sigma = logistic sigmoid, softplus(t) = log(1 + e^t).
Every loss is a pair (discriminator loss, generator loss), both to be minimised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from .errors import InvalidArgumentError


class GANLoss:
    """A discriminator loss and a generator loss, both minimised."""

    name = "base"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Minimax(GANLoss):
    """Goodfellow et al. 2014, the saturating game.

    D: -E[log sigma(r)] - E[log(1 - sigma(f))] = E[softplus(-r)] + E[softplus(f)]
    G: E[log(1 - sigma(f))] = -E[softplus(f)]   (saturates when D rejects fakes confidently)
    """

    name = "minimax"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -F.softplus(fake).mean()


class NonSaturating(Minimax):
    """Goodfellow et al. 2014, the non-saturating variant used in practice.

    D: as Minimax.   G: -E[log sigma(f)] = E[softplus(-f)]
    """

    name = "ns"

    def g_loss(self, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


@dataclass(repr=True)
class LeastSquares(GANLoss):
    """Mao et al. 2017 (LSGAN), with targets a (fake), b (real) for D and c for G.

    D: 1/2 E[(r - b)^2] + 1/2 E[(f - a)^2]      G: 1/2 E[(f - c)^2]
    The paper's two settings: (a, b, c) = (0, 1, 1) (default here) and (-1, 1, 0) (Pearson chi^2).
    """

    a: float = 0.0
    b: float = 1.0
    c: float = 1.0
    name = "ls"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((real - self.b) ** 2).mean() + 0.5 * ((fake - self.a) ** 2).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - self.c) ** 2).mean()


class Wasserstein(GANLoss):
    """Arjovsky et al. 2017 (WGAN): the critic estimates W1 under a Lipschitz constraint (clipping or a penalty).

    D: E[f] - E[r]      G: -E[f]
    """

    name = "wasserstein"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


class Hinge(GANLoss):
    """Lim & Ye 2017 / Miyato et al. 2018 (SNGAN, BigGAN).

    D: E[max(0, 1 - r)] + E[max(0, 1 + f)]      G: -E[f]
    """

    name = "hinge"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


LOSSES: dict[str, type[GANLoss]] = {cls.name: cls for cls in (Minimax, NonSaturating, LeastSquares, Wasserstein, Hinge)}


def get_loss(loss: str | GANLoss) -> GANLoss:
    """A loss object from its name (``minimax``, ``ns``, ``ls``, ``wasserstein``, ``hinge``) or the object itself."""
    if isinstance(loss, GANLoss):
        return loss
    if loss not in LOSSES:
        raise InvalidArgumentError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)} or pass a GANLoss")
    return LOSSES[loss]()

