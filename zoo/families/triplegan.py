"""TripleGAN: Li, Xu, Zhu & Zhang, "Triple Generative Adversarial Nets", NeurIPS 2017, arXiv:1703.02291.

Three players on a few labels and many unlabelled images. A class-conditional generator G(z, y) draws pairs
(G(z, y), y) with y uniform; a classifier C labels unlabelled images, giving pairs (x, y_c) with y_c ~ p_c(y | x);
a discriminator D(x, y) judges pairs only: real labelled pairs against the pairs of G and of C. The game,

    min_{C,G} max_D  E_{(x,y)~labelled}[log D(x, y)] + alpha E_{x~unlabelled, y~p_c(y|x)}[log(1 - D(x, y))]
                     + (1 - alpha) E_{y,z}[log(1 - D(G(z, y), y))],

with alpha = 1/2 (the paper's), plus two terms for C: R_L, C's cross-entropy on the labelled pairs, and
alpha_P R_P (``pseudo_weight``), C's cross-entropy on G's pairs (G's label as the target: a pseudo-label), with G's
image detached there so R_P trains C only. At the equilibrium both p_c(x, y) and p_g(x, y) equal the data's.

What runs here, each step (``generator_networks = ("G", "C")``: C trains in G's optimizer step, with G's Adam
settings, while the engine freezes D):

- D minimises softplus(-D(x_l, y_l)) + alpha softplus(D(x_u, y_c)) + (1 - alpha) softplus(D(G(z, y), y)), each a
  batch mean (the negated game above, D's scores being logits). (x_l, y_l): a batch of the real batch's size drawn
  with replacement from the fixed labelled subset (``zoo.data.labels.LabelledSubset``: ``semi_supervised_labels``
  examples, the same number per class, chosen by ``label_seed``); x_u: the data module's batch, whose labels are
  never read; y_c sampled from C (without gradient).
- G minimises (1 - alpha) times the adversarial G loss of D(G(z, y), y): non-saturating softplus(-s) with
  ``loss: ns`` (default; the paper writes the saturating log(1 - D), ``loss: minimax``).
- C minimises alpha mean(sg(log(1 - D(x_u, y_c))) log p_c(y_c | x_u)) + R_L + alpha_P R_P, sg = stop-gradient,
  over the images that give C's pairs in D's step (the whole batch unless ``unlabelled_real``).
  The first term is the score-function (REINFORCE) estimator of the gradient of C's adversarial term through the
  discrete sampled label: grad E_{y~p_c}[f(y)] = E[f(y) grad log p_c(y)], one sample y_c per image, no baseline.
  Since f = log(1 - D) < 0, every sampled label gains probability, in proportion to how real D finds its pair.

Deviations: DCGAN-sized G and D (CGAN's networks, ``zoo.nets.cgan``: G's class embedding joins z, D's label map
joins the image as extra channels) and the project's Fashion-MNIST CNN as C (``zoo.nets.classifier``), not the
paper's MNIST/SVHN/CIFAR-10 networks; Adam(2e-4, 0.5) for all three. R_P is off for the first ``pseudo_start``
generator iterations (the paper, too, adds R_P only once G's samples are meaningful; this count is a first choice,
as is alpha_P = ``pseudo_weight`` 0.1). The paper's further, biased aids to C on SVHN/CIFAR-10 (consistency
regularisation of C, data augmentation) are not used. In C's pseudo-label forward pass BatchNorm normalises with
the batch's statistics but leaves C's running statistics (those of test time) to real images.

``unlabelled_real`` k (0 by default: the paper's objective) follows the authors' code (Theano, MNIST: D's real pairs
are 1 labelled pair and 400 unlabelled images with C's argmax labels): the first k images of the data module's
batch, labelled by C's argmax without gradient, join D's real pairs in place of k labelled ones, and the other
B - k give C's pairs. With 100 labels and k = 0, D's only real images are those 100, which G learns to copy.

``class_balance`` (0 by default) adds that code's class-balance term to C's loss on the unlabelled batch
(``class_balance_loss``; the authors weigh it 0.3 while pre-training C on the labels and 1e-3 after, and also add an
entropy term and pre-train C, which this file does not): with ``unlabelled_real``, C's argmax labels become D's
real pairs, which reward C's own labels back through its adversarial term, and without the term C collapsed onto
four classes (test accuracy 0.31, see the recipe).

``classifier_pairs`` "expected" (the authors' code's "integrate" objective; "sampled" by default) replaces the one
sampled label per image by every label weighted by C's probability: D's term for C's pairs is
mean_x sum_y sg(p_c(y | x)) softplus(D(x, y)), and C's adversarial term the exact expectation
mean_x sum_y p_c(y | x) g(D(x, y)), with D's scores as constants and g = softplus(-s) = -log D (``loss: ns``, C
fools D, the authors' form) or -softplus(s) = log(1 - D) (``minimax``, the paper's). No estimator: the gradient
moves probability towards the labels whose pairs D finds more real than C's average one and away from the others,
where REINFORCE without a baseline raises every sampled label's. It costs D passes over every (image, label) pair:
K times C's images. With ``unlabelled_real`` it is a trap (the recipe's fourth run: C fell to 0.048 on the test
split): D's real pairs then carry C's own argmax labels, so the exact gradient follows D to whatever labelling of the
unlabelled images the two agree on.

``classifier_pretrain_steps`` N (0 by default) trains C on the labelled subset alone before the game, as the authors
do (their 30 epochs also carry entropy and class-balance terms, which this pre-training does not): N Adam steps of
cross-entropy (G's learning rate and betas, batches of ``semi_supervised_labels`` drawn with replacement, seeded by
``label_seed``) at the start of a new run, not of a resumed one. C's argmax labels of D's real pairs
(``unlabelled_real``) then start near the labels-only network's accuracy (0.717 on the test split,
``benchmarks/semi_supervised.py``'s baseline) instead of at random.

``real_pair_labeller`` "pretrained" ("classifier" by default: C as it trains, the authors' code) labels D's
unlabelled real pairs (``unlabelled_real``) by the argmax of a frozen copy of C taken after its pre-training
(``C_pretrained``, in eval mode), so C's adversarial term cannot move the labels D takes for real: with C's own
labels there, C drifted from its pre-trained ~0.72 to 0.549 and 0.048 on the test split (the recipe's fifth and
fourth runs). The labels are then as right as the labels-only network's (S2GAN's inferred labels, with C's
pre-training as the inferring classifier). The recipe does this (its sixth run, ``triplegan-fmnist``): C ended at
0.727 on the test split against the labels-only network's 0.717, and G at FID 4.04, KL 0.038, label accuracy 0.897.

C's test-split accuracy: ``test_accuracy()``; ``benchmarks/semi_supervised.py`` reads C from the run's checkpoint
(``C.*``) and trains the same network on the same labels alone as the baseline. G is exported as usual (a
class-conditional generator; its label accuracy is the leaderboard's).
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.labels import LabelledSubset
from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..layers import running_stats_frozen
from ..metrics.classifier import class_accuracy
from ..nets.classifier import FashionMNISTNet
from ..registry import register_family
from ..regularizers import refuse_input_penalties
from .cgan import CGANNetworks


def classifier_adversarial_loss(log_probs: Tensor, sampled: Tensor, pair_scores: Tensor) -> Tensor:
    """The REINFORCE surrogate of C's adversarial term E_{y~p_c(y|x)}[log(1 - D(x, y))]: the batch mean of
    sg(log(1 - D(x, y_c))) * log p_c(y_c | x), whose gradient in C is the score-function estimate of that term's.
    ``log_probs``: C's log-probabilities [N, K]; ``sampled``: y_c [N]; ``pair_scores``: D's logits of (x, y_c)."""
    log_one_minus_d = -F.softplus(pair_scores.detach())
    return (log_one_minus_d * log_probs.gather(1, sampled[:, None]).squeeze(1)).mean()


def classifier_expected_loss(probs: Tensor, label_scores: Tensor, loss: str = "ns") -> Tensor:
    """C's adversarial term summed over every label: mean_x sum_y p_c(y | x) g(D(x, y)), with g = softplus(-s)
    (``ns``: -log D, C fools D) or -softplus(s) (``minimax``: log(1 - D)). ``probs``: C's probabilities [N, K];
    ``label_scores``: D's logits of (x, y) for every label y [N, K], constants here (C's loss never trains D)."""
    scores = label_scores.detach().float()
    g = F.softplus(-scores) if loss == "ns" else -F.softplus(scores)
    return (probs.float() * g).sum(1).mean()


def class_balance_loss(log_probs: Tensor) -> Tensor:
    """The cross-entropy of the batch's mean prediction against uniform class targets, -1/K sum_k log mean_i
    p_c(k | x_i) (the authors' code's "average" term): it grows without bound as C stops predicting a class
    anywhere in the batch. ``log_probs``: C's log-probabilities [N, K] of unlabelled images."""
    log_mean = torch.logsumexp(log_probs.float(), 0) - math.log(log_probs.shape[0])
    return -log_mean.mean()


