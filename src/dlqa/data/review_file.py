"""The review file a person fills in: a CSV with the columns ``id, label, verdict,
correct_label, note``, and a sidecar JSON beside it that names its review sample.

The CSV has nothing but the header and one row per sample, so any spreadsheet opens, edits
and saves it; it is written as UTF-8 with a byte-order mark, without which Excel shows class
names such as ``猫`` as mojibake. Which review sample a file answers is in the sidecar
(``review.csv`` -> ``review.json``) rather than in a comment line a spreadsheet would turn
into a data row; without the sidecar the importer finds the review by the file's ids.

Reading a file back trusts nothing: an id outside the review, an unknown verdict, a wrong
label without the right one, a correct label that is no class of the dataset, an edited
label column, a note without a verdict: each is named with its rows, all in one message,
and nothing is stored (exit code 2). A file that is wrong in one place may be wrong in
others, and a half-imported file is worse than none. An empty verdict is "not reviewed yet".
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.data.review import ReviewRow
from dlqa.store.reviews import VERDICT_WRONG_LABEL, VERDICTS, NewVerdict

REVIEW_COLUMNS = ("id", "label", "verdict", "correct_label", "note")
SIDECAR_SCHEMA = "dlqa.review"
SIDECAR_VERSION = 1
_SHOWN_ROWS = 5  # rows named per kind of problem
VERDICT_HINT = (
    "verdict is one of ok, wrong_label (with the right label in correct_label) or bad_sample "
    "(not a usable sample of any class); leave it empty for a sample not reviewed yet"
)


def write_review_csv(path: Path, rows: Iterable[ReviewRow]) -> None:
    """The file a reviewer fills in: ids and labels, empty verdicts."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(REVIEW_COLUMNS)
        for row in rows:
            writer.writerow([row.id, row.label or "", "", "", ""])


def sidecar_path(csv_path: Path) -> Path:
    return csv_path.with_suffix(".json")


def write_sidecar(csv_path: Path, info: Mapping[str, Any]) -> Path:
    """``review.json`` beside ``review.csv``: the review id, seed, snapshot and classes."""
    path = sidecar_path(csv_path)
    document = {"schema": SIDECAR_SCHEMA, "schema_version": SIDECAR_VERSION, **info}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_sidecar(csv_path: Path) -> dict[str, Any] | None:
    """The sidecar of a review file; None when there is none. A sidecar that is not one of
    dlqa's is an error: guessing past it could attach verdicts to the wrong review."""
    path = sidecar_path(csv_path)
    if path == csv_path or not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"{path}: not a readable review sidecar ({exc})",
            hint="restore the review.json written by `dlqa data review sample`, remove it, "
            "or name the review with --review ID",
        ) from None
    if not isinstance(document, dict) or document.get("schema") != SIDECAR_SCHEMA:
        raise UsageError(
            f'{path}: not a dlqa review sidecar (no "schema": "{SIDECAR_SCHEMA}")',
            hint="name the review with --review ID, or move this file away",
        )
    if not isinstance(document.get("review_id"), int):
        raise UsageError(f"{path}: the sidecar names no review_id", hint="use --review ID")
    return document


@dataclass(frozen=True)
class FileRow:
    """One data row of a review file as written: its spreadsheet row number (the header is
    row 1) and its cells."""

    number: int
    id: str
    label: str
    verdict: str
    correct_label: str
    note: str

    @property
    def filled(self) -> bool:
        return bool(self.verdict.strip() or self.correct_label.strip() or self.note.strip())


