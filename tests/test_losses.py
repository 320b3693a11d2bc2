"""Each loss and regularizer against values computed by hand."""

import math

import pytest
import torch
from torch import nn

from zoo.errors import InvalidArgumentError
from zoo.losses import Hinge, LeastSquares, Minimax, NonSaturating, Wasserstein, get_loss
from zoo.regularizers import R1, GradientPenalty, WeightClipping

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
