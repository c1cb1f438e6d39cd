"""The heatmap pretraining study's declaration: models, options, script commands, leaderboard."""

from __future__ import annotations

from pathlib import Path

from workbench.leaderboard import number, section
from workbench.models.heatmap_models import MODELS, build
from workbench.studies.declaration import LeaderboardColumns, Row, Study
from workbench.studies.pretrain import Config, cli


def leaderboard_row(config: dict, metrics: dict, path: Path) -> Row:
    """Model, data, experiment, shift scalar, key options and test PCK@0.05 / 0.1 / 0.2."""
    model = str(metrics.get("model") or config.get("model"))
    result = section(section(metrics, "test", path), model, path)
    pck = section(result, "pck", path)
    dataset = str(config.get("dataset", ""))
    if config.get("max_videos"):
        dataset += f" ({config['max_videos']} videos)"
    return {"model": model, "dataset": dataset, "experiment": metrics.get("experiment"),
            "shift scalar": metrics.get("shift_scalar"), "epochs": metrics.get("epochs_trained", 0),
            "batch size": config.get("batch_size"), "lr": config.get("lr"), "seed": config.get("seed"),
            "parameters": metrics.get("parameters"),
            **{f"PCK@{a} (%)": number(pck, a, path) for a in ("0.05", "0.1", "0.2")},
            "keypoints scored": result.get("n_keypoints")}


STUDY = Study(
    name="pretrain", title="Heatmap-denoising pretraining", options=Config,
    models={name: (lambda name=name, **options: build(name, **options)) for name in MODELS},
    default_model="bi_convlstm_c", register_cli=cli.register,
    leaderboard=LeaderboardColumns(leaderboard_row, "PCK@0.2 (%)", higher_is_better=True),
)
