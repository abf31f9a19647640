"""``dlqa serve BUNDLE`` as a real process: it answers the smoke test, ends cleanly on SIGINT
and SIGTERM, and a taken port is exit code 2 with one clear line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import CLASSES, SPEC, TinyCnn, natural_image

torch = pytest.importorskip("torch")
pytest.importorskip("uvicorn")

from dlqa.core.results import Status  # noqa: E402
from dlqa.deploy.smoke_test import Client, ServerProblem, smoke_result  # noqa: E402

# `dlqa serve ...` through dlqa's own entry point (exit codes, error lines); the command is
# mounted here when the app does not register it yet.
DLQA_SERVE = [sys.executable, "-c", """
import sys
from dlqa.cli import app, main
from dlqa.cli.serve import serve_command
if not any(c.name == "serve" for c in app.app.registered_commands):
    app.app.command("serve")(serve_command)
sys.exit(main(["serve", *sys.argv[1:]]))
"""]  # fmt: skip


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dlqa.deploy.exporter import export

    root = tmp_path_factory.mktemp("serve")
    files = []
    for seed in range(3):
        natural_image(seed).save(root / f"img{seed}.png")
        files.append(root / f"img{seed}.png")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return export(TinyCnn().eval(), root / "bundle", example_input=torch.randn(2, 1, 16, 16),
                  preprocessing=SPEC, class_names=CLASSES, golden_inputs=files)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(bundle: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DLQA_SERVE_TOKEN"}
    env["OMP_NUM_THREADS"] = "1"
    args = [*DLQA_SERVE, str(bundle), "--port", str(port)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dlqa serve exited {process.returncode}: {process.stderr.read()!r}")
        try:
            Client(url, timeout=2).get("/health")
            return
        except ServerProblem:
            time.sleep(0.2)
    pytest.fail("dlqa serve did not answer /health within 60 s")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_serve_answers_the_smoke_test_and_stops_cleanly(bundle: Path, stop: int) -> None:
    port = free_port()
    process = start(bundle, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        result = smoke_result(url, bundle, timeout=10)
        assert result.status == Status.PASS, result.summary
    finally:
        process.send_signal(stop)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, stderr.decode()
    assert f"on http://127.0.0.1:{port}" in stderr.decode()
    assert "server stopped" in stderr.decode()


def test_a_taken_port_is_exit_code_2(bundle: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start(bundle, port)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.decode().splitlines() == [
        f"dlqa: error: port {port} on 127.0.0.1 is in use",
        "  hint: choose another with --port",
    ]