def read_review_rows(path: Path) -> list[FileRow]:
    """The rows of a review file; a file that is not one (unreadable, not UTF-8, another
    header, ragged rows) is a UsageError. Blank rows a spreadsheet leaves are skipped."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = list(csv.reader(handle))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", hint="give the review.csv to import") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(
            f"{path}: not a readable review file ({exc})",
            hint="save it as CSV in UTF-8 (the encoding dlqa wrote it in)",
        ) from None
    if not records:
        raise UsageError(f"{path}: the file is empty", hint="import the filled-in review.csv")
    header = [cell.strip().lower() for cell in records[0]]
    missing = [c for c in REVIEW_COLUMNS if c not in header]
    extra = [c for c in header if c and c not in REVIEW_COLUMNS]
    if missing or extra or len(set(header)) != len(header):
        found = ", ".join(records[0]) or "(nothing)"
        raise UsageError(
            f"{path}: a review file has the columns {', '.join(REVIEW_COLUMNS)}; this one has "
            f"{found}",
            hint="keep the header as `dlqa data review sample` wrote it; write comments in "
            "the note column",
        )
    where = {name: header.index(name) for name in REVIEW_COLUMNS}
    rows, ragged = [], []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
            ragged.append(number)
            continue
        cells = [*record, *[""] * (len(header) - len(record))]
        rows.append(FileRow(number, *(cells[where[name]] for name in REVIEW_COLUMNS)))
    if ragged:
        raise UsageError(
            f"{path}: {_rows(ragged)} have more cells than the header",
            hint="an unquoted comma in a note splits it; quote the note or remove the comma",
        )
    return rows


@dataclass(frozen=True)
class ParsedReview:
    verdicts: list[NewVerdict]
    not_reviewed: int  # rows with an empty verdict
    rows: int


def parse_review_file(
    path: Path, drawn: Mapping[str, str | None], classes: Collection[str]
) -> ParsedReview:
    """The verdicts of a filled-in review file, checked against its review sample (``drawn``:
    sample id -> label when drawn) and the dataset's ``classes``; every problem is named in
    one UsageError and nothing is returned when there is one."""
    rows = read_review_rows(path)
    problems: dict[str, list[int]] = {}
    examples: dict[str, list[str]] = {}

    def problem(kind: str, row: FileRow, example: str) -> None:
        problems.setdefault(kind, []).append(row.number)
        examples.setdefault(kind, []).append(example)

    verdicts, seen, not_reviewed = [], {}, 0
    for row in rows:
        sample_id = _known_id(row.id, drawn)
        if sample_id is None:
            problem("ids not in this review sample", row, repr(row.id))
            continue
        if sample_id in seen:
            problem("ids repeated", row, f"{sample_id!r} (first on row {seen[sample_id]})")
            continue
        seen[sample_id] = row.number
        label = drawn[sample_id]
        if row.label.strip() != (label or ""):
            problem(
                "label column edited (keep it; put the right label in correct_label and mark "
                "the sample wrong_label)",
                row,
                f"{row.label.strip()!r} (was {label!r})",
            )
            continue
        verdict = _verdict(row.verdict)
        correct = row.correct_label.strip()
        if not verdict:
            if row.filled:
                problem("a note or correct label without a verdict", row, repr(sample_id))
            else:
                not_reviewed += 1
            continue
        if verdict not in VERDICTS:
            problem("unknown verdicts", row, repr(row.verdict.strip()))
        elif verdict == VERDICT_WRONG_LABEL and not correct:
            problem("wrong_label without correct_label", row, repr(sample_id))
        elif verdict == VERDICT_WRONG_LABEL and correct not in classes:
            problem("correct labels that are not a class of the dataset", row, repr(correct))
        elif verdict == VERDICT_WRONG_LABEL and correct == label:
            problem("wrong_label with the label it has as correct_label", row, repr(correct))
        elif verdict != VERDICT_WRONG_LABEL and correct:
            problem(f"correct_label with verdict {verdict}", row, repr(correct))
        else:
            note = row.note.strip()
            verdicts.append(NewVerdict(sample_id, verdict, label, correct or None, note))
    if problems:
        raise UsageError(_message(path, problems, examples), hint=_hint(problems, classes))
    return ParsedReview(verdicts=verdicts, not_reviewed=not_reviewed, rows=len(rows))


def file_ids(path: Path) -> list[str]:
    """The sample ids a review file names (to find its review sample without a sidecar)."""
    return [row.id for row in read_review_rows(path)]


def _known_id(cell: str, drawn: Mapping[str, Any]) -> str | None:
    if cell in drawn:
        return cell
    stripped = cell.strip()  # a spreadsheet may pad a cell; an id with spaces stays as it is
    return stripped if stripped in drawn else None


def _verdict(cell: str) -> str:
    """A verdict as typed, forgiving case and ``wrong label`` / ``wrong-label`` spellings."""
    text = cell.strip().lower()
    return "_".join(text.replace("-", " ").split()) if text else ""


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:_SHOWN_ROWS])
    more = f" and {len(numbers) - _SHOWN_ROWS} more" if len(numbers) > _SHOWN_ROWS else ""
    return f"row{'s' if len(numbers) > 1 else ''} {shown}{more}"


def _message(path: Path, problems: dict[str, list[int]], examples: dict[str, list[str]]) -> str:
    count = sum(len(rows) for rows in problems.values())
    lines = [f"{path}: {count} row{'s' if count != 1 else ''} cannot be imported (nothing stored):"]
    for kind, numbers in problems.items():
        shown = ", ".join(
            f"{number} {example}"
            for number, example in zip(numbers[:_SHOWN_ROWS], examples[kind], strict=False)
        )
        more = f" and {len(numbers) - _SHOWN_ROWS} more" if len(numbers) > _SHOWN_ROWS else ""
        plural = "rows" if len(numbers) > 1 else "row"
        lines.append(f"  {kind}: {plural} {shown}{more}")
    return "\n".join(lines)


def _hint(problems: dict[str, list[int]], classes: Collection[str]) -> str:
    kinds = " ".join(problems)
    hints = []
    if "not in this review sample" in kinds:
        hints.append(
            "import the file `dlqa data review sample` wrote for this review, ids as written "
            "(or name the review with --review ID)"
        )
    if "not a class" in kinds:
        names = sorted(classes)
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        hints.append(f"the classes are {shown}; a sample of no class is bad_sample")
    if not hints or "verdict" in kinds:
        hints.append(VERDICT_HINT)
    return "; ".join(hints)


__all__ = [
    "REVIEW_COLUMNS",
    "FileRow",
    "ParsedReview",
    "file_ids",
    "parse_review_file",
    "read_review_rows",
    "read_sidecar",
    "sidecar_path",
    "write_review_csv",
    "write_sidecar",
]
