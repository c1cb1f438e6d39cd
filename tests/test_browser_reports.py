"""Each study's HTML report (``workbench run <study> --preset ci``) opened in headless Chromium.

Per report: no console errors, uncaught exceptions or network requests; every plotly figure plotted and
drawn (SVG marks, or a non-blank WebGL canvas for 3D scenes); in every figure with a slider, a click on the
slider rail moves it to a later step, the figure then holds that step's frame and the drawing changes; in a
figure with one slider per view (the 3D scenes) the dropdown switches to the second view and its slider.
Each report opens with its run summary, above the parameters and the first figure, naming the run folder; its
first screen is saved as ``outputs/screenshots/<study>_top.png`` and checked to show the summary box drawn with
text; the page shows no progress-bar text, no staging folder and no empty output. A full-page screenshot per
report is saved to ``outputs/screenshots/<study>.png`` (``$WORKBENCH_OUTPUTS`` when set).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_support import PageLog, chromium, require_browser
from PIL import Image

from workbench.report import is_progress_text
from workbench.settings import outputs_dir, shared_data_dir
from workbench.studies import declared

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

STUDIES = tuple(declared())
NEEDS_SHARED_DATA = {"pretrain"}
LOAD_TIMEOUT_MS = 60_000

PLOTTED = """() => {
    const figures = Array.from(document.querySelectorAll('.plotly-graph-div'));
    return figures.length > 0 && figures.every(gd => gd._fullLayout
        && (!(gd.layout.sliders || []).length || (gd._transitionData._frames || []).length > 0));
}"""
UNPLOTTED = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
    .filter(gd => !gd._fullLayout).map(gd => gd.id)"""
DRAWN = """gd => {
    const visible = gd._fullData.filter(t => t.visible === true);
    const marks = Array.from(gd.querySelectorAll('.cartesianlayer .mlayer path, .cartesianlayer .mlayer image'))
        .map(e => e.getAttribute('d') || e.getAttribute('href') || '').filter(v => v && v !== 'M0,0Z');
    const canvas = gd.querySelector('.gl-container canvas');
    return {
        svg: gd.querySelectorAll('.main-svg').length,
        cartesian: visible.filter(t => t.type !== 'scatter3d').length,
        groups: gd.querySelectorAll('.cartesianlayer .mlayer > g').length,
        scenes: visible.filter(t => t.type === 'scatter3d').length,
        canvas: canvas ? canvas.width * canvas.height : 0,
        marks: marks.join('|'),
    };
}"""
SHOWN_FRAME = """gd => {
    const PUBLIC = (key, value) => key.startsWith('_') ? undefined : value;  // drop decoded copies
    const slider = gd.layout.sliders.find(s => s.visible !== false);
    const name = slider.steps[slider.active].args[0][0];
    const frame = gd._transitionData._frameHash[name];
    const ids = frame.traces || frame.data.map((_, k) => k);
    const same = (a, b) => JSON.stringify(a, PUBLIC) === JSON.stringify(b, PUBLIC);
    const shown = frame.data.every((t, k) => ['x', 'y', 'z'].every(c => t[c] === undefined
        || same(t[c], gd.data[ids[k]][c])));
    return {active: slider.active, steps: slider.steps.length, name: name, shown: shown};
}"""
EMPTY_OUTPUTS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .filter(e => !e.innerText.trim() && !e.querySelector('svg, canvas, img, table, .plotly-graph-div')).length"""
SUMMARY_BACKGROUND = (247, 249, 252)
"""The summary box's background colour (#f7f9fc, :data:`workbench.summary.BOX_STYLE`)."""
TRACE_DATA = "gd => JSON.stringify(gd.data.map(t => [t.x, t.y, t.z]), (k, v) => k.startsWith('_') ? undefined : v)"
ARM_ANIMATED = "gd => { window.animated = false; gd.once('plotly_animated', () => { window.animated = true; }); }"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    with chromium() as launched:
        yield launched


def report_of(ci_run: Callable[[str], Path], study: str) -> Path:
    """``study``'s HTML report from its (session-wide) ci run; skips when the run needs absent shared data."""
    if study in NEEDS_SHARED_DATA and not shared_data_dir().is_dir():
        pytest.skip(f"shared data not found at {shared_data_dir()}")
    return ci_run(study) / f"{study}.html"


def open_report(browser: Browser, report: Path) -> tuple[Page, PageLog]:
    """A page showing ``report`` with every figure plotted, and its log."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog()
    log.watch(page)
    page.goto(report.as_uri(), wait_until="load")
    try:
        page.wait_for_function(PLOTTED, timeout=LOAD_TIMEOUT_MS)
    except Exception as error:  # playwright's TimeoutError: name the figures that never plotted
        pytest.fail(f"{report.name}: figures {page.evaluate(UNPLOTTED)} not plotted ({error}); log {log.errors}")
    return page, log


def gl_pixels(figure: Locator) -> bytes:
    """A PNG screenshot of the figure's WebGL scene."""
    return figure.locator(".gl-container canvas").first.screenshot()


def assert_drawn(figure: Locator, name: str) -> None:
    """The figure has its SVG layers and draws each visible trace: SVG marks for 2D traces, a drawn (not
    uniform) WebGL canvas for 3D scenes."""
    drawn = figure.evaluate(DRAWN)
    assert drawn["svg"] >= 1, f"{name}: no .main-svg"
    if drawn["cartesian"]:
        assert drawn["groups"] >= drawn["cartesian"], f"{name}: {drawn['groups']} of {drawn['cartesian']} drawn"
        assert drawn["marks"], f"{name}: 2D traces draw no paths or images"
    if drawn["scenes"]:
        assert drawn["canvas"] > 0, f"{name}: 3D traces without a WebGL canvas"
        colours = Image.open(io.BytesIO(gl_pixels(figure))).getcolors(1 << 20)
        assert colours is None or len(colours) > 16, f"{name}: the 3D scene is blank"


