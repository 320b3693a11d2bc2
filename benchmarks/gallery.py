"""Regenerate benchmarks/GALLERY.md: every bundled model's samples at one seed, side by side.

    python benchmarks/gallery.py            # writes benchmarks/GALLERY.md and benchmarks/gallery/*.png

Unconditional models: an 8x8 grid of seed 0. Conditional models: one row of 8 per class, in class order. Models with
a truncation rule (BigGAN): one row per truncation value, the same latents' seed on every row. Models with latent
codes (InfoGAN): one traversal grid per continuous code. Models that ship an encoder which reconstructs (BiGAN,
VAEGAN, mode-regularized GAN): Fashion-MNIST test images above their reconstructions G(E(x)).
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
    save_scaled(image_grid(images, nrow=nrow), path)


def save_scaled(grid: torch.Tensor, path: Path) -> None:
    grid = torch.nn.functional.interpolate(grid[None], scale_factor=SCALE, mode="nearest")[0]
    save_image(grid, path)


def extra_sections(name: str, generator, out: Path, data_root=None) -> list[str]:
    """The figures a model has beyond its samples, each only where the loaded model supports it: InfoGAN's latent
    traversals (``traversal``), an encoder model's reconstructions (``reconstruct``); their GALLERY.md lines."""
    lines = []
    steps = 9
    for j in range(getattr(generator, "continuous", 0) if hasattr(generator, "traversal") else 0):
        write_grid(generator.traversal(j, steps, seed=SEED), out / "gallery" / f"{name}-traversal-c{j + 1}.png", steps)
        lines += [f"Latent traversal of continuous code {j + 1}: one row per value of the categorical code, columns "
                  f"sweep the code from -1 to 1 ({steps} steps), the other codes at 0 and one noise vector (seed "
                  f"{SEED}) throughout.", "", f"![{name} traversal c{j + 1}](gallery/{name}-traversal-c{j + 1}.png)",
                  ""]
    encoder = generator.encoder
    reconstructs = (encoder is not None and encoder.reconstructs and not generator.num_classes
                    and (generator.img_channels, generator.img_size) == (1, 28))
    if reconstructs:
        from zoo.metrics.encoders import fmnist_split, reconstruction_grid

        grid = reconstruction_grid(generator, fmnist_split("test", data_root, 32)[0], nrow=8)
        save_scaled(grid, out / "gallery" / f"{name}-reconstruction.png")
        lines += ["Reconstructions: the first 32 Fashion-MNIST test images (odd rows) and G(E(x)) of each (the row "
                  "below).", "", f"![{name} reconstruction](gallery/{name}-reconstruction.png)", ""]
    return lines


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
        lines += extra_sections(name, generator, out)
    (out / "GALLERY.md").write_text("\n".join(lines))
    print(f"wrote {out / 'GALLERY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
