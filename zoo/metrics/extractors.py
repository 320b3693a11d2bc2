"""Feature extractors for torch-fidelity, and how the zoo picks one.

- ``inception-v3-compat``: torch-fidelity's standard Inception (the FID of Heusel et al. 2017). Its weights come from
  ``--inception-weights`` / ``$ZOO_INCEPTION_WEIGHTS``, torch's hub cache, or a download when online. The file is read
  once: its bytes are hashed and loaded with ``weights_only=True``, and that state dict is handed to torch-fidelity's
  network (``CheckedInceptionV3``), whose own loader (a full unpickle of the path) never runs.
- ``fmnist-cnn``: the project's Fashion-MNIST classifier (``zoo.metrics.classifier``), bundled, used offline.
- ``timm:<model>``: any timm backbone (e.g. ``timm:convnext_tiny.fb_in1k``, ``timm:vit_small_patch14_dinov2.lvd142m``),
  its pooled pre-logits as features, for users who have the weights (Hub cache or a local file).

Zoo images are 1-channel; each extractor states how it adapts them (``ExtractorSpec.resize``), and that text goes into
every protocol record.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_fidelity
from torch import Tensor
from torch_fidelity import feature_extractor_inceptionv3 as tf_inception
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ..errors import InvalidArgumentError, WeightsError, WeightsNotFoundError
from ..serialization import sha256_file
from .classifier import CLASSIFIER_DIR, WEIGHTS_FILE, load_classifier

FMNIST = "fmnist-cnn"
INCEPTION = "inception-v3-compat"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
INCEPTION_ENV = "ZOO_INCEPTION_WEIGHTS"
INCEPTION_HINT = (f"download {INCEPTION_URL} and pass --inception-weights FILE (or set {INCEPTION_ENV}=FILE, or put it "
                  f"in {Path(torch.hub.get_dir()) / 'checkpoints'})")
FMNIST_SIZE = 28


def to_float_gray(x: Tensor, size: int = FMNIST_SIZE) -> Tensor:
    """uint8 ``[N, 1|3, H, W]`` -> float ``[N, 1, size, size]`` in [-1, 1] (channel mean, antialiased bilinear)."""
    x = x.float()
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    x = x / 127.5 - 1.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(-1, 1)
    return x


class FeaturesAndLogits(torch_fidelity.FeatureExtractorBase):
    """torch-fidelity's extractor interface for a network with 'features' (FID/KID/PR) and 'logits' (IS)."""

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "logits" if metric == "isc" else "features"

    @staticmethod
    def can_be_compiled():
        return False


class FashionMNISTFeatures(FeaturesAndLogits):
    """torch-fidelity view of the Fashion-MNIST classifier: 'features' (128-d pooled) and 'logits' (10 classes).

    ``feature_extractor_weights_path`` is a classifier folder (config.json + model.safetensors); default: bundled.
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.net = load_classifier(feature_extractor_weights_path)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dtype != torch.uint8:
            raise InvalidArgumentError(f"{FMNIST} expects uint8 images, got {x.dtype}")
        features = self.net.features(to_float_gray(x))
        out = {"features": features}
        if "logits" in self.features_list:
            out["logits"] = self.net.head(features)
        return tuple(out[k] for k in self.features_list)


class TimmFeatures(FeaturesAndLogits):
    """A timm backbone registered as ``timm:<model name>``: 'features' = pooled pre-logits, 'logits' if it has a head.

    Gray images are repeated to RGB, scaled to [0, 1], resized (antialiased, the model's own interpolation) to its
    input size and normalized with its mean/std. ``feature_extractor_weights_path``: a local weights file.
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        import timm

        model_name = name.split(":", 1)[1]
        overlay = {"file": str(feature_extractor_weights_path)} if feature_extractor_weights_path else None
        try:
            self.model = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=overlay)
        except (OSError, RuntimeError, ValueError) as err:
            raise WeightsNotFoundError(
                f"timm weights for {model_name} are not available ({type(err).__name__}): run once online or pass "
                f"--extractor-weights FILE") from None
        self.model.eval().requires_grad_(False)
        cfg = self.model.pretrained_cfg
        self.size = tuple(cfg.get("input_size", (3, 224, 224))[1:])
        self.interpolation = "bicubic" if cfg.get("interpolation") == "bicubic" else "bilinear"
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1))
        if "logits" in features_list and not getattr(self.model, "num_classes", 0):
            raise InvalidArgumentError(f"{name} has no classifier head: it gives features only (no IS)")

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = x.float() / 255.0
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=self.size, mode=self.interpolation, antialias=True, align_corners=False)
        x = (x.clamp(0, 1) - self.mean) / self.std
        pooled = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        out = {"features": pooled}
        if "logits" in self.features_list:
            out["logits"] = self.model.get_classifier()(pooled)
        return tuple(out[k] for k in self.features_list)


