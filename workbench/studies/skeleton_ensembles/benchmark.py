"""Benchmark tables of the skeleton study across runs: one run per official split and seed (JHMDB's
three splits, say), summarised as the field reports them.

Each run folder's ``metrics.json`` (its ``rows``: one per single stream and ensemble) and
``config.yaml`` (``jhmdb_split``, ``seed``) are read; nothing is retrained.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench import metrics
from workbench.errors import DataFormatError
from workbench.leaderboard import read_mapping
from workbench.studies.skeleton_ensembles import replicas, reuse

KEYS = ["model", "fusion"]
COLUMNS = ["split", "seed", *KEYS, "boosting", "streams", "val top-1 (%)", "top-1 (%)"]


def split_rows(folders: list[str | Path]) -> pd.DataFrame:
    """One row per (run, table row): ``split``, ``seed``, ``model``, ``fusion``, ``boosting``
    (``single``, ``complementary`` or ``stochastic``; runs made before replicas have only the first two),
    ``streams``, ``top-1 (%)`` (test) and ``val top-1 (%)``. Raises :class:`DataFormatError` for a folder without a
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
        if "boosting" not in rows:
            rows["boosting"] = rows["fusion"].map(lambda f: "single" if f == "single" else "complementary")
        frames.append(rows.assign(split=key[0], seed=key[1])[COLUMNS])
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
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
    per_seed = rows.groupby([*KEYS, "boosting", "streams", "seed"], sort=False).agg(
        top1=("top-1 (%)", "mean"), val=("val top-1 (%)", "mean"), splits=("split", "nunique")).reset_index()
    grouped = per_seed.groupby([*KEYS, "boosting", "streams"], sort=False)
    table = grouped.agg(**{"top-1 mean (%)": ("top1", "mean"), "top-1 std (%)": ("top1", "std"),
                           "val top-1 mean (%)": ("val", "mean"), "splits": ("splits", "min"),
                           "seeds": ("seed", "nunique")}).reset_index()
    table["top-1 std (%)"] = table["top-1 std (%)"].fillna(0.0)
    return table


def boosting_table(mean: pd.DataFrame) -> pd.DataFrame:
    """Stochastic against complementary boosting at equal model count, from :func:`mean_table`: one row
    per ensemble (sorted by model count, then kind), its test top-1 mean and std (%) with fixed and with
    validation-searched weights, and the best single stream's mean as the first row for reference (a
    stream's first model; replicas are the same streams again)."""
    single = mean[(mean["fusion"] == "single") & ~mean["model"].str.contains(replicas.SEPARATOR, regex=False)]
    best = single.loc[[single["top-1 mean (%)"].idxmax()]] if len(single) else single
    fused = mean[mean["fusion"] != "single"]
    wide = fused.pivot_table(index=["streams", "boosting", "model"], columns="fusion",
                             values=["top-1 mean (%)", "top-1 std (%)"], sort=False)
    wide.columns = [f"{fusion} {value}" for value, fusion in wide.columns]
    wide = wide.reset_index().sort_values(["streams", "boosting"], kind="stable")
    head = best.rename(columns={"top-1 mean (%)": "fixed top-1 mean (%)", "top-1 std (%)": "fixed top-1 std (%)"})
    table = pd.concat([head[["streams", "boosting", "model", "fixed top-1 mean (%)", "fixed top-1 std (%)"]], wide],
                      ignore_index=True)
    order = ["streams", "boosting", "model", "fixed top-1 mean (%)", "fixed top-1 std (%)",
             "val-searched top-1 mean (%)", "val-searched top-1 std (%)"]
    return table[[c for c in order if c in table]].rename(columns={"streams": "models"})


def correlation_rows(folders: list[str | Path]) -> pd.DataFrame:
    """Per run (``split``, ``seed``), the mean Pearson correlation of the test errors
    (:func:`metrics.error_correlation`, from each run's ``scores.npz``) over the pairs of two seeds of one
    stream (``j``, ``j#2``) and over the pairs of two different streams (first models only); columns
    ``split``, ``seed``, ``two seeds of one stream``, ``two different streams`` (NaN without replicas). Raises
    :class:`DataFormatError` for a run without readable scores."""
    rows = []
    for folder in map(Path, folders):
        config = read_mapping(folder / "config.yaml", "yaml")
        archive = reuse.read_scores(folder / "scores.npz")
        labels = archive["test_labels"]
        scores = {k[len("test_"):]: v for k, v in archive.items() if k.startswith("test_") and v.ndim == 2}
        names = list(scores)
        means = replicas.mean_by_pair_kind(names, metrics.error_correlation([scores[n] for n in names], labels).numpy())
        rows.append({"split": int(config.get("jhmdb_split", 0)), "seed": int(config.get("seed", 0)),
                     **{kind: mean for kind, (mean, _) in means.items()}})
    return pd.DataFrame(rows)
