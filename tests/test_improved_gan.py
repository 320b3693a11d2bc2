"""Improved GAN's parts against hand computations: minibatch discrimination, feature matching, historical
averaging."""

import math

import pytest
import torch
from torch import nn

from zoo.errors import InvalidArgumentError
from zoo.families.improved_gan import ImprovedGAN, feature_matching_loss
from zoo.layers import MinibatchDiscrimination
from zoo.regularizers import HistoricalAveraging


def test_minibatch_discrimination_by_hand():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=3, num_kernels=2, kernel_dim=2)
    f = torch.randn(4, 3)
    out = layer(f)
    assert out.shape == (4, 3 + 2) and torch.equal(out[:, :3], f)
    m = (f @ layer.T).view(4, 2, 2)
    for i in range(4):
        for b in range(2):
            expected = sum(math.exp(-(m[i, b] - m[j, b]).abs().sum().item()) for j in range(4) if j != i)
            assert out[i, 3 + b].item() == pytest.approx(expected, rel=1e-5)
    # a collapsed batch (four copies) is as close as it gets: every c_b is 1, o = N - 1
    assert torch.allclose(layer(f[:1].repeat(4, 1))[:, 3:], torch.full((4, 2), 3.0))


def test_feature_matching_loss_by_hand():
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    # means (2, 3) and (1, 1): 1 + 4
    assert feature_matching_loss(real, fake).item() == pytest.approx(5.0)


def test_historical_averaging_penalises_the_distance_to_the_running_mean():
    module = nn.Linear(2, 1, bias=False)
    reg = HistoricalAveraging(weight=0.5)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([[1.0, 1.0]]))
    assert reg.g_penalty(module).item() == 0.0  # the mean of one value is that value
    with torch.no_grad():
        module.weight.copy_(torch.tensor([[3.0, -1.0]]))
    # mean of [1, 1] and [3, -1] is [2, 0]; 0.5 * ((3 - 2)^2 + (-1 - 0)^2)
    penalty = reg.d_weight_penalty(module)
    assert penalty.item() == pytest.approx(1.0)
    penalty.backward()
    torch.testing.assert_close(module.weight.grad, torch.tensor([[1.0, -1.0]]))  # 0.5 * 2 * (theta - mean)


def test_feature_matching_generator_loss_uses_d_features():
    torch.manual_seed(0)
    model = ImprovedGAN(latent_dim=8, width=4, minibatch_kernels=4, minibatch_kernel_dim=3, sample_every=0)
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, _ = model.generator_loss(real, None)
    torch.manual_seed(1)
    z, _ = model.latents(6)
    expected = feature_matching_loss(model.D.features(real), model.D.features(model.G(z)))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert model.D(real).shape == (6,)


def test_ns_plus_feature_matching_is_the_sum_of_both_objectives():
    torch.manual_seed(0)
    model = ImprovedGAN(latent_dim=8, width=4, minibatch_kernels=4, minibatch_kernel_dim=3, sample_every=0,
                        generator_objective="ns+feature_matching")
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, logs = model.generator_loss(real, None)
    torch.manual_seed(1)
    z, _ = model.latents(6)
    fake = model.G(z)
    matching = feature_matching_loss(model.D.features(real), model.D.features(fake))
    non_saturating = torch.nn.functional.softplus(-model.D(fake)).mean()  # -log sigmoid(D(G(z)))
    assert loss.item() == pytest.approx((non_saturating + matching).item(), rel=1e-5)
    assert logs["loss/g_adv"].item() == pytest.approx(non_saturating.item(), rel=1e-5)
    assert logs["improved_gan/feature_matching"].item() == pytest.approx(matching.item(), rel=1e-5)
    with pytest.raises(InvalidArgumentError, match="ns\\+feature_matching"):
        ImprovedGAN(generator_objective="ns_fm")
    with pytest.raises(InvalidArgumentError, match="feature_matching_weight"):  # it would weigh nothing there
        ImprovedGAN(generator_objective="feature_matching", feature_matching_weight=0.05)
