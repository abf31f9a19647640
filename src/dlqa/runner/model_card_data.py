"""The data behind an evaluation, for its model card: each eval set's snapshot, and the latest
finished data run whose own data snapshot has the eval set's fingerprint (its ``data.*``
results are the findings on exactly that data); plus data a ``dlqa check`` profiled in the
evaluation run itself."""

from __future__ import annotations

import shlex
from collections import Counter
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.report.model_card import DataEntry, Missing, RunRef, SnapshotInfo
from dlqa.runner.model_card_context import CardContext
from dlqa.runner.model_card_sections import as_int, as_text, snapshot_info
from dlqa.store import RunRecord, SnapshotRecord

__all__ = ["data_section"]

_SET_ORDER = ("test", "golden", "regression")


def data_section(
    ctx: CardContext, run: RunRecord, sets: dict[str, Any], rerun: str
) -> list[DataEntry] | Missing:
    if not sets:
        return Missing(f"run {run.id} stored no eval sets", rerun)
    snapshots = ctx.store.list_snapshots()  # of finished runs, newest first
    entries = []
    ordered = sorted(sets, key=lambda n: (_SET_ORDER.index(n) if n in _SET_ORDER else 9, n))
    for name in ordered:
        info = sets[name] if isinstance(sets[name], dict) else {}
        fingerprint = as_text(info.get("fingerprint"))
        source = as_text(info.get("source")) or name
        entries.append(
            DataEntry(
                role=f"{name} set",
                source=source,
                fingerprint=fingerprint,
                samples=as_int(info.get("samples")),
                snapshot=_snapshot(ctx, info.get("snapshot_id"), rerun),
                checks=_data_checks(ctx, fingerprint, source, name, snapshots),
                counts=_data_counts(ctx, fingerprint, snapshots),
            )
        )
    # Data a `dlqa check` profiled in the same run (its [data] source): its findings are
    # results of this very run.
    eval_snapshot_ids = _eval_snapshot_ids(run)
    data_results = [r for r in ctx.results(run.id) if r.check_id.startswith("data.")]
    own = [] if not data_results else ctx.store.list_snapshots(include_incomplete=True)
    for snap in own:
        if snap.run_id == run.id and snap.id not in eval_snapshot_ids:
            entries.append(
                DataEntry(
                    role=f"data profiled in run {run.id}",
                    source=snap.source,
                    fingerprint=snap.fingerprint,
                    samples=None,
                    snapshot=snapshot_info(snap),
                    checks=ctx.use(run, "evaluation"),
                    counts=dict(Counter(r.status.value for r in data_results)),
                )
            )
    return entries


def _snapshot(ctx: CardContext, snapshot_id: Any, rerun: str) -> SnapshotInfo | Missing:
    if not isinstance(snapshot_id, int):
        return Missing("the run stored no snapshot id for this set", rerun)
    try:
        snap = ctx.store.get_snapshot(snapshot_id)
    except UsageError:
        return Missing(f"snapshot {snapshot_id} is no longer in the store", rerun)
    return snapshot_info(snap)


def _data_run(
    ctx: CardContext, fingerprint: str | None, snapshots: list[SnapshotRecord]
) -> RunRecord | None:
    """The latest finished run whose data snapshot (not an eval set's) has ``fingerprint``
    and that stored data.* results."""
    if fingerprint is None:
        return None
    for snap in snapshots:  # newest first
        if snap.fingerprint != fingerprint:
            continue
        candidate = ctx.run(snap.run_id)
        if snap.id in _eval_snapshot_ids(candidate):
            continue  # an eval stage's profile of the set, not a data run's
        if any(r.check_id.startswith("data.") for r in ctx.results(candidate.id)):
            return candidate
    return None


def _data_checks(
    ctx: CardContext,
    fingerprint: str | None,
    source: str,
    name: str,
    snapshots: list[SnapshotRecord],
) -> RunRef | Missing:
    found = _data_run(ctx, fingerprint, snapshots)
    if found is None:
        what = (
            f"no data run on data with fingerprint {fingerprint}"
            if fingerprint
            else f"no fingerprint stored for the {name} set"
        )
        return Missing(what, f"dlqa data profile {shlex.quote(source)}")
    ctx.collect_issues(found, f"data: {name} set", "data.")
    return ctx.use(found, f"data checks of the {name} set")


def _data_counts(
    ctx: CardContext, fingerprint: str | None, snapshots: list[SnapshotRecord]
) -> dict[str, int]:
    found = _data_run(ctx, fingerprint, snapshots)
    if found is None:
        return {}
    return dict(
        Counter(r.status.value for r in ctx.results(found.id) if r.check_id.startswith("data."))
    )


def _eval_snapshot_ids(run: RunRecord) -> set[int]:
    sets = ((run.report.get("eval") or {}).get("sets")) or {}
    return {
        info["snapshot_id"]
        for info in sets.values()
        if isinstance(info, dict) and isinstance(info.get("snapshot_id"), int)
    }
