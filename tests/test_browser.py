"""End to end in a real browser: serve the app, start a tiny search, see its graph and curves, step back
through the history (buttons, and a click on the reward chart), save a screenshot.
Needs Debian's chromium (`.ci/run` installs it)."""
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TINY = {"warmup epochs": 0, "nodes": 2, "channels": 8, "epochs": 2, "batch size": 32, "train subset": 256, "val size": 128,
        "steps per epoch": 4, "controller steps": 2, "controller children": 2}
EXPANDERS = ("Child training", "Controller", "Data")
SLOW = 120_000  # ms: the machine may be busy

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                                      reason=f"{CHROMIUM} is absent (apt-get install chromium)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "ENAS_RUNS_DIR": str(tmp_path / "runs"), "ENAS_DEMO_CACHE": str(tmp_path / "demo")}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
                             "--server.headless", "true", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise AssertionError("the server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def open_page(server: str, tmp_path, width: int, height: int):
    """A chromium page on the served app; a failed check saves a screenshot and quotes the server's log."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(SLOW)
            expect.set_options(timeout=SLOW)
            page.goto(server)
            yield page
        except AssertionError as e:   # show what the page and the server looked like
            page.screenshot(path=str(tmp_path / "failed.png"))
            log = (tmp_path / "server.log").read_text()[-3000:]
            raise AssertionError(f"{e}\n--- screenshot: {tmp_path / 'failed.png'}\n--- server log:\n{log}") from None
        finally:
            browser.close()


def test_start_a_search_and_look_back_at_an_earlier_architecture(server, tmp_path):
    from playwright.sync_api import expect

    with open_page(server, tmp_path, 1400, 1600) as page:
        sidebar = page.get_by_test_id("stSidebar")
        start = sidebar.get_by_role("button", name="Start ENAS")
        expect(start).to_be_enabled()
        for title in EXPANDERS:
            sidebar.get_by_text(title, exact=True).click()
        for label, value in TINY.items():
            box = sidebar.get_by_label(label, exact=True)
            box.fill(str(value))
            box.press("Enter")
            expect(box).to_have_value(str(value))
        expect(sidebar.get_by_text("Search space: 50 architectures")).to_be_visible()  # 5^2 x 2^1
        page.wait_for_timeout(500)
        start.click()

        graph = page.locator("svg:has(path.chain)").first
        expect(graph).to_be_visible()
        expect(graph).to_contain_text("node 1")
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        expect(page.get_by_text("finished", exact=True)).to_be_visible()
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 6")

        page.get_by_role("tab", name="Architectures").click()
        expect(page.get_by_text("Sample 7", exact=False)).to_be_visible()   # 2 epochs x 2 steps x 2
        page.get_by_role("button", name="Previous").click()
        expect(page.get_by_text("Sample 6", exact=False)).to_be_visible()
        chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Reward of every sampled").first
        chosen = page.get_by_text("Sample 2 ·", exact=False)
        for _ in range(5):   # click sample 2 on the chart (again, if a redraw swallowed the click)
            point = chart.locator("g.points path.point").nth(2).bounding_box()
            page.mouse.click(point["x"] + point["width"] / 2, point["y"] + point["height"] / 2)
            try:
                expect(chosen).to_be_visible(timeout=15_000)
                break
            except AssertionError:
                continue
        expect(chosen).to_be_visible()
        page.screenshot(path=str(tmp_path / "app.png"))
    assert (tmp_path / "app.png").stat().st_size > 10_000


def test_the_cifar_demo_replays_at_a_projector_s_resolution(server, tmp_path):
    """With an empty runs folder the recorded CIFAR-10 demo opens in replay; Play advances the epoch, the
    scrubber stops it and jumps to the start (the Architectures tab says when sampling begins) and to the end
    (every sample); screenshots of each tab at 1280x720 (kept in the test's folder)."""
    from playwright.sync_api import expect

    with open_page(server, tmp_path, 1280, 720) as page:
        expect(page.get_by_text("CIFAR-10 demo", exact=False).first).to_be_visible()
        done = page.get_by_test_id("stMetric").filter(has_text="Epochs done").first   # (a redraw may hold two)
        expect(done).to_contain_text("1/")
        expect(page.locator("svg:has(path.chain)").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "demo-live.png"), full_page=True)
        scrubber = page.get_by_role("slider", name="search epoch").first
        start = re.compile(r"^after epoch 1 of \d+$")
        expect(scrubber).to_have_attribute("aria-valuetext", start)
        page.get_by_role("button", name="Play", exact=True).click()
        expect(scrubber).not_to_have_attribute("aria-valuetext", start)   # it plays (a slow redraw skips epochs)
        for _ in range(5):   # a key pressed while playback redraws the scrubber may be lost: press again
            scrubber.press("Home")   # moving the scrubber stops playback: epoch 1, inside the demo's warm-up
            try:
                expect(scrubber).to_have_attribute("aria-valuetext", start, timeout=15_000)
                break
            except AssertionError:
                continue
        expect(scrubber).to_have_attribute("aria-valuetext", start)
        expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
        expect(done).to_contain_text(re.compile(r"(^|\D)1/"))
        page.get_by_role("tab", name="Architectures").click()
        expect(page.get_by_text("the controller first samples in epoch", exact=False)).to_be_visible()
        scrubber.press("End")   # to the end: derive & final, every sample there
        expect(page.get_by_text("Outline in red the nodes that differ from")).to_be_visible()
        page.screenshot(path=str(tmp_path / "demo-architectures.png"), full_page=True)
        page.get_by_role("tab", name="How ENAS works").click()
        expect(page.get_by_text("Step 1 of 5", exact=False)).to_be_visible()   # the lesson, computed in seconds
        page.screenshot(path=str(tmp_path / "demo-learn.png"), full_page=True)


# In the page: what is cut to an ellipsis (a metric's label or value, a button's label) and each visible chart whose
# title runs out of the chart or meets Plotly's toolbar (the modebar, drawn on hover at the chart's top right).
CUT_OR_COVERED = """() => {
  const box = e => e.getBoundingClientRect();
  const meet = (a, b) => a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right && a.top < b.bottom
                         && b.top < a.bottom;
  const cut = [];
  for (const el of document.querySelectorAll(
      '[data-testid="stMetricLabel"], [data-testid="stMetricValue"], button, [data-testid="stDownloadButton"]')) {
    if (!el.offsetParent) continue;
    if ([el, ...el.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1
                                               && getComputedStyle(e).textOverflow === 'ellipsis'))
      cut.push(el.innerText.replace(/\\s+/g, ' ').trim());
  }
  const titles = [];
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const title = chart.querySelector('.gtitle');
    if (!chart.offsetParent || !title) continue;
    const c = box(chart), t = box(title), bar = chart.querySelector('.modebar');
    if (t.left < c.left - 1 || t.right > c.right + 1 || t.top < c.top - 1 || (bar && meet(box(bar), t)))
      titles.push(title.textContent);
  }
  return {cut, titles, charts: document.querySelectorAll('.js-plotly-plot').length};
}"""


def finished_run(runs: Path, name: str = "legible"):
    """A tiny search, derived and trained, in the runs folder the server reads."""
    from conftest import tiny_config

    from enas.engine.search import Engine
    from enas.runs.store import RunStore

    config = tiny_config()
    assert Engine(config, RunStore.create(runs, name, config), []).run(("search", "derive", "final")) == "finished"


def test_at_1024_px_no_metric_button_or_chart_title_is_cut_or_covered(server, tmp_path):
    """Projector legibility (issue 18): at 1024x768 with the sidebar open, no metric (label, value) and no button
    label of a finished run's header, Live and Architectures tabs is cut to an ellipsis, and every chart title
    there and on the Derive & final tab lies inside its chart, clear of Plotly's toolbar."""
    from playwright.sync_api import expect

    finished_run(tmp_path / "runs")
    with open_page(server, tmp_path, 1024, 768) as page:
        expect(page.get_by_test_id("stMetric").filter(has_text="Final epochs").first).to_contain_text("1/1")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .gtitle').length >= 8")   # 6 + policy
        page.wait_for_timeout(1500)   # the charts' last layout pass
        found = {"Live": page.evaluate(CUT_OR_COVERED)}
        page.get_by_role("tab", name="Architectures").click()
        page.get_by_role("button", name="Prepare slides").click()
        expect(page.get_by_role("button", name="Slides (HTML)")).to_be_visible()
        expect(page.get_by_role("button", name="Previous")).to_be_visible()
        page.wait_for_timeout(1500)
        found["Architectures"] = page.evaluate(CUT_OR_COVERED)
        page.screenshot(path=str(tmp_path / "legible-architectures.png"))
        page.get_by_role("tab", name="Derive & final").click()
        expect(page.get_by_text("Best derived child", exact=False)).to_be_visible()
        page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent)"
                               ".length >= 4")   # derive, three of final training
        page.wait_for_timeout(1500)
        found["Derive & final"] = {"cut": [], "titles": page.evaluate(CUT_OR_COVERED)["titles"]}
    bad = {tab: {k: f[k] for k in ("cut", "titles") if f[k]} for tab, f in found.items()}
    assert not any(bad.values()), f"cut to an ellipsis, or chart titles out of their chart or under its toolbar: {bad}"
