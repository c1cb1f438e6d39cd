"""The bad-input corpus ``tests/data/bad/`` (listed in its README.md): every malformed file makes its loader
raise the project's own error (:class:`DataFormatError` or :class:`CheckpointError`) naming the file and the
problem, never a library error or a silently wrong result; the multi-file loaders skip such files with a
logged count instead."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from bad_input_counter import count

from workbench.data.formats import (
    amc,
    asf,
    brace,
    cmu_mocap,
    jhmdb,
    kinetics_skeleton,
    ntu_skeleton,
    penn_action,
    pyskl,
    qub_pheo,
    somof,
)
from workbench.data.transforms import penn_skeleton
from workbench.data.transforms.skeleton_convert import convert
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.errors import CheckpointError, DataFormatError
from workbench.models import derpof, hand_forecasters
from workbench.models.heatmap_models import build as build_heatmap_model
from workbench.studies import decoupled_3dpw, hand_forecasting, pretrain, skeleton_ensembles

BAD = Path(__file__).parent / "data" / "bad"
CMU_TINY = Path(__file__).parent / "data" / "cmu_tiny" / "01.asf"

DATA_CASES: dict[str, dict[str, str]] = {
    "somof": {
        "empty_file": r"malformed JSON \(Expecting value at line 1, column 1\)",
        "truncated_json": r"malformed JSON",
        "not_utf8": r"not a UTF-8 text file",
        "object_not_list": r"expected a non-empty list of scenes",
        "no_scenes": r"expected a non-empty list of scenes",
        "scene_not_list": r"scene 0: expected a non-empty list of people",
        "frames_15": r"scene 0, person 0: expected 16 frames, got 15",
        "coords_38": r"frame 0: expected 39 numbers \(13 joints x xyz\), got 38",
        "people_differ": r"scenes have different numbers of people: \[1, 2\]",
        "nan_literal": r"1 non-finite coordinate\(s\) \(NaN/inf\), first at scene 0, person 0, frame 0, joint 0",
        "infinity_literal": r"1 non-finite coordinate\(s\)",
        "overflow_1e999": r"1 non-finite coordinate\(s\)",
        "strings_for_numbers": r"coordinates must be numbers, found text",
        "booleans_for_numbers": r"coordinates must be numbers, found true/false values",
        "null_coordinate": r"coordinates must be numbers, found null",
        "huge_integer": r"coordinates must be numbers, found an integer too large for a float",
        "beyond_float32": r"coordinates: 1 value\(s\) beyond \+-1e\+06",
        "out_scene_count": r"2 scenes x 1 people, but 3dpw_valid_in.json has 1 x 1",
        "out_frames_16": r"expected 14 frames, got 16",
        "frames_in_wrong_count": r"expected a list of 1 scenes of image paths",
        "frames_in_scene_not_list": r"scene 0: expected a list of 16 image paths",
        "frames_in_paths_not_strings": r"scene 0: expected a list of 16 image paths \(text\)",
    },
    "penn_action": {
        "empty.mat": r"not a readable \.mat file",
        "truncated.mat": r"not a readable \.mat file",
        "random_bytes.mat": r"not a readable \.mat file",
        "text.mat": r"not a readable \.mat file",
        "missing_fields.mat": r"missing field\(s\) visibility, action",
        "twelve_joints.mat": r"field 'x' has shape \(2, 12\), expected \(nframes, 13\)",
        "nframes_lies.mat": r"field 'x' has 2 frames but nframes is 5",
        "nan_coordinates.mat": r"non-finite \(NaN/inf\) keypoint coordinates",
        "inf_coordinates.mat": r"non-finite \(NaN/inf\) keypoint coordinates",
        "beyond_float32.mat": r"field 'x': 26 value\(s\) beyond \+-1e\+06",
        "strings_for_x.mat": r"field 'x' must be numbers, found text",
        "cell_array_for_y.mat": r"field 'y' must be numbers, found nested arrays",
        "unknown_action.mat": r"unknown action 'moonwalk'",
        "nframes_text.mat": r"field 'nframes' must be numbers, found text",
        "nframes_two_values.mat": r"field 'nframes' should hold one value, has 2",
        "nframes_nan.mat": r"field 'nframes': 1 NaN/inf value",
        "train_text.mat": r"field 'train' must be numbers, found text",
        "visibility_text.mat": r"field 'visibility' must be numbers, found text",
        "dimensions_nan.mat": r"field 'dimensions': 1 NaN/inf value",
    },
    "brace": {
        "empty.json": r"malformed JSON",
        "truncated.json": r"malformed JSON",
        "not_utf8.json": r"malformed JSON \('utf-8' codec",
        "list_not_object.json": r"expected a non-empty JSON object keyed by frame id",
        "empty_object.json": r"expected a non-empty JSON object keyed by frame id",
        "no_keypoints_field.json": r"frame 'vid/img-000001.png' has no 'keypoints' field",
        "frame_not_object.json": r"frame 'vid/img-000001.png' has no 'keypoints' field",
        "sixteen_keypoints.json": r"'keypoints' has shape \(16, 3\), expected \(17, 3\)",
        "two_values_per_keypoint.json": r"'keypoints' has shape \(17, 2\), expected \(17, 3\)",
        "strings_for_numbers.json": r"'keypoints' must be numbers, found text",
        "text_for_numbers.json": r"'keypoints' must be numbers, found text",
        "booleans_for_numbers.json": r"'keypoints' must be numbers, found true/false values",
        "ragged_keypoints.json": r"'keypoints' must be numbers, found nested lists of different lengths",
        "huge_integer.json": r"'keypoints' must be numbers, found an integer too large for a float",
        "beyond_float32.json": r"'keypoints': 1 value\(s\) beyond \+-1e\+06",
        "key_without_frame_number.json": r"frame key 'vid/img-first.png' holds no frame number",
        "duplicate_frame_number.json": r"two frame ids have the same frame number",
    },
    "qub_pheo": {
        "empty.h5": r"not a readable HDF5 file",
        "truncated.h5": r"not a readable HDF5 file",
        "random_bytes.h5": r"not a readable HDF5 file",
        "missing_left_landmarks.h5": r"missing dataset 'left_landmarks' \(has: right_landmarks\)",
        "missing_right_landmarks.h5": r"missing dataset 'right_landmarks' \(has: left_landmarks\)",
        "landmarks_group.h5": r"'left_landmarks' is a group, expected a dataset",
        "twenty_landmarks.h5": r"'right_landmarks' has shape \(2, 20, 3\), expected \(F, 21, 3\)",
        "frame_counts_differ.h5": r"'right_landmarks' has 3 frames but left_landmarks has 2",
        "zero_frames.h5": r"clip has 0 frames",
        "all_zero.h5": r"all-zero clip: no hand detected in any of its 2 frames",
        "nan_landmarks.h5": r"'left_landmarks' holds NaN or infinite values in 2 frame",
        "inf_gaze.h5": r"'norm_gaze' holds NaN or infinite values in 2 frame",
        "strings_for_landmarks.h5": r"'left_landmarks' does not hold numbers \(dtype \|S3\)",
        "text_gaze.h5": r"'norm_gaze' does not hold numbers",
        "compound_landmarks.h5": r"'left_landmarks' does not hold numbers",
        "beyond_float32.h5": r"'left_landmarks': 126 value\(s\) beyond \+-1e\+06",
        "huge_landmarks.h5": r"'right_landmarks': 126 value\(s\) beyond \+-1e\+06 \(largest 1e\+30\)",
        "empty_dataspace.h5": r"'left_landmarks' has shape None, expected \(F, 21, 3\)",
        "scalar_landmarks.h5": r"'left_landmarks' has shape \(\), expected \(F, 21, 3\)",
        "boxes_wrong_shape.h5": r"'bboxes' has shape \(2, 35, 4\), expected \(F, 36, 4\)",
        "timestamps_2d.h5": r"'timestamps' has shape \(2, 2\), expected \(F,\)",
    },
    "ntu_skeleton": {
        "empty.skeleton": r"line 1: file ends where the frame count was expected",
        "frame_count_text.skeleton": r"line 1: expected the frame count \(one whole number\), got 'two'",
        "frame_count_lies_high.skeleton": r"line 30: file ends where the body count of frame 2 was expected",
        "frame_count_lies_low.skeleton": r"line 30: data after the last of the 1 frames",
        "frame_count_huge.skeleton": r"line 1: frame count 1000000000, but the file has only 29 lines",
        "zero_frames.skeleton": r"line 1: the file holds 0 frames",
        "no_body_in_any_frame.skeleton": r"no body in any of its 2 frames",
        "body_with_24_joints.skeleton": r"line 4: body has 24 joints, expected 25",
        "joint_count_text.skeleton": r"line 4: expected the joint count \(one whole number\), got 'many'",
        "joint_line_short.skeleton": r"line 5: a joint line needs 12 values, found 11",
        "joint_line_text.skeleton": r"line 5: a joint line holds a non-number",
        "joint_nan.skeleton": r"line 5: a joint line holds NaN/inf",
        "joint_inf.skeleton": r"line 5: a joint line holds NaN/inf",
        "joint_beyond_float32.skeleton": r"line 5: a joint line holds values beyond \+-1e\+06",
        "body_info_short.skeleton": r"line 3: body info needs 10 values, found 3",
        "body_count_negative.skeleton": r"line 2: expected the body count of frame 1 \(one whole number\), got '-1'",
        "truncated_mid_body.skeleton": r"line 14: a joint line needs 12 values, found 7",
        "not_utf8.skeleton": r"unreadable \(UnicodeDecodeError",
        "array_empty_file.npy": r"not a NumPy array file",
        "array_truncated.npy": r"not a NumPy array file",
        "array_random_bytes.npy": r"not a NumPy array file",
        "array_objects.npy": r"not a NumPy array file \(Object arrays cannot be loaded",
        "array_wrong_shape.npy": r"array has shape \(3, 2, 24, 1\), expected \(3, T, 25, M\)",
        "array_nan.npy": r"array holds NaN/inf",
        "array_strings.npy": r"array must be numbers, found text",
        "array_beyond_float32.npy": r"array: 150 value\(s\) beyond \+-1e\+06",
    },
    "kinetics_skeleton": {
        "empty.json": r"not valid JSON",
        "truncated.json": r"not valid JSON",
        "not_utf8.json": r"not valid JSON",
        "list_not_object.json": r"expected an object with a 'data' list of frames",
        "data_not_list.json": r"expected an object with a 'data' list of frames",
        "no_label_index.json": r"no whole-number 'label_index' >= 0 and no label given \(found None\)",
        "label_index_text.json": r"no whole-number 'label_index' >= 0 and no label given \(found '3'\)",
        "label_index_negative.json": r"no whole-number 'label_index' >= 0 and no label given \(found -2\)",
        "no_frames.json": r"no frames",
        "frame_index_missing.json": r"data\[0\] needs a positive integer 'frame_index'",
        "frame_index_zero.json": r"data\[0\] needs a positive integer 'frame_index'",
        "frame_index_huge.json": r"data\[0\]: frame_index 1000000000 is beyond 100000 frames",
        "frame_index_repeated.json": r"frame_index 1 appears more than once",
        "frame_not_object.json": r"data\[0\] needs a positive integer 'frame_index'",
        "skeleton_not_list.json": r"data\[0\]\.skeleton must be a list of people, found dict",
        "person_not_object.json": r"data\[0\]\.skeleton\[0\] must be an object with pose and score, found list",
        "pose_17_joints.json": r"pose needs 36 and score 18 values, found 34 and 18",
        "score_short.json": r"pose needs 36 and score 18 values, found 36 and 17",
        "pose_text.json": r"data\[0\]\.skeleton\[0\]\.pose must be numbers, found text",
        "pose_ragged.json": r"pose must be numbers, found nested lists of different lengths",
        "pose_nan.json": r"data\[0\]\.skeleton\[0\]: NaN/inf in pose or score",
        "pose_huge_integer.json": r"pose must be numbers, found an integer too large for a float",
        "pose_beyond_float32.json": r"pose: 1 value\(s\) beyond \+-1e\+06",
    },
    "pyskl": {
        "empty.pkl": r"not a PYSKL skeleton pickle \(EOFError",
        "truncated.pkl": r"not a PYSKL skeleton pickle",
        "random_bytes.pkl": r"not a PYSKL skeleton pickle",
        "text.pkl": r"not a PYSKL skeleton pickle",
        "forbidden_global.pkl": r"refusing to load os\.system",
        "no_annotations.pkl": r"missing key 'annotations' \(found \['split'\]\)",
        "annotations_not_list.pkl": r"'annotations' must be a list of records, found int",
        "record_not_dict.pkl": r"record 0 is a int, not a dict",
        "record_missing_keypoint.pkl": r"record 0 is missing key\(s\) keypoint",
        "keypoint_three_dims.pkl": r"record 0 \(clip0\): keypoint has shape \(2, 17, 2\), expected \(M, T, V, 2 or 3\)",
        "keypoint_four_coords.pkl": r"keypoint has shape \(1, 2, 17, 4\)",
        "keypoint_nan.pkl": r"record 0 \(clip0\): keypoint holds NaN/inf",
        "keypoint_strings.pkl": r"record 0 \(clip0\): keypoint must be numbers, found text",
        "keypoint_objects.pkl": r"keypoint must be numbers, found text",
        "keypoint_ragged.pkl": r"keypoint must be numbers, found nested lists of different lengths",
        "keypoint_beyond_float32.pkl": r"keypoint: 68 value\(s\) beyond \+-1e\+06",
        "keypoint_huge.pkl": r"keypoint: 68 value\(s\) beyond \+-1e\+06 \(largest 1e\+30\)",
        "score_wrong_shape.pkl": r"keypoint_score has shape \(1, 2, 16\), expected \(1, 2, 17\)",
        "score_inf.pkl": r"keypoint_score holds NaN/inf",
        "label_text.pkl": r"label 'walking' is not an integer",
        "label_fraction.pkl": r"label 2\.5 is not an integer",
        "label_negative.pkl": r"label -1 out of range",
        "total_frames_text.pkl": r"total_frames 'two' is not the keypoint's 2 frames",
        "total_frames_lies.pkl": r"total_frames 5 is not the keypoint's 2 frames",
        "img_shape_number.pkl": r"img_shape 480 is not \(height, width\) in whole pixels",
        "img_shape_text.pkl": r"img_shape \('h', 'w'\) is not \(height, width\)",
        "split_unknown_clip.pkl": r"split 'train' names 1 unknown frame_dir, e\.g\. 'clip9'",
        "split_not_dict.pkl": r"'split' must map split names to lists of frame_dir",
        "split_members_not_list.pkl": r"split 'train' must be a list of frame_dir names",
        "duplicate_frame_dir.pkl": r"frame_dir 'clip0' names more than one record",
    },
    "jhmdb": {
        "empty.pkl": r"not a JHMDB joint pickle \(EOFError",
        "truncated.pkl": r"not a JHMDB joint pickle \(UnpicklingError",
        "forbidden_global.pkl": r"refusing to load (posix|os)\.system",
        "not_a_dict.pkl": r"expected a dict with keys 'pose' and 'label', found list",
        "no_label.pkl": r"expected a dict with keys 'pose' and 'label', found \['pose'\]",
        "pose_not_list.pkl": r"'pose' and 'label' must be lists",
        "lengths_differ.pkl": r"'pose' holds 2 clips but 'label' 1 labels",
        "no_clips.pkl": r"no clips",
        "fourteen_joints.pkl": r"clip 0: pose has shape \(2, 14, 2\), expected \(T, 15, 2\)",
        "three_coords.pkl": r"clip 0: pose has shape \(2, 15, 3\)",
        "pose_nan.pkl": r"clip 0: pose: 1 NaN/inf value",
        "pose_text.pkl": r"clip 0: pose must be numbers, found text",
        "unknown_label.pkl": r"clip 0: unknown label 'moonwalk'",
        "label_number.pkl": r"clip 0: unknown label 3",
    },
    "asf_amc": {
        "empty.asf": r"no :root section",
        "no_hierarchy.asf": r"no :hierarchy section",
        "text_before_section.asf": r"line 1: 'VICON' before the first :section",
        "not_utf8.asf": r"unreadable \(UnicodeDecodeError",
        "length_text.asf": r"line 11: length holds a non-number: 'long'",
        "length_nan.asf": r"line 18: length holds NaN/inf",
        "length_beyond_float32.asf": r"line 18: length holds values beyond \+-1e\+06",
        "direction_two_values.asf": r"line 10: direction needs 3 value\(s\), found 2",
        "direction_zero.asf": r"line 24: bone 'tip' has a zero direction",
        "axis_without_order.asf": r"line 12: axis needs three angles and a rotation order",
        "axis_order_xxy.asf": r"line 12: rotation order 'XXY' is not a permutation of XYZ",
        "dof_translation.asf": r"line 20: dof 'tx rz': only rotations rx ry rz",
        "bone_without_length.asf": r"line 22: bone block without 'length'",
        "bone_name_twice.asf": r"line 22: bone name 'lower' used twice",
        "root_order_unknown.asf": r"line 5: root order 'TX TY TW RX RY RZ' is not a set of TX TY TZ RX RY RZ",
        "root_without_axis.asf": r":root needs an order and an axis line",
        "length_unit_zero.asf": r"line 2: length unit must be positive, got 0",
        "angle_unit_grad.asf": r"line 3: angle unit must be deg or rad",
        "hierarchy_unknown_bone.asf": r"line 32: :hierarchy names 'hand', which is not in :bonedata",
        "bone_missing_from_hierarchy.asf": r"line 22: bone 'tip' is missing from :hierarchy",
        "bone_with_two_parents.asf": r"line 33: 'tip' has a second parent in :hierarchy",
        "hierarchy_cycle.asf": r"line 31: :hierarchy does not connect lower, tip to the root",
        "empty.amc": r"^no frames$",
        "header_only.amc": r"^no frames$",
        "not_utf8.amc": r"unreadable \(UnicodeDecodeError",
        "bone_before_frame.amc": r"line 4: 'root' before the first frame number",
        "frame_skipped.amc": r"line 8: frame 3 follows frame 1",
        "unknown_bone.amc": r"line 11: 'elbow' is not a bone of 01\.asf",
        "bone_without_dof.amc": r"line 12: 'tip' has no dof in 01\.asf",
        "wrong_dof_count.amc": r"line 10: 'upper' needs 1 value\(s\), found 2",
        "root_five_values.amc": r"line 9: 'root' needs 6 value\(s\), found 5",
        "value_text.amc": r"line 11: 'lower' holds a non-number: 'lower ninety'",
        "value_nan.amc": r"line 11: 'lower' holds NaN/inf",
        "value_inf.amc": r"line 9: 'root' holds NaN/inf",
        "value_beyond_float32.amc": r"line 10: 'upper' holds values beyond \+-1e\+06",
        "bone_twice_in_frame.amc": r"line 11: 'upper' appears twice in frame 2",
        "bone_missing_in_frame.amc": r"line 8: frame 2 has no line for lower",
        "keyword_after_frames.amc": r"line 16: :RADIANS after the first frame",
    },
}
"""Per loader folder: each corpus entry (a file, or for SoMoF a split folder) and the problem its error states."""


def _ntu(path: Path) -> object:
    return ntu_skeleton.load_array(path) if path.suffix == ".npy" else ntu_skeleton.read_skeleton(path)


def _asf_amc(path: Path) -> object:
    """An ASF file alone; an AMC file with the good tiny skeleton of ``tests/data/cmu_tiny``."""
    return asf.read_asf(path) if path.suffix == ".asf" else amc.read_amc(path, asf.read_asf(CMU_TINY))


DATA_LOADERS: dict[str, Callable[[Path], object]] = {
    "somof": lambda path: somof.load_split(path, "valid"),
    "penn_action": penn_action.load_video,
    "brace": brace.load_segment,
    "qub_pheo": qub_pheo.read_clip,
    "ntu_skeleton": _ntu,
    "kinetics_skeleton": kinetics_skeleton.json_record,
    "pyskl": pyskl.load,
    "jhmdb": jhmdb.read_split_file,
    "asf_amc": _asf_amc,
}

UNREADABLE_CHECKPOINTS = {
    "empty.pt": r"checkpoint file is empty",
    "truncated.pt": r"unreadable or truncated checkpoint",
    "random_bytes.pt": r"not a weights-only PyTorch checkpoint",
    "forbidden_global.pt": r"not a weights-only PyTorch checkpoint",
    "text.pt": r"not a weights-only PyTorch checkpoint|unreadable or truncated checkpoint",
    "memo_reference.pt": r"not a weights-only PyTorch checkpoint|unreadable or truncated checkpoint",
}
"""Files no checkpoint loader can read, and the problem :func:`load_torch_file` states."""
FOREIGN_CHECKPOINTS = ("a_list.pt", "no_model_entry.pt", "model_not_a_dict.pt", "ensemble_without_config.pt",
                       "unknown_keys.pt")
"""Readable PyTorch files that are no study's checkpoint."""
NOT_THIS_STUDY = (r"not a workbench checkpoint|expected a state dict|does not match the model|holds no model_config|"
                  r"not a skeleton_ensembles checkpoint|the checkpoint has no .* mapping")


