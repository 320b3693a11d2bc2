"""The zoo command: list, info, sample, fit (LightningCLI), and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

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


def test_errors_are_one_line_with_exit_code_2(folder, capsys):
    assert main(["sample", "dcgan-fmnsit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'dcgan-fmnsit'") and err.count("\n") == 1
    assert main(["sample", str(folder), "--n", "0"]) == 2
    assert "n must be a positive integer" in capsys.readouterr().err
    assert main(["sample", str(folder), "--labels", "3"]) == 2
    assert "unconditional" in capsys.readouterr().err


def test_list_and_info(capsys):
    assert main(["list", "*-fmnist"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["name", "family", "dataset"]
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert all(name.endswith("-fmnist") for name in names)
    if names:
        assert main(["info", names[0]]) == 0
        assert json.loads(capsys.readouterr().out)["name"] == names[0]


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
def test_fit_progress_counts_generator_iterations_and_ends_with_the_paths(tmp_path):
    result = run_zoo("fit", "--config", str(REPO / "recipes" / "wgan-gp-fmnist.yaml"), "--model.init_args.width",
                     "4", "--model.init_args.max_g_iters", "6", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    bar = result.stdout.replace("\r", "\n")  # Lightning's bars write to stdout
    assert "G iterations: 100%" in bar and "6/6" in bar and "loss_d=" in bar  # 6 G iterations = 36 batches
    run = "runs/wgan-gp-fmnist/version_0"
    assert f"weights: {run}/weights   (zoo sample {run}/weights --out grid.png)" in result.stdout
    assert f"checkpoint: {run}/checkpoints/last.ckpt" in result.stdout
    assert (tmp_path / run / "checkpoints" / "last.ckpt").is_file()
