"""S2GAN / S2GAN-CO / S3GAN: rotations and the rotation loss on a known tensor, the D and G losses of each variant on
stub networks against hand values, label inference by a stub classifier, S2GAN's seeded pre-training, the labelled
subset as the only labels read, few-step fits of each variant, bad arguments."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer
from torch import nn

from zoo.data.labels import balanced_subset
from zoo.errors import InvalidArgumentError
from zoo.families.s3gan import S3GAN, rotation_loss
from zoo.nets.classifier import FashionMNISTNet
from zoo.nets.s3gan import S3GANDiscriminator, rotated

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("label_efficiency", ROOT / "benchmarks" / "label_efficiency.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

TINY = dict(latent_dim=6, shared_dim=4, num_classes=10, img_size=16, img_channels=1, width=4,
            channel_multipliers=[1, 1, 1], attention_at=None, d_attention_at=None, ema_start=0, sample_every=0,
            classifier_width=4, classifier_steps=3, classifier_batch_size=4)
PATTERN = torch.tensor([[0.0, 1.0], [2.0, 3.0]])  # mean 1.5
# rotation logits of PATTERN's four rotations (the stub reads the corners clockwise from the top left): the logit of
# the true rotation is 0, 3, 0, 3, and every row is a permutation of 0..3
ROTATION_CE = math.log(1 + math.e + math.e ** 2 + math.e ** 3) - 1.5


def softplus(t):
    return math.log1p(math.exp(t))


def test_rotations_of_a_known_tensor():
    x = torch.stack([PATTERN, -PATTERN])[:, None]  # [2, 1, 2, 2]
    images, targets = rotated(x)
    expected = [PATTERN, torch.tensor([[1.0, 3.0], [0.0, 2.0]]), torch.tensor([[3.0, 2.0], [1.0, 0.0]]),
                torch.tensor([[2.0, 0.0], [3.0, 1.0]])]  # 0, 90, 180, 270 degrees counter-clockwise
    for k in range(4):
        torch.testing.assert_close(images[2 * k, 0], expected[k])
        torch.testing.assert_close(images[2 * k + 1, 0], -expected[k])
    assert targets.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    with pytest.raises(InvalidArgumentError, match="square images"):
        rotated(torch.zeros(1, 1, 2, 3))


def test_rotation_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    expected = ((math.log(math.e ** 2 + 3) - 2) + math.log(4)) / 2
    assert rotation_loss(logits, torch.tensor([0, 3])).item() == pytest.approx(expected, rel=1e-6)


class PatternG(nn.Module):
    """G(z, y) = p + PATTERN for every image (p trainable, 0 at first), whatever z and y."""

    latent_dim, num_classes = 3, 2

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))

    def forward(self, z, y):
        return (self.p + PATTERN).expand(len(z), 1, 2, 2)


class StubD(nn.Module):
    """h = mean(x); class logits (h, -h); D(x, y) = h * (1 + y), y = the class head's argmax if None; rotation
    logits = the four corners read clockwise from the top left."""

    def __init__(self, heads=True):
        super().__init__()
        self.heads = heads

    def forward(self, x, y=None, heads=False):
        h = x.mean((1, 2, 3))
        logits = torch.stack([h, -h], 1) if self.heads else None
        if y is None:
            y = logits.argmax(1)
        scores = h * (1 + y)
        rotation = torch.stack([x[:, 0, 0, 0], x[:, 0, 0, 1], x[:, 0, 1, 1], x[:, 0, 1, 0]], 1)
        return (scores, logits, rotation) if heads else scores


class StubC(nn.Module):
    """S2GAN's classifier: logits (-mean(x), mean(x)) times a parameter s = 1."""

    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(torch.ones(()))

    def forward(self, x):
        h = x.mean((1, 2, 3))
        return torch.stack([-h, h], 1) * self.s


