"""Check parameters: each declares its type and allowed range, checked when dlqa.toml is read.

A check declares its parameters either as a mapping of defaults, whose values are plain
defaults (the type is taken from them) or :class:`Param` (a default with a range, choices and
a line of documentation), or as a pydantic model. Both become one pydantic model per check,
which also carries the gate parameters every check shares (``level``, ``enabled``,
``on_inconclusive``, ``subjects``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from dlqa.core.errors import ConfigError

LEVELS = ("fail", "warn")


class GateParams(BaseModel):
    """Parameters every check's gate accepts."""

    # strict: a bool is not a number and a string is not a list; an int is still a float.
    model_config = ConfigDict(extra="forbid", strict=True)

    level: Literal["fail", "warn"] = Field(
        "fail", description='"fail" fails the run when violated; "warn" only warns'
    )
    enabled: bool = Field(True, description="false turns the check off")
    on_inconclusive: Literal["fail", "warn"] = Field(
        "fail",
        description='what an undecided result does to the gate: "fail" (default) or "warn"',
    )
    subjects: list[str] | None = Field(
        None, description="gate only these subjects of a check with several results"
    )


COMMON_PARAMS = tuple(GateParams.model_fields)


@dataclass(frozen=True)
class Param:
    """A parameter's default with its allowed range and documentation."""

    default: Any
    doc: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None

    def field(self) -> tuple[Any, Any]:
        """The (annotation, FieldInfo) pydantic needs for this parameter."""
        annotation: Any = _annotation(self.default)
        if self.choices is not None:
            annotation = Literal[tuple(self.choices)]  # type: ignore[valid-type]
        bounds = {
            k: v
            for k, v in (("ge", self.ge), ("gt", self.gt), ("le", self.le), ("lt", self.lt))
            if v is not None
        }
        return annotation, Field(self.default, description=self.doc or None, **bounds)


def _annotation(default: Any) -> Any:
    if default is None:
        return Any
    if isinstance(default, bool):
        return bool
    if isinstance(default, float):
        return float
    if isinstance(default, int):
        return int
    if isinstance(default, str):
        return str
    if isinstance(default, list):
        return list
    return Any


def build_params_model(
    check_id: str,
    defaults: dict[str, Any] | None,
    model: type[BaseModel] | None,
    level: str,
) -> type[GateParams]:
    """The pydantic model of a check's parameters, with the shared gate parameters."""
    if level not in LEVELS:
        raise ValueError(f"{check_id}: level must be one of {LEVELS}, not {level!r}")
    fields: dict[str, Any] = {"level": (Literal["fail", "warn"], Field(level))}
    if model is not None:
        if defaults:
            raise ValueError(f"{check_id}: give either defaults or a params model, not both")
        for name, info in model.model_fields.items():
            fields[name] = (info.annotation, info)
    for name, value in (defaults or {}).items():
        if name in COMMON_PARAMS:
            raise ValueError(f"{check_id}: parameter {name!r} is reserved for gates")
        fields[name] = value.field() if isinstance(value, Param) else (_annotation(value), value)
    safe_name = "Params_" + "".join(c if c.isalnum() else "_" for c in check_id)
    return create_model(safe_name, __base__=GateParams, **fields)


def default_values(params_model: type[BaseModel]) -> dict[str, Any]:
    """The check's own parameters (not the shared gate ones) with their defaults."""
    return {
        name: info.default
        for name, info in params_model.model_fields.items()
        if name not in COMMON_PARAMS
    }


def param_docs(params_model: type[BaseModel]) -> dict[str, str]:
    return {
        name: info.description
        for name, info in params_model.model_fields.items()
        if name not in COMMON_PARAMS and info.description
    }


def param_range(params_model: type[BaseModel], name: str) -> str:
    """The allowed range of a parameter as text (``0 <= x <= 1``), or "" when unbounded."""
    low, high = "", ""
    for meta in params_model.model_fields[name].metadata:
        for attr, sign in (("ge", "<="), ("gt", "<")):
            if getattr(meta, attr, None) is not None:
                low = f"{getattr(meta, attr)} {sign} "
        for attr, sign in (("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                high = f" {sign} {getattr(meta, attr)}"
    return f"{low}{name}{high}" if low or high else ""


def validate_params(
    check_id: str, params_model: type[BaseModel], overrides: dict[str, Any] | None
) -> dict[str, Any]:
    """Defaults merged with a gate's overrides; every problem named at once (exit code 2)."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigError(
            f'gates."{check_id}": expected a table of parameters, got {overrides!r}',
            hint=f'write "{check_id}" = {{ level = "warn" }}',
        )
    try:
        return params_model.model_validate(dict(overrides or {})).model_dump()
    except ValidationError as exc:
        allowed = ", ".join(sorted(params_model.model_fields))
        lines = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            where = f'gates."{check_id}".{key}'
            if error["type"] == "extra_forbidden":
                lines.append(f"{where}: unknown parameter (allowed: {allowed})")
            else:
                lines.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError("\n".join(lines)) from None
