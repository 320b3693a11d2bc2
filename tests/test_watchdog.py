"""The training watchdog (zoo.watchdog): NaN stops the run and keeps the last good checkpoint; warnings with steps."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from zoo.checkpointing import GIterCheckpoint
from zoo.families.dcgan import DCGAN
from zoo.watchdog import TrainingDiverged, TrainingWarning, Watchdog


class Faulty(DCGAN):
    """A tiny DCGAN whose D loss is multiplied by ``factor`` from D update ``from_d_iter`` on."""

    def __init__(self, factor: float = 1.0, from_d_iter: int = 0, **kwargs):
        super().__init__(latent_dim=8, width=8, sample_every=0, **kwargs)
        self.factor, self.from_d_iter = factor, from_d_iter

    def discriminator_loss(self, real, labels):
        loss, logs = super().discriminator_loss(real, labels)
        return (loss * self.factor if self.d_iters >= self.from_d_iter else loss), logs


def fit(model, tmp_path, steps=6, **watchdog):
    torch.manual_seed(0)
    data = DataLoader(TensorDataset(torch.rand(64, 1, 28, 28) * 2 - 1), batch_size=8)
    trainer = L.Trainer(accelerator="cpu", max_steps=2 * steps, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, log_every_n_steps=1,
                        callbacks=[Watchdog(**watchdog), GIterCheckpoint(every_n_g_iters=1, dirpath=tmp_path)])
    trainer.fit(model, data)
    return trainer


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model = Faulty(factor=float("nan"), from_d_iter=3)
    with pytest.raises(TrainingDiverged, match=r"loss/d = nan.* at generator iteration 4 \(step 8\).*last\.ckpt"):
        fit(model, tmp_path)
    assert model.g_iters == 4  # stopped right after the bad step
    ckpt = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert ckpt["gan_counters"] == {"d_iters": 3, "g_iters": 3}
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_non_finite_weight_is_caught_even_without_a_logged_loss(tmp_path):
    class BadWeight(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            if pl_module.g_iters == 2:
                with torch.no_grad():
                    pl_module.G_ema.blocks[0].weight[0, 0, 0, 0] = float("inf")

    model = Faulty()
    trainer = L.Trainer(accelerator="cpu", max_steps=10, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[BadWeight(), Watchdog()])
    with pytest.raises(TrainingDiverged, match=r"weight G_ema\.blocks\.0\.weight is not finite at generator "
                                               r"iteration 2.*no checkpoint was saved"):
        trainer.fit(model, DataLoader(TensorDataset(torch.rand(64, 1, 28, 28)), batch_size=8))


def test_d_loss_stuck_near_zero_warns_once_with_the_step(tmp_path):
    with pytest.warns(TrainingWarning, match=r"loss/d has stayed below 0.001 for 3 steps at generator iteration 3 "
                                             r"\(step 6\)") as record:
        fit(Faulty(factor=0.0), tmp_path, patience=3)
    assert sum("loss/d has stayed" in str(w.message) for w in record) == 1


def test_exploding_gradient_norm_warns_with_the_step(tmp_path):
    with pytest.warns(TrainingWarning, match=r"grad_norm/d = .* > 100 at generator iteration 2 \(step 4\)"):
        fit(Faulty(factor=1e6, from_d_iter=1), tmp_path, steps=3)


def test_a_healthy_run_raises_and_warns_nothing(tmp_path, recwarn):
    fit(Faulty(), tmp_path, steps=3)
    assert not [w for w in recwarn if issubclass(w.category, TrainingWarning)]
