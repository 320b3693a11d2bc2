"""TripleGAN: the three players' losses on stub networks against hand values, C's REINFORCE surrogate and its exact
expectation, R_P reaching C only, C's pre-training, the labelled subset (never the data module's labels), a few-step
fit read back by the benchmark."""

import copy
import importlib.util
import math
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer
from torch import nn

from zoo.data.labels import balanced_subset
from zoo.errors import InvalidArgumentError
from zoo.families.triplegan import TripleGAN, class_balance_loss, classifier_adversarial_loss, classifier_expected_loss
from zoo.nets.classifier import FashionMNISTNet
from zoo.regularizers import R1

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("semi_supervised", ROOT / "benchmarks" / "semi_supervised.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

TINY = dict(latent_dim=8, width=4, classifier_width=4, semi_supervised_labels=10, sample_every=0)


def softplus(t):
    return math.log1p(math.exp(t))


def balanced_loader(n=40, batch_size=8, labels=None):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.arange(n) % 10 if labels is None else labels
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size,
                                       shuffle=False, drop_last=True)


class ConstantG(nn.Module):
    """G(z, y) = images filled with one trainable value p (0 at first), whatever z and y."""

    latent_dim, num_classes = 3, 2

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))

    def forward(self, z, y):
        return self.p * torch.ones(len(z), 1, 4, 4)


class MeanTimesLabelD(nn.Module):
    """D(x, y) = mean(x) * (1 + y)."""

    def forward(self, x, y):
        return x.mean((1, 2, 3)) * (1 + y)


