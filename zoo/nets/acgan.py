"""ACGAN discriminator: Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017,
arXiv:1610.09585.

D sees the image alone and has two heads on one DCGAN body: the source score (real or fake) and class logits.
The generator is CGAN's class-embedding DCGAN generator (``zoo.nets.cgan.ConditionalDCGANGenerator``).
"""

from __future__ import annotations

from torch import Tensor, nn

from .dcgan import DCGANDiscriminator, init_dcgan


class AuxiliaryClassifierDiscriminator(nn.Module):
    """DCGAN body -> source score [B] and class logits [B, K]. ``forward(x, y)`` ignores ``y`` (D does not see
    the label) and returns the source score, so the engine's regularizers see an ordinary D."""

    def __init__(self, num_classes: int = 10, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 norm: str = "batch"):
        super().__init__()
        body = DCGANDiscriminator(width, img_channels, img_size, norm=norm)
        self.features, self.head = body.features, body.head
        self.classes = nn.Linear(body.head.in_features, num_classes)
        init_dcgan(self.classes)

    def forward(self, x: Tensor, y: Tensor | None = None, classes: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Source scores [B]; with ``classes=True`` (source scores, class logits [B, K]) from one pass (through
        the DDP wrapper, so both heads' gradients are synchronised)."""
        h = self.features(x)
        scores = self.head(h).squeeze(1)
        return (scores, self.classes(h)) if classes else scores

    def classify(self, x: Tensor) -> Tensor:
        """Class logits [B, K]."""
        return self.classes(self.features(x))
