"""BiGAN / ALI: the joint discriminator's objective by hand, the inverted-label G/E objective, the encoder
training with G, ALI's stochastic encoder, errors, and a few-step fit through the engine."""

import pytest
import torch
from conftest import quiet_trainer, random_loader

from zoo.errors import InvalidArgumentError
from zoo.families.bigan import BiGAN
from zoo.nets.bigan import JointDiscriminator
from zoo.regularizers import R1, HistoricalAveraging, WeightClipping


def small(**kwargs):
    return BiGAN(latent_dim=8, width=4, joint_width=16, sample_every=0, **kwargs)


def test_joint_discriminator_reads_x_and_z():
    D = JointDiscriminator(8, width=4, joint_width=16).eval()
    x, z = torch.rand(3, 1, 28, 28) * 2 - 1, torch.randn(3, 8)
    assert D(x, z).shape == (3,)
    assert not torch.allclose(D(x, z), D(x, torch.randn(3, 8)))  # the score depends on the latent too
    assert not torch.allclose(D(x, z), D(torch.rand(3, 1, 28, 28), z))


def test_objectives_by_hand():
    torch.manual_seed(0)
    model = small()
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    d_loss, logs = model.discriminator_loss(real, None)
    torch.manual_seed(1)
    z = torch.randn(4, 8)
    r = model.D(real, model.E(real))
    f = model.D(model.G(z), z)
    # -log sigma(D(x, E(x))) - log(1 - sigma(D(G(z), z))), by hand from the logits
    by_hand = -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()
    assert d_loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert logs["d/real_score"].item() == pytest.approx(r.mean().item(), rel=1e-5)
    torch.manual_seed(1)
    g_loss, _ = model.generator_loss(real, None)
    # inverted labels: G wants D(G(z), z) real, E wants D(x, E(x)) fake
    inverted = -torch.log(torch.sigmoid(f)).mean() - torch.log(1 - torch.sigmoid(r)).mean()
    assert g_loss.item() == pytest.approx(inverted.item(), rel=1e-5)
    minimax = small(loss="minimax")
    minimax.load_state_dict(model.state_dict())
    torch.manual_seed(1)
    assert minimax.generator_loss(real, None)[0].item() == pytest.approx(-by_hand.item(), rel=1e-5)


def test_stochastic_encoder_draws_around_the_mean():
    model = small(stochastic_encoder=True)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    mu, logvar = model.E(x, posterior=True)
    torch.manual_seed(5)
    z = model.encode(x)
    torch.manual_seed(5)
    assert torch.allclose(z, mu + (0.5 * logvar).exp() * torch.randn(4, 8))
    assert not torch.allclose(z, mu)
    det = small()
    assert torch.equal(det.encode(x), det.E(x))


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="hinge"), "train it with loss 'ns' or 'minimax'"),
    (dict(d_dropout=1.0), "d_dropout must be in"),
    (dict(regularizers=[R1()]), "R1 penalises D's gradient in its image input"),
    (dict(pack=2), "do not implement pack"),
])
def test_bad_arguments_are_one_line(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message) as err:
        small(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("stochastic", [False, True])
def test_few_step_fit_trains_g_and_e_together_and_is_deterministic(stochastic):
    def run():
        torch.manual_seed(0)
        model = small(max_g_iters=3, stochastic_encoder=stochastic, d_dropout=0.2 if stochastic else 0.0,
                      regularizers=[WeightClipping(1.0)])
        e0 = [p.detach().clone() for p in model.E.parameters()]
        trainer = quiet_trainer()
        trainer.fit(model, random_loader())
        return model, e0, trainer

    model, e0, trainer = run()
    assert (model.g_iters, model.d_iters, trainer.global_step) == (3, 3, 6)
    opt_g = trainer.optimizers[0]
    assert {id(p) for p in model.E.parameters()} <= {id(p) for g in opt_g.param_groups for p in g["params"]}
    assert all(not torch.equal(a, b) for a, b in zip(e0, model.E.parameters()))
    assert model.encoder_network == "E" and model.ddp_networks == ("G", "E", "D")
    again, _, _ = run()
    assert all(torch.equal(a, b) for a, b in zip(model.E.parameters(), again.E.parameters()))


def test_weight_penalties_reach_the_joint_discriminator():
    """A weight penalty on D (historical averaging) is added and logged; input-gradient penalties are refused."""
    torch.manual_seed(0)
    plain, averaged = small(), small(regularizers=[HistoricalAveraging(0.5)])
    averaged.load_state_dict(plain.state_dict())
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    base, _ = plain.discriminator_loss(real, None)
    with torch.no_grad():  # the second call's penalty: 0.5 * ||theta_2 - mean(theta_1, theta_2)||^2, by hand
        for p in averaged.D.parameters():
            p.add_(0.1)
    averaged.regularizers[0].d_weight_penalty(averaged.D)  # the first update's parameters: theta_1
    with torch.no_grad():
        for p in averaged.D.parameters():
            p.sub_(0.1)
    torch.manual_seed(1)
    loss, logs = averaged.discriminator_loss(real, None)
    count = sum(p.numel() for p in averaged.D.parameters())
    by_hand = 0.5 * count * 0.05 ** 2  # each parameter 0.05 from the mean of the two
    assert logs["reg/HistoricalAveraging"].item() == pytest.approx(by_hand, rel=1e-4)
    assert (loss - base).item() == pytest.approx(by_hand, rel=1e-4)
