"""``zoo evaluate NAME``, ``zoo leaderboard``, ``zoo probe NAME`` (an encoder family's scores) and ``zoo recovery
NAME`` (an InfoGAN model's categorical code, read back by its shipped Q)."""

from __future__ import annotations

import argparse

from ..errors import InvalidArgumentError
from .command import Command


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extractor", default="auto",
                   help="auto (Inception if its weights are here, else fmnist-cnn), fmnist-cnn, inception-v3-compat, "
                        "or timm:<model name>")
    p.add_argument("--extractor-weights", "--inception-weights", dest="extractor_weights",
                   help="local weights for the extractor (Inception .pth, timm file, or a classifier folder)")
    p.add_argument("--n-samples", type=int, default=None, help="generated images per model (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", help="cache folder for reference statistics (default $ZOO_CACHE or ~/.cache/gan-zoo)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _leaderboard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="*", help="shell wildcard over zoo names (default: all present)")
    _common_args(p)
    p.add_argument("--out", help="folder for LEADERBOARD.md and leaderboard.json (default benchmarks/)")
    p.add_argument("--no-index", action="store_true", help="do not write the scores into zoo/index.json")


def _setup(args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.n_samples is not None and args.n_samples < 2:
        raise InvalidArgumentError(f"--n-samples must be >= 2, got {args.n_samples}")
    kwargs = {"extractor": args.extractor, "extractor_weights": args.extractor_weights, "seed": args.seed,
              "cache": args.cache, "progress": not args.no_progress}
    if args.n_samples is not None:
        kwargs["n_samples"] = args.n_samples
    return kwargs


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import time

    from ..leaderboard import BENCHMARKS_DIR, run_leaderboard

    start = time.perf_counter()
    out = args.out or BENCHMARKS_DIR
    run_leaderboard(args.models, out_dir=out, update_index=not args.no_index, **_setup(args))
    print(f"wrote {out}/LEADERBOARD.md and leaderboard.json in {time.perf_counter() - start:.0f} s")
    return 0


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo name, weights folder, or a folder of images (with --reference-folder)")
    p.add_argument("--dataset", default=None, help="dataset of a weights folder (default fashion-mnist)")
    p.add_argument("--reference-folder", help="score the images in NAME against the images in this folder")
    _common_args(p)


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..metrics.fidelity import evaluate, evaluate_generator, score_folders

    kwargs = _setup(args)
    if args.reference_folder:
        kwargs.pop("n_samples", None)
        kwargs.pop("cache", None)
        result = score_folders(args.name, args.reference_folder, **kwargs)
    elif Path(args.name).is_dir():
        from ..serialization import CONFIG_FILE, EMA_FILE, sha256_file
        from ..weights import load

        sha = {f: sha256_file(Path(args.name) / f) for f in (CONFIG_FILE, EMA_FILE)}
        result = evaluate_generator(load(args.name), dataset=args.dataset or "fashion-mnist", weights_sha256=sha,
                                    **kwargs)
    else:
        result = evaluate(args.name, **kwargs)
    print(json.dumps(result, indent=2))
    return 0


def _probe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo name or weights folder of a model that ships an encoder (bigan, vaegan, ...)")
    p.add_argument("--n-train", type=int, default=None, help="train images for the probe's fit (default: all 60,000)")
    p.add_argument("--n-test", type=int, default=None, help="test images scored (default: all 10,000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random encoder the probe is compared with")
    p.add_argument("--data-root", help="folder with the Fashion-MNIST IDX files (default: the usual places)")


def cmd_probe(args: argparse.Namespace) -> int:
    import json

    from ..metrics.encoders import encoder_scores
    from ..weights import load

    for flag in ("n_train", "n_test"):
        if getattr(args, flag) is not None and getattr(args, flag) < 10:
            raise InvalidArgumentError(f"--{flag.replace('_', '-')} must be >= 10, got {getattr(args, flag)}")
    result = encoder_scores(load(args.name), root=args.data_root, n_train=args.n_train, n_test=args.n_test,
                            seed=args.seed)
    print(json.dumps(result, indent=2))
    return 0


def _recovery_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo name or weights folder of an InfoGAN model (it ships Q)")
    p.add_argument("--n", type=int, default=10_000, help="generated images whose code is read back (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of their latents")


def cmd_recovery(args: argparse.Namespace) -> int:
    import json

    from ..metrics.code_recovery import shipped_code_recovery

    result = shipped_code_recovery(args.name, n=args.n, seed=args.seed)
    print(json.dumps({k: v for k, v in result.items() if k != "confusion"}, indent=2))
    return 0


COMMANDS = [
    Command("evaluate", "score one model (or a folder of images) with its protocol record (JSON)", _evaluate_args,
            cmd_evaluate),
    Command("leaderboard", "score every zoo model with weights here; write benchmarks/LEADERBOARD.md",
            _leaderboard_args, cmd_leaderboard),
    Command("probe", "an encoder model's linear-probe accuracy (vs a random encoder) and reconstruction error (JSON)",
            _probe_args, cmd_probe),
    Command("recovery", "an InfoGAN model's categorical-code recovery by its shipped Q, best-matched accuracy (JSON)",
            _recovery_args, cmd_recovery),
]
