"""The zoo command: list, info, sample, fit (LightningCLI), and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

import zoo
from zoo.cli import main
from zoo.nets.dcgan import DCGANGenerator
from zoo.serialization import save_weights

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path):
    generator = DCGANGenerator(latent_dim=8, width=4).eval()
    save_weights(tmp_path / "w", generator)
    return tmp_path / "w"


def test_sample_writes_a_grid(folder, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", str(folder), "--n", "10", "--seed", "1", "--nrow", "5", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    width, height = Image.open(out).size
    assert (width, height) == (5 * 30 + 2, 2 * 30 + 2)  # 28px images with 2px padding


def test_sample_in_small_batches_and_bf16(folder, tmp_path, capsys, monkeypatch):
    """--batch-size changes nothing in the images; --bf16 runs (where allowed) and is refused in one line where
    the CPU has no native bf16."""
    import zoo.machine

    whole, chunked = tmp_path / "whole.npz", tmp_path / "chunked.npz"
    assert main(["sample", str(folder), "--n", "10", "--format", "npz", "--out", str(whole)]) == 0
    assert main(["sample", str(folder), "--n", "10", "--batch-size", "3", "--format", "npz", "--out",
                 str(chunked)]) == 0
    import numpy as np

    a, b = np.load(whole)["images"].astype(int), np.load(chunked)["images"].astype(int)
    assert a.shape == b.shape == (10, 28, 28, 1) and np.abs(a - b).max() <= 1  # float rounding may move one level
    monkeypatch.setattr(zoo.machine, "native_bf16", lambda: None)
    capsys.readouterr()
    assert main(["sample", str(folder), "--n", "4", "--bf16", "--out", str(tmp_path / "b.png")]) == 2
    assert "native bf16" in capsys.readouterr().err
    monkeypatch.setattr(zoo.machine, "native_bf16", lambda: "amx")
    assert main(["sample", str(folder), "--n", "4", "--bf16", "--out", str(tmp_path / "b.png")]) == 0


@pytest.mark.parametrize("args, message", [
    (["sample", "dcgan-fmnsit"], "unknown model 'dcgan-fmnsit': did you mean dcgan-fmnist"),
    (["info", "nothing-like-it"], "list the models with `zoo list`"),
    (["sample", "{folder}", "--n", "0"], "--n must be a positive number of images, got 0"),
    (["sample", "{folder}", "--labels", "3"], "is unconditional: sample it without --labels"),
    (["sample", "{folder}", "--truncation", "0.5"], "has no truncation rule: sample it without truncation "
                                                   "(--truncation on the command line)"),
    (["sample", "{folder}", "--out", "/nonexistent_dir/x.png"], "the folder /nonexistent_dir does not exist"),
    (["sample", "biggan-fmnist", "--labels", "Sneeker"], "unknown class name 'Sneeker': did you mean 'Sneaker'?"),
    (["sample", "biggan-fmnist", "--labels", "12"], "label 12 is out of range: use 0..9 or a class name"),
    (["sample", "./no-such-run"], "no such folder: no-such-run"),
    (["sample", "hf://org/repo@../x"], "is not a revision"),
])
def test_errors_are_one_line_with_exit_code_2(folder, capsys, args, message):
    assert main([a.format(folder=folder) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_an_error_from_the_shell_has_no_traceback(tmp_path):
    result = run_zoo("sample", "dcgan-fmnist", "--out", "/nonexistent_dir/x.png", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --out /nonexistent_dir/x.png: the folder /nonexistent_dir does not exist; create it first"]


def test_list_and_info(capsys):
    assert main(["list", "*-fmnist"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["name", "family", "dataset", "res", "classes", "FID", "weights"]
    rows = [line.split() for line in out.splitlines()[1:] if line.endswith("bundled")]
    assert {row[0] for row in rows} == {n for n in zoo.list_models("*-fmnist")}
    dcgan = next(row for row in rows if row[0] == "dcgan-fmnist")
    assert dcgan[5] == f"{zoo.info('dcgan-fmnist')['scores'][0]['metrics']['fid']:.2f}"
    assert main(["list", "biggan-*", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["biggan-128"]["weights"] == "converted" and listed["biggan-fmnist"]["weights"] == "bundled"
    assert main(["info", "biggan-fmnist"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("biggan-fmnist: biggan on fashion-mnist, 32x32")
    assert "classes:  10 (conditional: T-shirt" in out
    assert "protocol: fmnist-cnn features, 10000 samples, seed 0" in out
    training = zoo.info("biggan-fmnist")["training"]
    assert f"training: {training['g_iters']:,} G iterations" in out and f"{training['threads']} CPU threads)" in out
    gpu_trained = next(n for n in zoo.list_models(pretrained=True) if (zoo.info(n).get("training") or {}).get("gpu"))
    assert main(["info", gpu_trained]) == 0  # a run on a shared GPU says so, not "1 threads"
    training = zoo.info(gpu_trained)["training"]
    assert f"({training['precision']}, {training['gpu']} shared by {training['concurrent_runs']} runs)" in \
        capsys.readouterr().out
    assert main(["info", "biggan-fmnist", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "biggan-fmnist"


def test_sample_labels_cycle_and_conditional_grids_have_one_row_per_class(tmp_path, capsys):
    import numpy as np

    out = tmp_path / "s.npz"
    assert main(["sample", "biggan-fmnist", "--n", "5", "--labels", "Sneaker", "Bag", "--format", "npz",
                 "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as arrays:
        assert arrays["labels"].tolist() == [7, 8, 7, 8, 7] and arrays["images"].shape == (5, 32, 32, 1)
        assert arrays["images"].dtype == np.uint8
    assert main(["sample", "biggan-fmnist", "--nrow", "3", "--format", "npz", "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as arrays:  # no labels: one row of 3 per class, in class order
        assert arrays["labels"].tolist() == [c for c in range(10) for _ in range(3)]
    assert main(["sample", "dcgan-fmnist", "--n", "3", "--out", str(tmp_path / "g.png"),
                 "--out-dir", str(tmp_path / "each")]) == 0
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    assert Image.open(tmp_path / "each" / "00000.png").size == (28, 28)


def test_sample_interpolate_writes_a_strip(tmp_path, capsys):
    assert main(["sample", "dcgan-fmnist", "--interpolate", "6", "--out", str(tmp_path / "strip.png")]) == 0
    assert Image.open(tmp_path / "strip.png").size == (6 * 30 + 2, 30 + 2)
    assert "6-step slerp" in capsys.readouterr().out


def run_zoo(*args, cwd):
    return subprocess.run([sys.executable, "-m", "zoo", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_fit_print_config_shows_the_recipe(tmp_path):
    result = run_zoo("fit", "--config", str(REPO / "recipes" / "dcgan-fmnist.yaml"), "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    recipe = yaml.safe_load((REPO / "recipes" / "dcgan-fmnist.yaml").read_text())
    assert "class_path: zoo.families.dcgan.DCGAN" in result.stdout
    assert f"max_g_iters: {recipe['model']['init_args']['max_g_iters']}" in result.stdout


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_fit_a_recipe_with_overrides_and_load_its_export(tmp_path):
    result = run_zoo(
        "fit", "--config", str(REPO / "recipes" / "wgan-gp-fmnist.yaml"),
        "--model.init_args.width", "4", "--model.init_args.max_g_iters", "3", "--model.init_args.sample_every", "2",
        "--data.init_args.batch_size", "8", "--trainer.enable_progress_bar", "false",
        "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "runs" / "wgan-gp-fmnist" / "version_0"
    assert (run / "samples" / "g_iter_0000002.png").is_file() and (run / "samples" / "g_iter_0000003.png").is_file()
    training = json.loads((run / "weights" / "training.json").read_text())
    assert training["g_iters"] == 3 and training["d_iters"] == 15 and training["global_step"] == 18
    import zoo

    x = zoo.load(run / "weights").sample(4, seed=0)
    assert x.shape == (4, 1, 28, 28) and torch.isfinite(x).all()
    metrics = (run / "metrics.csv").read_text().splitlines()[0]
    assert "loss/d" in metrics and "grad_norm/g" in metrics


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_fit_takes_any_loss_and_regularizer_from_the_command_line(tmp_path):
    result = run_zoo(
        "fit", "--config", str(REPO / "recipes" / "dcgan-fmnist.yaml"), "--model.init_args.width", "4",
        "--model.init_args.max_g_iters", "3", "--model.init_args.loss", "ralsgan",
        "--model.init_args.regularizers", '[{"class_path": "zoo.regularizers.R2", "init_args": {"gamma": 1}}]',
        "--data.init_args.batch_size", "8", "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar",
        "false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = (tmp_path / "runs" / "dcgan-fmnist" / "version_0" / "metrics.csv").read_text().splitlines()
    assert "reg/R2" in metrics[0] and len(metrics) > 3


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_fit_with_the_training_trick_switches(tmp_path):
    result = run_zoo(
        "fit", "--config", str(REPO / "recipes" / "dcgan-fmnist.yaml"), "--model.init_args.width", "4",
        "--model.init_args.max_g_iters", "3", "--model.init_args.pack", "2", "--model.init_args.label_smoothing", "0.1",
        "--model.init_args.label_flip", "0.05", "--model.init_args.instance_noise", "0.1",
        "--model.init_args.g_dropout", "0.2", "--data.init_args.batch_size", "8", "--trainer.enable_progress_bar",
        "false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = tmp_path / "runs" / "dcgan-fmnist" / "version_0" / "weights"
    assert json.loads((weights / "config.json").read_text())["dropout"] == 0.2
    import zoo

    G = zoo.load(weights)
    assert torch.equal(G.sample(2, seed=0), G.sample(2, seed=0))  # dropout is off when sampling


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_fit_progress_counts_generator_iterations_and_ends_with_the_paths(tmp_path):
    result = run_zoo("fit", "--config", str(REPO / "recipes" / "dcgan-fmnist.yaml"), "--model.init_args.width",
                     "4", "--model.init_args.max_g_iters", "50", "--trainer.log_every_n_steps", "10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    bar = result.stdout.replace("\r", "\n")  # Lightning's bars write to stdout
    assert "G iterations: 100%" in bar and "50/50" in bar and "loss_d=" in bar  # 50 G iterations = 100 steps
    run = "runs/dcgan-fmnist/version_0"
    assert f"weights: {run}/weights   (zoo sample {run}/weights --out grid.png)" in result.stdout
    assert f"curves: {run}/curves.png" in result.stdout
    assert f"checkpoint: {run}/checkpoints/last.ckpt" in result.stdout
    assert (tmp_path / run / "checkpoints" / "last.ckpt").is_file()
    with Image.open(tmp_path / run / "curves.png") as curves:
        assert curves.size[0] >= 600
    assert main(["plot", str(tmp_path / run), "--out", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_fit_logs_to_tensorboard_when_the_recipe_chooses_it(tmp_path):
    result = run_zoo("fit", "--config", str(REPO / "recipes" / "dcgan-fmnist.yaml"), "--model.init_args.width", "4",
                     "--model.init_args.max_g_iters", "10", "--trainer.log_every_n_steps", "5",
                     "--trainer.logger.class_path", "lightning.pytorch.loggers.TensorBoardLogger",
                     "--trainer.logger.init_args.save_dir", "tb", "--trainer.enable_progress_bar", "false",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb" / "dcgan-fmnist" / "version_0")).Reload()
    assert {"loss/d", "loss/g"} <= set(events.Tags()["scalars"])
    assert (tmp_path / "tb" / "dcgan-fmnist" / "version_0" / "weights" / "model.safetensors").is_file()


def test_gallery_is_regenerated_by_one_command(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gallery.py"), "--models", "*gan-fmnist",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    text = (tmp_path / "GALLERY.md").read_text()
    assert "## dcgan-fmnist" in text and "![biggan-fmnist truncation](gallery/biggan-fmnist-truncation.png)" in text
    with Image.open(tmp_path / "gallery" / "biggan-fmnist.png") as grid:  # 10 classes x 8, 34px cells at 3x
        assert grid.size == (3 * (8 * 34 + 2), 3 * (10 * 34 + 2))
    with Image.open(tmp_path / "gallery" / "dcgan-fmnist.png") as grid:
        assert grid.size == (3 * (8 * 30 + 2), 3 * (8 * 30 + 2))
