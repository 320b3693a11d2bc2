"""The reference-feature cache: same numbers as torch_fidelity.calculate_metrics, no pickles, keyed by the images."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
import torch_fidelity

from zoo.errors import InvalidArgumentError
from zoo.metrics import fidelity
from zoo.metrics.classifier import FashionMNISTNet, export_classifier
from zoo.metrics.extractors import ExtractorSpec, build_feature_extractor, resolve_extractor
from zoo.metrics.fidelity import UInt8Sampler, calculate, evaluate_generator
from zoo.metrics.reference import ImageTensorDataset, cache_dir, real_images
from zoo.nets.dcgan import DCGANGenerator


@pytest.fixture(autouse=True)
def _few_kid_subsets(monkeypatch):
    monkeypatch.setattr(fidelity, "KID_SUBSETS", 10)


@pytest.fixture(autouse=True)
def _torch_home(monkeypatch, tmp_path):
    """torch-fidelity's own cache would go under $TORCH_HOME/fidelity_cache: a fresh one shows if it is ever used."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    yield
    assert not (tmp_path / "torch-home" / "fidelity_cache").exists()


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    torch.manual_seed(123)
    folder = tmp_path_factory.mktemp("classifier")
    export_classifier(FashionMNISTNet(width=8).eval(), folder, {"test_accuracy": None})
    return resolve_extractor("fmnist-cnn", folder)


@pytest.fixture(scope="module")
def images():
    return real_images("fashion-mnist", "test", 28, count=700, seed=0)[0]


def generator() -> DCGANGenerator:
    torch.manual_seed(7)
    return DCGANGenerator(latent_dim=8, width=8).eval()


def torch_fidelity_reference(input1, input2, spec, n1, n2, seed):
    """The call the zoo made before its own cache: torch-fidelity end to end (its cache off)."""
    settings = fidelity.metric_settings(n1, n2, spec)
    kwargs = dict(input1=input1, input2=input2, cuda=False, batch_size=250, isc=True, fid=True, kid=True, prc=True,
                  feature_extractor=spec.name, feature_extractor_weights_path=spec.weights_path, isc_splits=10,
                  kid_subsets=fidelity.KID_SUBSETS, kid_subset_size=settings["kid_subset_size"], prc_neighborhood=3,
                  rng_seed=seed, save_cpu_ram=True, verbose=False, cache=False)
    if isinstance(input1, torch_fidelity.GenerativeModelBase):
        kwargs["input1_model_num_samples"] = n1
    raw = torch_fidelity.calculate_metrics(**kwargs)
    return {ours: float(raw[theirs]) for ours, theirs in fidelity.METRIC_KEYS.items()}


def wrapped_sampler(seed):
    g = generator()
    return torch_fidelity.GenerativeModelModuleWrapper(UInt8Sampler(g, 1, seed), g.latent_dim, "normal", 0)


def test_scores_equal_torch_fidelity_calculate_metrics_cold_and_cached(spec, images, tmp_path):
    reference = ImageTensorDataset(images[:300])
    expected = torch_fidelity_reference(wrapped_sampler(3), reference, spec, 200, 300, seed=3)
    for call in ("cold", "cached"):
        ours = calculate(wrapped_sampler(3), reference, extractor=spec, n1=200, n2=300, seed=3,
                         input2_cache_name="ref", cache=tmp_path, progress=False)
        assert ours == pytest.approx(expected, rel=1e-6, abs=1e-12), call
    assert len(list(cache_dir(tmp_path).iterdir())) == 1
    # both inputs cached (evaluate_real's path), a different seed
    real = ImageTensorDataset(images[300:])
    expected = torch_fidelity_reference(real, reference, spec, 400, 300, seed=1)
    for call in ("cold", "cached"):
        ours = calculate(real, reference, extractor=spec, n1=400, n2=300, seed=1, input1_cache_name="real",
                         input2_cache_name="ref", cache=tmp_path, progress=False)
        assert ours == pytest.approx(expected, rel=1e-6, abs=1e-12), call
    assert ours["fid"] > 0 and 0 < ours["recall"] <= 1


def test_the_reference_cache_holds_no_pickle_and_nothing_is_unpickled(spec, tmp_path, monkeypatch):
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(k) or real_load(*a, **k))
    for _ in range(2):  # computed, then read back
        evaluate_generator(generator(), dataset="fashion-mnist", extractor=spec, n_samples=100, reference_count=300,
                           cache=tmp_path, progress=False)
    assert loads == []
    files = list(cache_dir(tmp_path).iterdir())
    assert [f.suffix for f in files] == [".npz"]
    for file in files:
        head = file.read_bytes()[:4]
        assert head == b"PK\x03\x04" and not head.startswith(b"\x80")
        with zipfile.ZipFile(file) as archive:  # every member is a plain .npy, none a pickle
            assert all(archive.read(m)[:6] == b"\x93NUMPY" for m in archive.namelist())
        with np.load(file, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        assert {"key", "features.features", "features.logits", "fid_mu", "fid_sigma"} <= set(arrays)
        assert all(a.dtype != object for a in arrays.values())
        assert arrays["features.features"].shape[0] == 300 and arrays["fid_sigma"].dtype == np.float64


def test_a_stale_or_planted_file_for_other_images_is_not_used(spec, images, tmp_path, capsys):
    ref_a, ref_b = ImageTensorDataset(images[:300]), ImageTensorDataset(images[300:600])
    probe = ImageTensorDataset(images[600:])

    def score(reference, name="fashion-mnist-test-28px-n300"):
        return calculate(probe, reference, extractor=spec, n1=100, n2=300, input2_cache_name=name, cache=tmp_path,
                         progress=False, metrics=("fid", "kid", "prc"))

    fresh_b = calculate(probe, ref_b, extractor=spec, n1=100, n2=300, progress=False, metrics=("fid", "kid", "prc"))
    score(ref_a)
    (file_a,) = cache_dir(tmp_path).iterdir()
    # same readable name, other images: another file, the right numbers
    assert score(ref_b) == fresh_b
    (file_b,) = set(cache_dir(tmp_path).iterdir()) - {file_a}
    assert file_a.name.split("-")[:-1] == file_b.name.split("-")[:-1] and file_a.name != file_b.name
    # A's features planted under B's file name: the key inside differs, so they are recomputed and rewritten
    file_b.write_bytes(file_a.read_bytes())
    assert score(ref_b) == fresh_b
    assert "ignoring cache file" in capsys.readouterr().err
    assert score(ref_b) == fresh_b and "ignoring" not in capsys.readouterr().err
    # a torch-fidelity style pickle under B's name is never opened (nothing calls torch.load; see the autouse check)
    torch.save({"features": torch.zeros(300, 8)}, file_b)
    assert score(ref_b) == fresh_b
    with np.load(file_b, allow_pickle=False) as data:
        assert "features.features" in data.files
    with pytest.raises(InvalidArgumentError, match="only an ImageTensorDataset can be cached"):
        calculate(wrapped_sampler(0), ref_a, extractor=spec, n1=100, n2=300, input1_cache_name="gen", cache=tmp_path,
                  progress=False)


def test_torch_fidelitys_own_pickle_loading_extractors_are_refused():
    with pytest.raises(InvalidArgumentError, match="not one of the zoo's"):
        build_feature_extractor(ExtractorSpec("vgg16", None, None, 3, "-", has_logits=False), ["fc2_relu"])
