"""The ``zoo`` command: one module per command group, assembled here.

    zoo list [PATTERN]                  models in the index             (zoo/cli/models.py)
    zoo info NAME / zoo sample NAME     one model                       (zoo/cli/models.py)
    zoo fit --config recipes/NAME.yaml  train (LightningCLI)            (zoo/cli/train.py)
    zoo evaluate / leaderboard / probe / recovery   scores              (zoo/cli/metrics.py)
    zoo publish / bundle / convert      maintainers                     (zoo/cli/publish.py, bundle.py, convert.py)

Errors the zoo raises on purpose print as one line, ``error: ...``, with exit code 2. Command modules import what
they need inside their ``run`` functions, so ``zoo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from . import bundle, convert, metrics, models, publish, train
from .command import Command

#: Every subcommand but the LightningCLI ones, in the order ``zoo --help`` lists them.
COMMANDS: dict[str, Command] = {c.name: c for group in (models, metrics, train, publish, bundle, convert)
                                for c in group.COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="A model zoo of GANs on PyTorch Lightning.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in train.LIGHTNING_SUBCOMMANDS:
        sub.add_parser(name, help=f"Lightning {name} (LightningCLI; see `zoo {name} --help`)", add_help=False)
    for command in COMMANDS.values():
        command.add_arguments(sub.add_parser(command.name, help=command.help, description=command.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import ZooError

    from_shell, argv = argv is None, (sys.argv[1:] if argv is None else list(argv))
    try:
        if argv and argv[0] in train.LIGHTNING_SUBCOMMANDS:
            return train.run_lightning(argv, from_shell=from_shell)
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 1
        return COMMANDS[args.command].run(args)
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file the user named: unwritable, missing, disk full (err names the path)
        print(f"error: {err.strerror or err}{f': {err.filename}' if err.filename else ''}", file=sys.stderr)
        return 2
