"""`--help` shows boolean options as flags, not as options that take a value."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import run_cli


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        (["data", "profile"], ["--quiet", "--allow-inconclusive"]),
        (["check"], ["--quiet", "--allow-inconclusive"]),
        (["init"], ["--force"]),
        (["checks"], ["--markdown"]),
        ([], ["--version"]),
    ],
)
def test_boolean_options_are_flags_in_help(command: list[str], flags: list[str]) -> None:
    code, out, _ = run_cli(*command, "--help")
    assert code == 0
    for flag in flags:
        line = next(line for line in out.splitlines() if f" {flag} " in line)
        assert "<bool>" not in line and "BOOLEAN" not in line, line
