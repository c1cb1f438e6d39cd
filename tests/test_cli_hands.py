"""The script contract of the hand-forecasting study: ``workbench evaluate hands`` and ``params``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.data.formats import qub_pheo


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_half_windows_zero_velocity_by_hand(shared: Path, capsys: pytest.CaptureFixture) -> None:
    folder = shared / "qub_pheo" / "landmarks"
    code, out, _ = _run(capsys, "evaluate", "hands", "--data", str(folder), "--arch", "zero_velocity",
                        "--obs-len", "half", "--pred-len", "half", "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"mpjpe_qub", "mpjpe", "ade", "fde", "n_windows"} and result["n_windows"] == 4
    errors, weights = [], []
    for clip in qub_pheo.load_clips(qub_pheo.clip_list(folder))[0]:
        feats, mask = qub_pheo.clip_features(clip)
        n = clip.num_frames // 2
        diff = (feats[n:2 * n, :84] - feats[n - 1, :84]).reshape(n, 2, 21, 2)
        errors.append(np.linalg.norm(diff, axis=-1).reshape(n, 42))
        weights.append(np.repeat(mask[n:2 * n], 21, axis=1))
    errors, weights = np.concatenate(errors), np.concatenate(weights)
    assert result["mpjpe"] == pytest.approx((errors * weights).sum() / weights.sum(), rel=1e-5)


def test_published_weights_masked_and_unmasked(shared: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["evaluate", "hands", "--data", str(shared / "qub_pheo" / "landmarks"), "--arch", "bilstm", "--weights",
            str(shared / "qub_pheo" / "weights" / "weights_bilstm-gaze_False-obj_False-sur_False.pt"),
            "--obs-len", "half", "--pred-len", "half", "--json"]
    masked = json.loads(_run(capsys, *args)[1])
    unmasked = json.loads(_run(capsys, *args, "--no-mask")[1])
    assert all(np.isfinite(v) for v in masked.values()) and masked["n_windows"] == unmasked["n_windows"] == 4
    assert masked["mpjpe_qub"] != pytest.approx(unmasked["mpjpe_qub"])
    code, out, err = _run(capsys, *args[:-5], "--obs-len", "15", "--pred-len", "10", "--stride", "5", "--json")
    assert code == 0 and json.loads(out)["n_windows"] == 0 + 1 + 12 + 3 and "1 too short" in err


def test_errors_are_one_line(tmp_path: Path, shared: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "p01-bad.h5").write_bytes(b"junk")
    code, out, err = _run(capsys, "evaluate", "hands", "--data", str(tmp_path), "--arch", "zero_velocity", "--json")
    assert code == 2 and out == "" and err.startswith("workbench: error: ") and "no window to evaluate" in err
    assert "1 unreadable" in err and "Traceback" not in err
    code, _, err = _run(capsys, "evaluate", "hands", "--data", str(shared / "qub_pheo" / "landmarks"), "--arch",
                        "bigru", "--weights", str(tmp_path / "p01-bad.h5"), "--obs-len", "half", "--pred-len", "half")
    assert code == 2 and "p01-bad.h5" in err and "checkpoint" in err
    code, _, err = _run(capsys, "evaluate", "hands", "--data", str(tmp_path), "--arch", "bilstm")
    assert code == 2 and "needs --weights" in err


def test_params_json(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "params", "hands", "--json")
    counts = json.loads(out)
    assert code == 0 and counts["total"] == 636_500 and set(counts["modules"]) == {"encoder", "pose_head"}
    code, out, _ = _run(capsys, "params", "hand_forecasting", "-p", "arch", "bigru", "-p", "input_size", "86", "--json")
    assert json.loads(out)["total"] == 482_900 + 2 * 3 * 128 * 2
