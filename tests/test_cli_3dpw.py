"""The script contract of the 3DPW study: evaluate, predict and params."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main, parse_value
from workbench.data.formats import somof


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_evaluate_json_contract(shared: Path, capsys: pytest.CaptureFixture) -> None:
    folder = shared / "somof_3dpw"
    code, out, _ = _run(capsys, "evaluate", "3dpw", "--data", str(folder), "--split", "valid",
                        "--model", "zero_velocity", "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"vim_cm", "ade", "fde", "mpjpe_mm", "n_people"}
    assert len(result["vim_cm"]) == 5 and result["n_people"] == 72
    split = somof.load_split(folder, "valid")
    last = split.inputs[:, :, -1:].reshape(72, 1, 13, 3)
    truth = split.outputs.reshape(72, 14, 13, 3)
    assert result["mpjpe_mm"] == pytest.approx(1000 * np.linalg.norm(truth - last, axis=-1).mean(), rel=1e-5)


def test_evaluate_published_weights_deterministically(shared: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["evaluate", "3dpw", "--data", str(shared / "somof_3dpw"), "--model", "derpof",
            "--checkpoint-g", str(shared / "derpof_3dpw" / "checkpoint_g.pkl"),
            "--checkpoint-l", str(shared / "derpof_3dpw" / "checkpoint_l.pkl"), "--deterministic", "--json"]
    first = json.loads(_run(capsys, *args)[1])
    second = json.loads(_run(capsys, *args, "--seed", "5")[1])
    assert first == second and all(np.isfinite(first["vim_cm"]))
    sampled = json.loads(_run(capsys, *args[:-2], "--json")[1])
    assert sampled["ade"] != first["ade"]


def test_predict_writes_submission_layout(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "predictions.json"
    code, _, _ = _run(capsys, "predict", "3dpw", "--data", str(shared / "somof_3dpw"), "--split", "test",
                      "--model", "constant_velocity", "--out", str(out))
    assert code == 0
    assert np.asarray(json.loads(out.read_text())).shape == (85, 2, 14, 39)


def test_params_json(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "params", "decoupled_3dpw", "-p", "hidden", "32", "--json")
    counts = json.loads(out)
    assert code == 0 and counts["total"] == sum(counts["modules"].values())
    assert counts["modules"]["hidden2g"] == 32 * 3 + 3


def test_errors_are_one_line_with_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "3dpw_valid_in.json").write_text("[[[")
    code, out, err = _run(capsys, "evaluate", "3dpw", "--data", str(tmp_path), "--model", "zero_velocity", "--json")
    assert code == 2 and out == ""
    assert err.startswith("workbench: error: ") and "3dpw_valid_in.json: malformed JSON" in err
    assert "Traceback" not in err
    code, _, err = _run(capsys, "evaluate", "3dpw", "--data", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt"))
    assert code == 2 and "malformed JSON" in err or "checkpoint file not found" in err


def test_parse_value() -> None:
    assert parse_value("3") == 3 and parse_value("1e-3") == 0.001 and parse_value("true") is True
    assert parse_value("[j, b, k]") == ["j", "b", "k"] and parse_value("derpof") == "derpof"
