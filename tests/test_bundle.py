"""``zoo bundle``: the index entry it writes for a run's weights folder."""

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

import zoo.bundle
import zoo.registry
from zoo.bundle import bundle

ROOT = Path(__file__).resolve().parents[1]


def test_bundle_takes_the_class_names_from_the_weights_config(tmp_path, monkeypatch):
    """A conditional model's class names come from its config.json (cgan-fmnist's index entry once lost them)."""
    source = tmp_path / "run" / "weights"
    shutil.copytree(ROOT / "zoo" / "weights" / "cgan-fmnist", source)
    monkeypatch.setattr(zoo.bundle, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(zoo.registry, "INDEX_FILE", tmp_path / "index.json")
    (tmp_path / "index.json").write_text("{}\n")
    names = json.loads((source / "config.json").read_text())["class_names"]

    entry = bundle("cgan-fmnist", source, ROOT / "recipes" / "cgan-fmnist.yaml", "fashion-mnist")
    assert entry["num_classes"] == 10 and entry["class_names"] == names
    assert json.loads((tmp_path / "index.json").read_text())["cgan-fmnist"]["class_names"] == names
    assert (tmp_path / "weights" / "cgan-fmnist" / "model.safetensors").is_file()

    given = [f"c{i}" for i in range(10)]  # an explicit list still wins
    assert bundle("cgan-fmnist", source, ROOT / "recipes" / "cgan-fmnist.yaml", "fashion-mnist",
                  class_names=given)["class_names"] == given


def test_bundle_writes_an_infogan_models_traversal_grids(tmp_path, monkeypatch):
    source = tmp_path / "run" / "weights"
    shutil.copytree(ROOT / "zoo" / "weights" / "infogan-fmnist", source)
    for grid in source.glob("traversal_c*.png"):
        grid.unlink()  # a run's weights folder has none
    monkeypatch.setattr(zoo.bundle, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(zoo.registry, "INDEX_FILE", tmp_path / "index.json")
    (tmp_path / "index.json").write_text("{}\n")

    bundle("infogan-fmnist", source, ROOT / "recipes" / "infogan-fmnist.yaml", "fashion-mnist")
    written = sorted(p.name for p in (tmp_path / "weights" / "infogan-fmnist").glob("traversal_c*.png"))
    assert written == ["traversal_c1.png", "traversal_c2.png"]  # one per continuous code
    for name in written:  # the shipped grids are what zoo bundle writes (up to another CPU's last-bit rounding)
        made = np.asarray(Image.open(tmp_path / "weights" / "infogan-fmnist" / name), dtype=np.float64)
        shipped = np.asarray(Image.open(ROOT / "zoo" / "weights" / "infogan-fmnist" / name), dtype=np.float64)
        assert made.shape == shipped.shape and np.abs(made - shipped).mean() < 0.5
