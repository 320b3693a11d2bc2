"""VAEGAN's discriminator: DCGAN's, with its l-th layer features exposed for the learned similarity metric, and
one logit (real vs fake) or three (real / reconstructed / generated). Larsen et al. 2016, arXiv:1512.09300."""

from __future__ import annotations

from torch import Tensor, nn

from .dcgan import DCGANDiscriminator, init_dcgan


class FeatureDiscriminator(DCGANDiscriminator):
    """``forward(x)`` gives the logits ([B], or [B, classes] for classes > 1); ``forward(x, features=True)`` gives
    (logits, Dis_l(x)), Dis_l the flattened output of the last convolutional block (the layer the reconstruction
    is measured in). Through ``forward`` so that a DDP wrapper serves both."""

    def __init__(self, width: int = 64, img_channels: int = 1, img_size: int = 28, norm: str = "layer",
                 classes: int = 1):
        super().__init__(width, img_channels, img_size, norm=norm)
        self.classes = classes
        if classes != 1:
            self.head = nn.Linear(self.head.in_features, classes)
            init_dcgan(self.head)

    def forward(self, x: Tensor, features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        h = self.features(x)
        logits = self.head(h)
        logits = logits.squeeze(1) if self.classes == 1 else logits
        return (logits, h) if features else logits
