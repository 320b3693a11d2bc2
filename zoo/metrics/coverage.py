"""Class coverage with the project's Fashion-MNIST classifier: a mode-collapse signal FID alone hides.

For ``n`` samples the classifier's predicted classes form a histogram ``p`` over ``K`` classes. Reported:
``classes_covered`` (classes that receive at least a tenth of their uniform share n/K, so a few stray
misclassifications do not count as coverage), ``kl_uniform`` = KL(p || uniform) = log K - H(p) in nats (0 for a
perfectly balanced model, log K when everything is one class), the histogram itself, and, for class-conditional
models, ``label_accuracy``: how often the classifier agrees with the label that was asked for, over all samples and
per requested class (``label_accuracy_per_class``, None for a class never asked for).
"""

from __future__ import annotations

import torch
from scipy.stats import entropy
from torch import Tensor, nn

from .classifier import load_classifier
from .extractors import to_float_gray

MIN_SHARE = 0.1


@torch.no_grad()
def predict(images: Tensor, classifier: nn.Module | None = None, batch_size: int = 1000) -> Tensor:
    """Predicted classes of uint8 images ``[N, 1|3, H, W]`` (resized to 28x28 like the extractor does)."""
    net = classifier if classifier is not None else load_classifier()
    preds = [net(to_float_gray(images[i:i + batch_size])).argmax(1) for i in range(0, len(images), batch_size)]
    return torch.cat(preds)


def coverage_from_predictions(predictions: Tensor, num_classes: int, requested: Tensor | None = None) -> dict:
    counts = torch.bincount(predictions.flatten(), minlength=num_classes)
    n = int(counts.sum())
    p = (counts.double() / n).numpy()
    out = {
        "classes_covered": int((counts >= MIN_SHARE * n / num_classes).sum()),
        "num_classes": num_classes,
        "kl_uniform": float(entropy(p, [1.0 / num_classes] * num_classes)),
        "class_histogram": counts.tolist(),
    }
    if requested is not None:
        requested = requested.flatten()
        correct = (predictions.flatten() == requested).double()
        out["label_accuracy"] = float(correct.mean())
        out["label_accuracy_per_class"] = [round(float(correct[requested == c].mean()), 4)
                                           if (requested == c).any() else None for c in range(num_classes)]
    return out


def class_coverage(images: Tensor, requested: Tensor | None = None, classifier: nn.Module | None = None) -> dict:
    """Coverage of uint8 images; ``requested`` holds the labels a conditional model was asked for."""
    net = classifier if classifier is not None else load_classifier()
    return coverage_from_predictions(predict(images, net), net.head.out_features, requested)
