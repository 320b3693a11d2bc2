"""Data-parallel GAN training: the ``gan_ddp`` Lightning strategy.

    zoo fit --config recipes/dcgan-fmnist.yaml --trainer.devices 4 [--trainer.num_nodes 2] \
        [--trainer.sync_batchnorm true] [--trainer.precision bf16-mixed] [--model.init_args.grad_accum 2]

Lightning's plain ``ddp`` wraps the whole LightningModule in one DistributedDataParallel, so a generator update
(where D's parameters get no gradient) fails at its first ``manual_backward``; ``ddp_find_unused_parameters_true``
works but searches the autograd graph every step. Here G and D get a DDP wrapper each, and the engine calls the
wrapper only of the network it is updating (``GANModule.net``): each backward all-reduces exactly that network's
gradients (bucketed, overlapped with the backward), with no unused-parameter search.

- Buffers are not broadcast at every forward (``broadcast_buffers=False``): a BatchNorm D called twice per step
  would otherwise raise autograd's in-place error (pytorch#110363). The buffers (BatchNorm statistics) of every
  trained network (G, D, and a family's extra ones: an encoder, TripleGAN's C) are averaged across processes before
  each EMA update, so every network and G_ema are identical on every rank.
- ``--trainer.sync_batchnorm true`` converts G's and D's BatchNorm layers (not G_ema's) to ``SyncBatchNorm``
  (BigGAN's cross-replica BN): torch's SyncBatchNorm on GPUs, ``CPUSyncBatchNorm`` on CPU processes.
- All processes start from rank 0's weights; the engine draws the latents of the global batch and keeps its slice,
  and ``zoo.checkpointing.ResumableSampler`` gives each rank an interleaved slice of one seeded permutation, so N
  processes with batch B follow the same trajectory as one process with batch N*B.
- With one process nothing is wrapped: the same recipe runs unchanged on a laptop.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import _sync_module_states
from lightning.pytorch.plugins.layer_sync import _BatchNormXd
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from torch import Tensor, nn
from torch.distributed import _functional_collectives as funcol
from torch.nn.parallel import DistributedDataParallel

from .errors import InvalidArgumentError

STRATEGY_NAME = "gan_ddp"
NETWORKS = ("G", "D")  # a module's ``ddp_networks`` may name more (an encoder trained with G)


def networks_of(module: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(module, "ddp_networks", NETWORKS))


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch, for CPU processes (gloo).

    torch's ``SyncBatchNorm`` kernel needs an accelerator (and DDP refuses it on CPU modules). Here the batch mean
    and biased variance are all-reduced with differentiable collectives, in two passes; eval mode and a single
    process are plain BatchNorm.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype)
        sums = funcol.all_reduce(torch.cat([x.sum(dims), count]), "sum", dist.group.WORLD)
        n = sums[-1]
        mean = sums[:-1] / n
        var = funcol.all_reduce((x - mean.view(shape)).pow(2).sum(dims), "sum", dist.group.WORLD) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * n / (n - 1), factor)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def _swap_batchnorm(module: nn.Module, old: tuple[type, ...], new: type) -> nn.Module:
    """Replace every ``old`` layer by a ``new`` one holding the same Parameter and buffer objects."""
    if isinstance(module, old) and not isinstance(module, new):
        swapped = new(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        swapped.weight, swapped.bias = module.weight, module.bias  # the same Parameters: optimizers stay valid
        swapped.running_mean, swapped.running_var = module.running_mean, module.running_var
        swapped.num_batches_tracked = module.num_batches_tracked
        return swapped.train(module.training)
    for name, child in module.named_children():
        module.add_module(name, _swap_batchnorm(child, old, new))
    return module


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm layers -> torch's SyncBatchNorm on accelerators, ``CPUSyncBatchNorm`` on CPU."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _swap_batchnorm(module, (nn.modules.batchnorm._BatchNorm,), CPUSyncBatchNorm)


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    return _swap_batchnorm(module, (nn.SyncBatchNorm, CPUSyncBatchNorm), _BatchNormXd)


class GANDDPStrategy(DDPStrategy):
    """DDP with one DistributedDataParallel per network (see the module docstring). Registered as ``gan_ddp``."""

    strategy_name = STRATEGY_NAME

    def __init__(self, *args, **kwargs):
        if kwargs.get("find_unused_parameters"):
            raise InvalidArgumentError("gan_ddp synchronises G and D separately and needs no unused-parameter "
                                       "search: drop find_unused_parameters")
        if kwargs.get("broadcast_buffers") or kwargs.get("forward_sync_buffers"):
            raise InvalidArgumentError("gan_ddp averages G's buffers itself; syncing buffers at every forward breaks "
                                       "a BatchNorm D called twice per step (pytorch#110363): drop that option")
        kwargs.pop("broadcast_buffers", None)
        kwargs["forward_sync_buffers"] = False
        super().__init__(*args, **kwargs)
        self._wrappers: dict[str, DistributedDataParallel] = {}
        self._sync_bn = False

    def setup(self, trainer) -> None:
        # Lightning would convert every BatchNorm of the LightningModule (G_ema too, whose standing-statistics
        # pass then runs on rank 0 alone); configure_ddp converts only G and D, with a CPU-capable SyncBatchNorm.
        self._sync_bn = self._layer_sync is not None
        self._layer_sync = None
        super().setup(trainer)

    def configure_ddp(self) -> None:
        module = self.lightning_module
        if self.world_size == 1:
            self._wrappers = {}
            return
        missing = [name for name in networks_of(module) if not isinstance(getattr(module, name, None), nn.Module)]
        if missing:
            raise InvalidArgumentError(f"gan_ddp trains zoo GANModules (with G and D); {type(module).__name__} has "
                                       f"no {', '.join(missing)}: use strategy 'ddp'")
        if self._sync_bn:
            for name in networks_of(module):
                setattr(module, name, convert_sync_batchnorm(getattr(module, name), self.root_device))
        _sync_module_states(module)  # G_ema and every other state from rank 0, like DDP does for G and D
        device_ids = self.determine_ddp_device_ids()
        self._wrappers = {name: DistributedDataParallel(getattr(module, name), device_ids=device_ids, init_sync=False,
                                                        **self._ddp_kwargs) for name in networks_of(module)}

    def ddp_wrapper(self, name: str) -> DistributedDataParallel | None:
        return self._wrappers.get(name)

    @torch.no_grad()
    def average_buffers(self, *modules: nn.Module) -> None:
        """Average the modules' floating-point buffers across processes, in one all-reduce (no-op when they are
        synchronised)."""
        if not self._wrappers or self._sync_bn:
            return
        buffers = [b for module in modules for b in module.buffers() if b.is_floating_point()]
        if buffers:
            flat = torch.cat([b.reshape(-1) for b in buffers])
            dist.all_reduce(flat)
            flat /= self.world_size
            for b, averaged in zip(buffers, flat.split([b.numel() for b in buffers])):
                b.copy_(averaged.view_as(b))

    def teardown(self) -> None:
        self._wrappers = {}
        module = self.lightning_module
        if self._sync_bn and module is not None:
            for name in networks_of(module):
                setattr(module, name, revert_sync_batchnorm(getattr(module, name)))
        super().teardown()

    @classmethod
    def register_strategies(cls, strategy_registry) -> None:
        strategy_registry.register(STRATEGY_NAME, cls, description="DDP with separate G and D wrappers (zoo)",
                                   override=True)


GANDDPStrategy.register_strategies(StrategyRegistry)
