"""SAGAN networks: Zhang, Goodfellow, Metaxas & Odena, "Self-Attention Generative Adversarial Networks", ICML 2019,
arXiv:1805.08318, sized for 28x28 (and 7*2^k / 4*2^k images in general).

Both networks are spectrally normalised (the paper applies SN to G too) and hold one self-attention block
(``zoo.nets.biggan.SelfAttention``: C/8 query/key projections, gamma initialised to 0, keys and values max-pooled
2x2 as in the paper's code) at ``attention_at`` (14x14 for 28x28 images). Class-conditional through conditional
BatchNorm in G and a projection discriminator (Miyato & Koyama 2018), the parts BigGAN uses; ``num_classes=0``
gives the unconditional networks (plain BatchNorm, no projection).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from ..generator import Generator
from ..layers import ConditionalBatchNorm2d, sn
from .biggan import SelfAttention, sn_conv, sn_dense
from .dcgan import start_size


class _UpBlock(nn.Module):
    """(c)BN, ReLU, 2x nearest upsample, SN conv 3x3."""

    def __init__(self, c_in: int, c_out: int, num_classes: int):
        super().__init__()
        self.bn = ConditionalBatchNorm2d(c_in, num_classes=num_classes) if num_classes else nn.BatchNorm2d(c_in)
        self.conv = sn_conv(c_in, c_out, 3)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = self.bn(x, y) if y is not None else self.bn(x)
        return self.conv(F.interpolate(F.relu(h), scale_factor=2, mode="nearest"))


def _check_attention(img_size: int, attention_at: int) -> None:
    base, blocks = start_size(img_size)
    sizes = [base * 2 ** i for i in range(1, blocks)]  # the resolutions between the first and last blocks
    if attention_at not in sizes:
        raise InvalidArgumentError(f"attention_at={attention_at} must be an inner resolution of a {img_size}px "
                                   f"network: one of {sizes}")


class SAGANGenerator(Generator):
    """G(z[, y]): SN linear to (2^k w, base, base), k up-blocks halving the channels, attention at ``attention_at``,
    BN, ReLU, SN conv 3x3, tanh."""

    def __init__(self, latent_dim: int = 128, width: int = 32, num_classes: int = 0, img_channels: int = 1,
                 img_size: int = 28, attention_at: int = 14, class_names: list[str] | None = None):
        super().__init__()
        _check_attention(img_size, attention_at)
        if class_names is not None and len(class_names) != num_classes:
            raise InvalidArgumentError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        self.latent_dim, self.img_channels, self.img_size = latent_dim, img_channels, img_size
        self.num_classes, self.class_names = num_classes, list(class_names) if class_names else None
        base, blocks = start_size(img_size)
        channels = [width * 2 ** i for i in reversed(range(blocks + 1))]  # e.g. [4w, 2w, w]
        self.base, self.bottom = base, channels[0]
        self.linear = sn_dense(latent_dim, channels[0] * base * base)
        layers: list[nn.Module] = []
        resolution = base
        for c_in, c_out in zip(channels, channels[1:]):
            layers.append(_UpBlock(c_in, c_out, num_classes))
            resolution *= 2
            if resolution == attention_at:
                layers.append(SelfAttention(c_out))
        self.blocks = nn.ModuleList(layers)
        self.out_bn = nn.BatchNorm2d(channels[-1])
        self.to_image = sn_conv(channels[-1], img_channels, 3)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.linear(z).view(z.shape[0], self.bottom, self.base, self.base)
        for block in self.blocks:
            h = block(h) if isinstance(block, SelfAttention) else block(h, y if self.num_classes else None)
        return self.to_image(F.relu(self.out_bn(h))).tanh()


class SAGANDiscriminator(nn.Module):
    """D(x[, y]): k x [SN conv 3x3, LeakyReLU(0.1), SN conv 4x4/2, LeakyReLU(0.1)] with attention at
    ``attention_at``, then ReLU, sum over positions, SN linear (+ the projection <embed(y), h>)."""

    def __init__(self, width: int = 32, num_classes: int = 0, img_channels: int = 1, img_size: int = 28,
                 attention_at: int = 14):
        super().__init__()
        _check_attention(img_size, attention_at)
        _, blocks = start_size(img_size)
        layers: list[nn.Module] = []
        c_in, resolution = img_channels, img_size
        for i in range(blocks):
            c_out = width * 2 ** i
            layers += [sn_conv(c_in, c_out, 3), nn.LeakyReLU(0.1, True),
                       sn(nn.Conv2d(c_out, c_out, 4, 2, 1), eps=1e-6), nn.LeakyReLU(0.1, True)]
            resolution //= 2
            if resolution == attention_at:
                layers.append(SelfAttention(c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.linear = sn_dense(c_in, 1)
        self.embed = sn(nn.Embedding(num_classes, c_in), eps=1e-6) if num_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        score = self.linear(h).squeeze(1)
        return score if self.embed is None else score + (self.embed(y) * h).sum(dim=1)
