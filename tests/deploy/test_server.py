"""``dlqa serve`` in-process (uvicorn in a thread on a free loopback port) and the smoke test
against it: answers equal the predictor's, guardrails applied, refusals named, tokens."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.deploy.conftest import CLASSES, SPEC, TinyCnn, natural_image

torch = pytest.importorskip("torch")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.core.results import Status  # noqa: E402
from dlqa.deploy.exporter import export  # noqa: E402
from dlqa.deploy.manifest import read_manifest  # noqa: E402
from dlqa.deploy.predictor import load  # noqa: E402
from dlqa.deploy.server import serve, serving  # noqa: E402
from dlqa.deploy.smoke_test import Client, encode_multipart, smoke_result  # noqa: E402
from dlqa.execute.http_server import bind, is_loopback  # noqa: E402

KIDS_RULE = {"classes": ["stripe"], "slice": "audience", "values": ["kids"]}
RAILS = {"min_confidence": 0.34, "forbidden": [KIDS_RULE]}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for seed in range(5):
        natural_image(seed, (36 + 3 * seed, 48)).save(folder / f"img{seed:02d}.png")
        paths.append(folder / f"img{seed:02d}.png")
    return paths


def _export(model: TinyCnn, folder: Path, golden: list[Path]) -> Path:
    torch.set_num_threads(1)
    return export(model.eval(), folder, example_input=torch.randn(4, 1, 16, 16),
                  preprocessing=SPEC, class_names=CLASSES, golden_inputs=golden,
                  guardrails=RAILS)  # fmt: skip


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, files: list[Path]) -> Path:
    torch.manual_seed(0)
    return _export(TinyCnn(), tmp_path_factory.mktemp("b") / "bundle", files[:3])


@pytest.fixture(scope="module")
def stripe_bundle(tmp_path_factory: pytest.TempPathFactory, files: list[Path]) -> Path:
    """A model whose head bias makes "stripe" win with high confidence on anything."""
    torch.manual_seed(0)
    model = TinyCnn()
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 8.0]))
    return _export(model, tmp_path_factory.mktemp("s") / "bundle", files[:3])


@pytest.fixture(scope="module")
def url(bundle: Path) -> Iterator[str]:
    with serving(bundle) as base:
        yield base


def _json_post(client: Client, payload: object) -> tuple[int, dict]:
    return client.request("/predict", json.dumps(payload).encode(), "application/json")


def _upload(files: list[Path]) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in files]


def test_health_and_manifest(url: str, bundle: Path) -> None:
    client = Client(url)
    manifest = read_manifest(bundle)
    assert client.get("/health") == {
        "status": "ok",
        "model": manifest["fingerprints"]["manifest"],
        "classes": 3,
    }
    assert client.get("/manifest") == manifest
    golden = manifest["golden"]["pairs"][0]["file"]
    assert client.get(f"/golden/{Path(golden).name}") == (bundle / golden).read_bytes()
    status, payload = client.request("/golden/dlqa-model.json")
    assert status == 404 and "no golden input named 'dlqa-model.json'" in payload["error"]
    assert client.request("/golden/..%2Fdlqa-model.json")[0] == 404


def test_multipart_predict_equals_the_predictor(url: str, bundle: Path, files: list) -> None:
    predictor = load(bundle)
    expected = predictor.predict_files(files)
    status, answer = Client(url).predict_files(_upload(files))
    assert status == 200
    slots = answer["predictions"]
    assert [s["id"] for s in slots] == [p.name for p in files]
    np.testing.assert_array_equal(np.array([s["probs"] for s in slots]), expected)
    decisions = predictor.decide(expected)
    assert [s["label"] for s in slots] == [d.label for d in decisions]
    assert [s["reason"] for s in slots] == [d.reason for d in decisions]


def test_json_inputs_and_a_nan_row_refused_alone(url: str, bundle: Path, files: list) -> None:
    predictor = load(bundle)
    arrays = np.stack([predictor.preprocess_file(p) for p in files[:2]])
    rows = arrays.tolist() + [np.full(arrays.shape[1:], np.nan).tolist()]
    status, answer = _json_post(Client(url), {"inputs": rows})
    assert status == 200
    good, bad = answer["predictions"][:2], answer["predictions"][2]
    np.testing.assert_allclose([s["probs"] for s in good], predictor.predict_arrays(arrays))
    assert bad["id"] == 2 and "NaN" in bad["error"]
    status, answer = _json_post(Client(url), {"inputs": [[1.0, 2.0]]})
    assert status == 422 and "the model takes one input of shape [1, 16, 16]" in answer["error"]


def test_guardrails_withhold_a_forbidden_class_for_kids(stripe_bundle: Path, files: list) -> None:
    with serving(stripe_bundle) as base:
        client = Client(base)
        _, plain = client.predict_files(_upload(files[:2]))
        assert [s["label"] for s in plain["predictions"]] == ["stripe", "stripe"]
        _, kids = client.predict_files(_upload(files[:2]), {"audience": "kids"})
        per_item = [{"audience": "adults"}, {"audience": "kids"}]
        _, mixed = client.predict_files(_upload(files[:2]), per_item)
        rows = load(stripe_bundle).preprocess_file(files[0])[None].tolist()
        _, by_json = _json_post(client, {"inputs": rows, "context": [{"audience": "kids"}]})
    for slot in kids["predictions"] + by_json["predictions"]:
        assert slot["label"] is None and "forbidden for audience=kids" in slot["reason"]
        assert slot["confidence"] > 0.9
    assert [s["label"] for s in mixed["predictions"]] == ["stripe", None]


def test_refused_files_are_named_not_500(url: str, files: list) -> None:
    client = Client(url)
    upload = [("broken.png", files[0].read_bytes()[:50]), ("good.png", files[1].read_bytes()),
              ("empty.png", b"")]  # fmt: skip
    status, answer = client.predict_files(upload)
    assert status == 200
    broken, good, empty = answer["predictions"]
    assert "not a readable image" in broken["error"] and "error" not in good
    assert empty == {"id": "empty.png", "error": "empty file: 0 bytes"}
    status, answer = client.predict_files([("tiny.png", _png(4, 4))])
    assert status == 422 and answer["input"] == "tiny.png"
    assert "under 8 pixels" in answer["error"]


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, format="PNG")
    return out.getvalue()


def test_bad_requests_get_clear_4xx(url: str, bundle: Path) -> None:
    client = Client(url)
    cases = [
        (b"not json", "application/json", 400, "not JSON"),
        (b'{"inputs": [], "texts": []}', "application/json", 400, "exactly one"),
        (b'{"texts": ["hello"]}', "application/json", 400, "not texts"),
        (b'{"inputs": [[1]], "context": [{}, {}]}', "application/json", 400, "one per input"),
        (b"x", "text/plain", 415, "multipart/form-data"),
    ]
    body, kind = encode_multipart([], {"context": "{}"})
    cases.append((body, kind, 400, 'field "file"'))
    body, kind = encode_multipart([("a.png", b"x")], {"context": "{oops"})
    cases.append((body, kind, 400, "not JSON"))
    for body, kind, status, words in cases:
        got, answer = client.request("/predict", body, kind)
        assert (got, words in answer["error"]) == (status, True), (body, answer)
    with serving(bundle, max_body=1000) as small:
        body, kind = encode_multipart([("big.png", b"\0" * 5000)])
        got, answer = Client(small).request("/predict", body, kind)
    assert got == 413 and "over the 1,000-byte limit" in answer["error"]


def test_token_guards_predict_but_not_health(bundle: Path, files: list) -> None:
    with serving(bundle, token="s3cret") as base:
        body, kind = encode_multipart(_upload(files[:1]))
        anonymous = Client(base).request("/predict", body, kind)
        wrong = Client(base, token="nope").request("/predict", body, kind)
        right = Client(base, token="s3cret").request("/predict", body, kind)
        health = Client(base).request("/health")
        smoke_without = smoke_result(base)
        smoke_with = smoke_result(base, bundle, token="s3cret")
    assert anonymous[0] == wrong[0] == 401 and "token" in anonymous[1]["error"]
    assert right[0] == 200 and health[0] == 200
    assert smoke_without.status == Status.FAIL and "401" in smoke_without.summary
    assert "--token" in smoke_without.summary
    assert smoke_with.status == Status.PASS


def test_smoke_passes_against_the_served_bundle(url: str, bundle: Path) -> None:
    for result in (smoke_result(url), smoke_result(url + "/", bundle)):
        assert result.status == Status.PASS, result.summary
        assert result.check_id == "deploy.smoke" and result.n == 3
        assert result.value is not None and result.value <= result.threshold
        assert "3/3 golden inputs answered as sealed" in result.summary


def test_smoke_fails_against_another_model(bundle: Path, tmp_path: Path, files: list) -> None:
    torch.manual_seed(0)
    model = TinyCnn()
    with torch.no_grad():
        model.head.bias.add_(torch.tensor([1.5, -1.5, 0.0]))  # a "retrained" head
    golden = [bundle / item["file"] for item in read_manifest(bundle)["golden"]["pairs"]]
    other = _export(model, tmp_path / "other", golden)
    with serving(other) as base:
        alone = smoke_result(base)  # the server agrees with its own bundle
        result = smoke_result(base, bundle)
    assert alone.status == Status.PASS
    assert result.status == Status.FAIL
    assert "not the bundle's" in result.summary and "3 of 3 golden inputs" in result.summary
    (evidence,) = result.evidence
    assert evidence.kind == "inputs" and evidence.total == 3
    ids = {item["id"] for item in evidence.items}
    assert ids == {"img00", "img01", "img02"}
    assert all(item["max_abs_diff"] > 1e-4 for item in evidence.items)
    assert all("probabilities differ" in item["problem"] for item in evidence.items)


def test_unreachable_url_is_a_fail_result() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = smoke_result(f"127.0.0.1:{port}", timeout=5)
    assert result.status == Status.FAIL
    assert f"http://127.0.0.1:{port} is not reachable" in result.summary


def test_port_in_use_is_a_usage_error(bundle: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError) as raised:
            serve(bundle, port=port)
        with pytest.raises(UsageError):
            bind("127.0.0.1", port)
    assert raised.value.message == f"port {port} on 127.0.0.1 is in use"
    assert raised.value.hint == "choose another with --port"


def test_dlqa_deploy_smoke_stores_a_run_and_exits_by_the_answers(
    url: str, bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dlqa.cli.app import app

    monkeypatch.chdir(tmp_path)  # the default store and reports land here
    out = tmp_path / "smoke.json"
    passed = CliRunner().invoke(
        app, ["deploy", "smoke", url, "--bundle", str(bundle), "--json", str(out), "-q"]
    )
    assert passed.exit_code == 0, passed.output
    stored = json.loads(out.read_text())
    statuses = {(r["check_id"], r.get("subject")): r["status"] for r in stored["results"]}
    assert statuses[("deploy.bundle", None)] == statuses[("deploy.smoke", None)] == "pass"
    # The sealed guardrails, asked of the server itself with inputs that trigger them.
    rails = {key[1]: status for key, status in statuses.items() if key[0] == "deploy.guardrails"}
    assert rails and set(rails.values()) <= {"pass", "skip"} and "pass" in rails.values()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    report = tmp_path / "down.json"
    failed = CliRunner().invoke(app, ["deploy", "smoke", down, "--json", str(report), "-q"])
    assert failed.exit_code == 1, failed.output
    (result,) = json.loads(report.read_text())["results"]
    assert result["status"] == "fail" and "not reachable" in result["summary"]


def test_a_public_host_without_token_is_served_with_a_warning(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from dlqa.deploy import server
    from dlqa.execute import http_server

    class Idle:
        def run(self, sockets: list) -> None:
            sockets[0].close()

    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert is_loopback("localhost") and not is_loopback("0.0.0.0")
    # The socket stays on loopback: only the warning about the host is under test.
    monkeypatch.setattr(server, "bind", lambda host, port: bind("127.0.0.1", 0))
    monkeypatch.setattr(http_server, "_uvicorn_server", lambda app, sock, ready: Idle())
    serve(bundle, host="0.0.0.0", port=8000)
    err = capsys.readouterr().err
    assert "warning: serving on 0.0.0.0 without a token" in err
    serve(bundle, host="0.0.0.0", port=8000, token="t")
    assert "warning" not in capsys.readouterr().err
