"""One-step training (step_mode="one_step", FAMILIES.md D.2): one loss, one backward, one optimizer for G and D."""

import copy

import pytest
import torch
from conftest import quiet_trainer, random_loader

from zoo.errors import InvalidArgumentError
from zoo.families.dcgan import DCGAN
from zoo.families.wgan_gp import WGANGP


def grads(module):
    return [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("family,kwargs", [(DCGAN, {"loss": "ns"}), (DCGAN, {"loss": "hinge"}),
                                           (DCGAN, {"loss": "rasgan"}), (WGANGP, {})])
def test_one_step_gives_the_alternating_d_gradient_and_the_simultaneous_g_gradient(family, kwargs):
    """D (with BatchNorm for DCGAN, with a gradient penalty for WGAN-GP) gets exactly the alternating D step's
    gradient; G gets lambda times the gradient of its loss against the same, not yet updated D. In float64, so that
    the comparison shows the identity rather than float32's rounding of (A + lambda B) - lambda B (~1e-6 relative)."""
    torch.set_default_dtype(torch.float64)
    try:
        check_one_step_gradients(family, kwargs)
    finally:
        torch.set_default_dtype(torch.float32)


def check_one_step_gradients(family, kwargs):
    torch.manual_seed(0)
    model = family(latent_dim=8, width=4, step_mode="one_step", one_step_weight=0.7, n_critic=1, sample_every=0,
                   **kwargs)
    reference = copy.deepcopy(model)
    real = torch.rand(16, 1, 28, 28) * 2 - 1

    torch.manual_seed(1)
    total, _ = model.one_step_loss(real, None)
    total.backward()

    torch.manual_seed(1)  # the same latents (and the same gradient-penalty interpolation draws)
    z, _ = reference.latents(16)
    fake = reference.G(z)
    D = reference.D
    d_loss = reference.loss.d_loss(D(real), D(fake.detach()))
    for reg in reference.regularizers:
        d_loss = d_loss + reg.d_penalty(D, real, fake.detach())
    d_expected = torch.autograd.grad(d_loss, list(D.parameters()))
    real_scores = D(real).detach() if reference.loss.g_needs_real else None
    g_loss = reference.loss.g_loss(D(fake), real_scores)
    g_expected = torch.autograd.grad(0.7 * g_loss, list(reference.G.parameters()))

    for got, want in zip(grads(model.D), d_expected):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    for got, want in zip(grads(model.G), g_expected):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    assert any(g.abs().max() > 1e-4 for g in g_expected)  # a real gradient, not two zeros


def test_one_step_fit_makes_one_optimizer_step_per_batch():
    model = DCGAN(latent_dim=8, width=4, sample_every=0, step_mode="one_step", lr_schedule="linear", max_g_iters=3)
    g0, d0 = [p.detach().clone() for p in model.G.parameters()], [p.detach().clone() for p in model.D.parameters()]
    trainer = quiet_trainer(log_every_n_steps=1)
    trainer.fit(model, random_loader())
    assert (model.g_iters, model.d_iters, trainer.global_step) == (3, 3, 3)
    assert all(not torch.equal(a, b) for a, b in zip(g0, model.G.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, model.D.parameters()))
    optimizer = trainer.optimizers[0]
    assert len(trainer.optimizers) == 1 and [g["lr"] for g in optimizer.param_groups] == [0.0, 0.0]  # decayed to 0
    assert torch.isfinite(trainer.callback_metrics["loss/g"])


def test_one_step_bracket_is_exactly_zero_with_instance_noise():
    """Both fake terms of the bracket see the same noisy input, so it stays 0 and D keeps the alternating gradient."""
    torch.manual_seed(0)
    model = DCGAN(latent_dim=8, width=4, sample_every=0, step_mode="one_step", instance_noise=0.5, max_g_iters=10)
    total, logs = model.one_step_loss(torch.rand(8, 1, 28, 28) * 2 - 1, None)
    assert total.item() == logs["loss/d"].item()


def test_one_step_refuses_n_critic_and_grad_accum():
    with pytest.raises(InvalidArgumentError, match="set n_critic 1 and grad_accum 1"):
        DCGAN(step_mode="one_step", n_critic=5)
    with pytest.raises(InvalidArgumentError, match="step_mode must be"):
        DCGAN(step_mode="simultaneous")