class CheckedInceptionV3(tf_inception.FeatureExtractorInceptionV3):
    """torch-fidelity's Inception built around a state dict we already checked, so its own loader never reads a file.

    Its ``__init__`` loads weights either from a path (a full unpickle) or, with no path, through the module's
    ``load_state_dict_from_url``; for the length of the call that name returns ``state_dict`` instead.
    """

    _lock = threading.Lock()

    def __init__(self, name, features_list, state_dict: dict[str, Tensor], **kwargs):
        def checked(url, *args, **kw):
            return state_dict

        kwargs.pop("feature_extractor_weights_path", None)
        with self._lock:
            original = tf_inception.load_state_dict_from_url
            tf_inception.load_state_dict_from_url = checked
            try:
                super().__init__(name, features_list, feature_extractor_weights_path=None, **kwargs)
            finally:
                tf_inception.load_state_dict_from_url = original


def register_extractors() -> None:
    """Register ``fmnist-cnn`` with torch-fidelity (idempotent)."""
    if FMNIST not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(FMNIST, FashionMNISTFeatures)


def register_timm(name: str) -> None:
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, TimmFeatures)


@dataclass(frozen=True)
class ExtractorSpec:
    """A resolved feature extractor: its torch-fidelity name, weights and how images reach it."""

    name: str
    weights_path: str | None
    weights_sha256: str | None
    channels: int  # channels the extractor is fed (gray is repeated for RGB networks)
    resize: str  # how zoo images are adapted, for the protocol record
    has_logits: bool  # IS and class coverage need class probabilities
    official: bool = True  # False when a local file does not hash to the published weights
    state_dict: dict | None = field(default=None, compare=False, repr=False)  # Inception, loaded once when resolved

    def to_dict(self) -> dict:
        return {"name": self.name, "weights_sha256": self.weights_sha256, "weights_official": self.official,
                "resize": self.resize}


def _offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("ZOO_OFFLINE", "HF_HUB_OFFLINE"))


def find_inception(path: str | os.PathLike | None = None) -> Path | None:
    """The local Inception weights file: ``path``, ``$ZOO_INCEPTION_WEIGHTS`` or torch's hub cache; None if absent."""
    if path is not None:
        if not Path(path).is_file():
            raise WeightsNotFoundError(f"Inception weights file {path} does not exist: {INCEPTION_HINT}")
        return Path(path)
    if os.environ.get(INCEPTION_ENV):
        env = Path(os.environ[INCEPTION_ENV])
        if not env.is_file():
            raise WeightsNotFoundError(f"{INCEPTION_ENV}={env} does not exist: {INCEPTION_HINT}")
        return env
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    return cached if cached.is_file() else None


