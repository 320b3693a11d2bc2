"""Eval-mode shortcuts (``zoo.layers.inference_shortcuts``): the cached W / sigma of spectral norm, BatchNorm
folded into one scale-and-shift, blocked self-attention. Each gives the same images as the plain forward, and the
cache follows every change of the weights: ``train()``, ``load_state_dict``, an in-place EMA update, ``to()``."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from zoo.errors import InvalidArgumentError
from zoo.layers import CachedSpectralNorm, inference_shortcuts, sn
from zoo.nets.biggan import BigGANGenerator, attend_in_blocks
from zoo.nets.biggan_deep import BigGANDeepGenerator
from zoo.nets.sngan import SNGANGenerator


def tiny_biggan(seed: int = 0) -> BigGANGenerator:
    torch.manual_seed(seed)
    g = BigGANGenerator(latent_dim=32, shared_dim=8, num_classes=10, img_size=32, img_channels=1, width=4,
                        channel_multipliers=[4, 4, 2, 1], attention_at=16)
    with torch.no_grad():  # non-trivial statistics and attention, so that every shortcut changes something
        for name, buf in g.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.3)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
        for block in g.blocks:
            if hasattr(block, "gamma"):
                block.gamma.fill_(0.7)
    return g.eval()


def tiny_deep() -> BigGANDeepGenerator:
    torch.manual_seed(0)
    layers = [[False, 4, 4], [True, 4, 2], [True, 2, 2], [True, 2, 1]]
    g = BigGANDeepGenerator(latent_dim=16, embed_dim=8, num_classes=10, img_size=32, img_channels=1, width=8,
                            layers=layers, attention_position=2)
    with torch.no_grad():
        for name, buf in g.named_buffers():
            if name.endswith("running_means"):
                buf.normal_(0, 0.3)
            elif name.endswith("running_vars"):
                buf.uniform_(0.5, 2.0)
    return g.eval()


def images(g, shortcuts: bool, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(6, g.latent_dim, generator=gen)
    y = torch.randint(10, (6,), generator=gen)
    with torch.inference_mode(), inference_shortcuts(shortcuts):
        return g(z, y)


def cached_weights(g) -> list:
    return [m._inference_cache for m in g.modules() if isinstance(m, CachedSpectralNorm)]


@pytest.mark.parametrize("make", [tiny_biggan, tiny_deep], ids=["biggan", "biggan-deep"])
def test_shortcuts_give_the_plain_forwards_images(make):
    g = make()
    plain = images(g, shortcuts=False)
    assert all(c is None for c in cached_weights(g)), "the plain forward must not fill the cache"
    fast = images(g, shortcuts=True)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5)
    assert not torch.equal(plain, images(g, shortcuts=False, seed=2)), "the images must depend on the inputs"


def test_the_cache_is_reused_until_the_weights_change():
    g = tiny_biggan()
    images(g, True)
    first = [c[1] for c in cached_weights(g)]
    assert first and all(c is not None for c in first)
    images(g, True, seed=5)
    assert all(a is c[1] for a, c in zip(first, cached_weights(g))), "an unchanged weight is not recomputed"


def test_load_state_dict_invalidates_the_cache():
    g, other = tiny_biggan(0), tiny_biggan(1)
    images(g, True)  # fill the cache with g's own weights
    g.load_state_dict(other.state_dict())
    torch.testing.assert_close(images(g, True), images(other, False), rtol=0, atol=1e-5)


def test_train_then_eval_uses_the_new_power_iteration():
    g = tiny_biggan()
    images(g, True)
    g.train()
    with torch.no_grad():  # a train-mode forward runs a power iteration: u and v change
        g(torch.randn(4, g.latent_dim), torch.randint(10, (4,)))
    g.eval()
    torch.testing.assert_close(images(g, True), images(g, False), rtol=0, atol=1e-5)


def test_in_place_updates_invalidate_the_cache():
    """The engine updates G_ema in place (``torch._foreach_lerp_``) and samples it between updates."""
    g, target = tiny_biggan(0), tiny_biggan(1)
    before = images(g, True)
    with torch.no_grad():
        torch._foreach_lerp_(list(g.parameters()), list(target.parameters()), 0.5)
    after = images(g, True)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, images(g, False), rtol=0, atol=1e-5)


def test_moving_to_another_dtype_invalidates_the_cache():
    g = tiny_biggan()
    images(g, True)
    g64 = copy.deepcopy(g).double()
    gen = torch.Generator().manual_seed(1)
    z, y = torch.randn(6, g.latent_dim, generator=gen).double(), torch.randint(10, (6,), generator=gen)
    with torch.inference_mode():
        out = g64(z, y)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), images(g, False), rtol=0, atol=1e-5)


def test_autograd_through_an_eval_generator_bypasses_the_cache():
    """Latent optimisation (gradients w.r.t. z, or w.r.t. the weights) must see the live weights."""
    g = tiny_biggan()
    images(g, True)
    z = torch.randn(2, g.latent_dim, requires_grad=True)
    g(z, torch.tensor([1, 2])).square().mean().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    weight = g.linear.parametrizations.weight.original
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_spectral_norm_layout_is_torchs():
    """Old weight files load: the state dict keys and the normalised weight are those of torch's spectral_norm."""
    torch.manual_seed(0)
    ours = sn(torch.nn.Conv2d(3, 5, 3))
    torch.manual_seed(0)
    theirs = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Conv2d(3, 5, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=0)
    transposed = sn(torch.nn.ConvTranspose2d(3, 5, 4))
    assert transposed.parametrizations.weight[0].dim == 1


