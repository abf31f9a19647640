"""The mode matrix (seed 003, pattern 8): a change meant for one mode must not hurt the others.

``[exp] modes = { backbone = ["resnet", "vit"], precision = ["fp32", "amp"] }`` declares the
modes a project trains in. ``dlqa exp run NAME -- CMD`` then runs every combination as its own
seed group ``NAME@backbone=resnet,precision=amp``: the command gets ``DLQA_MODE_BACKBONE=resnet``
and ``DLQA_MODE_PRECISION=amp`` in its environment, and ``{backbone}``/``{precision}`` in its
arguments are replaced by the values. ``dlqa exp compare --all-modes`` then compares baseline
and candidate on every combination, Holm-corrected over all of them.

Pure functions of plain data; the runner and the stage do the running and the storing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

MODE_SEPARATOR = "@"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A value goes into a group name and an environment variable: no separators of the name.
_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+$")

Modes = dict[str, list[str]]
Combination = dict[str, str]


def check_modes(modes: Mapping[str, Sequence[str]]) -> Modes:
    """``modes`` as a plain dict, or ValueError saying which name or value is unusable."""
    checked: Modes = {}
    for name, values in modes.items():
        if not _NAME.match(str(name)):
            raise ValueError(f"mode name {name!r}: use letters, digits and '_' (an identifier)")
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"mode {name!r}: give a non-empty list of values, not {values!r}")
        strings = [str(v) for v in values]
        bad = [v for v in strings if not _VALUE.match(v)]
        if bad:
            raise ValueError(
                f"mode {name!r}: value {bad[0]!r} has characters a group name cannot hold "
                "(use letters, digits, '_', '.', '+', '-')"
            )
        if len(set(strings)) != len(strings):
            raise ValueError(f"mode {name!r}: a value is listed twice in {strings}")
        checked[str(name)] = strings
    return checked


def select_modes(modes: Modes, wanted: Sequence[str]) -> Modes:
    """``modes`` narrowed by ``NAME=V1,V2`` selections (``--mode``); ValueError naming an
    unknown mode or value."""
    selected = dict(modes)
    for text in wanted:
        name, sep, values = text.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise ValueError(f"--mode {text!r}: expected NAME=VALUE[,VALUE...]")
        if name not in modes:
            raise ValueError(f"--mode {text!r}: no mode {name!r} (declared: {_known(modes)})")
        chosen = [v.strip() for v in values.split(",") if v.strip()]
        unknown = [v for v in chosen if v not in modes[name]]
        if unknown:
            raise ValueError(
                f"--mode {text!r}: {name} has no value {unknown[0]!r} (values: {modes[name]})"
            )
        selected[name] = chosen
    return selected


def combinations(modes: Modes) -> list[Combination]:
    """Every combination of the modes' values, in the declared order."""
    if not modes:
        return []
    names = list(modes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*modes.values())]


def mode_label(combination: Mapping[str, str]) -> str:
    """``backbone=resnet,precision=amp``."""
    return ",".join(f"{name}={value}" for name, value in combination.items())


def mode_group(group: str, combination: Mapping[str, str]) -> str:
    """The seed group of ``group`` in one mode: ``GROUP@backbone=resnet,precision=amp``."""
    return f"{group}{MODE_SEPARATOR}{mode_label(combination)}"


def mode_environment(combination: Mapping[str, str]) -> dict[str, str]:
    """``DLQA_MODE_<NAME>=<value>`` for each mode (the name upper-cased)."""
    return {f"DLQA_MODE_{name.upper()}": value for name, value in combination.items()}


def placeholders(command: Sequence[str]) -> list[str]:
    """The ``{name}`` placeholders in a command's arguments, in order of appearance."""
    found: dict[str, None] = {}
    for part in command:
        found.update(dict.fromkeys(PLACEHOLDER.findall(str(part))))
    return list(found)


def check_placeholders(command: Sequence[str], modes: Modes) -> None:
    """ValueError when the command names a mode that ``[exp] modes`` does not declare
    (a typo would otherwise run every seed with the literal ``{name}``)."""
    unknown = [name for name in placeholders(command) if name not in modes]
    if unknown:
        declared = _known(modes) if modes else "none: [exp] modes is empty"
        raise ValueError(
            f"the command uses {{{unknown[0]}}} but no mode {unknown[0]!r} is declared "
            f"(modes: {declared})"
        )


def apply_mode(command: Sequence[str], combination: Mapping[str, str]) -> list[str]:
    """The command with each ``{name}`` of the combination replaced by its value (other
    braces, such as JSON arguments, are left as they are)."""
    return [
        PLACEHOLDER.sub(lambda m: combination.get(m.group(1), m.group(0)), str(part))
        for part in command
    ]


def _known(modes: Modes) -> str:
    return ", ".join(modes) or "none"


__all__ = [
    "MODE_SEPARATOR",
    "Combination",
    "Modes",
    "apply_mode",
    "check_modes",
    "check_placeholders",
    "combinations",
    "mode_environment",
    "mode_group",
    "mode_label",
    "placeholders",
    "select_modes",
]
