"""Regularizers, chosen in a recipe's ``model.regularizers`` list and applied by the engine.

A regularizer can add a term to the discriminator loss (``d_penalty`` on inputs, ``d_weight_penalty`` on D's
parameters), add a term to the generator loss (``g_penalty``, on G's parameters), or act on the discriminator's
weights after each of its updates (``after_d_step``).
``critic`` is the discriminator with the batch's labels already bound: ``critic(x) -> scores``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .errors import InvalidArgumentError

Critic = Callable[[Tensor], Tensor]


class Regularizer:
    def d_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor | None:
        return None

    def d_weight_penalty(self, discriminator: nn.Module) -> Tensor | None:
        return None

    def g_penalty(self, generator: nn.Module) -> Tensor | None:
        return None

    @torch.no_grad()
    def after_d_step(self, discriminator: nn.Module) -> None:
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def input_gradient(critic: Critic, x: Tensor) -> Tensor:
    """d sum(critic(x)) / dx, kept in the graph so that a penalty on it can be backpropagated."""
    x = x.detach().requires_grad_(True)
    scores = critic(x)
    (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
    return grad.flatten(1).float()


class WeightClipping(Regularizer):
    """Arjovsky et al. 2017 (WGAN): clamp every critic parameter to [-clip, clip] after each critic update."""

    def __init__(self, clip: float = 0.01):
        self.clip = clip

    @torch.no_grad()
    def after_d_step(self, discriminator: nn.Module) -> None:
        params = list(discriminator.parameters())  # two foreach calls, not one clamp per parameter, every D step
        torch._foreach_clamp_min_(params, -self.clip)
        torch._foreach_clamp_max_(params, self.clip)


class GradientPenalty(Regularizer):
    """Gulrajani et al. 2017 (WGAN-GP): weight * E[(||grad D(x_hat)||_2 - 1)^2].

    x_hat = eps * x_real + (1 - eps) * x_fake with eps ~ U(0, 1) per sample. ``one_sided=True`` penalises only
    norms above 1: weight * E[max(0, ||grad|| - 1)^2] (also in Gulrajani et al., and Petzka et al. 2018).
    """

    def __init__(self, weight: float = 10.0, one_sided: bool = False):
        self.weight = weight
        self.one_sided = one_sided

    def d_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = eps * real.detach() + (1 - eps) * fake.detach()
        excess = input_gradient(critic, x_hat).norm(2, dim=1) - 1
        if self.one_sided:
            excess = excess.clamp(min=0)
        return self.weight * excess.pow(2).mean()


class R1(Regularizer):
    """Mescheder et al. 2018: (gamma / 2) * E_real[||grad D(x)||_2^2], a zero-centred penalty on real data."""

    def __init__(self, gamma: float = 10.0):
        self.gamma = gamma

    def d_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * self.gamma * input_gradient(critic, real).pow(2).sum(dim=1).mean()


class R2(Regularizer):
    """Mescheder et al. 2018: (gamma / 2) * E_fake[||grad D(x)||_2^2], the zero-centred penalty on generated data."""

    def __init__(self, gamma: float = 10.0):
        self.gamma = gamma

    def d_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * self.gamma * input_gradient(critic, fake).pow(2).sum(dim=1).mean()


class ZeroCenteredGP(Regularizer):
    """Thanh-Tung, Tran & Venkatesh 2019, "Improving Generalization and Stability of Generative Adversarial
    Networks", arXiv:1902.03984 (0-GP): weight * E[||grad D(x_hat)||_2^2] on the interpolates x_hat of WGAN-GP."""

    def __init__(self, weight: float = 10.0):
        self.weight = weight

    def d_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = eps * real.detach() + (1 - eps) * fake.detach()
        return self.weight * input_gradient(critic, x_hat).pow(2).sum(dim=1).mean()


class DRAGANPenalty(Regularizer):
    """Kodali et al. 2017, "On Convergence and Stability of GANs", arXiv:1705.07215 (DRAGAN):
    weight * E[(||grad D(x + delta)||_2 - k)^2] around the real data, delta = scale * std(x) * U[0, 1] elementwise
    with std(x) the standard deviation of the whole real batch (the authors' code: scale 0.5, weight 10, k 1)."""

    def __init__(self, weight: float = 10.0, k: float = 1.0, scale: float = 0.5):
        self.weight, self.k, self.scale = weight, k, scale

    def d_penalty(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        real = real.detach()
        perturbed = real + self.scale * real.std() * torch.rand_like(real)
        return self.weight * (input_gradient(critic, perturbed).norm(2, dim=1) - self.k).pow(2).mean()


class HistoricalAveraging(Regularizer):
    """Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498: each player's cost gets
    weight * ||theta - (1/t) sum_{i=1..t} theta[i]||^2, theta[i] its parameters at its i-th update (this one
    included). The running means live in this object: a resumed run starts them again from its parameters.
    """

    def __init__(self, weight: float = 1e-3):
        self.weight = weight
        self._means = {}  # id(module) -> (t, running means)

    def _penalty(self, module: nn.Module) -> Tensor | None:
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:  # a frozen network (D during G's update) has no cost of its own here
            return None
        t, means = self._means.get(id(module), (0, [torch.zeros_like(p) for p in params]))
        with torch.no_grad():
            torch._foreach_lerp_(means, [p.detach() for p in params], 1.0 / (t + 1))  # mean of t + 1 values
        self._means[id(module)] = (t + 1, means)
        return self.weight * sum((p - m).pow(2).sum() for p, m in zip(params, means))

    def d_weight_penalty(self, discriminator: nn.Module) -> Tensor | None:
        return self._penalty(discriminator)

    def g_penalty(self, generator: nn.Module) -> Tensor | None:
        return self._penalty(generator)

    def __repr__(self) -> str:
        return f"HistoricalAveraging(weight={self.weight})"


class OrthogonalRegularization(Regularizer):
    """Brock et al. 2019 (BigGAN): beta * sum_W ||W W^T * (1 - I)||_F^2 added to the generator loss.

    W is each generator weight of 2+ dimensions reshaped to [out, -1] (one filter per row; the paper's W^T W with
    filters as columns), so only the filters' mutual inner products are pushed to 0, not their norms. For spectrally
    normalised layers the penalty applies to the unnormalised weight (the trained parameter). Parameters whose
    name contains one of ``skip`` (the shared class embedding, as in the paper's code) are left out.
    """

    def __init__(self, beta: float = 1e-4, skip: tuple[str, ...] = ("shared", "embed")):
        self.beta = beta
        self.skip = tuple(skip)

    def g_penalty(self, generator: nn.Module) -> Tensor | None:
        total = None
        for name, param in generator.named_parameters():
            if param.dim() < 2 or not param.requires_grad or any(s in name for s in self.skip):
                continue
            w = param.flatten(1).float()
            gram = w @ w.t()
            term = (gram - torch.diag_embed(torch.diagonal(gram))).pow(2).sum()
            total = term if total is None else total + term
        return None if total is None else self.beta * total


def refuse_input_penalties(family: str, regularizers) -> None:
    """Input-gradient penalties take D as a function of an image alone; a family whose D reads more refuses them."""
    for reg in regularizers or ():
        if type(reg).d_penalty is not Regularizer.d_penalty:
            raise InvalidArgumentError(f"{type(reg).__name__} penalises D's gradient in its image input, which "
                                       f"{family}'s discriminator does not take alone: drop it from regularizers")
