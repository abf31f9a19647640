"""The domain classifier of the drift checks: can a classifier tell current samples from
reference samples by their properties? (The other drift checks, and the choice of limits,
are in ``drift.py``.)"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data import drift
from dlqa.data.checks._common import sample_items
from dlqa.data.checks.drift_common import (
    ALPHA,
    SUGGESTIVE,
    compared_properties,
    interval_of,
    no_properties,
    reference_problem,
    status_of,
)
from dlqa.data.context import DataProfile

MAX_SAMPLES_SHOWN = 24  # most current-looking samples in the evidence
MIN_ROWS = 20  # rows per side below which the classifier is not trained


@register_check(
    "data.domain_classifier",
    title="Reference vs current classifier",
    description=(
        "A gradient-boosted classifier learns to tell current samples from reference samples "
        "by their properties (random subsamples of at most `max_rows` a side); its "
        "cross-validated AUC beyond `max_auc` (0.5: the two are one distribution) is a "
        "shift, whichever properties carry it together. Names the properties that separate "
        "the two best and the most current-looking samples."
    ),
    defaults={
        "max_auc": Param(0.65, doc="largest cross-validated AUC of the classifier", ge=0.5, le=1),
        "max_rows": Param(20_000, doc="rows sampled from each side to train on", ge=MIN_ROWS),
        "alpha": ALPHA,
    },
    needs=("reference",),
)
def check_domain_classifier(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    check_id = "data.domain_classifier"
    problem = reference_problem(check_id, profile)
    if problem is None and profile.reference.modality != profile.modality:
        problem = CheckResult(
            check_id, Status.SKIP, "the reference is another modality (see data.property_drift)"
        )
    if problem is not None:
        return problem
    reference = profile.reference
    names = compared_properties(profile, reference)
    if not names:
        return no_properties(check_id, profile)
    ref_rows, cur_rows = np.flatnonzero(reference.decoded), np.flatnonzero(profile.decoded)
    if min(len(ref_rows), len(cur_rows)) < MIN_ROWS:
        return CheckResult(
            check_id,
            Status.SKIP,
            f"{len(ref_rows)} reference and {len(cur_rows)} current decoded samples: a "
            f"classifier needs at least {MIN_ROWS} a side",
        )
    # The classifier trains on at most max_rows a side: pick them before gathering, so that
    # millions of rows never become a float matrix.
    rng = np.random.default_rng(0)
    cap = params["max_rows"]
    if len(ref_rows) > cap:
        ref_rows = np.sort(rng.choice(ref_rows, cap, replace=False))
    if len(cur_rows) > cap:
        cur_rows = np.sort(rng.choice(cur_rows, cap, replace=False))
    ref_x = np.column_stack([reference.numbers(name)[ref_rows] for name in names])
    cur_x = np.column_stack([profile.numbers(name)[cur_rows] for name in names])
    shift = drift.domain_classifier(ref_x, cur_x, names, max_per_side=params["max_rows"])
    low, high = shift.interval
    judgement = drift.judge(
        shift.auc, low, params["max_auc"], shift.p_value, params["alpha"], SUGGESTIVE
    )
    status = status_of([judgement], params)
    separating = sorted(shift.univariate_auc.items(), key=lambda kv: -kv[1])
    top = np.argsort(-shift.current_scores, kind="stable")[:MAX_SAMPLES_SHOWN]
    rows = cur_rows[shift.current_rows[top]]
    reasons = drift.current_looking_reasons(
        cur_x[shift.current_rows[top]], ref_x, names, separating
    )
    said = {
        Status.PASS: "the two look like one distribution",
        Status.INCONCLUSIVE: "beyond the limit, but too few samples to be sure",
    }.get(status, "they are told apart")
    summary = (
        f"a classifier tells current from reference samples with AUC {shift.auc:.3f} (95 % "
        f"interval {low:.3f} to {high:.3f}, limit {params['max_auc']:g}) on {shift.n_current} "
        f"current and {shift.n_reference} reference samples: {said}; most separating: "
        + ", ".join(f"{name} (AUC {auc:.2f})" for name, auc in separating[:3])
    )
    table = [{"property": name, "auc": round(auc, 4)} for name, auc in separating]
    return CheckResult(
        check_id,
        status,
        summary,
        value=shift.auc,
        threshold=params["max_auc"],
        n=shift.n_current + shift.n_reference,
        interval=interval_of(low, high),
        evidence=[
            Evidence(
                "samples",
                sample_items(profile, rows, shift.current_scores[top], reasons),
                len(top),
                "the most current-looking samples: highest out-of-fold P(current)",
            ),
            Evidence("table", table, len(table), "how well each property alone separates"),
        ],
        details={
            "auc": shift.auc,
            "p_value": shift.p_value,
            "n_reference": shift.n_reference,
            "n_current": shift.n_current,
            "separating": dict(separating),
        },
    )
