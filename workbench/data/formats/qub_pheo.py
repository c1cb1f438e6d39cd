"""Loader of QUB-PHEO hand clips (one HDF5 file per clip) and the hand-forecasting features.

A clip file holds, for F frames (about 23 fps):

* ``left_landmarks``, ``right_landmarks``: (F, 21, 3) MediaPipe hand landmarks, x and y
  normalised to the image (0..1), z relative depth; a hand not detected is all zeros;
* ``norm_gaze``: (F, 2) gaze point, normalised image coordinates (zeros: no gaze);
* ``bboxes`` or ``rec_bboxes``: (F, 36, 4) object boxes (x, y, w, h; x, y the box centre, as
  YOLO writes them), unused slots zero;
* ``surrogate_hands`` (optional): (F, 2, 4) hand boxes;
* ``timestamps`` (optional): (F,) seconds.

Only the landmarks are required to read a clip; a clip lacking a modality a run asks for is
skipped with a count (:func:`usable_clips`). The same loader serves the real clips and the
procedurally generated ones (:mod:`workbench.data.generators.synthetic_hands`).

Features per frame (:func:`clip_features`): the 42 landmarks' x, y (84 numbers, left hand first,
landmark 0 = left wrist, landmark 21 = right wrist), minus the midpoint of the two wrists, divided
by 0.5. One feature unit ("u") is therefore half the image width in x and half the image height in y.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from workbench.data.many_files import find_files, load_skipping
from workbench.data.number_checks import MAX_ABS, numbers
from workbench.errors import ConfigError, DataFormatError

log = logging.getLogger(__name__)

LANDMARKS_PER_HAND = 21
HANDS = 2
HAND_FEATURES = HANDS * LANDMARKS_PER_HAND * 2
NUM_BOXES = 36
GAZE_FEATURES = 2
BOX_FEATURES = NUM_BOXES * 4
SURROGATE_FEATURES = HANDS * 4
SCALE = 0.5
FPS = 23.0
BOX_KEYS = ("bboxes", "rec_bboxes")
DEFAULT_SPLIT = {"train": (1, 48), "val": (49, 59), "test": (60, 70)}
_PARTICIPANT = re.compile(r"^p(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class HandClip:
    """One clip. Arrays are float32 with F frames: ``left``/``right`` (F, 21, 3), ``gaze`` (F, 2),
    ``boxes`` (F, 36, 4), ``surrogate`` (F, 2, 4), ``timestamps`` (F,) seconds; absent modalities are None."""

    name: str
    participant: int
    left: np.ndarray
    right: np.ndarray
    gaze: np.ndarray | None
    boxes: np.ndarray | None
    surrogate: np.ndarray | None
    timestamps: np.ndarray | None
    source: str

    @property
    def num_frames(self) -> int:
        return int(self.left.shape[0])

    def has(self, modality: str) -> bool:
        """Whether the clip holds ``gaze``, ``boxes`` or ``surrogate``."""
        return getattr(self, modality) is not None


def participant_from_name(path: str | Path) -> int | None:
    """The participant id of a QUB-PHEO file name (``p01-CAM_AV-...h5`` -> 1), or None."""
    match = _PARTICIPANT.match(Path(path).name)
    return int(match.group(1)) if match else None


def _dataset(path: Path, handle: h5py.File, key: str, tail: tuple[int, ...], frames: int | None) -> np.ndarray:
    """Read dataset ``key`` checked to have shape (frames, *tail) and finite values."""
    node = handle[key]
    if not isinstance(node, h5py.Dataset):
        raise DataFormatError(path, f"{key!r} is a group, expected a dataset")
    if node.ndim != 1 + len(tail) or tuple(node.shape[1:]) != tail:
        raise DataFormatError(path, f"{key!r} has shape {node.shape}, expected (F, {', '.join(map(str, tail))})"
                              if tail else f"{key!r} has shape {node.shape}, expected (F,)")
    if frames is not None and node.shape[0] != frames:
        raise DataFormatError(path, f"{key!r} has {node.shape[0]} frames but left_landmarks has {frames}")
    if node.dtype.kind not in "iuf":
        raise DataFormatError(path, f"{key!r} does not hold numbers (dtype {node.dtype})")
    try:
        raw = node[()]
    except OSError as exc:
        raise DataFormatError(path, f"{key!r} is unreadable ({str(exc).splitlines()[0]})") from None
    values = numbers(raw, path, repr(key), finite=False, limit=None if key == "timestamps" else MAX_ABS)
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).reshape(values.shape[0], -1).any(-1).sum()) if values.ndim > 1 else int(
            (~np.isfinite(values)).sum())
        raise DataFormatError(path, f"{key!r} holds NaN or infinite values in {bad} frame(s)")
    if not np.isfinite(values.astype(np.float32)).all():
        raise DataFormatError(path, f"{key!r} holds values too large for float32")
    return values.astype(np.float32)


def read_clip(path: str | Path, participant: int | None = None) -> HandClip:
    """Read and validate one clip file.

    Raises :class:`DataFormatError` naming the file when it is missing or not HDF5, lacks a
    landmark dataset, a dataset has the wrong shape or a different frame count than
    ``left_landmarks``, does not hold numbers, holds NaN/inf or (except ``timestamps``) values
    beyond +-1e6, or no hand is detected in any frame (all-zero clip).
    ``participant`` defaults to the id in the file name (``p<NN>-...``), else 0.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(path, f"not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    with handle:
        for key in ("left_landmarks", "right_landmarks"):
            if key not in handle:
                raise DataFormatError(path, f"missing dataset {key!r} (has: {', '.join(sorted(handle)) or 'nothing'})")
        left = _dataset(path, handle, "left_landmarks", (LANDMARKS_PER_HAND, 3), None)
        frames = left.shape[0]
        if frames == 0:
            raise DataFormatError(path, "clip has 0 frames")
        right = _dataset(path, handle, "right_landmarks", (LANDMARKS_PER_HAND, 3), frames)
        gaze = _dataset(path, handle, "norm_gaze", (GAZE_FEATURES,), frames) if "norm_gaze" in handle else None
        box_key = next((k for k in BOX_KEYS if k in handle), None)
        boxes = _dataset(path, handle, box_key, (NUM_BOXES, 4), frames) if box_key else None
        surrogate = (_dataset(path, handle, "surrogate_hands", (HANDS, 4), frames)
                     if "surrogate_hands" in handle else None)
        stamps = _dataset(path, handle, "timestamps", (), frames) if "timestamps" in handle else None
    if not np.any(left) and not np.any(right):
        raise DataFormatError(path, f"all-zero clip: no hand detected in any of its {frames} frames")
    pid = participant if participant is not None else participant_from_name(path)
    return HandClip(path.stem, int(pid or 0), left, right, gaze, boxes, surrogate, stamps, str(path))


def write_clip(path: str | Path, left: np.ndarray, right: np.ndarray, gaze: np.ndarray, boxes: np.ndarray,
               surrogate: np.ndarray | None = None, timestamps: np.ndarray | None = None) -> Path:
    """Write one clip in the QUB-PHEO layout (shapes as in :class:`HandClip`, boxes as ``bboxes``),
    atomically: through a temporary file private to this process, so processes writing the same clip at
    once (the ranks of a distributed run generating the default data) do not collide."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        with h5py.File(tmp, "w") as handle:
            handle["left_landmarks"] = np.asarray(left, np.float32)
            handle["right_landmarks"] = np.asarray(right, np.float32)
            handle["norm_gaze"] = np.asarray(gaze, np.float32)
            handle["bboxes"] = np.asarray(boxes, np.float32)
            if surrogate is not None:
                handle["surrogate_hands"] = np.asarray(surrogate, np.float32)
            if timestamps is not None:
                handle["timestamps"] = np.asarray(timestamps, np.float32)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def clip_list(folder: str | Path, list_file: str | Path | None = None) -> list[tuple[Path, int | None]]:
    """The clips of ``folder`` with their participant ids.

    Without ``list_file``: every ``*.h5`` file, sorted, the participant taken from the name.
    With it: a CSV with columns ``clip`` (file name in ``folder``) and ``participant``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFormatError(folder, "clip folder not found")
    if not list_file:
        return [(f, None) for f in find_files(folder, "*.h5", ".h5 clip files")]
    list_file = Path(list_file)
    if not list_file.is_file():
        raise DataFormatError(list_file, "clip list not found")
    with list_file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"clip", "participant"} <= set(reader.fieldnames):
            raise DataFormatError(list_file, f"expected columns clip,participant, found {reader.fieldnames}")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                rows.append((folder / row["clip"], int(row["participant"])))
            except (TypeError, ValueError):
                raise DataFormatError(list_file, f"line {line}: participant {row['participant']!r} is not a "
                                                 "whole number") from None
    if not rows:
        raise DataFormatError(list_file, "the clip list is empty")
    return rows


