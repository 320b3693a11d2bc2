"""benchmarks/speed.py runs as users run it (a quick training section) and writes what SPEED.md reads."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quick_training_section_writes_every_family(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "speed.py"), "--quick", "--only", "training",
                             "--training-rounds", "2", "--threads", "1", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["training_rounds"] == 2 and report["rounds"] == 1
    rows = report["training"]
    assert list(rows) == ["gan", "dcgan", "lsgan", "wgan", "wgan-gp", "sngan", "biggan"]
    for name, row in rows.items():
        assert row["rounds"] == 2 and len(row["ratios_per_round"]) == 2, name
        assert row["lightning_ms"] > 0 and row["hand_ms"] > 0
        assert row["target"] == (0.95 if name == "gan" else 0.97)
        assert isinstance(row["met"], bool) and row["ratio_hand_over_lightning"] > 0
    text = (tmp_path / "SPEED.md").read_text()
    assert "median of the per-round ratios of 2 alternating rounds" in text
    seconds = report["section_seconds"]
    assert list(seconds) == ["training"] and 0 < seconds["training"] <= report["seconds"]
    assert f" (training {seconds['training']:.0f} s): " in text
