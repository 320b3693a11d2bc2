"""The in-training FID callback: it scores G_ema, keeps the best checkpoint, and leaves the trajectory unchanged."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from zoo.families.dcgan import DCGAN
from zoo.metrics.callback import FIDCallback
from zoo.metrics.classifier import FashionMNISTNet, export_classifier


class RandomImages(L.LightningDataModule):
    def train_dataloader(self):
        x = torch.rand(128, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
        return DataLoader(TensorDataset(x), batch_size=16, shuffle=True)


def fit(callbacks, root):
    L.seed_everything(0)
    model = DCGAN(latent_dim=8, width=8, max_g_iters=6, sample_every=0)
    trainer = L.Trainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=callbacks, default_root_dir=root)
    trainer.fit(model, RandomImages())
    return model


def test_fid_callback_keeps_the_best_checkpoint_without_changing_training(tmp_path):
    torch.manual_seed(5)
    export_classifier(FashionMNISTNet(width=8).eval(), tmp_path / "classifier", {})
    plain = fit([], tmp_path / "plain")
    real = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
    callback = FIDCallback(every_n_g_iters=2, n_samples=64, real_images=real, classifier=tmp_path / "classifier")
    scored = fit([callback], tmp_path / "scored")

    # bit-identical weights: the callback drew nothing from the global RNG (its classifier's init included)
    assert plain.g_iters == scored.g_iters == 6
    for (name, a), b in zip(plain.state_dict().items(), scored.state_dict().values()):
        assert torch.equal(a, b), name
    assert [g for g, _ in callback.history] == [2, 4, 6]
    assert all(fid > 0 for _, fid in callback.history)
    assert callback.best_fid == min(fid for _, fid in callback.history)

    checkpoint = torch.load(tmp_path / "scored" / "checkpoints" / "best-fid.ckpt", weights_only=True)
    assert checkpoint["gan_counters"]["g_iters"] == callback.best_g_iter
    # the same generator on the same fixed latents gives the same FID again
    again = FIDCallback(n_samples=64, real_images=real, classifier=tmp_path / "classifier")
    assert again.compute_fid(scored.G_ema, torch.device("cpu")) == callback.history[-1][1]


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_model_selection_uses_the_train_split_not_the_leaderboard_reference():
    from zoo.data.fashion_mnist import load_fashion_mnist, to_model_range

    train, _ = load_fashion_mnist("train")
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:5]
    torch.testing.assert_close(FIDCallback(n_real=5)._real(), to_model_range(train[index]))
    test, _ = load_fashion_mnist("test")
    assert FIDCallback(n_real=len(test), split="test")._real().shape[0] == len(test)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        FIDCallback(split="val")


def test_export_weights_ships_the_best_fid_checkpoint_when_asked(tmp_path):
    import json

    import zoo
    from zoo.callbacks import ExportWeights
    from zoo.errors import ZooError

    torch.manual_seed(5)
    export_classifier(FashionMNISTNet(width=8).eval(), tmp_path / "classifier", {})
    L.seed_everything(0)  # "real" images from the run's own initial G_ema: the FID is lowest early, not at the end
    with torch.no_grad():
        real = DCGAN(latent_dim=8, width=8).G_ema(torch.randn(200, 8, generator=torch.Generator().manual_seed(3)))
    callback = FIDCallback(every_n_g_iters=1, n_samples=64, real_images=real, classifier=tmp_path / "classifier")
    export = ExportWeights(dirpath=tmp_path / "weights", standing_stats_batches=0, weights="best-fid")
    model = fit([callback, export], tmp_path / "run")
    training = json.loads((tmp_path / "weights" / "training.json").read_text())
    assert training["weights"] == "best-fid" and training["selected_g_iter"] == callback.best_g_iter
    assert training["selected_fid"] == round(callback.best_fid, 4) and training["g_iters"] == 6
    best = torch.load(tmp_path / "run" / "checkpoints" / "best-fid.ckpt", weights_only=True)["state_dict"]
    exported = zoo.load(tmp_path / "weights").state_dict()
    assert all(torch.equal(value, best[f"G_ema.{key}"]) for key, value in exported.items())
    assert callback.best_g_iter < model.g_iters  # so the last weights differ from the shipped ones
    assert not all(torch.equal(value, model.G_ema.state_dict()[key]) for key, value in exported.items())
    with pytest.raises(ZooError, match="add zoo.metrics.callback.FIDCallback"):  # before training starts
        fit([ExportWeights(dirpath=tmp_path / "none", weights="best-fid")], tmp_path / "nofid")
    assert not (tmp_path / "none").exists()
    # a run shorter than the FIDCallback's period (a shortened recipe) exports its last weights and says so
    late = FIDCallback(every_n_g_iters=100, n_samples=64, real_images=real, classifier=tmp_path / "classifier")
    with pytest.warns(UserWarning, match="exporting the last weights"):
        short = fit([late, ExportWeights(dirpath=tmp_path / "short", standing_stats_batches=0, weights="best-fid")],
                    tmp_path / "short-run")
    assert json.loads((tmp_path / "short" / "training.json").read_text())["weights"].startswith("last")
    shipped = zoo.load(tmp_path / "short").state_dict()
    assert all(torch.equal(value, short.G_ema.state_dict()[key]) for key, value in shipped.items())
