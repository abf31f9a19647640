"""Features for data.label_errors's own model, the k-fold out-of-fold linear model, and the
nearest-neighbour label vote on features or embeddings.

Confident learning needs, for every sample, class probabilities from a model that did not see
that sample. When the user has none, dlqa makes them: cheap features per modality (images:
colour and gradient statistics of a small thumbnail; text: TF-IDF; audio: log-mel band
statistics), then a k-fold logistic regression. The features are deliberately simple: the
check only needs a model good enough to disagree with a wrong label, and it must stay fast
enough to be worth switching on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from PIL import Image
from scipy import sparse

from dlqa.sources.base import Sample

THUMBNAIL = 32  # side of the thumbnail the image features are computed on
TINY = 8  # side of the downsampled grey image kept as features
ORIENTATION_BINS = 8
N_MELS = 40
MEL_MAX_HZ = 8000.0  # one band layout for every sample rate (16 kHz clips reach 8 kHz)
TOP_DB = 80.0  # dynamic range of the log-mel bands kept below the loudest
MAX_AUDIO_SECONDS = 30.0  # longer clips: their first 30 s describe them well enough
MAX_TEXT_CHARS = 20_000
FOLDS = 5  # k of the k-fold cross-validation: each model trains on 80 % of the samples
MAX_REFERENCE = 20_000  # rows the neighbour search compares each row with, at most

ProgressCallback = Callable[[int], None]


# ------------------------------------------------------------------ images


def _thumbnail(sample: Sample) -> Image.Image:
    """The sample as a small RGB image. JPEG decodes at a reduced scale (``draft``): the
    features need 32 pixels a side, not the full frame."""
    if sample.array is not None:
        array = np.asarray(sample.array)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        return _small_rgb(Image.fromarray(array.astype(np.uint8, copy=False)))
    if sample.path is None:
        raise ValueError("the sample has no image")
    with Image.open(sample.path) as image:  # closed here: a dataset is many files
        if image.format == "JPEG":
            image.draft("RGB", (2 * THUMBNAIL, 2 * THUMBNAIL))
        return _small_rgb(image)


def _small_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        # Alpha over white, as a viewer shows it (black would turn icons into squares).
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    image = image.convert("RGB")
    return image.resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR)


def image_features(rgb: np.ndarray) -> np.ndarray:
    """Colour and gradient features of a (THUMBNAIL, THUMBNAIL, 3) uint8 image: channel means
    and spreads, a hue histogram weighted by saturation, saturation and value histograms, a
    gradient-orientation histogram per image quadrant (a small HOG), and an 8 x 8 grey
    image."""
    x = rgb.astype(np.float32) / 255.0
    grey = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    high, low = x.max(axis=2), x.min(axis=2)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    hue = _hue(x, high, chroma)
    colour = [x.mean(axis=(0, 1)), x.std(axis=(0, 1))]
    # Bins centred on red, yellow, ...: a red jittered by JPEG must not flip between the
    # first and the last bin.
    hue_bins = ((hue * 8 + 0.5) % 8).astype(int).clip(0, 7)
    hue_hist = np.bincount(hue_bins.ravel(), weights=saturation.ravel(), minlength=8) / grey.size
    sat_hist = np.histogram(saturation, bins=4, range=(0, 1))[0] / grey.size
    val_hist = np.histogram(high, bins=4, range=(0, 1))[0] / grey.size
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    # Unsigned orientation (0-180 degrees): an edge is the same edge light-to-dark or back.
    angle = (np.arctan2(gy, gx) % np.pi) / np.pi
    bins = (angle * ORIENTATION_BINS).astype(int).clip(0, ORIENTATION_BINS - 1)
    half = THUMBNAIL // 2
    hog = []
    for rows in (slice(0, half), slice(half, None)):
        for cols in (slice(0, half), slice(half, None)):
            hist = np.bincount(
                bins[rows, cols].ravel(),
                weights=magnitude[rows, cols].ravel(),
                minlength=ORIENTATION_BINS,
            )
            hog.append(hist / (hist.sum() + 1e-6))
    step = THUMBNAIL // TINY
    tiny = grey.reshape(TINY, step, TINY, step).mean(axis=(1, 3)).ravel()
    edges = [magnitude.mean(), magnitude.std()]
    return np.concatenate([*colour, hue_hist, sat_hist, val_hist, *hog, tiny, edges]).astype(
        np.float32
    )


def _hue(x: np.ndarray, high: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Hue in 0..1 (0 where there is no colour)."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(
        high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    return np.where(chroma > 0, hue / 6.0, 0.0)


# ------------------------------------------------------------------ audio


def _waveform(sample: Sample) -> tuple[np.ndarray, int]:
    """The sample's first MAX_AUDIO_SECONDS as mono float32, and its rate."""
    import soundfile as sf

    if sample.array is not None:
        if not sample.sample_rate:
            raise ValueError("an in-memory clip without a sample rate")
        x, rate = np.asarray(sample.array), int(sample.sample_rate)
        x = x[: int(MAX_AUDIO_SECONDS * rate)]
        if x.dtype.kind in "iu":
            scale = 128.0 if x.dtype == np.uint8 else float(2 ** (8 * x.dtype.itemsize - 1))
            x = (x.astype(np.float32) - (128.0 if x.dtype == np.uint8 else 0.0)) / scale
    elif sample.path is not None:
        with sf.SoundFile(sample.path) as clip:
            rate = clip.samplerate
            x = clip.read(frames=int(MAX_AUDIO_SECONDS * rate), dtype="float32", always_2d=True)
    else:
        raise ValueError("the sample has no audio")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if not len(x):
        raise ValueError("the clip is empty")
    return x, rate


