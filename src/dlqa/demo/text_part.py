"""The demo's text part: sentences from the Python language reference, labelled by topic.

The corpus comes from ``pydoc_data.topics``, the plain-text reference that CPython ships for
``help()`` (no download, present wherever Python is). Each row is one prose sentence; its label
is the group of reference topics it comes from. Ordinary rows are kept apart (no two share much
wording) so that every duplicate a check reports is one planted on purpose. Problems planted on
top: empty and whitespace-only rows, terminal control characters, mojibake, an exact duplicate
after normalisation, a near-duplicate and a train row leaked into test.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlqa.data.probes.text import normalise_text
from dlqa.data.text_minhash import estimated_similarity, minhash_signatures
from dlqa.demo.naming import NameDealer

# Label -> the pydoc topics it draws from. Topics missing from a Python version are skipped.
TEXT_CLASSES: dict[str, tuple[str, ...]] = {
    "statements": (
        "assert", "assignment", "augassign", "break", "class", "compound", "continue", "del",
        "for", "function", "global", "if", "import", "nonlocal", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ),
    "expressions": (
        "atom-identifiers", "atom-literals", "attribute-references", "await", "binary",
        "bitwise", "booleans", "calls", "comparisons", "conversions", "exprlists", "floating",
        "formatstrings", "identifiers", "imaginary", "in", "integers", "lambda", "numbers",
        "operator-summary", "power", "shifting", "slicings", "strings", "subscriptions", "unary",
    ),
    "data_model": (
        "attribute-access", "callable-types", "context-managers", "customization", "id-classes",
        "numeric-types", "objects", "sequence-types", "specialattrs", "specialnames", "types",
    ),
    "builtin_types": (
        "bltin-code-objects", "bltin-ellipsis-object", "bltin-null-object",
        "bltin-type-objects", "dict", "lists", "string-methods", "truth", "typesfunctions",
        "typesmapping", "typesmethods", "typesmodules", "typesseq", "typesseq-mutable",
    ),
}  # fmt: skip
TEXT_PLANTED_PROBLEMS = (
    "empty_text",
    "control_characters",
    "mojibake",
    "exact_duplicates",
    "near_duplicate",
    "split_leakage",
    "label_error",
)
TEXT_COLUMNS = ("id", "text", "label", "split")
TRAIN_FRACTION = 0.8
MIN_WORDS, MAX_WORDS = 10, 40  # ordinary sentences; the length checks see nothing extreme
NEAR_DUPLICATE_MIN_WORDS = 24  # a long sentence, so that two changed words keep it close
# Ordinary rows are less alike than this (MinHash estimate; the near-duplicate check flags
# DEFAULT_MIN_SIMILARITY, 0.6, and up), the planted near-duplicate more.
DISTINCT_SIMILARITY = 0.35
NEAR_DUPLICATE_SIMILARITY = 0.7
MIN_PER_CLASS, MAX_PER_CLASS = 5, 150
# Replacements for the near-duplicate: a few words changed, the way an edited copy reads.
_WORD_SWAPS = {
    "the": "this", "a": "one", "is": "was", "are": "were", "can": "may", "must": "should"
}  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True)
class TextPart:
    manifest: Path  # root / "text" / "texts.csv": columns id, text, label, split
    # problem name -> row ids that a check must flag; for copies the first id is the copy and
    # the second the row it was copied from.
    planted: dict[str, list[str]]


def build_text_part(root: Path, *, seed: int = 0, n_per_class: int = 60) -> TextPart:
    """Write ``root/text/texts.csv``: ``n_per_class`` ordinary rows per label (80 % train) and
    the planted problems of :data:`TEXT_PLANTED_PROBLEMS`. Same seed, same bytes (on one
    Python version: the corpus is its reference text)."""
    if not MIN_PER_CLASS <= n_per_class <= MAX_PER_CLASS:
        raise ValueError(f"n_per_class must be between {MIN_PER_CLASS} and {MAX_PER_CLASS}")
    rng = np.random.default_rng(seed)
    pools = _distinct_pools(corpus_sentences())
    names = NameDealer(rng, capacity=len(TEXT_CLASSES) * (n_per_class + 4) + 16, prefix="doc-")
    rows: dict[str, tuple[str, str, str]] = {}  # id -> (text, label, split)
    train_rows: list[str] = []
    spares: dict[str, list[str]] = {}
    n_train = round(n_per_class * TRAIN_FRACTION)
    for label, pool in pools.items():
        order = rng.permutation(len(pool)).tolist()
        if len(order) < n_per_class + 4:
            raise RuntimeError(f"only {len(order)} distinct {label} sentences in pydoc_data")
        for position, index in enumerate(order[:n_per_class]):
            split = "train" if position < n_train else "test"
            row_id = names.next()
            rows[row_id] = (pool[index], label, split)
            if split == "train":
                train_rows.append(row_id)
        spares[label] = [pool[i] for i in order[n_per_class:]]
    planted = _plant_problems(rng, names, rows, train_rows, spares)

    folder = Path(root) / "text"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "texts.csv"
    manifest.write_bytes(_to_csv(rows))
    return TextPart(manifest=manifest, planted=planted)


def corpus_sentences() -> dict[str, list[str]]:
    """Label -> the prose sentences of its pydoc topics that fit the length window, in order."""
    from pydoc_data.topics import topics  # imported here: only the demo reads the reference

    corpus: dict[str, list[str]] = {}
    for label, keys in TEXT_CLASSES.items():
        sentences: list[str] = []
        for key in keys:
            for paragraph in _prose_paragraphs(topics.get(key, "")):
                sentences += [s for s in _SENTENCE_END.split(paragraph) if _usable(s)]
        corpus[label] = sentences
    return corpus


def _prose_paragraphs(text: str) -> list[str]:
    """Blocks of running text: no grammar rules, code examples, lists or tables."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.split("\n")
        if any(line.lstrip().startswith((">>>", "...", "*", "|", "+", "-")) for line in lines):
            continue
        if "::=" in block or len({len(line) - len(line.lstrip()) for line in lines}) != 1:
            continue  # grammar, or mixed indentation (a signature above its description)
        joined = ""
        for line in (line.strip() for line in lines):
            # The reference is wrapped at 70 columns; a word hyphenated at the break rejoins.
            joined += line if joined.endswith("-") else (" " + line if joined else line)
        paragraphs.append(joined)
    return paragraphs


