"""DRAGAN: Kodali, Abernethy, Hays & Kira, "On Convergence and Stability of GANs", arXiv:1705.07215.

Mode collapse is blamed on local equilibria where D's gradient is sharp around real data, so D is penalised with
lambda * E[(||grad D(x + delta)||_2 - k)^2] on perturbed real samples, delta = 0.5 * std(batch) * U[0, 1]
(``zoo.regularizers.DRAGANPenalty``, usable by any family), with the non-saturating GAN loss and 1:1 updates:
lambda 10, k 1 as in the paper. The penalty is per sample, so D has no BatchNorm (layer normalisation instead).
Networks: DCGAN's; Adam(2e-4, beta1 0.5).
"""

from __future__ import annotations

from ..engine import GANModule
from ..registry import register_family
from ..regularizers import DRAGANPenalty
from .dcgan import DCGANNetworks


@register_family("dragan")
class DRAGAN(DCGANNetworks, GANModule):
    d_norm = "layer"  # the penalty is per sample: no batch statistics in D

    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 penalty_weight: float = 10.0, k: float = 1.0, perturbation: float = 0.5, **kwargs):
        super().__init__(loss="ns", regularizers=[DRAGANPenalty(penalty_weight, k, perturbation)], **kwargs)
