"""Shared pieces of the dataset checks: evidence items and the flagged-fraction verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlqa.core.registry import verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.context import DataProfile


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


def _clean(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value


def sample_item(profile: DataProfile, index: int, value: Any = None, reason: str = "") -> dict:
    item = {
        "id": profile.ids[index],
        "label": profile.labels[index],
        "value": _clean(value),
    }
    if profile.has_splits:
        item["split"] = profile.splits[index]
    if reason:
        item["reason"] = reason
    return item


def pair_item(profile: DataProfile, i: int, j: int, distance: int | None) -> dict:
    item: dict[str, Any] = {
        "ids": [profile.ids[i], profile.ids[j]],
        "labels": [profile.labels[i], profile.labels[j]],
        "distance": None if distance is None else int(distance),
    }
    if profile.has_splits:
        item["splits"] = [profile.splits[i], profile.splits[j]]
    return item


def flagged_fraction_result(
    check_id: str,
    profile: DataProfile,
    flagged: Sequence[int] | np.ndarray,
    params: dict[str, Any],
    *,
    what: str,
    values: Sequence[Any] | None = None,
    reasons: Sequence[str] | None = None,
    details: dict[str, Any] | None = None,
) -> CheckResult:
    """Result of a per-sample check: the fraction of flagged samples against ``max_fraction``.

    ``flagged`` is ranked worst first; ``values``/``reasons`` are aligned with it.
    """
    n = profile.n
    count = len(flagged)
    fraction = count / n if n else 0.0
    items = [
        sample_item(
            profile,
            int(i),
            None if values is None else values[k],
            "" if reasons is None else reasons[k],
        )
        for k, i in enumerate(flagged)
    ]
    return fraction_result(
        check_id,
        fraction,
        params,
        summary=f"{count} of {n} samples ({percent(fraction)}) {what}",
        evidence=[Evidence("samples", items, count)] if count else [],
        details={"count": count, "n_samples": n, **(details or {})},
    )


def fraction_result(
    check_id: str,
    fraction: float,
    params: dict[str, Any],
    *,
    summary: str,
    evidence: list[Evidence],
    details: dict[str, Any],
) -> CheckResult:
    """A measured fraction held to ``max_fraction``; the summary says the limit when crossed."""
    limit = float(params["max_fraction"])
    status = verdict(fraction > limit, params)
    if status is not Status.PASS:
        summary += f"; at most {percent(limit)} allowed"
    return CheckResult(
        check_id=check_id,
        status=status,
        summary=summary,
        value=fraction,
        threshold=limit,
        evidence=evidence,
        details=details,
    )


def involved_fraction(pairs: np.ndarray, n: int) -> tuple[int, float]:
    """How many distinct samples the pairs touch, and that as a fraction of n."""
    count = len(np.unique(pairs)) if len(pairs) else 0
    return count, (count / n if n else 0.0)


def pairs_result(
    check_id: str,
    profile: DataProfile,
    pairs: np.ndarray,
    distances: np.ndarray,
    params: dict[str, Any],
    *,
    what: str,
    details: dict[str, Any] | None = None,
) -> CheckResult:
    """Result of a pair check: the fraction of samples involved in flagged pairs."""
    order = np.lexsort((pairs[:, 1], pairs[:, 0], distances)) if len(pairs) else []
    count, fraction = involved_fraction(pairs, profile.n)
    items = [pair_item(profile, *pairs[k], distances[k]) for k in order]
    return fraction_result(
        check_id,
        fraction,
        params,
        summary=(
            f"{len(pairs)} {'pair' if len(pairs) == 1 else 'pairs'} {what}, "
            f"involving {count} samples ({percent(fraction)})"
        ),
        evidence=[Evidence("pairs", items, len(items))] if items else [],
        details={"pairs": len(pairs), "samples_involved": count, **(details or {})},
    )
