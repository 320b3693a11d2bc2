"""fGAN: Nowozin, Cseke & Tomioka, "f-GAN: Training Generative Neural Samplers using Variational Divergence
Minimization", NeurIPS 2016, arXiv:1606.00709.

Any f-divergence becomes a GAN objective through its convex conjugate: D maximises the variational lower bound
E_real[g_f(V(x))] - E_fake[f*(g_f(V(G(z))))] of D_f(P_data || P_G), and G minimises it. ``divergence`` picks one of
the paper's table (``zoo.divergences.DIVERGENCES``: total_variation, kl, reverse_kl, pearson, neyman,
squared_hellinger, jeffrey, jensen_shannon, js_weighted with weight ``pi``, gan); ``generator`` is "ns" (the paper's
practical G update, maximising E[g_f(V(G(z)))]) or "saddle" (the saddle-point objective itself).
Deviation: DCGAN networks (the paper's MNIST experiment used small MLPs); Adam(2e-4, beta1 0.5) as DCGAN.
"""

from __future__ import annotations

from ..engine import GANModule
from ..losses import FDivergence
from ..registry import register_family
from .dcgan import DCGANNetworks


@register_family("fgan")
class FGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 divergence: str = "gan", pi: float = 0.5, generator: str = "ns", **kwargs):
        super().__init__(loss=FDivergence(divergence, pi, generator), **kwargs)
