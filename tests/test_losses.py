"""Each loss and regularizer against values computed by hand."""

import math

import pytest
import torch
from torch import nn

from zoo.errors import InvalidArgumentError
from zoo.losses import Hinge, LeastSquares, Minimax, NonSaturating, Relativistic, TotalVariation, Wasserstein, get_loss
from zoo.regularizers import R1, R2, DRAGANPenalty, GradientPenalty, WeightClipping, ZeroCenteredGP

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def log_sigmoid(x):
    return math.log(1 / (1 + math.exp(-x)))


def test_minimax_and_non_saturating():
    d_expected = -(log_sigmoid(2) + log_sigmoid(-1)) / 2 - (math.log(1 - 1 / (1 + math.exp(-0.5)))
                                                             + math.log(1 - 1 / (1 + math.exp(3)))) / 2
    assert Minimax().d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert NonSaturating().d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    # saturating G: mean log(1 - sigmoid(f))
    g_minimax = (math.log(1 - 1 / (1 + math.exp(-0.5))) + math.log(1 - 1 / (1 + math.exp(3)))) / 2
    assert Minimax().g_loss(FAKE).item() == pytest.approx(g_minimax, rel=1e-6)
    # non-saturating G: -mean log sigmoid(f)
    assert NonSaturating().g_loss(FAKE).item() == pytest.approx(-(log_sigmoid(0.5) + log_sigmoid(-3)) / 2, rel=1e-6)


def test_minimax_generator_gradient_saturates_when_d_rejects_fakes():
    fake = torch.tensor([-8.0], requires_grad=True)
    Minimax().g_loss(fake).backward()
    saturating = fake.grad.abs().item()
    fake.grad = None
    NonSaturating().g_loss(fake).backward()
    assert saturating < 1e-3 < fake.grad.abs().item()


def test_least_squares():
    loss = LeastSquares(a=0, b=1, c=1)
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2)
    assert loss.g_loss(FAKE).item() == pytest.approx(0.5 * (0.25 + 16) / 2)
    pearson = LeastSquares(a=-1, b=1, c=0)
    assert pearson.d_loss(REAL, FAKE).item() == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (2.25 + 4) / 2)
    assert pearson.g_loss(FAKE).item() == pytest.approx(0.5 * (0.25 + 9) / 2)


def test_wasserstein_and_hinge():
    assert Wasserstein().d_loss(REAL, FAKE).item() == pytest.approx((0.5 - 3) / 2 - (2 - 1) / 2)
    assert Wasserstein().g_loss(FAKE).item() == pytest.approx(1.25)
    # hinge: mean(relu(1 - r)) + mean(relu(1 + f)) = (0 + 2)/2 + (1.5 + 0)/2
    assert Hinge().d_loss(REAL, FAKE).item() == pytest.approx(1.0 + 0.75)
    assert Hinge().g_loss(FAKE).item() == pytest.approx(1.25)


def test_get_loss_by_name_and_error():
    assert isinstance(get_loss("hinge"), Hinge)
    ls = LeastSquares(-1, 1, 0)
    assert get_loss(ls) is ls
    with pytest.raises(InvalidArgumentError, match="choose one of minimax, ns, ls, wasserstein, hinge"):
        get_loss("hnige")