def load_clips(entries: Iterable[tuple[str | Path, int | None]]) -> tuple[list[HandClip], list[tuple[str, str]]]:
    """Read many clips, skipping bad files: returns (clips, skipped) with ``skipped`` the
    (file, problem) pairs; each skip is logged, the caller reports the count."""
    return load_skipping(entries, lambda entry: read_clip(*entry))


def split_by_participant(clips: Sequence[HandClip], ranges: dict[str, Sequence[int]] | None = None
                         ) -> dict[str, list[HandClip]]:
    """Clips per split, by participant id: ``ranges`` maps a split name to an inclusive
    (first, last) participant range (default train 1-48, val 49-59, test 60-70)."""
    ranges = dict(DEFAULT_SPLIT if ranges is None else ranges)
    return {name: [c for c in clips if int(lo) <= c.participant <= int(hi)] for name, (lo, hi) in ranges.items()}


def usable_clips(clips: Sequence[HandClip], modalities: Sequence[str]) -> tuple[list[HandClip], list[str]]:
    """Clips holding every requested modality (``gaze``, ``boxes``, ``surrogate``), and the
    names of those skipped for lacking one (each logged)."""
    kept, skipped = [], []
    for clip in clips:
        lacking = [m for m in modalities if not clip.has(m)]
        if lacking:
            log.warning("skipping %s: no %s dataset", clip.source, " or ".join(lacking))
            skipped.append(clip.name)
        else:
            kept.append(clip)
    return kept, skipped


