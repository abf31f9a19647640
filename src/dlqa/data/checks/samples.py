"""Per-sample checks of files: unreadable and mislabelled formats.

The per-image checks (exposure, focus, blank frames, grayscale, channel mode, size) live in
``image_samples`` and ``image_layout``; importing them here registers them with the rest.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import numpy as np

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.checks import image_layout, image_samples  # noqa: F401 - registers them
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param
from dlqa.data.columns import PROBE_ERROR
from dlqa.data.context import DataProfile

_MAX_FRACTION = max_fraction_param(0.0)


@register_check(
    "data.unreadable",
    title="Unreadable, empty, truncated or corrupt files",
    description="Files that cannot be decoded: empty, truncated, corrupt or unreadable.",
    defaults={"max_fraction": _MAX_FRACTION},
)
def check_unreadable(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    flagged = np.flatnonzero(~profile.decoded)
    errors = profile.strings("error").take(flagged)
    details = profile.strings("error_detail").take(flagged)
    bugs = [k for k, error in enumerate(errors) if error == PROBE_ERROR]
    if bugs:
        return _probe_bug_result(profile, flagged[bugs], [details[k] for k in bugs])
    reasons = [
        f"{error}: {detail}" if detail else str(error)
        for error, detail in zip(errors, details, strict=True)
    ]
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[error] = kinds.get(error, 0) + 1
    return flagged_fraction_result(
        "data.unreadable",
        profile,
        flagged,
        params,
        what="cannot be decoded",
        reasons=reasons,
        details={"by_kind": kinds},
    )


@register_check(
    "data.format_mismatch",
    title="File format differs from its extension",
    description="The magic bytes say one format and the extension another (a PNG named .jpg).",
    defaults={"max_fraction": _MAX_FRACTION},
)
def check_format_mismatch(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    flagged = np.flatnonzero(profile.flags("format_mismatch"))
    actual = profile.strings("actual_format").take(flagged)
    claimed = profile.strings("ext_format").take(flagged)
    ids = profile.ids.take(flagged)
    reasons = [
        f"{str(actual[k]).upper()} content in a {PurePosixPath(ids[k]).suffix or claimed[k]} file"
        for k in range(len(flagged))
    ]
    return flagged_fraction_result(
        "data.format_mismatch",
        profile,
        flagged,
        params,
        what="have content in another format than their extension says",
        reasons=reasons,
    )


def _probe_bug_result(profile: DataProfile, rows: np.ndarray, details: list[str]) -> CheckResult:
    """dlqa's probe crashed on some samples: an ``error`` that names the bug, never a finding
    about the user's files (which were not judged)."""
    first = details[0]
    return CheckResult(
        "data.unreadable",
        Status.ERROR,
        f"dlqa's probe crashed on {len(rows)} of {profile.n} samples, a bug in dlqa, not in "
        f"these files: {first}",
        evidence=[
            Evidence(
                "samples",
                [
                    {"id": sid, "reason": detail}
                    for sid, detail in zip(profile.ids.take(rows), details, strict=True)
                ],
                len(rows),
                "samples the probe could not judge",
            )
        ],
        details={"probe_errors": len(rows), "first": first},
    )
