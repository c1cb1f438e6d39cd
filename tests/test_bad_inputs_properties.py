"""Property tests with random shapes, values, dtypes and bytes: every loader and transform either succeeds
with a finite, correctly shaped result (equal to the input where it is a plain copy) or raises the project's
own error type (:class:`WorkbenchError`), never a library error. Hypothesis runs derandomized (the same
examples every run) and without an example database."""

from __future__ import annotations

import io
import json
import math
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from bad_input_counter import count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.data.formats import brace, kinetics_skeleton, ntu_skeleton, penn_action, pyskl, qub_pheo, somof
from workbench.data.layouts.keypoints25 import NUM_KEYPOINTS, PoseSequence, annotated_mask, scatter
from workbench.data.layouts.skeleton_layouts import LAYOUTS, get_layout
from workbench.data.number_checks import MAX_ABS
from workbench.data.transforms import heatmaps
from workbench.data.transforms.heatmap_windows import crop_frames, make_windows
from workbench.data.transforms.skeleton_augment import flip, mixup, part_drop, segment_swap
from workbench.data.transforms.skeleton_streams import STREAMS, make_stream, normalise, sample_indices
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file
from workbench.errors import WorkbenchError
from workbench.models.derpof import split_velocities

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
"""30 examples per test, the same ones on every run."""
MORE = settings(PROPERTY, max_examples=80)
"""For the loaders whose inputs have many independent parts, where few random examples reach the end."""

NAN, INF = math.nan, math.inf
ODD_NUMBERS = st.sampled_from([NAN, INF, -INF, 1e7, -1e7, 1e30, 1e300, -0.0, 5e-324, 3.4e38])
BAD_LEAVES = st.one_of(ODD_NUMBERS, st.integers(-(2**80), 2**80), st.text(max_size=3), st.booleans(), st.none(),
                       st.just([]), st.just({}))
JSON_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(2**70), 2**70) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12)


def mostly(valid: object, *invalid: object) -> st.SearchStrategy:
    """``valid`` three times in four, else one of ``invalid``."""
    return st.sampled_from([valid] * (3 * len(invalid)) + list(invalid)) if invalid else st.just(valid)


def leaves(value: object) -> Iterator[object]:
    """The non-list leaves of nested lists."""
    if isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def plain_numbers(value: object, allow_null: bool = False) -> bool:
    """Whether every leaf of nested lists is an int or float (not a bool), or None when ``allow_null``."""
    return all((isinstance(v, int | float) and not isinstance(v, bool)) or (allow_null and v is None)
               for v in leaves(value))


