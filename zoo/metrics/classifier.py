"""The project's Fashion-MNIST classifier: a small CNN whose penultimate layer is the offline feature space.

It plays the role Inception plays on ImageNet (Salimans et al. 2016 for IS, Heusel et al. 2017 for FID): its
128-d global-average-pooled features feed FID, KID and precision/recall, its softmax feeds IS and class coverage.
Trained on the Fashion-MNIST *train* split only (``recipes/fmnist-classifier.yaml``); the test split stays unseen,
so it can serve as the reference set. Input: ``[N, 1, 28, 28]`` floats in ``[-1, 1]`` (the zoo's output range).

    zoo train-classifier --config recipes/fmnist-classifier.yaml   # writes zoo/weights/fmnist-classifier/
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn

from ..errors import WeightsNotFoundError
from ..registry import WEIGHTS_DIR
from ..serialization import atomic_write_bytes, load_state, sha256_file

CLASSIFIER_DIR = WEIGHTS_DIR / "fmnist-classifier"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
EVAL_FILE = "eval.json"


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


class ClassifierModule(L.LightningModule):
    """Trains ``FashionMNISTNet`` with cross-entropy and Adam; ``test`` logs the accuracy that gets recorded."""

    def __init__(self, width: int = 32, lr: float = 2e-3, weight_decay: float = 1e-4):
        super().__init__()
        self.save_hyperparameters()
        self.net = FashionMNISTNet(width=width)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", (logits.argmax(1) == y).float().mean())
        return loss

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test/acc", (self.net(x).argmax(1) == y).float().mean(), on_epoch=True, reduce_fx="mean")

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        steps = self.trainer.estimated_stepping_batches
        return {"optimizer": opt, "lr_scheduler": {
            "scheduler": torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=steps),
            "interval": "step"}}


@torch.no_grad()
def accuracy(net: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``net`` on float images in [-1, 1]."""
    correct = 0
    for start in range(0, len(images), batch_size):
        correct += int((net(images[start:start + batch_size]).argmax(1) == labels[start:start + batch_size]).sum())
    return correct / len(images)


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


def train_classifier(args: list[str]) -> dict:
    """``zoo train-classifier``: LightningCLI fit on the train split, accuracy on the test split, export.

    The export folder is ``--out`` (default ``zoo/weights/fmnist-classifier``); every ``--trainer.*``,
    ``--model.*`` and ``--data.*`` flag of LightningCLI works.
    """
    from lightning.pytorch.cli import LightningCLI

    from ..data import FashionMNIST, load_fashion_mnist
    from ..data.fashion_mnist import to_model_range

    out = CLASSIFIER_DIR
    if "--out" in args:
        i = args.index("--out")
        out, args = Path(args[i + 1]), args[:i] + args[i + 2:]
    cli = LightningCLI(ClassifierModule, FashionMNIST, args=args, run=False, save_config_kwargs={"overwrite": True})
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    net = cli.model.net.cpu().eval()
    images, labels = load_fashion_mnist("test", cli.datamodule.hparams.root)
    test_acc = accuracy(net, to_model_range(images), labels)
    record = export_classifier(net, out, {
        "test_accuracy": round(test_acc, 4), "test_split": "fashion-mnist test (10,000 images)",
        "trained_on": "fashion-mnist train (60,000 images)", "epochs": cli.trainer.current_epoch,
        "recipe": "recipes/fmnist-classifier.yaml"})
    print(f"wrote {out}: test accuracy {test_acc:.4f}")
    return record
