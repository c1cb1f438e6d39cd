"""JupyterLab in headless Chromium: the 3DPW notebook, parameterized with the ``ci`` set (not executed
beforehand), run with Run > Run All Cells; its ipywidgets scrubber (``pose3d.pose_scrubber``) is moved with
the keyboard and the live 3D view must follow. A screenshot of the page is saved to
``outputs/screenshots/jupyterlab_decoupled_3dpw.png`` (``$WORKBENCH_OUTPUTS`` when set).

The server runs on 127.0.0.1 on a random port with a token, with its settings, workspaces, runtime files,
IPython profile and outputs in a temporary folder; the browser may reach nothing but that server, so the
widgets (ipywidgets, anywidget, plotly's FigureWidget) must come from the installed packages. The server and
its kernels are shut down at the end, also when the test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import papermill
import psutil
import pytest
import yaml
from browser_support import PageLog, chromium, require_browser
from notebook_checks import error_outputs

from workbench.settings import notebooks_dir, outputs_dir, parameters_dir

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

STUDY = "decoupled_3dpw"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
OPEN_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 600_000
KERNEL_TIMEOUT_MS = 60_000
SETTINGS = {  # JupyterLab user settings: every cell stays in the page; no news or update checks
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                          "checkForUpdates": False},
}
RUN_FINISHED = """() => {  // every code cell has run, or one has failed (Run All then stops): its traceback
    const prompts = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'));
    const failed = Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type*="stderr"]'))
        .find(e => e.textContent.includes('Traceback'));
    if (failed) return failed.textContent;
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)) && 'ok';
}"""
TRACE_DATA = "gd => JSON.stringify(gd.data.map(t => [t.x, t.y, t.z]), (k, v) => k.startsWith('_') ? undefined : v)"
MOVED = f"([gd, label, data, text]) => label.textContent !== text && ({TRACE_DATA})(gd) !== data"


@dataclass
class Lab:
    """A running JupyterLab server: its base URL (ending in ``/``), token and root folder."""

    url: str
    token: str
    root: Path


def _prepare_notebook(folder: Path) -> Path:
    """The study notebook with the ``ci`` parameters injected (papermill, not executed) in ``folder``."""
    params = yaml.safe_load((parameters_dir() / STUDY / "ci.yaml").read_text())
    path = folder / f"{STUDY}.ipynb"
    papermill.execute_notebook(str(notebooks_dir() / f"{STUDY}.ipynb"), str(path), parameters=params,
                               prepare_only=True, progress_bar=False)
    return path


def _server_env(base: Path) -> dict[str, str]:
    """Environment isolating the server, its kernels and their outputs under ``base``."""
    settings = base / "settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    return {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "WORKBENCH_OUTPUTS": str(base / "outputs"),
    }


def _wait_for_server(process: subprocess.Popen, runtime: Path, token: str, log: Path) -> str:
    """The server's base URL once ``/api/status`` answers; fails when it exits or does not answer in time."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        for info in runtime.glob("jpserver-*.json"):
            url = json.loads(info.read_text())["url"]
            try:
                with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5):
                    return url
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}")


def _stop_server(process: subprocess.Popen, url: str | None, token: str) -> None:
    """Shut the server and its kernels down through the REST API (SIGTERM when that is not possible), then
    kill whatever of them is left."""
    if process.poll() is not None:
        return
    children = psutil.Process(process.pid).children(recursive=True)
    asked = False
    if url is not None:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{url}api/shutdown?token={token}", method="POST"),
                                   timeout=10).close()
            asked = True
        except OSError:  # urllib.error.URLError included
            pass
    if not asked:
        process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=STOP_TIMEOUT_S)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving a folder that holds the ci-parameterized study notebook."""
    require_browser()
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    root.mkdir()
    _prepare_notebook(root)
    token = secrets.token_hex(16)
    log = base / "server.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
               "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    url = None
    with log.open("w") as out:
        process = subprocess.Popen(command, env=_server_env(base), cwd=base, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = _wait_for_server(process, base / "runtime", token, log)
        yield Lab(url=url, token=token, root=root)
    finally:
        _stop_server(process, url, token)


def _run_all_cells(page: Page) -> None:
    """Run > Run All Cells from the menu bar, then wait until every code cell has an execution count;
    fails with the traceback when a cell raises."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    outcome = page.wait_for_function(RUN_FINISHED, timeout=RUN_TIMEOUT_MS).json_value()
    assert outcome == "ok", f"a cell failed in JupyterLab:\n{outcome[-3000:]}"


def _save(page: Page) -> None:
    """File > Save Notebook, then wait until the tab is no longer marked as modified."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator('.lm-Menu-item[data-command="docmanager:save"]').click()
    page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached")


def _scrubber(page: Page) -> tuple[Locator, Locator, Locator]:
    """The scrubber's slider handle, time label and plotly view, in the output of the cell calling it."""
    cell = page.locator(".jp-CodeCell", has_text="pose3d.pose_scrubber(")
    output = cell.locator(".jp-OutputArea")
    handle = output.locator(".widget-slider .noUi-handle")
    view = output.locator(".js-plotly-plot")
    label = output.locator(".widget-hbox > div.widget-label")
    handle.wait_for()
    view.locator(".gl-container canvas").first.wait_for()
    return handle, label, view


def _assert_one_complete_run(lab: Lab) -> None:
    """Run All made one complete run folder, as papermill and ``workbench run`` do, whose summary is in the
    saved notebook and whose report ``workbench report`` makes from it."""
    from workbench.report import report_run

    study_outputs = lab.root.parent / "outputs" / STUDY
    runs = [p for p in study_outputs.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1 and not list(study_outputs.glob(".*")), sorted(study_outputs.iterdir())
    status = json.loads((runs[0] / "status.json").read_text())
    assert (status["status"], status["executor"]) == ("complete", "jupyter")
    assert Path(status["notebook"]).resolve() == (lab.root / f"{STUDY}.ipynb").resolve()
    saved = json.loads((lab.root / f"{STUDY}.ipynb").read_text())
    summary = next(c for c in saved["cells"] if "summary" in c["metadata"].get("tags", []))
    assert "(complete)" in "".join(summary["outputs"][0]["data"]["text/plain"])
    assert "Run summary" in report_run(runs[0]).read_text()


def test_notebook_runs_in_jupyterlab_and_the_scrubber_moves_the_3d_view(lab: Lab) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log = PageLog()
        log.watch(page)
        page.goto(f"{lab.url}lab/tree/{STUDY}.ipynb?token={lab.token}")
        page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for(timeout=OPEN_TIMEOUT_MS)
        _run_all_cells(page)
        _save(page)
        handle, label, view = _scrubber(page)
        handle.scroll_into_view_if_needed()
        canvas = view.locator(".gl-container canvas").first
        before = [view.evaluate(TRACE_DATA), label.text_content(), canvas.screenshot()]
        handle.focus()
        for _ in range(5):
            handle.press("ArrowRight")
        assert float(handle.get_attribute("aria-valuenow")) == 5
        page.wait_for_function(MOVED, arg=[view.element_handle(), label.element_handle(), *before[:2]],
                               timeout=KERNEL_TIMEOUT_MS)
        assert canvas.screenshot() != before[2], "the 3D view was not redrawn"
        shots = outputs_dir() / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=shots / f"jupyterlab_{STUDY}.png")
        page.close()
    assert not error_outputs(lab.root / f"{STUDY}.ipynb")
    _assert_one_complete_run(lab)
    assert not log.errors, log.errors
    assert not log.blocked, f"requests to the network: {log.blocked}"