@register_family("triplegan")
class TripleGAN(LabelledSubset, CGANNetworks, GANModule):
    """Args beyond the engine's: ``embed_dim`` and ``label_channels`` (CGAN's networks), ``classifier_width``
    (C's width), ``semi_supervised_labels`` and ``label_seed`` (the labelled subset), ``alpha``, ``pseudo_weight``
    (alpha_P), ``pseudo_start`` (G iterations without R_P), ``unlabelled_real`` (D's real pairs drawn from the
    unlabelled batch with C's argmax labels, the authors' code; 0: the paper's objective), ``class_balance``
    (the weight of ``class_balance_loss`` in C's loss, the authors' code; 0: off), ``classifier_pairs``
    ("sampled": one label per image and REINFORCE; "expected": every label, weighted by C) and
    ``classifier_pretrain_steps`` (C's steps on the labels alone before the game; 0: none) and
    ``real_pair_labeller`` (who labels the ``unlabelled_real`` pairs: "classifier", C, or "pretrained", C's frozen
    copy after pre-training)."""

    generator_networks = ("G", "C")
    network_switches = ("g_dropout",)

    def __init__(self, latent_dim: int = 64, width: int = 64, num_classes: int = 10,
                 class_names: list[str] | None = None, img_channels: int = 1, img_size: int = 28,
                 embed_dim: int = 10, label_channels: int = 1, classifier_width: int = 32,
                 semi_supervised_labels: int = 100, label_seed: int = 0, alpha: float = 0.5,
                 pseudo_weight: float = 0.1, pseudo_start: int = 0, unlabelled_real: int = 0,
                 class_balance: float = 0.0, classifier_pairs: str = "sampled", classifier_pretrain_steps: int = 0,
                 real_pair_labeller: str = "classifier", loss: str = "ns", **kwargs):
        if num_classes < 2 or semi_supervised_labels < num_classes or semi_supervised_labels % num_classes:
            raise InvalidArgumentError(f"semi_supervised_labels ({semi_supervised_labels}) must be a positive multiple "
                                       f"of num_classes ({num_classes} >= 2): the same number of labels per class")
        if not 0 < alpha < 1:
            raise InvalidArgumentError(f"alpha weighs C's pairs against G's in D's loss: it must be in (0, 1), got "
                                       f"{alpha}")
        if not pseudo_weight >= 0 or pseudo_start < 0:
            raise InvalidArgumentError(f"need pseudo_weight >= 0 and pseudo_start >= 0, got {pseudo_weight} and "
                                       f"{pseudo_start}")
        if not class_balance >= 0:
            raise InvalidArgumentError(f"class_balance weighs a penalty in C's loss: it must be >= 0, got "
                                       f"{class_balance}")
        if unlabelled_real < 0:
            raise InvalidArgumentError(f"unlabelled_real counts D's real pairs taken from the unlabelled batch: it "
                                       f"must be >= 0, got {unlabelled_real}")
        if classifier_pairs not in ("sampled", "expected"):
            raise InvalidArgumentError(f"classifier_pairs must be 'sampled' (one label per image, REINFORCE) or "
                                       f"'expected' (every label, weighted by C), got {classifier_pairs!r}")
        if classifier_pretrain_steps < 0:
            raise InvalidArgumentError(f"classifier_pretrain_steps counts C's steps on the labels before the game: "
                                       f"it must be >= 0, got {classifier_pretrain_steps}")
        if real_pair_labeller not in ("classifier", "pretrained"):
            raise InvalidArgumentError(f"real_pair_labeller must be 'classifier' (C) or 'pretrained' (C's frozen copy "
                                       f"after pre-training), got {real_pair_labeller!r}")
        if real_pair_labeller == "pretrained" and not (unlabelled_real and classifier_pretrain_steps):
            raise InvalidArgumentError("real_pair_labeller 'pretrained' labels the unlabelled_real pairs with C as "
                                       "pre-trained: set unlabelled_real and classifier_pretrain_steps above 0")
        if img_channels != 1:
            raise InvalidArgumentError(f"TripleGAN's classifier (zoo.nets.classifier.FashionMNISTNet) reads 1-channel "
                                       f"images: set img_channels 1, got {img_channels}")
        if loss not in ("ns", "minimax"):
            raise InvalidArgumentError(f"TripleGAN's game is the cross-entropy of D(x, y): train it with loss 'ns' or "
                                       f"'minimax', got {loss!r}")
        if any(kwargs.get(k) for k in ("label_smoothing", "label_noise", "label_flip")):
            raise InvalidArgumentError("TripleGAN's D loss is its own three-term cross-entropy: drop label_smoothing, "
                                       "label_noise and label_flip")
        refuse_input_penalties("TripleGAN", kwargs.get("regularizers"))
        super().__init__(loss=loss, **kwargs)
        self.C = FashionMNISTNet(classifier_width, num_classes)
        if real_pair_labeller == "pretrained":  # filled by pretrain_classifier; a module so checkpoints keep it
            self.C_pretrained = FashionMNISTNet(classifier_width, num_classes).requires_grad_(False).eval()

    def labelled_subset_spec(self) -> tuple[int, int, int]:
        h = self.hparams
        return h.semi_supervised_labels, h.num_classes, h.label_seed

    def summary(self) -> str:
        count = sum(p.numel() for p in self.C.parameters())
        return (f"{super().summary()}\nC      {type(self.C).__name__:<22} {count:>7} params  (the classifier, trained "
                f"in G's optimizer step)")

    def on_train_start(self) -> None:
        super().on_train_start()  # picks the labelled subset
        h = self.hparams
        if h.classifier_pretrain_steps and self.g_iters == 0:  # a new run; a resumed one restored C
            self.pretrain_classifier()

    def pretrain_classifier(self) -> None:
        """``classifier_pretrain_steps`` Adam steps of C on the labelled subset alone (G's lr and betas), then the
        same C on every process (rank 0's)."""
        h = self.hparams
        trainable = [p.requires_grad for p in self.C.parameters()]
        C = self.C.train().requires_grad_(True)
        self.pretrain_on_labelled(C, h.classifier_pretrain_steps, h.semi_supervised_labels, h.lr_g,
                                  tuple(h.betas_g), seed=h.label_seed)
        for p, flag in zip(C.parameters(), trainable):
            p.requires_grad_(flag)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            for tensor in C.state_dict().values():
                torch.distributed.broadcast(tensor, 0)
        if h.real_pair_labeller == "pretrained":
            self.C_pretrained.load_state_dict(C.state_dict())

    def real_pair_labels(self, x: Tensor) -> Tensor:
        """The labels of D's unlabelled real pairs: the argmax of C or of its frozen pre-trained copy (eval mode,
        which Lightning's ``train()`` of the whole module undoes)."""
        if self.hparams.real_pair_labeller == "pretrained":
            return self.C_pretrained.eval()(x).argmax(1)
        return self.C(x).argmax(1)

    # ------------------------------------------------------------------ the three players' losses
    def pair_scores(self, x: Tensor, y: Tensor) -> Tensor:
        return loss_precision(self.discriminate(x, y))

    def every_label_scores(self, x: Tensor) -> Tensor:
        """D's logits of (x, y) for every image and every label y: [N, K]."""
        k = self.hparams.num_classes
        labels = torch.arange(k, device=x.device).repeat(len(x))
        return self.pair_scores(x.repeat_interleave(k, 0), labels).view(len(x), k)

    def sample_labels(self, logits: Tensor) -> Tensor:
        """y_c ~ p_c(y | x) = softmax(C's logits), one draw per image."""
        return torch.multinomial(F.softmax(logits.detach().float(), 1), 1).squeeze(1)

    @property
    def pseudo_active(self) -> bool:
        h = self.hparams
        return h.pseudo_weight > 0 and self.g_iters >= h.pseudo_start

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """``labels`` (the data module's) are not read: real pairs come from the labelled subset, and with
        ``unlabelled_real`` k also from the first k images of the batch, labelled by ``real_pair_labels`` (the rest
        give C's pairs)."""
        alpha, k = self.hparams.alpha, self.hparams.unlabelled_real
        if k >= real.shape[0]:
            raise InvalidArgumentError(f"unlabelled_real ({k}) must be below the batch size ({real.shape[0]}): the "
                                       f"rest of the batch gives C's pairs")
        x_l, y_l = self.labelled_batch(real.shape[0] - k)
        x_u, x_c = real[:k], real[k:]
        z, y_g = self.latents(real.shape[0])
        expected = self.hparams.classifier_pairs == "expected"
        with torch.no_grad():
            fake = self.generate(z, y_g)
            c_logits = self.C(x_c)
            y_c = None if expected else self.sample_labels(c_logits)
            if k:
                x_l, y_l = torch.cat([x_l, x_u]), torch.cat([y_l, self.real_pair_labels(x_u)])
        labelled_scores, fake_scores = self.pair_scores(x_l, y_l), self.pair_scores(fake, y_g)
        if expected:  # every label of each image, weighted by C's probability of it
            weights = F.softmax(c_logits.float(), 1)
            classifier_scores = self.every_label_scores(x_c)
            classifier_term = (weights * F.softplus(classifier_scores)).sum(1).mean()
            mean_classifier_score = (weights * classifier_scores.detach()).sum(1).mean()
        else:
            classifier_scores = self.pair_scores(x_c, y_c)
            classifier_term = F.softplus(classifier_scores).mean()
            mean_classifier_score = classifier_scores.detach().mean()
        labelled_term, generator_term = F.softplus(-labelled_scores).mean(), F.softplus(fake_scores).mean()
        loss = labelled_term + alpha * classifier_term + (1 - alpha) * generator_term
        logs = {"loss/d_adv": loss.detach(), "d/real_score": labelled_scores.detach().mean(),
                "d/classifier_score": mean_classifier_score, "d/fake_score": fake_scores.detach().mean()}
        return self.discriminator_penalties(loss, logs, x_l, fake, y_l)  # weight penalties only (see __init__)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """G's and C's losses together (one optimizer over both); ``labels`` are not read."""
        h = self.hparams
        C = self.net("C")
        z, y_g = self.latents(real.shape[0])
        fake = self.generate(z, y_g)
        g_adv = (1 - h.alpha) * self.loss.g_loss(self.pair_scores(fake, y_g))

        log_probs = F.log_softmax(loss_precision(C(real)), 1)
        k = h.unlabelled_real  # C's pairs are the batch's last B - k images, as in D's step
        x_c, c_log_probs = real[k:], log_probs[k:]
        if h.classifier_pairs == "expected":
            with torch.no_grad():  # D is frozen; only its values enter C's term
                every_label_scores = self.every_label_scores(x_c)
            c_adv = h.alpha * classifier_expected_loss(c_log_probs.exp(), every_label_scores, self.loss.name)
        else:
            y_c = self.sample_labels(c_log_probs)
            with torch.no_grad():  # D is frozen; only its value enters C's surrogate
                classifier_scores = self.pair_scores(x_c, y_c)
            c_adv = h.alpha * classifier_adversarial_loss(c_log_probs, y_c, classifier_scores)

        x_l, y_l = self.labelled_batch(real.shape[0])
        labelled_logits = loss_precision(C(x_l))
        r_l = F.cross_entropy(labelled_logits, y_l)
        loss = g_adv + c_adv + r_l
        if h.class_balance:
            balance = class_balance_loss(log_probs)
            loss = loss + h.class_balance * balance
        logs = {"loss/g_adv": g_adv.detach(), "triplegan/c_adv": c_adv.detach(), "triplegan/r_l": r_l.detach(),
                "triplegan/labelled_accuracy": (labelled_logits.detach().argmax(1) == y_l).float().mean()}
        if h.class_balance:
            logs["triplegan/class_balance"] = balance.detach()
        if self.pseudo_active:
            with running_stats_frozen(self.C):  # C's test-time statistics stay those of real images
                r_p = F.cross_entropy(loss_precision(C(fake.detach())), y_g)
            loss = loss + h.pseudo_weight * r_p
            logs["triplegan/r_p"] = r_p.detach()
        return loss, logs

    # ------------------------------------------------------------------ C as a classifier
    def classifier_accuracy(self, images: Tensor, labels: Tensor, batch_size: int = 1000) -> dict:
        """C's accuracy on ``images`` (float, in [-1, 1]) in eval mode:
        {"accuracy": mean over images, "per_class": [accuracy of each class], "n": count}."""
        return class_accuracy(self.C, images, labels, self.hparams.num_classes, batch_size)

    def test_accuracy(self, root: str | os.PathLike | None = None) -> dict:
        """``classifier_accuracy`` on the Fashion-MNIST test split (``zoo.data``; ``root`` as there)."""
        from ..data.fashion_mnist import load_fashion_mnist, to_model_range

        images, labels = load_fashion_mnist("test", root)
        return self.classifier_accuracy(to_model_range(images, self.hparams.img_size), labels)
