"""Mode-collapse benchmark: how many modes each family covers on data whose modes are known (FAMILIES.md E.5).

    python benchmarks/modes.py                      # 2-D mixtures: every vector family x 2 mixtures x 5 seeds
    python benchmarks/modes.py --estimate 200       # time 200 G iterations per family and predict the full run
    python benchmarks/modes.py --stacked            # stacked Fashion-MNIST (1000 modes), 4 families
    python benchmarks/modes.py --quick              # smoke run of both parts (seconds): tiny budget, 1 seed
    python benchmarks/modes.py --stacked --families modereg --update   # rerun some rows, keep the others

Both parts train with the zoo's own engine (``GANModule`` under a Lightning Trainer): each family's registered
class with its loss, regularizers, n_critic, unrolling, packing, encoder or one-step mode; on the 2-D data the
networks are swapped for small MLPs (``VectorNetworks``), as in the papers' toy experiments.

- 2-D: a ring of 8 Gaussians (radius 2, std 0.02; Metz et al. 2017, arXiv:1611.02163) and a 5x5 grid (spacing 2,
  std 0.05; Lin et al. 2018, arXiv:1712.04086), ``zoo.data.mixtures``. Every family trains the same number of
  generator iterations on each mixture for each seed; then 10,000 samples of G are scored
  (``zoo.metrics.modes.mixture_coverage``): modes covered (>= 1% of the samples within 3 std of the mode) and the
  share of high-quality samples (within 3 std of some mode), mean +- std over the seeds.
- Stacked Fashion-MNIST: three random train-split images as the three channels, 1000 modes (the stacked-MNIST
  experiment of both papers); DCGAN, PacGAN, the unrolled GAN and the mode-regularized GAN at one budget; the
  project's classifier (``zoo/weights/fmnist-classifier``) labels each channel of 26,000 samples, a mode is covered
  when at least one sample falls in it, and KL(mode histogram || uniform) is reported (PacGAN's protocol). A row of
  real stacked test-split images shows what the classifier's own errors allow.

Writes ``modes.json`` (every run) and ``MODES.md`` (tables and protocol) beside this file, or under ``--out``; a
``--stacked`` run updates the stacked section and keeps the 2-D one, and the reverse. ``--update`` reruns only
``--families`` under the part's recorded protocol and replaces their rows; the part keeps its original provenance
and lists each rerun's command, commit and wall time beside it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.data.mixtures import GaussianMixture, MixtureStream, grid, ring  # noqa: E402
from zoo.metrics.modes import mixture_coverage, stacked_coverage  # noqa: E402
from zoo.serialization import atomic_write_bytes  # noqa: E402

MIXTURES = {"ring": ring, "grid": grid}
#: name -> (registered family, init kwargs, what it tests); every one trains on vectors with VectorNetworks
FAMILIES_2D: dict[str, tuple[str, dict, str]] = {
    "gan-minimax": ("gan", {"loss": "minimax"}, "GAN, saturating minimax loss"),
    "gan-ns": ("gan", {"loss": "ns"}, "GAN, non-saturating loss (the reference row)"),
    "wgan": ("wgan", {}, "Wasserstein, weight clipping 0.01, RMSprop, n_critic 5"),
    "wgan-gp": ("wgan-gp", {}, "Wasserstein, gradient penalty 10, n_critic 5"),
    "lsgan": ("lsgan", {}, "least squares (0, 1, 1)"),
    "hinge": ("dcgan", {"loss": "hinge"}, "hinge loss"),
    "tvgan": ("tvgan", {}, "TVGAN's clipped total-variation loss"),
    "rsgan": ("rgan", {"loss": "rsgan"}, "relativistic standard GAN"),
    "rasgan": ("rgan", {"loss": "rasgan"}, "relativistic average standard GAN"),
    **{f"f-{d}": ("fgan", {"divergence": d}, f"f-GAN, {d.replace('_', ' ')}") for d in (
        "kl", "reverse_kl", "pearson", "neyman", "squared_hellinger", "jeffrey", "jensen_shannon",
        "total_variation")},
    "unrolled": ("unrolled", {"unroll_steps": 5, "second_order": True}, "unrolled GAN, K = 5, second order"),
    "pacgan2": ("pacgan", {"pack": 2}, "PacGAN, packs of 2 (NS loss)"),
    "pacgan4": ("pacgan", {"pack": 4}, "PacGAN, packs of 4 (NS loss)"),
    "modereg": ("modereg", {}, "mode-regularized GAN (encoder, geometric 1, mode 0.1)"),
    "one-step": ("dcgan", {"loss": "ns", "step_mode": "one_step"}, "NS loss, one-step (simultaneous) training"),
}
REFERENCE = "gan-ns"
#: CPU time per G iteration relative to gan-ns (measured with --estimate), to start the slowest runs first
COST = {"unrolled": 8.0, "wgan-gp": 7.0, "wgan": 3.0, "modereg": 1.5}
STACKED_FAMILIES = {"dcgan": {}, "pacgan": {"pack": 2}, "unrolled": {"unroll_steps": 5}, "modereg": {}}


def quiet() -> None:
    from lightning.pytorch.utilities import disable_possible_user_warnings

    disable_possible_user_warnings()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|eval mode|Trainer\\.fit).*")


# ---------------------------------------------------------------------------------------------------- 2-D part
class VectorNetworks:
    """Mixin that gives a family small MLP networks for vectors [B, 2, 1, 1] (``zoo.nets.mlp``): G with BatchNorm
    and a tanh output, D without dropout (and 2 * pack inputs), and an MLP encoder for families that build one."""

    hidden: tuple[int, ...] = (128, 128)
    network_switches = ("pack",)

    def build_generator(self):
        from zoo.nets.mlp import MLPGenerator

        h = self.hparams
        return MLPGenerator(h.latent_dim, self.hidden, h.img_channels, h.img_size)

    def build_discriminator(self):
        from zoo.nets.mlp import MLPDiscriminator

        h = self.hparams
        return MLPDiscriminator(self.hidden, h.img_channels * h.pack, h.img_size, dropout=0.0)

    def build_encoder(self):
        from zoo.nets.mlp import MLPEncoder

        h = self.hparams
        return MLPEncoder(h.latent_dim, self.hidden, h.img_channels, h.img_size)


def vector_model(name: str, config: dict):
    """Family ``name`` of FAMILIES_2D on VectorNetworks of ``config['width']``, built as the engine builds it."""
    import zoo.families  # noqa: F401  (registers every family)
    from zoo.registry import FAMILIES

    family, kwargs, _ = FAMILIES_2D[name]
    cls = type(f"Vector{FAMILIES[family].__name__}", (VectorNetworks, FAMILIES[family]),
               {"hidden": (config["width"],) * config["depth"]})
    return cls(latent_dim=config["latent_dim"], img_channels=2, img_size=1, lr_g=config["lr"], lr_d=config["lr"],
               lr_schedule="linear", max_g_iters=config["iters"], ema_decay=0.0, sample_every=0, **kwargs)


def trainer(**kwargs):
    import lightning as L
    from lightning.pytorch.callbacks import ModelSummary

    # ModelSummary(max_depth=0) prints nothing and keeps the engine from printing its own three-line summary
    return L.Trainer(accelerator="cpu", devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, callbacks=[ModelSummary(max_depth=0)], **kwargs)


def run_2d(task: tuple[str, str, int, dict]) -> dict:
    """Train family ``name`` on ``mixture`` with ``seed`` and score 10,000 samples of G."""
    name, mixture_name, seed, config = task
    import lightning as L
    from torch.utils.data import DataLoader

    torch.set_num_threads(config["threads"])
    quiet()
    mixture: GaussianMixture = MIXTURES[mixture_name]()
    L.seed_everything(seed, verbose=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    model = vector_model(name, config)
    fit = trainer()
    fit.fit(model, DataLoader(MixtureStream(mixture, config["batch_size"], seed=seed), batch_size=None))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    with torch.no_grad():
        generator = torch.Generator().manual_seed(10_000 + seed)
        z = torch.randn(config["samples"], config["latent_dim"], generator=generator)
        samples = model.G_ema.eval()(z).flatten(1) * mixture.scale
    stats = mixture_coverage(samples, mixture.centres, mixture.std, config["radius"], config["min_share"])
    return {"family": name, "mixture": mixture_name, "seed": seed, "modes": stats["modes"],
            "num_modes": stats["num_modes"], "quality": stats["quality"], "counts": stats["counts"],
            "finite": bool(torch.isfinite(samples).all()), "g_iters": model.g_iters,
            "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2)}


def run_tasks(tasks: list, fn, workers: int) -> list[dict]:
    """``fn`` over ``tasks``, in ``workers`` processes (each with its own threads); in this process if 1."""
    if workers <= 1:
        results = []
        for i, task in enumerate(tasks):
            results.append(fn(task))
            print(f"[{i + 1}/{len(tasks)}] {summary_line(results[-1])}", flush=True)
        return results
    import multiprocessing

    results = []
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for i, result in enumerate(pool.map(fn, tasks)):
            results.append(result)
            print(f"[{i + 1}/{len(tasks)}] {summary_line(result)}", flush=True)
    return results


def summary_line(r: dict) -> str:
    if "mixture" in r:
        return (f"{r['family']} {r['mixture']} seed {r['seed']}: {r['modes']}/{r['num_modes']} modes, quality "
                f"{100 * r['quality']:.1f}%, {r['seconds']} s")
    return f"{r['family']}: {r['modes']}/{r['num_modes']} modes, KL {r['kl_uniform']:.3f}, {r['seconds']} s"


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate_2d(runs: list[dict]) -> dict:
    """family -> mixture -> mean and std (sample std over seeds) of modes and quality, and mean seconds per run."""
    table: dict = {}
    for r in runs:
        table.setdefault(r["family"], {}).setdefault(r["mixture"], []).append(r)
    out = {}
    for family, by_mixture in table.items():
        out[family] = {}
        for mixture, rs in by_mixture.items():
            modes, quality = mean_std([r["modes"] for r in rs]), mean_std([r["quality"] for r in rs])
            out[family][mixture] = {
                "modes_mean": round(modes[0], 2), "modes_std": round(modes[1], 2), "num_modes": rs[0]["num_modes"],
                "quality_mean": round(quality[0], 4), "quality_std": round(quality[1], 4),
                "per_seed_modes": [r["modes"] for r in rs], "diverged_seeds": sum(not r["finite"] for r in rs),
                "seconds_per_run": round(statistics.fmean(r["seconds"] for r in rs), 2),
                "cpu_seconds_per_run": round(statistics.fmean(r["cpu_seconds"] for r in rs), 2)}
    return out


def estimate_2d(config: dict, iters: int) -> dict:
    """CPU seconds per G iteration of every family (one seed, the ring), and the full run's predicted wall time."""
    per_iter = {}
    for name in FAMILIES_2D:
        r = run_2d((name, "ring", 0, {**config, "iters": iters}))
        per_iter[name] = r["cpu_seconds"] / iters
        print(f"{name}: {1000 * per_iter[name]:.2f} ms CPU per G iteration", flush=True)
    runs = len(MIXTURES) * config["seeds"]
    cpu_total = runs * sum(per_iter.values()) * config["iters"]
    return {"iters_timed": iters, "ms_per_g_iter": {k: round(1000 * v, 2) for k, v in per_iter.items()},
            "predicted_cpu_seconds": round(cpu_total), "predicted_wall_seconds": round(cpu_total / config["workers"])}


