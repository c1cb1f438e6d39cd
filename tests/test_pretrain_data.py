"""Data of the pretraining study: the 25-keypoint mappings, BRACE, generated poses, cropping, windows, splits."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from workbench.data.formats import brace, penn_action
from workbench.data.generators import synthetic_pose2d
from workbench.data.layouts.keypoints25 import COCO17_TO_25, GROUPS, INDEX, NAMES, PENN_TO_25, PoseSequence, from_penn
from workbench.data.transforms.heatmap_windows import crop_frames, make_windows, split_indices
from workbench.errors import ConfigError, DataFormatError
from workbench.studies import pretrain


def test_layout_and_mappings() -> None:
    assert len(NAMES) == 25 and NAMES[0] == "nose" and NAMES[24] == "R-foot-index" and NAMES[13] == "L-thumb"
    assert [NAMES[i] for i in PENN_TO_25[:3]] == ["nose", "L-shoulder", "R-shoulder"]
    assert NAMES[PENN_TO_25[-1]] == "R-ankle" and len(set(PENN_TO_25)) == 13
    assert 1 not in COCO17_TO_25 and 2 not in COCO17_TO_25 and COCO17_TO_25[3] == INDEX["L-ear"]
    assert GROUPS["ear"] == (1, 2) and GROUPS["nose"] == (0,) and GROUPS["ankle"] == (19, 20)


def test_penn_video_in_25_layout(shared: Path) -> None:
    video = penn_action.load_video(shared / "penn_action" / "labels" / "0001.mat")
    seq = from_penn(video)
    assert seq.keypoints.shape == (video.num_frames, 25, 2)
    np.testing.assert_array_equal(seq.keypoints[:, INDEX["L-knee"]], video.keypoints[:, 9])
    np.testing.assert_array_equal(seq.visible[:, INDEX["nose"]], video.visibility[:, 0])
    assert not seq.visible[:, [1, 2, 9, 13, 21, 23]].any() and seq.annotated.sum() == 13


def _brace_frame(rng: np.random.Generator, score: float = 1.0) -> dict:
    points = np.c_[rng.uniform(100, 900, (17, 2)), np.full(17, score)]
    return {"box": [100, 100, 800, 800, 1.0], "keypoints": points.tolist()}


def test_brace_segments_load_and_split_at_gaps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = {f"vid/img-{n:06d}.png": _brace_frame(rng) for n in [*range(10, 22), *range(30, 33)]}
    frames["vid/img-000015.png"]["keypoints"][3][2] = 0.0   # L-ear score 0: missing
    frames["vid/img-000016.png"]["keypoints"][5][0] = None  # L-shoulder x null -> NaN: missing
    path = tmp_path / "2011" / "vid" / "vid_10-32_toprock.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(frames))
    sequences = brace.load_segment(path)
    assert [s.num_frames for s in sequences] == [12, 3]
    first = sequences[0]
    raw = np.asarray(frames["vid/img-000010.png"]["keypoints"])
    np.testing.assert_allclose(first.keypoints[0, INDEX["R-hip"]], raw[12, :2], rtol=1e-6)
    assert first.annotated.sum() == 15 and not first.annotated[[9, 10, 21]].any()
    assert not first.visible[5, INDEX["L-ear"]] and not first.visible[6, INDEX["L-shoulder"]]
    assert first.visible[0, INDEX["L-ear"]]
    assert brace.segment_files(tmp_path) == [path]


@pytest.mark.parametrize("content, problem", [
    ("{", "malformed JSON"),
    ("[]", "non-empty JSON object"),
    ('{"vid/img-000001.png": {"box": [1, 2, 3, 4, 1]}}', "no 'keypoints' field"),
    ('{"vid/img-000001.png": {"keypoints": [[1, 2, 1]]}}', "expected (17, 3)"),
    ('{"vid/img-x.png": {"keypoints": []}}', "no frame number"),
])
def test_brace_bad_files_name_the_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "seg.json"
    path.write_text(content)
    with pytest.raises(DataFormatError, match="seg.json") as err:
        brace.load_segment(path)
    assert problem in str(err.value)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({f"v/img-{n:06d}.png": _brace_frame(np.random.default_rng(n)) for n in range(6)}))
    sequences, skipped = brace.load_segments([path, good])
    assert len(sequences) == 1 and skipped == [(str(path), err.value.problem)]


def test_generated_sequences_are_deterministic_and_plausible() -> None:
    a = synthetic_pose2d.generate(3, 20, seed=4)
    b = synthetic_pose2d.generate(3, 20, seed=4)
    assert all(np.array_equal(x.keypoints, y.keypoints) for x, y in zip(a, b, strict=True))
    kp = a[0].keypoints
    assert kp.shape == (20, 25, 2) and np.isfinite(kp).all() and a[0].visible.all()
    assert (kp[:, INDEX["nose"], 1] < kp[:, INDEX["L-ankle"], 1]).all()  # head above feet (y down)
    ear_gap = np.linalg.norm(kp[:, INDEX["L-ear"]] - kp[:, INDEX["R-ear"]], axis=-1)
    hip_gap = np.linalg.norm(kp[:, INDEX["L-hip"]] - kp[:, INDEX["R-hip"]], axis=-1)
    assert (ear_gap <= hip_gap + 1e-3).all()


def test_crop_maps_the_expanded_box_onto_the_grid() -> None:
    kp = np.array([[[10.0, 20.0], [110.0, 220.0], [60.0, 120.0], [0.0, 0.0]]])
    vis = np.array([[True, True, True, False]])
    coords, visible, usable = crop_frames(kp, vis)
    assert usable.tolist() == [True] and visible.tolist() == [[True, True, True, False]]
    np.testing.assert_allclose(coords[0, 0], [55 * 10 / 120, 55 * 20 / 240])  # box 100 x 200 grown 10% per side
    np.testing.assert_allclose(coords[0, 2], [27.5, 27.5])
    assert coords[0, 3].tolist() == [0.0, 0.0]


def test_crop_zero_size_and_nan_frames_are_unusable() -> None:
    kp = np.array([[[5.0, 5.0], [5.0, 9.0]], [[1.0, 1.0], [np.nan, 4.0]], [[1.0, 1.0], [3.0, 4.0]]])
    coords, visible, usable = crop_frames(kp, np.ones((3, 2), dtype=bool))
    assert usable.tolist() == [False, False, True] and not visible[:2].any() and np.isfinite(coords).all()


def _sequence(name: str, frames: int, usable: bool = True) -> PoseSequence:
    rng = np.random.default_rng(len(name) + frames)
    kp = rng.uniform(0, 100, (frames, 25, 2)).astype(np.float32)
    vis = np.ones((frames, 25), dtype=bool)
    if not usable:
        vis[4] = False  # runs of 4 frames on each side: no window
    return PoseSequence(name, kp, vis, np.ones(25, dtype=bool), name)


def test_windows_skip_short_sequences_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        windows, stats = make_windows([_sequence("a", 12), _sequence("b", 4), _sequence("c", 9, usable=False)])
    assert stats == {"sequences": 3, "too_short": 2, "unusable_frames": 1, "windows": 2}
    assert "skipped 2 of 3 sequences" in caplog.text
    assert [o[:2] for o in windows.origin] == [("a", 0), ("a", 5)]
    half, _ = make_windows([_sequence("a", 12)], frame_step=2)
    assert len(half) == 1 and half.origin == [("a", 0, 2)]
    np.testing.assert_allclose(half.keypoints[0, 1], crop_frames(_sequence("a", 12).keypoints[2:3],
                                                                 np.ones((1, 25), dtype=bool))[0][0], rtol=1e-6)


def test_splits_are_disjoint_shuffled_and_cover_every_window() -> None:
    windows, _ = make_windows([_sequence(f"s{i}", 23 + i) for i in range(20)])
    parts = split_indices(len(windows), seed=3)
    sizes = [len(parts[s]) for s in ("train", "val", "test")]
    assert sum(sizes) == len(windows) and sizes[1] == sizes[2] == round(0.2 * len(windows))
    frames = {}
    for split, index in parts.items():
        for i in index:
            name, first, step = windows.origin[i]
            frames[split] = frames.get(split, set()) | {(name, first + step * t) for t in range(5)}
    assert sum(len(f) for f in frames.values()) == 5 * len(windows)  # no frame in two windows or two splits
    assert not parts["train"].tolist() == sorted(parts["train"].tolist())
    assert np.array_equal(split_indices(len(windows), 3)["test"], parts["test"])
    with pytest.raises(ConfigError):
        split_indices(10, 0, (0.5, 0.5, 0.5))


def test_study_data_from_penn_subset_with_a_bad_file(shared: Path, tmp_path: Path) -> None:
    labels = shared / "penn_action" / "labels"
    for name in ("0001.mat", "0002.mat", "0003.mat"):
        (tmp_path / name).symlink_to(labels / name)
    scipy.io.savemat(tmp_path / "0004.mat", {"x": np.zeros((5, 12)), "y": np.zeros((5, 12)),
                                             "visibility": np.ones((5, 12)), "action": "squat", "train": 1,
                                             "nframes": 5})
    cfg = pretrain.Config(dataset="penn_action", data_dir=str(tmp_path), experiment=3)
    data = pretrain.load_data(cfg)
    assert data.info["files"] == 4 and len(data.info["skipped"]) == 1 and "0004.mat" in data.info["skipped"][0][0]
    assert data.info["frame_step"] == 2 and sum(data.info["split_windows"].values()) == data.info["windows"]
    assert data.splits["train"].annotated.sum(-1).eq(13).all()
    (tmp_path / "0001.mat").unlink()
    (tmp_path / "0002.mat").unlink()
    (tmp_path / "0003.mat").unlink()
    with pytest.raises(DataFormatError, match="none of the 1 files"):
        pretrain.load_data(cfg)
