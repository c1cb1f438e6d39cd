"""Shareable reports, piece by piece: progress residue stripped, staging paths replaced, the summary filled in
and rounded, widgets noted in the static report, parameter tables rounded."""

from __future__ import annotations

import json
from pathlib import Path

import ipywidgets as widgets
import nbformat
import pandas as pd
import pytest
import yaml

from workbench.report import (
    WIDGET_MIME,
    finish_notebook,
    is_progress_text,
    note_widgets,
    notebook_to_html,
    strip_progress,
)
from workbench.summary import SUMMARY_TAG, Headline, build_summary, duration, fmt
from workbench.viz.notebook import KernelWidget
from workbench.viz.tables import styled_parameters, styled_table

BARS = ["training:   0%|          | 0/30 [00:00<?, ?epoch/s]",
        "epoch 7:  45%|####5     | 18/40 [00:03<00:04,  5.21it/s, train_loss=0.1]",
        "12it [00:01, 9.87it/s]"]


def test_progress_text_is_recognised() -> None:
    assert all(is_progress_text(bar) for bar in BARS)
    assert not any(is_progress_text(t) for t in ["train: 60 scenes, 120 people", "epoch 7 of 30 | 0.5", "3/8 done"])


STAGE = "/o/.run.x.partial"


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("show_placeholder()", metadata={"tags": [SUMMARY_TAG]}),
                nbformat.v4.new_code_cell(f"output_dir = '{STAGE}'", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("train()")]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<p>pending</p>"})]
    nb.cells[3].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="\r".join(BARS[:2]) + "\n"),
        nbformat.v4.new_output("stream", name="stderr", text=f"warning: kept\n{BARS[1]}\rmore kept\n"),
        nbformat.v4.new_output("display_data", data={WIDGET_MIME: {"model_id": "a"}, "text/plain": BARS[0]}),
        nbformat.v4.new_output("stream", name="stdout", text=f"outputs -> {STAGE}\n"),
        nbformat.v4.new_output("display_data", data={"text/html": f"<td>{STAGE}/metrics.json</td>"}),
    ]
    return nb


def test_strip_progress_keeps_everything_else() -> None:
    nb = _notebook()
    assert strip_progress(nb) == 3
    outputs = nb.cells[3].outputs
    assert [o.get("text") for o in outputs[:1]] == ["warning: kept\nmore kept\n"]
    assert len(outputs) == 3 and outputs[1].text.startswith("outputs ->")
    assert strip_progress(nb) == 0


def _run_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": "derpof", "data_dir": "",
                                                        "synthetic_scenes": {"valid": 20, "train": 60, "test": 20}}))
    results = {"zero_velocity": {"VIM@900 ms (cm)": 145.357, "ADE (m)": 0.25383, "people": 40},
               "constant_velocity": {"VIM@900 ms (cm)": 204.414, "ADE (m)": 0.31783, "people": 40},
               "derpof": {"VIM@900 ms (cm)": 120.02, "VIM avg (cm)": 61.04, "ADE (m)": 0.19082, "FDE (m)": 0.3,
                          "people": 40}}
    (folder / "metrics.json").write_text(json.dumps({
        "model": "derpof", "parameters": 40906, "epochs_trained": 3, "device": "cpu", "train_time_s": 51.2,
        "splits": {"valid": results, "test": results}}))
    return folder


def test_summary_of_a_run(tmp_path: Path) -> None:
    folder = _run_folder(tmp_path)
    summary = build_summary(folder, "decoupled_3dpw", "complete", 83.4, "2026-11-26T15:13:43", tmp_path / "final")
    facts = dict(summary.facts)
    assert facts["Result"] == ("derpof on test: VIM@900 ms 120.0 cm, better than zero velocity (145.4 cm) and "
                               "constant velocity (204.4 cm)")
    assert facts["Data"] == ("generated motion in the SoMoF 3DPW layout, scenes train 60 / valid 20 / test 20 "
                             "(2 people each)")
    assert facts["Model"] == "derpof, 40,906 parameters, 3 epochs"
    assert facts["Device"] == "cpu" and facts["Wall time"] == "1 min 23 s (training 51.2 s)"
    assert facts["Started"] == "2026-11-26 15:13:43" and facts["Run folder"] == str(tmp_path / "final")
    assert list(facts)[:2] == ["Study", "Result"]
    table = summary.to_text().splitlines()[-4:]
    assert table[0].split() == ["VIM@900", "ms", "(cm)", "VIM", "avg", "(cm)", "ADE", "(m)", "FDE", "(m)", "MPJPE",
                                "(mm)"]
    assert table[1].split() == ["derpof", "120.0", "61.04", "0.191", "0.300", "-"]
    assert table[2].split() == ["zero_velocity", "145.4", "-", "0.254", "-", "-"]
    html = summary.to_html()
    assert "<td style='text-align:right;padding:0 0.8em'>0.191</td>" in html and "0.19082" not in html


