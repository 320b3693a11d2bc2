"""Speed benchmarks of the zoo, every figure a ratio of two timings taken side by side in this one process.

    python benchmarks/speed.py            # full run (about 12 min on 2 cores), writes speed.json and SPEED.md
    python benchmarks/speed.py --quick    # smoke run: tiny sizes, a few steps (under 2 min)

Sections (``--only`` picks some):
- training: each family's Lightning step (``GANModule.training_step`` under a Trainer) against a minimal
  hand-written PyTorch loop of the same networks, losses, regularizers, optimizers, EMA and batches, timed in
  alternating rounds (target: hand / Lightning >= 0.95 for gan, >= 0.97 for the others, median of the rounds).
- efficiency: the FLOPs of a DCGAN-64 training step (torch.utils.flop_counter) over its time, as a share of this
  machine's measured matmul rate, fp32 and bf16.
- sampling: ``Generator.sample`` images/s of every bundled model as ``zoo.load`` prepares it, channels-last, bf16
  (with its PSNR against float32, where the CPU has native bf16) and torch.compile.
- biggan_deep: BigGAN-deep-128 (zoo) against the ``pytorch-pretrained-biggan`` package on the same weights
  (target >= 1.5x, outputs within 1e-5); skipped if that package is not installed.
- biggan128: BigGAN-128 (StudioGAN layout) as ``zoo.load`` prepares it against a plain eval forward of the same
  module without the inference shortcuts (target >= 1.3x).
- evaluation: ``evaluate_generator`` against sampling the same number of images + torch-fidelity alone on them in
  memory (target <= 1.10x), with a profile of where the zoo's call spends its time.

Timings are wall time with every core (``--threads``): run it on an otherwise idle machine. The commit, CPU model,
ISA and load average at start and end are recorded with the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
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

from zoo.families import biggan, dcgan, gan, lsgan, sngan, wgan, wgan_gp  # noqa: E402
from zoo.serialization import atomic_write_bytes  # noqa: E402

# family -> (class, init kwargs of its Fashion-MNIST recipe, image size)
FAMILIES = {
    "gan": (gan.GAN, {"latent_dim": 64}, 28),
    "dcgan": (dcgan.DCGAN, {"latent_dim": 64, "width": 64}, 28),
    "lsgan": (lsgan.LSGAN, {"latent_dim": 64, "width": 64}, 28),
    "wgan": (wgan.WGAN, {"latent_dim": 64, "width": 32, "optimizer": "rmsprop", "n_critic": 5, "clip": 0.01}, 28),
    "wgan-gp": (wgan_gp.WGANGP, {"latent_dim": 64, "width": 32}, 28),
    "sngan": (sngan.SNGAN, {"latent_dim": 128, "width": 32}, 28),
    "biggan": (biggan.BigGAN, {"latent_dim": 128, "shared_dim": 64, "num_classes": 10, "img_size": 32,
                               "img_channels": 1, "width": 16, "channel_multipliers": [4, 4, 2, 1],
                               "attention_at": 16, "d_attention_at": None, "orthogonal_reg": 1e-4, "loss": "hinge",
                               "n_critic": 2}, 32),
}
QUICK_WIDTH = {"width": 8}
TARGETS = {"gan": 0.95}  # hand / Lightning; every other family 0.97


def clock() -> float:
    return time.perf_counter()


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


def loader(data: tuple[torch.Tensor, ...], batch_size: int) -> DataLoader:
    """Batches of ``data``: (images,) or (images, labels)."""
    return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=False, drop_last=True)


def lightning_step_time(module, data, batch_size, warmup, steps, precision="32-true") -> float:
    timer = StepTimer(warmup, steps)
    trainer = L.Trainer(accelerator="cpu", devices=1, precision=precision, max_steps=-1, max_epochs=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[timer])
    trainer.fit(module, loader(data, batch_size))
    return timer.seconds / steps


def hand_step_time(module, data, batch_size, warmup, steps, autocast=False) -> float:
    """The same training as GANModule.training_step, written out: D update, every n_critic-th a G update + EMA.

    The optimizers are the engine's (foreach Adam / RMSprop), so the ratio measures the engine's overhead alone.
    """
    h, loss, regs = module.hparams, module.loss, module.regularizers
    G, D, G_ema = module.G.train(), module.D.train(), module.G_ema
    if h.optimizer == "adam":
        opt_g = torch.optim.Adam(G.parameters(), lr=h.lr_g, betas=tuple(h.betas_g), foreach=True)
        opt_d = torch.optim.Adam(D.parameters(), lr=h.lr_d, betas=tuple(h.betas_d), foreach=True)
    else:
        opt_g = torch.optim.RMSprop(G.parameters(), lr=h.lr_g, foreach=True)
        opt_d = torch.optim.RMSprop(D.parameters(), lr=h.lr_d, foreach=True)
    ema_params, g_params = list(G_ema.parameters()), list(G.parameters())
    classes = getattr(G, "num_classes", 0)
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast)
    t0 = None
    for i, batch in enumerate(loader(data, batch_size)):
        if i == warmup:
            t0 = clock()
        if i == warmup + steps:
            break
        real, labels = batch[0], (batch[1] if classes else None)
        with cast:
            z = torch.randn(batch_size, G.latent_dim)
            y = torch.randint(classes, (batch_size,)) if classes else None
            with torch.no_grad():
                fake = G(z) if y is None else G(z, y)
            real_scores = D(real) if y is None else D(real, labels)
            fake_scores = D(fake) if y is None else D(fake, y)
            d_loss = loss.d_loss(real_scores.float(), fake_scores.float())
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
                z = torch.randn(batch_size, G.latent_dim)
                if classes:
                    y = torch.randint(classes, (batch_size,))
                    g_loss = loss.g_loss(D(G(z, y), y).float())
                else:
                    g_loss = loss.g_loss(D(G(z)).float())
                for reg in regs:
                    penalty = reg.g_penalty(G)
                    if penalty is not None:
                        g_loss = g_loss + penalty
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
    results = {}
    for name, (cls, kwargs, size) in FAMILIES.items():
        kwargs = {**kwargs, **(QUICK_WIDTH if quick and "width" in kwargs else {}), "sample_every": 0}
        if quick and name == "gan":
            kwargs.update(g_hidden=(32, 64), d_hidden=(64, 32))
        results[name] = time_family(cls, kwargs, size, quick, rounds, TARGETS.get(name, 0.97))
        r = results[name]
        print(f"training {name:8s} lightning {r['lightning_ms']:8.2f} ms  hand {r['hand_ms']:8.2f} ms  ratio "
              f"{r['ratio_hand_over_lightning']:.3f} (target {r['target']}) {r['ratios_per_round']}", flush=True)
    return results


def time_family(cls, kwargs: dict, size: int, quick: bool, rounds: int, target: float) -> dict:
    """One family's Lightning step against the hand loop, in alternating rounds."""
    batch, warmup, steps = (16, 2, 6) if quick else (64, 5, 20)
    torch.manual_seed(0)
    base = cls(**kwargs)
    n_critic = base.hparams.n_critic

    def make_data(steps_f):
        count = (warmup + steps_f + 2) * batch
        labels = (torch.randint(10, (count,)),) if base.conditional else ()
        return (torch.rand(count, 1, size, size) * 2 - 1, *labels)

    # enough steps for each timing to last ~2 s (~0.5 s quick): shorter ones are mostly timer noise here. The probe
    # is the faster of two: the process's first fit runs cold (measured 5x the step time, so 20 steps, not 100)
    probe = min(lightning_step_time(copy.deepcopy(base), make_data(4 * n_critic), batch, warmup, 4 * n_critic)
                for _ in range(2))
    steps_f = n_critic * max(steps, math.ceil((0.5 if quick else 2.0) / probe / n_critic))  # whole G iterations
    data = make_data(steps_f)
    times = {"light": [], "hand": []}
    timers = {"light": lambda: lightning_step_time(copy.deepcopy(base), data, batch, warmup, steps_f),
              "hand": lambda: hand_step_time(copy.deepcopy(base), data, batch, warmup, steps_f)}
    for r in range(rounds):  # alternating, so that a drift of the machine's speed hits both alike, and in turns
        for key in (("light", "hand") if r % 2 == 0 else ("hand", "light")):  # (the second runs on a warmer cache)
            torch.manual_seed(1)
            times[key].append(timers[key]())
    light, hand = times["light"], times["hand"]
    ratio = statistics.median(h / l for h, l in zip(hand, light))
    return {"batch": batch, "steps": steps_f, "rounds": rounds,
            "lightning_ms": round(statistics.median(light) * 1e3, 2),
            "hand_ms": round(statistics.median(hand) * 1e3, 2),
            "ratio_hand_over_lightning": round(ratio, 3), "target": target, "met": ratio >= target,
            "ratios_per_round": [round(h / l, 3) for h, l in zip(hand, light)]}


