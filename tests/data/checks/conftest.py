import pyarrow as pa
import pytest

from dlqa.data.context import DataProfile
from dlqa.data.modalities import IMAGE, profile_schema

PROFILE_SCHEMA = profile_schema(IMAGE, [])

# A healthy decoded sample; tests override the columns they care about.
HEALTHY = {
    "path": None, "split": None, "file_size": 1000, "error": None, "error_detail": None,
    "ext_format": "jpeg", "actual_format": "jpeg", "format_mismatch": False, "width": 256,
    "height": 256, "aspect_ratio": 1.0, "mode": "RGB", "channels": 3, "colorfulness": 40.0,
    "is_grayscale": False, "brightness": 120.0, "contrast": 50.0, "sharpness": 300.0,
    "entropy": 7.0,
}  # fmt: skip


def build_profile(rows: list[dict]) -> DataProfile:
    full = []
    for index, row in enumerate(rows):
        sample = {**HEALTHY, "index": index, "sha256": f"sha{index}", "phash": None}
        sample.update(row)
        sample.setdefault("label", "cat")
        # Distinct, far-apart hashes by default so nothing is a near-duplicate by accident.
        if sample["phash"] is None and sample["error"] is None:
            sample["phash"] = (0x9E3779B97F4A7C15 * (index + 1)) % (1 << 64)
        if sample["phash"] is not None and "phash_center" not in row:
            # 32 bits away from every full hash near this one: no crop match by accident
            sample["phash_center"] = sample["phash"] ^ 0xFFFF_0000_FFFF_0000
        full.append(sample)
    columns = {name: [r.get(name) for r in full] for name in PROFILE_SCHEMA.names}
    return DataProfile(pa.table(columns, schema=PROFILE_SCHEMA), source="test")


@pytest.fixture
def make_profile():
    return build_profile
