"""The training engine: TTUR, n_critic counting, EMA, optimizer toggling, and a short fit of every family."""

import copy
import os
import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import quiet_trainer, random_loader

import zoo
from zoo import list_families
from zoo.engine import GANModule
from zoo.errors import InvalidArgumentError
from zoo.families.dcgan import DCGAN
from zoo.registry import FAMILIES

TINY = dict(latent_dim=8, width=4, sample_every=0)

# Small settings per family for a fast fit; every registered family must appear here.
TINY_FAMILIES = {
    "gan": dict(latent_dim=8, g_hidden=(16,), d_hidden=(16,), sample_every=0),
    "dcgan": TINY,
    "lsgan": TINY,
    "wgan": TINY,
    "wgan-gp": TINY,
    "sngan": dict(latent_dim=8, width=4, sample_every=0),
    "fgan": dict(TINY, divergence="kl"),
    "rgan": dict(TINY, loss="ralsgan"),
    "dragan": TINY,
    "tvgan": TINY,
    "ebgan": dict(TINY, code_dim=8),
    "began": TINY,
    "sagan": dict(TINY, width=8),  # attention needs a multiple of 8 channels
    "unrolled": dict(TINY, unroll_steps=2),
    "pacgan": TINY,
    "improved-gan": dict(TINY, minibatch_kernels=4, minibatch_kernel_dim=3, historical_averaging=1e-3),
    "modereg": TINY,
    "cgan": dict(TINY, mismatch=True),
    "acgan": TINY,
    "infogan": dict(noise_dim=8, width=4, q_hidden=8, sample_every=0),
    "bigan": dict(TINY, joint_width=16, stochastic_encoder=True),
    "vaegan": dict(TINY, three_class=True),
}


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_every_registered_family_has_a_tiny_config():
    # triplegan, s3gan: their labelled subset needs every class in the data set (random_loader lacks one);
    # tests/test_triplegan.py and tests/test_s3gan.py fit them
    assert set(list_families()) <= set(TINY_FAMILIES) | {"biggan", "triplegan", "s3gan"}


def test_the_readme_family_table_lists_every_family():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("### The families"):readme.index("### Adding a family")]
    assert [name for name in list_families() if f"| `{name}` |" not in table] == []


def test_every_index_entry_names_a_registered_family():
    entries = {name: zoo.get_entry(name).family for name in zoo.list_models()}
    assert {name: family for name, family in entries.items() if family not in list_families()} == {}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_short_fit_of_every_family(family):
    model = FAMILIES[family](**TINY_FAMILIES[family], max_g_iters=2)
    g0, d0 = params(model.G), params(model.D)
    trainer = quiet_trainer(log_every_n_steps=1)
    trainer.fit(model, random_loader())
    n_critic = model.hparams.n_critic
    assert model.g_iters == 2 and model.d_iters == 2 * n_critic
    assert trainer.global_step == 2 * (n_critic + 1)  # Lightning counts every optimizer step
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["loss/d"]) and torch.isfinite(metrics["loss/g"])
    assert not same(g0, params(model.G)) and not same(d0, params(model.D))


