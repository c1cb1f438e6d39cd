"""The cross-study leaderboard on fabricated run folders: which runs are listed, their values and order,
the skipped folders, CSV / HTML / JSON exports, the command and the notebook."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from notebook_checks import error_outputs

from workbench import leaderboard
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.viz import leaderboard as figures


def _errors(vim: float, ade: float) -> dict:
    return {"VIM@900 ms (cm)": vim, "ADE (m)": ade, "FDE (m)": 2 * ade, "MPJPE (mm)": 1000 * ade, "people": 40}


def _run(root: Path, study: str, name: str, status: dict | None, metrics: dict | str | None,
         config: dict | None = None, history: str | None = None, report: bool = True) -> Path:
    folder = root / study / name
    folder.mkdir(parents=True)
    if status is not None:
        (folder / "status.json").write_text(json.dumps({"study": study, "time": "2026-01-09T10:00:00", **status}))
    if metrics is not None:
        (folder / "metrics.json").write_text(metrics if isinstance(metrics, str) else json.dumps(metrics))
    (folder / "config.yaml").write_text(yaml.safe_dump({"study": study, "seed": 0, "lr": 0.001, **(config or {})}))
    if history is not None:
        (folder / "history.csv").write_text(history)
    if report:
        (folder / f"{study}.html").write_text("<html>report</html>")
    return folder


def _3dpw(model: str, splits: dict, epochs: int = 3) -> dict:
    return {"study": "decoupled_3dpw", "model": model, "parameters": 40906, "epochs_trained": epochs, "splits": splits}


SKELETON_ROWS = [
    {"fusion": "single", "model": "j (joint)", "streams": 1, "top-1 (%)": 80.0},
    {"fusion": "single", "model": "jm (joint motion)", "streams": 1, "top-1 (%)": 85.0},
    {"fusion": "fixed", "model": "2-stream (j+jm)", "streams": 2, "top-1 (%)": 88.5},
    {"fusion": "val-searched", "model": "2-stream (j+jm)", "streams": 2, "top-1 (%)": 87.0},
]
COMPLETE = {"status": "complete"}
MACHINE = {"device": "cpu", "name": "AMD EPYC (family 26, model 2)", "instruction_sets": ["AVX2", "AVX-512",
           "AVX512-BF16"], "threads": 2, "precision": "bf16", "torch": "2.13.0+cpu"}
SKIPPED = {
    "20260104-100000_derpof": "status 'running'",
    ".20260105-100000_derpof.k2j4.partial": "staging folder, status 'running'",
    "20260106-100000_derpof_failed": "status 'failed' (DataFormatError: x.json: file not found)",
    "20260107-100000_derpof": "metrics.json: malformed JSON",
    "20260108-100000_derpof": "no results of model 'derpof'",
    "20260109-100000_derpof": "status.json: file not found",
    "20260102-110000_stgcn": "status 'interrupted'",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three complete 3DPW runs and one skeleton run, plus every kind of folder that must be skipped."""
    root = tmp_path_factory.mktemp("lb") / "outputs"
    study = "decoupled_3dpw"
    _run(root, study, "20260101-100000_derpof", {**COMPLETE, "started": "2026-01-01T09:59:00", "wall_time_s": 42.0},
         _3dpw("derpof", {"test": {"derpof": _errors(120.0, 0.2), "zero_velocity": _errors(97.2, 0.17)}}),
         {"model": "derpof", "batch_size": 60, "hidden": 64, "data_dir": ""},
         history="epoch,epoch_time_s\n1,9.0\n")
    _run(root, study, "20260102-100000_zero_velocity", COMPLETE,
         {**_3dpw("zero_velocity", {"test": {"zero_velocity": _errors(97.2, 0.17)}}, epochs=0), "device": "cpu",
          "machine": MACHINE},
         {"model": "zero_velocity", "data_dir": "/data/somof/3dpw"}, history="epoch,epoch_time_s\n1,1.5\n2,2.5\n")
    _run(root, study, "20260103-100000_derpof", COMPLETE, _3dpw("derpof", {"valid": {"derpof": _errors(150.0, 0.3)}}),
         {"model": "derpof"}, report=False)
    _run(root, study, "20260104-100000_derpof", {"status": "running"}, None)
    _run(root, study, ".20260105-100000_derpof.k2j4.partial", {"status": "running"}, None)
    _run(root, study, "20260106-100000_derpof_failed",
         {"status": "failed", "error": "DataFormatError: x.json: file not found\nmore"}, None)
    _run(root, study, "20260107-100000_derpof", COMPLETE, "{not json")
    _run(root, study, "20260108-100000_derpof", COMPLETE, _3dpw("derpof", {"test": {"zero_velocity": _errors(1, 1)}}))
    _run(root, study, "20260109-100000_derpof", None, _3dpw("derpof", {"test": {"derpof": _errors(1, 1)}}))
    skeleton = {"study": "skeleton_ensembles", "model": "stgcn", "dataset": "synthetic", "rows": SKELETON_ROWS}
    _run(root, "skeleton_ensembles", "20260101-110000_stgcn", COMPLETE, skeleton,
         {"model": "stgcn", "streams": ["j", "jm"], "epochs": 6, "batch_size": 32, "optimizer": "sgd"},
         history="stream,epoch,epoch_time_s\nj,1,3.0\njm,1,4.0\n")
    _run(root, "skeleton_ensembles", "20260102-110000_stgcn", {"status": "interrupted"}, None)
    (root / "data" / "synthetic_3dpw").mkdir(parents=True)  # generated data: not a study, not reported
    return root


