"""Unregistered parameters: tensors that require grad and take part in the forward pass but
are not among ``model.parameters()`` (layers in a plain list or dict, a requires_grad tensor
kept as a plain attribute). The optimizer never sees them and ``state_dict()`` never saves them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence

if TYPE_CHECKING:
    from dlqa.train.sanity.context import SanityContext

# nn.Module's own bookkeeping attributes: where registered parameters, buffers, submodules and
# hooks live; everything else in a module's __dict__ is a plain Python attribute.
_MODULE_INTERNALS = frozenset(vars(nn.Module()))
_CONTAINER_LIMIT = 10_000  # items looked at per plain list or dict
_DEPTH_LIMIT = 6  # plain containers nested in one another

_FIX = {
    "attribute": "a plain tensor attribute: use nn.Parameter",
    "list": "a plain list: use nn.ParameterList",
    "dict": "a plain dict: use nn.ParameterDict",
    "module list": "a plain list: use nn.ModuleList",
    "module dict": "a plain dict: use nn.ModuleDict",
    "module attribute": "a module kept outside the module tree: assign it as self.name = module",
    "buffer": "a buffer that requires grad: buffers are not trained; use nn.Parameter",
}
_NOT_FOUND = (
    "not an attribute of the model (created with requires_grad=True during the forward pass, "
    "or held by another object): make it an nn.Parameter of a module"
)


def graph_leaves(roots: Iterable[Any]) -> list[torch.Tensor]:
    """The leaf tensors that require grad and reach ``roots`` (grad_fn nodes) through the
    autograd graph: the ``variable`` of each AccumulateGrad node, in the order found."""
    leaves: dict[int, torch.Tensor] = {}
    stack = [node for node in roots if node is not None]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)  # AccumulateGrad: the leaf it feeds
        if isinstance(variable, torch.Tensor):
            leaves.setdefault(id(variable), variable)
        stack.extend(child for child, _ in getattr(node, "next_functions", ()) if child is not None)
    return list(leaves.values())


class _Finder:
    """Where in a module tree each tensor is kept, and the fix for the way it is kept."""

    def __init__(self) -> None:
        self.found: dict[int, tuple[str, str]] = {}
        self._seen: set[int] = set()

    def module(self, module: nn.Module, prefix: str, held_as: str | None = None) -> None:
        if id(module) in self._seen:
            return
        self._seen.add(id(module))
        if held_as is not None:  # a module kept in a plain container: none of it is registered
            for name, parameter in module.named_parameters():
                self._note(parameter, _join(prefix, name), f"module {held_as}")
        for name, buffer in module._buffers.items():
            if buffer is not None and buffer.requires_grad:
                self._note(buffer, _join(prefix, name), "buffer")
        for name, value in vars(module).items():
            if name not in _MODULE_INTERNALS:
                self.value(value, _join(prefix, name), None, 0)
        for name, child in module._modules.items():
            if child is not None:
                self.module(child, _join(prefix, name), held_as)

    def value(self, value: Any, path: str, held_as: str | None, depth: int) -> None:
        if isinstance(value, torch.Tensor):
            self._note(value, path, held_as or "attribute")
        elif isinstance(value, nn.Module):
            self.module(value, path, held_as or "attribute")
        elif depth < _DEPTH_LIMIT and isinstance(value, (list, tuple)):
            for index, item in enumerate(value[:_CONTAINER_LIMIT]):
                self.value(item, f"{path}[{index}]", held_as or "list", depth + 1)
        elif depth < _DEPTH_LIMIT and isinstance(value, dict):
            for count, (key, item) in enumerate(value.items()):
                if count >= _CONTAINER_LIMIT:
                    break
                self.value(item, f"{path}[{key!r}]", held_as or "dict", depth + 1)

    def _note(self, tensor: torch.Tensor, path: str, how: str) -> None:
        self.found.setdefault(id(tensor), (path, _FIX[how]))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _summary(rows: list[dict[str, Any]], registered: int) -> str:
    if not rows:
        return (
            "every tensor that requires grad and reaches the outputs or the loss is one of the "
            f"model's {registered} registered parameters"
        )
    shown = ", ".join(f"{r['name']} {tuple(r['shape'])} ({r['problem']})" for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    if len(rows) == 1:
        what = "1 tensor that requires grad takes part in the forward pass but is not a registered"
        what += " parameter"
    else:
        what = f"{len(rows)} tensors that require grad take part in the forward pass but are not"
        what += " registered parameters"
    return (
        f"{what}, so model.parameters(), the optimizer and state_dict() never see them: "
        f"{shown}{more}"
    )


def unregistered_tensors(
    ctx: SanityContext, model: nn.Module, roots: list[Any]
) -> list[dict[str, Any]]:
    """One row (attribute path, shape, fix) per leaf tensor that requires grad and reaches
    ``roots`` (the outputs' and the loss's grad_fn) but is not a parameter of ``model``."""
    # The batch never counts, even if the caller's tensors require grad.
    known = {id(p) for p in model.parameters()} | {id(ctx.inputs), id(ctx.targets)}
    stray = [t for t in graph_leaves(roots) if t.requires_grad and id(t) not in known]
    if not stray:
        return []
    finder = _Finder()
    finder.module(model, "")
    if isinstance(ctx.loss_fn, nn.Module):
        finder.module(ctx.loss_fn, "loss_fn", None)
        for name, parameter in ctx.loss_fn.named_parameters():
            finder.found.setdefault(
                id(parameter),
                (f"loss_fn.{name}", "a parameter of the loss: the optimizer gets only the model's"),
            )
    # In the order the model holds them (a layer's weight before its bias); unnamed last.
    order = {key: index for index, key in enumerate(finder.found)}
    stray.sort(key=lambda tensor: order.get(id(tensor), len(order)))
    rows = []
    for tensor in stray:
        unnamed = (f"<unnamed {tuple(tensor.shape)} tensor>", _NOT_FOUND)
        path, fix = finder.found.get(id(tensor), unnamed)
        rows.append(
            {"name": path, "shape": list(tensor.shape), "numel": tensor.numel(), "problem": fix}
        )
    return rows


def check_unregistered_parameters(ctx: SanityContext, params: dict[str, Any]) -> CheckResult:
    check_id = "train.unregistered_parameters"
    if (skipped := ctx.skip_unless(check_id, "forward")) is not None:
        return skipped
    first = ctx.first_pass  # it walks the graph of its outputs and loss (see first_pass.py)
    rows = list(first.unregistered)
    summary = _summary(rows, first.parameters)
    return CheckResult(
        check_id,
        verdict(bool(rows), params),
        summary,
        value=float(len(rows)),
        threshold=0.0,
        evidence=[Evidence("parameters", rows, len(rows), "unregistered tensors in the graph")]
        if rows
        else [],
        details={"unregistered": [row["name"] for row in rows]},
    )
