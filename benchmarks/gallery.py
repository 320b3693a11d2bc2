"""Regenerate benchmarks/GALLERY.md: every bundled model's samples at one seed, side by side.

    python benchmarks/gallery.py            # writes benchmarks/GALLERY.md and benchmarks/gallery/*.png

Unconditional models: an 8x8 grid of seed 0. Conditional models: one row of 8 per class, in class order. Models with
a truncation rule (BigGAN): one row per truncation value, the same latents' seed on every row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torchvision.utils import save_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import zoo  # noqa: E402
from zoo.images import image_grid  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 0
TRUNCATIONS = (None, 1.5, 1.0, 0.5)
SCALE = 3  # each sample drawn at 3x its size, so that 28px images are visible


def write_grid(images: torch.Tensor, path: Path, nrow: int) -> None:
    grid = image_grid(images, nrow=nrow)
    grid = torch.nn.functional.interpolate(grid[None], scale_factor=SCALE, mode="nearest")[0]
    save_image(grid, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="*", help="shell wildcard over zoo names (default: every bundled one)")
    parser.add_argument("--out", default=str(HERE), help="folder for GALLERY.md and gallery/ (default benchmarks/)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    (out / "gallery").mkdir(parents=True, exist_ok=True)
    lines = ["# Gallery", "",
             "Every bundled model at seed 0 (G_ema), drawn at 3x. Regenerate with `python benchmarks/gallery.py`; "
             "scores are in [LEADERBOARD.md](LEADERBOARD.md).", ""]
    for name in zoo.list_models(args.models, pretrained=True):
        entry = zoo.get_entry(name)
        generator = zoo.load(name)
        lines += [f"## {name}", "", f"{entry.family} on {entry.dataset}, {entry.resolution}x{entry.resolution}. "
                  f"{entry.paper}", ""]
        if generator.num_classes:
            labels = [c for c in range(generator.num_classes) for _ in range(8)]
            write_grid(generator.sample(len(labels), seed=SEED, labels=labels), out / "gallery" / f"{name}.png", 8)
            names = ", ".join(generator.class_names or map(str, range(generator.num_classes)))
            lines += [f"One row per class, top to bottom: {names}.", ""]
        else:
            write_grid(generator.sample(64, seed=SEED), out / "gallery" / f"{name}.png", 8)
        lines += [f"![{name}](gallery/{name}.png)", ""]
        if generator.truncation_rule is not None:
            labels = list(range(8)) if generator.num_classes else None
            rows = [generator.sample(8, seed=SEED, labels=labels, truncation=t) for t in TRUNCATIONS]
            write_grid(torch.cat(rows), out / "gallery" / f"{name}-truncation.png", 8)
            values = ", ".join("none" if t is None else f"{t:g}" for t in TRUNCATIONS)
            lines += [f"Truncation sweep ({generator.truncation_rule} rule), one row per value, top to bottom: "
                      f"{values}; same seed and labels on every row.", "",
                      f"![{name} truncation](gallery/{name}-truncation.png)", ""]
    (out / "GALLERY.md").write_text("\n".join(lines))
    print(f"wrote {out / 'GALLERY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
