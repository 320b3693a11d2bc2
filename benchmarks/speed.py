"""Speed benchmarks of the zoo, every figure a ratio of two timings taken in this one process.

    python benchmarks/speed.py            # full run (~30 min on 2 busy CPU cores), writes speed.json and SPEED.md
    python benchmarks/speed.py --quick    # smoke run: tiny sizes, a few steps

Sections (``--only`` picks some):
- training: each family's Lightning step (``GANModule.training_step`` under a Trainer) against a minimal
  hand-written PyTorch loop of the same networks, losses, regularizers, optimizers, EMA and batches. The two are
  timed in alternating rounds and the median per-step times are compared (target: hand / Lightning >= 0.97).
- efficiency: the FLOPs of a DCGAN-64 training step (counted with torch.utils.flop_counter) over its time, as a
  share of this machine's measured matmul rate, fp32 and bf16 (target: the engine's bf16-mixed step >= 40%).
- sampling: ``Generator.sample`` images/s per family, and BigGAN-deep (zoo) against the ``pytorch-pretrained-biggan``
  package on the same random weights (target >= 1.5x, equal outputs); skipped if that package is not installed.
- evaluation: the zoo's metric call against torch-fidelity alone on the same inputs (target <= 1.05x), and a second,
  cached call.

The machine is shared: timings are this process's CPU time at 1 thread by default (``--wall --threads N`` for wall
time on an idle machine), and the load average at start and end is recorded with the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lightning as L  # noqa: E402
from lightning.pytorch.utilities import disable_possible_user_warnings  # noqa: E402

from zoo.families import dcgan, gan, lsgan, sngan, wgan, wgan_gp  # noqa: E402
from zoo.serialization import atomic_write_bytes  # noqa: E402

# family -> (class, init kwargs of the Fashion-MNIST recipe, its batch size)
FAMILIES = {
    "gan": (gan.GAN, {"latent_dim": 64}),
    "dcgan": (dcgan.DCGAN, {"latent_dim": 64, "width": 64}),
    "lsgan": (lsgan.LSGAN, {"latent_dim": 64, "width": 64}),
    "wgan": (wgan.WGAN, {"latent_dim": 64, "width": 64}),
    "wgan-gp": (wgan_gp.WGANGP, {"latent_dim": 64, "width": 32}),
    "sngan": (sngan.SNGAN, {"latent_dim": 128, "width": 32}),
}
QUICK_WIDTH = {"width": 8}


def clock() -> float:
    """The timer: this process's CPU time (default), or wall time with --wall."""
    return CLOCK[0]()