def mel_filterbank(rate: int, n_fft: int, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular mel filters (n_mels, n_fft // 2 + 1) from 0 Hz to MEL_MAX_HZ (or Nyquist)."""
    top = min(MEL_MAX_HZ, rate / 2)

    def mel(hz: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    points = 700.0 * (10 ** (np.linspace(0.0, mel(top), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = points[:-2, None], points[1:-1, None], points[2:, None]
    rising = (freqs - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - freqs) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling))


def audio_features(x: np.ndarray, rate: int) -> np.ndarray:
    """Log-mel statistics of a mono clip: per band the mean and spread over time, the spread
    of the frame-to-frame change (how the sound moves), and the clip's level and length."""
    # 32 ms windows (any length: numpy's FFT does not need a power of two), hop a quarter: the
    # same time and frequency resolution at every sample rate.
    n_fft = 2 * max(8, int(round(0.016 * rate)))
    hop = n_fft // 4
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    count = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(count, n_fft), strides=(x.strides[0] * hop, x.strides[0])
    )
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    mel = np.log(spectrum @ mel_filterbank(rate, n_fft).T + 1e-10)
    # 80 dB of dynamic range below the clip's loudest band, as spectrograms are usually shown:
    # what lies deeper (a window's leakage, 16-bit quantisation) is inaudible, not a class cue.
    mel = np.maximum(mel, mel.max() - TOP_DB * np.log(10) / 10)
    # Level-free band shape: a quiet and a loud clip of the same sound describe the same class
    # (the spectrum's scale also grows with the window, so the level comes from the samples).
    delta = np.diff(mel, axis=0) if count > 1 else np.zeros((1, mel.shape[1]))
    level = np.log(np.mean(np.square(x, dtype=np.float64)) + 1e-10)
    return np.concatenate(
        [mel.mean(axis=0) - mel.mean(), mel.std(axis=0), delta.std(axis=0),
         [level, np.log(len(x) / rate + 1e-3)]]
    ).astype(np.float32)  # fmt: skip


# ------------------------------------------------------------------ text


def _text(sample: Sample) -> str:
    value: Any = sample.text
    if value is None and sample.path is not None:
        with open(sample.path, "rb") as handle:
            value = handle.read(4 * MAX_TEXT_CHARS)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8-sig", errors="replace")
    if not isinstance(value, str):
        raise ValueError("the sample has no text")
    return value[:MAX_TEXT_CHARS]


def text_features(texts: list[str]) -> sparse.csr_matrix:
    """TF-IDF of word unigrams and bigrams plus character 3-5-grams (within word bounds),
    sublinear counts, rows L2-normalised. Characters catch what words miss (inflections,
    identifiers, short texts)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    common = {"sublinear_tf": True, "min_df": 2, "max_df": 0.9, "dtype": np.float32}
    words = TfidfVectorizer(ngram_range=(1, 2), max_features=50_000, **common)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), max_features=50_000, **common)
    blocks = []
    for vectorizer in (words, chars):
        try:
            blocks.append(vectorizer.fit_transform(texts))
        except ValueError:  # no term kept (too few texts, all empty): no block
            continue
    if not blocks:
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
    stacked = sparse.hstack(blocks).tocsr()
    norms = np.sqrt(np.asarray(stacked.multiply(stacked).sum(axis=1))).ravel()
    return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ stacked


# ------------------------------------------------------------------ extraction


def extract_features(
    samples: Iterable[Sample], modality: str, on_progress: ProgressCallback | None = None
) -> tuple[list[str], np.ndarray | sparse.csr_matrix, np.ndarray]:
    """(sample ids, features, decoded) of every sample, in order. Features are a dense
    (n, d) float32 array for images and audio (NaN rows where a sample did not decode) and a
    sparse TF-IDF matrix for text (empty rows there); ``decoded`` says which rows hold
    features."""
    ids: list[str] = []
    rows: list[np.ndarray | None] = []
    texts: list[str] = []
    for sample in samples:
        ids.append(sample.sample_id)
        try:
            if modality == "text":
                texts.append(_text(sample))
                rows.append(None)
            elif modality == "audio":
                rows.append(audio_features(*_waveform(sample)))
            else:
                rows.append(image_features(np.asarray(_thumbnail(sample))))
        except Exception:  # any decoding failure: the sample gets no features
            if modality == "text":
                texts.append("")
            rows.append(np.empty(0))
        if on_progress is not None:
            on_progress(1)
    if modality == "text":
        decoded = np.array([row is None for row in rows], dtype=bool)
        decoded &= np.array([bool(t.strip()) for t in texts], dtype=bool)
        return ids, text_features(texts), decoded
    width = max((len(row) for row in rows if row is not None), default=0)
    features = np.full((len(rows), width), np.nan, dtype=np.float32)
    for i, row in enumerate(rows):
        if row is not None and len(row) == width:
            features[i] = row
    decoded = np.isfinite(features).all(axis=1) if width else np.zeros(len(rows), dtype=bool)
    return ids, features, decoded


# ------------------------------------------------------------------ the model


def out_of_fold_probs(
    features: np.ndarray | sparse.spmatrix,
    labels: np.ndarray,
    n_classes: int,
    *,
    folds: int = FOLDS,
    seed: int = 0,
    regularisation: float = 1.0,
) -> np.ndarray:
    """(n, n_classes) class probabilities, each row from a logistic regression fitted on the
    other folds (stratified). Rows with label -1, or of a class with fewer samples than
    ``folds`` (too few to both train on and be judged), are not predicted: NaN. Dense
    features are standardised per fold on the training part."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.full((len(labels), n_classes), np.nan)
    counts = np.bincount(labels[labels >= 0], minlength=n_classes)
    usable = (labels >= 0) & (counts[np.maximum(labels, 0)] >= folds)
    rows = np.flatnonzero(usable)
    if len(np.unique(labels[rows])) < 2:
        return probs
    x_all = features[rows] if sparse.issparse(features) else np.asarray(features)[rows]
    y_all = labels[rows]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(rows)), y_all):
        x_train, x_test = x_all[train], x_all[test]
        if not sparse.issparse(x_train):
            scaler = StandardScaler().fit(x_train)
            x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
        model = LogisticRegression(C=regularisation, max_iter=300)
        # One BLAS thread: on these small matrices more threads only contend (measured: a
        # 720 x 120 fit took 3.1 s with the default threads on 2 cores, 0.07 s with one).
        # A fit that stops at max_iter is still a usable model for ranking labels.
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y_all[train])
        fold = np.zeros((len(test), n_classes))
        fold[:, model.classes_] = model.predict_proba(x_test)
        probs[rows[test]] = fold
    return probs


