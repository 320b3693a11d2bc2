"""Data-parallel training (zoo.distributed): 2 CPU processes (gloo) equal 1 process with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from zoo.checkpointing import ResumableSampler
from zoo.distributed import STRATEGY_NAME, GANDDPStrategy
from zoo.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240


def write_config(tmp_path: Path, model: dict, batch_size: int, devices: int, dirpath: str, extra_callbacks=()) -> Path:
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": devices, "strategy": STRATEGY_NAME, "max_epochs": -1,
                    "logger": False, "enable_progress_bar": False, "enable_model_summary": False,
                    "callbacks": [{"class_path": "zoo.checkpointing.GIterCheckpoint",
                                   "init_args": {"every_n_g_iters": 100, "dirpath": str(tmp_path / dirpath)}},
                                  *extra_callbacks]},
        "model": model,
        "data": {"class_path": "zoo.data.FashionMNIST", "init_args": {"batch_size": batch_size}},
    }
    path = tmp_path / f"{dirpath}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def fit(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "OMP_NUM_THREADS": "1",
           "PL_DISABLE_FORK": "1"}
    result = subprocess.run([sys.executable, "-m", "zoo", "fit", "--config", str(config), *args], cwd=config.parent,
                            env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def max_diff(a: dict, b: dict, prefix: str) -> float:
    keys = [k for k in a if k.startswith(prefix)]
    assert keys and all(k in b for k in keys)
    return max((a[k].double() - b[k].double()).abs().max().item() for k in keys)


DCGAN = {"class_path": "zoo.families.dcgan.DCGAN",
         "init_args": {"latent_dim": 16, "width": 8, "max_g_iters": 4, "sample_every": 0}}


def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    """BatchNorm in G and D (synchronised), D run twice per step, EMA: G, D, G_ema and Adam states to 1e-5."""
    dump_one = {"class_path": "subprocess_callbacks.DumpState", "init_args": {"folder": str(tmp_path / "one_rank")}}
    fit(write_config(tmp_path, DCGAN, batch_size=16, devices=1, dirpath="one", extra_callbacks=[dump_one]),
        "--trainer.sync_batchnorm", "true")
    dump = {"class_path": "subprocess_callbacks.DumpState", "init_args": {"folder": str(tmp_path / "ranks")}}
    fit(write_config(tmp_path, DCGAN, batch_size=8, devices=2, dirpath="two", extra_callbacks=[dump]),
        "--trainer.sync_batchnorm", "true")
    one = torch.load(tmp_path / "one" / "last.ckpt", weights_only=True)
    two = torch.load(tmp_path / "two" / "last.ckpt", weights_only=True)
    assert one["gan_counters"] == two["gan_counters"] == {"d_iters": 4, "g_iters": 4}
    for net in ("G.", "D.", "G_ema."):
        assert max_diff(one["state_dict"], two["state_dict"], net) < 1e-5, net
    # G moved far more than the tolerance in 4 steps (G_ema, decay 0.999, stayed near the initial weights)
    g = {k[2:]: v for k, v in two["state_dict"].items() if k.startswith("G.")}
    g_ema = {k[6:]: v for k, v in two["state_dict"].items() if k.startswith("G_ema.")}
    assert max_diff(g, g_ema, "") > 1e-4
    for opt_one, opt_two in zip(one["optimizer_states"], two["optimizer_states"]):
        for s1, s2 in zip(opt_one["state"].values(), opt_two["state"].values()):
            assert torch.allclose(s1["exp_avg"], s2["exp_avg"], atol=1e-5)
            assert torch.allclose(s1["exp_avg_sq"], s2["exp_avg_sq"], atol=1e-6)
    rank0, rank1 = (torch.load(tmp_path / "ranks" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "ranks disagree"
    # gan_ddp needs none of Lightning's backward / optimizer-step wrapping, on one process or two
    assert rank0["bare_steps"] and torch.load(tmp_path / "one_rank" / "rank0.pt", weights_only=True)["bare_steps"]


def test_gradient_penalty_accumulation_bf16_and_unsynchronised_batchnorm_under_ddp(tmp_path):
    """WGAN-GP (double backward through the DDP-wrapped D), 2 micro-batches, bf16-mixed, n_critic 2; G's BatchNorm
    statistics are averaged, so G and G_ema are identical on both ranks."""
    model = {"class_path": "zoo.families.wgan_gp.WGANGP",
             "init_args": {"latent_dim": 16, "width": 8, "max_g_iters": 2, "n_critic": 2, "sample_every": 0,
                           "grad_accum": 2}}
    dump = {"class_path": "subprocess_callbacks.DumpState", "init_args": {"folder": str(tmp_path / "ranks")}}
    fit(write_config(tmp_path, model, batch_size=8, devices=2, dirpath="gp", extra_callbacks=[dump]),
        "--trainer.precision", "bf16-mixed")
    rank0, rank1 = (torch.load(tmp_path / "ranks" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "ranks disagree"
    ckpt = torch.load(tmp_path / "gp" / "last.ckpt", weights_only=True)
    assert ckpt["gan_counters"] == {"d_iters": 4, "g_iters": 2}


def test_unsynchronised_batchnorm_statistics_of_every_trained_network_agree_across_ranks(tmp_path):
    """TripleGAN trains a third network, the classifier C, in G's step: its BatchNorm statistics (and D's) are
    averaged with G's, so every rank holds, and rank 0 exports, the same C."""
    model = {"class_path": "zoo.families.triplegan.TripleGAN",
             "init_args": {"latent_dim": 8, "width": 4, "classifier_width": 4, "semi_supervised_labels": 10,
                           "max_g_iters": 2, "sample_every": 0, "classifier_pretrain_steps": 3,
                           "classifier_pairs": "expected"}}
    dump = {"class_path": "subprocess_callbacks.DumpState", "init_args": {"folder": str(tmp_path / "ranks")}}
    fit(write_config(tmp_path, model, batch_size=8, devices=2, dirpath="triple", extra_callbacks=[dump]))
    rank0, rank1 = (torch.load(tmp_path / "ranks" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    c_stats = [k for k in rank0 if k.startswith("C.") and k.endswith("running_mean")]
    assert c_stats and any(rank0[k].abs().max() > 0 for k in c_stats)  # C's statistics moved
    differ = [k for k in rank0 if not torch.equal(rank0[k], rank1[k])]
    assert not differ, differ


def test_strategy_is_registered_and_refuses_the_unused_parameter_search():
    from lightning.pytorch.strategies import StrategyRegistry

    assert StrategyRegistry[STRATEGY_NAME]["strategy"] is GANDDPStrategy
    with pytest.raises(InvalidArgumentError, match="find_unused_parameters"):
        GANDDPStrategy(find_unused_parameters=True)
    with pytest.raises(InvalidArgumentError, match="110363"):
        GANDDPStrategy(broadcast_buffers=True)


class _Rank(ResumableSampler):
    def __init__(self, data, rank, world, seed=3):
        super().__init__(data, seed=seed)
        self._r, self._w = rank, world

    @property
    def rank(self):
        return self._r

    @property
    def num_replicas(self):
        return self._w


def test_ranks_see_the_global_batches_of_one_process():
    data, batch = list(range(103)), 4
    one = list(_Rank(data, 0, 1))
    ranks = [list(_Rank(data, r, 2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 51 and sorted(one) == data
    for i in range(len(ranks[0]) // batch):
        global_batch = one[2 * batch * i: 2 * batch * (i + 1)]
        per_rank = ranks[0][batch * i: batch * (i + 1)] + ranks[1][batch * i: batch * (i + 1)]
        assert sorted(per_rank) == sorted(global_batch)
    sampler = _Rank(data, 1, 2)
    sampler.set_epoch(1)
    assert list(sampler) != ranks[1]  # a new order each epoch
    sampler.start = 8  # resume after 2 batches of 4
    assert list(sampler) == sampler.order(1)[:102][16:][1::2].tolist()
    assert list(sampler) == sampler.order(1)[:102][1::2].tolist()  # the skip applies to one pass only
