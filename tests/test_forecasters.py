"""The 3DPW study's forecasting pieces: the DCT MLP, the damped-velocity baseline and its fitted decay,
the 3D pose transforms and augmentations, training sources mixed by weight, and a trained DCT MLP's
checkpoint through ``workbench evaluate`` / ``predict``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tolerances import assert_same_maths

from workbench.cli import main
from workbench.data.formats import somof
from workbench.data.generators import synthetic_3dpw
from workbench.data.layouts.skeleton_3dpw import BONES, JOINT_NAMES
from workbench.data.transforms import forecast_sources, pose3d_transforms
from workbench.errors import CheckpointError, ConfigError
from workbench.models.dct_mlp import DctMlp, DctMlpConfig, dct_matrix, dct_mlp_loss
from workbench.models.pose_baselines import DampedVelocity, fit_decay
from workbench.settings import shared_data_dir
from workbench.studies import decoupled_3dpw as study


def _walk(n: int = 4, frames: int = 30, seed: int = 0) -> torch.Tensor:
    """Random poses (n, frames, 39) moving at a constant velocity per person."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randn(n, 1, 39, generator=g)
    return start + torch.arange(frames, dtype=torch.float32)[None, :, None] * 0.01 * torch.randn(n, 1, 39, generator=g)


def _yaw(angle: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return pose3d_transforms.yaw_matrix(torch.tensor([angle], dtype=dtype))[0]


def _rigid(x: torch.Tensor, angle: float, shift: torch.Tensor) -> torch.Tensor:
    return (torch.einsum("ij,ntkj->ntki", _yaw(angle, x.dtype), x.unflatten(-1, (13, 3))) + shift).flatten(-2)


def test_dct_matrix_is_orthonormal_and_row_zero_is_constant() -> None:
    d = dct_matrix(16)
    assert torch.allclose(d @ d.T, torch.eye(16), atol=1e-6)
    assert torch.allclose(d[0], torch.full((16,), 0.25))  # sqrt(1/16)


def test_an_untrained_dct_mlp_forecasts_zero_velocity() -> None:
    observed = _walk()[:, :16]
    pred = DctMlp()(observed).positions
    assert pred.shape == (4, 14, 39)
    torch.testing.assert_close(pred, observed[:, -1:].expand(-1, 14, -1), atol=1e-5, rtol=0)


@pytest.mark.numerics
def test_the_dct_mlp_is_equivariant_to_turning_and_moving_the_person() -> None:
    torch.manual_seed(0)
    model = DctMlp(DctMlpConfig(blocks=2))
    for p in model.parameters():  # leave the zero initialisation so the output depends on the input
        torch.nn.init.normal_(p, std=0.2)
    model.double()  # float64: the maths of the two orders must agree, whatever the CPU's fp32 kernels round
    observed = _walk(seed=3)[:, :16].double()
    shift = torch.tensor([1.5, 0.0, -2.0], dtype=torch.float64)
    moved = model(_rigid(observed, 0.7, shift)).positions
    assert_same_maths(moved, _rigid(model(observed).positions, 0.7, shift))


def test_canonical_frame_round_trip_and_hip_line_on_x() -> None:
    x = _walk(seed=5)
    origin, rotation = pose3d_transforms.canonical_frame(x[:, :16])
    canonical = pose3d_transforms.to_canonical(x, origin, rotation)
    last = canonical[:, 15].unflatten(-1, (13, 3))
    torch.testing.assert_close(last[:, :2].mean(1), torch.zeros(4, 3), atol=1e-5, rtol=0)
    across = last[:, 0] - last[:, 1]
    assert (across[:, 0] > 0).all() and torch.allclose(across[:, 2], torch.zeros(4), atol=1e-5)
    torch.testing.assert_close(pose3d_transforms.from_canonical(canonical, origin, rotation), x, atol=1e-5, rtol=0)


def test_augmentations_keep_bone_lengths_and_mirror_is_an_involution() -> None:
    x = _walk(n=8, seed=1)
    mirrored = pose3d_transforms.mirror(x)
    torch.testing.assert_close(pose3d_transforms.mirror(mirrored), x)
    joints, flipped = x.unflatten(-1, (13, 3)), mirrored.unflatten(-1, (13, 3))
    left, right = JOINT_NAMES.index("L-wrist"), JOINT_NAMES.index("R-wrist")
    assert torch.equal(flipped[..., right, 0], -joints[..., left, 0])
    assert torch.equal(flipped[..., right, 1:], joints[..., left, 1:])

    def bones(y: torch.Tensor) -> torch.Tensor:
        y = y.unflatten(-1, (13, 3))
        return torch.stack([(y[..., a, :] - y[..., b, :]).norm(dim=-1) for a, b in BONES], -1)

    moved = pose3d_transforms.augment(x, ["rotate", "mirror", "reverse"], torch.Generator().manual_seed(0))
    assert not torch.allclose(moved, x, atol=1e-3)
    # per window, the multiset of bone lengths over all frames survives turning, mirroring and reversing
    torch.testing.assert_close(bones(moved).flatten(1).sort(-1).values, bones(x).flatten(1).sort(-1).values,
                               atol=1e-5, rtol=1e-5)
    scaled = pose3d_transforms.augment(x, ["scale"], torch.Generator().manual_seed(0), scale_range=(2.0, 2.0))
    torch.testing.assert_close(bones(scaled), 2 * bones(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError, match="unknown augmentation"):
        pose3d_transforms.augment(x, ["shear"])


def test_damped_velocity_on_a_hand_computed_case_and_its_fitted_decay() -> None:
    observed = torch.zeros(1, 16, 39)
    observed[:, -1] = 1.0  # velocity 1 per coordinate at the last step
    pred = DampedVelocity(0.5, pred_frames=3)(observed).positions
    torch.testing.assert_close(pred[0, :, 0], torch.tensor([1.5, 1.75, 1.875]))
    assert torch.equal(DampedVelocity(1.0)(observed).positions[0, 13, 0], torch.tensor(15.0))
    windows = _walk(n=6, seed=2)
    velocity = windows[:, 15:16] - windows[:, 14:15]
    future = windows[:, 15:16] + (0.7 ** torch.arange(1, 15.0)).cumsum(0)[None, :, None] * velocity
    assert fit_decay(windows[:, :16], future) == pytest.approx(0.7)


def test_dct_mlp_loss_is_zero_only_for_the_truth() -> None:
    windows = _walk()
    out = DampedVelocity(1.0)(windows[:, :16])  # constant velocity is exact for these walks
    loss, logs = dct_mlp_loss(out, windows[:, :16], windows[:, 16:])
    assert float(loss) == pytest.approx(0.0, abs=1e-5) and set(logs) == {"position_m", "velocity_m"}
    shifted = out._replace(positions=out.positions + torch.tensor([0.03, 0.04, 0.0]).repeat(13))
    loss, logs = dct_mlp_loss(shifted, windows[:, :16], windows[:, 16:])
    # every joint 5 cm off at every frame; velocities only differ at the first frame (1 of 14)
    assert logs["position_m"] == pytest.approx(0.05, abs=1e-6) and logs["velocity_m"] == pytest.approx(0.05 / 14,
                                                                                                       abs=1e-6)


def test_training_sources_mix_by_weight_and_read_only_the_train_split(tmp_path: Path) -> None:
    folder = synthetic_3dpw.write_dataset(tmp_path / "a", {"train": 10, "valid": 3}, seed=1)
    one = forecast_sources.training_windows({str(folder): 1.0})
    assert one.observed.shape == (20, 16, 39) and one.future.shape == (20, 14, 39)
    expected = somof.load_split(folder, "train")
    torch.testing.assert_close(one.observed, torch.from_numpy(expected.inputs.reshape(-1, 16, 39)))
    mix = forecast_sources.training_windows({str(folder): 3.0, "generated": 1.0}, generated_scenes=5)
    # 30 windows in all, shared 3:1 -> 22.5 and 7.5, rounded half to even
    assert mix.sources == {str(folder): {"windows": 20, "used": 22}, "generated": {"windows": 10, "used": 8}}
    assert len(mix.observed) == 30
    valid_only = tmp_path / "valid_only"
    synthetic_3dpw.write_dataset(valid_only, {"valid": 3}, seed=1)
    with pytest.raises(Exception, match="3dpw_train_in.json"):
        forecast_sources.training_windows({str(valid_only): 1.0})
    with pytest.raises(ConfigError, match="positive weight"):
        forecast_sources.training_windows({"generated": 0.0})


def _small_cfg(tmp_path: Path, **values: object) -> study.Config:
    folder = synthetic_3dpw.write_dataset(tmp_path / "data", {"train": 12, "valid": 6, "test": 4}, seed=0)
    return replace(study.Config(model="dct_mlp", data_dir=str(folder), epochs=4, batch_size=4, blocks=2, lr=3e-3,
                                progress=False), **values)


def test_select_best_keeps_the_epoch_with_the_lowest_validation_vim(tmp_path: Path) -> None:
    cfg = _small_cfg(tmp_path, select_best=True, augment=["mirror"])
    data = study.load_data(cfg)
    model = study.make_model(cfg)
    history = study.train(model, data, cfg)
    assert len(history) == 4 and all("val_vim_avg" in row for row in history)
    final = study.evaluate(model, data["valid"])
    assert np.mean(final["vim_cm"]) == pytest.approx(min(row["val_vim_avg"] for row in history), rel=1e-5)


def test_a_dct_mlp_checkpoint_says_which_model_it_holds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = _small_cfg(tmp_path)
    data = study.load_data(cfg)
    model = study.make_model(cfg)
    history = study.train(model, data, cfg)
    table = study.results_table(model, data, cfg, decay=0.8)
    study.save_results(tmp_path, cfg, data, table, history, model)
    assert study.checkpoint_options(tmp_path / "checkpoint.pt") == {"model": "dct_mlp", "blocks": 2,
                                                                   "obs_frames": 16, "pred_frames": 14,
                                                                   "two_person": False}
    assert main(["evaluate", "3dpw", "--data", cfg.data_dir, "--split", "valid", "--checkpoint",
                 str(tmp_path / "checkpoint.pt"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["vim_cm"] == pytest.approx(study.evaluate(model, data["valid"])["vim_cm"], rel=1e-5)
    out = tmp_path / "predictions.json"
    assert main(["predict", "3dpw", "--data", cfg.data_dir, "--split", "test", "--checkpoint",
                 str(tmp_path / "checkpoint.pt"), "--out", str(out)]) == 0
    assert np.asarray(json.loads(out.read_text())).shape == (4, 2, 14, 39)
    assert main(["evaluate", "3dpw", "--data", cfg.data_dir, "--model", "derpof", "--checkpoint",
                 str(tmp_path / "checkpoint.pt")]) == 2
    assert "holds a dct_mlp model, not derpof" in capsys.readouterr().err
    damped = table[(table["split"] == "valid") & (table["model"] == "damped_velocity")]
    reference = study.evaluate(DampedVelocity(0.8), data["valid"])
    assert float(damped["VIM avg (cm)"].iloc[0]) == pytest.approx(np.mean(reference["vim_cm"]))


def test_a_checkpoint_of_another_kind_is_refused(tmp_path: Path) -> None:
    torch.save({"model_name": "stgcn", "model": {}, "model_config": {}}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="not a trainable model of this study"):
        study.checkpoint_options(tmp_path / "c.pt")


def test_shared_prefix_names_the_shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench.settings import resolve_data_path

    monkeypatch.setenv("WORKBENCH_SHARED_DATA", str(tmp_path))
    assert resolve_data_path("shared:somof_3dpw") == tmp_path.resolve() / "somof_3dpw"
    assert resolve_data_path("x/y") == Path("x/y")


@pytest.mark.skipif(not (shared_data_dir() / "cmu_mocap").is_dir(), reason="shared CMU mocap not found")
def test_cmu_source_reads_every_trial_at_each_speed() -> None:
    normal = forecast_sources.training_windows({"cmu": 1.0}, cmu_stride=4, cmu_speeds=[120])
    both = forecast_sources.training_windows({"cmu": 1.0}, cmu_stride=4, cmu_speeds=[120, 150])
    n = len(normal.observed)
    assert n > 2000 and len(both.observed) > n
    torch.testing.assert_close(both.observed[:n], normal.observed)
    # read as 150 Hz (every 10th frame) a window spans 25% more of the recording: faster motion
    def speed(obs: torch.Tensor) -> float:
        return float((obs[:, 1:] - obs[:, :-1]).abs().mean())
    assert speed(both.observed[n:]) > 1.15 * speed(normal.observed)
