"""S2GAN, S2GAN-CO and S3GAN: Lučić, Tschannen, Ritter, Zhai, Bachem & Gelly, "High-Fidelity Image Generation With
Fewer Labels", ICML 2019, arXiv:1903.02271.

BigGAN (``zoo.families.biggan``: projection discriminator, hinge loss, orthogonal regularization, EMA) trained with
the labels of only a fraction of the training split. The projection term of D needs a label for every real image;
the three variants differ in where the labels of the unlabelled images come from (``variant``):

- ``s2gan``: a classifier pre-trained on the labelled subset infers them. Here the pre-training is a step at the
  start of training (``on_train_start``): the project's Fashion-MNIST CNN (``zoo.nets.classifier``) trained with
  cross-entropy on the labelled subset for ``classifier_steps`` Adam steps, seeded by ``label_seed`` alone; it then
  stays fixed (eval mode) and labels every real batch by its argmax. It is saved in the checkpoint, so a resumed run
  does not train it again.
- ``s2gan-co``: no pre-training; a linear head c_CT on D's representation h = D~(x) is co-trained with D on the
  labelled subset, L_D += ``class_weight`` * CE(c_CT(D~(x_l)), y_l), and its argmax on each unlabelled real image
  (no gradient) is the label D's projection sees for that image.
- ``s3gan``: ``s2gan-co`` plus the self-supervised rotation task of SS-GAN (Chen, Zhai, Lučić & Houlsby,
  "Self-Supervised GANs via Auxiliary Rotation Loss", CVPR 2019, arXiv:1811.11212), which S3GAN adopts: every image
  is rotated by 0, 90, 180 and 270 degrees and a 4-way linear head on D~ predicts the rotation; L_D += beta * CE on
  rotated real images, L_G += alpha * CE on rotated fakes, with the paper's beta = 1 (``rotation_weight_d``) and
  alpha = 0.2 (``rotation_weight_g``). D's parameters see only the real images' rotation loss (the engine freezes D
  in G's step).

In every variant G is conditioned on labels drawn uniformly, as BigGAN, and the labels of the data module's batches
are never read: the labelled subset (``zoo.data.labels.LabelledSubset``, as TripleGAN's) is a balanced, seeded choice
of round(``label_fraction`` * N / classes) examples per class of the N training images (``label_fraction`` 1: all
of them; the paper's headline points are 10% and 20% of ImageNet's labels), and its labels are the only ones the
losses use.

Deviations from the paper (ImageNet at 128px, batch 2048, BigGAN's full architecture):
- S2GAN's classifier is the project's supervised CNN on the labelled images alone, at the GAN's resolution (its
  global average pooling takes 32px as well as 28px, so the data module's resized images are used unchanged); the
  paper pre-trains a self-supervised (rotation or exemplar) feature extractor on all images and a linear classifier
  on the labelled ones.
- Every image of the data module's batch gets the predicted label, also the ~``label_fraction`` of them that lie in
  the labelled subset (the paper uses their true labels: the batches here carry no index to tell them apart); the
  class loss draws its own batch of ``labelled_batch_size`` (default: the real batch size) from the labelled subset,
  with replacement.
- The rotation losses use the first ``rotated_batch_size`` images of the real batch and of the fakes (default: all;
  the authors' compare_gan code, too, can rotate part of the batch to save compute), each in all four rotations.
- The class and rotation heads are spectrally normalised linear layers, like every other layer of D.
- Sizes, learning rates and schedules are the recipe's (``recipes/s3gan-fmnist.yaml``: a 32px CPU-sized BigGAN, as
  ``recipes/biggan-fmnist.yaml``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.labels import LabelledSubset
from ..engine import loss_precision
from ..errors import InvalidArgumentError
from ..metrics.classifier import class_accuracy
from ..nets.biggan import orthogonal_init
from ..nets.classifier import FashionMNISTNet
from ..nets.s3gan import S3GANDiscriminator, rotated
from ..registry import register_family
from .biggan import BigGAN

VARIANTS = ("s2gan", "s2gan-co", "s3gan")


def rotation_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """-E_r log Q_D(r | rot(x, r)): the cross-entropy of the rotation head's logits [4N, 4] against ``targets``."""
    return F.cross_entropy(loss_precision(logits), targets)


