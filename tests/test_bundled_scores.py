"""Every bundled Fashion-MNIST model carries a leaderboard score of its current weights (written by `zoo leaderboard`)
that meets the thresholds of ../shared/FAMILIES.md: FID <= 5.0, 10/10 classes, KL(class || uniform) <= 0.05, a FID
below the baseline row's; class-conditional models also a label accuracy >= 0.85. Nothing here measures anything:
it checks that the index says what the README claims, for the weights that ship."""

import json

import pytest

from zoo.leaderboard import BENCHMARKS_DIR
from zoo.registry import WEIGHTS_DIR, read_index

PROTOCOL = {"extractor": "fmnist-cnn", "n_generated": 10_000, "seed": 0}
BASELINE = BENCHMARKS_DIR / "baseline-dcgan" / "scores.json"
BUNDLED = sorted(name for name, entry in read_index().items()
                 if entry.get("dataset") == "fashion-mnist" and (entry.get("weights") or {}).get("bundled")
                 and (WEIGHTS_DIR / entry["weights"]["bundled"]).is_dir())


def leaderboard_score(entry: dict) -> dict | None:
    """The entry's score under the leaderboard protocol, measured on the weights it pins now."""
    for score in entry.get("scores", []):
        protocol = score.get("protocol") or {}
        if all(protocol.get(k) == v for k, v in PROTOCOL.items()) and \
                protocol.get("weights_sha256") == entry["weights"]["sha256"]:
            return score
    return None


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_fmnist_model_meets_the_thresholds(name):
    entry = read_index()[name]
    score = leaderboard_score(entry)
    assert score is not None, f"{name} has no leaderboard score of its current weights: run zoo leaderboard"
    fid, coverage = score["metrics"]["fid"], score["coverage"]
    baseline = json.loads(BASELINE.read_text())["metrics"]["fid"]
    assert fid <= 5.0 and fid < baseline, f"{name}: FID {fid} (baseline {baseline:.3f})"
    assert coverage["classes_covered"] == 10 and coverage["kl_uniform"] <= 0.05, f"{name}: {coverage}"
    if entry.get("num_classes"):
        assert coverage["label_accuracy"] >= 0.85, f"{name}: label accuracy {coverage['label_accuracy']}"


def test_the_check_covers_the_bundled_models():
    assert len(BUNDLED) >= 20 and "sngan-fmnist" in BUNDLED and "biggan-fmnist" in BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_ships_its_sample_grid(name):
    # FAMILIES.md's weights folder holds grid.png, and LEADERBOARD.md links it: in a clone, not only where it was
    # bundled (a root-level ignore rule once kept 14 of them out of git)
    assert (WEIGHTS_DIR / read_index()[name]["weights"]["bundled"] / "grid.png").is_file()
