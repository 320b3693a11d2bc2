"""Data modules: Fashion-MNIST (offline from Debian's package, or downloaded) and your own image folders."""

from .fashion_mnist import CLASS_NAMES as FASHION_MNIST_CLASSES
from .fashion_mnist import FashionMNIST, load_fashion_mnist
from .image_folder import ImageFolder

__all__ = ["FashionMNIST", "ImageFolder", "load_fashion_mnist", "FASHION_MNIST_CLASSES"]