@register_family("s3gan")
class S3GAN(LabelledSubset, BigGAN):
    """Args beyond BigGAN's: ``variant`` (s2gan | s2gan-co | s3gan), ``label_fraction`` and ``label_seed`` (the
    labelled subset), ``labelled_batch_size`` (the class loss's batch; None: the real batch size), ``class_weight``
    (of c_CT's cross-entropy in D's loss), ``rotation_weight_d`` / ``rotation_weight_g`` (S3GAN's beta / alpha),
    ``rotated_batch_size`` (None: the whole batch), and S2GAN's classifier: ``classifier_width``,
    ``classifier_steps``, ``classifier_lr``, ``classifier_batch_size``. The other defaults are BigGAN's, except
    ``num_classes`` 10 and ``img_channels`` 1 (Fashion-MNIST, which S2GAN's classifier reads)."""

    def __init__(self, variant: str = "s3gan", label_fraction: float = 0.1, label_seed: int = 0,
                 labelled_batch_size: int | None = None, class_weight: float = 1.0, rotation_weight_d: float = 1.0,
                 rotation_weight_g: float = 0.2, rotated_batch_size: int | None = None, classifier_width: int = 32,
                 classifier_steps: int = 1000, classifier_lr: float = 1e-3, classifier_batch_size: int = 64,
                 num_classes: int = 10, img_channels: int = 1, **kwargs):
        if variant not in VARIANTS:
            raise InvalidArgumentError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if not 0 < label_fraction <= 1:
            raise InvalidArgumentError(f"label_fraction is the labelled share of the train split: it must be in "
                                       f"(0, 1], got {label_fraction}")
        if num_classes < 2:
            raise InvalidArgumentError(f"S3GAN infers class labels: num_classes must be >= 2, got {num_classes}")
        for name, value in (("labelled_batch_size", labelled_batch_size), ("rotated_batch_size", rotated_batch_size)):
            if value is not None and value < 1:
                raise InvalidArgumentError(f"{name} must be >= 1 (or null: the real batch size), got {value}")
        if not (class_weight >= 0 and rotation_weight_d >= 0 and rotation_weight_g >= 0):
            raise InvalidArgumentError(f"need class_weight, rotation_weight_d and rotation_weight_g >= 0, got "
                                       f"{class_weight}, {rotation_weight_d} and {rotation_weight_g}")
        if variant == "s2gan":
            if img_channels != 1:
                raise InvalidArgumentError(f"S2GAN's classifier (zoo.nets.classifier.FashionMNISTNet) reads 1-channel "
                                           f"images: set img_channels 1 or variant s2gan-co, got {img_channels}")
            if classifier_steps < 1 or classifier_batch_size < 1 or not classifier_lr > 0:
                raise InvalidArgumentError(f"S2GAN pre-trains its classifier: need classifier_steps >= 1, "
                                           f"classifier_batch_size >= 1 and classifier_lr > 0, got {classifier_steps}, "
                                           f"{classifier_batch_size} and {classifier_lr}")
        super().__init__(num_classes=num_classes, img_channels=img_channels, **kwargs)
        if variant == "s2gan":
            with torch.random.fork_rng(devices=[]):  # its own seed: the same classifier on every process and rerun
                torch.manual_seed(label_seed)
                self.C = FashionMNISTNet(classifier_width, num_classes).requires_grad_(False).eval()
            self.register_buffer("classifier_trained", torch.zeros((), dtype=torch.bool))

    def build_discriminator(self) -> S3GANDiscriminator:
        h = self.hparams
        return orthogonal_init(S3GANDiscriminator(h.num_classes, h.img_size, h.img_channels, h.d_width or h.width,
                                                  h.channel_multipliers, h.d_attention_at,
                                                  class_head=h.variant != "s2gan", rotation_head=h.variant == "s3gan"))

    def summary(self) -> str:
        if self.hparams.variant != "s2gan":
            return super().summary()
        count = sum(p.numel() for p in self.C.parameters())
        return (f"{super().summary()}\nC      {type(self.C).__name__:<22} {count:>7} params  (S2GAN's label "
                f"classifier, pre-trained at the start)")

    # ------------------------------------------------------------------ the labelled subset and S2GAN's classifier
    def labelled_subset_spec(self) -> tuple[int, int, int]:
        h = self.hparams
        n = len(self.trainer.train_dataloader.dataset)
        per_class = n // h.num_classes if h.label_fraction == 1 else round(h.label_fraction * n / h.num_classes)
        if per_class < 1:
            raise InvalidArgumentError(f"label_fraction {h.label_fraction} of {n} training images is less than one "
                                       f"label per class ({h.num_classes} classes): raise label_fraction")
        return per_class * h.num_classes, h.num_classes, h.label_seed

    def on_train_start(self) -> None:
        super().on_train_start()  # picks the labelled subset
        if self.hparams.variant == "s2gan" and not self.classifier_trained:
            self.pretrain_classifier()

    def pretrain_classifier(self) -> None:
        """Train C on the labelled subset (cross-entropy, Adam), seeded by ``label_seed`` alone, then freeze it."""
        h = self.hparams
        C = self.C.train().requires_grad_(True)
        self.pretrain_on_labelled(C, h.classifier_steps, h.classifier_batch_size, h.classifier_lr, seed=h.label_seed)
        C.requires_grad_(False).eval()
        self.classifier_trained.fill_(True)

    # ------------------------------------------------------------------ labels of the real images
    def infer_labels(self, real: Tensor) -> Tensor | None:
        """The labels D's projection sees for unlabelled real images: S2GAN's classifier's argmax; None for the
        co-trained variants, whose D predicts them with its own class head in the same pass."""
        if self.hparams.variant != "s2gan":
            return None
        with torch.no_grad():
            return self.C.eval()(real).argmax(1)  # eval: the Trainer's model.train() also reaches C

    def class_logits(self, images: Tensor) -> Tensor:
        """The logits of the classifier that labels real images: S2GAN's C, or D's class head c_CT."""
        if self.hparams.variant == "s2gan":
            return self.C(images)
        return self.D(images, heads=True)[1]

    def label_accuracy(self, images: Tensor, labels: Tensor, batch_size: int = 1000) -> dict:
        """How well the inferred labels match ``labels`` (images float in [-1, 1], eval mode): {"accuracy",
        "per_class", "n"}, as ``zoo.metrics.classifier.class_accuracy``; ``benchmarks/label_efficiency.py`` scores a
        run's checkpoint on the train and test splits."""
        net = self.C if self.hparams.variant == "s2gan" else self.D
        return class_accuracy(net, images, labels, self.hparams.num_classes, batch_size, predict=self.class_logits)

    # ------------------------------------------------------------------ the losses
    def rotation_term(self, images: Tensor) -> Tensor:
        """The rotation loss of the first ``rotated_batch_size`` of ``images``, each in its four rotations."""
        r = self.hparams.rotated_batch_size or len(images)
        x, targets = rotated(images[:r])
        return rotation_loss(self.net("D")(x, heads=True)[2], targets)

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """BigGAN's D loss with the inferred labels in the projection, plus c_CT's class loss (co-trained variants)
        and the real images' rotation loss (S3GAN). ``labels`` (the data module's) are not read."""
        h = self.hparams
        loss, logs = super().discriminator_loss(real, self.infer_labels(real))
        if h.variant != "s2gan":
            x_l, y_l = self.labelled_batch(h.labelled_batch_size or len(real))
            logits = loss_precision(self.net("D")(x_l, y_l, heads=True)[1])
            class_loss = F.cross_entropy(logits, y_l)
            loss = loss + h.class_weight * class_loss
            logs.update({"loss/d_class": class_loss.detach(),
                         "d/labelled_accuracy": (logits.detach().argmax(1) == y_l).float().mean()})
        if h.variant == "s3gan":
            rotation = self.rotation_term(real)
            loss = loss + h.rotation_weight_d * rotation
            logs["loss/d_rotation"] = rotation.detach()
        return loss, logs

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """BigGAN's G loss on fakes of uniform labels, plus alpha times the fakes' rotation loss (S3GAN)."""
        h = self.hparams
        z, y = self.latents(real.shape[0])
        fake = self.generate(z, y)
        fake_scores = loss_precision(self.discriminate(fake, y))
        real_scores = None
        if self.loss.g_needs_real:
            with torch.no_grad():
                real_scores = loss_precision(self.discriminate(real, self.infer_labels(real)))
        loss = self.loss.g_loss(fake_scores, real_scores)
        logs = {"loss/g_adv": loss.detach()}
        if h.variant == "s3gan":
            rotation = self.rotation_term(fake)
            loss = loss + h.rotation_weight_g * rotation
            logs["loss/g_rotation"] = rotation.detach()
        return loss, logs