def test_tables_hold_exactly_the_complete_runs_best_first(root: Path) -> None:
    board = leaderboard.scan(root)
    assert list(board.tables) == ["decoupled_3dpw", "skeleton_ensembles"]
    table = board.tables["decoupled_3dpw"]
    assert list(table["run"]) == ["20260102-100000_zero_velocity", "20260101-100000_derpof", "20260103-100000_derpof"]
    assert list(table["VIM@900 ms (cm)"]) == [97.2, 120.0, 150.0]
    assert list(table["ADE (m)"]) == [0.17, 0.2, 0.3]
    assert table["FDE (m)"].tolist() == pytest.approx([0.34, 0.4, 0.6])
    assert list(table["split"]) == ["test", "test", "valid"]
    assert list(table["dataset"]) == ["somof/3dpw", "generated", "generated"]
    assert list(table["epochs"]) == [0, 3, 3]
    wall = table["wall time (s)"].tolist()
    assert wall[:2] == [4.0, 42.0] and math.isnan(wall[2])  # history sum, status.json, nothing
    assert list(table["date"]) == ["2026-01-02 10:00:00", "2026-01-01 09:59:00", "2026-01-03 10:00:00"]
    assert list(table["report"]) == ["decoupled_3dpw/20260102-100000_zero_velocity/decoupled_3dpw.html",
                                     "decoupled_3dpw/20260101-100000_derpof/decoupled_3dpw.html", ""]
    assert list(table.columns[:2]) == ["run", "model"]
    assert list(table.columns[-4:]) == ["wall time (s)", "device", "date", "report"]
    # where each ran: the machine record, else the plain device of older runs, else nothing
    assert list(table["device"]) == ["cpu: AMD EPYC (family 26, model 2), AVX2/AVX-512/AVX512-BF16; 2 threads; "
                                     "bf16; torch 2.13.0+cpu", "", ""]


def test_skeleton_row_has_every_ensemble_and_the_best_single_stream(root: Path) -> None:
    (row,) = leaderboard.scan(root, "skeleton_ensembles").tables["skeleton_ensembles"].to_dict(orient="records")
    assert row["streams"] == "j,jm" and row["epochs"] == 6 and row["optimizer"] == "sgd"
    assert row["best top-1 (%)"] == 88.5
    assert row["best single stream"] == "jm" and row["best single top-1 (%)"] == 85.0
    assert row["2-stream (j+jm) fixed top-1 (%)"] == 88.5 and row["2-stream (j+jm) val-searched top-1 (%)"] == 87.0
    assert row["wall time (s)"] == 7.0


