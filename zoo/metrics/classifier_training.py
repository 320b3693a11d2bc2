"""Training the Fashion-MNIST classifier (``zoo train-classifier``): Lightning lives here, so that loading the
classifier (``zoo.metrics.classifier``) needs none of it.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from ..nets.classifier import FashionMNISTNet
from .classifier import CLASSIFIER_DIR, accuracy, export_classifier


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
