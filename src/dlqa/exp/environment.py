"""The environment a run ran in, as data, and how two of them differ.

A baseline measured on other hardware or another torch/CUDA build is not a baseline for a
change of code: the difference between the groups may be the environment's. The fingerprint
is recorded with every run (``provenance["environment"]``) and ``exp.baseline_fresh`` reads
``environment_diff`` of the two groups' fingerprints.

It is cheap and side-effect free: torch is never imported for it (that costs a second and may
initialise CUDA in a process that forks workers later). The torch, CUDA and cuDNN versions come
from the installed distributions' metadata; what only a live torch knows (its CUDA build, the
cuDNN it loaded, the device names) is added under ``torch_runtime`` when the caller imported
torch already, and is left out of the fingerprint's ``sha256`` so that the hash does not depend
on whether torch happened to be imported. Hardware is probed once per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import distributions
from typing import Any

NVIDIA_SMI_TIMEOUT_S = 3
PACKAGE_LINES_MAX = 20
MEMORY_TOLERANCE = 0.05  # identical machines report slightly different totals
# Compared first (and always named) in environment_diff; torch has lines of its own.
KEY_PACKAGES = (
    "dlqa", "numpy", "scipy", "torchvision", "torchaudio", "triton", "onnx", "onnxruntime",
    "onnxruntime-gpu", "tensorrt", "pillow", "opencv-python", "opencv-python-headless",
    "scikit-learn", "pandas", "transformers", "timm", "lightning", "pytorch-lightning",
    "tensorflow", "jax", "jaxlib",
)  # fmt: skip


def environment_fingerprint() -> dict[str, Any]:
    """Python, OS, host, CPU, memory, GPUs, torch/CUDA/cuDNN and every installed distribution.

    ``sha256`` covers what makes two environments give different numbers: the Python version
    and implementation, OS and machine type, CPU model and count, GPU models and driver, the
    torch/CUDA/cuDNN versions and the distributions; not the host name, the kernel release or
    the memory total, which differ between interchangeable machines.
    """
    dists = installed_distributions()
    hardware = _hardware()
    fingerprint: dict[str, Any] = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "os": {
            "platform": platform.platform(),
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "host": socket.gethostname(),
        "cpu": {"model": hardware["cpu_model"], "count": os.cpu_count()},
        "memory_bytes": hardware["memory_bytes"],
        "gpus": hardware["gpus"],
        "torch": _torch_versions(dists),
        "torch_runtime": _torch_runtime(),
        "distributions": dists,
        "distributions_sha256": _sha256(dists),
    }
    key = {
        "python": [fingerprint["python"]["version"], fingerprint["python"]["implementation"]],
        "os": [fingerprint["os"]["system"], fingerprint["os"]["machine"]],
        "cpu": fingerprint["cpu"],
        "gpus": [[g.get("name"), g.get("driver")] for g in fingerprint["gpus"] or []],
        "torch": fingerprint["torch"],
        "distributions": fingerprint["distributions_sha256"],
    }
    fingerprint["sha256"] = _sha256(key)
    return fingerprint


def environment_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The differences between two fingerprints that matter to a comparison, one line each
    ("torch: 2.3.1 -> 2.4.0"): hardware first, then torch/CUDA/cuDNN, Python and the OS, then
    packages (the key ones first, at most PACKAGE_LINES_MAX lines), the host last (so that a
    caller that allows another host of the same kind can drop it). Empty when they match; a
    side without a fingerprint is one line, as nothing can be compared."""
    if not a or not b:
        return [] if not a and not b else ["environment: recorded for one side only"]
    lines: list[str] = []

    def add(label: str, x: Any, y: Any) -> None:
        if x != y:
            lines.append(f"{label}: {_text(x)} -> {_text(y)}")

    cpu_a, cpu_b = a.get("cpu") or {}, b.get("cpu") or {}
    add("CPU model", cpu_a.get("model"), cpu_b.get("model"))
    add("CPU count", cpu_a.get("count"), cpu_b.get("count"))
    gpus_a, gpus_b = a.get("gpus"), b.get("gpus")
    if gpus_a is not None and gpus_b is not None:  # None: could not be queried
        add("GPU", _gpu_field(gpus_a, "name"), _gpu_field(gpus_b, "name"))
        add("GPU driver", _gpu_field(gpus_a, "driver"), _gpu_field(gpus_b, "driver"))
    mem_a, mem_b = a.get("memory_bytes"), b.get("memory_bytes")
    if mem_a and mem_b and abs(mem_a - mem_b) > MEMORY_TOLERANCE * max(mem_a, mem_b):
        add("memory", f"{mem_a / 2**30:.1f} GiB", f"{mem_b / 2**30:.1f} GiB")
    torch_a, torch_b = a.get("torch") or {}, b.get("torch") or {}
    for key, label in (("version", "torch"), ("cuda", "CUDA"), ("cudnn", "cuDNN")):
        add(label, torch_a.get(key), torch_b.get(key))
    run_a, run_b = a.get("torch_runtime"), b.get("torch_runtime")
    if run_a and run_b:  # only when both processes had torch imported
        add("CUDA (torch build)", run_a.get("cuda"), run_b.get("cuda"))
        add("cuDNN (loaded)", run_a.get("cudnn"), run_b.get("cudnn"))
    py_a, py_b = a.get("python") or {}, b.get("python") or {}
    add(
        "python",
        _joined(py_a, "implementation", "version"),
        _joined(py_b, "implementation", "version"),
    )
    os_a, os_b = a.get("os") or {}, b.get("os") or {}
    add("OS", _joined(os_a, "system", "machine"), _joined(os_b, "system", "machine"))
    lines += _package_lines(a.get("distributions") or {}, b.get("distributions") or {})
    add("host", a.get("host"), b.get("host"))
    return lines


