import os

# Tests never wait on the network: the Hub is offline, Lightning does not look for updates.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("PL_DISABLE_FORK", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

# Tests use tiny networks: one intra-op thread is faster for them and never spins against another job.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_loader(n=32, batch_size=8, channels=1, size=28, num_classes=10, seed=0):
    """A small labelled data set of random images in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, channels, size, size, generator=g) * 2 - 1
    labels = torch.randint(num_classes, (n,), generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size,
                                       shuffle=False, drop_last=True)


def quiet_trainer(**kwargs):
    import lightning as L

    options = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, max_epochs=-1)
    options.update(kwargs)
    return L.Trainer(**options)
