"""``zoo list``, ``zoo info NAME`` and ``zoo sample NAME``.

``list`` and ``info`` read the index only (no torch import); ``sample`` loads the model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InvalidArgumentError
from .command import Command

#: Classes up to which an unconditioned grid of a conditional model gets one row per class.
MAX_CLASS_ROWS = 20


def weights_source(entry) -> str:
    """Where an entry's weights come from: bundled, hub (a zoo repo) or converted (an upstream file)."""
    if entry.weights.get("bundled"):
        return "bundled"
    if entry.weights.get("converter"):
        return "converted"
    return "hub" if entry.weights.get("hub") else "local copy"


def headline_score(entry) -> dict | None:
    """The entry's first score with an FID (the leaderboard writes its protocol's score first)."""
    for score in entry.scores:
        if isinstance(score, dict) and isinstance((score.get("metrics") or {}).get("fid"), (int, float)):
            return score
    return None


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'dcgan*'")
    p.add_argument("--family")
    p.add_argument("--dataset")
    p.add_argument("--json", action="store_true", help="one JSON object per model, for scripts")


def cmd_list(args: argparse.Namespace) -> int:
    from ..registry import get_entry, list_models

    entries = [get_entry(name) for name in list_models(args.pattern, family=args.family, dataset=args.dataset)]
    if args.json:
        print(json.dumps([{"name": e.name, "family": e.family, "dataset": e.dataset, "resolution": e.resolution,
                           "num_classes": e.num_classes, "weights": weights_source(e),
                           "fid": (headline_score(e) or {}).get("metrics", {}).get("fid"),
                           "fid_protocol": _protocol_line((headline_score(e) or {}).get("protocol"))}
                          for e in entries], indent=2))
        return 0
    rows = [("name", "family", "dataset", "res", "classes", "FID", "weights")]
    for e in entries:
        score = headline_score(e)
        rows.append((e.name, e.family, e.dataset, str(e.resolution), str(e.num_classes or "-"),
                     f"{score['metrics']['fid']:.2f}" if score else "-", weights_source(e)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if any(headline_score(e) for e in entries):
        print("FID: the leaderboard's protocol (see `zoo info NAME` and benchmarks/LEADERBOARD.md); lower is better")
    return 0


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="everything the index records, as JSON")


def cmd_info(args: argparse.Namespace) -> int:
    from ..registry import get_entry, info

    if args.json:
        print(json.dumps(info(args.name), indent=2))
        return 0
    e = get_entry(args.name)
    lines = [f"{e.name}: {e.family} on {e.dataset}, {e.resolution}x{e.resolution}, {e.channels} channel(s), "
             f"latent {e.latent_dim}",
             f"paper:    {e.paper}"]
    if e.description:
        lines.append(f"about:    {e.description}")
    if e.num_classes:
        names = e.class_names or []
        shown = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
        lines.append(f"classes:  {e.num_classes} (conditional{': ' + shown if shown else ''})")
    lines.append(f"weights:  {weights_source(e)} " + _weights_line(e))
    lines.append(f"recipe:   {e.recipe or '-'}")
    training = e.training or {}
    if training.get("g_iters"):
        if training.get("gpu"):  # concurrent_runs: other runs that shared the card, so the wall time is not a solo one
            shared = training.get("concurrent_runs", 1)
            where = training["gpu"] + (f" shared by {shared} runs" if shared > 1 else "")
        else:
            where = f"{training.get('threads', '?')} CPU threads"
        lines.append(f"training: {training['g_iters']:,} G iterations in {training.get('wall_time_s', 0) / 60:.0f} min"
                     f" ({training.get('precision', '?')}, {where})")
    for score in e.scores:
        metrics = {k: v for k, v in (score.get("metrics") or {}).items() if isinstance(v, (int, float))}
        coverage = score.get("coverage") or {}
        values = ", ".join(f"{k} {v:g}" for k, v in metrics.items() if not k.endswith("_std"))
        if coverage.get("classes_covered") is not None:
            values += f", classes {coverage['classes_covered']}/{coverage.get('num_classes')}, " \
                      f"KL {coverage.get('kl_uniform')}"
        lines.append(f"score:    {values}")
        lines.append(f"          protocol: {_protocol_line(score.get('protocol'))}")
    print("\n".join(lines))
    return 0


def _weights_line(e) -> str:
    if e.weights.get("bundled"):
        sha = (e.weights.get("sha256") or {}).get("model.safetensors")
        return f"(zoo/weights/{e.weights['bundled']}, model.safetensors sha256 {sha[:16] if sha else '?'}...)"
    hub = e.weights.get("hub") or {}
    if hub:
        pin = f"@{hub['revision'][:12]}" if hub.get("revision") else " (unpinned)"
        sha = f", sha256 {hub['sha256'][:16]}..." if hub.get("sha256") else ""
        via = f", converted by {e.weights['converter']}" if e.weights.get("converter") else ""
        return f"(hf://{hub.get('repo_id')}{pin} {hub.get('filename')}{sha}{via})"
    return "(pass weights=PATH)"


def _protocol_line(protocol) -> str | None:
    if not isinstance(protocol, dict):
        return None
    ref = protocol.get("reference") or {}
    return (f"{protocol.get('extractor')} features, {protocol.get('n_generated')} samples, "
            f"seed {protocol.get('seed')}, vs {ref.get('dataset')} {ref.get('split')} "
            f"({ref.get('count')} images at {ref.get('resolution')}px)")


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo name, weights folder or hf://ORG/REPO@REV")
    p.add_argument("--n", type=int, help="number of images (default 64; a conditional model with up to "
                                         f"{MAX_CLASS_ROWS} classes and no --labels: one row of --nrow per class)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", nargs="+", metavar="LABEL",
                   help="class indices or names, cycled over the n images (--labels Sneaker Bag: "
                        "Sneaker, Bag, Sneaker, ...)")
    p.add_argument("--truncation", type=float, help="truncation trick: sample z from a normal truncated at T")
    p.add_argument("--nrow", type=int, default=8, help="images per grid row")
    p.add_argument("--out", default="grid.png", help="PNG grid (or .npz with --format npz) to write")
    p.add_argument("--out-dir", help="also write one PNG per image into this folder")
    p.add_argument("--format", choices=("png", "npz"), default="png",
                   help="png: a grid image; npz: the images as uint8 [n, H, W, C] (key 'images') and the labels")
    p.add_argument("--interpolate", type=int, metavar="STEPS",
                   help="write a strip of STEPS images along a slerp between two latents of --seed instead")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward (bounds the memory)")
    p.add_argument("--bf16", action="store_true",
                   help="sample under bf16 autocast: faster on a GPU or a CPU with native bf16, not identical")
    p.add_argument("--weights", help="local copy of an upstream weights file")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="download an index entry's Hub file that the index does not pin (revision + sha256)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of the EMA one")


