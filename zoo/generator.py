"""The base class of every zoo generator: a plain ``nn.Module`` that samples, saves and loads.

A generator's ``__init__`` keyword arguments are its config (the Hugging Face ``PyTorchModelHubMixin`` convention):
``save_pretrained(folder)`` writes ``config.json`` + ``model.safetensors`` and ``from_pretrained(folder_or_repo)``
rebuilds it. ``config.json`` also names the generator class (``generator_class``), so ``Generator.from_pretrained``
and ``zoo.load(folder)`` can rebuild any zoo generator without knowing its family in advance.

Output convention for every generator: float images ``[n, C, H, W]`` in ``[-1, 1]``.

Encoder families (BiGAN/ALI, VAEGAN, the mode-regularized GAN) ship an ``Encoder`` beside the generator (and
InfoGAN its code reader, Q on D's body, whose output is the codes' estimates rather than a whole latent): its config
under ``config.json``'s ``"encoder"`` key, its weights in ``encoder.safetensors``, read by the same strict reader
(``zoo.serialization.load_folder``) and attached to the loaded generator, so that ``G.encode(x)`` and
``G.reconstruct(x)`` work on the model ``zoo.load`` returns. The encoder is kept outside the generator's module tree
(``G.state_dict()`` is the generator's alone, as ``model.safetensors`` holds it) but follows it through ``.to()``,
``.float()``, ``.eval()`` and the like.
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .errors import InvalidArgumentError, short_repr

GENERATOR_CLASSES: dict[str, type[Generator]] = {}
ENCODER_CLASSES: dict[str, type[Encoder]] = {}


def _register(registry: dict[str, type], cls: type, kind: str) -> None:
    known = registry.get(cls.__name__)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        # config.json names the class by its name alone, so two classes with one name would load each other
        raise ValueError(f"{kind} class name {cls.__name__!r} is taken by {known.__module__}.{known.__qualname__}: "
                         f"choose another name")
    registry[cls.__name__] = cls


class Encoder(nn.Module):
    """Base of the encoders a model ships beside its generator: images ``[n, C, H, W]`` in ``[-1, 1]`` to latents
    ``[n, latent_dim]``. Subclasses set ``latent_dim`` and implement ``forward(x)``; a Gaussian (stochastic) encoder
    returns its posterior mean there and ``(mean, log-variance)`` from ``posterior(x)``.

    As for generators, the ``__init__`` keyword arguments are the config (``encoder_config``, captured here), and
    the class registers itself by name so that ``config.json`` can name it.
    """

    latent_dim: int
    #: whether the output is a whole latent of the generator, so that G(E(x)) reconstructs x; InfoGAN's code reader
    #: (``zoo.nets.infogan.InfoGANCodeReader``) estimates the latent codes only, not the noise
    reconstructs: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(ENCODER_CLASSES, cls, "encoder")

    def __new__(cls, *args: Any, **kwargs: Any) -> Encoder:
        instance = super().__new__(cls)
        # bind_partial: copy.deepcopy calls __new__ without arguments (and then restores the copied __dict__)
        bound = inspect.signature(cls.__init__).bind_partial(None, *args, **kwargs)
        bound.apply_defaults()
        object.__setattr__(instance, "encoder_config",
                           {k: v for k, v in list(bound.arguments.items())[1:] if k not in ("args", "kwargs")})
        return instance

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of q(z | x); a deterministic encoder has no variance to give."""
        raise InvalidArgumentError(f"{type(self).__name__} is a deterministic encoder: it has no posterior variance")


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

    #: Truncation rule used by ``sample_latent``: "threshold" resamples entries with |z| > t (StudioGAN's BigGAN);
    #: "scale" draws t * truncnorm(-2, 2) (BigGAN-deep); None (the default) refuses truncation, so that it is
    #: offered only by the families whose paper uses the truncation trick.
    truncation_rule: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(GENERATOR_CLASSES, cls, "generator")

    # ------------------------------------------------------------------ the encoder shipped beside it, if any
    @property
    def encoder(self) -> Encoder | None:
        """The encoder loaded with this generator (``encoder.safetensors``), or None."""
        return self.__dict__.get("_zoo_encoder")

    def attach_encoder(self, encoder: Encoder | None) -> Generator:
        """Ship ``encoder`` with this generator (outside its module tree: ``state_dict`` stays the generator's)."""
        if encoder is not None and not isinstance(encoder, Encoder):
            raise InvalidArgumentError(f"an encoder must be a zoo.generator.Encoder, got {type(encoder).__name__}")
        self.__dict__["_zoo_encoder"] = encoder
        return self

    def _apply(self, fn, recurse: bool = True):  # .to(), .float(), .cuda(), channels-last: the encoder follows
        super()._apply(fn, recurse)
        if self.encoder is not None:
            self.encoder._apply(fn, recurse)
        return self

    def train(self, mode: bool = True) -> Generator:
        super().train(mode)
        if self.encoder is not None:
            self.encoder.train(mode)
        return self

    def _require_encoder(self) -> Encoder:
        if self.encoder is None:
            raise InvalidArgumentError(
                f"this {type(self).__name__} ships no encoder (no encoder.safetensors in its weights folder): "
                f"encode() needs a model of a family that ships one (bigan, vaegan, modereg; infogan's Q gives its "
                f"codes), reconstruct() one of the first three")
        return self.encoder

    def _check_images(self, x: Any) -> torch.Tensor:
        shape = (self.img_channels, self.img_size, self.img_size)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != shape or not (
                x.is_floating_point() and x.shape[0] > 0):
            got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else short_repr(x)
            raise InvalidArgumentError(f"images must be a float tensor [n, {shape[0]}, {shape[1]}, {shape[2]}] in "
                                       f"[-1, 1] with n >= 1, got {got}")
        return x

    @torch.inference_mode()
    def encode(self, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """Latents ``[n, latent_dim]`` (float32, on the CPU) of images ``[n, C, H, W]`` in ``[-1, 1]``: the shipped
        encoder's output, its posterior mean for a Gaussian encoder. Run in chunks of ``batch_size``."""
        encoder = self._require_encoder()
        x = self._check_images(x)
        device = next(encoder.parameters()).device
        return torch.cat([encoder(x[i:i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(x), batch_size)])

    @torch.inference_mode()
    def reconstruct(self, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """``G(E(x))``: images ``[n, C, H, W]`` in ``[-1, 1]`` (float32, on the CPU) decoded from their latents.
        Unconditional models only (an encoder infers no label)."""
        if self.num_classes:
            raise InvalidArgumentError(f"{type(self).__name__} is conditional: reconstruct() decodes latents alone")
        if not self._require_encoder().reconstructs:
            raise InvalidArgumentError(f"this {type(self).__name__}'s {type(self.encoder).__name__} estimates its "
                                       f"latent codes, not the whole latent: there is no G(E(x)) to reconstruct "
                                       f"(encode() gives the codes' estimates)")
        z = self.encode(x, batch_size=batch_size)
        device = next(self.parameters()).device
        return torch.cat([self(z[i:i + batch_size].to(device)).float().clamp_(-1, 1).cpu()
                          for i in range(0, len(z), batch_size)])

    # ------------------------------------------------------------------ sampling
    def sample_latent(
        self, n: int, *, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> torch.Tensor:
        """Draw ``n`` latents on the CPU (so a seed gives the same latents on every device)."""
        if truncation is None:
            return torch.randn(n, self.latent_dim, generator=generator)
        if self.truncation_rule is None:
            raise InvalidArgumentError(f"{type(self).__name__} has no truncation rule: sample it without truncation "
                                       f"(--truncation on the command line)")
        truncation = parse_truncation(truncation)
        if self.truncation_rule == "scale":
            return truncation * truncated_normal((n, self.latent_dim), 2.0, generator)
        return truncated_normal((n, self.latent_dim), truncation, generator)

    def set_codes(self, z: torch.Tensor, codes: Any) -> torch.Tensor:
        """``z`` with its latent codes set to ``codes``; a generator with codes (InfoGAN) overrides this."""
        raise InvalidArgumentError(f"{type(self).__name__} has no latent codes: sample it without codes")

    def resolve_labels(self, labels: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Turn ``labels`` (int, class name, sequence or tensor; None = uniform) into ``n`` class indices."""
        if not self.num_classes:
            if labels is not None:
                raise InvalidArgumentError(
                    f"{type(self).__name__} is unconditional: sample it without labels (--labels on the command line)")
            return None
        if labels is None:
            return torch.randint(self.num_classes, (n,), generator=generator)
        if isinstance(labels, (numbers.Number, str)):
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
                f"known names: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}" if names else
                f"this model has no class names: use 0..{self.num_classes - 1}")
            raise InvalidArgumentError(f"unknown class name {short_repr(label)}: {hint}")
        if isinstance(label, float) and label.is_integer():
            label = int(label)
        try:
            if isinstance(label, bool):
                raise TypeError
            index = operator.index(label)  # ints, numpy ints, 0-d integer tensors
        except TypeError:
            raise InvalidArgumentError(f"label {short_repr(label)} is not a class index or name: use "
                                       f"0..{self.num_classes - 1} or a class name") from None
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
        dtype: torch.dtype | None = None,
        codes: Any = None,
    ) -> torch.Tensor:
        """Generate ``n`` images ``[n, C, H, W]`` in ``[-1, 1]``; the same seed gives the same images.

        ``codes`` sets latent codes explicitly where the generator has them (InfoGAN: ``{"categorical": 3,
        "continuous": [0.5, -1.0]}``, see its ``set_codes``); the rest of the latent is drawn from ``seed``.

        ``batch_size`` bounds the memory (``n`` is generated in chunks; ``progress`` shows a bar over them).
        ``dtype=torch.bfloat16`` runs the network under bf16 autocast, on a GPU or a CPU with native bf16 (AMX or
        AVX512-BF16; elsewhere bf16 is emulated and many times slower, so it is refused): faster, not identical
        (``benchmarks/SPEED.md`` reports its PSNR against float32). The images are float32 either way.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise InvalidArgumentError(f"n must be a positive integer, got {short_repr(n)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise InvalidArgumentError(f"batch_size must be a positive integer, got {short_repr(batch_size)}")
        device = next(self.parameters()).device
        autocast = sampling_autocast(dtype, device)
        check_sample_memory(self, n)
        generator = seeded_generator(seed) if seed is not None else None
        y = self.resolve_labels(labels, n, generator)
        z = self.sample_latent(n, generator=generator, truncation=truncation)
        if codes is not None:
            z = self.set_codes(z, codes)
        chunks = range(0, n, batch_size)
        if progress and len(chunks) > 1:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc="sampling", unit="batch")
        images = []
        for start in chunks:
            zb = z[start:start + batch_size].to(device)
            with autocast:
                out = self(zb) if y is None else self(zb, y[start:start + batch_size].to(device))
            images.append(out.float().clamp_(-1, 1).cpu().contiguous())  # channels_last nets give strided images
        return torch.cat(images)

    def optimize_for_inference(self, *, channels_last: bool = True) -> Generator:
        """Eval mode, plus what makes sampling faster on a CPU; returns ``self`` (``zoo.load`` calls it).

        channels_last: store conv weights channels-last (oneDNN's native layout on CPUs). Default: yes: in
            ``benchmarks/SPEED.md`` it sped up the sampling of every convolutional model, 1.1x to 2.3x (no effect on
            MLPs).
        ``torch.compile`` is not offered: on top of channels-last it sampled dcgan-fmnist only 1.06x faster and
        slowed the training step (``benchmarks/SPEED.md``); ``G.compile()`` remains one call away.
        The eval-mode shortcuts of ``zoo.layers`` (cached spectral norm, folded BatchNorm) apply without asking.
        """
        self.eval()
        if channels_last:
            self.to(memory_format=torch.channels_last)
        return self

    # ------------------------------------------------------------------ latent interpolation
    @staticmethod
    def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
        """``steps`` latents from ``z0`` to ``z1`` (both ends included), ``[steps, latent_dim]``.

        "slerp" follows the great circle (White 2016, "Sampling Generative Networks"): a Gaussian latent's norm
        concentrates near sqrt(d), and the straight line ("lerp") between two of them passes through shorter,
        atypical latents.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise InvalidArgumentError(f"steps must be an integer >= 2 (both ends included), got {steps!r}")
        if method not in ("slerp", "lerp"):
            raise InvalidArgumentError(f"method must be 'slerp' or 'lerp', got {method!r}")
        z0, z1 = z0.reshape(-1).double(), z1.reshape(-1).double()
        t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
        omega = torch.arccos((z0 / z0.norm()).dot(z1 / z1.norm()).clamp(-1, 1))
        if method == "lerp" or omega.sin().abs() < 1e-6:  # (anti)parallel: the circle is not defined
            out = (1 - t) * z0 + t * z1
        else:
            out = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / omega.sin()
        return out.float()

    @torch.inference_mode()
    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, *, method: str = "slerp",
                    labels: Any = None) -> torch.Tensor:
        """Images ``[steps, C, H, W]`` along the interpolation from ``z0`` to ``z1`` (one label for all, if any)."""
        z = self.interpolate_latents(z0, z1, steps, method)
        if isinstance(labels, Sequence) and not isinstance(labels, str):
            labels = labels[0] if labels else None
        if labels is None and self.num_classes:  # one class along the whole path
            labels = int(torch.randint(self.num_classes, (1,), generator=torch.Generator().manual_seed(0)))
        y = self.resolve_labels(labels, steps)
        device = next(self.parameters()).device
        out = self(z.to(device)) if y is None else self(z.to(device), y.to(device))
        return out.float().clamp_(-1, 1).cpu()

    def interpolate_seeded(self, steps: int, *, seed: int = 0, labels: Any = None,
                           truncation: float | None = None) -> torch.Tensor:
        """``interpolate`` between two latents drawn from ``seed`` (with ``truncation``, if given)."""
        z0, z1 = self.sample_latent(2, generator=torch.Generator().manual_seed(int(seed)), truncation=truncation)
        return self.interpolate(z0, z1, steps, labels=labels)

    # ------------------------------------------------------------------ the Hub mixin's hooks
    # The mixin's public save_pretrained / from_pretrained stay as they are; these hooks route both through
    # zoo.serialization, so a folder or repo is written and read by the same strict code as every other load.
    def _save_pretrained(self, save_directory: Path) -> None:
        """Write ``config.json`` (init kwargs + ``generator_class``) and ``model.safetensors``."""
        from .serialization import save_weights

        save_weights(save_directory, self)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None, map_location: str = "cpu",
                         **unused: Any) -> Generator:
        """Load a folder or Hub repo with ``load_folder`` (config, safetensors, recorded sha256, strict keys).

        On the base class the config picks the subclass; on a subclass the folder must hold that class.
        """
        from .serialization import load_folder, load_hub_repo

        if Path(model_id).is_dir():
            generator = load_folder(model_id, device=map_location)
        else:
            generator = load_hub_repo(model_id, revision or "main", device=map_location)
        if not isinstance(generator, cls):
            raise InvalidArgumentError(f"{model_id} holds a {type(generator).__name__}, not a {cls.__name__}: "
                                       f"load it with Generator.from_pretrained or zoo.load")
        return generator


def generator_class(name: str | None) -> type[Generator]:
    """The registered generator class called ``name`` (every net in ``zoo.nets`` registers by subclassing)."""
    from . import nets  # noqa: F401  (importing the nets fills GENERATOR_CLASSES)

    if name not in GENERATOR_CLASSES:
        raise InvalidArgumentError(
            f"config.json names generator_class={name!r}, which this zoo does not know: "
            f"upgrade gan-zoo or check the folder (known: {', '.join(sorted(GENERATOR_CLASSES))})")
    return GENERATOR_CLASSES[name]


def encoder_class(name: str | None) -> type[Encoder]:
    """The registered encoder class called ``name`` (as ``generator_class`` for generators)."""
    from . import nets  # noqa: F401  (importing the nets fills ENCODER_CLASSES)

    if name not in ENCODER_CLASSES:
        raise InvalidArgumentError(
            f"config.json names encoder_class={short_repr(name)}, which this zoo does not know: "
            f"upgrade gan-zoo or check the folder (known: {', '.join(sorted(ENCODER_CLASSES))})")
    return ENCODER_CLASSES[name]


def truncated_normal(shape: tuple[int, ...], bound: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal samples restricted to [-bound, bound] by resampling the entries that fall outside.

    After 100 rounds (reached only for tiny bounds, where resampling would take nearly forever) the entries still
    outside are drawn from the truncated distribution directly, by its inverse CDF.
    """
    z = torch.randn(shape, generator=generator)
    outside = z.abs() > bound
    for _ in range(100):
        if not outside.any():
            return z
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > bound
    if outside.any():
        edge = math.erf(bound / math.sqrt(2))
        u = (torch.rand(int(outside.sum()), generator=generator, dtype=torch.float64) * 2 - 1) * edge
        fill = (math.sqrt(2) * torch.erfinv(u)).clamp_(-bound, bound).to(z.dtype)
        z[outside] = torch.where(fill.double().abs() > bound, 0, fill)  # rounding to float32 may cross the bound
    return z


def parse_truncation(value: Any) -> float:
    """A truncation value as a float; anything but a finite number > 0 is a one-line error."""
    try:
        truncation = float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        raise InvalidArgumentError(f"truncation must be a number > 0 (or None for no truncation), got "
                                   f"{short_repr(value)}") from None
    if not (truncation > 0 and math.isfinite(truncation)):
        raise InvalidArgumentError(f"truncation must be > 0 and finite (or None for no truncation), got {truncation}")
    return truncation


def seeded_generator(seed: Any) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (an integer)."""
    try:
        if isinstance(seed, bool) or isinstance(seed, float) and not seed.is_integer():
            raise TypeError
        return torch.Generator().manual_seed(int(seed))
    except (TypeError, ValueError, OverflowError, RuntimeError):
        raise InvalidArgumentError(f"seed must be an integer (0 <= seed < 2**64), got {short_repr(seed)}") from None


def sampling_autocast(dtype: torch.dtype | None, device: torch.device):
    """The autocast context for ``sample(dtype=...)``: none for float32, bf16 where the hardware has it."""
    import contextlib

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    if dtype != torch.bfloat16:
        raise InvalidArgumentError(f"dtype must be torch.float32 or torch.bfloat16, got {short_repr(dtype)}")
    if device.type == "cpu":
        from .machine import cpu_model, native_bf16

        if native_bf16() is None:
            raise InvalidArgumentError(f"bf16 sampling needs native bf16 (AMX or AVX512-BF16), which this CPU "
                                       f"({cpu_model()}) lacks: it would run emulated and slower; sample in float32")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def check_sample_memory(model: nn.Module, n: int) -> None:
    """Refuse up front a ``sample(n)`` whose float32 output alone (n*C*H*W*4 bytes) would not fit in memory."""
    from .machine import available_memory

    shape = [getattr(model, name, None) for name in ("img_channels", "img_size", "img_size")]
    available = available_memory()
    if available is None or not all(isinstance(d, int) for d in shape):
        return
    need = n * math.prod(shape) * 4
    if need > available:
        raise InvalidArgumentError(
            f"n={n:,} images of {shape[0]}x{shape[1]}x{shape[2]} need {need / 2**30:,.1f} GiB as float32 but "
            f"{available / 2**30:,.1f} GiB of memory is available: sample fewer at a time (several calls with "
            f"seeds, or a smaller n)")
