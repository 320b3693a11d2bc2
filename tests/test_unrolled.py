"""Unrolled GAN: the unrolled D parameters are exactly torch's Adam continued K steps, G's second-order gradient
is the derivative of its unrolled loss (finite differences), the first-order one the plain gradient against D's
unrolled parameters, and D itself is left untouched."""

import copy

import pytest
import torch

from zoo.errors import InvalidArgumentError
from zoo.families.unrolled import UnrolledGAN


def setup(second_order, steps=3, dtype=torch.float32, adam_eps=1e-8):
    torch.manual_seed(0)
    model = UnrolledGAN(latent_dim=4, width=4, unroll_steps=steps, second_order=second_order, sample_every=0)
    model = model.to(dtype)
    optimizer = torch.optim.Adam(model.D.parameters(), lr=1e-2, betas=(0.5, 0.999), eps=adam_eps, foreach=True)
    real = torch.rand(6, 1, 28, 28, dtype=dtype) * 2 - 1
    for _ in range(2):  # D's optimizer has moments and a step count to continue from
        fake = model.G(torch.randn(6, 4, dtype=dtype)).detach()
        optimizer.zero_grad()
        model.loss.d_loss(model.D(real), model.D(fake)).backward()
        optimizer.step()
    return model, optimizer, real


def test_unrolled_parameters_continue_torch_adam():
    model, optimizer, real = setup(second_order=False)
    fake = model.G(torch.randn(6, 4)).detach()
    D_before = copy.deepcopy(model.D.state_dict())
    state_before = copy.deepcopy(optimizer.state_dict())
    unrolled = model.unrolled_parameters(real, fake, optimizer)
    # D, its buffers and its optimizer are untouched
    assert all(torch.equal(v, D_before[k]) for k, v in model.D.state_dict().items())
    assert str(optimizer.state_dict()) == str(state_before)
    # the same three updates by torch's Adam on a copy
    D = copy.deepcopy(model.D)
    reference = torch.optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999))
    reference.load_state_dict(optimizer.state_dict())
    for _ in range(3):
        reference.zero_grad()
        model.loss.d_loss(D(real), D(fake)).backward()
        reference.step()
    for name, value in {**dict(D.named_parameters()), **dict(D.named_buffers())}.items():
        torch.testing.assert_close(unrolled[name], value.detach(), rtol=1e-5, atol=1e-6)


def g_loss(model, optimizer, real, z):
    fake = model.G(z)
    return model.loss.g_loss(torch.func.functional_call(model.D, model.unrolled_parameters(real, fake, optimizer),
                                                        (fake,)))


def test_second_order_gradient_is_the_derivative_of_the_unrolled_loss():
    # Adam's m / sqrt(v) is close to a sign function where v is tiny; a larger eps keeps the unrolled loss smooth
    # at the finite-difference scale, so the comparison measures the gradient, not that kink
    model, optimizer, real = setup(second_order=True, steps=2, dtype=torch.float64, adam_eps=0.1)
    z = torch.randn(6, 4, dtype=torch.float64)
    params = list(model.G.parameters())
    grads = torch.autograd.grad(g_loss(model, optimizer, real, z), params)
    directions = [torch.randn_like(p) for p in params]
    analytic = sum((g * d).sum() for g, d in zip(grads, directions)).item()
    eps = 1e-6

    def shifted_loss(scale):
        with torch.no_grad():
            for p, d in zip(params, directions):
                p.add_(scale * d)
        return g_loss(model, optimizer, real, z).item()

    up, down = shifted_loss(eps), shifted_loss(-2 * eps)
    # the first-order variant, which ignores how D's updates depend on G, gives another number
    model.hparams.second_order = False
    first = torch.autograd.grad(g_loss(model, optimizer, real, z), params)
    first_order = sum((g * d).sum() for g, d in zip(first, directions)).item()
    assert analytic == pytest.approx((up - down) / (2 * eps), rel=1e-5)
    assert abs(first_order - analytic) > 1e-4 * abs(analytic)


def test_first_order_gradient_is_the_plain_gradient_at_the_unrolled_parameters():
    model, optimizer, real = setup(second_order=False, dtype=torch.float64)
    z = torch.randn(6, 4, dtype=torch.float64)
    params = list(model.G.parameters())
    first = torch.autograd.grad(g_loss(model, optimizer, real, z), params)
    # D's parameters after the same 3 Adam steps, as constants: G's gradient is then the ordinary one against them
    unrolled_d = copy.deepcopy(model.D)
    adam = copy.deepcopy(optimizer)
    adam.param_groups[0]["params"] = list(unrolled_d.parameters())
    adam.state = {q: {k: v.clone() for k, v in optimizer.state[p].items()}
                  for p, q in zip(model.D.parameters(), unrolled_d.parameters())}
    fake = model.G(z)
    for _ in range(3):
        adam.zero_grad()
        model.loss.d_loss(unrolled_d(real), unrolled_d(fake.detach())).backward()
        adam.step()
    unrolled_d.requires_grad_(False)
    plain = torch.autograd.grad(model.loss.g_loss(unrolled_d(fake)), params)
    for a, b in zip(first, plain):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)


def test_zero_unrolling_steps_is_the_plain_generator_loss():
    model, optimizer, real = setup(second_order=True, steps=0)
    z = torch.randn(6, 4)
    torch.testing.assert_close(g_loss(model, optimizer, real, z), model.loss.g_loss(model.D(model.G(z))))


def test_unrolled_gan_refuses_what_it_cannot_unroll():
    with pytest.raises(InvalidArgumentError, match="keep optimizer 'adam'"):
        UnrolledGAN(optimizer="rmsprop")
    with pytest.raises(InvalidArgumentError, match="unroll_steps must be >= 0"):
        UnrolledGAN(unroll_steps=-1)