def test_step_metrics_reach_the_logger_at_lightnings_steps(tmp_path):
    import csv

    from lightning.pytorch.loggers import CSVLogger

    class Recorder(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            self.logs = getattr(self, "logs", []) + [dict(pl_module.step_logs)]

    recorder = Recorder()
    model = DCGAN(**TINY, max_g_iters=4)
    trainer = quiet_trainer(logger=CSVLogger(tmp_path, name="run"), log_every_n_steps=2, callbacks=[recorder])
    trainer.fit(model, random_loader(n=64))
    trainer.logger.save()
    lines = (tmp_path / "run" / "version_0" / "metrics.csv").read_text().splitlines()
    rows = [r for r in csv.DictReader(lines) if r["loss/d"]]
    # Lightning writes every log_every_n_steps-th batch (0-based batch 1 and 3 here), numbered as self.log would
    assert [(int(r["step"]), int(r["epoch"]), float(r["g_iters"])) for r in rows] == [(1, 0, 2.0), (3, 0, 4.0)]
    for row, logs in zip(rows, (recorder.logs[1], recorder.logs[3])):
        for key in ("loss/d", "loss/g", "d/real_score", "grad_norm/d", "grad_norm/g"):
            assert float(row[key]) == pytest.approx(float(logs[key]), rel=1e-6), key
    assert trainer.callback_metrics["loss/g"] == pytest.approx(float(recorder.logs[3]["loss/g"]))
    assert float(trainer.logged_metrics["g_iters"]) == 4.0


def test_two_time_scale_optimizers():
    model = DCGAN(**TINY, lr_g=1e-4, lr_d=4e-4, betas_g=(0.0, 0.9), betas_d=(0.5, 0.99))
    opt_g, opt_d = model.configure_optimizers()
    assert opt_g.param_groups[0]["lr"] == 1e-4 and opt_d.param_groups[0]["lr"] == 4e-4
    assert opt_g.param_groups[0]["betas"] == (0.0, 0.9) and opt_d.param_groups[0]["betas"] == (0.5, 0.99)
    g_ids = {id(p) for p in model.G.parameters()}
    d_ids = {id(p) for group in opt_d.param_groups for p in group["params"]}
    assert g_ids == {id(p) for group in opt_g.param_groups for p in group["params"]} and not g_ids & d_ids


class Recorder(L.Callback):
    """Snapshots G and D after every training batch."""

    def __init__(self):
        self.g, self.d = [], []

    def on_train_batch_end(self, trainer, pl_module, *args):
        self.g.append(params(pl_module.G))
        self.d.append(params(pl_module.D))


def test_n_critic_counts_updates():
    model = DCGAN(**TINY, n_critic=3, max_g_iters=4)
    recorder = Recorder()
    g_init = params(model.G)
    trainer = quiet_trainer(callbacks=[recorder])
    trainer.fit(model, random_loader(n=128))
    assert (model.d_iters, model.g_iters, trainer.global_step) == (12, 4, 16)
    snapshots = [g_init] + recorder.g
    g_changed = [not same(a, b) for a, b in zip(snapshots, snapshots[1:])]
    assert g_changed == [False, False, True] * 4  # G moves on every third batch only
    d_snapshots = [None] + recorder.d
    assert all(not same(a, b) for a, b in zip(d_snapshots[1:], d_snapshots[2:]))  # D moves on every batch


class Spy(DCGAN):
    """Records each net's state at the start of the other net's step."""

    def discriminator_loss(self, real, labels):
        self.g_at_d_step = params(self.G)
        loss, logs = super().discriminator_loss(real, labels)
        # the gradients D's loss would give G's parameters (None where the loss does not reach them)
        self.g_grads_from_d_loss = torch.autograd.grad(loss, list(self.G.parameters()), retain_graph=True,
                                                       allow_unused=True)
        return loss, logs

    def generator_loss(self, real, labels):
        self.g_after_d_step = params(self.G)
        self.d_at_g_step = params(self.D)
        self.d_grads_at_g_step = [p.grad.clone() for p in self.D.parameters()]
        self.d_trainable_in_g_step = any(p.requires_grad for p in self.D.parameters())
        return super().generator_loss(real, labels)


class ToggleCheck(L.Callback):
    def __init__(self):
        self.checked = 0

    def on_train_batch_end(self, trainer, model, *args):
        assert not model.d_trainable_in_g_step
        # the D update computes no gradient for G (G ran under no_grad there)
        assert all(g is None for g in model.g_grads_from_d_loss)
        # the G update left D's weights and gradients exactly as the D update had left them
        assert same(model.d_at_g_step, params(model.D))
        assert same(model.d_grads_at_g_step, [p.grad for p in model.D.parameters()])
        # the D update did not move G: G after the D update (at the start of the G loss) is G before the batch
        assert same(model.g_after_d_step, model.g_before_batch)
        self.checked += 1

    def on_train_batch_start(self, trainer, model, *args):
        model.g_before_batch = params(model.G)


def test_toggling_isolates_the_two_updates():
    model = Spy(**TINY, max_g_iters=3)
    check = ToggleCheck()
    quiet_trainer(callbacks=[check]).fit(model, random_loader())
    assert check.checked == 3
    assert all(p.requires_grad for p in model.parameters() if p not in set(model.G_ema.parameters()))


def test_the_g_step_keeps_a_frozen_d_parameter_frozen():
    """D is frozen during the G step and restored after: a parameter the user froze stays frozen."""
    model = DCGAN(**TINY, max_g_iters=2)
    first = next(model.D.parameters())
    first.requires_grad_(False)
    quiet_trainer().fit(model, random_loader())
    assert model.g_iters == 2
    assert not first.requires_grad
    assert all(p.requires_grad for p in list(model.D.parameters())[1:])


class StepHooks(L.Callback):
    """Counts the hooks Lightning's backward and optimizer-step wrappers call (so the engine must keep them)."""

    def __init__(self):
        self.after_backward = self.before_optimizer_step = 0

    def on_after_backward(self, trainer, module):
        self.after_backward += 1

    def on_before_optimizer_step(self, trainer, module, optimizer):
        self.before_optimizer_step += 1


@pytest.mark.parametrize("n_critic", [1, 3])
def test_bare_steps_train_like_lightnings_wrappers(n_critic):
    """Without a hook to call, the engine steps the torch optimizers itself: the same weights and the same
    global_step as Lightning's wrapped path, which a callback with backward / optimizer hooks still gets. (The
    recipes' strategy, gan_ddp, takes the bare path on one and two processes: tests/test_ddp.py.)"""
    k = 3
    fits = {}
    for hooks in (None, StepHooks()):
        torch.manual_seed(0)
        model = DCGAN(**TINY, n_critic=n_critic, max_g_iters=k)
        initial = params(model.G)
        trainer = quiet_trainer(callbacks=[hooks] if hooks else [])
        trainer.fit(model, random_loader(n=64))
        fits[hooks is None] = (model, trainer)
        assert model._bare_steps == (hooks is None)
        assert not same(params(model.G), initial)  # it trained
        assert trainer.global_step == k * (n_critic + 1)
        if hooks:
            assert hooks.after_backward == hooks.before_optimizer_step == k * (n_critic + 1)
    (bare, _), (wrapped, _) = fits[True], fits[False]
    assert same(params(bare.G), params(wrapped.G)) and same(params(bare.D), params(wrapped.D))


def test_lightning_wrappers_are_kept_where_they_do_something():
    """A module hook, a profiler or loss scaling each keep Lightning's path."""
    from lightning.pytorch.profilers import SimpleProfiler

    class Hooked(DCGAN):
        def on_before_optimizer_step(self, optimizer):
            pass

    for model, options in ((Hooked(**TINY, max_g_iters=1), {}),
                           (DCGAN(**TINY, max_g_iters=1), {"profiler": SimpleProfiler()})):
        trainer = quiet_trainer(**options)
        trainer.fit(model, random_loader())
        assert not model._bare_steps and trainer.global_step == 2


def test_a_batch_already_on_the_device_is_passed_through():
    model, cpu = DCGAN(**TINY), torch.device("cpu")
    batch = (torch.zeros(2, 1, 28, 28), torch.tensor([1, 2]))
    assert model.transfer_batch_to_device(batch, cpu, 0) is batch
    mixed = {"images": batch[0]}  # another kind of collection: Lightning moves it
    moved = model.transfer_batch_to_device(mixed, cpu, 0)
    assert moved is not mixed and moved["images"] is batch[0]
    meta = torch.zeros(2, device="meta")  # not on the device: moved by Lightning (meta -> cpu is refused by torch)
    with pytest.raises(NotImplementedError):
        model.transfer_batch_to_device((meta,), cpu, 0)


def test_ema_closed_form():
    decay, k = 0.9, 5
    model = DCGAN(**TINY, ema_decay=decay, max_g_iters=k)
    theta0 = params(model.G_ema)
    recorder = Recorder()
    quiet_trainer(callbacks=[recorder]).fit(model, random_loader(n=64))
    thetas = recorder.g  # G after update i = 1..k (n_critic = 1)
    for j, ema in enumerate(model.G_ema.parameters()):
        expected = decay ** k * theta0[j] + sum((1 - decay) * decay ** (k - i) * thetas[i - 1][j]
                                                for i in range(1, k + 1))
        torch.testing.assert_close(ema, expected, rtol=1e-5, atol=1e-6)
    # buffers (BatchNorm statistics) are copied from G, not averaged
    for b_ema, b in zip(model.G_ema.buffers(), model.G.buffers()):
        assert torch.equal(b_ema, b)


def test_ema_follows_a_replaced_generator():
    """The EMA's tensor lists are made once and kept: a G replaced between updates is the one G_ema copies."""
    model = DCGAN(**TINY, ema_decay=0.0)
    model.update_ema()  # lists the first G's tensors
    model.G = copy.deepcopy(model.G)
    with torch.no_grad():
        for p in model.G.parameters():
            p.fill_(0.25)
    model.update_ema()
    assert all(torch.equal(p, torch.full_like(p, 0.25)) for p in model.G_ema.parameters())


def test_ema_is_a_copy_of_g_before_the_start_step():
    model = DCGAN(**TINY, ema_decay=0.99, ema_start=3, max_g_iters=3)
    quiet_trainer().fit(model, random_loader())
    assert same(params(model.G_ema), params(model.G))
    model = DCGAN(**TINY, ema_decay=0.99, ema_start=3, max_g_iters=4)
    quiet_trainer().fit(model, random_loader())
    assert not same(params(model.G_ema), params(model.G))


def test_linear_lr_schedule_decays_per_generator_iteration():
    model = DCGAN(**TINY, n_critic=2, lr_schedule="linear", max_g_iters=4, lr_g=1e-3, lr_d=2e-3)
    trainer = quiet_trainer()
    trainer.fit(model, random_loader(n=64))
    opt_g, opt_d = trainer.optimizers
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.0) and opt_d.param_groups[0]["lr"] == pytest.approx(0.0)
    with pytest.raises(InvalidArgumentError, match="set model.max_g_iters"):
        DCGAN(**TINY, lr_schedule="linear")