def outcome(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or None when it raised a :class:`WorkbenchError` (the one allowed failure).
    Any other exception fails the test."""
    try:
        return call()
    except WorkbenchError as exc:
        assert str(exc), "an error without a message"
        return None


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@st.composite
def poked(draw: st.DrawFn, shape: tuple[int, ...], leaves: st.SearchStrategy = BAD_LEAVES, pokes: int = 2) -> list:
    """Nested lists of ``shape`` holding numbers in [-1, 1], with up to ``pokes`` entries replaced by ``leaves``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = np.round(rng.uniform(-1, 1, shape), 3).tolist()
    size = int(np.prod(shape))
    for _ in range(min(draw(st.sampled_from([0, 1, 1, 2])), pokes) if size else 0):
        index = np.unravel_index(draw(st.integers(0, size - 1)), shape)
        target = values
        for i in index[:-1]:
            target = target[i]
        target[index[-1]] = draw(leaves)
    return values


@st.composite
def odd_arrays(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Arrays of ``shape``: float64 with up to two odd numbers (NaN, inf, 1e30, ...), int32, or text."""
    kind = draw(mostly("float", "int", "text"))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "int":
        return rng.integers(-5, 500, shape).astype(np.int32)
    if kind == "text":
        return np.full(shape, "ab")
    values = rng.uniform(-1, 600, shape)
    for _ in range(draw(st.sampled_from([0, 1, 1, 2])) if values.size else 0):
        values.flat[draw(st.integers(0, values.size - 1))] = draw(ODD_NUMBERS)
    return values


def assert_numbers(array: np.ndarray, shape: tuple[int | None, ...], dtype: type = np.float32) -> None:
    """``array`` has ``dtype``, the ``shape`` (None: any size) and finite values within +-MAX_ABS."""
    assert array.dtype == dtype
    assert len(array.shape) == len(shape) and all(s is None or s == a for s, a in zip(shape, array.shape, strict=True))
    assert np.isfinite(array).all() and (np.abs(array) <= MAX_ABS).all()


# ---------------------------------------------------------------- loaders, random content


@PROPERTY
@given(scenes=mostly(1, 0, 2), people=st.integers(1, 2), frames=mostly(16, 15), coords=mostly(39, 38),
       data=st.data())
def test_somof_split(scenes: int, people: int, frames: int, coords: int, data: st.DataObject) -> None:
    count("property")
    raw = data.draw(poked((scenes, people, frames, coords)))
    with folder() as tmp:
        (tmp / "3dpw_valid_in.json").write_text(json.dumps(raw), encoding="utf-8")
        split = outcome(lambda: somof.load_split(tmp, "valid"))
    if split is not None:
        assert_numbers(split.inputs, (scenes, people, 16, 39))
        assert plain_numbers(raw)
        np.testing.assert_array_equal(split.inputs, np.asarray(raw, dtype=np.float32))


@PROPERTY
@given(document=JSON_DOCUMENTS)
def test_somof_random_json(document: object) -> None:
    count("property")
    with folder() as tmp:
        (tmp / "3dpw_valid_in.json").write_text(json.dumps(document), encoding="utf-8")
        split = outcome(lambda: somof.load_split(tmp, "valid"))
    assert split is None


@MORE
@given(frames=st.integers(0, 3), joints=mostly(13, 12), data=st.data())
def test_penn_action_label_file(frames: int, joints: int, data: st.DataObject) -> None:
    count("property")
    fields = {"x": data.draw(odd_arrays((frames, joints))), "y": data.draw(odd_arrays((frames, joints))),
              "visibility": data.draw(mostly(np.ones((frames, joints)), np.full((frames, joints), "1"))),
              "nframes": data.draw(mostly(frames, frames + 1, NAN, "three", [frames] * 2, 2.5)),
              "action": data.draw(mostly("squat", "moonwalk", 7)),
              "train": data.draw(mostly(-1, "yes", 0.5)),
              "bbox": data.draw(odd_arrays((frames, 4))), "dimensions": [200, 300, frames]}
    for name in data.draw(mostly([], ["x"], ["nframes"], ["action"], ["visibility"])):
        del fields[name]
    with folder() as tmp:
        scipy.io.savemat(tmp / "0001.mat", fields)
        video = outcome(lambda: penn_action.load_video(tmp / "0001.mat"))
    if video is not None:
        assert_numbers(video.keypoints, (frames, 13, 2))
        np.testing.assert_array_equal(video.keypoints, np.stack([fields["x"], fields["y"]], -1).astype(np.float32))
        assert video.visibility.shape == (frames, 13) and video.visibility.dtype == bool
        assert video.action == fields["action"] and video.train == (fields["train"] == 1)
        assert video.bbox is None or np.isfinite(video.bbox).all()


def _brace_keypoints() -> st.SearchStrategy:
    leaves = st.one_of(st.none(), ODD_NUMBERS, st.text(max_size=2), st.booleans(), st.integers(-(2**70), 2**70))
    return mostly((17, 3), (16, 3), (17, 2), (51,)).flatmap(
        lambda shape: poked(shape, leaves))


@PROPERTY
@given(numbers=st.lists(st.integers(0, 12), min_size=0, max_size=6), data=st.data())
def test_brace_segment(numbers: list[int], data: st.DataObject) -> None:
    count("property")
    content = {f"vid/img-{n:06d}.png": {"keypoints": data.draw(_brace_keypoints())} for n in numbers}
    with folder() as tmp:
        (tmp / "seg.json").write_text(json.dumps(content), encoding="utf-8")
        sequences = outcome(lambda: brace.load_segment(tmp / "seg.json"))
    if sequences is not None:
        assert sum(s.num_frames for s in sequences) == len(content) > 0
        assert all(plain_numbers(entry["keypoints"], allow_null=True) for entry in content.values())
        for seq in sequences:
            assert seq.keypoints.shape == (seq.num_frames, NUM_KEYPOINTS, 2) and seq.keypoints.dtype == np.float32
            assert seq.visible.shape == (seq.num_frames, NUM_KEYPOINTS) and seq.visible.dtype == bool
            shown = seq.keypoints[seq.visible]
            assert np.isfinite(shown).all() and (np.abs(shown) <= MAX_ABS).all()


@MORE
@given(frames=st.integers(0, 4), data=st.data())
def test_qub_pheo_clip_and_hand_features(frames: int, data: st.DataObject) -> None:
    count("property")
    shapes = {"left_landmarks": (21, 3), "right_landmarks": (21, 3), "norm_gaze": (2,), "bboxes": (36, 4),
              "surrogate_hands": (2, 4), "timestamps": ()}
    datasets = {}
    for key, tail in shapes.items():
        if key.endswith("landmarks") or data.draw(st.booleans()):
            length = data.draw(mostly(frames, frames + 1))
            tail = data.draw(mostly(tail, (*tail[:-1], 5) if tail else (1,)))
            values = data.draw(odd_arrays((length, *tail)))
            datasets[key] = np.zeros(values.shape) if data.draw(mostly(False, True)) else values
    with folder() as tmp:
        with h5py.File(tmp / "p03-clip.h5", "w") as handle:
            for key, values in datasets.items():
                handle[key] = values.astype("S") if values.dtype.kind == "U" else values
        clip = outcome(lambda: qub_pheo.read_clip(tmp / "p03-clip.h5"))
    if clip is None:
        return
    assert clip.participant == 3
    assert_numbers(clip.left, (frames, 21, 3))
    assert_numbers(clip.right, (frames, 21, 3))
    modalities = [m for m in ("gaze", "boxes", "surrogate") if clip.has(m)]
    for masked in (True, False):
        features, mask = clip_features_checked(clip, modalities, masked)
        assert features.shape[0] == frames and mask.shape == (frames, 2)


def clip_features_checked(clip: qub_pheo.HandClip, modalities: list[str], masked: bool
                          ) -> tuple[np.ndarray, np.ndarray]:
    features, mask = qub_pheo.clip_features(clip, modalities, masked)
    width = qub_pheo.HAND_FEATURES + sum(qub_pheo.modality_width(m) for m in modalities)
    assert features.shape == (clip.num_frames, width) and features.dtype == np.float32
    assert np.isfinite(features).all()
    return features, mask


def _skeleton_text(declared: int, frames: list[list[list[str]]]) -> str:
    lines = [str(declared)]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for b, joints in enumerate(bodies):
            lines += [f"{72057594037931100 + b} 0 1 1 0.1 0.2 0 -0.3 0.4 2", str(len(joints)), *joints]
    return "\n".join(lines) + "\n"


@st.composite
def _joint_lines(draw: st.DrawFn) -> list[str]:
    count_ = draw(mostly(25, 24))
    rows = draw(poked((count_, 3), st.one_of(ODD_NUMBERS, st.just("x")), pokes=1))
    extra = draw(mostly(" 250 200 900 500 0 0 0 1 2", " 2"))
    return [" ".join(str(v) for v in row) + extra for row in rows]


@PROPERTY
@given(frames=st.lists(st.lists(_joint_lines(), max_size=3), min_size=0, max_size=3),
       lie=mostly(0, 1, -1, 10**9), cut=mostly(0, 1, 17))
def test_ntu_skeleton_text(frames: list[list[list[str]]], lie: int, cut: int) -> None:
    count("property")
    declared = max(len(frames) + lie, 0)
    text = _skeleton_text(declared, frames)
    text = text[: len(text) - cut] if cut else text
    with folder() as tmp:
        (tmp / "S001C001P001R001A001.skeleton").write_text(text, encoding="utf-8")
        array = outcome(lambda: ntu_skeleton.read_skeleton(tmp / "S001C001P001R001A001.skeleton"))
    if array is not None:
        assert_numbers(array, (2, len(frames), 25, 3))
        assert declared == len(frames) and np.abs(array).sum() > 0 and not cut
        assert all(len(joints) == 25 and all(len(line.split()) == 12 for line in joints)
                   for bodies in frames for joints in bodies)


@PROPERTY
@given(shape=st.sampled_from([(3, 4, 25, 2), (3, 4, 25, 1), (3, 4, 24, 2), (2, 4, 25, 2), (3, 25, 2)]),
       data=st.data())
def test_ntu_array(shape: tuple[int, ...], data: st.DataObject) -> None:
    count("property")
    array = data.draw(odd_arrays(shape))
    with folder() as tmp:
        np.save(tmp / "a.npy", array)
        record = outcome(lambda: ntu_skeleton.load_array(tmp / "a.npy", label=4))
    if record is not None:
        assert_numbers(record["keypoint"], (shape[3], None, 25, 3))
        assert record["total_frames"] == record["keypoint"].shape[1] and record["label"] == 4


@st.composite
def _kinetics_person(draw: st.DrawFn) -> object:
    pose = draw(poked((draw(mostly(36, 34)),), pokes=1))
    score = draw(poked((draw(mostly(18, 17)),), pokes=1))
    return draw(mostly({"pose": pose, "score": score}, [pose], {"pose": pose}))


@MORE
@given(indices=st.lists(st.one_of(st.integers(1, 4), st.integers(1, 4), st.sampled_from([0, -1, "2", 10**9, True])),
                       max_size=4),
       label=mostly(3, -1, "3", None, 2.0), data=st.data())
def test_kinetics_skeleton_json(indices: list[object], label: object, data: st.DataObject) -> None:
    count("property")
    frames = [{"frame_index": i, "skeleton": data.draw(st.lists(_kinetics_person(), max_size=3))} for i in indices]
    with folder() as tmp:
        (tmp / "clip.json").write_text(json.dumps({"data": frames, "label_index": label}), encoding="utf-8")
        record = outcome(lambda: kinetics_skeleton.json_record(tmp / "clip.json"))
    if record is not None:
        total = max(indices)
        assert_numbers(record["keypoint"], (2, total, 18, 2))
        assert_numbers(record["keypoint_score"], (2, total, 18))
        assert record["total_frames"] == total and record["label"] == label
        assert len(set(indices)) == len(indices) and all(isinstance(i, int) and 1 <= i <= 4 for i in indices)
        people = [person for frame in frames for person in frame["skeleton"]]
        assert all(isinstance(p, dict) and plain_numbers(p["pose"]) and plain_numbers(p["score"]) for p in people)


@st.composite
def _pyskl_record(draw: st.DrawFn) -> object:
    shape = draw(mostly((1, 3, 17, 2), (2, 3, 17, 3), (3, 17, 2), (1, 0, 17, 2)))
    keypoint = draw(odd_arrays(shape))
    if keypoint.dtype.kind == "f":
        with np.errstate(over="ignore"):
            keypoint = keypoint.astype(draw(mostly(np.float32, np.float64, object, str)))
    record = {"frame_dir": draw(st.sampled_from(["a", "b", "c", 7])), "keypoint": keypoint,
              "label": draw(mostly(2, np.int64(1), -1, 2.5, "a", True, 2**70, NAN)),
              "total_frames": draw(mostly(shape[1], 5, "3")),
              "img_shape": draw(mostly((480, 640), (0, 0), 480, ("h", "w"), (1, 2, 3)))}
    if draw(st.booleans()):
        record["keypoint_score"] = draw(odd_arrays(shape[:-1]))
    return draw(mostly(record, 5, {"frame_dir": "c"}))


@MORE
@given(records=st.lists(_pyskl_record(), max_size=3),
       split=mostly(None, {"train": ["a"]}, {"train": "a"}, ["a"], {"test": [1]}))
def test_pyskl_dataset(records: list[object], split: object) -> None:
    count("property")
    with folder() as tmp:
        (tmp / "data.pkl").write_bytes(pickle.dumps({"split": split, "annotations": records}))
        dataset = outcome(lambda: pyskl.load(tmp / "data.pkl"))
    if dataset is not None:
        assert len(dataset["annotations"]) == len(records)
        for record in dataset["annotations"]:
            assert_numbers(record["keypoint"], (None, None, None, None))
            assert isinstance(record["label"], int) and record["label"] >= 0
            assert record["total_frames"] == record["keypoint"].shape[1]
            assert len(record["img_shape"]) == 2 and all(isinstance(v, int) for v in record["img_shape"])
        names = {r["frame_dir"] for r in dataset["annotations"]}
        assert len(names) == len(records) and all(set(m) <= names for m in dataset["split"].values())


# ---------------------------------------------------------------- loaders, damaged valid files


def _good_files() -> dict[str, tuple[str, Callable[[Path], bytes], Callable[[Path], object]]]:
    """Per loader: the file name, a writer of one valid file (returns its bytes) and the loader."""

    def json_bytes(content: object) -> Callable[[Path], bytes]:
        return lambda path: json.dumps(content).encode()

    def mat(path: Path) -> bytes:
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, {"x": np.ones((2, 13)), "y": np.ones((2, 13)), "visibility": np.ones((2, 13)),
                                  "action": "squat", "train": 1, "nframes": 2}, do_compression=True)
        return buffer.getvalue()

    def h5(path: Path) -> bytes:
        hand = np.full((2, 21, 3), 0.5, np.float32)
        return qub_pheo.write_clip(path, hand, hand, np.zeros((2, 2)), np.zeros((2, 36, 4))).read_bytes()

    def skeleton(path: Path) -> bytes:
        return ntu_skeleton.write_skeleton(path, np.ones((1, 2, 25, 3))).read_bytes()

    def pkl(path: Path) -> bytes:
        return pickle.dumps({"split": {"train": ["a"]}, "annotations": [
            {"frame_dir": "a", "label": 1, "keypoint": np.ones((1, 2, 17, 2), np.float32)}]})

    person = {"pose": [0.5] * 36, "score": [1.0] * 18}
    return {
        "somof": ("3dpw_valid_in.json", json_bytes([[[[0.5] * 39] * 16]]), lambda p: somof.load_split(p.parent,
                                                                                                      "valid")),
        "penn_action": ("0001.mat", mat, penn_action.load_video),
        "brace": ("seg.json", json_bytes({"v/img-1.png": {"keypoints": [[1, 2, 1]] * 17}}), brace.load_segment),
        "qub_pheo": ("p01-clip.h5", h5, qub_pheo.read_clip),
        "ntu_skeleton": ("S001C001P001R001A001.skeleton", skeleton, ntu_skeleton.read_skeleton),
        "kinetics_skeleton": ("clip.json", json_bytes({"data": [{"frame_index": 1, "skeleton": [person]}],
                                                       "label_index": 0}), kinetics_skeleton.json_record),
        "pyskl": ("data.pkl", pkl, pyskl.load),
    }


GOOD_FILES = _good_files()


@st.composite
def damage(draw: st.DrawFn, good: bytes) -> bytes:
    """``good`` truncated, with bytes overwritten, or replaced by random bytes."""
    how = draw(st.sampled_from(["truncate", "overwrite", "overwrite", "random"]))
    if how == "random":
        return draw(st.binary(max_size=80))
    if how == "truncate":
        return good[: draw(st.integers(0, max(len(good) - 1, 0)))]
    damaged = bytearray(good)
    for _ in range(draw(st.integers(1, 4))):
        damaged[draw(st.integers(0, len(good) - 1))] = draw(st.integers(0, 255))
    return bytes(damaged)


@pytest.mark.parametrize("loader", sorted(GOOD_FILES))
@PROPERTY
@given(data=st.data())
def test_damaged_files(loader: str, data: st.DataObject) -> None:
    count("property")
    name, write, load = GOOD_FILES[loader]
    with folder() as tmp:
        path = tmp / name
        path.write_bytes(data.draw(damage(write(path))))
        outcome(lambda: load(path))


@settings(PROPERTY, report_multiple_bugs=False)
@given(data=st.data())
def test_damaged_checkpoints(data: st.DataObject) -> None:
    count("property")
    original = {"model": {"w": torch.arange(6.0)}, "epoch": 3}
    buffer = io.BytesIO()
    torch.save(original, buffer)
    with folder() as tmp:
        (tmp / "c.pt").write_bytes(data.draw(damage(buffer.getvalue())))
        loaded = outcome(lambda: load_torch_file(tmp / "c.pt"))
    if loaded is not None:
        assert loaded.keys() == original.keys() and torch.equal(loaded["model"]["w"], original["model"]["w"])


@PROPERTY
@given(cut=st.integers(0, 10_000))
def test_truncated_checkpoints(cut: int) -> None:
    count("property")
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(6.0)}, "epoch": 3}, buffer)
    good = buffer.getvalue()
    with folder() as tmp:
        (tmp / "c.pt").write_bytes(good[: cut % len(good)])
        assert outcome(lambda: load_torch_file(tmp / "c.pt")) is None


@PROPERTY
@given(keys=st.lists(st.sampled_from(["weight", "bias", "other"]), unique=True, max_size=3),
       shapes=st.lists(st.sampled_from([(3, 2), (3,), (2, 3), (), (3, 2, 1)]), min_size=3, max_size=3),
       values=st.lists(st.sampled_from([0.5, NAN, INF, "tensor-of-ints", "list"]), min_size=3, max_size=3))
def test_state_dict_check(keys: list[str], shapes: list[tuple[int, ...]], values: list[object]) -> None:
    count("property")
    model = torch.nn.Linear(2, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state: dict[str, object] = {}
    for key, shape, value in zip(keys, shapes, values, strict=False):
        tensor = torch.ones(shape, dtype=torch.int64) if value == "tensor-of-ints" else torch.full(shape, 0.5)
        if isinstance(value, float):
            tensor = torch.full(shape, value)
        state[key] = tensor.tolist() if value == "list" else tensor
    loaded = outcome(lambda: load_state_dict_checked(model, state, "weights.pt"))
    if loaded is None:
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "a refused state was copied"
    else:
        for key, value in model.state_dict().items():
            assert torch.isfinite(value).all() and torch.equal(value, torch.as_tensor(state[key]).to(value.dtype))


# ---------------------------------------------------------------- transforms

FLOATS = st.one_of(st.floats(-20, 80), ODD_NUMBERS, st.floats(-1e30, 1e30))


@PROPERTY
@given(batch=st.sampled_from([(), (2,), (1, 3)]), keypoints=st.integers(0, 3),
       values=st.lists(FLOATS, min_size=24, max_size=24), seed=st.integers(0, 2**16),
       sigma=st.sampled_from([1.0, 2.5, 0.3, 0.0, -1.0, NAN, INF, 100.0, "per-map"]),
       size=st.sampled_from([8, 56, 1, 0]), peak=st.sampled_from([255.0, 1.0, NAN]),
       shift=st.sampled_from([None, 0.0, 1.0, 2.0, -1.0, NAN]))
def test_render_and_simulate_detector(batch: tuple[int, ...], keypoints: int, values: list[float], seed: int,
                                      sigma: object, size: int, peak: float, shift: float | None) -> None:
    count("property")
    shape = (*batch, keypoints)
    coords = torch.tensor(values[: 2 * math.prod(shape)], dtype=torch.float32).reshape(*shape, 2)
    generator = torch.Generator().manual_seed(seed)
    visible = torch.rand(shape, generator=generator) < 0.8
    sig = torch.tensor([1.0, 1.5, 3.0])[torch.randint(3, shape, generator=generator)] if sigma == "per-map" else sigma
    if shift is None:
        maps = outcome(lambda: heatmaps.render(coords, visible, size=size, sigma=sig, peak=peak))
    else:
        maps = outcome(lambda: heatmaps.simulate_detector(coords, visible, shift, sig, generator, size=size,
                                                          peak=peak))
    if maps is not None:
        assert maps.shape == (*shape, size, size) and torch.isfinite(maps).all()
        assert (maps >= 0).all() and (maps <= peak * (1 + 1e-5)).all()
        missing = ~(visible & torch.isfinite(coords).all(-1))
        assert (maps[missing] == 0).all()


@PROPERTY
@given(frames=st.integers(0, 6), joints=st.integers(1, 5), values=st.lists(FLOATS, min_size=60, max_size=60),
       seed=st.integers(0, 2**16))
def test_crop_frames_and_windows(frames: int, joints: int, values: list[float], seed: int) -> None:
    count("property")
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float32, as a loader never hands over
        keypoints = np.resize(np.asarray(values, np.float32), (frames, joints, 2))
    visible = np.random.default_rng(seed).random((frames, joints)) < 0.8
    coords, shown, usable = crop_frames(keypoints, visible, size=56)
    assert coords.shape == keypoints.shape and np.isfinite(coords).all()
    assert (coords >= -1e-3).all() and (coords <= 55 + 1e-3).all()
    assert not (shown & ~visible).any() and usable.shape == (frames,)
    targets = list(range(joints))
    placed, placed_visible = scatter(keypoints, visible, targets)
    sequence = PoseSequence("s", placed, placed_visible, annotated_mask(targets), "generated")
    windows, stats = make_windows([sequence], window=2)
    assert windows.keypoints.shape == (stats["windows"], 2, NUM_KEYPOINTS, 2)
    assert torch.isfinite(windows.keypoints).all() and (windows.keypoints <= 55 + 1e-3).all()


@PROPERTY
@given(frames=st.integers(1, 5), seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, MAX_ABS]),
       missing=st.floats(0, 1), modalities=st.sets(st.sampled_from(["gaze", "boxes", "surrogate"])),
       masked=st.booleans())
def test_hand_features(frames: int, seed: int, scale: float, missing: float, modalities: set[str],
                       masked: bool) -> None:
    count("property")
    rng = np.random.default_rng(seed)

    def values(*shape: int) -> np.ndarray:
        out = (rng.uniform(-1, 1, (frames, *shape)) * scale).astype(np.float32)
        out[rng.random(frames) < missing] = 0.0
        return out

    clip = qub_pheo.HandClip("c", 1, values(21, 3), values(21, 3), values(2), values(36, 4), values(2, 4), None, "c")
    clip_features_checked(clip, sorted(modalities), masked)
    windows, short = qub_pheo.make_windows([clip], 2, 1, 1, sorted(modalities), masked)
    assert np.isfinite(windows.observed).all() and np.isfinite(windows.future).all()
    assert len(windows) == max(frames - 2, 0) and short == ([] if frames >= 3 else ["c"])


@PROPERTY
@given(total=st.integers(-2, 400), length=st.integers(-1, 64), clip=st.integers(-1, 4), clips=st.integers(0, 4))
def test_sample_indices(total: int, length: int, clip: int, clips: int) -> None:
    count("property")
    index = outcome(lambda: sample_indices(total, length, clip, clips))
    if index is not None:
        assert index.shape == (length,) and (index >= 0).all() and (index < total).all()
        assert (np.diff(index) >= 0).all()


@PROPERTY
@given(layout=st.sampled_from(sorted(LAYOUTS)), persons=st.integers(1, 2), frames=st.integers(1, 4),
       channels=st.sampled_from([2, 3]), seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 500.0, MAX_ABS]),
       img_shape=st.sampled_from([(0, 0), (480, 640), (1, 1)]), view_align=st.booleans(),
       stream=st.sampled_from([*STREAMS, "jb"]), order=st.integers(-1, 6))
def test_normalise_and_streams(layout: str, persons: int, frames: int, channels: int, seed: int, scale: float,
                               img_shape: tuple[int, int], view_align: bool, stream: str, order: int) -> None:
    count("property")
    rng = np.random.default_rng(seed)
    chosen = get_layout(layout)
    x = (rng.uniform(-1, 1, (persons, frames, chosen.num_joints, channels)) * scale).astype(np.float32)
    x[rng.random((persons, frames)) < 0.3] = 0.0
    normalised = normalise(x, chosen, img_shape, view_align)
    assert normalised.shape == x.shape and np.isfinite(normalised).all()
    assert (normalised[np.abs(x).sum(axis=(-1, -2)) == 0] == 0).all()
    out = outcome(lambda: make_stream(torch.from_numpy(normalised), stream, chosen, order))
    if out is not None:
        assert out.shape == x.shape and torch.isfinite(out).all()


@PROPERTY
@given(batch=st.integers(0, 3), frames=st.integers(1, 6), layout=st.sampled_from(sorted(LAYOUTS)),
       seed=st.integers(0, 2**16), prob=st.sampled_from([0.0, 0.5, 1.0, 1.0, -0.1, 1.5, NAN]),
       alpha=st.sampled_from([0.0, 0.2, 1.0, -1.0, NAN, INF]), scale=st.sampled_from([1.0, MAX_ABS]))
def test_skeleton_augmentations(batch: int, frames: int, layout: str, seed: int, prob: float, alpha: float,
                                scale: float) -> None:
    count("property")
    chosen = get_layout(layout)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, 2, frames, chosen.num_joints, 3, generator=gen) * 2 - 1) * scale
    y = torch.nn.functional.one_hot(torch.randint(4, (batch,), generator=gen), 4).float()
    for name, transform in (("flip", lambda: (flip(x, chosen, prob, gen), y)),
                            ("part_drop", lambda: (part_drop(x, chosen, prob, gen), y)),
                            ("mixup", lambda: mixup(x, y, alpha, prob, gen)),
                            ("segment_swap", lambda: segment_swap(x, y, chosen, prob, gen))):
        result = outcome(transform)
        if result is not None:
            out, labels = result
            assert out.shape == x.shape and torch.isfinite(out).all(), name
            assert (out.abs() <= scale * (1 + 1e-6)).all(), name
            assert labels.shape == y.shape and torch.allclose(labels.sum(1), torch.ones(batch)), name


@PROPERTY
@given(people=st.integers(1, 3), frames=st.integers(1, 17), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, MAX_ABS]))
def test_somof_pose_decomposition(people: int, frames: int, seed: int, scale: float) -> None:
    count("property")
    gen = torch.Generator().manual_seed(seed)
    poses = (torch.rand(people, frames, 39, generator=gen, dtype=torch.float64) * 2 - 1) * scale
    global_vel, local_vel = split_velocities(poses.float())
    assert global_vel.shape == (people, frames - 1, 3) and local_vel.shape == (people, frames - 1, 39)
    assert torch.isfinite(global_vel).all() and torch.isfinite(local_vel).all()
    velocity = (local_vel.unflatten(-1, (13, 3)) + global_vel[:, :, None]).double()
    expected = (poses[:, 1:] - poses[:, :-1]).unflatten(-1, (13, 3))
    assert torch.allclose(velocity, expected, rtol=1e-5, atol=1e-6 * scale)

