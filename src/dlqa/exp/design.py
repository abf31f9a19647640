"""The design of an ablation: which combinations of the changes to run.

:func:`plan_ablation` lays out the cells to run, each a seed group ``NAME@CELL``: the full
factorial (2^k cells) for up to ``fractional_above`` changes; above it a regular 2^(k-p)
fraction of resolution IV (main effects clear of two-change interactions) found by a small
minimum-aberration search, plus what a fraction lacks but the masking question needs: each
change alone and the full bundle. Levels are set by parity (a generated change is on when an
odd number of its generator's changes are), so the baseline is always in the fraction.
The analysis of the runs is in :mod:`dlqa.exp.ablation`.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

BASE = "base"
MAX_CHANGES = 16
SEARCH_LIMIT = 5000  # generator sets tried exhaustively; beyond, odd-weight ones (still res IV)


@dataclass(frozen=True)
class AblationCell:
    """One combination to run: the changes that are on and their arguments, concatenated.
    ``in_design``: part of the factorial (or fraction) that the effects are estimated on; a
    fraction's added cells (a change alone, the full bundle) are not, to keep it balanced."""

    name: str
    on: tuple[str, ...]
    args: tuple[str, ...]
    group: str
    in_design: bool = True


@dataclass(frozen=True)
class AblationPlan:
    name: str
    changes: dict[str, tuple[str, ...]]
    cells: tuple[AblationCell, ...]
    design: str
    resolution: int | None = None  # None: the full factorial, nothing aliased
    generators: tuple[str, ...] = ()
    defining_relation: str | None = None
    aliases: tuple[str, ...] = ()  # the alias structure in words
    alias_of: dict[str, tuple[str, ...]] | None = None  # effect -> aliased terms of order <= 3

    def describe(self) -> str:
        text = f"{len(self.changes)} change(s), {len(self.cells)} cells: {self.design}"
        if self.resolution is not None:
            roman = {3: "III", 4: "IV", 5: "V"}.get(self.resolution, str(self.resolution))
            text += f", resolution {roman}"
            text += f"; {'; '.join(self.generators)}; {self.defining_relation}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_ablation(
    changes: Mapping[str, Sequence[str] | str],
    *,
    fractional_above: int = 3,
    name: str = "ablation",
) -> AblationPlan:
    """The cells of an ablation of ``changes`` (change name -> its extra CLI arguments; one
    string is split as a shell would). Raises ``ValueError`` on no changes, a change without
    arguments, a name that cannot be a cell name, or two changes with the same arguments."""
    if isinstance(fractional_above, bool) or not isinstance(fractional_above, int):
        raise ValueError(f"fractional_above is a count of changes, not {fractional_above!r}")
    parsed = _check_changes(changes)
    names = tuple(parsed)
    k = len(names)
    m, gens = (k, ()) if k <= fractional_above else _fraction(k)
    design = {_run(b, m, gens) for b in range(2**m)}
    masks = design | {0, 2**k - 1} | {1 << i for i in range(k)}

    def cell(mask: int) -> AblationCell:
        on = tuple(n for i, n in enumerate(names) if mask >> i & 1)
        label = "+".join(on) or BASE
        args = tuple(a for n in on for a in parsed[n])
        return AblationCell(label, on, args, f"{name}@{label}", mask in design)

    cells = tuple(cell(x) for x in sorted(masks, key=lambda x: (x.bit_count(), _bits(x))))
    if m == k:
        return AblationPlan(name, parsed, cells, f"full factorial (2^{k} = {2**k} cells)")
    term = term_namer(names)
    words = _words(gens, m)
    base_words = [g | 1 << (m + j) for j, g in enumerate(gens)]
    signed = {w: ("-" if w.bit_count() % 2 else "") for w in words}  # parity: I = (-1)^len W
    generators = tuple(
        f"{term(1 << (m + j))} = {'-' if g.bit_count() % 2 == 0 else ''}{term(g)}"
        for j, g in enumerate(gens)
    )
    shown_words = sorted(words, key=_order) if len(words) <= 15 else base_words
    relation = f"{'1' if 'I' in names else 'I'} = " + " = ".join(
        signed[w] + term(w) for w in shown_words
    )
    if len(shown_words) < len(words):
        relation += f" (and the {len(words) - len(shown_words)} products of these words)"
    alias_of, lines = {}, []
    for e in [1 << i for i in range(k)] + [
        a | b for a, b in itertools.combinations([1 << i for i in range(k)], 2)
    ]:
        found = sorted((e ^ w for w in words if (e ^ w).bit_count() <= 3), key=_order)
        alias_of[term(e)] = tuple(term(a) for a in found)
        shown = [a for a in found if e.bit_count() == 1 or (a.bit_count() == 2 and a > e)]
        if shown:
            what = "main effect" if e.bit_count() == 1 else "interaction"
            eq = " = ".join(signed[e ^ a] + term(a) for a in shown)
            plural = "s" if len(shown) > 1 else ""
            lines.append(
                f"{term(e)} = {eq}: the {term(e)} {what} is aliased with the "
                f"{' and '.join(term(a) for a in shown)} interaction{plural}"
            )
    if not any(alias_of[n] for n in names):
        lines.insert(0, "every main effect is aliased only with interactions of 4+ changes")
    resolution = min(w.bit_count() for w in words)
    design_text = (
        f"2^({k}-{k - m}) fractional factorial ({2**m} of {2**k} combinations), plus each "
        "change alone and the full bundle"
    )
    return AblationPlan(
        name, parsed, cells, design_text, resolution, generators, relation, tuple(lines), alias_of
    )


