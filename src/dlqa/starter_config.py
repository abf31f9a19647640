"""The starter dlqa.toml that `dlqa init` writes for a data folder."""

from __future__ import annotations

from dlqa.core.registry import CheckSpec
from dlqa.report.catalog import format_default


def starter_config_text(source: str, *, name: str, summary: str, specs: list[CheckSpec]) -> str:
    """A dlqa.toml for a data folder: the source, and every gate with its defaults commented."""
    lines = [
        f"# dlqa configuration for {name}: {summary}",
        "# Edit the gates below; `dlqa checks` lists every check and parameter.",
        "",
        "[project]",
        f'name = "{name}"',
        "",
        "[data]",
        f'source = "{source}"',
        "",
        "[report]",
        'dir = ".dlqa/reports"',
        'formats = ["html", "json", "junit"]',
        "",
        "[gates]",
        '# Uncomment a line to change a gate. level = "fail" fails the run, "warn" only warns.',
    ]
    for spec in specs:
        params = {"level": spec.level, **spec.defaults}
        body = ", ".join(f"{k} = {format_default(v)}" for k, v in params.items())
        lines.append(f'# "{spec.check_id}" = {{ {body} }}')
    return "\n".join(lines) + "\n"