def _small_derpof() -> derpof.DeRPoF:
    return derpof.DeRPoF(derpof.DerpofConfig(hidden=4, latent=2, embedding=2))


def _small_hand_model() -> torch.nn.Module:
    return hand_forecasters.build_hand_model("bilstm", hidden=4, layers=1, pred_len=2)


CHECKPOINT_LOADERS: dict[str, Callable[[Path], object]] = {
    "load_torch_file": load_torch_file,
    "decoupled_3dpw.load_checkpoint": lambda path: decoupled_3dpw.load_checkpoint(_small_derpof(), path),
    "derpof.load_published_weights": lambda path: derpof.load_published_weights(_small_derpof(), path, path),
    "pretrain.load_checkpoint": lambda path: pretrain.load_checkpoint(build_heatmap_model("3dconv"), path,
                                                                      {"model": "3dconv"}),
    "pretrain.checkpoint_options": pretrain.checkpoint_options,
    "skeleton_ensembles.load_checkpoint": skeleton_ensembles.load_checkpoint,
    "hand_forecasting.load_checkpoint": lambda path: hand_forecasting.load_checkpoint(_small_hand_model(), path),
    "hand_forecasters.load_published_weights": lambda path: hand_forecasters.load_published_weights(
        _small_hand_model(), path),
}

