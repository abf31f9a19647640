"""Helpers of the dashboard's browser tests: Debian's chromium driven by Playwright, the
dashboard on a free loopback port (in a thread of this process, or as a real ``dlqa ui``
subprocess), and a watch on each page for console errors, dialogs and requests that leave
127.0.0.1.

Without chromium or Playwright the tests skip with the reason, or fail when
``DLQA_REQUIRE_SERVICES=1`` (as in CI); ``make test`` installs chromium when it may.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.pg import free_loopback_port
from tests.services import skip_or_fail

CHROMIUM_ENV = "DLQA_CHROMIUM"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
INSTALL_HINT = "install Debian's chromium package (`make test` does, as root)"
# Headless, unsandboxed (root in containers), and quiet: no update checks, no metrics, no
# sync, no translation or safe-browsing lookups; nothing the browser itself sends leaves the
# machine, so every request the tests see comes from the page.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
)
# Finds what a page that did not escape hostile names (an <img onerror>, an <svg onload>, a
# <script>alert(...)) would hold as elements, not as text; JSON data scripts are data.
INJECTED_PROBE = """root => Array.from(root.querySelectorAll(
    "img[src='x'], [onerror], [onload], svg, script:not([type='application/json'])"))
  .filter(e => e.tagName !== "SCRIPT" || e.textContent.includes("alert("))
  .filter(e => e.tagName !== "svg" || e.hasAttribute("onload"))
  .map(e => e.outerHTML.slice(0, 200))"""
WAIT_S = 15
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
LOCAL_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about"}
FAVICON = "/favicon.ico"


def find_chromium() -> str | None:
    """``$DLQA_CHROMIUM``, else chromium on PATH, else /usr/bin/chromium."""
    for candidate in (os.environ.get(CHROMIUM_ENV), *CHROMIUM_CANDIDATES):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    return None


@contextlib.contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless chromium under Playwright; skips (or fails) when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        skip_or_fail(f"playwright is not installed ({exc}); pip install -e '.[dev]'", "chromium")
    executable = find_chromium()
    if executable is None:
        skip_or_fail(f"no chromium found (${CHROMIUM_ENV}, PATH); {INSTALL_HINT}", "chromium")
    with sync_playwright() as playwright:
        failure = None
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
            )
        except Exception as exc:  # playwright raises its own Error, message says why
            failure = f"chromium at {executable} does not start: {exc}"
        if failure is not None:  # outside the except: the report shows the reason alone
            skip_or_fail(failure, "chromium")
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageWatch:
    """What one page did: console errors, dialogs opened, requests that left 127.0.0.1."""

    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))
        page.on("dialog", self._dialog)
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        # Chromium asks every site for /favicon.ico on its own; the layout declares no icon,
        # so that request's 404 is the browser's, not the page's.
        source = (message.location or {}).get("url", "")
        if message.type == "error" and not source.endswith(FAVICON):
            self.console_errors.append(f"{message.text} ({source})")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme not in LOCAL_SCHEMES and parts.hostname not in LOCAL_HOSTS:
            self.outside.append(request.url)

    def problems(self) -> list[str]:
        return [
            *(f"console error: {text}" for text in self.console_errors),
            *(f"dialog opened: {text}" for text in self.dialogs),
            *(f"request left 127.0.0.1: {url}" for url in self.outside),
        ]


def visit(page: Any, url: str) -> Any:
    response = page.goto(url, wait_until="load")
    assert response is not None, url
    return response


def assert_nothing_injected(scope: Any) -> None:
    """No element that an unescaped hostile name would have made exists in ``scope``."""
    assert scope.locator("html").evaluate(INJECTED_PROBE) == []


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll until ``condition`` holds (the store: verdicts are saved as they are made)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            assert value, f"never saw {what}"
            return value
        time.sleep(0.1)


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """A screenshot kept under test-artifacts/ui/NAME.png (gitignored); ``full_page=False``
    keeps what is in view (a full-page shot draws a report's iframe empty)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@contextlib.contextmanager
def dashboard_in_thread(settings: Any) -> Iterator[str]:
    """The dashboard over ``settings`` in a thread of this process; yields its base URL."""
    from dlqa.execute.http_server import app_serving
    from dlqa.ui import create_app

    with app_serving(create_app(settings)) as url:
        yield url


@contextlib.contextmanager
def dashboard_process(project_dir: Path, store_url: str) -> Iterator[str]:
    """``dlqa ui --port N --db URL`` as a real subprocess in ``project_dir``; yields its base
    URL once it answers, and stops it by its PID (SIGTERM, then SIGKILL)."""
    port = free_loopback_port()
    command = [sys.executable, "-c", "import sys; from dlqa.cli import main; sys.exit(main())",
               "ui", "--port", str(port), "--db", store_url]  # fmt: skip
    log = project_dir / "dlqa-ui.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=project_dir, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(process, url, log)
        yield url
    finally:
        _stop(process)


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dlqa ui exited {process.returncode}: {log.read_text()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/static/ui.css", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"dlqa ui did not answer within 60 s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


__all__ = [
    "ARTIFACTS",
    "INJECTED_PROBE",
    "CHROMIUM_FLAGS",
    "PageWatch",
    "assert_nothing_injected",
    "chromium_browser",
    "dashboard_in_thread",
    "dashboard_process",
    "find_chromium",
    "screenshot",
    "visit",
    "wait_for",
]
