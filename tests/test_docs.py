"""The documentation that is generated from code stays in step with it."""

from pathlib import Path

from dlqa.core.registry import all_specs
from dlqa.report.catalog import checks_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_checks_md_matches_the_registry():
    expected = checks_markdown(all_specs())
    actual = (ROOT / "docs" / "checks.md").read_text()
    assert actual.strip() == expected.strip(), "regenerate: dlqa checks --markdown > docs/checks.md"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
