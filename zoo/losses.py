"""Adversarial losses. Each takes raw discriminator outputs (logits / critic values, any shape), never probabilities.

Notation: r = D(x) on real data, f = D(G(z)) on fakes, sigma = logistic sigmoid, softplus(t) = log(1 + e^t).
Every loss is a pair (discriminator loss, generator loss), both to be minimised. A loss whose generator side also
reads the scores of real data (the relativistic ones) sets ``g_needs_real``; the engine then passes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from .errors import InvalidArgumentError


class GANLoss:
    """A discriminator loss and a generator loss, both minimised."""

    name = "base"
    g_needs_real = False

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
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

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -F.softplus(fake).mean()


class NonSaturating(Minimax):
    """Goodfellow et al. 2014, the non-saturating variant used in practice.

    D: as Minimax.   G: -E[log sigma(f)] = E[softplus(-f)]
    """

    name = "ns"

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
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

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return 0.5 * ((fake - self.c) ** 2).mean()


class Wasserstein(GANLoss):
    """Arjovsky et al. 2017 (WGAN): the critic estimates W1 under a Lipschitz constraint (clipping or a penalty).

    D: E[f] - E[r]      G: -E[f]
    """

    name = "wasserstein"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -fake.mean()


class Hinge(GANLoss):
    """Lim & Ye 2017 / Miyato et al. 2018 (SNGAN, BigGAN).

    D: E[max(0, 1 - r)] + E[max(0, 1 + f)]      G: -E[f]
    """

    name = "hinge"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -fake.mean()


class TotalVariation(GANLoss):
    """TVGAN (PENG Bo, zhuanlan.zhihu.com/p/50806187): an IPM with D bounded to [-1, 1], the bound enforced by
    zeroing the gradient of real samples already scored above 1 and of fakes already scored below -1.

    D: -(E[min(1, r)] - E[max(-1, f)])      G: -E[f]   (linear: G keeps the unclipped loss)
    D's gradients equal the hinge loss's (the losses differ by the constant 2). ``clip_g=True`` clips G's loss the
    same way, -E[max(-1, f)]; the source reports that this variant fails ("no images"): G gets no gradient from
    exactly the fakes D rejects most confidently. It is here to reproduce that claim, not for training.
    """

    name = "tv"

    def __init__(self, clip_g: bool = False):
        self.clip_g = clip_g

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.clamp(min=-1).mean() - real.clamp(max=1).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -(fake.clamp(min=-1) if self.clip_g else fake).mean()

    def __repr__(self) -> str:
        return f"TotalVariation(clip_g={self.clip_g})"


class Relativistic(GANLoss):
    """Jolicoeur-Martineau 2019, "The relativistic discriminator: a key element missing from standard GAN",
    arXiv:1807.00734. D estimates how much more realistic real data is than fake data.

    With critic outputs C and a pair of scalar functions (f1, f2):
      relativistic (RGAN), on pairs:  D: E[f1(r - f)]                           G: E[f1(f - r)]
      relativistic average (RaGAN):   D: E[f1(r - E f)] + E[f2(f - E r)]      G: E[f1(f - E r)] + E[f2(r - E f)]
    so G's update also pushes D(real) down. ``kind`` picks (f1, f2): "s" (standard, f1 = softplus(-y),
    f2 = softplus(y)), "ls" (f1 = (y - 1)^2, f2 = (y + 1)^2) or "hinge" (f1 = relu(1 - y), f2 = relu(1 + y)).
    The pairwise RGAN uses the single term f1 (for "s": -log sigma(r - f), the paper's RSGAN).
    """

    g_needs_real = True
    KINDS = ("s", "ls", "hinge")

    def __init__(self, kind: str = "s", average: bool = True):
        if kind not in self.KINDS:
            raise InvalidArgumentError(f"relativistic loss kind must be one of {self.KINDS}, got {kind!r}")
        self.kind, self.average = kind, average
        self.name = ("ra" if average else "r") + {"s": "sgan", "ls": "lsgan", "hinge": "hinge"}[kind]

    def f1(self, y: Tensor) -> Tensor:
        """The term that wants y large."""
        if self.kind == "s":
            return F.softplus(-y)
        return (y - 1) ** 2 if self.kind == "ls" else F.relu(1 - y)

    def f2(self, y: Tensor) -> Tensor:
        """The term that wants y small."""
        if self.kind == "s":
            return F.softplus(y)
        return (y + 1) ** 2 if self.kind == "ls" else F.relu(1 + y)

    def _loss(self, winner: Tensor, loser: Tensor) -> Tensor:
        if not self.average:
            return self.f1(winner - loser).mean()
        return self.f1(winner - loser.mean()).mean() + self.f2(loser - winner.mean()).mean()

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return self._loss(real, fake)

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        if real is None:
            raise InvalidArgumentError(f"the {self.name} generator loss needs the scores of real data")
        return self._loss(fake, real)

    def __repr__(self) -> str:
        return f"Relativistic(kind={self.kind!r}, average={self.average})"


class FDivergence(GANLoss):
    """Nowozin et al. 2016 (fGAN): minimise the variational estimate of an f-divergence (``zoo.divergences``).

    With T = g_f(v) the activated critic output, the estimate is E_real[T] - E_fake[f*(T)].
    D: -(E[g_f(r)] - E[f*(g_f(f))]) (maximises the estimate)
    G: -E[g_f(f)] (``generator="ns"``, the paper's practical update, the non-saturating heuristic of Goodfellow
    et al.) or -E[f*(g_f(f))] (``generator="saddle"``: the saddle-point objective itself).
    The "gan" divergence gives exactly the minimax / non-saturating losses.
    """

    def __init__(self, divergence: str = "gan", pi: float = 0.5, generator: str = "ns"):
        from .divergences import get_divergence

        if generator not in ("ns", "saddle"):
            raise InvalidArgumentError(f"fGAN generator update must be 'ns' or 'saddle', got {generator!r}")
        self.divergence, self.pi, self.generator = get_divergence(divergence, pi), pi, generator
        self.name = f"f-{divergence}"

    def estimate(self, real: Tensor, fake: Tensor) -> Tensor:
        """The variational lower bound of D_f(P_real || Q_fake) at this critic."""
        div = self.divergence
        return div.activation(real).mean() - div.conjugate_of_activation(fake).mean()

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return -self.estimate(real, fake)

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        if self.generator == "ns":
            return -self.divergence.activation(fake).mean()
        return -self.divergence.conjugate_of_activation(fake).mean()

    def __repr__(self) -> str:
        return f"FDivergence({self.divergence.name!r}, pi={self.pi}, generator={self.generator!r})"


LOSSES: dict[str, type[GANLoss]] = {cls.name: cls for cls in (Minimax, NonSaturating, LeastSquares, Wasserstein, Hinge,
                                                             TotalVariation)}
#: relativistic losses by name: rsgan, rlsgan, rhinge (pairwise) and rasgan, ralsgan, rahinge (average)
RELATIVISTIC = {Relativistic(kind, average).name: (kind, average) for kind in Relativistic.KINDS
                for average in (False, True)}


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over the latent dimensions and averaged over the batch:
    -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)) (Kingma & Welling 2014; the VAE's prior loss)."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


def loss_names() -> list[str]:
    from .divergences import DIVERGENCES

    return [*LOSSES, *RELATIVISTIC, *(f"f-{d}" for d in DIVERGENCES)]


def get_loss(loss: str | GANLoss) -> GANLoss:
    """A loss object from its name or the object itself. Names: minimax, ns, ls, wasserstein, hinge, tv; the
    relativistic rsgan, rlsgan, rhinge, rasgan, ralsgan, rahinge; and f-<divergence> for every divergence of
    ``zoo.divergences`` (f-kl, f-pearson, ...)."""
    if isinstance(loss, GANLoss):
        return loss
    if loss in LOSSES:
        return LOSSES[loss]()
    if loss in RELATIVISTIC:
        return Relativistic(*RELATIVISTIC[loss])
    if isinstance(loss, str) and loss.startswith("f-"):
        from .divergences import DIVERGENCES

        if loss[2:] in DIVERGENCES:
            return FDivergence(loss[2:])
    raise InvalidArgumentError(f"unknown loss {loss!r}: choose one of {', '.join(loss_names())} or pass a GANLoss")
