"""``zoo bundle NAME --from RUN/weights --recipe RECIPE --dataset DATASET`` (maintainers)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .command import Command


def _bundle_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo name, <family>-<dataset>[-<res>]")
    p.add_argument("--from", dest="source", required=True, help="the run's exported weights folder")
    p.add_argument("--recipe", required=True, help="the recipe that trained it")
    p.add_argument("--dataset", required=True)
    p.add_argument("--description")


def cmd_bundle(args: argparse.Namespace) -> int:
    from ..bundle import bundle

    entry = bundle(args.name, Path(args.source), Path(args.recipe), args.dataset, description=args.description)
    print(json.dumps({k: entry[k] for k in ("family", "resolution", "weights", "recipe", "training")}, indent=2))
    return 0


COMMANDS = [Command("bundle", "bundle a run's exported weights as a zoo entry (maintainers)", _bundle_args, cmd_bundle)]
