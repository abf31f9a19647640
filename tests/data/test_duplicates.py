"""Exact groups, Hamming distance and exact near-duplicate search over 64-bit hashes."""

from __future__ import annotations

import io
from itertools import combinations
from pathlib import Path

import matplotlib
import numpy as np
import pyarrow as pa
import pytest
from PIL import Image, ImageDraw

from dlqa.core.errors import UsageError
from dlqa.data import duplicates, hash_index
from dlqa.data.duplicates import (
    covering_tables,
    designs,
    find_near_duplicate_pairs,
    hamming_distance,
    informative_bits_first,
    search_brute_force,
)
from dlqa.data.exact_groups import find_exact_groups
from dlqa.data.hash_index import BitPermutation, search_tables
from dlqa.data.probes.phash import perceptual_hash


def reference_pairs(hashes: list[int], max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs within max_distance, by Python ints and bin().count: the obvious way."""
    found = [
        (i, j, bin(hashes[i] ^ hashes[j]).count("1"))
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if bin(hashes[i] ^ hashes[j]).count("1") <= max_distance
    ]
    pairs = np.array([(i, j) for i, j, _ in found], dtype=np.int64).reshape(-1, 2)
    return pairs, np.array([d for _, _, d in found], dtype=np.int64)


def random_hashes_with_close_pairs(
    rng: np.random.Generator, n: int, max_distance: int
) -> np.ndarray:
    """Random hashes where a third of them are copies of others with 0..max_distance+2 flips."""
    hashes = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    for _ in range(n // 3):
        source, copy = rng.integers(0, n, 2)
        flips = rng.choice(64, size=int(rng.integers(0, max_distance + 3)), replace=False)
        hashes[copy] = hashes[source] ^ np.uint64(sum(1 << int(bit) for bit in flips))
    return hashes


# --- hamming_distance --------------------------------------------------------------------


def test_hamming_distance_counts_differing_bits() -> None:
    a = np.array([0, 0, 0b1011, (1 << 64) - 1, 1 << 63], dtype=np.uint64)
    b = np.array([0, 1, 0b0110, 0, 0], dtype=np.uint64)
    assert hamming_distance(a, b).tolist() == [0, 1, 3, 64, 1]


def test_hamming_distance_matches_python_on_random_values_and_broadcasts() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, np.iinfo(np.uint64).max, 200, dtype=np.uint64, endpoint=True)
    b = rng.integers(0, np.iinfo(np.uint64).max, 200, dtype=np.uint64, endpoint=True)
    expected = [bin(int(x) ^ int(y)).count("1") for x, y in zip(a, b, strict=True)]
    assert hamming_distance(a, b).tolist() == expected
    matrix = hamming_distance(a[:5, None], b[None, :7])
    assert matrix.shape == (5, 7)
    assert matrix[2, 4] == bin(int(a[2]) ^ int(b[4])).count("1")


def test_hamming_distance_reads_int64_bit_for_bit() -> None:
    as_unsigned = np.array([(1 << 64) - 1, 1 << 63], dtype=np.uint64)
    as_signed = as_unsigned.view(np.int64)  # -1 and -2**63
    assert hamming_distance(as_signed, np.zeros(2, dtype=np.uint64)).tolist() == [64, 1]


# --- find_exact_groups -------------------------------------------------------------------


def test_exact_groups_sorted_and_ordered_by_first_index() -> None:
    keys = ["b", "a", "c", "a", "b", "d", "a"]
    groups = find_exact_groups(keys)
    assert [group.tolist() for group in groups] == [[0, 4], [1, 3, 6]]


def test_exact_groups_ignore_missing_and_empty_keys() -> None:
    keys = [None, "x", "", None, "x", "", float("nan"), float("nan")]
    assert [group.tolist() for group in find_exact_groups(keys)] == [[1, 4]]


def test_exact_groups_from_numpy_and_arrow_arrays() -> None:
    assert [g.tolist() for g in find_exact_groups(np.array(["k", "j", "k"]))] == [[0, 2]]
    arrow = pa.array(["s", None, "s", None, "t"])
    assert [g.tolist() for g in find_exact_groups(arrow)] == [[0, 2]]
    assert find_exact_groups([]) == []


@pytest.mark.parametrize("seed", range(40))
def test_exact_groups_of_arrow_keys_match_the_plain_python_grouping(seed: int) -> None:
    # Equal-length keys are grouped by sorting their bytes, others with a hash table; both
    # must group exactly like the reference, across chunks, slices, nulls and empty keys.
    rng = np.random.default_rng(seed)
    values: list[str | None] = []
    for _ in range(int(rng.integers(0, 80))):
        draw = rng.random()
        if draw < 0.1:
            values.append(None)
        elif draw < 0.15:
            values.append("")
        else:
            values.append(f"{int(rng.integers(0, 8)):064x}")
    if seed % 3 == 0 and values:
        values[0] = "short"  # one other length: the hash-table path
    half = len(values) // 2
    expected = [group.tolist() for group in find_exact_groups(list(values))]
    chunked = pa.chunked_array([values[:half], values[half:]], type=pa.string())
    assert [g.tolist() for g in find_exact_groups(chunked)] == expected
    padded = pa.array(["x" * 64, *values], type=pa.string()).slice(1)  # an offset array
    assert [g.tolist() for g in find_exact_groups(padded)] == expected
    as_binary = pa.array([None if v is None else v.encode() for v in values], type=pa.binary())
    assert [g.tolist() for g in find_exact_groups(as_binary)] == expected


# --- find_near_duplicate_pairs: exactness ----------------------------------------------------


@pytest.mark.parametrize("max_distance", [0, 1, 2, 4, 6, 8, 10, 12, 16, 32])
def test_matches_brute_force_reference(max_distance: int) -> None:
    rng = np.random.default_rng(max_distance)
    hashes = random_hashes_with_close_pairs(rng, 240, max_distance)
    pairs, distances = find_near_duplicate_pairs(hashes, max_distance)
    expected_pairs, expected_distances = reference_pairs([int(h) for h in hashes], max_distance)
    assert len(expected_pairs) > 0
    np.testing.assert_array_equal(pairs, expected_pairs)
    np.testing.assert_array_equal(distances, expected_distances)
    assert pairs.dtype == np.int64 and pairs.shape[1] == 2


# --- the table search: designs, bit permutations, correlated bits --------------------------


def _as_triples(*arrays: np.ndarray) -> list[tuple]:
    return sorted(zip(*(array.tolist() for array in arrays), strict=True))


@pytest.mark.parametrize(
    ("sizes", "radii"),  # every branch of covering_vectors: affine, all vectors, more, random
    [((8,), (3,)), ((7,), (2,)), ((12,), (2,)), ((5,), (3,)), ((10,), (3,)), ((10, 14), (2, 1)),
     ((9, 7, 8), (1, 1, 0))],
)  # fmt: skip
def test_covering_tables_avoid_every_small_set_of_differing_bits(
    sizes: tuple[int, ...], radii: tuple[int, ...]
) -> None:
    # What makes the search exact, checked exhaustively on small groups: any set of at most
    # sum(radius + 1) - 1 differing bits leaves some table's key untouched.
    starts = np.cumsum((0, *sizes))
    groups = [(range(a, b), r) for a, b, r in zip(starts[:-1], starts[1:], radii, strict=True)]
    tables = np.array(covering_tables(groups), dtype=np.uint64)
    bits = int(starts[-1])
    differing = np.array(
        [sum(1 << b for b in chosen) for size in range(sum(radii) + len(radii))
         for chosen in combinations(range(bits), size)], dtype=np.uint64,
    )  # fmt: skip
    assert ((differing[:, None] & tables[None, :]) == 0).any(axis=1).all()


@pytest.mark.parametrize("max_distance", [1, 3, 6, 10])
@pytest.mark.parametrize("knobs", ["default", "tiny chunks, always compact", "listed pairs"])
def test_covering_designs_find_exactly_the_brute_force_pairs(
    max_distance: int, knobs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every design, bits shuffled, and the scan's ways through runs (chunk cuts, compaction,
    # pairs listed one by one): each pair exactly once.
    if knobs != "default":  # chunks shorter than some runs; compaction at every step
        monkeypatch.setattr(hash_index, "_CHUNK", 4)
        monkeypatch.setattr(hash_index, "_DENSE_STEP_FRACTION", 2.0)
    monkeypatch.setattr(hash_index, "_NS_PER_LISTED_PAIR", 0.0 if knobs == "listed pairs" else 32)
    rng = np.random.default_rng(100 + max_distance)
    distinct = np.unique(random_hashes_with_close_pairs(rng, 600, max_distance))
    expected = _as_triples(*search_brute_force(distinct, max_distance))
    assert len(expected) > 30
    for _, tables in designs(max_distance):
        if len(tables) <= 300:
            shuffled = BitPermutation(rng.permutation(64).tolist()).apply(distinct)
            found = search_tables(shuffled, max_distance, tables, threads=2)
            assert _as_triples(*found) == expected


def test_bit_permutations_move_each_bit_where_they_say() -> None:
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, np.iinfo(np.uint64).max, 300, dtype=np.uint64, endpoint=True)
    masks = [int(rng.integers(1, 1 << 62)) << 2, 0xFFFF_0F0F, 0xF0F0_0000_0000_0000, (1 << 64) - 1]
    permutations = [BitPermutation(rng.permutation(64).tolist())]
    permutations += [BitPermutation.key_first(mask) for mask in masks]
    assert [p.kept_half for p in permutations] == [None, None, 1, 0, 0]  # all bits: identity
    for permutation in permutations:
        moved = permutation.apply(hashes)
        assert moved.tolist() == [permutation.apply_to_int(int(h)) for h in hashes]
        np.testing.assert_array_equal(permutation.inverse().apply(moved), hashes)


def test_correlated_hashes_match_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    # pHashes of smooth random images and of noisy copies of some: correlated bits as real
    # images give (the DC bit always set), with close pairs
    rng, found_hashes = np.random.default_rng(3), []
    for number in range(1500):
        grid = rng.normal(128, 40, (4, 4)).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(grid, "L").resize((48, 48), Image.Resampling.BICUBIC)
        found_hashes.append(perceptual_hash(image))
        if number % 3 == 0:
            noisy = np.asarray(image, dtype=float) + rng.normal(0, 6, (48, 48))
            found_hashes.append(perceptual_hash(Image.fromarray(noisy.clip(0, 255).astype("u1"))))
    hashes = np.unique(np.array(found_hashes, dtype=np.uint64))
    constant = [b for b in range(64) if len(set(((hashes >> np.uint64(b)) & 1).tolist())) == 1]
    assert constant  # the DC bit
    expected = _as_triples(*search_brute_force(hashes, 10))
    assert len(expected) > 100
    for name, tables in designs(10):
        if len(tables) <= 300:
            permutation = informative_bits_first(hashes, tables)
            found = search_tables(permutation.apply(hashes), 10, tables)
            assert _as_triples(*found) == expected
            if name == "covering radii [5, 4]":  # a constant bit goes where no key reads it
                assert not any(m >> permutation.destination[constant[0]] & 1 for m in tables)
    stats = hash_index.last_search_stats()
    assert stats.pairs == len(expected) <= stats.found <= stats.candidates
    # the public function, made to use tables on so few hashes
    monkeypatch.setattr(duplicates, "_COST_PER_BRUTE_PAIR", 1e9)
    assert duplicates.plan_search(hashes, 10) is not None
    pairs, distances = find_near_duplicate_pairs(hashes, 10)
    assert _as_triples(pairs[:, 0], pairs[:, 1], distances) == expected


def test_large_input_uses_tables_and_finds_every_planted_pair() -> None:
    rng = np.random.default_rng(11)
    n, max_distance = 30_000, 6
    hashes = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    planted = rng.choice(n, size=(200, 2), replace=False)
    for number, (source, copy) in enumerate(planted):
        flips = rng.choice(64, size=number % (max_distance + 1), replace=False)
        hashes[copy] = hashes[source] ^ np.uint64(sum(1 << int(bit) for bit in flips))
    pairs, distances = find_near_duplicate_pairs(hashes, max_distance)
    found = {tuple(pair) for pair in pairs.tolist()}
    assert {tuple(sorted(pair)) for pair in planted.tolist()} <= found
    assert len(found) == len(pairs)  # no pair twice
    recomputed = hamming_distance(hashes[pairs[:, 0]], hashes[pairs[:, 1]])
    np.testing.assert_array_equal(distances, recomputed)
    assert distances.max() <= max_distance
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert np.all(np.diff(pairs[:, 0] * n + pairs[:, 1]) > 0)  # sorted lexicographically


def test_many_identical_hashes_expand_to_every_pair() -> None:
    base = 0x0123_4567_89AB_CDEF
    near = base ^ 0b111  # 3 bits away
    far = base ^ ((1 << 40) - 1)
    hashes = np.array([base] * 300 + [near] * 200 + [far] * 5, dtype=np.uint64)
    np.random.default_rng(0).shuffle(hashes)
    pairs, distances = find_near_duplicate_pairs(hashes, 4)
    expected_pairs, expected_distances = reference_pairs([int(h) for h in hashes], 4)
    assert len(pairs) == 300 * 299 // 2 + 200 * 199 // 2 + 300 * 200 + 5 * 4 // 2
    np.testing.assert_array_equal(pairs, expected_pairs)
    np.testing.assert_array_equal(distances, expected_distances)
    only_identical, _ = find_near_duplicate_pairs(hashes, 2)
    assert len(only_identical) == 300 * 299 // 2 + 200 * 199 // 2 + 5 * 4 // 2


def test_samples_without_hash_are_ignored() -> None:
    hashes = np.array([5, 5, 5, 6, 1 << 50], dtype=np.uint64)
    valid = np.array([True, False, True, True, True])
    pairs, distances = find_near_duplicate_pairs(hashes, 2, valid=valid)
    assert pairs.tolist() == [[0, 2], [0, 3], [2, 3]]
    assert distances.tolist() == [0, 2, 2]
    with_none, _ = find_near_duplicate_pairs([5, None, 5, 6, 1 << 50], 2)
    assert with_none.tolist() == [[0, 2], [0, 3], [2, 3]]
    arrow = pa.array([5, None, 5, 6, 1 << 50], type=pa.uint64())
    assert find_near_duplicate_pairs(arrow, 2)[0].tolist() == [[0, 2], [0, 3], [2, 3]]


def test_int64_hashes_are_read_bit_for_bit() -> None:
    unsigned = np.array([(1 << 64) - 1, (1 << 64) - 2, 0], dtype=np.uint64)
    pairs, distances = find_near_duplicate_pairs(unsigned.view(np.int64), 1)
    assert pairs.tolist() == [[0, 1]] and distances.tolist() == [1]


def test_empty_and_single_inputs() -> None:
    for hashes in (np.array([], dtype=np.uint64), np.array([7], dtype=np.uint64)):
        pairs, distances = find_near_duplicate_pairs(hashes)
        assert pairs.shape == (0, 2) and distances.shape == (0,)


@pytest.mark.parametrize("bad", [-1, 33, 2.5, True, "8", None])
def test_bad_distance_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="max_distance"):
        find_near_duplicate_pairs(np.arange(4, dtype=np.uint64), bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hashes", "message"),
    [
        (np.array([1.0, 2.0]), "dtype float64"),
        (np.zeros((2, 2), dtype=np.uint64), "1-D"),
        (np.array([-1, 3], dtype=np.int32), "negative"),
        (np.array(["a", "b"]), "dtype <U1"),
        ([1, "b"], r"hashes\[1\]"),
        ([1, 1 << 64], "does not fit"),
    ],
)
def test_bad_hashes_are_rejected_with_a_usage_error(hashes: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        find_near_duplicate_pairs(hashes)  # type: ignore[arg-type]


def test_bad_valid_mask_is_rejected() -> None:
    with pytest.raises(ValueError, match="valid must be a boolean array"):
        find_near_duplicate_pairs(np.arange(4, dtype=np.uint64), valid=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="valid must be a boolean array"):
        find_near_duplicate_pairs(np.arange(4, dtype=np.uint64), valid=np.ones(4))


# --- real images through perceptual_hash -----------------------------------------------------


def _photo_quadrants() -> list[Image.Image]:
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(array) for array in load_sample_images().images]
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    photos.append(Image.open(hopper).convert("RGB"))
    quadrants = []
    for photo in photos:
        w, h = photo.size
        for box in [(0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h)]:
            quadrants.append(photo.crop(box))
        quadrants.append(photo.crop((w // 2, h // 2, w, h)))
    return quadrants


def _texture(rng: np.random.Generator, width: int = 160, height: int = 120) -> Image.Image:
    """1/f noise mapped to colours: cloud- or terrain-like."""
    radius = np.hypot(np.fft.rfftfreq(width)[None, :], np.fft.fftfreq(height)[:, None])
    radius[0, 0] = 1.0
    spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius**1.25
    spectrum[0, 0] = 0
    values = np.fft.irfft2(spectrum, s=(height, width))
    values = (values - values.min()) / (values.max() - values.min())
    rgb = np.stack([values, values**2, 1 - values], axis=-1) * 255 * rng.uniform(0.5, 1, 3)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def _shapes(rng: np.random.Generator, width: int = 200, height: int = 150) -> Image.Image:
    image = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        hw, hh = rng.uniform(0.05, 0.25) * width, rng.uniform(0.05, 0.25) * height
        box = (int(cx - hw), int(cy - hh), int(cx + hw), int(cy + hh))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image


def _resize_90(image: Image.Image) -> Image.Image:
    size = (round(image.width * 0.9), round(image.height * 0.9))
    return image.resize(size, Image.Resampling.LANCZOS)


def _jpeg_q60(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _brighter_10(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16) + 26  # +10 % of 255
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


def _border_crop_2_5(image: Image.Image) -> Image.Image:
    dx, dy = round(image.width * 0.025), round(image.height * 0.025)
    return image.crop((dx, dy, image.width - dx, image.height - dy))  # kept at the smaller size


TRANSFORMS = {
    "resize_90": _resize_90,
    "jpeg_q60": _jpeg_q60,
    "brightness_+10%": _brighter_10,
    "border_crop_2.5%": _border_crop_2_5,
}


def test_planted_copies_of_each_kind_found_among_unrelated_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    originals = _photo_quadrants() + [_texture(rng) for _ in range(4)]
    originals += [_shapes(rng) for _ in range(4)]
    # Files on disk, shuffled, as a dataset would hold them: originals and copies mixed.
    entries = [(index, "original", image) for index, image in enumerate(originals)]
    for index, image in enumerate(originals):
        entries += [(index, name, transform(image)) for name, transform in TRANSFORMS.items()]
    order = rng.permutation(len(entries))
    families, kinds, hashes = [], [], []
    for position, entry_index in enumerate(order):
        family, kind, image = entries[entry_index]
        path = tmp_path / f"{position:03d}.png"
        image.convert("RGB").save(path)
        with Image.open(path) as reloaded:
            hashes.append(perceptual_hash(reloaded))
        families.append(family)
        kinds.append(kind)

    pairs, _ = find_near_duplicate_pairs(np.array(hashes, dtype=np.uint64))
    families_arr = np.array(families)
    assert np.all(families_arr[pairs[:, 0]] == families_arr[pairs[:, 1]]), "unrelated pair found"
    found = {tuple(pair) for pair in pairs.tolist()}
    original_at = {
        f: p for p, (f, k) in enumerate(zip(families, kinds, strict=True)) if k == "original"
    }
    for position, (family, kind) in enumerate(zip(families, kinds, strict=True)):
        if kind != "original":
            pair = tuple(sorted((original_at[family], position)))
            assert pair in found, f"{kind} copy of image {family} missed"
