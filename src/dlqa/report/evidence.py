"""The one table of evidence kinds: how every view names an item, and how the HTML lays it out.

The terminal, JUnit, the pytest failure message and the HTML's text fallback describe items
through :func:`describe_item`; the HTML takes its per-kind layout from :func:`evidence_kind`.
A stage plugin describes its own kinds by registering ``StageSpec.evidence_kinds``; those
describers are consulted before dlqa's built-in ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dlqa.core.plugins import PluginError
from dlqa.core.results import CheckResult, Evidence
from dlqa.core.stages import evidence_describer
from dlqa.report.ablation_svg import ablation_cell_line
from dlqa.report.eval_svg import confusion_parts, label
from dlqa.report.mode_matrix_svg import mode_matrix_line
from dlqa.report.reliability_svg import reliability_caption, reliability_parts
from dlqa.report.scatter_svg import map_parts
from dlqa.report.sequential_svg import sequential_look_line
from dlqa.report.snippets import excerpt, pair_excerpts, pair_texts, snippet_text
from dlqa.report.text import format_number

MAX_ITEM_CHARS = 120
MAX_GROUP_MEMBERS = 4
# Text evidence in a line: a sample's snippet, and each of a pair's two (around where they
# differ), short enough that the line keeps its ids and its numbers.
SNIPPET_CHARS = 60
PAIR_SNIPPET_CHARS = 36
# Keys that name a row of named evidence (a parameter, a metric, a sample), most specific first.
_NAME_KEYS = ("name", "metric", "id", "index")


@dataclass(frozen=True)
class EvidenceKind:
    """How views render one kind of evidence."""

    describe: Callable[[Any], str]  # one item as one line of plain text
    # The HTML layout: "samples", "pairs", "groups" (thumbnail tiles), "table" (rows of dicts,
    # else text), "log" (preformatted lines), "histograms" (overlaid reference/current
    # histograms), "image" (an embedded picture with its caption), "confusion",
    # "reliability", "map" (an evaluation's charts), "seed_dots", "interaction",
    # "sequential_path", "mode_matrix" (all the items in one chart each), "intervals" (rows
    # with interval bars) or "text" (one described line per item).
    layout: str
    html_items: int  # how many items the HTML shows (tiles cost more room than lines)


def shorten(text: str, limit: int = MAX_ITEM_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plain(value: Any) -> str:
    """A value as compact text: strings as they are, numbers short, anything else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return format_number(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def describe_any(item: Any) -> str:
    """Any item: scalars as text, anything else as compact JSON, so nothing is dropped."""
    if isinstance(item, (str, int, float)) and not isinstance(item, bool):
        return str(item)
    return plain(item)


def _members_text(members: Any) -> str:
    members = [str(member) for member in members]
    shown = ", ".join(members[:MAX_GROUP_MEMBERS])
    more = len(members) - MAX_GROUP_MEMBERS
    return f"{{{shown}{f', +{more} more' if more > 0 else ''}}} ({len(members)} items)"


def _describe_sample(item: Any) -> str:
    if not isinstance(item, dict) or "id" not in item:
        return _describe_named(item)
    extras = [str(item["label"])] if item.get("label") is not None else []
    if item.get("value") is not None:
        extras.append(format_number(item["value"]))
    if item.get("reason"):
        extras.append(str(item["reason"]))
    line = f"{item['id']} ({', '.join(extras)})" if extras else str(item["id"])
    text = snippet_text(item.get("text"))
    return line if text is None else f'{line}: "{excerpt(text, SNIPPET_CHARS)}"'


def _describe_pair(item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("ids"), (list, tuple)):
        text = " <-> ".join(str(member) for member in item["ids"])
        if item.get("distance") is not None:
            text += f" (distance {format_number(item['distance'])})"
        texts = pair_texts(item)
        if texts is not None:
            a, b = pair_excerpts(*texts, PAIR_SNIPPET_CHARS)
            text += f': "{a}" vs "{b}"'
        return text
    return _describe_group(item)


def _describe_group(item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("ids"), (list, tuple)):
        return _members_text(item["ids"])
    if isinstance(item, (list, tuple)):
        return _members_text(item)
    return describe_any(item)


def _describe_row(item: Any) -> str:
    if isinstance(item, dict):
        return ", ".join(f"{key}={plain(value)}" for key, value in item.items())
    return describe_any(item)


def _describe_named(item: Any) -> str:
    """A named row (a parameter, a metric's counterexample) as ``name: key=value, ...``."""
    if not isinstance(item, dict):
        return describe_any(item)
    name_key = next((key for key in _NAME_KEYS if key in item), None)
    if name_key is None:
        return _describe_row(item)
    rest = _describe_row({key: value for key, value in item.items() if key != name_key})
    return f"{item[name_key]}: {rest}" if rest else str(item[name_key])


def _describe_histogram(item: Any) -> str:
    """A "histograms" item (one property's reference and current counts) as its name and
    the distances, never its bins."""
    if not isinstance(item, dict) or "property" not in item:
        return _describe_row(item)
    numbers = [
        f"{label} {format_number(item[key])}"
        for key, label in (("wasserstein", "W"), ("psi", "PSI"), ("changed_fraction", "changed"))
        if isinstance(item.get(key), (int, float)) and not isinstance(item.get(key), bool)
    ]
    line = f"{item['property']}: reference vs current"
    return f"{line} ({', '.join(numbers)})" if numbers else line


def _describe_image(item: Any) -> str:
    """An "image" item as its caption: the data URI is the picture, not text to print."""
    if isinstance(item, dict):
        caption = item.get("caption")
        return f"image: {caption}" if caption else "image"
    return describe_any(item)


def _describe_confusion(item: Any) -> str:
    """'confusion matrix 10x10, 512 errors; most confused: 7→1 (23)' (true→predicted)."""
    parts = confusion_parts(item)
    if parts is None:
        return _describe_row(item)
    n = len(parts.classes)
    line = f"confusion matrix {n}x{n}, {parts.errors} errors"
    top = parts.most_confused()
    if top is None:
        return line
    true, predicted, count = top
    names = label(parts.classes[true], 24), label(parts.classes[predicted], 24)
    return f"{line}; most confused: {names[0]}\u2192{names[1]} ({count})"


def _describe_reliability(item: Any) -> str:
    """'ECE 0.04 over 15 equal-mass bins, Brier 0.21'."""
    parts = reliability_parts(item)
    if parts is None:
        return _describe_row(item)
    bins = f"{len(parts.bins)} {parts.scheme + ' ' if parts.scheme else ''}bins"
    if parts.ece is None:
        return reliability_caption(parts)
    line = f"ECE {format_number(parts.ece)} over {bins}"
    return line if parts.brier is None else f"{line}, Brier {format_number(parts.brier)}"


def _describe_map(item: Any) -> str:
    """'2-D map (pca) of 5000 points, 312 misclassified'."""
    parts = map_parts(item)
    if parts is None:
        return _describe_row(item)
    method = label(parts.method, 30)
    return f"2-D map ({method}) of {len(parts.points)} points, {parts.misclassified} misclassified"


def _drawn_line(line_of: Callable[[Any], str | None]) -> Callable[[Any], str]:
    """The describer of a charted kind: its chart module's line, or the item as a row when
    it is not of the kind's shape (nothing is dropped)."""

    def describe(item: Any) -> str:
        return line_of(item) or _describe_row(item)

    return describe


def _describe_interval(item: Any) -> str:
    """'recall[cat] 0.91 [0.88, 0.94] n=300 (min 0.9)', and the status unless it passed."""
    if not isinstance(item, dict) or "name" not in item:
        return _describe_named(item)
    line = f"{item['name']} {format_number(item.get('value'))}"
    if item.get("low") is not None and item.get("high") is not None:
        line += f" [{format_number(item['low'])}, {format_number(item['high'])}]"
    if item.get("n") is not None:
        line += f" n={plain(item['n'])}"
    if item.get("threshold") is not None:
        bound = "max" if item.get("direction") == "max" else "min"
        line += f" ({bound} {format_number(item['threshold'])})"
    status = item.get("status")
    return line if status in (None, "", "pass") else f"{line} {plain(status)}"


EVIDENCE_KINDS: dict[str, EvidenceKind] = {
    "samples": EvidenceKind(_describe_sample, "samples", 12),
    "pairs": EvidenceKind(_describe_pair, "pairs", 6),
    "groups": EvidenceKind(_describe_group, "groups", 4),
    "table": EvidenceKind(_describe_row, "table", 20),
    "parameters": EvidenceKind(_describe_named, "table", 20),
    "inputs": EvidenceKind(_describe_named, "table", 20),
    "log": EvidenceKind(describe_any, "log", 40),
    # Overlaid reference/current histograms of drifted properties (an SVG each).
    "histograms": EvidenceKind(_describe_histogram, "histograms", 8),
    # A picture made by a check (a preview grid): {"caption", "data_uri"}, PNG or JPEG only.
    "image": EvidenceKind(_describe_image, "image", 4),
    # Evaluation: a confusion matrix {"classes", "matrix"} as a heat map, a reliability
    # diagram {"bins", "ece", "brier"}, a 2-D map of the eval set {"method", "classes",
    # "points", "ids"} as a scatter plot (SVG each), and metrics with their intervals
    # {"name", "value", "low", "high", "threshold", "n", "status"} as a table of bars.
    "confusion": EvidenceKind(_describe_confusion, "confusion", 4),
    "reliability": EvidenceKind(_describe_reliability, "reliability", 4),
    "map": EvidenceKind(_describe_map, "map", 2),
    "intervals": EvidenceKind(_describe_interval, "intervals", 200),
    # Experiments: the seeds of each compared group {"group", "role", "values", ...}, the
    # candidate's item with the difference of the means and its "ci", drawn together as one
    # chart of dots on a shared scale (the exp stage registers the line describer).
    "seed_groups": EvidenceKind(_describe_row, "seed_dots", 8),
    # The cells of an ablation {"cell", "changes", "mean", "ci", "values", ...} as an
    # interaction plot (a dot plot beyond two changes), the looks of a group-sequential
    # comparison {"seeds", "difference", "se", "efficacy_t", "equivalence_t", "decision", ...}
    # as its path between the stopping boundaries, and a comparison in every combination of
    # modes {"mode", "label", "difference", "ci", "verdict", "status", ...} as a grid.
    "ablation_cells": EvidenceKind(_drawn_line(ablation_cell_line), "interaction", 64),
    "sequential_path": EvidenceKind(_drawn_line(sequential_look_line), "sequential_path", 200),
    "mode_matrix": EvidenceKind(_drawn_line(mode_matrix_line), "mode_matrix", 120),
}
# Kinds nobody registered: rows of dicts still make a table, anything else one line each.
FALLBACK_KIND = EvidenceKind(_describe_row, "table", 20)


def _registered_describer(kind: str) -> Callable[[Any], str] | None:
    try:
        return evidence_describer(kind)
    except PluginError:
        # A stage plugin that cannot load already failed the run that produced these results;
        # re-rendering them must still work, with dlqa's own describers.
        return None


def _guarded(describer: Callable[[Any], str], fallback: Callable[[Any], str]) -> Callable:
    def describe(item: Any) -> str:
        try:
            return str(describer(item))
        except Exception:  # a plugin's bug must not hide the evidence: show it plainly
            return fallback(item)

    return describe


def evidence_kind(kind: str) -> EvidenceKind:
    """How views render ``kind``: a stage's registered describer first, dlqa's table second.

    A registered kind that dlqa does not know renders as one described line per item in the
    HTML; one that dlqa knows keeps its HTML layout (tiles, table) and changes the text.
    """
    builtin = EVIDENCE_KINDS.get(kind)
    registered = _registered_describer(kind)
    if registered is None:
        return builtin or FALLBACK_KIND
    fallback = builtin or FALLBACK_KIND
    kind_spec = builtin or replace(FALLBACK_KIND, layout="text")
    return replace(kind_spec, describe=_guarded(registered, fallback.describe))


def describe_item(kind: str, item: Any) -> str:
    """One evidence item as one line of plain text, at most ``MAX_ITEM_CHARS`` long."""
    return shorten(evidence_kind(kind).describe(item))


def evidence_heading(evidence: Evidence, shown: int) -> str:
    """'samples (why), showing 5 of 340' or 'samples, 3 in all'; ``total`` can exceed the
    items kept when a check truncated its list."""
    total = max(evidence.total, len(evidence.items))
    heading = evidence.kind
    if evidence.description:
        heading += f" ({evidence.description})"
    if shown < total:
        return f"{heading}, showing {shown} of {total}"
    return f"{heading}, {total} in all"


def evidence_lines(result: CheckResult, max_items: int) -> list[str]:
    """Plain lines naming the top items of each evidence of ``result``."""
    lines = []
    for evidence in result.evidence:
        describe = evidence_kind(evidence.kind).describe  # looked up once per evidence
        top = evidence.items[:max_items]
        lines.append(evidence_heading(evidence, len(top)) + ":")
        lines.extend(f"  - {shorten(describe(item))}" for item in top)
    return lines
