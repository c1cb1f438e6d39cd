"""QUB-PHEO clip loading, validation, features (normalisation, masking), windows and the generator."""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pytest

from workbench.data.formats import qub_pheo
from workbench.data.generators import synthetic_hands
from workbench.errors import DataFormatError


def _hand(wrist: tuple[float, float], frames: int = 1) -> np.ndarray:
    """A hand whose 21 landmarks sit at the wrist, landmark 8 offset by (+0.05, +0.1)."""
    points = np.zeros((frames, 21, 3), np.float32)
    points[..., :2] = wrist
    points[:, 8, :2] += (0.05, 0.1)
    return points


def _clip(tmp_path: Path, name: str = "p07-test.h5", frames: int = 4, **overrides: np.ndarray) -> Path:
    data = {
        "left": _hand((0.4, 0.5), frames), "right": _hand((0.6, 0.5), frames),
        "gaze": np.tile([0.7, 0.2], (frames, 1)), "boxes": np.zeros((frames, 36, 4)),
    }
    data["boxes"][:, 0] = (0.5, 0.3, 0.1, 0.2)
    data.update(overrides)
    return qub_pheo.write_clip(tmp_path / name, data["left"], data["right"], data["gaze"], data["boxes"],
                               timestamps=np.arange(frames) / 23.0)


def test_reads_the_real_sample_clips(shared: Path) -> None:
    clips, skipped = qub_pheo.load_clips(qub_pheo.clip_list(shared / "qub_pheo" / "landmarks"))
    assert not skipped and [c.num_frames for c in clips] == [21, 26, 84, 39]
    assert [c.participant for c in clips] == [1, 1, 2, 2]
    assert clips[1].boxes is None and clips[0].boxes.shape == (21, 36, 4) and clips[0].surrogate is None
    visible = qub_pheo.hand_visible(clips[1])
    assert not visible[:, 0].any() and visible[:, 1].all()  # the left hand is never detected in this clip
    kept, lacking = qub_pheo.usable_clips(clips, ["boxes"])
    assert len(kept) == 3 and lacking == [clips[1].name]


def test_round_trip_and_participant(tmp_path: Path) -> None:
    clip = qub_pheo.read_clip(_clip(tmp_path))
    assert clip.participant == 7 and clip.num_frames == 4 and clip.gaze.shape == (4, 2)
    assert qub_pheo.read_clip(_clip(tmp_path), participant=55).participant == 55


def test_writing_a_clip_another_process_is_writing_does_not_collide(tmp_path: Path) -> None:
    """Ranks of a distributed run generate the same clips at once: a write must not wait on, or clobber,
    the other process's unfinished file, and leaves no temporary file behind."""
    target = tmp_path / "p07-test.h5"
    others = [target.with_name(f".{target.name}.tmp"), target.with_name(f".{target.name}.99999999.tmp")]
    handles = [h5py.File(other, "w") for other in others]
    try:
        assert qub_pheo.read_clip(_clip(tmp_path)).num_frames == 4
    finally:
        for handle in handles:
            handle.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name] + [o.name for o in others])
    with pytest.raises(TypeError):
        qub_pheo.write_clip(tmp_path / "bad.h5", object(), None, None, None)
    assert not (tmp_path / "bad.h5").exists() and len(list(tmp_path.iterdir())) == 3


