"""The hand forecasting study's declaration: models, options, script commands, leaderboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from workbench.leaderboard import dataset_label, number, split_results
from workbench.models.hand_forecasters import build_hand_model
from workbench.studies.declaration import LeaderboardColumns, Row, Study
from workbench.studies.hand_forecasting import BASELINES, TRAINABLE, Config, cli

SIZE_OPTIONS = ("input_size", "pred_len", "hidden", "layers", "dropout")


def _builder(name: str) -> Callable[..., nn.Module]:
    return lambda **options: build_hand_model(name, **{k: v for k, v in options.items() if k in SIZE_OPTIONS})


def leaderboard_row(config: dict, metrics: dict, path: Path) -> Row:
    """Model, data, inputs, masking, window lengths, key options and test MPJPE-QUB / MPJPE / ADE / FDE."""
    model = str(metrics.get("model") or config.get("model") or metrics.get("arch") or config.get("arch"))
    _, result = split_results(metrics, model, ("test",), path)
    return {"model": model, "dataset": dataset_label(config.get("data_dir")), "inputs": metrics.get("inputs"),
            "masked": metrics.get("masked"), "obs len (frames)": config.get("obs_len"),
            "pred len (frames)": config.get("pred_len"), "epochs": metrics.get("epochs_trained", 0),
            "batch size": config.get("batch_size"), "lr": config.get("lr"), "seed": config.get("seed"),
            "parameters": metrics.get("parameters"),
            **{k: number(result, k, path) for k in ("MPJPE-QUB (u)", "MPJPE (u)", "ADE (u)", "FDE (u)")}}


STUDY = Study(
    name="hand_forecasting", title="Hand forecasting", options=Config, aliases=("hands",),
    models={name: _builder(name) for name in (*TRAINABLE, *BASELINES)},
    default_model="bilstm", register_cli=cli.register,
    leaderboard=LeaderboardColumns(leaderboard_row, "MPJPE (u)", higher_is_better=False),
)
