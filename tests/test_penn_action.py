"""The Penn Action label loader on the real files and on broken ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from workbench.data.formats import penn_action
from workbench.errors import DataFormatError


def test_all_real_label_files_load_with_the_official_split(shared: Path) -> None:
    videos, skipped = penn_action.load_videos(penn_action.label_files(shared / "penn_action" / "labels"))
    assert len(videos) == 2326 and skipped == []
    assert sum(v.train for v in videos) == 1258 and sum(not v.train for v in videos) == 1068
    assert {v.action for v in videos} == set(penn_action.ACTIONS)
    first = videos[0]
    raw = scipy.io.loadmat(shared / "penn_action" / "labels" / "0001.mat")
    assert first.keypoints.shape == (int(raw["nframes"][0, 0]), 13, 2)
    assert first.keypoints[5, 3, 0] == pytest.approx(float(raw["x"][5, 3]))
    assert first.keypoints[5, 3, 1] == pytest.approx(float(raw["y"][5, 3]))
    assert first.action == "baseball_pitch" and first.label == 0 and not first.train


def _mat(tmp_path: Path, **fields: object) -> Path:
    base = {"x": np.zeros((4, 13), np.uint16), "y": np.ones((4, 13)), "visibility": np.ones((4, 13), np.uint8),
            "action": "squat", "train": 1, "nframes": 4, "bbox": np.zeros((4, 4))}
    base.update(fields)
    path = tmp_path / "0042.mat"
    scipy.io.savemat(path, {k: v for k, v in base.items() if v is not None})
    return path


def test_integer_coordinates_are_cast(tmp_path: Path) -> None:
    video = penn_action.load_video(_mat(tmp_path))
    assert video.keypoints.dtype == np.float32 and video.label == penn_action.ACTIONS.index("squat") and video.train


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"visibility": None}, "missing field(s) visibility"),
        ({"x": np.zeros((4, 12))}, "field 'x' has shape (4, 12), expected (nframes, 13)"),
        ({"nframes": 5}, "field 'x' has 4 frames but nframes is 5"),
        ({"y": np.full((4, 13), np.nan)}, "non-finite"),
        ({"action": "dance"}, "unknown action 'dance'"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, fields: dict, message: str) -> None:
    path = _mat(tmp_path, **fields)
    with pytest.raises(DataFormatError) as err:
        penn_action.load_video(path)
    assert str(err.value) == f"{path}: {message}" or message in str(err.value)
    assert str(path) in str(err.value)
    videos, skipped = penn_action.load_videos([path])
    assert videos == [] and len(skipped) == 1


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "0001.mat"
    path.write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(DataFormatError, match="not a readable .mat file"):
        penn_action.load_video(path)
