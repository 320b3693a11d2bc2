"""Training curves from a run's ``metrics.csv``: losses, D scores, gradient norms and FID against G iterations.

    zoo plot runs/dcgan-fmnist/version_0          # writes runs/dcgan-fmnist/version_0/curves.png

``ExportWeights`` draws the same figure at the end of every ``zoo fit``. Reads the columns the engine logs
(``loss/*``, ``d/*_score``, ``grad_norm/*``, ``fid/*``, ``g_iters``); a panel whose columns are absent is left out.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from .errors import InvalidArgumentError
from .serialization import atomic_write_bytes

CURVES_FILE = "curves.png"
#: Panel title -> the column prefixes it draws.
PANELS = {
    "losses": ("loss/d", "loss/g"),
    "D(x) and D(G(z)) (raw scores)": ("d/real_score", "d/fake_score"),
    "gradient norms": ("grad_norm/",),
    "FID (in training)": ("fid/",),
}


def read_metrics(path: Path) -> dict[str, list[tuple[float, float]]]:
    """``{column: [(g_iter, value), ...]}`` for every numeric column, rows without a value skipped."""
    series: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            x = _number(row.get("g_iters"))
            x = _number(row.get("step")) if x is None else x
            if x is None:
                continue
            for key, value in row.items():
                y = _number(value)
                if y is not None and key not in ("g_iters", "step", "epoch"):
                    series.setdefault(key, []).append((x, y))
    return series


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def plot_curves(run: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Draw ``curves.png`` for a run folder (or a ``metrics.csv``); returns the written path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    path = Path(run)
    csv_path = path / "metrics.csv" if path.is_dir() else path
    if not csv_path.is_file():
        raise InvalidArgumentError(f"{path} has no metrics.csv: give a run folder (runs/NAME/version_N) that "
                                   f"Lightning's CSVLogger wrote")
    series = read_metrics(csv_path)
    panels = [(title, sorted(k for k in series if k.startswith(prefixes))) for title, prefixes in PANELS.items()]
    panels = [(title, keys) for title, keys in panels if keys]
    if not panels:
        raise InvalidArgumentError(f"{csv_path} has none of the columns a zoo run logs (loss/d, loss/g, ...)")
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), sharex=True, squeeze=False)
    for ax, (title, keys) in zip(axes[:, 0], panels):
        for key in keys:
            xs, ys = zip(*series[key])
            ax.plot(xs, ys, label=key, marker="o" if len(xs) < 30 else None, linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("generator iterations")
    fig.suptitle(str(csv_path.parent), fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    target = Path(out) if out else csv_path.parent / CURVES_FILE
    atomic_write_bytes(target, buffer.getvalue())
    return target
