"""The training stage of `dlqa check` / `dlqa train check`: the project's model, loss,
optimizer and batch from dlqa.toml, the sanity battery, and the fast loop."""

from __future__ import annotations

from typing import Any

from dlqa.config import Config
from dlqa.core.errors import ConfigError, UsageError
from dlqa.core.registry import get_spec
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite
from dlqa.train import require_torch
from dlqa.train.setup import TrainingSetup, first_batch, load_object

REQUIRED_KEYS = ("model", "loss", "optimizer", "batch")


def _callable(value: Any, key: str, path: str) -> Any:
    if not callable(value):
        raise UsageError(f"train.{key} = {path!r} is a {type(value).__name__}, not callable")
    return value


def training_setup(config: Config) -> TrainingSetup:
    """Import the [train] pieces; a missing key or a bad import is one clear message."""
    train = config.train
    missing = [key for key in REQUIRED_KEYS if not getattr(train, key)]
    if missing:
        raise ConfigError(
            f"dlqa.toml: [train] needs {', '.join(missing)} for the sanity battery",
            hint='import paths "module:attribute", e.g. model = "myproject.model:build_model"',
        )
    search = [config.resolve(folder) for folder in train.python_path]

    def load(key: str) -> Any:
        return load_object(getattr(train, key), search_path=search, key=key)

    loss = load("loss")
    if isinstance(loss, type):  # a loss class such as torch.nn.CrossEntropyLoss
        loss = loss()
    return TrainingSetup(
        model_factory=_callable(load("model"), "model", train.model),
        loss_fn=_callable(loss, "loss", train.loss),
        optimizer_factory=_callable(load("optimizer"), "optimizer", train.optimizer),
        batch=first_batch(load("batch"), where=f"train.batch = {train.batch!r}"),
        device=_resolve_device(train.device),
    )


def _resolve_device(device: str) -> str:
    torch = require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError('dlqa.toml: train.device = "cuda" but no CUDA device is available')
    return device


def run_battery(config: Config, gates: dict[str, dict[str, Any]]) -> list[CheckResult]:
    """The sanity battery on the configured model, loss, optimizer and batch."""
    require_torch()
    from dlqa.train.sanity import run

    setup = training_setup(config)
    return run(
        setup.model_factory,
        setup.loss_fn,
        setup.optimizer_factory,
        setup.batch,
        device=setup.device,
        gates=gates,
    )


def run_fast_loop(config: Config, gates: dict[str, dict[str, Any]]) -> CheckResult:
    """The project's fast variant of training: it completes and its loss drops."""
    from dlqa.train.fast import fast_loop_from_config

    setup = fast_loop_from_config(config)
    return Suite([get_spec("train.fast_loop")], gates).run(setup).results[0]