# ---------------------------------------------------------------------------------------------------- stacked part
class StackedFashionMNIST(torch.utils.data.Dataset):
    """``n`` images of 3 channels in [-1, 1], channel i a Fashion-MNIST image of the split, drawn at random (seeded)
    with replacement; ``labels[k]`` holds the 3 classes of item k (its mode)."""

    def __init__(self, split: str = "train", n: int = 60_000, seed: int = 0):
        from zoo.data import load_fashion_mnist

        images, labels = load_fashion_mnist(split)
        self.images = images.float().div_(127.5).sub_(1.0)
        picks = torch.randint(len(images), (n, 3), generator=torch.Generator().manual_seed(seed))
        self.picks, self.labels = picks, labels[picks]

    def __len__(self) -> int:
        return len(self.picks)

    def __getitem__(self, k: int) -> torch.Tensor:
        return self.images[self.picks[k]].squeeze(1)


@torch.no_grad()
def classify_channels(images: torch.Tensor, classifier, batch_size: int = 256) -> torch.Tensor:
    """Predicted class of each channel of float images [N, 3, 28, 28] in [-1, 1]: [N, 3]."""
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        out.append(classifier(x.reshape(-1, 1, *x.shape[2:])).argmax(1).reshape(len(x), -1))
    return torch.cat(out)


