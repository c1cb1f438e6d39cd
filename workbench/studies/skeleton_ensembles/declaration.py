"""The skeleton ensembles study's declaration: models, options, script commands, leaderboard."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from torch import nn

from workbench.errors import DataFormatError
from workbench.leaderboard import number
from workbench.models.stgcn import STGCN, StgcnConfig
from workbench.studies.declaration import LeaderboardColumns, Row, Study
from workbench.studies.skeleton_ensembles import cli
from workbench.studies.skeleton_ensembles.config import Config


def _stgcn(**options: Any) -> nn.Module:
    names = StgcnConfig.__dataclass_fields__
    return STGCN(StgcnConfig(**{k: v for k, v in options.items() if k in names}))


def leaderboard_row(config: dict, metrics: dict, path: Path) -> Row:
    """Data, streams, key options, the best top-1 of any row, the best single stream and every ensemble."""
    rows = metrics.get("rows")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise DataFormatError(path, "no 'rows' list of results")
    single = [r for r in rows if r.get("fusion") == "single"]
    fused = [r for r in rows if r.get("fusion") != "single"]
    best_single = max(single, key=lambda r: number(r, "top-1 (%)", path)) if single else {}
    streams = config.get("streams")
    row: Row = {"model": str(metrics.get("model") or config.get("model")), "dataset": metrics.get("dataset"),
                "streams": ",".join(map(str, streams)) if isinstance(streams, list) else streams,
                "epochs": config.get("epochs"), "batch size": config.get("batch_size"),
                "optimizer": config.get("optimizer"), "lr": config.get("lr"), "seed": config.get("seed"),
                "best top-1 (%)": max(number(r, "top-1 (%)", path) for r in rows),
                "best single stream": str(best_single.get("model", "")).split(" ")[0],
                "best single top-1 (%)": best_single.get("top-1 (%)", math.nan)}
    for r in fused:
        row[f"{r.get('model')} {r.get('fusion')} top-1 (%)"] = number(r, "top-1 (%)", path)
    return row


STUDY = Study(
    name="skeleton_ensembles", title="Skeleton action recognition with multi-stream ensembles", options=Config,
    aliases=("skeleton",), models={"stgcn": _stgcn}, default_model="stgcn", register_cli=cli.register,
    leaderboard=LeaderboardColumns(leaderboard_row, "best top-1 (%)", higher_is_better=True),
)