def _data_params() -> list[object]:
    return [pytest.param(folder, name, problem, id=f"{folder}/{name}")
            for folder, cases in DATA_CASES.items() for name, problem in cases.items()]


def _checkpoint_params() -> list[object]:
    params = [pytest.param(name, loader, problem, id=f"{name}-{loader}")
              for name, problem in UNREADABLE_CHECKPOINTS.items() for loader in CHECKPOINT_LOADERS]
    params += [pytest.param(name, loader, NOT_THIS_STUDY, id=f"{name}-{loader}")
               for name in FOREIGN_CHECKPOINTS for loader in CHECKPOINT_LOADERS if loader != "load_torch_file"]
    params.append(pytest.param("bit_flip_in_weights.pt", "load_torch_file", r"corrupt|CRC|checksum",
                               id="bit_flip_in_weights.pt"))
    return params


def test_corpus_is_listed_and_small() -> None:
    listed = {f"{folder}/{name}" for folder, cases in DATA_CASES.items() for name in cases}
    listed |= {f"checkpoints/{name}" for name in (*UNREADABLE_CHECKPOINTS, *FOREIGN_CHECKPOINTS)}
    listed.add("checkpoints/bit_flip_in_weights.pt")
    present = {f"{folder.name}/{entry.name}" for folder in BAD.iterdir() if folder.is_dir()
               for entry in folder.iterdir()}
    assert present == listed
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    assert not [entry for entry in sorted(listed) if f"`{entry}`" not in readme]
    assert sum(p.stat().st_size for p in BAD.rglob("*") if p.is_file()) < 200_000


