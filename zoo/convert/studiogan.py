"""PyTorch-StudioGAN's BigGAN generator (``src/models/big_resnet.py``) -> ``zoo.nets.biggan.BigGANGenerator``.

StudioGAN saves ``{"state_dict": G_ema.state_dict()}`` with the legacy spectral-norm hook's tensors
(``weight_orig``, ``weight_u``, ``weight_v``). The zoo module uses torch's spectral-norm parametrization, whose
eval-mode forward uses the stored u and v exactly as the hook does, so the renamed tensors give the same images.
Renaming: ``linear0`` -> ``linear``; ``blocks.I.0.`` -> ``blocks.I.`` (attention included); ``conv2d0/1/2`` ->
``skip/conv1/conv2``; attention ``conv1x1_theta/phi/g/attn`` -> ``theta/phi/g/out`` and ``sigma`` -> ``gamma``;
``bn4`` -> ``out_bn``; ``conv2d5`` -> ``to_rgb``; cBN ``bn1/bn2`` keep their ``gain``/``bias`` linears.

Also holds the helpers both BigGAN converters use: reading a checkpoint without unpickling code and loading a
renamed state dict while refusing missing, unexpected or misshapen keys by their upstream name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..class_names import imagenet_classes
from ..errors import InvalidArgumentError, WeightsError, WeightsNotFoundError
from ..nets.biggan import BigGANGenerator
from . import register_converter

SN_SUFFIXES = {"weight_orig": "parametrizations.weight.original", "weight_u": "parametrizations.weight.0._u",
               "weight_v": "parametrizations.weight.0._v"}


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Tensors of an upstream checkpoint: safetensors, or torch.load(weights_only=True) (no code is unpickled).

    A ``{"state_dict": ...}`` wrapper (StudioGAN) is unwrapped and a DataParallel ``module.`` prefix removed.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} does not exist: pass the path of the upstream weights file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: Any = load_file(str(path))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001  (torch raises several types for a file it refuses)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WeightsError(f"{path} cannot be read as a tensor-only checkpoint ({first}): pass the original "
                               f"upstream file (a state dict saved by torch.save) or a .safetensors file") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors: pass the upstream generator's weights file")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_renamed(model: nn.Module, state: dict[str, Tensor], *, file: str | os.PathLike,
                 to_zoo: Callable[[str], str | None], to_upstream: Callable[[str], str],
                 transform: Callable[[str, Tensor], Tensor] | None = None) -> nn.Module:
    """Load upstream ``state`` into ``model`` through a key renaming; refuse any key that does not fit, by name.

    ``transform(zoo_key, tensor)`` rearranges a tensor into the zoo layout; if it changes shapes it also has an
    ``upstream_shape(zoo_key, zoo_shape)`` method, so that the shape check is made on the file's own layout.
    """
    own = model.state_dict()
    mapped: dict[str, Tensor] = {}
    for key, tensor in state.items():
        new = to_zoo(key)
        if new is None or new not in own:
            raise WeightsError(f"{file}: unexpected key {key!r} (not in this generator config): check the converter "
                               f"options / --config against the file")
        expected = getattr(transform, "upstream_shape", lambda k, s: s)(new, tuple(own[new].shape))
        if tuple(tensor.shape) != tuple(expected):
            raise WeightsError(f"{file}: misshapen key {key!r}: file {tuple(tensor.shape)}, expected "
                               f"{tuple(expected)}: check the converter options (width, img_size, ...) or --config")
        tensor = tensor.to(own[new].dtype)
        mapped[new] = transform(new, tensor) if transform else tensor
    missing = [k for k in own if k not in mapped]
    if missing:
        raise WeightsError(f"{file}: missing key {to_upstream(missing[0])!r}"
                           f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: the file is incomplete "
                           f"or from another model; check the converter options / --config")
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def rename_sn(parts: list[str]) -> list[str]:
    """Legacy spectral-norm tensor names -> torch parametrization names (last component)."""
    if parts and parts[-1] in SN_SUFFIXES:
        return parts[:-1] + SN_SUFFIXES[parts[-1]].split(".")
    return parts


def unrename_sn(key: str) -> str:
    for old, new in SN_SUFFIXES.items():
        if key.endswith("." + new):
            return key[: -len(new)] + old
    return key


STUDIOGAN_NAMES = {"linear0": "linear", "conv2d0": "skip", "conv2d1": "conv1", "conv2d2": "conv2",
                   "conv1x1_theta": "theta", "conv1x1_phi": "phi", "conv1x1_g": "g", "conv1x1_attn": "out",
                   "sigma": "gamma", "bn4": "out_bn", "conv2d5": "to_rgb"}
ZOO_NAMES = {v: k for k, v in STUDIOGAN_NAMES.items()}


def studiogan_to_zoo(key: str) -> str | None:
    parts = key.split(".")
    if parts[0] == "blocks":
        if len(parts) < 4 or parts[2] != "0":
            return None  # StudioGAN nests every block in a one-element ModuleList: blocks.I.0.<name>
        parts = parts[:2] + parts[3:]
    parts = rename_sn(parts)
    return ".".join(STUDIOGAN_NAMES.get(p, p) for p in parts)


def zoo_to_studiogan(key: str) -> str:
    key = unrename_sn(key)
    parts = [ZOO_NAMES.get(p, p) for p in key.split(".")]
    if parts[0] == "blocks":
        parts = parts[:2] + ["0"] + parts[2:]
    return ".".join(parts)


def studiogan_options(config_file: str | os.PathLike) -> dict[str, Any]:
    """Generator options from a StudioGAN config (YAML with MODEL/DATA sections) or a JSON with
    ``generator_kwargs`` (StudioGAN's Generator arguments)."""
    path = Path(config_file)
    if not path.is_file():
        raise WeightsNotFoundError(f"config file {path} does not exist: pass StudioGAN's config (e.g. BigGAN-256.yaml)")
    text = path.read_text()
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        import yaml

        config = yaml.safe_load(text)
    if not isinstance(config, dict):
        raise InvalidArgumentError(f"{path} is not a StudioGAN config: expected a mapping with MODEL and DATA")
    if "generator_kwargs" in config:
        kw = config["generator_kwargs"]
    else:
        model, data = config.get("MODEL", {}), config.get("DATA", {})
        kw = {"z_dim": model.get("z_dim"), "g_shared_dim": model.get("g_shared_dim"), "img_size": data.get("img_size"),
              "g_conv_dim": model.get("g_conv_dim"), "num_classes": data.get("num_classes"),
              "apply_attn": model.get("apply_attn"), "attn_g_loc": model.get("attn_g_loc")}
        if model.get("backbone", "big_resnet") != "big_resnet" or model.get("g_cond_mtd", "cBN") != "cBN":
            raise InvalidArgumentError(f"{path} is not a big_resnet/cBN BigGAN config: this converter reads only "
                                       f"StudioGAN's BigGAN generator")
        if data.get("img_channels") is not None:
            kw["img_channels"] = data["img_channels"]
    options = {"latent_dim": kw.get("z_dim"), "shared_dim": kw.get("g_shared_dim"), "img_size": kw.get("img_size"),
               "width": kw.get("g_conv_dim"), "num_classes": kw.get("num_classes"),
               "img_channels": kw.get("img_channels")}
    if kw.get("apply_attn") is False:
        options["attention_at"] = None
    elif kw.get("attn_g_loc"):
        locs = list(kw["attn_g_loc"])
        if len(locs) != 1:
            raise InvalidArgumentError(f"{path}: attention after several blocks ({locs}) is not supported")
        options["attention_at"] = 4 * 2 ** int(locs[0])  # attention follows block number loc (1-based)
    return {k: v for k, v in options.items() if v is not None}


@register_converter("studiogan-biggan")
def convert_studiogan_biggan(weights_file: str | os.PathLike, config_file: str | os.PathLike | None = None,
                             **options: Any) -> BigGANGenerator:
    """StudioGAN BigGAN G (or G_ema) checkpoint -> BigGANGenerator in eval mode.

    Options are BigGANGenerator arguments; defaults are StudioGAN's ImageNet-128 BigGAN (``BigGAN-256.yaml``:
    latent_dim 120, shared_dim 128, width 96, attention at 64x64, 1000 classes with ImageNet names). A StudioGAN
    config file (``--config``) sets them instead; explicit options win over it.
    """
    kwargs: dict[str, Any] = {"latent_dim": 120, "shared_dim": 128, "num_classes": 1000, "img_size": 128,
                              "img_channels": 3, "width": 96, "attention_at": 64}
    if config_file is not None:
        kwargs.update(studiogan_options(config_file))
    kwargs.update(options)
    if "class_names" not in kwargs and kwargs["num_classes"] == 1000:
        kwargs["class_names"] = imagenet_classes()
    state = read_state_dict(weights_file)
    try:
        model = BigGANGenerator(**kwargs)
    except TypeError as err:
        raise InvalidArgumentError(f"bad converter option: {err}") from None
    return load_renamed(model, state, file=weights_file, to_zoo=studiogan_to_zoo, to_upstream=zoo_to_studiogan)


__all__ = ["convert_studiogan_biggan", "read_state_dict", "load_renamed", "rename_sn", "unrename_sn"]
