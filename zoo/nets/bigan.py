"""The joint discriminator of BiGAN / ALI: D(x, z) judges an (image, latent) pair.

x goes through DCGAN's convolutional body (``DCGANDiscriminator.features``), z through a linear layer, and the two
feature vectors, concatenated, through a two-layer MLP to one logit: the paper's D_x, D_z and D_xz parts
(Donahue et al. 2017, arXiv:1605.09782; Dumoulin et al. 2017, arXiv:1606.00704). ``dropout`` after every hidden
layer of D_z and D_xz and on D_x's features is ALI's regularisation of D (the paper uses 0.2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .dcgan import DCGANDiscriminator, init_dcgan


class JointDiscriminator(nn.Module):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 joint_width: int = 512, dropout: float = 0.0, norm: str = "batch"):
        super().__init__()
        drop = [nn.Dropout(dropout)] if dropout else []
        body = DCGANDiscriminator(width, img_channels, img_size, norm=norm)
        self.x_features = nn.Sequential(*body.features, *drop)
        self.z_features = nn.Sequential(nn.Linear(latent_dim, joint_width), nn.LeakyReLU(0.2, inplace=True), *drop)
        self.joint = nn.Sequential(nn.Linear(body.head.in_features + joint_width, joint_width),
                                   nn.LeakyReLU(0.2, inplace=True), *drop, nn.Linear(joint_width, 1))
        init_dcgan(self)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.joint(torch.cat([self.x_features(x), self.z_features(z)], dim=1)).squeeze(1)
