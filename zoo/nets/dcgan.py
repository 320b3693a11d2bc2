"""DCGAN networks: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016, arXiv:1511.06434.

Architecture guidelines from the paper: strided (transposed) convolutions instead of pooling, BatchNorm in both
nets (not on G's output or D's input), ReLU in G with tanh output, LeakyReLU(0.2) in D. The networks here start at
7x7 for 28x28 images and at 4x4 for 32/64/128, doubling per block. Also the networks of WGAN, WGAN-GP and LSGAN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrize import is_parametrized

from ..errors import InvalidArgumentError
from ..generator import Encoder, Generator
from ..layers import VirtualBatchNorm, sn


def start_size(img_size: int) -> tuple[int, int]:
    """(base resolution, number of 2x up/down blocks) for a supported image size."""
    base = 7 if img_size % 7 == 0 else 4
    blocks = math.log2(img_size / base)
    if blocks != int(blocks) or blocks < 1:
        raise ValueError(f"img_size must be 7*2^k or 4*2^k (28, 32, 64, ...), got {img_size}")
    return base, int(blocks)


class DCGANGenerator(Generator):
    """z -> linear -> (width*2^(k-1), base, base) -> k x [ConvT 4x4/2, BN, ReLU] -> tanh.

    ``dropout`` > 0 adds dropout after every hidden ReLU (ganhacks #17), active in training only: a loaded model
    samples deterministically.

    ``vbn_reference`` > 0 replaces BatchNorm by virtual batch normalisation (``zoo.layers.VirtualBatchNorm``;
    Salimans et al. 2016) with a reference batch of that many latents, drawn once when G is built (the start of
    training) and kept as the buffer ``reference_z``: it is saved with the weights, so a loaded G samples exactly as
    the trained one, and each image depends only on its own latent (and the reference batch), in training too.
    """

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 dropout: float = 0.0, vbn_reference: int = 0):
        super().__init__()
        if vbn_reference < 0:
            raise InvalidArgumentError(f"vbn_reference is virtual BatchNorm's reference batch size (0: BatchNorm), "
                                       f"got {vbn_reference}")
        self.latent_dim, self.img_channels, self.img_size = latent_dim, img_channels, img_size
        base, blocks = start_size(img_size)
        channels = [width * 2 ** i for i in reversed(range(blocks))]  # e.g. [2w, w]
        drop = [nn.Dropout(dropout)] if dropout else []  # none at 0: the layer indices of existing weights stay

        def norm(c: int) -> nn.Module:
            return VirtualBatchNorm(c, vbn_reference) if vbn_reference else nn.BatchNorm2d(c)

        self.project = nn.Sequential(
            nn.Linear(latent_dim, channels[0] * base * base, bias=False),
            nn.Unflatten(1, (channels[0], base, base)),
            norm(channels[0]),
            nn.ReLU(inplace=True),
            *drop,
        )
        layers = []
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), norm(c_out), nn.ReLU(True),
                       *([nn.Dropout(dropout)] if dropout else [])]
        layers += [nn.ConvTranspose2d(channels[-1], img_channels, 4, 2, 1), nn.Tanh()]
        self.blocks = nn.Sequential(*layers)
        self.register_buffer("reference_z", torch.randn(vbn_reference, latent_dim) if vbn_reference else None)
        init_dcgan(self)

    def forward(self, z: Tensor) -> Tensor:
        if self.reference_z is None:
            return self.blocks(self.project(z))
        n = self.reference_z.shape[0]  # the reference rows go first through every layer, and are dropped at the end
        return self.blocks(self.project(torch.cat([self.reference_z.to(z.dtype), z])))[n:]


class DCGANDiscriminator(nn.Module):
    """k x [Conv 4x4/2, norm, LeakyReLU(0.2)] -> linear to one score. ``norm``: "batch", "layer" or "none"."""

    def __init__(self, width: int = 64, img_channels: int = 1, img_size: int = 28, norm: str = "batch",
                 spectral: bool = False):
        super().__init__()
        base, blocks = start_size(img_size)
        channels = [img_channels] + [width * 2 ** i for i in range(blocks)]
        layers = []
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            layers.append(sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none" or i == 0), spectral))
            size = img_size // 2 ** (i + 1)
            if i > 0 and norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            elif i > 0 and norm == "layer":  # WGAN-GP: the penalty is per sample, so no batch statistics
                layers.append(nn.GroupNorm(1, c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = sn(nn.Linear(channels[-1] * size * size, 1), spectral)
        init_dcgan(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(1)


class DCGANEncoder(Encoder):
    """x -> the discriminator's convolutional body -> linear -> a latent code [B, latent_dim] (for the families
    that learn an encoder beside G). ``stochastic``: a Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))),
    the head giving both (ALI, VAEGAN); ``forward(x)`` returns mu, ``forward(x, posterior=True)`` (mu, logvar)
    (through ``forward`` so that a DDP wrapper serves both), ``zoo.layers.reparameterize`` draws from it."""

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 norm: str = "batch", stochastic: bool = False):
        super().__init__()
        self.latent_dim, self.stochastic = latent_dim, stochastic
        body = DCGANDiscriminator(width, img_channels, img_size, norm=norm)
        self.features = body.features
        self.head = nn.Linear(body.head.in_features, latent_dim * (2 if stochastic else 1))
        init_dcgan(self)

    def forward(self, x: Tensor, posterior: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        if posterior and not self.stochastic:
            return super().posterior(x)
        out = self.head(self.features(x))
        return out.chunk(2, dim=1) if posterior else out[:, :self.latent_dim]

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self(x, posterior=True)


def init_dcgan(module: nn.Module) -> None:
    """The paper's init: conv/linear weights ~ N(0, 0.02), BatchNorm gains ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if is_parametrized(m, "weight") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, VirtualBatchNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
