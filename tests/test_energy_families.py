"""EBGAN's and BEGAN's mechanisms: energies, the margin loss, the pulling-away term and BEGAN's controller k_t."""

import lightning as L
import pytest
import torch
from conftest import quiet_trainer, random_loader

from zoo.errors import InvalidArgumentError
from zoo.families.began import BEGAN
from zoo.families.ebgan import EBGAN, EnergyMargin, pulling_away_term
from zoo.nets.autoencoder import AutoencoderDiscriminator


def test_energy_margin_loss_by_hand():
    real, fake = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 1.5])
    loss = EnergyMargin(margin=1.0)
    assert loss.d_loss(real, fake).item() == pytest.approx(0.3 + (0.5 + 0.0) / 2)
    assert loss.g_loss(fake).item() == pytest.approx(1.0)


def test_pulling_away_term_by_hand():
    assert pulling_away_term(torch.eye(4)).item() == pytest.approx(0.0)  # orthogonal codes
    assert pulling_away_term(torch.ones(3, 5) * torch.tensor([[1.0], [2.0], [-3.0]])).item() == pytest.approx(1.0)
    # two codes at 60 degrees: cos^2 = 1/4 for both ordered pairs, averaged over N(N-1) = 2
    codes = torch.tensor([[1.0, 0.0], [0.5, 3 ** 0.5 / 2]])
    assert pulling_away_term(codes).item() == pytest.approx(0.25)


@pytest.mark.parametrize("style,energy,power", [("dcgan", None, 2), ("began", None, 1), ("dcgan", "l1", 1),
                                                ("began", "l2", 2)])
def test_autoencoder_energy_is_the_reconstruction_error(style, energy, power):
    D = AutoencoderDiscriminator(width=4, code_dim=8, style=style, energy=energy).eval()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    code, reconstruction = D.autoencode(x)
    assert code.shape == (3, 8) and reconstruction.shape == x.shape
    expected = (reconstruction - x).abs().pow(power).flatten(1).mean(1)
    torch.testing.assert_close(D(x), expected)


class KRecorder(L.Callback):
    def __init__(self):
        self.rows = []

    def on_train_batch_start(self, trainer, model, *args):
        self.k_before = model.k.item()

    def on_train_batch_end(self, trainer, model, *args):
        logs = model.step_logs
        self.rows.append((self.k_before, logs["began/L_real"].item(), logs["loss/g_adv"].item(), model.k.item()))
        assert logs["began/k"].item() == model.k.item()  # recorded with the step's other numbers


def test_began_controller_follows_its_update_rule_and_stays_in_0_1():
    torch.manual_seed(0)
    # a large lambda_k so that a few steps reach both bounds of the clip
    model = BEGAN(latent_dim=8, width=4, gamma=0.5, lambda_k=5.0, sample_every=0, max_g_iters=8)
    recorder = KRecorder()
    trainer = quiet_trainer(callbacks=[recorder], log_every_n_steps=1)
    trainer.fit(model, random_loader(n=64))
    assert len(recorder.rows) == 8
    for k_before, loss_real, loss_g, k_after in recorder.rows:
        expected = min(1.0, max(0.0, k_before + 5.0 * (0.5 * loss_real - loss_g)))
        assert k_after == pytest.approx(expected, abs=1e-6)
        assert 0.0 <= k_after <= 1.0
    assert recorder.rows[0][0] == 0.0  # k_0 = 0
    assert any(row[3] in (0.0, 1.0) for row in recorder.rows)  # the clip was exercised
    assert trainer.callback_metrics["began/k"].item() == recorder.rows[-1][3]  # logged on the logger's steps


def test_began_dcgan_networks_keep_the_l1_energy():
    from zoo.nets.dcgan import DCGANGenerator

    model = BEGAN(latent_dim=8, width=4, networks="dcgan", sample_every=0)
    assert isinstance(model.G, DCGANGenerator) and model.D.style == "dcgan"
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    model.D.eval()
    torch.testing.assert_close(model.D(x), (model.D.autoencode(x)[1] - x).abs().flatten(1).mean(1))
    with pytest.raises(InvalidArgumentError, match="networks must be"):
        BEGAN(networks="resnet")


def test_began_d_loss_weighs_the_fakes_by_k():
    torch.manual_seed(0)
    model = BEGAN(latent_dim=8, width=4, sample_every=0)
    model.k.fill_(0.25)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, logs = model.discriminator_loss(real, None)
    assert loss.item() == pytest.approx(logs["began/L_real"].item() - 0.25 * logs["began/L_fake_d"].item(), rel=1e-6)


def test_families_with_their_own_objectives_refuse_one_step_training():
    from zoo.families.improved_gan import ImprovedGAN
    from zoo.families.modereg import ModeRegularizedGAN

    for family in (EBGAN, ImprovedGAN, ModeRegularizedGAN):
        with pytest.raises(InvalidArgumentError, match="own generator or discriminator objective.*'alternating'"):
            family(step_mode="one_step")
    with pytest.raises(InvalidArgumentError, match="n_critic 1"):
        BEGAN(n_critic=2)
