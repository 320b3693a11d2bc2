"""SIGTERM that ends a training run within seconds, on one process or many, after a checkpoint where one can be written.

Lightning's own handler runs a broadcast inside the signal handler, and a Python handler only runs when the main
thread returns to the interpreter, never while it waits in a collective (a 2-process run whose other rank is gone
would wait for the 30-minute process-group timeout). So ``zoo fit`` blocks SIGTERM in its threads and takes it in a
helper thread (``install``), which

1. sets a flag that ``sync`` (called by the engine after every training step) shares between the ranks with one
   all-reduce; every rank then stops after the same step, where ``GIterCheckpoint`` writes ``last.ckpt``;
2. forwards SIGTERM to the processes this one launched (Lightning's launcher starts ranks 1..N-1 as children);
3. if the process is still alive ``ZOO_SIGTERM_GRACE_S`` seconds later (default 15: a collective that will not
   complete), says so and exits with status 143 (128 + SIGTERM) without a new checkpoint; the previous one is
   complete, since checkpoints are written atomically.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref

GRACE_ENV = "ZOO_SIGTERM_GRACE_S"
_received = threading.Event()
_launcher_ref: weakref.ref | None = None
_installed = False


def install() -> bool:
    """Take SIGTERM in a helper thread from now on; call it from the main thread before any other thread starts."""
    global _installed
    main_thread = threading.current_thread() is threading.main_thread()
    if _installed or not main_thread or not hasattr(signal, "pthread_sigmask"):
        return _installed
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # inherited by every thread started later
    threading.Thread(target=_wait_for_sigterm, name="zoo-sigterm", daemon=True).start()
    _installed = True
    return True


def attach(trainer) -> None:
    """Remember the trainer's launcher, whose child processes get the SIGTERM too."""
    global _launcher_ref
    launcher = getattr(trainer.strategy, "launcher", None)
    _launcher_ref = weakref.ref(launcher) if launcher is not None else None


def sync(trainer) -> bool:
    """True on every rank when any rank got SIGTERM; then Lightning stops all of them after the current step."""
    flag = _received.is_set()
    if trainer.world_size > 1:
        import torch
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            shared = torch.tensor([int(flag)], device=trainer.strategy.root_device)
            dist.all_reduce(shared, op=dist.ReduceOp.MAX)
            flag = bool(shared.item())
    if flag:
        trainer._signal_connector.received_sigterm = True  # Lightning raises SIGTERMException after this step
    return flag


def _children() -> list[int]:
    launcher = _launcher_ref() if _launcher_ref is not None else None
    return [p.pid for p in getattr(launcher, "procs", []) or [] if p.poll() is None]


def _wait_for_sigterm() -> None:
    signal.sigwait({signal.SIGTERM})
    _received.set()
    grace = float(os.environ.get(GRACE_ENV, 15))
    print(f"zoo: SIGTERM received: stopping after the current step (checkpoint first); exiting in at most {grace:g} s",
          file=sys.stderr, flush=True)
    for pid in _children():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    time.sleep(grace)
    print(f"zoo: still running {grace:g} s after SIGTERM (waiting in a collective for a process that has stopped): "
          "exiting now; the last checkpoint on disk is complete", file=sys.stderr, flush=True)
    os._exit(128 + signal.SIGTERM)
