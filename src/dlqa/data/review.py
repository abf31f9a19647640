"""Spot checks: drawing a review sample, the verdicts reviewers return, and what they say
about the dataset's error rate.

A review sample has two parts. The **random** part is a stratified random sample of the
whole dataset (flagged samples included: they belong to the population), so its verdicts
estimate the dataset's error rate. The **flagged** part is every sample a check flagged; it
over-represents errors by design, so it never enters the estimate: its confirmed-error rate
is reported on its own.

The review file itself (CSV, sidecar JSON) is ``dlqa.data.review_file``; the HTML gallery
``dlqa.data.review_gallery``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow.compute as pc

from dlqa.core.intervals import wilson_interval, wilson_interval_of
from dlqa.core.results import Interval
from dlqa.data.context import DataProfile
from dlqa.store import Store
from dlqa.store.reviews import VERDICT_BAD_SAMPLE, VERDICT_OK, VERDICT_WRONG_LABEL, VERDICTS

# A class gets at least this many random draws where the sample size allows it: a class
# proportional allocation would give none or one is otherwise never looked at, and three
# reviews are the fewest that can show a class's labels are mostly wrong.
MIN_PER_STRATUM = 3
# The stratum of samples without a value in the strata column (unlabelled samples).
NO_VALUE_STRATUM = "(none)"
STRATA_NONE = "none"  # strata="none": one stratum, a simple random sample
ERROR_VERDICTS = frozenset({VERDICT_WRONG_LABEL, VERDICT_BAD_SAMPLE})
RANDOM = "random"

__all__ = [
    "ERROR_VERDICTS",
    "MIN_PER_STRATUM",
    "VERDICTS",
    "VERDICT_BAD_SAMPLE",
    "VERDICT_OK",
    "VERDICT_WRONG_LABEL",
    "ErrorRateEstimate",
    "ReviewRow",
    "ReviewVerdicts",
    "ReviewedSample",
    "allocate",
    "allocation_of",
    "class_sizes",
    "draw_review_sample",
    "estimate_error_rate",
    "load_reviews",
    "strata_of",
]


@dataclass(frozen=True)
class ReviewRow:
    """One sample of a review sample, and why it was drawn."""

    id: str
    label: str | None
    stratum: str
    random: bool
    flagged_by: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        """ "random", the check ids that flagged it, or both ("random; data.dark")."""
        return "; ".join(([RANDOM] if self.random else []) + list(self.flagged_by))

    def to_item(self) -> dict[str, Any]:
        """The form stored with the review sample."""
        return {
            "id": self.id,
            "label": self.label,
            "stratum": self.stratum,
            "random": self.random,
            "flagged_by": list(self.flagged_by),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ReviewRow:
        return cls(
            id=str(item["id"]),
            label=item.get("label"),
            stratum=str(item.get("stratum", item.get("label") or NO_VALUE_STRATUM)),
            random=bool(item.get("random")),
            flagged_by=tuple(item.get("flagged_by") or ()),
        )


def strata_of(profile: DataProfile, strata: str = "label") -> tuple[list[str], np.ndarray]:
    """(stratum names, each sample's stratum code) for a string column of the profile
    ("label", "split", a manifest's "meta.<name>") or "none" (one stratum)."""
    if strata == STRATA_NONE:
        return ["all"], np.zeros(profile.n, dtype=np.int32)
    if not profile.has_column(strata):
        raise ValueError(f"the profile has no column {strata!r} to stratify by")
    names, codes = profile.codes(strata)
    if (codes < 0).any():  # samples without a value are a stratum of their own
        names = [*names, NO_VALUE_STRATUM]
        codes = np.where(codes < 0, len(names) - 1, codes).astype(np.int32)
    return list(names), codes


def allocate(
    sizes: Mapping[str, int], total: int, minimum: int = MIN_PER_STRATUM
) -> dict[str, int]:
    """How many of ``total`` random draws each stratum gets: in proportion to its size, with
    at least ``minimum`` (or all it has) where the total allows; when it does not, the floor
    is lowered until it fits. Deterministic: ties go to the stratum whose name sorts first."""
    population = sum(sizes.values())
    if total >= population:
        return dict(sizes)
    counts = dict.fromkeys(sizes, 0)
    if total <= 0:
        return counts
    floor = minimum
    while floor > 0 and sum(min(n, floor) for n in sizes.values()) > total:
        floor -= 1
    counts = {name: min(n, floor) for name, n in sizes.items()}
    remaining = total - sum(counts.values())
    # The rest one at a time, each to the stratum furthest below its proportional share.
    heap = [
        (counts[name] - total * n / population, name)
        for name, n in sizes.items()
        if counts[name] < n
    ]
    heapq.heapify(heap)
    while remaining and heap:
        shortfall, name = heapq.heappop(heap)
        counts[name] += 1
        remaining -= 1
        if counts[name] < sizes[name]:
            heapq.heappush(heap, (shortfall + 1, name))
    return counts


def draw_review_sample(
    profile: DataProfile,
    flagged_ids: Mapping[str, Iterable[str]] | Iterable[str],
    size: int,
    seed: int,
    strata: str = "label",
) -> list[ReviewRow]:
    """A stratified random sample of ``size`` samples (see :func:`allocate`) plus every
    flagged sample, sorted by id; each row says why it was drawn.

    ``flagged_ids`` maps sample ids to the checks that flagged them (or is a plain list of
    ids); ids the profile does not have are left out. The draw depends only on the ids, the
    strata and ``seed``, not on the order of the table's rows: the same dataset and seed give
    the same sample.
    """
    if size < 0:
        raise ValueError(f"a sample size is not negative: {size}")
    names, codes = strata_of(profile, strata)
    # Rows in id order, so that the draw does not depend on how the table was written.
    order = pc.sort_indices(profile.column("sample_id")).to_numpy()
    sorted_codes = codes[order]
    counts = allocate(_sizes(names, codes), size)
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    for name in sorted(counts):  # a fixed order of strata: the generator's draws follow it
        if counts[name]:
            members = order[sorted_codes == names.index(name)]
            chosen.append(rng.choice(members, size=counts[name], replace=False))
    random_rows = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)

    flagged = _flagged_map(flagged_ids)
    flagged_list = sorted(flagged)
    found = profile.rows_of(flagged_list) if flagged_list else np.zeros(0, dtype=np.int64)
    flagged_rows = found[found >= 0]
    rows = np.unique(np.concatenate([random_rows, flagged_rows]).astype(np.int64))
    drawn = set(random_rows.tolist())
    ids = profile.ids.take(rows)
    labels = profile.labels.take(rows)
    result = [
        ReviewRow(
            id=sample_id,
            label=label,
            stratum=names[codes[row]],
            random=row in drawn,
            flagged_by=tuple(flagged.get(sample_id, ())),
        )
        for row, sample_id, label in zip(rows.tolist(), ids, labels, strict=True)
    ]
    return sorted(result, key=lambda r: r.id)


def _flagged_map(flagged: Mapping[str, Iterable[str]] | Iterable[str]) -> dict[str, list[str]]:
    if isinstance(flagged, Mapping):
        return {str(k): sorted(set(v)) for k, v in flagged.items()}
    return {str(k): [] for k in flagged}


def allocation_of(
    profile: DataProfile, rows: Iterable[ReviewRow], strata: str = "label"
) -> dict[str, dict[str, int]]:
    """stratum -> {"size": samples in it, "drawn": random draws from it}: stored with the
    review sample, so that what was drawn from where is on record."""
    names, codes = strata_of(profile, strata)
    sizes = np.bincount(codes, minlength=len(names))
    drawn: dict[str, int] = {}
    for row in rows:
        if row.random:
            drawn[row.stratum] = drawn.get(row.stratum, 0) + 1
    return {
        name: {"size": int(n), "drawn": drawn.get(name, 0)}
        for name, n in zip(names, sizes.tolist(), strict=True)
        if n
    }


def class_sizes(profile: DataProfile) -> dict[str, int]:
    """Samples per class now (unlabelled ones under ``NO_VALUE_STRATUM``): the weights of the
    stratified estimate."""
    return _sizes(*strata_of(profile, "label"))


def _sizes(names: list[str], codes: np.ndarray) -> dict[str, int]:
    """stratum -> samples in it, for the strata that have any."""
    counts = np.bincount(codes, minlength=len(names)).tolist()
    return {name: int(n) for name, n in zip(names, counts, strict=True) if n}


@dataclass(frozen=True)
class ReviewedSample:
    """A sample's verdict in force, with the label it had when it was reviewed."""

    sample_id: str
    label: str | None
    verdict: str
    correct_label: str | None = None
    note: str = ""
    reviewer: str | None = None
    review_id: int = 0
    # Drawn at random by some review sample of the source (so it may enter the estimate).
    random: bool = False
    flagged_by: tuple[str, ...] = ()
    reviewed_at: datetime | None = None

    @property
    def is_error(self) -> bool:
        return self.verdict in ERROR_VERDICTS

    @property
    def stratum(self) -> str:
        return self.label if self.label is not None else NO_VALUE_STRATUM


@dataclass
class ReviewVerdicts:
    """The verdicts in force on a profile's samples (``profile.reviews``)."""

    source: str
    samples: list[ReviewedSample]
    review_ids: list[int] = field(default_factory=list)
    # Verdicts on samples the profile no longer has (removed since: not findings any more).
    not_in_profile: int = 0
    # Samples drawn at random, in the profile, without a verdict yet.
    random_unreviewed: int = 0

    def __len__(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class ErrorRateEstimate:
    rate: float | None
    n: int  # reviewed random draws
    n_effective: float
    interval: Interval
    per_class: list[dict[str, Any]]
    counts: dict[str, int]  # verdicts of the random draws, by verdict
    flagged: dict[str, Any]  # the flagged-only part, reported apart
    coverage: float  # share of the dataset in classes with reviewed random draws
    unweighted: list[str]  # reviewed classes the dataset no longer has


def estimate_error_rate(
    reviews: ReviewVerdicts, sizes: Mapping[str, int], level: float = 0.95
) -> ErrorRateEstimate:
    """The dataset's error rate from the random draws, post-stratified by class.

    Each class's rate (errors: ``wrong_label`` and ``bad_sample``) is weighted by its share
    of the dataset (``sizes``, samples per class now), so classes drawn beyond their share (the
    minimum per class) do not tilt the estimate. Its interval is Wilson's at the effective
    sample size ``1 / sum(W_h^2 / n_h)`` (Kish): equal to n for a proportional sample, smaller
    when small classes were drawn more. Classes without reviewed draws are left out and the
    others' weights renormalised (``coverage`` says how much of the dataset that covers).
    Samples that were only flagged never enter it; their confirmed rate is ``flagged``.
    """
    by_class: dict[str, list[ReviewedSample]] = {}
    for sample in reviews.samples:
        if sample.random:
            by_class.setdefault(sample.stratum, []).append(sample)
    covered = {c: sizes.get(c, 0) for c in by_class if sizes.get(c, 0) > 0}
    total = sum(covered.values())
    per_class, rate, inverse_n_eff = [], 0.0, 0.0
    for name in sorted(by_class):
        members = by_class[name]
        errors = sum(s.is_error for s in members)
        weight = covered.get(name, 0) / total if total else 0.0
        rate += weight * errors / len(members)
        inverse_n_eff += weight * weight / len(members)
        interval = wilson_interval(errors, len(members), level)
        per_class.append(
            {
                "label": name,
                "size": sizes.get(name, 0),
                "n": len(members),
                **_verdict_counts(members),
                "errors": errors,
                "rate": round(errors / len(members), 6),
                "interval": interval.to_dict(),
            }
        )
    n = sum(len(m) for m in by_class.values())
    n_effective = 1.0 / inverse_n_eff if inverse_n_eff else 0.0
    randoms = [s for s in reviews.samples if s.random]
    flagged_only = [s for s in reviews.samples if not s.random]
    flagged_errors = sum(s.is_error for s in flagged_only)
    return ErrorRateEstimate(
        rate=min(1.0, rate) if n_effective else None,
        n=n,
        n_effective=n_effective,
        interval=wilson_interval_of(min(1.0, rate), n_effective, level),
        per_class=per_class,
        counts=_verdict_counts(randoms),
        flagged={
            "n": len(flagged_only),
            **_verdict_counts(flagged_only),
            "errors": flagged_errors,
            "rate": round(flagged_errors / len(flagged_only), 6) if flagged_only else None,
            "interval": wilson_interval(flagged_errors, len(flagged_only), level).to_dict(),
        },
        coverage=round(total / sum(sizes.values()), 6) if sum(sizes.values()) else 0.0,
        unweighted=sorted(c for c in by_class if c not in covered),
    )


def _verdict_counts(samples: Iterable[ReviewedSample]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for sample in samples:
        counts[sample.verdict] = counts.get(sample.verdict, 0) + 1
    return counts


def load_reviews(store: Store, profile: DataProfile) -> ReviewVerdicts | None:
    """The verdicts in force on this profile's source whose samples the profile has; None
    when there are none (the review checks are then left out of the run)."""
    verdicts = store.current_verdicts(profile.source)
    if not verdicts:
        return None
    rows = profile.rows_of([v.sample_id for v in verdicts])
    present = [v for v, row in zip(verdicts, rows.tolist(), strict=True) if row >= 0]
    if not present:
        return None
    random_ids: set[str] = set()
    flagged_by: dict[str, set[str]] = {}
    for review in store.list_review_samples(profile.source):
        for item in review.items:
            sample_id = str(item["id"])
            if item.get("random"):
                random_ids.add(sample_id)
            flagged_by.setdefault(sample_id, set()).update(item.get("flagged_by") or ())
    reviewed = {v.sample_id for v in present}
    waiting = sorted(random_ids - reviewed)
    waiting_in_profile = int((profile.rows_of(waiting) >= 0).sum()) if waiting else 0
    samples = [
        ReviewedSample(
            sample_id=v.sample_id,
            label=v.label,
            verdict=v.verdict,
            correct_label=v.correct_label,
            note=v.note,
            reviewer=v.reviewer,
            review_id=v.review_id,
            random=v.sample_id in random_ids,
            flagged_by=tuple(sorted(flagged_by.get(v.sample_id, ()))),
            reviewed_at=v.created_at,
        )
        for v in present
    ]
    return ReviewVerdicts(
        source=profile.source,
        samples=samples,
        review_ids=sorted({v.review_id for v in present}),
        not_in_profile=len(verdicts) - len(present),
        random_unreviewed=waiting_in_profile,
    )
