"""Shared pieces of the dataset checks: evidence items and the flagged-fraction verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.context import DataProfile

MAX_FRACTION_DOC = "largest fraction of samples that may be flagged before the gate trips"


def max_fraction_param(default: float, doc: str = MAX_FRACTION_DOC) -> Param:
    """The ``max_fraction`` every fraction-gated check takes: a fraction, 0 to 1."""
    return Param(default, doc=doc, ge=0.0, le=1.0)


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


def unlabelled_count(profile: DataProfile) -> int:
    """How many samples have no label (images loose in a folder's root or split folder, an
    empty label cell of a manifest)."""
    return int((profile.codes("label")[1] < 0).sum())


def skip_without_labels(check_id: str, profile: DataProfile) -> CheckResult | None:
    """A SKIP result for a label check when the dataset has samples but none has a label;
    None when there is something to judge. Unlabelled samples are not a class of their own:
    a flat folder of images has no classes to balance, name or contradict."""
    if profile.n == 0 or unlabelled_count(profile) < profile.n:
        return None
    return CheckResult(
        check_id,
        Status.SKIP,
        f"no sample has a label: all {profile.n} samples are unlabelled, so there are no "
        "classes to judge (put images in class folders, or name a label column)",
        details={"unlabelled": unlabelled_details(profile)},
    )


def unlabelled_details(profile: DataProfile) -> dict[str, Any]:
    """``{"count", "fraction"}`` of the samples without a label."""
    count = unlabelled_count(profile)
    return {"count": count, "fraction": round(count / profile.n, 6) if profile.n else 0.0}


def unlabelled_note(profile: DataProfile) -> str:
    """A clause for a label check's summary: how many samples it left out ("" for none)."""
    count = unlabelled_count(profile)
    if not count:
        return ""
    return (
        f"; {count} of {profile.n} samples ({percent(count / profile.n)}) have no label "
        "and are not counted"
    )


def _clean(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value


def sample_item(profile: DataProfile, index: int, value: Any = None, reason: str = "") -> dict:
    return sample_items(profile, [index], [value], [reason])[0]


def sample_items(
    profile: DataProfile,
    indices: Sequence[int] | np.ndarray,
    values: Sequence[Any] | None = None,
    reasons: Sequence[str] | None = None,
) -> list[dict]:
    """Evidence items of flagged samples: their ids, labels (and splits) looked up in one go."""
    indices = np.asarray(indices, dtype=np.int64)
    ids, labels = profile.ids.take(indices), profile.labels.take(indices)
    splits = profile.splits.take(indices) if profile.has_splits else None
    snippets = _snippets(profile, indices)
    items = []
    for k in range(len(indices)):
        item = {
            "id": ids[k],
            "label": labels[k],
            "value": _clean(None if values is None else values[k]),
        }
        if splits is not None:
            item["split"] = splits[k]
        if snippets is not None and snippets[k] is not None:
            item["text"] = snippets[k]
        reason = "" if reasons is None else reasons[k]
        if reason:
            item["reason"] = reason
        items.append(item)
    return items


# Evidence items that carry a text snippet: views show far fewer, and a million flagged
# empty rows must not make a million-snippet report.
ITEMS_WITH_TEXT = 1000


def _snippets(profile: DataProfile, indices: np.ndarray) -> list[str | None] | None:
    """The text snippets of some samples (the first ``ITEMS_WITH_TEXT`` of them; None for the
    rest), for evidence a person reads; None for a profile without a ``snippet`` column
    (images, audio)."""
    if not profile.has_column("snippet"):
        return None
    head = indices[:ITEMS_WITH_TEXT]
    snippets = profile.take_values("snippet", head) if len(head) else []
    return snippets + [None] * (len(indices) - len(head))


def pair_item(profile: DataProfile, i: int, j: int, distance: int | None) -> dict:
    return pair_items(profile, np.array([[i, j]]), [distance])[0]


def pair_items(
    profile: DataProfile, pairs: np.ndarray, distances: Sequence[Any] | np.ndarray
) -> list[dict]:
    """Evidence items of flagged pairs, with the two samples' ids, labels (and splits)."""
    rows = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    flat = rows.reshape(-1)
    ids, labels = profile.ids.take(flat), profile.labels.take(flat)
    splits = profile.splits.take(flat) if profile.has_splits else None
    snippets = _snippets(profile, flat)
    items = []
    for k in range(len(rows)):
        a, b = 2 * k, 2 * k + 1
        distance = distances[k]
        item: dict[str, Any] = {
            "ids": [ids[a], ids[b]],
            "labels": [labels[a], labels[b]],
            "distance": _distance(distance),
        }
        if splits is not None:
            item["splits"] = [splits[a], splits[b]]
        if snippets is not None and snippets[a] is not None and snippets[b] is not None:
            item["texts"] = [snippets[a], snippets[b]]
        items.append(item)
    return items


def _distance(value: Any) -> int | float | None:
    """A pair's distance: whole for hash distances, 4 decimals for similarities."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)


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
    items = sample_items(profile, flagged, values, reasons)
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
    items = pair_items(profile, pairs[order], np.asarray(distances)[order]) if len(pairs) else []
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
