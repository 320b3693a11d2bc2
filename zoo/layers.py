"""Layers shared by the networks (``zoo.nets``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm

_INFERENCE_SHORTCUTS = [True]


@contextlib.contextmanager
def inference_shortcuts(enabled: bool) -> Iterator[None]:
    """Switch the eval-mode shortcuts (the cached W / sigma of ``CachedSpectralNorm``, BatchNorm folded into one
    scale-and-shift by ``scale_shift``) on or off inside the block; benchmarks and tests compare both ways."""
    previous, _INFERENCE_SHORTCUTS[0] = _INFERENCE_SHORTCUTS[0], bool(enabled)
    try:
        yield
    finally:
        _INFERENCE_SHORTCUTS[0] = previous


@contextlib.contextmanager
def running_stats_frozen(module: nn.Module) -> Iterator[None]:
    """Inside the block, ``module``'s BatchNorm layers in training mode normalise by the batch as usual but leave
    their running statistics and batch count as they were. For a generator fed something other than its prior's
    latents (an encoder's codes): the running statistics, which sampling in eval mode uses, describe G(z) alone."""
    norms = [m for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.training]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (momentum, count) in zip(norms, saved):
                m.momentum = momentum
                m.num_batches_tracked.copy_(count)


def shortcuts_apply(module: nn.Module) -> bool:
    """True when ``module`` may take an inference shortcut: eval mode, no autograd, shortcuts switched on."""
    return not module.training and not torch.is_grad_enabled() and _INFERENCE_SHORTCUTS[0]


class CachedSpectralNorm(_SpectralNorm):
    """torch's spectral-norm parametrization, plus a cache of W / sigma for inference.

    In eval mode without autograd (``torch.inference_mode`` / ``no_grad``), sigma = u . (W v) comes from the stored
    u, v and W only, so the normalised weight is the same on every forward: it is computed once and reused until W,
    u or v change. Any in-place change (``load_state_dict``, an EMA update, an optimizer step) bumps the tensors'
    version counters, and a move to another device or dtype changes their storage, so either makes the next
    forward recompute it; ``train()`` bypasses the cache (training runs the power iteration on every forward).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._inference_cache: tuple[tuple, torch.Tensor] | None = None

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not shortcuts_apply(self) or weight.ndim == 1:
            if self._inference_cache is not None:  # (a module's __setattr__ is slow: not on every training step)
                self._inference_cache = None
            return super().forward(weight)
        key = tuple((t._version, t.data_ptr(), t.dtype, t.device) for t in (weight, self._u, self._v))
        if self._inference_cache is None or self._inference_cache[0] != key:
            self._inference_cache = (key, super().forward(weight))
        return self._inference_cache[1]


def sn(module: nn.Module, enabled: bool = True, eps: float = 1e-12) -> nn.Module:
    """Wrap a conv/linear/embedding in spectral normalisation (Miyato et al. 2018, arXiv:1802.05957).

    W_SN = W / sigma(W), sigma estimated by one power iteration per training forward (none in eval mode, where
    W_SN is cached: ``CachedSpectralNorm``). The state dict is torch's ``spectral_norm``'s (``parametrizations.
    weight.original``, ``..._u``, ``..._v``); transposed convolutions normalise along dim 1, as torch's does.
    """
    if not enabled:
        return module
    dim = 1 if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, "weight", CachedSpectralNorm(module.weight, 1, dim, eps))
    return module


def sn_conv2d(*args, enabled: bool = True, **kwargs) -> nn.Module:
    return sn(nn.Conv2d(*args, **kwargs), enabled)


def sn_linear(*args, enabled: bool = True, **kwargs) -> nn.Module:
    return sn(nn.Linear(*args, **kwargs), enabled)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose affine gain and bias are predicted from a condition vector (de Vries et al. 2017).

    y = BN(x) * (1 + gain(c)) + bias(c), where BN has no affine parameters of its own and ``c`` is either a
    class index (``num_classes`` > 0: one embedding per class) or a dense vector of size ``cond_dim`` (BigGAN's
    shared class embedding concatenated with a latent chunk), mapped by (optionally spectrally normalised) linears.
    The gain is parametrised as 1 + gain so that a zero-initialised layer starts as plain BatchNorm.
    """

    def __init__(self, num_features: int, *, num_classes: int = 0, cond_dim: int = 0, eps: float = 1e-5,
                 momentum: float = 0.1, spectral: bool = False):
        super().__init__()
        if bool(num_classes) == bool(cond_dim):
            raise ValueError("ConditionalBatchNorm2d needs exactly one of num_classes or cond_dim")
        self.bn = nn.BatchNorm2d(num_features, affine=False, eps=eps, momentum=momentum)
        if num_classes:
            self.gain = nn.Embedding(num_classes, num_features)
            self.bias = nn.Embedding(num_classes, num_features)
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
        else:
            self.gain = sn_linear(cond_dim, num_features, bias=False, enabled=spectral)
            self.bias = sn_linear(cond_dim, num_features, bias=False, enabled=spectral)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(cond)
        bias = self.bias(cond)
        if not shortcuts_apply(self) or self.bn.running_var is None:
            return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]
        return scale_shift(x, self.bn.running_mean, self.bn.running_var, self.bn.eps, gain, bias)


