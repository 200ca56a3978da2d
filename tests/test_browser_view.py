"""In a real browser: a link opens the view it names (run, tab, sample) and the address follows the user; projector
mode, from its toggle or a link, hides the sidebar and the run's controls and draws text and charts larger.
Screenshots of projector mode at 1280x720 and 1024x768 are kept in the test's folder."""
import re

from test_browser import finished_run, open_page, pytestmark, server  # noqa: F401  (the harness, its fixture)


def font_px(locator) -> float:
    return locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")


def test_a_link_opens_its_run_tab_and_sample_and_the_address_follows(server, tmp_path):
    from playwright.sync_api import expect

    finished_run(tmp_path / "runs", "alpha")
    finished_run(tmp_path / "runs", "beta")          # the newest: what the bare address opens
    with open_page(f"{server}/?run=alpha&tab=architectures&arch=3", tmp_path, 1280, 720) as page:
        expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value("alpha · ENAS controller")
        expect(page.get_by_role("tab", name="Architectures")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("Sample 3 ·", exact=False)).to_be_visible()
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_text("Sample 4 ·", exact=False)).to_be_visible()
        expect(page).to_have_url(re.compile(r"[?&]arch=4(&|$)"))   # written from the fragment that changed it
        page.goto(page.url)                                         # a reload: the same view
        expect(page.get_by_role("tab", name="Architectures")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("Sample 4 ·", exact=False)).to_be_visible()
        expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value("alpha · ENAS controller")


def test_projector_mode_hides_the_sidebar_and_controls_and_enlarges_text_and_charts(server, tmp_path):
    from playwright.sync_api import expect

    finished_run(tmp_path / "runs", "alpha")
    with open_page(f"{server}/?run=alpha", tmp_path, 1280, 720) as page:
        sidebar, text = page.get_by_test_id("stSidebar"), page.get_by_text("Replay the search epoch by epoch")
        chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Op probabilities per node")
        expect(sidebar).to_be_visible()
        expect(page.get_by_role("button", name="Delete run")).to_be_visible()
        expect(chart).to_be_visible()
        normal = font_px(text), chart.bounding_box()["height"]
        page.get_by_text("Projector mode").click()
        expect(page).to_have_url(re.compile(r"[?&]projector=1(&|$)"))
        expect(sidebar).to_be_hidden()
        expect(page.get_by_test_id("stExpandSidebarButton")).to_be_hidden()
        expect(page.get_by_role("button", name="Delete run")).to_be_hidden()
        expect(page.get_by_role("button", name="Link to this view")).to_be_hidden()
        page.wait_for_function("() => parseFloat(getComputedStyle(document.documentElement).fontSize) > 20")
        page.wait_for_timeout(1500)   # the charts' redraw
        assert font_px(text) >= 1.25 * normal[0]
        assert chart.bounding_box()["height"] >= 1.25 * normal[1]
        page.screenshot(path=str(tmp_path / "projector-1280x720-live.png"))
        page.get_by_role("tab", name="Architectures").click()
        expect(page.get_by_text("Outline in red the nodes that differ from")).to_be_visible()
        expect(page.get_by_role("button", name="All samples (CSV)")).to_be_hidden()   # downloads
        page.screenshot(path=str(tmp_path / "projector-1280x720-architectures.png"))

        page.set_viewport_size({"width": 1024, "height": 768})
        page.goto(page.url)                                  # the link opens projector mode too
        expect(page.get_by_role("tab", name="Architectures")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("Outline in red the nodes that differ from")).to_be_visible()
        expect(sidebar).to_be_hidden()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(tmp_path / "projector-1024x768-architectures.png"))
        page.get_by_role("tab", name="Derive & final").click()
        expect(page.get_by_text("Best derived child", exact=False)).to_be_visible()
        expect(page.get_by_role("button", name="Derive the best child")).to_be_hidden()   # forms
        page.wait_for_timeout(1500)
        page.screenshot(path=str(tmp_path / "projector-1024x768-derive.png"))
