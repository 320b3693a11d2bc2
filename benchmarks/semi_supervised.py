"""The semi-supervised classifiers, the K+1 discriminator of Improved GAN (Salimans et al. 2016, arXiv:1606.03498,
section 5) and TripleGAN's classifier C (Li et al. 2017, arXiv:1703.02291), against the same network trained on
their labels alone.

    python benchmarks/semi_supervised.py --run runs/improved-gan-ssl-fmnist/version_0       # D and the baseline
    python benchmarks/semi_supervised.py --run runs/triplegan-fmnist/version_0              # C and the baseline
    python benchmarks/semi_supervised.py --run RUN --baseline-steps 0                       # the classifier only
    python benchmarks/semi_supervised.py --run RUN --out benchmarks/semi-supervised.json    # also write the record

The classifier is read from the run's checkpoint (``checkpoints/last.ckpt`` of the run folder, or ``--ckpt FILE``)
with ``torch.load(weights_only=True)``: its tensors and the run's hyperparameters, which rebuild it without
Lightning or training code. For an improved-gan run it is D (``D.*``, ``zoo.nets.improved_gan``), predicting the
argmax of its K class logits (the fake class plays no part at test time); for a triplegan run it is C (``C.*``,
``zoo.nets.classifier.FashionMNISTNet``). The exported weights folder holds generators only, so the checkpoint is
the one file that has them.

The baseline is the same network (same hyperparameters, fresh initialisation with ``--seed``) trained with
cross-entropy on the run's labelled subset alone (the same examples: ``zoo.data.labels.balanced_subset`` with the
run's ``label_seed``), full batch, Adam with the learning rate and betas of the classifier's optimizer in the run
(D's for improved-gan, G's for triplegan, whose C trains in G's step), ``--baseline-steps`` steps, no early
stopping and no tuning on the test split. Both are scored on the Fashion-MNIST test split (10,000 images).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# what each family's classifier is: its state-dict prefix, its name in the table, the hyperparameter that holds its
# class count, and its optimizer's settings in the run
CLASSIFIERS = {
    "improved-gan": {"prefix": "D.", "name": "K+1 GAN classifier (D)", "classes": "semi_supervised_classes",
                     "lr": "lr_d", "betas": "betas_d"},
    "triplegan": {"prefix": "C.", "name": "TripleGAN classifier (C)", "classes": "num_classes", "lr": "lr_g",
                  "betas": "betas_g"},
}


def family_of(h: dict) -> str:
    """The run's family: from the class path ``zoo fit`` saves with the hyperparameters, else (a plain Trainer's
    checkpoint) from a hyperparameter only TripleGAN has; any other family is refused in one line."""
    class_path = h.get("_class_path") or ""
    known = {"zoo.families.triplegan.TripleGAN": "triplegan", "zoo.families.improved_gan.ImprovedGAN": "improved-gan"}
    if class_path:
        if class_path not in known:
            raise SystemExit(f"error: this run trained {class_path}, which has no semi-supervised classifier: pass "
                             "the run of recipes/improved-gan-ssl-fmnist.yaml or recipes/triplegan-fmnist.yaml")
        return known[class_path]
    return "triplegan" if "pseudo_weight" in h else "improved-gan"


def network_from_hparams(h: dict) -> nn.Module:
    """The run's classifier (improved-gan's D with its K logits, or TripleGAN's C), built from its saved
    hyperparameters."""
    if family_of(h) == "triplegan":
        from zoo.nets.classifier import FashionMNISTNet

        return FashionMNISTNet(h["classifier_width"], h["num_classes"])
    from zoo.nets.improved_gan import ImprovedGANDiscriminator

    if not h.get("semi_supervised_labels"):
        raise SystemExit("error: this run's D is not a semi-supervised classifier (semi_supervised_labels is 0): "
                         "pass the run of recipes/improved-gan-ssl-fmnist.yaml or recipes/triplegan-fmnist.yaml")
    return ImprovedGANDiscriminator(h["width"], h["img_channels"], h["img_size"], h["minibatch_kernels"],
                                    h["minibatch_kernel_dim"], norm=h["d_norm"],
                                    num_logits=h["semi_supervised_classes"])


def load_classifier(checkpoint: Path) -> tuple[nn.Module, dict, int]:
    """(the classifier in eval mode, the run's hyperparameters, its generator iterations) from a run checkpoint."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    hparams = dict(state["hyper_parameters"])
    net = network_from_hparams(hparams)
    prefix = CLASSIFIERS[family_of(hparams)]["prefix"]
    net.load_state_dict({k[len(prefix):]: v for k, v in state["state_dict"].items() if k.startswith(prefix)})
    return net.eval(), hparams, state.get("gan_counters", {}).get("g_iters", 0)


def accuracy(net: nn.Module, images: Tensor, labels: Tensor, num_classes: int, batch_size: int = 1000) -> dict:
    """Top-1 accuracy of ``net``'s logits, in eval mode and without gradients: {"accuracy", "per_class", "n"}."""
    from zoo.metrics.classifier import class_accuracy

    with torch.no_grad():
        return class_accuracy(net, images, labels, num_classes, batch_size)


def train_baseline(hparams: dict, images: Tensor, labels: Tensor, steps: int, seed: int = 0) -> nn.Module:
    """The run's network trained from scratch on (images, labels) alone: full batch, Adam with the lr and betas of
    the classifier's optimizer in the run."""
    torch.manual_seed(seed)
    net = network_from_hparams(hparams).train()
    spec = CLASSIFIERS[family_of(hparams)]
    opt = torch.optim.Adam(net.parameters(), lr=hparams[spec["lr"]], betas=tuple(hparams[spec["betas"]]))
    for _ in range(steps):
        loss = F.cross_entropy(net(images), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def labelled_subset(hparams: dict, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The run's labelled examples of the training split (the same choice the family made)."""
    from zoo.data.labels import balanced_subset

    classes = hparams[CLASSIFIERS[family_of(hparams)]["classes"]]
    index = balanced_subset(labels, hparams["semi_supervised_labels"] // classes, classes, hparams["label_seed"])
    return images[index], labels[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="the run folder (runs/NAME/version_N)")
    parser.add_argument("--ckpt", type=Path, help="a checkpoint file instead of RUN/checkpoints/last.ckpt")
    parser.add_argument("--baseline-steps", type=int, default=2000, help="baseline Adam steps (0: no baseline)")
    parser.add_argument("--seed", type=int, default=0, help="the baseline's initialisation seed")
    parser.add_argument("--out", type=Path, help="write the record as JSON here")
    args = parser.parse_args(argv)
    checkpoint = args.ckpt or (args.run / "checkpoints" / "last.ckpt" if args.run else None)
    if checkpoint is None or not checkpoint.is_file():
        print(f"error: no checkpoint {checkpoint or ''}: pass --run RUN_FOLDER (with checkpoints/last.ckpt) or "
              "--ckpt FILE", file=sys.stderr)
        return 2
    from zoo.data.fashion_mnist import load_fashion_mnist, to_model_range

    net, hparams, g_iters = load_classifier(checkpoint)
    test_images, test_labels = load_fashion_mnist("test")
    test_images = to_model_range(test_images)
    spec = CLASSIFIERS[family_of(hparams)]
    classes = hparams[spec["classes"]]
    rows = [(spec["name"], accuracy(net, test_images, test_labels, classes), f"{g_iters} G iterations")]
    if args.baseline_steps:
        train_images, train_labels = load_fashion_mnist("train")
        x, y = labelled_subset(hparams, to_model_range(train_images), train_labels)
        start = time.perf_counter()
        baseline = train_baseline(hparams, x, y, args.baseline_steps, args.seed)
        rows.append((f"same network, {len(y)} labels only", accuracy(baseline, test_images, test_labels, classes),
                     f"{args.baseline_steps} Adam steps, {time.perf_counter() - start:.0f} s"))
    labels = hparams["semi_supervised_labels"]
    print(f"labels: {labels} ({labels // classes} per class, seed {hparams['label_seed']}); test split: "
          f"{len(test_labels)} images; checkpoint: {checkpoint}")
    print("| classifier | test accuracy | training |\n|---|---|---|")
    for name, acc, note in rows:
        print(f"| {name} | {acc['accuracy']:.4f} | {note} |")
    if args.out:
        from zoo.serialization import atomic_write_bytes

        record = {"checkpoint": str(checkpoint), "family": family_of(hparams), "labels": labels,
                  "label_seed": hparams["label_seed"], "test_images": len(test_labels),
                  "baseline_steps": args.baseline_steps, "baseline_seed": args.seed,
                  "results": [{"classifier": n, "test_accuracy": round(a["accuracy"], 4),
                              "per_class": [round(c, 4) for c in a["per_class"]], "training": t} for n, a, t in rows]}
        atomic_write_bytes(args.out, (json.dumps(record, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
