"""f-divergences for fGAN: Nowozin, Cseke & Tomioka, "f-GAN: Training Generative Neural Samplers using Variational
Divergence Minimization", NeurIPS 2016, arXiv:1606.00709 (Table 1 for f and f*, Table 2 for the output activations).

D_f(P || Q) = integral of q(x) f(p(x) / q(x)) dx with f convex and f(1) = 0. Its variational lower bound, tight at
the optimal critic, is

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],    f*(t) = sup_u {u t - f(u)} (the convex conjugate),

where T = g_f(V) maps the network's raw output V onto the domain of f* through the output activation g_f.

Every divergence here gives four functions: ``f`` (the generator function), ``activation`` (g_f), ``conjugate``
(f*, the table's formula) and ``conjugate_of_activation`` (f*(g_f(v)) rewritten so that it stays finite for every
finite v wherever the plain composition overflows, e.g. reverse KL's -1 - log(exp(-v)) = v - 1). The losses use the
last two; the tests check that it equals the plain composition where that is finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import InvalidArgumentError

Fn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Divergence:
    name: str
    f: Fn
    activation: Fn
    conjugate: Fn
    conjugate_of_activation: Fn


class _LambertWOfExp(torch.autograd.Function):
    """w = W(e^x), the principal Lambert W of e^x, i.e. the root of w + log w = x, from x (never forming e^x)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        x64 = x.detach().double()
        # Newton on u = log w: e^u + u - x is convex and increasing, and both starting points lie right of the root,
        # so the iterates decrease monotonically to it (quadratically near it) and never leave the real line
        u = torch.where(x64 > 1, torch.log(x64.clamp(min=1)), x64)
        for _ in range(40):
            u = u - (torch.exp(u) + u - x64) / (torch.exp(u) + 1)
        w = torch.exp(u).to(x.dtype)
        ctx.save_for_backward(w)
        return w

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (w,) = ctx.saved_tensors
        return grad * w / (1 + w)  # from w + log w = x: dw/dx (1 + 1/w) = 1


def lambertw_of_exp(x: Tensor) -> Tensor:
    """W(e^x) for any real x, with its gradient w / (1 + w)."""
    return _LambertWOfExp.apply(x)


def _jeffrey_conjugate(t: Tensor) -> Tensor:
    """W(e^{1-t}) + 1/W(e^{1-t}) + t - 2, with 1/w written as e^{w + t - 1} (from w + log w = 1 - t): 1/w itself
    would overflow the gradient (-1/w^2) once w underflows for large t."""
    w = lambertw_of_exp(1 - t)
    return w + torch.exp(w + t - 1) + t - 2


def _divergences(pi: float) -> dict[str, Divergence]:
    """The table; ``pi`` is the weight of the JS-weighted divergence."""
    log2 = math.log(2.0)
    log = torch.log
    # JS-weighted: f*(t) = (1-pi) log((1-pi) / (1 - pi e^{t/pi})) needs t < -pi log pi; the activation
    # pi (log(1/pi) - softplus(-v)) reaches exactly that range (pi = 1/2 gives half the JS activation), and then
    # pi e^{t/pi} = sigmoid(v), so f*(g(v)) = (1-pi) (log(1-pi) + softplus(v))
    table = [
        Divergence("total_variation", lambda u: 0.5 * (u - 1).abs(), lambda v: 0.5 * torch.tanh(v),
                   lambda t: t, lambda v: 0.5 * torch.tanh(v)),
        Divergence("kl", lambda u: u * log(u), lambda v: v,
                   lambda t: torch.exp(t - 1), lambda v: torch.exp(v - 1)),
        Divergence("reverse_kl", lambda u: -log(u), lambda v: -torch.exp(-v),
                   lambda t: -1 - log(-t), lambda v: v - 1),
        Divergence("pearson", lambda u: (u - 1) ** 2, lambda v: v,
                   lambda t: 0.25 * t ** 2 + t, lambda v: 0.25 * v ** 2 + v),
        Divergence("neyman", lambda u: (1 - u) ** 2 / u, lambda v: -torch.expm1(-v),
                   lambda t: 2 - 2 * torch.sqrt(1 - t), lambda v: 2 - 2 * torch.exp(-0.5 * v)),
        Divergence("squared_hellinger", lambda u: (torch.sqrt(u) - 1) ** 2, lambda v: -torch.expm1(-v),
                   lambda t: t / (1 - t), lambda v: torch.expm1(v)),
        Divergence("jeffrey", lambda u: (u - 1) * log(u), lambda v: v,
                   _jeffrey_conjugate, _jeffrey_conjugate),
        Divergence("jensen_shannon", lambda u: -(u + 1) * log((1 + u) / 2) + u * log(u),
                   lambda v: log2 - F.softplus(-v),
                   lambda t: -log(2 - torch.exp(t)), lambda v: F.softplus(v) - log2),
        Divergence("js_weighted", lambda u: pi * u * log(u) - (1 - pi + pi * u) * log(1 - pi + pi * u),
                   lambda v: pi * (-math.log(pi) - F.softplus(-v)),
                   lambda t: (1 - pi) * log((1 - pi) / (1 - pi * torch.exp(t / pi))),
                   lambda v: (1 - pi) * (math.log(1 - pi) + F.softplus(v))),
        Divergence("gan", lambda u: u * log(u) - (u + 1) * log(u + 1), lambda v: -F.softplus(-v),
                   lambda t: -log(1 - torch.exp(t)), lambda v: F.softplus(v)),
    ]
    return {d.name: d for d in table}


DIVERGENCES = tuple(_divergences(0.5))


def get_divergence(name: str, pi: float = 0.5) -> Divergence:
    """The divergence ``name`` (one of ``DIVERGENCES``); ``pi`` in (0, 1) weighs ``js_weighted``."""
    if not 0 < pi < 1:
        raise InvalidArgumentError(f"pi must lie in (0, 1), got {pi}")
    table = _divergences(pi)
    if name not in table:
        raise InvalidArgumentError(f"unknown f-divergence {name!r}: choose one of {', '.join(table)}")
    return table[name]
