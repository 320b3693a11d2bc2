"""FID, IS, KID and precision/recall with torch-fidelity's feature batching and metric functions.

Metrics: FID (Heusel et al. 2017), IS (Salimans et al. 2016) over 10 splits, KID (Binkowski et al. 2018; 100
subsets of up to 1000), precision/recall (Kynkaanniemi et al. 2019; k=3). Generated images come from a zoo generator
wrapped in ``torch_fidelity.GenerativeModelModuleWrapper`` (latents N(0, I) from numpy ``RandomState(seed)``, drawn
by torch-fidelity; images quantized to uint8 like a saved PNG) or from an image folder. With the same seed, the same
weights and the same package versions, two runs give the same numbers, the same as ``calculate_metrics`` gives; its
file cache (pickles) is bypassed for ours (``.npz``, see ``zoo.metrics.reference``).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch_fidelity
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from ..generator import Generator
from ..images import to_uint8
from .classifier import classifier_sha256, load_classifier
from .coverage import class_coverage, coverage_from_predictions
from .extractors import FMNIST, ExtractorSpec, build_feature_extractor, feature_layers, resolve_extractor
from .protocol import protocol_record
from .reference import (
    NATIVE_RESOLUTION,
    ImageTensorDataset,
    features_key,
    features_path,
    load_features,
    real_images,
    reference_key,
    save_features,
)

ISC_SPLITS = 10
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PRC_NEIGHBORHOOD = 3
DEFAULT_N = 10_000
DATASET_ALIASES = {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}
METRIC_KEYS = {"fid": torch_fidelity.KEY_METRIC_FID, "is_mean": torch_fidelity.KEY_METRIC_ISC_MEAN,
               "is_std": torch_fidelity.KEY_METRIC_ISC_STD, "kid_mean": torch_fidelity.KEY_METRIC_KID_MEAN,
               "kid_std": torch_fidelity.KEY_METRIC_KID_STD, "precision": torch_fidelity.KEY_METRIC_PRECISION,
               "recall": torch_fidelity.KEY_METRIC_RECALL}


def canonical_dataset(name: str) -> str:
    key = "".join(c for c in name.lower() if c.isalnum())
    return DATASET_ALIASES.get(key, name.lower())


class UInt8Sampler(nn.Module):
    """``z -> uint8 images`` for torch-fidelity, keeping a copy of every 1-channel image (and label) it made.

    Conditional generators get labels drawn uniformly from this module's own seeded ``torch.Generator``
    (torch-fidelity's own conditional path uses ``np.int``, which numpy >= 1.24 removed).
    """

    def __init__(self, generator: Generator, channels: int = 1, seed: int = 0, resolution: int | None = None):
        super().__init__()
        self.generator = generator
        self.channels = channels
        self.resolution = resolution  # resize samples to this (the dataset's reference resolution)
        self.labels_rng = torch.Generator().manual_seed(seed)
        self.images: list[Tensor] = []
        self.labels: list[Tensor] = []

    def forward(self, z: Tensor) -> Tensor:
        device = next(self.generator.parameters()).device
        if self.generator.num_classes:
            y = torch.randint(self.generator.num_classes, (len(z),), generator=self.labels_rng)
            self.labels.append(y)
            x = self.generator(z.to(device), y.to(device))
        else:
            x = self.generator(z.to(device))
        x = x.float().cpu()
        if self.resolution and x.shape[-1] != self.resolution:  # like the data module resizes real images
            x = nn.functional.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                                          antialias=True, align_corners=False)
        x = to_uint8(x)
        self.images.append(x)
        return x.repeat(1, self.channels // x.shape[1], 1, 1) if x.shape[1] != self.channels else x

    def collected(self) -> tuple[Tensor, Tensor | None]:
        return torch.cat(self.images), (torch.cat(self.labels) if self.labels else None)


def metric_settings(n1: int, n2: int, extractor: ExtractorSpec) -> dict[str, Any]:
    return {"isc_splits": ISC_SPLITS if extractor.has_logits else None, "kid_subsets": KID_SUBSETS,
            "kid_subset_size": min(KID_SUBSET_SIZE, n1, n2), "prc_neighborhood": PRC_NEIGHBORHOOD}


def _as_dataset(input: Any, progress: bool) -> Any:
    """A folder becomes torch-fidelity's own image dataset (PIL -> RGB uint8), as ``calculate_metrics`` builds it."""
    if not isinstance(input, (str, os.PathLike)):
        return input
    from torch_fidelity.datasets import ImagesPathDataset, TransformPILtoRGBTensor
    from torch_fidelity.utils import glob_samples_paths

    if not os.path.isdir(input):
        raise InvalidArgumentError(f"{input} is not a folder of images: pass a folder of .png/.jpg samples")
    files = glob_samples_paths(str(input), False, "png,jpg,jpeg", "jpg,jpeg", verbose=progress)
    if not files:
        raise InvalidArgumentError(f"{input} holds no .png/.jpg images: pass a folder of samples")
    return ImagesPathDataset(files, TransformPILtoRGBTensor())


def _extract(input: Any, n: int, net: nn.Module, kw: dict) -> dict[str, Tensor]:
    """Features per layer with torch-fidelity's own batching (a generator draws its latents from RandomState(seed))."""
    from torch_fidelity.utils import get_featuresdict_from_dataset, get_featuresdict_from_generative_model

    if isinstance(input, torch_fidelity.GenerativeModelBase):
        return get_featuresdict_from_generative_model(input, net, n, kw["batch_size"], kw["cuda"], kw["rng_seed"],
                                                      kw["verbose"])
    return get_featuresdict_from_dataset(input, net, kw["batch_size"], kw["cuda"], kw["save_cpu_ram"], kw["verbose"])


def calculate(input1: Any, input2: Any, **kwargs: Any) -> dict[str, float]:
    """fid, is_mean/is_std, kid_mean/kid_std, precision, recall of ``input1`` against ``input2``; see
    ``calculate_with_features`` for the arguments."""
    return calculate_with_features(input1, input2, **kwargs)[0]


def calculate_with_features(input1: Any, input2: Any, *, extractor: ExtractorSpec, n1: int, n2: int, seed: int = 0,
                            input1_cache_name: str | None = None, input2_cache_name: str | None = None,
                            cache: str | os.PathLike | None = None, batch_size: int = 250, progress: bool = True,
                            device: str = "cpu", metrics: tuple[str, ...] = ("isc", "fid", "kid", "prc"),
                            ) -> tuple[dict[str, float], dict[str, Tensor]]:
    """The metrics of ``input1`` against ``input2``, and ``input1``'s features per extractor layer.

    The same numbers as ``torch_fidelity.calculate_metrics`` with these settings (tested), from its own batching and
    metric functions; the features are extracted here so that torch-fidelity's cache, which unpickles its files and
    whose key ignores the images, is never used. Inputs given a cache name (``ImageTensorDataset`` only) keep their
    features in ``zoo.metrics.reference``'s ``.npz`` cache under ``cache_dir(cache)``, keyed by their images' sha256.
    ``metrics``: a subset of isc, fid, kid, prc (IS only where the extractor has logits).
    """
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_featuresdict_to_metric
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric
    from torch_fidelity.metric_prc import prc_featuresdict_to_metric

    settings = metric_settings(n1, n2, extractor)
    if min(n1, n2) < 2 * PRC_NEIGHBORHOOD:
        raise InvalidArgumentError(f"need at least {2 * PRC_NEIGHBORHOOD} images on each side, got {n1} and {n2}")
    kw = dict(cuda=str(device).startswith("cuda"), batch_size=batch_size, isc_splits=ISC_SPLITS,
              kid_subsets=KID_SUBSETS, kid_subset_size=settings["kid_subset_size"], prc_neighborhood=PRC_NEIGHBORHOOD,
              rng_seed=seed, save_cpu_ram=True, verbose=progress)
    layers = feature_layers(extractor)  # every layer the extractor serves, so a cache entry fits any metric subset
    layer_list = sorted(set(layers.values()))
    net = None

    def features(input: Any, n: int, name: str | None) -> tuple[dict[str, Tensor], dict | None]:
        nonlocal net
        key = path = None
        if name is not None:
            if not isinstance(input, ImageTensorDataset):
                raise InvalidArgumentError(f"only an ImageTensorDataset can be cached (got {type(input).__name__}): "
                                           f"pass no cache name for it")
            key = features_key(input.images, input.channels, extractor, layer_list)
            path = features_path(cache, name, key)
            cached = load_features(path, key, layer_list, len(input), layers["fid"])
            if cached is not None:
                return cached
        if net is None:
            net = build_feature_extractor(extractor, layer_list, cuda=kw["cuda"], verbose=progress)
        out = _extract(_as_dataset(input, progress), n, net, kw)
        stats = fid_featuresdict_to_statistics(out, layers["fid"]) if "fid" in metrics or path else None
        if path is not None:
            save_features(path, key, out, stats)
        return out, stats

    features1, stats1 = features(input1, n1, input1_cache_name)
    features2, stats2 = features(input2, n2, input2_cache_name)
    raw: dict[str, float] = {}
    if "isc" in metrics and extractor.has_logits:
        raw.update(isc_featuresdict_to_metric(features1, layers["isc"], **kw))
    if "fid" in metrics:
        raw.update(fid_statistics_to_metric(stats1, stats2, progress))
    if "kid" in metrics:
        raw.update(kid_featuresdict_to_metric(features1, features2, layers["kid"], **kw))
    if "prc" in metrics:
        raw.update(prc_featuresdict_to_metric(features1, features2, layers["prc"], **kw))
    return {ours: float(raw[theirs]) for ours, theirs in METRIC_KEYS.items() if theirs in raw}, features1


def _coverage(dataset: str, images: Tensor, labels: Tensor | None, spec: ExtractorSpec,
              logits: Tensor | None = None) -> dict | None:
    """Class coverage with the extractor's own classifier when it is ``fmnist-cnn``, else the bundled one.

    With ``fmnist-cnn`` the extractor already computed the classifier's logits of every sample (its IS layer):
    they are reused rather than running the same network over the images a second time.
    """
    if dataset != "fashion-mnist":
        return None
    folder = spec.weights_path if spec.name == FMNIST else None
    if spec.name == FMNIST and logits is not None and len(logits) == len(images):
        coverage = coverage_from_predictions(logits.argmax(1), logits.shape[1], labels)
    else:
        coverage = class_coverage(images, labels, load_classifier(folder))
    return {**coverage, "classifier_sha256": classifier_sha256(folder)}


def _extractor(extractor: str | ExtractorSpec, weights: str | os.PathLike | None) -> ExtractorSpec:
    return extractor if isinstance(extractor, ExtractorSpec) else resolve_extractor(extractor, weights)


def _reference(dataset: str, resolution: int, split: str, extractor: ExtractorSpec, root: str | None,
               count: int | None = None) -> tuple[ImageTensorDataset, str, dict]:
    images, _ = real_images(dataset, split, resolution, count=count, root=root)
    key = reference_key(dataset, split, resolution, len(images), extractor)
    info = {"dataset": dataset, "split": split, "count": len(images), "resolution": resolution}
    return ImageTensorDataset(images, extractor.channels), key, info


def evaluate_generator(
    generator: Generator,
    *,
    dataset: str,
    extractor: str | ExtractorSpec = "auto",
    extractor_weights: str | os.PathLike | None = None,
    n_samples: int = DEFAULT_N,
    seed: int = 0,
    reference_split: str = "test",
    reference_count: int | None = None,
    weights_sha256: dict[str, str] | None = None,
    cache: str | os.PathLike | None = None,
    data_root: str | None = None,
    batch_size: int = 250,
    progress: bool = True,
) -> dict[str, Any]:
    """Score a generator against a dataset split: ``{"metrics", "coverage", "protocol"}``.

    ``reference_count``: a seeded subset of the reference split (default: all of it).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise InvalidArgumentError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    dataset = canonical_dataset(dataset)
    spec = _extractor(extractor, extractor_weights)
    generator = generator.eval()
    resolution = NATIVE_RESOLUTION.get(dataset, generator.img_size)
    reference, key, ref_info = _reference(dataset, resolution, reference_split, spec, data_root, reference_count)
    sampler = UInt8Sampler(generator, spec.channels, seed, resolution)
    wrapped = torch_fidelity.GenerativeModelModuleWrapper(sampler, generator.latent_dim, "normal", 0)
    metrics, features = calculate_with_features(wrapped, reference, extractor=spec, n1=n_samples, n2=len(reference),
                                                seed=seed, input2_cache_name=key, cache=cache, batch_size=batch_size,
                                                progress=progress)
    images, labels = sampler.collected()
    sampling = "z ~ N(0, I) from numpy RandomState(seed) (torch-fidelity), no truncation"
    if resolution != generator.img_size:
        sampling += f"; {generator.img_size}px samples resized to {resolution}px (antialiased bilinear) before uint8"
    if generator.num_classes:
        sampling += "; labels uniform from torch.Generator().manual_seed(seed)"
    return {
        "metrics": metrics,
        "coverage": _coverage(dataset, images, labels, spec, features.get(feature_layers(spec).get("isc", ""))),
        "protocol": protocol_record(extractor=spec, n_generated=n_samples, reference=ref_info, seed=seed,
                                    weights_sha256=weights_sha256, sampling=sampling,
                                    metric_settings=metric_settings(n_samples, len(reference), spec)),
    }


def evaluate_real(
    dataset: str,
    resolution: int,
    *,
    split: str = "train",
    extractor: str | ExtractorSpec = "auto",
    extractor_weights: str | os.PathLike | None = None,
    n_samples: int = DEFAULT_N,
    seed: int = 0,
    reference_split: str = "test",
    reference_count: int | None = None,
    cache: str | os.PathLike | None = None,
    data_root: str | None = None,
    batch_size: int = 250,
    progress: bool = True,
) -> dict[str, Any]:
    """Real data scored like a model: ``n_samples`` seeded images of ``split`` against the reference split."""
    dataset = canonical_dataset(dataset)
    spec = _extractor(extractor, extractor_weights)
    reference, key, ref_info = _reference(dataset, resolution, reference_split, spec, data_root, reference_count)
    images, labels = real_images(dataset, split, resolution, count=n_samples, seed=seed, root=data_root)
    input1_key = reference_key(dataset, split, resolution, len(images), spec, seed=seed)
    metrics = calculate(ImageTensorDataset(images, spec.channels), reference, extractor=spec, n1=len(images),
                        n2=len(reference), seed=seed, input1_cache_name=input1_key, input2_cache_name=key,
                        cache=cache, batch_size=batch_size, progress=progress)
    return {
        "metrics": metrics,
        "coverage": _coverage(dataset, images, None, spec),
        "protocol": protocol_record(extractor=spec, n_generated=len(images), reference=ref_info, seed=seed,
                                    weights_sha256=None, metric_settings=metric_settings(len(images), len(reference),
                                                                                         spec),
                                    sampling=f"{len(images)} images of the {split} split, subset drawn with "
                                             f"torch.randperm(seed)"),
    }


def score_folders(
    folder1: str | os.PathLike,
    folder2: str | os.PathLike,
    *,
    extractor: str | ExtractorSpec = "auto",
    extractor_weights: str | os.PathLike | None = None,
    seed: int = 0,
    batch_size: int = 250,
    progress: bool = True,
) -> dict[str, Any]:
    """Score the images in ``folder1`` (png/jpg) against those in ``folder2``; nothing is cached."""
    from torch_fidelity.utils import glob_samples_paths

    spec = _extractor(extractor, extractor_weights)
    counts = []
    for folder in (folder1, folder2):
        if not os.path.isdir(folder):
            raise InvalidArgumentError(f"{folder} is not a folder of images")
        counts.append(len(glob_samples_paths(str(folder), False, "png,jpg,jpeg", verbose=False)))
        if counts[-1] == 0:
            raise InvalidArgumentError(f"{folder} holds no .png/.jpg images: pass a folder of samples")
    metrics = calculate(str(folder1), str(folder2), extractor=spec, n1=counts[0], n2=counts[1], seed=seed,
                        batch_size=batch_size, progress=progress)
    return {
        "metrics": metrics,
        "protocol": protocol_record(extractor=spec, n_generated=counts[0], seed=seed, weights_sha256=None,
                                    reference={"dataset": str(folder2), "split": "folder", "count": counts[1],
                                               "resolution": None},
                                    metric_settings=metric_settings(counts[0], counts[1], spec),
                                    sampling=f"images of {folder1} (RGB via PIL, as torch-fidelity reads them)"),
    }


def evaluate(name: str, **kwargs: Any) -> dict[str, Any]:
    """Score a zoo model by name (its index entry names the dataset and the weights' sha256)."""
    from ..registry import get_entry
    from ..weights import load

    entry = get_entry(name)
    sha = entry.weights.get("sha256") or (entry.weights.get("hub") or {}).get("sha256")
    return evaluate_generator(load(name), dataset=entry.dataset, weights_sha256=sha if isinstance(sha, dict) else
                              ({"file": sha} if sha else None), **kwargs)
