"""Errors that reach the user, each mapped to an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class DlqaError(Exception):
    """Base class of errors dlqa reports to the user with a message, not a traceback."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(DlqaError):
    """Bad argument or bad input that the user can fix (exit code 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """``dlqa.toml`` is unreadable or does not match the schema (exit code 2)."""


class RunInterrupted(DlqaError):
    """Ctrl-C during a run: what ran is stored and reported (exit code 130).

    An ordinary exception rather than a KeyboardInterrupt, so that the CLI layer (typer
    swallows KeyboardInterrupt into a bare exit code) can still say what was kept.
    """

    exit_code = EXIT_INTERRUPTED
