"""The ``zoo`` command.

    zoo list [PATTERN]                  models in the index
    zoo info NAME                       everything the index records about NAME
    zoo sample NAME --n 64 --seed 0 --out grid.png
    zoo fit --config recipes/NAME.yaml  train (LightningCLI: every --trainer.*, --model.*, --data.* flag works)

Errors the zoo raises on purpose print as one line, ``error: ...``, with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

#: Extra subcommands, added by other modules: name -> (help, add_arguments(parser), run(args) -> exit code).
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``run(args) -> int`` as ``zoo NAME``."""

    def decorate(run):
        COMMANDS[name] = (help, add_arguments, run)
        return run

    return decorate


def lightning_cli(args: list[str] | None) -> None:
    """LightningCLI over every registered family and data module (``class_path`` may be short: ``DCGAN``).

    ``args`` None parses the command line itself. Lightning's notices that say nothing about this run are filtered:
    the litlogger tip, the pytree deprecation inside Lightning, "modules in eval mode" (G_ema is kept in eval mode
    on purpose), the progress bar swap and the gloo banner of a single process; real warnings (the watchdog's,
    precision) stay.
    """
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    quiet = ("litlogger", "will override existing callbacks passed to Trainer: TQDMProgressBar",
             "MEMBER: 1/1", "Starting with 1 processes")  # the gloo banner of a single process
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.distributed"):
        logging.getLogger(name).addFilter(lambda record: not any(q in record.getMessage() for q in quiet))
    import lightning as L
    from lightning.pytorch.cli import LightningCLI

    from . import data, families  # noqa: F401  (registers the classes for short class_path names)
    from .checkpointing import resolve_last_checkpoint
    from .engine import GANModule

    class ZooLightningCLI(LightningCLI):
        def before_instantiate_classes(self) -> None:
            config = self.config.get(self.config.get("subcommand") or "", self.config)
            if config.get("ckpt_path") == "last":  # the run's own latest checkpoint, never another run's
                config.ckpt_path = resolve_last_checkpoint(config.trainer)
                if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
                    print(f"resuming {config.ckpt_path}", file=sys.stderr, flush=True)

    ZooLightningCLI(
        GANModule,
        L.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=args,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"parser_mode": "omegaconf"} if _has_omegaconf() else None,
    )


def _has_omegaconf() -> bool:
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        return False
    return True


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default="*", help="shell wildcard, e.g. 'dcgan*'")
    p.add_argument("--family")
    p.add_argument("--dataset")


@command("list", "list the models in the zoo index", _list_args)
def cmd_list(args: argparse.Namespace) -> int:
    from .registry import get_entry, list_models

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


@command("info", "print what the index records about a model (JSON)", lambda p: p.add_argument("name"))
def cmd_info(args: argparse.Namespace) -> int:
    from .registry import info

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
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of the EMA one")


@command("sample", "sample a grid of images from a model", _sample_args)
def cmd_sample(args: argparse.Namespace) -> int:
    from torchvision.utils import save_image

    from . import load
    from .callbacks import image_grid

    generator = load(args.name, ema=not args.no_ema, device=args.device, weights=args.weights)
    labels = None
    if args.labels:
        labels = [int(x) if x.lstrip("-").isdigit() else x for x in args.labels]
        labels = labels[0] if len(labels) == 1 else labels
    images = generator.sample(args.n, seed=args.seed, labels=labels, truncation=args.truncation, progress=True)
    save_image(image_grid(images, nrow=args.nrow), args.out)
    print(f"wrote {args.out}: {args.n} samples of {args.name}, shape {tuple(images.shape[1:])}, seed {args.seed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    _load_command_modules()
    parser = argparse.ArgumentParser(prog="zoo", description="A model zoo of GANs on PyTorch Lightning.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in LIGHTNING_SUBCOMMANDS:
        sub.add_parser(name, help=f"Lightning {name} (LightningCLI; see `zoo {name} --help`)", add_help=False)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text))
    return parser


def _load_command_modules() -> None:
    """Modules that register more subcommands with ``@command``; missing optional ones are skipped."""
    import importlib

    for module in ("zoo.bundle", "zoo.metrics.cli", "zoo.hub", "zoo.convert.cli"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):
                raise


def main(argv: list[str] | None = None) -> int:
    from .errors import ZooError

    from_shell, argv = argv is None, (sys.argv[1:] if argv is None else list(argv))
    try:
        if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
            if from_shell:  # before torch starts threads: SIGTERM ends a run within seconds (zoo.sigterm)
                from . import sigterm

                sigterm.install()
            lightning_cli(None if from_shell else argv)
            return 0
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 1
        return COMMANDS[args.command][2](args)
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # `python -m zoo.cli`: run the imported module's main, where the other modules register their commands
    from zoo.cli import main as zoo_main

    sys.exit(zoo_main())