def test_skipped_folders_are_counted_with_their_reasons(root: Path) -> None:
    board = leaderboard.scan(root)
    reasons = {s.path.name: s.reason for s in board.skipped}
    assert set(reasons) == set(SKIPPED)
    for name, expected in SKIPPED.items():
        assert expected in reasons[name], (name, reasons[name])
    assert "skipped: 7 folders" in board.to_text()


def test_pretrain_and_hand_rows_read_the_study_layouts(tmp_path: Path) -> None:
    pck = {"pck": {"0.05": 3.4, "0.1": 16.4, "0.2": 48.5}, "n_keypoints": 229}
    _run(tmp_path, "pretrain", "20260101-000000_identity", COMPLETE,
         {"model": "identity", "experiment": 2, "shift_scalar": 1.0, "test": {"identity": pck}},
         {"model": "identity", "dataset": "penn_action", "max_videos": 12})
    hands = {"MPJPE-QUB (u)": 1.9, "MPJPE (u)": 0.31, "ADE (u)": 0.036, "FDE (u)": 0.033, "windows": 192}
    _run(tmp_path, "hand_forecasting", "20260101-000000_bilstm", COMPLETE,
         {"arch": "bilstm", "inputs": "hands + gaze", "masked": True, "splits": {"test": {"bilstm": hands}}},
         {"arch": "bilstm", "obs_len": 60, "pred_len": 60})
    tables = leaderboard.scan(tmp_path).tables
    (pretrain,) = tables["pretrain"].to_dict(orient="records")
    assert (pretrain["model"], pretrain["experiment"]) == ("identity", 2)
    assert pretrain["dataset"] == "penn_action (12 videos)"
    assert (pretrain["PCK@0.05 (%)"], pretrain["PCK@0.1 (%)"], pretrain["PCK@0.2 (%)"]) == (3.4, 16.4, 48.5)
    (hand,) = tables["hand_forecasting"].to_dict(orient="records")
    assert (hand["model"], hand["inputs"], hand["obs len (frames)"]) == ("bilstm", "hands + gaze", 60)
    assert (hand["MPJPE-QUB (u)"], hand["MPJPE (u)"], hand["ADE (u)"], hand["FDE (u)"]) == (1.9, 0.31, 0.036, 0.033)


def test_every_runnable_study_has_leaderboard_columns() -> None:
    from workbench.runner import STUDIES

    assert set(leaderboard.STUDIES) == set(STUDIES)


