"""The release history as one self-contained HTML page: a table of every metric of every
release with its interval, and one plot per metric (inline SVG made by the caller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def render_release_page(rows: Sequence[Mapping[str, Any]], plots: Mapping[str, str | None]) -> str:
    """``rows``: one per metric per release (version, metric, value, low, high, n, change,
    note); ``plots``: metric -> its SVG (None: not enough releases to plot)."""
    body = []
    for metric, svg in plots.items():
        body.append(f"<h2>{escape(metric)}</h2>")
        body.append(svg if svg else "<p>not enough data: one release, nothing to plot</p>")
    table = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in (
            row["version"], row["metric"], _number(row["value"]),
            f"[{_number(row['low'])}, {_number(row['high'])}]", row.get("n") or "-",
            _number(row.get("change")), row.get("note") or "",
        )) + "</tr>"
        for row in rows
    )  # fmt: skip
    head = "".join(f"<th>{h}</th>" for h in
                   ("release", "metric", "value", "interval", "n", "change", "note"))  # fmt: skip
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>dlqa release history</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}"
        "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.2rem .5rem}"
        "</style></head><body><h1>Release history</h1>"
        f"<table><tr>{head}</tr>{table}</table>{''.join(body)}</body></html>\n"
    )


__all__ = ["render_release_page"]
