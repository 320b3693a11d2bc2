"""The inferred labels of an S2GAN / S2GAN-CO / S3GAN run (Lučić et al. 2019, arXiv:1903.02271): how often the label
D's projection sees for a real image is its true class, the last column of the README's label-efficiency table.

    python benchmarks/label_efficiency.py --run runs/s3gan-fmnist/version_0
    python benchmarks/label_efficiency.py --run RUN --out benchmarks/label-efficiency-s3gan-10.json

The run's checkpoint (``checkpoints/last.ckpt`` of the run folder, or ``--ckpt FILE``) is read with
``torch.load(weights_only=True)``; the family module is rebuilt from its hyperparameters and given its tensors, so
the labeller is the run's own: S2GAN's pre-trained classifier C, or D's co-trained class head c_CT. Its argmax is
scored against the true labels of the Fashion-MNIST train split (the images the GAN labels while it trains, the
labelled subset among them) and of the test split, at the run's resolution. The generator's FID and label accuracy,
the table's other columns, come from ``zoo leaderboard`` on the run's exported weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def load_run(checkpoint: Path):
    """(the S3GAN module with the run's tensors, in eval mode; its generator iterations) from a run checkpoint."""
    from zoo.families.s3gan import S3GAN

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    # LightningCLI adds its own entries (``_class_path``, ``_instantiator``) beside the module's arguments
    hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
    if "variant" not in hparams or "label_fraction" not in hparams:
        raise SystemExit(f"error: {checkpoint} is not a checkpoint of an s3gan run (no variant / label_fraction in "
                         "its hyperparameters): pass the run of recipes/s3gan-fmnist.yaml")
    model = S3GAN(**hparams)
    model.load_state_dict(state["state_dict"])
    return model.eval(), state.get("gan_counters", {}).get("g_iters", 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="the run folder (runs/NAME/version_N)")
    parser.add_argument("--ckpt", type=Path, help="a checkpoint file instead of RUN/checkpoints/last.ckpt")
    parser.add_argument("--root", help="the folder with Fashion-MNIST's IDX files (default: zoo.data's search)")
    parser.add_argument("--out", type=Path, help="write the record as JSON here")
    args = parser.parse_args(argv)
    checkpoint = args.ckpt or (args.run / "checkpoints" / "last.ckpt" if args.run else None)
    if checkpoint is None or not checkpoint.is_file():
        print(f"error: no checkpoint {checkpoint or ''}: pass --run RUN_FOLDER (with checkpoints/last.ckpt) or "
              "--ckpt FILE", file=sys.stderr)
        return 2
    from zoo.data.fashion_mnist import load_fashion_mnist, to_model_range

    model, g_iters = load_run(checkpoint)
    h = model.hparams
    results = {}
    for split in ("train", "test"):
        images, labels = load_fashion_mnist(split, args.root)
        results[split] = model.label_accuracy(to_model_range(images, h.img_size), labels)
    print(f"variant {h.variant}, label_fraction {h.label_fraction} (seed {h.label_seed}), {g_iters} G iterations; "
          f"checkpoint: {checkpoint}")
    print("| split | inferred-label accuracy | images |\n|---|---|---|")
    for split, result in results.items():
        print(f"| {split} | {result['accuracy']:.4f} | {result['n']} |")
    if args.out:
        from zoo.serialization import atomic_write_bytes

        record = {"checkpoint": str(checkpoint), "family": "s3gan", "variant": h.variant,
                  "label_fraction": h.label_fraction, "label_seed": h.label_seed, "g_iters": g_iters,
                  "inferred_label_accuracy": {split: {"accuracy": round(r["accuracy"], 4),
                                                      "per_class": [None if a is None else round(a, 4)
                                                                    for a in r["per_class"]], "n": r["n"]}
                                              for split, r in results.items()}}
        atomic_write_bytes(args.out, (json.dumps(record, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
