"""MLflow tracking (the ``mlflow`` extra): a ``ci`` run logged with ``--mlflow`` to a real tracking server
(``mlflow server`` on 127.0.0.1, SQLite backend, started here) and read back through the server's REST API:
the run, its parameters, tags, per-epoch metric history, final metrics and artifacts; a skeleton run's streams
as nested runs; the embedded SQLite store for a plain path; the error without the extra."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.tracking import INSTALL_HINT, flatten, metric_key, tracking_uri

SERVER_START_S = 300
"""How long the server may take to create its database and listen (it is slow on a loaded 2-core machine)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an ``mlflow server`` on 127.0.0.1 with a SQLite backend and proxied artifacts in a
    temporary folder; stopped (its whole process group) afterwards."""
    pytest.importorskip("mlflow", reason='needs the mlflow extra: pip install -e ".[mlflow]"')
    root = tmp_path_factory.mktemp("mlflow")
    url = f"http://127.0.0.1:{_free_port()}"
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
         "--port", url.rsplit(":", 1)[1], "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def rest(url: str, endpoint: str, body: dict | None = None, **query: str) -> dict:
    """A call of the MLflow REST API: GET with ``query``, or POST of ``body`` as JSON."""
    address = f"{url}/api/2.0/mlflow/{endpoint}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(address, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _runs(url: str, study: str, filter_string: str = "") -> list[dict]:
    experiment = rest(url, "experiments/get-by-name", experiment_name=f"workbench/{study}")["experiment"]
    return rest(url, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "filter": filter_string,
                                     "max_results": 100}).get("runs", [])


def _by_key(entries: list[dict]) -> dict[str, str]:
    return {e["key"]: e["value"] for e in entries}


def test_ci_run_round_trip_through_the_server(server: str, outputs: Path, capsys: pytest.CaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", "decoupled_3dpw", "--preset", "ci", "--quiet", "--mlflow", server]) == 0
    (folder,) = (outputs / "decoupled_3dpw").iterdir()
    (run,) = _runs(server, "decoupled_3dpw")
    run_id = run["info"]["run_id"]
    assert f"logged to MLflow at {server}, run {run_id}" in capsys.readouterr().out
    assert run["info"]["run_name"] == folder.name and run["info"]["status"] == "FINISHED"
    tags = _by_key(run["data"]["tags"])
    assert (tags["workbench.study"], tags["workbench.model"], tags["workbench.run_folder"]) == \
        ("decoupled_3dpw", "derpof", str(folder))
    params = _by_key(run["data"]["params"])
    assert (params["epochs"], params["hidden"], params["model"], params["synthetic_scenes.train"]) == \
        ("3", "32", "derpof", "60")
    history = list(csv.DictReader((folder / "history.csv").open()))
    points = rest(server, "metrics/get-history", run_id=run_id, metric_key="val_loss")["metrics"]
    assert [p["step"] for p in points] == [1, 2, 3]
    assert [p["value"] for p in points] == pytest.approx([float(r["val_loss"]) for r in history])
    final = _by_key(run["data"]["metrics"])
    metrics = json.loads((folder / "metrics.json").read_text())
    vim = metrics["splits"]["test"]["derpof"]["VIM@900 ms (cm)"]
    assert final["test/VIM at 900 ms cm"] == pytest.approx(vim)
    assert final["splits/test/zero_velocity/VIM at 900 ms cm"] == pytest.approx(
        metrics["splits"]["test"]["zero_velocity"]["VIM@900 ms (cm)"])
    assert final["wall_time_s"] == pytest.approx(json.loads((folder / "status.json").read_text())["wall_time_s"])
    files = {f["path"] for f in rest(server, "artifacts/list", run_id=run_id)["files"]}
    assert files == {"decoupled_3dpw.html", "metrics.json", "history.csv", "config.yaml"}


def test_skeleton_streams_are_nested_runs(server: str, ci_run: Callable[[str], Path],
                                          capsys: pytest.CaptureFixture) -> None:
    folder = ci_run("skeleton_ensembles")
    assert main(["track", str(folder), "--mlflow", server]) == 0
    (parent,) = _runs(server, "skeleton_ensembles", f"attributes.run_name = '{folder.name}'")
    parent_id = parent["info"]["run_id"]
    children = _runs(server, "skeleton_ensembles", f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(c["info"]["run_name"] for c in children) == sorted(  # the ci set has replicas j#2 and b#2
        f"stream {s}" for s in ["j", "b", "k", "jm", "bm", "km", "j#2", "b#2"])
    rows = {r["model"].split(" ")[0]: r for r in json.loads((folder / "metrics.json").read_text())["rows"]
            if r["fusion"] == "single"}
    for child in children:
        stream = _by_key(child["data"]["tags"])["workbench.stream"]
        assert _by_key(child["data"]["metrics"])["top-1 pct"] == pytest.approx(rows[stream]["top-1 (%)"])
        points = rest(server, "metrics/get-history", run_id=child["info"]["run_id"], metric_key="val_top1")["metrics"]
        assert [p["step"] for p in points] == [1]


def test_a_plain_path_is_an_embedded_sqlite_store(tmp_path: Path, ci_run: Callable[[str], Path]) -> None:
    pytest.importorskip("mlflow", reason='needs the mlflow extra: pip install -e ".[mlflow]"')
    from mlflow.tracking import MlflowClient

    folder = ci_run("decoupled_3dpw")
    store = tmp_path / "tracking"
    assert main(["track", str(folder), "--mlflow", str(store)]) == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("workbench/decoupled_3dpw")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["workbench.run_folder"] == str(folder)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2, 3]
    assert (store / "mlartifacts" / run.info.run_id / "artifacts" / "metrics.json").is_file()


def test_without_the_extra_run_says_how_to_install_it(outputs: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    assert main(["run", "decoupled_3dpw", "--preset", "ci", "--mlflow", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.strip() == f"workbench: error: {INSTALL_HINT}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(outputs / "store"))
    assert main(["track", str(outputs)]) == 2
    assert INSTALL_HINT in capsys.readouterr().err
    assert not outputs.exists()  # nothing ran


def test_track_needs_a_store(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["track", "outputs/x"]) == 2
    assert "pass --mlflow URI" in capsys.readouterr().err


def test_tracking_uris_and_metric_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(None) is None
    assert tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert tracking_uri("sqlite:///x.db") == "sqlite:///x.db"
    assert tracking_uri(str(tmp_path / "runs")) == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert tracking_uri(str(tmp_path / "t.db")) == f"sqlite:///{tmp_path / 't.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")
    assert tracking_uri(None) == "http://127.0.0.1:5001"
    assert [metric_key(k) for k in ("VIM@900 ms (cm)", "PCK@0.2 (%)", "top-1 (%)", "ensembles.2-stream (j+b)")] == \
        ["VIM at 900 ms cm", "PCK at 0.2 pct", "top-1 pct", "ensembles.2-stream j_b"]
    nested = {"training": {"sources": {"/data/cmu": {"used": 3}}}, "splits": {"test": {"ADE (m)": 0.2}}}
    assert [metric_key(k) for k, _ in flatten(nested)] == ["training/sources/_data_cmu/used", "splits/test/ADE m"]
