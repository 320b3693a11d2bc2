"""WGAN: Arjovsky, Chintala & Bottou, "Wasserstein Generative Adversarial Networks", ICML 2017, arXiv:1701.07875.

The critic estimates the Wasserstein-1 distance; its Lipschitz constraint is enforced by clipping every critic
weight to [-0.01, 0.01] after each update. The paper's Algorithm 1: RMSProp with lr 5e-5, n_critic 5, clip 0.01,
DCGAN networks (with BatchNorm in the critic).
"""

from __future__ import annotations

from ..engine import GANModule
from ..registry import register_family
from ..regularizers import WeightClipping
from .dcgan import DCGANNetworks


@register_family("wgan")
class WGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 clip: float = 0.01, optimizer: str = "rmsprop", lr_g: float = 5e-5, lr_d: float = 5e-5,
                 n_critic: int = 5, **kwargs):
        super().__init__(loss="wasserstein", regularizers=[WeightClipping(clip)], optimizer=optimizer, lr_g=lr_g,
                         lr_d=lr_d, n_critic=n_critic, **kwargs)