CLOCK = [time.process_time]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------------- training
class StepTimer(L.Callback):
    """Wall time from the start of batch ``warmup`` to the start of batch ``warmup + steps`` (fetch included)."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps, self.t0, self.seconds = warmup, steps, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.t0 = clock()
        elif batch_idx == self.warmup + self.steps:
            self.seconds = clock() - self.t0
            trainer.should_stop = True


def loader(images: torch.Tensor, batch_size: int) -> DataLoader:
    return DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=False, drop_last=True)


def lightning_step_time(module, images, batch_size, warmup, steps, precision="32-true") -> float:
    timer = StepTimer(warmup, steps)
    trainer = L.Trainer(accelerator="cpu", devices=1, precision=precision, max_steps=-1, max_epochs=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[timer])
    trainer.fit(module, loader(images, batch_size))
    return timer.seconds / steps


def hand_step_time(module, images, batch_size, warmup, steps, autocast=False) -> float:
    """The same training as GANModule.training_step, written out: D update, every n_critic-th a G update + EMA."""
    h, loss, regs = module.hparams, module.loss, module.regularizers
    G, D, G_ema = module.G.train(), module.D.train(), module.G_ema
    if h.optimizer == "adam":
        opt_g = torch.optim.Adam(G.parameters(), lr=h.lr_g, betas=tuple(h.betas_g))
        opt_d = torch.optim.Adam(D.parameters(), lr=h.lr_d, betas=tuple(h.betas_d))
    else:
        opt_g, opt_d = torch.optim.RMSprop(G.parameters(), lr=h.lr_g), torch.optim.RMSprop(D.parameters(), lr=h.lr_d)
    ema_params, g_params = list(G_ema.parameters()), list(G.parameters())
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast)
    t0 = None
    for i, (real,) in enumerate(loader(images, batch_size)):
        if i == warmup:
            t0 = clock()
        if i == warmup + steps:
            break
        with cast:
            z = torch.randn(batch_size, G.latent_dim)
            with torch.no_grad():
                fake = G(z)
            d_loss = loss.d_loss(D(real).float(), D(fake).float())
            for reg in regs:
                penalty = reg.d_penalty(D, real, fake)
                if penalty is not None:
                    d_loss = d_loss + penalty
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        for reg in regs:
            reg.after_d_step(D)
        if (i + 1) % h.n_critic == 0:
            D.requires_grad_(False)
            with cast:
                g_loss = loss.g_loss(D(G(torch.randn(batch_size, G.latent_dim))).float())
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            D.requires_grad_(True)
            with torch.no_grad():
                torch._foreach_lerp_(ema_params, [p.detach() for p in g_params], 1.0 - h.ema_decay)
                for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                    b_ema.copy_(b)
    return (clock() - t0) / steps


def bench_training(quick: bool, rounds: int) -> dict:
    batch, warmup, steps = (16, 2, 6) if quick else (64, 5, 20)
    results = {}
    for name, (cls, kwargs) in FAMILIES.items():
        steps_f = steps * (5 if name in ("wgan", "wgan-gp") and not quick else 1)  # n_critic 5: whole G iterations
        kwargs = {**kwargs, **(QUICK_WIDTH if quick and "width" in kwargs else {}), "sample_every": 0}
        if quick and name == "gan":
            kwargs.update(g_hidden=(32, 64), d_hidden=(64, 32))
        torch.manual_seed(0)
        base = cls(**kwargs)
        images = torch.rand((warmup + steps_f + 2) * batch, 1, 28, 28) * 2 - 1
        light, hand = [], []
        for _ in range(rounds):
            torch.manual_seed(1)
            light.append(lightning_step_time(copy.deepcopy(base), images, batch, warmup, steps_f))
            torch.manual_seed(1)
            hand.append(hand_step_time(copy.deepcopy(base), images, batch, warmup, steps_f))
        # each round times the two back to back: the median of the per-round ratios is robust to load drifting
        lm, hm = statistics.median(light), statistics.median(hand)
        ratio = statistics.median(h / l for h, l in zip(hand, light))
        results[name] = {"batch": batch, "steps": steps_f, "rounds": rounds, "lightning_ms": round(lm * 1e3, 2),
                         "hand_ms": round(hm * 1e3, 2), "ratio_hand_over_lightning": round(ratio, 3),
                         "ratio_of_best_times": round(min(hand) / min(light), 3),
                         "ratios_per_round": [round(h / l, 3) for h, l in zip(hand, light)]}
        print(f"training {name:8s} lightning {lm * 1e3:8.2f} ms  hand {hm * 1e3:8.2f} ms  ratio {ratio:.3f} "
              f"{results[name]['ratios_per_round']}", flush=True)
    return results


# ---------------------------------------------------------------------------------------------------- efficiency
def matmul_rate(dtype: torch.dtype, n: int, reps: int) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = clock()
        torch.mm(a, b)
        best = min(best, clock() - t0)
    return 2 * n ** 3 / best


def step_flops(module, batch_size: int, img_size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    images = torch.rand(2 * batch_size, 3, img_size, img_size) * 2 - 1
    counter = FlopCounterMode(display=False)
    with counter:
        hand_step_time(copy.deepcopy(module), images, batch_size, warmup=0, steps=1)
    return float(counter.get_total_flops())


def bench_efficiency(quick: bool, rounds: int) -> dict:
    batch, size, width = (16, 32, 16) if quick else (64, 64, 64)
    warmup, steps = (1, 2) if quick else (1, 3)
    rounds = min(rounds, 3)
    torch.manual_seed(0)
    base = dcgan.DCGAN(latent_dim=100, width=width, img_channels=3, img_size=size, sample_every=0)
    flops = step_flops(base, batch, size)
    n = 512 if quick else 2048
    images = torch.rand((warmup + steps + 2) * batch, 3, size, size) * 2 - 1
    runs = {"engine_fp32": lambda: lightning_step_time(copy.deepcopy(base), images, batch, warmup, steps),
            "engine_bf16_mixed": lambda: lightning_step_time(copy.deepcopy(base), images, batch, warmup, steps,
                                                             precision="bf16-mixed"),
            "hand_fp32": lambda: hand_step_time(copy.deepcopy(base), images, batch, warmup, steps),
            "hand_bf16_autocast": lambda: hand_step_time(copy.deepcopy(base), images, batch, warmup, steps, True)}
    # the matmul rate is measured in every round, next to the steps, and each step compared with its own round's
    # rate: on a shared machine both move together
    times: dict[str, list[float]] = {key: [] for key in runs}
    shares: dict[str, list[float]] = {key: [] for key in runs}
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(rounds):
        round_rates = {"fp32": matmul_rate(torch.float32, n, 10), "bf16": matmul_rate(torch.bfloat16, n, 10)}
        for dtype, rate in round_rates.items():
            rates[dtype].append(rate)
        for key, fn in runs.items():
            t = fn()
            times[key].append(t)
            shares[key].append(flops / t / round_rates["bf16" if "bf16" in key else "fp32"])
    result = {"model": f"DCGAN {size}x{size}x3, width {width}, batch {batch}", "step_gflop": round(flops / 1e9, 1),
              "matmul_tflops": {k: round(statistics.median(v) / 1e12, 3) for k, v in rates.items()}, "steps": {}}
    for key, values in times.items():
        t, share = statistics.median(values), statistics.median(shares[key])
        result["steps"][key] = {"seconds": round(t, 3), "tflops": round(flops / t / 1e12, 3),
                                "share_of_matmul_rate": round(share, 3)}
        print(f"efficiency {key:20s} {t:7.3f} s/step  {flops / t / 1e12:6.3f} TFLOP/s  {100 * share:5.1f}% of the "
              f"{'bf16' if 'bf16' in key else 'fp32'} matmul rate ({result['matmul_tflops']})", flush=True)
    return result


# ---------------------------------------------------------------------------------------------------- sampling
def images_per_second(generator, n: int, batch_size: int, rounds: int) -> float:
    generator.sample(batch_size, seed=0, batch_size=batch_size)
    best = float("inf")
    for _ in range(rounds):
        t0 = clock()
        generator.sample(n, seed=0, batch_size=batch_size)
        best = min(best, clock() - t0)
    return n / best


def bench_sampling(quick: bool, rounds: int) -> dict:
    import zoo

    n, batch = (64, 64) if quick else (1024, 256)
    results = {}
    for name, (cls, kwargs) in FAMILIES.items():
        kwargs = {**kwargs, **(QUICK_WIDTH if quick and "width" in kwargs else {}), "sample_every": 0}
        folder = ROOT / "zoo" / "weights" / f"{name}-fmnist"
        if folder.is_dir():
            generator, source = zoo.load(f"{name}-fmnist"), "bundled weights"
        else:
            torch.manual_seed(0)
            generator, source = cls(**kwargs).G_ema.eval(), "random weights (recipe config)"
        rate = images_per_second(generator, n, batch, rounds)
        results[name] = {"images_per_second": round(rate, 1), "n": n, "batch": batch, "weights": source}
        print(f"sampling {name:8s} {rate:10.1f} img/s ({source})", flush=True)
    return results


def upstream_biggan_deep(width: int):
    """pytorch-pretrained-biggan's BigGAN-deep 128 at channel width ``width``, random weights made deterministic.

    The package leaves ``generator.bn`` uninitialised and attention's gain at 0; as in the reference data in
    shared/reference, the class embedding, BN statistics and gains are drawn so that every part affects the output.
    The BNs always use their stored statistics, so train mode only advances spectral norm's power iteration.
    """
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    torch.manual_seed(0)
    model = BigGAN(BigGANConfig(channel_width=width))
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        model.embeddings.weight.normal_(0, 0.3, generator=g)
        model.generator.bn.weight.copy_(1 + 0.2 * torch.randn(model.generator.bn.weight.shape, generator=g))
        model.generator.bn.bias.copy_(0.2 * torch.randn(model.generator.bn.bias.shape, generator=g))
        for name, buffer in model.named_buffers():
            if name.endswith("running_means"):
                buffer.copy_(0.3 * torch.randn(buffer.shape, generator=g))
            elif name.endswith("running_vars"):
                buffer.copy_(0.5 + 1.5 * torch.rand(buffer.shape, generator=g))
        for name, param in model.named_parameters():
            if name.endswith("gamma"):
                param.fill_(0.7)
        # spectral norm's u/v start random: a few train-mode calls (power iterations) keep activations finite
        z, one_hot = torch.zeros(1, 128), torch.nn.functional.one_hot(torch.tensor([0]), 1000).float()
        for _ in range(5):
            model.train()(z, one_hot, 1.0)
    return model.eval()


def bench_biggan_deep(quick: bool, rounds: int) -> dict:
    try:
        import pytorch_pretrained_biggan  # noqa: F401
    except ImportError:
        return {"skipped": "pytorch-pretrained-biggan is not installed (pip install pytorch-pretrained-biggan)"}
    import tempfile

    from zoo.convert.pytorch_pretrained_biggan import convert_pytorch_pretrained_biggan

    width, batch = (16, 4) if quick else (64, 8)
    upstream = upstream_biggan_deep(width)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(upstream.state_dict(), Path(tmp) / "pytorch_model.bin")
        (Path(tmp) / "config.json").write_text(upstream.config.to_json_string())
        ours = convert_pytorch_pretrained_biggan(Path(tmp) / "pytorch_model.bin", Path(tmp) / "config.json").eval()
    ours_cl = copy.deepcopy(ours).to(memory_format=torch.channels_last)
    truncation = 0.4
    g = torch.Generator().manual_seed(0)
    z = truncation * torch.randn(batch, 128, generator=g).clamp(-2, 2)
    classes = torch.randint(1000, (batch,), generator=g)
    one_hot = torch.nn.functional.one_hot(classes, 1000).float()

    def run_upstream():
        with torch.no_grad():
            return upstream(z, one_hot, truncation)

    def run_ours(model):
        with torch.inference_mode():
            return model(z, classes, truncation)

    reference = run_upstream()
    outputs = {"zoo": run_ours(ours), "zoo_channels_last": run_ours(ours_cl)}
    times: dict[str, list[float]] = {"upstream": [], "zoo": [], "zoo_channels_last": []}
    for _ in range(max(rounds, 2)):
        for key, fn in (("upstream", run_upstream), ("zoo", lambda: run_ours(ours)),
                        ("zoo_channels_last", lambda: run_ours(ours_cl))):
            t0 = clock()
            fn()
            times[key].append(clock() - t0)
    best = {k: min(v) for k, v in times.items()}
    result = {"config": f"BigGAN-deep 128x128, channel width {width}, batch {batch}, truncation {truncation}",
              "upstream_images_per_second": round(batch / best["upstream"], 2)}
    for key in ("zoo", "zoo_channels_last"):
        result[key] = {"images_per_second": round(batch / best[key], 2),
                       "speedup_over_upstream": round(best["upstream"] / best[key], 3),
                       "max_abs_diff_vs_upstream": float((outputs[key] - reference).abs().max())}
        print(f"sampling biggan-deep {key:18s} {batch / best[key]:7.2f} img/s, "
              f"{best['upstream'] / best[key]:.2f}x pytorch-pretrained-biggan "
              f"({batch / best['upstream']:.2f} img/s), max |diff| {result[key]['max_abs_diff_vs_upstream']:.2e}",
              flush=True)
    return result


# ---------------------------------------------------------------------------------------------------- evaluation
def bench_evaluation(quick: bool, rounds: int) -> dict:
    import tempfile

    import torch_fidelity

    from zoo.metrics.extractors import resolve_extractor
    from zoo.metrics.fidelity import PRC_NEIGHBORHOOD, UInt8Sampler, evaluate_generator, metric_settings
    from zoo.metrics.reference import ImageTensorDataset, real_images

    n, m = (200, 200) if quick else (2000, 2000)
    rounds = min(rounds, 3)
    spec = resolve_extractor("auto", quiet=True)
    torch.manual_seed(0)
    generator = dcgan.DCGAN(latent_dim=64, width=8 if quick else 64).G_ema.eval()
    reference = ImageTensorDataset(real_images("fashion-mnist", "test", 28, count=m)[0], spec.channels)
    settings = metric_settings(n, m, spec)

    def fidelity_alone():
        wrapped = torch_fidelity.GenerativeModelModuleWrapper(UInt8Sampler(generator, spec.channels, 0),
                                                              generator.latent_dim, "normal", 0)
        return torch_fidelity.calculate_metrics(
            input1=wrapped, input2=reference, input1_model_num_samples=n, cuda=False, batch_size=250,
            isc=spec.has_logits, fid=True, kid=True, prc=True, feature_extractor=spec.name,
            feature_extractor_weights_path=spec.weights_path, isc_splits=10, kid_subsets=settings["kid_subsets"],
            kid_subset_size=settings["kid_subset_size"], prc_neighborhood=PRC_NEIGHBORHOOD, rng_seed=0,
            save_cpu_ram=True, verbose=False, cache=False)

    times: dict[str, list[float]] = {"torch_fidelity": [], "zoo_first_call": [], "zoo_cached_call": []}
    scores = {}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as cache:
            for key, fn in (("torch_fidelity", fidelity_alone),
                            ("zoo_first_call", lambda: evaluate_generator(  # noqa: B023 (called right away)
                                generator, dataset="fashion-mnist", extractor=spec, n_samples=n, reference_count=m,
                                cache=cache, progress=False)["metrics"]),
                            ("zoo_cached_call", lambda: evaluate_generator(  # noqa: B023
                                generator, dataset="fashion-mnist", extractor=spec, n_samples=n, reference_count=m,
                                cache=cache, progress=False)["metrics"])):
                t0 = clock()
                scores[key] = fn()
                times[key].append(clock() - t0)
    best = {k: min(v) for k, v in times.items()}
    fid_alone = float(scores["torch_fidelity"][torch_fidelity.KEY_METRIC_FID])
    result = {"setup": f"{n} generated vs {m} real Fashion-MNIST images, extractor {spec.name}, FID+KID+PR",
              "seconds": {k: round(v, 2) for k, v in best.items()},
              "ratio_zoo_over_torch_fidelity": round(best["zoo_first_call"] / best["torch_fidelity"], 3),
              "ratio_cached_over_torch_fidelity": round(best["zoo_cached_call"] / best["torch_fidelity"], 3),
              "fid": {"torch_fidelity": fid_alone, "zoo": scores["zoo_first_call"]["fid"],
                      "zoo_cached": scores["zoo_cached_call"]["fid"]}}
    print(f"evaluation torch-fidelity {best['torch_fidelity']:.2f} s, zoo {best['zoo_first_call']:.2f} s "
          f"({result['ratio_zoo_over_torch_fidelity']}x), cached {best['zoo_cached_call']:.2f} s "
          f"({result['ratio_cached_over_torch_fidelity']}x); FID {result['fid']}", flush=True)
    return result


# ---------------------------------------------------------------------------------------------------- main
SECTIONS = {"training": bench_training, "efficiency": bench_efficiency, "sampling": bench_sampling,
            "biggan_deep": bench_biggan_deep, "evaluation": bench_evaluation}


def markdown(report: dict) -> str:
    lines = ["# Speed benchmarks", "",
             f"Written by `benchmarks/speed.py{' --quick' if report['quick'] else ''}` on {report['date']} "
             f"({report['machine']}; commit {report.get('commit') or 'unknown'}; torch {report['torch']}, "
             f"{report['threads']} thread(s), timed by "
             f"{report['clock']}). Load average (1, 5, 15 min) at start {report['load_start']}, at end "
             f"{report['load_end']}: the machine was shared, so the timings are this process's CPU time (which other "
             "jobs barely change, unlike wall time) and only ratios of timings taken side by side in this run are "
             "reported.", ""]
    if "training" in report:
        lines += ["## Training: Lightning step vs a hand-written loop (target >= 0.97)", "",
                  "Median step times over the rounds; the ratio is the median of the per-round ratios (each round "
                  "times both back to back), then the ratio of the best times.", "",
                  "| family | batch | Lightning ms/step | hand loop ms/step | hand / Lightning | best / best |",
                  "|---|---|---|---|---|---|"]
        for name, r in report["training"].items():
            lines.append(f"| {name} | {r['batch']} | {r['lightning_ms']} | {r['hand_ms']} | "
                         f"{r['ratio_hand_over_lightning']} | {r['ratio_of_best_times']} |")
        lines.append("")
    if "efficiency" in report:
        e = report["efficiency"]
        lines += [f"## Efficiency: {e['model']}, {e['step_gflop']} GFLOP per step (target: engine bf16-mixed >= 40%)",
                  "", f"Measured matmul rate: fp32 {e['matmul_tflops']['fp32']} TFLOP/s, "
                  f"bf16 {e['matmul_tflops']['bf16']} TFLOP/s.", "",
                  "| step | s/step | TFLOP/s | share of the matmul rate (same dtype) |", "|---|---|---|---|"]
        for key, r in e["steps"].items():
            lines.append(f"| {key} | {r['seconds']} | {r['tflops']} | {100 * r['share_of_matmul_rate']:.1f}% |")
        lines.append("")
    if "sampling" in report:
        lines += ["## Sampling: `Generator.sample`", "", "| family | images/s | batch | weights |", "|---|---|---|---|"]
        for name, r in report["sampling"].items():
            if isinstance(r, dict) and "images_per_second" in r:
                lines.append(f"| {name} | {r['images_per_second']} | {r['batch']} | {r['weights']} |")
        lines.append("")
    if "biggan_deep" in report:
        b = report["biggan_deep"]
        if "skipped" in b:
            lines += ["## BigGAN-deep vs pytorch-pretrained-biggan", "", f"Skipped: {b['skipped']}.", ""]
        else:
            lines += [f"## BigGAN-deep vs pytorch-pretrained-biggan (target >= 1.5x, equal outputs): {b['config']}", "",
                      f"pytorch-pretrained-biggan (eval, no_grad): {b['upstream_images_per_second']} images/s.", "",
                      "| zoo | images/s | speed-up | max abs difference of the images |", "|---|---|---|---|"]
            for key in ("zoo", "zoo_channels_last"):
                r = b[key]
                lines.append(f"| {key} | {r['images_per_second']} | {r['speedup_over_upstream']}x | "
                             f"{r['max_abs_diff_vs_upstream']:.1e} |")
            lines.append("")
    if "evaluation" in report:
        e = report["evaluation"]
        lines += [f"## Evaluation: {e['setup']} (target <= 1.05x torch-fidelity alone)", "",
                  "| call | seconds | vs torch-fidelity alone | FID |", "|---|---|---|---|",
                  f"| torch-fidelity alone | {e['seconds']['torch_fidelity']} | 1 | {e['fid']['torch_fidelity']:.4f} |",
                  f"| zoo, first call | {e['seconds']['zoo_first_call']} | {e['ratio_zoo_over_torch_fidelity']}x | "
                  f"{e['fid']['zoo']:.4f} |",
                  f"| zoo, reference features cached | {e['seconds']['zoo_cached_call']} | "
                  f"{e['ratio_cached_over_torch_fidelity']}x | {e['fid']['zoo_cached']:.4f} |", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these sections")
    parser.add_argument("--rounds", type=int, help="alternating timing rounds (default 5, quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--wall", action="store_true",
                        help="time wall clock instead of this process's CPU time (only on an idle machine)")
    parser.add_argument("--out", default=str(Path(__file__).parent), help="folder for speed.json and SPEED.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.wall:
        CLOCK[0] = time.perf_counter
    disable_possible_user_warnings()
    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    rounds = args.rounds or (1 if args.quick else 5)
    from zoo.machine import cpu_model, git_commit, machine_record

    machine = machine_record()
    report = {"quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} CPUs, ISA {machine['isa']}, native "
                         f"bf16 {machine['native_bf16']} (AMX: {'yes' if machine['native_bf16'] == 'amx' else 'no'})",
              "cpu": machine, "commit": git_commit(), "torch": torch.__version__,
              "threads": args.threads, "rounds": rounds, "clock": "wall" if args.wall else "process CPU time",
              "load_start": load_average()}
    for name in args.only or list(SECTIONS):
        report[name] = SECTIONS[name](args.quick, rounds)
    report["load_end"] = load_average()
    out = Path(args.out)
    atomic_write_bytes(out / "speed.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(out / "SPEED.md", markdown(report).encode())
    print(f"wrote {out / 'speed.json'} and {out / 'SPEED.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
