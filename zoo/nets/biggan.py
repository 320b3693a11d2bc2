"""BigGAN networks: Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", ICLR 2019, arXiv:1809.11096.

Generator: a linear layer maps the first chunk of z to a 4x4 feature map; each residual up-block is modulated by
conditional BatchNorm whose gain (used as 1 + gain) and bias are linear in [shared class embedding, next z chunk]
(the hierarchical latent split); self-attention (Zhang et al. 2019, SAGAN) at one resolution; BN, ReLU, 3x3 conv,
tanh. Discriminator: residual down-blocks, self-attention, ReLU + global sum pooling, a linear score plus the
projection term <embed(y), h> (Miyato & Koyama 2018). Spectral norm in every G and D layer except G's shared embedding.

Widths are ``width * channel_multipliers``: the defaults per resolution are the paper's (128: 16,16,8,4,2,1;
256: 16,16,8,8,4,2,1; 512: 16,16,8,8,4,2,1,1) and a 3-block 4,4,4,4 net for 32x32. ``zoo.convert`` loads
StudioGAN's ImageNet-128 G_ema into this module exactly.

Spectral norm is torch's parametrization (``zoo.layers.sn``): in eval mode it divides by sigma = u . (W_mat v) with
the *stored* u and v and runs no power iteration, which is what StudioGAN's checkpoints need for exact outputs
(their legacy-hook buffers ``weight_u``/``weight_v`` map onto the parametrization's ``_u``/``_v``). In train mode it
runs one power iteration per forward (updating u before v, where the legacy hook updates v first: fine-tuning a
converted model starts from a slightly different sigma estimate, sampling in eval mode is unaffected).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from ..generator import Generator
from ..layers import ConditionalBatchNorm2d, shortcuts_apply, sn

DEFAULT_MULTIPLIERS = {
    32: (4, 4, 4, 4),
    64: (16, 16, 8, 4, 2),
    128: (16, 16, 8, 4, 2, 1),
    256: (16, 16, 8, 8, 4, 2, 1),
    512: (16, 16, 8, 8, 4, 2, 1, 1),
}


def multipliers_for(img_size: int, channel_multipliers: Sequence[int] | None) -> list[int]:
    """Channel multipliers from 4x4 to ``img_size`` (one more entry than up-blocks)."""
    if channel_multipliers is None:
        if img_size not in DEFAULT_MULTIPLIERS:
            raise InvalidArgumentError(
                f"img_size {img_size} has no default widths: use one of {sorted(DEFAULT_MULTIPLIERS)} or pass "
                f"channel_multipliers")
        channel_multipliers = DEFAULT_MULTIPLIERS[img_size]
    mults = [int(m) for m in channel_multipliers]
    if 4 * 2 ** (len(mults) - 1) != img_size:
        raise InvalidArgumentError(
            f"channel_multipliers has {len(mults)} entries, so the net ends at {4 * 2 ** (len(mults) - 1)}px, "
            f"not img_size={img_size}: give log2(img_size/4) + 1 entries")
    return mults


def sn_conv(c_in: int, c_out: int, kernel: int, *, bias: bool = True, eps: float = 1e-6,
            spectral: bool = True) -> nn.Module:
    return sn(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=bias), spectral, eps=eps)


def sn_dense(d_in: int, d_out: int, *, bias: bool = True, eps: float = 1e-6, spectral: bool = True) -> nn.Module:
    return sn(nn.Linear(d_in, d_out, bias=bias), spectral, eps=eps)


@torch.no_grad()
def orthogonal_init(module: nn.Module, power_iterations: int = 15) -> nn.Module:
    """The paper's init: orthogonal conv/linear/embedding weights, zero biases; then refresh the spectral-norm
    vectors u, v for the new weights (each read of a parametrized weight in train mode runs one power iteration).

    Used when a family builds networks to train; converted checkpoints skip it (it is slow at ImageNet widths).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            parametrized = hasattr(m, "parametrizations") and "weight" in m.parametrizations
            nn.init.orthogonal_(m.parametrizations.weight.original if parametrized else m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
            if parametrized:
                was_training = m.training
                m.train()
                for _ in range(power_iterations):
                    _ = m.weight
                m.train(was_training)
    return module


class SelfAttention(nn.Module):
    """SAGAN attention: x + gamma * out(g . softmax(theta^T phi)), with phi and g max-pooled 2x2 (keys/values at
    a quarter of the positions), theta/phi at C/8 channels, g at C/2; all 1x1 convs without bias; gamma starts at 0.
    """

    def __init__(self, channels: int, *, eps: float = 1e-6, spectral: bool = True):
        super().__init__()
        if channels % 8:
            raise InvalidArgumentError(f"self-attention projects to channels/8 and channels/2: it needs a multiple of "
                                       f"8 channels, got {channels} (raise the network's width)")
        self.theta = sn_conv(channels, channels // 8, 1, bias=False, eps=eps, spectral=spectral)
        self.phi = sn_conv(channels, channels // 8, 1, bias=False, eps=eps, spectral=spectral)
        self.g = sn_conv(channels, channels // 2, 1, bias=False, eps=eps, spectral=spectral)
        self.out = sn_conv(channels // 2, channels, 1, bias=False, eps=eps, spectral=spectral)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        query = self.theta(x).view(b, c // 8, h * w)
        key = F.max_pool2d(self.phi(x), 2).view(b, c // 8, h * w // 4)
        value = F.max_pool2d(self.g(x), 2).view(b, c // 2, h * w // 4)
        if shortcuts_apply(self):
            attended = attend_in_blocks(query.transpose(1, 2), key, value.transpose(1, 2)).transpose(1, 2)
        else:  # training keeps the operations the bundled weights were trained with, in the same order
            attention = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=-1)  # [b, hw, hw/4]
            attended = torch.bmm(value, attention.transpose(1, 2))
        return x + self.gamma * self.out(attended.reshape(b, c // 2, h, w))

    def attention(self, x: Tensor) -> Tensor:
        """The attention weights [b, h*w, h*w/4] of ``x``'s positions over the pooled ones (each row sums to 1)."""
        b, c, h, w = x.shape
        query = self.theta(x).view(b, c // 8, h * w)
        key = F.max_pool2d(self.phi(x), 2).view(b, c // 8, h * w // 4)
        return torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=-1)


def attend_in_blocks(query: Tensor, key: Tensor, value: Tensor, block_elements: int = 2 ** 18) -> Tensor:
    """softmax(query @ key) @ value, one image and one block of query rows at a time.

    The same operations on the same numbers as the whole-batch form (each row's softmax is independent), but each
    block of the attention matrix (<= ``block_elements`` floats, 1 MB) stays in the CPU cache: at 64x64 the whole
    [b, 4096, 1024] matrix does not, and the blocked form measured 2.5x faster (no autograd: it writes into ``out``).
    """
    b, rows, _ = query.shape
    out = query.new_empty(b, rows, value.shape[2])
    step = max(1, block_elements // key.shape[2])
    for i in range(b):
        for start in range(0, rows, step):
            scores = torch.mm(query[i, start:start + step], key[i])
            torch.mm(torch.softmax(scores, dim=-1), value[i], out=out[i, start:start + step])
    return out


class GBlock(nn.Module):
    """cBN, ReLU, 2x nearest upsample, 3x3 conv, cBN, ReLU, 3x3 conv; skip: upsample, 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, *, sn_eps: float = 1e-6, bn_eps: float = 1e-4,
                 bn_momentum: float = 0.1, spectral: bool = True):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, cond_dim=cond_dim, eps=bn_eps, momentum=bn_momentum,
                                          spectral=spectral)
        self.conv1 = sn_conv(c_in, c_out, 3, eps=sn_eps, spectral=spectral)
        self.bn2 = ConditionalBatchNorm2d(c_out, cond_dim=cond_dim, eps=bn_eps, momentum=bn_momentum,
                                          spectral=spectral)
        self.conv2 = sn_conv(c_out, c_out, 3, eps=sn_eps, spectral=spectral)
        self.skip = sn_conv(c_in, c_out, 1, eps=sn_eps, spectral=spectral)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class BigGANGenerator(Generator):
    """G(z, y): z [B, latent_dim] split into len(blocks) + 1 equal chunks, y int64 class indices [B].

    Args:
        latent_dim: size of z; must divide into (number of up-blocks + 1) chunks (120 = 6 x 20 at 128px).
        shared_dim: size of the shared class embedding fed, with a z chunk, to every conditional BN.
        width: base channel count ("ch"); block widths are width * channel_multipliers.
        attention_at: resolution after whose block self-attention runs (None: no attention).
        sn_eps, bn_eps, bn_momentum: spectral-norm and BatchNorm constants (StudioGAN: 1e-6, 1e-4, 0.1).
        spectral: spectral norm on G's convs and linears (the paper: yes).
    """

    truncation_rule = "threshold"  # the truncation trick (BigGAN section 3.1), StudioGAN's rule

    def __init__(self, latent_dim: int = 120, shared_dim: int = 128, num_classes: int = 1000,
                 img_size: int = 128, img_channels: int = 3, width: int = 96,
                 channel_multipliers: Sequence[int] | None = None, attention_at: int | None = 64,
                 sn_eps: float = 1e-6, bn_eps: float = 1e-4, bn_momentum: float = 0.1, spectral: bool = True,
                 class_names: list[str] | None = None):
        super().__init__()
        mults = multipliers_for(img_size, channel_multipliers)
        n_blocks = len(mults) - 1
        if latent_dim % (n_blocks + 1):
            raise InvalidArgumentError(
                f"latent_dim={latent_dim} must split into {n_blocks + 1} equal chunks (one per block + the input)")
        if num_classes < 1:
            raise InvalidArgumentError("BigGAN is class-conditional: num_classes must be >= 1")
        if class_names is not None and len(class_names) != num_classes:
            raise InvalidArgumentError(f"class_names has {len(class_names)} names for num_classes={num_classes}")
        self.latent_dim, self.img_size, self.img_channels = latent_dim, img_size, img_channels
        self.num_classes, self.class_names = num_classes, list(class_names) if class_names else None
        self.chunk = latent_dim // (n_blocks + 1)
        self.bottom_channels = width * mults[0]
        cond_dim = shared_dim + self.chunk
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.linear = sn_dense(self.chunk, self.bottom_channels * 16, eps=sn_eps, spectral=spectral)
        layers: list[nn.Module] = []
        resolution = 4
        for c_in, c_out in zip(mults, mults[1:]):
            layers.append(GBlock(width * c_in, width * c_out, cond_dim, sn_eps=sn_eps, bn_eps=bn_eps,
                                 bn_momentum=bn_momentum, spectral=spectral))
            resolution *= 2
            if resolution == attention_at:
                layers.append(SelfAttention(width * c_out, eps=sn_eps, spectral=spectral))
        if attention_at is not None and not any(isinstance(m, SelfAttention) for m in layers):
            raise InvalidArgumentError(f"attention_at={attention_at} is not a block resolution (8..{img_size})")
        self.blocks = nn.ModuleList(layers)
        self.out_bn = nn.BatchNorm2d(width * mults[-1], eps=bn_eps, momentum=bn_momentum)
        self.to_rgb = sn_conv(width * mults[-1], img_channels, 3, eps=sn_eps, spectral=spectral)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        chunks = torch.split(z, self.chunk, dim=1)
        embedding = self.shared(y)
        h = self.linear(chunks[0]).view(z.shape[0], self.bottom_channels, 4, 4)
        conds = iter(chunks[1:])
        for block in self.blocks:
            h = block(h) if isinstance(block, SelfAttention) else block(h, torch.cat([embedding, next(conds)], 1))
        return torch.tanh(self.to_rgb(F.relu(self.out_bn(h))))


class DBlock(nn.Module):
    """[ReLU], 3x3 conv, ReLU, 3x3 conv, [2x2 avg-pool]; skip: 1x1 conv and pool (pool first in the input block,
    whose input is not pre-activated, as in the paper's code)."""

    def __init__(self, c_in: int, c_out: int, *, downsample: bool = True, preactivation: bool = True,
                 sn_eps: float = 1e-6):
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        self.conv1 = sn_conv(c_in, c_out, 3, eps=sn_eps)
        self.conv2 = sn_conv(c_out, c_out, 3, eps=sn_eps)
        self.skip = sn_conv(c_in, c_out, 1, eps=sn_eps) if (c_in != c_out or downsample) else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x) if self.preactivation else x)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.skip is not None:
            if self.preactivation:
                skip = self.skip(skip)
                skip = F.avg_pool2d(skip, 2) if self.downsample else skip
            else:
                skip = self.skip(F.avg_pool2d(skip, 2) if self.downsample else skip)
        return h + skip


class BigGANDiscriminator(nn.Module):
    """Projection discriminator: D(x, y) = w . h + <embed(y), h>, h = sum over positions of ReLU(features(x)).

    Widths mirror the generator's (``channel_multipliers`` reversed, from the image up), with one extra
    non-downsampling block at 4x4 as in the paper.
    """

    def __init__(self, num_classes: int, img_size: int = 128, img_channels: int = 3, width: int = 96,
                 channel_multipliers: Sequence[int] | None = None, attention_at: int | None = 64,
                 sn_eps: float = 1e-6):
        super().__init__()
        mults = list(reversed(multipliers_for(img_size, channel_multipliers)))
        layers: list[nn.Module] = []
        resolution, c_in = img_size, img_channels
        for i, mult in enumerate(mults[1:]):
            layers.append(DBlock(c_in, width * mult, preactivation=i > 0, sn_eps=sn_eps))
            resolution //= 2
            c_in = width * mult
            if resolution == attention_at:
                layers.append(SelfAttention(c_in, eps=sn_eps))
        layers.append(DBlock(c_in, c_in, downsample=False, sn_eps=sn_eps))
        self.blocks = nn.Sequential(*layers)
        self.linear = sn_dense(c_in, 1, eps=sn_eps)
        self.embed = sn(nn.Embedding(num_classes, c_in), eps=sn_eps)

    def features(self, x: Tensor) -> Tensor:
        """The representation h [B, C] the heads read: ReLU of the last block, summed over positions."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def project(self, h: Tensor, y: Tensor) -> Tensor:
        """The score of representation ``h`` with label ``y``: w . h + <embed(y), h>."""
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.project(self.features(x), y)
