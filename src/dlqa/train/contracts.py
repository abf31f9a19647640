"""Shape and dtype contracts for tensors: ``expect(x, "B C H W", dtype="float")``.

A shape is a string of space-separated dims (``"B C H W"``, ``"B 3 _ _"``, ``"... D"``) or a
tuple (``(None, 3, -1)``). A dim is a size (``3``), a wildcard (``_``, ``*``, ``?``, ``-1`` or
``None``), a name (``B``) or ``...`` (any number of dims, once). A name binds to the size it
first meets and must match it afterwards: within one ``expect`` call, throughout a
``with contract():`` block, and across the inputs and output of a ``@shape_contract`` function.

Torch-free: works on anything with ``.shape`` and ``.dtype`` (torch tensors, numpy arrays).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dlqa.core.errors import UsageError

__all__ = ["ContractError", "contract", "expect", "shape_contract"]

F = TypeVar("F", bound=Callable[..., Any])
ShapeSpec = str | Sequence[int | str | None]
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_WILDCARDS = ("_", "*", "?", "-1")
DTYPE_CATEGORIES = {
    "float": ("float", "bfloat", "half", "double"),
    "int": ("int", "uint", "long", "short"),
    "bool": ("bool",),
    "complex": ("complex", "cfloat", "cdouble"),
}


class ContractError(UsageError, AssertionError):
    """A tensor broke its contract; an AssertionError too, so that tests report it as such."""


@dataclass
class _Scope:
    sizes: dict[str, int] = field(default_factory=dict)
    bound_by: dict[str, str] = field(default_factory=dict)


_current_scope: ContextVar[_Scope | None] = ContextVar("dlqa_contract_scope", default=None)


@contextlib.contextmanager
def contract() -> Iterator[dict[str, int]]:
    """A scope in which named dims bind across ``expect`` calls; yields the live bindings.

    A nested scope starts from the outer bindings; what it binds does not leak out."""
    outer = _current_scope.get()
    scope = _Scope(dict(outer.sizes), dict(outer.bound_by)) if outer else _Scope()
    token = _current_scope.set(scope)
    try:
        yield scope.sizes
    finally:
        _current_scope.reset(token)


def _parse_dim(token: Any, spec: Any) -> Any:
    if token is None or token is Ellipsis or token == "...":
        return token if token is None else Ellipsis
    if isinstance(token, bool):
        raise UsageError(f"shape spec {spec!r}: {token!r} is not a dim")
    if not isinstance(token, str) and hasattr(token, "__index__"):  # numpy integers too
        token = int(token)
    if isinstance(token, int):
        if token == -1:
            return None
        if token < 0:
            raise UsageError(f"shape spec {spec!r}: negative size {token}")
        return token
    if isinstance(token, str):
        if token in _WILDCARDS:
            return None
        if token.isdigit():
            return int(token)
        if _NAME.match(token):
            return token
    raise UsageError(
        f"shape spec {spec!r}: {token!r} is not a dim",
        hint='use sizes (3), names (B), wildcards (_ or None) and "..." once, e.g. "B C H W"',
    )


def parse_shape(spec: ShapeSpec) -> tuple[Any, ...]:
    """The dims of a shape spec: ints, names, None (any size) and Ellipsis (any dims)."""
    tokens = spec.replace(",", " ").split() if isinstance(spec, str) else list(spec)
    dims = tuple(_parse_dim(token, spec) for token in tokens)
    if dims.count(Ellipsis) > 1:
        raise UsageError(f'shape spec {spec!r}: "..." may appear only once')
    return dims


def _render(dims: Sequence[Any], sizes: Mapping[str, int]) -> str:
    parts = []
    for dim in dims:
        if dim is Ellipsis:
            parts.append("...")
        elif dim is None:
            parts.append("_")
        elif isinstance(dim, str) and dim in sizes:
            parts.append(f"{dim}={sizes[dim]}")
        else:
            parts.append(str(dim))
    return "(" + ", ".join(parts) + ")"


def _match_shape(actual: tuple[int, ...], spec: ShapeSpec, name: str, scope: _Scope) -> None:
    dims = parse_shape(spec)
    expected = _render(dims, scope.sizes)
    got = "(" + ", ".join(str(d) for d in actual) + ")"
    prefix = f"{name}: expected shape {expected}, got {got}"
    if Ellipsis in dims:
        cut = dims.index(Ellipsis)
        head, tail = dims[:cut], dims[cut + 1 :]
        if len(actual) < len(head) + len(tail):
            raise ContractError(f"{prefix}: at least {len(head) + len(tail)} dims needed")
        pairs = list(zip(head, actual, strict=False))
        tail_start = len(actual) - len(tail)
        pairs += list(zip(tail, actual[tail_start:], strict=True))
        positions = list(range(len(head))) + list(range(tail_start, len(actual)))
    else:
        if len(actual) != len(dims):
            raise ContractError(f"{prefix}: {len(actual)} dims instead of {len(dims)}")
        pairs, positions = list(zip(dims, actual, strict=True)), list(range(len(dims)))
    new_sizes: dict[str, int] = {}
    new_sources: dict[str, str] = {}
    for position, (dim, size) in zip(positions, pairs, strict=True):
        if dim is None:
            continue
        if isinstance(dim, int):
            if size != dim:
                raise ContractError(f"{prefix}: dim {position} is {size}, expected {dim}")
            continue
        known = scope.sizes.get(dim, new_sizes.get(dim))
        if known is None:
            new_sizes[dim] = size
            new_sources[dim] = f"dim {position} of {name}"
        elif known != size:
            source = scope.bound_by.get(dim) or new_sources.get(dim)
            raise ContractError(
                f"{prefix}: dim {position} ({dim}) is {size}, but {dim} = {known} "
                f"(bound by {source})"
            )
    # Bind only once the whole shape matched, so that a failed check leaves no trace.
    scope.sizes.update(new_sizes)
    scope.bound_by.update(new_sources)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _dtype_matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, (tuple, list, set, frozenset)):
        return any(_dtype_matches(actual, w) for w in wanted)
    name = _dtype_name(actual)
    if isinstance(wanted, str) and wanted in DTYPE_CATEGORIES:
        if wanted == "int" and name.startswith("bool"):
            return False
        return name.startswith(DTYPE_CATEGORIES[wanted])
    if isinstance(wanted, type):  # numpy scalar types such as np.float32
        wanted = wanted.__name__
    return name == _dtype_name(wanted)


def _describe_dtype(wanted: Any) -> str:
    if isinstance(wanted, (tuple, list, set, frozenset)):
        return " or ".join(_describe_dtype(w) for w in wanted)
    if isinstance(wanted, str) and wanted in DTYPE_CATEGORIES:
        return f"{wanted} (any {wanted} dtype)"
    return _dtype_name(wanted.__name__ if isinstance(wanted, type) else wanted)


def _non_finite(tensor: Any) -> tuple[int, int, tuple[int, ...]] | None:
    """(count, total, first index) of nan/inf values, or None when all are finite."""
    if not _dtype_matches(tensor.dtype, ("float", "complex")):
        return None
    if hasattr(tensor, "detach"):  # a torch tensor
        bad = ~tensor.detach().isfinite()
        count = int(bad.sum().item())
        first = tuple(int(i) for i in bad.nonzero()[0].tolist()) if count else ()
    else:
        import numpy as np

        bad = ~np.isfinite(np.asarray(tensor))
        count = int(bad.sum())
        first = tuple(int(i) for i in np.argwhere(bad)[0]) if count else ()
    total = int(bad.numel() if hasattr(bad, "numel") else bad.size)
    return (count, total, first) if count else None


def expect(
    tensor: Any,
    shape: ShapeSpec | None = None,
    dtype: Any = None,
    finite: bool = False,
    name: str = "x",
) -> Any:
    """Raise ContractError unless ``tensor`` has the shape, dtype and finiteness asked for;
    returns the tensor, so that ``y = expect(model(x), "B K")`` reads naturally.

    ``dtype``: an exact dtype (``torch.float32``, ``"float32"``, ``np.int64``), a category
    (``"float"``, ``"int"``, ``"bool"``, ``"complex"``), a tuple of those, or None (any)."""
    if not hasattr(tensor, "shape") or not hasattr(tensor, "dtype"):
        raise ContractError(f"{name}: expected a tensor or array, got {type(tensor).__name__}")
    if dtype is not None and not _dtype_matches(tensor.dtype, dtype):
        raise ContractError(
            f"{name}: expected dtype {_describe_dtype(dtype)}, got {_dtype_name(tensor.dtype)}"
        )
    if shape is not None:
        scope = _current_scope.get() or _Scope()
        _match_shape(tuple(int(d) for d in tensor.shape), shape, name, scope)
    if finite:
        found = _non_finite(tensor)
        if found is not None:
            count, total, first = found
            raise ContractError(
                f"{name}: {count} of {total} values are not finite (nan or inf), "
                f"first at index {first}"
            )
    return tensor


def _expect_spec(value: Any, spec: Any, name: str) -> None:
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"shape", "dtype", "finite"}
        if unknown:
            raise UsageError(f"{name}: unknown contract keys {sorted(unknown)}")
        expect(value, name=name, **spec)
    else:
        expect(value, shape=spec, name=name)


def shape_contract(
    inputs: Mapping[str, Any] | None = None,
    output: Any = None,
) -> Callable[[F], F]:
    """Check a function's (or ``forward`` method's) tensors on every call.

    ``inputs`` maps argument names to a shape spec or ``{"shape", "dtype", "finite"}``;
    ``output`` is one spec, or a list of specs for a function returning a tuple. Named dims
    bind across the inputs and the output; arguments that are None are not checked."""
    input_specs = dict(inputs or {})

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        unknown = [arg for arg in input_specs if arg not in signature.parameters]
        if unknown:
            raise UsageError(
                f"shape_contract on {fn.__qualname__}: no argument named {', '.join(unknown)}",
                hint="arguments: " + ", ".join(signature.parameters),
            )
        for spec in [*input_specs.values(), *(output if isinstance(output, list) else [output])]:
            if spec is not None and not isinstance(spec, Mapping):
                parse_shape(spec)  # a malformed spec fails at decoration, not at the first call

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            with contract():
                for arg, spec in input_specs.items():
                    if arguments.get(arg) is not None:
                        _expect_spec(arguments[arg], spec, f"{fn.__qualname__} argument {arg!r}")
                result = fn(*args, **kwargs)
                _check_output(result, output, f"{fn.__qualname__} output")
            return result

        return checked  # type: ignore[return-value]

    return decorate


def _check_output(result: Any, spec: Any, name: str) -> None:
    if spec is None:
        return
    if not isinstance(spec, list):
        _expect_spec(result, spec, name)
        return
    if not isinstance(result, (tuple, list)) or len(result) != len(spec):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else "one value"
        raise ContractError(f"{name}: expected a tuple of {len(spec)} values, got {got}")
    for position, (value, item_spec) in enumerate(zip(result, spec, strict=True)):
        if item_spec is not None:
            _expect_spec(value, item_spec, f"{name}[{position}]")
