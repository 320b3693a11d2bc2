"""FID, IS, KID and precision/recall through ``torch_fidelity.calculate_metrics``.

Metrics: FID (Heusel et al. 2017), IS (Salimans et al. 2016) over 10 splits, KID (Binkowski et al. 2018; 100
subsets of up to 1000), precision/recall (Kynkaanniemi et al. 2019; k=3). Generated images come from a zoo generator
wrapped in ``torch_fidelity.GenerativeModelModuleWrapper`` (latents N(0, I) from numpy ``RandomState(seed)``, drawn
by torch-fidelity; images quantized to uint8 like a saved PNG) or from an image folder. With the same seed, the same
weights and the same package versions, two runs give the same numbers.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch_fidelity
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from ..generator import Generator
from .classifier import classifier_sha256, load_classifier
from .coverage import class_coverage
from .extractors import FMNIST, ExtractorSpec, resolve_extractor
from .protocol import protocol_record
from .reference import NATIVE_RESOLUTION, ImageTensorDataset, cache_dir, real_images, reference_key, to_uint8

ISC_SPLITS = 10
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PRC_NEIGHBORHOOD = 3
DEFAULT_N = 10_000
DATASET_ALIASES = {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}


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


def calculate(input1: Any, input2: Any, *, extractor: ExtractorSpec, n1: int, n2: int, seed: int = 0,
              input1_cache_name: str | None = None, input2_cache_name: str | None = None,
              cache: str | os.PathLike | None = None, batch_size: int = 250, progress: bool = True,
              device: str = "cpu", metrics: tuple[str, ...] = ("isc", "fid", "kid", "prc")) -> dict[str, float]:
    """One ``torch_fidelity.calculate_metrics`` call; returns fid, is_mean/is_std, kid_mean/kid_std, precision, recall.

    Inputs with a cache name have their features cached (torch-fidelity's cache, under ``cache_dir(cache)``).
    ``metrics``: a subset of torch-fidelity's isc, fid, kid, prc (IS only where the extractor has logits).
    """
    settings = metric_settings(n1, n2, extractor)
    if min(n1, n2) < 2 * PRC_NEIGHBORHOOD:
        raise InvalidArgumentError(f"need at least {2 * PRC_NEIGHBORHOOD} images on each side, got {n1} and {n2}")
    kwargs = dict(
        input1=input1, input2=input2, cuda=str(device).startswith("cuda"), batch_size=batch_size,
        isc="isc" in metrics and extractor.has_logits, fid="fid" in metrics, kid="kid" in metrics,
        prc="prc" in metrics,
        feature_extractor=extractor.name, feature_extractor_weights_path=extractor.weights_path,
        isc_splits=ISC_SPLITS, kid_subsets=KID_SUBSETS, kid_subset_size=settings["kid_subset_size"],
        prc_neighborhood=PRC_NEIGHBORHOOD, rng_seed=seed, save_cpu_ram=True, verbose=progress,
        cache=input1_cache_name is not None or input2_cache_name is not None, cache_root=str(cache_dir(cache)),
        input1_cache_name=input1_cache_name, input2_cache_name=input2_cache_name,
    )
    if isinstance(input1, torch_fidelity.GenerativeModelBase):
        kwargs["input1_model_num_samples"] = n1
    raw = torch_fidelity.calculate_metrics(**kwargs)
    names = {"fid": torch_fidelity.KEY_METRIC_FID, "is_mean": torch_fidelity.KEY_METRIC_ISC_MEAN,
             "is_std": torch_fidelity.KEY_METRIC_ISC_STD, "kid_mean": torch_fidelity.KEY_METRIC_KID_MEAN,
             "kid_std": torch_fidelity.KEY_METRIC_KID_STD, "precision": torch_fidelity.KEY_METRIC_PRECISION,
             "recall": torch_fidelity.KEY_METRIC_RECALL}
    return {ours: float(raw[theirs]) for ours, theirs in names.items() if theirs in raw}


def _coverage(dataset: str, images: Tensor, labels: Tensor | None, spec: ExtractorSpec) -> dict | None:
    """Class coverage with the extractor's own classifier when it is ``fmnist-cnn``, else the bundled one."""
    if dataset != "fashion-mnist":
        return None
    folder = spec.weights_path if spec.name == FMNIST else None
    return {**class_coverage(images, labels, load_classifier(folder)),
            "classifier_sha256": classifier_sha256(folder)}


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
    metrics = calculate(wrapped, reference, extractor=spec, n1=n_samples, n2=len(reference), seed=seed,
                        input2_cache_name=key, cache=cache, batch_size=batch_size, progress=progress)
    images, labels = sampler.collected()
    sampling = "z ~ N(0, I) from numpy RandomState(seed) (torch-fidelity), no truncation"
    if resolution != generator.img_size:
        sampling += f"; {generator.img_size}px samples resized to {resolution}px (antialiased bilinear) before uint8"
    if generator.num_classes:
        sampling += "; labels uniform from torch.Generator().manual_seed(seed)"
    return {
        "metrics": metrics,
        "coverage": _coverage(dataset, images, labels, spec),
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