def _check_changes(changes: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(changes, Mapping) or not changes:
        raise ValueError('an ablation needs at least one change (--change NAME="ARGS")')
    if len(changes) > MAX_CHANGES:
        raise ValueError(f"{len(changes)} changes: at most {MAX_CHANGES} (group related ones)")
    parsed: dict[str, tuple[str, ...]] = {}
    seen: dict[tuple[str, ...], str] = {}
    for change, args in changes.items():
        if (
            not isinstance(change, str)
            or not change
            or change == BASE
            or any(c.isspace() or c in "+@=" for c in change)
        ):
            raise ValueError(
                f"change name {change!r}: a non-empty word without spaces, '+', '@' or '=', "
                f"other than {BASE!r}"
            )
        items = shlex.split(args) if isinstance(args, str) else list(args)
        if any(not isinstance(a, str) for a in items):
            raise ValueError(f"change {change}: its arguments are strings, got {items!r}")
        items = [a for a in items if a.strip()]
        if not items:
            raise ValueError(f"change {change} names no arguments")
        key = tuple(items)
        if key in seen:
            raise ValueError(f"changes {seen[key]} and {change} pass the same arguments")
        seen[key], parsed[change] = change, key
    return parsed


def _fraction(k: int) -> tuple[int, tuple[int, ...]]:
    """Base changes and generators: resolution IV needs 2^(m-1) >= k (the odd-weight columns
    of m base changes), resolution III 2^m > k; the first that saves runs, else the full."""
    for m in ((k - 1).bit_length() + 1, k.bit_length()):
        if m < k:
            cands = sorted(
                (v for v in range(3, 2**m) if v.bit_count() >= 2),
                key=lambda v: (-v.bit_count(), v),
            )
            if math.comb(len(cands), k - m) <= SEARCH_LIMIT:  # minimum aberration
                return m, min(
                    itertools.combinations(cands, k - m), key=lambda g: _aberration(g, m, k)
                )
            odd = [v for v in cands if v.bit_count() % 2]  # odd-weight columns: resolution IV
            return m, tuple((odd if len(odd) >= k - m else cands)[: k - m])
    return k, ()


def _words(gens: Sequence[int], m: int) -> list[int]:
    """The defining contrast subgroup (every product of the generators' words), as masks."""
    base = [g | 1 << (m + j) for j, g in enumerate(gens)]
    subsets = (s for r in range(1, len(base) + 1) for s in itertools.combinations(base, r))
    return [functools.reduce(operator.xor, subset) for subset in subsets]


def _aberration(gens: Sequence[int], m: int, k: int) -> tuple[int, ...]:
    lengths = [w.bit_count() for w in _words(gens, m)]
    return (-min(lengths), *(lengths.count(n) for n in range(3, k + 1)))


def _run(b: int, m: int, gens: Sequence[int]) -> int:
    for j, g in enumerate(gens):
        b |= ((b & g).bit_count() % 2) << (m + j)
    return b


def _bits(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


def _order(mask: int) -> tuple[int, tuple[int, ...]]:
    return mask.bit_count(), _bits(mask)


def term_namer(names: Sequence[str]) -> Any:
    """Terms as the textbooks write them ("ABC") for one-letter names, else "lr*wd*bs"."""
    sep = "" if all(len(n) == 1 for n in names) else "*"
    return lambda mask: sep.join(names[i] for i in _bits(mask))


__all__ = [
    "BASE",
    "MAX_CHANGES",
    "SEARCH_LIMIT",
    "AblationCell",
    "AblationPlan",
    "plan_ablation",
    "term_namer",
]
