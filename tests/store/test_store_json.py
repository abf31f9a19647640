"""Every JSON column is written JSON-safe: no NaN, infinity or numpy type reaches the database.

PostgreSQL's json type refuses NaN outright; SQLite would keep it as text that strict JSON
readers refuse later. Both databases get the same values back.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.store import RUN_FINISHED, Store
from dlqa.store.connect import create_store_engine
from dlqa.store.models import RunRow, utc_now

UNSAFE = {
    "nan": float("nan"),
    "inf": float("inf"),
    "minus_inf": -math.inf,
    "np_nan": np.float64("nan"),
    "np_float": np.float32(0.5),
    "np_int": np.int64(7),
    "array": np.array([1.0, np.nan, 3.0]),
    "nested": {"deep": [float("nan"), {"x": np.inf}], "ok": 1.25},
    "tuple": (1, 2),
}
SAFE = {
    "nan": None,
    "inf": None,
    "minus_inf": None,
    "np_nan": None,
    "np_float": 0.5,
    "np_int": 7,
    "array": [1.0, None, 3.0],
    "nested": {"deep": [None, {"x": None}], "ok": 1.25},
    "tuple": [1, 2],
}


def test_run_config_provenance_and_report_are_json_safe(store: Store) -> None:
    run_id = store.start_run("check", "dlqa check", dict(UNSAFE), provenance={"p": UNSAFE})
    store.set_report_parts(run_id, {"bins": UNSAFE})
    store.finish_run(run_id, RUN_FINISHED, 0)

    run = store.get_run(run_id)
    assert run.config == SAFE
    assert run.provenance == {"p": SAFE}
    assert run.report == {"bins": SAFE}


def test_snapshot_summary_with_nan_is_stored_as_null(store: Store) -> None:
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    digest = store.artifacts.put_bytes(b"table")
    summary = {"mean_brightness": float("nan"), "stats": dict(UNSAFE)}
    snapshot_id = store.add_snapshot(run_id, "data/train", "fp", 3, digest, summary)

    assert store.get_snapshot(snapshot_id).summary == {"mean_brightness": None, "stats": SAFE}


def test_result_with_nan_in_details_evidence_and_numbers(store: Store) -> None:
    run_id = store.start_run("check", "dlqa check", {})
    unsafe = CheckResult(
        check_id="data.stats",
        status=Status.WARN,
        summary="not a number",
        value=float("nan"),
        threshold=np.float64(np.inf),  # type: ignore[arg-type]
        n=np.int64(12),  # type: ignore[arg-type]
        interval=Interval(0.1, 0.9, level=0.95),
        evidence=[Evidence(kind="table", items=[[np.float32(1.5), float("nan")]], total=1)],
        details=dict(UNSAFE),
    )
    store.add_results(run_id, [unsafe])

    (stored,) = store.results_for_run(run_id)
    assert stored.value is None and stored.threshold is None and stored.n == 12
    assert stored.details == SAFE
    assert stored.evidence[0].items == [[1.5, None]]
    assert stored.interval == Interval(0.1, 0.9, level=0.95)


def test_a_value_that_slips_past_is_refused_not_stored(database_url: str) -> None:
    """The store's engines serialise JSON strictly: NaN written around the Store API fails
    on SQLite as it would on PostgreSQL, instead of being stored as invalid JSON."""
    engine = create_store_engine(database_url)
    try:
        with engine.begin() as connection:
            RunRow.metadata.create_all(connection, tables=[RunRow.__table__])
        row = {
            "kind": "check",
            "command": "x",
            "config": {"bad": float("nan")},
            "created_at": utc_now(),
            "status": "running",
        }
        refused = pytest.raises((StatementError, ValueError), match="Out of range float values")
        with refused, engine.begin() as connection:
            connection.execute(sa.insert(RunRow).values(**row))
    finally:
        engine.dispose()
