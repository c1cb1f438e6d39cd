"""The script contract of the pretraining study: ``workbench evaluate pretrain`` and ``workbench params pretrain``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import metrics
from workbench.cli import main
from workbench.data.layouts.keypoints25 import HIPS, SHOULDERS
from workbench.engine.checkpoint import save_atomic
from workbench.studies import pretrain


@pytest.fixture(scope="module")
def labels(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("penn")
    for n in range(1, 7):
        (folder / f"{n:04d}.mat").symlink_to(shared / "penn_action" / "labels" / f"{n:04d}.mat")
    return folder


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_identity_json_contract(labels: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "evaluate", "pretrain", "--data", str(labels), "--dataset", "penn_action",
                        "--model", "identity", "--experiment", "2", "--shift-scalar", "1", "--split", "test",
                        "--seed", "0", "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"pck", "threshold_px", "pck_px", "n_keypoints", "decode", "precision"}
    assert set(result["pck"]) == {"0.05", "0.1", "0.2"} and result["pck"]["0.05"] <= result["pck"]["0.2"]
    assert list(result["pck_px"]) == ["1.11", "2.23", "4.46"] and result["decode"] == "argmax"
    assert result["pck_px"]["1.11"] <= result["pck_px"]["2.23"] <= result["pck_px"]["4.46"]
    cfg = pretrain.Config(dataset="penn_action", data_dir=str(labels), experiment=2)
    test = pretrain.load_data(cfg).splits["test"]
    scored = test.visible & test.annotated[:, None]
    torso = metrics.torso_diameter(test.keypoints, scored, SHOULDERS, HIPS)
    assert result["n_keypoints"] == int((scored & torso.isfinite()[..., None]).sum())
    harder = json.loads(_run(capsys, "evaluate", "pretrain", "--data", str(labels), "--shift-scalar", "2",
                             "--experiment", "2", "--json")[1])
    assert harder["pck"]["0.2"] < result["pck"]["0.2"]
    dark = json.loads(_run(capsys, "evaluate", "pretrain", "--data", str(labels), "--experiment", "2", "--decode",
                           "dark", "--pck-px", "2", "3", "--json")[1])
    assert dark["decode"] == "dark" and list(dark["pck_px"]) == ["2", "3"]



def test_evaluate_compares_decoders_on_a_capped_split_in_one_pass(labels: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ("evaluate", "pretrain", "--data", str(labels), "--experiment", "2", "--max-windows", "10",
            "--precision", "fp32", "--json")
    both = json.loads(_run(capsys, *argv, "--compare-decode", "dark")[1])
    assert both["precision"] == "fp32" and list(both["by_decode"]) == ["argmax", "dark"]
    assert both["by_decode"]["argmax"]["pck_px"] == both["pck_px"]
    alone = json.loads(_run(capsys, *argv, "--decode", "dark")[1])
    assert both["by_decode"]["dark"]["pck_px"] == alone["pck_px"] and "by_decode" not in alone
    cfg = pretrain.Config(dataset="penn_action", data_dir=str(labels), experiment=2, max_windows={"test": 10})
    test = pretrain.load_data(cfg).splits["test"]
    assert len(test) == 10 and both["n_keypoints"] <= int((test.visible & test.annotated[:, None]).sum())
    text = _run(capsys, *argv[:-1], "--compare-decode", "quarter")[1]
    assert "argmax decoding" in text and "quarter decoding" in text and "fp32" in text


def test_checkpoint_round_trip_and_errors(labels: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = pretrain.Config(model="3dconv", dataset="penn_action", data_dir=str(labels), device="cpu")
    model = pretrain.make_model(cfg)
    path = tmp_path / "checkpoint.pt"
    save_atomic({"format": "workbench-weights-1", "model": model.state_dict(), "model_config": cfg.model_options()},
                path)
    code, out, _ = _run(capsys, "evaluate", "pretrain", "--data", str(labels), "--model", "3dconv",
                        "--checkpoint", str(path), "--device", "cpu", "--json")
    expected = pretrain.evaluate(model, pretrain.load_data(cfg).splits["test"], cfg, "test")
    assert code == 0 and json.loads(out)["pck"] == pytest.approx(expected["pck"])
    code, _, err = _run(capsys, "evaluate", "pretrain", "--data", str(labels), "--model", "deciwatch",
                        "--checkpoint", str(path), "--json")
    assert code == 2 and "holds a 3dconv model, not deciwatch" in err
    code, _, err = _run(capsys, "evaluate", "pretrain", "--data", str(labels), "--model", "3dconv", "--json")
    assert code == 2 and "needs --checkpoint" in err
    code, out, err = _run(capsys, "evaluate", "pretrain", "--data", str(tmp_path), "--json")
    assert code == 2 and out == "" and "no Penn Action .mat label files found" in err and "Traceback" not in err


def test_params_json(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "params", "pretrain", "-p", "model", "bi_convlstm_c", "--json")
    counts = json.loads(out)
    assert code == 0 and counts["total"] == 1_872_313 and counts["modules"]["forward_lstm"] == 594_000
    small = json.loads(_run(capsys, "params", "pretrain", "-p", "model", "bi_convlstm_s", "-p", "channels", "16",
                            "--json")[1])
    assert small["modules"]["forward_head"] == 25 * 16 * 9 + 16 + 2 * (16 * 16 * 9 + 16) + 16 * 16 + 16 + 16 * 25 + 25


def test_data_accepts_the_penn_action_root(labels: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "Penn_Action"
    root.mkdir()
    (root / "labels").symlink_to(labels, target_is_directory=True)
    common = ("evaluate", "pretrain", "--dataset", "penn_action", "--model", "identity", "--json")
    code, from_root, _ = _run(capsys, *common, "--data", str(root))
    assert code == 0 and json.loads(from_root) == json.loads(_run(capsys, *common, "--data", str(labels))[1])
