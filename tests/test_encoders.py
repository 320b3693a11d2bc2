"""Encoders ship with the generator: export -> zoo.load -> G.encode equals the trained encoder; strict reading."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import quiet_trainer, random_loader

import zoo
from zoo.callbacks import ExportWeights
from zoo.errors import InvalidArgumentError, NotAZooRepoError, WeightsError, WeightsNotFoundError
from zoo.families.dcgan import DCGAN
from zoo.families.modereg import ModeRegularizedGAN
from zoo.generator import Encoder
from zoo.layers import reparameterize
from zoo.metrics.encoders import (
    fmnist_split,
    linear_probe,
    logistic_regression_accuracy,
    random_encoder_like,
    reconstruction_error,
    reconstruction_grid,
)
from zoo.nets.dcgan import DCGANEncoder, DCGANGenerator
from zoo.serialization import CONFIG_FILE, ENCODER_FILE, load_folder, save_weights


def trained(family=ModeRegularizedGAN, tmp_path=None, **kwargs):
    """A family trained for 2 G iterations, its folder exported by ExportWeights into tmp_path / 'weights'."""
    model = family(latent_dim=8, width=4, sample_every=0, max_g_iters=2, **kwargs)
    trainer = quiet_trainer(callbacks=[ExportWeights(tmp_path / "weights", standing_stats_batches=0)])
    trainer.fit(model, random_loader())
    return model, tmp_path / "weights"


def test_encoder_config_is_its_init_arguments():
    encoder = DCGANEncoder(8, width=4, stochastic=True)
    assert encoder.encoder_config == {"latent_dim": 8, "width": 4, "img_channels": 1, "img_size": 28,
                                      "norm": "batch", "stochastic": True}
    assert copy.deepcopy(encoder).encoder_config == encoder.encoder_config
    assert isinstance(encoder, Encoder)


def test_export_then_load_encodes_like_the_trained_encoder(tmp_path):
    model, folder = trained(tmp_path=tmp_path)  # modereg: E in generator_networks, modereg.py unchanged
    assert model.encoder_network == "E"
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["encoder"]["encoder_class"] == "DCGANEncoder" and (folder / ENCODER_FILE).is_file()
    G = zoo.load(folder)
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    expected = model.E.eval()(x)
    assert torch.allclose(G.encode(x), expected, atol=1e-5)
    assert torch.allclose(G.reconstruct(x), G(expected).clamp(-1, 1), atol=1e-5)
    assert G.encode(x, batch_size=2).shape == (5, 8)
    assert set(G.state_dict()) == set(DCGANGenerator(8, 4).state_dict())  # the encoder is not in G's tree
    assert not G.encoder.training and not any(p.requires_grad for p in G.encoder.parameters())
    G.double()
    assert next(G.encoder.parameters()).dtype == torch.float64  # the encoder follows .to() / .double()


def test_a_saved_loaded_model_keeps_its_encoder(tmp_path):
    _, folder = trained(tmp_path=tmp_path)
    G = zoo.load(folder)
    digests = save_weights(tmp_path / "again", G)
    assert ENCODER_FILE in digests
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert torch.equal(zoo.load(tmp_path / "again").encode(x), G.encode(x))


def test_a_family_without_encoder_exports_none_and_encode_is_one_line(tmp_path):
    model, folder = trained(DCGAN, tmp_path=tmp_path)
    assert model.encoder_network is None and not (folder / ENCODER_FILE).exists()
    G = zoo.load(folder)
    with pytest.raises(InvalidArgumentError, match=r"ships no encoder .*ships one \(bigan, vaegan, modereg; infogan"
                       ) as err:
        G.encode(torch.zeros(1, 1, 28, 28))
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidArgumentError, match="ships no encoder"):
        G.reconstruct(torch.zeros(1, 1, 28, 28))


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 28, 28), torch.zeros(1, 28, 28), torch.zeros(0, 1, 28, 28),
                                 torch.zeros(2, 1, 28, 28, dtype=torch.long), "images"])
def test_encode_refuses_images_of_another_shape(tmp_path, bad):
    _, folder = trained(tmp_path=tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"images must be a float tensor \[n, 1, 28, 28\]"):
        zoo.load(folder).encode(bad)


def test_tampered_encoder_refused_by_its_pinned_sha256(tmp_path):
    _, folder = trained(tmp_path=tmp_path)
    digests = save_weights(tmp_path / "pinned", zoo.load(folder))
    data = bytearray((tmp_path / "pinned" / ENCODER_FILE).read_bytes())
    data[-1] ^= 1
    (tmp_path / "pinned" / ENCODER_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"encoder.safetensors has sha256 .* but the zoo index expects"):
        load_folder(tmp_path / "pinned", sha256=digests)
    load_folder(tmp_path / "pinned")  # unpinned, one flipped bit of a float still reads


def test_missing_or_misdeclared_encoder_is_one_line(tmp_path):
    _, folder = trained(tmp_path=tmp_path)
    (folder / ENCODER_FILE).rename(tmp_path / "moved")
    with pytest.raises(WeightsNotFoundError, match="encoder.safetensors is missing but config.json names an encoder"):
        zoo.load(folder)
    (tmp_path / "moved").rename(folder / ENCODER_FILE)
    config = json.loads((folder / CONFIG_FILE).read_text())
    for section, error, message in [
            ({**config["encoder"], "latent_dim": 9}, WeightsError, "does not fit DCGANEncoder: misshapen head"),
            ({**config["encoder"], "encoder_class": "NoSuchEncoder"}, InvalidArgumentError, "encoder_class='NoSuch"),
            ({**config["encoder"], "width": 65536}, WeightsError, "asks for a DCGANEncoder of more than"),
            ("DCGANEncoder", NotAZooRepoError, "not an object naming encoder_class")]:
        (folder / CONFIG_FILE).write_text(json.dumps({**config, "encoder": section}))
        with pytest.raises(error, match=message):
            zoo.load(folder)


def test_stochastic_encoder_posterior_and_reparameterised_sample():
    encoder = DCGANEncoder(8, width=4, stochastic=True).eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    mu, logvar = encoder.posterior(x)
    assert torch.equal(encoder(x), mu) and logvar.shape == (4, 8)
    torch.manual_seed(3)
    z = reparameterize(mu, logvar)
    torch.manual_seed(3)
    assert torch.allclose(z, mu + (0.5 * logvar).exp() * torch.randn(4, 8))
    with pytest.raises(InvalidArgumentError, match="deterministic encoder"):
        DCGANEncoder(8, width=4)(x, posterior=True)


def test_loading_an_encoder_model_imports_no_training_code(tmp_path):
    _, folder = trained(tmp_path=tmp_path)
    code = (f"import sys, torch, zoo; G = zoo.load({str(folder)!r}); G.encode(torch.zeros(1, 1, 28, 28)); "
            "print(sorted(m for m in sys.modules if m.startswith(('lightning', 'zoo.engine', 'zoo.families'))))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"


def test_logistic_regression_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    x = torch.randn(200, 6, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 6).float() * 3
    assert logistic_regression_accuracy(x[:150], y[:150], x[150:], y[150:]) == 1.0
    noise = torch.randn(200, 6, generator=g)
    assert logistic_regression_accuracy(noise[:150], y[:150], noise[150:], y[150:]) < 0.6


def test_probe_reconstruction_and_grid_on_a_loaded_model(tmp_path):
    _, folder = trained(tmp_path=tmp_path)
    G = zoo.load(folder)
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    assert reconstruction_error(G, x) == pytest.approx(float((G(G.encode(x)).clamp(-1, 1) - x).pow(2).mean()),
                                                       rel=1e-5)
    assert reconstruction_grid(G, x, nrow=3).shape == (3, 4 * 30 + 2, 3 * 30 + 2)  # 2 image rows + 2 reconstructions
    fresh = random_encoder_like(G, seed=1)
    assert fresh.encoder is not G.encoder and fresh.encoder.encoder_config == G.encoder.encoder_config
    assert not torch.equal(fresh.encode(x), G.encode(x)) and G.encoder is not None


def test_zoo_probe_command(tmp_path, capsys):
    from zoo.cli import main

    _, folder = trained(tmp_path=tmp_path)
    assert main(["probe", str(folder), "--n-train", "200", "--n-test", "100"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["linear_probe"]) >= {"accuracy", "random_encoder_accuracy", "protocol"}
    assert result["linear_probe"]["n_train"] == 200 and result["n_reconstructed"] == 100
    assert main(["probe", str(folder), "--n-train", "3"]) == 2
    assert "--n-train must be >= 10" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["bigan-fmnist", "ali-fmnist", "vaegan-fmnist"])
def test_bundled_encoder_beats_a_random_one_and_matches_the_index(name):  # issue 16, rows 6 and 7
    if not zoo.list_models(name, pretrained=True):
        pytest.skip(f"{name} is not trained yet")
    recorded = zoo.info(name)["measurements"]
    G = zoo.load(name)
    probe = linear_probe(G)  # the whole train split (fit) and test split (score), as `zoo probe`
    assert probe["accuracy"] >= probe["random_encoder_accuracy"] + 0.02
    assert probe["accuracy"] == pytest.approx(recorded["linear_probe"]["accuracy"], abs=3e-3)
    assert probe["random_encoder_accuracy"] == pytest.approx(recorded["linear_probe"]["random_encoder_accuracy"],
                                                             abs=3e-3)
    test_x, _ = fmnist_split("test")
    assert reconstruction_error(G, test_x) == pytest.approx(recorded["reconstruction_mse"]["mse"], abs=1e-3)
