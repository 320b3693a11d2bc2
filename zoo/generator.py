"""The base class of every zoo generator: a plain ``nn.Module`` that samples, saves and loads.

A generator's ``__init__`` keyword arguments are its config (the Hugging Face ``PyTorchModelHubMixin`` convention):
``save_pretrained(folder)`` writes ``config.json`` + ``model.safetensors`` and ``from_pretrained(folder_or_repo)``
rebuilds it. ``config.json`` also names the generator class (``generator_class``), so ``Generator.from_pretrained``
and ``zoo.load(folder)`` can rebuild any zoo generator without knowing its family in advance.

Output convention for every generator: float images ``[n, C, H, W]`` in ``[-1, 1]``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .errors import InvalidArgumentError

GENERATOR_CLASSES: dict[str, type[Generator]] = {}


class Generator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gan-zoo",
    tags=["gan", "image-generation", "pytorch"],
    license="apache-2.0",
):
    """Base generator. Subclasses set the attributes below in ``__init__`` and implement ``forward(z[, y])``."""

    latent_dim: int
    img_channels: int
    img_size: int
    num_classes: int = 0
    class_names: list[str] | None = None

    #: Truncation rule used by ``sample_latent``: "threshold" resamples entries with |z| > t (StudioGAN);
    #: "scale" draws t * truncnorm(-2, 2) (BigGAN-deep). Families override it when their paper says otherwise.
    truncation_rule: ClassVar[str] = "threshold"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        GENERATOR_CLASSES[cls.__name__] = cls

    # ------------------------------------------------------------------ sampling
    def sample_latent(
        self, n: int, *, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> torch.Tensor:
        """Draw ``n`` latents on the CPU (so a seed gives the same latents on every device)."""
        if truncation is None:
            return torch.randn(n, self.latent_dim, generator=generator)
        truncation = float(truncation)
        if not truncation > 0:
            raise InvalidArgumentError(f"truncation must be > 0 (or None for no truncation), got {truncation}")
        if self.truncation_rule == "scale":
            return truncation * truncated_normal((n, self.latent_dim), 2.0, generator)
        return truncated_normal((n, self.latent_dim), truncation, generator)

    def resolve_labels(self, labels: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Turn ``labels`` (int, class name, sequence or tensor; None = uniform) into ``n`` class indices."""
        if not self.num_classes:
            if labels is not None:
                raise InvalidArgumentError(
                    f"{type(self).__name__} is unconditional: call sample() without labels=")
            return None
        if labels is None:
            return torch.randint(self.num_classes, (n,), generator=generator)
        if isinstance(labels, (int, str)):
            labels = [labels] * n
        if isinstance(labels, torch.Tensor):
            labels = labels.flatten().tolist()
        if not isinstance(labels, Sequence) or len(labels) != n:
            raise InvalidArgumentError(f"labels must be one label or a sequence of n={n} labels")
        return torch.tensor([self._class_index(label) for label in labels], dtype=torch.long)

    def _class_index(self, label: Any) -> int:
        if isinstance(label, str):
            names = self.class_names or []
            lowered = [name.lower() for name in names]
            if label.lower() in lowered:
                return lowered.index(label.lower())
            close = difflib.get_close_matches(label.lower(), lowered, n=3)
            hint = f"did you mean {', '.join(repr(names[lowered.index(c)]) for c in close)}?" if close else (
                f"known names: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}")
            raise InvalidArgumentError(f"unknown class name {label!r}: {hint}")
        index = int(label)
        if not 0 <= index < self.num_classes:
            raise InvalidArgumentError(f"label {index} is out of range: use 0..{self.num_classes - 1} or a class name")
        return index

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Any = None,
        truncation: float | None = None,
        batch_size: int = 256,
        progress: bool = False,
    ) -> torch.Tensor:
        """Generate ``n`` images ``[n, C, H, W]`` in ``[-1, 1]``; the same seed gives the same images."""
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise InvalidArgumentError(f"n must be a positive integer, got {n!r}")
        generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        y = self.resolve_labels(labels, n, generator)
        z = self.sample_latent(n, generator=generator, truncation=truncation)
        device = next(self.parameters()).device
        chunks = range(0, n, batch_size)
        if progress and len(chunks) > 1:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc="sampling", unit="batch")
        images = []
        for start in chunks:
            zb = z[start:start + batch_size].to(device)
            out = self(zb) if y is None else self(zb, y[start:start + batch_size].to(device))
            images.append(out.float().clamp_(-1, 1).cpu())
        return torch.cat(images)

    # ------------------------------------------------------------------ saving / loading
    def save_pretrained(self, save_directory, *, config: dict | None = None, **kwargs: Any):
        """Write ``config.json`` (init kwargs + ``generator_class``) and ``model.safetensors``."""
        full = {"generator_class": type(self).__name__, **getattr(self, "_hub_mixin_config", {}), **(config or {})}
        return super().save_pretrained(save_directory, config=full, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs: Any):
        """Rebuild a generator from a folder or Hub repo; on the base class the config picks the subclass."""
        kwargs.setdefault("strict", True)  # the mixin's default (False) would ignore missing or unexpected weights
        if cls is Generator:
            from .serialization import read_config

            config = read_config(pretrained_model_name_or_path, **{
                k: kwargs[k] for k in ("revision", "cache_dir", "token", "local_files_only") if k in kwargs})
            cls = generator_class(config.get("generator_class"))
        # explicit form: cls may have been replaced by the subclass named in config.json
        return super(Generator, cls).from_pretrained(pretrained_model_name_or_path, **kwargs)  # noqa: UP008


def generator_class(name: str | None) -> type[Generator]:
    """The registered generator class called ``name`` (families register theirs by subclassing Generator)."""
    from . import families  # noqa: F401  (importing the families fills GENERATOR_CLASSES)

    if name not in GENERATOR_CLASSES:
        raise InvalidArgumentError(
            f"config.json names generator_class={name!r}, which this zoo does not know: "
            f"upgrade gan-zoo or check the folder (known: {', '.join(sorted(GENERATOR_CLASSES))})")
    return GENERATOR_CLASSES[name]


def truncated_normal(shape: tuple[int, ...], bound: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal samples restricted to [-bound, bound] by resampling the entries that fall outside."""
    z = torch.randn(shape, generator=generator)
    outside = z.abs() > bound
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > bound
    return z
