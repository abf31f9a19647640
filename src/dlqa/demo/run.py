"""The demo's training part: battery and fast loop run inside `dlqa check`; the monitored
training run is stored as a run of its own. Kept out of the CLI so it stays thin."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from dlqa.config import Config
from dlqa.core.gates import gate_fails
from dlqa.core.results import CheckResult
from dlqa.demo.build import DemoProject
from dlqa.demo.eval_part import MODEL_FILE
from dlqa.runner.monitor_run import KIND as MONITOR_KIND
from dlqa.runner.monitor_run import record_monitor
from dlqa.runner.session import RunSession

# Long enough for the evaluation part to have a model worth evaluating (about 0.95 accuracy
# on data/test from 480 small training images, with training.train's one-cycle schedule and
# random shifts), short enough for the demo's time budget (a few seconds on two cores).
MONITORED_EPOCHS = 40


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def prepare_training(project: DemoProject, config: Config) -> bool:
    """Point the demo's training code at the project's data; without torch, drop [train]
    and [eval] from the config (the data part still runs) and return False."""
    if not torch_available():
        for key in ("model", "loss", "optimizer", "batch", "fast", "fast_command"):
            setattr(config.train, key, None)
        config.eval.test = None
        config.deploy.bundle = None
        return False
    from dlqa.demo import training

    # Absolute: the fast loop runs with the project folder as its working folder.
    training.DEFAULT_DATA_DIR = project.data_dir.resolve()
    return True


@dataclass(frozen=True)
class MonitoredTraining:
    run_id: int
    results: list[CheckResult]
    test_accuracy: list[float]
    weights: Path  # the trained model's state_dict, which [eval] evaluates


def run_monitored_training(project: DemoProject, config: Config) -> MonitoredTraining:
    """Train the demo CNN with dlqa.monitor attached, store its findings as a monitor run
    (as ``dlqa.monitor`` does: results judged with the project's gates, the monitor's record)
    and save its weights where ``[eval] weights`` expects them."""
    import torch

    from dlqa.demo.training import train

    session = RunSession(
        config, kind=MONITOR_KIND, title="Monitored training of the demo CNN", formats=()
    )
    with session:
        trained = train(epochs=MONITORED_EPOCHS, monitor=True, data_dir=project.data_dir)
        if trained.monitor is not None:
            trained.monitor_results = record_monitor(session, trained.monitor)
    assert session.run_id is not None
    weights = project.root / MODEL_FILE
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(trained.model.state_dict(), weights)
    return MonitoredTraining(
        session.run_id, trained.monitor_results, trained.test_accuracy, weights
    )


def unexpected_training_failures(results: list[CheckResult]) -> list[str]:
    """Training checks that failed on the demo's correct CNN: the demo should show none."""
    return [
        r.check_id
        for r in results
        if r.check_id.startswith(("train.", "monitor.")) and gate_fails(r)
    ]


def evaluation_line(monitored: MonitoredTraining, results: list[CheckResult]) -> str:
    """What `dlqa demo` says about the trained CNN and its evaluation."""
    by_id = {r.check_id: r for r in results}
    line = (
        f"The CNN trained for {len(monitored.test_accuracy)} epochs reaches "
        f"{monitored.test_accuracy[-1]:.2f} accuracy on data/test ({monitored.weights.name})"
    )
    accuracy = by_id.get("eval.accuracy")
    if accuracy is not None and accuracy.interval is not None and accuracy.value is not None:
        line += (
            f"; on its eval set: {accuracy.value:.3f} [{accuracy.interval.low:.3f}, "
            f"{accuracy.interval.high:.3f}] over {accuracy.n} images ({accuracy.status.value})"
        )
    return line + "."
