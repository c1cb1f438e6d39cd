"""Stochastic boosting in the skeleton study: replicas of a stream (the same stream from another seed), the
same-modality ensembles beside the complementary ones, the checked weight search and the benchmark's
stochastic-versus-complementary table."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from workbench import metrics
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.studies import skeleton_ensembles as study
from workbench.studies.skeleton_ensembles import benchmark, ensembles, replicas


@pytest.fixture(scope="module")
def finished_run(ci_run: Callable[[str], Path]) -> Path:
    return ci_run("skeleton_ensembles")


def _rows(folder: Path) -> list[dict]:
    return json.loads((folder / "metrics.json").read_text())["rows"]


def test_replica_names_seeds_and_model_order() -> None:
    assert replicas.model_names(["j", "b", "k"], {"j": 3, "b": 2}) == ["j", "b", "k", "j#2", "b#2", "j#3"]
    assert [replicas.base_stream(n) for n in ("j", "j#2", "km#10")] == ["j", "j", "km"]
    assert [replicas.replica_seed(7, n) for n in ("j", "j#2", "j#3")] == [7, 1007, 2007]
    assert replicas.fixed_weight({"j": 2.0}, "j#2") == 2.0 and replicas.fixed_weight({"j#2": 0.5, "j": 2}, "j#2") == 0.5
    assert replicas.fixed_weight({}, "bm#2") == 1.0


def test_stochastic_ensembles_at_the_complementary_model_counts() -> None:
    names = replicas.model_names(["j", "b", "k", "jm"], {"j": 2, "b": 2, "k": 2})
    found = replicas.replica_ensembles(names, {"j": 70.0, "b": 75.0, "k": 72.0, "jm": 90.0})
    assert found == {"j x 2": ["j", "j#2"], "b x 2": ["b", "b#2"], "k x 2": ["k", "k#2"],
                     "best x 2": ["b", "b#2"],  # jm has the best validation top-1 but no replica
                     "{j, b} x 2": ["j", "j#2", "b", "b#2"], "{j, b, k} x 2": ["j", "j#2", "b", "b#2", "k", "k#2"]}
    six = replicas.replica_ensembles(replicas.model_names(["k"], {"k": 6}), {"k": 1.0})
    assert six == {"k x 2": ["k", "k#2"], "k x 4": ["k", "k#2", "k#3", "k#4"],
                   "k x 6": ["k", "k#2", "k#3", "k#4", "k#5", "k#6"]}
    assert replicas.replica_ensembles(["j", "b"], {}) == {}


@pytest.mark.parametrize("value", [{"x": 2}, {"jm": 2}, {"j": 0}, {"j": 1.5}, {"j": True}, [2]])
def test_bad_replicas_are_config_errors(value: object) -> None:
    with pytest.raises(ConfigError, match="replicas maps streams"):
        study.Config.from_mapping({"streams": ["j", "b"], "replicas": value})


def test_a_replica_differs_from_its_stream_only_by_seed() -> None:
    cfg = study.Config.from_mapping({"synthetic_clips": {"train": 3, "val": 2, "test": 2}, "clip_len": 16,
                                     "base_channels": 8, "stages": 2, "blocks_per_stage": 1, "epochs": 1,
                                     "warmup_epochs": 0, "streams": ["j"], "replicas": {"j": 2}, "seed": 3,
                                     "progress": False, "train_samplings": 2})
    data = study.load_data(cfg)
    torch.set_num_threads(1)
    replica = study.run_stream(cfg, data, "j#2")
    by_hand, history = study.train_stream(replace(cfg, seed=1003), data, "j")
    stream = study.run_stream(cfg, data, "j")
    np.testing.assert_array_equal(replica.test_scores, study.predict_scores(by_hand, data.sets["test"], "j",
                                                                           data.layout, cfg.bone_order))
    assert [r["stream"] for r in replica.history] == ["j#2"] and history[0]["train_loss"] == replica.history[0][
        "train_loss"]
    assert not np.array_equal(replica.test_scores, stream.test_scores)
    # the data are the run's: a run seeded 1003 holds out other clips and draws other crops
    assert study.load_data(replace(cfg, seed=1003)).sets["val"].names != data.sets["val"].names


def test_the_ci_run_has_replicas_and_both_kinds_of_ensemble(finished_run: Path) -> None:
    rows = pd.DataFrame(_rows(finished_run))
    assert {"j#2 (joint, seed 2)", "b#2 (bone, seed 2)"} <= set(rows["model"])
    kinds = rows.groupby("model")["boosting"].first()
    assert kinds["6-stream"] == "complementary" and kinds["j x 2"] == kinds["{j, b} x 2"] == "stochastic"
    searched = rows[rows["fusion"] == "val-searched"]
    assert searched["search check"].str.match(r"(searched|fixed kept) \(out of fold [\d.]+ % searched").all()
    scores = np.load(finished_run / "scores.npz")
    assert {"test_j#2", "val_b#2"} <= set(scores.files)


@pytest.mark.numerics  # equal to the last bit: stored scores of the same models are fused
def test_replicas_trained_later_give_the_table_of_one_run_that_trained_everything(
        finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = shutil.copytree(finished_run, tmp_path / "base")
    state = torch.load(base / "checkpoint.pt", weights_only=False)
    state["models"] = {s: w for s, w in state["models"].items() if "#" not in s}
    torch.save(state, base / "checkpoint.pt")
    monkeypatch.setenv("WORKBENCH_OUTPUTS", str(tmp_path / "outputs"))
    assert main(["run", "skeleton_ensembles", "--preset", "ci", "--quiet", "-p", "stream_runs", f"[{base}]"]) == 0
    (fused,) = (tmp_path / "outputs" / "skeleton_ensembles").iterdir()
    summary = json.loads((fused / "metrics.json").read_text())
    assert set(summary["reused_from"]) == {"j", "b", "k", "jm", "bm", "km"}  # j#2 and b#2 trained here
    assert sorted(p.name for p in fused.glob("train_*.pt")) == ["train_b#2.pt", "train_j#2.pt"]
    assert summary["rows"] == _rows(finished_run)


def test_the_log_loss_objective_prefers_the_confident_right_stream() -> None:
    labels = np.array([0, 1])
    # both streams are right on both clips; a is confident, b barely
    scores = {"a": np.array([[0.9, 0.1], [0.1, 0.9]]), "b": np.array([[0.55, 0.45], [0.45, 0.55]])}
    assert ensembles.search_weights(scores, labels, ["a", "b"], [0.0, 1.0], "log_loss") == {"a": 1.0, "b": 0.0}
    assert ensembles.log_loss(scores["a"], labels) == pytest.approx(-np.log(0.9))
    # top-1 ties everywhere and then the log loss decides: the same answer
    assert ensembles.search_weights(scores, labels, ["a", "b"], [0.0, 1.0]) == {"a": 1.0, "b": 0.0}
    with pytest.raises(ConfigError, match="unknown weight search objective"):
        ensembles.search_weights(scores, labels, ["a"], [1.0], "brier")


def test_a_search_that_does_not_generalise_keeps_the_fixed_weights() -> None:
    # Four clips in two folds. Stream a is right on fold 0 only, stream b on fold 1 only: a search on one
    # fold picks the stream that is wrong on the other, while equal weights are right wherever one is sure.
    right, wrong, unsure = [0.9, 0.1], [0.2, 0.8], [0.45, 0.55]
    labels = np.array([0, 0, 0, 0])
    scores = {"a": np.array([right, right, unsure, wrong]), "b": np.array([unsure, wrong, right, right])}
    folds = [np.array([0, 1]), np.array([2, 3])]
    weights, check = ensembles.checked_search(scores, labels, ["a", "b"], {"a": 1.0, "b": 1.0}, folds, [0.0, 1.0])
    assert check["oof searched top-1 (%)"] == 0.0 and check["oof fixed top-1 (%)"] == 100.0
    assert weights == {"a": 1.0, "b": 1.0} and check["searched kept"] is False
    # A stream that is wrong everywhere: leaving it out wins in every fold, and the search is kept.
    scores = {"a": np.array([right] * 4), "b": np.array([[0.0, 1.0]] * 4)}
    weights, check = ensembles.checked_search(scores, labels, ["a", "b"], {"a": 1.0, "b": 1.0}, folds, [0.0, 1.0])
    assert check["searched kept"] is True and weights == {"a": 1.0, "b": 0.0}
    assert check["oof searched top-1 (%)"] == 100.0 and check["oof fixed top-1 (%)"] == 0.0


def test_correlation_summary_separates_seed_pairs_from_stream_pairs() -> None:
    names = ["j", "b", "j#2", "b#2"]
    corr = pd.DataFrame(np.eye(4), index=names, columns=names)
    corr.loc["j", "j#2"] = corr.loc["j#2", "j"] = 0.8
    corr.loc["b", "b#2"] = corr.loc["b#2", "b"] = 0.6
    corr.loc["j", "b"] = corr.loc["b", "j"] = 0.3
    corr.loc["j#2", "b"] = corr.loc["b", "j#2"] = 0.9  # a replica against another stream counts in neither
    corr["test error (%)"] = 10.0
    summary = study.correlation_summary(corr).set_index("pairs")
    assert summary.loc["two seeds of one stream", "mean error correlation"] == pytest.approx(0.7)
    assert summary.loc["two different streams", "mean error correlation"] == pytest.approx(0.3)
    assert summary["count"].tolist() == [2, 1]


def test_boosting_table_sets_the_kinds_side_by_side_over_splits_and_seeds(tmp_path: Path) -> None:
    folders = []
    for split, seed, j, jx2, jb in ((1, 0, 80.0, 84.0, 86.0), (2, 0, 70.0, 76.0, 74.0), (1, 1, 82.0, 84.0, 88.0),
                                    (2, 1, 72.0, 78.0, 76.0)):
        folder = tmp_path / f"s{split}_{seed}"
        folder.mkdir()
        rows = [{"model": "j (joint)", "fusion": "single", "boosting": "single", "streams": 1, "val top-1 (%)": 0,
                 "top-1 (%)": j},
                {"model": "j x 2", "fusion": "fixed", "boosting": "stochastic", "streams": 2, "val top-1 (%)": 0,
                 "top-1 (%)": jx2},
                {"model": "2-stream (j+b)", "fusion": "fixed", "boosting": "complementary", "streams": 2,
                 "val top-1 (%)": 0, "top-1 (%)": jb}]
        (folder / "metrics.json").write_text(json.dumps({"rows": rows}))
        (folder / "config.yaml").write_text(f"jhmdb_split: {split}\nseed: {seed}\n")
        folders.append(folder)
    table = benchmark.boosting_table(benchmark.mean_table(benchmark.split_rows(folders))).set_index("model")
    # per seed the mean over splits (j x 2: 80 and 81, j+b: 80 and 82), then mean and std over seeds
    assert table.loc["j x 2", "fixed top-1 mean (%)"] == pytest.approx(80.5)
    assert table.loc["j x 2", "fixed top-1 std (%)"] == pytest.approx(np.std([80.0, 81.0], ddof=1))
    assert table.loc["2-stream (j+b)", "fixed top-1 mean (%)"] == pytest.approx(81.0)
    assert table.loc["2-stream (j+b)", "fixed top-1 std (%)"] == pytest.approx(np.std([80.0, 82.0], ddof=1))
    assert table.loc["j (joint)", "fixed top-1 mean (%)"] == pytest.approx(76.0)
    assert table["models"].tolist() == [1, 2, 2] and table["boosting"].tolist()[1:] == ["complementary", "stochastic"]


def test_shrinkage_pulls_searched_weights_towards_the_fixed_ones() -> None:
    fixed, searched = {"j": 2.0, "jm": 1.0, "bm": 1.0}, {"j": 0.0, "jm": 1.0, "bm": 0.0}
    # normalised: fixed (0.5, 0.25, 0.25), searched (0, 1, 0); halfway (0.25, 0.625, 0.125), times sum(fixed) 4
    assert ensembles.shrink(searched, fixed, 0.5) == pytest.approx({"j": 1.0, "jm": 2.5, "bm": 0.5})
    assert ensembles.shrink(searched, fixed, 0.0) == searched
    assert ensembles.shrink(searched, fixed, 1.0) == pytest.approx(fixed)
    with pytest.raises(ConfigError, match="weight_shrinkage"):
        ensembles.shrink(searched, fixed, 1.5)
    labels = np.array([0, 1])
    scores = {"a": np.array([[0.9, 0.1], [0.1, 0.9]]), "b": np.array([[0.55, 0.45], [0.45, 0.55]])}
    assert ensembles.fitted_weights(scores, labels, ["a", "b"], {"a": 1.0, "b": 1.0}, [0.0, 1.0], "log_loss",
                                    0.5) == pytest.approx({"a": 1.5, "b": 0.5})
    with pytest.raises(ConfigError, match="weight_shrinkage"):
        study.Config.from_mapping({"weight_shrinkage": -0.1})


def test_benchmark_correlations_per_run_equal_the_runs_own_summary(finished_run: Path) -> None:
    rows = benchmark.correlation_rows([finished_run])
    scores = np.load(finished_run / "scores.npz")
    names = ["j", "b", "k", "jm", "bm", "km", "j#2", "b#2"]
    corr = pd.DataFrame(metrics.error_correlation(
        [scores[f"test_{n}"] for n in names], scores["test_labels"]).numpy(), index=names, columns=names)
    summary = study.correlation_summary(corr).set_index("pairs")["mean error correlation"]
    for kind in ("two seeds of one stream", "two different streams"):
        assert rows.loc[0, kind] == pytest.approx(summary[kind], nan_ok=True)
    assert rows.loc[0, "split"] == 1 and rows.loc[0, "seed"] == 0