def _usable(sentence: str) -> bool:
    words = sentence.split()
    return (
        MIN_WORDS <= len(words) <= MAX_WORDS
        and sentence[0].isupper()
        and sentence.endswith(".")
        and not sentence.endswith(("e.g.", "i.e.", "etc."))
        and sentence.isprintable()
    )


def _distinct_pools(corpus: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each label's sentences, in order, without any that the near-duplicate check's MinHash
    finds similar to an earlier one of any label (with a margin below its threshold): the
    reference repeats some sentences under several topics."""
    labelled = [(label, sentence) for label, sentences in corpus.items() for sentence in sentences]
    signatures, _ = minhash_signatures([normalise_text(s) for _, s in labelled])
    kept: list[int] = []
    for index, signature in enumerate(signatures):
        if kept and (signatures[kept] == signature).mean(axis=1).max() >= DISTINCT_SIMILARITY:
            continue
        kept.append(index)
    pools: dict[str, list[str]] = {label: [] for label in corpus}
    for index in kept:
        label, sentence = labelled[index]
        pools[label].append(sentence)
    return pools


def _similarity(a: str, b: str) -> float:
    """The near-duplicate check's estimate of how alike two texts are."""
    signatures, _ = minhash_signatures([normalise_text(a), normalise_text(b)])
    return float(estimated_similarity(signatures, np.array([[0, 1]]))[0])


def _plant_problems(
    rng: np.random.Generator,
    names: NameDealer,
    rows: dict[str, tuple[str, str, str]],
    train_rows: list[str],
    spares: dict[str, list[str]],
) -> dict[str, list[str]]:
    labels = list(TEXT_CLASSES)
    picked = [str(r) for r in rng.permutation(train_rows)]  # originals for the copies

    def add(text: str, label: str, split: str = "train") -> str:
        row_id = names.next()
        rows[row_id] = (text, label, split)
        return row_id

    def spare(predicate: Callable[[str], bool]) -> tuple[str, str]:
        for label in rng.permutation(labels).tolist():
            for text in spares[label]:
                if predicate(text):
                    spares[label].remove(text)
                    return text, label
        raise RuntimeError("no spare sentence fits the plant")

    planted: dict[str, list[str]] = {}
    # Two empty rows (an export that lost their text) and one of whitespace only. The two
    # empty ones share a label and split: dlqa (at the time of writing) also counts equal
    # empty texts as exact duplicates, and would call two labels on them a label conflict.
    blank_label = labels[int(rng.integers(len(labels)))]
    planted["empty_text"] = [add("", blank_label), add("", blank_label)]
    planted["empty_text"].append(add(" \t  ", labels[int(rng.integers(len(labels)))]))

    # Terminal colour codes pasted along with the text.
    text, label = spare(lambda t: len(t.split()) >= 12)
    words = text.split()
    words[3] = f"\x1b[1m{words[3]}\x1b[0m"
    planted["control_characters"] = [add(" ".join(words), label)]

    # UTF-8 read as Windows-1252: the reference's curly quotes turn into "â€™" and the like.
    text, label = spare(lambda t: any(ord(c) > 127 for c in t))
    planted["mojibake"] = [add(text.encode("utf-8").decode("cp1252", "replace"), label)]

    # The same sentence again in capitals, with doubled spaces and no full stop: the same text
    # once normalised (case, whitespace and punctuation do not count).
    original = picked[0]
    text, label, _ = rows[original]
    shouted = text.upper().removesuffix(".").replace(" ", "  ")
    planted["exact_duplicates"] = [add(shouted, label), original]

    # An edited copy: two words changed, of a sentence long enough that the copy stays well
    # above the near-duplicate threshold (the MinHash estimate is +-0.06).
    for original in (r for r in picked[1:] if _editable(rows[r][0])):
        text, label, _ = rows[original]
        edited = _edit_two_words(text, rng)
        if _similarity(edited, text) >= NEAR_DUPLICATE_SIMILARITY:
            break
    else:
        raise RuntimeError("no sentence for the near-duplicate plant")
    planted["near_duplicate"] = [add(edited, label), original]

    # A train row copied verbatim into test.
    original = next(r for r in picked[1:] if r != planted["near_duplicate"][1])
    text, label, _ = rows[original]
    planted["split_leakage"] = [add(text, label, "test"), original]

    # Filed under the wrong topic: unused sentences that plainly belong to one topic (they
    # name it), labelled as another. Not copies of anything, so only a model of what each
    # topic reads like can find them.
    planted["label_error"] = [
        add(_spare_naming(spares["statements"], "statement"), "builtin_types"),
        add(_spare_naming(spares["builtin_types"], "dictionar"), "statements"),
    ]
    return planted


def _spare_naming(pool: list[str], word: str) -> str:
    """The first unused sentence of ``pool`` that contains ``word``, taken from the pool."""
    text = next(t for t in pool if word in t.lower())
    pool.remove(text)
    return text


def _swappable_positions(words: list[str]) -> list[int]:
    # Not the first or last few words: the copy still opens and ends the same way.
    return [i for i, w in enumerate(words[3:-3], start=3) if w.lower() in _WORD_SWAPS]


def _editable(text: str) -> bool:
    words = text.split()
    return len(words) >= NEAR_DUPLICATE_MIN_WORDS and len(_swappable_positions(words)) >= 2


def _edit_two_words(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    for i in rng.choice(_swappable_positions(words), size=2, replace=False).tolist():
        swap = _WORD_SWAPS[words[i].lower()]
        words[i] = swap.capitalize() if words[i][0].isupper() else swap
    return " ".join(words)


def _to_csv(rows: dict[str, tuple[str, str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TEXT_COLUMNS)
    for row_id in sorted(rows):  # numbers were dealt shuffled: plants land all over the file
        writer.writerow((row_id, *rows[row_id]))
    return buffer.getvalue().encode("utf-8")
