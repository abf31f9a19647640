"""The external services some tests need (a PostgreSQL server, a browser): without one the
tests skip, saying why, or fail when ``DLQA_REQUIRE_SERVICES=1`` (as in CI)."""

from __future__ import annotations

import os
from typing import NoReturn

REQUIRE_SERVICES_ENV = "DLQA_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV, "").strip() not in ("", "0")


def skip_or_fail(reason: str, service: str = "PostgreSQL") -> NoReturn:
    """Skip the test, saying why; fail it instead when DLQA_REQUIRE_SERVICES=1."""
    import pytest

    if services_required():
        pytest.fail(f"{service} is required ({REQUIRE_SERVICES_ENV}=1): {reason}", pytrace=False)
    pytest.skip(reason)