def test_bad_engine_arguments_are_one_line_errors():
    for kwargs, message in [({"n_critic": 0}, "n_critic must be >= 1"), ({"optimizer": "sgd"}, "'adam' or 'rmsprop'"),
                            ({"loss": "nope"}, "unknown loss")]:
        with pytest.raises(InvalidArgumentError, match=message) as info:
            DCGAN(**TINY, **kwargs)
        assert "\n" not in str(info.value)


def test_checkpoint_keeps_counters():
    model = DCGAN(**TINY, n_critic=2, max_g_iters=2)
    quiet_trainer().fit(model, random_loader())
    checkpoint = {}
    model.on_save_checkpoint(checkpoint)
    restored = DCGAN(**TINY, n_critic=2)
    restored.on_load_checkpoint(checkpoint)
    assert (restored.d_iters, restored.g_iters) == (4, 2)


def test_base_engine_needs_networks():
    with pytest.raises(NotImplementedError):
        GANModule()


class _NoBatchStats(GANModule):
    """Linear G and D: no batch statistics, so K micro-batches must give the full batch's update."""

    def __init__(self, **kwargs):
        super().__init__(loss="ns", ema_decay=0.0, sample_every=0, **kwargs)

    def build_generator(self):
        from zoo.nets.mlp import MLPGenerator

        return MLPGenerator(latent_dim=8, hidden=(), img_size=28)  # Linear -> tanh

    def build_discriminator(self):
        from zoo.nets.mlp import MLPDiscriminator

        return MLPDiscriminator(hidden=(16,), dropout=0.0)


