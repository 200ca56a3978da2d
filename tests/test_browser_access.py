"""A classroom in a real browser (`app.access`): the teacher and a student in two browser contexts on one server;
and the app served to the network without a secret. Reuses test_browser's server and page."""
from urllib.parse import urlencode

import pytest
from test_browser import SLOW, TINY, open_page, pytestmark, server  # noqa: F401

from app import access

SECRET = "correct horse"


@pytest.fixture
def classroom(request, monkeypatch):
    """test_browser's server, with a teacher's secret and one working run per student."""
    monkeypatch.setenv(access.SECRET, SECRET)
    monkeypatch.setenv(access.STUDENT_RUNS, "1")
    return request.getfixturevalue("server")


@pytest.fixture
def exposed(request, monkeypatch):
    """test_browser's server on every interface (the README's classroom command), without a secret."""
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "0.0.0.0")
    monkeypatch.delenv(access.SECRET, raising=False)
    return request.getfixturevalue("server")


# test_browser's tiny settings as a shared link (`app.urlstate`): a search that runs until stopped. The form is
# filled from the page's address when the session starts, not typed while a live run redraws the page (under
# load, a widget clicked during a rerun was seen redrawn: a dropdown closed, a multiselect emptied).
TINY_URL = "?" + urlencode({"preset": "quick", "dataset": "shapes",
                            **{label.replace(" ", "_"): value for label, value in {**TINY, "epochs": 1000}.items()}})


def start_tiny(page):
    """Start the search that the page's address (TINY_URL) filled the sidebar with, once the server has drawn
    what it made of the form: the space of 2 nodes and the shapes data of 256 + 128 images."""
    from playwright.sync_api import expect

    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Search space: 50 architectures")).to_be_visible()
    expect(sidebar.get_by_text("built-in shapes, 14,000 generated images: 10 classes; 256 train, 128 val")) \
        .to_be_visible()
    sidebar.get_by_role("button", name="Start ENAS").click()


def button(page, name: str):
    """The page's button `name` (not Streamlit's own Stop, shown in the header while the script runs)."""
    return page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=name, exact=True)


def controls(page) -> dict:
    """How many of each run control the page shows."""
    return {name: button(page, name).count() for name in ("Pause", "Stop", "Resume run", "Delete run")}


def test_a_student_cannot_stop_or_delete_the_teachers_run_and_the_teacher_can(classroom, tmp_path):
    from playwright.sync_api import expect

    with open_page(classroom + TINY_URL, tmp_path, 1400, 1400) as teacher:
        sidebar = teacher.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Student: you may have 1 run(s) working at once")).to_be_visible()
        for secret in ("correct", SECRET):
            sidebar.get_by_label("Teacher's secret").fill(secret)
            sidebar.get_by_role("button", name="Unlock teacher controls").click()
            if secret != SECRET:
                expect(sidebar.get_by_text("Wrong teacher's secret: this session is still a student's.")) \
                    .to_be_visible()
        expect(sidebar.get_by_text("Teacher: you start, steer, stop and delete every run.")).to_be_visible()
        start_tiny(teacher)
        expect(button(teacher, "Stop")).to_be_visible()
        run, = [p.name for p in (tmp_path / "runs").iterdir()]

        student = teacher.context.browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        student.set_default_timeout(SLOW)
        student.goto(classroom + TINY_URL)
        expect(student.get_by_text(access.STUDENT_CONTROL).first).to_be_visible()   # the teacher's run, live
        expect(student.get_by_test_id("stMetric").filter(has_text="Epochs done").first).to_be_visible()
        assert controls(student) == {"Pause": 0, "Stop": 0, "Resume run": 0, "Delete run": 0}

        start_tiny(student)                  # the student's own run: theirs to stop, and the cap is reached
        expect(button(student, "Stop")).to_be_visible()
        expect(student.get_by_text("allows each student 1 run(s) working at once")).to_be_visible()
        expect(student.get_by_test_id("stSidebar").get_by_role("button", name="Start ENAS")).to_be_disabled()
        button(student, "Stop").click()
        expect(student.get_by_text("stopped", exact=True)).to_be_visible()
        expect(student.get_by_test_id("stSidebar").get_by_role("button", name="Start ENAS")).to_be_enabled()

        button(teacher, "Stop").click()
        expect(button(teacher, "Delete run")).to_be_visible()

        picker = student.get_by_role("combobox", name="Run", exact=True)   # both runs idle: no redraws now
        picker.click()
        student.get_by_role("option", name=f"{run} · ENAS controller", exact=True).click()
        expect(picker).to_have_value(f"{run} · ENAS controller")
        expect(student.get_by_text(access.STUDENT_CONTROL).first).to_be_visible()   # the teacher's run, stopped
        assert controls(student) == {"Pause": 0, "Stop": 0, "Resume run": 0, "Delete run": 0}

        button(teacher, "Delete run").click()
        button(teacher, "Confirm delete").click()
        expect(teacher.get_by_role("combobox", name="Run", exact=True)).not_to_have_value(
            f"{run} · ENAS controller")                           # gone: the picker shows the student's run
        expect(button(teacher, "Delete run")).to_be_visible()    # which the teacher controls too
        assert not (tmp_path / "runs" / run).exists()


def test_served_to_the_network_without_a_secret_the_page_shows_only_the_refusal(exposed, tmp_path):
    from playwright.sync_api import expect

    with open_page(exposed, tmp_path, 1280, 800) as page:
        expect(page.get_by_text("served to the network (server.address = 0.0.0.0) without ENAS_TEACHER_SECRET")) \
            .to_be_visible()
        assert page.get_by_text("ENAS explorer", exact=True).count() == 0
        assert page.get_by_role("button", name="Start ENAS").count() == 0