def images_with_means(*means):
    return torch.tensor(means).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def stubbed(variant, monkeypatch, **kwargs):
    model = S3GAN(**{**TINY, "num_classes": 2, "variant": variant, "orthogonal_reg": 0.0, "labelled_batch_size": 1,
                     "rotated_batch_size": 1, **kwargs})
    model.G, model.D = PatternG(), StubD(heads=variant != "s2gan")
    if variant == "s2gan":
        model.C = StubC()
    model.set_labelled(images_with_means(1.0), torch.tensor([1]))  # the only labelled pair: (mean 1, class 1)
    monkeypatch.setattr(model, "latents", lambda n: (torch.zeros(n, 3), torch.tensor([0, 1])[:n]))
    return model


# fakes: PATTERN (mean 1.5) with labels 0, 1: scores 1.5, 3; hinge terms relu(1 + s) = 2.5, 4
FAKE_HINGE = (2.5 + 4.0) / 2
LABELLED_CE = softplus(2.0)  # class head on (mean 1): logits (1, -1), label 1


@pytest.mark.parametrize("labels", [None, torch.tensor([0, 0]), torch.tensor([1, 1])])
def test_s2gan_co_discriminator_loss_by_hand_ignores_the_data_module_labels(labels, monkeypatch):
    model = stubbed("s2gan-co", monkeypatch, class_weight=0.5)
    real = images_with_means(1.0, -1.0)
    # predicted labels: mean 1 -> logits (1, -1) -> 0, score 1; mean -1 -> 1, score -2; hinge relu(1 - s): 0, 3
    loss, logs = model.discriminator_loss(real, labels)
    assert logs["loss/d_adv"].item() == pytest.approx(1.5 + FAKE_HINGE, rel=1e-6)
    assert logs["loss/d_class"].item() == pytest.approx(LABELLED_CE, rel=1e-6)
    assert logs["d/labelled_accuracy"].item() == 0.0
    assert "loss/d_rotation" not in logs
    assert loss.item() == pytest.approx(1.5 + FAKE_HINGE + 0.5 * LABELLED_CE, rel=1e-6)


def test_s3gan_discriminator_loss_by_hand(monkeypatch):
    model = stubbed("s3gan", monkeypatch, rotation_weight_d=0.7)
    real = torch.stack([PATTERN, -PATTERN])[:, None]  # means 1.5 (label 0, score 1.5), -1.5 (label 1, score -3)
    loss, logs = model.discriminator_loss(real, None)
    adversarial = (0.0 + 4.0) / 2 + FAKE_HINGE
    assert logs["loss/d_adv"].item() == pytest.approx(adversarial, rel=1e-6)
    assert logs["loss/d_rotation"].item() == pytest.approx(ROTATION_CE, rel=1e-6)  # the first real image only
    assert loss.item() == pytest.approx(adversarial + LABELLED_CE + 0.7 * ROTATION_CE, rel=1e-6)


def test_s3gan_generator_loss_by_hand(monkeypatch):
    model = stubbed("s3gan", monkeypatch, rotation_weight_g=0.3)
    loss, logs = model.generator_loss(images_with_means(1.0, -1.0), None)
    assert logs["loss/g_adv"].item() == pytest.approx(-(1.5 + 3.0) / 2, rel=1e-6)  # hinge G: -mean D(G(z), y)
    assert logs["loss/g_rotation"].item() == pytest.approx(ROTATION_CE, rel=1e-6)
    assert loss.item() == pytest.approx(-2.25 + 0.3 * ROTATION_CE, rel=1e-6)
    for variant in ("s2gan", "s2gan-co"):  # no rotation task
        loss, logs = stubbed(variant, monkeypatch).generator_loss(images_with_means(1.0, -1.0), None)
        assert loss.item() == pytest.approx(-2.25, rel=1e-6) and "loss/g_rotation" not in logs


def test_s2gan_labels_come_from_its_classifier(monkeypatch):
    model = stubbed("s2gan", monkeypatch)
    real = images_with_means(1.0, -1.0, 0.5)
    assert model.infer_labels(real).tolist() == [1, 0, 1]  # StubC: logits (-mean, mean)
    # projection with C's labels: mean 1 -> 1, score 2; mean -1 -> 0, score -1; hinge relu(1 - s): 0, 2
    for labels in (None, torch.tensor([1, 1]), torch.tensor([0, 0])):
        loss, logs = model.discriminator_loss(real[:2], labels)
        assert loss.item() == pytest.approx(1.0 + FAKE_HINGE, rel=1e-6)
        assert logs.keys() == {"loss/d_adv", "d/real_score", "d/fake_score"}
    assert model.label_accuracy(real, torch.tensor([1, 1, 1]))["accuracy"] == pytest.approx(2 / 3)
    assert stubbed("s2gan-co", monkeypatch).infer_labels(real) is None  # D predicts them in the same pass