def _one_iteration(family, grad_accum):
    torch.manual_seed(0)
    model = family(grad_accum=grad_accum)
    quiet_trainer(max_steps=2).fit(model, random_loader(n=16, batch_size=16))
    return params(model.G) + params(model.D)


@pytest.mark.parametrize("family, equal", [(_NoBatchStats, True), (lambda **kw: DCGAN(**TINY, **kw), False)])
def test_grad_accum_equals_the_full_batch_only_without_batch_statistics(family, equal):
    """The claim in the engine's docstring: same update without BatchNorm; BatchNorm normalises per micro-batch."""
    full, accumulated = _one_iteration(family, 1), _one_iteration(family, 4)
    diff = max((a - b).abs().max().item() for a, b in zip(full, accumulated))
    assert (diff < 1e-6) if equal else (diff > 1e-4), diff


def test_latents_of_micro_batches_are_the_full_batch_latents():
    model = DCGAN(**TINY)
    torch.manual_seed(0)
    full, _ = model.latents(8)
    torch.manual_seed(0)
    parts = []
    for i in range(4):
        model._micro, model._latent_calls = (i, 4), 0
        parts.append(model.latents(2)[0])
    assert torch.equal(torch.cat(parts), full)


def test_checkpoint_saved_once_per_save_point_at_a_g_iteration_boundary(tmp_path):
    from zoo.checkpointing import GIterCheckpoint

    written = []

    class Recording(GIterCheckpoint):  # the real callback; only the file writes are recorded
        def _save_checkpoint(self, trainer, filepath):
            model = trainer.lightning_module
            written.append((model.g_iters, model.d_iters, Path(filepath).name))
            super()._save_checkpoint(trainer, filepath)

    model = DCGAN(**TINY, n_critic=3, max_g_iters=5)
    trainer = quiet_trainer(callbacks=[Recording(every_n_g_iters=2, dirpath=tmp_path)], enable_checkpointing=True)
    trainer.fit(model, random_loader(n=64, batch_size=4))
    # the two save points right after their G update, then the end of training; nothing mid-iteration or twice
    assert written == [(2, 6, "last.ckpt"), (4, 12, "last.ckpt"), (5, 15, "last.ckpt")]


