"""The pieces behind 'one run whatever executes the notebook': the machine record, how the kernel finds its
executor and the executed notebook, tidying a finished folder, ``workbench report`` on bad input, and a run
the kernel keeps when called as a script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import notebook_run
from workbench.engine import machine
from workbench.errors import ConfigError
from workbench.report import report_run
from workbench.run_folders import tidy_run_folder
from workbench.studies import pretrain
from workbench.summary import build_summary

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC 9R45
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni

processor\t: 1
model name\t: another
"""


def test_cpu_model_and_instruction_sets_from_cpuinfo(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert machine.cpu_model(str(path)) == "AMD EPYC 9R45 (family 26, model 2)"
    assert machine.cpu_model(str(tmp_path / "missing")) == "unknown CPU"
    assert machine.instruction_sets(frozenset({"avx2", "avx512f", "avx512_bf16"})) == ["AVX2", "AVX-512",
                                                                                        "AVX512-BF16"]
    assert machine.instruction_sets(frozenset({"sse2", "avx2"})) == ["AVX2"]
    assert machine.instruction_sets(frozenset({"amx_tile", "avx2"})) == ["AVX2", "AMX"]


def test_machine_record_names_the_precision_used_and_reads_as_one_line() -> None:
    record = machine.machine_record("cpu", "fp32")
    assert record["device"] == "cpu" and record["precision"] == "fp32" and record["threads"] >= 1
    assert set(record["instruction_sets"]) <= {"AVX2", "AVX-512", "AVX512-BF16", "AMX"}
    auto = machine.machine_record("cpu", "auto")["precision"]
    assert auto == ("bf16" if "AVX512-BF16" in record["instruction_sets"] or "AMX" in record["instruction_sets"]
                    else "fp32")
    text = machine.machine_text({**record, "name": "X", "instruction_sets": []})
    assert text.startswith("cpu: X, no AVX2; ") and f"torch {record['torch']}" in text
    assert machine.run_device({"device": "cuda:0"}) == "cuda:0"  # a run from before the record
    assert machine.run_device({}) == ""


def test_papermill_output_and_cell_bar_from_its_command_line(tmp_path: Path) -> None:
    parse = notebook_run.papermill_output
    assert parse(["nb.ipynb", "out/run.ipynb", "-p", "model", "3dconv"], tmp_path) == tmp_path / "out/run.ipynb"
    assert parse(["-p", "epochs", "2", "nb.ipynb", "o.ipynb", "--log-output"], tmp_path) == tmp_path / "o.ipynb"
    assert parse(["nb.ipynb", "-f", "p.yaml"], tmp_path) is None  # the notebook went to stdout
    assert parse(["nb.ipynb", "-"], tmp_path) is None
    bar = notebook_run.papermill_cell_bar
    assert bar(["papermill", "a", "b"]) and not bar(["papermill", "a", "b", "--log-output"])
    assert bar(["papermill", "a", "--log-output", "--progress-bar"]) and not bar(["papermill", "--no-progress-bar"])


def test_the_notebook_of_a_jupyter_session(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.ipynb").write_text("{}")
    assert notebook_run.session_notebook(str(tmp_path / "x.ipynb"), tmp_path) == tmp_path / "x.ipynb"
    assert notebook_run.session_notebook("sub/a.ipynb", tmp_path / "sub") == tmp_path / "sub" / "a.ipynb"
    assert notebook_run.session_notebook("a.ipynb", tmp_path / "sub") == tmp_path / "sub" / "a.ipynb"


def test_tidy_removes_only_what_a_finished_run_does_not_need(tmp_path: Path) -> None:
    names = ["checkpoint.pt", "checkpoint.prev.pt", "train_j.prev.pt", ".checkpoint.pt.lock", ".progress.jsonl",
             "metrics.json", "train_j.pt"]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = sorted(p.name for p in tidy_run_folder(tmp_path))
    assert removed == [".checkpoint.pt.lock", ".progress.jsonl", "checkpoint.prev.pt", "train_j.prev.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.json", "train_j.pt"]


def test_report_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a complete run folder"):
        report_run(tmp_path)
    (tmp_path / "status.json").write_text(json.dumps({"status": "complete", "study": "pretrain",
                                                      "notebook": str(tmp_path / "gone.ipynb")}))
    with pytest.raises(ConfigError, match="gone.ipynb not found; name the executed notebook with --notebook"):
        report_run(tmp_path)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not a notebook")
    with pytest.raises(ConfigError, match="bad.ipynb: not a readable notebook"):
        report_run(tmp_path, bad)


def test_a_study_called_from_a_script_keeps_its_run_staged_until_complete(outputs: Path) -> None:
    cfg = pretrain.Config(model="identity", dataset="synthetic", synthetic_sequences=6, synthetic_frames=20)
    assert notebook_run.executor_and_notebook() == ("script", None)
    stage = pretrain.output_dir(cfg)
    assert stage.parent == outputs / "pretrain" and stage.name.startswith(".") and stage.name.endswith(".partial")
    status = json.loads((stage / "status.json").read_text())
    assert status["status"] == "running" and status["executor"] == "script" and "output_dir" not in status["parameters"]
    final = notebook_run.final_folder(stage)
    assert final.name == status["final"] and not final.exists()
    (stage / "checkpoint.prev.pt").write_text("backup")
    assert notebook_run.complete(stage) == final
    assert not stage.exists() and not (final / "checkpoint.prev.pt").exists()
    done = json.loads((final / "status.json").read_text())
    assert done["status"] == "complete" and done["wall_time_s"] >= 0
    assert not list(final.parent.glob(".*")), "no reservation left"
    assert notebook_run.complete(final) == final  # not a run of this kernel: left alone
    given = pretrain.output_dir(pretrain.Config(output_dir=str(outputs / "given")))
    assert given == outputs / "given" and given.is_dir()  # workbench run's staging folder: used as given


def test_the_summary_names_the_machine(tmp_path: Path) -> None:
    record = {"device": "cpu", "name": "Test CPU", "instruction_sets": ["AVX2"], "threads": 2, "precision": "fp32",
              "torch": "2.13.0+cpu"}
    (tmp_path / "metrics.json").write_text(json.dumps({"machine": record}))
    facts = dict(build_summary(tmp_path, "pretrain", "complete", 1.0).facts)
    assert facts["Device"] == "cpu: Test CPU, AVX2; 2 threads; fp32; torch 2.13.0+cpu"
