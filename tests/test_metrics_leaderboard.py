"""The leaderboard over a small stand-in zoo: JSON schema, Markdown, index scores, two identical runs; the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.utils import save_image

from zoo.cli import main
from zoo.images import image_grid
from zoo.leaderboard import SCHEMA_VERSION, run_leaderboard
from zoo.metrics.classifier import FashionMNISTNet, export_classifier
from zoo.metrics.protocol import check_protocol
from zoo.nets.dcgan import DCGANGenerator
from zoo.registry import read_index, write_index
from zoo.serialization import save_weights

ROW_KEYS = {"name", "kind", "family", "dataset", "resolution", "conditional", "grid", "metrics", "coverage", "protocol"}
METRICS = {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall"}


@pytest.fixture(autouse=True)
def _few_kid_subsets(monkeypatch):
    from zoo.metrics import fidelity

    monkeypatch.setattr(fidelity, "KID_SUBSETS", 10)


@pytest.fixture()
def tiny_zoo(tmp_path):
    """Two random tiny generators with grids, an index naming them, and a random-weight classifier."""
    index = {}
    for name, width in (("dcgan-a", 8), ("dcgan-b", 4)):
        torch.manual_seed(width)
        generator = DCGANGenerator(latent_dim=8, width=width).eval()
        sha = save_weights(tmp_path / "weights" / name, generator)
        save_image(image_grid(generator.sample(16, seed=0)), tmp_path / "weights" / name / "grid.png")
        index[name] = dict(family="dcgan", paper="Radford et al. 2015", dataset="fashion-mnist", resolution=28,
                           channels=1, latent_dim=8, weights={"bundled": name, "sha256": sha},
                           scores=[{"metrics": {"fid": 1.0}, "protocol": {"extractor": "other"}}])
    index["hub-only"] = dict(family="dcgan", paper="-", dataset="fashion-mnist", resolution=28, channels=1,
                             latent_dim=8, weights={"hub": {"repo_id": "x/y", "filename": "model.safetensors"}})
    write_index(index, tmp_path / "index.json")
    torch.manual_seed(0)
    export_classifier(FashionMNISTNet(width=8).eval(), tmp_path / "classifier", {})
    return tmp_path


def run(zoo, pattern="*", out="bench"):
    return run_leaderboard(pattern, extractor="fmnist-cnn", extractor_weights=zoo / "classifier", n_samples=200,
                           reference_count=500, out_dir=zoo / out, index_path=zoo / "index.json",
                           weights_dir=zoo / "weights", cache=zoo / "cache", progress=False, log=lambda *a: None,
                           baselines_dir=zoo / "baselines")


def test_leaderboard_writes_json_markdown_and_index_and_a_second_run_matches(tiny_zoo):
    run(tiny_zoo)
    document = json.loads((tiny_zoo / "bench" / "leaderboard.json").read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["extractor"]["name"] == "fmnist-cnn"
    rows = document["rows"]
    assert [r["kind"] for r in rows] == ["real", "model", "model"]  # the hub-only entry has no weights here
    for row in rows:
        assert set(row) == ROW_KEYS and set(row["metrics"]) == METRICS
        check_protocol(row["protocol"])
        assert row["protocol"]["n_generated"] == 200 and row["protocol"]["reference"]["count"] == 500
        assert sum(row["coverage"]["class_histogram"]) == 200
    models = rows[1:]
    assert models[0]["metrics"]["fid"] <= models[1]["metrics"]["fid"]  # sorted by FID
    assert {r["grid"] for r in models} == {"../weights/dcgan-a/grid.png", "../weights/dcgan-b/grid.png"}
    assert models[0]["protocol"]["weights_sha256"] == read_index(tiny_zoo / "index.json")[models[0]["name"]][
        "weights"]["sha256"]

    markdown = (tiny_zoo / "bench" / "LEADERBOARD.md").read_text()
    assert "## fashion-mnist" in markdown and "*real data (200 train images, 28px)*" in markdown
    assert '<a href="../weights/dcgan-a/grid.png"><img src="../weights/dcgan-a/grid.png"' in markdown
    assert f"{models[0]['metrics']['fid']:.3f}" in markdown

    index = read_index(tiny_zoo / "index.json")
    for name in ("dcgan-a", "dcgan-b"):
        scores = index[name]["scores"]
        assert len(scores) == 2 and scores[0]["protocol"] == {"extractor": "other"}  # other protocols are kept
        check_protocol(scores[1]["protocol"])
    assert "scores" not in index["hub-only"] or not index["hub-only"]["scores"]

    run(tiny_zoo, out="bench2")  # a second run: same numbers, and it replaces its own score instead of adding one
    again = json.loads((tiny_zoo / "bench2" / "leaderboard.json").read_text())
    strip = [{k: v for k, v in r.items() if k != "protocol"} for r in rows]
    assert strip == [{k: v for k, v in r.items() if k != "protocol"} for r in again["rows"]]
    assert [len(read_index(tiny_zoo / "index.json")[n]["scores"]) for n in ("dcgan-a", "dcgan-b")] == [2, 2]

    run(tiny_zoo, pattern="dcgan-b", out="bench3")  # --models filters
    assert [r["name"] for r in json.loads((tiny_zoo / "bench3" / "leaderboard.json").read_text())["rows"]
            if r["kind"] == "model"] == ["dcgan-b"]


def test_leaderboard_without_matching_weights_is_a_one_line_error(tiny_zoo, capsys):
    with pytest.raises(Exception, match="no zoo entry matching 'nothing\\*'"):
        run(tiny_zoo, pattern="nothing*")
    assert main(["leaderboard", "--models", "no-such-model-*", "--no-index", "--out", str(tiny_zoo)]) == 2
    assert capsys.readouterr().err.startswith("error: no zoo entry matching 'no-such-model-*'")
    assert main(["evaluate", "no-such-model"]) == 2
    assert main(["leaderboard", "--n-samples", "1"]) == 2
    assert "--n-samples must be >= 2" in capsys.readouterr().err


def test_one_28px_reference_per_dataset_and_the_baseline_row(tiny_zoo):
    """A 32px model is resized to the dataset's 28px reference; a baseline scored under the table's protocol gets a
    row (and the FID / baseline column), one scored under another protocol does not."""
    from zoo.metrics.fidelity import evaluate_generator

    torch.manual_seed(1)
    big = DCGANGenerator(latent_dim=8, width=4, img_size=32).eval()
    index = read_index(tiny_zoo / "index.json")
    index["dcgan-32"] = {**index["dcgan-a"], "resolution": 32,
                         "weights": {"bundled": "dcgan-32", "sha256": save_weights(tiny_zoo / "weights/dcgan-32", big)}}
    write_index(index, tiny_zoo / "index.json")
    for name, n in (("baseline-same", 200), ("baseline-other", 300)):
        torch.manual_seed(2)
        result = evaluate_generator(DCGANGenerator(latent_dim=8, width=4).eval(), dataset="fashion-mnist",
                                    extractor="fmnist-cnn", extractor_weights=tiny_zoo / "classifier", n_samples=n,
                                    reference_count=500, cache=tiny_zoo / "cache", progress=False)
        result["training"] = {"budget": "10 minutes", "iterations": 123}
        (tiny_zoo / "baselines" / name).mkdir(parents=True)
        (tiny_zoo / "baselines" / name / "scores.json").write_text(json.dumps(result))

    rows = run(tiny_zoo)["rows"]
    assert [r["kind"] for r in rows].count("real") == 1 and rows[0]["resolution"] == 28
    assert {r["protocol"]["reference"]["resolution"] for r in rows} == {28}
    (row32,) = [r for r in rows if r["name"] == "dcgan-32"]
    assert row32["resolution"] == 32 and "32px samples resized to 28px" in row32["protocol"]["sampling"]
    (baseline,) = [r for r in rows if r["kind"] == "baseline"]
    assert "123 iterations" in baseline["name"]
    markdown = (tiny_zoo / "bench" / "LEADERBOARD.md").read_text()
    model = next(r for r in rows if r["kind"] == "model")
    assert f"{model['metrics']['fid'] / baseline['metrics']['fid']:.2f}" in markdown
