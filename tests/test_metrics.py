"""Metrics on constructed cases, the protocol record, determinism, Inception offline/local, the FID callback."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import pytest
import torch
import torch_fidelity
from torch import nn
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from zoo.errors import InvalidArgumentError, WeightsError, WeightsNotFoundError
from zoo.metrics import extractors
from zoo.metrics.classifier import CLASSIFIER_DIR, EVAL_FILE, FashionMNISTNet, accuracy, export_classifier
from zoo.metrics.coverage import coverage_from_predictions
from zoo.metrics.extractors import ExtractorSpec, FeaturesAndLogits, resolve_extractor
from zoo.metrics.fidelity import calculate, evaluate_generator
from zoo.metrics.protocol import REQUIRED, check_protocol
from zoo.metrics.reference import ImageTensorDataset, real_images
from zoo.nets.dcgan import DCGANGenerator

ORACLE = "test-oracle"


@pytest.fixture(autouse=True)
def _few_kid_subsets(monkeypatch):
    """KID over 100 subsets is the slow part on 2 cores; 10 keep the tests quick (the protocol records it)."""
    from zoo.metrics import fidelity

    monkeypatch.setattr(fidelity, "KID_SUBSETS", 10)


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """A seeded random-weight classifier folder: a fixed, fast feature network for the metric tests."""
    torch.manual_seed(123)
    net = FashionMNISTNet(width=8).eval()
    folder = tmp_path_factory.mktemp("classifier")
    export_classifier(net, folder, {"test_accuracy": None})
    return folder


@pytest.fixture(scope="module")
def spec(classifier_dir):
    return resolve_extractor("fmnist-cnn", classifier_dir)


@pytest.fixture(scope="module")
def test_images():
    images, _ = real_images("fashion-mnist", "test", 28, count=600, seed=0)
    return images


class OracleFeatures(FeaturesAndLogits):
    """Pixel (0, 0) holds the class c: logits = 30 * onehot(c); features = onehot(c) + 0.01 * a few pixels."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)

    def forward(self, x):
        onehot = nn.functional.one_hot(x[:, 0, 0, 0].long(), 10).float()
        out = {"features": torch.cat([onehot, x[:, 0, 1, :4].float() / 255 * 0.01], 1), "logits": 30 * onehot}
        return tuple(out[k] for k in self.features_list)


@pytest.fixture(scope="module")
def oracle():
    if ORACLE not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(ORACLE, OracleFeatures)
    return ExtractorSpec(ORACLE, None, "none", 1, "none", has_logits=True)


def oracle_images(classes: list[int], per_class: int, seed: int) -> ImageTensorDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (len(classes) * per_class, 1, 4, 4), generator=g, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.tensor(classes).repeat_interleave(per_class).to(torch.uint8)
    return ImageTensorDataset(images)


def test_fid_of_a_set_against_itself_is_zero_and_grows_with_a_shift(spec, test_images):
    base = ImageTensorDataset(test_images)
    same = calculate(base, base, extractor=spec, n1=600, n2=600, progress=False)
    assert same["precision"] == pytest.approx(1.0) and same["recall"] == pytest.approx(1.0)
    fids = []
    for shift in (20, 60, 120):
        shifted = ImageTensorDataset((test_images.int() + shift).clamp(0, 255).to(torch.uint8))
        fids.append(calculate(shifted, base, extractor=spec, n1=600, n2=600, progress=False)["fid"])
    assert abs(same["fid"]) < 1e-4 * fids[0]  # ~0 up to the matrix square root's rounding
    assert fids[0] < fids[1] < fids[2]


def test_inception_score_of_confident_uniform_predictions_is_the_class_count(oracle):
    # IS = exp(E KL(p(y|x) || p(y))) per split; one-hot p(y|x) and uniform p(y) give exp(log 10) = 10. Random splits
    # of 1000 are only nearly balanced (expected deficit ~ 9 / 2000 in the exponent), hence rel=0.01.
    uniform = calculate(oracle_images(list(range(10)), 1000, 0), oracle_images(list(range(10)), 20, 1),
                        extractor=oracle, n1=10000, n2=200, progress=False, metrics=("isc",))
    assert uniform["is_mean"] == pytest.approx(10.0, rel=0.01)
    half = calculate(oracle_images(list(range(5)), 2000, 0), oracle_images(list(range(10)), 20, 1),
                     extractor=oracle, n1=10000, n2=200, progress=False, metrics=("isc",))
    assert half["is_mean"] == pytest.approx(5.0, rel=0.01)


