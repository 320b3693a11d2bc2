"""In-training FID: G_ema scored with the Fashion-MNIST features every N generator iterations.

Uses torchmetrics' ``FrechetInceptionDistance`` with the classifier's 128-d features as a custom feature module
(``reset_real_features=False`` keeps the real statistics between calls, so the reference is embedded once). The
latents are a fixed batch from a private ``torch.Generator``, and nothing here draws from the global RNG, so adding
the callback to a recipe leaves the training trajectory bit-for-bit unchanged.

This quick FID (fewer samples, torchmetrics, float inputs) is for model selection during training; the leaderboard's
numbers come from ``zoo leaderboard`` under its own protocol and are not comparable with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ..callbacks import run_dir
from .classifier import load_classifier
from .extractors import FMNIST_SIZE

METRIC = "fid/fmnist-cnn"


class ClassifierFeatures(nn.Module):
    """Float images in [-1, 1] (any square size, 1 or 3 channels) -> the classifier's pooled features."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.net = classifier
        self.num_features = classifier.feature_dim  # tells torchmetrics the size (no dummy forward, no RNG)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        if x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-1] != FMNIST_SIZE:
            x = nn.functional.interpolate(x, size=(FMNIST_SIZE, FMNIST_SIZE), mode="bilinear", antialias=True,
                                          align_corners=False).clamp(-1, 1)
        return self.net.features(x)


class FIDCallback(L.Callback):
    """Log ``fid/fmnist-cnn`` of G_ema every ``every_n_g_iters`` and keep the best checkpoint by it.

    Args:
        every_n_g_iters: evaluation period in generator iterations.
        n_samples: generated images per evaluation (the same latents every time).
        n_real: images of ``split`` for the real statistics (a seeded subset).
        split: "train" (default) or "test". Selecting checkpoints on the train split keeps the test split, the
            leaderboard's reference, out of model selection.
        seed: seed of the private generator for the latents, labels and the real subset.
        dirpath: where ``best-fid.ckpt`` goes (default ``<log_dir>/checkpoints``).
        save_best: write ``best-fid.ckpt`` whenever the FID improves.
        real_images: float images in [-1, 1] to use instead of the Fashion-MNIST test split (tests, other data).
        classifier: a classifier weights folder (default: the bundled ``fmnist-classifier``).
    """

    def __init__(self, every_n_g_iters: int = 1000, n_samples: int = 2000, n_real: int = 10000, seed: int = 0,
                 dirpath: str | os.PathLike | None = None, save_best: bool = True, batch_size: int = 500,
                 real_images: Tensor | None = None, classifier: str | os.PathLike | None = None,
                 split: str = "train"):
        if every_n_g_iters < 1 or n_samples < 2:
            raise ValueError("every_n_g_iters must be >= 1 and n_samples >= 2")
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.split = split
        self.every = every_n_g_iters
        self.n_samples = n_samples
        self.n_real = n_real
        self.seed = seed
        self.dirpath = Path(dirpath) if dirpath else None
        self.save_best = save_best
        self.batch_size = batch_size
        self.real_images = real_images
        self.classifier = classifier
        self.metric: FrechetInceptionDistance | None = None
        self.best_fid = float("inf")
        self.best_g_iter = -1
        self.history: list[tuple[int, float]] = []
        self._last = -1

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"best_fid": self.best_fid, "best_g_iter": self.best_g_iter, "history": list(self.history)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best_fid = state_dict.get("best_fid", float("inf"))
        self.best_g_iter = state_dict.get("best_g_iter", -1)
        self.history = [tuple(x) for x in state_dict.get("history", [])]

    # ------------------------------------------------------------------ hooks
    def setup(self, trainer, pl_module, stage) -> None:
        run_dir(trainer)  # a collective: resolved on every rank here, not later on one

    def on_fit_start(self, trainer, pl_module) -> None:
        if self.metric is None:  # fail before training, not in the middle of it, if the classifier is missing
            with _private_rng(pl_module.device):
                self._setup(pl_module.device)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g_iters = pl_module.g_iters
        if g_iters > 0 and g_iters % self.every == 0 and g_iters != self._last:
            self._last = g_iters
            self.evaluate(trainer, pl_module)

    def _real(self) -> Tensor:
        if self.real_images is not None:
            return self.real_images
        from ..data.fashion_mnist import load_fashion_mnist, to_model_range

        images, _ = load_fashion_mnist(self.split)
        if self.n_real < len(images):
            index = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.seed))[:self.n_real]
            images = images[index]
        return to_model_range(images)

    def _setup(self, device: torch.device) -> None:
        # every rank scores the same G_ema on the same latents, so each computes the same FID on its own (no sync)
        self.metric = FrechetInceptionDistance(feature=ClassifierFeatures(load_classifier(self.classifier)),
                                               reset_real_features=False, sync_on_compute=False).to(device)
        real = self._real()
        for start in range(0, len(real), self.batch_size):
            self.metric.update(real[start:start + self.batch_size].to(device), real=True)

    @torch.no_grad()
    def compute_fid(self, generator: nn.Module, device: torch.device) -> float:
        """FID of ``generator`` on the fixed latents (the real statistics are embedded on the first call)."""
        if self.metric is None:
            self._setup(device)
        rng = torch.Generator().manual_seed(self.seed)
        z = torch.randn(self.n_samples, generator.latent_dim, generator=rng)
        y = torch.randint(generator.num_classes, (self.n_samples,), generator=rng) if generator.num_classes else None
        was_training = generator.training
        generator.eval()
        try:
            self.metric.reset()  # keeps the real statistics
            for start in range(0, self.n_samples, self.batch_size):
                zb = z[start:start + self.batch_size].to(device)
                fake = generator(zb) if y is None else generator(zb, y[start:start + self.batch_size].to(device))
                self.metric.update(fake.float().clamp(-1, 1), real=False)
            return float(self.metric.compute())
        finally:
            generator.train(was_training)

    def best_checkpoint_path(self, trainer) -> Path:
        return (self.dirpath or run_dir(trainer) / "checkpoints") / "best-fid.ckpt"

    def evaluate(self, trainer, pl_module) -> float:
        with _private_rng(pl_module.device):
            fid = self.compute_fid(pl_module.G_ema, pl_module.device)
        g_iters = pl_module.g_iters
        self.history.append((g_iters, fid))
        # straight to the loggers (self.log would drop values between log_every_n_steps); callback_metrics lets a
        # ModelCheckpoint(monitor="fid/fmnist-cnn") use it too
        for logger in trainer.loggers:
            logger.log_metrics({METRIC: fid}, step=trainer.global_step)
        trainer.callback_metrics[METRIC] = torch.tensor(fid)
        if fid < self.best_fid:
            self.best_fid, self.best_g_iter = fid, g_iters
            if self.save_best:
                folder = self.dirpath or run_dir(trainer) / "checkpoints"
                tmp = folder / ".best-fid.ckpt.tmp"
                trainer.save_checkpoint(tmp)  # collective: every rank calls it, rank 0 writes
                if trainer.is_global_zero:
                    os.replace(tmp, self.best_checkpoint_path(trainer))
        return fid


def _private_rng(device: torch.device):
    """Restore the global RNG state afterwards (building the classifier's layers draws from it, for one)."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type=device.type)
