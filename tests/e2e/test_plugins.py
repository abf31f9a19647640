"""A real third-party plugin distribution, pip-installed, seen by every command and view.

The fixture projects under tests/fixtures/plugins are built and installed with pip into a
folder that the `dlqa` subprocesses get on PYTHONPATH: their entry points are found through
their installed metadata exactly as after `pip install acme-dlqa`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.conftest import DLQA, scene

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plugins"


def install(name: str, target: Path, tmp_path: Path) -> Path:
    """pip-install the fixture distribution ``name`` into ``target`` (offline, no deps)."""
    project = tmp_path / "build" / name
    shutil.copytree(FIXTURES / name, project)  # the build writes beside the sources
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(project)],
        check=True,
    )  # fmt: skip
    return target


def dlqa(site: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run(
        [*DLQA, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("acme")
    return install("acme", tmp / "site", tmp)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Three cats and six dogs, and a dlqa.toml that gates the plugin's check."""
    seed = 0
    for label, n in (("cat", 3), ("dog", 6)):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(n):
            seed += 1
            scene(seed).save(tmp_path / "data" / label / f"{i}.png")
    (tmp_path / "dlqa.toml").write_text(
        '[data]\nsource = "data"\n\n[gates]\n'
        '"acme.too_few_cats" = { min = 5 }\n'
        '"acme.min_per_class" = { min = 4, subjects = ["dog"] }\n'
        '"data.class_balance" = { min_per_class = 1 }\n',
        encoding="utf-8",
    )
    return tmp_path


def test_plugin_check_is_listed(acme_site: Path, tmp_path: Path) -> None:
    done = dlqa(acme_site, "checks", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "acme.too_few_cats" in done.stdout and "acme.min_per_class" in done.stdout
    # Without the distribution on the path, the checks are not there.
    bare = dlqa(tmp_path, "checks", cwd=tmp_path)
    assert "acme.too_few_cats" not in bare.stdout


def test_plugin_check_runs_is_gated_and_shows_in_every_view(acme_site: Path, project: Path) -> None:
    done = dlqa(acme_site, "check", "--json", "r.json", "--html", "r.html", "--junit", "j.xml",
                cwd=project)  # fmt: skip
    assert done.returncode == 1, done.stderr  # 3 cats < min 5
    assert "acme.too_few_cats" in done.stdout  # the terminal summary names the failed gate
    document = json.loads((project / "r.json").read_text())
    results = {(r["check_id"], r["subject"]): r for r in document["results"]}
    cats = results[("acme.too_few_cats", None)]
    assert cats["status"] == "fail" and cats["value"] == 3 and cats["threshold"] == 5
    assert len(cats["evidence"][0]["items"]) == 3
    # Subjects: the gate names only "dog", so the cat subject's failure does not gate.
    assert results[("acme.min_per_class", "dog")]["status"] == "pass"
    assert results[("acme.min_per_class", "cat")]["status"] == "warn"
    assert results[("acme.min_per_class", "cat")]["details"]["gated"] is False
    assert "acme.too_few_cats" in (project / "r.html").read_text()
    cases = {case.get("name") for case in ET.parse(project / "j.xml").iter("testcase")}
    assert any("acme.too_few_cats" in name for name in cases)


def test_plugin_check_runs_in_data_profile(acme_site: Path, project: Path) -> None:
    (project / "dlqa.toml").unlink()  # the default gate: min = 10
    done = dlqa(acme_site, "data", "profile", "data", "--json", "p.json", cwd=project)
    document = json.loads((project / "p.json").read_text())
    cats = next(r for r in document["results"] if r["check_id"] == "acme.too_few_cats")
    assert cats["threshold"] == 10 and cats["status"] == "fail"
    assert done.returncode == 1


def test_plugin_gate_out_of_range_is_a_config_error(acme_site: Path, project: Path) -> None:
    (project / "dlqa.toml").write_text('[gates]\n"acme.too_few_cats" = { min = -1 }\n')
    done = dlqa(acme_site, "check", cwd=project)
    assert done.returncode == 2
    assert 'gates."acme.too_few_cats".min' in done.stderr
    assert "greater than or equal to 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_plugin_that_fails_to_import_is_named(tmp_path: Path) -> None:
    site = install("broken", tmp_path / "site", tmp_path)
    done = dlqa(site, "checks", cwd=tmp_path)
    assert done.returncode == 2
    assert 'plugin "broken" (broken-dlqa 0.2.0' in done.stderr
    assert "acme_missing_dependency" in done.stderr
    assert "Traceback" not in done.stderr
    # The message's hint works: the plugin can be switched off.
    skipped = dlqa(site, "checks", cwd=tmp_path, DLQA_DISABLE_PLUGINS="broken")
    assert skipped.returncode == 0 and "data.near_duplicates" in skipped.stdout


def test_plugin_outside_its_namespace_is_refused(tmp_path: Path) -> None:
    site = install("squatter", tmp_path / "site", tmp_path)
    done = dlqa(site, "checks", cwd=tmp_path)
    assert done.returncode == 2
    assert "squatter-dlqa 0.3.0" in done.stderr and "'data.sneaky'" in done.stderr
    assert "outside its namespace 'squatter'" in done.stderr
