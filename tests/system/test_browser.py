"""The admin in a real browser (Debian's headless Chromium) against the live portal: the dashboard uses the
page width, a job started after the page loaded appears and moves on its own, and the job page shows the
finished time and the result without a reload. Screenshots go to ``$CALYPSO_DATA_DIR/screenshots/``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

import tests.jobs.live_tasks  # noqa: F401 - registers "tests.sleep" in this process too
from apps.core.testing import require_tools
from apps.jobs.models import Job
from apps.jobs.services import enqueue
from tests.jobs.test_live import live  # noqa: F401 - the module's live stack

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1600, 1000


@pytest.fixture
def browser(live, admin_user):  # noqa: F811 - the live fixture
    require_tools("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        session = Client()
        session.force_login(admin_user)  # the live server shares this database, so the session works there
        driver.get(live.base_url + "/healthz")
        driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                           "path": "/"})
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> Path:
    folder = Path(settings.DATA_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, path
    return path


def _until(what: str, check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return result


def _errors(driver) -> list[str]:
    # The health card may answer 503 here (the live stack runs without the storage daemons): a real answer.
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and "favicon.ico" not in e["message"] and "/api/v1/system/health" not in e["message"]]


def test_dashboard_is_full_width_and_shows_a_job_started_after_it_loaded(browser, live, admin_user):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(live.base_url + "/admin/")
    dashboard = browser.find_element(By.ID, "calypso-dashboard")
    assert dashboard.size["width"] > 0.75 * WIDTH, dashboard.size  # not Django's 600 px column
    cards = browser.find_elements(By.CSS_SELECTOR, "#calypso-dashboard .calypso-card")
    assert len({c.location["y"] for c in cards}) < len(cards)  # cards side by side, not one long column
    time.sleep(0.5)  # the page's WebSocket is open

    job = enqueue("tests.sleep", user=admin_user, params={"steps": 40, "delay": 0.1}, queue=live.queue)
    row = f'.calypso-jobs [data-job-id="{job.pk}"]'
    _until("the new job's row", lambda: browser.find_elements(By.CSS_SELECTOR, row))
    widths = set()

    def moving():
        bar = browser.find_elements(By.CSS_SELECTOR, f"{row} .bar")
        widths.add(bar[0].value_of_css_property("width") if bar else None)
        return len(widths - {None, "0px"}) >= 2

    _until("its bar to move", moving)
    _shot(browser, "dashboard-live-job")
    number = browser.find_element(By.CSS_SELECTOR, f'.calypso-jobs a[href$="/{job.pk}/change/"]')
    assert number.size["height"] < 30  # the job number is on one line
    _until("the row to say Succeeded", lambda: browser.find_element(
        By.CSS_SELECTOR, f'[data-job-state="{job.pk}"]').text == "Succeeded", timeout=30)
    assert _errors(browser) == []


def test_job_page_shows_finished_time_and_result_live(browser, live, admin_user):  # noqa: F811
    from selenium.webdriver.common.by import By

    job = enqueue("tests.sleep", user=admin_user, params={"steps": 30, "delay": 0.1}, queue=live.queue)
    browser.get(f"{live.base_url}/admin/jobs/job/{job.pk}/change/")
    assert browser.find_element(By.CSS_SELECTOR, ".field-finished .readonly").text in ("-", "")
    _until("the step to move live", lambda: "Step" in browser.find_element(
        By.CSS_SELECTOR, f'.calypso-step[data-job-id="{job.pk}"]').text)
    _shot(browser, "job-running")
    _until("the finished time", lambda: browser.find_element(
        By.CSS_SELECTOR, ".field-finished .readonly").text not in ("-", ""), timeout=30)
    job.refresh_from_db()
    assert job.state == "succeeded"
    page = browser.find_element(By.CSS_SELECTOR, "#content").text
    assert '"steps": 30' in browser.find_element(By.CSS_SELECTOR, ".field-result_json .readonly").text
    assert "Succeeded" in browser.find_element(By.CSS_SELECTOR, ".field-state_badge .readonly").text
    assert not browser.find_elements(By.CSS_SELECTOR, 'a[data-operation="cancel"]'), page
    _shot(browser, "job-finished")
    assert Job.objects.filter(pk=job.pk, finished__isnull=False).exists()
    assert _errors(browser) == []
