"""Text evidence as every view shows it: invisible characters made visible, and for a pair of
texts the words that differ.

A sample item may carry ``"text"`` (a snippet of the sample) and a pair item ``"texts"`` (the
two snippets). What a reader cannot see must not hide what makes two texts differ, nor
smuggle anything in: control and format characters (a bell, a zero-width space, a right-to-
left override) are written out as escapes such as ``\\u0007``, newlines and tabs as ``\\n``
and ``\\t``. The HTML marks those escapes and the differing words; the terminal, JUnit and
the pytest message get the same text, shortened.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from typing import Any

# Control (Cc), format (Cf: zero-width, bidi overrides) and line/paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_TOKENS = re.compile(r"\s+|\S+")
ELLIPSIS = "..."

# One run of a snippet: its pieces as (text, is_escape), and whether the run differs from
# the other text of a pair.
Run = tuple[list[tuple[str, bool]], bool]


def _escape(char: str) -> str | None:
    """The visible form of an invisible character; None for one that shows as itself."""
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if unicodedata.category(char) not in _INVISIBLE_CATEGORIES:
        return None
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible_pieces(text: str) -> list[tuple[str, bool]]:
    """``text`` as (piece, is_escape) pieces: plain text, and escapes of invisible characters."""
    pieces: list[tuple[str, bool]] = []
    plain_start = 0
    for index, char in enumerate(text):
        escape = _escape(char)
        if escape is None:
            continue
        if index > plain_start:
            pieces.append((text[plain_start:index], False))
        pieces.append((escape, True))
        plain_start = index + 1
    if plain_start < len(text):
        pieces.append((text[plain_start:], False))
    return pieces


def visible(text: str) -> str:
    """``text`` on one line, its invisible characters written as escapes."""
    return "".join(piece for piece, _ in visible_pieces(text))


def snippet_text(value: Any) -> str | None:
    """An item's snippet when it is a string, else None (an odd item is shown as JSON)."""
    return value if isinstance(value, str) else None


def pair_texts(item: Any) -> tuple[str, str] | None:
    """The two snippets of a pair item (``"texts": [a, b]``), or None."""
    texts = item.get("texts") if isinstance(item, dict) else None
    if (
        isinstance(texts, (list, tuple))
        and len(texts) == 2
        and all(isinstance(text, str) for text in texts)
    ):
        return texts[0], texts[1]
    return None


def _differing_flags(tokens_a: list[str], tokens_b: list[str]) -> tuple[list[bool], list[bool]]:
    """Per token of each text: whether it is a word the other text does not have there.
    Whitespace is never compared: "a  b" and "a b" do not differ."""
    words_a = [i for i, token in enumerate(tokens_a) if not token.isspace()]
    words_b = [i for i, token in enumerate(tokens_b) if not token.isspace()]
    flags_a, flags_b = [False] * len(tokens_a), [False] * len(tokens_b)
    matcher = SequenceMatcher(
        None, [tokens_a[i] for i in words_a], [tokens_b[i] for i in words_b], autojunk=False
    )
    for tag, a_low, a_high, b_low, b_high in matcher.get_opcodes():
        if tag == "equal":
            continue
        for word in words_a[a_low:a_high]:
            flags_a[word] = True
        for word in words_b[b_low:b_high]:
            flags_b[word] = True
    return flags_a, flags_b


def _runs(tokens: list[str], flags: list[bool]) -> list[Run]:
    """Tokens joined into runs of equal flags; the space between two differing words joins
    them, so that a changed phrase is one mark, not one per word."""
    runs: list[tuple[str, bool]] = []
    for index, token in enumerate(tokens):
        differs = flags[index]
        if token.isspace():
            differs = 0 < index < len(tokens) - 1 and flags[index - 1] and flags[index + 1]
        if runs and runs[-1][1] == differs:
            runs[-1] = (runs[-1][0] + token, differs)
        else:
            runs.append((token, differs))
    return [(visible_pieces(text), differs) for text, differs in runs]


def snippet_runs(text: str) -> list[Run]:
    """One snippet as runs for the HTML (a single run that differs from nothing)."""
    return [(visible_pieces(text), False)] if text else []


def pair_runs(a: str, b: str) -> tuple[list[Run], list[Run]]:
    """Both snippets of a pair as runs, the words that differ between them flagged."""
    tokens_a, tokens_b = _TOKENS.findall(a), _TOKENS.findall(b)
    flags_a, flags_b = _differing_flags(tokens_a, tokens_b)
    return _runs(tokens_a, flags_a), _runs(tokens_b, flags_b)


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, marked with an ellipsis where it was cut."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def excerpt(text: str, limit: int, around: int = 0) -> str:
    """``text`` made visible, in at most ``limit`` characters, from the start of a word a little
    before the character ``around`` (where a pair differs); ellipses mark what was left out.
    An escape is never cut in half."""
    pieces = [_escape(char) or char for char in text]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    start = max(0, min(around - limit // 4, len(pieces) - 1))
    # From the start of the word, unless the word is too long to show the difference then.
    word = start
    while word > 0 and start - word < limit // 4 and not text[word - 1].isspace():
        word -= 1
    if word == 0 or text[word - 1].isspace():
        start = word
    if start <= len(ELLIPSIS):  # an ellipsis would hide no more than it takes
        start = 0
    head = ELLIPSIS if start else ""
    room = limit - len(head) - len(ELLIPSIS)
    shown: list[str] = []
    for piece in pieces[start:]:
        if len(piece) > room:
            break
        shown.append(piece)
        room -= len(piece)
    tail = ELLIPSIS if start + len(shown) < len(pieces) else ""
    return head + "".join(shown) + tail


def _first_difference(tokens: list[str], flags: list[bool]) -> int:
    """The character offset of the first differing word (0 when none differs)."""
    offset = 0
    for token, differs in zip(tokens, flags, strict=True):
        if differs:
            return offset
        offset += len(token)
    return 0


def pair_excerpts(a: str, b: str, limit: int) -> tuple[str, str]:
    """Both snippets of a pair, each at most ``limit`` characters, around where they first
    differ: near-duplicates share their start, so their first characters say nothing."""
    tokens_a, tokens_b = _TOKENS.findall(a), _TOKENS.findall(b)
    flags_a, flags_b = _differing_flags(tokens_a, tokens_b)
    return (
        excerpt(a, limit, _first_difference(tokens_a, flags_a)),
        excerpt(b, limit, _first_difference(tokens_b, flags_b)),
    )
