"""SNGAN networks: Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018,
arXiv:1802.05957.

The "standard CNN" of the paper's Table 3, adapted to the image size: G upsamples with 4x4 transposed convolutions
+ BN + ReLU; D alternates 3x3/1 and 4x4/2 convolutions with LeakyReLU(0.1), every weight spectrally normalised.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..generator import Generator
from ..layers import sn_conv2d, sn_linear
from .dcgan import start_size


class SNGANGenerator(Generator):
    """z -> linear -> (4w, base, base) -> k x [ConvT 4x4/2, BN, ReLU] -> conv 3x3 -> tanh."""

    def __init__(self, latent_dim: int = 128, width: int = 64, img_channels: int = 1, img_size: int = 28):
        super().__init__()
        self.latent_dim, self.img_channels, self.img_size = latent_dim, img_channels, img_size
        base, blocks = start_size(img_size)
        channels = [width * 2 ** i for i in reversed(range(blocks + 1))]  # e.g. [4w, 2w, w]
        layers: list[nn.Module] = [nn.Linear(latent_dim, channels[0] * base * base),
                                   nn.Unflatten(1, (channels[0], base, base))]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.BatchNorm2d(c_in), nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)]
        layers += [nn.BatchNorm2d(channels[-1]), nn.ReLU(True), nn.Conv2d(channels[-1], img_channels, 3, 1, 1),
                   nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class SNGANDiscriminator(nn.Module):
    """k x [SN conv 3x3/1, SN conv 4x4/2] with LeakyReLU(0.1), SN conv 3x3 -> SN linear to one score."""

    def __init__(self, width: int = 64, img_channels: int = 1, img_size: int = 28):
        super().__init__()
        base, blocks = start_size(img_size)
        layers: list[nn.Module] = []
        c_in = img_channels
        for i in range(blocks):
            c_out = width * 2 ** i
            layers += [sn_conv2d(c_in, c_out, 3, 1, 1), nn.LeakyReLU(0.1, True),
                       sn_conv2d(c_out, c_out, 4, 2, 1), nn.LeakyReLU(0.1, True)]
            c_in = c_out
        c_out = width * 2 ** blocks
        layers += [sn_conv2d(c_in, c_out, 3, 1, 1), nn.LeakyReLU(0.1, True), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = sn_linear(c_out * base * base, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(1)
