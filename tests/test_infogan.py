"""InfoGAN: the codes read off the latent, the mutual-information loss against hand values, sample(codes=...),
traversal grids and the code-recovery helper."""

import math

import pytest
import torch
from conftest import quiet_trainer, random_loader

import zoo
from zoo.errors import InvalidArgumentError
from zoo.families.infogan import InfoGAN, info_loss
from zoo.metrics.code_recovery import code_recovery, matched_accuracy
from zoo.nets.dcgan import DCGANGenerator
from zoo.nets.infogan import InfoGANGenerator

TINY = dict(noise_dim=8, width=4, q_hidden=8, sample_every=0)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def test_info_loss_by_hand_with_a_fixed_std():
    logits = torch.zeros(2, 2)  # CE = log 2 whatever the code
    mean, continuous = torch.tensor([[0.5], [0.0]]), torch.tensor([[0.5], [1.0]])
    loss, logs = info_loss(logits, mean, None, torch.tensor([0, 1]), continuous, 1.0, 0.1)
    nll = HALF_LOG_2PI + (0.0 + 0.5) / 2  # -log N(c; mu, 1) averaged: squared errors 0 and 1
    assert loss.item() == pytest.approx(math.log(2) + 0.1 * nll, rel=1e-6)
    assert logs["info/mi_categorical"].item() == pytest.approx(0.0, abs=1e-7)  # H(c) - CE = log 2 - log 2
    assert logs["info/mi_continuous"].item() == pytest.approx(math.log(2) - nll, rel=1e-6)


def test_info_loss_by_hand_with_a_learned_std_clamped_below():
    logits = torch.tensor([[math.log(3.0), 0.0]])  # softmax (3/4, 1/4): CE of code 0 is log(4/3)
    mean, log_std = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(2.0), -10.0]])
    continuous = torch.tensor([[1.0, 0.5]])
    loss, logs = info_loss(logits, mean, log_std, torch.tensor([0]), continuous, 1.0, 0.1)
    first = HALF_LOG_2PI + math.log(2.0) + 0.5 * (1.0 / 2.0) ** 2
    second = HALF_LOG_2PI - 5.0 + 0.5 * (0.5 / math.exp(-5)) ** 2  # log sigma -10 clamped to -5
    nll = first + second
    assert loss.item() == pytest.approx(math.log(4 / 3) + 0.1 * nll, rel=1e-5)
    assert logs["info/accuracy_categorical"].item() == 1.0


def test_codes_are_read_off_the_latent_and_follow_the_prior():
    g = InfoGANGenerator(noise_dim=4, categorical=3, continuous=2, width=4)
    assert g.latent_dim == 4 + 3 + 2
    z = torch.tensor([[0.0] * 4 + [0.1, 2.0, -1.0] + [0.0, 10.0]])
    index, continuous = g.codes(z)
    assert index.tolist() == [1]
    torch.testing.assert_close(continuous, torch.tensor([[0.0, 1.0]]))  # erf(z / sqrt 2)
    torch.testing.assert_close(g.structured(z), torch.tensor([[0.0] * 4 + [0.0, 1.0, 0.0] + [0.0, 1.0]]))
    index, continuous = g.codes(torch.randn(30_000, 9, generator=torch.Generator().manual_seed(0)))
    assert (torch.bincount(index, minlength=3) / 30_000 - 1 / 3).abs().max() < 0.015  # uniform categories
    assert continuous.abs().max() <= 1 and continuous.mean().abs() < 0.02
    assert continuous.var().item() == pytest.approx(1 / 3, abs=0.01)  # U[-1, 1]


def test_sample_with_codes_sets_exactly_those_codes():
    g = InfoGANGenerator(noise_dim=4, categorical=3, continuous=2, width=4).eval()
    z = g.sample_latent(4, generator=torch.Generator().manual_seed(0))
    values = [[-1.0, 1.0], [0.5, 0.0], [0.0, -0.25], [1.0, -1.0]]
    coded = g.set_codes(z, {"categorical": [2, 0, 1, 2], "continuous": values})
    index, continuous = g.codes(coded)
    assert index.tolist() == [2, 0, 1, 2]
    torch.testing.assert_close(continuous, torch.tensor(values), atol=1e-6, rtol=0)
    assert torch.equal(coded[:, :4], z[:, :4])  # the noise is untouched
    a = g.sample(4, seed=1, codes={"categorical": 2, "continuous": [0.5, -0.5]})
    assert torch.equal(a, g.sample(4, seed=1, codes={"categorical": [2] * 4, "continuous": [[0.5, -0.5]] * 4}))
    assert not torch.equal(a, g.sample(4, seed=1, codes={"categorical": 0, "continuous": [0.5, -0.5]}))
    only_category = g.codes(g.set_codes(z, {"categorical": 1}))
    torch.testing.assert_close(only_category[1], g.codes(z)[1])  # a code not given keeps its random value


@pytest.mark.parametrize("codes, message", [
    ({"categorical": 3}, r"codes\['categorical'\] must be one index in 0..2"),
    ({"categorical": [0, 1]}, r"or n=4 of them"),
    ({"categorical": True}, r"codes\['categorical'\]"),
    ({"continuous": [1.5, 0.0]}, r"codes\['continuous'\] must be 2 values in \[-1, 1\]"),
    ({"continuous": [0.0]}, r"codes\['continuous'\]"),
    ({"continuous": [float("nan"), 0.0]}, r"codes\['continuous'\]"),
    ({"style": 1}, "codes must be a dict with 'categorical' and/or 'continuous'"),
    ([1, 2], "codes must be a dict"),
])
def test_bad_codes(codes, message):
    g = InfoGANGenerator(noise_dim=4, categorical=3, continuous=2, width=4)
    with pytest.raises(InvalidArgumentError, match=message):
        g.sample(4, seed=0, codes=codes)


