"""Layers shared by the networks (``zoo.nets``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def sn(module: nn.Module, enabled: bool = True, eps: float = 1e-12) -> nn.Module:
    """Wrap a conv/linear in spectral normalisation (Miyato et al. 2018) via torch's parametrization.

    W_SN = W / sigma(W), sigma estimated by one power iteration per training forward (none in eval mode).
    """
    return spectral_norm(module, eps=eps) if enabled else module


def sn_conv2d(*args, enabled: bool = True, **kwargs) -> nn.Module:
    return sn(nn.Conv2d(*args, **kwargs), enabled)


def sn_linear(*args, enabled: bool = True, **kwargs) -> nn.Module:
    return sn(nn.Linear(*args, **kwargs), enabled)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose affine gain and bias are predicted from a condition vector (de Vries et al. 2017).

    y = BN(x) * (1 + gain(c)) + bias(c), where BN has no affine parameters of its own and ``c`` is either a
    class index (``num_classes`` > 0: one embedding per class) or a dense vector of size ``cond_dim`` (BigGAN's
    shared class embedding concatenated with a latent chunk), mapped by (optionally spectrally normalised) linears.
    The gain is parametrised as 1 + gain so that a zero-initialised layer starts as plain BatchNorm.
    """

    def __init__(self, num_features: int, *, num_classes: int = 0, cond_dim: int = 0, eps: float = 1e-5,
                 momentum: float = 0.1, spectral: bool = False):
        super().__init__()
        if bool(num_classes) == bool(cond_dim):
            raise ValueError("ConditionalBatchNorm2d needs exactly one of num_classes or cond_dim")
        self.bn = nn.BatchNorm2d(num_features, affine=False, eps=eps, momentum=momentum)
        if num_classes:
            self.gain = nn.Embedding(num_classes, num_features)
            self.bias = nn.Embedding(num_classes, num_features)
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
        else:
            self.gain = sn_linear(cond_dim, num_features, bias=False, enabled=spectral)
            self.bias = sn_linear(cond_dim, num_features, bias=False, enabled=spectral)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(cond)
        bias = self.bias(cond)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]