# ------------------------------------------------------------------ neighbours


def nearest_neighbours(features: Any, k: int, max_reference: int = MAX_REFERENCE) -> np.ndarray:
    """(n, k) indices of each row's k nearest other rows by cosine distance. Dense features
    are standardised first (so that no single large-valued feature decides). Beyond
    ``max_reference`` rows the neighbours come from that many rows drawn at random (seeded):
    the search costs n x reference, and a neighbour vote needs a fair sample of each class,
    not every sample."""
    from sklearn.neighbors import NearestNeighbors

    if not sparse.issparse(features):
        features = np.asarray(features, dtype=np.float64)
        spread = features.std(axis=0)
        features = (features - features.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    n = features.shape[0]
    reference = np.arange(n)
    if n > max_reference:
        reference = np.sort(np.random.default_rng(0).choice(n, max_reference, replace=False))
    k = min(k, len(reference) - 1)
    search = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute")
    _, found = search.fit(features[reference]).kneighbors(features)
    found = reference[found]
    # Drop each row itself where it is among its matches (an exact duplicate may come first
    # instead), else the farthest match.
    own = found == np.arange(n)[:, None]
    first = own & (np.cumsum(own, axis=1) == 1)
    first[~own.any(axis=1), -1] = True
    return found[~first].reshape(n, k)


def neighbour_label_probs(
    neighbours: np.ndarray, labels: np.ndarray, n_classes: int, prior_weight: float = 0.1
) -> np.ndarray:
    """Per row, the label distribution of its neighbours, smoothed towards the class
    frequencies by ``prior_weight`` pseudo-neighbours: a k-nearest-neighbour classifier that,
    like an out-of-fold model, never sees the row's own label. The smoothing is light (0.1
    of a neighbour): a whole pseudo-neighbour kept a label that no neighbour shares at about
    prior / (k + 1), which capped how outright the combined vote could contradict it (F1 was
    the same with either on the benchmark sets)."""
    n, k = neighbours.shape
    counts = np.zeros((n, n_classes))
    np.add.at(counts, (np.repeat(np.arange(n), k), labels[neighbours].ravel()), 1.0)
    prior = np.bincount(labels, minlength=n_classes) / max(len(labels), 1)
    return (counts + prior_weight * prior) / (k + prior_weight)


def neighbour_consistency(neighbours: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per row, the fraction of its neighbours that carry the same label (1: all agree)."""
    return (labels[neighbours] == labels[:, None]).mean(axis=1)


def neighbour_vote(
    features: Any, rows: np.ndarray, labels: np.ndarray, n_classes: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The neighbour vote on the ``rows`` of ``features`` (dense with NaN rows, or sparse)
    whose ``labels`` are given: (which of the rows have features, their neighbours' label
    distribution, the share of neighbours agreeing with each label); None when fewer than 3
    rows have features."""
    feats = features[rows] if sparse.issparse(features) else np.asarray(features)[rows]
    usable = np.ones(len(rows), dtype=bool) if sparse.issparse(feats) else np.isfinite(feats).all(1)
    if usable.sum() <= 2:
        return None
    near = nearest_neighbours(feats[usable], k)
    local = neighbour_label_probs(near, labels[usable], n_classes)
    return usable, local, neighbour_consistency(near, labels[usable])
