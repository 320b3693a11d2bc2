"""Mode counting of the mode-collapse benchmark (zoo.metrics.modes, zoo.data.mixtures) and benchmarks/modes.py."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zoo.data.mixtures import MixtureStream, grid, ring
from zoo.errors import InvalidArgumentError
from zoo.metrics.modes import mixture_coverage, stacked_coverage
from zoo.nets.mlp import MLPEncoder

REPO = Path(__file__).resolve().parents[1]


def test_ring_and_grid_centres():
    r = ring()
    assert r.centres.shape == (8, 2) and r.std == 0.02
    assert torch.allclose(r.centres.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(r.centres[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    g = grid()
    assert g.centres.shape == (25, 2) and g.std == 0.05
    assert sorted(set(g.centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_stream_is_seeded_and_inside_the_tanh_range():
    a, b = (next(iter(MixtureStream(ring(), 512, seed=3))) for _ in range(2))
    assert a.shape == (512, 2, 1, 1) and torch.equal(a, b)
    assert not torch.equal(a, next(iter(MixtureStream(ring(), 512, seed=4))))
    assert a.abs().max() < 1 and next(iter(MixtureStream(grid(), 512))).abs().max() < 1


def test_samples_at_three_centres_cover_three_modes_at_full_quality():
    centres = ring().centres
    samples = centres[[0, 3, 5]].repeat(100, 1)
    stats = mixture_coverage(samples, centres, std=0.02)
    assert stats["modes"] == 3 and stats["quality"] == 1.0 and stats["num_modes"] == 8
    assert stats["counts"] == [100, 0, 0, 100, 0, 100, 0, 0]


def test_samples_far_away_cover_nothing():
    stats = mixture_coverage(torch.full((50, 2), 10.0), ring().centres, std=0.02)
    assert stats["modes"] == 0 and stats["quality"] == 0.0


def test_the_one_percent_threshold_and_the_three_std_radius():
    centres = ring().centres
    far = torch.full((990, 2), 10.0)
    exactly = mixture_coverage(torch.cat([far, centres[:1].repeat(10, 1)]), centres, std=0.02)  # 10 of 1000
    assert exactly["modes"] == 1 and exactly["quality"] == pytest.approx(0.01)
    below = mixture_coverage(torch.cat([far, torch.full((1, 2), 10.0), centres[:1].repeat(9, 1)]), centres, std=0.02)
    assert below["modes"] == 0 and below["quality"] == pytest.approx(0.009)
    inside = centres[:1] + torch.tensor([[0.0, 2.9 * 0.02]])
    outside = centres[:1] + torch.tensor([[0.0, 3.1 * 0.02]])
    assert mixture_coverage(inside, centres, std=0.02)["quality"] == 1.0
    assert mixture_coverage(outside, centres, std=0.02)["quality"] == 0.0


def test_non_finite_samples_count_as_misses():
    centres = ring().centres
    samples = torch.cat([centres, torch.full((8, 2), float("nan"))])
    stats = mixture_coverage(samples, centres, std=0.02)
    assert stats["modes"] == 8 and stats["quality"] == 0.5


def test_stacked_modes_and_kl_by_hand():
    predictions = torch.tensor([[0, 0, 0], [0, 0, 0], [1, 2, 3]])
    stats = stacked_coverage(predictions)
    assert stats["modes"] == 2 and stats["num_modes"] == 1000
    p = torch.tensor([2 / 3, 1 / 3], dtype=torch.float64)
    assert stats["kl_uniform"] == pytest.approx(float((p * (p * 1000).log()).sum()))
    assert stacked_coverage(predictions, min_count=2)["modes"] == 1
    every = torch.cartesian_prod(*[torch.arange(10)] * 3)  # each of the 1000 modes once
    assert stacked_coverage(every)["modes"] == 1000 and stacked_coverage(every)["kl_uniform"] == pytest.approx(0)
    assert stacked_coverage(torch.zeros(5, 3, dtype=torch.long))["kl_uniform"] == pytest.approx(math.log(1000))


def test_bad_arguments_are_one_line_errors():
    centres = ring().centres
    with pytest.raises(InvalidArgumentError, match="samples must be"):
        mixture_coverage(torch.zeros(4, 3), centres, std=0.02)
    with pytest.raises(InvalidArgumentError, match="min_share"):
        mixture_coverage(torch.zeros(4, 2), centres, std=0.02, min_share=0)
    with pytest.raises(InvalidArgumentError, match="min_count"):
        stacked_coverage(torch.zeros(4, 3, dtype=torch.long), min_count=0)
    with pytest.raises(InvalidArgumentError, match="radius"):
        ring(radius=0)
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        MixtureStream(grid(), 0)


def test_mlp_encoder_codes_vectors():
    assert MLPEncoder(latent_dim=5, hidden=(7,), img_channels=2, img_size=1)(torch.randn(3, 2, 1, 1)).shape == (3, 5)


def test_quick_run_writes_both_tables(tmp_path):
    for extra in ([], ["--stacked"]):
        result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "modes.py"), "--quick", *extra,
                                 "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "MODES.md").read_text()
    assert "## 2-D Gaussian mixtures" in text and "## Stacked Fashion-MNIST (1000 modes)" in text
    assert "| gan-ns | GAN, non-saturating loss" in text and "| unrolled | " in text and "| modereg | " in text
    report = json.loads((tmp_path / "modes.json").read_text())
    runs = report["two_d"]["runs"]
    assert {r["family"] for r in runs} == set(report["two_d"]["config"]["families"])
    assert all(r["g_iters"] == 20 for r in runs) and {r["mixture"] for r in runs} == {"ring", "grid"}
    assert [r["family"] for r in report["stacked"]["runs"]] == ["dcgan", "pacgan", "unrolled", "modereg"]
    assert report["stacked"]["real_test_true_labels"]["modes"] > 150  # 200 random triplets of 1000 modes


def test_unknown_family_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "modes.py"), "--quick", "--families", "nope",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: unknown 2-D families")


def _modes_cli(*args, out):
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "modes.py"), "--quick", *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)


def test_update_reruns_some_rows_and_keeps_the_others(tmp_path):
    assert _modes_cli("--families", "gan-ns", "lsgan", out=tmp_path).returncode == 0
    before = json.loads((tmp_path / "modes.json").read_text())["two_d"]
    result = _modes_cli("--families", "lsgan", "--update", out=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((tmp_path / "modes.json").read_text())["two_d"]
    # the other family's runs and the part's own provenance are untouched; the rerun is listed beside it
    def rows(part, family=None):
        return sorted((r["family"], r["mixture"], r["seed"], r["modes"], r["seconds"]) for r in part["runs"]
                      if family in (None, r["family"]))

    assert rows(after, "gan-ns") == rows(before, "gan-ns") and len(rows(after)) == len(rows(before)) == 4
    assert after["commit"] == before["commit"] and after["command"] == before["command"]
    assert after["config"] == before["config"] and after["aggregate"].keys() == before["aggregate"].keys()
    assert [r["families"] for r in after["reruns"]] == [["lsgan"]]
    assert after["reruns"][0]["command"].endswith("--families lsgan --update --out " + str(tmp_path))
    assert "Rows rerun later: lsgan, command `python benchmarks/modes.py --quick --families lsgan --update" in (
        tmp_path / "MODES.md").read_text()
    # a rerun under another protocol, of a family without a row, or without --families is refused in one line
    for args, message in ((["--families", "lsgan", "--update", "--iters", "21"], "must keep the part's protocol"),
                          (["--families", "wgan", "--update"], "have none"),
                          (["--update"], "name them with --families")):
        result = _modes_cli(*args, out=tmp_path)
        assert result.returncode == 2 and message in result.stderr.strip().splitlines()[-1], result.stderr[-2000:]
        assert "[1/" not in result.stdout  # refused before any run trained, not after
    assert json.loads((tmp_path / "modes.json").read_text())["two_d"] == after  # nothing written by a refusal


def test_update_merges_by_hand():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import modes

    provenance = {"command": "c0", "date": "d0", "commit": "a", "cpu": "x", "seconds": 9.0}
    old = {**provenance, "config": {"iters": 5, "families": ["dcgan", "pacgan", "modereg"]},
           "runs": [{"family": "dcgan", "modes": 1}, {"family": "pacgan", "modes": 2},
                    {"family": "modereg", "modes": 3}]}
    new = {**provenance, "command": "c1", "commit": "b", "seconds": 2.0,
           "config": {"iters": 5, "families": ["modereg"]}, "runs": [{"family": "modereg", "modes": 30}]}
    merged = modes.merge_rerun(old, new, "stacked")
    assert [r["modes"] for r in merged["runs"]] == [1, 2, 30] and merged["commit"] == "a"
    assert merged["reruns"] == [{"families": ["modereg"], "command": "c1", "date": "d0", "commit": "b", "cpu": "x",
                                 "seconds": 2.0}]
    with pytest.raises(InvalidArgumentError, match="iters differ"):
        modes.merge_rerun(old, {**new, "config": {"iters": 6, "families": ["modereg"]}}, "stacked")
    with pytest.raises(InvalidArgumentError, match="has none"):
        modes.merge_rerun(None, new, "stacked")
