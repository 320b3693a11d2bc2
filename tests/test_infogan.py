"""InfoGAN: the codes read off the latent, the mutual-information loss against hand values, sample(codes=...),
traversal grids, the code-recovery helper, and Q shipped with the exported weights (read back after zoo.load)."""

import json
import math

import pytest
import torch
from conftest import quiet_trainer, random_loader

import zoo
from zoo.callbacks import ExportWeights
from zoo.errors import InvalidArgumentError
from zoo.families.infogan import InfoGAN, info_loss
from zoo.metrics.code_recovery import code_recovery, matched_accuracy, shipped_code_recovery
from zoo.nets.dcgan import DCGANGenerator
from zoo.nets.infogan import InfoGANCodeReader, InfoGANDiscriminator, InfoGANGenerator
from zoo.serialization import CONFIG_FILE, ENCODER_FILE, save_weights

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


def test_code_reader_is_q_cut_out_of_d():
    torch.manual_seed(0)
    d = InfoGANDiscriminator(categorical=3, continuous=2, width=4, q_hidden=8, learn_std=True).eval()
    state = torch.random.get_rng_state()
    reader = d.code_reader()
    assert torch.equal(torch.random.get_rng_state(), state)  # exporting draws nothing from the global RNG
    assert isinstance(reader, InfoGANCodeReader) and not reader.reconstructs and not reader.training
    assert set(reader.state_dict()) == {k for k in d.state_dict() if not k.startswith("head.")}
    assert reader.encoder_config == {"categorical": 3, "continuous": 2, "width": 4, "img_channels": 1,
                                     "img_size": 28, "q_hidden": 8, "learn_std": True}
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    codes = reader(x)
    assert codes.shape == (4, 3 + 2)  # the learned log standard deviations stay out
    for got, want in zip(reader.split(codes), d.read_codes(x)):
        assert torch.equal(got, want)
    reader.q[-1].bias.data.add_(1.0)
    assert not torch.equal(reader(x), codes)  # a copy: D's weights are not shared
    assert torch.equal(d.code_reader()(x), codes)


def test_exported_q_reads_codes_like_the_trained_q_and_scores_recovery(tmp_path, capsys):
    from zoo.cli import main

    model = InfoGAN(**TINY, learn_std=True, max_g_iters=2)
    assert model.encoder_network == "D"
    trainer = quiet_trainer(callbacks=[ExportWeights(tmp_path / "weights", standing_stats_batches=0)])
    trainer.fit(model, random_loader())
    folder = tmp_path / "weights"
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["encoder"]["encoder_class"] == "InfoGANCodeReader" and (folder / ENCODER_FILE).is_file()
    G = zoo.load(folder)
    x = torch.rand(7, 1, 28, 28) * 2 - 1
    logits, means = G.read_codes(x, batch_size=3)
    want_logits, want_means = model.q_codes(x)
    assert logits.shape == (7, 10) and means.shape == (7, 2)
    torch.testing.assert_close(logits, want_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(means, want_means, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(G.encode(x), torch.cat([want_logits, want_means], 1), atol=1e-5, rtol=1e-5)
    with pytest.raises(InvalidArgumentError, match="InfoGANCodeReader estimates its latent codes, not the whole"):
        G.reconstruct(x)

    result = shipped_code_recovery(folder, n=60, seed=3, batch_size=25)  # from the folder alone
    want = code_recovery(model.G_ema, lambda images: model.q_codes(images)[0], n=60, seed=3)
    assert result["model"] == str(folder) and result["n"] == 60
    assert result["confusion"] == want["confusion"] and result["accuracy"] == want["accuracy"]
    assert main(["recovery", str(folder), "--n", "60", "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["accuracy"] == result["accuracy"] and printed["n"] == 60
    assert main(["probe", str(folder), "--n-train", "100", "--n-test", "50"]) == 0  # Q's codes as features
    probed = json.loads(capsys.readouterr().out)
    assert probed["linear_probe"]["features"] == 12 and "reconstruction_mse" not in probed


def test_best_fid_export_ships_the_q_of_the_best_checkpoint(tmp_path):
    from zoo.metrics.callback import FIDCallback
    from zoo.metrics.classifier import FashionMNISTNet, export_classifier

    export_classifier(FashionMNISTNet(width=8).eval(), tmp_path / "classifier", {})
    real = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
    callback = FIDCallback(every_n_g_iters=1, n_samples=32, real_images=real, classifier=tmp_path / "classifier")
    export = ExportWeights(tmp_path / "weights", standing_stats_batches=0, weights="best-fid")
    model = InfoGAN(**TINY, max_g_iters=3)
    quiet_trainer(callbacks=[callback, export], default_root_dir=tmp_path / "run").fit(model, random_loader())
    best = torch.load(tmp_path / "run" / "checkpoints" / "best-fid.ckpt", weights_only=True)["state_dict"]
    reader = zoo.load(tmp_path / "weights").encoder
    assert isinstance(reader, InfoGANCodeReader)
    assert all(torch.equal(value, best[f"D.{key}"]) for key, value in reader.state_dict().items())


def test_a_model_without_a_code_reader_says_so_in_one_line(tmp_path):
    g = InfoGANGenerator(noise_dim=4, categorical=3, continuous=2, width=4)
    with pytest.raises(InvalidArgumentError, match="ships no code reader .*export it again") as err:
        g.read_codes(torch.zeros(1, 1, 28, 28))
    assert "\n" not in str(err.value)
    save_weights(tmp_path, DCGANGenerator(latent_dim=4, width=4))
    with pytest.raises(InvalidArgumentError, match="code recovery needs an InfoGAN model"):
        shipped_code_recovery(tmp_path, n=4)


@pytest.mark.skipif(not zoo.list_models("infogan-fmnist", pretrained=True), reason="infogan-fmnist is not trained yet")
def test_bundled_infogan_reads_its_categorical_code_back():  # issue 16, row 3: >= 90% of 10,000 codes
    recorded = zoo.info("infogan-fmnist")["measurements"]["code_recovery"]  # what the index and README say
    result = shipped_code_recovery("infogan-fmnist", n=recorded["n"], seed=recorded["seed"])
    assert result["accuracy"] >= 0.9
    assert result["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-3)
