"""What an encoder family's loaded model is scored on besides FID: the linear probe of its encoder's features and
its reconstruction error, both on the Fashion-MNIST test split.

    from zoo.metrics.encoders import linear_probe, reconstruction_error
    linear_probe(zoo.load("bigan-fmnist"))        # {"accuracy", "random_encoder_accuracy", ...}
    zoo probe bigan-fmnist                        # the same, and the reconstruction error, as JSON

Linear probe (BiGAN's feature-learning evaluation, Donahue et al. 2017): a multinomial logistic regression on the
encoder's output E(x) (the posterior mean for a Gaussian encoder), standardised with the train split's mean and
deviation, fitted by L-BFGS on the train split and scored on the test split; the same probe on a randomly
initialised encoder of the same class and config is the baseline the learned features must beat.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InvalidArgumentError
from ..generator import Generator
from ..images import image_grid


def fmnist_split(split: str, root=None, n: int | None = None) -> tuple[Tensor, Tensor]:
    """Images in [-1, 1] ``[N, 1, 28, 28]`` and labels of a Fashion-MNIST split (its first ``n``)."""
    from ..data.fashion_mnist import load_fashion_mnist, to_model_range

    images, labels = load_fashion_mnist(split, root=root)
    return to_model_range(images[:n]), labels[:n]


def logistic_regression_accuracy(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *,
                                 l2: float = 1e-4, max_iter: int = 500) -> float:
    """Test accuracy of a multinomial logistic regression fitted on (train_x, train_y) by L-BFGS, minimising the
    mean cross-entropy + l2 * ||W||^2 (bias unpenalised), features standardised with the train split's statistics."""
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, test_x = ((train_x - mean) / std).double(), ((test_x - mean) / std).double()
    classes = int(max(train_y.max(), test_y.max())) + 1
    W = torch.zeros(train_x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-9)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(train_x @ W + b, train_y) + l2 * W.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return float(((test_x @ W + b).argmax(1) == test_y).double().mean())


def random_encoder_like(generator: Generator, seed: int = 0) -> Generator:
    """A copy of ``generator`` whose encoder is freshly initialised (same class and config, seeded)."""
    encoder = generator._require_encoder()
    torch.manual_seed(seed)
    fresh = type(encoder)(**encoder.encoder_config).eval().requires_grad_(False)
    fresh.to(next(encoder.parameters()).device)
    return copy.copy(generator).attach_encoder(fresh)  # a shallow copy shares G's weights


def linear_probe(generator: Generator, *, root=None, n_train: int | None = None, n_test: int | None = None,
                 seed: int = 0, batch_size: int = 500) -> dict:
    """The linear-probe accuracy of ``generator``'s encoder on the test split, against a random encoder's."""
    if generator.img_channels != 1 or generator.img_size != 28:
        raise InvalidArgumentError("the linear probe reads Fashion-MNIST: it needs a 1x28x28 model")
    train_x, train_y = fmnist_split("train", root, n_train)
    test_x, test_y = fmnist_split("test", root, n_test)
    result = {}
    for key, model in (("accuracy", generator), ("random_encoder_accuracy", random_encoder_like(generator, seed))):
        features = [model.encode(x, batch_size=batch_size) for x in (train_x, test_x)]
        result[key] = round(logistic_regression_accuracy(features[0], train_y, features[1], test_y), 4)
    result.update(features=int(generator.encoder.latent_dim), n_train=len(train_x), n_test=len(test_x),
                  protocol="multinomial logistic regression (L-BFGS, l2 1e-4) on standardised E(x), fitted on the "
                       "train split, accuracy on the test split; baseline: a randomly initialised encoder "
                       f"(seed {seed}) of the same config")
    return result


def reconstruction_error(generator: Generator, images: Tensor, *, batch_size: int = 500) -> float:
    """Mean squared pixel error of ``G(E(x))`` against ``x``, images in [-1, 1]."""
    return float((generator.reconstruct(images, batch_size=batch_size) - images).pow(2).mean())


def reconstruction_grid(generator: Generator, images: Tensor, nrow: int = 8) -> Tensor:
    """A [C, H, W] grid in [0, 1] for the gallery: rows of real images, each followed by its reconstruction."""
    reconstructed = generator.reconstruct(images)
    rows = [t for i in range(0, len(images), nrow) for t in (images[i:i + nrow], reconstructed[i:i + nrow])]
    return image_grid(torch.cat(rows), nrow=nrow)


def encoder_scores(generator: Generator, *, root=None, n_train: int | None = None, n_test: int | None = None,
                   seed: int = 0) -> dict:
    """``zoo probe``: the linear probe and the test split's reconstruction error (not for an encoder that does not
    reconstruct, such as InfoGAN's code reader, whose probe reads the codes' estimates)."""
    result = {"linear_probe": linear_probe(generator, root=root, n_train=n_train, n_test=n_test, seed=seed)}
    if generator.encoder.reconstructs:
        test_x, _ = fmnist_split("test", root, n_test)
        result.update(reconstruction_mse=round(reconstruction_error(generator, test_x), 5), n_reconstructed=len(test_x))
    return result
