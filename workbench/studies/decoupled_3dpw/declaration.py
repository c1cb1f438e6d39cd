"""The 3DPW decoupled forecasting study's declaration: models, options, script commands, leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from workbench.leaderboard import dataset_label, number, split_results
from workbench.models.dct_mlp import DctMlp, DctMlpConfig
from workbench.models.derpof import DeRPoF, DerpofConfig
from workbench.models.pose_baselines import ConstantVelocity, DampedVelocity, ZeroVelocity
from workbench.studies.declaration import LeaderboardColumns, Row, Study
from workbench.studies.decoupled_3dpw import Config, cli


def _derpof(**options: Any) -> nn.Module:
    names = DerpofConfig.__dataclass_fields__
    return DeRPoF(DerpofConfig(**{k: v for k, v in options.items() if k in names}))


def _dct_mlp(**options: Any) -> nn.Module:
    names = DctMlpConfig.__dataclass_fields__
    return DctMlp(DctMlpConfig(**{k: v for k, v in options.items() if k in names}))


def leaderboard_row(config: dict, metrics: dict, path: Path) -> Row:
    """Model, data, evaluated split (test, else valid), key options and VIM@900 ms / ADE / FDE / MPJPE."""
    model = str(metrics.get("model") or config.get("model"))
    split, result = split_results(metrics, model, ("test", "valid"), path)
    return {"model": model, "dataset": dataset_label(config.get("data_dir")), "split": split,
            "epochs": metrics.get("epochs_trained", 0), "batch size": config.get("batch_size"),
            "lr": config.get("lr"), "hidden": config.get("hidden"), "seed": config.get("seed"),
            "parameters": metrics.get("parameters"),
            **{k: number(result, k, path) for k in ("VIM@900 ms (cm)", "ADE (m)", "FDE (m)", "MPJPE (mm)")}}


STUDY = Study(
    name="decoupled_3dpw", title="3DPW decoupled pose forecasting", options=Config, aliases=("3dpw",),
    models={"derpof": _derpof, "dct_mlp": _dct_mlp, "zero_velocity": lambda **_: ZeroVelocity(),
            "constant_velocity": lambda **_: ConstantVelocity(),
            "damped_velocity": lambda decay=0.85, **_: DampedVelocity(decay)},
    default_model="derpof", register_cli=cli.register,
    leaderboard=LeaderboardColumns(leaderboard_row, "VIM@900 ms (cm)", higher_is_better=False),
)
