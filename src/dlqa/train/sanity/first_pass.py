"""The fresh model's first forward pass and loss on the batch, which every check reads first.

Run once, in train mode with gradients on (so that a loss cut from the graph shows), on a copy
of the batch that the model may write into (so that an input mutation shows). A model bug does
not raise here: it is kept for the check that reports it, and the checks that cannot run
without what is missing skip (``SanityContext.skip_unless``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from dlqa.core.errors import UsageError
from dlqa.train.sanity.model_errors import ModelError
from dlqa.train.sanity.mutation import input_changes
from dlqa.train.sanity.outputs import describe_outputs, output_tensors, pick_output
from dlqa.train.sanity.parameters import unregistered_tensors
from dlqa.train.sanity.shapes import rows_problem

if TYPE_CHECKING:
    from dlqa.train.sanity.context import SanityContext


@dataclass(frozen=True)
class FirstPass:
    """What the first pass saw. ``outputs``: the output the loss takes (detached), None when
    the forward pass raised (``error``) or returned no single tensor (``output_problem``);
    ``rows_problem``: not one output row per sample (the loss is then not computed);
    ``loss_error``: the loss raised on outputs whose shape is wrong; ``loss_detached``: the
    loss has no grad_fn although the model has trainable parameters; ``input_changes``: the
    inputs the forward pass wrote into; ``unregistered``: tensors that require grad and
    reach the outputs or the loss but are not parameters of the model."""

    outputs: torch.Tensor | None
    loss: float | None
    buffer_names: tuple[str, ...]
    listing: tuple[dict[str, str], ...] = ()  # a tuple/dict return value's outputs
    error: ModelError | None = None
    output_problem: str | None = None
    rows_problem: str | None = None
    loss_error: str | None = None
    loss_detached: bool = False
    input_changes: tuple[dict[str, Any], ...] = ()
    unregistered: tuple[dict[str, Any], ...] = ()
    parameters: int = 0


def run_first_pass(ctx: SanityContext) -> FirstPass:
    model = ctx.fresh_model()
    given = ctx.inputs.clone()
    kept = given.clone()
    found: dict[str, Any] = {
        "buffer_names": tuple(name for name, _ in model.named_buffers()),
        "parameters": sum(1 for _ in model.parameters()),
    }
    try:
        raw = ctx.call_model(model, given, copy=False)
    except ModelError as error:
        return FirstPass(None, None, error=error.kept(), **found)
    found["input_changes"] = tuple(input_changes(kept, given))
    found["listing"] = tuple(describe_outputs(raw))
    roots = [tensor.grad_fn for tensor in output_tensors(raw)]

    def done(outputs: torch.Tensor | None, loss: torch.Tensor | None, **fields: Any) -> FirstPass:
        if loss is not None:  # the loss's own leaves too (a loss with learnable weights)
            roots.append(loss.grad_fn)
        found["unregistered"] = tuple(unregistered_tensors(ctx, model, roots))
        value = None if loss is None else float(loss.detach())
        kept_outputs = None if outputs is None else outputs.detach()
        return FirstPass(kept_outputs, value, **found, **fields)

    outputs, problem = pick_output(raw, ctx.output_key)
    if outputs is None:
        return done(None, None, output_problem=problem)
    if outputs.ndim == 0 or outputs.shape[0] != ctx.batch_size:
        shape = tuple(outputs.shape)
        return done(outputs, None, rows_problem=rows_problem(shape, ctx.batch_size, _probe(ctx)))
    try:
        loss = ctx.loss(outputs)
    except UsageError:
        raise
    except Exception as exc:
        if not ctx.shape_problems(outputs):
            raise UsageError(
                f"loss_fn(outputs, targets) raised {type(exc).__name__} on outputs of shape "
                f"{tuple(outputs.shape)} and targets of shape {tuple(ctx.targets.shape)}: {exc}",
                hint="run loss_fn(model(inputs), targets) on one batch to reproduce it",
            ) from exc
        # The outputs' shape explains it: a model bug that train.output_shape reports.
        return done(outputs, None, loss_error=f"the loss raised {type(exc).__name__}: {exc}")
    trainable = any(p.requires_grad for p in model.parameters())
    return done(outputs, loss, loss_detached=trainable and loss.grad_fn is None)


def _probe(ctx: SanityContext) -> tuple[int, tuple[int, ...]] | None:
    """The output shape for the first half of the batch (eval mode, so BatchNorm takes a
    single sample), to tell how the output rows follow the batch; None if it fails."""
    if ctx.batch_size < 2:
        return None
    sub = ctx.batch_size // 2
    try:
        model = ctx.fresh_model(train=False)
        with torch.no_grad():
            outputs, _ = pick_output(ctx.call_model(model, ctx.inputs[:sub]), ctx.output_key)
    except (ModelError, UsageError):
        return None
    return None if outputs is None else (sub, tuple(outputs.shape))
