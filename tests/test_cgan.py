"""CGAN: both networks use the label; the three-term D loss with mismatched real pairs, against hand values."""

import math

import pytest
import torch
from conftest import quiet_trainer, random_loader
from torch import nn

import zoo
from zoo.errors import InvalidArgumentError
from zoo.families.cgan import CGAN, wrong_labels
from zoo.nets.cgan import ConditionalDCGANGenerator, LabelMapDiscriminator

TINY = dict(latent_dim=8, width=4, sample_every=0)


def softplus(t):
    return math.log1p(math.exp(t))


class ZeroG(nn.Module):
    """G(z, y) = black images (mean 0), whatever z and y."""

    latent_dim, num_classes = 3, 2

    def forward(self, z, y):
        return torch.zeros(len(z), 1, 4, 4)


class MeanTimesLabelD(nn.Module):
    """D(x, y) = mean(x) * (1 + y): its scores of every pair are easy to compute by hand."""

    def forward(self, x, y):
        return x.mean((1, 2, 3)) * (1 + y)


def stubbed(mismatch):
    model = CGAN(**TINY, num_classes=2, mismatch=mismatch)
    model.G, model.D = ZeroG(), MeanTimesLabelD()
    return model


def test_three_term_d_loss_by_hand():
    real = torch.stack([torch.full((1, 4, 4), 1.0), torch.full((1, 4, 4), -1.0)])
    labels = torch.tensor([0, 1])
    # right pairs: D = 1 * 1, -1 * 2; fakes: 0; wrong pairs (two classes: the other label): 1 * 2, -1 * 1
    real_term = (softplus(-1.0) + softplus(2.0)) / 2
    fake_term = softplus(0.0)
    mismatch_term = (softplus(2.0) + softplus(-1.0)) / 2
    loss, logs = stubbed(mismatch=True).discriminator_loss(real, labels)
    assert loss.item() == pytest.approx(real_term + fake_term + mismatch_term, rel=1e-6)
    assert logs["loss/d_mismatch"].item() == pytest.approx(mismatch_term, rel=1e-6)
    assert logs["d/mismatch_score"].item() == pytest.approx(0.5)
    plain, plain_logs = stubbed(mismatch=False).discriminator_loss(real, labels)
    assert plain.item() == pytest.approx(real_term + fake_term, rel=1e-6) and "loss/d_mismatch" not in plain_logs


def test_wrong_labels_are_always_wrong_and_cover_the_other_classes():
    labels = torch.arange(5).repeat(400)
    wrong = wrong_labels(labels, 5)
    assert not (wrong == labels).any()
    for c in range(5):
        counts = torch.bincount(wrong[labels == c], minlength=5)
        assert counts[c] == 0 and (counts[torch.arange(5) != c] > 60).all()  # ~100 each of the four others


def test_shapes_and_the_label_map():
    g = ConditionalDCGANGenerator(latent_dim=8, num_classes=10, width=4)
    d = LabelMapDiscriminator(num_classes=10, label_channels=2, width=4)
    z, y = torch.randn(3, 8), torch.tensor([0, 5, 9])
    assert g(z, y).shape == (3, 1, 28, 28) and g.latent_dim == 8
    assert d(torch.randn(3, 1, 28, 28), y).shape == (3,)
    label_map = d.label_map(y)
    assert label_map.shape == (3, 2, 28, 28)
    # a 7x7 embedding upsampled (nearest) to 28x28: constant on each 4x4 block, equal to the embedding
    torch.testing.assert_close(label_map[:, :, ::4, ::4], d.embed(y).view(3, 2, 7, 7))
    torch.testing.assert_close(label_map, label_map[:, :, ::4, ::4].repeat_interleave(4, 2).repeat_interleave(4, 3))


def test_both_networks_use_the_label():
    torch.manual_seed(0)
    model = CGAN(**TINY).eval()
    z, x = torch.randn(4, 8), torch.rand(4, 1, 28, 28) * 2 - 1
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    with torch.no_grad():
        assert not torch.equal(model.G(z, y0), model.G(z, y1))
        assert not torch.equal(model.D(x, y0), model.D(x, y1))
    assert model.conditional


def test_few_step_fit_with_mismatch():
    model = CGAN(**TINY, mismatch=True, max_g_iters=2)
    embed0 = model.D.embed.weight.detach().clone()
    trainer = quiet_trainer(log_every_n_steps=1)
    trainer.fit(model, random_loader())
    assert model.g_iters == 2 and model.d_iters == 2 and trainer.global_step == 4
    assert torch.isfinite(trainer.callback_metrics["loss/d_mismatch"])
    assert not torch.equal(embed0, model.D.embed.weight)


def test_samples_by_label_name_are_deterministic_and_survive_a_save(tmp_path):
    names = [f"class {i}" for i in range(10)]
    g = CGAN(**TINY, class_names=names).G_ema.eval()
    a = g.sample(4, seed=3, labels=["class 2", 2, "CLASS 7", 7])
    assert torch.equal(a, g.sample(4, seed=3, labels=[2, 2, 7, 7]))
    g.save_pretrained(tmp_path)
    loaded = zoo.load(tmp_path)
    assert loaded.class_names == names and torch.equal(loaded.sample(4, seed=3, labels=[2, 2, 7, 7]), a)


@pytest.mark.parametrize("kwargs, message", [
    (dict(mismatch=True, loss="hinge"), "mismatch adds a third cross-entropy term"),
    (dict(mismatch=True, num_classes=1), "needs num_classes >= 2"),
    (dict(mismatch=True, label_smoothing=0.1), "mismatch is not combined with label_smoothing"),
    (dict(class_names=["a", "b"]), "class_names has 2 names for num_classes=10"),
    (dict(label_channels=0), "label_channels must be >= 1"),
    (dict(pack=2), "networks do not implement pack"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        CGAN(**{**TINY, **kwargs})
