"""Drift and train/serve skew: the current dataset against a reference dataset.

The data stage sets ``profile.reference`` (the reference's own profile) when the run has one
(``dlqa data drift REFERENCE CURRENT``, or ``[data] reference`` in dlqa.toml); without it
these checks are left out (``needs=("reference",)``). The statistics are in
``dlqa.data.drift``; here they become verdicts and evidence.

Every effect is judged against the noise of two samples of one distribution (see
``dlqa.data.drift``): it is corrected by its mean under no drift, a drift needs the whole 95 %
interval beyond the limit *and* a p-value below ``alpha`` divided among the comparisons
(0.1 % by default: random halves are meant to be called drifted less than once in a
thousand runs where the limit alone does not already rule it out), and an
estimate beyond the limit with only a suggestive p-value (below 1 %, divided the same way) is
inconclusive. Otherwise the result passes, saying how large a shift the sample could hide.

Limits, chosen on synthetic shapes (normal, log-normal, uniform, discrete sizes, a rate that is
one of two values half the time, or in 5 % or 0.5 % of clips, zero-inflated shares: 500
random halves each of 200 and 1,000 values, no property called drifted, 1 of 8,000 undecided)
and checked on the profiles of natural images (icons, glyphs, photo crops, digits, photos)
and of speech, noise and tone clips, as they are and resampled to 20,000 and 200,000 rows:

* ``max_wasserstein`` 0.15 reference standard deviations: a 10 % brightness increase moved
  the brightness of four of those image sets by 0.3-0.8 sigma (0.11-0.13 on the dark, widely
  spread photo crops), halving the resolution by 1-4 sigma; on random halves the corrected W
  stayed under 0.08 on the sets of 446-2,400 samples (0.30 on the 69 photo crops, not
  significant), under 0.035 at 20,000 rows (but the clips' heavy-tailed DC offset, 1.2 of its
  tiny IQR sigma, not significant) and under 0.01 at 200,000;
* ``max_psi`` 0.25, the usual "major shift" level of the population stability index; it
  only adds drifts (its small-sample noise is binning, and W already speaks for the rest);
* ``max_changed_fraction`` 1 % for a property that is constant in the reference (one image
  size, 16 kHz everywhere): any other value there is a real change, but a single odd sample
  is an outlier, not drift;
* ``max_js`` 0.01 bits with ``max_share_ratio`` 1.5: doubling a class of 10 % among ten
  moves the class shares by 0.014 bits; a class whose share grows or shrinks by half or more
  is a shift whatever its size, once its own test is significant;
* ``max_auc`` 0.65 for the domain classifier: an AUC of 0.65 is a shift of 0.55 sigma along
  the best direction. The per-property check already fails from 0.15 sigma on, so the
  classifier is there for shifts that no single property shows (a change of correlation);
  random halves gave 0.46-0.53.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data import drift
from dlqa.data import drift_properties as props
from dlqa.data.checks import drift_domain  # noqa: F401 - registers data.domain_classifier
from dlqa.data.checks.drift_common import (
    ALPHA,
    SUGGESTIVE,
    compared_properties,
    interval_of,
    modality_mismatch,
    no_properties,
    reference_problem,
    status_of,
)
from dlqa.data.context import DataProfile

MAX_HISTOGRAMS = 8  # overlaid histograms per result: the drifted properties, worst first
QUIET_HISTOGRAMS = 3  # when nothing drifted: the most shifted, for a look


# ---------------------------------------------------------------------------- class priors


@register_check(
    "data.prior_shift",
    title="Class prior shift",
    description=(
        "The share of each class in the current dataset against the reference: "
        "Jensen-Shannon divergence of the class shares (bits, less its value for two samples "
        "of one distribution, with a 95 % interval) beyond `max_js` with a chi-square test "
        "significant at `alpha`, "
        "or a class whose share changed by a factor beyond `max_share_ratio` (significant "
        "too). Samples without a label are left out."
    ),
    defaults={
        "max_js": Param(0.01, doc="largest Jensen-Shannon divergence of class shares, bits", ge=0),
        "max_share_ratio": Param(
            1.5, doc="largest factor by which one class's share may grow or shrink", gt=1.0
        ),
        "alpha": ALPHA,
    },
    needs=("reference",),
)
def check_prior_shift(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    problem = reference_problem("data.prior_shift", profile)
    if problem is not None:
        return problem
    reference = profile.reference
    ref_names, ref_codes = reference.codes("label")
    cur_names, cur_codes = profile.codes("label")
    ref_codes, cur_codes = ref_codes[ref_codes >= 0], cur_codes[cur_codes >= 0]
    if not len(ref_codes) or not len(cur_codes):
        side = "reference" if not len(ref_codes) else "current dataset"
        return CheckResult(
            "data.prior_shift", Status.SKIP, f"the {side} has no labelled sample: no priors"
        )
    labels = sorted(set(ref_names) | set(cur_names))
    position = {label: index for index, label in enumerate(labels)}
    ref_counts = _counts(ref_codes, ref_names, position)
    cur_counts = _counts(cur_codes, cur_names, position)
    shift = drift.prior_shift(labels, ref_counts, cur_counts)
    low, high = shift.interval
    judgement = drift.judge(
        shift.effect, low, params["max_js"], shift.p_value, params["alpha"], SUGGESTIVE
    )
    moved = shift.shifted_classes(params["max_share_ratio"], params["alpha"])
    status = status_of([judgement, *(["drift"] if len(moved) else [])], params)
    rows = _class_rows(shift, set(moved.tolist()))
    named = [labels[i] for i in moved[np.argsort(-np.abs(shift.log_ratio[moved]))]]
    summary = (
        f"class shares differ by {shift.effect:.4f} bits (JS, bias-corrected; 95 % interval "
        f"{low:.4f} to {high:.4f}, limit {params['max_js']:g}; chi-square p {shift.p_value:.2g}) "
        f"over {len(labels)} classes, {shift.n_reference} reference and {shift.n_current} "
        "current labelled samples"
    )
    if named:
        summary += "; shares moved by more than a factor " + (
            f"{params['max_share_ratio']:g}: " + ", ".join(_share_text(rows, n) for n in named[:5])
        )
    if judgement == "undecided" and not named:
        summary += "; the estimate is beyond the limit but too uncertain to call a shift"
    only_current = [lab for lab in labels if not ref_counts[position[lab]]]
    only_reference = [lab for lab in labels if not cur_counts[position[lab]]]
    return CheckResult(
        "data.prior_shift",
        status,
        summary,
        value=shift.effect,
        threshold=params["max_js"],
        n=shift.n_current,
        interval=interval_of(low, high),
        evidence=[Evidence("table", rows, len(rows), "class shares, most changed first")],
        details={
            "js_bits": shift.js,
            "js_bias_corrected": shift.effect,
            "chi2": shift.chi2,
            "dof": shift.dof,
            "p_value": shift.p_value,
            "n_reference": shift.n_reference,
            "shifted_classes": named,
            "classes_only_in_current": only_current,
            "classes_only_in_reference": only_reference,
        },
    )


def _counts(codes: np.ndarray, names: list[str], position: dict[str, int]) -> np.ndarray:
    mapping = np.array([position[name] for name in names], dtype=np.int64)
    return np.bincount(mapping[codes], minlength=len(position))


def _class_rows(shift: drift.PriorShift, moved: set[int]) -> list[dict[str, Any]]:
    n, m = shift.n_reference, shift.n_current
    not_moved = np.array([i not in moved for i in range(len(shift.labels))])
    order = np.lexsort((-np.abs(shift.log_ratio), not_moved))  # shifted classes first
    rows = []
    for i in order.tolist():
        a, b = int(shift.reference_counts[i]), int(shift.current_counts[i])
        rows.append(
            {
                "label": shift.labels[i],
                "reference": a,
                "reference_share": round(a / n, 4),
                "current": b,
                "current_share": round(b / m, 4),
                "ratio": round(float(np.exp(shift.log_ratio[i])), 3),
                "shifted": i in moved,
            }
        )
    return rows


def _share_text(rows: list[dict[str, Any]], label: str) -> str:
    row = next(r for r in rows if r["label"] == label)
    return f"{label} {100 * row['reference_share']:.1f}% -> {100 * row['current_share']:.1f}%"


# ---------------------------------------------------------------------------- properties


def property_shifts(profile: DataProfile) -> list[props.PropertyShift]:
    """Every compared property's shift, computed once per profile (sorting 20 columns of
    millions of values is most of this check's time)."""
    reference = profile.reference

    def compute() -> list[props.PropertyShift]:
        names = compared_properties(profile, reference)
        return props.property_shifts(
            {name: reference.numbers(name) for name in names},
            {name: profile.numbers(name) for name in names},
        )

    return profile.cached(("drift", "property_shifts"), compute)


