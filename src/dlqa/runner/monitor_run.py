"""Monitor runs: what the training monitor finds, stored as a run.

``dlqa.monitor(model, optimizer)`` is :func:`monitor` here: a
:class:`dlqa.train.monitor.TrainingMonitor` whose recorder opens a run (kind
``train.monitor``) in the project's store when monitoring starts, stores its results (with the
project's gates) and a record of its series when monitoring ends, and finishes the run the way
every run finishes (:class:`dlqa.runner.session.RunSession`): ``finished``, or ``interrupted``
after Ctrl-C and ``failed`` after an exception in the training loop, with what was found up
to then. So a monitored training shows up in ``dlqa report RUN_ID``, its HTML report and the
dashboard like any run. :func:`monitor_callback` does the same for Lightning.

The monitor itself lives in ``dlqa.train`` and knows nothing of the store (the layers keep
training QA below the runner); it only calls the recorder given to it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlqa.config import CONFIG_FILENAME, Config, default_config, load_config
from dlqa.core.errors import RunInterrupted, UsageError
from dlqa.core.results import CheckResult
from dlqa.runner.session import RunSession
from dlqa.store import Store

if TYPE_CHECKING:
    from dlqa.train.lightning import MonitorCallback
    from dlqa.train.monitor import TrainingMonitor

KIND = "train.monitor"
# Points kept per series (loss, gradient norm) in the stored record: enough for a curve in a
# view, bounded for a run of millions of steps (every k-th step beyond).
SERIES_POINTS = 2000
FINDINGS_KEPT = 1000
log = logging.getLogger("dlqa.monitor")


def project_config(config: Config | str | Path | None = None) -> Config:
    """``config`` (a Config or the path of a dlqa.toml); else ./dlqa.toml when it exists;
    else the defaults (the store at .dlqa/dlqa.db in the working folder)."""
    if isinstance(config, Config):
        return config
    if config is not None:
        return load_config(config)
    if Path(CONFIG_FILENAME).is_file():
        return load_config(CONFIG_FILENAME)
    return default_config()


class StoredRun:
    """Records a monitor's run in dlqa's store: the recorder ``dlqa.monitor()`` gives the
    monitor. Each ``open`` starts a new run (a Lightning callback may train several times);
    ``run_ids`` lists them."""

    def __init__(
        self,
        config: Config | str | Path | None = None,
        *,
        db: str | None = None,
        store: Store | None = None,
        title: str | None = None,
    ) -> None:
        self.config = project_config(config)
        self.db = db
        self.store = store
        self.title = title
        self.run_ids: list[int] = []
        self._session: RunSession | None = None

    def open(self, monitor: TrainingMonitor) -> int:
        model = type(monitor.model).__name__
        session = RunSession(
            self.config,
            kind=KIND,
            title=self.title or f"Training monitor: {model}",
            db=self.db,
            store=self.store,
            formats=(),  # reports are rendered from the store on demand: `dlqa report RUN_ID`
        )
        session.__enter__()
        assert session.run_id is not None
        self._session = session
        self.run_ids.append(session.run_id)
        return session.run_id

    def close(self, monitor: TrainingMonitor, exc: BaseException | None) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            record_monitor(session, monitor)
        except Exception as record_exc:
            if exc is None:
                session.__exit__(type(record_exc), record_exc, record_exc.__traceback__)
                raise
            exc.add_note(f"dlqa could not store the monitor's results: {record_exc}")
        try:
            session.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        except RunInterrupted as interrupted:
            # The training loop's own KeyboardInterrupt goes on (a library in the user's loop
            # must not replace it); it says what was kept.
            if exc is not None:
                exc.add_note(f"dlqa: {interrupted}")
            return
        if exc is None:
            log.info("dlqa: monitor run %s stored (dlqa report %s)", session.run_id, session.run_id)


def record_monitor(session: RunSession, monitor: TrainingMonitor) -> list[CheckResult]:
    """Store the monitor's results (judged with the session's gates) and its record (settings,
    findings, confusion matrices, series) in the session's run; the results are returned."""
    assert session.store is not None and session.run_id is not None, "use the session in `with`"
    results = monitor.results(session.config.gates)
    for result in results:
        session.add_result(result)
    record = monitor.to_dict(max_points=SERIES_POINTS)
    record["findings"] = record["findings"][:FINDINGS_KEPT]
    optimizer = type(monitor.optimizer).__name__ if monitor.optimizer is not None else None
    meta = {
        "model": type(monitor.model).__name__,
        "optimizer": optimizer,
        "steps": monitor.steps,
        "epochs": monitor.epochs,
    }
    session.store.set_report_parts(session.run_id, {"meta": meta, "monitor": record})
    return results


def _recorder(
    store: bool | Store | None,
    db: str | None,
    config: Config | str | Path | None,
    title: str | None,
) -> StoredRun | None:
    if store is False:
        if db is not None:
            raise UsageError("dlqa.monitor(): db= names a database but store=False stores nothing")
        return None
    if store is not None and store is not True and not isinstance(store, Store):
        raise UsageError(
            "dlqa.monitor(): store must be True, False or a dlqa Store, not "
            f"{type(store).__name__}",
            hint="pass a database URL as db='sqlite:///path.db' (or postgresql://...)",
        )
    return StoredRun(config, db=db, store=store if isinstance(store, Store) else None, title=title)


def monitor(
    model: Any,
    optimizer: Any = None,
    *,
    store: bool | Store | None = None,
    db: str | None = None,
    config: Config | str | Path | None = None,
    title: str | None = None,
    **options: Any,
) -> TrainingMonitor:
    """The training monitor, its findings stored as a run (``dlqa.monitor``).

    ``store``: True (the default) stores in the project's store: ``db`` when given, else
    ``DLQA_DATABASE_URL``, else ``[store] url`` of ``config`` (./dlqa.toml when it exists),
    else SQLite at .dlqa/dlqa.db; a :class:`dlqa.store.Store` stores there; False stores
    nothing (``m.results()`` still works). ``title`` names the run; the other ``options`` are
    the monitor's (:class:`dlqa.train.monitor.TrainingMonitor`). The run starts when
    monitoring does (``with``) and ends with it; ``m.run_id`` is its id.
    """
    from dlqa.train.monitor import TrainingMonitor

    recorder = _recorder(store, db, config, title)
    return TrainingMonitor(model, optimizer, recorder=recorder, **options)


def monitor_callback(
    predictions: Any = None,
    *,
    store: bool | Store | None = None,
    db: str | None = None,
    config: Config | str | Path | None = None,
    title: str | None = None,
    **options: Any,
) -> MonitorCallback:
    """The Lightning callback of ``dlqa.train.lightning``, each ``trainer.fit`` stored as a
    run (``dlqa.monitor_callback``); the arguments are those of :func:`monitor`."""
    from dlqa.train.lightning import MonitorCallback

    recorder = _recorder(store, db, config, title)
    return MonitorCallback(predictions, recorder=recorder, **options)
