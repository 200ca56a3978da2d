"""A classroom in a real browser (`app.access`): the teacher and a student in two browser contexts on one server;
and the app served to the network without a secret. Reuses test_browser's server and page."""
import pytest
from test_browser import EXPANDERS, SLOW, TINY, open_page, pytestmark, server  # noqa: F401

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


def start_tiny(page):
    """Fill the sidebar with test_browser's tiny settings, for a search that runs until stopped, and start it."""
    from playwright.sync_api import expect

    sidebar = page.get_by_test_id("stSidebar")
    for title in EXPANDERS:
        expect(sidebar.get_by_text(title, exact=True)).to_have_count(1)   # the rerun after unlocking has ended
        sidebar.get_by_text(title, exact=True).click()
    for label, value in {**TINY, "epochs": 1000}.items():
        box = sidebar.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        expect(box).to_have_value(str(value))
    dataset = sidebar.get_by_role("combobox", name="dataset", exact=True)
    dataset.click()
    page.get_by_role("option", name="shapes", exact=True).click()
    expect(dataset).to_have_value("shapes")
    # what the server made of the form, drawn from its values: the space of 2 nodes, and the shapes data
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

    with open_page(classroom, tmp_path, 1400, 1400) as teacher:
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
        student.goto(classroom)
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
