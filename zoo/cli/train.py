"""``zoo fit`` / ``validate`` / ``test`` / ``predict`` (LightningCLI over the families) and ``zoo train-classifier``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .command import Command

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def run_lightning(argv: list[str], *, from_shell: bool) -> int:
    """Run a LightningCLI subcommand; from a shell, SIGTERM first gets the handling in ``zoo.sigterm``.

    The recipe files are read first (``check_recipes``), so a missing file or a YAML error is one line before
    Lightning is even imported.
    """
    check_recipes(argv)
    if from_shell:  # before torch starts threads: SIGTERM ends a run within seconds (zoo.sigterm)
        from .. import sigterm

        sigterm.install()
    lightning_cli(None if from_shell else argv)
    return 0


def check_recipes(argv: list[str]) -> None:
    """Read each ``--config``/``-c`` file as YAML: a missing file, a YAML error or a recipe that is not a mapping of
    sections is a one-line ``InvalidArgumentError`` naming the file (and the line)."""
    import yaml

    from ..errors import InvalidArgumentError

    given = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--config", "-c")]
    given += [arg.split("=", 1)[1] for arg in argv if arg.startswith(("--config=", "-c="))]
    for text in given:
        path = Path(text)
        if not path.is_file():
            if "\n" in text or ": " in text or text.lstrip().startswith("{"):
                continue  # a config given inline, which LightningCLI also accepts
            raise InvalidArgumentError(f"recipe {text} does not exist: pass a recipe file, e.g. "
                                       f"--config recipes/dcgan-fmnist.yaml")
        try:
            recipe = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or type(err).__name__
            raise InvalidArgumentError(f"recipe {text} is not valid YAML ({problem}{where}): fix the file") from None
        except (OSError, UnicodeDecodeError) as err:
            raise InvalidArgumentError(f"cannot read recipe {text} ({str(err).splitlines()[0]}): check the file"
                                       ) from None
        if not isinstance(recipe, dict):
            raise InvalidArgumentError(f"recipe {text} is not a YAML mapping of sections (trainer:, model:, data:): "
                                       f"fix the file")


def lightning_cli(args: list[str] | None) -> None:
    """LightningCLI over every registered family and data module (``class_path`` may be short: ``DCGAN``).

    ``args`` None parses the command line itself. Lightning's notices that say nothing about this run are filtered:
    the litlogger tip, the pytree deprecation inside Lightning, "modules in eval mode" (G_ema is kept in eval mode
    on purpose), the progress bar swap, the gloo banner of a single process and the checkpoint `weights_only`
    notice (a full checkpoint is saved; nothing is loaded); real warnings (the watchdog's, precision) stay.
    """
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    quiet = ("litlogger", "will override existing callbacks passed to Trainer: TQDMProgressBar",
             "MEMBER: 1/1", "Starting with 1 processes",  # the gloo banner of a single process
             "`weights_only` was not set")  # saving a full checkpoint (best-fid.ckpt): nothing is loaded
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.distributed",
                 "lightning.pytorch.trainer.connectors.checkpoint_connector"):
        logging.getLogger(name).addFilter(lambda record: not any(q in record.getMessage() for q in quiet))
    import lightning as L
    from lightning.pytorch.cli import LightningCLI

    from .. import data, families  # noqa: F401  (registers the classes for short class_path names)
    from ..checkpointing import resolve_last_checkpoint
    from ..engine import GANModule

    class ZooLightningCLI(LightningCLI):
        def before_instantiate_classes(self) -> None:
            config = self.config.get(self.config.get("subcommand") or "", self.config)
            if config.get("ckpt_path") == "last":  # the run's own latest checkpoint, never another run's
                config.ckpt_path = resolve_last_checkpoint(config.trainer)
                if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
                    print(f"resuming {config.ckpt_path}", file=sys.stderr, flush=True)

    try:
        ZooLightningCLI(
            GANModule,
            L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=args,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"enable_model_summary": False},  # the engine prints its own three-line summary
            # a recipe the parser refuses raises (one line below) instead of printing the usage and exiting
            parser_kwargs={"exit_on_error": False, **({"parser_mode": "omegaconf"} if _has_omegaconf() else {})},
        )
    except argparse.ArgumentError as err:
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(parser_error_line(err)) from None


def _has_omegaconf() -> bool:
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        return False
    return True


def _classifier_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="recipe, e.g. recipes/fmnist-classifier.yaml")
    p.add_argument("--out", help="weights folder to write (default zoo/weights/fmnist-classifier)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="LightningCLI override, e.g. --set trainer.max_epochs=1 (repeatable)")


def cmd_train_classifier(args: argparse.Namespace) -> int:
    import torch

    from ..errors import InvalidArgumentError
    from ..metrics.classifier_training import train_classifier

    torch.set_num_threads(min(torch.get_num_threads(), 2))
    argv = ["--config", args.config]
    for item in args.set:
        if "=" not in item:
            raise InvalidArgumentError(f"--set expects KEY=VALUE (e.g. trainer.max_epochs=1), got {item!r}")
        argv.append(f"--{item}")
    if args.out:
        argv += ["--out", args.out]
    train_classifier(argv)
    return 0


def _plot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run folder (runs/NAME/version_N) or its metrics.csv")
    p.add_argument("--out", help="PNG to write (default RUN/curves.png)")


def cmd_plot(args: argparse.Namespace) -> int:
    from ..curves import plot_curves

    print(f"wrote {plot_curves(args.run, args.out)}")
    return 0


COMMANDS = [
    Command("plot", "draw a run's losses, D scores, gradient norms and FID into curves.png", _plot_args, cmd_plot),
    Command("train-classifier", "train the Fashion-MNIST feature network from its recipe", _classifier_args,
            cmd_train_classifier),
]


def parser_error_line(err: BaseException) -> str:
    """jsonargparse's nested, many-line message as one line: its first line and its most specific reasons."""
    noise = ("Given value", "Expected a <class", "Does not validate", "Subtypes", "Errors")
    lines = [" ".join(line.split()).lstrip("- ").rstrip(":") for line in str(err).splitlines() if line.strip()]
    head = lines[0] if lines else type(err).__name__
    detail = "; ".join(dict.fromkeys(line for line in lines[1:] if not line.startswith(noise)))
    if len(detail) > 300:
        detail = detail[:297] + "..."
    return f"{head}{': ' + detail if detail else ''}; fix the recipe or the option (`zoo fit --help` lists them)"