def test_kid_and_precision_recall_on_constructed_cases(oracle):
    full = oracle_images(list(range(10)), 50, 1)
    same = calculate(oracle_images(list(range(10)), 50, 2), full, extractor=oracle, n1=500, n2=500, progress=False)
    # same distribution: KID ~ 0 (unbiased, may be slightly negative); nearly every sample lies inside the other
    # set's k-NN balls (k=3 balls around 50 points per cluster miss a few percent of a second draw)
    assert same["precision"] > 0.9 and same["recall"] > 0.9
    half = calculate(oracle_images(list(range(5)), 100, 2), full, extractor=oracle, n1=500, n2=500, progress=False)
    # half the classes (mode dropping): still precise, but the other half of the real set is not covered
    assert half["precision"] > 0.9
    assert 0.9 * 0.5 < half["recall"] <= 0.5
    assert half["kid_mean"] > 20 * abs(same["kid_mean"])


def test_class_coverage_numbers():
    one = coverage_from_predictions(torch.full((100,), 3), 10)
    assert one["classes_covered"] == 1 and one["kl_uniform"] == pytest.approx(math.log(10))
    uniform = coverage_from_predictions(torch.arange(100) % 10, 10, requested=torch.arange(100) % 10)
    assert uniform["classes_covered"] == 10 and uniform["kl_uniform"] == pytest.approx(0.0, abs=1e-12)
    assert uniform["label_accuracy"] == 1.0
    # a class with 1 of 100 samples (a tenth of its share is 1) counts; none does not
    stray = coverage_from_predictions(torch.tensor([0] * 99 + [1]), 10, requested=torch.zeros(100, dtype=torch.long))
    assert stray["classes_covered"] == 2 and stray["label_accuracy"] == pytest.approx(0.99)
    assert stray["label_accuracy_per_class"] == [0.99] + [None] * 9  # only class 0 was asked for
    # per requested class: class 0 asked 4 times, right 3; class 2 asked twice, right once; class 1 never asked
    mixed = coverage_from_predictions(torch.tensor([0, 0, 0, 1, 2, 0]), 3, requested=torch.tensor([0, 0, 0, 0, 2, 2]))
    assert mixed["label_accuracy"] == pytest.approx(4 / 6)
    assert mixed["label_accuracy_per_class"] == [0.75, None, 0.5]


def tiny_generator(**kwargs) -> DCGANGenerator:
    torch.manual_seed(7)
    return DCGANGenerator(latent_dim=8, width=8, **kwargs).eval()


