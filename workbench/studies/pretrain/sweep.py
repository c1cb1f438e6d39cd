"""The pretraining study's grid of models x experiments x shift scalars, as tables.

The grid is either trained in one run (:func:`sweep`) or fused from
separate runs, one per (model, experiment, shift scalar), that can be spread over processes,
sessions or machines (:func:`fuse_runs`); both give the same long table, one row per
(shift_scalar, experiment, model) with test ``PCK@<alpha> (%)`` and ``threshold@<alpha> (px)``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import metrics
from workbench.engine.machine import machine_text
from workbench.engine.runtime import resolve_device
from workbench.errors import ConfigError, DataFormatError

THRESHOLD_ROW = "Mean threshold distance (px)"
SAME_DATA = ("dataset", "seed", "window", "split_fractions", "max_windows", "max_videos", "synthetic_sequences",
             "synthetic_frames", "data_dir", "decode", "pck_px")
"""Options every fused run must share: the test windows (and their noise seeds) depend on them, and the
read-out and fixed thresholds of the scores."""


def run_rows(folder: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the long-table rows of one run: its model and the identity baseline, each naming the run's
    precision and machine; the run's data options from ``metrics.json``) for a run folder written by
    the pretrain study."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise DataFormatError(path, "missing: sweep_runs must name run folders of the pretrain study")
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataFormatError(path, f"not readable JSON ({exc})") from None
    if not isinstance(payload, dict) or payload.get("study") != "pretrain" or not isinstance(payload.get("test"), dict):
        raise DataFormatError(path, "not the metrics of a pretrain run (no study 'pretrain' with test results)")
    rows = []
    for name, result in payload["test"].items():
        row = {"shift_scalar": float(payload["shift_scalar"]), "experiment": int(payload["experiment"]),
               "model": name, "epochs": int(payload.get("epochs_trained", 0)) if name == payload["model"] else 0,
               "train_time_s": float(payload.get("train_time_s", 0.0)) if name == payload["model"] else 0.0,
               "precision": str(payload.get("precision", "?")),
               "machine": machine_text(payload["machine"]) if isinstance(payload.get("machine"), dict) else "?",
               "n_keypoints": int(result["n_keypoints"]), "run": str(folder)}
        rows.append({**row, **_pck_columns(result)})
    return rows, dict(payload.get("data_options", {}))


def _pck_columns(result: dict[str, Any]) -> dict[str, float]:
    """A test result's long-table columns: ``PCK@<alpha> (%)``, ``threshold@<alpha> (px)`` and, when
    present, ``PCK@<t> px (%)``."""
    columns = {}
    for alpha in result["pck"]:
        columns[f"PCK@{alpha} (%)"] = float(result["pck"][alpha])
        columns[f"threshold@{alpha} (px)"] = float(result["threshold_px"][alpha])
    columns.update({f"PCK@{t} px (%)": float(v) for t, v in result.get("pck_px", {}).items()})
    return columns


def fuse_runs(folders: list[str]) -> pd.DataFrame:
    """The long sweep table of the runs in ``folders``; the identity baseline is kept once per
    (experiment, shift scalar), and a (model, experiment, shift scalar) found in two runs, or runs
    tested on different data, is a :class:`ConfigError`."""
    rows: dict[tuple, dict[str, Any]] = {}
    reference: tuple[str, dict] | None = None
    for folder in folders:
        found, options = run_rows(folder)
        if reference is None:
            reference = (folder, options)
        elif options != reference[1]:
            differ = sorted(k for k in set(options) | set(reference[1]) if options.get(k) != reference[1].get(k))
            raise ConfigError(f"{folder} was tested on other data than {reference[0]} (differs in {', '.join(differ)})")
        for row in found:
            key = (row["shift_scalar"], row["experiment"], row["model"])
            if key in rows and row["model"] != "identity":
                raise ConfigError(f"{row['model']} (experiment {key[1]}, shift scalar {key[0]:g}) is in both "
                                  f"{rows[key]['run']} and {folder}; list each run once")
            rows.setdefault(key, row)
    if not rows:
        raise ConfigError("sweep_runs is empty")
    order = sorted(rows, key=lambda k: (k[0], k[1], k[2] != "identity"))
    return pd.DataFrame([rows[k] for k in order])


def sweep(cfg: Any, sequences: list | None = None, info: dict | None = None) -> pd.DataFrame:
    """Train and test every model of ``cfg.sweep_models`` (and the identity baseline) for every
    experiment of ``cfg.sweep_experiments`` and shift scalar of ``cfg.sweep_shift_scalars``; no files
    are written. Returns one row per (shift_scalar, experiment, model) with test PCK (%) and the mean
    threshold distance (px) per alpha. ``cfg``: the study's options (``workbench.studies.pretrain.Config``)."""
    from workbench.studies import pretrain as study  # the study package imports this module

    if sequences is None:
        sequences, info = study.load_sequences(cfg)
    rows = []
    for shift in cfg.sweep_shift_scalars:
        for experiment in cfg.sweep_experiments:
            sub = replace(cfg, experiment=int(experiment), shift_scalar=float(shift), checkpoint="", resume=False)
            data = study.load_data(sub, sequences, info)
            for name in [study.BASELINE, *cfg.sweep_models]:
                net = study.make_model(sub, name).to(resolve_device(cfg.device))
                history = study.train(net, data, sub, name=name,
                                      label=f"sweep {name} (experiment {experiment}, shift scalar {float(shift):g})")
                result = study.evaluate(net, data.splits["test"], sub, "test")
                rows.append({"shift_scalar": float(shift), "experiment": int(experiment), "model": name,
                             "epochs": len(history), "n_keypoints": result["n_keypoints"], **_pck_columns(result)})
    return pd.DataFrame(rows)