def _check_out(path: str | None, what: str) -> None:
    if path and not Path(path).expanduser().parent.is_dir():
        raise InvalidArgumentError(f"{what} {path}: the folder {Path(path).parent} does not exist; create it first")


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from torchvision.utils import save_image

    from ..images import image_grid, to_uint8
    from ..weights import describe_source, load

    if args.n is not None and args.n <= 0:
        raise InvalidArgumentError(f"--n must be a positive number of images, got {args.n}")
    if args.nrow <= 0:
        raise InvalidArgumentError(f"--nrow must be positive, got {args.nrow}")
    _check_out(args.out, "--out")
    if args.out_dir and Path(args.out_dir).exists() and not Path(args.out_dir).is_dir():
        raise InvalidArgumentError(f"--out-dir {args.out_dir} is a file: give a folder")
    generator = load(args.name, ema=not args.no_ema, device=args.device, weights=args.weights,
                     allow_unpinned=args.allow_unpinned)
    labels = [int(x) if x.lstrip("-").isdigit() else x for x in args.labels] if args.labels else None
    if labels and not generator.num_classes:
        raise InvalidArgumentError(f"{args.name} is unconditional: sample it without --labels")
    by_class = labels is None and 0 < generator.num_classes <= MAX_CLASS_ROWS
    n = args.n or (generator.num_classes * args.nrow if by_class else 64)
    if by_class:  # one row per class, in class order
        labels = [(i // args.nrow) % generator.num_classes for i in range(n)]
    elif labels:
        labels = [labels[i % len(labels)] for i in range(n)]
    if args.interpolate:
        images = generator.interpolate_seeded(args.interpolate, seed=args.seed, labels=labels[:1] if labels else None,
                                              truncation=args.truncation)
        what = f"a {args.interpolate}-step slerp between two latents of seed {args.seed}"
    else:
        images = generator.sample(n, seed=args.seed, labels=labels, truncation=args.truncation, progress=True,
                                  batch_size=args.batch_size, dtype=torch.bfloat16 if args.bf16 else None)
        what = f"{n} samples, seed {args.seed}"
    if args.format == "npz":
        y = generator.resolve_labels(labels, len(images)) if labels is not None and not args.interpolate else None
        arrays = {"images": to_uint8(images).permute(0, 2, 3, 1).numpy()}
        if y is not None:
            arrays["labels"] = y.numpy()
        with open(args.out, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        save_image(image_grid(images, nrow=args.interpolate or args.nrow), args.out)
    if args.out_dir:
        folder = Path(args.out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            save_image(image_grid(image[None], nrow=1), folder / f"{i:05d}.png")
    print(f"wrote {args.out}: {what} of {args.name}, shape {tuple(images.shape[1:])}"
          + (f"; one PNG per image in {args.out_dir}" if args.out_dir else ""))
    print(f"weights: {describe_source(generator)}")
    return 0


COMMANDS = [
    Command("list", "list the models in the zoo index, with their scores and where the weights come from",
            _list_args, cmd_list),
    Command("info", "what the index records about a model (--json for all of it)", _info_args, cmd_info),
    Command("sample", "sample a grid (or PNGs, or an .npz) of images from a model", _sample_args, cmd_sample),
]
