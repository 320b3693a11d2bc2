"""BigGAN: Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
ICLR 2019, arXiv:1809.11096.

Training: hinge loss, TTUR (G 1e-4, D 4e-4, Adam betas (0, 0.999)), two D steps per G step, orthogonal
regularization beta * ||W W^T * (1 - I)||_F^2 (beta 1e-4), EMA of G's weights from ``ema_start`` on, orthogonal init.
The networks (class-conditional BN with the hierarchical latent split, self-attention, projection discriminator,
spectral norm everywhere) are in ``zoo.nets.biggan``.
"""

from __future__ import annotations

from ..engine import GANModule
from ..nets.biggan import (  # noqa: F401  (re-exported)
    DEFAULT_MULTIPLIERS,
    BigGANDiscriminator,
    BigGANGenerator,
    DBlock,
    GBlock,
    SelfAttention,
    multipliers_for,
    orthogonal_init,
    sn_conv,
    sn_dense,
)
from ..registry import register_family
from ..regularizers import OrthogonalRegularization


@register_family("biggan")
class BigGAN(GANModule):
    """BigGAN with the paper's training settings as defaults (see the module docstring).

    ``d_width`` defaults to ``width``; ``orthogonal_reg`` is beta (0 disables it).
    """

    def __init__(self, latent_dim: int = 120, shared_dim: int = 128, num_classes: int = 1000,
                 class_names: list[str] | None = None, img_size: int = 128, img_channels: int = 3,
                 width: int = 96, d_width: int | None = None, channel_multipliers: list[int] | None = None,
                 attention_at: int | None = 64, d_attention_at: int | None = 64, orthogonal_reg: float = 1e-4,
                 loss: str = "hinge", lr_g: float = 1e-4, lr_d: float = 4e-4,
                 betas_g: tuple[float, float] = (0.0, 0.999), betas_d: tuple[float, float] = (0.0, 0.999),
                 n_critic: int = 2, ema_decay: float = 0.9999, ema_start: int = 20000, **kwargs):
        regularizers = list(kwargs.pop("regularizers", ()))
        if orthogonal_reg:
            regularizers.append(OrthogonalRegularization(orthogonal_reg))
        super().__init__(loss=loss, lr_g=lr_g, lr_d=lr_d, betas_g=betas_g, betas_d=betas_d, n_critic=n_critic,
                         ema_decay=ema_decay, ema_start=ema_start, regularizers=regularizers, **kwargs)

    def build_generator(self) -> BigGANGenerator:
        h = self.hparams
        return orthogonal_init(BigGANGenerator(h.latent_dim, h.shared_dim, h.num_classes, h.img_size, h.img_channels,
                                               h.width, h.channel_multipliers, h.attention_at,
                                               class_names=h.class_names))

    def build_discriminator(self) -> BigGANDiscriminator:
        h = self.hparams
        return orthogonal_init(BigGANDiscriminator(h.num_classes, h.img_size, h.img_channels, h.d_width or h.width,
                                                   h.channel_multipliers, h.d_attention_at))
