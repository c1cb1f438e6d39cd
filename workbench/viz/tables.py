"""Tables for notebooks: model size break-downs, rounded tables and result tables with the best values marked."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler


def parameter_table(counts: dict) -> pd.DataFrame:
    """Parameter counts per module with their share of the total.

    ``counts`` is ``{"total": N, "modules": {name: n}}`` as returned by
    :func:`workbench.models.registry.parameter_counts`. Columns: ``module``,
    ``parameters`` (count), ``share (%)`` (percent of ``total``, NaN when the total is 0);
    the last row is ``total``.
    """
    total = int(counts["total"])
    rows = [*counts["modules"].items(), ("total", total)]
    table = pd.DataFrame(rows, columns=["module", "parameters"])
    table["share (%)"] = 100.0 * table["parameters"] / total if total else float("nan")
    return table


def styled_parameters(counts: dict) -> Styler:
    """:func:`parameter_table` for reading: counts with thousands separators, shares to 0.1 %, no index."""
    table = parameter_table(counts)
    return table.style.format({"parameters": "{:,}", "share (%)": "{:.1f}"}, na_rep="-").hide(axis="index")


def styled_table(df: pd.DataFrame, precision: int = 2) -> Styler:
    """``df`` for reading: floats to ``precision`` decimals, numbers with thousands separators, no index."""
    return df.style.format(precision=precision, thousands=",", na_rep="-").hide(axis="index")


def styled_results(df: pd.DataFrame, lower_is_better: list[str]) -> Styler:
    """``df`` with floats shown to 3 decimals and the lowest value of each column in ``lower_is_better`` in bold.

    Column names carry their units (e.g. ``"ADE (m)"``); values are not converted.
    """
    missing = [c for c in lower_is_better if c not in df.columns]
    if missing:
        raise KeyError(f"no column {', '.join(missing)} in the results")
    return df.style.format(precision=3).highlight_min(subset=lower_is_better, props="font-weight: bold")
