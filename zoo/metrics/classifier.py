"""The project's Fashion-MNIST classifier: a small CNN whose penultimate layer is the offline feature space.

It plays the role Inception plays on ImageNet (Salimans et al. 2016 for IS, Heusel et al. 2017 for FID): its
128-d global-average-pooled features feed FID, KID and precision/recall, its softmax feeds IS and class coverage.
Trained on the Fashion-MNIST *train* split only (``recipes/fmnist-classifier.yaml``); the test split stays unseen,
so it can serve as the reference set. Input: ``[N, 1, 28, 28]`` floats in ``[-1, 1]`` (the zoo's output range).

    zoo train-classifier --config recipes/fmnist-classifier.yaml   # writes zoo/weights/fmnist-classifier/

This module loads and exports it with torch alone; the network is ``zoo.nets.classifier``, the training (Lightning)
``zoo.metrics.classifier_training``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from ..errors import InvalidArgumentError, WeightsNotFoundError
from ..nets.classifier import FashionMNISTNet
from ..registry import WEIGHTS_DIR
from ..serialization import CONFIG_FILE, atomic_write_bytes, load_state, sha256_file
from ..serialization import EMA_FILE as WEIGHTS_FILE  # the same file name as a generator's weights

CLASSIFIER_DIR = WEIGHTS_DIR / "fmnist-classifier"
EVAL_FILE = "eval.json"


def load_classifier(folder: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> FashionMNISTNet:
    """The bundled classifier (or the one in ``folder``), in eval mode without gradients."""
    folder = Path(folder) if folder else CLASSIFIER_DIR
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise WeightsNotFoundError(
            f"{weights} is missing: reinstall gan-zoo or retrain it with "
            f"`zoo train-classifier --config recipes/fmnist-classifier.yaml`")
    config = json.loads((folder / CONFIG_FILE).read_text())
    net = FashionMNISTNet(width=config["width"], num_classes=config["num_classes"])
    load_state(net, weights)
    return net.to(device).eval().requires_grad_(False)


def classifier_sha256(folder: str | os.PathLike | None = None) -> str:
    return sha256_file(Path(folder or CLASSIFIER_DIR) / WEIGHTS_FILE)


@torch.no_grad()
def accuracy(net: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``net`` on float images in [-1, 1]."""
    correct = 0
    for start in range(0, len(images), batch_size):
        correct += int((net(images[start:start + batch_size]).argmax(1) == labels[start:start + batch_size]).sum())
    return correct / len(images)


@torch.no_grad()
def class_accuracy(net: nn.Module, images: Tensor, labels: Tensor, num_classes: int, batch_size: int = 1000,
                   predict=None) -> dict:
    """Accuracy of a model's classifier on float images in [-1, 1], with ``net`` in eval mode (restored after):
    {"accuracy": mean over images, "per_class": [accuracy of each class, None if absent], "n": count}.
    ``predict`` (default ``net`` itself) maps a batch to class logits, e.g. a classifier head of a discriminator."""
    if images.ndim != 4 or len(images) != len(labels) or len(images) == 0:
        raise InvalidArgumentError(f"need images [N, C, H, W] and N labels, got {tuple(images.shape)} images and "
                                   f"{tuple(labels.shape)} labels")
    predict = predict or net
    was_training, device = net.training, next(net.parameters()).device
    net.eval()
    try:
        predictions = torch.cat([predict(images[i:i + batch_size].to(device)).argmax(1).cpu()
                                 for i in range(0, len(images), batch_size)])
    finally:
        net.train(was_training)
    labels = labels.cpu()
    correct = (predictions == labels).float()
    per_class = [float(correct[labels == c].mean()) if (labels == c).any() else None for c in range(num_classes)]
    return {"accuracy": float(correct.mean()), "per_class": per_class, "n": len(images)}


def export_classifier(net: FashionMNISTNet, folder: str | os.PathLike, evaluation: dict) -> dict[str, str]:
    """Write ``config.json``, ``model.safetensors`` and ``eval.json`` (test accuracy + weights sha256)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / CONFIG_FILE, (json.dumps(net.config, indent=2, sort_keys=True) + "\n").encode())
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tmp = folder / f".{WEIGHTS_FILE}.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, folder / WEIGHTS_FILE)
    record = {**evaluation, "sha256": {WEIGHTS_FILE: sha256_file(folder / WEIGHTS_FILE)}}
    atomic_write_bytes(folder / EVAL_FILE, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    return record
