"""The 1000 ImageNet-1k (ILSVRC-2012) class names in class-index order, so that labels can be names.

They come from torchvision's weights metadata (offline, no download). A few names occur twice in ImageNet
("crane" 134 and 517, "maillot" 638 and 639); a name then refers to its first index, so pass the int for the other.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def imagenet_classes() -> list[str]:
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
