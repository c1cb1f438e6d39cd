"""Hand forecasters: the published weights, shapes and horizons, and the baselines' formulas."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workbench.data.formats import qub_pheo
from workbench.data.generators import synthetic_hands
from workbench.errors import CheckpointError, ConfigError
from workbench.models.hand_forecasters import build_hand_model, load_published_weights
from workbench.models.registry import build_model, parameter_counts
from workbench.studies import hand_forecasting as study


@pytest.mark.parametrize(("arch", "params"), [("bilstm", 636_500), ("bigru", 482_900)])
def test_published_weights_load_weights_only(shared: Path, arch: str, params: int) -> None:
    path = study.published_weights_path(shared / "qub_pheo" / "weights", arch, [])
    assert path.name == f"weights_{arch}-gaze_False-obj_False-sur_False.pt"
    model = load_published_weights(build_hand_model(arch), path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert set(model.state_dict()) == set(state) and parameter_counts(model)["total"] == params
    assert torch.equal(model.state_dict()["pose_head.2.weight"], state["pose_head.2.weight"])
    model.eval()
    x = torch.randn(2, 60, 84)
    assert model(x).shape == (2, 60, 84) and torch.equal(model(x), model(x))
    assert model(x, pred_len=10).shape == (2, 10, 84)


def test_wrong_weights_name_the_file(shared: Path) -> None:
    path = shared / "qub_pheo" / "weights" / "weights_bigru-gaze_False-obj_False-sur_False.pt"
    with pytest.raises(CheckpointError) as info:
        load_published_weights(build_hand_model("bilstm"), path)
    assert info.value.path == str(path) and "encoder.core.weight_ih_l0 has shape (384, 84)" in info.value.problem
    with pytest.raises(CheckpointError, match=r"weight_ih_l0 has shape \(384, 84\), model expects \(512, 86\)"):
        study.load_checkpoint(build_hand_model("bilstm", input_size=86), path)


def test_recurrent_forecasters_refuse_longer_horizons() -> None:
    with pytest.raises(ConfigError, match="pred_len 20 > obs_len 10"):
        build_hand_model("bilstm", pred_len=20)(torch.zeros(1, 10, 84))
    with pytest.raises(ConfigError, match="pred_len"):
        study.Config(model="bigru", obs_len=10, pred_len=20)


def test_residual_gru_takes_modalities_and_starts_near_zero_velocity() -> None:
    model = build_model("hands", "residual_gru", input_size=86, pred_len=5, hidden=16)
    x = torch.randn(3, 8, 86)
    out = model.eval()(x)
    assert out.shape == (3, 5, 84)
    assert ((out - x[:, -1:, :84]).abs().mean() < x[:, -1:, :84].abs().mean())


def test_baselines() -> None:
    observed = torch.zeros(1, 3, 86)
    observed[0, :, 0] = torch.tensor([0.0, 1.0, 3.0])
    zero = build_hand_model("zero_velocity", pred_len=2)(observed)
    const = build_hand_model("constant_velocity", pred_len=2)(observed)
    assert zero[0, :, 0].tolist() == [3.0, 3.0] and const[0, :, 0].tolist() == [5.0, 7.0]
    assert zero.shape == (1, 2, 84) and const[0, :, 1:].abs().sum() == 0
    assert build_hand_model("constant_velocity")(observed, pred_len=4).shape == (1, 4, 84)


def test_masked_loss_ignores_missing_hands_and_evaluation_keeps_weights(tmp_path: Path) -> None:
    pred, target = torch.zeros(1, 2, 84), torch.zeros(1, 2, 84)
    pred[0, :, 42:] = 3.0  # only the right hand is wrong, and it is missing
    assert study.masked_mse(pred, target, torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])) == 0.0
    assert study.masked_mse(pred, target, torch.ones(1, 2, 2)) == pytest.approx(9.0 / 2)
    clips, _ = qub_pheo.load_clips(qub_pheo.clip_list(synthetic_hands.write_dataset(tmp_path, {"test": 1}, 0)))
    cfg = study.Config(obs_len=10, pred_len=10, stride=50, hidden=8)
    model = study.make_model(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = study.evaluate(model.train(), study.windows(cfg, clips))
    assert result["n_windows"] > 0 and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