@pytest.mark.parametrize(("folder", "name", "problem"), _data_params())
def test_bad_data_file_gives_the_loaders_error(folder: str, name: str, problem: str) -> None:
    count("corpus")
    path = BAD / folder / name
    with pytest.raises(DataFormatError) as info:
        DATA_LOADERS[folder](path)
    assert Path(info.value.path) == path or Path(info.value.path).parent == path, "the error names another file"
    assert str(info.value).startswith(info.value.path)
    assert re.search(problem, info.value.problem), info.value.problem


@pytest.mark.parametrize(("name", "loader", "problem"), _checkpoint_params())
def test_bad_checkpoint_gives_a_checkpoint_error(name: str, loader: str, problem: str) -> None:
    count("corpus")
    path = BAD / "checkpoints" / name
    with pytest.raises(CheckpointError) as info:
        CHECKPOINT_LOADERS[loader](path)
    assert info.value.path == str(path)
    assert re.search(problem, info.value.problem), info.value.problem


def _model_checkpoints() -> list[tuple[str, torch.nn.Module, Callable[[torch.nn.Module, Path], object]]]:
    """(name, model, loader) for each study's checkpoint format; the loader reads a checkpoint into the model."""
    return [
        ("decoupled_3dpw", _small_derpof(), lambda model, path: decoupled_3dpw.load_checkpoint(model, path)),
        ("pretrain", build_heatmap_model("3dconv"),
         lambda model, path: pretrain.load_checkpoint(model, path, {"model": "3dconv"})),
        ("hand_forecasting", _small_hand_model(), lambda model, path: hand_forecasting.load_checkpoint(model, path)),
    ]


