"""Unrolled GAN: Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017,
arXiv:1611.02163.

G's loss anticipates D's reply: it is evaluated at D's parameters after K more D updates,

    theta_D^0 = theta_D,   theta_D^{k+1} = theta_D^k - step(grad of D's loss at theta_D^k),
    G minimises f(theta_G, theta_D^K(theta_G, theta_D)),

with the step of D's own optimizer (Adam, continued from its current moments and step count, as the paper
unrolls it). ``second_order=True`` backpropagates G's gradient through the K updates (the paper's method);
``second_order=False`` treats theta_D^K as constants, a cheaper first-order variant. D itself is updated with the
ordinary one-step gradient, and the unrolled copies never touch D's parameters, buffers or optimizer.
Deviations: DCGAN networks on 28x28 images; the unrolled D losses leave out regularizer penalties; the bundled
``unrolled-gan-fmnist`` is first order at width 64 (second order cost 2.6x the time a step there: see its recipe).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import functional_call

from ..engine import GANModule
from ..errors import InvalidArgumentError
from ..registry import register_family
from .dcgan import DCGANNetworks


def adam_step(param: Tensor, grad: Tensor, state: dict, group: dict, steps_ahead: int,
              moments: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One Adam update as a differentiable function of ``grad`` (torch.optim.Adam's arithmetic, no weight decay).
    ``moments`` are the running (m, v) of the unrolled trajectory; the step count continues D's optimizer's."""
    beta1, beta2 = group["betas"]
    m, v = moments
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    step = float(state["step"]) + steps_ahead if "step" in state else steps_ahead
    m_hat = m / (1 - beta1 ** step)
    v_hat = v / (1 - beta2 ** step)
    return param - group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]), (m, v)


@register_family("unrolled")
class UnrolledGAN(DCGANNetworks, GANModule):
    def __init__(self, latent_dim: int = 64, width: int = 64, img_channels: int = 1, img_size: int = 28,
                 unroll_steps: int = 5, second_order: bool = True, **kwargs):
        if unroll_steps < 0:
            raise InvalidArgumentError(f"unroll_steps must be >= 0, got {unroll_steps}")
        if kwargs.get("optimizer", "adam") != "adam" or kwargs.get("step_mode", "alternating") != "alternating":
            raise InvalidArgumentError("the unrolled GAN unrolls D's Adam updates: keep optimizer 'adam' and "
                                       "step_mode 'alternating'")
        super().__init__(**kwargs)

    def unrolled_parameters(self, real: Tensor, fake: Tensor, optimizer: torch.optim.Adam | None = None
                            ) -> dict[str, Tensor]:
        """D's parameters after ``unroll_steps`` Adam updates on (real, fake), as functions of ``fake`` (and so of
        G) when ``second_order``; D's buffers are copied, so the unrolled forwards leave D's own untouched.
        ``optimizer`` (default: the trainer's D optimizer) gives the moments and step count to continue from."""
        h = self.hparams
        if optimizer is None and self._trainer is not None:
            optimizer = self.optimizers()[1].optimizer
        named = dict(self.D.named_parameters())
        params = {name: p.detach().clone().requires_grad_(True) for name, p in named.items()}
        buffers = {name: b.clone() for name, b in self.D.named_buffers()}
        group = optimizer.param_groups[0] if optimizer else {"lr": h.lr_d, "betas": tuple(h.betas_d), "eps": 1e-8}
        states = {name: (optimizer.state.get(p, {}) if optimizer else {}) for name, p in named.items()}
        moments = {name: (states[name]["exp_avg"].clone(), states[name]["exp_avg_sq"].clone())
                   if "exp_avg" in states[name] else (torch.zeros_like(p), torch.zeros_like(p))
                   for name, p in params.items()}
        fake_in = fake if h.second_order else fake.detach()
        for k in range(1, h.unroll_steps + 1):
            variables = {**params, **buffers}
            d_loss = self.adversarial_d_loss(functional_call(self.D, variables, (real,)),
                                             functional_call(self.D, variables, (fake_in,)))
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=h.second_order)
            updated = {}
            for (name, p), g in zip(params.items(), grads):
                updated[name], moments[name] = adam_step(p, g, states[name], group, k, moments[name])
            params = updated if h.second_order else {n: p.detach().requires_grad_(True) for n, p in updated.items()}
        return {**params, **buffers}

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        z, _ = self.latents(real.shape[0])
        fake = self.generate(z)
        unrolled = self.unrolled_parameters(real, fake)
        loss = self.loss.g_loss(functional_call(self.D, unrolled, (fake,)))
        return loss, {"loss/g_adv": loss.detach()}