class Linear2D(nn.Module):
    """D(x) = w . x, so grad_x D = w for every x: penalties have closed forms."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_closed_form():
    critic = Linear2D([3.0, 4.0])  # ||grad|| = 5 everywhere
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    assert GradientPenalty(10).d_penalty(critic, real, fake).item() == pytest.approx(10 * (5 - 1) ** 2)
    small = Linear2D([0.3, 0.4])  # ||grad|| = 0.5: two-sided penalises it, one-sided does not
    assert GradientPenalty(10).d_penalty(small, real, fake).item() == pytest.approx(10 * 0.25)
    assert GradientPenalty(10, one_sided=True).d_penalty(small, real, fake).item() == 0.0


def test_gradient_penalty_backpropagates_to_critic():
    critic = Linear2D([3.0, 4.0])
    GradientPenalty(1.0).d_penalty(critic, torch.randn(4, 2), torch.randn(4, 2)).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * [0.6, 0.8]
    torch.testing.assert_close(critic.w.grad, torch.tensor([4.8, 6.4]))


def test_r1_closed_form():
    critic = Linear2D([3.0, 4.0])
    assert R1(gamma=10).d_penalty(critic, torch.randn(5, 2), None).item() == pytest.approx(0.5 * 10 * 25)


def test_weight_clipping():
    critic = Linear2D([3.0, -0.005])
    WeightClipping(0.01).after_d_step(critic)
    torch.testing.assert_close(critic.w.data, torch.tensor([0.01, -0.005]))
    layers = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))  # every parameter, weights and biases
    with torch.no_grad():
        for p in layers.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
    expected = [p.detach().clamp(-0.5, 0.5) for p in layers.parameters()]
    WeightClipping(0.5).after_d_step(layers)
    for p, e in zip(layers.parameters(), expected):
        torch.testing.assert_close(p.detach(), e)
    assert min(p.min() for p in layers.parameters()) == -0.5 and max(p.max() for p in layers.parameters()) == 0.5


def softplus(x):
    return math.log1p(math.exp(x))


def test_relativistic_losses_by_hand():
    # REAL = [2, -1] (mean 0.5), FAKE = [0.5, -3] (mean -1.25)
    rsgan = get_loss("rsgan")  # -mean log sigma(r - f) on pairs
    assert rsgan.d_loss(REAL, FAKE).item() == pytest.approx((softplus(-1.5) + softplus(-2)) / 2, rel=1e-6)
    assert rsgan.g_loss(FAKE, REAL).item() == pytest.approx((softplus(1.5) + softplus(2)) / 2, rel=1e-6)
    rasgan = get_loss("rasgan")  # D: softplus(-(r - mean f)) + softplus(f - mean r)
    d = (softplus(-3.25) + softplus(-0.25)) / 2 + (softplus(0.0) + softplus(-3.5)) / 2
    assert rasgan.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    g = (softplus(0.0) + softplus(3.5)) / 2 + (softplus(3.25) + softplus(0.25)) / 2
    assert rasgan.g_loss(FAKE, REAL).item() == pytest.approx(g, rel=1e-6)
    ralsgan = get_loss("ralsgan")  # D: (r - mean f - 1)^2 + (f - mean r + 1)^2
    d = ((3.25 - 1) ** 2 + (0.25 - 1) ** 2) / 2 + ((0 + 1) ** 2 + (-3.5 + 1) ** 2) / 2
    assert ralsgan.d_loss(REAL, FAKE).item() == pytest.approx(d)
    g = ((0 - 1) ** 2 + (-3.5 - 1) ** 2) / 2 + ((3.25 + 1) ** 2 + (0.25 + 1) ** 2) / 2
    assert ralsgan.g_loss(FAKE, REAL).item() == pytest.approx(g)
    rahinge = get_loss("rahinge")  # D: relu(1 - (r - mean f)) + relu(1 + (f - mean r))
    assert rahinge.d_loss(REAL, FAKE).item() == pytest.approx((0 + 0.75) / 2 + (1 + 0) / 2)
    assert rahinge.g_loss(FAKE, REAL).item() == pytest.approx((1 + 4.5) / 2 + (4.25 + 1.25) / 2)


def test_relativistic_generator_loss_depends_on_real_scores():
    """G's update also pushes D(real) down: the G loss falls as the real scores fall (and needs them)."""
    for name in ("rsgan", "rasgan", "ralsgan", "rahinge"):
        loss = get_loss(name)
        assert loss.g_needs_real
        assert loss.g_loss(FAKE, REAL - 1) < loss.g_loss(FAKE, REAL)
        with pytest.raises(InvalidArgumentError, match="needs the scores of real data"):
            loss.g_loss(FAKE)
    with pytest.raises(InvalidArgumentError, match="kind must be one of"):
        Relativistic("wasserstein")


def test_tv_loss_gives_the_hinge_gradients_and_differs_by_a_constant():
    real = torch.tensor([2.0, 0.3, -1.0, 1.5], requires_grad=True)  # scores on both sides of the bounds, none on them
    fake = torch.tensor([0.5, -3.0, -0.7, 1.2], requires_grad=True)
    tv, hinge = TotalVariation(), Hinge()
    grads_tv = torch.autograd.grad(tv.d_loss(real, fake), (real, fake))
    grads_hinge = torch.autograd.grad(hinge.d_loss(real, fake), (real, fake))
    for a, b in zip(grads_tv, grads_hinge):
        torch.testing.assert_close(a, b)
    assert (hinge.d_loss(real, fake) - tv.d_loss(real, fake)).item() == pytest.approx(2.0)
    # G keeps the linear loss; the clipped variant gives no gradient for fakes D scores below -1
    (g_linear,) = torch.autograd.grad(tv.g_loss(fake), fake)
    (g_clipped,) = torch.autograd.grad(TotalVariation(clip_g=True).g_loss(fake), fake)
    torch.testing.assert_close(g_linear, torch.full((4,), -0.25))
    torch.testing.assert_close(g_clipped, torch.tensor([-0.25, 0.0, -0.25, -0.25]))


class HalfSquaredNorm(nn.Module):
    """D(x) = ||x||^2 / 2, so grad_x D = x: each penalty's value shows where it was evaluated."""

    def forward(self, x):
        return 0.5 * x.flatten(1).pow(2).sum(1)


def test_r2_zero_gp_and_dragan_closed_forms():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    critic = HalfSquaredNorm()
    sq = lambda x: x.flatten(1).pow(2).sum(1)  # noqa: E731
    # R2 on fakes: gamma/2 E||fake||^2
    assert R2(gamma=4).d_penalty(critic, real, fake).item() == pytest.approx(2 * sq(fake).mean().item(), rel=1e-6)
    # 0-GP on interpolates: with fake == real every interpolate is the real point
    assert ZeroCenteredGP(10).d_penalty(critic, real, real.clone()).item() == pytest.approx(
        10 * sq(real).mean().item(), rel=1e-6)
    # DRAGAN: x + 0.5 std(batch) U[0,1], gradient norm pulled to k = 1
    torch.manual_seed(1)
    penalty = DRAGANPenalty(weight=10).d_penalty(critic, real, fake).item()
    torch.manual_seed(1)
    perturbed = real + 0.5 * real.std() * torch.rand_like(real)
    expected = 10 * (sq(perturbed).sqrt() - 1).pow(2).mean().item()
    assert penalty == pytest.approx(expected, rel=1e-6)
