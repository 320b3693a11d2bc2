"""SAGAN: the self-attention block starts as the identity, its attention rows are distributions, and the
class-conditional networks use their labels."""

import torch

from zoo.families.sagan import SAGAN
from zoo.nets.biggan import SelfAttention


def attention_blocks(model):
    return [m for net in (model.G, model.D) for m in net.modules() if isinstance(m, SelfAttention)]


def test_attention_at_14x14_in_both_networks_starts_as_the_identity():
    torch.manual_seed(0)
    model = SAGAN(latent_dim=16, width=8, sample_every=0)
    blocks = attention_blocks(model)
    assert len(blocks) == 2 and all(block.gamma.item() == 0.0 for block in blocks)
    for block in blocks:
        x = torch.randn(3, block.g.in_channels, 14, 14)
        assert torch.equal(block(x), x)


def test_attention_rows_sum_to_one_and_the_block_applies_them():
    torch.manual_seed(0)
    block = SelfAttention(16).train()
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 16, 14, 14)
    weights = block.attention(x)
    assert weights.shape == (2, 196, 49) and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 196))
    value = torch.nn.functional.max_pool2d(block.g(x), 2).view(2, 8, 49)
    expected = x + 0.7 * block.out(torch.bmm(value, weights.transpose(1, 2)).view(2, 8, 14, 14))
    torch.testing.assert_close(block(x), expected)


def test_conditional_networks_use_the_labels():
    torch.manual_seed(0)
    model = SAGAN(latent_dim=16, width=8, sample_every=0).eval()
    z, x = torch.randn(4, 16), torch.rand(4, 1, 28, 28) * 2 - 1
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    with torch.no_grad():
        for p in model.G.parameters():  # conditional BN starts as plain BN (zero gains): move it
            p.add_(0.05 * torch.randn_like(p))
        assert not torch.equal(model.G(z, y0), model.G(z, y1))
        assert not torch.equal(model.D(x, y0), model.D(x, y1))
    assert model.conditional and not SAGAN(latent_dim=16, width=8, num_classes=0).conditional


def test_attention_needs_a_multiple_of_8_channels():
    import pytest

    from zoo.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="needs a multiple of 8 channels, got 4"):
        SAGAN(latent_dim=16, width=4)
