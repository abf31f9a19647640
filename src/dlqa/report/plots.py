"""Inline SVG charts for the HTML report: class balance per split, property histograms.

The interval bars of measured values are hand-written SVG in ``dlqa.report.intervals``.

matplotlib is imported inside the functions so that commands which write no HTML never pay
for it. We draw on ``matplotlib.figure.Figure`` directly instead of pyplot: no global backend
is selected or changed (a notebook's backend stays as it was), and figures are freed with the
object instead of living in pyplot's registry.
"""

from __future__ import annotations

import functools
import io
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Beyond this many classes a bar chart is unreadable; show the largest and smallest halves.
MAX_CLASSES_SHOWN = 40
HISTOGRAM_BINS = 30
# Above this largest/smallest class ratio, a linear axis makes the small classes invisible.
LOG_SCALE_RATIO = 50

_SVG_RC = {
    "svg.fonttype": "none",  # text stays text: much smaller than glyph paths, and searchable
    "svg.hashsalt": "dlqa",  # deterministic ids, so identical inputs give identical files
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


# Class names in Chinese, Japanese or Korean (猫, 犬, 고양이) have no glyphs in DejaVu Sans. The
# text stays text in the SVG (svg.fonttype "none"), so the browser draws it with the first
# family in the element's font-family list that it has, falling back per character to any
# system font; naming common CJK families there makes that choice a good one on every OS.
# Where one of them is installed here, matplotlib also measures the labels with it.
CJK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "Hiragino Sans",
    "PingFang SC",
    "Microsoft YaHei",
    "Yu Gothic",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
)
_MISSING_GLYPH_WARNING = r"Glyph \d+ .* missing from font"


@functools.cache
def _default_font_characters() -> frozenset[int]:
    """The code points the default sans-serif font (DejaVu Sans) has glyphs for."""
    from matplotlib import font_manager, ft2font

    path = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    return frozenset(ft2font.FT2Font(path).get_charmap())


@functools.cache
def _installed_cjk_families() -> tuple[str, ...]:
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(family for family in CJK_FAMILIES if family in installed)


def _svg_rc(texts: Iterable[str] = ()) -> dict[str, Any]:
    """matplotlib settings for a chart whose text includes ``texts`` (class and split names):
    the CJK families are named only when a text needs glyphs the default font lacks, so
    ordinary charts stay small."""
    covered = _default_font_characters()
    if all(ord(char) in covered for text in texts for char in str(text) if not char.isspace()):
        return _SVG_RC
    import matplotlib

    return {
        **_SVG_RC,
        # Installed families become matplotlib's per-glyph fallback (it measures with them);
        # all of them are written into the SVG's font-family list for the browser.
        "font.family": ["sans-serif", *_installed_cjk_families()],
        # Before the generic name that ends the list: the browser takes families in order.
        "font.sans-serif": [
            *(f for f in matplotlib.rcParams["font.sans-serif"] if f != "sans-serif"),
            *CJK_FAMILIES,
        ],
    }


def _escape_mathtext(text: str) -> str:
    # A "$" in a label would switch matplotlib to mathtext (and can fail to parse).
    return str(text).replace("$", r"\$")


def _figure_to_svg(figure, id_prefix: str) -> str:
    """The figure as an SVG element fit for inlining in HTML; ids get ``id_prefix``.

    Several SVGs in one page must not share clip path or marker ids, so each chart gets its
    own prefix (deterministic, so that the same report renders to the same file).
    """
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # A glyph matplotlib lacks is still text in the SVG: the browser's fonts draw it.
        warnings.filterwarnings("ignore", _MISSING_GLYPH_WARNING, UserWarning)
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and DOCTYPE
    # Namespace declarations and RDF metadata carry URLs; HTML parses inline SVG without them.
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r"\s*<!--.*?-->", "", svg, flags=re.S)
    return _make_ids_unique(svg, prefix=id_prefix)


def _make_ids_unique(svg: str, prefix: str) -> str:
    """Prefix every id and every ``#id`` reference to it."""
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    if not ids:
        return svg

    def rename(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}{name}" if name in ids else match.group(0)

    svg = re.sub(r'(\sid=")([^"]+)', rename, svg)
    return re.sub(r"(#)([A-Za-z_][\w.\-]*)", rename, svg)


