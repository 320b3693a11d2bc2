"""BigGAN-deep: Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
ICLR 2019, arXiv:1809.11096 (appendix B, "BigGAN-deep").

Differences from BigGAN: every residual block is a bottleneck (1x1 conv down to a quarter of the channels, two 3x3
convs, 1x1 conv back up) with conditional BN before each conv; there are two blocks per resolution (only the second
upsamples); the skip path keeps the first ``c_out`` channels instead of a learned 1x1 conv; and the condition of
every BN is the whole [z, class embedding] vector (no latent split). The first linear layer also takes that vector.

Inference follows DeepMind's released generators (as in pytorch-pretrained-BigGAN): each BN keeps ``n_stats`` (51)
rows of running statistics, measured at truncation 0, 0.02, ..., 1.0. A truncation t picks row ``idx`` with
``frac, idx = modf(t / step)``; between rows the two are blended as ``row[idx] * frac + row[idx + 1] * (1 - frac)``
(note: the reverse of ordinary linear interpolation, and kept that way because the released weights expect it).
z is ``t * truncnorm(-2, 2)`` (``truncation_rule = "scale"``). In train mode the BNs use batch statistics.
Spectral norm as in ``zoo.nets.biggan`` (stored u/v in eval mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from ..generator import Generator, parse_truncation
from ..layers import scale_shift, shortcuts_apply
from .biggan import SelfAttention, sn_conv, sn_dense

#: pytorch-pretrained-BigGAN's block lists, (upsample, in multiplier, out multiplier) per block; the attention
#: block sits before ``attention_position`` (at 64x64 for all three).
DEEP_LAYERS = {
    128: [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8], [True, 8, 4],
          [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
    256: [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8], [True, 8, 8],
          [False, 8, 8], [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
    512: [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8], [True, 8, 8],
          [False, 8, 8], [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1],
          [False, 1, 1], [True, 1, 1]],
}


class TruncationBatchNorm(nn.Module):
    """BatchNorm with ``n_stats`` rows of statistics selected by truncation; conditional (gain 1 + scale(c),
    bias offset(c)) or with plain affine parameters."""

    def __init__(self, num_features: int, cond_dim: int = 0, *, n_stats: int = 51, eps: float = 1e-4):
        super().__init__()
        self.eps, self.n_stats = eps, n_stats
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        if cond_dim:
            self.gain = sn_dense(cond_dim, num_features, bias=False, eps=eps)
            self.bias = sn_dense(cond_dim, num_features, bias=False, eps=eps)
        else:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        self.conditional = bool(cond_dim)

    def statistics(self, truncation: float) -> tuple[Tensor, Tensor]:
        frac, idx = math.modf(truncation / (1.0 / (self.n_stats - 1)))
        idx = int(idx)
        if frac == 0.0:
            return self.running_means[idx], self.running_vars[idx]
        # the released weights were made with this (reversed) blend; see the module docstring
        mean = self.running_means[idx] * frac + self.running_means[idx + 1] * (1 - frac)
        var = self.running_vars[idx] * frac + self.running_vars[idx + 1] * (1 - frac)
        return mean, var

    def forward(self, x: Tensor, truncation: float, cond: Tensor | None = None) -> Tensor:
        if self.training:
            var, mean = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
        else:
            mean, var = self.statistics(truncation)
        if not self.conditional:
            return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, eps=self.eps)
        if shortcuts_apply(self):
            return scale_shift(x, mean, var, self.eps, 1 + self.gain(cond), self.bias(cond))
        gain = 1 + self.gain(cond)[:, :, None, None]
        bias = self.bias(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * gain + bias


class DeepGBlock(nn.Module):
    """Bottleneck block: [BN, ReLU, conv] x 4 (1x1 down, [upsample] 3x3, 3x3, 1x1 up); skip keeps c_out channels."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, *, upsample: bool, n_stats: int = 51,
                 eps: float = 1e-4, reduction: int = 4):
        super().__init__()
        mid = c_in // reduction
        self.upsample, self.c_out = upsample, c_out
        self.bn0 = TruncationBatchNorm(c_in, cond_dim, n_stats=n_stats, eps=eps)
        self.conv0 = sn_conv(c_in, mid, 1, eps=eps)
        self.bn1 = TruncationBatchNorm(mid, cond_dim, n_stats=n_stats, eps=eps)
        self.conv1 = sn_conv(mid, mid, 3, eps=eps)
        self.bn2 = TruncationBatchNorm(mid, cond_dim, n_stats=n_stats, eps=eps)
        self.conv2 = sn_conv(mid, mid, 3, eps=eps)
        self.bn3 = TruncationBatchNorm(mid, cond_dim, n_stats=n_stats, eps=eps)
        self.conv3 = sn_conv(mid, c_out, 1, eps=eps)

    def forward(self, x: Tensor, cond: Tensor, truncation: float) -> Tensor:
        h = self.conv0(F.relu(self.bn0(x, truncation, cond)))
        h = F.relu(self.bn1(h, truncation, cond))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h, truncation, cond)))
        h = self.conv3(F.relu(self.bn3(h, truncation, cond)))
        skip = x[:, :self.c_out] if x.shape[1] != self.c_out else x
        if self.upsample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return h + skip


