"""The cache admin in a real browser (headless Chromium from Debian's packages, driven
by Selenium) against a live server: log in, open the cache list, filter to the entries
cooling down, run "clear cooldown", and look at the result. Skipped where Chromium is
not installed (`.ci/run` installs it)."""

from __future__ import annotations

import os
import shutil

import pytest

from revenue.selectors import cache_entry_get
from tests.revenue.test_admin import entries  # noqa: F401 - the five tenants' entries

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
        reason="needs Debian's chromium and chromium-driver",
    ),
]


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def test_an_operator_filters_to_cooling_down_entries_and_clears_their_cooldown(
    live_url,
    browser,
    staff_user,
    entries,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(f"{live_url}/admin/login/?next=/admin/revenue/revenuecacheentry/")
    browser.find_element(By.ID, "id_username").send_keys(staff_user.username)
    browser.find_element(By.ID, "id_password").send_keys("operator-password-for-tests")
    login_page = browser.find_element(By.ID, "site-name")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The login page has a site name too: wait until the change list has replaced it, or a
    # busy machine lets the old page's element be read (and go stale) mid-navigation.
    WebDriverWait(browser, 10).until(staleness_of(login_page))

    assert browser.find_element(By.ID, "site-name").text == "Skeldir Revenue operations"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 5
    header = browser.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header not in ("", "rgba(0, 0, 0, 0)")  # the admin's stylesheet was served

    # The filtered list replaces this page: wait for that before reading rows, or a busy
    # machine lets the old page's five rows (or their stale elements) be read.
    listed = browser.find_element(By.ID, "result_list")
    browser.find_element(By.LINK_TEXT, "cooling down").click()
    WebDriverWait(browser, 10).until(staleness_of(listed))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    names = sorted(row.find_element(By.CSS_SELECTOR, "th.field-tenant_name").text for row in rows)
    assert names == ["Bravo", "Charlie"]
    assert sorted(row.find_element(By.CSS_SELECTOR, "td.field-cooldown_left").text for row in rows) == ["10", "120"]
    browser.save_screenshot(str(tmp_path / "cooling-down.png"))

    browser.find_element(By.ID, "action-toggle").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("clear_cooldown")
    listed = browser.find_element(By.ID, "result_list")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    WebDriverWait(browser, 10).until(staleness_of(listed))

    message = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text
    assert message.startswith("Cleared the cooldown of 2 tenant(s): ")
    assert browser.find_element(By.CSS_SELECTOR, "p.paginator").text.startswith("0 revenue cache entries")
    browser.save_screenshot(str(tmp_path / "cleared.png"))
    assert (tmp_path / "cleared.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cache_entry_get(entries["Bravo"].id).error_cooldown_until is None
    assert cache_entry_get(entries["Charlie"].id).error_cooldown_until is None
    assert cache_entry_get(entries["Alpha"].id).payload is not None
