"""ACGAN: the source and class terms of both objectives against hand values, and the class head as a classifier."""

import math

import pytest
import torch
from conftest import quiet_trainer, random_loader
from torch import nn

from zoo.errors import DataNotFoundError, InvalidArgumentError
from zoo.families.acgan import ACGAN
from zoo.nets.acgan import AuxiliaryClassifierDiscriminator

TINY = dict(latent_dim=8, width=4, sample_every=0)


def softplus(t):
    return math.log1p(math.exp(t))


class ZeroG(nn.Module):
    latent_dim, num_classes = 3, 2

    def forward(self, z, y):
        return torch.zeros(len(z), 1, 4, 4)


class MeanD(nn.Module):
    """Source score m = mean(x); class logits (m, -m): positive images look like class 0."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # something to read the device from

    def forward(self, x, y=None, classes=False):
        m = x.mean((1, 2, 3))
        return (m, self.classify(x)) if classes else m

    def classify(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([m, -m], 1)


def stubbed(**kwargs):
    model = ACGAN(**TINY, num_classes=2, **kwargs)
    model.G, model.D = ZeroG(), MeanD()
    return model


def test_objectives_by_hand():
    model = stubbed(class_weight=0.5)
    real = torch.stack([torch.full((1, 4, 4), 1.0), torch.full((1, 4, 4), -1.0)])
    labels = torch.tensor([0, 1])
    # real scores (1, -1), logits (1, -1) and (-1, 1): CE = softplus(-2) each; fakes: score 0, logits (0, 0): CE log 2
    adversarial = (softplus(-1.0) + softplus(1.0)) / 2 + softplus(0.0)
    class_real, class_fake = softplus(-2.0), math.log(2)
    loss, logs = model.discriminator_loss(real, labels)
    assert loss.item() == pytest.approx(adversarial + 0.5 * (class_real + class_fake), rel=1e-6)
    assert logs["acgan/class_real"].item() == pytest.approx(class_real, rel=1e-6)
    assert logs["acgan/accuracy_real"].item() == 1.0
    g_loss, g_logs = model.generator_loss(real, labels)  # non-saturating softplus(-0) + 0.5 * log 2
    assert g_loss.item() == pytest.approx(softplus(0.0) + 0.5 * math.log(2), rel=1e-6)
    assert g_logs["acgan/g_class"].item() == pytest.approx(math.log(2), rel=1e-6)


def test_fake_class_weight_scales_only_the_class_term_on_fakes():
    real = torch.stack([torch.full((1, 4, 4), 1.0), torch.full((1, 4, 4), -1.0)])
    labels = torch.tensor([0, 1])
    adversarial = (softplus(-1.0) + softplus(1.0)) / 2 + softplus(0.0)
    for weight in (0.0, 0.25):  # 0: the class head learns from real images only
        model = stubbed(class_weight=0.5, fake_class_weight=weight)
        assert model.hparams.fake_class_weight == weight
        loss, logs = model.discriminator_loss(real, labels)
        assert loss.item() == pytest.approx(adversarial + 0.5 * (softplus(-2.0) + weight * math.log(2)), rel=1e-6)
        assert logs["acgan/class_fake"].item() == pytest.approx(math.log(2), rel=1e-6)  # still logged
        g_loss, _ = model.generator_loss(real, labels)  # G's class term does not change
        assert g_loss.item() == pytest.approx(softplus(0.0) + 0.5 * math.log(2), rel=1e-6)


def test_classifier_accuracy_by_hand():
    model = stubbed()
    images = torch.tensor([1.0, 2.0, -1.0, 3.0]).view(4, 1, 1, 1).expand(4, 1, 4, 4)
    result = model.classifier_accuracy(images, torch.tensor([0, 0, 1, 1]), batch_size=3)  # predicts 0, 0, 1, 0
    assert result == {"accuracy": 0.75, "per_class": [1.0, 0.5], "n": 4}
    with pytest.raises(InvalidArgumentError, match="need images"):
        model.classifier_accuracy(images, torch.tensor([0, 1]))


def test_discriminator_heads_share_one_body():
    d = AuxiliaryClassifierDiscriminator(num_classes=10, width=4).eval()
    x = torch.rand(3, 1, 28, 28)
    scores, logits = d(x, torch.zeros(3, dtype=torch.long), classes=True)
    assert scores.shape == (3,) and logits.shape == (3, 10)
    torch.testing.assert_close(d(x), scores)  # the label is ignored: D does not see it
    torch.testing.assert_close(d.classify(x), logits)


def test_few_step_fit_trains_the_class_head_and_reloads_from_the_checkpoint(tmp_path):
    model = ACGAN(**TINY, max_g_iters=2)
    head0 = model.D.classes.weight.detach().clone()
    trainer = quiet_trainer(log_every_n_steps=1)
    trainer.fit(model, random_loader())
    assert model.g_iters == 2 and trainer.global_step == 4
    assert torch.isfinite(trainer.callback_metrics["acgan/class_fake"])
    assert not torch.equal(head0, model.D.classes.weight)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)  # as zoo fit's LightningCLI saves them
    checkpoint["hyper_parameters"].update(_class_path="zoo.families.acgan.ACGAN", _instantiator="x")
    torch.save(checkpoint, tmp_path / "last.ckpt")
    loaded = ACGAN.from_checkpoint(tmp_path / "last.ckpt")
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert torch.equal(loaded.D.eval().classify(x), model.D.eval().classify(x))


def test_test_split_accuracy():
    model = ACGAN(**TINY)
    try:
        result = model.test_accuracy()
    except DataNotFoundError:
        pytest.skip("Fashion-MNIST is not installed")
    assert result["n"] == 10_000 and len(result["per_class"]) == 10 and 0 <= result["accuracy"] <= 1
    assert result["accuracy"] == pytest.approx(sum(result["per_class"]) / 10, abs=1e-6)  # 1,000 per class


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="class_weight must be >= 0"):
        ACGAN(**TINY, class_weight=-1.0)
    with pytest.raises(InvalidArgumentError, match="fake_class_weight must be >= 0"):
        ACGAN(**TINY, fake_class_weight=float("nan"))
    with pytest.raises(InvalidArgumentError, match="networks do not implement pack"):
        ACGAN(**TINY, pack=2)
