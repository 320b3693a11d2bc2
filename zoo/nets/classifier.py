"""The project's Fashion-MNIST classifier network, whose penultimate layer is the offline feature space of
``zoo.metrics`` (in the role Inception plays on ImageNet: Salimans et al. 2016 for IS, Heusel et al. 2017 for FID).
Input: ``[N, 1, 28, 28]`` floats in ``[-1, 1]`` (the zoo's output range).
"""

from __future__ import annotations

from torch import Tensor, nn


class FashionMNISTNet(nn.Module):
    """3 conv stages (28 -> 14 -> 7) with BatchNorm, global average pooling to ``width*4`` features, linear head."""

    def __init__(self, width: int = 32, num_classes: int = 10):
        super().__init__()
        self.config = {"width": width, "num_classes": num_classes}

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(1, width), nn.MaxPool2d(2),
            *block(width, 2 * width), nn.MaxPool2d(2),
            *block(2 * width, 4 * width), *block(4 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)
        self.feature_dim = 4 * width

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))
