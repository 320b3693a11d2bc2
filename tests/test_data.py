"""Fashion-MNIST from Debian's package or a user folder, the IDX reader, image folders, and missing-data messages."""

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.data import FASHION_MNIST_CLASSES, FashionMNIST, ImageFolder, load_fashion_mnist
from zoo.data.fashion_mnist import DEBIAN_ROOT, read_idx
from zoo.errors import DataNotFoundError

needs_debian_data = pytest.mark.skipif(not DEBIAN_ROOT.is_dir(), reason="apt-get install dataset-fashion-mnist")


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), array)


def test_user_root_with_idx_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 9]))
    x, y = load_fashion_mnist("test", root=tmp_path)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.uint8 and y.tolist() == [0, 1, 2, 3, 9]
    np.testing.assert_array_equal(x[:, 0].numpy(), images)


def test_missing_data_names_the_fix(tmp_path):
    with pytest.raises(DataNotFoundError) as excinfo:
        load_fashion_mnist("train", root=tmp_path)
    message = str(excinfo.value)
    assert "\n" not in message and "apt-get install dataset-fashion-mnist" in message and "download=True" in message


@needs_debian_data
def test_debian_fashion_mnist():
    x, y = load_fashion_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert torch.bincount(y).tolist() == [1000] * 10 and len(FASHION_MNIST_CLASSES) == 10


@needs_debian_data
def test_datamodule_batches_in_model_range():
    data = FashionMNIST(batch_size=16, image_size=32)
    data.setup("fit")
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (16, 1, 32, 32) and labels.shape == (16,)
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.9 and images.max() > 0.5
    assert len(data.train_dataloader()) == 60000 // 16


def test_image_folder(tmp_path):
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    data = ImageFolder(str(tmp_path), image_size=16, batch_size=2, num_workers=0)
    data.setup("fit")
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (2, 3, 16, 16) and data.class_names == ["cats", "dogs"]
    assert images.min() >= -1 and images.max() <= 1


def test_image_folder_missing(tmp_path):
    with pytest.raises(DataNotFoundError, match="pass data.root"):
        ImageFolder(str(tmp_path / "nope")).setup("fit")
