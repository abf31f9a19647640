"""The environment fingerprint and its diff: what makes a baseline "foreign" to a candidate."""

from __future__ import annotations

import copy
import sys

from dlqa.exp.environment import (
    environment_diff,
    environment_fingerprint,
    installed_distributions,
    parse_nvidia_smi,
)


def test_the_fingerprint_of_this_process() -> None:
    env = environment_fingerprint()
    assert env["python"]["version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert env["cpu"]["count"] and env["host"] and env["os"]["system"]
    assert env["distributions"]["dlqa"] and env["distributions"] == installed_distributions()
    assert list(env["distributions"]) == sorted(env["distributions"])
    assert len(env["distributions_sha256"]) == 64 and len(env["sha256"]) == 64
    assert environment_fingerprint()["sha256"] == env["sha256"]  # stable within a process
    assert environment_diff(env, copy.deepcopy(env)) == []


def test_the_hash_ignores_the_host_and_the_runtime_but_not_packages() -> None:
    env = environment_fingerprint()
    env["torch_runtime"] = None  # as without torch imported (the suite may have imported it)
    other = copy.deepcopy(env)
    other["host"] = "elsewhere"
    other["torch_runtime"] = {"cuda": "12.1"}  # known on one side only: not compared
    assert environment_diff(env, other) == ["host: " + env["host"] + " -> elsewhere"]


def fingerprint(**changes) -> dict:
    env = {
        "python": {"version": "3.11.7", "implementation": "CPython"},
        "os": {"system": "Linux", "machine": "x86_64", "release": "6.1"},
        "host": "a",
        "cpu": {"model": "AMD EPYC", "count": 16},
        "memory_bytes": 128 * 2**30,
        "gpus": [{"name": "NVIDIA H200", "driver": "550.54", "memory_mib": 143771}],
        "torch": {"version": "2.3.1", "cuda": "12.1.105", "cudnn": "8.9.2.26"},
        "torch_runtime": None,
        "distributions": {"dlqa": "0.1", "numpy": "1.26.4", "torch": "2.3.1", "zzz": "1"},
    }
    for key, value in changes.items():
        env[key] = value
    return env


def test_the_differences_come_hardware_first_then_torch_then_packages() -> None:
    a = fingerprint()
    b = fingerprint(
        host="b",
        cpu={"model": "Intel Xeon", "count": 16},
        gpus=[{"name": "NVIDIA A100", "driver": "550.54"}],
        memory_bytes=int(127.5 * 2**30),  # within the tolerance
        torch={"version": "2.4.0", "cuda": "12.1.105", "cudnn": "9.1.0"},
        distributions={"dlqa": "0.1", "numpy": "2.0.0", "torch": "2.4.0", "aaa": "3"},
        os={"system": "Linux", "machine": "x86_64", "release": "6.8"},  # a kernel update
    )
    assert environment_diff(a, b) == [
        "CPU model: AMD EPYC -> Intel Xeon",
        "GPU: NVIDIA H200 -> NVIDIA A100",
        "torch: 2.3.1 -> 2.4.0",
        "cuDNN: 8.9.2.26 -> 9.1.0",
        "package numpy: 1.26.4 -> 2.0.0",  # a key package before the others
        "package aaa: not installed -> 3",
        "package zzz: 1 -> not installed",
        "host: a -> b",
    ]


def test_gpus_that_could_not_be_queried_are_not_a_difference() -> None:
    assert environment_diff(fingerprint(), fingerprint(gpus=None)) == []
    assert environment_diff(fingerprint(), fingerprint(gpus=[])) == [
        "GPU: NVIDIA H200 -> none",
        "GPU driver: 550.54 -> none",
    ]


def test_many_package_differences_are_capped() -> None:
    many = {f"pkg{i:02d}": "1" for i in range(30)}
    lines = environment_diff(
        fingerprint(), fingerprint(distributions={**fingerprint()["distributions"], **many})
    )
    assert len(lines) == 21 and lines[-1] == "... and 10 more packages differ"


def test_a_side_without_a_fingerprint() -> None:
    assert environment_diff({}, {}) == []
    assert environment_diff(fingerprint(), {}) == ["environment: recorded for one side only"]


def test_nvidia_smi_output() -> None:
    text = "NVIDIA H200, 550.54.15, 143771\nNVIDIA H200, 550.54.15, [N/A]\n\n"
    assert parse_nvidia_smi(text) == [
        {"name": "NVIDIA H200", "driver": "550.54.15", "memory_mib": 143771},
        {"name": "NVIDIA H200", "driver": "550.54.15", "memory_mib": None},
    ]
