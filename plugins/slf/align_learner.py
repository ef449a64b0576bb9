"""The default recipe's learner: each training step, weigh the candidates by how well their
gradients line up with a reference loss's gradient on held-out data (:mod:`slf.alignment`).

Per step t, with :math:`g_i` candidate i's batch gradient at the compared layer and :math:`r`
the reference's held-out gradient (averaged over held-out batches),

.. math::

    s_i \\leftarrow \\beta s_i + (1 - \\beta)\\cos(g_i, r), \\qquad
    \\hat p = \\operatorname{softmax}\\big(\\log\\pi + (s + m\\, e_{stock}) / T\\big).

and :math:`\\hat p = e_{stock}` while the stock loss on training batches is at most ``gap`` times
its held-out level (:attr:`slf.alignment.GradientAlignment.keeps_preferred`): the learner gives
the alignment both, the training side with each call and the held-out side with each reference.

The reference comes from, in order: a :class:`slf.HeldOut` the learner draws from, a host that
calls :meth:`AlignmentLearner.set_reference` (or trains inside :meth:`reference_pass`), or, with
a warning once, the reference loss on the previous training batch.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .alignment import GradientAlignment
from .held_out import HeldOut
from .layer_gradients import candidate_gradients, flat_gradient, last_layer_parameters, layer_key


class AlignmentLearner:
    """Where the default recipe's reference comes from, and one step of its scores.

    Args:
        alignment: the scores and references (registered as a module by the loss that owns them).
        reference_loss: the host's stock loss, per sample (``(output, target) -> (N,)``).
        held_out: the held-out batches to draw the reference from, or None.
        last_layer: the parameters whose gradients are compared (default: found from the graph).
        expects_held_out: False where no held-out data exists by design (``'previous_batch'``):
            the previous batch is then used without a warning.

    Example:
        >>> model = nn.Linear(4, 3)
        >>> learner = AlignmentLearner(GradientAlignment(2, preferred=0), nn.CrossEntropyLoss(reduction="none"),
        ...                            expects_held_out=False)
        >>> output, target = model(torch.randn(8, 4)), torch.randint(0, 3, (8,))
        >>> columns = [nn.functional.cross_entropy(output, target), (output - 1).pow(2).mean()]
        >>> weights, begins = learner.weights(columns, [output], None, lambda: columns[0], 2, step=0)
        >>> weights.shape, begins, learner.reference_source
        (torch.Size([1, 2]), True, 'previous_batch')
    """

    def __init__(
        self,
        alignment: GradientAlignment,
        reference_loss: nn.Module,
        held_out: Optional[HeldOut] = None,
        last_layer: Optional[Sequence[nn.Parameter]] = None,
        expects_held_out: bool = True,
    ) -> None:
        self.alignment = alignment
        self.reference_loss = reference_loss
        self.held_out = held_out
        self.last_layer: Optional[List[nn.Parameter]] = None if last_layer is None else list(last_layer)
        self.reference_source = "none"
        self._warned_no_held_out = not expects_held_out
        self._in_reference_pass = False
        # One vectorised backward for the candidates' gradients, until a graph has an operation
        # without a batching rule (a host's own loss); then one backward per candidate.
        self.batched_gradients = True
        # A host whose model calls the loss several times per iteration (once per feature level)
        # sets this to a function returning the iteration: calls with one key form one step.
        self.step_key: Optional[Callable[[], Any]] = None
        self._step_key: Any = None
        # The module holding the compared layer, once a held-out pass with its graph beginning
        # there gave the same reference gradient as one with the whole graph (checked once).
        self._graph_from: Optional[nn.Module] = None
        self._graph_from_checked = False

    def set_reference(self, loss: Tensor, source: str = "host", value: Optional[Tensor] = None) -> None:
        """Blend the gradient of a held-out ``loss`` (with its graph) into the reference; ``value``
        (default ``loss``) is the held-out loss per sample that the gap compares with training's."""
        if not loss.requires_grad:
            raise ValueError(
                "set_reference() needs the held-out loss with its graph (computed with gradients "
                "enabled), to differentiate it with respect to the model's last layer"
            )
        layer = self.last_layer or last_layer_parameters([loss])
        self.alignment.set_reference(layer_key(layer), flat_gradient(loss, layer, retain_graph=False))
        self.alignment.track_losses(held_out=loss if value is None else value)
        self.reference_source = source

    @contextlib.contextmanager
    def reference_pass(self) -> Iterator[None]:
        """Within the block, the owner's training calls set the reference instead of training."""
        previous, self._in_reference_pass = self._in_reference_pass, True
        try:
            yield
        finally:
            self._in_reference_pass = previous

    @property
    def in_reference_pass(self) -> bool:
        """Whether a :meth:`reference_pass` is active."""
        return self._in_reference_pass

    def _begins_step(self) -> bool:
        if self.step_key is None:
            return True
        key = self.step_key()
        begins = key != self._step_key or key is None
        self._step_key = key
        return begins

    def weights(
        self,
        columns: Sequence[Tensor],
        roots: Sequence[Tensor],
        keep: Optional[List[int]],
        reference: Optional[Callable[[], Tensor]],
        num_candidates: int,
        step: int,
        training: bool = True,
        train_loss: Optional[Tensor] = None,
    ) -> Tuple[Tensor, bool]:
        """Track one call's candidate gradients and return the weights ``(1, n)`` and whether the
        call began a training step.

        Args:
            columns: the kept candidates' batch losses (scalars with their graphs), in the order
                of ``keep`` (all candidates when None).
            roots: tensors whose graph leads to the compared layer (the model output).
            reference: the reference loss on the same batch, the fallback without held-out data.
            num_candidates: n.
            step: the owner's training step (when a held-out reference is due).
            training: False: the current weights, nothing tracked.
            train_loss: the stock loss on this batch, per sample (the gap's training side).
        """
        if not training:
            return self.alignment.probabilities(keep).unsqueeze(0), False
        begins = self._begins_step()
        if begins and self.step_key is not None:
            self.alignment.finish_step()  # the previous iteration, all its calls together
        self._track_losses(begins, step, train_loss)
        # Between the steps that score (every `interval`), the weights stand as they are: no gradients.
        layer = (self.last_layer or last_layer_parameters(roots)) if self.alignment.scores_due(step) else None
        if layer:
            kept = self._candidate_gradients(columns, layer)
            gradients = kept.new_zeros((num_candidates, kept.shape[1]))
            gradients[torch.tensor(keep if keep is not None else range(num_candidates))] = kept
            fallback = (
                self.reference_source in ("none", "previous_batch")
                and reference is not None
                and (self.alignment.reference_due(step) or not self.alignment.has_reference)
            )
            if fallback:
                self._warn_no_held_out()
                self.reference_source = "previous_batch"
            self.alignment.track(layer_key(layer), gradients, flat_gradient(reference(), layer) if fallback else None)
        if self.step_key is None:
            self.alignment.finish_step()
        return self.alignment.probabilities(keep).unsqueeze(0), begins

    def holds_stock(self) -> bool:
        """Whether this training step's weights stay all on the stock loss, held there for
        ``gap_patience`` steps in a row (:attr:`slf.alignment.GradientAlignment.settled`, as the
        last finished step left it).

        The owner then computes the stock loss alone and calls :meth:`held_weights` (in
        training): no other candidate and no candidate gradient is needed on such a step, so
        on clean data the recipe costs little more than the stock loss's step. Not for a host
        that calls the loss several times per iteration (:attr:`step_key`), whose gate is
        finished a call late.
        """
        return self.step_key is None and not self._in_reference_pass and self.alignment.settled

    def held_weights(self, step: int, train_loss: Tensor) -> Tensor:
        """One training step held on the stock loss (:meth:`holds_stock`): the held-out reference
        when due and both sides of the gap (``train_loss``: the stock loss on this batch), no
        scores; returns the weights ``(1, n)``."""
        self._track_losses(True, step, train_loss)
        self.alignment.finish_step()
        return self.alignment.probabilities().unsqueeze(0)

    def _track_losses(self, begins: bool, step: int, train_loss: Optional[Tensor]) -> None:
        if begins and self.held_out is not None and self.alignment.reference_due(step):
            batch = next(self.held_out.batches)
            devices = _cuda_devices(self.held_out.model)
            randomness = None if self._graph_from_checked else _random_states(devices)
            output, target = self.held_out.forward_batch(batch, self._graph_from)
            loss = self.reference_loss(output, target).mean()
            if randomness is not None:
                self._check_graph_from(batch, loss, randomness, devices)
            self.set_reference(loss, "held_out")
        if train_loss is not None:
            self.alignment.track_losses(train=train_loss)

    def _check_graph_from(
        self, batch: Any, loss: Tensor, randomness: Tuple[Tensor, List[Tensor]], devices: List[int]
    ) -> None:
        """Once: whether the held-out graph may begin at the compared layer's module (its
        reference gradient on ``batch`` the same as with the whole graph ``loss`` has; the pass
        replays the random draws of the one that gave ``loss``, and leaves the generators as
        that one did). Not where the layer's parameters also act before the module's first call
        (a weight tied to an embedding), whose gradient the shorter graph would miss."""
        self._graph_from_checked = True
        layer = self.last_layer or last_layer_parameters([loss])
        wanted = {id(parameter) for parameter in layer}
        module = next(
            (
                m
                for m in self.held_out.model.modules()
                if wanted and {id(p) for p in m.parameters(recurse=False)} == wanted
            ),
            None,
        )
        if module is None:
            return
        whole = flat_gradient(loss, layer, retain_graph=True)
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(randomness[0])
            for device, state in zip(devices, randomness[1]):
                torch.cuda.set_rng_state(state, device)
            output, target = self.held_out.forward_batch(batch, module)
        restricted = flat_gradient(self.reference_loss(output, target).mean(), layer, retain_graph=False)
        if torch.allclose(whole, restricted, rtol=1e-5, atol=1e-8):
            self._graph_from = module

    def _candidate_gradients(self, columns: Sequence[Tensor], layer: Sequence[nn.Parameter]) -> Tensor:
        if self.batched_gradients:
            try:
                return candidate_gradients(columns, layer)
            except RuntimeError:  # vmap: an operation of this graph has no batching rule
                self.batched_gradients = False
        return candidate_gradients(columns, layer, batched=False)

    def _warn_no_held_out(self) -> None:
        if self._warned_no_held_out:
            return
        self._warned_no_held_out = True
        warnings.warn(
            "StochasticLoss(mode='align') has no held-out data: it compares the candidates with the reference loss "
            "on the previous training batch. Under label noise that reference is noisy too; give it held-out data "
            "with StochasticLoss(..., held_out=slf.HeldOut(model, val_batches)) or call set_reference() with a "
            "held-out loss (the plain trainers, fairseq and the mmdet hook do this for you).",
            UserWarning,
            stacklevel=4,
        )


def _cuda_devices(model: nn.Module) -> List[int]:
    return sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})


def _random_states(devices: List[int]) -> Tuple[Tensor, List[Tensor]]:
    """The CPU generator's state and those of the CUDA ``devices``."""
    return torch.get_rng_state(), [torch.cuda.get_rng_state(device) for device in devices]