def test_protocol_record_is_complete_and_two_runs_are_identical(spec, tmp_path):
    kwargs = dict(dataset="fashion-mnist", extractor=spec, n_samples=300, seed=3, cache=tmp_path, progress=False,
                  weights_sha256={"model.safetensors": "ab" * 32}, reference_count=1000)
    first = evaluate_generator(tiny_generator(), **kwargs)
    second = evaluate_generator(tiny_generator(), **kwargs)
    assert first["metrics"] == second["metrics"] and first["coverage"] == second["coverage"]
    assert set(first["metrics"]) == {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall"}
    proto = first["protocol"]
    check_protocol(proto)
    assert proto["extractor"] == "fmnist-cnn" and proto["extractor_weights_sha256"] == spec.weights_sha256
    assert proto["n_generated"] == 300 and proto["seed"] == 3 and proto["metric_settings"]["isc_splits"] == 10
    assert proto["reference"] == {"dataset": "fashion-mnist", "split": "test", "count": 1000, "resolution": 28}
    assert proto["weights_sha256"] == {"model.safetensors": "ab" * 32}
    assert {"torch", "torch-fidelity", "gan-zoo"} <= set(proto["versions"]) and len(proto["date"]) == 10
    assert sum(first["coverage"]["class_histogram"]) == 300
    # the reference features were computed once and cached under a key naming the protocol
    cached = sorted(p.name for p in (tmp_path / "fidelity").iterdir())
    assert any(name.startswith(f"fashion-mnist-test-28px-n1000-fmnist-cnn-{spec.weights_sha256[:12]}")
               for name in cached)
    for field in REQUIRED:
        broken = {k: v for k, v in proto.items() if k != field}
        with pytest.raises(InvalidArgumentError, match=field):
            check_protocol(broken)
    with pytest.raises(InvalidArgumentError, match="n_samples"):
        evaluate_generator(tiny_generator(), **{**kwargs, "n_samples": 0})


def test_a_32px_conditional_generator_is_resized_and_its_labels_scored(spec, tmp_path):
    torch.manual_seed(0)

    class Conditional(DCGANGenerator):
        """Paints the requested class into the output so the labels are checkable."""

        def __init__(self):
            super().__init__(latent_dim=8, width=8, img_size=32)
            self.num_classes = 10

        def forward(self, z, y):
            return super().forward(z) * 0 + (y.float().view(-1, 1, 1, 1) / 10 - 0.5)

    result = evaluate_generator(Conditional().eval(), dataset="fashion-mnist", extractor=spec, n_samples=200,
                                reference_count=500, cache=tmp_path, progress=False)
    assert result["protocol"]["reference"]["resolution"] == 28  # the data set's one reference; samples are resized
    assert "32px samples resized to 28px" in result["protocol"]["sampling"]
    assert 0.0 <= result["coverage"]["label_accuracy"] <= 1.0
    assert "labels uniform" in result["protocol"]["sampling"]


def test_inception_offline_gives_the_one_line_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(extractors.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    with pytest.raises(WeightsNotFoundError, match=r"--inception-weights FILE \(or set ZOO_INCEPTION_WEIGHTS"):
        resolve_extractor("inception-v3-compat")
    assert resolve_extractor("auto").name == "fmnist-cnn"
    assert "Inception weights not found, scoring with fmnist-cnn" in capsys.readouterr().err
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        resolve_extractor("auto", tmp_path / "missing.pth")


def random_inception_file(monkeypatch, path):
    """A .pth with the standard Inception keys and random values (the real file cannot be downloaded here)."""
    from torch_fidelity import feature_extractor_inceptionv3 as fi

    with monkeypatch.context() as patch:
        patch.setattr(fi, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(fi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        model = fi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(model.state_dict(), path)


def test_inception_with_a_local_weights_file_runs_the_standard_path(monkeypatch, tmp_path, test_images):
    weights = tmp_path / "inception.pth"
    random_inception_file(monkeypatch, weights)
    expected = torch.load(weights, weights_only=True)
    monkeypatch.setenv(extractors.INCEPTION_ENV, str(weights))
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: loads.append((f, k)) or real_load(f, *a, **k))
    inception = resolve_extractor("auto")
    assert inception.name == "inception-v3-compat" and inception.channels == 3 and not inception.official
    net = extractors.build_feature_extractor(inception, ["2048"])
    assert isinstance(net, extractors.CheckedInceptionV3)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in expected.items())  # the file's weights, not init
    images = ImageTensorDataset(test_images[:10], channels=3)
    # FID's 2048x2048 eigendecomposition alone takes ~30 s here: the FID arithmetic is tested with fmnist-cnn above
    out = calculate(images, ImageTensorDataset(test_images[10:20], channels=3), extractor=inception, n1=10, n2=10,
                    progress=False, metrics=("isc", "kid", "prc"))
    assert set(out) == {"is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall"}
    assert all(math.isfinite(v) for v in out.values())
    # the file was read once, as bytes, and loaded from them with weights_only=True; torch-fidelity never opened it
    assert len(loads) == 1 and isinstance(loads[0][0], io.BytesIO) and loads[0][1]["weights_only"] is True
    assert extractors.tf_inception.load_state_dict_from_url is torch.hub.load_state_dict_from_url  # restored
    # a spec without its state dict reads the file again, and refuses one changed since it was resolved
    with open(weights, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(WeightsError, match="changed since it was checked"):
        extractors.build_feature_extractor(dataclasses.replace(inception, state_dict=None), ["2048"])
    pickled = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(1), "module": nn.ReLU()}, pickled)  # an object, not only tensors
    with pytest.raises(WeightsError, match="not a plain PyTorch state dict"):
        resolve_extractor("inception-v3-compat", pickled)


def test_bundled_classifier_accuracy_is_what_eval_json_records():
    if not (CLASSIFIER_DIR / "model.safetensors").is_file():
        pytest.skip("classifier weights not bundled in this checkout")
    from zoo.data.fashion_mnist import load_fashion_mnist, to_model_range
    from zoo.metrics.classifier import classifier_sha256, load_classifier

    record = json.loads((CLASSIFIER_DIR / EVAL_FILE).read_text())
    images, labels = load_fashion_mnist("test")
    assert accuracy(load_classifier(), to_model_range(images), labels) == pytest.approx(record["test_accuracy"],
                                                                                        abs=1e-4)
    assert record["sha256"]["model.safetensors"] == classifier_sha256()
    assert record["test_accuracy"] > 0.88


def test_a_timm_backbone_with_a_local_weights_file(tmp_path, test_images):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    weights = tmp_path / "resnet10t.safetensors"
    save_file(timm.create_model("resnet10t").state_dict(), str(weights))
    backbone = resolve_extractor("timm:resnet10t", weights)
    assert backbone.channels == 3 and not backbone.has_logits and backbone.weights_sha256 != "timm-pretrained"
    images = ImageTensorDataset(test_images[:10], channels=3)
    out = calculate(images, images, extractor=backbone, n1=10, n2=10, progress=False, metrics=("fid", "prc"))
    assert out["fid"] == pytest.approx(0.0, abs=1e-3) and out["precision"] == 1.0
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        resolve_extractor("timm:resnet10t", tmp_path / "missing.safetensors")


def test_score_two_image_folders(spec, tmp_path, test_images):
    from torchvision.utils import save_image

    from zoo.metrics.fidelity import score_folders

    for name, images in (("a", test_images[:20]), ("b", test_images[20:50])):
        (tmp_path / name).mkdir()
        for i, image in enumerate(images):
            save_image(image.float() / 255, tmp_path / name / f"{i:03d}.png")
    result = score_folders(tmp_path / "a", tmp_path / "b", extractor=spec, progress=False)
    assert set(result["metrics"]) == {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall"}
    assert result["protocol"]["n_generated"] == 20 and result["protocol"]["reference"]["count"] == 30
    with pytest.raises(InvalidArgumentError, match="holds no .png"):
        score_folders(tmp_path / "a", tmp_path, extractor=spec, progress=False)


def test_label_accuracy_scores_the_requested_labels(tmp_path):
    """A conditional 'generator' that returns a real test image of the requested class gets about the classifier's
    accuracy; one that returns an image of the next class gets almost none."""
    from zoo.data.fashion_mnist import load_fashion_mnist, to_model_range

    images, labels = load_fashion_mnist("test")
    per_class = torch.stack([to_model_range(images[labels == c][:64]) for c in range(10)])  # [10, 64, 1, 28, 28]

    class Lookup(torch.nn.Module):
        latent_dim, img_channels, img_size, num_classes = 8, 1, 28, 10

        def __init__(self, shift: int):
            super().__init__()
            self.shift = shift
            self.anchor = torch.nn.Parameter(torch.zeros(()))  # evaluate_generator reads the device from it

        def forward(self, z, y):
            pick = (z[:, 0].abs() * 1000).long() % per_class.shape[1]
            return per_class[(y + self.shift) % 10, pick]

    scores = [evaluate_generator(Lookup(shift), dataset="fashion-mnist", extractor="fmnist-cnn", n_samples=300,
                                 reference_count=500, cache=tmp_path, progress=False)["coverage"]["label_accuracy"]
              for shift in (0, 1)]
    assert scores[0] >= 0.85 and scores[1] <= 0.15, scores