def installed_distributions() -> dict[str, str]:
    """Normalised name (PEP 503) -> version of every installed distribution, sorted; the first
    one found on sys.path wins, as it does for imports."""
    found: dict[str, str] = {}
    for dist in distributions():
        try:
            name, dist_version = dist.metadata["Name"], dist.version
        except Exception:  # a broken .dist-info must not hide the others
            continue
        if name:
            found.setdefault(_normalise(name), str(dist_version))
    return dict(sorted(found.items()))


def _package_lines(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    differ = {name for name in set(a) | set(b) if a.get(name) != b.get(name)} - {"torch"}
    ordered = [n for n in KEY_PACKAGES if n in differ] + sorted(differ - set(KEY_PACKAGES))
    lines = [
        f"package {name}: {a.get(name, 'not installed')} -> {b.get(name, 'not installed')}"
        for name in ordered[:PACKAGE_LINES_MAX]
    ]
    if len(ordered) > PACKAGE_LINES_MAX:
        lines.append(f"... and {len(ordered) - PACKAGE_LINES_MAX} more packages differ")
    return lines


def _torch_versions(dists: Mapping[str, str]) -> dict[str, str | None] | None:
    """torch's version, and the CUDA and cuDNN it was built for, from metadata alone: a
    "+cu121" local version, else the nvidia-* runtime wheels that pip installs with it."""
    torch_version = dists.get("torch")
    if torch_version is None:
        return None
    cuda = None
    local = re.search(r"\+cu(\d+)(\d)$", torch_version)
    if local:
        cuda = f"{local.group(1)}.{local.group(2)}"
    elif "+cpu" not in torch_version:
        cuda = _first(dists, "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11")
    cudnn = _first(dists, "nvidia-cudnn-cu12", "nvidia-cudnn-cu11")
    return {"version": torch_version, "cuda": cuda, "cudnn": cudnn}


def _torch_runtime() -> dict[str, Any] | None:
    """What a live torch knows, only when the process imported it already; device names only
    when CUDA is initialised already (asking would initialise it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    info: dict[str, Any] = {"version": None, "cuda": None, "cudnn": None, "devices": None}
    try:
        info["version"] = str(torch.__version__)
        info["cuda"] = torch.version.cuda
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        info["cudnn"] = None if cudnn is None else str(cudnn)
        if torch.cuda.is_initialized():
            count = torch.cuda.device_count()
            info["devices"] = [torch.cuda.get_device_name(i) for i in range(count)]
    except Exception:  # a partial or odd torch: keep what was read
        pass
    return info


@functools.lru_cache(maxsize=1)
def _hardware() -> dict[str, Any]:
    return {"cpu_model": _cpu_model(), "memory_bytes": _memory_bytes(), "gpus": _nvidia_gpus()}


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _nvidia_gpus() -> list[dict[str, Any]] | None:
    """[] without nvidia-smi (no NVIDIA GPU, or none visible); None when it did not answer."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run(
            [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return parse_nvidia_smi(done.stdout)


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """The GPUs of ``nvidia-smi --query-gpu=name,driver_version,memory.total
    --format=csv,noheader,nounits`` output."""
    gpus = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 3 or not parts[0]:
            continue
        try:
            memory: int | None = int(float(parts[2]))
        except ValueError:
            memory = None
        gpus.append({"name": parts[0], "driver": parts[1], "memory_mib": memory})
    return gpus


def _gpu_field(gpus: list[Mapping[str, Any]], key: str) -> list[Any]:
    return sorted(str(g.get(key)) for g in gpus)


def _joined(values: Mapping[str, Any], *keys: str) -> str | None:
    parts = [str(values[k]) for k in keys if values.get(k)]
    return " ".join(parts) or None


def _first(dists: Mapping[str, str], *names: str) -> str | None:
    return next((dists[n] for n in names if n in dists), None)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


__all__ = [
    "environment_diff",
    "environment_fingerprint",
    "installed_distributions",
    "parse_nvidia_smi",
]