def test_bf16_on_a_cpu_without_native_bf16_warns_with_the_fix(monkeypatch):
    import zoo.machine
    from zoo.engine import PrecisionWarning

    monkeypatch.setattr(zoo.machine, "native_bf16", lambda: None)
    model = DCGAN(**TINY, max_g_iters=1)
    with pytest.warns(PrecisionWarning, match="--trainer.precision 32-true"):
        quiet_trainer(precision="bf16-mixed").fit(model, random_loader(n=8, batch_size=4))
    monkeypatch.setattr(zoo.machine, "native_bf16", lambda: "amx")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        quiet_trainer(precision="bf16-mixed").fit(DCGAN(**TINY, max_g_iters=1), random_loader(n=8, batch_size=4))


def test_a_cpu_only_fit_stops_loading_nvml_at_every_optimizer_step(monkeypatch):
    """Lightning's PYTORCH_NVML_BASED_CUDA_CHECK makes each optimizer.step() dlopen NVML on a machine without a GPU."""
    import ctypes

    import zoo.machine

    if torch.cuda.device_count() > 0:
        pytest.skip("a CUDA device is visible: the variable is kept")
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    loads, real_init = [], ctypes.CDLL.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(args[:1])
        return real_init(self, *args, **kwargs)

    monkeypatch.setattr(ctypes.CDLL, "__init__", counting_init)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))])
    opt.step()
    if not loads:
        pytest.skip("this torch build does not probe NVML in optimizer.step()")
    quiet_trainer().fit(DCGAN(**TINY, max_g_iters=1), random_loader(n=8, batch_size=4))
    assert "PYTORCH_NVML_BASED_CUDA_CHECK" not in os.environ
    loads.clear()
    opt.step()
    assert loads == []  # answered from the runtime's cached count
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a GPU machine keeps Lightning's fork-safe check
    assert zoo.machine.stop_repeated_gpu_probes() is False and os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"


@pytest.mark.parametrize("name,kwargs", [("Adam", {"lr": 2e-4, "betas": (0.5, 0.999)}), ("RMSprop", {"lr": 5e-5})])
def test_foreach_optimizers_update_exactly_like_the_per_tensor_loop(name, kwargs):
    """The engine's foreach optimizers leave the recipes' numbers unchanged (weights trained before the switch)."""
    torch.manual_seed(0)
    start = [torch.randn(30, 20), torch.randn(7)]
    results = []
    for foreach in (False, True):
        params = [p.clone().requires_grad_() for p in start]
        optimizer = getattr(torch.optim, name)(params, foreach=foreach, **kwargs)
        gen = torch.Generator().manual_seed(1)
        for _ in range(20):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            optimizer.step()
        results.append(params)
    assert all(torch.equal(a, b) for a, b in zip(*results))
    assert not torch.equal(results[0][0], start[0])


def test_attribute_fast_path_stores_plain_values_and_still_registers_modules(monkeypatch):
    """GANModule.__setattr__ skips torch's table checks for a plain attribute it already has (Lightning sets
    _current_fx_name around every hook call), and leaves modules, parameters and tensors to torch."""
    model = DCGAN(**TINY)
    calls = []
    original = torch.nn.Module.__setattr__

    def counting_setattr(self, key, value):
        if self is model:
            calls.append(key)
        original(self, key, value)

    monkeypatch.setattr(torch.nn.Module, "__setattr__", counting_setattr)
    model._current_fx_name = "training_step"  # present since __init__: stored without torch's checks
    model._phase = "D"
    assert calls == [] and model._current_fx_name == "training_step" and model._phase == "D"

    model.probe = None  # new name: torch's path
    model.probe = torch.nn.Linear(2, 2)  # a module over a plain attribute: registered, as torch does
    assert calls == ["probe", "probe"]
    assert "probe" in model._modules and "probe" not in model.__dict__
    model.weight_probe = None
    model.weight_probe = torch.nn.Parameter(torch.zeros(1))
    assert "weight_probe" in model._parameters and "weight_probe" not in model.__dict__
