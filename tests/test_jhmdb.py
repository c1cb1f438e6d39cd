"""JHMDB 2D joints (DD-Net's pickles): the loader on hand-made and the real shared files, the ``jhmdb15``
layout, ``workbench convert jhmdb`` and the study's ``dataset: jhmdb``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.data.formats import jhmdb, pyskl
from workbench.data.layouts.skeleton_layouts import get_layout
from workbench.data.transforms.skeleton_streams import make_stream
from workbench.errors import DataFormatError
from workbench.models.fold_ensemble import FoldEnsemble
from workbench.settings import shared_data_dir
from workbench.studies import skeleton_ensembles as study
from workbench.studies.skeleton_ensembles import benchmark

REAL = shared_data_dir() / "jhmdb"
needs_real = pytest.mark.skipif(not (REAL / "GT_train_1.pkl").is_file(), reason="shared JHMDB pickles not found")


def _pose(value: float, frames: int = 3) -> np.ndarray:
    return np.full((frames, 15, 2), value)


def _write(folder: Path, files: dict[tuple[str, int], list[tuple[np.ndarray, str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for (part, split), clips in files.items():
        with (folder / f"GT_{part}_{split}.pkl").open("wb") as handle:
            pickle.dump({"pose": [p for p, _ in clips], "label": [c for _, c in clips]}, handle)
    return folder


def _three_splits(folder: Path) -> Path:
    """Clips a (clap), b (golf), c (wave); split s tests on one of them and trains on the other two."""
    a, b, c = (_pose(0.1), "clap"), (_pose(0.2, 4), "golf"), (_pose(0.3, 5), "wave")
    return _write(folder, {("train", 1): [a, b], ("test", 1): [c], ("train", 2): [b, c], ("test", 2): [a],
                           ("train", 3): [c, a], ("test", 3): [b]})


def test_a_hand_made_folder_gives_three_splits_with_each_clip_once(tmp_path: Path) -> None:
    data = jhmdb.jhmdb_dataset(_three_splits(tmp_path))
    names = {r["label"]: r["frame_dir"] for r in data["annotations"]}
    assert len(data["annotations"]) == 3 and sorted(names) == [1, 2, 13]  # clap, golf, wave
    clap, golf, wave = names[1], names[2], names[13]
    assert data["split"] == {"train1": [clap, golf], "test1": [wave], "train2": [golf, wave], "test2": [clap],
                             "train3": [wave, clap], "test3": [golf]}
    record = next(r for r in data["annotations"] if r["label"] == 2)
    assert record["keypoint"].shape == (1, 4, 15, 2) and record["keypoint"].dtype == np.float32
    assert record["total_frames"] == 4 and np.allclose(record["keypoint"], 0.2)
    assert clap.startswith("clap_") and len(clap) == len("clap_") + 12


def test_one_clip_with_two_labels_is_refused(tmp_path: Path) -> None:
    folder = _three_splits(tmp_path)
    _write(folder, {("test", 2): [(_pose(0.1), "wave")]})  # clip a is clap in GT_train_1
    with pytest.raises(DataFormatError, match=r"GT_test_2.pkl: clip wave_\w+ is labelled wave here and clap"):
        jhmdb.jhmdb_dataset(folder)


def test_a_clip_in_both_lists_of_a_split_is_refused(tmp_path: Path) -> None:
    folder = _three_splits(tmp_path)
    _write(folder, {("test", 1): [(_pose(0.1), "clap")]})
    with pytest.raises(DataFormatError, match=r"GT_test_1.pkl: 1 clip\(s\) are also in the training list of split 1"):
        jhmdb.jhmdb_dataset(folder)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    folder = _three_splits(tmp_path)
    (folder / "GT_train_3.pkl").unlink()
    with pytest.raises(DataFormatError, match=r"GT_train_3.pkl: file not found"):
        jhmdb.jhmdb_dataset(folder)


@needs_real
def test_the_real_pickles_hold_the_official_splits() -> None:
    data = jhmdb.jhmdb_dataset(REAL)
    sizes = {k: len(v) for k, v in data["split"].items()}
    assert sizes == {"train1": 433, "test1": 176, "train2": 433, "test2": 176, "train3": 434, "test3": 175}
    assert len(data["annotations"]) == 609  # every clip is in each split, once
    for s in (1, 2, 3):
        assert sorted(data["split"][f"train{s}"] + data["split"][f"test{s}"]) == sorted(
            r["frame_dir"] for r in data["annotations"])
    frames = [r["total_frames"] for r in data["annotations"]]
    assert min(frames) == 15 and max(frames) == 40
    assert sorted({r["label"] for r in data["annotations"]}) == list(range(14))


def test_jhmdb15_layout_tree_flip_and_limbs() -> None:
    layout = get_layout("jhmdb15")
    j = layout.joints.index
    assert layout.num_joints == 15 and layout.root == j("neck")
    assert layout.parents[j("L-hip")] == j("belly") and layout.parents[j("R-wrist")] == j("R-elbow")
    assert layout.parents[j("face")] == j("neck") and layout.depth() == 4  # neck-belly-hip-knee-ankle
    perm = layout.flip_permutation()
    assert perm[j("R-shoulder")] == j("L-shoulder") and perm[j("L-ankle")] == j("R-ankle")
    assert perm[j("neck")] == j("neck") and perm[j("face")] == j("face")
    assert layout.limbs[0] == (j("L-elbow"), j("L-wrist")) and layout.limbs[3] == (j("R-knee"), j("R-ankle"))
    x = torch.arange(30, dtype=torch.float32).reshape(1, 15, 2)
    bones = make_stream(x, "b", layout)
    assert torch.equal(bones[0, j("R-ankle")], x[0, j("R-ankle")] - x[0, j("R-knee")])
    assert torch.equal(bones[0, j("neck")], x[0, j("neck")])


def test_convert_jhmdb_writes_a_pyskl_file_the_study_reads(tmp_path: Path) -> None:
    source = _three_splits(tmp_path / "src")
    out = tmp_path / "jhmdb.pkl"
    assert main(["convert", "jhmdb", str(source), str(out)]) == 0
    data, direct = pyskl.load(out), jhmdb.jhmdb_dataset(source)
    assert data["split"] == direct["split"]
    for written, read in zip(data["annotations"], direct["annotations"], strict=True):
        assert written["frame_dir"] == read["frame_dir"] and written["label"] == read["label"]
        np.testing.assert_array_equal(written["keypoint"], read["keypoint"])
    cfg = study.Config.from_mapping({"dataset": "jhmdb", "data_path": str(out), "jhmdb_split": 2, "clip_len": 4,
                                     "val_fraction": 0.0, "val_folds": 2, "val_fold": 0})
    loaded = study.load_data(cfg)
    assert sorted(loaded.sets["train"].names + loaded.sets["val"].names) == sorted(data["split"]["train2"])
    assert loaded.sets["test"].names == data["split"]["test2"] and loaded.layout.name == "jhmdb15"


def test_convert_jhmdb_with_a_bad_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["convert", "jhmdb", str(tmp_path), str(tmp_path / "out.pkl")]) == 2
    assert "GT_train_1.pkl: file not found" in capsys.readouterr().err
    assert not (tmp_path / "out.pkl").exists()


@needs_real
def test_study_reads_each_real_split() -> None:
    for s, (train, test) in {1: (433, 176), 3: (434, 175)}.items():
        cfg = study.Config.from_mapping({"dataset": "jhmdb", "jhmdb_split": s, "clip_len": 16, "val_folds": 3,
                                         "val_fold": -1})
        data = study.load_data(cfg)
        assert len(data.sets["val"].names) == train and len(data.sets["test"].names) == test
        assert data.class_names[0] == "catch" and tuple(data.sets["test"].clips.shape[2:]) == (1, 16, 15, 2)


def test_fold_ensemble_averages_the_members_probabilities() -> None:
    a, b = torch.nn.Linear(2, 3), torch.nn.Linear(2, 3)
    with torch.no_grad():
        for layer, w in ((a, 1.0), (b, -2.0)):
            layer.weight.fill_(0.0)
            layer.weight[0, 0] = w
            layer.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    x = torch.tensor([[1.0, 0.0]])
    # member a: logits (1, 1, 0); member b: logits (-2, 1, 0)
    pa = np.exp([1, 1, 0]) / np.exp([1, 1, 0]).sum()
    pb = np.exp([-2, 1, 0]) / np.exp([-2, 1, 0]).sum()
    out = FoldEnsemble([a, b])(x)
    np.testing.assert_allclose(torch.softmax(out, -1)[0].detach().numpy(), (pa + pb) / 2, rtol=1e-6)
    np.testing.assert_allclose(out.exp().sum().item(), 1.0, rtol=1e-6)


def _run_folder(root: Path, split: int, seed: int, top1: dict[str, float]) -> Path:
    folder = root / f"split{split}_seed{seed}"
    folder.mkdir()
    rows = [{"model": name, "fusion": "single" if name == "j (joint)" else "fixed", "streams": 1 if name == "j (joint)"
             else 6, "val top-1 (%)": 50.0 + seed, "top-1 (%)": value} for name, value in top1.items()]
    (folder / "metrics.json").write_text(json.dumps({"rows": rows}))
    (folder / "config.yaml").write_text(f"study: skeleton_ensembles\njhmdb_split: {split}\nseed: {seed}\n")
    return folder


def test_benchmark_tables_average_splits_then_seeds(tmp_path: Path) -> None:
    values = {(1, 0): (70.0, 90.0), (2, 0): (60.0, 80.0), (1, 1): (72.0, 94.0), (2, 1): (66.0, 86.0)}
    folders = [_run_folder(tmp_path, split, seed, {"j (joint)": j, "6-stream": six})
               for (split, seed), (j, six) in values.items()]
    rows = benchmark.split_rows(folders)
    assert len(rows) == 8
    per_split = benchmark.per_split_table(rows).set_index("model")
    assert per_split.loc["j (joint)", "split 1 top-1 (%)"] == pytest.approx(71.0)
    assert per_split.loc["6-stream", "split 2 top-1 (%)"] == pytest.approx(83.0)
    mean = benchmark.mean_table(rows).set_index("model")
    # seed 0: six-stream (90 + 80) / 2 = 85; seed 1: (94 + 86) / 2 = 90 -> mean 87.5, std sqrt(12.5)
    assert mean.loc["6-stream", "top-1 mean (%)"] == pytest.approx(87.5)
    assert mean.loc["6-stream", "top-1 std (%)"] == pytest.approx(12.5 ** 0.5)
    assert mean.loc["j (joint)", "top-1 mean (%)"] == pytest.approx(67.0)
    assert mean.loc["j (joint)", "val top-1 mean (%)"] == pytest.approx(50.5)
    assert (mean["splits"] == 2).all() and (mean["seeds"] == 2).all()


def test_benchmark_refuses_a_repeated_split_and_seed(tmp_path: Path) -> None:
    first = _run_folder(tmp_path, 1, 0, {"j (joint)": 70.0})
    (tmp_path / "copy").mkdir()
    for name in ("metrics.json", "config.yaml"):
        (tmp_path / "copy" / name).write_text((first / name).read_text())
    with pytest.raises(DataFormatError, match="split 1, seed 0 is also"):
        benchmark.split_rows([first, tmp_path / "copy"])
    with pytest.raises(DataFormatError, match="metrics.json"):
        benchmark.split_rows([tmp_path])
