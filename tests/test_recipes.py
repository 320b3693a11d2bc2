"""Every shipped recipe, unchanged, through `zoo fit` on two processes (gloo), and SIGTERM on two processes.

Each run is a subprocess in its own session under a timeout: a hang kills the whole process group and fails with a
message, it never stalls CI. The recipes' only overrides are the device count, a few generator iterations and, where a
recipe pre-trains a classifier before the game, a few pre-training steps.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import zoo

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(p for p in (ROOT / "recipes").glob("*.yaml") if "model:\n  class_path: zoo.families" in p.read_text())
TIMEOUT = 240
G_ITERS = 2


def zoo_fit(cwd: Path, *args: str, timeout: float = TIMEOUT, env: dict | None = None):
    """``zoo fit ARGS`` in a new session; (returncode, stderr, seconds). A run past ``timeout`` fails the test."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "OMP_NUM_THREADS": "1",
           **(env or {})}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "fit", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"zoo fit {' '.join(args)} hung: still running after {timeout} s; stderr tail:\n{stderr[-2000:]}")
    return proc.returncode, stderr, time.monotonic() - start


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_shipped_recipe_trains_on_two_processes_and_exits(recipe, tmp_path):
    pretraining = ["--model.init_args.classifier_pretrain_steps", "3"] if "classifier_pretrain_steps" in \
        recipe.read_text() else []
    code, stderr, _ = zoo_fit(tmp_path, "--config", str(recipe), "--trainer.devices", "2",
                              "--model.init_args.max_g_iters", str(G_ITERS), *pretraining)
    assert code == 0, stderr[-3000:]
    run = tmp_path / "runs" / recipe.stem / "version_0"  # the recipes' logger names the run after the file
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert checkpoint["gan_counters"]["g_iters"] == G_ITERS
    generator = zoo.load(run / "weights")
    images = generator.sample(2, seed=0, labels=[0, 1] if generator.num_classes else None)
    assert images.shape == (2, generator.img_channels, generator.img_size, generator.img_size)
    assert (run / "weights" / "training.json").is_file() and list((run / "samples").glob("*.png"))
    training = json.loads((run / "weights" / "training.json").read_text())
    assert training["devices"] == 2 and "gpu" not in training  # two CPU processes, no GPU named


def test_two_process_run_ended_by_max_steps(tmp_path):
    recipe = ROOT / "recipes" / "dcgan-fmnist.yaml"
    code, stderr, _ = zoo_fit(tmp_path, "--config", str(recipe), "--trainer.devices", "2", "--trainer.max_steps", "8")
    assert code == 0, stderr[-3000:]
    assert "You have overridden" not in stderr  # Lightning's note on the engine's own batch transfer is filtered
    checkpoint = torch.load(tmp_path / "runs/dcgan-fmnist/version_0/checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 8 and checkpoint["gan_counters"]["g_iters"] == 4  # 2 optimizer steps per G iter
    assert zoo.load(tmp_path / "runs/dcgan-fmnist/version_0/weights").sample(1).shape == (1, 1, 28, 28)


def _signal_when(path: Path, proc: subprocess.Popen, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the run ended or stalled before writing {path.name}: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)


@pytest.mark.parametrize("stall_rank", [None, 1], ids=["running", "peer-stuck-in-collective"])
def test_sigterm_ends_a_two_process_run_within_seconds(tmp_path, stall_rank):
    """SIGTERM to the launching process: every rank stops after the same step with a checkpoint; if a peer is stuck
    (rank 1 sleeps, rank 0 waits for it in a collective), the run still ends within the grace period."""
    marker = tmp_path / "marker"
    callback = json.dumps({"class_path": "subprocess_callbacks.MarkAt",
                           "init_args": {"g_iter": 3, "path": str(marker), "stall_rank": stall_rank}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "OMP_NUM_THREADS": "1",
           "ZOO_SIGTERM_GRACE_S": "5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "fit", "--config", str(ROOT / "recipes" / "dcgan-fmnist.yaml"),
         "--trainer.devices", "2", "--model.init_args.width", "8", "--trainer.callbacks+", callback,
         "--model.init_args.max_g_iters", "100000"],
        cwd=tmp_path, env=env, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    _signal_when(marker, proc)
    time.sleep(1.0)
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the run did not end within 30 s of SIGTERM: {proc.communicate()[1][-2000:]}")
    elapsed = time.monotonic() - start
    assert "SIGTERM received" in stderr
    last = tmp_path / "runs/dcgan-fmnist/version_0/checkpoints/last.ckpt"
    if stall_rank is None:
        assert elapsed < 15, f"took {elapsed:.1f} s"
        assert torch.load(last, weights_only=True)["gan_counters"]["g_iters"] >= 3  # saved on the way out
    else:
        assert proc.returncode == 128 + signal.SIGTERM and elapsed < 5 + 10, (proc.returncode, elapsed)
        assert "still running" in stderr
        assert not last.exists() or torch.load(last, weights_only=True)  # nothing half-written


def test_watchdog_stops_every_rank_when_one_rank_diverges(tmp_path):
    """Only rank 1 sees the infinite weight; both ranks must stop (not rank 1 alone, leaving rank 0 in a collective)."""
    poison = json.dumps({"class_path": "subprocess_callbacks.PoisonAt", "init_args": {"g_iter": 2, "rank": 1}})
    code, stderr, _ = zoo_fit(tmp_path, "--config", str(ROOT / "recipes" / "dcgan-fmnist.yaml"), "--trainer.devices",
                              "2", "--model.init_args.width", "8", "--trainer.callbacks+", poison)
    assert code == 2, stderr[-2000:]
    assert "error: training diverged" in stderr and "another process" in stderr
