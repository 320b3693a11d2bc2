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


def test_truncation_only_where_the_family_has_it(tiny_zoo):
    with pytest.raises(InvalidArgumentError) as excinfo:
        zoo.load("tiny-dcgan").sample(4, truncation=0.5)  # DCGAN has no truncation trick: refused, not ignored
    assert "has no truncation rule" in one_line(excinfo)
    from zoo.nets.biggan import BigGANGenerator

    biggan = BigGANGenerator(latent_dim=16, shared_dim=8, num_classes=3, width=4, img_size=32, img_channels=1,
                             channel_multipliers=[2, 2, 1, 1], attention_at=None).eval()
    with pytest.raises(InvalidArgumentError) as excinfo:
        biggan.sample(4, truncation=0)
    assert "truncation must be > 0" in one_line(excinfo)
    assert biggan.sample(4, seed=0, truncation=0.5).shape == (4, 1, 32, 32)


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


def test_resolve_order_and_prefixes(tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert zoo.resolve("tiny-dcgan").entry.name == "tiny-dcgan"
    assert zoo.resolve("zoo:tiny-dcgan").entry.name == "tiny-dcgan"
    assert zoo.resolve("weights/tiny-dcgan").path.resolve() == tiny_zoo.resolve()  # a "/" makes it a path
    assert zoo.resolve(tiny_zoo).kind == "folder"
    assert (zoo.resolve("hf://org/repo@v1").repo_id, zoo.resolve("hf://org/repo").revision) == ("org/repo", "main")
    # a bare name that is also a folder here: refused, naming both ways to say which
    shutil.copytree(tiny_zoo, tmp_path / "tiny-dcgan")
    with pytest.raises(InvalidArgumentError) as excinfo:
        zoo.load("tiny-dcgan")
    assert "./tiny-dcgan" in one_line(excinfo) and "zoo:tiny-dcgan" in one_line(excinfo)
    assert torch.equal(zoo.load("./tiny-dcgan").sample(2, seed=0), zoo.load("zoo:tiny-dcgan").sample(2, seed=0))
    # a folder with no index entry of that name is a folder
    shutil.move(tmp_path / "tiny-dcgan", tmp_path / "my-run")
    assert zoo.resolve("my-run").kind == "folder"


@pytest.mark.parametrize("spec, message", [
    ("/nonexistent", "no such folder: /nonexistent"),
    ("./nope", "no such folder: nope"),
    ("zoo:nope", "unknown model 'nope'"),
    ("hf://org/repo@../..", "is not a revision"),
    ("hf://just-a-name", "is not a Hub spec"),
])
def test_resolve_errors_are_one_line(tiny_zoo, spec, message):
    with pytest.raises((InvalidArgumentError, WeightsNotFoundError, UnknownModelError)) as excinfo:
        zoo.load(spec)
    assert message in one_line(excinfo)


def test_a_generator_class_name_is_taken_once():
    with pytest.raises(ValueError, match="'DCGANGenerator' is taken by zoo.nets.dcgan.DCGANGenerator"):
        class DCGANGenerator(zoo.Generator):  # noqa: F811  (the point: a second class with the registered name)
            pass


def test_from_pretrained_of_a_subclass_refuses_another_class(tmp_path):
    from zoo.nets.mlp import MLPGenerator

    DCGANGenerator(latent_dim=8, width=4).save_pretrained(tmp_path / "g")
    with pytest.raises(InvalidArgumentError, match="holds a DCGANGenerator, not a MLPGenerator"):
        MLPGenerator.from_pretrained(tmp_path / "g")


def test_slerp_keeps_the_ends_and_the_norm():
    torch.manual_seed(0)
    z0, z1 = torch.randn(64), torch.randn(64)
    z1 = z1 * z0.norm() / z1.norm()  # equal norms: the great circle keeps the norm all the way
    path = zoo.Generator.interpolate_latents(z0, z1, 9)
    assert path.shape == (9, 64)
    assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[-1], z1, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(9), rtol=1e-5)
    straight = zoo.Generator.interpolate_latents(z0, z1, 9, method="lerp")
    assert straight[4].norm() < 0.9 * z0.norm()  # the straight line cuts through short, atypical latents
    with pytest.raises(InvalidArgumentError, match="steps must be an integer >= 2"):
        zoo.Generator.interpolate_latents(z0, z1, 1)


def test_interpolate_images_start_and_end_at_the_samples(tiny_zoo):
    generator = zoo.load("tiny-dcgan")
    z = torch.randn(2, generator.latent_dim, generator=torch.Generator().manual_seed(3))
    strip = generator.interpolate(z[0], z[1], 5)
    assert strip.shape == (5, 1, 28, 28)
    assert torch.allclose(strip[[0, -1]], generator(z).clamp(-1, 1), atol=1e-5)


def test_exported_files_are_readable_by_others(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        save_weights(tmp_path / "w", DCGANGenerator(latent_dim=8, width=4), DCGANGenerator(latent_dim=8, width=4))
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "w").iterdir()}
    assert modes == {"config.json": 0o644, "model.safetensors": 0o644, "model_noema.safetensors": 0o644}
