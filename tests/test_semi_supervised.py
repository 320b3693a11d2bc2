"""The semi-supervised K+1 classifier (Salimans et al. 2016, section 5): the labelled subset, the loss by hand, a
few steps through the engine, and the mechanics of benchmarks/semi_supervised.py on tiny settings."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer
from torch import nn

from zoo.data.labels import balanced_subset, dataset_labels
from zoo.errors import InvalidArgumentError
from zoo.families.improved_gan import ImprovedGAN, real_fake_logit

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("semi_supervised", ROOT / "benchmarks" / "semi_supervised.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

TINY = dict(latent_dim=8, width=4, minibatch_kernels=0, d_norm="layer", semi_supervised_classes=10, sample_every=0)


def balanced_loader(n=40, batch_size=8):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.arange(n) % 10
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size,
                                       shuffle=False, drop_last=True)


def test_labelled_subset_is_balanced_and_fixed():
    labels = torch.randint(10, (2000,), generator=torch.Generator().manual_seed(1))
    index = balanced_subset(labels, per_class=10, num_classes=10, seed=0)
    assert len(index) == 100 and len(set(index.tolist())) == 100
    assert torch.equal(torch.bincount(labels[index], minlength=10), torch.full((10,), 10))
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(balanced_subset(labels, 10, 10, seed=0), index)
    assert not torch.equal(balanced_subset(labels, 10, 10, seed=1), index)
    with pytest.raises(InvalidArgumentError, match="fewer than the 10 labels"):
        balanced_subset(torch.tensor([0, 1, 1]), 10, 2)
    with pytest.raises(InvalidArgumentError, match="no labels"):
        dataset_labels(torch.utils.data.TensorDataset(torch.zeros(3, 1)))


def test_real_fake_logit_by_hand():
    # logits (0, 0): Z = 2, p(fake) = 1 / (Z + 1) = 1/3, so D(x) = 2/3
    assert torch.sigmoid(real_fake_logit(torch.zeros(1, 2))).item() == pytest.approx(2 / 3)
    assert real_fake_logit(torch.tensor([[math.log(0.5), math.log(0.5)]])).item() == pytest.approx(0.0, abs=1e-7)


class ConstantG(nn.Module):
    latent_dim, num_classes = 8, 0

    def forward(self, z):
        return torch.full((len(z), 1, 28, 28), math.log(0.5))


class MeanD(nn.Module):
    """Two class logits: the image's mean and 0."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, torch.zeros_like(m)], 1)


def test_k_plus_one_discriminator_loss_by_hand():
    model = ImprovedGAN(**{**TINY, "semi_supervised_classes": 2}, semi_supervised_labels=2, unsupervised_weight=0.5)
    model.G, model.D = ConstantG(), MeanD()
    model.set_labelled(torch.full((1, 1, 28, 28), math.log(3.0)), torch.tensor([0]))
    loss, logs = model.discriminator_loss(torch.zeros(4, 1, 28, 28), None)
    # labelled: logits (ln 3, 0), class 0: -log(3/4). real: logits (0, 0), Z = 2: -log(2/3) = ln 1.5.
    # fake: logits (ln 0.5, 0), Z = 1.5: -log(1 / 2.5) = ln 2.5
    supervised, unsupervised = math.log(4 / 3), math.log(1.5) + math.log(2.5)
    assert logs["loss/d_supervised"].item() == pytest.approx(supervised, rel=1e-5)
    assert loss.item() == pytest.approx(supervised + 0.5 * unsupervised, rel=1e-5)
    assert logs["d/labelled_accuracy"].item() == 1.0


def test_semi_supervised_arguments():
    with pytest.raises(InvalidArgumentError, match="multiple of semi_supervised_classes"):
        ImprovedGAN(**TINY, semi_supervised_labels=15)
    with pytest.raises(InvalidArgumentError, match="set minibatch_kernels 0"):
        ImprovedGAN(**{**TINY, "minibatch_kernels": 2}, semi_supervised_labels=10)
    with pytest.raises(InvalidArgumentError, match="d_norm must be"):
        ImprovedGAN(**{**TINY, "d_norm": "group"})
    with pytest.raises(InvalidArgumentError, match="no labelled examples"):
        ImprovedGAN(**TINY, semi_supervised_labels=10).labelled_batch(2)


def test_trains_through_the_engine_and_the_benchmark_reads_its_checkpoint(tmp_path):
    model = ImprovedGAN(**TINY, semi_supervised_labels=20, label_seed=3, max_g_iters=3)
    assert model.D(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    trainer = quiet_trainer()
    loader = balanced_loader()
    trainer.fit(model, loader)
    assert (model.g_iters, model.d_iters) == (3, 3)
    images, labels = model.labelled
    expected = balanced_subset(loader.dataset.tensors[1], 2, 10, seed=3)
    assert torch.equal(labels, loader.dataset.tensors[1][expected])
    assert torch.equal(images, loader.dataset.tensors[0][expected])
    assert "loss/d_supervised" in model.step_logs

    trainer.save_checkpoint(tmp_path / "last.ckpt")
    net, hparams, g_iters = bench.load_classifier(tmp_path / "last.ckpt")  # weights_only=True inside
    assert g_iters == 3 and hparams["semi_supervised_labels"] == 20
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(net(x), model.D.eval()(x))
    x_lab, y_lab = bench.labelled_subset(hparams, *loader.dataset.tensors)
    assert torch.equal(y_lab, labels)


def test_accuracy_on_a_known_case():
    class FirstPixel(nn.Module):  # predicts the class written in the first pixel
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(()))  # gives the net a device

        def forward(self, x):
            return nn.functional.one_hot(x[:, 0, 0, 0].long(), 3).float()

    images = torch.zeros(4, 1, 2, 2)
    images[:, 0, 0, 0] = torch.tensor([0.0, 1.0, 2.0, 2.0])
    result = bench.accuracy(FirstPixel(), images, torch.tensor([0, 1, 2, 0]), 3, batch_size=3)  # predicts 0, 1, 2, 2
    assert result["accuracy"] == 0.75 and result["per_class"] == [0.5, 1.0, 1.0]


def test_baseline_learns_its_labels():
    hparams = {**TINY, "img_channels": 1, "img_size": 28, "minibatch_kernel_dim": 5, "semi_supervised_labels": 20,
               "label_seed": 0, "lr_d": 1e-2, "betas_d": [0.5, 0.999]}
    images, labels = balanced_loader(20).dataset.tensors
    untrained = bench.accuracy(bench.network_from_hparams(hparams), images, labels, 10)["accuracy"]
    net = bench.train_baseline(hparams, images, labels, steps=40)
    assert untrained < 0.5 and bench.accuracy(net, images, labels, 10)["accuracy"] == 1.0  # 20 images, memorised


def test_benchmark_without_a_checkpoint_says_so(tmp_path, capsys):
    assert bench.main(["--run", str(tmp_path)]) == 2
    assert "pass --run RUN_FOLDER" in capsys.readouterr().err


def test_benchmark_tells_the_family_by_class_path_and_refuses_others():
    assert bench.family_of({"_class_path": "zoo.families.triplegan.TripleGAN"}) == "triplegan"
    assert bench.family_of({"_class_path": "zoo.families.improved_gan.ImprovedGAN", "classifier_width": 32}) == \
        "improved-gan"
    assert bench.family_of({"pseudo_weight": 0.1}) == "triplegan"  # a plain Trainer's checkpoint names no class
    with pytest.raises(SystemExit, match="S3GAN, which has no semi-supervised classifier"):
        bench.family_of({"_class_path": "zoo.families.s3gan.S3GAN", "classifier_width": 32})
