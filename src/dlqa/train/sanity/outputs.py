"""What the model returned: which output is the logits (``output_key``), and where in the
model a forward pass that raised failed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from dlqa.core.errors import UsageError
from dlqa.train.sanity.model_errors import ModelError

OutputKey = int | str | None

_MESSAGE_LIMIT = 500


def _shape_of(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    return type(value).__name__


def _entries(raw: Any) -> list[tuple[str, Any]]:
    """The outputs of a tuple/list/dict (or a named tuple) as (label, value) pairs."""
    if isinstance(raw, dict):
        return [(repr(key), value) for key, value in raw.items()]
    if isinstance(raw, (tuple, list)):
        return [(f"[{i}]", value) for i, value in enumerate(raw)]
    return []


def describe_outputs(raw: Any) -> list[dict[str, str]]:
    """Each output of a structured return value: its key or index and its shape (or type)."""
    return [{"name": label, "shape": _shape_of(value)} for label, value in _entries(raw)]


def _listing(raw: Any) -> str:
    return ", ".join(f"{item['name']} {item['shape']}" for item in describe_outputs(raw))


def pick_output(raw: Any, output_key: OutputKey) -> tuple[torch.Tensor | None, str | None]:
    """The tensor the loss takes, or (None, why) when the model's return value is not one
    tensor and no ``output_key`` says which of its outputs is meant. An ``output_key`` that
    does not fit the return value is the caller's mistake: a UsageError."""
    if output_key is None:
        if isinstance(raw, torch.Tensor):
            return raw, None
        if _entries(raw):
            what = "dict" if isinstance(raw, dict) else type(raw).__name__
            # Never guess: the first output of a detection model is often not the logits.
            return None, (
                f"the model returned a {what} of {len(_entries(raw))} outputs ({_listing(raw)}) "
                "instead of one tensor: pass output_key (an index for a tuple, a key for a "
                "dict) to say which output is the logits the loss takes"
            )
        return None, f"the model returned a {type(raw).__name__}, not a tensor"
    selected = _select(raw, output_key)
    if not isinstance(selected, torch.Tensor):
        raise UsageError(
            f"output_key={output_key!r} selects a {type(selected).__name__}, not a tensor",
            hint=f"the model's outputs: {_listing(raw) or type(raw).__name__}",
        )
    return selected, None


def _select(raw: Any, key: int | str) -> Any:
    if isinstance(raw, torch.Tensor):
        raise UsageError(
            f"output_key={key!r} was given but the model returns a single tensor",
            hint="leave output_key out for a model that returns one tensor",
        )
    hint = f"the model's outputs: {_listing(raw) or type(raw).__name__}"
    if isinstance(raw, dict):
        if key in raw:
            return raw[key]
    elif isinstance(raw, (tuple, list)):
        if isinstance(key, int) and -len(raw) <= key < len(raw):
            return raw[key]
        if isinstance(key, str) and key in getattr(raw, "_fields", ()):  # a named tuple
            return getattr(raw, key)
    elif isinstance(key, str) and hasattr(raw, key):  # an output object with attributes
        return getattr(raw, key)
    raise UsageError(f"output_key={key!r} is not one of the model's outputs", hint=hint)


def output_tensors(raw: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """Every tensor in a (nested) return value."""
    if isinstance(raw, torch.Tensor):
        yield raw
    elif depth < 4:
        for _, value in _entries(raw):
            yield from output_tensors(value, depth + 1)


def failing_module(exc: BaseException, model: nn.Module) -> tuple[str, str, str | None]:
    """(attribute path, class) of the innermost registered module whose code was running
    when ``exc`` was raised, and the class of an unregistered module running inside it."""
    names = {id(module): name for name, module in model.named_modules()}
    path, kind, stray = "", type(model).__name__, None
    frame = exc.__traceback__
    while frame is not None:  # outermost to innermost: the last module seen is the innermost
        owner = frame.tb_frame.f_locals.get("self")
        if isinstance(owner, nn.Module):
            if id(owner) in names:
                path, kind, stray = names[id(owner)], type(owner).__name__, None
            else:
                stray = type(owner).__name__
        frame = frame.tb_next
    return path, kind, stray


def model_error(exc: BaseException, model: nn.Module) -> ModelError:
    """The finding for an exception raised inside ``model``'s forward pass."""
    path, kind, stray = failing_module(exc, model)
    where = f"module {path} ({kind})" if path else f"the model's own forward ({kind})"
    if stray is not None:
        where = f"a {stray} that is not a registered submodule, called from {where}"
    text = str(exc).strip()
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + " ..."
    message = f"the model's forward pass raised {type(exc).__name__} in {where}: {text}"
    return ModelError(
        message, module=path, module_type=stray or kind, exception=type(exc).__name__, reason=text
    )