@pytest.mark.parametrize(("change", "problem"), [
    ({"drop": "right_landmarks"}, "missing dataset 'right_landmarks'"),
    ({"norm_gaze": np.zeros((3, 2))}, "'norm_gaze' has 3 frames but left_landmarks has 4"),
    ({"bboxes": np.zeros((4, 36, 5))}, "'bboxes' has shape (4, 36, 5)"),
    ({"left_landmarks": np.full((4, 21, 3), np.nan)}, "'left_landmarks' holds NaN or infinite values in 4 frame"),
    ({"left_landmarks": np.zeros((4, 21, 3)), "right_landmarks": np.zeros((4, 21, 3))}, "all-zero clip"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, change: dict, problem: str) -> None:
    path = _clip(tmp_path)
    with h5py.File(path, "a") as handle:
        for key, value in change.items():
            if key == "drop":
                del handle[value]
            else:
                del handle[key]
                handle[key] = value
    with pytest.raises(DataFormatError) as info:
        qub_pheo.read_clip(path)
    assert info.value.path == str(path) and problem in info.value.problem


def test_unreadable_files_are_skipped_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _clip(tmp_path, "p01-good.h5")
    (tmp_path / "p02-bad.h5").write_bytes(b"not hdf5")
    with caplog.at_level(logging.WARNING):
        clips, skipped = qub_pheo.load_clips(qub_pheo.clip_list(tmp_path))
    assert [c.name for c in clips] == ["p01-good"] and len(skipped) == 1
    assert skipped[0][0].endswith("p02-bad.h5") and "not a readable HDF5 file" in skipped[0][1]
    assert "p02-bad.h5" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="no .h5 clip files"):
        qub_pheo.clip_list(empty)


def test_clip_list_drives_participants(tmp_path: Path) -> None:
    _clip(tmp_path, "a.h5")
    _clip(tmp_path, "b.h5")
    listing = tmp_path / "clips.csv"
    listing.write_text("clip,participant\na.h5,3\nb.h5,65\n")
    clips, _ = qub_pheo.load_clips(qub_pheo.clip_list(tmp_path, listing))
    splits = qub_pheo.split_by_participant(clips)
    assert [c.name for c in splits["train"]] == ["a"] and [c.name for c in splits["test"]] == ["b"]
    assert splits["val"] == []
    listing.write_text("clip,participant\na.h5,x\n")
    with pytest.raises(DataFormatError, match="line 2: participant 'x'"):
        qub_pheo.clip_list(tmp_path, listing)


def test_features_are_recentred_on_the_wrists_and_scaled(tmp_path: Path) -> None:
    clip = qub_pheo.read_clip(_clip(tmp_path))
    feats, mask = qub_pheo.clip_features(clip, ["gaze", "boxes"])
    assert feats.shape == (4, 84 + 2 + 144) and mask.all()
    hands = feats[0, :84].reshape(42, 2)
    # centre (0.5, 0.5): left wrist (0.4, 0.5) -> (-0.2, 0); its landmark 8 (0.45, 0.6) -> (-0.1, 0.2)
    np.testing.assert_allclose(hands[0], [-0.2, 0.0], atol=1e-6)
    np.testing.assert_allclose(hands[8], [-0.1, 0.2], atol=1e-6)
    np.testing.assert_allclose(hands[21], [0.2, 0.0], atol=1e-6)
    np.testing.assert_allclose(feats[0, 84:86], [0.4, -0.6], atol=1e-6)  # gaze (0.7, 0.2)
    np.testing.assert_allclose(feats[0, 86:90], [0.0, -0.4, 0.2, 0.4], atol=1e-6)  # box (0.5, 0.3, 0.1, 0.2)
    assert not feats[0, 90:].any()  # empty box slots stay zero


def test_missing_hands_are_masked_and_held(tmp_path: Path) -> None:
    right = _hand((0.6, 0.5), 4)
    right[1:3] = 0.0  # not detected in frames 1 and 2
    left = _hand((0.4, 0.5), 4)
    left[1:, :, 0] += 0.1  # the left hand moves right by 0.1 from frame 1
    clip = qub_pheo.read_clip(_clip(tmp_path, left=left, right=right))
    feats, mask = qub_pheo.clip_features(clip)
    assert mask.tolist() == [[True, True], [True, False], [True, False], [True, True]]
    # masked: the missing right wrist holds (0.6, 0.5), so the centre of frame 1 is (0.55, 0.5)
    np.testing.assert_allclose(qub_pheo.frame_centres(clip)[1], [0.55, 0.5], atol=1e-6)
    np.testing.assert_allclose(feats[1, :2], [-0.1, 0.0], atol=1e-6)
    # the right hand holds its frame-0 image position (0.6, 0.5), re-centred: (0.6 - 0.55) / 0.5 = 0.1
    np.testing.assert_allclose(feats[1, 42:44], [0.1, 0.0], atol=1e-6)
    raw, raw_mask = qub_pheo.clip_features(clip, masked=False)
    assert raw_mask.all()
    # unmasked (published): the centre is the raw midpoint with the missing wrist at (0, 0)
    np.testing.assert_allclose(qub_pheo.frame_centres(clip, masked=False)[1], [0.25, 0.25], atol=1e-6)
    np.testing.assert_allclose(raw[1, 42:44], [-0.5, -0.5], atol=1e-6)


def test_windows_and_half_windows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long = qub_pheo.read_clip(_clip(tmp_path, "p01-long.h5", frames=50))
    short = qub_pheo.read_clip(_clip(tmp_path, "p02-short.h5", frames=9))
    with caplog.at_level(logging.WARNING):
        w, skipped = qub_pheo.make_windows([long, short], 10, 5, 15, ["gaze"])
    assert w.starts == [0, 15, 30] and skipped == ["p02-short"] and "skipped 1 clip" in caplog.text
    assert w.observed.shape == (3, 10, 86) and w.future.shape == (3, 5, 84) and w.future_mask.shape == (3, 5, 2)
    feats, _ = qub_pheo.clip_features(long, ["gaze"])
    np.testing.assert_array_equal(w.future[1], feats[25:30, :84])
    parts, too_short = qub_pheo.half_windows([long, short, qub_pheo.read_clip(_clip(tmp_path, "p03.h5", 3))])
    assert [p.observed.shape[1] for p in parts] == [25, 4] and too_short == ["p03"]
    assert all(len(p) == 1 for p in parts) and parts[1].future.shape == (1, 4, 84)


def test_generated_clips_read_back_and_gaze_leads_the_hands(tmp_path: Path) -> None:
    folder = synthetic_hands.write_dataset(tmp_path, {"train": 2, "val": 1, "test": 1}, seed=3)
    clips, skipped = qub_pheo.load_clips(qub_pheo.clip_list(folder))
    assert not skipped and len(clips) == 4
    splits = qub_pheo.split_by_participant(clips)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    assert all(c.has("gaze") and c.has("boxes") and c.has("surrogate") for c in clips)
    # the gaze is nearer to where a moving hand will be 10 frames later than to where it is now
    rng = np.random.default_rng(0)
    ahead, now = [], []
    for _ in range(8):
        clip = synthetic_hands.simulate_clip(rng, 300)
        wrists = np.stack([clip["left_landmarks"][:, 0, :2], clip["right_landmarks"][:, 0, :2]], axis=1)
        gaze = clip["norm_gaze"]
        step = np.linalg.norm(wrists[10:] - wrists[:-10], axis=-1)  # (F - 10, 2) per hand, image units
        moving = step.max(axis=1) > 0.05
        seen = wrists.any(axis=(1, 2))
        t = np.flatnonzero(moving & gaze[:-10].any(axis=1) & seen[:-10] & seen[10:])
        hand = np.argmax(step, axis=1)[t]  # the hand that moves most over the next 10 frames
        ahead.append(np.linalg.norm(gaze[t] - wrists[t + 10, hand], axis=-1).mean())
        now.append(np.linalg.norm(gaze[t] - wrists[t, hand], axis=-1).mean())
    assert np.mean(ahead) < 0.8 * np.mean(now)