def run_stacked(family: str, config: dict, data: StackedFashionMNIST, classifier) -> dict:
    import lightning as L
    from torch.utils.data import DataLoader

    import zoo.families  # noqa: F401
    from zoo.registry import FAMILIES

    L.seed_everything(config["seed"], verbose=False)
    model = FAMILIES[family](latent_dim=config["latent_dim"], width=config["width"], img_channels=3, img_size=28,
                             max_g_iters=config["iters"], ema_decay=0.0, sample_every=0,
                             **STACKED_FAMILIES[family])
    started, cpu_started = time.perf_counter(), time.process_time()
    loader = DataLoader(data, batch_size=config["batch_size"], shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(config["seed"]))
    trainer(max_steps=-1).fit(model, loader)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    with torch.no_grad():
        generator = torch.Generator().manual_seed(10_000 + config["seed"])
        G = model.G_ema.eval()
        samples = torch.cat([G(torch.randn(min(1000, config["samples"] - s), config["latent_dim"],
                                           generator=generator)) for s in range(0, config["samples"], 1000)])
    stats = stacked_coverage(classify_channels(samples, classifier), min_count=config["min_count"])
    return {"family": family, **stats, "g_iters": model.g_iters, "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1)}


def stacked_part(config: dict) -> dict:
    from zoo.metrics.classifier import load_classifier

    torch.set_num_threads(config["threads"])
    quiet()
    classifier = load_classifier()
    real = StackedFashionMNIST("test", n=config["samples"], seed=config["seed"] + 1)
    real_stats = stacked_coverage(classify_channels(real.images[real.picks].squeeze(2), classifier),
                                  min_count=config["min_count"])
    true_stats = stacked_coverage(real.labels, min_count=config["min_count"])
    data = StackedFashionMNIST("train", n=60_000, seed=config["seed"])
    runs = []
    for family in config["families"]:
        runs.append(run_stacked(family, config, data, classifier))
        print(summary_line(runs[-1]), flush=True)
    return {"config": config, "real_test_classified": real_stats, "real_test_true_labels": true_stats, "runs": runs}


# ---------------------------------------------------------------------------------------------------- report
def fmt_pm(mean: float, std: float, digits: int = 1, scale: float = 1.0) -> str:
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def markdown(report: dict) -> str:
    lines = ["# Mode-collapse benchmark", "",
             "Written by `benchmarks/modes.py`; do not edit, rerun it. Each part records the command, commit, CPU, "
             "threads and wall time of the run that produced it.", ""]
    two_d = report.get("two_d")
    if two_d:
        c = two_d["config"]
        lines += ["## 2-D Gaussian mixtures", "",
                  f"Command `{two_d['command']}`, {two_d['date']}, commit {two_d['commit']}, {two_d['cpu']}; "
                  f"{c['workers']} worker process(es) of {c['threads']} thread(s); wall time "
                  f"{two_d['seconds']:.0f} s ({two_d['cpu_seconds']:.0f} CPU s in the runs).", *rerun_lines(two_d), "",
                  "**Protocol.** Data: a ring of 8 Gaussians (radius 2, std 0.02) and a 5x5 grid (centres at -4, -2, "
                  "0, 2, 4, std 0.05), `zoo.data.mixtures`, fed to the networks divided by 2.5 (ring) and 5 (grid) "
                  "to fit the tanh output. "
                  f"Every family trains {c['iters']:,} generator iterations (a WGAN's n_critic D steps each), batch "
                  f"{c['batch_size']}, from the same data stream per seed, seeds "
                  f"{', '.join(map(str, c['seed_list']))}, "
                  "with the zoo's engine under a Lightning Trainer: the registered family class (its loss, "
                  "regularizers, n_critic, optimizer type and betas, unrolling, packing, encoder, step mode) on "
                  f"MLP networks (`VectorNetworks`: G {c['latent_dim']}-d z, {c['depth']} hidden layers of "
                  f"{c['width']} with BatchNorm and ReLU, tanh output; D {c['depth']} hidden layers of {c['width']} "
                  "with LeakyReLU 0.2, no dropout; the mode-regularized GAN's encoder likewise). Both learning rates "
                  f"start at {c['lr']:g} for every family and decay linearly to 0 (chosen for this budget by probes of "
                  "gan-ns: it sharpens the modes; the families' image recipes use 5e-5 to 4e-4); "
                  "no EMA (G itself is scored). "
                  f"Score: {c['samples']:,} samples of G (BatchNorm in eval mode); a sample is high quality when it "
                  f"lies within {c['radius']:g} std of a mode's centre, a mode is covered when at least "
                  f"{100 * c['min_share']:g}% of all samples lie within {c['radius']:g} std of it. Cells: mean ± "
                  "sample std over the seeds. Seconds: wall time of one training run (one worker). The budget keeps "
                  "this part under 15 minutes on 2 cores (`--estimate 300` times every family and predicts the "
                  "run's wall time); at this budget the 5x5 grid is far from learned by any family (a probe of gan-ns "
                  "with 2 hidden layers covered 5 of its 25 modes after 3,000 iterations), so its columns compare "
                  "early progress.",
                  ""]
        head = "| family | what | " + " | ".join(
            f"{m}: modes (of {two_d['num_modes'][m]}) | {m}: high quality %" for m in c["mixtures"])
        lines += [head + " | s/run |", "|---|---|" + "---|---|" * len(c["mixtures"]) + "---|"]
        agg = two_d["aggregate"]
        for family in c["families"]:
            cells = []
            for m in c["mixtures"]:
                a = agg[family][m]
                note = f" ({a['diverged_seeds']} diverged)" if a["diverged_seeds"] else ""
                cells += [fmt_pm(a["modes_mean"], a["modes_std"]) + note,
                          fmt_pm(a["quality_mean"], a["quality_std"], scale=100)]
            seconds = statistics.fmean(agg[family][m]["seconds_per_run"] for m in c["mixtures"])
            lines.append(f"| {family} | {FAMILIES_2D[family][2]} | " + " | ".join(cells) + f" | {seconds:.1f} |")
        lines += ["", *verdict_lines(agg, c["mixtures"]), ""]
    stacked = report.get("stacked")
    if stacked:
        c = stacked["config"]
        lines += ["## Stacked Fashion-MNIST (1000 modes)", "",
                  f"Command `{stacked['command']}`, {stacked['date']}, commit {stacked['commit']}, {stacked['cpu']}, "
                  f"{c['threads']} thread(s); wall time {stacked['seconds']:.0f} s.", *rerun_lines(stacked), "",
                  "**Protocol.** Training data: 60,000 images whose three channels are Fashion-MNIST train images "
                  f"drawn at random (seed {c['seed']}), so 10^3 = 1000 modes. Every family trains {c['iters']:,} "
                  f"generator iterations, batch {c['batch_size']}, DCGAN networks of width {c['width']} with 3 "
                  f"channels and a {c['latent_dim']}-d z, its own defaults otherwise (PacGAN packs of 2, unrolled "
                  "K = 5 second order, the mode-regularized GAN's encoder), no EMA. Score: "
                  f"{c['samples']:,} samples; the project's classifier (fmnist-classifier, 91.8% test accuracy) "
                  f"labels each channel; a mode is covered when it gets at least {c['min_count']} sample(s); KL is "
                  "KL(mode histogram || uniform) in nats (0 is perfectly even, log 1000 = 6.91 is one mode).", "",
                  "| model | modes covered (of 1000) | KL | G iterations | training s | s per 1,000 G iterations |",
                  "|---|---|---|---|---|---|"]
        for key, label in (("real_test_true_labels", "real stacked test images, true labels"),
                           ("real_test_classified", "real stacked test images, classifier's labels")):
            r = stacked[key]
            lines.append(f"| {label} | {r['modes']} | {r['kl_uniform']:.3f} | - | - | - |")
        for r in stacked["runs"]:
            per_k = 1000 * r["seconds"] / max(r["g_iters"], 1)
            lines.append(f"| {r['family']} | {r['modes']} | {r['kl_uniform']:.3f} | {r['g_iters']:,} | "
                         f"{r['seconds']:.0f} | {per_k:.0f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def rerun_lines(record: dict) -> list[str]:
    """One line per ``--update`` rerun of some rows of a part, after the part's own provenance."""
    return [f"Rows rerun later: {', '.join(r['families'])}, command `{r['command']}`, {r['date']}, commit "
            f"{r['commit']}, {r['cpu']}; wall time {r['seconds']:.0f} s." for r in record.get("reruns", [])]


def verdict_lines(agg: dict, mixtures: list[str]) -> list[str]:
    """Which families cover more modes than the reference row on each mixture (by more than the seeds' spread)."""
    if REFERENCE not in agg:
        return []
    out = []
    for m in mixtures:
        ref = agg[REFERENCE][m]
        better = [f for f, a in agg.items() if f != REFERENCE and a[m]["modes_mean"] - a[m]["modes_std"]
                  > ref["modes_mean"] + ref["modes_std"]]
        worse = [f for f, a in agg.items() if f != REFERENCE and a[m]["modes_mean"] + a[m]["modes_std"]
                 < ref["modes_mean"] - ref["modes_std"]]
        out.append(f"- {m}: {REFERENCE} covers {fmt_pm(ref['modes_mean'], ref['modes_std'])} modes; more than it "
                   f"(mean - std above its mean + std): {', '.join(better) or 'none'}; fewer: "
                   f"{', '.join(worse) or 'none'}; the rest within the seeds' spread.")
    return out


def machine_line() -> str:
    from zoo.machine import cpu_model

    return f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"


def check_rerun(old: dict | None, config: dict, part: str) -> None:
    """Refuse (one line) a ``--update`` rerun under ``config`` that cannot replace rows of the recorded ``part``:
    checked before the rerun trains anything, and again when it is merged."""
    from zoo.errors import InvalidArgumentError

    if old is None:
        raise InvalidArgumentError(f"--update replaces rows of the existing {part} part, and modes.json has none: "
                                   "run the whole part first (without --update)")
    protocol = lambda c: {k: v for k, v in c.items() if k != "families"}  # noqa: E731
    if protocol(old["config"]) != protocol(config):
        changed = sorted(k for k in protocol(old["config"]) | protocol(config) if old["config"].get(k) != config.get(k))
        raise InvalidArgumentError(f"--update must keep the part's protocol, but {', '.join(changed)} differ from the "
                                   "recorded run: drop those options, or rerun the whole part without --update")
    unknown = sorted(set(config["families"]) - set(old["config"]["families"]))
    if unknown:
        raise InvalidArgumentError(f"--update replaces existing rows; {unknown} have none: run the whole part "
                                   "without --update to add families")


def merge_rerun(old: dict | None, new: dict, part: str) -> dict:
    """The ``part`` record ``old`` with the runs of ``new`` (a rerun of some of its families under the same
    protocol) in place of those families' runs; the rerun's provenance is appended to ``old["reruns"]``."""
    check_rerun(old, new["config"], part)
    rerun = new["config"]["families"]
    order = old["config"]["families"]
    runs = [r for r in old["runs"] if r["family"] not in rerun] + new["runs"]
    merged = {**old, "runs": sorted(runs, key=lambda r: order.index(r["family"]))}  # stable: seeds keep their order
    if part == "two_d":
        merged["aggregate"] = aggregate_2d(merged["runs"])
        merged["cpu_seconds"] = round(sum(r["cpu_seconds"] for r in merged["runs"]), 1)
    merged["reruns"] = [*old.get("reruns", []), {"families": rerun, **{k: new[k] for k in
                                                 ("command", "date", "commit", "cpu", "seconds")}}]
    return merged


def recorded_part(out: Path, part: str) -> dict | None:
    """``part`` of ``out``/modes.json as last written (None if there is none)."""
    json_path = out / "modes.json"
    return json.loads(json_path.read_text()).get(part) if json_path.is_file() else None


def write(out: Path, part: str, record: dict, update: bool = False) -> None:
    """Merge ``record`` as ``part`` into modes.json (keeping the other part; with ``update``, only its families'
    rows of that part, ``merge_rerun``) and regenerate MODES.md."""
    json_path = out / "modes.json"
    report = json.loads(json_path.read_text()) if json_path.is_file() else {}
    report[part] = merge_rerun(report.get(part), record, part) if update else record
    atomic_write_bytes(json_path, (json.dumps(report, indent=1) + "\n").encode())
    atomic_write_bytes(out / "MODES.md", markdown(report).encode())
    print(f"wrote {json_path} and {out / 'MODES.md'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stacked", action="store_true", help="the stacked Fashion-MNIST part instead of the 2-D one")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budget and networks, 1 seed, seconds")
    parser.add_argument("--iters", type=int, help="generator iterations per run (2-D default 800, stacked 5000)")
    parser.add_argument("--seeds", type=int, default=5, help="2-D seeds 0..N-1 (default 5)")
    parser.add_argument("--families", nargs="+", help="a subset of the families (default: all of the part's)")
    parser.add_argument("--update", action="store_true",
                        help="rerun only --families under the part's recorded protocol and replace their rows")
    parser.add_argument("--workers", type=int, default=2, help="2-D: parallel processes (default 2)")
    parser.add_argument("--threads", type=int, help="torch threads per process (2-D default 1, stacked 2)")
    parser.add_argument("--estimate", type=int, metavar="ITERS",
                        help="2-D: time ITERS G iterations of each family (1 seed) and predict the full run's time")
    parser.add_argument("--out", default=str(Path(__file__).parent), help="folder for modes.json and MODES.md")
    args = parser.parse_args(argv)
    quiet()
    from zoo.errors import InvalidArgumentError
    from zoo.machine import git_commit

    if args.update and not args.families:
        raise InvalidArgumentError("--update reruns some rows: name them with --families")
    command = "python benchmarks/modes.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = {"command": command.strip(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "commit": git_commit(), "cpu": machine_line()}
    started = time.perf_counter()
    if args.stacked:
        families = args.families or list(STACKED_FAMILIES)
        unknown = sorted(set(families) - set(STACKED_FAMILIES))
        if unknown:
            raise InvalidArgumentError(f"unknown stacked families {unknown}: choose from {list(STACKED_FAMILIES)}")
        config = {"iters": args.iters or (3 if args.quick else 5000), "batch_size": 16 if args.quick else 64,
                  "width": 8 if args.quick else 32, "latent_dim": 64, "seed": 0,
                  "samples": 200 if args.quick else 26_000, "min_count": 1, "families": families,
                  "threads": args.threads or (1 if args.quick else 2)}
        if args.update:
            check_rerun(recorded_part(out, "stacked"), config, "stacked")
        record = stacked_part(config)
        record.update(common, seconds=round(time.perf_counter() - started, 1))
        write(out, "stacked", record, update=args.update)
        return 0
    families = args.families or list(FAMILIES_2D)
    unknown = sorted(set(families) - set(FAMILIES_2D))
    if unknown:
        raise InvalidArgumentError(f"unknown 2-D families {unknown}: choose from {list(FAMILIES_2D)}")
    seeds = 1 if args.quick else args.seeds
    config = {"iters": args.iters or (20 if args.quick else 800), "batch_size": 64 if args.quick else 256,
              "width": 16 if args.quick else 128, "depth": 3, "latent_dim": 16, "lr": 5e-3,
              "samples": 1000 if args.quick else 10_000, "radius": 3.0, "min_share": 0.01, "seeds": seeds,
              "seed_list": list(range(seeds)), "mixtures": list(MIXTURES), "families": families,
              "workers": 1 if args.quick else args.workers, "threads": args.threads or 1}
    if args.estimate:
        estimate = estimate_2d(config, args.estimate)
        print(json.dumps(estimate, indent=1))
        return 0
    if args.update:
        check_rerun(recorded_part(out, "two_d"), config, "two_d")
    tasks = [(f, m, s, config) for s in config["seed_list"] for m in MIXTURES for f in families]
    tasks.sort(key=lambda task: -COST.get(task[0], 1.0))  # the slowest first: the workers finish together
    runs = run_tasks(tasks, run_2d, config["workers"])
    record = {**common, "config": config, "seconds": round(time.perf_counter() - started, 1),
              "cpu_seconds": round(sum(r["cpu_seconds"] for r in runs), 1),
              "num_modes": {m: len(MIXTURES[m]().centres) for m in MIXTURES},
              "aggregate": aggregate_2d(runs), "runs": runs}
    write(out, "two_d", record, update=args.update)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a one-line error for bad arguments (zoo.errors), a traceback otherwise
        from zoo.errors import ZooError

        if not isinstance(error, ZooError):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
