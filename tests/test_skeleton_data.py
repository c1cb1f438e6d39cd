"""Skeleton data: layouts, the PYSKL format, the NTU / Kinetics / Penn converters and the generator."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from workbench.data.formats import kinetics_skeleton, ntu_skeleton, pyskl
from workbench.data.generators import synthetic_actions
from workbench.data.layouts.skeleton_layouts import LAYOUTS, NTU25, get_layout
from workbench.data.transforms import penn_skeleton
from workbench.errors import ConfigError, DataFormatError


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layouts_are_trees_with_involutive_flips(name: str) -> None:
    layout = get_layout(name)
    a = layout.parent_matrix()
    assert a.sum() == layout.num_joints - 1 and a[layout.root].sum() == 0
    assert np.linalg.matrix_power(a, layout.depth() + 1).sum() == 0  # no cycles
    perm = layout.flip_permutation()
    assert (perm[perm] == np.arange(layout.num_joints)).all()
    for left, right in layout.pairs:
        a_name, b_name = layout.joints[left], layout.joints[right]
        assert {a_name[:2], b_name[:2]} == {"L-", "R-"} and a_name[2:] == b_name[2:]


def test_unknown_layout() -> None:
    with pytest.raises(ConfigError, match="unknown skeleton layout"):
        get_layout("ntu26")


def _record(name: str = "clip", label: int = 1, frames: int = 5) -> dict:
    rng = np.random.default_rng(0)
    return {"frame_dir": name, "label": label, "total_frames": frames, "img_shape": (480, 640),
            "keypoint": rng.normal(size=(2, frames, 17, 2)).astype(np.float32),
            "keypoint_score": np.ones((2, frames, 17), np.float32)}


def test_pyskl_round_trip(tmp_path: Path) -> None:
    data = pyskl.make_dataset([_record("a", 0), _record("b", 2)], {"train": ["a"], "test": ["b"]})
    loaded = pyskl.load(pyskl.save(tmp_path / "d.pkl", data))
    assert loaded["split"] == {"train": ["a"], "test": ["b"]}
    np.testing.assert_array_equal(loaded["annotations"][1]["keypoint"], data["annotations"][1]["keypoint"])
    assert [r["frame_dir"] for r in pyskl.select(loaded, "test")] == ["b"]


def test_pyskl_real_sample(shared: Path) -> None:
    (path,) = sorted((shared / "pyskl_sample").glob("*.pkl"))
    data = pyskl.load(path)
    (record,) = data["annotations"]
    assert record["keypoint"].shape == (2, 163, 17, 2) and record["keypoint"].dtype == np.float32
    assert record["keypoint_score"].shape == (2, 163, 17) and record["img_shape"] == (256, 340)
    assert data["split"] == {}


class _Evil:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"split": {}}, "missing key 'annotations'"),
        ({"annotations": [{"frame_dir": "x", "label": 0}]}, r"record 0 is missing key\(s\) keypoint"),
        ({"annotations": [{**_record(), "keypoint": np.full((1, 2, 17, 2), np.nan)}]}, "NaN"),
        ({"annotations": [_record(label=-1)]}, "label -1 out of range"),
        ({"annotations": [_record()], "split": {"train": ["nope"]}}, "unknown frame_dir"),
        ({"annotations": [{**_record(), "keypoint_score": np.ones((2, 5, 16))}]}, "keypoint_score has shape"),
    ],
)
def test_pyskl_bad_content_names_file_and_problem(tmp_path: Path, content: dict, problem: str) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(DataFormatError, match=problem) as info:
        pyskl.load(path)
    assert info.value.path == str(path)


def test_pyskl_refuses_arbitrary_objects_and_checks_label_range(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"annotations": [_Evil()]}))
    with pytest.raises(DataFormatError, match="refusing to load builtins.print"):
        pyskl.load(path)
    path.write_bytes(pickle.dumps({"annotations": [_record(label=3)]}))
    with pytest.raises(DataFormatError, match=r"label 3 out of range \[0, 3\)"):
        pyskl.load(path, num_classes=3)


def test_ntu_skeleton_round_trip_tracks_bodies_and_keeps_the_most_active(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    bodies = np.zeros((3, 6, 25, 3))
    bodies[0] = rng.normal(scale=1.0, size=(6, 25, 3))
    bodies[1, 2:] = rng.normal(scale=0.01, size=(4, 25, 3))  # nearly still, appears at frame 3
    bodies[2] = rng.normal(scale=0.5, size=(6, 25, 3))
    path = ntu_skeleton.write_skeleton(tmp_path / "S001C002P003R001A010.skeleton", bodies)
    record = ntu_skeleton.skeleton_record(path)
    assert record["label"] == 9 and record["keypoint"].shape == (2, 6, 25, 3)
    np.testing.assert_allclose(record["keypoint"][0], bodies[0], atol=1e-5)
    np.testing.assert_allclose(record["keypoint"][1], bodies[2], atol=1e-5)


def _skeleton_text(joint_lines: list[str], joints: int = 25, frames: int = 1, bodies: int = 1) -> str:
    lines = [str(frames)]
    for _ in range(frames):
        lines.append(str(bodies))
        for _ in range(bodies):
            lines += ["7 0 0 0 0 0 0 0 0 0", str(joints), *joint_lines[:joints]]
    return "\n".join(lines) + "\n"


GOOD = "0.1 0.2 3.0 0 0 0 0 0 0 0 0 2"
WORD = "0.1 0.2 abc 0 0 0 0 0 0 0 0 2"
NAN = "0.1 0.2 nan 0 0 0 0 0 0 0 0 2"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_skeleton_text([GOOD] * 24, joints=24), "line 4: body has 24 joints, expected 25"),
        (_skeleton_text([GOOD] * 3 + [WORD] + [GOOD] * 21), "line 8: a joint line holds a non-number"),
        (_skeleton_text([GOOD] * 5 + [NAN] + [GOOD] * 19), "line 10: a joint line holds NaN"),
        (_skeleton_text([GOOD] * 2 + ["0.1 0.2"] + [GOOD] * 22), "line 7: a joint line needs 12 values, found 2"),
        ("two\n", "line 1: expected the frame count"),
        (_skeleton_text([GOOD] * 25, frames=2).rsplit("\n", 30)[0], "file ends where"),
    ],
)
def test_corrupt_skeleton_files_name_file_and_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=problem) as info:
        ntu_skeleton.skeleton_record(path)
    assert info.value.path == str(path)


def test_frames_without_body_stay_zero_and_are_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "3\n0\n1\n7 0 0 0 0 0 0 0 0 0\n25\n" + "\n".join([GOOD] * 25) + "\n0\n"
    path = tmp_path / "S001C001P001R001A005.skeleton"
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        keypoint = ntu_skeleton.read_skeleton(path)
    assert "2 of 3 frames have no body" in caplog.text
    assert keypoint.shape == (2, 3, 25, 3) and np.abs(keypoint[:, [0, 2]]).sum() == 0
    np.testing.assert_allclose(keypoint[0, 1, 0], [0.1, 0.2, 3.0])


def test_real_ntu_array(shared: Path) -> None:
    record = ntu_skeleton.load_array(shared / "ntu_sample" / "example_NTU-RGB-D_skeleton.npy", label=4)
    array = np.load(shared / "ntu_sample" / "example_NTU-RGB-D_skeleton.npy")
    assert array.shape == (3, 300, 25, 2)
    frames = record["total_frames"]
    assert 0 < frames < 300 and record["keypoint"].shape == (2, frames, 25, 3)
    np.testing.assert_array_equal(record["keypoint"][0, :, 3], array[:, :frames, 3, 0].T)
    assert np.abs(array[:, frames:]).sum() == 0
    with pytest.raises(DataFormatError, match=r"expected \(3, T, 25, M\)"):
        ntu_skeleton.array_record(array[:, :, :24], "x", 0)


def test_kinetics_json(tmp_path: Path) -> None:
    frames = []
    for t in (1, 2, 4):
        people = [{"pose": [0.1 * t] * 36, "score": [0.2] * 18}, {"pose": [0.5] * 36, "score": [0.9] * 18},
                  {"pose": [0.3] * 36, "score": [0.1] * 18}]
        frames.append({"frame_index": t, "skeleton": people})
    path = tmp_path / "clip.json"
    path.write_text(json.dumps({"data": frames, "label": "x", "label_index": 7}))
    record = kinetics_skeleton.json_record(path)
    assert record["label"] == 7 and record["keypoint"].shape == (2, 4, 18, 2) and record["total_frames"] == 4
    np.testing.assert_allclose(record["keypoint"][0, 0], 0.5)  # the highest-scoring person first
    np.testing.assert_allclose(record["keypoint"][1, 3], 0.4, rtol=1e-6)
    assert np.abs(record["keypoint"][:, 2]).sum() == 0 and record["keypoint_score"][0, 0, 0] == pytest.approx(0.9)
    path.write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": [{"pose": [0.1] * 34, "score": [1] * 18}]}],
                                "label_index": 0}))
    with pytest.raises(DataFormatError, match=r"data\[0\].skeleton\[0\]: pose needs 36"):
        kinetics_skeleton.json_record(path)


def test_penn_action_official_split(shared: Path) -> None:
    data = penn_skeleton.penn_dataset(shared / "penn_action" / "labels")
    assert len(data["split"]["train"]) == 1258 and len(data["split"]["test"]) == 1068
    record = data["annotations"][0]
    assert record["keypoint"].shape[::2] == (1, 13) and record["keypoint"].shape[-1] == 2
    assert record["keypoint_score"].shape == record["keypoint"].shape[:3]
    assert {r["label"] for r in data["annotations"]} == set(range(15))


def test_synthetic_actions_are_reproducible_and_varied() -> None:
    first = synthetic_actions.generate(3, seed=4)
    again = synthetic_actions.generate(3, seed=4)
    assert len(first) == 3 * len(synthetic_actions.ACTIONS) >= 30
    np.testing.assert_array_equal(first[5]["keypoint"], again[5]["keypoint"])
    assert {r["label"] for r in first} == set(range(len(synthetic_actions.ACTIONS)))
    for r in first:
        assert r["keypoint"].shape[1:] == (r["total_frames"], NTU25.num_joints, 3)
        assert np.isfinite(r["keypoint"]).all()
    second = [np.abs(r["keypoint"][1]).sum() > 0 for r in synthetic_actions.generate(10, seed=1)]
    assert 0 < sum(second) < len(second)  # a second person in some clips only
    heights = [r["keypoint"][0, :, 3, 1].mean() - r["keypoint"][0, :, 15, 1].mean() for r in first]
    assert min(heights) > 0.8 and max(heights) - min(heights) > 0.05  # head above foot, body sizes vary


def test_convert_ntu_folder_skips_bad_files_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from workbench.data.transforms import skeleton_convert

    rng = np.random.default_rng(2)
    for name in ("S001C001P001R001A001", "S001C002P003R001A002", "S001C003P002R002A001"):
        ntu_skeleton.write_skeleton(tmp_path / f"{name}.skeleton", rng.normal(size=(1, 4, 25, 3)))
    (tmp_path / "S001C001P001R001A003.skeleton").write_text("1\n1\n7 0 0 0 0 0 0 0 0 0\n24\n")
    out = tmp_path / "ntu.pkl"
    with caplog.at_level(logging.WARNING):
        assert skeleton_convert.main(["ntu", str(tmp_path), str(out)]) == 0
    assert "skipped 1 of 4 files" in caplog.text and "24 joints" in caplog.text
    data = pyskl.load(out)
    assert data["split"]["xsub_train"] == ["S001C001P001R001A001", "S001C003P002R002A001"]
    assert data["split"]["xview_train"] == ["S001C002P003R001A002", "S001C003P002R002A001"]
    assert [r["label"] for r in data["annotations"]] == [0, 1, 0]


def test_workbench_convert_writes_a_pyskl_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main

    source = tmp_path / "kinetics"
    source.mkdir()
    for i, label in enumerate((3, 5)):
        frames = [{"frame_index": t, "skeleton": [{"pose": [0.1 * t + i] * 36, "score": [0.5] * 18}]}
                  for t in range(1, 6)]
        (source / f"clip{i}.json").write_text(json.dumps({"data": frames, "label_index": label}))
    out = tmp_path / "kinetics.pkl"
    assert main(["convert", "kinetics", str(source), str(out), "--split", "val"]) == 0
    assert "wrote 2 clips (val 2)" in capsys.readouterr().out
    data = pyskl.load(out)
    assert data["split"] == {"val": ["clip0", "clip1"]} and [r["label"] for r in data["annotations"]] == [3, 5]
    np.testing.assert_allclose(data["annotations"][1]["keypoint"][0, 4], 1.5, rtol=1e-6)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["convert", "ntu", str(empty), str(tmp_path / "ntu.pkl")]) == 2
    assert "empty: no *.skeleton files" in capsys.readouterr().err and not (tmp_path / "ntu.pkl").exists()
