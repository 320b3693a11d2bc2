"""VAEGAN: KL and feature reconstruction by hand, the per-network update split (each network gets its own
objective's gradient from the one backward), the three-class D, errors, and a few-step fit through the engine."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import quiet_trainer, random_loader

from zoo.errors import InvalidArgumentError
from zoo.families.vaegan import VAEGAN, feature_nll
from zoo.losses import gaussian_kl
from zoo.nets.vaegan import FeatureDiscriminator
from zoo.regularizers import GradientPenalty


def small(**kwargs):
    return VAEGAN(latent_dim=8, width=4, sample_every=0, **kwargs)


def test_kl_and_feature_nll_by_hand():
    mu = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # row 1: 0 + 1/2 (4 + 1 - 1 - log 4); row 2: 1/2 * 4
    assert gaussian_kl(mu, logvar).item() == pytest.approx(((4 - math.log(4)) / 2 + 2) / 2, rel=1e-6)
    a, b = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    assert feature_nll(a, b).item() == pytest.approx((0.5 * 5 + 0.5 * 9) / 2)


def test_feature_discriminator_gives_logits_and_features():
    D = FeatureDiscriminator(4, classes=3)
    logits, h = D(torch.zeros(2, 1, 28, 28), features=True)
    assert logits.shape == (2, 3) and h.shape == (2, 8 * 7 * 7)
    assert FeatureDiscriminator(4)(torch.zeros(2, 1, 28, 28)).shape == (2,)


@pytest.mark.parametrize("three_class", [False, True])
def test_discriminator_loss_by_hand(three_class):
    torch.manual_seed(0)
    model = small(three_class=three_class)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, _ = model.discriminator_loss(real, None)
    torch.manual_seed(1)
    z_p = torch.randn(4, 8)
    mu, logvar = model.E(real, posterior=True)
    reconstructed = model.G(mu + (0.5 * logvar).exp() * torch.randn(4, 8))
    r, rec, gen = model.D(real), model.D(reconstructed), model.D(model.G(z_p))
    if three_class:  # classes: real 0, reconstructed 1, generated 2
        by_hand = -(r.log_softmax(1)[:, 0].mean() + rec.log_softmax(1)[:, 1].mean() + gen.log_softmax(1)[:, 2].mean())
    else:
        by_hand = -(torch.sigmoid(r).log().mean() + (1 - torch.sigmoid(rec)).log().mean()
                    + (1 - torch.sigmoid(gen)).log().mean())
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)


@pytest.mark.parametrize("three_class", [False, True])
def test_each_network_gets_its_own_objective(three_class):
    """E's gradient is that of kl_weight * KL + L_llike, G's that of gamma * L_llike + GAN (Larsen et al.'s split)."""
    torch.manual_seed(0)
    model = small(gamma=0.3, kl_weight=0.5, three_class=three_class)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, logs = model.generator_loss(real, None)
    E, G = list(model.E.parameters()), list(model.G.parameters())
    grads = torch.autograd.grad(loss, E + G)

    torch.manual_seed(1)
    z_p = torch.randn(4, 8)
    mu, logvar = model.E(real, posterior=True)
    reconstructed = model.G(mu + (0.5 * logvar).exp() * torch.randn(4, 8))
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1).mean()
    target = model.D(real, features=True)[1].detach()
    llike = 0.5 * (model.D(reconstructed, features=True)[1] - target).pow(2).sum(1).mean()
    rec_scores, gen_scores = model.D(reconstructed), model.D(model.G(z_p))
    if three_class:
        gan = F.cross_entropy(rec_scores, torch.zeros(4, dtype=torch.long)) + F.cross_entropy(
            gen_scores, torch.zeros(4, dtype=torch.long))
    else:
        gan = F.softplus(-rec_scores).mean() + F.softplus(-gen_scores).mean()
    assert loss.item() == pytest.approx((0.5 * kl + 0.3 * llike + gan).item(), rel=1e-5)
    assert logs["vaegan/kl"].item() == pytest.approx(kl.item(), rel=1e-5)
    encoder_grads = torch.autograd.grad(0.5 * kl + llike, E, retain_graph=True)
    decoder_grads = torch.autograd.grad(0.3 * llike + gan, G)
    for got, want in zip(grads, encoder_grads + decoder_grads):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="hinge"), "train it with loss 'ns'"),
    (dict(gamma=-1.0), "gamma and kl_weight must be >= 0"),
    (dict(label_smoothing=0.1), "label_smoothing is not implemented"),
    (dict(regularizers=[GradientPenalty()]), "GradientPenalty penalises D's gradient"),
    (dict(d_norm="group"), "d_norm must be 'layer', 'batch' or 'none'"),
])
def test_bad_arguments_are_one_line(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message) as err:
        small(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("d_norm, layer", [("layer", torch.nn.GroupNorm), ("batch", torch.nn.BatchNorm2d),
                                           ("none", None)])
def test_d_norm_chooses_the_discriminator_normalisation(d_norm, layer):
    norms = [m for m in small(d_norm=d_norm).D.modules() if isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm2d))]
    if layer is None:
        assert norms == []
    else:
        assert norms and all(type(m) is layer for m in norms)


@pytest.mark.parametrize("three_class", [False, True])
def test_few_step_fit_is_deterministic(three_class):
    def run():
        torch.manual_seed(0)
        model = small(max_g_iters=2, three_class=three_class)
        trainer = quiet_trainer()
        trainer.fit(model, random_loader())
        return model, trainer

    model, trainer = run()
    assert (model.g_iters, model.d_iters, trainer.global_step) == (2, 2, 4)
    assert model.encoder_network == "E" and model.E.stochastic
    again, _ = run()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_generator_running_statistics_describe_prior_samples_only():
    """A D and a G step decode three reconstruction batches and two prior batches: G's BatchNorm running statistics
    fold in the two prior batches alone (G_ema copies them and samples from z ~ N(0, I))."""
    torch.manual_seed(0)
    model = small()
    norm = next(m for m in model.G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    norm.register_forward_hook(lambda module, args, out: seen.append(args[0].detach().mean((0, 2, 3))))
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    model.discriminator_loss(real, None)
    model.generator_loss(real, None)
    assert len(seen) == 5 and norm.num_batches_tracked.item() == 2
    # prior batches: the D step's second decoding and the G step's last; momentum 0.1 from zero
    expected = 0.9 * (0.1 * seen[1]) + 0.1 * seen[4]
    assert torch.allclose(norm.running_mean, expected, atol=1e-6)
