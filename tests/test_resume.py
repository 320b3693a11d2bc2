"""Exact resume (zoo.checkpointing): a run killed and resumed from its last checkpoint ends identical to an
uninterrupted one: G, D, G_ema, both optimizers, counters and the torch/numpy/python RNG states."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from zoo.checkpointing import AtomicCheckpointIO

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240

# WGAN-GP with n_critic 2 (so a checkpoint can fall between the D updates of one G iteration) and 5-batch epochs
# (so the resumed runs cross epoch boundaries); 7 generator iterations = 14 batches.
MODEL = {"class_path": "zoo.families.wgan_gp.WGANGP",
         "init_args": {"latent_dim": 16, "width": 8, "max_g_iters": 7, "n_critic": 2, "sample_every": 0}}


def run(tmp_path: Path, name: str, every: int, *extra: str, signal_at: tuple[int, str] | None = None):
    callbacks = [{"class_path": "zoo.checkpointing.GIterCheckpoint",
                  "init_args": {"every_n_g_iters": every, "dirpath": str(tmp_path / name)}}]
    if signal_at:
        callbacks.append({"class_path": "subprocess_callbacks.SignalAt",
                          "init_args": {"g_iter": signal_at[0], "signal_name": signal_at[1]}})
    config = {"seed_everything": 0,
              "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": -1, "limit_train_batches": 5,
                          "logger": False, "enable_progress_bar": False, "enable_model_summary": False,
                          "callbacks": callbacks},
              "model": MODEL, "data": {"class_path": "zoo.data.FashionMNIST", "init_args": {"batch_size": 16}}}
    path = tmp_path / f"{name}-{len(list(tmp_path.glob(name + '-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "zoo", "fit", "--config", str(path), *extra], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)


def assert_identical(a, b, path="checkpoint"):
    if torch.is_tensor(a):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_identical(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def final_state(ckpt: Path) -> dict:
    c = torch.load(ckpt, weights_only=True)
    (callback,) = c["callbacks"].values()
    return {"state_dict": c["state_dict"], "optimizers": c["optimizer_states"], "counters": c["gan_counters"],
            "global_step": c["global_step"], "rng": callback["rng"]}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uninterrupted")
    result = run(tmp, "ref", 3)
    assert result.returncode == 0, result.stderr[-3000:]
    return final_state(tmp / "ref" / "last.ckpt")


@pytest.mark.parametrize("signal_name, every, at, saved_at", [
    ("SIGKILL", 3, 5, 3),   # killed mid-epoch after G iteration 5: the last checkpoint is from iteration 3
    ("SIGTERM", 2, 5, 5),   # SIGTERM after iteration 5 (the end of an epoch): Lightning stops, a checkpoint is saved
])
def test_killed_and_resumed_run_equals_the_uninterrupted_run(tmp_path, uninterrupted, signal_name, every, at,
                                                             saved_at):
    killed = run(tmp_path, "run", every, signal_at=(at, signal_name))
    if signal_name == "SIGKILL":
        assert killed.returncode == -signal.SIGKILL
    else:
        assert killed.returncode == 0, killed.stderr[-3000:]
    last = tmp_path / "run" / "last.ckpt"
    assert torch.load(last, weights_only=True)["gan_counters"]["g_iters"] == saved_at
    assert not list((tmp_path / "run").glob(".*.tmp"))
    resumed = run(tmp_path, "run", every, "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = final_state(last)
    assert state["counters"] == {"d_iters": 14, "g_iters": 7} and state["global_step"] == 21
    assert_identical(state, uninterrupted)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": torch.tensor(1)}, path)

    def crash(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"].item() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def fit_named(tmp_path: Path, name: str, g_iters: int, *extra: str):
    """A tiny DCGAN run logged by CSVLogger under runs/<name>/version_N, checkpoints in the run's own folder."""
    config = {"seed_everything": 0,
              "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": -1, "limit_train_batches": 5,
                          "enable_progress_bar": False, "enable_model_summary": False,
                          "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                                     "init_args": {"save_dir": "runs", "name": "recipe"}},
                          "callbacks": [{"class_path": "zoo.checkpointing.GIterCheckpoint",
                                         "init_args": {"every_n_g_iters": 2}}]},
              "model": {"class_path": "zoo.families.dcgan.DCGAN",
                        "init_args": {"latent_dim": 8, "width": 4, "max_g_iters": g_iters, "sample_every": 0}},
              "data": {"class_path": "zoo.data.FashionMNIST", "init_args": {"batch_size": 8}}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "zoo", "fit", "--config", str(path),
                           "--trainer.logger.init_args.name", name, *extra], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def g_iters_of(path: Path) -> int:
    return torch.load(path, weights_only=True)["gan_counters"]["g_iters"]


def test_runs_own_their_checkpoints_and_last_resumes_the_named_run(tmp_path):
    assert fit_named(tmp_path, "original", 2).returncode == 0
    renamed = fit_named(tmp_path, "my-run", 3)
    assert renamed.returncode == 0, renamed.stderr[-2000:]
    original = tmp_path / "runs/original/version_0/checkpoints"
    assert [p.name for p in original.iterdir()] == ["last.ckpt"] and g_iters_of(original / "last.ckpt") == 2
    assert g_iters_of(tmp_path / "runs/my-run/version_0/checkpoints/last.ckpt") == 3

    resumed = fit_named(tmp_path, "original", 4, "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming runs/original/version_0/checkpoints/last.ckpt" in resumed.stderr
    assert g_iters_of(original / "last.ckpt") == 4  # continued in the same folder, from iteration 2
    assert not (tmp_path / "runs/original/version_1").exists()
    assert g_iters_of(tmp_path / "runs/my-run/version_0/checkpoints/last.ckpt") == 3  # untouched


def test_last_without_a_checkpoint_is_a_one_line_error(tmp_path):
    result = fit_named(tmp_path, "never-ran", 2, "--ckpt_path", "last")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: --ckpt_path last: no checkpoint of run runs/never-ran")
