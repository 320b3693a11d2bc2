"""The training engine every family subclasses: a LightningModule with manual dual-optimizer steps.

Counting. Each ``training_step`` (one real batch) makes one discriminator update; every ``n_critic``-th
``training_step`` also makes one generator update. So one *generator iteration* consumes ``n_critic`` real
batches, and Lightning's ``global_step`` (which counts every optimizer step in manual optimization) advances by
``n_critic + 1`` per generator iteration:

    trainer.global_step == d_iters + g_iters == g_iters * (n_critic + 1)   (at a G-iteration boundary)

(``step_mode="one_step"`` makes one optimizer step per batch for both networks: global_step == g_iters == d_iters.)

Recipes therefore stop on ``model.max_g_iters`` (generator iterations) and leave ``trainer.max_steps`` at -1.

EMA. ``G_ema`` tracks G: before ``ema_start`` generator iterations it is a copy of G; after, each generator
update sets ``p_ema <- decay * p_ema + (1 - decay) * p``. Buffers (BatchNorm running statistics, spectral-norm
vectors) are copied from G, not averaged; ``ExportWeights`` re-estimates G_ema's BatchNorm statistics from its
own samples before export. G_ema is used for sample grids, evaluation and export.

Several processes (``zoo.distributed``, strategy ``gan_ddp``). ``net("G")``/``net("D")`` return the network's DDP
wrapper while that network is being updated (so only its gradients are averaged), the module itself otherwise;
``latents`` draws the latents of the whole global batch from the (identically seeded) RNG and keeps this rank's
slice, so N processes with batch B train like one process with batch N*B.

``grad_accum=K`` splits each real batch into K micro-batches whose gradients add up (each loss scaled by 1/K)
before the update, with the latents of the whole batch drawn once. The update equals the full-batch update (to
float rounding) when the networks hold no batch statistics and the regularizers draw no random numbers (WGAN-GP's
interpolation weights are drawn per micro-batch); a network with BatchNorm normalises each micro-batch with its own
statistics, so its update differs from the full batch's: grad_accum then trades memory for a different,
smaller-batch normalisation.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import lightning as L
import torch
from torch import Tensor, nn

from . import distributed, sigterm  # importing distributed registers the "gan_ddp" strategy
from .errors import InvalidArgumentError
from .generator import Encoder
from .losses import GANLoss, Minimax, get_loss
from .regularizers import Regularizer
from .tricks import LabelTargets, instance_noise_std, pack

# Lightning notes at every fit with a data module that the module's own transfer_batch_to_device is used: the
# engine's is meant (it passes a batch already on the device through), so the note says nothing about a run.
warnings.filterwarnings("ignore", message=r"You have overridden `transfer_batch_to_device` in `LightningModule` but")


class GANModule(L.LightningModule):
    """Base GAN LightningModule. Families implement ``build_generator`` and ``build_discriminator``.

    Args:
        loss: adversarial loss, a name from ``zoo.losses.LOSSES`` or a ``GANLoss`` object.
        regularizers: applied in order (gradient penalty, R1, weight clipping, ...).
        lr_g, lr_d, betas_g, betas_d: the two optimizers' own hyperparameters (TTUR: Heusel et al. 2017).
        optimizer: "adam" or "rmsprop" (WGAN with clipping).
        lr_schedule: "constant" or "linear" (linear decay to 0 at ``max_g_iters``), stepped per G iteration.
        n_critic: discriminator updates per generator update, each on a fresh real batch.
        ema_decay, ema_start: EMA generator (see module docstring); ``ema_decay=0`` makes G_ema a copy of G.
        max_g_iters: stop after this many generator iterations (None: let the Trainer decide).
        sample_every: save a fixed-z sample grid every this many generator iterations (0 disables it).
        grad_accum: micro-batches per batch; their gradients are summed (each loss scaled by 1/grad_accum) before
            the update. Under DDP only the last micro-batch synchronises. Equal to the full batch only without batch
            statistics (see the module docstring).
        step_mode: "alternating" (a D update, then every n_critic-th batch a G update) or "one_step" (one loss,
            one backward and one optimizer step for G and D together; see ``one_step_loss``).
        one_step_weight: lambda of the one-step loss, the weight of G's gradient.
        label_smoothing, label_noise, label_flip, instance_noise, pack: training tricks (``zoo.tricks``), off by
            default; pack and g_dropout (dropout after G's hidden layers, in training only) need a family whose
            networks implement them (``network_switches``).
    """

    #: network-level switches this family's build_generator / build_discriminator implement ("pack", "g_dropout")
    network_switches: tuple[str, ...] = ()
    #: the networks G's optimizer updates (a family can add one, e.g. an encoder "E" trained with G's loss)
    generator_networks: tuple[str, ...] = ("G",)
    #: the networks D's optimizer updates and G's step freezes (a family can add one, e.g. MDGAN's second "D2")
    discriminator_networks: tuple[str, ...] = ("D",)

    @property
    def encoder_network(self) -> str | None:
        """The network the loaded model's encoder is exported from (``encoder.safetensors``, ``G.encode``): the
        first ``zoo.generator.Encoder`` among ``generator_networks``, so a family that trains one ships it. A family
        whose encoder is part of another network (InfoGAN's Q, a head on D's body) names that network here and
        overrides ``exported_encoder``."""
        return next((name for name in self.generator_networks if isinstance(getattr(self, name, None), Encoder)), None)

    def exported_encoder(self, network: nn.Module) -> Encoder:
        """The ``Encoder`` shipped beside G, made from ``network``, a copy of the ``encoder_network`` (the last or
        the best-fid weights, as ``ExportWeights`` chose): by default that network itself."""
        return network

    @property
    def ddp_networks(self) -> tuple[str, ...]:
        """The networks ``zoo.distributed`` wraps, each in its own DistributedDataParallel."""
        return (*self.generator_networks, *self.discriminator_networks)

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets _current_fx_name around every hook call (~40 times a step) and the engine its step state;
        # torch's Module.__setattr__ checks the parameter, module and buffer tables first (measured 1.8 us a call
        # against 0.6 us here: ~50 us of a ~11 ms WGAN-28 step). A name already in __dict__ is none of those (torch
        # keeps them apart), so a value that is no tensor or Module can be stored directly, with the same effect.
        if name in self.__dict__ and not isinstance(value, (Tensor, nn.Module)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __init__(
        self,
        *,
        loss: str | GANLoss = "ns",
        regularizers: Sequence[Regularizer] = (),
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.5, 0.999),
        betas_d: tuple[float, float] = (0.5, 0.999),
        optimizer: str = "adam",
        lr_schedule: str = "constant",
        n_critic: int = 1,
        ema_decay: float = 0.999,
        ema_start: int = 0,
        max_g_iters: int | None = None,
        sample_every: int = 500,
        grad_accum: int = 1,
        step_mode: str = "alternating",
        one_step_weight: float = 1.0,
        label_smoothing: float = 0.0,
        label_noise: float = 0.0,
        label_flip: float = 0.0,
        instance_noise: float = 0.0,
        pack: int = 1,
        g_dropout: float = 0.0,
    ):
        super().__init__()
        if n_critic < 1:
            raise InvalidArgumentError(f"n_critic must be >= 1, got {n_critic}")
        if grad_accum < 1:
            raise InvalidArgumentError(f"grad_accum must be >= 1, got {grad_accum}")
        if step_mode not in ("alternating", "one_step"):
            raise InvalidArgumentError(f"step_mode must be 'alternating' or 'one_step', got {step_mode!r}")
        if step_mode == "one_step" and (n_critic != 1 or grad_accum != 1):
            raise InvalidArgumentError("step_mode 'one_step' updates G and D together once per batch: set n_critic 1 "
                                       "and grad_accum 1")
        if optimizer not in ("adam", "rmsprop"):
            raise InvalidArgumentError(f"optimizer must be 'adam' or 'rmsprop', got {optimizer!r}")
        if lr_schedule not in ("constant", "linear"):
            raise InvalidArgumentError(f"lr_schedule must be 'constant' or 'linear', got {lr_schedule!r}")
        if lr_schedule == "linear" and not max_g_iters:
            raise InvalidArgumentError("lr_schedule='linear' decays to 0 at max_g_iters: set model.max_g_iters")
        if pack < 1 or instance_noise < 0 or not 0 <= g_dropout < 1:
            raise InvalidArgumentError(f"need pack >= 1, instance_noise >= 0 and g_dropout in [0, 1), got pack {pack}, "
                                       f"instance_noise {instance_noise}, g_dropout {g_dropout}")
        for switch, used in (("pack", pack > 1), ("g_dropout", g_dropout > 0)):
            if used and switch not in self.network_switches:
                raise InvalidArgumentError(f"{type(self).__name__}'s networks do not implement {switch} (families "
                                           "on DCGAN networks, gan and sngan do)")
        self.save_hyperparameters(ignore=["loss", "regularizers"])
        self.automatic_optimization = False
        self.loss = get_loss(loss)
        self.labels = LabelTargets(label_smoothing, label_noise, label_flip)
        if self.labels.active and not isinstance(self.loss, Minimax):
            raise InvalidArgumentError("label_smoothing, label_noise and label_flip change the targets of the "
                                       f"minimax / non-saturating cross-entropy; this model trains with {self.loss!r}")
        if instance_noise and not max_g_iters:
            raise InvalidArgumentError("instance_noise anneals to 0 at max_g_iters: set model.max_g_iters")
        self.regularizers = list(regularizers)
        if step_mode == "one_step" and (type(self).generator_loss is not GANModule.generator_loss
                                        or type(self).discriminator_loss is not GANModule.discriminator_loss):
            raise InvalidArgumentError(f"{type(self).__name__} has its own generator or discriminator objective, which "
                                       "the one-step loss does not use: train it with step_mode 'alternating'")
        self.G = self.build_generator()
        self.D = self.build_discriminator()
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False).eval()
        self.d_iters = 0
        self.g_iters = 0
        self._phase: str | None = None  # "D" or "G" while that network's loss is computed and backpropagated
        self._micro = (0, 1)  # (micro-batch index, micro-batches) while ``accumulate`` runs
        self._latent_calls, self._latent_cache = 0, []  # the first micro-batch's draws (see ``latents``)
        self.step_logs: dict[str, Tensor] = {}  # the last training step's losses, scores and gradient norms
        self._step_tensors: StepTensors | None = None  # built at the first step of each fit (``step_tensors``)
        self._bare_steps = False  # per fit: skip Lightning's backward and optimizer-step wrappers (``step_optimizer``)

    # ------------------------------------------------------------------ hooks a family overrides
    def build_generator(self) -> nn.Module:
        raise NotImplementedError

    def build_discriminator(self) -> nn.Module:
        raise NotImplementedError

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.G, "num_classes", 0))

    def latents(self, n: int) -> tuple[Tensor, Tensor | None]:
        """Random latents (and, for conditional models, uniformly drawn labels) for a (micro-)batch of ``n``.

        The latents of the whole global batch (every rank, every micro-batch) are drawn at once and this rank's
        micro-batch keeps its ``n`` rows, so N processes with batch B, or one process with K micro-batches of B/K,
        draw exactly what one process with the whole batch draws.
        """
        rank, world = self.rank_and_world()
        micro, k = self._micro
        if k == 1 and world == 1:  # the common case: the same draw, without the bookkeeping
            z = torch.randn(n, self.G.latent_dim, device=self.device)
            return z, (torch.randint(self.G.num_classes, (n,), device=self.device) if self.conditional else None)
        if micro == 0 or k == 1:  # the first micro-batch draws for all of them; the others take their rows
            z = torch.randn(n * k * world, self.G.latent_dim, device=self.device)
            y = torch.randint(self.G.num_classes, (n * k * world,), device=self.device) if self.conditional else None
            if k > 1:
                self._latent_cache.append((z, y))
        else:
            z, y = self._latent_cache[self._latent_calls]
            self._latent_calls += 1
        rows = slice((rank * k + micro) * n, (rank * k + micro + 1) * n)
        return z[rows], (y[rows] if y is not None else None)

    @property
    def at_g_iteration_boundary(self) -> bool:
        """True right after a generator update, when every D step of the current G iteration is done."""
        return self.d_iters == self.g_iters * self.hparams.n_critic

    def rank_and_world(self) -> tuple[int, int]:
        trainer = self._trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def net(self, name: str) -> nn.Module:
        """``self.G``, ``self.D`` (or another network), or its DDP wrapper while that network is being updated."""
        return (name in self.updating_networks() and self.ddp_wrapper(name)) or getattr(self, name)

    def updating_networks(self) -> tuple[str, ...]:
        """The networks whose gradients the current phase computes ("D", "G" or "GD"; none outside a step)."""
        phase = self._phase
        if phase == "D":
            return self.discriminator_networks
        if phase == "G":
            return self.generator_networks
        return self.ddp_networks if phase == "GD" else ()

    def generator_parameters(self) -> list[nn.Parameter]:
        """The parameters of G's optimizer: those of every network in ``generator_networks``."""
        return [p for name in self.generator_networks for p in getattr(self, name).parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """The parameters of D's optimizer: those of every network in ``discriminator_networks``."""
        return [p for name in self.discriminator_networks for p in getattr(self, name).parameters()]

    def ddp_wrapper(self, name: str) -> nn.Module | None:
        """The strategy's DDP wrapper of network ``name`` (``zoo.distributed``), None with one process."""
        strategy = self._trainer.strategy if self._trainer is not None else None
        return strategy.ddp_wrapper(name) if hasattr(strategy, "ddp_wrapper") else None

    def generate(self, z: Tensor, y: Tensor | None = None, generator: nn.Module | None = None) -> Tensor:
        generator = generator or self.net("G")
        return generator(z) if y is None else generator(z, y)

    @property
    def d_in_channels(self) -> int:
        """D's input channels: the image's, times ``pack``."""
        return self.hparams.img_channels * self.hparams.pack

    def with_instance_noise(self, x: Tensor) -> Tensor:
        """``x`` plus the annealed instance noise (``zoo.tricks``); ``x`` itself when that switch is off."""
        h = self.hparams
        if not h.instance_noise:
            return x
        return x + instance_noise_std(h.instance_noise, self.g_iters, h.max_g_iters) * torch.randn_like(x)

    def discriminate(self, x: Tensor, y: Tensor | None = None, noise: bool = True, name: str = "D") -> Tensor:
        """D's scores of ``x``, with instance noise (unless ``noise=False``: the caller added it) and packing;
        ``name`` picks another of the ``discriminator_networks``."""
        D = self.net(name)
        if noise:
            x = self.with_instance_noise(x)
        if self.hparams.pack > 1:
            x = pack(x, self.hparams.pack)
        return D(x) if y is None else D(x, y)

    def adversarial_d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The loss's D side, or the cross-entropy with smoothed / noisy / flipped targets (``zoo.tricks``)."""
        if self.labels.active:
            return self.labels.d_loss(real_scores, fake_scores)
        return self.loss.d_loss(real_scores, fake_scores)

    def discriminator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """One discriminator objective on a real batch: adversarial loss + regularizer penalties."""
        z, y_fake = self.latents(real.shape[0])
        with torch.no_grad():
            fake = self.generate(z, y_fake)
        real_scores = self.discriminate(real, labels)
        fake_scores = self.discriminate(fake, y_fake)
        loss = self.adversarial_d_loss(loss_precision(real_scores), loss_precision(fake_scores))
        logs = {"loss/d_adv": loss.detach(), "d/real_score": loss_precision(real_scores.detach()).mean(),
                "d/fake_score": loss_precision(fake_scores.detach()).mean()}
        return self.discriminator_penalties(loss, logs, real, fake, labels)

    def discriminator_penalties(self, loss: Tensor, logs: dict[str, Tensor], real: Tensor | None = None,
                                fake: Tensor | None = None,
                                labels: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``loss`` plus every regularizer's penalty on D (at ``real`` / ``fake``, and on D's weights), each
        logged; ``fake`` carries no gradient to G. Without ``real`` (a D that does not judge an image alone:
        BiGAN's, VAEGAN's, which refuse input penalties) only the weight penalties."""
        for reg in self.regularizers:
            input_penalty = None if real is None else reg.d_penalty(lambda x: self.discriminate(x, labels), real, fake)
            for penalty in (input_penalty, reg.d_weight_penalty(self.D)):
                if penalty is not None:
                    loss = loss + penalty
                    logs[f"reg/{type(reg).__name__}"] = penalty.detach()
        return loss, logs

    def generator_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """One generator objective: the adversarial loss on fresh fakes (the engine adds the regularizers'
        penalties, ``generator_penalties``, to whatever a family returns here). ``real`` (the step's real batch)
        is scored only for losses that read it (``g_needs_real``: the relativistic ones)."""
        z, y = self.latents(real.shape[0])
        fake_scores = loss_precision(self.discriminate(self.generate(z, y), y))
        real_scores = None
        if self.loss.g_needs_real:
            with torch.no_grad():  # D(x_real) does not depend on G: a constant of G's loss
                real_scores = loss_precision(self.discriminate(real, labels))
        loss = self.loss.g_loss(fake_scores, real_scores)
        return loss, {"loss/g_adv": loss.detach()}

    def generator_penalties(self, loss: Tensor, logs: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """``loss`` plus every regularizer's penalty on G's parameters, each logged."""
        for reg in self.regularizers:
            penalty = reg.g_penalty(self.G)
            if penalty is not None:
                loss = loss + penalty
                logs[f"reg/{type(reg).__name__}"] = penalty.detach()
        return loss, logs

    # ------------------------------------------------------------------ the training step
    def configure_optimizers(self):
        h = self.hparams
        if h.step_mode == "one_step":
            return self.configure_one_step_optimizer()
        # foreach: one kernel per step for all tensors (torch defaults to a per-tensor loop on CPU; measured 1.4x
        # faster for the MLP GAN's Adam step, same numbers)
        if h.optimizer == "adam":
            opt_g = torch.optim.Adam(self.generator_parameters(), lr=h.lr_g, betas=tuple(h.betas_g), foreach=True)
            opt_d = torch.optim.Adam(self.discriminator_parameters(), lr=h.lr_d, betas=tuple(h.betas_d), foreach=True)
        else:
            opt_g = torch.optim.RMSprop(self.generator_parameters(), lr=h.lr_g, foreach=True)
            opt_d = torch.optim.RMSprop(self.discriminator_parameters(), lr=h.lr_d, foreach=True)
        if h.lr_schedule == "constant":
            return [opt_g, opt_d]
        decay = lambda g_iter: max(0.0, 1.0 - g_iter / h.max_g_iters)  # noqa: E731
        scheds = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], scheds

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = self.unpack_batch(batch)
        if self.hparams.step_mode == "one_step":
            return self.one_step(real, labels)
        opt_g, opt_d = self.optimizers()

        # No toggle_optimizer: G runs under no_grad in the D step, and the G step freezes D itself (below).
        opt_d.zero_grad(set_to_none=True)
        k = self.hparams.grad_accum
        if k == 1:
            reals, labels_k = (real,), (labels,)
        else:
            reals, labels_k = real.chunk(k), (labels.chunk(k) if labels is not None else [None] * k)
        d_loss, logs = self.accumulate("D", lambda i: self.discriminator_loss(reals[i], labels_k[i]))
        self.step_optimizer(opt_d)
        for reg in self.regularizers:
            reg.after_d_step(self.D)
        self.d_iters += 1
        logs["loss/d"] = d_loss.detach()

        if self.d_iters % self.hparams.n_critic == 0:
            opt_g.zero_grad(set_to_none=True)
            # G's loss backpropagates through D without computing D's weight gradients
            with frozen(self.step_tensors().d_params):
                g_loss, g_logs = self.accumulate(
                    "G", lambda i: self.generator_penalties(*self.generator_loss(reals[i], labels_k[i])))
            self.step_optimizer(opt_g)
            self.g_iters += 1
            self.update_ema()
            for sched in self.lr_schedulers() or []:
                sched.step()
            logs.update(g_logs, **{"loss/g": g_loss.detach()})
            if self.hparams.max_g_iters and self.g_iters >= self.hparams.max_g_iters:
                self.trainer.should_stop = True
        # what is only logged is computed only on the steps the logger writes (log_every_n_steps): the gradient
        # norms read every gradient once more (~1.5% of the MLP GAN's step)
        if self.should_log_step():
            logs["grad_norm/d"] = grad_norm(self.D)  # D's gradients of this step: the G step froze D
            if "loss/g" in logs:
                logs["grad_norm/g"] = grad_norm(self.G)
            self.log_step_metrics({**logs, "g_iters": float(self.g_iters)})
        self.step_logs = logs  # every step, for callbacks (zoo.watchdog)

    def should_log_step(self) -> bool:
        """Whether the loggers write this step (the trainer's ``log_every_n_steps``)."""
        trainer = self.trainer
        return getattr(trainer._logger_connector, "should_update_logs", True) or bool(trainer.fast_dev_run)

    def log_step_metrics(self, metrics: dict[str, Any]) -> None:
        """The step's numbers to every logger, at the step and with the epoch Lightning's ``self.log_dict`` would
        write them, and to ``trainer.callback_metrics`` (a ModelCheckpoint can monitor them), as ``FIDCallback``
        writes its FID. ``self.log`` would first store each value in Lightning's result collection (~0.5 ms a
        value), which Lightning then reads back after every batch, logged or not: measured, the engine's time over
        a hand loop fell from 356 to 265 us a step (a tiny WGAN, log_every_n_steps 50).
        """
        values = {key: value.detach() if isinstance(value, Tensor) else torch.tensor(float(value))
                  for key, value in metrics.items()}
        trainer = self.trainer
        trainer.callback_metrics.update(values)
        trainer._logger_connector.log_metrics(values)

    # ------------------------------------------------------------------ one-step training (step_mode="one_step")
    def configure_one_step_optimizer(self):
        """One optimizer over G and D, with a parameter group per network (each keeps its lr and betas)."""
        h = self.hparams
        groups = [{"params": self.generator_parameters(), "lr": h.lr_g},
                  {"params": self.discriminator_parameters(), "lr": h.lr_d}]
        if h.optimizer == "adam":
            groups[0]["betas"], groups[1]["betas"] = tuple(h.betas_g), tuple(h.betas_d)
            opt = torch.optim.Adam(groups, foreach=True)
        else:
            opt = torch.optim.RMSprop(groups, foreach=True)
        if h.lr_schedule == "constant":
            return opt
        decay = lambda g_iter: max(0.0, 1.0 - g_iter / h.max_g_iters)  # noqa: E731
        return [opt], [torch.optim.lr_scheduler.LambdaLR(opt, decay)]

    def one_step_loss(self, real: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The one-step loss (FAMILIES.md D.2, after kexue.fm/archives/6387), with sg = stop-gradient (detach):

            d_loss(D(x), D(sg(G(z)))) + lambda * [g_loss(D(G(z))) - g_loss(D(sg(G(z))))]

        The bracket is 0 in value, and its D gradient is 0 (its two terms are the same function of D), so D gets
        exactly the alternating step's gradient and G gets lambda times its gradient against the same, not yet
        updated D: a simultaneous step. Three D forwards and one G forward, against the alternating step's three
        and two, and one backward instead of two; but the backward computes D's weight gradients for both bracket
        terms (they cancel), which the alternating G step skips by freezing D: measured 0.84x the alternating
        speed for DCGAN-28 on 2 CPU threads (benchmarks/speed.py, one_step). lambda scales G's gradient: with SGD it
        would be the G:D step ratio; Adam and RMSprop divide each gradient by its running RMS, so there lambda
        cancels (up to eps) and lr_g / lr_d, the two parameter groups' learning rates, set the ratio.
        """
        z, y = self.latents(real.shape[0])
        fake = self.with_instance_noise(self.generate(z, y))  # once: both fake terms must see the same input
        real_scores = loss_precision(self.discriminate(real, labels))
        fake_sg_scores = loss_precision(self.discriminate(fake.detach(), y, noise=False))
        fake_scores = loss_precision(self.discriminate(fake, y, noise=False))
        d_loss = self.adversarial_d_loss(real_scores, fake_sg_scores)
        logs = {"loss/d_adv": d_loss.detach(), "d/real_score": real_scores.detach().mean(),
                "d/fake_score": fake_sg_scores.detach().mean()}
        d_loss, logs = self.discriminator_penalties(d_loss, logs, real, fake.detach(), labels)
        reals = real_scores.detach() if self.loss.g_needs_real else None
        g_loss = self.loss.g_loss(fake_scores, reals)
        logs["loss/g_adv"] = g_loss.detach()
        g_loss, logs = self.generator_penalties(g_loss, logs)
        g_term = g_loss - self.loss.g_loss(fake_sg_scores, reals)
        logs["loss/d"], logs["loss/g"] = d_loss.detach(), g_loss.detach()
        return d_loss + self.hparams.one_step_weight * g_term, logs

    def one_step(self, real: Tensor, labels: Tensor | None) -> None:
        opt = self.optimizers()
        opt.zero_grad(set_to_none=True)
        self._phase = "GD"  # both networks' DDP wrappers: the one backward all-reduces G's and D's gradients
        try:
            loss, logs = self.one_step_loss(real, labels)
            self.backward_loss(loss)
        finally:
            self._phase = None
        self.step_optimizer(opt)
        for reg in self.regularizers:
            reg.after_d_step(self.D)
        self.d_iters += 1
        self.g_iters += 1
        self.update_ema()
        if self.lr_schedulers() is not None:  # one optimizer: Lightning returns the scheduler itself, not a list
            self.lr_schedulers().step()
        if self.hparams.max_g_iters and self.g_iters >= self.hparams.max_g_iters:
            self.trainer.should_stop = True
        if self.should_log_step():
            logs["grad_norm/d"], logs["grad_norm/g"] = grad_norm(self.D), grad_norm(self.G)
            self.log_step_metrics({**logs, "g_iters": float(self.g_iters)})
        self.step_logs = logs

    def accumulate(self, name: str, loss_fn) -> tuple[Tensor, dict[str, Tensor]]:
        """Backpropagate ``loss_fn(i)`` for each micro-batch i into network ``name``; (mean loss, mean logs).

        ``self._phase`` routes ``net(name)`` to its DDP wrapper; all but the last micro-batch skip the gradient
        all-reduce (``no_sync``), so the sum is averaged across processes once.
        """
        k = self.hparams.grad_accum
        self._phase = name
        if k == 1:  # the common case, without the averaging arithmetic (each small op costs a kernel launch)
            try:
                loss, logs = loss_fn(0)
                self.backward_loss(loss)
                return loss.detach(), logs
            finally:
                self._phase = None
        total, logs = 0.0, {}
        wrappers = [w for w in map(self.ddp_wrapper, self.updating_networks()) if w is not None]
        self._latent_cache = []
        try:
            for i in range(k):
                self._micro, self._latent_calls = (i, k), 0
                with contextlib.ExitStack() as no_sync:
                    if i < k - 1:
                        for wrapper in wrappers:
                            no_sync.enter_context(wrapper.no_sync())
                    loss, step_logs = loss_fn(i)
                    self.backward_loss(loss / k)
                total = total + loss.detach() / k
                for key, value in step_logs.items():
                    logs[key] = logs.get(key, 0.0) + value / k
        finally:
            self._phase, self._micro, self._latent_cache = None, (0, 1), []
        return total, logs

    def backward_loss(self, loss: Tensor) -> None:
        """``manual_backward(loss)``, or ``loss.backward()`` itself where Lightning's wrapper would add nothing
        (``lightning_wrappers_idle``: ~20 us a call, ~0.5% of the MLP GAN's step)."""
        if self._bare_steps:
            loss.backward()
        else:
            self.manual_backward(loss)

    def step_optimizer(self, opt: Any) -> None:
        """``opt.step()`` of a LightningOptimizer, or, where its wrapper would add nothing but counting the step
        (``lightning_wrappers_idle``), the torch optimizer's step between the same two counting calls (the manual
        loop's progress: ``global_step``)."""
        if self._bare_steps:
            opt._on_before_step()
            opt.optimizer.step()
            opt._on_after_step()
        else:
            opt.step()

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """The batch itself when it is a tensor or a tuple / list of tensors already on ``device`` (a CPU fit's
        batches): Lightning's walk of the collection to move nothing cost ~25 us a step; otherwise Lightning's."""
        tensors = batch if isinstance(batch, (tuple, list)) else (batch,)
        if all(isinstance(t, Tensor) and t.device == device for t in tensors):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def unpack_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """Real images and, for conditional models, their labels."""
        if isinstance(batch, (tuple, list)):
            images, labels = batch[0], (batch[1] if len(batch) > 1 else None)
        else:
            images, labels = batch, None
        conditional = self.conditional
        if conditional and labels is None:
            raise InvalidArgumentError("this family is class-conditional: the data module must yield (image, label)")
        return images, (labels if conditional else None)

    @torch.no_grad()
    def update_ema(self) -> None:
        strategy = self._trainer.strategy if self._trainer is not None else None
        if hasattr(strategy, "average_buffers"):  # BatchNorm statistics differ per rank unless synchronised: G's,
            # and those of every network that ships or is evaluated (TripleGAN's C, an encoder, InfoGAN's D body)
            strategy.average_buffers(*(getattr(self, name) for name in self.ddp_networks))
        t = self.step_tensors()
        if self.g_iters <= self.hparams.ema_start or self.hparams.ema_decay == 0:
            torch._foreach_copy_(t.ema_params, t.g_params)
        else:
            torch._foreach_lerp_(t.ema_params, t.g_params, 1.0 - self.hparams.ema_decay)
        if t.ema_buffers:
            torch._foreach_copy_(t.ema_buffers, t.g_buffers)

    def step_tensors(self) -> StepTensors:
        """The tensors every step walks (EMA pairs, the parameters the G step freezes), listed once per fit: walking
        the module trees each step cost ~0.1 ms of the MLP GAN's ~14 ms step. Rebuilt when a fit starts or G, G_ema
        or a discriminator network is replaced (a parameter replaced inside a network is seen at the next fit)."""
        modules = (self.G, self.G_ema, *(getattr(self, name) for name in self.discriminator_networks))
        t = self._step_tensors
        if t is None or len(t.modules) != len(modules) or any(a is not b for a, b in zip(t.modules, modules)):
            t = self._step_tensors = StepTensors(
                modules, list(self.G_ema.parameters()), list(self.G.parameters()), list(self.G_ema.buffers()),
                list(self.G.buffers()), self.discriminator_parameters())
        return t

    # ------------------------------------------------------------------ run lifetime
    def setup(self, stage: str) -> None:
        sigterm.attach(self.trainer)

    def on_fit_start(self) -> None:
        self._step_tensors = None  # the networks are on their device now: list their tensors afresh
        self._bare_steps = lightning_wrappers_idle(self.trainer)
        warn_if_slow_bf16(self.trainer)
        from .machine import stop_repeated_gpu_probes

        stop_repeated_gpu_probes()  # each optimizer step asks whether CUDA is available: ~40 us a call without a GPU
        from lightning.pytorch.callbacks import ModelSummary

        lightning_table = any(isinstance(c, ModelSummary) for c in self.trainer.callbacks)
        if self.trainer.is_global_zero and not lightning_table:
            print(self.summary(), file=sys.stderr, flush=True)

    def summary(self) -> str:
        """The three networks in three lines (Lightning's table would add a FLOPs column of zeros: the engine
        has no single forward to count)."""
        from lightning.pytorch.utilities.model_summary import get_human_readable_count

        def count(module: nn.Module) -> str:
            return get_human_readable_count(sum(p.numel() for p in module.parameters()))

        h = self.hparams
        return "\n".join([
            f"G      {type(self.G).__name__:<22} {count(self.G):>7} params  ({h.optimizer}, lr {h.lr_g:g})",
            f"D      {type(self.D).__name__:<22} {count(self.D):>7} params  (lr {h.lr_d:g}, "
            f"{h.n_critic} D step(s) per G step)",
            f"G_ema  {type(self.G_ema).__name__:<22} {count(self.G_ema):>7} params  (EMA of G, decay {h.ema_decay:g}; "
            f"sampled, scored and exported)",
        ])

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        sigterm.sync(self.trainer)  # any rank's SIGTERM stops every rank after this same step

    # ------------------------------------------------------------------ state that is not a tensor
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_counters"] = {"d_iters": self.d_iters, "g_iters": self.g_iters}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gan_counters", {})
        self.d_iters = counters.get("d_iters", 0)
        self.g_iters = counters.get("g_iters", 0)

    def configure_callbacks(self):
        from lightning.pytorch.callbacks import TQDMProgressBar

        from .callbacks import GIterProgressBar, SampleGrid

        callbacks = [SampleGrid(every_n_g_iters=self.hparams.sample_every)] if self.hparams.sample_every else []
        bar = self._trainer.progress_bar_callback if self._trainer is not None else None
        if type(bar) is TQDMProgressBar:  # count generator iterations, not the epoch's batches
            callbacks.append(GIterProgressBar(refresh_rate=bar.refresh_rate))
        return callbacks


# Lightning inspects training_step's signature on every batch (does it take batch_idx, dataloader_iter?): with the
# signature stored on the function, inspect.signature reads it instead of rebuilding it (~16 us -> ~5 us a batch).
# A family that overrides training_step is inspected as usual.
GANModule.training_step.__signature__ = inspect.signature(GANModule.training_step)


def lightning_wrappers_idle(trainer: L.Trainer) -> bool:
    """Whether Lightning's ``manual_backward`` and ``LightningOptimizer.step`` would do nothing here but call
    ``loss.backward()`` and ``optimizer.step()`` (and count the step): one process or the recipes' ``gan_ddp``, no
    loss scaling, no profiler, and no hook on the backward pass or the optimizer step in the module or any callback.

    ``gan_ddp`` wraps G and D, never the LightningModule, so DDP's pre- and post-backward steps return at once and
    the gradients are averaged by the networks' own DDP hooks inside ``loss.backward()``, whichever path calls it."""
    from lightning.pytorch.plugins.precision import MixedPrecision, Precision
    from lightning.pytorch.profilers import PassThroughProfiler
    from lightning.pytorch.strategies import SingleDeviceStrategy
    from lightning.pytorch.utilities.model_helpers import is_overridden

    precision, module = trainer.precision_plugin, trainer.lightning_module
    plain_precision = type(precision) is Precision or (type(precision) is MixedPrecision and precision.scaler is None)
    strategy = trainer.strategy
    plain_strategy = type(strategy) is SingleDeviceStrategy or (
        isinstance(strategy, distributed.GANDDPStrategy) and getattr(strategy, "_model_averager", None) is None)
    if not (plain_precision and plain_strategy and type(trainer.profiler) is PassThroughProfiler):
        return False
    hooks = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
    if any(is_overridden(hook, module) for hook in (*hooks, "backward", "optimizer_step")):
        return False
    if any(is_overridden(hook, callback, parent=L.Callback) for callback in trainer.callbacks for hook in hooks):
        return False
    # the manual loop's step counters, which a bare step calls itself (a Lightning without them: the wrapped path)
    optimizers = module.optimizers()
    return all(hasattr(opt, "_on_before_step") and hasattr(opt, "_on_after_step")
               for opt in (optimizers if isinstance(optimizers, list) else [optimizers]))


def warn_if_slow_bf16(trainer: L.Trainer) -> None:
    """bf16 on a CPU without native bf16 runs in PyTorch's emulated kernels: say what it costs and how to avoid it."""
    from lightning.pytorch.accelerators import CPUAccelerator

    if str(trainer.precision).startswith("bf16") and isinstance(trainer.accelerator, CPUAccelerator):
        from .machine import cpu_model, native_bf16

        if native_bf16() is None:
            warnings.warn(f"precision {trainer.precision} on this CPU ({cpu_model()}, no AMX or AVX512-BF16) runs in "
                          "PyTorch's slow emulated bf16 path (dcgan-fmnist measured 18x slower: 2,200 ms vs 120 ms per "
                          "step in fp32): use --trainer.precision 32-true", PrecisionWarning, stacklevel=2)


class StepTensors(NamedTuple):
    """``GANModule.step_tensors``: the tensor lists a training step walks, made once per fit."""

    modules: tuple[nn.Module, ...]  # G, G_ema and the discriminator networks the lists were made from
    ema_params: list[Tensor]
    g_params: list[Tensor]
    ema_buffers: list[Tensor]
    g_buffers: list[Tensor]
    d_params: list[nn.Parameter]


class PrecisionWarning(UserWarning):
    """A precision setting that is much slower on this machine than another one."""


@contextlib.contextmanager
def frozen(params: Sequence[nn.Parameter]):
    """``requires_grad=False`` on the trainable ones of ``params`` inside the block, restored after."""
    trainable = [p for p in params if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in trainable:
            p.requires_grad_(True)


def loss_precision(scores: Tensor) -> Tensor:
    """Scores as the losses take them: half precision (autocast) raised to float32, float32 and float64 kept."""
    return scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores


def grad_norm(module: nn.Module) -> Tensor:
    """Total L2 norm of a module's gradients (0 if none)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    # foreach: one kernel for all tensors (torch's default on CPU is one norm per tensor)
    return torch.nn.utils.get_total_norm(grads, foreach=True).detach()

