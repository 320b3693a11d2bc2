"""Autoencoder discriminators (EBGAN, BEGAN) and BEGAN's generator.

The discriminator's score of an image is its autoencoder's per-sample reconstruction error (the "energy"): low for
images that look like the data it learnt to reconstruct.

- ``style="dcgan"`` (EBGAN: Zhao, Mathieu & LeCun 2017, arXiv:1609.03126): 4x4/2 convolutions with BatchNorm and
  LeakyReLU(0.2) down to a code, transposed convolutions back up; energy = mean squared error.
- ``style="began"`` (BEGAN: Berthelot, Schumm & Metz 2017, arXiv:1703.10717): 3x3 convolutions with ELU, no
  BatchNorm, stride-2 convolutions down (channels n, 2n, 3n, ...), nearest-neighbour upsampling up; energy = mean
  absolute error (the paper's eta = 1). Its decoder, with a tanh output, is also BEGAN's generator.

``energy`` ("l1" or "l2") overrides the style's error, e.g. BEGAN's L1 energy on the dcgan-style autoencoder.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..generator import Generator
from .dcgan import start_size


def _encoder(style: str, width: int, code_dim: int, img_channels: int, img_size: int) -> nn.Sequential:
    base, blocks = start_size(img_size)
    layers: list[nn.Module] = []
    if style == "dcgan":
        c_in = img_channels
        for i in range(blocks):
            c_out = width * 2 ** i
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0)]
            layers += [nn.BatchNorm2d(c_out)] if i > 0 else []
            layers += [nn.LeakyReLU(0.2, True)]
            c_in = c_out
    else:
        layers += [nn.Conv2d(img_channels, width, 3, 1, 1), nn.ELU(True)]
        c_in = width
        for i in range(blocks):
            c_out = width * (i + 2)
            layers += [nn.Conv2d(c_in, c_in, 3, 1, 1), nn.ELU(True), nn.Conv2d(c_in, c_out, 3, 2, 1), nn.ELU(True)]
            c_in = c_out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * base * base, code_dim))


def _decoder(style: str, width: int, code_dim: int, img_channels: int, img_size: int) -> nn.Sequential:
    base, blocks = start_size(img_size)
    if style == "dcgan":
        channels = [width * 2 ** i for i in reversed(range(blocks))]  # e.g. [2w, w]
        layers: list[nn.Module] = [nn.Linear(code_dim, channels[0] * base * base),
                                   nn.Unflatten(1, (channels[0], base, base)), nn.BatchNorm2d(channels[0]),
                                   nn.ReLU(True)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        return nn.Sequential(*layers, nn.ConvTranspose2d(channels[-1], img_channels, 4, 2, 1))
    layers = [nn.Linear(code_dim, width * base * base), nn.Unflatten(1, (width, base, base))]
    for _ in range(blocks):
        layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ELU(True), nn.Upsample(scale_factor=2, mode="nearest")]
    return nn.Sequential(*layers, nn.Conv2d(width, width, 3, 1, 1), nn.ELU(True),
                         nn.Conv2d(width, img_channels, 3, 1, 1))


class AutoencoderDiscriminator(nn.Module):
    """D(x) = per-sample reconstruction error of an autoencoder; ``autoencode(x)`` gives (code, reconstruction)."""

    def __init__(self, width: int = 64, code_dim: int = 64, img_channels: int = 1, img_size: int = 28,
                 style: str = "dcgan", energy: str | None = None):
        super().__init__()
        if style not in ("dcgan", "began"):
            raise ValueError(f"style must be 'dcgan' or 'began', got {style!r}")
        energy = energy or ("l1" if style == "began" else "l2")  # each paper's own error by default
        if energy not in ("l1", "l2"):
            raise ValueError(f"energy must be 'l1' or 'l2', got {energy!r}")
        self.style, self.energy_norm = style, energy
        self.encoder = _encoder(style, width, code_dim, img_channels, img_size)
        self.decoder = _decoder(style, width, code_dim, img_channels, img_size)

    def autoencode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        code = self.encoder(x)
        return code, self.decoder(code)

    def energy(self, x: Tensor, reconstruction: Tensor) -> Tensor:
        error = reconstruction - x
        return (error.abs() if self.energy_norm == "l1" else error.pow(2)).flatten(1).mean(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.energy(x, self.autoencode(x)[1])


class BEGANGenerator(Generator):
    """BEGAN's generator: the discriminator's decoder architecture (own weights) from z, with a tanh output."""

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28):
        super().__init__()
        self.latent_dim, self.img_channels, self.img_size = latent_dim, img_channels, img_size
        self.decoder = _decoder("began", width, latent_dim, img_channels, img_size)

    def forward(self, z: Tensor) -> Tensor:
        return self.decoder(z).tanh()
