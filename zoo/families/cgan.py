"""CGAN: Mirza & Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784 (2014).

Both networks see the condition y: G(z, y) and D(x, y), so D judges realism *and* whether x matches y
(``zoo.nets.cgan``: a class embedding concatenated to z; a low-dimensional embedding upsampled to the image size
as extra D channels). Two D objectives:

- plain (``mismatch: false``), the paper's: max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))];
- three-term (``mismatch: true``, FAMILIES.md A.2, the matching-aware form that Reed et al. 2016 also use): a third
  term log(1 - D(x|y')) asks D to reject real images paired with a wrong label y' != y, so D cannot score realism
  alone. Each term is a mean over the batch and the three are summed, as the algorithm states them; y' is y plus a
  uniform offset in 1..K-1 (mod K), so it is always wrong.

G minimises the usual adversarial loss on D(G(z|y)|y). Deviations from the paper (which used MLPs with maxout, SGD
with momentum and dropout on MNIST): DCGAN-style 28x28 networks and Adam(2e-4, 0.5), as every DCGAN-sized family
here. The three-term form needs a loss that is a sum of a real and a fake term (``ns``, ``minimax``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..losses import Minimax
from ..nets.cgan import ConditionalDCGANGenerator, LabelMapDiscriminator
from ..registry import register_family


def wrong_labels(labels: Tensor, num_classes: int) -> Tensor:
    """Labels each shifted by a uniform offset in 1..K-1 (mod K): uniform over the K-1 wrong classes."""
    offset = torch.randint(1, num_classes, labels.shape, device=labels.device)
    return (labels + offset) % num_classes


class CGANNetworks:
    """build_generator/build_discriminator: CGAN's networks (``zoo.nets.cgan``) from the hparams; TripleGAN uses
    them too."""

    def build_generator(self) -> ConditionalDCGANGenerator:
        h = self.hparams
        return ConditionalDCGANGenerator(h.latent_dim, h.num_classes, h.class_names, h.embed_dim, h.width,
                                         h.img_channels, h.img_size, dropout=h.g_dropout)

    def build_discriminator(self) -> LabelMapDiscriminator:
        h = self.hparams
        return LabelMapDiscriminator(h.num_classes, h.label_channels, h.width, h.img_channels, h.img_size)


@register_family("cgan")
class CGAN(CGANNetworks, GANModule):
    """Args beyond the engine's: ``embed_dim`` (G's class embedding), ``label_channels`` (D's label map channels),
    ``mismatch`` (the three-term D loss)."""

    network_switches = ("g_dropout",)

    def __init__(self, latent_dim: int = 64, width: int = 64, num_classes: int = 10,
                 class_names: list[str] | None = None, img_channels: int = 1, img_size: int = 28,
                 embed_dim: int = 10, label_channels: int = 1, mismatch: bool = False, loss: str = "ns", **kwargs):
        if mismatch and num_classes < 2:
            raise InvalidArgumentError("mismatch pairs real images with a wrong label: it needs num_classes >= 2")
        super().__init__(loss=loss, **kwargs)
        if mismatch and not isinstance(self.loss, Minimax):
            raise InvalidArgumentError(f"mismatch adds a third cross-entropy term: train it with loss 'ns' or "
                                       f"'minimax', not {self.loss!r}")
        if mismatch and self.labels.active:
            raise InvalidArgumentError("mismatch is not combined with label_smoothing / label_noise / label_flip: "
                                       "choose one")

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        loss, logs = super().discriminator_loss(real, labels)
        if not self.hparams.mismatch:
            return loss, logs
        mismatched = loss_precision(self.discriminate(real, wrong_labels(labels, self.hparams.num_classes)))
        term = F.softplus(mismatched).mean()  # -mean log(1 - D(x|y')), Minimax's fake term
        logs.update({"loss/d_mismatch": term.detach(), "d/mismatch_score": mismatched.detach().mean()})
        return loss + term, logs
