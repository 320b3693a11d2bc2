"""How well a reader recovers a generator's categorical latent code (InfoGAN, Chen et al. 2016, arXiv:1606.03657).

Draw latents, generate, let a reader (InfoGAN's Q head, or a classifier such as fmnist-cnn) predict a category for
each image, and compare with the code that made it. Category k of the code need not be category k of the reader
(a classifier's classes, or a Q whose outputs were permuted), so the score is the accuracy under the best
one-to-one matching of code values to predictions (the Hungarian algorithm, scipy's ``linear_sum_assignment``, on
the confusion matrix), beside the accuracy without any matching.

A loaded InfoGAN model ships its Q (``G.read_codes``), so its recovery needs the weights alone:

    from zoo.metrics.code_recovery import shipped_code_recovery
    shipped_code_recovery("infogan-fmnist")["accuracy"]     # a zoo name or a weights folder; zoo recovery NAME
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import InvalidArgumentError
from ..generator import Generator, seeded_generator


def matched_accuracy(codes: Tensor, predictions: Tensor, num_codes: int, num_predictions: int | None = None) -> dict:
    """{"accuracy": under the best one-to-one matching, "direct": with code k read as prediction k,
    "matching": [the prediction matched to each code value (None if unmatched)], "confusion": counts [code][pred]}."""
    from scipy.optimize import linear_sum_assignment

    codes, predictions = codes.flatten().long().cpu(), predictions.flatten().long().cpu()
    if len(codes) != len(predictions) or len(codes) == 0:
        raise InvalidArgumentError(f"need as many predictions as codes (and at least one), got {len(predictions)} "
                                   f"predictions for {len(codes)} codes")
    num_predictions = num_predictions or num_codes
    if codes.min() < 0 or codes.max() >= num_codes or predictions.min() < 0 or predictions.max() >= num_predictions:
        raise InvalidArgumentError(f"codes must lie in 0..{num_codes - 1} and predictions in "
                                   f"0..{num_predictions - 1}")
    confusion = torch.zeros(num_codes, num_predictions, dtype=torch.long)
    confusion.index_put_((codes, predictions), torch.ones_like(codes), accumulate=True)
    rows, cols = linear_sum_assignment(confusion.numpy(), maximize=True)
    matching: list[int | None] = [None] * num_codes
    for r, c in zip(rows.tolist(), cols.tolist()):
        matching[r] = c
    matched = int(confusion[rows, cols].sum())
    direct = float((codes == predictions).float().mean()) if num_predictions == num_codes else None
    return {"accuracy": matched / len(codes), "direct": direct, "matching": matching,
            "confusion": confusion.tolist()}


@torch.no_grad()
def code_recovery(generator, reader: Callable[[Tensor], Tensor], n: int = 10_000, seed: int = 0,
                  batch_size: int = 500) -> dict:
    """``matched_accuracy`` of ``reader``'s argmax against the categorical code of ``n`` samples of ``generator``
    (an ``InfoGANGenerator``: latents from ``seed``, codes read off them), plus ``n`` and ``seed``.

    ``reader`` maps images [B, C, H, W] in [-1, 1] to logits [B, K]: InfoGAN's ``q_codes(x)[0]`` or a classifier.
    """
    if not hasattr(generator, "codes"):
        raise InvalidArgumentError(f"{type(generator).__name__} has no categorical latent code (an InfoGAN "
                                   f"generator has)")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise InvalidArgumentError(f"n must be a positive integer, got {n!r}")
    z = generator.sample_latent(n, generator=seeded_generator(seed))
    codes = generator.codes(z)[0]
    was_training, device = generator.training, next(generator.parameters()).device
    generator.eval()
    try:
        predictions, width = [], None
        for start in range(0, n, batch_size):
            images = generator(z[start:start + batch_size].to(device)).float().clamp(-1, 1)
            logits = reader(images)
            width = logits.shape[1]
            predictions.append(logits.argmax(1).cpu())
    finally:
        generator.train(was_training)
    result = matched_accuracy(codes, torch.cat(predictions), generator.categorical, width)
    return {**result, "n": n, "seed": seed}


def shipped_code_recovery(model: str | os.PathLike | Generator, n: int = 10_000, seed: int = 0,
                          batch_size: int = 500) -> dict:
    """``code_recovery`` of an InfoGAN model read back by its own shipped Q (``G.read_codes``): ``model`` is a zoo
    name, a weights folder or a loaded generator; plus "model" (the name or folder, when given one)."""
    if isinstance(model, Generator):
        generator, spec = model, None
    else:
        from ..weights import load

        generator, spec = load(model), str(model)
    if not hasattr(generator, "read_codes"):
        raise InvalidArgumentError(f"{spec or 'this model'} is a {type(generator).__name__}: code recovery needs an "
                                   f"InfoGAN model (its generator has latent codes and ships Q to read them)")
    result = code_recovery(generator, lambda x: generator.read_codes(x, batch_size=batch_size)[0], n=n, seed=seed,
                           batch_size=batch_size)
    return {**({"model": spec} if spec else {}), **result}
