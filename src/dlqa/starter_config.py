"""The starter dlqa.toml that `dlqa init` writes after inspecting a data folder or manifest."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

from dlqa.core.registry import CheckSpec
from dlqa.data.modalities import MODALITIES
from dlqa.report.catalog import format_default
from dlqa.sources.base import Source
from dlqa.sources.modality import modality_of_name


@dataclass
class SourceSummary:
    """What `dlqa init` found in a source."""

    n_samples: int = 0
    classes: Counter = field(default_factory=Counter)  # label -> count (None: unlabelled)
    splits: Counter = field(default_factory=Counter)  # split -> count
    modalities: Counter = field(default_factory=Counter)  # "image", "other: .xyz", ...
    modality: str | None = None  # what the source's samples are: its checks are listed

    def line(self) -> str:
        parts = [f"{self.n_samples} samples", f"{len(self.classes)} classes"]
        if self.splits:
            parts.append(f"splits {', '.join(sorted(self.splits))}")
        return ", ".join(parts)


def summarise_source(source: Source) -> SourceSummary:
    summary = SourceSummary(modality=getattr(source, "modality", None))
    for sample in source:
        summary.n_samples += 1
        summary.classes[sample.label] += 1
        if sample.split:
            summary.splits[sample.split] += 1
        summary.modalities[_modality(sample.path, sample.array is not None)] += 1
    return summary


def _modality(path: str | None, in_memory: bool) -> str:
    if in_memory:
        return "image (array)"
    modality = modality_of_name(path or "")
    if modality is not None:
        return modality
    extension = os.path.splitext(path or "")[1].lower()
    return f"other ({extension or 'no extension'})"


def _other_modalities_params(modality: str | None) -> set[str]:
    """The near-duplicate parameters that only other modalities read (``max_distance`` of
    image hashes means nothing to an audio project)."""
    if modality is None:
        return set()
    own = set(MODALITIES[modality].near_params) if modality in MODALITIES else set()
    return {key for m in MODALITIES.values() for key in m.near_params} - own


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: JSON's escapes (quotes, backslashes, control
    characters as \\uXXXX) are all valid TOML, and other unicode stays as it is."""
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    # A comment runs to the end of the line: no line breaks or control characters in it.
    return "".join(c if c.isprintable() else "?" for c in text)


def starter_config_text(
    source: str,
    *,
    name: str,
    summary: SourceSummary,
    specs: list[CheckSpec],
    text_column: str | None = None,
) -> str:
    """A dlqa.toml for a data folder: what was found (as comments), the source, and every gate
    with its defaults commented."""
    classes = ", ".join(
        f"{'(unlabelled)' if label is None else label} {count}"
        for label, count in summary.classes.most_common()
    )
    lines = [
        _comment(f"# dlqa configuration for {name}: {summary.line()}"),
        "# Found by `dlqa init`:",
        _comment(f"#   classes: {classes or 'none'}"),
    ]
    if summary.splits:
        splits = ", ".join(f"{split} {count}" for split, count in sorted(summary.splits.items()))
        lines.append(_comment(f"#   splits: {splits}"))
    modalities = ", ".join(f"{kind} {count}" for kind, count in summary.modalities.most_common())
    lines += [
        _comment(f"#   modalities: {modalities or 'none'}"),
        "# Edit the gates below; `dlqa checks` lists every check and parameter.",
        "",
        "[project]",
        f"name = {toml_string(name)}",
        "",
        "[data]",
        f"source = {toml_string(source)}",
        *([f"text_column = {toml_string(text_column)}"] if text_column else []),
        "",
        "[report]",
        'dir = ".dlqa/reports"',
        'formats = ["html", "json", "junit"]',
        "",
        "[gates]",
        '# Uncomment a line to change a gate. level = "fail" fails the run, "warn" only warns.',
    ]
    foreign = _other_modalities_params(summary.modality)
    for spec in specs:
        if not spec.applies_to(summary.modality):
            continue  # an image check in an audio project: it would never run
        defaults = {k: v for k, v in spec.defaults.items() if k not in foreign}
        params = {"level": spec.level, **defaults}
        body = ", ".join(f"{k} = {format_default(v)}" for k, v in params.items())
        lines.append(f'# "{spec.check_id}" = {{ {body} }}')
    return "\n".join(lines) + "\n"
