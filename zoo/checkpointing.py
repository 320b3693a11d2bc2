"""Checkpoints that survive a kill, and a resume that continues exactly where the run stopped.

``GIterCheckpoint`` (a ModelCheckpoint) writes ``<run folder>/checkpoints/last.ckpt`` every ``every_n_g_iters``
generator iterations, at the end of training and when the process gets SIGTERM (``zoo.sigterm``: every rank stops
after the same batch);
files are written to a temporary name and renamed (``AtomicCheckpointIO``), so a SIGKILL mid-write leaves the
previous checkpoint intact. ``zoo fit --config recipes/NAME.yaml --ckpt_path last`` resumes from it.

A resumed run ends bit-identical to an uninterrupted one (CPU, one process) because the checkpoint holds, besides
what Lightning saves (weights, G_ema, optimizers, schedulers, loop counters) and the engine's d_iters/g_iters:

- the torch, numpy and python RNG states at the moment of saving, restored when training restarts;
- the data position: ``ResumableSampler`` orders each epoch by a permutation seeded with (seed, epoch), and
  ``ResumableDataLoader`` (a Lightning-stateful DataLoader) records the epoch and the batches trained in it,
  so the resumed run skips exactly those samples instead of restarting the epoch with a new order.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch.utils.data import DataLoader, DistributedSampler

from .errors import InvalidArgumentError
from .serialization import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to a temporary file in the target folder, fsync, then os.replace: never half a checkpoint.

    A failed write (a full disk is a one-line ``WriteError`` naming the path) removes the temporary file and leaves
    the previous checkpoint as it was.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # through a Python file, a full disk is an OSError with its errno
                torch.save(checkpoint, handle)

        atomic_write(path, write)


class ResumableSampler(DistributedSampler):
    """Indices in an order fixed by (seed, epoch), split across processes, able to start mid-epoch.

    Each epoch is one permutation of the data set, seeded with ``seed + epoch`` (``seed`` defaults to
    ``seed_everything``'s). With W processes it is cut to a multiple of W and rank r takes every W-th index
    from position r, so W processes with batch B see, batch by batch, the samples one process with batch W*B
    sees. A DistributedSampler subclass, so that Lightning does not replace or wrap it under DDP.
    """

    def __init__(self, data_source, shuffle: bool = True, seed: int | None = None):  # noqa: D107 (no super: lazy)
        self.dataset = data_source
        self.shuffle = shuffle
        self._seed = seed
        self.epoch = 0
        self.start = 0  # samples of this rank to skip in the next pass (set when resuming)
        self.drop_last = True

    @property
    def seed(self) -> int:
        return self._seed if self._seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))

    @property
    def num_replicas(self) -> int:
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    @property
    def rank(self) -> int:
        return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

    def __len__(self) -> int:
        return len(self.dataset) // self.num_replicas

    def order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(len(self.dataset))
        return torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed + epoch))

    def __iter__(self):
        world = self.num_replicas
        order = self.order(self.epoch)[: len(self) * world]
        start, self.start = self.start, 0
        return iter(order[start * world:][self.rank::world].tolist())


class ResumableDataLoader(DataLoader):
    """A DataLoader whose sampler is a ``ResumableSampler``; Lightning saves and restores its position.

    ``batches_done`` counts the batches trained in the current epoch; ``GIterCheckpoint`` keeps it up to date.
    """

    def __init__(self, dataset, *args, sampler: ResumableSampler | None = None, **kwargs):
        if sampler is None:
            raise InvalidArgumentError("ResumableDataLoader needs sampler=ResumableSampler(dataset)")
        # a generator of its own: creating an iterator then draws no number from the global RNG, whose state the
        # checkpoint restores (Lightning creates the iterator before or after that depending on where it stopped)
        kwargs.setdefault("generator", torch.Generator().manual_seed(sampler.seed))
        super().__init__(dataset, *args, sampler=sampler, **kwargs)
        self.batches_done = 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches_done": self.batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.set_epoch(state["epoch"])
        self.batches_done = state["batches_done"]
        self.sampler.start = self.batches_done * self.batch_size


def rng_states() -> dict[str, Any]:
    """torch, numpy and python RNG states as tensors and plain Python values (loadable with weights_only)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {"torch": torch.get_rng_state(), "python": random.getstate(),
              "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    python = states["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class GIterCheckpoint(ModelCheckpoint):
    """Save ``last.ckpt`` every ``every_n_g_iters`` generator iterations, at the end, and on SIGTERM.

    ``dirpath`` defaults to the run's own folder, ``<logger save_dir>/<name>/version_N/checkpoints``, so a renamed
    or new run never writes into another's; ``zoo fit ... --ckpt_path last`` resumes the latest version of the run
    name (``resolve_last_checkpoint``). Each save point is written once, right after its generator update (with
    ``n_critic`` > 1 the following D steps belong to the next G iteration). Checkpoints are written atomically.
    Other ModelCheckpoint arguments pass through (``save_top_k=-1`` keeps every checkpoint as ``g_iter=NNNNNNN.ckpt``).
    """

    def __init__(self, every_n_g_iters: int = 500, dirpath: str | None = None, save_top_k: int = 0,
                 filename: str | None = None, auto_insert_metric_name: bool = False, **kwargs):
        if every_n_g_iters < 1:
            raise InvalidArgumentError(f"every_n_g_iters must be >= 1, got {every_n_g_iters}")
        super().__init__(dirpath=dirpath, save_top_k=save_top_k, save_last=True, every_n_epochs=0,
                         filename=filename or "g_iter={g_iters:07.0f}", auto_insert_metric_name=auto_insert_metric_name,
                         **kwargs)
        self.every_n_g_iters = every_n_g_iters
        self._rng_to_restore: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(every_n_g_iters=self.every_n_g_iters)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        super().setup(trainer, pl_module, stage)

    # ---------------------------------------------------------------- data position and RNG
    @staticmethod
    def _loader(trainer: L.Trainer) -> ResumableDataLoader | None:
        loader = trainer.train_dataloader
        return loader if isinstance(loader, ResumableDataLoader) else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if loader := self._loader(trainer):  # not called when a run restarts mid-epoch
            loader.batches_done = 0

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "rng": rng_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._rng_to_restore = state_dict.get("rng")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning's restore and the first dataloader iterator (which draws from the RNG, as it did then)
        if self._rng_to_restore is not None:
            set_rng_states(self._rng_to_restore)
            self._rng_to_restore = None

    # ---------------------------------------------------------------- when to save
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if loader := self._loader(trainer):
            loader.batches_done += 1
            if loader.batches_done >= trainer.num_training_batches:  # a checkpoint now resumes at the next epoch
                loader.sampler.set_epoch(loader.sampler.epoch + 1)
                loader.batches_done = 0
        # once per save point, right after its generator update (not again on the n_critic - 1 D steps that follow)
        g_iters = getattr(pl_module, "g_iters", trainer.global_step)
        at_boundary = getattr(pl_module, "at_g_iteration_boundary", True)
        if (g_iters and g_iters % self.every_n_g_iters == 0 and at_boundary
                and not self._should_skip_saving_checkpoint(trainer)):
            self.save(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        return None

    def on_validation_end(self, trainer, pl_module) -> None:
        return None

    def on_train_end(self, trainer, pl_module) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            self.save(trainer)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        # SIGTERM stops Lightning between two batches: a consistent state. Other errors (a NaN caught by the
        # watchdog, a crash mid-step) keep the last good checkpoint untouched.
        if isinstance(exception, SIGTERMException) and not self._should_skip_saving_checkpoint(trainer):
            self.save(trainer)

    def save(self, trainer: L.Trainer) -> None:
        candidates = self._monitor_candidates(trainer)
        candidates["g_iters"] = torch.tensor(float(getattr(trainer.lightning_module, "g_iters", 0)))
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)


def resolve_last_checkpoint(trainer_config: Any) -> str:
    """``--ckpt_path last``: the latest ``last.ckpt`` of the run the trainer config names, and point its logger at it.

    A run's checkpoints live in its own folder, ``<save_dir>/<name>/version_N/checkpoints`` (or a
    ``GIterCheckpoint``'s explicit ``dirpath``). Without an explicit ``version`` the newest version of that run name
    holding a ``last.ckpt`` is taken, and the logger is set to that version, so the resumed run goes on writing
    its metrics, samples and checkpoints in the same folder.
    """
    explicit = [(c.get("init_args") or {}).get("dirpath") for c in trainer_config.get("callbacks") or []
                if hasattr(c, "get") and str(c.get("class_path", "")).endswith("Checkpoint")]
    logger = trainer_config.get("logger")
    if any(explicit) or not hasattr(logger, "get"):  # a fixed folder, or no logger to name the run
        folder = next((Path(d) for d in explicit if d), Path(trainer_config.get("default_root_dir") or ".") /
                      "checkpoints")
        if not (folder / "last.ckpt").is_file():
            raise InvalidArgumentError(f"--ckpt_path last: {folder / 'last.ckpt'} does not exist: start the run "
                                       "without --ckpt_path")
        return str(folder / "last.ckpt")
    args = logger.get("init_args") or {}
    run = Path(args.get("save_dir") or ".") / str(args.get("name") or "lightning_logs")
    version = args.get("version")
    if version is not None:
        folder = run / (f"version_{version}" if isinstance(version, int) else str(version))
        candidates = [folder / "checkpoints" / "last.ckpt"]
    else:
        candidates = sorted(run.glob("version_*/checkpoints/last.ckpt"), key=lambda p: _version_number(p.parents[1]))
    existing = [c for c in candidates if c.is_file()]
    if not existing:
        raise InvalidArgumentError(f"--ckpt_path last: no checkpoint of run {run} (looked for "
                                   f"{run}/{'version_*' if version is None else folder.name}/checkpoints/last.ckpt): "
                                   "start the run without --ckpt_path")
    path = existing[-1]
    if version is None:
        args["version"] = _version_number(path.parents[1])
    return str(path)


def _version_number(folder: Path) -> int:
    suffix = folder.name.removeprefix("version_")
    return int(suffix) if suffix.isdigit() else -1