def sweep_tables(long: pd.DataFrame) -> dict[float, pd.DataFrame]:
    """One table per shift scalar of a long sweep table: columns (experiment, PCK@alpha (%)) and, when the
    runs have them, (experiment, PCK@t px (%)); first row the threshold distance (px: the mean torso
    threshold, or t), then the identity baseline and each model."""
    alphas = [str(a) for a in metrics.PCK_ALPHAS]
    fixed = [c[len("PCK@"):-len(" px (%)")] for c in long.columns if c.endswith(" px (%)")]
    names = [(f"PCK@{a} (%)", f"threshold@{a} (px)") for a in alphas] + [(f"PCK@{t} px (%)", t) for t in fixed]
    tables = {}
    for shift, part in long.groupby("shift_scalar", sort=True):
        experiments = sorted(part["experiment"].unique())
        columns = pd.MultiIndex.from_tuples([(f"experiment {e}", name) for e in experiments for name, _ in names])
        rows: dict[str, list[float]] = {THRESHOLD_ROW: []}
        for experiment in experiments:
            block = part[part["experiment"] == experiment]
            rows[THRESHOLD_ROW] += [float(block[threshold].iloc[0]) if threshold in block else float(threshold)
                                    for _, threshold in names]
        for name in dict.fromkeys(part["model"]):
            rows[name] = []
            for experiment in experiments:
                hit = part[(part["experiment"] == experiment) & (part["model"] == name)]
                rows[name] += [float(hit[column].iloc[0]) if len(hit) else float("nan") for column, _ in names]
        table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
        table.index.name = f"shift scalar {shift:g}"
        tables[float(shift)] = table
    return tables


def fused_per_keypoint(folders: list[str]) -> pd.DataFrame:
    """PCK@0.1 (%) per keypoint group (rows) of each fused run's model and of the identity baseline
    (total over both sides), one column per ``<model>, experiment e, shift s``."""
    columns: dict[str, dict[str, float | None]] = {}
    for folder in folders:
        payload = json.loads((Path(folder) / "metrics.json").read_text())
        table = payload.get("per_keypoint_pck_0.1") or {}
        for name in ("identity", payload["model"]):
            column = table.get(f"{name} total (%)")
            if column is not None:
                columns[f"{name}, exp. {payload['experiment']}, shift {float(payload['shift_scalar']):g} (%)"] = column
    frame = pd.DataFrame(columns)
    frame.index.name = "PCK@0.1"
    return frame


def fused_decoders(folders: list[str]) -> pd.DataFrame:
    """Test PCK (%) per decoder of the fused runs that compared decoders (``compare_decode``): one row
    per (shift scalar, experiment, model, decode), the identity once per (experiment, shift scalar),
    with the long table's ``PCK@...`` columns; empty when no run compared decoders."""
    rows: dict[tuple, dict[str, Any]] = {}
    for folder in folders:
        payload = json.loads((Path(folder) / "metrics.json").read_text())
        for decoder, found in (payload.get("test_by_decode") or {}).items():
            for name, result in found.items():
                key = (float(payload["shift_scalar"]), int(payload["experiment"]), name, decoder)
                rows.setdefault(key, {"shift_scalar": key[0], "experiment": key[1], "model": name,
                                      "decode": decoder, **_pck_columns(result)})
    if not rows:
        return pd.DataFrame()
    order = sorted(rows, key=lambda k: (k[0], k[1], k[2] != "identity"))
    return pd.DataFrame([rows[k] for k in order]).set_index(["shift_scalar", "experiment", "model", "decode"])
