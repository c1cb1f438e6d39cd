"""The 3DPW study closer to its domain: CMU motion retargeted to SoMoF's proportions, the horizon blend with damped
velocity, training on the valid split by folds of recordings, and the two-person DCT MLP."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tolerances import assert_same_maths

from workbench.cli import main
from workbench.data.formats import cmu_mocap, somof
from workbench.data.generators import synthetic_3dpw
from workbench.data.layouts.skeleton_3dpw import BONES
from workbench.data.transforms import forecast_sources, pose3d_transforms, retarget
from workbench.errors import ConfigError
from workbench.metrics import frame_distances as frame_errors
from workbench.models.dct_mlp import DctMlp, DctMlpConfig
from workbench.models.horizon_blend import HorizonBlend, fit_blend_weights
from workbench.models.pose_baselines import DampedVelocity
from workbench.settings import shared_data_dir
from workbench.studies import decoupled_3dpw as study
from workbench.studies.decoupled_3dpw import valid_folds

SOMOF = shared_data_dir() / "somof_3dpw"
needs_somof = pytest.mark.skipif(not SOMOF.is_dir(), reason="shared SoMoF 3DPW files not found")
needs_cmu = pytest.mark.skipif(not (shared_data_dir() / "cmu_mocap").is_dir(), reason="shared CMU mocap not found")


def _poses(n: int = 5, frames: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, frames, 13, 3))


def test_retarget_sets_every_segment_and_keeps_directions_and_the_pelvis() -> None:
    poses = _poses()
    targets = {name: 0.1 + 0.05 * i for i, name in enumerate(retarget.SEGMENT_NAMES)}
    out = retarget.retarget(poses, targets)
    for name, lengths in retarget.segment_lengths(out).items():
        np.testing.assert_allclose(lengths, targets[name], rtol=1e-12)
    before, after = retarget._points(poses), retarget._points(out)
    np.testing.assert_allclose(after["pelvis"], before["pelvis"], atol=1e-12)
    for _, parent, child in retarget.SEGMENTS:  # same direction: unit vectors agree
        old, new = before[child] - before[parent], after[child] - after[parent]
        np.testing.assert_allclose(new / np.linalg.norm(new, axis=-1, keepdims=True),
                                   old / np.linalg.norm(old, axis=-1, keepdims=True), atol=1e-12)
    assert out.shape == poses.shape and out.dtype == poses.dtype


def test_retarget_refuses_bad_targets_and_shapes() -> None:
    with pytest.raises(ConfigError, match="forearm"):
        retarget.retarget(_poses(), {k: v for k, v in retarget.SOMOF_SEGMENTS_M.items() if k != "forearm"})
    with pytest.raises(ConfigError, match="finite"):
        retarget.retarget(_poses(), {**retarget.SOMOF_SEGMENTS_M, "neck": float("nan")})
    with pytest.raises(ConfigError, match="shape"):
        retarget.segment_lengths(np.zeros((4, 12, 3)))


@needs_somof
def test_the_somof_segment_lengths_are_those_of_the_valid_files() -> None:
    valid = somof.load_split(SOMOF, "valid").inputs.reshape(-1, 16, 13, 3)
    measured = retarget.median_segments(valid)
    assert measured.keys() == retarget.SOMOF_SEGMENTS_M.keys()
    for name, length in retarget.SOMOF_SEGMENTS_M.items():
        assert abs(measured[name] - length) < 1e-4, name  # the constants are rounded to 0.1 mm


@needs_somof
@needs_cmu
def test_retargeted_cmu_windows_match_somof_statistics() -> None:
    """Every segment's median within 0.1 mm of SoMoF valid's after retargeting (1.5-6 cm apart before), and the
    SoMoF bones, which include the shoulder-hip edges no segment sets, within 2 cm (up to 5.9 cm before)."""
    valid = somof.load_split(SOMOF, "valid").inputs.reshape(-1, 16, 13, 3)
    cmu = cmu_mocap.cmu_windows(stride=10).poses[:, :16]
    moved = retarget.retarget(cmu)
    target, before, after = (retarget.median_segments(x) for x in (valid, cmu, moved))
    assert max(abs(before[k] - target[k]) for k in target) > 0.05  # the gap: the forearm is 6 cm short
    for name in target:
        assert abs(after[name] - target[name]) < 1e-4, name

    def bone_medians(x: np.ndarray) -> np.ndarray:
        return np.array([np.median(np.linalg.norm(x[..., a, :] - x[..., b, :], axis=-1)) for a, b in BONES])

    gap_before = np.abs(bone_medians(cmu) - bone_medians(valid))
    gap_after = np.abs(bone_medians(moved) - bone_medians(valid))
    assert gap_before.max() > 0.05 and gap_after.max() < 0.02, (gap_before.round(3), gap_after.round(3))
    # the motion is kept: the pelvis trajectory is untouched
    np.testing.assert_allclose(retarget._points(moved)["pelvis"], retarget._points(cmu)["pelvis"], atol=1e-6)


@needs_cmu
def test_the_cmu_source_retargets_on_request() -> None:
    plain = forecast_sources.training_windows({"cmu": 1.0}, cmu_stride=20)
    moved = forecast_sources.training_windows({"cmu": 1.0}, cmu_stride=20, cmu_retarget=True)
    assert plain.observed.shape == moved.observed.shape
    lengths = retarget.median_segments(moved.observed.unflatten(-1, (13, 3)).numpy())
    assert abs(lengths["forearm"] - retarget.SOMOF_SEGMENTS_M["forearm"]) < 1e-4


def test_blend_weights_by_hand() -> None:
    """Frame 0: the damped forecast is exact, frame 1 the learned one, frame 2 both are 1 off in opposite
    directions (the middle weight 0.5 is exact)."""
    truth = torch.zeros(2, 3, 39)
    learned, damped = truth.clone(), truth.clone()
    learned[:, 0] += 1.0
    damped[:, 1] += 1.0
    learned[:, 2] += 1.0
    damped[:, 2] -= 1.0
    torch.testing.assert_close(fit_blend_weights(learned, damped, truth, grid=11), torch.tensor([0.0, 1.0, 0.5]))


def test_the_blend_is_never_worse_than_its_parts_where_it_was_fitted() -> None:
    g = torch.Generator().manual_seed(0)
    truth = torch.randn(200, 14, 39, generator=g)
    learned = truth + torch.randn(200, 14, 39, generator=g) * torch.linspace(2.0, 0.2, 14)[None, :, None]
    damped = truth + torch.randn(200, 14, 39, generator=g) * torch.linspace(0.3, 3.0, 14)[None, :, None]
    w = fit_blend_weights(learned, damped, truth)
    blend = w[None, :, None] * learned + (1 - w[None, :, None]) * damped
    errors = {k: frame_errors(v, truth).mean(0) for k, v in {"blend": blend, "a": learned, "b": damped}.items()}
    assert (errors["blend"] <= errors["a"] + 1e-12).all() and (errors["blend"] <= errors["b"] + 1e-12).all()
    assert w[0] < 0.5 < w[-1]  # the damped forecast early, the learned late
    assert (errors["blend"] < torch.minimum(errors["a"], errors["b"])).any()  # blending helps somewhere


def test_horizon_blend_forward_is_the_weighted_sum() -> None:
    model = DctMlp(DctMlpConfig(blocks=1))
    torch.nn.init.normal_(model.mix_out.weight, std=0.1)
    observed = torch.randn(3, 16, 39)
    w = torch.linspace(0.1, 0.9, 14)
    out = HorizonBlend(model, 0.8, w)(observed).positions
    expected = w[None, :, None] * model(observed).positions + (1 - w[None, :, None]) * DampedVelocity(0.8)(
        observed).positions
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match="0, 1"):
        HorizonBlend(model, 0.8, torch.full((14,), 1.5))


def test_folds_are_whole_recordings() -> None:
    frames = [[f"{name}/image_{i:05d}.jpg"] for i, name in enumerate("a a b c c c d b".split())]
    split = somof.SomofSplit("valid", np.zeros((8, 2, 16, 39), np.float32), None, frames, "x")
    assert valid_folds.scene_recordings(split)[:3] == ["a", "a", "b"]
    assert valid_folds.scene_folds(split, 4).tolist() == [0, 0, 1, 2, 2, 2, 3, 1]
    assert valid_folds.scene_folds(split, 2).tolist() == [0, 0, 1, 0, 0, 0, 1, 1]
    assert valid_folds.fold_recordings(split, 2) == [["a", "c"], ["b", "d"]]
    with pytest.raises(ConfigError, match="2..4"):
        valid_folds.scene_folds(split, 5)
    bare = somof.SomofSplit("valid", np.zeros((3, 2, 16, 39), np.float32), None, None, "x")
    assert valid_folds.scene_folds(bare, 3).tolist() == [0, 1, 2]


@needs_somof
def test_somof_valid_folds_are_its_four_recordings() -> None:
    split = somof.load_split(SOMOF, "valid")
    assert valid_folds.fold_recordings(split, 4) == [["courtyard_dancing_00"], ["courtyard_drinking_00"],
                                                     ["courtyard_hug_00"], ["courtyard_rangeOfMotions_01"]]
    assert np.bincount(valid_folds.scene_folds(split, 4)).tolist() == [7, 11, 9, 9]


def _cfg(tmp_path: Path, **values: object) -> study.Config:
    folder = synthetic_3dpw.write_dataset(tmp_path / "data", {"train": 12, "valid": 6, "test": 4}, seed=0)
    return replace(study.Config(model="dct_mlp", data_dir=str(folder), epochs=2, batch_size=4, blocks=2, lr=3e-3,
                                progress=False), **values)


def _rows(windows: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in windows}


def test_no_fold_model_trains_on_a_scene_it_scores(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, valid_folds=3, valid_weight=0.5)
    data = study.load_data(cfg)
    split = data["valid"]
    folds = valid_folds.scene_folds(split, 3)
    observed = study.people(split)[0].reshape(split.num_scenes, 2, 16, 39)
    for k in range(3):
        windows = study.training_windows(cfg, data, held_out=k)
        trained = _rows(windows.observed)
        assert not trained & _rows(observed[folds == k].flatten(0, 1))  # never its own fold
        assert _rows(observed[folds != k].flatten(0, 1)) <= trained  # every other valid scene
        assert f"valid split without fold {k}" in windows.sources
    everything = _rows(study.training_windows(cfg, data).observed)
    assert _rows(observed.flatten(0, 1)) <= everything  # the run's own model sees every valid scene
    without = study.training_windows(cfg, data, with_valid=False)
    assert not _rows(without.observed) & _rows(observed.flatten(0, 1))


def test_cross_validation_scores_each_fold_with_the_model_trained_without_it(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, valid_folds=2, valid_weight=0.5, blend_damped=True)
    data = study.load_data(cfg)
    decay = study.damped_decay(cfg, data)
    cv = study.cross_validate(cfg, data, decay, report=lambda _: None)
    split = data["valid"]
    held_out = study.subset(split, cv.folds == 1)
    model = study.make_model(cfg, decay=decay)
    windows = study.training_windows(cfg, data, held_out=1)
    study.train(model, data, cfg, windows=windows, validation=held_out)
    model = study.blended(model, cfg, windows, decay)
    person_fold = np.repeat(cv.folds, 2) == 1
    torch.testing.assert_close(cv.predictions[torch.from_numpy(person_fold)], study.forecast(model, held_out))
    assert len(cv.histories) == 2 and "val_vim_avg" in cv.histories[0][0]
    table = study.results_table(model, data, cfg, decay, cv)
    row = table[(table.split == "valid") & (table.model == "dct_mlp")].iloc[0]
    expected = np.mean(study.metrics.vim(cv.predictions, study.people(split)[1]))
    assert row["VIM avg (cm)"] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="select_best"):
        study.train(study.make_model(cfg), data, replace(cfg, select_best=True))


def test_a_blended_run_checkpoint_scores_as_the_run_did(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = _cfg(tmp_path, blend_damped=True, eval_splits=["valid", "test"])
    data = study.load_data(cfg)
    decay = study.damped_decay(cfg, data)
    windows = study.training_windows(cfg, data)
    model = study.make_model(cfg, decay=decay)
    history = study.train(model, data, cfg, windows=windows)
    model = study.blended(model, cfg, windows, decay)
    assert isinstance(model, HorizonBlend)
    # on the training windows it was fitted on (all of them here: fewer than blend_windows), never worse than
    # either part at any future frame
    parts = {"blend": model, "learned": model.learned, "damped": model.damped}
    errors = {k: frame_errors(study.predict(m, windows.observed), windows.future).mean(0) for k, m in parts.items()}
    assert (errors["blend"] <= torch.minimum(errors["learned"], errors["damped"]) + 1e-9).all()
    table = study.results_table(model, data, cfg, decay)
    results = study.save_results(tmp_path, cfg, data, table, history, model)
    assert len(results["blend_weights"]) == 14
    assert main(["evaluate", "3dpw", "--data", cfg.data_dir, "--split", "valid", "--checkpoint",
                 str(tmp_path / "checkpoint.pt"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert np.mean(scored["vim_cm"]) == pytest.approx(results["splits"]["valid"]["dct_mlp"]["VIM avg (cm)"], rel=1e-5)


def _scene_motion(angle: float, shift: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    rotation = pose3d_transforms.yaw_matrix(torch.tensor([angle], dtype=x.dtype))[0]
    return (torch.einsum("ij,ntkj->ntki", rotation, x.unflatten(-1, (13, 3))) + shift).flatten(-2)


@pytest.mark.numerics
def test_the_two_person_model_moves_and_turns_with_the_scene() -> None:
    torch.manual_seed(0)
    model = DctMlp(DctMlpConfig(blocks=2, two_person=True))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    model.double()  # float64: equivariance is exact maths, not an fp32 tolerance one CPU meets
    g = torch.Generator().manual_seed(1)
    me, other = torch.randn(3, 16, 39, generator=g, dtype=torch.float64), torch.randn(3, 16, 39, generator=g,
                                                                                          dtype=torch.float64)
    shift = torch.tensor([2.0, 0.3, -1.0], dtype=torch.float64)
    moved = model(_scene_motion(1.1, shift, me), other=_scene_motion(1.1, shift, other)).positions
    assert_same_maths(moved, _scene_motion(1.1, shift, model(me, other=other).positions))
    # the other person matters, and moving only them changes the forecast
    alone = model(me, other=_scene_motion(1.1, shift, other)).positions
    assert (alone - model(me, other=other).positions).abs().max() > 1e-3


def test_an_untrained_two_person_model_forecasts_as_the_one_person_one() -> None:
    torch.manual_seed(0)
    one = DctMlp(DctMlpConfig(blocks=2))
    torch.manual_seed(0)
    two = DctMlp(DctMlpConfig(blocks=2, two_person=True))
    two.load_state_dict({**one.state_dict(), **{k: v for k, v in two.state_dict().items() if "mix_other" in k}})
    torch.nn.init.normal_(one.mix_out.weight, std=0.1)
    two.mix_out.weight.data.copy_(one.mix_out.weight)
    me, other = torch.randn(2, 16, 39), torch.randn(2, 16, 39)
    torch.testing.assert_close(two(me, other=other).positions, one(me).positions)
    with pytest.raises(ValueError, match="other"):
        two(me)
    with pytest.raises(ValueError, match="two_person"):
        one(me, other=other)


def test_augmenting_a_pair_transforms_the_person_as_alone() -> None:
    g = torch.Generator().manual_seed(0)
    me, other = torch.randn(6, 30, 39, generator=g), torch.randn(6, 30, 39, generator=g)
    kinds = ["rotate", "mirror", "reverse", "scale"]
    alone = pose3d_transforms.augment(me, kinds, torch.Generator().manual_seed(5))
    pair = pose3d_transforms.augment(torch.cat([me, other], -1), kinds, torch.Generator().manual_seed(5))
    torch.testing.assert_close(pair[..., :39], alone)
    # the pair moves as one scene: every distance between my joints and theirs is kept (as a set: mirroring
    # swaps joints, reversal frames)
    rigid = pose3d_transforms.augment(torch.cat([me, other], -1), ["rotate", "mirror", "reverse"],
                                      torch.Generator().manual_seed(5))

    def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cdist(a.unflatten(-1, (13, 3)), b.unflatten(-1, (13, 3))).flatten(1).sort(-1).values

    torch.testing.assert_close(distances(rigid[..., :39], rigid[..., 39:]), distances(me, other), atol=1e-4, rtol=0)


def test_a_two_person_run_trains_and_predicts_the_test_scenes(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, two_person=True, augment=["mirror", "reverse"], eval_splits=["valid", "test"])
    data = study.load_data(cfg)
    windows = study.training_windows(cfg, data)
    torch.testing.assert_close(windows.other[:2, :16], windows.observed[[1, 0]])  # the scene's partner
    model = study.make_model(cfg)
    history = study.train(model, data, cfg, windows=windows)
    assert len(history) == 2 and study.sees_other(model)
    table = study.results_table(model, data, cfg)
    assert set(table.split) == {"valid", "test"}
    # swapping the two people of every scene swaps their forecasts
    test = data["test"]
    swapped = somof.SomofSplit("test", test.inputs[:, ::-1].copy(), None, None, test.source)
    forecasts = study.forecast(model, test).reshape(4, 2, 14, 39)
    torch.testing.assert_close(study.forecast(model, swapped).reshape(4, 2, 14, 39), forecasts.flip(1))
    with pytest.raises(ConfigError, match="two_person"):
        study.make_model(replace(cfg, model="derpof"))
