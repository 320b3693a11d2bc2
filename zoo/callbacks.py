"""Lightning callbacks for GAN training: fixed-z sample grids, weights export, a progress bar in G iterations."""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch import nn
from torchvision.utils import save_image

from .curves import plot_curves
from .errors import ZooError
from .images import image_grid  # noqa: F401  (re-exported)
from .machine import git_commit, gpu_record, machine_record
from .serialization import GRID_FILE, TRAINING_FILE, atomic_write, atomic_write_bytes, save_weights


def run_dir(trainer: L.Trainer) -> Path:
    """The run's own folder, ``<save_dir>/<name>/<version>`` (samples, weights, checkpoints), resolved once.

    ``trainer.log_dir`` is a broadcast from rank 0, a collective: every rank must reach it together, so the
    callbacks resolve it in ``setup`` (which every rank runs) and later calls, from rank 0 alone, read the cache.
    """
    cached = getattr(trainer, "_zoo_run_dir", None)
    if cached is None:
        cached = trainer._zoo_run_dir = Path(trainer.log_dir or trainer.default_root_dir)
    return cached


class SampleGrid(L.Callback):
    """Save a grid of G_ema samples from a fixed latent batch every ``every_n_g_iters`` generator iterations.

    The grid goes to ``<log_dir>/samples/g_iter_XXXXXXX.png`` and, for a TensorBoard logger, to its images.
    Conditional models get one row per class (cycling through the classes).
    """

    def __init__(self, every_n_g_iters: int = 500, n: int = 64, seed: int = 0):
        self.every = every_n_g_iters
        self.n = n
        self.seed = seed
        self._last_saved = -1

    def setup(self, trainer, pl_module, stage) -> None:
        run_dir(trainer)  # the collective, on every rank

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g_iters = pl_module.g_iters
        if g_iters != self._last_saved and g_iters % self.every == 0 and g_iters > 0:
            self.save(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if pl_module.g_iters != self._last_saved:
            self.save(trainer, pl_module)

    def save(self, trainer, pl_module) -> None:
        self._last_saved = pl_module.g_iters
        if not trainer.is_global_zero:
            return
        generator = pl_module.G_ema
        labels = None
        if generator.num_classes:
            labels = [(i // 8) % generator.num_classes for i in range(self.n)]
        images = generator.sample(self.n, seed=self.seed, labels=labels)
        grid = image_grid(images)
        path = run_dir(trainer) / "samples" / f"g_iter_{pl_module.g_iters:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path)
        experiment = getattr(trainer.logger, "experiment", None)
        if hasattr(experiment, "add_image"):
            experiment.add_image("samples", grid, global_step=pl_module.g_iters)


@torch.no_grad()
def recompute_batchnorm_stats(generator: nn.Module, batches: int = 16, batch_size: int = 256) -> nn.Module:
    """Re-estimate BatchNorm running statistics of ``generator`` from its own samples ("standing statistics").

    G_ema's weights differ from G's, so the statistics copied from G do not quite fit it; a cumulative average
    (``momentum=None``) over ``batches`` batches of random latents gives statistics that do.
    """
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return generator
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    generator.train()
    device = next(generator.parameters()).device
    for _ in range(batches):
        z = torch.randn(batch_size, generator.latent_dim, device=device)
        if generator.num_classes:
            generator(z, torch.randint(generator.num_classes, (batch_size,), device=device))
        else:
            generator(z)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return generator.eval()


class ExportWeights(L.Callback):
    """At the end of training write a zoo weights folder: G_ema, raw G, config.json and a sample grid, and for an
    encoder family (``GANModule.encoder_network``) its encoder, ``encoder.safetensors``.

    The folder (default ``<log_dir>/weights``) loads with ``zoo.load(folder)``; copy it to ``zoo/weights/<name>/``
    and add an index entry to bundle it. BatchNorm statistics of the exported G_ema are re-estimated
    (``standing_stats_batches``). ``weights="best-fid"`` exports the networks of the run's ``best-fid.ckpt`` (the
    FIDCallback's choice, on train-split statistics) instead of the last ones; ``training.json`` records which
    generator iteration was chosen and its in-training FID.
    """

    def __init__(self, dirpath: str | os.PathLike | None = None, standing_stats_batches: int = 16,
                 grid_seed: int = 0, weights: str = "last"):
        if weights not in ("last", "best-fid"):
            raise ValueError(f"weights must be 'last' or 'best-fid', got {weights!r}")
        self.dirpath = Path(dirpath) if dirpath else None
        self.standing_stats_batches = standing_stats_batches
        self.grid_seed = grid_seed
        self.weights = weights

    def setup(self, trainer, pl_module, stage) -> None:
        run_dir(trainer)  # the collective, on every rank
        if self.weights == "best-fid" and self._chooser(trainer) is None:  # every rank: fail before training
            raise ZooError("ExportWeights(weights='best-fid') exports the FIDCallback's best-fid.ckpt: add "
                           "zoo.metrics.callback.FIDCallback to the callbacks, or export 'last'")

    @staticmethod
    def _chooser(trainer):
        return next((c for c in trainer.callbacks if hasattr(c, "best_checkpoint_path")), None)

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()
        self._start_g_iters = pl_module.g_iters  # > 0 when resumed from a checkpoint
        self._commit = git_commit()  # the code this run started with

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        wall_time = time.perf_counter() - self._start
        trained_on = gpu_record(next(pl_module.G.parameters()).device)  # before the copies below move to the CPU
        generator_ema = copy.deepcopy(pl_module.G_ema).float()
        generator_raw = copy.deepcopy(pl_module.G).float().eval()
        networks = {"G_ema": generator_ema, "G": generator_raw}
        encoder_name = getattr(pl_module, "encoder_network", None)
        if encoder_name:  # an encoder family ships its encoder beside G (encoder.safetensors)
            networks[encoder_name] = copy.deepcopy(getattr(pl_module, encoder_name)).float().eval()
        selection = self._load_best(trainer, networks) if self.weights == "best-fid" else {}
        if self.standing_stats_batches:
            torch.manual_seed(self.grid_seed)
            recompute_batchnorm_stats(generator_ema, self.standing_stats_batches)
        folder = self.dirpath or run_dir(trainer) / "weights"
        encoder = pl_module.exported_encoder(networks[encoder_name]).cpu() if encoder_name else None
        save_weights(folder, generator_ema.cpu(), generator_raw.cpu(), encoder=encoder)
        labels = [(i // 8) % generator_ema.num_classes for i in range(64)] if generator_ema.num_classes else None
        grid = image_grid(generator_ema.sample(64, seed=self.grid_seed, labels=labels))
        atomic_write(folder / GRID_FILE, lambda tmp: save_image(grid, tmp, format="png"))
        training = {"g_iters": pl_module.g_iters, "d_iters": pl_module.d_iters, "global_step": trainer.global_step,
                    "wall_time_s": round(wall_time, 1), "uninterrupted": self._start_g_iters == 0,
                    "resumed_at_g_iter": self._start_g_iters or None, "precision": str(trainer.precision),
                    "devices": trainer.world_size, **selection, **machine_record(), **trained_on,
                    "commit": self._commit,
                    "torch": torch.__version__, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
        atomic_write_bytes(folder / TRAINING_FILE, (json.dumps(training, indent=2) + "\n").encode())
        curves = self._plot(trainer)
        # where everything went, and the commands that use it (the checkpoint callbacks write last.ckpt after this)
        checkpoints = getattr(trainer.checkpoint_callback, "dirpath", None)
        lines = [f"weights: {folder}   (zoo sample {folder} --out grid.png)",
                 f"samples: {run_dir(trainer) / 'samples'}   metrics: {run_dir(trainer) / 'metrics.csv'}"
                 + (f"   curves: {curves}" if curves else "")]
        if checkpoints:
            config = run_dir(trainer) / "config.yaml"  # LightningCLI's copy of this run's full config
            lines.append(f"checkpoint: {Path(checkpoints) / 'last.ckpt'}   (resume: zoo fit --config "
                         f"{config if config.is_file() else 'RECIPE'} --ckpt_path last)")
        bar = trainer.progress_bar_callback
        for line in lines:
            if bar is not None and bar.is_enabled:
                bar.print(line)  # above the bar, not through it
            else:
                print(line, file=sys.stderr, flush=True)


    @staticmethod
    def _load_best(trainer, networks: dict[str, nn.Module]) -> dict:
        """Load the best-fid checkpoint's networks (G_ema, G, an encoder) into the copies ``{attribute name:
        copy}``; what was chosen, for training.json. A run too short for the FIDCallback to score it (a shortened
        recipe) exports its last weights and says so."""
        chooser = ExportWeights._chooser(trainer)
        path = chooser.best_checkpoint_path(trainer)
        if not path.is_file():
            warnings.warn(f"no {path.name} was written (the run ended before the FIDCallback scored it): exporting "
                          "the last weights", stacklevel=2)
            return {"weights": "last (no best-fid checkpoint was written)"}
        state = torch.load(path, map_location="cpu", weights_only=True)
        for name, network in networks.items():
            prefix = f"{name}."
            network.load_state_dict({k[len(prefix):]: v for k, v in state["state_dict"].items()
                                     if k.startswith(prefix)})
        return {"weights": "best-fid", "selected_g_iter": state["gan_counters"]["g_iters"],
                "selected_fid": round(chooser.best_fid, 4),
                "selected_by": f"fid/fmnist-cnn, {chooser.n_samples} samples, {chooser.split} split"}

    @staticmethod
    def _plot(trainer) -> Path | None:
        """curves.png from the run's metrics.csv (flushed first); a run without a CSV log gets none."""
        for logger in trainer.loggers:
            logger.save()
        if not (run_dir(trainer) / "metrics.csv").is_file():
            return None
        try:
            return plot_curves(run_dir(trainer))
        except ZooError:  # a metrics.csv without the engine's columns: nothing to draw
            return None


class GIterProgressBar(TQDMProgressBar):
    """One bar for the whole run, counting generator iterations toward ``max_g_iters`` (so its ETA is the run's),
    with the latest losses, D's mean scores on real and fake images and, once the FID callback ran, the last FID.

    The engine puts it in place of Lightning's per-epoch batch bar whenever a progress bar is enabled.
    """

    SHOWN = {"loss/d": "loss_d", "loss/g": "loss_g", "d/real_score": "D(x)", "d/fake_score": "D(G(z))",
             "fid/fmnist-cnn": "fid"}

    def __init__(self, refresh_rate: int = 1, leave: bool = False):
        super().__init__(refresh_rate=refresh_rate, leave=leave)
        self._bar_started = False

    def on_train_epoch_start(self, trainer, *_) -> None:
        if self._bar_started:  # one bar across epochs
            return
        self._bar_started = True
        module = trainer.lightning_module
        bar = self.train_progress_bar
        bar.reset(total=getattr(module.hparams, "max_g_iters", None) or None)
        bar.n = bar.initial = getattr(module, "g_iters", 0)  # a resumed run's ETA counts from where it resumed
        bar.set_description("G iterations")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        bar, n = self.train_progress_bar, pl_module.g_iters
        if n != bar.n and self._should_update(n, bar.total):
            bar.n = n
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=True)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        return None

    def get_metrics(self, trainer, pl_module) -> dict:
        values = {**trainer.callback_metrics, **getattr(pl_module, "step_logs", {})}
        return {short: f"{float(values[key]):.3g}" for key, short in self.SHOWN.items() if key in values}