class BigGANDeepGenerator(Generator):
    """G(z, y, truncation=1.0): z [B, latent_dim] exactly as the upstream model receives it (already scaled by the
    truncation), y int64 class indices [B], truncation in (0, 1] selecting the BN statistics.

    ``sample(n, truncation=t)`` draws z = t * truncnorm(-2, 2) and uses the same t for the statistics (default 1.0).

    Args:
        layers: (upsample, in multiplier, out multiplier) per block; default by ``img_size`` (128/256/512).
        attention_position: index among the blocks before which self-attention runs (None: none).
        width: channel_width ("ch"); the to-RGB conv has ``width`` outputs of which the first ``img_channels`` are
            kept (the released weights are laid out that way).
    """

    truncation_rule = "scale"

    def __init__(self, latent_dim: int = 128, embed_dim: int = 128, num_classes: int = 1000, img_size: int = 128,
                 img_channels: int = 3, width: int = 128, layers: Sequence[Sequence[Any]] | None = None,
                 attention_position: int | None = 8, n_stats: int = 51, eps: float = 1e-4,
                 class_names: list[str] | None = None):
        super().__init__()
        if layers is None:
            if img_size not in DEEP_LAYERS:
                raise InvalidArgumentError(f"img_size {img_size} has no default layers: pass layers= "
                                           f"(defaults exist for {sorted(DEEP_LAYERS)})")
            layers = DEEP_LAYERS[img_size]
        layers = [[bool(up), int(c_in), int(c_out)] for up, c_in, c_out in layers]
        if 4 * 2 ** sum(up for up, _, _ in layers) != img_size:
            raise InvalidArgumentError(f"layers upsample 4x4 to {4 * 2 ** sum(u for u, _, _ in layers)}px, "
                                       f"not img_size={img_size}")
        if class_names is not None and len(class_names) != num_classes:
            raise InvalidArgumentError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        self.latent_dim, self.img_size, self.img_channels = latent_dim, img_size, img_channels
        self.num_classes, self.class_names = num_classes, list(class_names) if class_names else None
        self.n_stats = n_stats
        self.bottom_channels = width * layers[0][1]
        cond_dim = latent_dim + embed_dim
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.linear = sn_dense(cond_dim, self.bottom_channels * 16, eps=eps)
        blocks: list[nn.Module] = []
        for i, (up, c_in, c_out) in enumerate(layers):
            if i == attention_position:
                blocks.append(SelfAttention(width * c_in, eps=eps))
            blocks.append(DeepGBlock(width * c_in, width * c_out, cond_dim, upsample=up, n_stats=n_stats, eps=eps))
        self.blocks = nn.ModuleList(blocks)
        self.out_bn = TruncationBatchNorm(width * layers[-1][2], n_stats=n_stats, eps=eps)
        self.to_rgb = sn_conv(width * layers[-1][2], width, 3, eps=eps)
        self._sample_truncation = 1.0

    def check_truncation(self, truncation: float) -> float:
        truncation = parse_truncation(truncation)
        if not 0 < truncation <= 1:
            raise InvalidArgumentError(
                f"BigGAN-deep's truncation selects one of its {self.n_stats} BatchNorm statistics rows: it must be "
                f"in (0, 1], got {truncation}")
        return truncation

    def forward(self, z: Tensor, y: Tensor, truncation: float | None = None) -> Tensor:
        truncation = self._sample_truncation if truncation is None else self.check_truncation(truncation)
        cond = torch.cat([z, self.embed(y)], dim=1)
        h = self.linear(cond).view(z.shape[0], self.bottom_channels, 4, 4)
        for block in self.blocks:
            h = block(h) if isinstance(block, SelfAttention) else block(h, cond, truncation)
        h = self.to_rgb(F.relu(self.out_bn(h, truncation)))
        return torch.tanh(h[:, :self.img_channels])

    def sample(self, n: int, *, truncation: float | None = None, **kwargs: Any) -> Tensor:
        """As ``Generator.sample``; truncation (default 1.0) scales z and selects the BN statistics."""
        truncation = self.check_truncation(1.0 if truncation is None else truncation)
        previous, self._sample_truncation = self._sample_truncation, truncation
        try:
            return super().sample(n, truncation=truncation, **kwargs)
        finally:
            self._sample_truncation = previous
