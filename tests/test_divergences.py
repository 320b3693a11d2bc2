"""fGAN's f-divergences (zoo.divergences) and the FDivergence loss: the table's identities, numerical range, and
divergences estimated by a trained critic against closed forms."""

import math

import numpy as np
import pytest
import scipy.special
import torch
from torch import nn

from zoo.divergences import DIVERGENCES, get_divergence, lambertw_of_exp
from zoo.errors import InvalidArgumentError
from zoo.losses import FDivergence, NonSaturating, get_loss

ALL = [(name, 0.5) for name in DIVERGENCES] + [("js_weighted", 0.3)]


@pytest.mark.parametrize("name,pi", ALL)
def test_f_of_one_is_zero(name, pi):
    # except the "GAN divergence" of the table, 2 JS - log 4, whose f(1) is its constant -log 4
    expected = -math.log(4) if name == "gan" else 0.0
    one = torch.tensor(1.0, dtype=torch.float64)
    assert get_divergence(name, pi).f(one).item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name,pi", ALL)
def test_conjugate_is_the_fenchel_conjugate_of_f(name, pi):
    """f*(t) = sup_u {u t - f(u)}, evaluated on a dense grid of u, at points t = g_f(v) inside f*'s domain."""
    div = get_divergence(name, pi)
    u = torch.cat([torch.linspace(1e-6, 1, 200_001), torch.linspace(1, 60, 400_001)]).double()
    f_u = div.f(u)
    for v in (-1.0, -0.3, 0.0, 0.4, 1.0):
        t = div.activation(torch.tensor(v, dtype=torch.float64))
        sup = (u * t - f_u).max().item()
        assert div.conjugate(t).item() == pytest.approx(sup, rel=1e-4, abs=1e-6), (name, v)


@pytest.mark.parametrize("name,pi", ALL)
def test_conjugate_of_activation_is_finite_and_equals_the_plain_composition(name, pi):
    div = get_divergence(name, pi)
    wide = torch.linspace(-60, 60, 2001)
    value = div.conjugate_of_activation(wide)
    assert torch.isfinite(value).all(), name
    v = torch.linspace(-8, 8, 161, dtype=torch.float64)
    torch.testing.assert_close(div.conjugate_of_activation(v), div.conjugate(div.activation(v)), rtol=1e-9, atol=1e-9)
    # the gradient the critic trains with is finite too
    x = wide.clone().requires_grad_(True)
    div.conjugate_of_activation(x).sum().backward()
    assert torch.isfinite(x.grad).all(), name


def test_lambert_w_of_exp_against_scipy_and_its_gradient():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    expected = scipy.special.lambertw(np.exp(x.numpy())).real
    torch.testing.assert_close(lambertw_of_exp(x), torch.from_numpy(expected), rtol=1e-12, atol=1e-300)
    big = torch.tensor([800.0, 1e4], dtype=torch.float64)  # e^x overflows; w + log w = x still holds
    w = lambertw_of_exp(big)
    torch.testing.assert_close(w + torch.log(w), big)
    assert torch.autograd.gradcheck(lambertw_of_exp, torch.tensor([-3.0, 0.2, 4.0], dtype=torch.float64,
                                                                    requires_grad=True))


def test_gan_divergence_is_the_standard_gan_loss():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    f_gan, ns = get_loss("f-gan"), NonSaturating()
    torch.testing.assert_close(f_gan.d_loss(real, fake), ns.d_loss(real, fake))
    torch.testing.assert_close(f_gan.g_loss(fake), ns.g_loss(fake))
    saddle = FDivergence("gan", generator="saddle")
    torch.testing.assert_close(saddle.g_loss(fake), -torch.nn.functional.softplus(fake).mean())  # minimax's G


def test_kl_loss_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    # KL: g(v) = v, f*(t) = exp(t - 1); D maximises mean(r) - mean(exp(f - 1))
    expected = (2 - 1) / 2 - (math.exp(-0.5) + math.exp(-4)) / 2
    assert get_loss("f-kl").d_loss(real, fake).item() == pytest.approx(-expected, rel=1e-6)
    assert get_loss("f-kl").g_loss(fake).item() == pytest.approx(1.25)


def test_bad_divergence_names_and_arguments():
    with pytest.raises(InvalidArgumentError, match="unknown f-divergence 'kll': choose one of total_variation"):
        get_divergence("kll")
    with pytest.raises(InvalidArgumentError, match="pi must lie in"):
        get_divergence("js_weighted", pi=1.0)
    with pytest.raises(InvalidArgumentError, match="unknown loss 'f-kll'"):
        get_loss("f-kll")
    with pytest.raises(InvalidArgumentError, match="'ns' or 'saddle'"):
        FDivergence("kl", generator="maximum")


# P = N(0, 1), Q = N(1, 1): closed forms of D_f(P || Q) = E_Q[f(p/q)]
SHIFT = 1.0
CLOSED_FORM = {
    "kl": SHIFT ** 2 / 2,
    "reverse_kl": SHIFT ** 2 / 2,
    "pearson": math.exp(SHIFT ** 2) - 1,  # f = (u - 1)^2: integral of (p - q)^2 / q
    "squared_hellinger": 2 * (1 - math.exp(-SHIFT ** 2 / 8)),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM))
def test_trained_critic_estimates_the_divergence_between_two_gaussians(name):
    torch.manual_seed(0)
    loss = get_loss(f"f-{name}")
    critic = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    for _ in range(600):
        p, q = torch.randn(2048, 1), torch.randn(2048, 1) + SHIFT
        opt.zero_grad()
        loss.d_loss(critic(p).squeeze(1), critic(q).squeeze(1)).backward()
        opt.step()
    with torch.no_grad():
        p, q = torch.randn(400_000, 1), torch.randn(400_000, 1) + SHIFT
        estimate = loss.estimate(critic(p).squeeze(1), critic(q).squeeze(1)).item()
    assert estimate == pytest.approx(CLOSED_FORM[name], rel=0.05)
