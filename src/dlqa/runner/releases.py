"""`dlqa release record VERSION` and `dlqa release history`: the metrics of a model on the
fixed eval suites (or of a seed group), recorded per release with provenance, gated against
the release before, and shown over time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dlqa.config import Config
from dlqa.core.errors import UsageError
from dlqa.exp.releases import Release
from dlqa.runner.check import run_configured_checks
from dlqa.runner.provenance import git_state
from dlqa.runner.session import RunSession

# The eval-suite results a release records: a value with its interval and n.
EVAL_METRICS = {"eval.accuracy": "accuracy", "eval.macro_f1": "macro_f1"}


def release_from_eval(store: Any, run_id: int) -> dict[str, Any]:
    """The metrics of a stored evaluation run (`dlqa model eval`, `dlqa check`)."""
    found: dict[str, Any] = {"metrics": {}, "intervals": {}, "n": {}}
    for result in store.results_for_run(run_id):
        name = EVAL_METRICS.get(result.check_id)
        if name is None or result.value is None:
            continue
        found["metrics"][name] = [float(result.value)]
        if result.interval is not None:
            found["intervals"][name] = (result.interval.low, result.interval.high)
        if result.n and name == "accuracy":  # a proportion: its n gives a Wilson interval
            found["n"][name] = int(result.n)
    if not found["metrics"]:
        raise UsageError(f"run {run_id} holds no evaluation metrics",
                         hint="record from a `dlqa model eval` run: --eval-run N")  # fmt: skip
    return found


def release_from_group(store: Any, name: str) -> dict[str, Any]:
    """The metrics of a stored seed group: every seed's value."""
    from dlqa.runner.exp import stored_group

    group = stored_group(store, name)
    metrics = {m: group.values(m) for m in group.metric_names()}
    if not any(metrics.values()):
        raise UsageError(f"seed group {name!r} has no finished seed with metrics")
    return {"metrics": metrics}


def record_release(
    config: Config, store: Any, version: str, *, eval_run: int | None = None,
    group: str | None = None, **session: Any,
) -> RunSession:  # fmt: skip
    """Store release ``version`` and gate it against the release recorded before it."""
    from dlqa.exp.environment import environment_fingerprint

    if (eval_run is None) == (group is None):
        raise UsageError("record a release from one source: --eval-run N or --group NAME")
    found = release_from_eval(store, eval_run) if eval_run is not None else (
        release_from_group(store, group))  # fmt: skip
    try:
        release = Release(
            version=version, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            environment=environment_fingerprint(), git=git_state(config.base_dir),
            source=f"run {eval_run}" if eval_run is not None else f"group {group}", **found,
        )  # fmt: skip
    except ValueError as exc:
        raise UsageError(f"release {version!r}: {exc}") from None
    return run_configured_checks(config, stages=("exp",), kind="release",
                                 inputs={"exp": {"release": release}}, **session)  # fmt: skip


__all__ = ["record_release", "release_from_eval", "release_from_group"]
