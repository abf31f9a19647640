"""The one table of evidence kinds, and the hook through which a stage plugin joins it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dlqa.core import plugins, stages
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.core.stages import StageSpec
from dlqa.report.console import print_summary
from dlqa.report.evidence import (
    EVIDENCE_KINDS,
    MAX_ITEM_CHARS,
    describe_item,
    evidence_kind,
    evidence_lines,
)
from dlqa.report.html import build_context, render_html
from dlqa.report.junit import write_junit
from dlqa.report.model import Report


def test_describe_item_handles_every_shape() -> None:
    assert describe_item("samples", {"id": "a.jpg", "label": "cat", "value": 0.123456}) == (
        "a.jpg (cat, 0.1235)"
    )
    assert describe_item("samples", "b.jpg") == "b.jpg"
    assert describe_item("pairs", {"ids": ["a", "b"], "distance": 3}) == "a <-> b (distance 3)"
    assert describe_item("pairs", ["a", "b"]) == "{a, b} (2 items)"
    group = describe_item("groups", {"ids": list("abcdef"), "labels": list("xxxxxx")})
    assert group == "{a, b, c, d, +2 more} (6 items)"
    assert describe_item("table", {"label": "cat", "share": 0.5}) == "label=cat, share=0.5"
    assert describe_item("log", "line 3: boom") == "line 3: boom"
    assert len(describe_item("samples", {"id": "x" * 500})) == MAX_ITEM_CHARS


def test_named_rows_lead_with_their_name() -> None:
    assert describe_item("parameters", {"name": "fc.weight"}) == "fc.weight"
    row = {"name": "head.bias", "value": 0.0, "problem": "left out"}
    assert describe_item("parameters", row) == "head.bias: value=0, problem=left out"
    counterexample = {"metric": "f1", "reference": "sklearn", "case": "empty"}
    assert describe_item("inputs", counterexample) == "f1: reference=sklearn, case=empty"
    assert describe_item("parameters", "layer1.weight") == "layer1.weight"


def test_unknown_kinds_and_odd_shapes_are_shown_not_dropped() -> None:
    assert describe_item("mystery", {"a": 1, "b": [1, 2]}) == "a=1, b=[1, 2]"
    assert describe_item("mystery", [1, {"x": None}]) == '[1, {"x": null}]'
    assert describe_item("samples", {"no_id": True}) == "no_id=true"
    assert describe_item("pairs", 7) == "7"


def test_every_builtin_kind_has_an_html_layout_the_html_knows() -> None:
    assert set(EVIDENCE_KINDS) >= {"samples", "pairs", "groups", "table", "parameters", "inputs"}
    layouts = {spec.layout for spec in EVIDENCE_KINDS.values()}
    assert layouts <= {
        "samples", "pairs", "groups", "table", "log", "text", "histograms", "image",
        "confusion", "reliability", "map", "intervals", "seed_dots", "interaction",
        "sequential_path", "mode_matrix",
    }  # fmt: skip
    assert evidence_kind("parameters").layout == "table"


# -- the stage plugin hook -----------------------------------------------------------------


@pytest.fixture
def stage_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Register stages straight into the registry, and take them out again afterwards.

    Entry points are marked loaded so that the lookup sees exactly these stages, whatever
    state the installed plugins are in.
    """
    monkeypatch.setattr(plugins, "_loaded_groups", {*plugins._loaded_groups, plugins.STAGE_GROUP})
    added: list[str] = []

    def register(name: str, kinds: dict[str, Callable[[Any], str]]) -> None:
        assert name not in stages._STAGES
        stages._STAGES[name] = StageSpec(name=name, title=name, evidence_kinds=kinds)
        added.append(name)

    yield register
    for name in added:
        stages._STAGES.pop(name, None)


def _describe_span(item: Any) -> str:
    return f"span {item['start']}..{item['end']} of {item['doc']}"


SPAN_RESULT = CheckResult(
    "nlp.toxic_spans",
    Status.FAIL,
    "2 toxic spans",
    evidence=[
        Evidence(
            "spans",
            [{"doc": "d1", "start": 3, "end": 9}, {"doc": "<b>d2</b>", "start": 0, "end": 4}],
            2,
        )
    ],
)


def test_a_stage_describes_its_own_evidence_kind_in_every_view(
    stage_registry: Callable[..., None], tmp_path: Path
) -> None:
    # Before registration the generic describer is used ...
    assert describe_item("spans", {"doc": "d1", "start": 3, "end": 9}) == "doc=d1, start=3, end=9"
    stage_registry("nlp", {"spans": _describe_span})
    # ... after it, the stage's.
    assert describe_item("spans", {"doc": "d1", "start": 3, "end": 9}) == "span 3..9 of d1"
    assert evidence_lines(SPAN_RESULT, 5)[1] == "  - span 3..9 of d1"

    report = Report("t", "check", "2024-01-01T00:00:00Z", [SPAN_RESULT], 1)
    console = Console(file=StringIO(), width=120)
    print_summary(report, console)
    assert "span 3..9 of d1" in console.file.getvalue()

    junit = write_junit(report, tmp_path / "j.xml").read_text(encoding="utf-8")
    assert "span 3..9 of d1" in junit

    view = build_context(report, charts=False)["sections"][0]["evidence"][0]
    assert view["layout"] == "text"  # a kind dlqa has no tiles for: the describer's lines
    assert view["entries"] == ["span 3..9 of d1", "span 0..4 of <b>d2</b>"]
    html = render_html(report, charts=False)
    assert "span 0..4 of &lt;b&gt;d2&lt;/b&gt;" in html and "<b>d2</b>" not in html


def test_a_registered_describer_for_a_builtin_kind_keeps_its_html_layout(
    stage_registry: Callable[..., None],
) -> None:
    stage_registry("audio", {"samples": lambda item: f"clip {item['id']}"})
    assert describe_item("samples", {"id": "a.wav"}) == "clip a.wav"
    assert evidence_kind("samples").layout == "samples"


def test_a_describer_that_raises_falls_back_to_the_builtin_one(
    stage_registry: Callable[..., None],
) -> None:
    def broken(item: Any) -> str:
        raise KeyError("start")

    stage_registry("nlp", {"spans": broken})
    assert describe_item("spans", {"doc": "d1"}) == "doc=d1"


def test_a_stage_plugin_that_cannot_load_does_not_break_the_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing_load(group: str) -> None:
        raise plugins.PluginError('plugin "nlp" failed to import: ImportError: nope')

    monkeypatch.setattr(stages, "load_group", failing_load)
    with pytest.raises(plugins.PluginError):
        stages.evidence_describer("spans")  # the core lookup does raise ...
    assert describe_item("table", {"a": 1}) == "a=1"  # ... the views still render
