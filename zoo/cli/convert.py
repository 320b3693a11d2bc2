"""``zoo convert SOURCE --weights FILE [--config FILE] --out DIR``: upstream checkpoint -> zoo weights folder."""

from __future__ import annotations

import argparse

from .command import Command


def _convert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="checkpoint format: studiogan-biggan or pytorch-pretrained-biggan")
    p.add_argument("--weights", required=True,
                   help="upstream weights file (.pth/.bin read with weights_only, or .safetensors)")
    p.add_argument("--config", help="upstream config (StudioGAN's YAML; pytorch-pretrained-BigGAN's config.json)")
    p.add_argument("--out", required=True, help="folder to write (config.json + model.safetensors)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=JSON",
                   help="generator option, e.g. --option width=96 --option img_size=128 (repeatable)")


def parse_options(items: list[str]) -> dict:
    import json

    from ..errors import InvalidArgumentError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--option {item!r} is not KEY=VALUE: write e.g. --option width=96")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def cmd_convert(args: argparse.Namespace) -> int:
    from ..convert import convert
    from ..serialization import save_weights

    generator = convert(args.source, args.weights, args.config, **parse_options(args.option))
    hashes = save_weights(args.out, generator, extra_config={"converted_from": args.source})
    print(f"wrote {args.out}: {type(generator).__name__} ({', '.join(sorted(hashes))}); load it with "
          f"zoo.load({args.out!r})")
    return 0


COMMANDS = [Command("convert", "convert an upstream checkpoint into a zoo weights folder", _convert_args, cmd_convert)]