def hand_visible(clip: HandClip) -> np.ndarray:
    """(F, 2) bool: hand h (0 left, 1 right) detected in frame t (any landmark coordinate non-zero)."""
    return np.stack([np.any(clip.left != 0, axis=(1, 2)), np.any(clip.right != 0, axis=(1, 2))], axis=1)


def _hold_last(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace invalid rows of ``values`` (F, ...) by the last valid row before them (causal);
    returns (filled, defined) where ``defined`` is False before the first valid row."""
    index = np.where(valid, np.arange(len(valid)), -1)
    index = np.maximum.accumulate(index)
    defined = index >= 0
    filled = np.where(defined.reshape(-1, *([1] * (values.ndim - 1))), values[np.maximum(index, 0)], 0)
    return filled.astype(np.float32), defined


def frame_centres(clip: HandClip, masked: bool = True) -> np.ndarray:
    """(F, 2) centre of each frame: the midpoint of the two wrists (landmark 0 of each hand), x, y.

    ``masked=False`` (the published preprocessing): the raw midpoint, a missing hand counting as
    (0, 0). ``masked=True``: a missing wrist holds its last detected position (causal: only past
    frames are used); a hand not yet seen takes the other hand's wrist; frames before any
    detection get the image centre (0.5, 0.5).
    """
    wrists = np.stack([clip.left[:, 0, :2], clip.right[:, 0, :2]], axis=1)
    if not masked:
        return wrists.mean(axis=1)
    visible = hand_visible(clip)
    left, left_ok = _hold_last(wrists[:, 0], visible[:, 0])
    right, right_ok = _hold_last(wrists[:, 1], visible[:, 1])
    left = np.where(left_ok[:, None], left, right)
    right = np.where(right_ok[:, None], right, left)
    centre = (left + right) / 2
    return np.where((left_ok | right_ok)[:, None], centre, np.float32(0.5)).astype(np.float32)


def clip_features(clip: HandClip, modalities: Sequence[str] = (), masked: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and visibility of one clip: (features (F, D), mask (F, 2) bool).

    Columns: 84 hand numbers ((x, y) - centre) / 0.5 for the 21 left then 21 right landmarks;
    then per requested modality in the order given: ``gaze`` (2: (g - centre) / 0.5), ``boxes``
    (144: per box (x - cx) / 0.5, (y - cy) / 0.5, w / 0.5, h / 0.5, empty slots 0), ``surrogate``
    (8, as boxes). ``masked=True``: a missing hand (or gaze) holds its last detected image position,
    re-centred on the current frame's centre (features 0 before its first detection), and ``mask``
    marks the detected hands; ``masked=False``
    reproduces the unmasked published numbers: raw values, every hand counted as visible.
    """
    centre = frame_centres(clip, masked)
    visible = hand_visible(clip)
    points = [clip.left[..., :2], clip.right[..., :2]]
    seen = [np.ones(len(centre), bool)] * 2
    if masked:
        (points[0], seen[0]), (points[1], seen[1]) = (_hold_last(p, v) for p, v in zip(points, visible.T, strict=True))
    hands = [np.where(ok[:, None, None], (p - centre[:, None]) / SCALE, 0) for p, ok in zip(points, seen, strict=True)]
    columns = [np.concatenate(hands, axis=1).reshape(len(centre), -1)]
    for modality in modalities:
        if modality == "gaze":
            gaze = (clip.gaze - centre) / SCALE
            if masked:
                gaze, _ = _hold_last(gaze, np.any(clip.gaze != 0, axis=1))
            columns.append(gaze)
        elif modality in ("boxes", "surrogate"):
            raw = getattr(clip, modality)
            shifted = np.concatenate([raw[..., :2] - centre[:, None], raw[..., 2:]], axis=-1) / SCALE
            columns.append(np.where(np.any(raw != 0, axis=-1, keepdims=True), shifted, 0).reshape(len(raw), -1))
        else:
            raise ConfigError(f"unknown modality {modality!r}; use gaze, boxes or surrogate")
    mask = visible if masked else np.ones_like(visible)
    return np.concatenate(columns, axis=1).astype(np.float32), mask


def window_starts(frames: int, obs_len: int, pred_len: int, stride: int) -> list[int]:
    """First frames of the windows of ``obs_len + pred_len`` frames, every ``stride`` frames."""
    return list(range(0, frames - obs_len - pred_len + 1, stride))


@dataclass(frozen=True)
class Windows:
    """Forecasting windows: ``observed`` (N, To, D) inputs, ``future`` (N, Tp, 84) targets,
    ``observed_mask`` (N, To, 2) and ``future_mask`` (N, Tp, 2) hand visibility, and for each
    window its clip name and first frame."""

    observed: np.ndarray
    future: np.ndarray
    observed_mask: np.ndarray
    future_mask: np.ndarray
    clips: list[str]
    starts: list[int]

    def __len__(self) -> int:
        return int(self.observed.shape[0])


def make_windows(clips: Sequence[HandClip], obs_len: int, pred_len: int, stride: int,
                 modalities: Sequence[str] = (), masked: bool = True) -> tuple[Windows, list[str]]:
    """Cut every clip into windows; returns (windows, names of clips shorter than one window,
    skipped and logged)."""
    if obs_len < 2 or pred_len < 1 or stride < 1:
        raise ConfigError(f"need obs_len >= 2, pred_len >= 1, stride >= 1; got {obs_len}, {pred_len}, {stride}")
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    names, starts, short = [], [], []
    for clip in clips:
        begins = window_starts(clip.num_frames, obs_len, pred_len, stride)
        if not begins:
            short.append(clip.name)
            continue
        feats, mask = clip_features(clip, modalities, masked)
        for s in begins:
            parts.append((feats[s:s + obs_len + pred_len], mask[s:s + obs_len + pred_len]))
            names.append(clip.name)
            starts.append(s)
    if short:
        log.warning("skipped %d clip(s) shorter than %d frames", len(short), obs_len + pred_len)
    width = HAND_FEATURES + sum(modality_width(m) for m in modalities)
    feats = np.stack([p[0] for p in parts]) if parts else np.zeros((0, obs_len + pred_len, width), np.float32)
    masks = np.stack([p[1] for p in parts]) if parts else np.zeros((0, obs_len + pred_len, HANDS), bool)
    windows = Windows(feats[:, :obs_len], feats[:, obs_len:, :HAND_FEATURES], masks[:, :obs_len],
                      masks[:, obs_len:], names, starts)
    return windows, short


def half_windows(clips: Sequence[HandClip], modalities: Sequence[str] = (), masked: bool = True
                 ) -> tuple[list[Windows], list[str]]:
    """One window per clip of F frames: n = floor(F / 2), frames [0, n) observed and [n, 2n)
    predicted. Returns one :class:`Windows` per clip (lengths differ), and the names of clips
    with fewer than 4 frames (skipped)."""
    out, short = [], []
    for clip in clips:
        n = clip.num_frames // 2
        if n < 2:
            short.append(clip.name)
            continue
        windows, _ = make_windows([clip], n, n, clip.num_frames, modalities, masked)
        out.append(windows)
    return out, short


def modality_width(modality: str) -> int:
    """Number of input features a modality adds."""
    widths = {"gaze": GAZE_FEATURES, "boxes": BOX_FEATURES, "surrogate": SURROGATE_FEATURES}
    if modality not in widths:
        raise ConfigError(f"unknown modality {modality!r}; use gaze, boxes or surrogate")
    return widths[modality]
