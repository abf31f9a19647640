"""Per-sample text checks: empty texts, control characters, mojibake and undecodable bytes,
lengths extreme for the dataset. Each evidence item carries ``"text"``, a snippet of the
sample (views make its invisible characters visible)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param
from dlqa.data.checks.outliers import robust_location_and_scale
from dlqa.data.context import DataProfile
from dlqa.data.probes.text import SNIPPET_CHARS

# Evidence items that get their sample's text: views show the top few, and a snippet costs
# 200 characters an item in every stored result.
_CONTEXT_CHARS = 40  # of the text shown before the first control character
# The smallest spread of log lengths: a dataset of equal lengths has none, and one text twice
# as long would otherwise be "infinitely" extreme; 0.05 is a 5 % change in length.
_MIN_LOG_SIGMA = 0.05


def _from_first_oddity(
    result: CheckResult, profile: DataProfile, flagged: np.ndarray, starts: np.ndarray
) -> CheckResult:
    """``result`` with each sample item's snippet (``"text"``, added for the first items by
    ``sample_items``) starting at its first control character, less some context."""
    if not result.evidence:
        return result
    for k, item in enumerate(result.evidence[0].items):
        if item.get("text") is not None:
            item["text"] = item["text"][int(starts[k]) :]
    return result


@register_check(
    "data.empty_text",
    title="Empty texts",
    description=(
        "Texts that are empty or hold nothing but whitespace, control or invisible characters "
        "(a text file of 0 bytes is data.unreadable's)."
    ),
    defaults={"max_fraction": max_fraction_param(0.0)},
    modalities=("text",),
)
def check_empty_text(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    flagged = np.flatnonzero(profile.flags("is_empty") & profile.decoded)
    n_chars = profile.numbers("n_chars")[flagged]
    reasons = [
        "empty" if size == 0 else f"whitespace or invisible characters only ({_chars(size)})"
        for size in n_chars
    ]
    result = flagged_fraction_result(
        "data.empty_text",
        profile,
        flagged,
        params,
        what="are empty or whitespace only",
        values=n_chars,
        reasons=reasons,
    )
    return result


@register_check(
    "data.control_characters",
    title="Control and invisible characters",
    description=(
        "Texts with C0/C1 control characters (other than tab, newline, carriage return: NUL, "
        "bell, form feed, escape), or invisible ones that change what a model reads: "
        "zero-width spaces, a BOM inside the text, bidirectional overrides."
    ),
    defaults={
        "min_control": Param(1, doc="fewest control characters that flag a text", ge=1),
        "min_invisible": Param(
            1,
            doc=(
                "fewest invisible characters (zero-width, BOM, bidirectional controls) that "
                "flag a text; a large number ignores them"
            ),
            ge=1,
        ),
        "max_fraction": max_fraction_param(0.0),
    },
    level="warn",
    modalities=("text",),
)
def check_control_characters(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    controls = np.nan_to_num(profile.numbers("control_chars"))
    invisibles = np.nan_to_num(profile.numbers("invisible_chars"))
    mask = (controls >= params["min_control"]) | (invisibles >= params["min_invisible"])
    flagged = np.flatnonzero(mask & profile.decoded)
    counts = controls + invisibles
    flagged = flagged[np.argsort(-counts[flagged], kind="stable")]
    first = profile.numbers("first_oddity")[flagged]
    reasons = []
    for k, row in enumerate(flagged):
        where = "" if np.isnan(first[k]) else f", the first at character {int(first[k])}"
        reasons.append(
            f"{int(controls[row])} control and {int(invisibles[row])} invisible characters{where}"
        )
    starts = np.clip(np.nan_to_num(first) - _CONTEXT_CHARS, 0, None)
    # A first control character beyond the snippet is not in it: show the snippet's start.
    starts[np.nan_to_num(first) >= SNIPPET_CHARS] = 0
    result = flagged_fraction_result(
        "data.control_characters",
        profile,
        flagged,
        params,
        what="contain control or invisible characters",
        values=counts[flagged],
        reasons=reasons,
    )
    return _from_first_oddity(result, profile, flagged, starts)


@register_check(
    "data.mojibake",
    title="Mojibake and undecodable bytes",
    description=(
        "Texts decoded with the wrong codec: UTF-8 read as Windows-1252 or Latin-1 "
        '("cafÃ©" for "café", "â€™" for "’"), found by undoing the misreading; '
        "files whose bytes are not valid UTF-8 (read with U+FFFD in their place); and texts "
        "that already hold U+FFFD replacement characters (decoded lossily before)."
    ),
    defaults={
        "min_mojibake_chars": Param(
            1, doc="fewest recovered mojibake characters in a text that flag it", ge=1
        ),
        "min_replacement_chars": Param(
            1,
            doc=(
                "fewest U+FFFD replacement characters, held by the text before dlqa decoded it, "
                "that flag it; a large number ignores them"
            ),
            ge=1,
        ),
        "max_fraction": max_fraction_param(0.0),
    },
    modalities=("text",),
)
def check_mojibake(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    mojibake = np.nan_to_num(profile.numbers("mojibake_chars"))
    invalid = np.nan_to_num(profile.numbers("invalid_bytes"))
    replaced = np.nan_to_num(profile.numbers("replacement_chars"))
    # U+FFFD that stand for this file's invalid bytes are said once, as invalid bytes.
    earlier = np.where(invalid > 0, 0.0, replaced)
    earlier[earlier < params["min_replacement_chars"]] = 0.0
    moji = mojibake >= params["min_mojibake_chars"]
    mask = profile.decoded & (moji | (invalid > 0) | (earlier > 0))
    severity = invalid + earlier + np.where(moji, mojibake, 0.0)
    flagged = np.flatnonzero(mask)
    flagged = flagged[np.argsort(-severity[flagged], kind="stable")]
    examples = profile.strings("mojibake_example").take(flagged)
    encodings = profile.strings("encoding").take(flagged)
    scores = profile.numbers("mojibake_score")[flagged]
    reasons = []
    for k, row in enumerate(flagged):
        parts = []
        if invalid[row]:
            parts.append(_invalid_reason(int(invalid[row]), encodings[k]))
        if earlier[row]:
            parts.append(f"{int(earlier[row])} U+FFFD replacement characters")
        if moji[row]:
            parts.append(
                f"mojibake {examples[k]} ({_chars(mojibake[row])}, "
                f"{scores[k]:.0%} of the non-ASCII text)"
            )
        reasons.append("; ".join(parts))
    result = flagged_fraction_result(
        "data.mojibake",
        profile,
        flagged,
        params,
        what="hold mojibake or undecodable bytes",
        values=severity[flagged],
        reasons=reasons,
        details={
            "mojibake": int((mask & moji).sum()),
            "invalid_utf8": int((mask & (invalid > 0)).sum()),
            "replacement_chars": int((mask & (earlier > 0)).sum()),
        },
    )
    return result


@register_check(
    "data.extreme_length",
    title="Texts of extreme length",
    description=(
        "Texts far shorter or longer than the dataset's others: a robust z-score (median and "
        "MAD) of the log length in characters above `max_z`, so a dataset of tweets and one "
        "of essays are each judged by their own lengths. Empty texts are data.empty_text's."
    ),
    defaults={
        # Measured on natural text (doc paragraphs, UI strings in French and German, Python
        # docstrings, whole files of /usr/share/doc): |z| > 5 flags 0 to 0.04 % of them (at
        # 4: up to 0.23 %); for paragraphs (median 138 characters, sigma 0.70) it means
        # under 4 or over 4,600 characters.
        "max_z": Param(
            5.0, doc="robust z-score of the log length beyond which a text is extreme", gt=0
        ),
        "min_samples": Param(
            20, doc="fewest non-empty texts a dataset needs for lengths to be judged", ge=2
        ),
        "max_fraction": max_fraction_param(
            0.01, "largest fraction of texts that may be of extreme length"
        ),
    },
    level="warn",
    modalities=("text",),
)
def check_extreme_length(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    n_chars = profile.numbers("n_chars")
    judged = np.flatnonzero(profile.decoded & ~profile.flags("is_empty") & (n_chars > 0))
    z = np.zeros(profile.n)
    median = float("nan")
    if len(judged) >= params["min_samples"]:
        logs = np.log(n_chars[judged])
        centre, sigma = robust_location_and_scale(logs, _MIN_LOG_SIGMA)
        median = float(np.exp(centre))
        if sigma > 0:
            z[judged] = (logs - centre) / sigma
    mask = np.abs(z) > params["max_z"]
    flagged = np.flatnonzero(mask)
    flagged = flagged[np.argsort(-np.abs(z[flagged]), kind="stable")]
    reasons = [
        f"{int(n_chars[row]):,} chars, {_ratio(n_chars[row], median)} the dataset's median "
        f"of {median:,.0f} (robust z {z[row]:+.1f})"
        for row in flagged
    ]
    result = flagged_fraction_result(
        "data.extreme_length",
        profile,
        flagged,
        params,
        what=f"have an extreme length (|robust z| of log length above {params['max_z']:g})",
        values=z[flagged],
        reasons=reasons,
        details={"median_chars": None if np.isnan(median) else round(median, 1)},
    )
    return result


def _ratio(value: float, median: float) -> str:
    if value >= median:
        return f"{value / median:,.0f}x"
    return f"1/{median / value:,.0f} of"


def _invalid_reason(count: int, encoding: str | None) -> str:
    if encoding in ("utf-16-le", "utf-16-be"):
        return f"{count} bytes are not valid UTF-16"
    looks = {"cp1252": "like cp1252, Windows Western European", "binary": "binary: NUL bytes"}
    return (
        f"{count} bytes are not valid UTF-8 (the bytes look "
        f"{looks.get(str(encoding), 'like no encoding dlqa knows')})"
    )


def _chars(count: float) -> str:
    return f"{int(count)} char{'' if int(count) == 1 else 's'}"