def test_blocked_attention_equals_the_whole_matrix():
    gen = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 300, 4, generator=gen), torch.randn(3, 4, 75, generator=gen), torch.randn(
        3, 75, 8, generator=gen)
    whole = torch.bmm(torch.softmax(torch.bmm(q, k), dim=-1), v)
    torch.testing.assert_close(attend_in_blocks(q, k, v, block_elements=75 * 7), whole, rtol=0, atol=1e-6)


def test_sngan_generator_samples_the_same_with_and_without_shortcuts():
    """A family without spectral norm in G: the shortcuts are a no-op there, and sampling is unchanged."""
    torch.manual_seed(0)
    g = SNGANGenerator(latent_dim=16, width=4).eval()
    with torch.inference_mode():
        z = torch.randn(4, 16)
        with inference_shortcuts(False):
            plain = g(z)
        torch.testing.assert_close(g(z), plain, rtol=0, atol=0)


def test_bf16_sampling_is_refused_without_native_bf16(monkeypatch):
    import zoo.machine

    g = tiny_biggan()
    monkeypatch.setattr(zoo.machine, "native_bf16", lambda: None)
    with pytest.raises(InvalidArgumentError, match="native bf16.*sample in float32"):
        g.sample(2, dtype=torch.bfloat16)
    with pytest.raises(InvalidArgumentError, match="float32 or torch.bfloat16"):
        g.sample(2, dtype=torch.float16)


def test_bf16_sampling_is_close_to_float32(monkeypatch):
    import zoo.machine

    monkeypatch.setattr(zoo.machine, "native_bf16", lambda: "avx512_bf16")  # correct (if slow) on any CPU
    g = tiny_biggan()
    full, half = g.sample(16, seed=0), g.sample(16, seed=0, dtype=torch.bfloat16)
    assert half.dtype == torch.float32 and half.shape == full.shape
    assert not torch.equal(half, full)  # it did run in bf16
    mse = float((half - full).square().mean())
    assert 10 * math.log10(4 / mse) > 25  # PSNR in dB, images in [-1, 1]


def test_optimize_for_inference_goes_channels_last_and_samples_the_same():
    assert tiny_biggan().optimize_for_inference(channels_last=False).to_rgb.parametrizations.weight.original \
        .is_contiguous()
    torch.manual_seed(0)
    big = BigGANGenerator(latent_dim=20, shared_dim=8, num_classes=10, img_size=64, img_channels=3, width=2,
                          attention_at=32).eval()
    plain = images(big, shortcuts=False)
    big.optimize_for_inference()
    assert big.to_rgb.parametrizations.weight.original.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(images(big, shortcuts=True), plain, rtol=0, atol=1e-5)
    assert big.sample(3, seed=0).is_contiguous()



def test_zoo_load_gives_channels_last_weights_whose_images_equal_the_plain_forward():
    """The path users run: zoo.load (channels-last, shortcuts on) against the same file loaded plainly."""
    import zoo

    fast = zoo.load("biggan-fmnist")
    plain = zoo.load("biggan-fmnist", channels_last=False)
    assert fast.to_rgb.parametrizations.weight.original.is_contiguous(memory_format=torch.channels_last)
    assert plain.to_rgb.parametrizations.weight.original.is_contiguous()
    images_fast = fast.sample(20, seed=0)
    with inference_shortcuts(False):
        images_plain = plain.sample(20, seed=0)
    torch.testing.assert_close(images_fast, images_plain, rtol=0, atol=1e-5)
    assert images_fast.is_contiguous() and images_fast.std() > 0.1
