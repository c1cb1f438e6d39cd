"""Structure of results_<arch>.md and its learning-curve PNG."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from workbench.models.hand_forecasters import build_hand_model
from workbench.studies.hand_forecasting.report import write_results_markdown

HISTORY = [
    {"epoch": 1, "train_mpjpe": 1.23456, "val_mpjpe": 1.1, "train_ade": 0.05, "val_ade": 0.04, "train_fde": 0.06,
     "val_fde": 0.05},
    {"epoch": 2, "train_mpjpe": 1.0, "val_mpjpe": 0.95, "train_ade": 0.04, "val_ade": 0.035, "train_fde": 0.05,
     "val_fde": 0.041},
]


def test_markdown_follows_the_published_structure(tmp_path: Path) -> None:
    path = write_results_markdown(
        tmp_path, "bilstm", build_hand_model("bilstm"), 64, HISTORY, {"mpjpe_qub": 0.9124, "ade": 0.0351, "fde": 0.041},
        {"Hands": True, "Gaze": True, "Object BBoxes": False, "Surrogate BBoxes": False},
        when=datetime(2025, 3, 4, 5, 6, 7),
    )
    assert path.name == "results_bilstm.md"
    text = path.read_text()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["# BILSTM Performance", "## Model parameter breakdown", "## Run at 2025-03-04 05:06:07",
                        "### Epoch-wise metrics", "### Test Results", "### Input Modalities Used",
                        "## Learning curves"]
    assert "- **Total params:** 0.64 M" in text and "- **Train batch size:** 64" in text
    assert "| Module | Params (M) |" in text
    modules = re.findall(r"^\| (\S+) \| (\d+\.\d{4}) \|$", text, flags=re.M)
    assert [m for m, _ in modules] == ["encoder.core", "pose_head.0", "pose_head.2"]
    assert modules[2][1] == "0.0216"  # 256 * 84 + 84 = 21,588 parameters
    assert "| epoch | tr_mpjpe | va_mpjpe | tr_ade | va_ade | tr_fde | va_fde |" in text
    assert "| 1 | 1.235 | 1.100 | 0.050 | 0.040 | 0.060 | 0.050 |" in text
    assert "| 2 | 1.000 | 0.950 | 0.040 | 0.035 | 0.050 | 0.041 |" in text
    assert "- **MPJPE**: 0.912\n- **ADE**:   0.035\n- **FDE**:   0.041" in text
    assert ("- **Hands**: True\n- **Gaze**: True\n- **Object BBoxes**: False\n- **Surrogate BBoxes**: False"
            in text)
    png = tmp_path / "learning_curves_bilstm.png"
    assert "![Learning curves](learning_curves_bilstm.png)" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_untrained_baseline_still_gets_a_report(tmp_path: Path) -> None:
    path = write_results_markdown(tmp_path, "zero_velocity", build_hand_model("zero_velocity"), 64, [],
                                  {"mpjpe_qub": 1.5, "ade": 0.1, "fde": 0.2}, {"Hands": True})
    text = path.read_text()
    assert text.startswith("# ZERO_VELOCITY Performance") and "- **Total params:** 0.00 M" in text
    assert "- **Gaze**: False" in text and (tmp_path / "learning_curves_zero_velocity.png").is_file()