@pytest.mark.parametrize(("blend", "problem"), [
    ({"weights": [0.5] * 14}, r"needs 'weights' and 'decay'"),
    ([0.5] * 14, r"needs 'weights' and 'decay'"),
    ({"weights": [0.5] * 13 + [float("nan")], "decay": 0.8}, r"bad blend entry: blend weights must lie in \[0, 1\]"),
    ({"weights": [1.5] * 14, "decay": 0.8}, r"blend weights must lie in \[0, 1\]"),
    ({"weights": [0.5] * 14, "decay": 2.0}, r"decay must lie in \[0, 1\]"),
    ({"weights": "half", "decay": 0.8}, r"bad blend entry"),
])
def test_a_bad_blend_entry_in_a_3dpw_checkpoint_is_refused(tmp_path: Path, blend: object, problem: str) -> None:
    count("corpus")
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": "workbench-weights-1", "model_name": "dct_mlp", "model": {}, "blend": blend}, path)
    with pytest.raises(CheckpointError) as info:
        decoupled_3dpw.with_checkpoint_blend(torch.nn.Identity(), path)
    assert info.value.path == str(path)
    assert re.search(problem, info.value.problem), info.value.problem


@pytest.mark.parametrize("damage", ["nan", "shape", "dtype"])
@pytest.mark.parametrize("study", ["decoupled_3dpw", "pretrain", "hand_forecasting"])
def test_damaged_weights_are_refused_and_the_model_is_untouched(tmp_path: Path, study: str, damage: str) -> None:
    count("corpus")
    (_, model, load), = [entry for entry in _model_checkpoints() if entry[0] == study]
    state = {key: value.clone() for key, value in model.state_dict().items()}
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    damaged = {"nan": lambda t: torch.full_like(t, float("nan")), "shape": lambda t: t.flatten()[:-1],
               "dtype": lambda t: t.tolist()}[damage]
    state[key] = damaged(state[key])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = save_atomic({"model": state}, tmp_path / "checkpoint.pt")
    problem = {"nan": "contains NaN/inf", "shape": "has shape", "dtype": "is a list, not a tensor"}[damage]
    with pytest.raises(CheckpointError, match=problem) as info:
        load(model, path)
    assert info.value.path == str(path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_damaged_ensemble_weights_are_refused(tmp_path: Path) -> None:
    count("corpus")
    state = torch.load(BAD / "checkpoints" / "unknown_keys.pt", weights_only=True)
    state["models"] = {"j": {"bogus.weight": torch.full((2,), float("nan"))}}
    path = save_atomic(state, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="does not match the model: missing keys"):
        skeleton_ensembles.load_checkpoint(path)


def test_state_dict_check_names_the_source() -> None:
    count("corpus")
    model = torch.nn.Linear(2, 1)
    with pytest.raises(CheckpointError, match=r"weight has shape \(2,\), model expects \(1, 2\)") as info:
        load_state_dict_checked(model, {"weight": torch.zeros(2), "bias": torch.zeros(1)}, "weights.pt")
    assert info.value.path == "weights.pt"


# ---- multi-file loaders: a bad file is skipped, logged and counted, the good ones load


def _bad_files(folder: str, suffix: str) -> list[Path]:
    return sorted(p for p in (BAD / folder).iterdir() if p.suffix == suffix)


def _assert_skipped(skipped: list[tuple[str, str]], bad: list[Path], caplog: pytest.LogCaptureFixture) -> None:
    assert sorted(Path(name).name for name, _ in skipped) == sorted(p.name for p in bad)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and r.getMessage().startswith("skipping")]
    assert len(warned) == len(bad)