class MeanLinearC(nn.Module):
    """C's logits = mean(x) * w, w trainable."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([scale, -scale]))

    def forward(self, x):
        return x.mean((1, 2, 3))[:, None] * self.w


def images_with_means(*means):
    return torch.tensor(means).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone()


def stubbed(c_scale=1.0, **kwargs):
    model = TripleGAN(**{**TINY, "num_classes": 2, "semi_supervised_labels": 2, **kwargs})
    model.G, model.D, model.C = ConstantG(), MeanTimesLabelD(), MeanLinearC(c_scale)
    model.set_labelled(images_with_means(1.0), torch.tensor([0]))  # the only labelled pair: (mean 1, class 0)
    return model


def test_discriminator_loss_by_hand_ignores_the_data_module_labels():
    model = stubbed(c_scale=50.0, alpha=0.3)  # C all but certain: class 0 for mean 1, class 1 for mean -1
    real = images_with_means(1.0, -1.0)
    # labelled pairs: D(mean 1, 0) = 1; C's pairs: (1, 0) -> 1 and (-1, 1) -> -2; G's pairs: mean 0 -> 0
    expected = softplus(-1.0) + 0.3 * (softplus(1.0) + softplus(-2.0)) / 2 + 0.7 * math.log(2)
    for labels in (None, torch.tensor([1, 0]), torch.tensor([0, 1])):
        loss, logs = model.discriminator_loss(real, labels)
        assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logs["d/real_score"].item() == pytest.approx(1.0)
    assert logs["d/classifier_score"].item() == pytest.approx(-0.5)
    assert logs["d/fake_score"].item() == 0.0


def test_unlabelled_real_pairs_take_the_classifiers_argmax_by_hand():
    """The authors' code: the batch's first k images, labelled by C's argmax, join D's real pairs (the labelled
    batch shrinks to keep B real pairs); the rest give C's pairs."""
    model = stubbed(c_scale=50.0, alpha=0.3, unlabelled_real=1)
    real = images_with_means(-1.0, 1.0)
    # real pairs: labelled (mean 1, 0) -> 1 and (mean -1, argmax 1) -> -2; C's pair: (mean 1, 0) -> 1; G's -> 0
    expected = (softplus(-1.0) + softplus(2.0)) / 2 + 0.3 * softplus(1.0) + 0.7 * math.log(2)
    loss, logs = model.discriminator_loss(real, torch.tensor([0, 0]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logs["d/real_score"].item() == pytest.approx(-0.5) and logs["d/classifier_score"].item() == 1.0
    with pytest.raises(InvalidArgumentError, match="must be below the batch size"):
        stubbed(unlabelled_real=2).discriminator_loss(real, None)


def test_pretrained_labeller_labels_ds_unlabelled_real_pairs_by_hand():
    """real_pair_labeller 'pretrained': C's frozen pre-trained copy, not C, labels D's unlabelled real pairs."""
    model = stubbed(c_scale=50.0, alpha=0.3, unlabelled_real=1, classifier_pretrain_steps=1,
                    real_pair_labeller="pretrained")
    model.C_pretrained = MeanLinearC(-50.0)  # the opposite of C: argmax 0 for mean -1
    real = images_with_means(-1.0, 1.0)
    # real pairs: labelled (mean 1, 0) -> 1 and (mean -1, 0) -> -1; C's pair: (mean 1, 0) -> 1; G's -> 0
    expected = (softplus(-1.0) + softplus(1.0)) / 2 + 0.3 * softplus(1.0) + 0.7 * math.log(2)
    loss, _ = model.discriminator_loss(real, None)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_reinforce_surrogate_value_and_gradient_by_hand():
    logits = torch.tensor([[1.0, -1.0], [0.0, 0.0]], requires_grad=True)
    sampled, scores = torch.tensor([1, 0]), torch.tensor([2.0, -1.0], requires_grad=True)
    log_probs = torch.log_softmax(logits, 1)
    loss = classifier_adversarial_loss(log_probs, sampled, scores)
    # f = log(1 - sigmoid(s)) = -softplus(s); log p: log sigmoid(-2) = -softplus(2), log(1/2)
    f = [-softplus(2.0), -softplus(-1.0)]
    assert loss.item() == pytest.approx((f[0] * -softplus(2.0) + f[1] * math.log(0.5)) / 2, rel=1e-6)
    loss.backward()
    # d/dlogits of f * log p_y = f * (onehot(y) - p), over the batch mean
    p0 = torch.softmax(torch.tensor([1.0, -1.0]), 0)
    expected = torch.stack([f[0] * (torch.tensor([0.0, 1.0]) - p0), f[1] * (torch.tensor([1.0, 0.0]) - 0.5)]) / 2
    torch.testing.assert_close(logits.grad, expected)
    assert scores.grad is None  # D's value enters as a constant: the surrogate never trains D
    # a descent step raises the probability of each sampled label (f < 0 weighs every score-function term)
    with torch.no_grad():
        stepped = torch.softmax(logits - 1.0 * logits.grad, 1)
    gains = stepped[[0, 1], sampled] - torch.softmax(logits.detach(), 1)[[0, 1], sampled]
    assert (gains > 0).all()


def test_reinforce_surrogate_is_unbiased():
    """Averaged over draws y ~ p, its gradient is that of E_{y~p}[f(y)] = sum_y p_y f(y)."""
    torch.manual_seed(0)
    logits = torch.tensor([0.5, -0.3, 0.1], requires_grad=True)
    pair_scores = torch.tensor([1.0, -2.0, 0.5])  # D's logit of (x, y) for each y
    f = -torch.nn.functional.softplus(pair_scores)
    exact = torch.autograd.grad((torch.softmax(logits, 0) * f).sum(), logits)[0]
    n = 200_000
    log_probs = torch.log_softmax(logits, 0).expand(n, 3)
    sampled = torch.multinomial(torch.softmax(logits.detach(), 0), n, replacement=True)
    estimate = torch.autograd.grad(classifier_adversarial_loss(log_probs, sampled, pair_scores[sampled]), logits)[0]
    torch.testing.assert_close(estimate, exact, atol=5e-3, rtol=0)


def test_class_balance_by_hand_and_in_the_classifiers_loss(monkeypatch):
    p = torch.tensor([[0.9, 0.1], [0.5, 0.5]])  # mean prediction (0.7, 0.3)
    assert class_balance_loss(p.log()).item() == pytest.approx(-(math.log(0.7) + math.log(0.3)) / 2, rel=1e-6)
    # a class no image is given grows the penalty without bound
    assert class_balance_loss(torch.tensor([[0.0, -30.0], [0.0, -30.0]])).item() > 14

    def loss_and_logs(weight):
        model = stubbed(class_balance=weight)
        monkeypatch.setattr(model, "sample_labels", lambda logits: torch.ones(len(logits), dtype=torch.long))
        return model.generator_loss(images_with_means(1.0, 0.0), None)

    # C's logits mean(x) * (1, -1): image 1 gives (sigmoid(2), sigmoid(-2)), image 2 (1/2, 1/2)
    mean = [(torch.sigmoid(torch.tensor(2.0)).item() + 0.5) / 2]
    mean.append(1 - mean[0])
    expected = -(math.log(mean[0]) + math.log(mean[1])) / 2
    (with_term, logs), (without, logs_off) = loss_and_logs(0.5), loss_and_logs(0.0)
    assert logs["triplegan/class_balance"].item() == pytest.approx(expected, rel=1e-6)
    assert (with_term - without).item() == pytest.approx(0.5 * expected, rel=1e-5)
    assert "triplegan/class_balance" not in logs_off


def test_expected_classifier_pairs_in_ds_loss_by_hand():
    """classifier_pairs "expected": C's pairs are every label of each image, weighted by C's probability."""
    model = stubbed(alpha=0.3, classifier_pairs="expected")
    real = images_with_means(1.0, -1.0)
    # C's logits mean * (1, -1): p = (sigmoid(2), sigmoid(-2)) for mean 1, the reverse for mean -1;
    # D(x, y) = mean * (1 + y): (1, 2) for mean 1, (-1, -2) for mean -1
    p, q = torch.sigmoid(torch.tensor(2.0)).item(), torch.sigmoid(torch.tensor(-2.0)).item()
    image_1 = p * softplus(1.0) + q * softplus(2.0)
    image_2 = q * softplus(-1.0) + p * softplus(-2.0)
    expected = softplus(-1.0) + 0.3 * (image_1 + image_2) / 2 + 0.7 * math.log(2)
    loss, logs = model.discriminator_loss(real, None)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logs["d/classifier_score"].item() == pytest.approx((p * 1 + q * 2 + q * -1 + p * -2) / 2, rel=1e-6)
    assert model.every_label_scores(real).tolist() == [[1.0, 2.0], [-1.0, -2.0]]


@pytest.mark.parametrize("loss", ["ns", "minimax"])
def test_expected_classifier_loss_by_hand(loss):
    model = stubbed(alpha=0.4, classifier_pairs="expected", loss=loss, pseudo_weight=0.0)
    real = images_with_means(1.0, -1.0)
    total, logs = model.generator_loss(real, None)
    p, q = torch.sigmoid(torch.tensor(2.0)).item(), torch.sigmoid(torch.tensor(-2.0)).item()

    def g(s):  # ns: -log D = softplus(-s); minimax: log(1 - D) = -softplus(s)
        return softplus(-s) if loss == "ns" else -softplus(s)

    c_adv = 0.4 * ((p * g(1.0) + q * g(2.0)) + (q * g(-1.0) + p * g(-2.0))) / 2
    assert logs["triplegan/c_adv"].item() == pytest.approx(c_adv, rel=1e-6)
    g_adv, r_l = 0.6 * math.log(2) * (1 if loss == "ns" else -1), softplus(-2.0)
    assert total.item() == pytest.approx(g_adv + c_adv + r_l, rel=1e-6)


def test_classifiers_term_covers_only_the_images_that_give_its_pairs():
    """With unlabelled_real k, the batch's first k images are D's real pairs: C's adversarial term, like D's term for
    C's pairs, covers the other B - k."""
    model = stubbed(alpha=0.4, classifier_pairs="expected", unlabelled_real=1, pseudo_weight=0.0)
    _, logs = model.generator_loss(images_with_means(1.0, -1.0), None)
    p, q = torch.sigmoid(torch.tensor(2.0)).item(), torch.sigmoid(torch.tensor(-2.0)).item()
    assert logs["triplegan/c_adv"].item() == pytest.approx(0.4 * (q * softplus(1.0) + p * softplus(2.0)), rel=1e-6)


def test_expected_classifier_gradient_favours_the_label_d_finds_more_real():
    """Unlike REINFORCE without a baseline, which raises every sampled label's probability, the exact expectation
    moves probability from the label whose pair D finds fake to the one it finds real; D's scores get no gradient."""
    logits = torch.zeros(1, 3, requires_grad=True)
    scores = torch.tensor([[3.0, 0.0, -3.0]], requires_grad=True)  # D: label 0 real, label 2 fake
    loss = classifier_expected_loss(torch.softmax(logits, 1), scores, "ns")
    loss.backward()
    g = torch.tensor([softplus(-3.0), math.log(2), softplus(3.0)])
    # d/dlogit_k of sum_y p_y g_y = p_k (g_k - sum_y p_y g_y), p uniform
    torch.testing.assert_close(logits.grad[0], (g - g.mean()) / 3)
    assert logits.grad[0, 0] < 0 < logits.grad[0, 2] and scores.grad is None


def test_classifier_pretraining_fits_the_labels_once_on_a_new_run():
    loader = balanced_loader()
    images, labels = loader.dataset.tensors
    index = balanced_subset(labels, 1, 10, seed=0)
    model = TripleGAN(**{**TINY, "classifier_pretrain_steps": 30, "label_seed": 4, "lr_g": 1e-2})
    model.set_labelled(images[index], labels[index])
    before = torch.nn.functional.cross_entropy(model.C.train()(images[index]), labels[index]).item()
    reference = copy.deepcopy(model.C)
    model.C.requires_grad_(False)  # as the engine may leave it: pre-training trains it all the same, then restores
    model.on_train_start()
    assert not any(p.requires_grad for p in model.C.parameters())
    # by hand: 30 Adam steps (G's lr and betas) on batches of 10 labelled examples, drawn with label_seed's generator
    generator, opt = torch.Generator().manual_seed(4), torch.optim.Adam(reference.parameters(), 1e-2, (0.5, 0.999))
    for _ in range(30):
        pick = torch.randint(10, (10,), generator=generator)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(reference(images[index][pick]), labels[index][pick]).backward()
        opt.step()
    for a, b in zip(model.C.state_dict().values(), reference.state_dict().values()):
        torch.testing.assert_close(a, b)
    after = torch.nn.functional.cross_entropy(model.C(images[index]), labels[index]).item()  # (moves BN stats)
    assert after < 0.5 * before
    # a resumed run (g_iters restored from its checkpoint) keeps its C
    model.g_iters = 3
    kept = copy.deepcopy(model.C.state_dict())
    model.on_train_start()
    assert all(torch.equal(kept[k], v) for k, v in model.C.state_dict().items())


def test_pretrained_labeller_is_c_after_pretraining_frozen_in_eval_mode(tmp_path):
    loader = balanced_loader()
    images, labels = loader.dataset.tensors
    index = balanced_subset(labels, 1, 10, seed=0)
    model = TripleGAN(**{**TINY, "classifier_pretrain_steps": 5, "unlabelled_real": 2,
                         "real_pair_labeller": "pretrained"})
    model.set_labelled(images[index], labels[index])
    model.on_train_start()
    pretrained = copy.deepcopy(model.C.state_dict())
    assert all(torch.equal(pretrained[k], v) for k, v in model.C_pretrained.state_dict().items())
    assert not any(p.requires_grad for p in model.C_pretrained.parameters())
    model.train()  # as Lightning does to the whole module: the labeller must still use its running statistics
    with torch.no_grad():
        for p in model.C.parameters():  # C moves on in the game; the labeller keeps C as pre-trained
            p.add_(1.0)
        labels_now = model.real_pair_labels(images[:8])
    assert all(torch.equal(pretrained[k], v) for k, v in model.C_pretrained.state_dict().items())  # no BN update
    reference = FashionMNISTNet(4, 10).eval()
    reference.load_state_dict(pretrained)
    assert torch.equal(labels_now, reference(images[:8]).argmax(1))
    # the checkpoint keeps it: a new module loads it back
    path = tmp_path / "state.pt"
    torch.save(model.state_dict(), path)
    restored = TripleGAN(**{**TINY, "classifier_pretrain_steps": 5, "unlabelled_real": 2,
                            "real_pair_labeller": "pretrained"})
    restored.load_state_dict(torch.load(path, weights_only=True))
    assert all(torch.equal(pretrained[k], v) for k, v in restored.C_pretrained.state_dict().items())


def test_sampled_labels_follow_the_classifier():
    model = stubbed()
    draws = model.sample_labels(torch.log(torch.tensor([[0.2, 0.8]])).expand(20_000, 2))
    assert draws.float().mean().item() == pytest.approx(0.8, abs=0.015)


@pytest.mark.parametrize("loss", ["ns", "minimax"])
def test_generator_and_classifier_loss_by_hand(loss, monkeypatch):
    model = stubbed(alpha=0.4, pseudo_weight=0.5, loss=loss)
    monkeypatch.setattr(model, "sample_labels", lambda logits: torch.ones(len(logits), dtype=torch.long))
    real = images_with_means(1.0, -1.0)
    total, logs = model.generator_loss(real, torch.tensor([0, 0]))
    # G: D(G) = 0, (1 - alpha) * softplus(-0) (ns) or -(1 - alpha) * softplus(0) (minimax)
    g_adv = 0.6 * math.log(2) * (1 if loss == "ns" else -1)
    # C's pairs, label 1: logits (1, -1) and (-1, 1), log p_1 = -softplus(2), -softplus(-2); D = 2, -2
    c_adv = 0.4 * (softplus(2.0) ** 2 + softplus(-2.0) ** 2) / 2
    r_l = softplus(-2.0)  # labelled (mean 1, class 0): logits (1, -1)
    r_p = math.log(2)  # G's images have mean 0: logits (0, 0), whatever G's labels
    assert logs["loss/g_adv"].item() == pytest.approx(g_adv, rel=1e-6)
    assert logs["triplegan/c_adv"].item() == pytest.approx(c_adv, rel=1e-6)
    assert logs["triplegan/r_l"].item() == pytest.approx(r_l, rel=1e-6)
    assert logs["triplegan/r_p"].item() == pytest.approx(r_p, rel=1e-6)
    assert total.item() == pytest.approx(g_adv + c_adv + r_l + 0.5 * r_p, rel=1e-6)


def test_pseudo_labels_train_c_only_and_wait_for_pseudo_start():
    model = stubbed(pseudo_weight=0.5, pseudo_start=3)
    real = images_with_means(1.0, -1.0)

    def grads():
        torch.manual_seed(0)
        loss, logs = model.generator_loss(real, None)
        return torch.autograd.grad(loss, [model.G.p, model.C.w]), logs

    (g_off, c_off), logs = grads()
    assert "triplegan/r_p" not in logs  # g_iters 0 < pseudo_start
    model.g_iters = 3
    with torch.no_grad():
        model.G.p.fill_(0.5)  # G's images of mean 0.5: C's pseudo-label loss now has a gradient in C
    (g_on, c_on), logs = grads()
    model.hparams.pseudo_weight = 0.0
    (g_none, c_none), _ = grads()
    assert "triplegan/r_p" in logs
    torch.testing.assert_close(g_on, g_none)  # R_P does not reach G
    assert not torch.allclose(c_on, c_none)  # but it trains C


def test_classifier_accuracy_by_hand():
    model = stubbed()
    images = images_with_means(1.0, 2.0, -1.0, 3.0)
    result = model.classifier_accuracy(images, torch.tensor([0, 0, 1, 1]), batch_size=3)  # predicts 0, 0, 1, 0
    assert result == {"accuracy": 0.75, "per_class": [1.0, 0.5], "n": 4}
    assert model.C.training  # put back in the mode it was in
    with pytest.raises(InvalidArgumentError, match="need images"):
        model.classifier_accuracy(images, torch.tensor([0, 1]))


def fit(loader, labelled=None, **kwargs):
    torch.manual_seed(0)
    model = TripleGAN(**{**TINY, **kwargs})
    if labelled is not None:
        model.set_labelled(*labelled)
    trainer = quiet_trainer(log_every_n_steps=1)
    torch.manual_seed(1)
    trainer.fit(model, loader)
    return model, trainer


def test_the_data_module_labels_are_never_read():
    loader = balanced_loader()
    images, labels = loader.dataset.tensors
    index = balanced_subset(labels, 1, 10, seed=0)
    labelled = (images[index], labels[index])
    right, _ = fit(loader, labelled, max_g_iters=2)
    wrong, _ = fit(balanced_loader(labels=(labels + 3) % 10), labelled, max_g_iters=2)
    assert right.step_logs.keys() == wrong.step_logs.keys()
    for key, value in right.step_logs.items():
        assert torch.equal(value, wrong.step_logs[key]), key
    for name in ("G", "D", "C"):
        for a, b in zip(getattr(right, name).parameters(), getattr(wrong, name).parameters()):
            assert torch.equal(a, b), name


def test_few_step_fit_and_the_benchmark_reads_c_from_the_checkpoint(tmp_path):
    loader = balanced_loader()
    torch.manual_seed(0)
    c0 = [p.detach().clone() for p in TripleGAN(**TINY).C.parameters()]
    model, trainer = fit(loader, semi_supervised_labels=20, label_seed=3, max_g_iters=3, pseudo_start=1)
    assert (model.g_iters, model.d_iters, trainer.global_step) == (3, 3, 6)
    assert not all(torch.equal(a, b) for a, b in zip(c0, model.C.parameters()))  # C trains in G's step
    images, labels = model.labelled
    expected = balanced_subset(loader.dataset.tensors[1], 2, 10, seed=3)
    assert torch.equal(labels, loader.dataset.tensors[1][expected])
    assert torch.equal(images, loader.dataset.tensors[0][expected])
    assert {"triplegan/r_p", "triplegan/c_adv", "d/classifier_score"} <= model.step_logs.keys()
    assert all(torch.isfinite(v) for v in model.step_logs.values())
    assert model.G_ema.num_classes == 10

    trainer.save_checkpoint(tmp_path / "last.ckpt")
    net, hparams, g_iters = bench.load_classifier(tmp_path / "last.ckpt")  # weights_only=True inside
    assert g_iters == 3 and bench.family_of(hparams) == "triplegan" and isinstance(net, FashionMNISTNet)
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(net(x), model.C.eval()(x))
    assert torch.equal(bench.labelled_subset(hparams, *loader.dataset.tensors)[1], labels)
    baseline = bench.train_baseline(hparams, images, labels, steps=2)
    assert isinstance(baseline, FashionMNISTNet) and not baseline.training


@pytest.mark.parametrize("kwargs, message", [
    (dict(semi_supervised_labels=15), "multiple of num_classes"),
    (dict(semi_supervised_labels=0), "multiple of num_classes"),
    (dict(alpha=1.0), "must be in \\(0, 1\\)"),
    (dict(pseudo_weight=-0.1), "need pseudo_weight >= 0"),
    (dict(pseudo_start=-1), "pseudo_start >= 0"),
    (dict(unlabelled_real=-1), "unlabelled_real counts"),
    (dict(class_balance=-0.1), "class_balance weighs"),
    (dict(classifier_pairs="argmax"), "classifier_pairs must be"),
    (dict(classifier_pretrain_steps=-1), "classifier_pretrain_steps counts"),
    (dict(real_pair_labeller="fixed"), "real_pair_labeller must be"),
    (dict(real_pair_labeller="pretrained", unlabelled_real=8), "set unlabelled_real and classifier_pretrain_steps"),
    (dict(real_pair_labeller="pretrained", classifier_pretrain_steps=5), "set unlabelled_real and"),
    (dict(img_channels=3), "set img_channels 1"),
    (dict(loss="hinge"), "loss 'ns' or 'minimax'"),
    (dict(label_smoothing=0.1), "drop label_smoothing"),
    (dict(regularizers=[R1(1.0)]), "drop it from regularizers"),
    (dict(pack=2), "networks do not implement pack"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        TripleGAN(**{**TINY, **kwargs})


def test_no_labelled_examples_says_how_to_give_them():
    with pytest.raises(InvalidArgumentError, match="TripleGAN has no labelled examples"):
        TripleGAN(**TINY).labelled_batch(2)
