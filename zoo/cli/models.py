"""``zoo list``, ``zoo info NAME`` and ``zoo sample NAME``."""

from __future__ import annotations

import argparse
import json

from .command import Command


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'dcgan*'")
    p.add_argument("--family")
    p.add_argument("--dataset")


def cmd_list(args: argparse.Namespace) -> int:
    from ..registry import get_entry, list_models

    names = list_models(args.pattern, family=args.family, dataset=args.dataset)
    rows = [("name", "family", "dataset", "res", "classes", "weights")]
    for name in names:
        e = get_entry(name)
        where = "bundled" if e.weights.get("bundled") else ("hub" if e.weights.get("hub") else "-")
        rows.append((name, e.family, e.dataset, str(e.resolution), str(e.num_classes or "-"), where))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..registry import info

    print(json.dumps(info(args.name), indent=2))
    return 0


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo name, weights folder or hf://ORG/REPO@REV")
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", nargs="+", help="class indices or names (conditional models)")
    p.add_argument("--truncation", type=float)
    p.add_argument("--nrow", type=int, default=8, help="images per grid row")
    p.add_argument("--out", default="grid.png", help="PNG grid to write (default grid.png)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--weights", help="local copy of an upstream weights file")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="download an index entry's Hub file that the index does not pin (revision + sha256)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of the EMA one")


def cmd_sample(args: argparse.Namespace) -> int:
    from torchvision.utils import save_image

    from ..images import image_grid
    from ..weights import describe_source, load

    generator = load(args.name, ema=not args.no_ema, device=args.device, weights=args.weights,
                     allow_unpinned=args.allow_unpinned)
    labels = None
    if args.labels:
        labels = [int(x) if x.lstrip("-").isdigit() else x for x in args.labels]
        labels = labels[0] if len(labels) == 1 else labels
    images = generator.sample(args.n, seed=args.seed, labels=labels, truncation=args.truncation, progress=True)
    save_image(image_grid(images, nrow=args.nrow), args.out)
    print(f"wrote {args.out}: {args.n} samples of {args.name}, shape {tuple(images.shape[1:])}, seed {args.seed}")
    print(f"weights: {describe_source(generator)}")
    return 0


COMMANDS = [
    Command("list", "list the models in the zoo index", _list_args, cmd_list),
    Command("info", "print what the index records about a model (JSON)", lambda p: p.add_argument("name"), cmd_info),
    Command("sample", "sample a grid of images from a model", _sample_args, cmd_sample),
]
