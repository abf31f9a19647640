"""The demo's training part: battery and fast loop run inside `dlqa check`; the monitored
training run is stored as a run of its own. Kept out of the CLI so it stays thin."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from dlqa.config import Config
from dlqa.core.gates import gate_fails
from dlqa.core.results import CheckResult
from dlqa.demo.build import DemoProject
from dlqa.runner.session import RunSession

MONITORED_EPOCHS = 3


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def prepare_training(project: DemoProject, config: Config) -> bool:
    """Point the demo's training code at the project's data; without torch, drop [train]
    from the config (the data part still runs) and return False."""
    if not torch_available():
        for key in ("model", "loss", "optimizer", "batch", "fast", "fast_command"):
            setattr(config.train, key, None)
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


def run_monitored_training(project: DemoProject, config: Config) -> MonitoredTraining:
    """Train the demo CNN with dlqa.monitor attached and store its findings as a run."""
    from dlqa.demo.training import train

    session = RunSession(
        config, kind="train.monitor", title="Monitored training of the demo CNN", formats=()
    )
    with session:
        trained = train(epochs=MONITORED_EPOCHS, monitor=True, data_dir=project.data_dir)
        for result in trained.monitor_results:
            session.add_result(result)
    assert session.run_id is not None
    return MonitoredTraining(session.run_id, trained.monitor_results, trained.test_accuracy)


def unexpected_training_failures(results: list[CheckResult]) -> list[str]:
    """Training checks that failed on the demo's correct CNN: the demo should show none."""
    return [
        r.check_id
        for r in results
        if r.check_id.startswith(("train.", "monitor.")) and gate_fails(r)
    ]
