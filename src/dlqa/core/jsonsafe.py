"""The one place where values become JSON-safe, before the store and every view see them.

Checks put numpy scalars and arrays, tuples, sets, paths, enums and non-finite floats into
values, details and evidence. Converting once, here, keeps every producer free of JSON
concerns and keeps every consumer (SQLite, PostgreSQL's JSON type, ``json.dumps`` with
``allow_nan=False``, the dashboard) from meeting NaN or ``np.int64``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any


def to_json_safe(obj: Any) -> Any:
    """A deep copy of ``obj`` made of JSON types only; non-finite floats become None."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Enum):
        return to_json_safe(obj.value)
    if isinstance(obj, dict):
        return {str(key): to_json_safe(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(item) for item in obj]
    if isinstance(obj, (set, frozenset)):
        return [to_json_safe(item) for item in sorted(obj, key=str)]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="backslashreplace")
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, without importing numpy
        return to_json_safe(obj.tolist())
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_json_safe(asdict(obj))
    return str(obj)


def finite_number(value: Any) -> float | int | None:
    """A measured value as a finite JSON number; anything else (NaN, inf, junk) becomes None."""
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
