"""The labels checks: agreement between annotators, and the items to adjudicate."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.gates import decide, verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.labels.agreement import (
    agreement_with_majority,
    bootstrap_alpha,
    coincidences,
    disagreements,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen,
)

# Krippendorff's own guidance: rely on data with alpha >= 0.800, draw only tentative
# conclusions from 0.667 to 0.800, and none below 0.667.
DEFAULT_MIN_ALPHA = 0.667


@register_check(
    "labels.agreement",
    title="Agreement between annotators",
    description=(
        "Krippendorff's alpha (nominal) over the items rated at least twice, with a bootstrap "
        "95 % interval over items; `details` hold Fleiss' kappa, Cohen's kappa per pair of "
        "annotators and each annotator's agreement with the others' majority. Below "
        "`min_alpha` the labels are not reliable; an interval that straddles it is "
        "inconclusive."
    ),
    defaults={
        "min_alpha": Param(
            DEFAULT_MIN_ALPHA,
            doc="smallest Krippendorff's alpha accepted (0.667: tentative, 0.8: reliable)",
            ge=-1.0,
            le=1.0,
        )
    },
)
def check_agreement(context: Any, params: dict[str, Any]) -> CheckResult:
    ratings = context.ratings
    counts = ratings.counts()
    pairable = int((counts.sum(axis=1) >= 2).sum())
    alpha = krippendorff_alpha(counts)
    limit = float(params["min_alpha"])
    details = {
        "krippendorff_alpha": _value(alpha),
        "fleiss_kappa": _value(fleiss_kappa(counts)),
        "cohen_kappa": pairwise_cohen(ratings),
        "agreement_with_majority": agreement_with_majority(ratings),
        "items": len(ratings.item_names),
        "items_rated_twice_or_more": pairable,
        "annotators": len(ratings.annotator_names),
        "fleiss_kappa_note": (
            "items rated by different numbers of annotators: each item's agreement is "
            "normalised by its own number of raters"
        ),
    }
    if not np.isfinite(alpha):
        return CheckResult(
            "labels.agreement",
            Status.SKIP,
            f"every rating of the {pairable} items rated twice or more has the same label: "
            "agreement cannot be told from chance",
            n=pairable,
            details=details,
        )
    low, high = bootstrap_alpha(counts)
    interval = Interval(min(low, alpha), max(high, alpha))
    status = decide(interval, limit, params, higher_is_better=True)
    said = {
        Status.PASS: "reliable enough",
        Status.INCONCLUSIVE: "too few items to tell whether it clears",
    }.get(status, "below")
    return CheckResult(
        "labels.agreement",
        status,
        f"Krippendorff's alpha {alpha:.3f} (95 % interval {interval.low:.3f} to "
        f"{interval.high:.3f}) over {pairable} items and {len(ratings.annotator_names)} "
        f"annotators: {said} (min_alpha {limit:g})",
        value=alpha,
        threshold=limit,
        n=pairable,
        interval=interval,
        evidence=[
            Evidence(
                "table",
                details["agreement_with_majority"],
                len(ratings.annotator_names),
                "each annotator's agreement with the others' majority",
            ),
            Evidence(
                "table",
                _confusion_rows(ratings.label_names, coincidences(counts)),
                len(ratings.label_names),
                "which classes annotators confuse: pairs of labels given to one item",
            ),
        ],  # fmt: skip
        details=details,
    )


@register_check(
    "labels.disagreements",
    title="Items to adjudicate",
    description=(
        "Items whose annotators gave different labels, most contested first (the share of "
        "ratings outside the most common label), each with every annotator's label."
    ),
    defaults={
        "max_fraction": Param(
            0.0,
            doc="largest fraction of items with a disagreement before the check warns (it "
            "is a queue to work through: level warn, so it shows without failing the run)",
            ge=0.0,
            le=1.0,
        )
    },
    level="warn",
)
def check_disagreements(context: Any, params: dict[str, Any]) -> CheckResult:
    ratings = context.ratings
    rows = disagreements(ratings)
    pairable = int((ratings.ratings_per_item() >= 2).sum())
    fraction = len(rows) / pairable if pairable else 0.0
    limit = float(params["max_fraction"])
    status = verdict(fraction > limit, params)
    return CheckResult(
        "labels.disagreements",
        status,
        f"{len(rows)} of {pairable} items rated twice or more have annotators that disagree",
        value=fraction,
        threshold=limit,
        n=pairable,
        evidence=[Evidence("table", rows, len(rows), "items to adjudicate")] if rows else [],
        # The table's path: the adjudication queue of a `dlqa check` run, whose report's
        # source is the data, is keyed by it.
        details={"count": len(rows), "source": context.source},
    )


def _confusion_rows(names: list[str], matrix: np.ndarray) -> list[dict[str, Any]]:
    """One row per label: how often it was paired with each label (the coincidence matrix,
    rounded), so that a class two annotators tell apart differently stands out."""
    return [
        {"label": name, **{other: round(float(v), 2) for other, v in zip(names, row, strict=True)}}
        for name, row in zip(names, matrix, strict=True)
    ]


def _value(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)