def scale_shift(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float, gain: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
    """Inference-time conditional BN, ``(x - mean) / sqrt(var + eps) * gain + bias`` with per-sample ``gain``,
    ``bias`` [B, C], in one pass over ``x``: the normalisation is folded into the per-sample scale and shift."""
    scale = gain * torch.rsqrt(var + eps)
    shift = bias - mean * scale
    return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])



class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498, section 3.2.

    f [N, A] -> M = f T [N, B, C] with T in R^{A x B x C}; c_b(i, j) = exp(-||M_{i,b} - M_{j,b}||_1) (L1 over the
    C kernel dimensions); o(x_i)_b = sum_{j != i} c_b(i, j); returns [f, o] of size A + B. A batch of near-copies
    gets large o, so D can see a collapsed generator. (FAMILIES.md H.4: the difference, the L1 axis, leaving out
    i = j and the concatenation are the paper's, not the often-copied snippet's.)
    """

    def __init__(self, in_features: int, num_kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(-1, self.num_kernels, self.kernel_dim)  # [N, B, C]
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # [N, N, B]
        o = torch.exp(-l1).sum(dim=1) - 1  # minus c_b(i, i) = exp(0) = 1
        return torch.cat([f, o], dim=1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I): a draw from N(mu, diag(exp(logvar))) that is differentiable
    in mu and logvar (Kingma & Welling 2014's reparameterisation; ALI's and VAEGAN's Gaussian encoders)."""
    return mu + (0.5 * logvar).exp() * torch.randn_like(mu)


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation: Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498,
    section 3.4.

    The input's first ``reference_size`` rows are the reference batch R: fixed inputs, chosen once before training
    and run through the network beside every batch. R is normalised with its own statistics; every other example x
    with those of R and x together, per channel (means over the rows and positions, N = ``reference_size``):

        mu = (N mu_R + mu_x) / (N + 1),   s = (N mean_R(x^2) + mean_x(x^2)) / (N + 1),   var = s - mu^2
        y = gain (x - mu) / sqrt(var + eps) + bias

    So an example's output never depends on the other examples of its batch (BatchNorm's intra-batch correlation,
    FAMILIES.md C.6), and training and inference compute the same thing: there are no running statistics. The cost
    is R's forward pass on every call. Input [N + B, C, *]; output of the same shape, R's rows included.
    """

    def __init__(self, num_features: int, reference_size: int, eps: float = 1e-5):
        super().__init__()
        if reference_size < 1:
            raise ValueError(f"VirtualBatchNorm needs a reference batch of at least 1 example, got {reference_size}")
        self.reference_size, self.eps = reference_size, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.reference_size
        if x.shape[0] < n:
            raise ValueError(f"VirtualBatchNorm expects the {n} reference rows first, got a batch of {x.shape[0]}")
        positions = tuple(range(2, x.ndim))
        ref, rest = x[:n], x[n:]
        ref_mean = ref.mean(dim=(0, *positions), keepdim=True)[0]  # [C, 1, ...]
        ref_sq = ref.pow(2).mean(dim=(0, *positions), keepdim=True)[0]
        mean = (n * ref_mean + rest.mean(dim=positions, keepdim=True)) / (n + 1)  # [B, C, 1, ...]
        sq = (n * ref_sq + rest.pow(2).mean(dim=positions, keepdim=True)) / (n + 1)
        shape = (-1,) + (1,) * len(positions)
        gain, bias = self.weight.view(shape), self.bias.view(shape)

        def normalise(v: torch.Tensor, m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            return (v - m) * torch.rsqrt((s - m.pow(2)).clamp_min(0) + self.eps) * gain + bias

        return torch.cat([normalise(ref, ref_mean, ref_sq), normalise(rest, mean, sq)])