def download_inception() -> Path:
    """Download the standard Inception weights into torch's hub cache (checked against the hash in the name)."""
    target = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if _offline():
        raise WeightsNotFoundError(f"Inception weights are not on this machine and downloads are off: {INCEPTION_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        torch.hub.download_url_to_file(INCEPTION_URL, str(target), hash_prefix=INCEPTION_FILE.split("-")[-1][:8])
    except (OSError, RuntimeError) as err:
        raise WeightsNotFoundError(
            f"cannot download the Inception weights ({type(err).__name__}): {INCEPTION_HINT}") from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    return target


def load_inception_state(path: str | os.PathLike, expected_sha256: str | None = None) -> tuple[dict, str]:
    """``(state dict, sha256)`` of an Inception .pth, both from one read of its bytes (no check-then-use window).

    Only tensors are accepted (``weights_only=True``); ``expected_sha256`` refuses a file changed since it was resolved.
    """
    data = Path(path).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and sha != expected_sha256:
        raise WeightsError(f"{path} changed since it was checked (sha256 {sha[:12]}, expected {expected_sha256[:12]}): "
                           f"resolve the extractor again")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # any failure means: not a plain state dict
        raise WeightsError(f"{path} is not a plain PyTorch state dict ({type(err).__name__}): re-download it") from None
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise WeightsError(f"{path} is not an Inception state dict (no 'fc.weight'): {INCEPTION_HINT}")
    return state, sha


def feature_layers(spec: ExtractorSpec) -> dict[str, str]:
    """The layer each metric reads (isc only where the extractor has logits), as torch-fidelity would pick it."""
    cls = tf_inception.FeatureExtractorInceptionV3 if spec.name == INCEPTION else FEATURE_EXTRACTORS_REGISTRY.get(
        spec.name)
    if cls is None:
        raise InvalidArgumentError(f"feature extractor {spec.name!r} is not registered: use resolve_extractor")
    metrics = ("isc", "fid", "kid", "prc") if spec.has_logits else ("fid", "kid", "prc")
    return {m: cls.get_default_feature_layer_for_metric(m) for m in metrics}


def build_feature_extractor(spec: ExtractorSpec, layers: Sequence[str], *, cuda: bool = False,
                            verbose: bool = False) -> torch_fidelity.FeatureExtractorBase:
    """The network of ``spec`` giving ``layers``; nothing in it is unpickled.

    Inception gets the state dict checked when the spec was resolved; torch-fidelity's other built-in extractors
    (VGG16, CLIP, DINOv2) load their weights with pickle and are refused.
    """
    if spec.name == INCEPTION:
        state = spec.state_dict
        if state is None:
            if spec.weights_path is None:
                raise WeightsNotFoundError(f"no Inception weights file given: {INCEPTION_HINT}")
            state, _ = load_inception_state(spec.weights_path, spec.weights_sha256)
        net = CheckedInceptionV3(spec.name, list(layers), state_dict=state, verbose=verbose)
    else:
        cls = FEATURE_EXTRACTORS_REGISTRY.get(spec.name)
        if cls is None or cls.__module__.startswith("torch_fidelity."):
            raise InvalidArgumentError(
                f"feature extractor {spec.name!r} is not one of the zoo's: use auto, {FMNIST}, {INCEPTION} or "
                f"timm:<model name>")
        net = cls(spec.name, list(layers), feature_extractor_weights_path=spec.weights_path, verbose=verbose)
    net.requires_grad_(False).eval()
    return net.cuda() if cuda else net


def resolve_extractor(name: str = "auto", weights: str | os.PathLike | None = None, *, quiet: bool = False
                      ) -> ExtractorSpec:
    """Pick and describe an extractor. ``auto``: Inception when its weights are on this machine, else ``fmnist-cnn``.

    ``weights``: a local weights file (Inception, timm) or classifier folder (fmnist-cnn).
    """
    register_extractors()
    if name == "auto":
        found = find_inception(weights)
        if found is None:
            if not quiet:
                print(f"note: Inception weights not found, scoring with {FMNIST} ({INCEPTION_HINT})", file=sys.stderr)
            return resolve_extractor(FMNIST)
        return resolve_extractor(INCEPTION, found)
    if name == INCEPTION:
        path = find_inception(weights) or download_inception()
        state, sha = load_inception_state(path)
        return ExtractorSpec(INCEPTION, str(path), sha, 3,
                             "gray repeated to RGB; torch-fidelity's TF1-compatible bilinear resize to 299x299",
                             has_logits=True, official=sha.startswith(INCEPTION_FILE.split("-")[-1][:8]),
                             state_dict=state)
    if name == FMNIST:
        folder = Path(weights) if weights else CLASSIFIER_DIR
        sha = sha256_file(folder / WEIGHTS_FILE) if (folder / WEIGHTS_FILE).is_file() else None
        if sha is None:
            load_classifier(folder)  # raises the one-line "missing" error
        return ExtractorSpec(FMNIST, str(folder) if weights else None, sha, 1,
                             "native 28x28 gray, scaled to [-1, 1]; other sizes: antialiased bilinear resize to 28x28",
                             has_logits=True, official=weights is None)
    if name.startswith("timm:"):
        register_timm(name)
        path = Path(weights) if weights else None
        if path is not None and not path.is_file():
            raise WeightsNotFoundError(f"timm weights file {path} does not exist: pass an existing file")
        return ExtractorSpec(name, str(path) if path else None, sha256_file(path) if path else "timm-pretrained",
                             3, "gray repeated to RGB, [0, 1], antialiased resize to the model's input size, "
                                "its mean/std", has_logits=False)
    raise InvalidArgumentError(
        f"unknown extractor {name!r}: use auto, {FMNIST}, {INCEPTION} or timm:<model name>")
