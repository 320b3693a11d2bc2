"""The baseline row of the leaderboard: a plain PyTorch DCGAN-28 loop, what a user could write in an afternoon.

No zoo engine, no Lightning, no EMA, no tricks: the DCGAN paper's recipe (Radford et al. 2016, arXiv:1511.06434:
transposed convolutions with BatchNorm and ReLU in G, strided convolutions with LeakyReLU(0.2) in D, Adam 2e-4 with
beta1 0.5, batch 64, non-saturating loss) on Fashion-MNIST 28x28, trained for a fixed wall-clock budget (default 10
minutes) with every core of the machine. Every zoo model must score better than this under the leaderboard protocol.

    python benchmarks/baseline_dcgan.py                      # train 10 minutes, score -> benchmarks/baseline-dcgan/
    python benchmarks/baseline_dcgan.py --iters 9000         # a fixed number of iterations instead (reproduces a run)
    python benchmarks/baseline_dcgan.py --score-only         # re-score the saved weights
    zoo leaderboard                                          # shows the scores as the *baseline* row

The weights (``generator.safetensors``), the training record (``training.json``) and the scores with their full
protocol record (``scores.json``, from ``zoo.metrics.fidelity.evaluate_generator``: the leaderboard's own function)
go to ``benchmarks/baseline-dcgan/``. Only the data reader and the scoring come from the zoo.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

OUT = Path(__file__).resolve().parent / "baseline-dcgan"
LATENT = 100


class Generator(nn.Module):
    """z (100) -> 256 x 7 x 7 -> 128 x 14 x 14 -> 1 x 28 x 28, tanh."""

    latent_dim, img_channels, img_size, num_classes = LATENT, 1, 28, 0

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(LATENT, 256, 7, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
            nn.ConvTranspose2d(128, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z.view(len(z), LATENT, 1, 1))


class Discriminator(nn.Module):
    """1 x 28 x 28 -> 64 x 14 x 14 -> 128 x 7 x 7 -> one logit."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def train(minutes: float, iters: int | None, seed: int) -> tuple[Generator, dict]:
    from zoo.data.fashion_mnist import load_fashion_mnist, to_model_range

    torch.manual_seed(seed)
    images, _ = load_fashion_mnist("train")
    data = to_model_range(images)
    G, D = Generator(), Discriminator()
    G.apply(init_weights)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    batch, step, start = 64, 0, time.perf_counter()
    ones, zeros = torch.ones(batch), torch.zeros(batch)
    while True:
        for index in torch.randperm(len(data)).split(batch):
            if len(index) < batch:
                continue
            elapsed = time.perf_counter() - start
            if (iters is not None and step >= iters) or (iters is None and elapsed >= minutes * 60):
                record = {"iterations": step, "batch_size": batch, "wall_time_s": round(elapsed, 1),
                          "budget": f"{iters} iterations" if iters is not None else f"{minutes:g} minutes",
                          "threads": torch.get_num_threads(), "seed": seed}
                return G.eval(), record
            real = data[index]
            fake = G(torch.randn(batch, LATENT))
            loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = bce(D(fake), ones)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            step += 1
            if step % 500 == 0:
                print(f"iter {step}  {elapsed:.0f} s  loss_d {loss_d.item():.3f}  loss_g {loss_g.item():.3f}",
                      flush=True)


def score(G: Generator, sha256: str) -> dict:
    from zoo.metrics.fidelity import evaluate_generator

    return evaluate_generator(G, dataset="fashion-mnist", extractor="fmnist-cnn", n_samples=10_000, seed=0,
                              weights_sha256={"generator.safetensors": sha256}, progress=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget (default 10)")
    parser.add_argument("--iters", type=int, help="train exactly this many iterations instead of a time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score-only", action="store_true", help="score the saved weights again")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from zoo.machine import git_commit, machine_record
    from zoo.serialization import atomic_write_bytes, sha256_file

    weights = args.out / "generator.safetensors"
    if args.score_only:
        if not weights.is_file():
            print(f"error: {weights} does not exist: train the baseline first (without --score-only)", file=sys.stderr)
            return 2
        G = Generator()
        G.load_state_dict(load_file(weights))
    else:
        G, record = train(args.minutes, args.iters, args.seed)
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = weights.with_suffix(".tmp")
        save_file(G.state_dict(), str(tmp))
        tmp.replace(weights)
        record.update(machine_record(), commit=git_commit(), torch=torch.__version__,
                      date=datetime.now(timezone.utc).strftime("%Y-%m-%d"))
        atomic_write_bytes(args.out / "training.json", (json.dumps(record, indent=2) + "\n").encode())
        print(f"trained {record['iterations']} iterations in {record['wall_time_s']} s")
    result = score(G.eval(), sha256_file(weights))
    result["training"] = json.loads((args.out / "training.json").read_text())
    atomic_write_bytes(args.out / "scores.json", (json.dumps(result, indent=2) + "\n").encode())
    m, c = result["metrics"], result["coverage"]
    print(f"baseline: FID {m['fid']:.3f}  classes {c['classes_covered']}/10  KL {c['kl_uniform']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
