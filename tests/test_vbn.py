"""Virtual batch normalisation (Salimans et al. 2016): the layer against hand computations, per-example
independence in G, and a trained G that samples the same after export and ``zoo.load``."""

import pytest
import torch
from conftest import quiet_trainer, random_loader

import zoo
from zoo.callbacks import ExportWeights
from zoo.errors import InvalidArgumentError
from zoo.families.improved_gan import ImprovedGAN
from zoo.layers import VirtualBatchNorm
from zoo.nets.dcgan import DCGANGenerator


def test_vbn_by_hand():
    layer = VirtualBatchNorm(1, reference_size=2, eps=0.0)
    # reference rows 1 and 3 (mean 2, variance 1), then the examples 5 and 3
    out = layer(torch.tensor([1.0, 3.0, 5.0, 3.0]).view(4, 1, 1, 1)).flatten()
    # R alone: (1 - 2) / 1, (3 - 2) / 1. Example 5 with R: {1, 3, 5}, mean 3, variance 8/3; example 3: {1, 3, 3},
    # mean 7/3, variance (16 + 4 + 4) / 9 / 3 = 8/9
    expected = torch.tensor([-1.0, 1.0, 2 / (8 / 3) ** 0.5, (3 - 7 / 3) / (8 / 9) ** 0.5])
    torch.testing.assert_close(out, expected)


def test_vbn_positions_count_per_channel_and_affine():
    layer = VirtualBatchNorm(2, reference_size=1, eps=0.0)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([2.0, 1.0]))
        layer.bias.copy_(torch.tensor([0.5, 0.0]))
    ref = torch.tensor([[[0.0, 2.0]], [[1.0, 1.0]]]).unsqueeze(0)  # [1, 2, 1, 2]
    x = torch.tensor([[[4.0, 6.0]], [[1.0, 1.0]]]).unsqueeze(0)
    out = layer(torch.cat([ref, x]))
    # channel 0 of x: the four values {0, 2, 4, 6}, mean 3, variance 5; gain 2, bias 0.5
    torch.testing.assert_close(out[1, 0], 2 * (torch.tensor([[4.0, 6.0]]) - 3) / 5 ** 0.5 + 0.5)
    # channel 1: every value is 1, variance 0: with eps > 0 the output is the bias (0), not a division by zero
    layer.eps = 1e-5
    torch.testing.assert_close(layer(torch.cat([ref, x]))[1, 1], torch.zeros(1, 2))


def test_vbn_needs_its_reference_rows():
    with pytest.raises(ValueError, match="reference rows first"):
        VirtualBatchNorm(3, reference_size=4)(torch.randn(2, 3))


def test_each_image_depends_only_on_its_own_latent():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=8, width=4, vbn_reference=5)
    assert g.reference_z.shape == (5, 8)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())
    z = torch.randn(4, 8)
    others = torch.cat([z[:1], torch.randn(3, 8) * 3])
    for mode in (g.train, g.eval):  # no running statistics: training and inference normalise alike
        mode()
        out = g(z)
        assert out.shape == (4, 1, 28, 28)
        torch.testing.assert_close(g(z[:1]), out[:1])
        torch.testing.assert_close(g(others)[:1], out[:1])
    # BatchNorm in training mode does depend on the batch: the check above can fail
    bn = DCGANGenerator(latent_dim=8, width=4).train()
    assert not torch.allclose(bn(others)[:1], bn(z)[:1])


def test_improved_gan_g_norm_option():
    model = ImprovedGAN(latent_dim=8, width=4, minibatch_kernels=2, minibatch_kernel_dim=2, g_norm="virtual",
                        vbn_reference=3, sample_every=0)
    assert model.G.reference_z.shape == (3, 8)
    torch.testing.assert_close(model.G_ema.reference_z, model.G.reference_z)
    with pytest.raises(InvalidArgumentError, match="g_norm must be 'batch' or 'virtual'"):
        ImprovedGAN(latent_dim=8, width=4, g_norm="vbn")
    with pytest.raises(InvalidArgumentError, match="vbn_reference >= 1"):
        ImprovedGAN(latent_dim=8, width=4, g_norm="virtual", vbn_reference=0)


def test_trained_vbn_generator_round_trips_through_export(tmp_path):
    torch.manual_seed(0)
    model = ImprovedGAN(latent_dim=8, width=4, minibatch_kernels=2, minibatch_kernel_dim=2, g_norm="virtual",
                        vbn_reference=4, sample_every=0, max_g_iters=2, ema_decay=0.0)
    reference = model.G.reference_z.clone()
    trainer = quiet_trainer(callbacks=[ExportWeights(dirpath=tmp_path / "weights")], default_root_dir=tmp_path)
    trainer.fit(model, random_loader())
    torch.testing.assert_close(model.G.reference_z, reference)  # fixed for the whole run
    loaded = zoo.load(tmp_path / "weights")
    torch.testing.assert_close(loaded.reference_z, reference)
    expected = model.G_ema.float().cpu().eval().sample(6, seed=3)
    torch.testing.assert_close(loaded.sample(6, seed=3), expected)
    torch.testing.assert_close(loaded.sample(6, seed=3, batch_size=2), expected)  # chunking changes nothing