def scrub(page: Page, figure: Locator, name: str) -> None:
    """Click 3/4 along the visible slider's rail; assert the slider moved, the figure holds the chosen
    step's frame and the drawing changed."""
    rail = figure.locator(".slider-group .slider-rail-rect")
    assert rail.count() == 1, f"{name}: {rail.count()} sliders drawn, expected the visible one"
    before_data, before_drawn = figure.evaluate(TRACE_DATA), figure.evaluate(DRAWN)["marks"]
    before_gl = gl_pixels(figure) if figure.locator(".gl-container canvas").count() else b""
    figure.evaluate(ARM_ANIMATED)
    box = rail.bounding_box()
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.animated")
    frame = figure.evaluate(SHOWN_FRAME)
    assert frame["active"] >= frame["steps"] // 2, f"{name}: slider at step {frame['active']} of {frame['steps']}"
    assert frame["shown"], f"{name}: the figure does not hold frame {frame['name']} of the slider step"
    assert figure.evaluate(TRACE_DATA) != before_data, f"{name}: trace data unchanged by the slider"
    if before_gl:
        assert gl_pixels(figure) != before_gl, f"{name}: the 3D scene was not redrawn"
    else:
        assert figure.evaluate(DRAWN)["marks"] != before_drawn, f"{name}: the SVG drawing did not change"


def pick_second_view(page: Page, figure: Locator, name: str) -> None:
    """In a figure with one slider per view (the 3D pose scenes), choose the second entry of its dropdown
    menu; assert the title names it and that the second slider is shown instead of the first."""
    labels = figure.evaluate("gd => gd.layout.updatemenus.at(-1).buttons.map(b => b.label)")
    before = figure.evaluate(TRACE_DATA)
    figure.locator(".updatemenu-header").last.click()
    figure.locator(".updatemenu-dropdown-button", has_text=labels[1]).click()
    page.wait_for_function("gd => gd.layout.sliders[1].visible === true", arg=figure.element_handle())
    assert figure.evaluate("gd => gd.layout.sliders[0].visible") is False, f"{name}: first slider still shown"
    assert figure.evaluate("gd => gd.layout.title.text").endswith(labels[1]), f"{name}: title not {labels[1]}"
    assert figure.evaluate(TRACE_DATA) != before, f"{name}: choosing {labels[1]} did not change the traces"


@pytest.mark.parametrize("study", STUDIES)
def test_report_renders_and_its_sliders_scrub(study: str, browser: Browser, ci_run: Callable[[str], Path]) -> None:
    page, log = open_report(browser, report_of(ci_run, study))
    figures = page.locator(".plotly-graph-div")
    animated = 0
    for i in range(figures.count()):
        figure, name = figures.nth(i), f"{study} figure {i}"
        figure.scroll_into_view_if_needed()
        assert_drawn(figure, name)
        sliders = figure.evaluate("gd => (gd.layout.sliders || []).length")
        if sliders:
            scrub(page, figure, name)
            animated += 1
        if sliders > 1:
            pick_second_view(page, figure, name)
            scrub(page, figure, f"{name}, second view")
    assert animated >= 1, f"{study}: no figure with a frame slider"
    shots = outputs_dir() / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / f"{study}.png", full_page=True)
    page.close()
    assert not log.errors, f"{study}: {log.errors}"
    assert not log.blocked, f"{study}: requests to the network {log.blocked}"


@pytest.mark.parametrize("study", STUDIES)
def test_report_opens_with_its_summary(study: str, browser: Browser, ci_run: Callable[[str], Path]) -> None:
    report = report_of(ci_run, study)
    page, log = open_report(browser, report)
    summary = page.locator(".workbench-summary")
    assert summary.count() == 1, f"{study}: {summary.count()} summaries"
    text = summary.inner_text()
    assert "Result" in text and " on test: " in text and str(report.parent) in text, text
    box = summary.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"], f"{study}: the summary is not on the first screen"
    parameters = page.locator(".jp-CodeCell .jp-InputArea").first.bounding_box()
    figure = page.locator(".plotly-graph-div").first.bounding_box()
    assert box["y"] + box["height"] <= min(parameters["y"], figure["y"]), f"{study}: the summary is not first"
    shots = outputs_dir() / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot = Image.open(io.BytesIO(page.screenshot(path=shots / f"{study}_top.png"))).convert("RGB")
    region = shot.crop((int(box["x"]) + 8, int(box["y"]) + 4, int(box["x"] + box["width"]) - 4,
                        int(box["y"] + box["height"]) - 4))
    colours = sorted(region.getcolors(1 << 20), reverse=True)
    assert colours[0][1] == SUMMARY_BACKGROUND, f"{study}: the summary box is not drawn ({colours[:3]})"
    assert len(colours) > 16, f"{study}: the summary box holds no text"
    page_text = page.evaluate("() => document.body.innerText")
    assert not is_progress_text(page_text), f"{study}: progress-bar text in the report"
    assert ".partial" not in page_text, f"{study}: the report names the staging folder"
    assert page.evaluate(EMPTY_OUTPUTS) == 0, f"{study}: empty outputs in the report"
    page.close()
    assert not log.errors, f"{study}: {log.errors}"
    assert not log.blocked, f"{study}: requests to the network {log.blocked}"
