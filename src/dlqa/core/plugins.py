"""Loading plugins: the entry-point groups ``dlqa.checks`` and ``dlqa.stages``.

dlqa's own checks and stages load exactly the way a third-party package's do, the way
pytest loads its own plugins through ``pytest11``. Each entry point names a module whose
import registers checks (``dlqa.checks``) or stages (``dlqa.stages``); the entry point's
name is the namespace its check ids live in. Loading happens once, lazily, the first time a
registry is read, so that ``import dlqa`` stays cheap.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from dlqa.core.errors import UsageError

CHECK_GROUP = "dlqa.checks"
STAGE_GROUP = "dlqa.stages"
DISABLE_ENV = "DLQA_DISABLE_PLUGINS"
# Namespaces that only dlqa itself may register checks in.
BUILTIN_NAMESPACES = frozenset({"data", "train", "monitor", "eval", "deploy", "exp", "labels"})
BUILTIN_DISTRIBUTION = "dlqa"


class PluginError(UsageError):
    """A plugin that cannot be loaded or registers what it may not (exit code 2)."""


@dataclass(frozen=True)
class PluginOrigin:
    """Where a registration comes from: the entry point being loaded."""

    group: str
    name: str
    module: str
    distribution: str

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    version: str = ""

    def describe(self) -> str:
        dist = f"{self.distribution} {self.version}".strip()
        return (
            f'plugin "{self.name}" ({dist}, entry point {self.group}: {self.name} = {self.module})'
        )


_loading: list[PluginOrigin] = []  # the entry point whose module is being imported
_loaded_groups: set[str] = set()


def current_origin() -> PluginOrigin | None:
    return _loading[-1] if _loading else None


@contextmanager
def _origin(origin: PluginOrigin) -> Iterator[None]:
    _loading.append(origin)
    try:
        yield
    finally:
        _loading.pop()


def disabled_plugins() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def _entry_points(group: str) -> list[EntryPoint]:
    seen: dict[tuple[str, str], EntryPoint] = {}
    for point in entry_points(group=group):
        # An editable install can list a distribution twice; one load is enough.
        seen.setdefault((point.name, point.value), point)
    # dlqa's own plugins first, so a third party's clash is reported against them.
    return sorted(seen.values(), key=lambda p: (_distribution(p) != BUILTIN_DISTRIBUTION, p.name))


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    if dist is None:
        return "unknown distribution"
    return dist.metadata["Name"] or "unknown distribution"


def _version(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return "" if dist is None else str(dist.version)


def load_group(group: str) -> None:
    """Import every module of the entry-point group once; a failure names the plugin."""
    if group in _loaded_groups:
        return
    skip = disabled_plugins()
    for point in _entry_points(group):
        if point.name in skip and _distribution(point) != BUILTIN_DISTRIBUTION:
            continue
        origin = PluginOrigin(group, point.name, point.value, _distribution(point), _version(point))
        with _origin(origin):
            try:
                importlib.import_module(point.value)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"{origin.describe()} failed to import: {type(exc).__name__}: {exc}",
                    hint=f"fix or uninstall it, or run with {DISABLE_ENV}={point.name}",
                ) from exc
    _loaded_groups.add(group)


def reset_loaded_groups() -> None:
    """Forget which groups were loaded (tests that install a plugin at run time)."""
    _loaded_groups.clear()
