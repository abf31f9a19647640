"""``dlqa.toml``: the project's configuration, validated with messages that name the bad key.

The file has core sections (``[project]``, ``[store]``, ``[report]``, ``[execute]``,
``[gates]``) and one section per registered stage (``[data]``, ``[train]``, ...), whose
pydantic model the stage declares. Unknown sections and keys are rejected with the key named;
gate parameters are checked for name, type and range against the check registry.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from dlqa.core.errors import ConfigError
from dlqa.core.registry import get_spec
from dlqa.core.stages import all_stages

CONFIG_FILENAME = "dlqa.toml"
REPORT_FORMATS = ("html", "json", "junit")


class Section(BaseModel):
    """Base of every dlqa.toml section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ProjectConfig(Section):
    name: str = "dlqa-project"


class StoreConfig(Section):
    url: str | None = Field(None, description="database URL; default SQLite at .dlqa/dlqa.db")
    artifacts: str | None = Field(
        None, description="artifact folder; default beside a SQLite database (DLQA_ARTIFACTS)"
    )


class ReportConfig(Section):
    dir: str = ".dlqa/reports"
    formats: list[str] = Field(default_factory=lambda: list(REPORT_FORMATS))

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, formats: list[str]) -> list[str]:
        unknown = sorted(set(formats) - set(REPORT_FORMATS))
        if unknown:
            raise ValueError(f"unknown format(s) {unknown}; choose from {list(REPORT_FORMATS)}")
        return formats


class ExecuteConfig(Section):
    workers: int | None = Field(None, ge=1, description="pool size; default one per core")
    # "dask" runs data profiling on a Dask cluster: the scheduler at `address`, or a
    # LocalCluster started for the run when there is none (dlqa.execute.dask_executor).
    backend: Literal["local", "dask"] = "local"
    address: str | None = Field(None, description="Dask scheduler, tcp://HOST:PORT")
    worker_root: str | None = Field(
        None,
        description="where the Dask workers see the data's root, when they mount the shared "
        "file system elsewhere (relative: to each worker's working directory)",
    )

    @model_validator(mode="after")
    def _address_needs_dask(self) -> ExecuteConfig:
        # An address with the local backend would be silently ignored: say so instead.
        for name in ("address", "worker_root"):
            if getattr(self, name) is not None and self.backend != "dask":
                raise ValueError(f'{name} is for the Dask backend: set backend = "dask"')
        return self


class Config(Section):
    """The core sections; ``load_config`` returns a subclass with every stage's section."""

    project: ProjectConfig = Field(default_factory=ProjectConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    execute: ExecuteConfig = Field(default_factory=ExecuteConfig)
    gates: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Set by load_config: the folder that relative paths in the file are relative to, and
    # the file itself (None for a project without one).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    path: Path | None = Field(None, exclude=True)

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def section(self, name: str) -> Any:
        """A stage's section (None for a stage without one)."""
        return getattr(self, name, None)


def config_model() -> type[Config]:
    """The model of the whole file: the core sections and every registered stage's."""
    sections = tuple((s.name, s.section) for s in all_stages() if s.section is not None)
    return _config_model(sections)


@functools.cache
def _config_model(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[Config]:
    fields: dict[str, Any] = {
        name: (model, Field(default_factory=model)) for name, model in sections
    }
    return create_model("ProjectConfig", __base__=Config, **fields)


def default_config(base_dir: Path | None = None) -> Config:
    """The configuration of a project without a dlqa.toml."""
    return config_model()(base_dir=base_dir or Path.cwd())


def parse_config(
    data: dict[str, Any],
    *,
    origin: str = CONFIG_FILENAME,
    base_dir: Path,
    path: Path | None = None,
) -> Config:
    model = config_model()
    try:
        config = model.model_validate({**data, "base_dir": base_dir, "path": path})
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(model, origin, exc)) from None
    problems = []
    for check_id, overrides in config.gates.items():
        # Names the unknown check id, or every bad parameter (name, type, range).
        try:
            get_spec(check_id).resolve_params(overrides)
        except ConfigError as exc:
            problems.append(
                f"{origin}: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else "")
            )
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def load_config(path: Path | str) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such file", hint="run `dlqa init DATA_FOLDER` to write a starter dlqa.toml"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_config(data, origin=str(path), base_dir=path.resolve().parent, path=path.resolve())


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the section at ``loc`` accepts (for messages about an unknown key)."""
    current: Any = model
    for part in loc:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not isinstance(field.annotation, type):
            return []
        current = field.annotation
        if not issubclass(current, BaseModel):
            return []
    return [name for name in current.model_fields if name not in ("base_dir", "path")]


def _describe_validation_error(model: type[BaseModel], origin: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, tuple(error["loc"][:-1]))
            what = "unknown section" if len(error["loc"]) == 1 else "unknown key"
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{origin}: {key}: {what}{hint}")
        else:
            lines.append(f"{origin}: {key}: {error['msg']} (got {error.get('input')!r})")
    return "\n".join(lines)