def bench_one_step(quick: bool, rounds: int) -> dict:
    """dcgan-fmnist's networks trained by alternating D and G updates against ``step_mode="one_step"`` (one loss,
    one backward, one optimizer step): wall time per generator iteration under the Trainer, alternating rounds."""
    kwargs = {"latent_dim": 64, "width": 8 if quick else 64, "sample_every": 0}
    batch, warmup, steps = (16, 2, 6) if quick else (64, 5, 60)
    torch.manual_seed(0)
    models = {"alternating": dcgan.DCGAN(**kwargs), "one_step": dcgan.DCGAN(**kwargs, step_mode="one_step")}
    data = (torch.rand((warmup + steps + 2) * batch, 1, 28, 28) * 2 - 1,)
    times = {key: [] for key in models}
    for r in range(rounds):
        for key in (("alternating", "one_step") if r % 2 == 0 else ("one_step", "alternating")):
            torch.manual_seed(1)
            times[key].append(lightning_step_time(copy.deepcopy(models[key]), data, batch, warmup, steps))
    ratio = statistics.median(a / o for a, o in zip(times["alternating"], times["one_step"]))
    result = {"model": f"DCGAN width {kwargs['width']}, batch {batch}", "steps": steps, "rounds": rounds,
              "alternating_ms_per_g_iter": round(statistics.median(times["alternating"]) * 1e3, 2),
              "one_step_ms_per_g_iter": round(statistics.median(times["one_step"]) * 1e3, 2),
              "speedup": round(ratio, 3)}
    print(f"one-step {result}", flush=True)
    return result


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

    images = (torch.rand(2 * batch_size, 3, img_size, img_size) * 2 - 1,)
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
    images = (torch.rand((warmup + steps + 2) * batch, 3, size, size) * 2 - 1,)
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
def psnr(images: torch.Tensor, reference: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2) against the reference."""
    mse = float((images.float() - reference.float()).square().mean())
    return float("inf") if mse == 0 else 10 * math.log10(4 / mse)


def bench_sampling(quick: bool, rounds: int) -> dict:
    """images/s of ``sample()`` for every bundled model as ``zoo.load`` gives it (channels-last), in the default
    memory layout, and under bf16 autocast where the CPU has native bf16."""
    import zoo
    from zoo.machine import native_bf16

    n, batch = (256, 128) if quick else (2048, 256)
    results = {}
    names = [m for m in zoo.list_models(pretrained=True) if (ROOT / "zoo" / "weights" / m).is_dir()
             and zoo.get_entry(m).family != "classifier"]
    for name in names[:2] if quick else names:
        model = zoo.load(name)  # channels-last
        variants = {"contiguous": copy.deepcopy(model).to(memory_format=torch.contiguous_format), "default": model}
        calls = {key: (lambda m=m: m.sample(n, seed=0, batch_size=batch)) for key, m in variants.items()}
        if native_bf16():
            calls["bf16"] = lambda m=model: m.sample(n, seed=0, batch_size=batch, dtype=torch.bfloat16)
        images = {}
        timed = side_by_side(calls, "contiguous", n, rounds, outputs=images)
        if "bf16" in timed:
            timed["bf16"]["psnr_db_vs_fp32"] = round(psnr(images["bf16"], images["default"]), 1)
        results[name] = {"n": n, "batch": batch, **timed}
        print(f"sampling {name:16s} " + ", ".join(f"{k} {v['images_per_second']:.0f} img/s ({v['speedup']:.2f}x)"
                                                  for k, v in timed.items()), flush=True)
    return results


def bench_compile(quick: bool, rounds: int) -> dict:
    """torch.compile (``nn.Module.compile``) for sampling dcgan-fmnist as ``zoo.load`` gives it and for the training
    step (DCGAN): kept as an option only where it wins by more than the noise; the compile time is reported apart."""
    import zoo

    n, batch = (256, 128) if quick else (2048, 256)
    model = zoo.load("dcgan-fmnist")
    compiled = copy.deepcopy(model)
    compiled.compile()
    t0 = clock()
    compiled.sample(batch, seed=0, batch_size=batch)
    first_call = clock() - t0
    timed = side_by_side({"eager": lambda: model.sample(n, seed=0, batch_size=batch),
                          "compiled": lambda: compiled.sample(n, seed=0, batch_size=batch)}, "eager", n, rounds)
    diff = float((compiled.sample(64, seed=0) - model.sample(64, seed=0)).abs().max())
    result = {"sampling": {"model": "dcgan-fmnist", "n": n, "batch": batch, **timed,
                           "compile_seconds": round(first_call, 1), "max_abs_diff": diff}}
    print(f"compile sampling: eager {timed['eager']['images_per_second']:.0f} img/s, compiled "
          f"{timed['compiled']['images_per_second']:.0f} img/s ({timed['compiled']['speedup']:.2f}x), first call "
          f"{first_call:.1f} s, max |diff| {diff:.1e}", flush=True)

    batch_t, warmup, steps = (16, 2, 4) if quick else (64, 3, 15)
    torch.manual_seed(0)
    base = dcgan.DCGAN(latent_dim=64, width=8 if quick else 64, sample_every=0)
    data = (torch.rand((warmup + steps + 2) * batch_t, 1, 28, 28) * 2 - 1,)
    steps_eager, steps_compiled = [], []
    for _ in range(max(2, min(rounds, 3))):
        steps_eager.append(lightning_step_time(copy.deepcopy(base), data, batch_t, warmup, steps))
        module = copy.deepcopy(base)
        module.G.compile()
        module.D.compile()
        steps_compiled.append(lightning_step_time(module, data, batch_t, warmup, steps))
    eager, comp = min(steps_eager), min(steps_compiled)
    result["training"] = {"family": "dcgan", "batch": batch_t, "eager_ms": round(eager * 1e3, 2),
                          "compiled_ms": round(comp * 1e3, 2), "speedup": round(eager / comp, 3)}
    print(f"compile training step (dcgan): eager {eager * 1e3:.1f} ms, G and D compiled {comp * 1e3:.1f} ms "
          f"({eager / comp:.2f}x)", flush=True)
    return result


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
    truncation = 0.4
    g = torch.Generator().manual_seed(0)
    z = truncation * torch.randn(batch, 128, generator=g).clamp(-2, 2)
    classes = torch.randint(1000, (batch,), generator=g)
    one_hot = torch.nn.functional.one_hot(classes, 1000).float()

    def run_upstream():
        with torch.no_grad():
            return upstream(z, one_hot, truncation)

    variants = zoo_variants(ours, lambda model: model(z, classes, truncation))
    result = {"config": f"BigGAN-deep 128x128, channel width {width}, batch {batch}, truncation {truncation}",
              "target": 1.5}
    result.update(side_by_side({"upstream": run_upstream, **variants}, "upstream", batch, rounds))
    reference = run_upstream()
    for key in variants:
        out = variants[key]()
        result[key]["max_abs_diff_vs_upstream"] = float((out - reference).abs().max())
        result[key]["psnr_db_vs_upstream"] = round(psnr(out, reference), 1)
        print(f"sampling biggan-deep {key:12s} {result[key]['images_per_second']:7.2f} img/s, "
              f"{result[key]['speedup']:.2f}x pytorch-pretrained-biggan "
              f"({result['upstream']['images_per_second']:.2f} img/s), max |diff| "
              f"{result[key]['max_abs_diff_vs_upstream']:.2e}", flush=True)
    result["met"] = result["zoo"]["speedup"] >= 1.5 and result["zoo"]["max_abs_diff_vs_upstream"] <= 1e-5
    return result


def bench_biggan128(quick: bool, rounds: int) -> dict:
    """BigGAN-128 in StudioGAN's layout (width 96, attention at 64x64; random weights, as the converter would
    give): as ``zoo.load`` prepares it against a plain eval forward of the same module."""
    from zoo.nets.biggan import BigGANGenerator

    torch.manual_seed(0)
    options = dict(latent_dim=120, shared_dim=128, num_classes=1000, img_size=128, img_channels=3,
                   width=16 if quick else 96, attention_at=64)
    model = BigGANGenerator(**options).eval()
    with torch.no_grad():  # trained-like statistics and attention, so that every part of the forward runs
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.3)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
        model.blocks[4].gamma.fill_(0.7)
    batch = 4 if quick else 8
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(batch, 120, generator=g), torch.randint(1000, (batch,), generator=g)
    variants = zoo_variants(model, lambda m: m(z, y))
    result = {"config": f"BigGAN 128x128 (StudioGAN layout), width {options['width']}, batch {batch}",
              "target": 1.3, **side_by_side(variants, "zoo_plain", batch, rounds)}
    reference = variants["zoo_plain"]()
    for key in variants:
        out = variants[key]()
        result[key]["max_abs_diff_vs_plain"] = float((out - reference).abs().max())
        result[key]["psnr_db_vs_plain"] = round(psnr(out, reference), 1)
        print(f"sampling biggan-128 {key:12s} {result[key]['images_per_second']:7.2f} img/s, "
              f"{result[key]['speedup']:.2f}x the plain forward, max |diff| "
              f"{result[key]['max_abs_diff_vs_plain']:.2e}", flush=True)
    result["met"] = result["zoo"]["speedup"] >= 1.3
    return result


def zoo_variants(model, forward) -> dict:
    """Calls of ``forward`` on: the plain module (inference shortcuts off, default memory layout), the module as
    ``zoo.load`` prepares it (``optimize_for_inference``), and that under bf16 autocast where the CPU has native
    bf16."""
    from zoo.layers import inference_shortcuts
    from zoo.machine import native_bf16

    prepared = copy.deepcopy(model).optimize_for_inference()

    def run(m, shortcuts=True, bf16=False):
        def call():
            with torch.inference_mode(), inference_shortcuts(shortcuts), torch.autocast(
                    "cpu", dtype=torch.bfloat16, enabled=bf16):
                return forward(m).float()
        return call

    calls = {"zoo_plain": run(model, shortcuts=False), "zoo": run(prepared)}
    if native_bf16():
        calls["zoo_bf16"] = run(prepared, bf16=True)
    return calls


def side_by_side(calls: dict, baseline: str, batch: int, rounds: int, outputs: dict | None = None) -> dict:
    """Time every call once per round, in turn (so a drift of the machine's speed hits all alike): the median time
    of each, and its speed-up over ``baseline`` as the median of the per-round ratios. ``outputs``, if given,
    receives each call's result from the untimed warm-up round (the calls are deterministic)."""
    for key, fn in calls.items():  # warm-up (allocator, caches)
        result = fn()
        if outputs is not None:
            outputs[key] = result
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(max(rounds, 3)):
        for key, fn in calls.items():
            t0 = clock()
            fn()
            times[key].append(clock() - t0)
    out = {}
    for key, values in times.items():
        median = statistics.median(values)
        ratio = statistics.median(b / t for b, t in zip(times[baseline], values))
        out[key] = {"images_per_second": round(batch / median, 2), "seconds": round(median, 4),
                    "speedup": round(ratio, 3)}
    return out


# ---------------------------------------------------------------------------------------------------- evaluation
#: where ``evaluate_generator`` spends its time: profile rows -> functions whose cumulative time they sum
PROFILE_ROWS = {
    "sampling (generator forward)": [("fidelity.py", "forward"), ("generator.py", "sample")],
    "uint8 rounding": [("images.py", "to_uint8")],
    "resizing to the reference resolution": [("functional.py", "interpolate")],
    "feature extraction (extractor forward)": [("extractors.py", "forward")],
    "FID statistics and distance": [("metric_fid.py", "fid_featuresdict_to_statistics"),
                                    ("metric_fid.py", "fid_statistics_to_metric")],
    "KID": [("metric_kid.py", "kid_featuresdict_to_metric")],
    "precision/recall": [("metric_prc.py", "prc_featuresdict_to_metric")],
    "IS": [("metric_isc.py", "isc_featuresdict_to_metric")],
    "class coverage": [("fidelity.py", "_coverage")],
    "reference images (load, hash) and cached features": [("fidelity.py", "_reference"),
                                                            ("reference.py", "load_features")],
    "writing images to disk": [("Image.py", "save"), ("utils.py", "save_image")],
}


def profile_rows(stats, total: float) -> dict:
    """Cumulative seconds of each PROFILE_ROWS entry (the first match per function; nested calls not double
    counted within a row) and their share of ``total``."""
    rows = {}
    for row, functions in PROFILE_ROWS.items():
        seconds = 0.0
        for (file, _, func), (_, _, _, cumulative, _) in stats.stats.items():
            if any(file.endswith(f) and func == name for f, name in functions):
                seconds += cumulative
        rows[row] = {"seconds": round(seconds, 3), "share": round(seconds / total, 3)}
    return rows


def bench_evaluation(quick: bool, rounds: int) -> dict:
    """``evaluate_generator`` (10,000 samples of dcgan-fmnist, fmnist-cnn) against the same work done by hand:
    ``sample()`` the images, round them to uint8, and call torch-fidelity on them and the reference in memory."""
    import cProfile
    import pstats
    import tempfile

    import torch_fidelity

    import zoo
    from zoo.images import to_uint8
    from zoo.metrics.extractors import resolve_extractor
    from zoo.metrics.fidelity import PRC_NEIGHBORHOOD, evaluate_generator, metric_settings
    from zoo.metrics.reference import ImageTensorDataset, real_images

    n = 1000 if quick else 10_000
    rounds = min(max(rounds, 2), 3)
    spec = resolve_extractor("fmnist-cnn", quiet=True)
    model = zoo.load("dcgan-fmnist")
    reference_images = real_images("fashion-mnist", "test", 28, count=n)[0]
    settings = metric_settings(n, n, spec)

    def by_hand():
        images = to_uint8(model.sample(n, seed=0, batch_size=250))
        return torch_fidelity.calculate_metrics(
            input1=ImageTensorDataset(images, spec.channels), input2=ImageTensorDataset(reference_images,
                                                                                         spec.channels),
            cuda=False, batch_size=250, isc=spec.has_logits, fid=True, kid=True, prc=True,
            feature_extractor=spec.name, feature_extractor_weights_path=spec.weights_path, isc_splits=10,
            kid_subsets=settings["kid_subsets"], kid_subset_size=settings["kid_subset_size"],
            prc_neighborhood=PRC_NEIGHBORHOOD, rng_seed=0, save_cpu_ram=True, verbose=False, cache=False)

    with tempfile.TemporaryDirectory() as cache:
        def zoo_call(cache_dir):
            return evaluate_generator(model, dataset="fashion-mnist", extractor=spec, n_samples=n,
                                      reference_count=n, cache=cache_dir, progress=False)

        def zoo_first_call():
            with tempfile.TemporaryDirectory() as fresh:
                return zoo_call(fresh)

        calls = {"by_hand": by_hand, "zoo_first_call": zoo_first_call, "zoo_cached": lambda: zoo_call(cache)}
        scores = {}
        timed = side_by_side(calls, "by_hand", n, rounds, outputs=scores)
        profiler = cProfile.Profile()
        t0 = clock()
        profiler.enable()
        zoo_call(cache)
        profiler.disable()
        profiled_seconds = clock() - t0
    fid_by_hand = float(scores["by_hand"][torch_fidelity.KEY_METRIC_FID])
    result = {"setup": f"{n:,} samples of dcgan-fmnist vs {n:,} test images, extractor {spec.name}, IS+FID+KID+PR "
                       "(+ class coverage in the zoo's call)",
              "target": 1.10, **timed,
              "fid": {"by_hand": fid_by_hand, "zoo_first_call": scores["zoo_first_call"]["metrics"]["fid"],
                      "zoo_cached": scores["zoo_cached"]["metrics"]["fid"]},
              "profile": {"seconds": round(profiled_seconds, 2),
                          "rows": profile_rows(pstats.Stats(profiler), profiled_seconds)}}
    for key in ("zoo_first_call", "zoo_cached"):
        result[key]["ratio_to_by_hand"] = round(1 / result[key]["speedup"], 3)
    result["met"] = max(result[k]["ratio_to_by_hand"] for k in ("zoo_first_call", "zoo_cached")) <= 1.10
    print(f"evaluation by hand {timed['by_hand']['seconds']:.2f} s, zoo first call "
          f"{timed['zoo_first_call']['seconds']:.2f} s ({result['zoo_first_call']['ratio_to_by_hand']}x), cached "
          f"{timed['zoo_cached']['seconds']:.2f} s ({result['zoo_cached']['ratio_to_by_hand']}x); FID {result['fid']}",
          flush=True)
    for row, r in result["profile"]["rows"].items():
        print(f"  {row:52s} {r['seconds']:7.3f} s  {100 * r['share']:5.1f}%")
    return result


# ---------------------------------------------------------------------------------------------------- main
SECTIONS = {"training": bench_training, "one_step": bench_one_step, "efficiency": bench_efficiency,
            "sampling": bench_sampling, "compile": bench_compile, "biggan_deep": bench_biggan_deep,
            "biggan128": bench_biggan128, "evaluation": bench_evaluation}


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def variants_table(section: dict, baseline_label: str, diff_key: str, psnr_key: str) -> list[str]:
    lines = [f"| variant | images/s | speed-up over {baseline_label} | max abs difference | PSNR (dB) |",
             "|---|---|---|---|---|"]
    for key, r in section.items():
        if isinstance(r, dict) and "images_per_second" in r:
            diff = f"{r[diff_key]:.1e}" if diff_key in r else "-"
            lines.append(f"| {key} | {r['images_per_second']} | {r['speedup']}x | {diff} | {r.get(psnr_key, '-')} |")
    return lines + [""]


def section_times(report: dict) -> str:
    """Where the run's time went, for the header: ' (training 420 s, sampling 90 s, ...)'."""
    times = report.get("section_seconds") or {}
    return f" ({', '.join(f'{name} {seconds:.0f} s' for name, seconds in times.items())})" if times else ""


def markdown(report: dict) -> str:
    lines = ["# Speed benchmarks", "",
             f"Written by `benchmarks/speed.py{' --quick' if report['quick'] else ''}` on {report['date']} in "
             f"{report['seconds']:.0f} s{section_times(report)}: {report['machine']}; commit "
             f"{report.get('commit') or 'unknown'}; torch {report['torch']}, {report['threads']} thread(s), wall time. "
             f"Load average (1, 5, 15 min) at start {report['load_start']}, at end {report['load_end']}. Every ratio "
             "compares timings taken side by side in this one run (alternating rounds, median of the per-round "
             "ratios). Do not edit: rerun the script.",
             ""]
    if "training" in report:
        lines += ["## Training: Lightning step vs a hand-written loop", "",
                  "The engine's `training_step` under a Trainer against the same networks, losses, regularizers, "
                  "optimizers (foreach Adam/RMSprop) and EMA in a plain loop; ms per training step (one D update, "
                  "a G update every n_critic-th), median of the per-round ratios of "
                  f"{report.get('training_rounds', report['rounds'])} alternating rounds. "
                  "Target: hand / Lightning >= 0.95 (gan), >= 0.97 (the others).",
                  "", "| family | batch | Lightning ms/step | hand loop ms/step | hand / Lightning | target | "
                  "per round |", "|---|---|---|---|---|---|---|"]
        for name, r in report["training"].items():
            lines.append(f"| {name} | {r['batch']} | {r['lightning_ms']} | {r['hand_ms']} | "
                         f"{r['ratio_hand_over_lightning']} | {r['target']} {verdict(r['met'])} | "
                         f"{', '.join(map(str, r['ratios_per_round']))} |")
        lines.append("")
    if "one_step" in report:
        o = report["one_step"]
        lines += ["## One-step training vs alternating updates", "",
                  f"{o['model']} under the Trainer, ms per generator iteration (n_critic 1: one batch), median of "
                  f"{o['rounds']} alternating rounds of {o['steps']} iterations: alternating D and G updates "
                  f"{o['alternating_ms_per_g_iter']} ms, `step_mode: one_step` {o['one_step_ms_per_g_iter']} ms "
                  f"({o['speedup']}x: one G forward and one backward call fewer, but D's weight gradients are computed "
                  "for both terms of the bracket, where the alternating G step freezes D).", ""]
    if "efficiency" in report:
        e = report["efficiency"]
        lines += [f"## Efficiency: {e['model']}, {e['step_gflop']} GFLOP per step", "",
                  f"Measured matmul rate: fp32 {e['matmul_tflops']['fp32']} TFLOP/s, "
                  f"bf16 {e['matmul_tflops']['bf16']} TFLOP/s.", "",
                  "| step | s/step | TFLOP/s | share of the matmul rate (same dtype) |", "|---|---|---|---|"]
        for key, r in e["steps"].items():
            lines.append(f"| {key} | {r['seconds']} | {r['tflops']} | {100 * r['share_of_matmul_rate']:.1f}% |")
        lines.append("")
    if "sampling" in report:
        lines += ["## Sampling: `Generator.sample` of the bundled models", "",
                  "`default` is the model as `zoo.load` gives it (weights channels-last), `contiguous` the same "
                  "model in the default memory layout, `bf16` the default under bf16 autocast "
                  "(`sample(dtype=torch.bfloat16)`, only where the CPU has native bf16) with its images' PSNR "
                  "against float32. Speed-ups are over `contiguous`.", "",
                  "| model | n | contiguous img/s | default img/s | bf16 img/s | bf16 PSNR (dB) |",
                  "|---|---|---|---|---|---|"]
        for name, r in report["sampling"].items():
            d, bf = r["default"], r.get("bf16", {})
            lines.append(f"| {name} | {r['n']} | {r['contiguous']['images_per_second']} | "
                         f"{d['images_per_second']} ({d['speedup']}x) | "
                         f"{bf.get('images_per_second', '-')} ({bf.get('speedup', '-')}x) | "
                         f"{bf.get('psnr_db_vs_fp32', '-')} |")
        lines.append("")
    if "compile" in report:
        c = report["compile"]
        s_, t_ = c["sampling"], c["training"]
        lines += ["## torch.compile", "",
                  f"- Sampling {s_['model']} as `zoo.load` gives it (n {s_['n']}, batch {s_['batch']}): eager "
                  f"{s_['eager']['images_per_second']} img/s, compiled {s_['compiled']['images_per_second']} img/s "
                  f"({s_['compiled']['speedup']}x); the first call compiles for {s_['compile_seconds']} s; max abs "
                  f"difference {s_['max_abs_diff']:.1e}.",
                  f"- Training step ({t_['family']}, batch {t_['batch']}, G and D compiled): eager {t_['eager_ms']} ms,"
                  f" compiled {t_['compiled_ms']} ms ({t_['speedup']}x).", ""]
    if "biggan_deep" in report:
        b = report["biggan_deep"]
        if "skipped" in b:
            lines += ["## BigGAN-deep vs pytorch-pretrained-biggan", "", f"Skipped: {b['skipped']}.", ""]
        else:
            lines += [f"## BigGAN-deep vs pytorch-pretrained-biggan: {b['config']}", "",
                      f"Target: `zoo` (the model as `zoo.load` prepares it, float32) >= {b['target']}x the package on "
                      f"the same weights, outputs within 1e-5: {verdict(b['met'])}. `zoo_plain` is the same module "
                      "without the inference shortcuts, in the default memory layout.", ""]
            lines += variants_table({k: v for k, v in b.items() if k not in ("config", "target", "met")},
                                    "the package", "max_abs_diff_vs_upstream", "psnr_db_vs_upstream")
    if "biggan128" in report:
        b = report["biggan128"]
        lines += [f"## BigGAN-128 (StudioGAN layout): {b['config']}", "",
                  f"Target: `zoo` >= {b['target']}x `zoo_plain`, a plain eval forward of the same module (no "
                  f"inference shortcuts, default memory layout): {verdict(b['met'])}.", ""]
        lines += variants_table({k: v for k, v in b.items() if k not in ("config", "target", "met")},
                                "zoo_plain", "max_abs_diff_vs_plain", "psnr_db_vs_plain")
    if "evaluation" in report:
        e = report["evaluation"]
        lines += [f"## Evaluation: {e['setup']}", "",
                  f"Target: `evaluate_generator` <= {e['target']}x the same work by hand (`sample()`, uint8, "
                  f"torch-fidelity on both image sets in memory, no cache): {verdict(e['met'])}.", "",
                  "| call | seconds | vs by hand | FID |", "|---|---|---|---|",
                  f"| by hand: sample + torch-fidelity | {e['by_hand']['seconds']} | 1 | {e['fid']['by_hand']:.4f} |",
                  f"| zoo, first call (empty cache) | {e['zoo_first_call']['seconds']} | "
                  f"{e['zoo_first_call']['ratio_to_by_hand']}x | {e['fid']['zoo_first_call']:.4f} |",
                  f"| zoo, reference features cached | {e['zoo_cached']['seconds']} | "
                  f"{e['zoo_cached']['ratio_to_by_hand']}x | {e['fid']['zoo_cached']:.4f} |", "",
                  f"Where one cached call spends its {e['profile']['seconds']} s (cProfile, cumulative time of the "
                  "functions doing each part; the FIDs differ by the latents: torch-fidelity's numpy RandomState in "
                  "the zoo's call, torch's in `sample()`):", "", "| part | seconds | share |", "|---|---|---|"]
        for row, r in e["profile"]["rows"].items():
            lines.append(f"| {row} | {r['seconds']} | {100 * r['share']:.1f}% |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke run, under 2 min)")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run only these sections")
    parser.add_argument("--rounds", type=int, help="alternating timing rounds (default 5, quick 1)")
    parser.add_argument("--training-rounds", type=int, help="rounds of the training section (default 9, quick 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: every core)")
    parser.add_argument("--out", default=str(Path(__file__).parent), help="folder for speed.json and SPEED.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    disable_possible_user_warnings()
    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*(eval mode|LeafSpec|does not have many workers).*")
    rounds = args.rounds or (1 if args.quick else 5)
    # The training section's targets sit 3-5% below 1 and one round's ratio spreads about +-5% on a 2-core VM (the
    # same hand loop took 18.9 and 23.1 ms a step in consecutive rounds): more rounds, so that no two slow rounds
    # decide the median.
    training_rounds = args.training_rounds or (1 if args.quick else 9)
    from zoo.machine import cpu_model, git_commit, machine_record

    machine = machine_record()
    started = clock()
    report = {"quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} CPUs, ISA {machine['isa']}, native "
                         f"bf16 {machine['native_bf16']} (AMX: {'yes' if machine['native_bf16'] == 'amx' else 'no'})",
              "cpu": machine, "commit": git_commit(), "torch": torch.__version__,
              "threads": args.threads, "rounds": rounds, "training_rounds": training_rounds,
              "load_start": load_average()}
    # torch.compile spends a minute compiling before it times anything: --quick leaves it out unless named
    sections = args.only or [name for name in SECTIONS if not (args.quick and name == "compile")]
    report["section_seconds"] = {}
    for name in sections:
        section_start = clock()
        report[name] = SECTIONS[name](args.quick, training_rounds if name == "training" else rounds)
        report["section_seconds"][name] = round(clock() - section_start, 1)
    report["load_end"] = load_average()
    report["seconds"] = round(clock() - started, 1)
    out = Path(args.out)
    atomic_write_bytes(out / "speed.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(out / "SPEED.md", markdown(report).encode())
    print(f"wrote {out / 'speed.json'} and {out / 'SPEED.md'} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
