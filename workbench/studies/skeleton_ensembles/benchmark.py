"""Benchmark tables of the skeleton study across runs: one run per official split and seed (JHMDB's
three splits, say), summarised as the field reports them.

Each run folder's ``metrics.json`` (its ``rows``: one per single stream and ensemble) and
``config.yaml`` (``jhmdb_split``, ``seed``) are read; nothing is retrained.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.errors import DataFormatError
from workbench.leaderboard import read_mapping

KEYS = ["model", "fusion"]


def split_rows(folders: list[str | Path]) -> pd.DataFrame:
    """One row per (run, table row): ``split``, ``seed``, ``model``, ``fusion``, ``streams``,
    ``top-1 (%)`` (test) and ``val top-1 (%)``. Raises :class:`DataFormatError` for a folder without a
    readable ``metrics.json`` / ``config.yaml`` and when two folders are the same (split, seed)."""
    frames, seen = [], {}
    for folder in map(Path, folders):
        summary = read_mapping(folder / "metrics.json", "json")
        config = read_mapping(folder / "config.yaml", "yaml")
        if not isinstance(summary.get("rows"), list):
            raise DataFormatError(folder / "metrics.json", "no 'rows' table (not a skeleton_ensembles run)")
        key = (int(config.get("jhmdb_split", 0)), int(config.get("seed", 0)))
        if key in seen:
            raise DataFormatError(folder, f"split {key[0]}, seed {key[1]} is also {seen[key]}")
        seen[key] = folder
        rows = pd.DataFrame(summary["rows"])
        frames.append(rows.assign(split=key[0], seed=key[1])[
            ["split", "seed", *KEYS, "streams", "val top-1 (%)", "top-1 (%)"]])
    if not frames:
        return pd.DataFrame(columns=["split", "seed", *KEYS, "streams", "val top-1 (%)", "top-1 (%)"])
    return pd.concat(frames, ignore_index=True)


def per_split_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Test top-1 (%) per model and fusion (rows) and split (columns), the mean over seeds."""
    table = rows.pivot_table(index=[*KEYS, "streams"], columns="split", values="top-1 (%)", aggfunc="mean",
                             sort=False)
    table.columns = [f"split {s} top-1 (%)" for s in table.columns]
    return table.reset_index()


def mean_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The field's number: per model and fusion, the test top-1 (%) averaged over the splits for each
    seed, then mean and standard deviation (ddof 1; 0 for one seed) over the seeds; also the same for
    the cross-validated top-1 and the counts of splits and seeds behind each row."""
    per_seed = rows.groupby([*KEYS, "streams", "seed"], sort=False).agg(
        top1=("top-1 (%)", "mean"), val=("val top-1 (%)", "mean"), splits=("split", "nunique")).reset_index()
    grouped = per_seed.groupby([*KEYS, "streams"], sort=False)
    table = grouped.agg(**{"top-1 mean (%)": ("top1", "mean"), "top-1 std (%)": ("top1", "std"),
                           "val top-1 mean (%)": ("val", "mean"), "splits": ("splits", "min"),
                           "seeds": ("seed", "nunique")}).reset_index()
    table["top-1 std (%)"] = table["top-1 std (%)"].fillna(0.0)
    return table
