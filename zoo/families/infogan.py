"""InfoGAN: Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, "InfoGAN: Interpretable Representation Learning
by Information Maximizing Generative Adversarial Nets", NeurIPS 2016, arXiv:1606.03657.

G's input is noise plus latent codes c (here one 10-way categorical code and 2 continuous codes uniform on [-1, 1],
the paper's MNIST setup; ``zoo.nets.infogan``), and a head Q on D's body reads c back from G(z, c). The game is
min_{G,Q} max_D V(D, G) - lambda L_I(G, Q), with the variational lower bound of the mutual information

    L_I = E_{c ~ p(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c)).

Q's categorical part is a softmax (log Q = -cross-entropy, H = log 10); each continuous code is a Gaussian with
Q's mean and a standard deviation that is fixed at 1 (the paper's released MNIST code, ``learn_std: false``) or
predicted (``learn_std: true``, log sigma clamped to >= -5 so the bound cannot run to infinity), with
H(U[-1, 1]) = log 2 per code. The info loss lambda_cat * CE + lambda_cont * NLL_cont (lambda 1 and 0.1, as the
paper) enters both objectives: D's step minimises it on the step's fakes with D's body and Q's head (Q is part of
D's parameters), G's step through the frozen D and Q, as in the paper's code. Both lower bounds, in nats, are
logged (``info/mi_categorical`` <= log 10, ``info/mi_continuous`` <= H but unbounded above for a learned sigma);
``q_codes`` reads the codes of any images, and ``zoo.metrics.code_recovery`` scores the categorical code's recovery.
Q ships with the exported weights as the model's encoder (``encoder_network`` is "D", ``exported_encoder`` cuts
Q out of it: ``zoo.nets.infogan.InfoGANCodeReader``), so a loaded model reads codes back (``G.read_codes``) and
``zoo recovery NAME`` scores it with no training code.
Deviations: DCGAN-style 28x28 networks (the paper's MNIST nets add a 1024-unit layer to each), Adam with the
paper's learning rates (D 2e-4, G 1e-3, beta1 0.5).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..engine import GANModule, loss_precision
from ..errors import InvalidArgumentError
from ..nets.infogan import InfoGANCodeReader, InfoGANDiscriminator, InfoGANGenerator
from ..registry import register_family

LOG_STD_MIN = -5.0


def info_loss(logits: Tensor, mean: Tensor, log_std: Tensor | None, categorical: Tensor, continuous: Tensor,
              lambda_categorical: float, lambda_continuous: float) -> tuple[Tensor, dict[str, Tensor]]:
    """lambda_cat * CE(logits, c1) + lambda_cont * sum_j mean_b -log N(c_j; mean, sigma), sigma = 1 without
    ``log_std``; and the logs, with the mutual-information lower bounds H(c) - E[-log Q(c | x)]."""
    ce = F.cross_entropy(logits, categorical)
    log_sigma = torch.zeros_like(mean) if log_std is None else log_std.clamp(min=LOG_STD_MIN)
    nll = (0.5 * math.log(2 * math.pi) + log_sigma + 0.5 * ((continuous - mean) / log_sigma.exp()).pow(2))
    nll = nll.sum(1).mean()
    loss = lambda_categorical * ce + lambda_continuous * nll
    k, c = logits.shape[1], mean.shape[1]
    logs = {"info/loss": loss.detach(), "info/mi_categorical": math.log(k) - ce.detach(),
            "info/mi_continuous": c * math.log(2) - nll.detach(),
            "info/accuracy_categorical": (logits.detach().argmax(1) == categorical).float().mean()}
    return loss, logs


@register_family("infogan")
class InfoGAN(GANModule):
    """Args beyond the engine's: ``noise_dim``, ``categorical``, ``continuous`` (the codes), ``lambda_categorical``,
    ``lambda_continuous``, ``learn_std``, ``q_hidden`` (Q's hidden units)."""

    network_switches = ("g_dropout",)
    #: Q, part of D, ships as the loaded model's encoder (its code reader; ``exported_encoder``)
    encoder_network = "D"

    def __init__(self, noise_dim: int = 62, categorical: int = 10, continuous: int = 2, width: int = 64,
                 img_channels: int = 1, img_size: int = 28, lambda_categorical: float = 1.0,
                 lambda_continuous: float = 0.1, learn_std: bool = False, q_hidden: int = 128, loss: str = "ns",
                 lr_g: float = 1e-3, lr_d: float = 2e-4, **kwargs):
        if not (lambda_categorical >= 0 and lambda_continuous >= 0):
            raise InvalidArgumentError(f"lambda_categorical and lambda_continuous must be >= 0, got "
                                       f"{lambda_categorical} and {lambda_continuous}")
        super().__init__(loss=loss, lr_g=lr_g, lr_d=lr_d, **kwargs)

    def build_generator(self) -> InfoGANGenerator:
        h = self.hparams
        return InfoGANGenerator(h.noise_dim, h.categorical, h.continuous, h.width, h.img_channels, h.img_size,
                                dropout=h.g_dropout)

    def build_discriminator(self) -> InfoGANDiscriminator:
        h = self.hparams
        return InfoGANDiscriminator(h.categorical, h.continuous, h.width, h.img_channels, h.img_size, h.q_hidden,
                                    h.learn_std)

    def exported_encoder(self, network: nn.Module) -> InfoGANCodeReader:
        """Q alone (D's body + Q's head) from a copy of D: the code reader the exported folder ships."""
        return network.code_reader()

    def scores_and_info(self, fake: Tensor, z: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """D's scores of ``fake`` = G(z) (with instance noise) and the info loss of Q's reading of them."""
        scores, q = self.net("D")(self.with_instance_noise(fake), q=True)
        logits, mean, log_std = self.D.split_q(loss_precision(q))
        categorical, continuous = self.G.codes(z)
        h = self.hparams
        info, logs = info_loss(logits, mean, log_std, categorical, continuous.to(mean.dtype), h.lambda_categorical,
                               h.lambda_continuous)
        return loss_precision(scores), info, logs

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        with torch.no_grad():
            fake = self.generate(z)
        real_scores = loss_precision(self.discriminate(real))
        fake_scores, info, logs = self.scores_and_info(fake, z)
        adversarial = self.adversarial_d_loss(real_scores, fake_scores)
        logs.update({"loss/d_adv": adversarial.detach(), "d/real_score": real_scores.detach().mean(),
                     "d/fake_score": fake_scores.detach().mean()})
        return self.discriminator_penalties(adversarial + info, logs, real, fake, None)

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        fake_scores, info, logs = self.scores_and_info(self.generate(z), z)
        real_scores = None
        if self.loss.g_needs_real:
            with torch.no_grad():
                real_scores = loss_precision(self.discriminate(real))
        adversarial = self.loss.g_loss(fake_scores, real_scores)
        logs = {f"{key}_g": value for key, value in logs.items()}  # the G step's fakes, beside the D step's
        logs["loss/g_adv"] = adversarial.detach()
        return adversarial + info, logs

    @torch.no_grad()
    def q_codes(self, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
        """Q's reading of ``images`` (in [-1, 1]) with D in eval mode: (categorical logits, continuous means)."""
        was_training, device = self.D.training, next(self.D.parameters()).device
        self.D.eval()
        try:
            parts = [self.D.read_codes(images[i:i + batch_size].to(device)) for i in range(0, len(images), batch_size)]
        finally:
            self.D.train(was_training)
        return torch.cat([p[0].cpu() for p in parts]), torch.cat([p[1].cpu() for p in parts])
