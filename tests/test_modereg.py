"""Mode-regularized GAN: the encoder trains in G's step with the geometric and mode regularizers; MDGAN's two steps."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from conftest import quiet_trainer, random_loader

from zoo.families.modereg import ModeRegularizedGAN
from zoo.layers import running_stats_frozen


def test_generator_objective_by_hand():
    torch.manual_seed(0)
    model = ModeRegularizedGAN(latent_dim=8, width=4, geometric_weight=0.5, mode_weight=0.25, sample_every=0)
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, logs = model.generator_loss(real, None)
    torch.manual_seed(1)
    z, _ = model.latents(6)
    adversarial = F.softplus(-model.D(model.G(z))).mean()
    reconstruction = model.G(model.E(real))
    geometric = (reconstruction - real).pow(2).mean()
    mode = F.softplus(-model.D(reconstruction)).mean()
    assert loss.item() == pytest.approx((adversarial + 0.5 * geometric + 0.25 * mode).item(), rel=1e-5)
    assert logs["modereg/geometric"].item() == pytest.approx(geometric.item(), rel=1e-5)


def batchnorm_state(module):
    return [(m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked))
            for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_running_stats_frozen_normalises_by_the_batch_and_keeps_the_running_statistics():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(3, momentum=0.3).train()
    x = torch.randn(4, 3, 5, 5) * 3 + 2
    before = batchnorm_state(bn)
    with running_stats_frozen(bn):
        y = bn(x)
    by_hand = (x - x.mean((0, 2, 3), keepdim=True)) / (x.var((0, 2, 3), unbiased=False, keepdim=True) + bn.eps).sqrt()
    torch.testing.assert_close(y, by_hand, atol=1e-5, rtol=1e-5)  # the batch's statistics, as always in training
    for got, want in zip(batchnorm_state(bn), before):
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and got[2] == want[2]
    assert bn.momentum == 0.3
    bn(x)  # outside the block the statistics move again
    assert batchnorm_state(bn)[0][2] == 1 and not torch.equal(bn.running_mean, before[0][0])


@pytest.mark.parametrize("variant", ["regularized", "mdgan"])
def test_g_running_statistics_come_from_z_alone(variant):
    """G's BatchNorm statistics (which G_ema copies and samples with) see G(z) batches, never G(E(x)) ones."""
    torch.manual_seed(0)
    model = ModeRegularizedGAN(latent_dim=8, width=4, variant=variant, sample_every=0).train()
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    before = batchnorm_state(model.G)
    reconstruction = model.reconstruct(real)
    assert reconstruction.shape == real.shape
    assert all(torch.equal(a[0], b[0]) and a[2] == b[2] for a, b in zip(batchnorm_state(model.G), before))
    model.generator_loss(real, None)  # regularized: one G(z) forward and one G(E(x)); mdgan's manifold step: G(E(x))
    assert [s[2] for s in batchnorm_state(model.G)] == [1 if variant == "regularized" else 0] * len(before)


def test_the_encoder_trains_with_g():
    model = ModeRegularizedGAN(latent_dim=8, width=4, sample_every=0, max_g_iters=2)
    e0 = [p.detach().clone() for p in model.E.parameters()]
    trainer = quiet_trainer()
    trainer.fit(model, random_loader())
    opt_g = trainer.optimizers[0]
    assert {id(p) for p in model.E.parameters()} <= {id(p) for g in opt_g.param_groups for p in g["params"]}
    assert all(not torch.equal(a, b) for a, b in zip(e0, model.E.parameters()))
    assert model.ddp_networks == ("G", "E", "D")


def mdgan(**kwargs):
    return ModeRegularizedGAN(latent_dim=8, width=4, geometric_weight=0.5, mode_weight=0.25, variant="mdgan",
                              sample_every=0, **kwargs)


def test_mdgan_losses_of_both_steps_by_hand():
    torch.manual_seed(0)
    model = mdgan()
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    G, E, D1, D2 = model.G, model.E, model.D, model.D2
    assert model.mdgan_step == "manifold"
    d_loss, _ = model.discriminator_loss(real, None)  # D1: x real, G(E(x)) fake
    reconstruction = G(E(real))
    expected = F.softplus(-D1(real)).mean() + F.softplus(D1(reconstruction)).mean()
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    g_loss, _ = model.generator_loss(real, None)  # no G(z) term in the manifold step
    expected = 0.5 * (reconstruction - real).pow(2).mean() + 0.25 * F.softplus(-D1(reconstruction)).mean()
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-5)

    model.g_iters = 1
    assert model.mdgan_step == "diffusion"
    torch.manual_seed(1)
    d_loss, _ = model.discriminator_loss(real, None)  # D2: G(E(x)) real, G(z) fake
    torch.manual_seed(1)
    z, _ = model.latents(6)
    expected = F.softplus(-D2(reconstruction)).mean() + F.softplus(D2(G(z))).mean()
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.manual_seed(1)
    g_loss, _ = model.generator_loss(real, None)
    assert g_loss.item() == pytest.approx(F.softplus(-D2(G(z))).mean().item(), rel=1e-5)


class Snapshots(L.Callback):
    def __init__(self):
        self.states = []

    def on_train_batch_end(self, trainer, module, *args):
        self.states.append({name: [p.detach().clone() for p in getattr(module, name).parameters()]
                            for name in ("G", "E", "D", "D2")})


def test_mdgan_steps_update_their_own_networks():
    model = mdgan(max_g_iters=4)
    assert model.ddp_networks == ("G", "E", "D", "D2")
    start = {name: [p.detach().clone() for p in getattr(model, name).parameters()] for name in ("G", "E", "D", "D2")}
    snapshots = Snapshots()
    trainer = quiet_trainer(callbacks=[snapshots])
    trainer.fit(model, random_loader())
    opt_g, opt_d = trainer.optimizers
    assert {id(p) for p in model.D2.parameters()} <= {id(p) for g in opt_d.param_groups for p in g["params"]}
    assert (model.g_iters, model.d_iters, trainer.global_step) == (4, 4, 8)

    def moved(before, after):
        return {name for name in before if any(not torch.equal(a, b) for a, b in zip(before[name], after[name]))}

    states = [start, *snapshots.states]
    # manifold steps move D1, G and E; diffusion steps move D2 and G only
    assert [moved(a, b) for a, b in zip(states, states[1:])] == [{"D", "G", "E"}, {"D2", "G"}] * 2


def test_mdgan_arguments():
    from zoo.errors import InvalidArgumentError
    from zoo.regularizers import R1

    with pytest.raises(InvalidArgumentError, match="variant must be 'regularized' or 'mdgan'"):
        ModeRegularizedGAN(latent_dim=8, width=4, variant="md")
    with pytest.raises(InvalidArgumentError, match="drop model.regularizers"):
        ModeRegularizedGAN(latent_dim=8, width=4, variant="mdgan", regularizers=[R1(1.0)])
    assert not hasattr(ModeRegularizedGAN(latent_dim=8, width=4), "D2")
