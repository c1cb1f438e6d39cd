"""DeRPoF: velocity decomposition, baselines, forward contract and published-weight import."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workbench.errors import CheckpointError
from workbench.models.derpof import DeRPoF, DerpofConfig, derpof_loss, load_published_weights, split_velocities
from workbench.models.pose_baselines import ConstantVelocity, ZeroVelocity
from workbench.models.registry import build_model, parameter_counts


def test_split_velocities_by_hand() -> None:
    poses = torch.zeros(1, 3, 39)
    poses[0, 1, 0:3] = torch.tensor([1.0, 0.0, 0.0])  # L-hip moves +1 x
    poses[0, 1, 3:6] = torch.tensor([3.0, 0.0, 0.0])  # R-hip moves +3 x
    poses[0, 1, 18:21] = torch.tensor([0.0, 2.0, 0.0])  # head moves +2 y
    g, local = split_velocities(poses)
    assert g[0, 0].tolist() == [2.0, 0.0, 0.0] and g[0, 1].tolist() == [-2.0, 0.0, 0.0]
    joints = local[0, 0].reshape(13, 3)
    assert joints[0].tolist() == [-1.0, 0.0, 0.0] and joints[1].tolist() == [1.0, 0.0, 0.0]
    assert joints[6].tolist() == [-2.0, 2.0, 0.0] and joints[4].tolist() == [-2.0, 0.0, 0.0]


def test_baselines_by_hand() -> None:
    obs = torch.zeros(2, 16, 39)
    obs[:, 14] = 1.0
    obs[:, 15] = 1.5
    zero = ZeroVelocity()(obs).positions
    const = ConstantVelocity()(obs).positions
    assert zero.shape == const.shape == (2, 14, 39)
    assert torch.all(zero == 1.5)
    assert torch.allclose(const[:, 0], torch.full((2, 39), 2.0))
    assert torch.allclose(const[:, 13], torch.full((2, 39), 8.5))


def test_forward_contract_and_deterministic_latent() -> None:
    torch.manual_seed(0)
    model = DeRPoF(DerpofConfig(hidden=16, latent=4)).eval()
    obs = torch.randn(5, 16, 39)
    a = model(obs, deterministic=True)
    b = model(obs, deterministic=True)
    assert a.positions.shape == (5, 14, 39) and a.global_vel.shape == (5, 14, 3) and a.local_vel.shape == (5, 14, 39)
    assert torch.equal(a.positions, b.positions)
    assert not torch.equal(model(obs).positions, a.positions)  # sampled z differs from the mean
    velocity = a.local_vel + a.global_vel.repeat(1, 1, 13)
    assert torch.allclose(a.positions, obs[:, -1:] + velocity.cumsum(1), atol=1e-6)


def test_loss_is_zero_for_perfect_velocities_and_standard_posterior() -> None:
    obs, fut = torch.randn(3, 16, 39), torch.randn(3, 14, 39)
    g, local = split_velocities(torch.cat([obs[:, -1:], fut], 1))
    out = ZeroVelocity()(obs)._replace(global_vel=g, local_vel=local, mean=torch.zeros(3, 2), logvar=torch.zeros(3, 2))
    loss, logs = derpof_loss(out, obs, fut)
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and logs["kl"] == pytest.approx(0.0)
    out = out._replace(mean=torch.ones(3, 2))  # KL = 0.5 * sum(mean^2) = 3
    assert derpof_loss(out, obs, fut)[1]["kl"] == pytest.approx(3.0)


def test_parameter_counts_per_top_level_module() -> None:
    counts = parameter_counts(build_model("3dpw", "derpof"))
    h = 64
    assert counts["modules"]["encoder_g"] == 4 * h * (8 + h) + 8 * h
    assert counts["modules"]["embedding_fn"] == 3 * 8 + 8
    assert counts["total"] == sum(counts["modules"].values())


def test_published_weights_load_as_float32(shared: Path) -> None:
    folder = shared / "derpof_3dpw"
    model = load_published_weights(DeRPoF(), folder / "checkpoint_g.pkl", folder / "checkpoint_l.pkl")
    raw = torch.load(folder / "checkpoint_l.pkl", weights_only=True)
    assert model.Decoder.mlp[0].weight.dtype == torch.float32
    assert torch.allclose(model.Decoder.mlp[0].weight, raw["Decoder.mlp.0.weight"].float())
    raw_g = torch.load(folder / "checkpoint_g.pkl", weights_only=True)
    assert torch.allclose(model.encoder_g.weight_hh_l0, raw_g["encoder_g.weight_hh_l0"].float())


def test_mismatched_checkpoints_are_named(shared: Path, tmp_path: Path) -> None:
    folder = shared / "derpof_3dpw"
    with pytest.raises(CheckpointError, match=r"checkpoint_l\.pkl: does not match the model: missing keys"):
        load_published_weights(DeRPoF(), folder / "checkpoint_l.pkl", folder / "checkpoint_l.pkl")
    with pytest.raises(CheckpointError, match=r"has shape \(256, 64\), model expects \(128, 32\)"):
        small = DeRPoF(DerpofConfig(hidden=32))
        load_published_weights(small, folder / "checkpoint_g.pkl", folder / "checkpoint_l.pkl")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes((folder / "checkpoint_g.pkl").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"truncated\.pkl: unreadable or truncated checkpoint"):
        load_published_weights(DeRPoF(), truncated, folder / "checkpoint_l.pkl")
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        load_published_weights(DeRPoF(), tmp_path / "nope.pkl", folder / "checkpoint_l.pkl")