def test_discriminator_heads_and_predicted_labels():
    torch.manual_seed(0)
    D = S3GANDiscriminator(10, img_size=16, img_channels=1, width=4, channel_multipliers=[1, 1, 1], attention_at=None)
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    scores, logits, rotation = D(x, heads=True)
    assert scores.shape == (3,) and logits.shape == (3, 10) and rotation.shape == (3, 4)
    D.eval()  # no power iteration: the same weights for every call below
    h = D.features(x)
    torch.testing.assert_close(D(x), D.project(h, D.classifier(h).argmax(1)))
    y = torch.tensor([1, 2, 3])
    torch.testing.assert_close(D(x, y), D.project(h, y))
    plain = S3GANDiscriminator(10, img_size=16, img_channels=1, width=4, channel_multipliers=[1, 1, 1],
                               attention_at=None, class_head=False, rotation_head=False)
    assert plain(x, y, heads=True)[1:] == (None, None)
    with pytest.raises(InvalidArgumentError, match="no class head"):
        plain(x)


def balanced_loader(n=40, batch_size=8, labels=None):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 1, 16, 16, generator=g) * 2 - 1
    labels = torch.arange(n) % 10 if labels is None else labels
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size,
                                       shuffle=False, drop_last=True)


def fit(loader, labelled=None, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = S3GAN(**{**TINY, **kwargs})
    if labelled is not None:
        model.set_labelled(*labelled)
    trainer = quiet_trainer(log_every_n_steps=1)
    torch.manual_seed(seed + 1)
    trainer.fit(model, loader)
    return model, trainer


@pytest.mark.parametrize("variant", ["s2gan", "s2gan-co", "s3gan"])
def test_labels_outside_the_labelled_subset_are_never_read(variant):
    loader = balanced_loader()
    images, labels = loader.dataset.tensors
    index = balanced_subset(labels, 1, 10, seed=0)
    labelled = (images[index], labels[index])
    wrong = (labels + 3) % 10
    wrong[index] = labels[index]  # only the labels outside the subset are wrong
    right, _ = fit(loader, labelled, variant=variant, label_fraction=0.25, max_g_iters=1)
    other, _ = fit(balanced_loader(labels=wrong), labelled, variant=variant, label_fraction=0.25, max_g_iters=1)
    assert right.step_logs.keys() == other.step_logs.keys()
    for key, value in right.step_logs.items():
        assert torch.equal(value, other.step_logs[key]), key
    for a, b in zip(right.D.parameters(), other.D.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("variant, keys", [
    ("s2gan", set()),
    ("s2gan-co", {"loss/d_class", "d/labelled_accuracy"}),
    ("s3gan", {"loss/d_class", "d/labelled_accuracy", "loss/d_rotation", "loss/g_rotation"}),
])
def test_few_step_fit_of_each_variant(variant, keys):
    loader = balanced_loader()
    model, trainer = fit(loader, variant=variant, label_fraction=0.5, label_seed=3, max_g_iters=2)
    assert (model.g_iters, model.d_iters, trainer.global_step) == (2, 4, 6)  # BigGAN's n_critic 2
    labels = loader.dataset.tensors[1]
    expected = balanced_subset(labels, 2, 10, seed=3)  # 50% of 40 images: 2 per class
    assert torch.equal(model.labelled[1], labels[expected])
    assert torch.equal(model.labelled[0], loader.dataset.tensors[0][expected])
    assert keys <= model.step_logs.keys() and "loss/g" in model.step_logs
    assert all(torch.isfinite(v) for v in model.step_logs.values())
    assert (model.D.classifier is None) == (variant == "s2gan") and (model.D.rotation is None) == (variant != "s3gan")
    assert model.G_ema.num_classes == 10
    accuracy = model.label_accuracy(*loader.dataset.tensors)
    assert accuracy["n"] == 40 and 0 <= accuracy["accuracy"] <= 1


def test_s2gan_pretrains_its_classifier_once_seeded_by_label_seed():
    loader = balanced_loader()
    untrained = S3GAN(**TINY, variant="s2gan")
    one, _ = fit(loader, variant="s2gan", label_fraction=0.5, max_g_iters=1, seed=0)
    two, _ = fit(loader, variant="s2gan", label_fraction=0.5, max_g_iters=1, seed=5)  # another global seed
    assert bool(one.classifier_trained) and isinstance(one.C, FashionMNISTNet) and not one.C.training
    assert all(torch.equal(a, b) for a, b in zip(one.C.state_dict().values(), two.C.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(one.C.parameters(), untrained.C.parameters()))
    assert not any(p.requires_grad for p in one.C.parameters())
    # a resumed run (classifier_trained set, as the checkpoint restores it) does not train C again
    before = [p.clone() for p in one.C.parameters()]
    trainer = quiet_trainer()
    one.hparams.max_g_iters = 2
    trainer.fit(one, loader)
    assert all(torch.equal(a, b) for a, b in zip(before, one.C.parameters()))
    assert "classifier_trained" in one.state_dict() and "C.head.weight" in one.state_dict()


@pytest.mark.parametrize("variant", ["s2gan", "s3gan"])
def test_the_benchmark_reads_the_labeller_from_the_checkpoint(variant, tmp_path, monkeypatch, capsys):
    loader = balanced_loader()
    model, trainer = fit(loader, variant=variant, label_fraction=0.5, max_g_iters=2)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    state["hyper_parameters"]["_class_path"] = "zoo.families.s3gan.S3GAN"  # as `zoo fit` (LightningCLI) saves it
    torch.save(state, tmp_path / "last.ckpt")
    loaded, g_iters = bench.load_run(tmp_path / "last.ckpt")  # weights_only=True inside
    assert g_iters == 2 and loaded.hparams.variant == variant
    images, labels = loader.dataset.tensors
    expected = model.label_accuracy(images, labels)
    assert loaded.label_accuracy(images, labels) == expected

    import zoo.data.fashion_mnist as fmnist

    uint8 = ((images + 1) * 127.5).round().to(torch.uint8)  # 16px images at the run's 16px: no resize
    monkeypatch.setattr(fmnist, "load_fashion_mnist", lambda split, root=None: (uint8, labels))
    assert bench.main(["--ckpt", str(tmp_path / "last.ckpt"), "--out", str(tmp_path / "record.json")]) == 0
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["variant"] == variant and record["label_fraction"] == 0.5 and record["g_iters"] == 2
    assert set(record["inferred_label_accuracy"]) == {"train", "test"}
    assert record["inferred_label_accuracy"]["train"]["n"] == 40
    assert "| train |" in capsys.readouterr().out
    assert bench.main(["--ckpt", str(tmp_path / "missing.ckpt")]) == 2


def test_too_few_labels_for_one_per_class():
    with pytest.raises(InvalidArgumentError, match="less than one label per class"):
        fit(balanced_loader(), label_fraction=0.01, max_g_iters=1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(variant="s4gan"), "variant must be one of s2gan, s2gan-co, s3gan"),
    (dict(label_fraction=0.0), "must be in \\(0, 1\\]"),
    (dict(label_fraction=1.5), "must be in \\(0, 1\\]"),
    (dict(num_classes=1), "num_classes must be >= 2"),
    (dict(labelled_batch_size=0), "labelled_batch_size must be >= 1"),
    (dict(rotated_batch_size=0), "rotated_batch_size must be >= 1"),
    (dict(class_weight=-1.0), "need class_weight"),
    (dict(rotation_weight_g=float("nan")), "need class_weight"),
    (dict(variant="s2gan", img_channels=3), "set img_channels 1 or variant s2gan-co"),
    (dict(variant="s2gan", classifier_steps=0), "need classifier_steps >= 1"),
    (dict(step_mode="one_step", n_critic=1), "step_mode 'alternating'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        S3GAN(**{**TINY, **kwargs})
