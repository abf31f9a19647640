"""The registry of checks: stable ids, documented parameters and their defaults.

A check is a function ``(context, params) -> CheckResult``. Gates in ``dlqa.toml`` refer to a
check by id and override its parameters; ``level`` decides whether a violation fails the gate
(``"fail"``) or only warns (``"warn"``), and ``enabled = false`` turns a check off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlqa.core.errors import ConfigError
from dlqa.core.results import CheckResult, Status

CheckFunction = Callable[[Any, dict[str, Any]], CheckResult]

LEVELS = ("fail", "warn")
COMMON_PARAMS = ("level", "enabled")


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    title: str
    description: str
    func: CheckFunction
    defaults: dict[str, Any] = field(default_factory=dict)
    param_docs: dict[str, str] = field(default_factory=dict)
    level: str = "fail"

    @property
    def stage(self) -> str:
        return self.check_id.split(".", 1)[0]

    def resolve_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with a gate's overrides, each override validated by name and type."""
        params: dict[str, Any] = {"level": self.level, "enabled": True, **self.defaults}
        for key, value in (overrides or {}).items():
            where = f'gates."{self.check_id}".{key}'
            if key not in params:
                allowed = ", ".join(sorted(params))
                raise ConfigError(f"{where}: unknown parameter", hint=f"allowed: {allowed}")
            params[key] = _coerce(where, params[key], value)
        if params["level"] not in LEVELS:
            raise ConfigError(
                f'gates."{self.check_id}".level: must be "fail" or "warn", not {params["level"]!r}'
            )
        return params


def _coerce(where: str, default: Any, value: Any) -> Any:
    """Accept a value of the default's type (an int where a float is expected, too)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = True
    if not ok:
        raise ConfigError(
            f"{where}: expected {type(default).__name__}, got {type(value).__name__} ({value!r})"
        )
    return value


_REGISTRY: dict[str, CheckSpec] = {}


def register_check(
    check_id: str,
    *,
    title: str,
    description: str,
    defaults: dict[str, Any] | None = None,
    param_docs: dict[str, str] | None = None,
    level: str = "fail",
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator that registers a check function under a stable id."""

    def decorate(func: CheckFunction) -> CheckFunction:
        if check_id in _REGISTRY and _REGISTRY[check_id].func is not func:
            raise ValueError(f"check id registered twice: {check_id}")
        _REGISTRY[check_id] = CheckSpec(
            check_id=check_id,
            title=title,
            description=description,
            func=func,
            defaults=dict(defaults or {}),
            param_docs=dict(param_docs or {}),
            level=level,
        )
        return func

    return decorate


def _load_builtin_checks() -> None:
    # Importing the stage packages registers their checks.
    import dlqa.data.checks  # noqa: F401
    import dlqa.train.checks  # noqa: F401
    import dlqa.train.fast  # noqa: F401
    import dlqa.train.gradcheck  # noqa: F401
    import dlqa.train.metrics  # noqa: F401
    import dlqa.train.monitor_checks  # noqa: F401


def get_spec(check_id: str) -> CheckSpec:
    _load_builtin_checks()
    try:
        return _REGISTRY[check_id]
    except KeyError:
        raise ConfigError(
            f"unknown check id {check_id!r}", hint="`dlqa checks` lists every check id"
        ) from None


def all_specs(stage: str | None = None) -> list[CheckSpec]:
    _load_builtin_checks()
    specs = sorted(_REGISTRY.values(), key=lambda s: s.check_id)
    return [s for s in specs if stage is None or s.stage == stage]


def verdict(violated: bool, params: dict[str, Any]) -> Status:
    """The status of a check whose measured value crossed (or not) its threshold."""
    if not violated:
        return Status.PASS
    return Status.FAIL if params["level"] == "fail" else Status.WARN
