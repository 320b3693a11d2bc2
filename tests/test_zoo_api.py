"""zoo.load / list_models / info / sample on every bundled entry, and the one-line errors for bad input."""

import json
import shutil

import pytest
import torch

import zoo
from zoo import registry
from zoo.errors import InvalidArgumentError, UnknownModelError, WeightsError, WeightsNotFoundError
from zoo.nets.dcgan import DCGANGenerator
from zoo.serialization import save_weights

BUNDLED = zoo.list_models(pretrained=True)


def one_line(excinfo):
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    """An index with one tiny bundled DCGAN entry, in a temporary folder."""
    weights_dir = tmp_path / "weights"
    torch.manual_seed(1)
    generator = DCGANGenerator(latent_dim=8, width=4, img_channels=1, img_size=28).eval()
    hashes = save_weights(weights_dir / "tiny-dcgan", generator, generator)
    index = {"tiny-dcgan": dict(family="dcgan", paper="Radford et al. 2015", dataset="random", resolution=28,
                                channels=1, latent_dim=8, weights={"bundled": "tiny-dcgan", "sha256": hashes})}
    (tmp_path / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr(registry, "INDEX_FILE", tmp_path / "index.json")
    monkeypatch.setattr(registry, "WEIGHTS_DIR", weights_dir)
    return weights_dir / "tiny-dcgan"


def test_the_six_fashion_mnist_models_are_in_the_index():
    names = zoo.list_models("*-fmnist")
    for family in ("gan", "dcgan", "lsgan", "wgan", "wgan-gp", "sngan"):
        assert f"{family}-fmnist" in names


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_entry_loads_and_samples(name):
    entry = zoo.info(name)
    generator = zoo.load(name)
    assert not generator.training and not any(p.requires_grad for p in generator.parameters())
    labels = list(range(entry["num_classes"])) * 2 if entry["num_classes"] else None
    n = len(labels) if labels else 16
    x = generator.sample(n, seed=0, labels=labels)
    assert x.shape == (n, entry["channels"], entry["resolution"], entry["resolution"])
    assert x.dtype == torch.float32 and torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1
    assert x.std() > 0.05  # not a constant image
    assert torch.equal(x, generator.sample(n, seed=0, labels=labels))
    assert not torch.equal(x, generator.sample(n, seed=1, labels=labels))
    # the explicit-latent forward gives the same images as sample() for the same latents
    z = generator.sample_latent(n, generator=torch.Generator().manual_seed(0))
    if not labels:
        torch.testing.assert_close(generator(z).clamp(-1, 1), x)


def test_list_models_wildcards_and_filters(tiny_zoo):
    assert zoo.list_models() == ["tiny-dcgan"]
    assert zoo.list_models("tiny*") == ["tiny-dcgan"]
    assert zoo.list_models("dcgan*") == []
    assert zoo.list_models(family="dcgan") == ["tiny-dcgan"] and zoo.list_models(family="gan") == []
    assert zoo.list_models(pretrained=True) == ["tiny-dcgan"]


def test_info_is_a_copy(tiny_zoo):
    info = zoo.info("tiny-dcgan")
    assert info["resolution"] == 28 and info["weights"]["bundled"] == "tiny-dcgan"
    info["resolution"] = 1
    assert zoo.info("tiny-dcgan")["resolution"] == 28


def test_load_entry_folder_and_raw_generator(tiny_zoo):
    a = zoo.load("tiny-dcgan").sample(4, seed=3)
    b = zoo.load(tiny_zoo).sample(4, seed=3)
    c = zoo.load(str(tiny_zoo), ema=False).sample(4, seed=3)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_sample_is_seeded_and_batched(tiny_zoo):
    generator = zoo.load("tiny-dcgan")
    full = generator.sample(10, seed=5)
    assert torch.allclose(full, generator.sample(10, seed=5, batch_size=3), atol=1e-6)


def test_unknown_name_suggests_close_matches(tiny_zoo):
    with pytest.raises(UnknownModelError) as excinfo:
        zoo.load("tiny-dcgn")
    assert "did you mean tiny-dcgan?" in one_line(excinfo)
    with pytest.raises(KeyError):  # still a KeyError for callers that expect one
        zoo.info("nothing-like-it")


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n(tiny_zoo, n):
    with pytest.raises(InvalidArgumentError) as excinfo:
        zoo.load("tiny-dcgan").sample(n)
    assert "n must be a positive integer" in one_line(excinfo)


def test_labels_for_unconditional_model(tiny_zoo):
    with pytest.raises(InvalidArgumentError) as excinfo:
        zoo.load("tiny-dcgan").sample(4, labels=1)
    assert "unconditional" in one_line(excinfo) and "without labels" in str(excinfo.value)


def test_bad_truncation(tiny_zoo):
    with pytest.raises(InvalidArgumentError) as excinfo:
        zoo.load("tiny-dcgan").sample(4, truncation=0)
    assert "truncation must be > 0" in one_line(excinfo)
    x = zoo.load("tiny-dcgan").sample(4, seed=0, truncation=0.5)
    assert x.shape == (4, 1, 28, 28)


def test_truncated_latents_stay_in_bounds(tiny_zoo):
    generator = zoo.load("tiny-dcgan")
    z = generator.sample_latent(2000, generator=torch.Generator().manual_seed(0), truncation=0.7)
    assert z.abs().max() <= 0.7 and z.abs().max() > 0.65


def test_missing_weights_file(tiny_zoo):
    (tiny_zoo / "model.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError) as excinfo:
        zoo.load("tiny-dcgan")
    assert "model.safetensors is missing" in one_line(excinfo) and "reinstall" in str(excinfo.value)


def test_altered_weights_file(tiny_zoo):
    data = bytearray((tiny_zoo / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tiny_zoo / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(WeightsError) as excinfo:
        zoo.load("tiny-dcgan")
    assert "sha256" in one_line(excinfo) and "altered" in str(excinfo.value)


def test_weights_that_do_not_fit_the_config(tiny_zoo, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_zoo, other)
    config = json.loads((other / "config.json").read_text())
    config["width"] = 6
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError) as excinfo:
        zoo.load(other)
    assert "misshapen" in one_line(excinfo)


def test_folder_without_config(tmp_path):
    with pytest.raises(WeightsNotFoundError) as excinfo:
        zoo.load(tmp_path)
    assert "not a zoo weights folder" in one_line(excinfo)


def test_unknown_generator_class(tiny_zoo):
    config = json.loads((tiny_zoo / "config.json").read_text())
    config["generator_class"] = "NoSuchGenerator"
    (tiny_zoo / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidArgumentError) as excinfo:
        zoo.load(tiny_zoo)
    assert "NoSuchGenerator" in one_line(excinfo)


def test_save_pretrained_round_trip(tmp_path):
    generator = DCGANGenerator(latent_dim=8, width=4).eval()
    generator.save_pretrained(tmp_path / "g")
    assert json.loads((tmp_path / "g" / "config.json").read_text())["generator_class"] == "DCGANGenerator"
    for loaded in (DCGANGenerator.from_pretrained(tmp_path / "g"), zoo.Generator.from_pretrained(tmp_path / "g")):
        assert type(loaded) is DCGANGenerator
        assert torch.equal(loaded.eval().sample(3, seed=0), generator.sample(3, seed=0))
