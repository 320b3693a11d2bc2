"""Mode-regularized GAN: the encoder trains in G's step with the geometric and mode regularizers."""

import pytest
import torch
import torch.nn.functional as F
from conftest import quiet_trainer, random_loader

from zoo.families.modereg import ModeRegularizedGAN


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


def test_the_encoder_trains_with_g():
    model = ModeRegularizedGAN(latent_dim=8, width=4, sample_every=0, max_g_iters=2)
    e0 = [p.detach().clone() for p in model.E.parameters()]
    trainer = quiet_trainer()
    trainer.fit(model, random_loader())
    opt_g = trainer.optimizers[0]
    assert {id(p) for p in model.E.parameters()} <= {id(p) for g in opt_g.param_groups for p in g["params"]}
    assert all(not torch.equal(a, b) for a, b in zip(e0, model.E.parameters()))
    assert model.ddp_networks == ("G", "E", "D")