def test_penn_action_skips_bad_label_files_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count("corpus")
    bad = _bad_files("penn_action", ".mat")
    good = tmp_path / "0001.mat"
    scipy.io.savemat(good, {"x": np.ones((3, 13)), "y": np.ones((3, 13)) * 2, "visibility": np.ones((3, 13)),
                            "action": "squat", "train": 1, "nframes": 3})
    with caplog.at_level(logging.WARNING):
        videos, skipped = penn_action.load_videos([good, *bad])
    assert [v.video_id for v in videos] == ["0001"]
    _assert_skipped(skipped, bad, caplog)
    for path in bad:
        shutil.copy(path, tmp_path / path.name)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        data = penn_skeleton.penn_dataset(tmp_path)
    assert [r["frame_dir"] for r in data["annotations"]] == ["0001"]
    assert f"skipped {len(bad)} of {len(bad) + 1} label files" in caplog.text


def test_brace_skips_bad_segments_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count("corpus")
    bad = _bad_files("brace", ".json")
    good = tmp_path / "good.json"
    frame = {"keypoints": [[100.0 + j, 200.0, 0.9] for j in range(17)]}
    good.write_text(json.dumps({f"v/img-{i}.png": frame for i in range(1, 6)}), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        sequences, skipped = brace.load_segments([good, *bad])
    assert [s.num_frames for s in sequences] == [5]
    _assert_skipped(skipped, bad, caplog)


def test_qub_pheo_skips_bad_clips_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count("corpus")
    bad = _bad_files("qub_pheo", ".h5")
    hand = np.full((4, 21, 3), 0.5, np.float32)
    good = qub_pheo.write_clip(tmp_path / "p01-good.h5", hand, hand + 0.1, np.zeros((4, 2)), np.zeros((4, 36, 4)))
    with caplog.at_level(logging.WARNING):
        clips, skipped = qub_pheo.load_clips([(good, None), *[(p, None) for p in bad]])
    assert [c.name for c in clips] == ["p01-good"]
    _assert_skipped(skipped, bad, caplog)


@pytest.mark.parametrize(("kind", "folder", "suffix"), [("ntu", "ntu_skeleton", ".skeleton"),
                                                        ("kinetics", "kinetics_skeleton", ".json")])
def test_converters_skip_bad_files_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str,
                                                folder: str, suffix: str) -> None:
    count("corpus")
    bad = _bad_files(folder, suffix)
    source = tmp_path / "source"
    source.mkdir()
    copies = [source / f"S001C001P001R001A{i + 1:03d}{suffix}" for i in range(len(bad))]  # NTU names hold a label
    for path, copy in zip(bad, copies, strict=True):
        shutil.copy(path, copy)
    good = source / f"S001C002P001R001A001{suffix}"
    if kind == "ntu":
        ntu_skeleton.write_skeleton(good, np.ones((1, 3, 25, 3)))
    else:
        person = {"pose": [0.5] * 36, "score": [1.0] * 18}
        good.write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": [person]}], "label_index": 0}),
                        encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        data = convert(kind, source)
    assert [r["frame_dir"] for r in data["annotations"]] == [good.stem]
    assert f"skipped {len(bad)} of {len(bad) + 1} files" in caplog.text
    warned = [r for r in caplog.records if r.getMessage().startswith("skipping")]
    assert len(warned) == len(bad)


def test_cmu_windows_skip_bad_trials_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count("corpus")
    bad = _bad_files("asf_amc", ".amc")
    shutil.copy(CMU_TINY, tmp_path / "01.asf")
    for i, path in enumerate(bad):
        shutil.copy(path, tmp_path / f"01_{i + 1:02d}.amc")
    good = tmp_path / "02" / "02_01.amc"  # a subject whose ASF is broken: its trial is skipped too
    good.parent.mkdir()
    shutil.copy(BAD / "asf_amc" / "hierarchy_cycle.asf", good.parent / "02.asf")
    shutil.copy(CMU_TINY.with_name("01_01.amc"), good)
    with caplog.at_level(logging.WARNING), pytest.raises(DataFormatError, match=rf"\({len(bad) + 1} skipped\)"):
        cmu_mocap.cmu_windows(tmp_path)
    warned = [r for r in caplog.records if r.getMessage().startswith("skipping")]
    assert len(warned) == len(bad) + 1
