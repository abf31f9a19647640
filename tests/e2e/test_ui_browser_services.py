"""Without chromium or Playwright the browser tests skip, saying why, and fail instead under
DLQA_REQUIRE_SERVICES=1 (as in CI): checked here without starting a browser."""

from __future__ import annotations

import sys

import pytest

from tests.e2e import ui_browser
from tests.services import REQUIRE_SERVICES_ENV


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_browser, "CHROMIUM_CANDIDATES", ())
    monkeypatch.delenv(ui_browser.CHROMIUM_ENV, raising=False)


@pytest.fixture
def no_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails


def open_browser() -> None:
    with ui_browser.chromium_browser():
        pass


@pytest.mark.parametrize("missing", ["no_chromium", "no_playwright"])
def test_a_missing_browser_skips_with_the_reason(
    missing: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    request.getfixturevalue(missing)
    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium|playwright"):
        open_browser()


@pytest.mark.parametrize("missing", ["no_chromium", "no_playwright"])
def test_a_missing_browser_fails_when_services_are_required(
    missing: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    request.getfixturevalue(missing)
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    with pytest.raises(
        pytest.fail.Exception, match=f"chromium is required \\({REQUIRE_SERVICES_ENV}=1\\)"
    ):
        open_browser()


def test_chromium_named_by_the_environment_comes_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(ui_browser.CHROMIUM_ENV, str(fake))
    assert ui_browser.find_chromium() == str(fake)
