"""WGAN-GP: Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, arXiv:1704.00028.

Replaces WGAN's weight clipping by a penalty lambda * E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates of
real and fake samples. The paper's Algorithm 1: lambda 10, n_critic 5, Adam(lr 1e-4, beta1 0, beta2 0.9), and no
BatchNorm in the critic (the penalty is per sample), for which layer normalisation is used.
"""

from __future__ import annotations

from ..engine import GANModule
from ..registry import register_family
from ..regularizers import GradientPenalty
from .dcgan import DCGANNetworks


@register_family("wgan-gp")
class WGANGP(DCGANNetworks, GANModule):
    d_norm = "layer"  # no BatchNorm in the critic: the penalty is per sample

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 gp_weight: float = 10.0, one_sided: bool = False, lr_g: float = 1e-4, lr_d: float = 1e-4,
                 betas_g: tuple[float, float] = (0.0, 0.9), betas_d: tuple[float, float] = (0.0, 0.9),
                 n_critic: int = 5, **kwargs):
        super().__init__(loss="wasserstein", regularizers=[GradientPenalty(gp_weight, one_sided)], lr_g=lr_g,
                         lr_d=lr_d, betas_g=betas_g, betas_d=betas_d, n_critic=n_critic, **kwargs)
