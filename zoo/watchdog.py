"""A training watchdog for the failure signals listed in ganhacks (Chintala et al., "How to Train a GAN?", 2016).

- A NaN or infinite loss, gradient norm or weight stops the run at once with ``TrainingDiverged`` (the command line
  prints ``error: ...``). The watchdog runs before the checkpoint callbacks and ``GIterCheckpoint`` saves nothing
  on such an error, so the last checkpoint on disk is the last good one.
- A discriminator loss stuck near 0 (|loss/d| < ``d_loss_floor`` for ``patience`` steps in a row: D rejects every
  fake, G gets no signal) and a G or D gradient norm above ``max_grad_norm`` each log a ``TrainingWarning`` with
  the generator iteration and step, once per streak.

It reads what the engine records after every training step (``GANModule.step_logs``: loss/d and loss/g on every
step, grad_norm/d and grad_norm/g on the steps the logger writes, ``log_every_n_steps``), or else
``trainer.callback_metrics``. A non-finite gradient shows on the same step anyway, in the weights it updated.
"""

from __future__ import annotations

import math
import warnings

import lightning as L
import torch

from .errors import ZooError


class TrainingDiverged(ZooError, FloatingPointError):
    """A loss, gradient norm or weight became NaN or infinite."""


class TrainingWarning(UserWarning):
    """A sign that a GAN run is failing (D wins outright, exploding gradients)."""


class Watchdog(L.Callback):
    def __init__(self, d_loss_floor: float = 1e-3, patience: int = 100, max_grad_norm: float = 100.0,
                 check_weights: bool = True):
        self.d_loss_floor = d_loss_floor
        self.patience = patience
        self.max_grad_norm = max_grad_norm
        self.check_weights = check_weights
        self._d_small_streak = 0
        self._above = {"grad_norm/d": False, "grad_norm/g": False}
        self._last_g_iter = -1

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        g_iters = getattr(pl_module, "g_iters", 0)
        where = f"generator iteration {g_iters} (step {trainer.global_step})"
        new_g_step = g_iters != self._last_g_iter  # loss/g and grad_norm/g are fresh only after a G update
        self._last_g_iter = g_iters
        logged = getattr(pl_module, "step_logs", None) or trainer.callback_metrics
        metrics = {k: float(v) for k, v in logged.items() if k in ("loss/d", "loss/g", "grad_norm/d", "grad_norm/g")}
        if not new_g_step:
            metrics = {k: v for k, v in metrics.items() if not k.endswith("/g")}

        bad = [f"{key} = {value}" for key, value in metrics.items() if not math.isfinite(value)]
        if self.check_weights and not bad:
            norms = torch._foreach_norm([p.detach() for p in pl_module.parameters()])
            if norms and not torch.isfinite(torch.stack(norms).sum()):
                bad = [f"weight {next(n for n, p in pl_module.named_parameters() if not torch.isfinite(p).all())} "
                       "is not finite"]
        # every rank stops together (a rank that raised alone would leave the others waiting in a collective)
        if trainer.world_size > 1 and trainer.strategy.reduce_boolean_decision(bool(bad), all=False) and not bad:
            bad = [f"another process (not rank {trainer.global_rank}) saw a non-finite value"]
        if bad:
            self.stop(trainer, f"{', '.join(bad)} at {where}")

        if "loss/d" in metrics:
            self._d_small_streak = self._d_small_streak + 1 if abs(metrics["loss/d"]) < self.d_loss_floor else 0
            if self._d_small_streak == self.patience:
                warn(f"loss/d has stayed below {self.d_loss_floor:g} for {self.patience} steps at {where}: D rejects "
                     "every fake and G gets no gradient (lower lr_d, add noise or a gradient penalty)")
        for key in self._above:
            if key in metrics:
                above = metrics[key] > self.max_grad_norm
                if above and not self._above[key]:
                    warn(f"{key} = {metrics[key]:.4g} > {self.max_grad_norm:g} at {where}: exploding gradients "
                         "(lower the learning rate or add a penalty)")
                self._above[key] = above

    @staticmethod
    def stop(trainer: L.Trainer, reason: str) -> None:
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or ""
        retry = (f"resume from the last good checkpoint {last} with a lower learning rate" if last
                 else "no checkpoint was saved yet: restart with a lower learning rate")
        raise TrainingDiverged(f"training diverged, {reason}; run stopped, {retry}")


def warn(message: str) -> None:
    warnings.warn(message, TrainingWarning, stacklevel=2)
