"""``results_<arch>.md``: the Markdown results file of a hand-forecasting run, in the published
QUB-PHEO structure, with its learning-curve PNG beside it.

Structure (every heading and bullet in this order)::

    # BILSTM Performance
    - **Total params:** 0.64 M
    ## Model parameter breakdown        (Module | Params (M), one row per submodule holding parameters)
    ## Run at YYYY-MM-DD HH:MM:SS
    - **Train batch size:** 64
    ### Epoch-wise metrics              (epoch | tr_mpjpe | va_mpjpe | tr_ade | va_ade | tr_fde | va_fde)
    ### Test Results                    (- **MPJPE**: 0.912 / - **ADE**:   0.035 / - **FDE**:   0.041)
    ### Input Modalities Used           (- **Hands**: True, Gaze, Object BBoxes, Surrogate BBoxes)
    ## Learning curves                  (the PNG)

MPJPE here is the published definition (``mpjpe_qub``: the norm of the whole 84-number error per
frame); ADE and FDE are the centroid errors; all in feature units (u, half the image size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from torch import nn

from workbench.run_folders import write_text_atomic

EPOCH_COLUMNS = (("tr_mpjpe", "train_mpjpe"), ("va_mpjpe", "val_mpjpe"), ("tr_ade", "train_ade"),
                 ("va_ade", "val_ade"), ("tr_fde", "train_fde"), ("va_fde", "val_fde"))
MODALITIES = ("Hands", "Gaze", "Object BBoxes", "Surrogate BBoxes")


def submodule_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters per submodule that holds parameters directly (e.g. ``encoder.core``, ``pose_head.0``)."""
    counts = {}
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            counts[name or "(model)"] = own
    return counts


def _number(value: float | None) -> str:
    return "nan" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def results_markdown(arch: str, parameters: Mapping[str, int], batch_size: int, history: list[dict],
                     test: Mapping[str, float], modalities: Mapping[str, bool], when: datetime,
                     curves_png: str) -> str:
    """The Markdown text. ``parameters``: counts per submodule; ``test``: ``mpjpe_qub``, ``ade``,
    ``fde`` (u); ``modalities``: the four inputs of :data:`MODALITIES`; ``curves_png``: the PNG's
    file name (linked relative to the Markdown file)."""
    total = sum(parameters.values())
    lines = [f"# {arch.upper()} Performance", "", f"- **Total params:** {total / 1e6:.2f} M", "",
             "## Model parameter breakdown", "", "| Module | Params (M) |", "|---|---|"]
    lines += [f"| {name} | {count / 1e6:.4f} |" for name, count in parameters.items()]
    lines += ["", f"## Run at {when:%Y-%m-%d %H:%M:%S}", "", f"- **Train batch size:** {batch_size}", "",
              "### Epoch-wise metrics", "", "| epoch | " + " | ".join(c for c, _ in EPOCH_COLUMNS) + " |",
              "|" + "---|" * (1 + len(EPOCH_COLUMNS))]
    for row in history:
        values = " | ".join(_number(row.get(key)) for _, key in EPOCH_COLUMNS)
        lines.append(f"| {int(row['epoch'])} | {values} |")
    lines += ["", "### Test Results", "", f"- **MPJPE**: {_number(test.get('mpjpe_qub'))}",
              f"- **ADE**:   {_number(test.get('ade'))}", f"- **FDE**:   {_number(test.get('fde'))}", "",
              "### Input Modalities Used", ""]
    lines += [f"- **{name}**: {bool(modalities.get(name, False))}" for name in MODALITIES]
    lines += ["", "## Learning curves", "", f"![Learning curves]({curves_png})", ""]
    return "\n".join(lines)


def learning_curves_png(history: list[dict], path: str | Path, title: str) -> Path:
    """Train/validation MPJPE-QUB, ADE and FDE (u) against epoch as a PNG (matplotlib, Agg backend);
    without a history the image says that the model was not trained."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, (label, key) in zip(axes, (("MPJPE-QUB (u)", "mpjpe"), ("ADE (u)", "ade"), ("FDE (u)", "fde")),
                                strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            points = [(r["epoch"], r[f"{split}_{key}"]) for r in history if f"{split}_{key}" in r]
            if points:
                ax.plot(*zip(*points, strict=True), style, label=split)
        ax.set_xlabel("epoch")
        ax.set_title(label)
        if history:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not trained", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_results_markdown(folder: str | Path, arch: str, model: nn.Module, batch_size: int, history: list[dict],
                           test: Mapping[str, float], modalities: Mapping[str, bool],
                           when: datetime | None = None) -> Path:
    """Write ``results_<arch>.md`` and ``learning_curves_<arch>.png`` into ``folder``; returns the Markdown path."""
    folder = Path(folder)
    png = learning_curves_png(history, folder / f"learning_curves_{arch}.png", f"{arch} learning curves")
    text = results_markdown(arch, submodule_parameters(model), batch_size, history, test, modalities,
                            when or datetime.now(), png.name)
    return write_text_atomic(folder / f"results_{arch}.md", text)
