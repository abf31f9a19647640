"""The ``dlqa`` command: a thin layer that parses, calls the library and renders."""

from __future__ import annotations

import sys
import traceback

import typer
from typer.exceptions import TyperException

from dlqa.core.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    DlqaError,
    RunInterrupted,
)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every outcome to the documented exit codes (0, 1, 2, 3, 130)."""
    try:
        from dlqa.cli.app import app

        # Without standalone mode typer returns the code of a raised typer.Exit.
        code = app(args=argv, prog_name="dlqa", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return EXIT_USAGE
    except TyperException as exc:  # bad arguments or options: typer prints usage and the error
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"dlqa: error: {exc.format_message()}", file=sys.stderr)
        return EXIT_USAGE
    except RunInterrupted as exc:
        print(f"dlqa: {exc}", file=sys.stderr)
        return exc.exit_code
    except DlqaError as exc:
        print(f"dlqa: error: {exc}", file=sys.stderr)
        _print_notes(exc)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("dlqa: interrupted", file=sys.stderr)
        _print_notes(exc)
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(
            "dlqa: internal error (exit code 3). Results stored before the failure are kept; "
            "please report the traceback above.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    if code == EXIT_INTERRUPTED:  # typer turns a Ctrl-C outside a run into a bare 130
        print("dlqa: interrupted", file=sys.stderr)
    return code if isinstance(code, int) else 0


def _print_notes(exc: BaseException) -> None:
    # The run session notes what was stored and where the reports of what ran are.
    for note in getattr(exc, "__notes__", ()):
        print(f"  {note}", file=sys.stderr)
