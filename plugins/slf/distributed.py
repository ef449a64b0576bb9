"""torch.distributed helpers that keep SLF's and MILS's state the same on every rank.

Everything here is a no-op in a single process (``torch.distributed`` not initialised, or
a world of one), so the core calls it unconditionally. Under DDP each rank sees its own
shard of the data, so every quantity a rank would otherwise learn alone is averaged or
summed over ranks:

- the decision network's gradients (:func:`average_gradients`), so v takes the same step
  everywhere, and its parameters at start-up (:func:`broadcast_parameters`);
- the running loss scales of ``normalize='mean'`` and the selection statistics
  (:func:`all_reduce_mean`, :func:`all_reduce_sum`);
- MILS's observation accuracy, from correct and total counts summed over ranks, so one
  accept/reject decision holds on every rank.

Collectives must be called in the same order on every rank; each helper is called at
points every rank reaches (once per training step, once per MILS check).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Dict, Iterable, Iterator, Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn


def in_process_group() -> bool:
    """Whether ``torch.distributed`` has a default group in this process.

    Example:
        >>> in_process_group()
        False
    """
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """The number of processes in the default group, 1 when not distributed.

    Example:
        >>> world_size()
        1
    """
    return dist.get_world_size() if in_process_group() else 1


def rank() -> int:
    """This process's rank in the default group, 0 when not distributed.

    Example:
        >>> rank()
        0
    """
    return dist.get_rank() if in_process_group() else 0


def _on_backend_device(tensor: Tensor) -> Tensor:
    # NCCL reduces CUDA tensors only; gloo takes CPU ones (and CUDA ones by copying).
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        return tensor.cuda()
    return tensor


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """:math:`\\sum_r t_r` over ranks, as a new tensor on ``tensor``'s device and dtype.

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0]))
        tensor([1., 2.])
    """
    if world_size() == 1:
        return tensor.clone()
    reduced = _on_backend_device(tensor.detach().clone())
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced.to(tensor.device, tensor.dtype)


def all_reduce_mean(tensor: Tensor) -> Tensor:
    """:math:`\\frac{1}{R} \\sum_r t_r` over the R ranks, as a new tensor.

    Example:
        >>> all_reduce_mean(torch.tensor([3.0]))
        tensor([3.])
    """
    size = world_size()
    if size == 1:
        return tensor.clone()
    summed = all_reduce_sum(tensor.double() if tensor.is_floating_point() else tensor)
    return (summed / size).to(tensor.dtype)


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Replace each parameter's gradient by its mean over ranks, in place (one collective).

    Parameters without a gradient on this rank count as zero, so every rank takes part
    in the same collective whatever its batch held. A host whose DDP already wraps the
    module holding these parameters need not call it (DDP averages them itself).

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> layer(torch.ones(1, 2)).sum().backward()
        >>> average_gradients(layer.parameters())  # one process: unchanged
        >>> layer.bias.grad
        tensor([1.])
    """
    params = [p for p in parameters if p.requires_grad]
    if world_size() == 1 or not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    flat = all_reduce_mean(flat)
    offset = 0
    for p in params:
        count = p.numel()
        p.grad = flat[offset : offset + count].view_as(p).to(p.dtype).clone()
        offset += count


@torch.no_grad()
def broadcast_parameters(module: nn.Module, source: int = 0) -> None:
    """Copy ``module``'s parameters and buffers from rank ``source`` to every rank, in place.

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> broadcast_parameters(layer)  # one process: nothing to do
    """
    if world_size() == 1:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        shipped = _on_backend_device(tensor.data.clone())
        dist.broadcast(shipped, src=source)
        tensor.data.copy_(shipped.to(tensor.device))


