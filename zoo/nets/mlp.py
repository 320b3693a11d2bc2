"""MLP networks of the original GAN: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
arXiv:1406.2661.

The paper's D used maxout and dropout; here D is a LeakyReLU MLP with dropout, and G uses BatchNorm between its ReLU
layers, which trains reliably at this size.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..generator import Generator


class MLPGenerator(Generator):
    """z -> [Linear, BN, ReLU] x len(hidden) -> Linear -> tanh -> image."""

    def __init__(self, latent_dim: int = 64, hidden: tuple[int, ...] = (256, 512, 1024), img_channels: int = 1,
                 img_size: int = 28):
        super().__init__()
        self.latent_dim, self.img_channels, self.img_size = latent_dim, img_channels, img_size
        sizes = [latent_dim, *hidden]
        layers = []
        for d_in, d_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
        layers += [nn.Linear(sizes[-1], img_channels * img_size * img_size), nn.Tanh(),
                   nn.Unflatten(1, (img_channels, img_size, img_size))]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """image -> flatten -> [Linear, LeakyReLU(0.2), Dropout] x len(hidden) -> Linear -> one logit."""

    def __init__(self, hidden: tuple[int, ...] = (512, 256), img_channels: int = 1, img_size: int = 28,
                 dropout: float = 0.3):
        super().__init__()
        sizes = [img_channels * img_size * img_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for d_in, d_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(d_in, d_out), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


class MLPEncoder(nn.Module):
    """image (or vector [B, C, 1, 1]) -> flatten -> [Linear, LeakyReLU(0.2)] x len(hidden) -> Linear -> a latent code
    [B, latent_dim] (for the families that learn an encoder beside G)."""

    def __init__(self, latent_dim: int = 64, hidden: tuple[int, ...] = (512, 256), img_channels: int = 1,
                 img_size: int = 28):
        super().__init__()
        sizes = [img_channels * img_size * img_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for d_in, d_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(d_in, d_out), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Linear(sizes[-1], latent_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
