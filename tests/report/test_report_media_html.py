"""Audio and text evidence in every view: players and waveforms in the HTML, snippets with the
differing words of a pair marked, and the same snippets, short, in the terminal and JUnit."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.audio_media import make_audio_preview, make_waveform_thumbnail
from dlqa.report.console import print_summary
from dlqa.report.evidence import MAX_ITEM_CHARS, SNIPPET_CHARS, describe_item
from dlqa.report.html import MAX_THUMBNAILS_PER_RESULT, build_context, render_html
from dlqa.report.json_report import report_from_dict, report_to_dict, validate_report_dict
from dlqa.report.junit import build_junit_tree
from dlqa.report.model import Report
from dlqa.report.snippets import excerpt, pair_runs, visible

RATE = 8_000
PAIR_A = "the quick brown fox jumps over the lazy dog"
PAIR_B = "the quick red fox jumps over the very lazy dog"
BELL_TEXT = "ring the bell\x07 now"


class _Elements(HTMLParser):
    """Start tags with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


def _elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def _clip(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def _report(results: list[CheckResult], **kwargs) -> Report:
    return Report("media", "data.profile", "2024-01-01T00:00:00Z", results, 1, **kwargs)


@pytest.fixture(scope="module")
def audio_report() -> Report:
    clip = _clip()
    ids = [f"clip_{i:02d}.wav" for i in range(10)]
    waveform = make_waveform_thumbnail(waveform=clip, sample_rate=RATE)
    preview = make_audio_preview(waveform=clip, sample_rate=RATE)
    result = CheckResult(
        "data.clipping",
        Status.FAIL,
        "10 clips clip",
        evidence=[Evidence("samples", [{"id": i, "label": "speech"} for i in ids], 10)],
    )
    return _report(
        [result],
        thumbnails={i: waveform for i in ids},
        media={i: preview for i in ids[:-1]},  # the last clip's preview could not be made
    )


@pytest.fixture(scope="module")
def text_report() -> Report:
    samples = [
        {"id": "doc_1", "label": "spam", "text": BELL_TEXT},
        {"id": "doc_2", "text": "<script>alert(1)</script> & more"},
        {"id": "doc_3", "text": ["not", "a", "string"]},
    ]
    pairs = [{"ids": ["doc_a", "doc_b"], "distance": 0.1, "texts": [PAIR_A, PAIR_B]}]
    return _report(
        [
            CheckResult(
                "data.odd_text", Status.FAIL, "odd", evidence=[Evidence("samples", samples, 3)]
            ),
            CheckResult(
                "data.near_dupes", Status.WARN, "near", evidence=[Evidence("pairs", pairs, 1)]
            ),
        ]
    )


# -- audio --------------------------------------------------------------------------------


def test_audio_evidence_has_a_player_and_a_waveform(audio_report: Report) -> None:
    html = render_html(audio_report, charts=False)
    elements = _elements(html)
    players = elements.of("audio")
    assert players, "expected <audio> players"
    for player in players:
        assert "controls" in player and player["preload"] == "none"
        assert player["src"].startswith("data:audio/ogg;base64,")
    images = elements.of("img")
    assert images and all(img["src"].startswith("data:image/png;base64,") for img in images)
    assert all(img["class"] == "thumb strip" for img in images)
    # Nothing outside the page.
    for _tag, attrs in elements.elements:
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//"))


def test_players_count_against_the_media_budget_of_a_result(audio_report: Report) -> None:
    tiles = build_context(audio_report, charts=False)["sections"][0]["evidence"][0]["entries"]
    assert len(tiles) == 10
    shown = [(tile["thumb"] is not None, tile["audio"] is not None) for tile in tiles]
    # A waveform and a player cost one each: 12 buy six full tiles, then text only.
    full = MAX_THUMBNAILS_PER_RESULT // 2
    assert shown == [(True, True)] * full + [(False, False)] * (10 - full)
    assert all(tile["strip"] for tile in tiles[:full])


def test_a_clip_without_a_preview_shows_its_waveform_only() -> None:
    clip = _clip()
    result = CheckResult("data.x", Status.FAIL, "x", evidence=[Evidence("samples", ["a"], 1)])
    report = _report(
        [result],
        thumbnails={"a": make_waveform_thumbnail(waveform=clip, sample_rate=RATE)},
        media={"a": b"<html>not audio</html>"},  # bytes a browser must not be handed
    )
    tile = build_context(report, charts=False)["sections"][0]["evidence"][0]["entries"][0]
    assert tile["thumb"].startswith("data:image/png;base64,") and tile["audio"] is None
    assert "<audio" not in render_html(report, charts=False)


# -- text ---------------------------------------------------------------------------------


def _marked(html: str) -> list[str]:
    return re.findall(r'<mark class="diff">(.*?)</mark>', html)


def test_a_text_pair_marks_exactly_the_differing_words(text_report: Report) -> None:
    html = render_html(text_report, charts=False)
    assert _marked(html) == ["brown", "red", "very"]
    # The rest of both snippets is there, unmarked.
    assert "the quick " in html and " fox jumps over the " in html


def test_differing_phrases_are_one_mark_and_whitespace_never_differs() -> None:
    runs_a, runs_b = pair_runs("a  b c d e", "a b x y e")
    flat = [("".join(text for text, _ in pieces), differs) for pieces, differs in runs_a]
    assert flat == [("a  b ", False), ("c d", True), (" e", False)]
    assert [differs for _, differs in runs_b] == [False, True, False]
    same_a, same_b = pair_runs("a  b", "a b")
    assert not any(differs for _, differs in same_a + same_b)


def test_snippets_are_escaped_and_show_control_characters(text_report: Report) -> None:
    html = render_html(text_report, charts=False)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert _elements(html).of("script") == [{}]  # the page's own script only
    assert '<span class="ctrl" title="invisible character">\\u0007</span>' in html
    assert "\x07" not in html
    # A text tile shows its snippet instead of an empty picture box.
    odd = build_context(text_report, charts=False)["sections"][0]["evidence"][0]["entries"]
    assert odd[0]["snippet"] and odd[0]["thumb"] is None
    assert html.count("no preview") == 1  # doc_3, whose "text" is no snippet
    # A "text" that is not a string is shown as JSON, not dropped.
    assert '"text": [' in odd[2]["extra"] and odd[2]["snippet"] == []


def test_invisible_characters_are_written_out() -> None:
    assert visible("a\tb\nc\x07\u200b\u202e\U000e0001 d\u00e9") == (
        "a\\tb\\nc\\u0007\\u200b\\u202e\\U000e0001 d\u00e9"
    )


def test_excerpts_keep_escapes_whole_and_say_what_was_cut() -> None:
    assert excerpt("short", 60) == "short"
    long = "x" * 58 + "\x07" + "tail"
    cut = excerpt(long, 60)
    assert len(cut) <= 60 and cut.endswith("...") and "\\u00" not in cut
    middle = excerpt("a" * 100 + " changed here " + "b" * 100, 30, around=101)
    assert middle.startswith("...") and middle.endswith("...") and "changed" in middle
    assert len(middle) <= 30


# -- terminal, JUnit, JSON ----------------------------------------------------------------


def test_the_text_view_shows_a_short_snippet_of_a_sample() -> None:
    line = describe_item("samples", {"id": "doc_1", "label": "spam", "text": BELL_TEXT})
    assert line == 'doc_1 (spam): "ring the bell\\u0007 now"'
    long = describe_item("samples", {"id": "doc_9", "text": "word " * 100})
    snippet = long.split(": ", 1)[1].strip('"')
    assert len(snippet) <= SNIPPET_CHARS and snippet.endswith("...")
    assert "\n" not in describe_item("samples", {"id": "d", "text": "two\nlines"})


def test_the_text_view_shows_both_snippets_of_a_pair_where_they_differ() -> None:
    item = {"ids": ["doc_a", "doc_b"], "distance": 0.1, "texts": [PAIR_A, PAIR_B]}
    line = describe_item("pairs", item)
    assert line.startswith("doc_a <-> doc_b (distance 0.1): ")
    assert '"the quick brown fox' in line and '"the quick red fox' in line
    assert len(line) <= MAX_ITEM_CHARS
    prefix = "the same long opening sentence that both documents share word for word, "
    far = {"ids": ["a", "b"], "texts": [prefix + "then one ending", prefix + "then another"]}
    # Near-duplicates share their start: each excerpt begins near the first difference.
    assert "one ending" in describe_item("pairs", far)
    assert "another" in describe_item("pairs", far)


def test_terminal_and_junit_show_the_snippets(text_report: Report) -> None:
    console = Console(file=StringIO(), width=160)
    print_summary(text_report, console)
    out = console.file.getvalue()
    assert 'doc_1 (spam): "ring the bell\\u0007 now"' in out
    assert '"the quick brown fox' in out and '"the quick red fox' in out
    junit = "\n".join(build_junit_tree(text_report).getroot().itertext())
    assert "ring the bell\\u0007 now" in junit


def test_json_keeps_text_evidence_and_embeds_no_media(
    text_report: Report, audio_report: Report
) -> None:
    document = report_to_dict(text_report)
    validate_report_dict(document)
    samples = document["results"][0]["evidence"][0]["items"]
    assert samples[0]["text"] == BELL_TEXT
    assert document["results"][1]["evidence"][0]["items"][0]["texts"] == [PAIR_A, PAIR_B]
    assert report_from_dict(json.loads(json.dumps(document))).results == text_report.results

    audio = json.dumps(report_to_dict(audio_report))
    assert "media" not in json.loads(audio) and "thumbnails" not in json.loads(audio)
    assert "base64" not in audio and len(audio) < 10_000


# -- the store ----------------------------------------------------------------------------


def test_stored_media_and_waveforms_come_back_with_the_report(tmp_path: Path) -> None:
    from dlqa.runner.reports import load_report
    from dlqa.store import open_store

    clip = _clip()
    waveform = make_waveform_thumbnail(waveform=clip, sample_rate=RATE)
    preview = make_audio_preview(waveform=clip, sample_rate=RATE)
    with open_store(f"sqlite:///{tmp_path / 'dlqa.db'}", tmp_path, artifacts=tmp_path / "a") as s:
        run_id = s.start_run("data.profile", "dlqa data profile", {})
        s.add_results(run_id, [CheckResult("data.x", Status.FAIL, "x")])
        gone = "0" * 64  # a pruned artifact: the sample loses its player, the report survives
        s.set_report_parts(
            run_id,
            {
                "thumbnails": {"a.wav": s.artifacts.put_bytes(waveform, "image/png")},
                "media": {"a.wav": s.artifacts.put_bytes(preview, "audio/ogg"), "b.wav": gone},
            },
        )
        s.finish_run(run_id, "finished", 1)
        report = load_report(s, run_id)
    assert report.thumbnails == {"a.wav": waveform}
    assert report.media == {"a.wav": preview}


def test_an_empty_text_is_shown_as_empty_not_as_a_missing_preview(tmp_path):
    from dlqa.core.results import CheckResult, Evidence, Status
    from dlqa.report.html import write_html
    from dlqa.report.model import Report

    result = CheckResult(
        "data.empty_text",
        Status.FAIL,
        "1 empty",
        evidence=[Evidence("samples", [{"id": "7", "label": "a", "value": 0, "text": ""}], 1)],
    )
    report = Report(title="t", kind="data.profile", created_at="now", results=[result], exit_code=1)
    html = write_html(report, tmp_path / "r.html").read_text()
    assert "(empty text)" in html and "no preview" not in html
