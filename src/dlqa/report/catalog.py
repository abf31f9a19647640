"""The catalogue of checks as Markdown (docs/checks.md) and as a rich table (`dlqa checks`)."""

from __future__ import annotations

from typing import Any

from dlqa.core.params import param_range
from dlqa.core.registry import CheckSpec


def format_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def checks_markdown(specs: list[CheckSpec]) -> str:
    lines = [
        "# Checks",
        "",
        "Every check has a stable id. Gates in `dlqa.toml` refer to it and override its",
        'parameters; `level` decides whether a violation fails the gate (`"fail"`) or only',
        'warns (`"warn"`), `enabled = false` turns the check off, `on_inconclusive` says',
        'whether an undecided result fails (`"fail"`, the default) or warns, and `subjects`',
        "narrows the gate of a check with several results. A value outside a parameter's",
        "range is refused when dlqa.toml is read:",
        "",
        "```toml",
        "[gates]",
        '"data.dark" = { level = "fail", max_brightness = 25 }',
        '"data.near_duplicates" = { max_fraction = 0.0 }',
        '"data.grayscale" = { enabled = false }',
        "```",
        "",
        "This page is generated from the registry (`dlqa checks --markdown`); a test keeps the",
        "two in step.",
        "",
    ]
    for stage in sorted({spec.stage for spec in specs}):
        lines += [f"## Stage `{stage}`", ""]
        for spec in (s for s in specs if s.stage == stage):
            lines += [f"### `{spec.check_id}`: {spec.title}", "", spec.description, ""]
            if spec.origin != "dlqa":
                lines += [f"From the plugin distribution `{spec.origin}`.", ""]
            if spec.modalities is not None:
                kinds = ", ".join(sorted(spec.modalities))
                lines += [f"Applies to {kinds} data only.", ""]
            lines += [f"- `level` = {format_default(spec.level)}"]
            for key, default in spec.defaults.items():
                doc = spec.param_docs.get(key, "")
                bounds = param_range(spec.params_model, key)
                line = f"- `{key}` = {format_default(default)}" + (f": {doc}" if doc else "")
                lines.append(line + (f" (`{bounds}`)" if bounds else ""))
            lines.append("")
    return "\n".join(lines)
