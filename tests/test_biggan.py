"""BigGAN / BigGAN-deep modules: latents, labels, sampling without side effects, a tiny fit, orthogonal
regularization by hand, save/load, and (when both are bundled) class accuracy of biggan-fmnist's samples."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import zoo
from zoo.data import FASHION_MNIST_CLASSES
from zoo.errors import InvalidArgumentError
from zoo.families.biggan import BigGAN
from zoo.nets.biggan import BigGANGenerator, SelfAttention
from zoo.nets.biggan_deep import BigGANDeepGenerator
from zoo.regularizers import OrthogonalRegularization
from zoo.serialization import load_folder, save_weights

NAMES = list(FASHION_MNIST_CLASSES)


def tiny_biggan(**kwargs) -> BigGANGenerator:
    options = dict(latent_dim=32, shared_dim=8, num_classes=10, img_size=32, img_channels=1, width=4,
                   channel_multipliers=[4, 4, 2, 1], attention_at=16, class_names=NAMES)
    return BigGANGenerator(**{**options, **kwargs}).eval()


def tiny_deep() -> BigGANDeepGenerator:
    layers = [[False, 4, 4], [True, 4, 2], [True, 2, 2], [True, 2, 1]]
    g = BigGANDeepGenerator(latent_dim=16, embed_dim=8, num_classes=10, img_size=32, img_channels=1, width=8,
                            layers=layers, attention_position=2, class_names=NAMES)
    with torch.no_grad():  # distinct statistics rows, so that the truncation visibly selects one
        for name, buf in g.named_buffers():
            if name.endswith("running_means"):
                buf.copy_(0.3 * torch.randn_like(buf))
            elif name.endswith("running_vars"):
                buf.uniform_(0.5, 2.0)
    return g.eval()


def state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_shapes_hierarchical_split_and_attention_position():
    g = tiny_biggan()
    assert g.chunk == 8  # 32 = 4 chunks (input + 3 blocks)
    assert isinstance(g.blocks[2], SelfAttention)  # after the block that outputs 16x16
    out = g(torch.randn(3, 32), torch.tensor([0, 1, 2]))
    assert out.shape == (3, 1, 32, 32) and out.abs().max() <= 1
    with pytest.raises(InvalidArgumentError, match="equal chunks"):
        tiny_biggan(latent_dim=30)
    with pytest.raises(InvalidArgumentError, match="attention_at"):
        tiny_biggan(attention_at=12)


def test_truncated_latents_stay_in_bounds():
    g, deep = tiny_biggan(), tiny_deep()
    z = g.sample_latent(2000, generator=torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and z.abs().max() > 0.45  # threshold rule: truncnorm(-t, t)
    zd = deep.sample_latent(2000, generator=torch.Generator().manual_seed(0), truncation=0.5)
    assert zd.abs().max() <= 1.0 and zd.abs().max() > 0.9  # scale rule: t * truncnorm(-2, 2)
    assert deep.truncation_rule == "scale" and g.truncation_rule == "threshold"


def test_labels_as_names_and_ints_give_the_same_images():
    g = tiny_biggan()
    by_name = g.sample(4, seed=1, labels=["Trouser", "bag", "Sneaker", "Trouser"], truncation=0.7)
    by_int = g.sample(4, seed=1, labels=[1, 8, 7, 1], truncation=0.7)
    assert torch.equal(by_name, by_int)
    assert not torch.equal(by_int, g.sample(4, seed=1, labels=[2, 8, 7, 1], truncation=0.7))
    with pytest.raises(InvalidArgumentError, match="did you mean 'Trouser'"):
        g.sample(1, labels="Trousers")


def test_sampling_never_changes_the_weights():
    for g in (tiny_biggan(), tiny_deep()):
        before = state_copy(g)
        g.sample(6, seed=0, labels=[0, 1, 2, 3, 4, 5], truncation=0.5)
        g.sample(6, seed=0)
        after = g.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)


def test_biggan_deep_sample_uses_the_truncation_for_z_and_statistics():
    g = tiny_deep()
    images = g.sample(3, seed=5, labels=[1, 2, 3], truncation=0.4)
    z = g.sample_latent(3, generator=torch.Generator().manual_seed(5), truncation=0.4)
    y = torch.tensor([1, 2, 3])
    with torch.no_grad():
        assert torch.allclose(images, g(z, y, truncation=0.4))
        assert not torch.allclose(images, g(z, y, truncation=1.0), atol=1e-3)
    with pytest.raises(InvalidArgumentError, match=r"in \(0, 1\]"):
        g.sample(1, truncation=1.5)


def test_orthogonal_regularization_by_hand():
    layer = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    # W W^T = [[5, 11], [11, 25]]: off-diagonal 11 twice -> 2 * 121 = 242
    penalty = OrthogonalRegularization(beta=0.5).g_penalty(torch.nn.Sequential(layer))
    assert penalty.item() == pytest.approx(0.5 * 242)
    g = tiny_biggan()
    names = [n for n, p in g.named_parameters() if p.dim() >= 2]
    assert any("shared" in n for n in names)
    assert OrthogonalRegularization(1.0, skip=()).g_penalty(g) > OrthogonalRegularization(1.0).g_penalty(g)


def test_save_and_load_round_trip(tmp_path):
    for g, name in ((tiny_biggan(), "biggan"), (tiny_deep(), "deep")):
        save_weights(tmp_path / name, g)
        loaded = load_folder(tmp_path / name)
        assert type(loaded) is type(g) and loaded.class_names == NAMES
        assert torch.equal(loaded.sample(2, seed=3, labels="Coat", truncation=0.5),
                           g.sample(2, seed=3, labels="Coat", truncation=0.5))


def test_tiny_biggan_fit_changes_weights_with_finite_losses(tmp_path):
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(64, 1, 32, 32) * 2 - 1, torch.randint(10, (64,)))
    model = BigGAN(latent_dim=32, shared_dim=8, num_classes=10, class_names=NAMES, img_size=32, img_channels=1,
                   width=4, channel_multipliers=[4, 4, 2, 1], attention_at=16, d_attention_at=16, ema_start=2,
                   ema_decay=0.9, max_g_iters=4, sample_every=0)
    assert model.hparams.n_critic == 2 and (model.hparams.lr_g, model.hparams.lr_d) == (1e-4, 4e-4)
    g_before, d_before = state_copy(model.G), state_copy(model.D)
    trainer = L.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        log_every_n_steps=1)
    trainer.fit(model, DataLoader(data, batch_size=16, shuffle=True, drop_last=True))
    assert (model.g_iters, model.d_iters) == (4, 8)
    metrics = trainer.callback_metrics
    for key in ("loss/d", "loss/g", "reg/OrthogonalRegularization"):
        assert torch.isfinite(metrics[key]), key
    for before, module in ((g_before, model.G), (d_before, model.D)):
        after = module.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith("original"))
    assert all(torch.isfinite(p).all() for p in model.G.parameters())
    ema = model.G_ema.state_dict()
    assert any(not torch.equal(ema[k], model.G.state_dict()[k]) for k in ema if k.endswith("original"))


def _bundled(name: str) -> bool:
    try:
        entry = zoo.get_entry(name)
    except KeyError:
        return False
    return bool(entry.bundled_dir and entry.bundled_dir.is_dir())


def test_biggan_fmnist_samples_are_classified_as_their_labels():
    """Per-class accuracy of the bundled model's samples under the zoo's Fashion-MNIST classifier."""
    from zoo.metrics.classifier import CLASSIFIER_DIR, load_classifier

    if not _bundled("biggan-fmnist") or not (CLASSIFIER_DIR / "model.safetensors").is_file():
        pytest.skip("needs the bundled biggan-fmnist weights and zoo/weights/fmnist-classifier/")
    g = zoo.load("biggan-fmnist")
    classifier = load_classifier()
    per_class = 50
    labels = torch.arange(10).repeat_interleave(per_class)
    images = g.sample(len(labels), seed=0, labels=labels.tolist())
    images = F.interpolate(images, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        predicted = classifier(images).argmax(1)
    accuracy = (predicted == labels).float().view(10, per_class).mean(1)
    print("biggan-fmnist per-class accuracy:", {n: round(a, 2) for n, a in zip(NAMES, accuracy.tolist())})
    assert accuracy.mean() > 0.6
