"""The SoMoF 3DPW loader on the real shared files, generated files and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.data.formats import somof
from workbench.data.generators import synthetic_3dpw
from workbench.data.layouts.skeleton_3dpw import BONES
from workbench.errors import DataFormatError


def test_real_valid_and_test_splits(shared: Path) -> None:
    folder = shared / "somof_3dpw"
    valid = somof.load_split(folder, "valid")
    assert valid.inputs.shape == (36, 2, 16, 39)
    assert valid.outputs is not None and valid.outputs.shape == (36, 2, 14, 39)
    assert valid.frames is not None and len(valid.frames) == 36 and len(valid.frames[0]) == 16
    raw = json.loads((folder / "3dpw_valid_in.json").read_text())
    assert valid.inputs[3, 1, 5, 7] == pytest.approx(raw[3][1][5][7], abs=1e-6)
    test = somof.load_split(folder, "test")
    assert test.inputs.shape == (85, 2, 16, 39) and test.outputs is None


def test_generated_data_round_trip_and_plausible_bodies(tmp_path: Path) -> None:
    synthetic_3dpw.write_dataset(tmp_path, {"train": 6, "valid": 4}, seed=3)
    assert somof.available_splits(tmp_path) == ["train", "valid"]
    split = somof.load_split(tmp_path, "valid")
    assert split.inputs.shape == (4, 2, 16, 39) and split.outputs.shape == (4, 2, 14, 39)
    poses = np.concatenate([split.inputs, split.outputs], axis=2).reshape(4, 2, 30, 13, 3)
    for a, b in BONES:  # rigid bones: length varies only by the 2 mm jitter
        length = np.linalg.norm(poses[..., a, :] - poses[..., b, :], axis=-1)
        assert length.std(axis=2).max() < 0.02
    head_above_ankles = poses[..., 6, 1] - poses[..., 4:6, 1].mean(-1)
    assert (head_above_ankles > 1.0).all()
    again = tmp_path / "again"
    synthetic_3dpw.write_dataset(again, {"train": 6, "valid": 4}, seed=3)
    np.testing.assert_array_equal(somof.load_split(again, "valid").inputs, split.inputs)


def _write(folder: Path, name: str, payload: object) -> Path:
    path = folder / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def _scenes(frames: int, coords: int = 39, scenes: int = 2) -> list:
    return np.zeros((scenes, 2, frames, coords)).tolist()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "3dpw_valid_in.json: file not found"),
        ({"in": "[[[1, 2"}, "malformed JSON"),
        ({"in": _scenes(16, coords=38)}, "expected 39 numbers (13 joints x xyz), got 38"),
        ({"in": _scenes(15)}, "expected 16 frames, got 15"),
        ({"in": _scenes(16), "out": _scenes(15)}, "3dpw_valid_out.json: scene 0, person 0: expected 14 frames, got 15"),
        ({"in": _scenes(16), "out": _scenes(14, scenes=3)}, "3 scenes x 2 people, but 3dpw_valid_in.json has 2 x 2"),
        ({"in": {"scenes": []}}, "expected a non-empty list of scenes"),
        ({"in": [[[["a"] * 39] * 16] * 2]}, "coordinates must be numbers"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, files: dict, message: str) -> None:
    for kind, payload in files.items():
        _write(tmp_path, f"3dpw_valid_{kind}.json", payload)
    with pytest.raises(DataFormatError) as err:
        somof.load_split(tmp_path, "valid")
    assert message in str(err.value)
    assert "3dpw_valid_" in str(err.value)


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_non_finite_coordinates_are_located(tmp_path: Path, bad: str) -> None:
    rows = _scenes(16)
    rows[1][0][4][10] = float(bad.lower().replace("infinity", "inf"))
    (tmp_path / "3dpw_valid_in.json").write_text(json.dumps(rows))
    located = r"non-finite coordinate\(s\) \(NaN/inf\), first at scene 1, person 0, frame 4, joint 3"
    with pytest.raises(DataFormatError, match=located):
        somof.load_split(tmp_path, "valid")


def test_predictions_are_written_in_submission_layout(tmp_path: Path) -> None:
    pred = np.random.default_rng(0).normal(size=(3, 2, 14, 39)).astype(np.float32)
    somof.write_predictions(tmp_path / "p.json", pred)
    back = np.asarray(json.loads((tmp_path / "p.json").read_text()))
    assert back.shape == (3, 2, 14, 39)
    np.testing.assert_allclose(back, pred, atol=1e-6)
    with pytest.raises(DataFormatError, match="predictions must be"):
        somof.write_predictions(tmp_path / "q.json", pred[:, :, :13])
    assert not (tmp_path / "q.json").exists()
