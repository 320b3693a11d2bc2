"""InfoGAN networks: Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, "InfoGAN: Interpretable Representation
Learning by Information Maximizing Generative Adversarial Nets", NeurIPS 2016, arXiv:1606.03657.

The generator's input is noise plus latent codes: one categorical code c1 (uniform over ``categorical`` values,
one-hot) and ``continuous`` codes uniform on [-1, 1]. Its latent is a standard normal vector of size
noise_dim + categorical + continuous, like every zoo generator's, and the codes are exact functions of their
columns: c1 = argmax of the ``categorical`` columns (the argmax of i.i.d. normals is uniform over the categories)
and c_j = erf(z_j / sqrt 2) (= 2 Phi(z_j) - 1, uniform on [-1, 1]). So every sampler, metric and callback that
draws ``randn(n, latent_dim)`` draws InfoGAN's prior, and ``set_codes`` (``sample(codes=...)``) writes codes into
those columns. The continuous codes are confined to [-1, 1], the prior's support (the paper also shows values
outside it, which this latent cannot express).

D and Q share the DCGAN body; Q's head is linear -> BN -> LeakyReLU -> linear to the categorical logits and the
continuous codes' means (and log standard deviations, when learned).

Shipping Q: the exported weights folder holds Q as the model's encoder, an ``InfoGANCodeReader`` (D's body + Q's
head, D's own parameter names without D's score head; ``InfoGANDiscriminator.code_reader``), so that a loaded model
reads codes back with no training code: ``G.read_codes(x)`` or ``G.encode(x)`` = [categorical logits, continuous
means]. It is an ``Encoder`` because it maps images to vectors and travels by the same strict, sha256-checked files
(``encoder.safetensors`` + config.json's ``"encoder"``), but it reads the codes only, not the noise, so it does not
reconstruct (``Encoder.reconstructs`` is False and ``G.reconstruct`` refuses).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError, short_repr
from ..generator import Encoder, seeded_generator
from ..images import image_grid
from .dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan


class InfoGANGenerator(DCGANGenerator):
    """G(z): DCGAN generator of [noise, one-hot c1, c2..] with the codes read off z (see the module docstring)."""

    def __init__(self, noise_dim: int = 62, categorical: int = 10, continuous: int = 2, width: int = 64,
                 img_channels: int = 1, img_size: int = 28, dropout: float = 0.0):
        if noise_dim < 1 or categorical < 2 or continuous < 0:
            raise InvalidArgumentError(f"need noise_dim >= 1, categorical >= 2 and continuous >= 0, got noise_dim "
                                       f"{noise_dim}, categorical {categorical}, continuous {continuous}")
        super().__init__(noise_dim + categorical + continuous, width, img_channels, img_size, dropout=dropout)
        self.noise_dim, self.categorical, self.continuous = noise_dim, categorical, continuous

    def codes(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The codes ``z`` holds: (categorical index [B], continuous codes [B, continuous] in [-1, 1])."""
        n, k = self.noise_dim, self.categorical
        return z[:, n:n + k].argmax(1), torch.erf(z[:, n + k:] / math.sqrt(2))

    def structured(self, z: Tensor) -> Tensor:
        """The network's input [noise, one-hot c1, continuous codes]."""
        index, continuous = self.codes(z)
        one_hot = F.one_hot(index, self.categorical).to(z.dtype)
        return torch.cat([z[:, :self.noise_dim], one_hot, continuous], 1)

    def forward(self, z: Tensor) -> Tensor:
        return super().forward(self.structured(z))

    def set_codes(self, z: Tensor, codes: Any) -> Tensor:
        """A copy of ``z`` whose code columns hold ``codes``: a mapping with "categorical" (one index, or one per
        row) and/or "continuous" (``continuous`` values in [-1, 1] for every row, or a [n, continuous] array);
        a code not given keeps its random value."""
        if not isinstance(codes, Mapping) or not set(codes) <= {"categorical", "continuous"}:
            raise InvalidArgumentError(f"codes must be a dict with 'categorical' and/or 'continuous', got "
                                       f"{short_repr(codes)}")
        z, n = z.clone(), len(z)
        start = self.noise_dim + self.categorical
        if codes.get("categorical") is not None:
            index = self._categorical(codes["categorical"], n)
            z[:, self.noise_dim:start] = F.one_hot(index, self.categorical).to(z.dtype)
        if codes.get("continuous") is not None:
            values = self._continuous(codes["continuous"], n)
            z[:, start:] = math.sqrt(2) * torch.erfinv(values.to(z.dtype))  # +-1 -> +-inf, which erf maps back
        return z

    def _categorical(self, value: Any, n: int) -> Tensor:
        values = value.flatten().tolist() if isinstance(value, Tensor) else value
        if isinstance(values, numbers.Integral) and not isinstance(values, bool):
            values = [values] * n
        bad = (not isinstance(values, Sequence) or len(values) != n
               or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v < self.categorical
                      for v in values))
        if bad:
            raise InvalidArgumentError(f"codes['categorical'] must be one index in 0..{self.categorical - 1} or n={n} "
                                       f"of them, got {short_repr(value)}")
        return torch.tensor([int(v) for v in values], dtype=torch.long)

    def _continuous(self, value: Any, n: int) -> Tensor:
        try:
            values = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            values = None
        if values is not None and values.ndim == 1 and len(values) == self.continuous:
            values = values.expand(n, -1)
        if (values is None or tuple(values.shape) != (n, self.continuous) or not torch.isfinite(values).all()
                or values.abs().max() > 1):
            raise InvalidArgumentError(f"codes['continuous'] must be {self.continuous} values in [-1, 1] (or an "
                                       f"[n={n}, {self.continuous}] array of them), got {short_repr(value)}")
        return values

    # ------------------------------------------------------------------ reading the codes back
    def read_codes(self, x: Tensor, *, batch_size: int = 256) -> tuple[Tensor, Tensor]:
        """The shipped Q's reading of images ``[n, C, H, W]`` in ``[-1, 1]``: (categorical logits ``[n,
        categorical]``, continuous codes' means ``[n, continuous]``), float32 on the CPU."""
        if not isinstance(self.encoder, InfoGANCodeReader):
            raise InvalidArgumentError(f"this {type(self).__name__} ships no code reader (no encoder.safetensors "
                                       f"with an InfoGANCodeReader in its weights folder): export it again with "
                                       f"zoo.callbacks.ExportWeights")
        return self.encoder.split(self.encode(x, batch_size=batch_size))

    # ------------------------------------------------------------------ latent traversals
    @torch.inference_mode()
    def traversal(self, continuous: int = 0, steps: int = 9, *, seed: int = 0) -> Tensor:
        """Images [categorical * steps, C, H, W]: row k has c1 = k, column j sweeps continuous code
        ``continuous`` from -1 to 1 in ``steps`` values; the other continuous codes are 0 and one noise vector
        (from ``seed``) is shared by the whole grid, so only the codes change."""
        if not 0 <= continuous < self.continuous:
            raise InvalidArgumentError(f"continuous must index one of the {self.continuous} continuous codes "
                                       f"(0..{self.continuous - 1}), got {short_repr(continuous)}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise InvalidArgumentError(f"steps must be an integer >= 2, got {short_repr(steps)}")
        k = self.categorical
        z = torch.randn(1, self.latent_dim, generator=seeded_generator(seed)).repeat(k * steps, 1)
        values = torch.zeros(k * steps, self.continuous, dtype=torch.float64)
        values[:, continuous] = torch.linspace(-1, 1, steps, dtype=torch.float64).repeat(k)
        z = self.set_codes(z, {"categorical": [i // steps for i in range(k * steps)], "continuous": values})
        device = next(self.parameters()).device
        return self(z.to(device)).float().clamp_(-1, 1).cpu()

    def traversal_grid(self, continuous: int = 0, steps: int = 9, *, seed: int = 0) -> Tensor:
        """``traversal`` as one [C, H, W] image in [0, 1]: categorical rows x continuous sweeps."""
        return image_grid(self.traversal(continuous, steps, seed=seed), nrow=steps)

    def save_traversal_grids(self, folder: str | os.PathLike, steps: int = 9, *, seed: int = 0) -> list[Path]:
        """Write ``traversal_c<j>.png`` (j = 1.. for each continuous code) into ``folder``; their paths."""
        from torchvision.utils import save_image

        from ..serialization import atomic_write

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for j in range(self.continuous):
            grid = self.traversal_grid(j, steps, seed=seed)
            path = folder / f"traversal_c{j + 1}.png"
            atomic_write(path, lambda tmp, g=grid: save_image(g, tmp, format="png"))
            paths.append(path)
        return paths


class InfoGANDiscriminator(nn.Module):
    """DCGAN body -> D's score; the same features -> Q's head (categorical logits, continuous means and, with
    ``learn_std``, log standard deviations)."""

    def __init__(self, categorical: int = 10, continuous: int = 2, width: int = 64, img_channels: int = 1,
                 img_size: int = 28, q_hidden: int = 128, learn_std: bool = False):
        super().__init__()
        body = DCGANDiscriminator(width, img_channels, img_size)
        self.features, self.head = body.features, body.head
        self.categorical, self.continuous, self.learn_std = categorical, continuous, learn_std
        self.config = dict(categorical=categorical, continuous=continuous, width=width, img_channels=img_channels,
                           img_size=img_size, q_hidden=q_hidden, learn_std=learn_std)
        self.q = q_head(body.head.in_features, q_hidden, categorical + continuous * (2 if learn_std else 1))

    def forward(self, x: Tensor, y: Tensor | None = None, q: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """D's scores [B]; with ``q=True`` (scores, Q's raw outputs) from one pass (through the DDP wrapper, so
        both heads' gradients are synchronised)."""
        h = self.features(x)
        scores = self.head(h).squeeze(1)
        return (scores, self.q(h)) if q else scores

    def split_q(self, q: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Q's raw outputs -> (categorical logits, continuous means, log standard deviations or None)."""
        k, c = self.categorical, self.continuous
        return q[:, :k], q[:, k:k + c], (q[:, k + c:] if self.learn_std else None)

    def read_codes(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Q's reading of images: (categorical logits [B, categorical], continuous means [B, continuous])."""
        logits, mean, _ = self.split_q(self.q(self.features(x)))
        return logits, mean

    def code_reader(self) -> InfoGANCodeReader:
        """Q as a standalone network (the body and Q's head, without D's score head) with a copy of these weights,
        on this D's device and dtype, in eval mode: what the exported folder ships as the model's encoder."""
        with torch.random.fork_rng(devices=[]):  # its initial weights are overwritten: leave the global RNG alone
            reader = InfoGANCodeReader(**self.config)
        parameter = next(self.parameters())
        reader.to(device=parameter.device, dtype=parameter.dtype)
        reader.load_state_dict({k: v for k, v in self.state_dict().items() if not k.startswith("head.")})
        return reader.eval()


def q_head(in_features: int, q_hidden: int, outputs: int) -> nn.Sequential:
    """Q's head on D's features: linear -> BN -> LeakyReLU(0.2) -> linear to ``outputs``."""
    head = nn.Sequential(nn.Linear(in_features, q_hidden, bias=False), nn.BatchNorm1d(q_hidden),
                         nn.LeakyReLU(0.2, inplace=True), nn.Linear(q_hidden, outputs))
    init_dcgan(head)
    return head


class InfoGANCodeReader(Encoder):
    """Q alone: images ``[B, C, H, W]`` in [-1, 1] -> [categorical logits, continuous means] ``[B, categorical +
    continuous]`` (the learned log standard deviations, with ``learn_std``, are kept in the weights but not
    returned). Its parameters are D's ``features.*`` and ``q.*``; it estimates the codes only (see the module
    docstring), so ``reconstructs`` is False."""

    reconstructs = False

    def __init__(self, categorical: int = 10, continuous: int = 2, width: int = 64, img_channels: int = 1,
                 img_size: int = 28, q_hidden: int = 128, learn_std: bool = False):
        super().__init__()
        body = DCGANDiscriminator(width, img_channels, img_size)
        self.features = body.features
        self.q = q_head(body.head.in_features, q_hidden, categorical + continuous * (2 if learn_std else 1))
        self.categorical, self.continuous = categorical, continuous
        self.latent_dim = categorical + continuous

    def forward(self, x: Tensor) -> Tensor:
        return self.q(self.features(x))[:, :self.latent_dim]

    def split(self, codes: Tensor) -> tuple[Tensor, Tensor]:
        """``forward``'s output -> (categorical logits, continuous means)."""
        return codes[:, :self.categorical], codes[:, self.categorical:self.latent_dim]