def test_pretrain_summary_adds_the_compared_decoders_of_the_model(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": "3dconv", "dataset": "penn_action"}))

    def result(base: float) -> dict:
        return {"pck": {"0.05": base, "0.1": base + 10, "0.2": base + 20}, "pck_px": {"2.23": base + 5}}

    test = {"3dconv": result(30.0), "identity": result(10.0)}
    (folder / "metrics.json").write_text(json.dumps({
        "model": "3dconv", "experiment": 1, "shift_scalar": 2.0, "decode": "argmax", "test": test,
        "test_by_decode": {"argmax": test, "dark": {"3dconv": result(33.0), "identity": result(9.0)}}}))
    summary = build_summary(folder, "pretrain", "complete")
    assert list(summary.headline.rows) == ["3dconv", "identity", "3dconv, dark decoding"]
    assert summary.headline.rows["3dconv, dark decoding"] == [53.0, 43.0, 33.0, 38.0]
    assert dict(summary.facts)["Result"] == "3dconv on test: PCK@0.2 50.0 %, better than identity (30.0 %)"


def test_summary_of_a_failed_run_says_why(tmp_path: Path) -> None:
    summary = build_summary(tmp_path, "decoupled_3dpw", "failed", 4.2, error="DataFormatError: x.json: not found")
    facts = dict(summary.facts)
    assert facts["Result"].startswith("no results") and facts["Error"] == "DataFormatError: x.json: not found"
    assert "(failed)" in summary.to_html() and summary.headline is None


def test_headline_sentence_groups_baselines() -> None:
    headline = Headline("test", True, ["top-1 (%)"], {"6-stream": [80.0], "best single": [80.04], "chance": [10.0]},
                        "6-stream")
    assert headline.sentence() == ("6-stream on test: top-1 80.0 %, better than chance (10.0 %); "
                                   "equal to best single (80.0 %)")


def test_rounding_and_durations() -> None:
    assert [fmt(1290.298, "cm"), fmt(0.25383, "m"), fmt(3.578, "m"), fmt(14.141324, "%"), fmt(0.0123)] == \
        ["1,290.3 cm", "0.254 m", "3.58 m", "14.1 %", "0.0123"]
    assert [fmt(40906), fmt(None, "cm"), fmt(float("nan"))] == ["40,906", "-", "-"]
    assert [duration(12.34), duration(245), duration(3725), duration(None)] == ["12.3 s", "4 min 05 s", "1 h 02 min",
                                                                                "-"]


def test_finish_notebook_fills_the_summary_and_names_the_final_folder(tmp_path: Path) -> None:
    folder = _run_folder(tmp_path)
    path = tmp_path / "run.ipynb"
    nbformat.write(_notebook(), path)
    final = tmp_path / "20261126-151343_derpof"
    finish_notebook(path, build_summary(folder, "decoupled_3dpw", "complete", 83.4, folder=final), STAGE)
    nb = nbformat.read(path, as_version=4)
    (summary,) = nb.cells[1].outputs
    assert "Run summary" in summary.data["text/html"] and str(final) in summary.data["text/plain"]
    text = json.dumps(nb)
    assert ".partial" not in text and f"outputs -> {final}" in text
    assert nb.cells[2].source == f"output_dir = '{final}'"
    assert not any(is_progress_text(o.get("text", "")) for o in nb.cells[3].outputs)


def test_finish_notebook_adds_a_summary_cell_when_missing(tmp_path: Path) -> None:
    nb = _notebook()
    del nb.cells[1]
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    finish_notebook(path, build_summary(tmp_path, "decoupled_3dpw", "complete"))
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].metadata["tags"] == [SUMMARY_TAG] and "Run summary" in cells[1].outputs[0].data["text/html"]


def test_report_hides_the_summary_code_and_notes_widgets(tmp_path: Path) -> None:
    nb = _notebook()
    strip_progress(nb)
    nb.cells[3].outputs.append(nbformat.v4.new_output("execute_result", execution_count=3,
                                                      data={WIDGET_MIME: {"model_id": "b"}, "text/plain": "VBox()"}))
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    html = notebook_to_html(path, tmp_path / "run.html").read_text()
    assert "pending" in html and "show_placeholder()" not in html  # the summary's output, not its code
    assert "Interactive widget: it needs a running Jupyter kernel" in html


def test_kernel_widget_carries_a_static_note() -> None:
    box = KernelWidget([widgets.Label("x")], what="A 3D view you can scrub.")
    bundle = box._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "A 3D view you can scrub." in bundle["text/html"]
    assert "JupyterLab" in bundle["text/html"]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("display_data", data=dict(bundle))])])
    note_widgets(nb)
    assert WIDGET_MIME not in nb.cells[0].outputs[0].data
    assert "A 3D view you can scrub." in nb.cells[0].outputs[0].data["text/html"]


def test_tables_for_reading() -> None:
    html = styled_parameters({"total": 40906, "modules": {"encoder_g": 5376, "decoder": 35530}}).to_html()
    assert ">13.1<" in html and ">40,906<" in html and "13.142326" not in html
    assert ">6.99<" in styled_table(pd.DataFrame({"missing (%)": [6.98895]})).to_html()


@pytest.mark.parametrize("status", ["complete", "failed"])
def test_summary_links_run_files_that_exist(tmp_path: Path, status: str) -> None:
    folder = _run_folder(tmp_path)
    html = build_summary(folder, "decoupled_3dpw", status).to_html()
    assert '<a href="metrics.json">' in html and '<a href="checkpoint.pt">' not in html
