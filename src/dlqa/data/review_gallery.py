"""The review gallery: one static, self-contained HTML page of the samples in a review file.

Each card shows what a reviewer judges (a thumbnail; a waveform and a player; a text's
snippet), the sample's id, label and why it was drawn, and its row in review.csv. Media are
data URIs and the styles inline: the page opens offline, from an e-mail or a share, with
no script and no request anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dlqa.data.context import DataProfile
from dlqa.data.review import ReviewRow
from dlqa.report.audio_media import make_audio_preview, make_waveform_thumbnail
from dlqa.report.media_types import audio_data_uri, image_data_uri
from dlqa.report.snippets import visible
from dlqa.report.thumbnails import make_thumbnail

GALLERY_THUMBNAIL_SIZE = 224  # larger than a report's: a reviewer must see what it shows


@dataclass(frozen=True)
class Media:
    """What a card shows of one sample (each part optional)."""

    image: str | None = None  # data URI: a thumbnail or a waveform
    audio: str | None = None  # data URI of a short preview
    text: str | None = None  # snippet
    problem: str | None = None  # why there is no preview (the file did not decode)


def collect_media(
    profile: DataProfile,
    rows: Sequence[ReviewRow],
    stored: Mapping[str, bytes] | None = None,
) -> dict[str, Media]:
    """Media of each row: read again from the sample's file where it is still there, else
    the thumbnail its run stored (``stored``: id -> image bytes), else none (the card says
    why). A sample that did not decode is never opened again."""
    ids = [row.id for row in rows]
    if not ids:
        return {}
    positions = profile.rows_of(ids)
    known = positions >= 0
    where = np.where(known, positions, 0)
    paths = profile.take_values("path", where)
    errors = profile.take_values("error", where)
    details = profile.take_values("error_detail", where)
    snippets = (
        profile.take_values("snippet", where)
        if profile.has_column("snippet")
        else [None] * len(ids)
    )
    media = {}
    for k, sample_id in enumerate(ids):
        if not known[k]:
            media[sample_id] = Media(problem="not in the snapshot's table")
        elif errors[k]:
            reason = f"{errors[k]}: {details[k]}" if details[k] else errors[k]
            media[sample_id] = Media(problem=f"did not decode ({reason})")
        elif profile.modality == "text":
            media[sample_id] = Media(text=snippets[k] or "")
        else:
            media[sample_id] = _file_media(
                profile.modality, paths[k], (stored or {}).get(sample_id)
            )
    return media


def _file_media(modality: str, path: str | None, stored: bytes | None) -> Media:
    fallback = Media(image=image_data_uri(stored)) if stored else Media(problem="no preview")
    if not path:
        return fallback
    try:  # the source files may have moved since the profile: the stored thumbnail remains
        if modality == "audio":
            return Media(
                image=image_data_uri(make_waveform_thumbnail(path)),
                audio=audio_data_uri(make_audio_preview(path)),
            )
        return Media(image=image_data_uri(make_thumbnail(path, GALLERY_THUMBNAIL_SIZE)))
    except Exception:
        return fallback


def render_gallery(
    rows: Sequence[ReviewRow],
    media: Mapping[str, Media],
    *,
    title: str,
    facts: Mapping[str, str],
    classes: Sequence[str],
    csv_name: str = "review.csv",
) -> str:
    """The gallery page. ``facts`` (review id, seed, snapshot, ...) head the page; cards are
    in the review file's order, each with its row number there."""
    e = html.escape
    cards = "\n".join(
        _card(number, row, media.get(row.id, Media())) for number, row in enumerate(rows, 2)
    )
    facts_html = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts.items())
    class_list = ", ".join(f"<code>{e(name)}</code>" for name in classes) or "(none)"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{e(title)}</h1>
<dl class="meta">{facts_html}</dl>
<p class="how">Fill in <code>{e(csv_name)}</code>, one row per card (the card shows its row):
<b>verdict</b> is <code>ok</code>, <code>wrong_label</code> (write the right class in
<b>correct_label</b>) or <code>bad_sample</code> (no usable sample of any class: corrupt,
blank, out of scope); leave it empty for a sample you did not review. Then run
<code>dlqa data review import {e(csv_name)}</code>.</p>
<p class="how">Classes: {class_list}</p>
<div class="grid">
{cards}
</div>
</body>
</html>
"""


def _card(number: int, row: ReviewRow, media: Media) -> str:
    e = html.escape
    parts = []
    if media.image:
        parts.append(f'<img src="{media.image}" alt="{e(row.id)}">')
    if media.audio:
        parts.append(f'<audio controls preload="none" src="{media.audio}"></audio>')
    if media.text is not None:
        parts.append(f'<div class="text">{e(visible(media.text))}</div>')
    if not parts:
        parts.append(f'<div class="none">{e(media.problem or "no preview")}</div>')
    why = "".join(
        f'<span class="why {"random" if reason == "random" else "flagged"}">{e(reason)}</span>'
        for reason in row.why.split("; ")
        if reason
    )
    label = e(row.label) if row.label is not None else "<i>no label</i>"
    return (
        f'<figure class="card">{"".join(parts)}<figcaption>'
        f'<span class="row">row {number}</span> <code>{e(row.id)}</code><br>'
        f'<span class="label">{label}</span> {why}</figcaption></figure>'
    )


_STYLE = """
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 0 auto; max-width: 1400px; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       word-break: break-all; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
dl.meta dt { color: #57606a; } dl.meta dd { margin: 0; word-break: break-all; }
.how { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .8rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: .8rem; }
.card { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; }
.card img { display: block; max-width: 100%; max-height: 224px; margin: 0 auto .3rem; }
.card audio { width: 100%; }
.card .text { white-space: pre-wrap; word-break: break-word; background: #f6f8fa; padding: .4rem;
              max-height: 14rem; overflow: auto; font-size: .9rem; }
.card .none { color: #6e7781; padding: 2rem .5rem; text-align: center; background: #f6f8fa; }
.row { color: #57606a; font-size: .8rem; }
.label { font-weight: 600; }
.why { font-size: .75rem; border-radius: 1rem; padding: 0 .4rem; margin-left: .2rem;
       white-space: nowrap; }
.why.random { background: #ddf4ff; color: #0969da; }
.why.flagged { background: #fff8c5; color: #9a6700; }
"""

__all__ = ["GALLERY_THUMBNAIL_SIZE", "Media", "collect_media", "render_gallery"]
