"""The training-trick switches (zoo.tricks): label smoothing, noise and flipping, instance noise, PacGAN packing,
dropout in G; each against values computed by hand, and refused where a family cannot use it."""

import math

import pytest
import torch
from torch import nn

from zoo.errors import InvalidArgumentError
from zoo.families.biggan import BigGAN
from zoo.families.dcgan import DCGAN
from zoo.families.gan import GAN
from zoo.families.sngan import SNGAN
from zoo.families.wgan_gp import WGANGP
from zoo.tricks import LabelTargets, instance_noise_std

TINY = dict(latent_dim=8, width=4, sample_every=0)


def softplus(x):
    return math.log1p(math.exp(x))


def test_one_sided_label_smoothing_by_hand():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    # BCE(r, 0.9) = 0.9 softplus(-r) + 0.1 softplus(r); the fakes keep target 0: softplus(f)
    real_part = sum(0.9 * softplus(-r) + 0.1 * softplus(r) for r in (2.0, -1.0)) / 2
    fake_part = (softplus(0.5) + softplus(-3.0)) / 2
    assert LabelTargets(smoothing=0.1).d_loss(real, fake).item() == pytest.approx(real_part + fake_part, rel=1e-6)


def test_noisy_and_flipped_targets():
    torch.manual_seed(0)
    scores = torch.zeros(20_000)
    noisy = LabelTargets(noise=0.3)
    real, fake = noisy.targets(scores, real=True), noisy.targets(scores, real=False)
    assert real.min() >= 0.7 and real.max() <= 1.0 and fake.min() >= 0.0 and fake.max() <= 0.3
    assert real.mean().item() == pytest.approx(0.85, abs=0.01) and fake.mean().item() == pytest.approx(0.15, abs=0.01)
    torch.manual_seed(1)
    flipped = LabelTargets(flip=0.2).targets(scores, real=True)
    torch.manual_seed(1)
    expected = torch.where(torch.rand_like(scores) < 0.2, 0.0, 1.0)
    assert torch.equal(flipped, expected) and flipped.mean().item() == pytest.approx(0.8, abs=0.01)


def test_instance_noise_anneals_linearly_and_reaches_d_inputs():
    assert [instance_noise_std(0.2, g, 100) for g in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    model = DCGAN(**TINY, instance_noise=0.2, max_g_iters=100)
    model.D = Recorder()
    model.g_iters = 50
    x = torch.zeros(4000, 1, 28, 28)
    model.discriminate(x)
    assert model.D.inputs[0].std().item() == pytest.approx(0.1, rel=0.01)


class Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x)
        return x.flatten(1).sum(1)


@pytest.mark.parametrize("family,kwargs", [(DCGAN, TINY), (SNGAN, TINY),
                                           (GAN, dict(latent_dim=8, g_hidden=(16,), d_hidden=(16,)))])
def test_pack_stacks_consecutive_samples_along_channels(family, kwargs):
    model = family(**kwargs, pack=2)
    x = torch.rand(8, 1, 28, 28)
    assert model.discriminate(x).shape == (4,)  # D itself takes 2-channel inputs
    model.D = Recorder()
    model.discriminate(x)
    packed = model.D.inputs[0]
    assert packed.shape == (4, 2, 28, 28) and torch.equal(packed[1, 0], x[2, 0]) and torch.equal(packed[1, 1], x[3, 0])
    with pytest.raises(InvalidArgumentError, match="cannot be packed in groups of 2: use a batch size"):
        model.discriminate(x[:7])


def test_pack_trains_with_a_gradient_penalty():
    from conftest import quiet_trainer, random_loader

    model = WGANGP(**TINY, pack=2, n_critic=2, max_g_iters=2)
    quiet_trainer().fit(model, random_loader())
    assert model.g_iters == 2 and model.D.features[0].in_channels == 2


def test_dropout_in_g_acts_in_training_only():
    torch.manual_seed(0)
    model = DCGAN(**TINY, g_dropout=0.5)
    G, z = model.G.train(), torch.randn(4, 8)
    assert any(isinstance(m, nn.Dropout) for m in G.modules())
    assert not torch.equal(G(z), G(z))
    G.eval()
    assert torch.equal(G(z), G(z))
    assert not any(isinstance(m, nn.Dropout) for m in DCGAN(**TINY).G.modules())  # off: the same layers as before


def test_switches_are_refused_where_they_do_not_apply():
    with pytest.raises(InvalidArgumentError, match="SNGAN's networks do not implement g_dropout"):
        SNGAN(**TINY, g_dropout=0.1)
    with pytest.raises(InvalidArgumentError, match="BigGAN's networks do not implement pack"):
        BigGAN(pack=2)
    with pytest.raises(InvalidArgumentError, match="change the targets of the minimax"):
        DCGAN(**TINY, loss="hinge", label_smoothing=0.1)
    with pytest.raises(InvalidArgumentError, match="label_flip must lie in"):
        DCGAN(**TINY, label_flip=1.5)
    with pytest.raises(InvalidArgumentError, match="instance_noise anneals to 0 at max_g_iters"):
        DCGAN(**TINY, instance_noise=0.1)
    with pytest.raises(InvalidArgumentError, match="need pack >= 1"):
        DCGAN(**TINY, pack=0)
