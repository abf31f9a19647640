"""The training stage: its ``[train]`` section, and the context its checks read (the sanity
battery's model, loss, optimizer and batch; the fast variant of training).

Registered through the ``dlqa.stages`` entry point ``train``. Importing this module does not
import torch; building the context does, and says how to install it when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dlqa.core.errors import ConfigError, UsageError
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.train.checks import CHECK_ORDER
from dlqa.train.setup import TrainingSetup, first_batch, load_object

REQUIRED_KEYS = ("model", "loss", "optimizer", "batch")


class TrainConfig(BaseModel):
    """``[train]``: import paths ``module:attribute`` of the project's training pieces."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="() -> torch.nn.Module (a fresh model each call)")
    loss: str | None = Field(None, description="(outputs, targets) -> scalar loss")
    optimizer: str | None = Field(None, description="(model parameters) -> torch.optim.Optimizer")
    batch: str | None = Field(None, description="() -> (inputs, targets), or a DataLoader")
    fast: str | None = Field(None, description="() -> losses: the fast variant of training")
    fast_command: str | None = Field(None, description="shell command of the fast variant")
    device: str = Field("cpu", description='"cpu", "cuda" or "auto"')
    output_key: int | str | None = Field(
        None,
        description="the output the loss takes, of a model returning a tuple (index) or dict (key)",
    )
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

    @model_validator(mode="after")
    def _one_fast_variant(self) -> TrainConfig:
        if self.fast and self.fast_command:
            raise ValueError(
                "set either fast (a Python function) or fast_command (a shell command), not both"
            )
        return self


@dataclass
class TrainContext:
    """What ``train.*`` checks read: the battery's context (None without a [train] model)
    and the fast variant of training (None when not configured)."""

    sanity: Any = None  # dlqa.train.sanity.context.SanityContext
    fast_loop: Any = None  # dlqa.train.fast.FastLoopSetup


def training_setup(config: Any) -> TrainingSetup:
    """Import the [train] pieces; a missing key or a bad import is one clear message."""
    from dlqa.train import require_torch

    train: TrainConfig = config.train
    missing = [key for key in REQUIRED_KEYS if not getattr(train, key)]
    if missing:
        raise ConfigError(
            f"dlqa.toml: [train] needs {', '.join(missing)} for the sanity battery",
            hint='import paths "module:attribute", e.g. model = "myproject.model:build_model"',
        )
    torch = require_torch()
    search = [config.resolve(folder) for folder in train.python_path]

    def load(key: str) -> Any:
        return load_object(getattr(train, key), search_path=search, key=key)

    loss = load("loss")
    if isinstance(loss, type):  # a loss class such as torch.nn.CrossEntropyLoss
        loss = loss()
    device = train.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ConfigError('dlqa.toml: train.device = "cuda" but no CUDA device is available')
    return TrainingSetup(
        model_factory=_callable(load("model"), "model", train.model),
        loss_fn=_callable(loss, "loss", train.loss),
        optimizer_factory=_callable(load("optimizer"), "optimizer", train.optimizer),
        batch=first_batch(load("batch"), where=f"train.batch = {train.batch!r}"),
        device=device,
        output_key=train.output_key,
    )


def _callable(value: Any, key: str, path: str) -> Any:
    if not callable(value):
        raise UsageError(f"train.{key} = {path!r} is a {type(value).__name__}, not callable")
    return value


@contextmanager
def build_train_context(run: StageRun) -> Iterator[TrainContext]:
    """The battery's context (validated; random state restored afterwards) and the fast loop.

    ``run.inputs["only_fast"]`` (from `dlqa train fast`) leaves the battery out.
    """
    from dlqa.train.fast import fast_loop_from_config

    section: TrainConfig = run.section
    fast_loop = fast_loop_from_config(run.config)
    if not section.model or run.inputs.get("only_fast"):
        yield TrainContext(sanity=None, fast_loop=fast_loop)
        return
    from dlqa.train.sanity.runner import battery_context

    setup = training_setup(run.config)
    with battery_context(
        setup.model_factory,
        setup.loss_fn,
        setup.optimizer_factory,
        setup.batch,
        device=setup.device,
        output_key=setup.output_key,
    ) as sanity:
        yield TrainContext(sanity=sanity, fast_loop=fast_loop)


STAGE = register_stage(
    StageSpec(
        name="train",
        title="Training",
        section=TrainConfig,
        build_context=build_train_context,
        is_configured=lambda section: bool(section.model or section.fast or section.fast_command),
        check_order=(*CHECK_ORDER, "train.fast_loop"),
        order=20,
    )
)