def test_bad_arguments_raise_config_errors(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown study 'nope'"):
        leaderboard.scan(root, "nope")
    with pytest.raises(ConfigError, match="outputs folder not found"):
        leaderboard.scan(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no column 'speed'"):
        leaderboard.sort_table(leaderboard.scan(root).tables["decoupled_3dpw"], "speed", True)


def test_sorted_by_a_column_resorts_the_tables_that_have_it(root: Path) -> None:
    board = leaderboard.scan(root).sorted_by("wall time (s)", descending=True)
    assert list(board.tables["decoupled_3dpw"]["wall time (s)"])[:2] == [42.0, 4.0]
    assert len(board.tables["skeleton_ensembles"]) == 1
    mixed = pd.DataFrame({"x": [2, "b", None, 1], "date": ["1", "2", "3", "4"]})
    assert leaderboard.sort_table(mixed, "x", descending=False)["x"].tolist()[:2] == [1, 2]


def test_csv_export_reads_back_as_the_tables(root: Path, tmp_path: Path) -> None:
    board = leaderboard.scan(root)
    paths = board.to_csv(tmp_path / "csv")
    assert sorted(p.name for p in paths) == ["decoupled_3dpw.csv", "skeleton_ensembles.csv"]
    for study, table in board.tables.items():
        back = pd.read_csv(tmp_path / "csv" / f"{study}.csv")
        assert list(back.columns) == list(table.columns)
        pd.testing.assert_frame_equal(back, table.replace({"": math.nan}), check_dtype=False)


class _Tables(HTMLParser):
    """Rows of cell texts and link targets of every ``<table>`` of a page, and script sources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self.script_sources: list[str] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "script" and "src" in attrs:
            self.script_sources.append(attrs["src"])

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell or []))
            self.cell = None


def test_html_export_is_one_self_contained_page_with_sortable_tables(root: Path, tmp_path: Path) -> None:
    board = leaderboard.scan(root)
    page = board.to_html(tmp_path / "site" / "leaderboard.html")
    text = page.read_text()
    parsed = _Tables()
    parsed.feed(text)
    assert not parsed.script_sources and "http" not in text.replace("http-equiv", "")
    assert "window.wbSortTable" in text and text.count('onclick="wbSortTable(this)"') == sum(
        len(t.columns) for t in board.tables.values())
    vim_table, skeleton_table = parsed.tables
    header = vim_table[0]
    assert header == list(board.tables["decoupled_3dpw"].columns)
    assert [r[0] for r in vim_table[1:]] == list(board.tables["decoupled_3dpw"]["run"])
    assert [r[header.index("VIM@900 ms (cm)")] for r in vim_table[1:]] == ["97.2", "120", "150"]
    assert [r[header.index("report")] for r in vim_table[1:]] == ["report", "report", ""]
    assert len(skeleton_table) == 2
    assert parsed.links and all(not Path(h).is_absolute() and (page.parent / h).is_file() for h in parsed.links)
    assert "Skipped folders (7)" in text and "status &#x27;interrupted&#x27;" in text


def test_comparison_figures_colour_runs_by_model(root: Path) -> None:
    table = leaderboard.scan(root).tables["decoupled_3dpw"]
    bars = figures.metric_bars(table, "VIM@900 ms (cm)")
    assert [t.name for t in bars.data] == ["zero_velocity", "derpof"]
    assert list(bars.data[1].y) == [120.0, 150.0] and bars.layout.yaxis.title.text == "VIM@900 ms (cm)"
    scatter = figures.metric_vs_wall_time(table, "VIM@900 ms (cm)")
    assert [list(t.x) for t in scatter.data] == [[4.0], [42.0]]  # the run without a wall time is left out
    with pytest.raises(KeyError, match="no column"):
        figures.metric_bars(table, "speed")


def test_command_prints_json_and_writes_exports(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["leaderboard", "--outputs", str(root), "--json", "--csv", str(tmp_path / "csv"),
                 "--html", str(tmp_path / "lb.html")])
    out, err = capsys.readouterr()
    assert code == 0
    payload = json.loads(out)
    assert [r["run"] for r in payload["studies"]["decoupled_3dpw"]] == [
        "20260102-100000_zero_velocity", "20260101-100000_derpof", "20260103-100000_derpof"]
    assert payload["studies"]["decoupled_3dpw"][2]["wall time (s)"] is None
    assert len(payload["skipped"]) == 7
    assert (tmp_path / "csv" / "skeleton_ensembles.csv").is_file() and (tmp_path / "lb.html").is_file()
    assert "wrote" in err
    assert main(["leaderboard", "--outputs", str(root), "--study", "skeleton_ensembles"]) == 0
    out = capsys.readouterr().out
    assert "skeleton_ensembles (1 runs)" in out and "decoupled_3dpw" not in out.split("skipped")[0]
    assert main(["leaderboard", "--outputs", str(root), "--study", "nope"]) == 2
    assert "unknown study" in capsys.readouterr().err


def test_notebook_runs_on_fabricated_outputs(root: Path, tmp_path: Path) -> None:
    import papermill

    from workbench.settings import notebooks_dir

    executed = tmp_path / "leaderboard.ipynb"
    papermill.execute_notebook(str(notebooks_dir() / "leaderboard.ipynb"), str(executed), kernel_name="python3",
                               parameters={"outputs": str(root), "sort_by": "date", "descending": True,
                                           "output_dir": str(tmp_path / "export")}, progress_bar=False)
    assert not error_outputs(executed)
    text = executed.read_text()
    assert "20260103-100000_derpof" in text and "7 folders skipped" in text
    assert "application/vnd.plotly.v1+json" in text
    exported = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert exported == ["decoupled_3dpw.csv", "leaderboard.html", "skeleton_ensembles.csv"]
    newest_first = pd.read_csv(tmp_path / "export" / "decoupled_3dpw.csv")["run"].tolist()
    assert newest_first == ["20260103-100000_derpof", "20260102-100000_zero_velocity", "20260101-100000_derpof"]
