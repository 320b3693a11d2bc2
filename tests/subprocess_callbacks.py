"""Callbacks that the subprocess tests (test_ddp, test_resume) load by class_path; tests/ is put on PYTHONPATH."""

import os
import signal

import lightning as L
import torch


class SignalAt(L.Callback):
    """Send ``signal_name`` to this process right after generator iteration ``g_iter`` (before it is checkpointed)."""

    def __init__(self, g_iter: int, signal_name: str = "SIGKILL"):
        self.g_iter, self.signum = g_iter, getattr(signal, signal_name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iters == self.g_iter and pl_module.d_iters % pl_module.hparams.n_critic == 0:
            os.kill(os.getpid(), self.signum)


class DumpState(L.Callback):
    """At the end of training every rank writes G, D and G_ema to ``<folder>/rank<R>.pt`` (and ``bare_steps``:
    whether the engine bypassed Lightning's idle backward / optimizer-step wrappers)."""

    def __init__(self, folder: str):
        self.folder = folder

    def on_train_end(self, trainer, pl_module):
        os.makedirs(self.folder, exist_ok=True)
        state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        state["bare_steps"] = torch.tensor(pl_module._bare_steps)
        torch.save(state, os.path.join(self.folder, f"rank{trainer.global_rank}.pt"))


class MarkAt(L.Callback):
    """At generator iteration ``g_iter`` write ``path`` (from rank ``stall_rank``, or rank 0), then, if ``stall_rank``
    is set, sleep on that rank forever: its peers wait for it in their next collective."""

    def __init__(self, g_iter: int, path: str, stall_rank: int | None = None):
        self.g_iter, self.path, self.stall_rank = g_iter, path, stall_rank

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iters != self.g_iter or trainer.global_rank != (self.stall_rank or 0):
            return
        with open(self.path, "w") as handle:
            handle.write(str(os.getpid()))
        if self.stall_rank is not None:
            import time

            time.sleep(3600)


class PoisonAt(L.Callback):
    """Make one G_ema weight infinite on rank ``rank`` only, after generator iteration ``g_iter``."""

    def __init__(self, g_iter: int, rank: int):
        self.g_iter, self.rank = g_iter, rank

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iters == self.g_iter and trainer.global_rank == self.rank:
            with torch.no_grad():
                next(pl_module.G_ema.parameters()).view(-1)[0] = float("inf")
