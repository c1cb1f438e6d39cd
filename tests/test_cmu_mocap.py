"""CMU mocap (ASF/AMC): parser and forward kinematics on a hand-computed chain, the SoMoF windows on the real
shared trials (proportions, speed, axes, frame rate, round trip), bad input and ``workbench convert cmu``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.data.formats import amc, asf, cmu_mocap, somof
from workbench.data.formats.asf import euler
from workbench.errors import ConfigError, DataFormatError

TINY = Path(__file__).parent / "data" / "cmu_tiny"
INCH = 0.0254


def test_tiny_skeleton_is_read_in_metres_parents_first() -> None:
    skeleton = asf.read_asf(TINY / "01.asf")
    assert [(b.name, b.parent, b.dof) for b in skeleton.bones] == [
        ("upper", "root", "x"), ("lower", "upper", "z"), ("tip", "lower", "")]
    # lengths 4.5, 9 and 2.25 file units / 0.45 = 10, 20 and 5 inches
    assert [b.length for b in skeleton.bones] == pytest.approx([10 * INCH, 20 * INCH, 5 * INCH], abs=1e-12)
    np.testing.assert_allclose(skeleton.bones[1].direction, [0, 1, 0])  # "0 2 0" normalised
    np.testing.assert_allclose(skeleton.bones[0].axis, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-15)  # Rz(90)
    assert skeleton.root_order == ("TX", "TY", "TZ", "RX", "RY", "RZ") and skeleton.root_axis == "xyz"


def test_euler_applies_the_first_axis_first() -> None:
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])  # Rx(90)
    ry = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])  # Ry(90)
    np.testing.assert_allclose(euler(np.radians([90.0, 90.0]), "xy"), ry @ rx, atol=1e-15)
    np.testing.assert_allclose(euler(np.radians([90.0, 90.0]), "yx"), rx @ ry, atol=1e-15)


# End points worked out by hand (see 01.asf): upper 0.254 m along x with C = Rz(90) and dof rx (a turn about
# the world y axis), lower 0.508 m along y (dof rz), tip 0.127 m along z (no dof).
# Frame 1, all zero: the rest pose.
# Frame 2, root at (0.254, 0.508, 0), root Rx(90), upper rx 90, lower rz 90: W_upper = Rx(90) Ry(90) takes
#   x to y; W_lower = W_upper Rz(90) takes y to -y and z to x.
# Frame 3, root Rx(90) then Ry(90) (order XYZ: R = Ry Rx), bones zero: x -> -z, y -> x, z -> -y.
EXPECTED = {
    "upper": [[0.254, 0, 0], [0.254, 0.762, 0], [0, 0, -0.254]],
    "lower": [[0.254, 0.508, 0], [0.254, 0.254, 0], [0.508, 0, -0.254]],
    "tip": [[0.254, 0.508, 0.127], [0.381, 0.254, 0], [0.508, -0.127, -0.254]],
}


def test_forward_kinematics_of_the_tiny_chain_by_hand() -> None:
    skeleton = asf.read_asf(TINY / "01.asf")
    ends = amc.forward_kinematics(skeleton, amc.read_amc(TINY / "01_01.amc", skeleton))
    np.testing.assert_allclose(ends["root"], [[0, 0, 0], [0.254, 0.508, 0], [0, 0, 0]], atol=1e-12)
    for bone, expected in EXPECTED.items():
        np.testing.assert_allclose(ends[bone], expected, atol=1e-12, err_msg=bone)


def test_radians_give_the_same_pose(tmp_path: Path) -> None:
    text = (TINY / "01_01.amc").read_text().replace(":DEGREES", ":RADIANS")
    (tmp_path / "01_01.amc").write_text(text.replace(" 90", f" {np.pi / 2!r}"))
    skeleton = asf.read_asf(TINY / "01.asf")
    ends = amc.forward_kinematics(skeleton, amc.read_amc(tmp_path / "01_01.amc", skeleton))
    np.testing.assert_allclose(ends["tip"], EXPECTED["tip"], atol=1e-12)


STICK = {  # a CMU-named stick figure, file units = metres: bone -> (parent, direction, length)
    "lhipjoint": ("root", "1 0 0", 0.1), "lfemur": ("lhipjoint", "0 -1 0", 0.4), "ltibia": ("lfemur", "0 -1 0", 0.4),
    "rhipjoint": ("root", "-1 0 0", 0.1), "rfemur": ("rhipjoint", "0 -1 0", 0.4), "rtibia": ("rfemur", "0 -1 0", 0.4),
    "lowerback": ("root", "0 1 0", 0.5), "lowerneck": ("lowerback", "0 1 0", 0.1),
    "upperneck": ("lowerneck", "0 1 0", 0.1), "lclavicle": ("lowerback", "1 0 0", 0.2),
    "lhumerus": ("lclavicle", "0 -1 0", 0.3), "lradius": ("lhumerus", "0 -1 0", 0.25),
    "rclavicle": ("lowerback", "-1 0 0", 0.2), "rhumerus": ("rclavicle", "0 -1 0", 0.3),
    "rradius": ("rhumerus", "0 -1 0", 0.25),
}
STICK_JOINTS = [[0.1, 0, 0], [-0.1, 0, 0], [0.1, -0.4, 0], [-0.1, -0.4, 0], [0.1, -0.8, 0], [-0.1, -0.8, 0],
                [0, 0.65, 0], [0.2, 0.5, 0], [-0.2, 0.5, 0], [0.2, 0.2, 0], [-0.2, 0.2, 0], [0.2, -0.05, 0],
                [-0.2, -0.05, 0]]
"""The 13 SoMoF joints of the stick figure relative to the root (head: middle of the upper neck)."""


def _stick_source(folder: Path, frames: tuple[int, ...] = (481, 481)) -> Path:
    """A subject folder ``01`` with the stick skeleton and one trial per entry of ``frames``: the root at
    0.9 m height walks along x at 1 m/s (120 Hz), trial k starting at x = k."""
    folder.mkdir(parents=True)
    bones = "".join(f"  begin\n    name {name}\n    direction {d}\n    length {n}\n    axis 0 0 0 XYZ\n  end\n"
                    for name, (_, d, n) in STICK.items())
    children: dict[str, list[str]] = {}
    for name, (parent, _, _) in STICK.items():
        children.setdefault(parent, []).append(name)
    hierarchy = "".join(f"    {parent} {' '.join(kids)}\n" for parent, kids in children.items())
    (folder / "01.asf").write_text(f":units\n  length 0.0254\n  angle deg\n:root\n  order TX TY TZ RX RY RZ\n"
                                   f"  axis XYZ\n:bonedata\n{bones}:hierarchy\n  begin\n{hierarchy}  end\n")
    for k, count in enumerate(frames):
        lines = [":FULLY-SPECIFIED", ":DEGREES"]
        for i in range(count):
            lines += [str(i + 1), f"root {k + i / 120!r} 0.9 0 0 0 0"]
        (folder / f"01_{k + 1:02d}.amc").write_text("\n".join(lines) + "\n")
    return folder


def test_windows_take_every_eighth_frame_with_the_stride(tmp_path: Path) -> None:
    windows = cmu_mocap.cmu_windows(_stick_source(tmp_path / "01"), stride=5)
    # 481 frames at 120 Hz -> frames 0, 8, .., 480: 61 at 15 Hz; starts 0, 5, .., 30: 7 windows per trial
    assert windows.poses.shape == (14, 30, 13, 3) and windows.flat.shape == (14, 30, 39)
    assert windows.trials == ("01_01",) * 7 + ("01_02",) * 7
    np.testing.assert_array_equal(windows.starts, [0, 5, 10, 15, 20, 25, 30] * 2)
    # window 3 of trial 01_02: 15 Hz frames 15 .. 44 = 120 Hz frames 120, 128, ..: root x = 1 + 1 + t / 15
    t = np.arange(30)[:, None, None]
    expected = np.array(STICK_JOINTS)[None] + np.array([2.0, 0.9, 0.0]) + t / 15 * np.array([1.0, 0, 0])
    np.testing.assert_allclose(windows.poses[10], expected, atol=1e-6)
    assert windows.poses.dtype == np.float32


def test_pairing_takes_window_k_with_window_k_plus_half() -> None:
    poses = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 30, 13, 3), np.float32)
    scenes = cmu_mocap.pair_people(poses)
    assert scenes.shape == (2, 2, 30, 39)
    assert scenes[:, :, 0, 0].tolist() == [[0, 2], [1, 3]]  # window 4 (n odd) is left out


# ---- the real shared trials


@pytest.fixture()
def cmu(shared: Path) -> Path:
    folder = shared / "cmu_mocap"
    if not folder.is_dir():
        pytest.skip(f"CMU mocap not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def all_windows() -> tuple[cmu_mocap.CmuWindows, float]:
    """Every window of the shared trials (default stride) and the seconds the conversion took."""
    if not cmu_mocap.default_source().is_dir():
        pytest.skip(f"CMU mocap not found at {cmu_mocap.default_source()}")
    start = time.perf_counter()
    windows = cmu_mocap.cmu_windows()
    return windows, time.perf_counter() - start


def test_bone_lengths_are_constant_and_adult(cmu: Path) -> None:
    for subject in ("01", "02", "03"):
        skeleton = asf.read_asf(cmu / "subjects" / subject / f"{subject}.asf")
        lengths = {b.name: b.length for b in skeleton.bones}
        assert 0.35 < lengths["lfemur"] < 0.5 and 0.35 < lengths["rfemur"] < 0.5, subject
        # standing height: the rest pose (every angle zero) from the lowest point to the end of the head bone
        rest = amc.Motion("rest", np.zeros((1, 3)), np.zeros((1, 3)),
                              {b.name: np.zeros((1, len(b.dof))) for b in skeleton.bones if b.dof})
        ends = amc.forward_kinematics(skeleton, rest)
        height = ends["head"][0, 1] - min(v[0, 1] for v in ends.values())
        assert 1.5 < height < 2.0, (subject, height)
        if subject == "01":  # "length 7.1578" in 01.asf, units "length 0.45": 7.1578 / 0.45 inches
            assert lengths["lfemur"] == pytest.approx(7.1578 / 0.45 * INCH, abs=1e-12)
    skeleton = asf.read_asf(cmu / "subjects" / "02" / "02.asf")
    motion = amc.read_amc(cmu / "subjects" / "02" / "02_05.amc", skeleton)
    ends = amc.forward_kinematics(skeleton, motion)
    for bone in skeleton.bones:
        measured = np.linalg.norm(ends[bone.name] - ends[bone.parent], axis=1)
        assert np.abs(measured - bone.length).max() < 1e-12, bone.name


def test_walking_trial_moves_at_walking_speed(cmu: Path) -> None:
    joints = cmu_mocap.read_trial(cmu / "subjects" / "02" / "02.asf", cmu / "subjects" / "02" / "02_01.amc")
    hips = joints[:, :2].mean(axis=1).astype(np.float64)
    seconds = (len(hips) - 1) / 15
    speed = np.linalg.norm((hips[-1] - hips[0])[[0, 2]]) / seconds  # horizontal: x and z
    assert 0.8 < speed < 2.0, speed
    assert abs(hips[-1, 1] - hips[0, 1]) < 0.1  # on level ground


def _convention(poses: np.ndarray) -> tuple[float, float]:
    """(fraction of frames with head above hips above ankles on the second coordinate, fraction with the
    knees in front of the hip-ankle line along cross(L-hip - R-hip, up)); poses (..., 13, 3)."""
    p = poses.astype(np.float64)
    head, hips, ankles = p[..., 6, 1], p[..., :2, 1].mean(-1), p[..., 4:6, 1].mean(-1)
    upright = float(((head > hips) & (hips > ankles)).mean())
    forward = np.cross(p[..., 0, :] - p[..., 1, :], [0.0, 1.0, 0.0])
    knees = [((p[..., k, :] - (p[..., h, :] + p[..., a, :]) / 2) * forward).sum(-1) > 0 for h, k, a in
             ((0, 2, 4), (1, 3, 5))]
    return upright, float(np.mean(knees))


def test_axes_and_handedness_match_the_somof_files(shared: Path, all_windows: tuple) -> None:
    valid = somof.load_split(shared / "somof_3dpw", "valid")
    somof_poses = np.concatenate([valid.inputs, valid.outputs], axis=2).reshape(-1, 30, 13, 3)
    upright, knees_forward = _convention(somof_poses)
    assert upright == 1.0 and knees_forward > 0.99  # SoMoF: y up, the body faces cross(L - R, up)
    windows, _ = all_windows
    upright, knees_forward = _convention(windows.poses)
    assert upright > 0.98 and knees_forward > 0.98  # CMU: the same (01 climbs and hangs at times)
    walk = windows.select(["02_01"]).poses.astype(np.float64)
    hips = walk[:, :, :2].mean(axis=2)
    facing = np.cross(walk[:, :, 0] - walk[:, :, 1], [0.0, 1.0, 0.0]).mean(axis=1)
    moving = hips[:, -1] - hips[:, 0]
    cosine = (facing * moving).sum(-1) / np.linalg.norm(facing, axis=-1) / np.linalg.norm(moving, axis=-1)
    assert (cosine > 0.9).all(), cosine  # walking goes where cross(L - R, up) points


def test_all_trials_convert_quickly_into_windows(all_windows: tuple) -> None:
    windows, seconds = all_windows
    assert len(set(windows.trials)) == 27 and not windows.skipped  # 02_03 (173 frames) is shorter than a window
    assert windows.poses.shape == (1795, 30, 13, 3) and seconds < 60
    step = np.diff(windows.poses.astype(np.float64), axis=1)
    assert np.abs(step).max() < 1.0  # no jump of a metre in 1/15 s: frames are consecutive


def test_round_trip_through_the_somof_writer_is_exact(cmu: Path, tmp_path: Path) -> None:
    source = cmu / "subjects" / "02"
    written = cmu_mocap.write_somof(source, tmp_path, stride=3, holdout=["02_01", "02_09"])
    windows = cmu_mocap.cmu_windows(source, stride=3)
    for split, trials in (("train", ["02_02", "02_04", "02_05", "02_06", "02_07", "02_08", "02_10"]),
                          ("valid", ["02_01", "02_09"])):
        scenes = cmu_mocap.pair_people(windows.select(trials).poses)
        loaded = somof.load_split(tmp_path, split)
        assert written[split] == loaded.num_scenes == len(scenes)
        stored = np.concatenate([loaded.inputs, loaded.outputs], axis=2)
        np.testing.assert_array_equal(stored, np.round(scenes.astype(np.float64), 6).astype(np.float32))
        assert np.abs(stored - scenes).max() <= 5e-7 + 1e-6  # the writer's 6 decimals, float32 rounding


def test_one_subject_folder_holds_out_its_default_trial(cmu: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    source = cmu / "subjects" / "02"
    assert main(["convert", "cmu", str(source), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    # subject 02 alone: of the default 01_14, 02_10, 03_04 only 02_10 is held out
    assert "(train 104, valid 30)" in out
    assert f"held out as valid: 02_10 (the default; {source} lacks 01_14, 03_04)" in out
    assert somof.load_split(tmp_path / "out", "valid").num_scenes == 30
    assert main(["convert", "cmu", str(source), str(tmp_path / "out2"), "--holdout", "01_14,02_10"]) == 2
    err = capsys.readouterr().err
    assert f"holdout names trial(s) 01_14, which {source} does not hold" in err
    assert not (tmp_path / "out2").exists()


# ---- bad input and the command line


def test_missing_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="file not found") as info:
        asf.read_asf(tmp_path / "01.asf")
    assert info.value.path == str(tmp_path / "01.asf")
    with pytest.raises(DataFormatError, match="folder not found"):
        cmu_mocap.cmu_windows(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"no CMU trials \(\*\.amc files\) found"):
        cmu_mocap.cmu_windows(tmp_path / "empty")
    lost = _stick_source(tmp_path / "lost")
    (lost / "01.asf").unlink()
    with pytest.raises(DataFormatError, match=r"no readable CMU trial \(2 skipped\)"):
        cmu_mocap.cmu_windows(lost)


def test_a_skeleton_without_cmu_bones_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "01"
    folder.mkdir()
    shutil.copy(TINY / "01.asf", folder / "01.asf")
    shutil.copy(TINY / "01_01.amc", folder / "01_01.amc")
    with pytest.raises(DataFormatError, match="not a CMU skeleton: no bone lclavicle, lfemur") as info:
        cmu_mocap.read_trial(folder / "01.asf", folder / "01_01.amc")
    assert info.value.path == str(folder / "01.asf")


def test_bad_trial_is_skipped_and_unknown_holdout_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = _stick_source(tmp_path / "01", frames=(481, 481, 481))  # 01_02 at 1.5 m: frame 61, line 4 + 2 x 60
    (source / "01_02.amc").write_text((source / "01_02.amc").read_text().replace("root 1.5", "root nan", 1))
    windows = cmu_mocap.cmu_windows(source, stride=5)
    assert sorted(set(windows.trials)) == ["01_01", "01_03"]
    assert len(windows.skipped) == 1 and "line 124: 'root' holds NaN/inf" in windows.skipped[0][1]
    assert "skipped 1 of 3 CMU trials" in caplog.text
    with pytest.raises(ConfigError, match="01_09"):
        cmu_mocap.write_somof(source, tmp_path / "out", holdout=["01_09"])
    with pytest.raises(ConfigError, match="stride"):
        cmu_mocap.cmu_windows(source, stride=0)


def test_workbench_convert_cmu(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _stick_source(tmp_path / "cmu" / "subjects" / "01", frames=(481, 481, 721))
    out = tmp_path / "out"
    assert main(["convert", "cmu", str(tmp_path / "cmu"), str(out), "--stride", "10", "--holdout", "01_03"]) == 0
    # 01_01, 01_02: 61 frames at 15 Hz, starts 0, 10, 20, 30 (4 windows each); 01_03: 91 frames, 7 windows
    assert "train 4, valid 3" in capsys.readouterr().out
    train, valid = somof.load_split(out, "train"), somof.load_split(out, "valid")
    assert train.inputs.shape == (4, 2, 16, 39) and train.outputs.shape == (4, 2, 14, 39)
    assert valid.inputs.shape == (3, 2, 16, 39)
    # scene 0: window 0 of 01_01 (root x from 0) with window 0 of 01_02 (root x from 1)
    np.testing.assert_allclose(train.inputs[0, :, 0, 0], [0.1, 1.1], atol=1e-6)
    assert main(["convert", "cmu", str(tmp_path / "cmu"), str(out), "--stride", "10", "--holdout", ""]) == 0
    assert "(train 7) to" in capsys.readouterr().out  # 4 + 4 + 7 windows
    assert somof.available_splits(out) == ["train"]  # the valid split of the first conversion is gone
    assert main(["convert", "cmu", str(tmp_path / "nowhere"), str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere: folder not found" in err
    assert not (tmp_path / "out2").exists()


def test_default_holdout_takes_the_default_trials_the_source_holds(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    source = _stick_source(tmp_path / "01", frames=(241,) * 13 + (481,))  # 01_01 .. 01_14, 01_14 the longest
    assert cmu_mocap.holdout_trials(source) == ["01_14"]
    assert cmu_mocap.holdout_trials(source, []) == []
    out = tmp_path / "out"
    assert main(["convert", "cmu", str(source), str(out), "--stride", "10"]) == 0
    # 01_01 .. 01_13: 31 frames at 15 Hz, one window each (6 scenes); 01_14: 61 frames, 4 windows (2 scenes)
    text = capsys.readouterr().out
    assert "(train 6, valid 2)" in text
    assert f"held out as valid: 01_14 (the default; {source} lacks 02_10, 03_04)" in text
    assert somof.load_split(out, "valid").num_scenes == 2
    # a source with none of the default trials holds out none (a valid split of an earlier conversion goes)
    none = _stick_source(tmp_path / "none" / "01", frames=(481, 481))
    assert cmu_mocap.holdout_trials(none) == []
    assert cmu_mocap.write_somof(none, out, stride=10) == {"train": 4}
    assert somof.available_splits(out) == ["train"]
    # trials named explicitly must all be there
    with pytest.raises(ConfigError, match=r"holdout names trial\(s\) 01_15, 02_10, which .*01 does not hold"):
        cmu_mocap.holdout_trials(source, ["01_14", "02_10", "01_15"])
    assert main(["convert", "cmu", str(source), str(tmp_path / "out2"), "--holdout", "01_14,02_10"]) == 2
    err = capsys.readouterr().err
    assert f"holdout names trial(s) 02_10, which {source} does not hold" in err
    assert not (tmp_path / "out2").exists()
    assert main(["convert", "cmu", str(source), str(tmp_path / "out3"), "--stride", "10", "--holdout", "01_01"]) == 0
    assert "held out as valid: 01_01\n" in capsys.readouterr().out  # no "(the default)" note when named
