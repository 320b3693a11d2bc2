"""BEGAN: Berthelot, Schumm & Metz, "BEGAN: Boundary Equilibrium Generative Adversarial Networks", arXiv:1703.10717.

D is an autoencoder with L(v) = |v - D(v)| (mean absolute reconstruction error, eta = 1). Instead of matching image
distributions it matches the distributions of reconstruction losses:

    L_D = L(x) - k_t L(G(z_D))          L_G = L(G(z_G))
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1),   k_0 = 0

a proportional controller that holds E[L(G(z))] = gamma E[L(x)]; gamma (the diversity ratio) trades diversity for
quality. The convergence measure M_global = L(x) + |gamma L(x) - L(G(z_G))| and k_t are recorded at every generator
update (``began/M_global``, ``began/k`` in ``step_logs``) and written on the logger's steps. Networks as the
paper: ELU, no BatchNorm, nearest-neighbour upsampling, G = the decoder architecture (``zoo.nets.autoencoder``).
``networks="dcgan"`` swaps both for DCGAN's (DCGAN's G, EBGAN's BatchNorm autoencoder D) with the same L1 energy
and controller: a deviation from the paper, which the bundled began-fmnist takes (with gamma 1.0) because the ELU
networks collapsed onto footwear there (see its recipe). The paper's optimiser is Adam(1e-4) with its betas at
(0.5, 0.999) here; its lr halving when M stalls is replaced by the engine's lr_schedule. On several processes k_t
follows the losses averaged over all of them. D-side regularizer penalties are not applied to its D loss.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..engine import GANModule
from ..errors import InvalidArgumentError
from ..nets.autoencoder import AutoencoderDiscriminator, BEGANGenerator
from ..nets.dcgan import DCGANGenerator
from ..registry import register_family


@register_family("began")
class BEGAN(GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 gamma: float = 0.5, lambda_k: float = 0.001, lr_g: float = 1e-4, lr_d: float = 1e-4,
                 networks: str = "began", **kwargs):
        if networks not in ("began", "dcgan"):
            raise InvalidArgumentError(f"networks must be 'began' (the paper's ELU autoencoder) or 'dcgan', got "
                                       f"{networks!r}")
        if kwargs.get("step_mode", "alternating") != "alternating" or kwargs.get("n_critic", 1) != 1:
            raise InvalidArgumentError("BEGAN's controller k_t steps with every D and G update pair: train it with "
                                       "step_mode 'alternating' and n_critic 1")
        super().__init__(loss="wasserstein", lr_g=lr_g, lr_d=lr_d, **kwargs)  # the loss object is unused (below)
        self.register_buffer("k", torch.zeros(()))  # saved in checkpoints with the weights

    def build_generator(self) -> BEGANGenerator | DCGANGenerator:
        h = self.hparams
        generator = BEGANGenerator if h.networks == "began" else DCGANGenerator
        return generator(h.latent_dim, h.width, h.img_channels, h.img_size)

    def build_discriminator(self) -> AutoencoderDiscriminator:
        h = self.hparams
        return AutoencoderDiscriminator(h.width, h.latent_dim, h.img_channels, h.img_size, style=h.networks,
                                        energy="l1")

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        with torch.no_grad():
            fake = self.generate(z)
        loss_real, loss_fake = self.discriminate(real).mean(), self.discriminate(fake).mean()
        loss = loss_real - self.k * loss_fake
        return loss, {"loss/d_adv": loss.detach(), "began/L_real": loss_real.detach(),
                      "began/L_fake_d": loss_fake.detach()}

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        loss = self.discriminate(self.generate(z)).mean()
        return loss, {"loss/g_adv": loss.detach()}

    def training_step(self, batch: Any, batch_idx: int) -> None:
        super().training_step(batch, batch_idx)  # one D update and one G update (n_critic 1)
        h, logs = self.hparams, self.step_logs
        # the means over every process, so that k_t stays one number on all of them (a no-op with one)
        loss_real, loss_g = (self.trainer.strategy.reduce(logs[key], reduce_op="mean")
                             for key in ("began/L_real", "loss/g_adv"))
        balance = h.gamma * loss_real - loss_g
        self.k.copy_((self.k + h.lambda_k * balance).clamp(0, 1))
        controller = {"began/M_global": loss_real + balance.abs(), "began/k": self.k.clone()}
        logs.update(controller)  # step_logs, for callbacks, every step
        if self.should_log_step():  # the engine's path to the loggers (self.log would cost ~0.5 ms a value a step)
            self.log_step_metrics(controller)