def test_a_generator_without_codes_refuses_them():
    with pytest.raises(InvalidArgumentError, match="DCGANGenerator has no latent codes: sample it without codes"):
        DCGANGenerator(latent_dim=4, width=4).sample(2, codes={"categorical": 1})


def test_traversal_grid_rows_are_categories_and_columns_sweep_one_code(tmp_path):
    g = InfoGANGenerator(noise_dim=4, categorical=3, continuous=2, width=4).eval()
    images = g.traversal(continuous=1, steps=4, seed=5)
    assert images.shape == (12, 1, 28, 28)
    z = torch.randn(1, 9, generator=torch.Generator().manual_seed(5))
    cell = g.set_codes(z, {"categorical": 2, "continuous": [0.0, -1.0 + 2.0 / 3.0]})  # row 2, column 1
    torch.testing.assert_close(images[2 * 4 + 1], g(cell)[0].clamp(-1, 1))
    assert torch.equal(images, g.traversal(continuous=1, steps=4, seed=5))  # deterministic
    assert g.traversal_grid(continuous=0, steps=4).shape == (3, 3 * 30 + 2, 4 * 30 + 2)  # make_grid, padding 2
    paths = g.save_traversal_grids(tmp_path, steps=3)
    assert [p.name for p in paths] == ["traversal_c1.png", "traversal_c2.png"] and all(p.is_file() for p in paths)
    with pytest.raises(InvalidArgumentError, match="continuous must index one of the 2 continuous codes"):
        g.traversal(continuous=2)
    with pytest.raises(InvalidArgumentError, match="steps must be an integer >= 2"):
        g.traversal(steps=1)


def test_generator_objective_is_adversarial_plus_information():
    torch.manual_seed(0)
    model = InfoGAN(**TINY, lambda_categorical=1.0, lambda_continuous=0.1)
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    loss, logs = model.generator_loss(real, None)
    torch.manual_seed(1)
    z, _ = model.latents(6)
    scores, q = model.D(model.G(z), q=True)
    logits, mean, _ = model.D.split_q(q)
    categorical, continuous = model.G.codes(z)
    info, _ = info_loss(logits, mean, None, categorical, continuous, 1.0, 0.1)
    assert loss.item() == pytest.approx((torch.nn.functional.softplus(-scores).mean() + info).item(), rel=1e-5)
    assert logs["info/loss_g"].item() == pytest.approx(info.item(), rel=1e-5)


def test_few_step_fit_trains_q_with_d_and_logs_the_bounds(tmp_path):
    model = InfoGAN(**TINY, learn_std=True, max_g_iters=2)
    q0 = [p.detach().clone() for p in model.D.q.parameters()]
    trainer = quiet_trainer(log_every_n_steps=1)
    trainer.fit(model, random_loader())
    assert model.g_iters == 2 and trainer.global_step == 4 and not model.conditional
    for key in ("info/mi_categorical", "info/mi_continuous", "info/mi_categorical_g", "loss/g"):
        assert torch.isfinite(trainer.callback_metrics[key])
    assert all(not torch.equal(a, b) for a, b in zip(q0, model.D.q.parameters()))
    g = model.G_ema
    g.save_pretrained(tmp_path)
    loaded = zoo.load(tmp_path)
    codes = {"categorical": 4, "continuous": [0.2, -0.7]}
    assert isinstance(loaded, InfoGANGenerator) and (loaded.noise_dim, loaded.categorical) == (8, 10)
    assert torch.equal(loaded.sample(3, seed=0, codes=codes), g.eval().sample(3, seed=0, codes=codes))


def test_matched_accuracy_by_hand():
    codes, predictions = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([1, 1, 0, 0, 2, 1])
    result = matched_accuracy(codes, predictions, 3)
    assert result["accuracy"] == pytest.approx(5 / 6) and result["direct"] == pytest.approx(1 / 6)
    assert result["matching"] == [1, 0, 2] and result["confusion"] == [[0, 2, 0], [2, 0, 0], [0, 1, 1]]
    wide = matched_accuracy(torch.tensor([0, 1]), torch.tensor([3, 3]), 2, num_predictions=4)
    assert wide["accuracy"] == 0.5 and wide["direct"] is None and wide["matching"].count(3) == 1
    with pytest.raises(InvalidArgumentError, match="codes must lie in 0..2"):
        matched_accuracy(codes, predictions + 2, 3)


def test_code_recovery_mechanics_on_a_tiny_model():
    model = InfoGAN(**TINY)
    result = code_recovery(model.G_ema, lambda x: model.q_codes(x)[0], n=50, seed=0, batch_size=20)
    assert result["n"] == 50 and sum(map(sum, result["confusion"])) == 50
    assert result["accuracy"] >= result["direct"] and sorted(result["matching"]) == list(range(10))
    assert result == code_recovery(model.G_ema, lambda x: model.q_codes(x)[0], n=50, seed=0)  # deterministic
    with pytest.raises(InvalidArgumentError, match="has no categorical latent code"):
        code_recovery(DCGANGenerator(latent_dim=4, width=4), lambda x: x, n=4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(categorical=1), "categorical >= 2"),
    (dict(lambda_continuous=-0.1), "lambda_categorical and lambda_continuous must be >= 0"),
    (dict(pack=2), "networks do not implement pack"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        InfoGAN(**{**TINY, **kwargs})
