"""``dlqa.toml``: the project's configuration, validated with messages that name the bad key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dlqa.core.errors import ConfigError
from dlqa.core.registry import get_spec

CONFIG_FILENAME = "dlqa.toml"
REPORT_FORMATS = ("html", "json", "junit")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectConfig(_Section):
    name: str = "dlqa-project"


class DataConfig(_Section):
    source: str | None = Field(None, description="folder tree or manifest, relative to dlqa.toml")
    path_column: str = "path"
    label_column: str = "label"
    split_column: str = "split"
    id_column: str | None = None


class StoreConfig(_Section):
    url: str | None = Field(None, description="database URL; default SQLite at .dlqa/dlqa.db")


class ReportConfig(_Section):
    dir: str = ".dlqa/reports"
    formats: list[str] = Field(default_factory=lambda: list(REPORT_FORMATS))

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, formats: list[str]) -> list[str]:
        unknown = sorted(set(formats) - set(REPORT_FORMATS))
        if unknown:
            raise ValueError(f"unknown format(s) {unknown}; choose from {list(REPORT_FORMATS)}")
        return formats


class TrainConfig(_Section):
    """Import paths ``module:attribute`` of the project's training pieces (see docs/training.md)."""

    model: str | None = Field(None, description="() -> torch.nn.Module (a fresh model each call)")
    loss: str | None = Field(None, description="(outputs, targets) -> scalar loss")
    optimizer: str | None = Field(None, description="(model parameters) -> torch.optim.Optimizer")
    batch: str | None = Field(None, description="() -> (inputs, targets), or a DataLoader")
    fast: str | None = Field(None, description="() -> losses: the fast variant of training")
    fast_command: str | None = Field(None, description="shell command of the fast variant")
    device: str = Field("cpu", description='"cpu", "cuda" or "auto"')
    python_path: list[str] = Field(
        default_factory=lambda: ["."], description="folders added to sys.path for the imports"
    )

    @field_validator("model", "loss", "optimizer", "batch", "fast")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and (value.count(":") != 1 or not all(value.split(":"))):
            raise ValueError(f'expected "module:attribute", got {value!r}')
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in ("cpu", "cuda", "auto"):
            raise ValueError('expected "cpu", "cuda" or "auto"')
        return value


class ExecuteConfig(_Section):
    workers: int | None = Field(None, ge=1, description="pool size; default one per core")


class Config(_Section):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    execute: ExecuteConfig = Field(default_factory=ExecuteConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    gates: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Set by load_config: the folder that relative paths in the file are relative to.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def parse_config(data: dict[str, Any], *, origin: str = CONFIG_FILENAME, base_dir: Path) -> Config:
    try:
        config = Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(origin, exc)) from None
    for check_id, overrides in config.gates.items():
        # Raises ConfigError naming the unknown check id or parameter.
        try:
            get_spec(check_id).resolve_params(overrides)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc.message}", hint=exc.hint) from None
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
    return parse_config(data, origin=str(path), base_dir=path.resolve().parent)


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the section at ``loc`` accepts (for messages about an unknown key)."""
    model: Any = Config
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
        if not issubclass(model, BaseModel):
            return []
    return [name for name in model.model_fields if name != "base_dir"]


def _describe_validation_error(origin: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(tuple(error["loc"][:-1]))
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{origin}: {key}: unknown key{hint}")
        else:
            lines.append(f"{origin}: {key}: {error['msg']} (got {error.get('input')!r})")
    return "\n".join(lines)


def starter_config_text(source: str, *, name: str, summary: str, specs: list) -> str:
    """A dlqa.toml for a data folder: the source, and every gate with its defaults commented."""
    from dlqa.report.catalog import format_default

    lines = [
        f"# dlqa configuration for {name}: {summary}",
        "# Edit the gates below; `dlqa checks` lists every check and parameter.",
        "",
        "[project]",
        f'name = "{name}"',
        "",
        "[data]",
        f'source = "{source}"',
        "",
        "[report]",
        'dir = ".dlqa/reports"',
        'formats = ["html", "json", "junit"]',
        "",
        "[gates]",
        '# Uncomment a line to change a gate. level = "fail" fails the run, "warn" only warns.',
    ]
    for spec in specs:
        params = {"level": spec.level, **spec.defaults}
        body = ", ".join(f"{k} = {format_default(v)}" for k, v in params.items())
        lines.append(f'# "{spec.check_id}" = {{ {body} }}')
    return "\n".join(lines) + "\n"
