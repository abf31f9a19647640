"""The dlqa_check fixture: data gates asserted from a project's own pytest suite."""

from __future__ import annotations

import textwrap

import pytest

from tests.e2e.conftest import scene

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    root = pytester.path
    for label, seeds in (("cat", range(1, 13)), ("dog", range(20, 32))):
        (root / "data" / label).mkdir(parents=True)
        for seed in seeds:
            scene(seed).save(root / "data" / label / f"{seed}.png")
    (root / "dlqa.toml").write_text('[data]\nsource = "data"\n', encoding="utf-8")
    pytester.makepyfile(
        test_gates=textwrap.dedent(
            """
            def test_data_gates(dlqa_check):
                dlqa_check("data").assert_all()

            def test_chosen_checks(dlqa_check):
                outcome = dlqa_check(["data.dark", "data.exact_duplicates"])
                assert sorted(r.check_id for r in outcome.results) == [
                    "data.dark", "data.exact_duplicates"]
                outcome.assert_passed("data.exact_duplicates")

            def test_unknown_stage(dlqa_check):
                dlqa_check("nope")
            """
        )
    )
    return pytester


def test_dlqa_check_passes_clean_data_and_explains_a_failed_gate(project):
    root = project.path
    clean = project.runpytest_subprocess("-p", "no:cacheprovider")
    clean.assert_outcomes(passed=2, failed=1)
    clean.stdout.fnmatch_lines(["*dlqa_check('nope') could not run: no stage 'nope'*"])
    # Plant an exact duplicate: the stage's gate fails with the check named and its evidence.
    (root / "data" / "dog" / "copy.png").write_bytes((root / "data/cat/1.png").read_bytes())
    planted = project.runpytest_subprocess("-p", "no:cacheprovider")
    planted.assert_outcomes(passed=0, failed=3)
    planted.stdout.fnmatch_lines(
        [
            "*dlqa_check('data'): * checks failed*",
            "*data.exact_duplicates [[]fail[]]*",
            "*cat/1.png*dog/copy.png*",
        ]
    )
    # Every run was stored in the project's store, like `dlqa check`.
    assert (root / ".dlqa" / "dlqa.db").is_file()