def class_balance_svg(
    class_counts: Mapping[str, Mapping[str, int]], id_prefix: str = "balance-"
) -> str | None:
    """Horizontal bars of samples per class, one colour per split; None when there is nothing."""
    splits = [split for split, counts in class_counts.items() if counts]
    if not splits:
        return None
    totals: dict[str, int] = {}
    for split in splits:
        for label, count in class_counts[split].items():
            totals[str(label)] = totals.get(str(label), 0) + int(count)
    labels = sorted(totals, key=lambda label: (-totals[label], label))
    hidden = 0
    if len(labels) > MAX_CLASSES_SHOWN:
        half = MAX_CLASSES_SHOWN // 2
        hidden = len(labels) - 2 * half
        labels = labels[:half] + labels[-half:]

    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_svg_rc([*labels, *splits])):
        bar_height = 0.8 / len(splits)
        figure = Figure(figsize=(7.0, 0.9 + 0.22 * len(labels) * max(1, len(splits) ** 0.5)))
        axes = figure.add_subplot()
        for index, split in enumerate(splits):
            counts = {str(k): int(v) for k, v in class_counts[split].items()}
            positions = [row + index * bar_height for row in range(len(labels))]
            bars = axes.barh(
                positions,
                [counts.get(label, 0) for label in labels],
                height=bar_height,
                label=_escape_mathtext(split),
            )
            # The small classes are the point of this chart; their count must be readable
            # even where the bar is a sliver.
            axes.bar_label(bars, fontsize=6, padding=2)
        largest = max(totals.values())
        smallest = min((count for count in totals.values() if count > 0), default=largest)
        if largest > LOG_SCALE_RATIO * smallest:
            axes.set_xscale("log")
        axes.set_yticks([row + 0.4 - bar_height / 2 for row in range(len(labels))])
        axes.set_yticklabels([_escape_mathtext(label) for label in labels])
        axes.invert_yaxis()  # largest class on top
        axes.set_xlabel("samples")
        if len(splits) > 1:
            axes.legend(title="split", loc="lower right")
        if hidden:
            axes.set_title(f"{hidden} classes in the middle of the ranking not shown", loc="left")
        return _figure_to_svg(figure, id_prefix)


def histogram_bins(values: Sequence[float]) -> dict[str, Any] | None:
    """The histogram of the finite ``values`` as the store keeps it (edges, counts, median,
    n); None when there are none."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64).ravel()
    array = array[np.isfinite(array)]
    if array.size == 0:
        return None
    low, high = float(array.min()), float(array.max())
    counts, edges = np.histogram(array, bins=HISTOGRAM_BINS if high > low else 1)
    return {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "median": float(np.median(array)),
        "n": int(array.size),
    }


def _valid_bins(bins: Any) -> bool:
    """Whether ``bins`` is a histogram as ``histogram_bins`` writes it, with samples in it
    (a stored or hand-edited document may hold anything)."""
    if not isinstance(bins, Mapping):
        return False
    edges, counts = bins.get("edges"), bins.get("counts")
    return (
        isinstance(edges, Sequence)
        and isinstance(counts, Sequence)
        and len(counts) >= 1
        and len(edges) == len(counts) + 1
        and all(isinstance(x, (int, float)) and math.isfinite(x) for x in edges)
        and sum(int(c) for c in counts) > 0
    )


def histogram_svg(name: str, bins: Mapping[str, Any], id_prefix: str = "hist-") -> str | None:
    """A small histogram of one property from its stored bins (edges, counts, median, n);
    None when the bins hold no samples."""
    if not _valid_bins(bins):
        return None

    import matplotlib
    from matplotlib.figure import Figure

    counts = [int(c) for c in bins["counts"]]
    edges = [float(e) for e in bins["edges"]]
    n = bins.get("n") or sum(counts)
    median = bins.get("median")
    with matplotlib.rc_context(_svg_rc([name])):
        figure = Figure(figsize=(3.4, 2.2))
        axes = figure.add_subplot()
        axes.stairs(counts, edges, fill=True, alpha=0.8)
        title = f"{_escape_mathtext(name)}  (n={n})"
        if isinstance(median, (int, float)) and math.isfinite(median):
            axes.axvline(median, color="black", linewidth=0.8, linestyle="--")
            title = f"{_escape_mathtext(name)}  (median {median:.4g}, n={n})"
        axes.set_title(title, loc="left")
        axes.set_ylabel("samples")
        return _figure_to_svg(figure, id_prefix)


def property_histograms_svg(histograms: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Property name -> histogram SVG, for every property whose stored bins hold samples."""
    charts = {}
    for index, (name, bins) in enumerate(histograms.items()):
        svg = histogram_svg(name, bins, id_prefix=f"hist{index}-")
        if svg is not None:
            charts[name] = svg
    return charts
