"""The evidence of one result as the HTML template lays it out: tiles with embedded thumbnails
and audio players, text snippets with what differs marked, tables, logs and described lines.

Everything here is plain data for the template, which escapes every string it prints; the
only markup is the template's own (``<mark>`` around differing words, a span around an
escaped control character). Which layout a kind gets comes from ``dlqa.report.evidence``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from dlqa.core.jsonsafe import to_json_safe
from dlqa.core.results import Evidence
from dlqa.report.evidence import evidence_heading, evidence_kind, shorten
from dlqa.report.html_charts import CHARTS, EVIDENCE_CHARTS, chart_view, json_text
from dlqa.report.intervals import interval_bar, status_colour
from dlqa.report.media_types import audio_data_uri, image_data_uri, image_media_type, png_size
from dlqa.report.snippets import cut, pair_runs, pair_texts, snippet_runs, snippet_text
from dlqa.report.text import format_number

# Embedded media per result (a page of tiles): every thumbnail and every audio player counts
# one, so an audio tile with its waveform and its player costs two.
MAX_THUMBNAILS_PER_RESULT = 12
MAX_GROUP_MEMBERS_SHOWN = 6
MAX_TEXT_CHARS = 400
EMPTY_TEXT_MARK = "(empty text)"
# A snippet is cut to this many characters before it is shown (the data stage keeps ~200).
MAX_SNIPPET_CHARS = 240
# An "image" item's picture: a base64 data URI of PNG or JPEG, nothing else (no remote URL,
# no SVG, which can carry script), and not larger than this.
_IMAGE_URI = re.compile(r"data:(image/png|image/jpeg);base64,([A-Za-z0-9+/]+={0,2})")
MAX_IMAGE_URI_CHARS = 8_000_000
# Sample keys the tile shows in its own place; any other key is listed as JSON.
_SAMPLE_KEYS = frozenset({"id", "label", "split", "value", "reason", "text"})


def _extra_text(others: dict[str, Any]) -> str:
    """A tile's other fields: "key value" lines when every value is a plain number or string
    (a label suspect's suggested class and probabilities), else JSON."""
    if not others:
        return ""
    plain = all(
        isinstance(value, (str, int, float)) and not isinstance(value, bool)
        for value in others.values()
    )
    if not plain:
        return json_text(others)
    return "\n".join(
        f"{key} {format_number(value) if isinstance(value, float) else value}"
        for key, value in sorted(others.items())
    )


class EvidenceMedia:
    """Data URIs of the stored thumbnails and audio previews, each encoded once however often
    it is shown."""

    def __init__(self, thumbnails: Mapping[str, bytes], media: Mapping[str, bytes]) -> None:
        self._thumbnails = thumbnails
        self._media = media
        self._images: dict[str, tuple[str | None, bool]] = {}
        self._audio: dict[str, str | None] = {}

    def image(self, sample_id: str) -> tuple[str | None, bool]:
        """(data URI or None, whether it is a strip: a waveform, wider than twice its height)."""
        if sample_id not in self._images:
            data = self._thumbnails.get(sample_id)
            size = png_size(data) if data else None
            strip = size is not None and size[0] >= 2 * size[1]
            self._images[sample_id] = (image_data_uri(data) if data else None, strip)
        return self._images[sample_id]

    def audio(self, sample_id: str) -> str | None:
        if sample_id not in self._audio:
            data = self._media.get(sample_id)
            self._audio[sample_id] = audio_data_uri(data) if data else None
        return self._audio[sample_id]


class MediaBudget:
    """At most ``limit`` embedded images and players for one result (page size); later tiles
    show text only. Only what is embedded counts: a sample without a preview costs nothing."""

    def __init__(self, media: EvidenceMedia, limit: int = MAX_THUMBNAILS_PER_RESULT) -> None:
        self._media = media
        self._left = limit

    def _take(self, uri: str | None) -> str | None:
        if self._left <= 0 or uri is None:
            return None
        self._left -= 1
        return uri

    def take_uri(self, uri: str | None) -> str | None:
        """An embedded picture that is not a sample's (a check's own image evidence)."""
        return self._take(uri)

    def take(self, sample_id: str) -> dict[str, Any]:
        """The tile fields of a sample's media: ``thumb``, ``strip`` and ``audio``."""
        image, strip = self._media.image(sample_id)
        thumb = self._take(image)
        audio = self._take(self._media.audio(sample_id))
        return {"thumb": thumb, "strip": strip and thumb is not None, "audio": audio}


def _tile(sample_id: Any, budget: MediaBudget, **fields: Any) -> dict[str, Any]:
    return {"id": str(sample_id), **budget.take(str(sample_id)), "snippet": [], **fields}


def _sample_tile(item: Any, budget: MediaBudget) -> dict[str, Any] | None:
    if isinstance(item, (str, int)):
        return _tile(item, budget)
    if not isinstance(item, dict) or "id" not in item:
        return None
    others = {key: value for key, value in item.items() if key not in _SAMPLE_KEYS}
    text = snippet_text(item.get("text"))
    if text is None and "text" in item:
        others["text"] = item["text"]  # not a string: shown as it is, never dropped
    return _tile(
        item["id"],
        budget,
        label=item.get("label"),
        split=item.get("split"),
        value=None if item.get("value") is None else format_number(item["value"]),
        reason=item.get("reason"),
        snippet=_sample_snippet(text),
        extra=_extra_text(others),
    )


def _sample_snippet(text: str | None) -> list:
    """A sample's snippet as runs; an empty text says so (styled as a marker, not as text),
    rather than leaving a "no preview" box that looks like a missing file."""
    if text is None:
        return []
    if not text:
        return [([(EMPTY_TEXT_MARK, True)], False)]
    return snippet_runs(cut(text, MAX_SNIPPET_CHARS))


def _members(item: Any) -> tuple[list[Any], list[Any]] | None:
    """(ids, labels) of a pair or group item in either the dict or the bare-list form."""
    if isinstance(item, dict) and isinstance(item.get("ids"), (list, tuple)):
        labels = item.get("labels")
        labels = list(labels) if isinstance(labels, (list, tuple)) else []
        return list(item["ids"]), labels
    if isinstance(item, (list, tuple)):
        return list(item), []
    return None


def _pair_view(item: Any, budget: MediaBudget) -> dict[str, Any] | None:
    members = _members(item)
    if members is None or len(members[0]) != 2:
        return None
    ids, labels = members
    splits = item.get("splits") if isinstance(item, dict) else None
    splits = list(splits) if isinstance(splits, (list, tuple)) and len(splits) == 2 else [None] * 2
    labels = labels + [None] * (2 - len(labels))
    texts = pair_texts(item)
    snippets = pair_runs(*(cut(text, MAX_SNIPPET_CHARS) for text in texts)) if texts else ([], [])
    tiles = [
        _tile(ids[i], budget, label=labels[i], split=splits[i], snippet=snippets[i])
        for i in range(2)
    ]
    distance = item.get("distance") if isinstance(item, dict) else None
    return {
        "tiles": tiles,
        "distance": None if distance is None else format_number(distance),
        "same_label": labels[0] is not None and labels[0] == labels[1],
    }


def _group_view(item: Any, budget: MediaBudget) -> dict[str, Any] | None:
    members = _members(item)
    if members is None:
        return None
    ids, labels = members
    shown = ids[:MAX_GROUP_MEMBERS_SHOWN]
    tiles = [
        _tile(sample_id, budget, label=labels[i] if i < len(labels) else None)
        for i, sample_id in enumerate(shown)
    ]
    return {"tiles": tiles, "size": len(ids), "more": len(ids) - len(shown)}


def cell_text(value: Any) -> str:
    """A value as one table cell or meta line: text as it is, numbers short, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return json.dumps(to_json_safe(value), ensure_ascii=False)


def _table_view(rows: list[Any]) -> dict[str, Any] | None:
    if not rows or not all(isinstance(row, dict) for row in rows):
        return None
    columns: list[str] = []
    for row in rows:
        columns.extend(str(key) for key in row if str(key) not in columns)
    cells = [[cell_text(row.get(column)) for column in columns] for row in rows]
    return {"columns": columns, "rows": cells}


def safe_image_uri(uri: Any) -> str | None:
    """``uri`` when it is a base64 ``data:image/png`` or ``data:image/jpeg`` URI whose bytes
    are what it says; None for anything else (a remote URL, ``javascript:``, SVG, a GIF
    calling itself a PNG): the report embeds only pictures it can vouch for, and never
    makes the reader's browser fetch anything."""
    if not isinstance(uri, str) or len(uri) > MAX_IMAGE_URI_CHARS:
        return None
    match = _IMAGE_URI.fullmatch(uri)
    if match is None:
        return None
    try:
        head = base64.b64decode(match.group(2)[:32], validate=True)
    except (binascii.Error, ValueError):
        return None
    return uri if image_media_type(head) == match.group(1) else None


def _image_view(item: Any, budget: MediaBudget) -> dict[str, Any]:
    caption = item.get("caption") if isinstance(item, dict) else None
    caption = "" if caption is None else str(caption)
    uri = safe_image_uri(item.get("data_uri") if isinstance(item, dict) else None)
    if uri is None:
        return {
            "caption": caption,
            "refused": "not shown: only PNG or JPEG data URIs are embedded in the report",
        }
    embedded = budget.take_uri(uri)
    if embedded is None:
        return {"caption": caption, "refused": "not shown: this result's images are at their limit"}
    return {"caption": caption, "src": embedded}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _family(item: Any) -> str:
    """Rows read on one scale: the metric before its subject ("recall" of "recall[cat]")."""
    return str(item["name"]).split("[", 1)[0]


def _domains(items: list[Any]) -> dict[str, tuple[float, float]]:
    """The shared scale of each family of rows: the range of all their finite numbers."""
    numbers: dict[str, list[float]] = {}
    for item in items:
        if isinstance(item, dict) and "name" in item:
            found = [_number(item.get(key)) for key in ("low", "high", "value", "threshold")]
            numbers.setdefault(_family(item), []).extend(
                n for n in found if n is not None and math.isfinite(n)
            )
    return {family: (min(ns), max(ns)) for family, ns in numbers.items() if ns}


def _interval_rows(items: list[Any]) -> list[dict[str, Any]]:
    items = [to_json_safe(item) for item in items]  # numpy numbers read as numbers
    domains = _domains(items)
    return [_interval_row(item, domains) for item in items]


def _interval_row(item: Any, domains: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """One row of an "intervals" table: the numbers as text and the bar (our own SVG)."""
    from markupsafe import Markup

    if not isinstance(item, dict) or "name" not in item:
        return {"raw": shorten(json.dumps(to_json_safe(item), ensure_ascii=False), 400)}
    low, high = _number(item.get("low")), _number(item.get("high"))
    value, threshold = _number(item.get("value")), _number(item.get("threshold"))
    status = item.get("status")
    bar = None
    if low is not None and high is not None:
        domain = domains.get(_family(item))
        bar = interval_bar(low, high, value, threshold, colour=status_colour(status), domain=domain)
    bound = "max" if item.get("direction") == "max" else "min"
    return {
        "name": cell_text(item["name"]),
        "value": format_number(item.get("value")),
        "interval": (
            f"[{format_number(item.get('low'))}, {format_number(item.get('high'))}]"
            if item.get("low") is not None or item.get("high") is not None
            else ""
        ),
        "n": cell_text(item.get("n")),
        "threshold": (
            "" if item.get("threshold") is None else f"{bound} {cell_text(item['threshold'])}"
        ),
        "status": cell_text(status),
        "status_class": status if isinstance(status, str) and status in _STATUS_CLASSES else "",
        "bar": None if bar is None else Markup(bar),  # numbers and escaped text only
    }


_STATUS_CLASSES = frozenset({"pass", "warn", "fail", "error", "skip", "inconclusive"})


# The tile layouts; "table", "log", the charts, "intervals", "image" and "text" are built in
# evidence_view.
_TILE_BUILDERS = {"samples": _sample_tile, "pairs": _pair_view, "groups": _group_view}


def evidence_view(evidence: Evidence, budget: MediaBudget) -> dict[str, Any]:
    """One evidence list as the template lays it out."""
    spec = evidence_kind(evidence.kind)
    top = evidence.items[: spec.html_items]
    view: dict[str, Any] = {"kind": evidence.kind, "heading": evidence_heading(evidence, len(top))}
    if spec.layout in _TILE_BUILDERS:
        entries = []
        for item in top:
            built = _TILE_BUILDERS[spec.layout](item, budget)
            # An item of an unexpected shape is still shown, as text, never dropped.
            entries.append(built if built is not None else {"raw": json_text(item)})
        view.update(layout=spec.layout, entries=entries)
        return view
    if spec.layout == "table":
        table = _table_view(top)
        if table is not None:
            view.update(layout="table", table=table)
            return view
    if spec.layout in CHARTS:
        entries = [chart_view(spec.layout, item) for item in top]
        view.update(layout=spec.layout, entries=entries)
        return view
    if spec.layout in EVIDENCE_CHARTS:
        view.update(layout=spec.layout, entries=[chart_view(spec.layout, top)])
        return view
    if spec.layout == "intervals":
        view.update(layout="intervals", rows=_interval_rows(top))
        return view
    if spec.layout == "image":
        view.update(layout="image", entries=[_image_view(item, budget) for item in top])
        return view
    if spec.layout == "log":
        view.update(layout="log", text="\n".join(str(item) for item in top))
        return view
    # The text fallback: the same describer the terminal and JUnit use.
    view.update(layout="text", entries=[shorten(spec.describe(i), MAX_TEXT_CHARS) for i in top])
    return view
