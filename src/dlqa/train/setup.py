"""The project's training pieces, named in dlqa.toml as import paths ``module:attribute``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlqa.core.errors import ConfigError, UsageError
from dlqa.train import TORCH_HINT


def load_object(
    path: str,
    *,
    search_path: list[Path] | None = None,
    key: str = "",
    section: str = "train",
) -> Any:
    """Import ``module:attribute`` (dotted attributes allowed), with a message that names the
    dlqa.toml key (``[section] key``) and what failed: the module, or the attribute in it."""
    where = f"{section}.{key} = {path!r}" if key else repr(path)
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f'{where}: expected "module:attribute"')
    for folder in reversed(search_path or []):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "torch":  # the project's module needs torch
            raise UsageError(
                f"{where}: module {module_name!r} needs PyTorch, which is not installed",
                hint=TORCH_HINT,
            ) from None
        raise UsageError(
            f"{where}: cannot import module {module_name!r}: {exc}",
            hint=f"check the module name and [{section}] python_path in dlqa.toml",
        ) from None
    except Exception as exc:  # the user's module raised while importing
        raise UsageError(
            f"{where}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UsageError(f"{where}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target


@dataclass
class TrainingSetup:
    """What the sanity battery needs: factories (so every check starts from a fresh model and
    optimizer), the loss and one batch ``(inputs, targets)``."""

    model_factory: Callable[[], Any]
    loss_fn: Callable[[Any, Any], Any]
    optimizer_factory: Callable[[Any], Any]
    batch: tuple[Any, Any]
    device: str = "cpu"
    output_key: int | str | None = None  # which output is the logits (a tuple or dict model)


def first_batch(source: Any, *, where: str = "batch") -> tuple[Any, Any]:
    """One ``(inputs, targets)`` batch from a batch, a DataLoader / iterable, or a callable
    returning either. Anything else is a UsageError that says what was found."""
    value = source() if callable(source) and not hasattr(source, "__iter__") else source
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict)):
        try:
            value = next(iter(value))
        except StopIteration:
            raise UsageError(f"{where}: the DataLoader yielded no batch") from None
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return value[0], value[1]
    raise UsageError(
        f"{where}: expected a batch (inputs, targets) or a DataLoader of them, "
        f"got {type(value).__name__}"
    )
