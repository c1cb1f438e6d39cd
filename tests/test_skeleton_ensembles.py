"""Classification metrics, score fusion, the no-test-leakage rule of the weight search, the ST-GCN
backbone and the study's training step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workbench import metrics
from workbench.data.layouts.skeleton_layouts import PENN13
from workbench.errors import ConfigError
from workbench.models.stgcn import STGCN, StgcnConfig, adjacency_subsets
from workbench.studies import skeleton_ensembles as study
from workbench.studies.skeleton_ensembles import ensembles

SCORES = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
LABELS = np.array([1, 2, 2, 1])


def test_accuracies_on_a_hand_computed_case() -> None:
    assert metrics.top_k_accuracy(SCORES, LABELS, 1) == pytest.approx(50.0)  # samples 0 and 2
    assert metrics.top_k_accuracy(SCORES, LABELS, 2) == pytest.approx(100.0)
    assert metrics.top_k_accuracy(SCORES, LABELS, 5) == pytest.approx(100.0)  # k > K counts every class
    matrix = metrics.confusion_matrix(SCORES, LABELS)
    assert matrix.tolist() == [[0, 0, 0], [1, 1, 0], [1, 0, 1]]
    assert metrics.mean_class_accuracy(SCORES, LABELS) == pytest.approx(50.0)  # classes 1 and 2: 1/2 each
    unbalanced = np.array([1, 2, 2, 2])
    assert metrics.top_k_accuracy(SCORES, unbalanced, 1) == pytest.approx(50.0)  # predictions 1, 0, 2, 0
    assert metrics.mean_class_accuracy(SCORES, unbalanced) == pytest.approx(50 * (1 + 1 / 3))
    with pytest.raises(ValueError, match="labels must lie in"):
        metrics.top_k_accuracy(SCORES, np.array([0, 1, 2, 3]))


def test_fusion_is_the_weighted_sum() -> None:
    a, b = SCORES, SCORES[::-1].copy()
    fused = ensembles.fuse({"j": a, "b": b, "jm": a}, {"j": 2.0, "b": 0.5}, ["j", "b"])
    np.testing.assert_allclose(fused, 2 * a + 0.5 * b)
    np.testing.assert_allclose(ensembles.fuse({"j": a, "jm": b}, {}, ["j", "jm"]), a + b)  # missing weight -> 1
    with pytest.raises(Exception, match="no scores for"):
        ensembles.fuse({"j": a}, {}, ["j", "k"])


def test_weight_search_finds_the_complementary_stream() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2])
    good = np.eye(3)[labels] * 0.6 + 0.1
    bad = np.eye(3)[(labels + 1) % 3] * 0.9 + 0.05
    weights = ensembles.search_weights({"j": good, "b": bad}, labels, ["j", "b"], grid=(0.0, 1.0, 2.0))
    assert weights == {"j": 1.0, "b": 0.0}


def _results(val: dict, test: dict) -> dict[str, study.StreamResult]:
    return {s: study.StreamResult(torch.nn.Linear(1, 1), [], val[s], test[s]) for s in val}


def _data(val_labels: np.ndarray, test_labels: np.ndarray) -> study.SkeletonData:
    def clips(labels: np.ndarray) -> study.ClipSet:
        return study.ClipSet([str(i) for i in range(len(labels))], torch.as_tensor(labels),
                             torch.zeros(1, len(labels), 1, 2, 13, 2))

    sets = {"train": clips(val_labels), "val": clips(val_labels), "test": clips(test_labels)}
    return study.SkeletonData(PENN13, ["a", "b", "c"], sets, "memory")


def test_weight_search_never_looks_at_test() -> None:
    rng = np.random.default_rng(0)
    val_labels = rng.integers(0, 3, 30)
    streams = ["j", "b", "jm", "bm"]
    val = {s: rng.dirichlet(np.ones(3), 30) for s in streams}
    cfg = study.Config(streams=streams, ensembles={"4": streams}, weight_grid=[0.0, 1.0, 2.0])
    tables = []
    for seed in (1, 2):
        other = np.random.default_rng(seed)
        test_labels = other.integers(0, 3, 20)
        test = {s: other.dirichlet(np.ones(3), 20) for s in streams}
        table, searched = study.results_table(_results(val, test), _data(val_labels, test_labels), cfg)
        tables.append((table, searched))
    assert tables[0][1] == tables[1][1]  # the same weights, whatever the test scores and labels are
    assert tables[0][1]["4"] == ensembles.search_weights(val, val_labels, streams, cfg.weight_grid)
    rows = tables[0][0]
    assert list(rows["fusion"]) == ["single"] * 4 + ["fixed", "val-searched"]
    searched_row = rows[rows["fusion"] == "val-searched"].iloc[0]
    assert searched_row["val top-1 (%)"] == max(
        metrics.top_k_accuracy(ensembles.fuse(val, dict(zip(streams, w, strict=True)), streams), val_labels)
        for w in np.ndindex(3, 3, 3, 3) if any(w))
    assert searched_row["streams"] == 4
    assert searched_row["streams used"] == sum(w != 0 for w in tables[0][1]["4"].values())
    assert list(rows["streams used"][:5]) == [1, 1, 1, 1, 4]


def test_adjacency_columns_average_and_backbone_shapes() -> None:
    a = adjacency_subsets(PENN13)
    assert a.shape == (3, 13, 13)
    torch.testing.assert_close(a[0], torch.eye(13))
    for subset in a[1:]:
        sums = subset.sum(0)
        assert torch.all(((sums - 1).abs() < 1e-6) | (sums == 0))
    model = STGCN(StgcnConfig(layout="penn13", in_channels=2, num_classes=15, base_channels=8, stages=2,
                              blocks_per_stage=1))
    logits = model(torch.randn(3, 2, 16, 13, 2))
    assert logits.shape == (3, 15)
    logits.sum().backward()
    assert model.blocks[0].gcn.refinement.grad is not None


def test_soft_cross_entropy_matches_torch() -> None:
    logits = torch.randn(5, 4)
    labels = torch.tensor([0, 3, 1, 1, 2])
    soft = torch.nn.functional.one_hot(labels, 4).float()
    expected = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.2)
    torch.testing.assert_close(study.soft_cross_entropy(logits, soft, 0.2), expected)


def test_training_learns_a_separable_toy_problem() -> None:
    cfg = study.Config(synthetic_clips={"train": 6, "val": 2, "test": 2}, clip_len=16, base_channels=8, stages=1,
                       blocks_per_stage=1, epochs=8, batch_size=10, lr=0.05, warmup_epochs=0, progress=False,
                       streams=["j"])
    data = study.load_data(cfg)
    assert data.sets["train"].clips.shape == (1, 60, 2, 16, 25, 3)
    result = study.run_stream(cfg, data, "j")
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert result.test_scores.shape == (20, 10)
    np.testing.assert_allclose(result.test_scores.sum(1), 1.0, rtol=1e-5)
    again = study.run_stream(cfg, data, "j")
    np.testing.assert_array_equal(again.test_scores, result.test_scores)  # seeded and deterministic on CPU


def test_penn_split_holds_out_validation_from_train_only(shared: Path) -> None:
    cfg = study.Config(dataset="penn_action", max_per_class=4, clip_len=8, test_clips=2)
    data = study.load_data(cfg)
    train, val, test = (set(data.sets[r].names) for r in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert len(test) == 15 * 4 and data.sets["test"].clips.shape == (2, 60, 1, 8, 13, 2)
    assert set(data.sets["val"].labels.tolist()) == set(range(15))  # stratified: every class validated
    assert data.layout.name == "penn13" and data.class_names[0] == "baseball_pitch"


def test_pyskl_dataset_with_labels_beyond_num_classes(tmp_path: Path) -> None:
    from workbench.data.formats import pyskl
    from workbench.errors import DataFormatError

    record = {"frame_dir": "a", "label": 5, "keypoint": np.zeros((1, 4, 17, 2), np.float32)}
    path = pyskl.save(tmp_path / "d.pkl", pyskl.make_dataset([record], {"train": ["a"], "test": ["a"]}))
    cfg = study.Config(dataset="pyskl", data_path=str(path), layout="coco17", num_classes=3)
    with pytest.raises(DataFormatError, match=r"d.pkl: record 0 \(a\): label 5 out of range \[0, 3\)"):
        study.load_data(cfg)


def test_random_temporal_crops_vary_training_clips_only() -> None:
    base = dict(synthetic_clips={"train": 2, "val": 1, "test": 1}, clip_len=12, base_channels=8, stages=1,
                blocks_per_stage=1, epochs=1, batch_size=8, warmup_epochs=0, progress=False)
    fixed, cropped = study.load_data(study.Config(**base)), study.load_data(study.Config(**base, train_samplings=3))
    clips = cropped.sets["train"].clips
    assert clips.shape == (3, 20, 2, 12, 25, 3)
    assert not torch.equal(clips[0], clips[1]) and not torch.equal(clips[0], fixed.sets["train"].clips[0])
    for role in ("val", "test"):
        torch.testing.assert_close(cropped.sets[role].clips, fixed.sets[role].clips)
    torch.testing.assert_close(study.load_data(study.Config(**base, train_samplings=3)).sets["train"].clips, clips)
    result = study.run_stream(study.Config(**base, train_samplings=3), cropped, "j")
    assert len(result.history) == 1 and np.isfinite(result.history[0]["train_loss"])
    with pytest.raises(ConfigError, match="train_samplings"):
        study.Config.from_mapping({"train_samplings": 0})
