"""pytorch-pretrained-BigGAN's BigGAN-deep (``pytorch_model.bin`` + ``config.json``) ->
``zoo.nets.biggan_deep.BigGANDeepGenerator``.

Layout facts the conversion handles:
- the class embedding is an ``nn.Linear(num_classes, embed_dim)`` applied to a one-hot vector: its weight,
  transposed, is the zoo's ``nn.Embedding`` table (the zoo takes int64 class indices);
- ``gen_z``'s output is read as [B, 4, 4, C] (TensorFlow's channels-last) and then permuted: its rows (and the
  spectral-norm vector u, which lives in the same output space) are reordered to channels-first, which leaves
  sigma = u . W v unchanged;
- ``layers.I.bn_K.scale/offset`` are the cBN gain/bias linears (gain used as 1 + scale); ``conv_K`` -> ``convK``;
  attention ``snconv1x1_theta/phi/g/o_conv`` -> ``theta/phi/g/out``; ``generator.bn`` -> ``out_bn``;
  ``conv_to_rgb`` -> ``to_rgb``; spectral-norm ``weight_orig/_u/_v`` -> torch's parametrization tensors.
z is passed unchanged: upstream samples it as truncation * truncnorm(-2, 2), which is the zoo's "scale" rule.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import Tensor

from ..class_names import imagenet_classes
from ..errors import InvalidArgumentError, WeightsNotFoundError
from ..nets.biggan_deep import BigGANDeepGenerator
from . import register_converter
from .studiogan import load_renamed, read_state_dict, rename_sn, unrename_sn

ATTENTION_NAMES = {"snconv1x1_theta": "theta", "snconv1x1_phi": "phi", "snconv1x1_g": "g", "snconv1x1_o_conv": "out"}
ZOO_ATTENTION_NAMES = {v: k for k, v in ATTENTION_NAMES.items()}
#: upstream config.json field -> BigGANDeepGenerator argument
CONFIG_FIELDS = {"z_dim": "latent_dim", "class_embed_dim": "embed_dim", "num_classes": "num_classes",
                 "output_dim": "img_size", "channel_width": "width", "layers": "layers",
                 "attention_layer_position": "attention_position", "n_stats": "n_stats", "eps": "eps"}


def deep_to_zoo(key: str) -> str | None:
    parts = key.split(".")
    if parts == ["embeddings", "weight"]:
        return "embed.weight"
    if parts[0] != "generator" or len(parts) < 3:
        return None
    parts = rename_sn(parts[1:])
    top = {"gen_z": "linear", "bn": "out_bn", "conv_to_rgb": "to_rgb"}
    if parts[0] in top:
        return ".".join([top[parts[0]]] + parts[1:])
    if parts[0] != "layers" or len(parts) < 3:
        return None
    out = ["blocks", parts[1]]
    for p in parts[2:]:
        if p.startswith(("bn_", "conv_")) and p.split("_")[1].isdigit():
            p = p.replace("_", "")
        out.append({"scale": "gain", "offset": "bias"}.get(p, ATTENTION_NAMES.get(p, p)))
    return ".".join(out)


def zoo_to_deep(key: str) -> str:
    if key == "embed.weight":
        return "embeddings.weight"
    parts = unrename_sn(key).split(".")
    top = {"linear": "gen_z", "out_bn": "bn", "to_rgb": "conv_to_rgb"}
    if parts[0] in top:
        return ".".join(["generator", top[parts[0]]] + parts[1:])
    out = ["generator", "layers", parts[1]]
    for p in parts[2:]:
        if p[:-1] in ("bn", "conv") and p[-1:].isdigit():
            p = f"{p[:-1]}_{p[-1]}"
        out.append({"gain": "scale", "bias": "offset"}.get(p, ZOO_ATTENTION_NAMES.get(p, p)))
    return ".".join(out)


class DeepLayout:
    """Tensor rearrangements from pytorch-pretrained-BigGAN's layout to the zoo's (see the module docstring)."""

    def __init__(self, bottom_channels: int):
        self.c = bottom_channels

    def upstream_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(reversed(shape)) if key == "embed.weight" else shape

    def __call__(self, key: str, tensor: Tensor) -> Tensor:
        if key == "embed.weight":
            return tensor.t().contiguous()
        if key.startswith("linear.") and not key.endswith("._v"):
            # output index (h, w, c) -> (c, h, w); the input side (columns, v) is unchanged
            rest = tensor.shape[1:]
            return tensor.reshape(4, 4, self.c, *rest).permute(2, 0, 1, *range(3, 3 + len(rest))).reshape(
                tensor.shape).contiguous()
        return tensor


def deep_options(config_file: str | os.PathLike) -> dict[str, Any]:
    """BigGANDeepGenerator arguments from the package's ``config.json``."""
    path = Path(config_file)
    if not path.is_file():
        raise WeightsNotFoundError(f"config file {path} does not exist: pass the config.json shipped with the weights")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InvalidArgumentError(f"{path} is not valid JSON ({err.msg}): pass pytorch-pretrained-BigGAN's "
                                   f"config.json") from None
    unknown = sorted(set(config) - set(CONFIG_FIELDS))
    if unknown:
        raise InvalidArgumentError(f"{path} has fields {unknown} that pytorch-pretrained-BigGAN's config does not: "
                                   f"is it the right config.json?")
    return {CONFIG_FIELDS[k]: v for k, v in config.items()}


@register_converter("pytorch-pretrained-biggan")
def convert_pytorch_pretrained_biggan(weights_file: str | os.PathLike, config_file: str | os.PathLike | None = None,
                                      **options: Any) -> BigGANDeepGenerator:
    """pytorch-pretrained-BigGAN BigGAN-deep weights -> BigGANDeepGenerator in eval mode.

    Options are BigGANDeepGenerator arguments (defaults: the package's 128x128 config, ImageNet class names);
    ``config_file`` is the package's ``config.json``; explicit options win over it.
    """
    kwargs: dict[str, Any] = {}
    if config_file is not None:
        kwargs.update(deep_options(config_file))
    kwargs.update(options)
    if "class_names" not in kwargs and kwargs.get("num_classes", 1000) == 1000:
        kwargs["class_names"] = imagenet_classes()
    state = read_state_dict(weights_file)
    try:
        model = BigGANDeepGenerator(**kwargs)
    except TypeError as err:
        raise InvalidArgumentError(f"bad converter option: {err}") from None
    return load_renamed(model, state, file=weights_file, to_zoo=deep_to_zoo, to_upstream=zoo_to_deep,
                        transform=DeepLayout(model.bottom_channels))
