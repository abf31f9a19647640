"""The registry of checks: stable ids, the stage each reads, documented parameters.

A check is a function ``(context, params) -> CheckResult`` (or a list of them, one per
subject). Gates in ``dlqa.toml`` refer to a check by id and override its parameters; the
parameters' types and ranges are checked when the file is read. Checks register through
:func:`register_check`, from the modules that the ``dlqa.checks`` entry points name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from dlqa.core.errors import ConfigError
from dlqa.core.params import (
    GateParams,
    Param,
    build_params_model,
    default_values,
    param_docs,
    validate_params,
)
from dlqa.core.plugins import (
    BUILTIN_NAMESPACES,
    CHECK_GROUP,
    PluginError,
    current_origin,
    load_group,
)
from dlqa.core.results import CheckResult

CheckFunction = Callable[[Any, dict[str, Any]], "CheckResult | list[CheckResult]"]
_CHECK_ID = re.compile(r"[a-z][a-z0-9_]*\.[a-z0-9_][a-z0-9_.]*")


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    title: str
    description: str
    func: CheckFunction
    stage: str
    params_model: type[GateParams]
    origin: str = "dlqa"  # the distribution that registered it
    # The kinds of context the check applies to (data: "image", "audio", "text"); None: all.
    modalities: frozenset[str] | None = None
    # Inputs beside the stage's main one that the check reads (data: "reference" for drift,
    # "reviews" for spot-check verdicts); a run without them leaves the check out.
    needs: frozenset[str] = frozenset()

    def applies_to(self, modality: str | None) -> bool:
        return self.modalities is None or modality is None or modality in self.modalities

    @property
    def namespace(self) -> str:
        return self.check_id.split(".", 1)[0]

    @property
    def level(self) -> str:
        return self.params_model.model_fields["level"].default

    @property
    def defaults(self) -> dict[str, Any]:
        return default_values(self.params_model)

    @property
    def param_docs(self) -> dict[str, str]:
        return param_docs(self.params_model)

    def resolve_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with a gate's overrides, each checked for name, type and range."""
        return validate_params(self.check_id, self.params_model, overrides)


_REGISTRY: dict[str, CheckSpec] = {}


def register_check(
    check_id: str,
    *,
    title: str,
    description: str,
    stage: str | None = None,
    defaults: dict[str, Any] | None = None,
    params: type[BaseModel] | None = None,
    param_docs: dict[str, str] | None = None,
    level: str = "fail",
    modalities: tuple[str, ...] | None = None,
    needs: tuple[str, ...] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under a stable id ``namespace.name``.

    ``stage`` names the stage whose context the check reads (default: the namespace).
    ``modalities`` limits a check to some kinds of data ("image", "audio", "text"): on other
    data it is not run, and says so when asked for by name. ``needs`` names inputs beside the
    stage's main one (the data stage's "reference" dataset): a run without them leaves the
    check out the same way.
    Parameters come as ``defaults`` (plain values or :class:`dlqa.core.params.Param`) or as a
    pydantic model ``params``; ``param_docs`` documents plain defaults.
    """
    if not _CHECK_ID.fullmatch(check_id):
        raise ValueError(
            f"check id {check_id!r} must look like 'namespace.name' (lower case, digits, _)"
        )
    namespace = check_id.split(".", 1)[0]

    def decorate(func: CheckFunction) -> CheckFunction:
        origin = current_origin()
        where = origin.describe() if origin else f"module {func.__module__}"
        if origin is not None and namespace != origin.name:
            raise PluginError(
                f"{where} registers {check_id!r} outside its namespace {origin.name!r}",
                hint=f"name the check '{origin.name}.<name>'",
            )
        if (
            origin is None
            and namespace in BUILTIN_NAMESPACES
            and not func.__module__.startswith("dlqa.")
        ):
            raise PluginError(
                f"{where} registers {check_id!r} in dlqa's own namespace {namespace!r}",
                hint="use a namespace of your own, such as your package's name",
            )
        existing = _REGISTRY.get(check_id)
        if existing is not None and not _same_function(existing.func, func):
            raise PluginError(
                f"{where} registers {check_id!r}, which {existing.origin} already registered",
                hint="check ids are unique; rename one of them",
            )
        defaults_in = dict(defaults or {})
        if param_docs:
            defaults_in = {
                key: Param(value, doc=param_docs[key])
                if key in param_docs and not isinstance(value, Param)
                else value
                for key, value in defaults_in.items()
            }
        _REGISTRY[check_id] = CheckSpec(
            check_id=check_id,
            title=title,
            description=description,
            func=func,
            stage=stage or namespace,
            params_model=build_params_model(check_id, defaults_in, params, level),
            origin=origin.distribution if origin else "dlqa",
            modalities=None if modalities is None else frozenset(modalities),
            needs=frozenset(needs),
        )
        return func

    return decorate


def _same_function(a: CheckFunction, b: CheckFunction) -> bool:
    # A module imported twice (a test reloading it) registers an equal function again.
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def unregister_check(check_id: str) -> None:
    """Remove a check (tests that register throwaway checks)."""
    _REGISTRY.pop(check_id, None)


def get_spec(check_id: str) -> CheckSpec:
    load_group(CHECK_GROUP)
    try:
        return _REGISTRY[check_id]
    except KeyError:
        raise ConfigError(
            f"unknown check id {check_id!r}", hint="`dlqa checks` lists every check id"
        ) from None


def all_specs(stage: str | None = None) -> list[CheckSpec]:
    """Every registered check (of one stage when given), sorted by id."""
    load_group(CHECK_GROUP)
    specs = sorted(_REGISTRY.values(), key=lambda s: s.check_id)
    return [s for s in specs if stage is None or s.stage == stage]