def broadcast_generator(generator: torch.Generator, source: int = 0) -> None:
    """Give every rank rank ``source``'s random-generator state, in place, so that random
    decisions drawn from it (MILS's "try an auxiliary loss now?") agree on every rank.

    Example:
        >>> g = torch.Generator().manual_seed(3)
        >>> broadcast_generator(g)  # one process: unchanged
        >>> g.initial_seed()
        3
    """
    if world_size() == 1:
        return
    state = generator.get_state()
    shipped = _on_backend_device(state.clone())
    dist.broadcast(shipped, src=source)
    generator.set_state(shipped.cpu())


def init_from_environment(device: str = "cpu") -> bool:
    """Join the process group that ``torchrun`` describes in the environment, once.

    ``torchrun --nproc_per_node N`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the
    rendezvous address; this joins it with gloo on CPU and NCCL on CUDA. Without those
    variables (a plain ``python`` run) nothing happens.

    Returns:
        whether this process is part of a group of more than one.

    Example:
        >>> init_from_environment("cpu")  # not under torchrun
        False
    """
    if in_process_group():
        return world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return world_size() > 1


def local_device(device: str) -> torch.device:
    """``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun; other devices are kept.

    Example:
        >>> local_device("cpu")
        device(type='cpu')
    """
    if device == "cuda" and world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device(device)


def max_rank_difference(tensor: Tensor) -> float:
    """The largest difference between any two ranks' values of ``tensor``, elementwise
    (0.0 when they agree everywhere, and in one process).

    Example:
        >>> max_rank_difference(torch.randn(3))
        0.0
    """
    if world_size() == 1:
        return 0.0
    both = _on_backend_device(torch.cat([tensor.detach().double().reshape(-1), -tensor.detach().double().reshape(-1)]))
    dist.all_reduce(both, op=dist.ReduceOp.MAX)
    highest, negated_lowest = both.split(tensor.numel())
    return float((highest + negated_lowest).max()) if tensor.numel() else 0.0


def data_parallel(model: nn.Module) -> nn.Module:
    """``model`` wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` when this
    process is one of several (on its own GPU under NCCL), else ``model`` itself.

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> data_parallel(layer) is layer
        True
    """
    if world_size() == 1:
        return model
    device = next(model.parameters()).device
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def rank_agreement(model: nn.Module, decision: Optional[nn.Module] = None) -> Dict[str, Any]:
    """What a run records about its ranks: world size, backend, and how far apart the
    ranks' model (and decision-network) parameters ended up; both are 0.0 when data
    parallel training kept them identical. Empty in one process. Every rank must call it.

    Example:
        >>> rank_agreement(nn.Linear(2, 1))
        {}
    """
    if world_size() == 1:
        return {}
    record: Dict[str, Any] = {
        "world_size": world_size(),
        "backend": dist.get_backend(),
        "model_max_rank_difference": parameter_rank_difference(model),
    }
    if decision is not None:
        record["decision_max_rank_difference"] = parameter_rank_difference(decision)
    return record


def parameter_rank_difference(module: nn.Module) -> float:
    """:func:`max_rank_difference` of all of ``module``'s parameters, or of its floating-point
    buffers when it has no parameters (0.0 when every rank holds the same ones, and in one
    process). Every rank must call it.

    Example:
        >>> parameter_rank_difference(nn.Linear(2, 1))
        0.0
    """
    tensors = [p.detach().reshape(-1) for p in module.parameters()]
    if not tensors:  # a rule without parameters (align mode's): compare its state
        tensors = [b.detach().double().reshape(-1) for b in module.buffers() if b.is_floating_point()]
    return max_rank_difference(torch.cat(tensors)) if tensors else 0.0


@contextlib.contextmanager
def rank_zero_first() -> Iterator[None]:
    """Run the block on rank 0 first, then on the other ranks: for work that writes shared
    files once (a data set's download and processing) and that the others then read.

    Example:
        >>> with rank_zero_first():
        ...     pass
    """
    if world_size() > 1 and rank() != 0:
        dist.barrier()
    try:
        yield
    finally:
        if world_size() > 1 and rank() == 0:
            dist.barrier()