@register_check(
    "data.property_drift",
    title="Property drift",
    description=(
        "Each numeric property of the current samples against the reference's: the "
        "Wasserstein distance in reference standard deviations (robust; on log values for "
        "strongly right-skewed properties; less its value for two samples of one "
        "distribution, with a 95 % interval) beyond `max_wasserstein`, or the population "
        "stability index over reference-decile bins beyond `max_psi`, each significant at "
        "`alpha` shared among the properties. A "
        "property that is constant in the reference (a sample rate of 16000 everywhere) "
        "drifts when more than `max_changed_fraction` of the current values differ from it."
    ),
    defaults={
        "max_wasserstein": Param(
            0.15, doc="largest Wasserstein distance, in reference standard deviations", ge=0
        ),
        "max_psi": Param(0.25, doc="largest population stability index", ge=0),
        "max_changed_fraction": Param(
            0.01,
            doc="largest share of current values that may differ from a property that is "
            "constant in the reference",
            ge=0.0,
            le=1.0,
        ),
        "alpha": ALPHA,
    },
    needs=("reference",),
)
def check_property_drift(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    check_id = "data.property_drift"
    problem = reference_problem(check_id, profile) or modality_mismatch(check_id, profile, params)
    if problem is not None:
        return problem
    shifts = property_shifts(profile)
    if not shifts:
        return no_properties(check_id, profile)
    k = len(shifts)
    limits = (params["max_wasserstein"], params["max_psi"], params["max_changed_fraction"])
    judgements = [
        props.judge_property(s, *limits, params["alpha"] / k, SUGGESTIVE / k) for s in shifts
    ]

    def limit_of(shift: props.PropertyShift) -> float:
        return params["max_changed_fraction"] if shift.constant else params["max_wasserstein"]

    # Worst first: drifted, then undecided, then the rest; within each, by how far the
    # interval's lower end and then the estimate lie beyond (or short of) the limit. (By the
    # estimate alone, a noisy heavy-tailed property that is not significant would lead.)
    rank = {"drift": 0, "undecided": 1, "stable": 2}

    def key(i: int) -> tuple[int, float, float]:
        limit = max(limit_of(shifts[i]), 1e-12)
        return (rank[judgements[i]], -shifts[i].interval[0] / limit, -shifts[i].effect / limit)

    order = sorted(range(k), key=key)
    drifted = [i for i in order if judgements[i] == "drift"]
    undecided = [i for i in order if judgements[i] == "undecided"]
    worst = shifts[order[0]]
    status = status_of(judgements, params)
    rows = [_property_row(shifts[i], judgements[i]) for i in order]
    shown = drifted[:MAX_HISTOGRAMS] if drifted else order[:QUIET_HISTOGRAMS]
    histograms = [props.histogram_item(shifts[i]) for i in shown]
    summary = _property_summary(shifts, drifted, undecided, worst, limit_of(worst))
    return CheckResult(
        check_id,
        status,
        summary,
        value=worst.effect,
        threshold=limit_of(worst),
        n=worst.n_current,
        interval=interval_of(*worst.interval),
        evidence=[
            Evidence(
                "histograms",
                histograms,
                len(drifted) or len(histograms),
                "reference and current, as fractions of each"
                + ("" if drifted else ": the most shifted properties, none drifted"),
            ),
            Evidence("table", rows, len(rows), "every property compared, most shifted first"),
        ],
        details={
            "worst_property": worst.name,
            "drifted": [shifts[i].name for i in drifted],
            "undecided": [shifts[i].name for i in undecided],
            "n_reference": worst.n_reference,
            "properties": {s.name: props.shift_details(s) for s in shifts},
        },
    )


def _property_row(shift: props.PropertyShift, judgement: drift.Judgement) -> dict[str, Any]:
    return {
        "property": shift.name,
        "verdict": judgement,
        "measure": "share changed" if shift.constant else "W (sigma)",
        "effect": round(shift.effect, 4),
        "interval": [round(shift.interval[0], 4), round(shift.interval[1], 4)],
        "psi": round(shift.psi_effect, 4),
        "reference_median": shift.reference_median,
        "current_median": shift.current_median,
        "scale": "constant" if shift.constant else ("log" if shift.log_scale else "linear"),
    }


def _property_summary(
    shifts: list[props.PropertyShift],
    drifted: list[int],
    undecided: list[int],
    worst: props.PropertyShift,
    limit: float,
) -> str:
    def describe(shift: props.PropertyShift) -> str:
        if shift.constant:
            return (
                f"{shift.name} ({100 * shift.effect:.1f}% of current values differ from the "
                f"reference's constant {shift.reference_median:g})"
            )
        return (
            f"{shift.name} (W {shift.effect:.2f} sigma, PSI {shift.psi_effect:.2f}; median "
            f"{shift.reference_median:.4g} -> {shift.current_median:.4g})"
        )

    if drifted:
        names = ", ".join(describe(shifts[i]) for i in drifted[:4])
        more = f" and {len(drifted) - 4} more" if len(drifted) > 4 else ""
        return f"{len(drifted)} of {len(shifts)} properties drifted: {names}{more}"
    if undecided:
        names = ", ".join(describe(shifts[i]) for i in undecided[:4])
        return (
            f"{len(undecided)} of {len(shifts)} properties look shifted, but the samples are "
            f"too small to tell it from noise: {names}"
        )
    hidden = worst.interval[1]
    note = (
        f"; at these sizes a shift up to {hidden:.2f} cannot be ruled out" if hidden > limit else ""
    )
    if worst.effect > limit:
        note = (
            f"; its estimate is beyond the limit but within the noise of two samples of one "
            f"distribution (p {min(worst.p_value, worst.psi_p_value):.2g} for {len(shifts)} "
            "properties)" + note
        )
    return f"none of {len(shifts)} properties drifted; the most shifted is {describe(worst)}{note}"
