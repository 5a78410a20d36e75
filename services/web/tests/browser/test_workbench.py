"""The workbench in real Chromium against a real `cohandle serve` on PostgreSQL."""

import glob
import os

from selenium.webdriver.common.action_chains import ActionChains

from conftest import KEY, ROLES, wait_for


def count(b, which):
    return int(b.driver.find_element("css selector", f'[data-count="{which}"]').text)


def test_every_role_signs_in_and_out(browser):
    b = browser()
    landing = {"agency": "/tasks", "congress_office": "/tasks"}
    for who in ["assigner", "jw", "congress", "supervisor", "admin"]:
        agency, role = ROLES[who]
        b.sign_in(who)
        assert b.driver.current_url.endswith(landing.get(role, "/board")), b.driver.current_url
        assert agency in b.driver.find_element("css selector", "header .who").text
        if who == "jw":
            b.screenshot("tasks-agency")
        if who == "supervisor":
            b.driver.find_element("link text", "统计").click()
            wait_for(lambda: b.driver.find_elements("css selector", "#statistics svg, svg.bars"))
            assert b.driver.find_element("css selector", '#statistics tr[data-agency="cq-kjj"]')
            assert b.driver.find_elements("css selector", "#trend tbody tr")
            assert b.driver.find_element("id", "trend-chart")
            b.screenshot("statistics")
        b.sign_out()
    b.open("/board")
    assert b.driver.current_url.endswith("/signin")


def test_a_supervisor_finds_the_overdue_proposal_opens_its_timeline_and_exports_csv(browser):
    b = browser()
    b.sign_in("supervisor")
    assert b.driver.find_element("tag name", "h1").text == "期限看板"
    assert count(b, "overdue") >= 2
    row = b.driver.find_element("css selector", f'tr.overdue[data-proposal="{KEY}"][data-agency="cq-jw"]')
    assert "逾期" in row.text and "重点督办" in row.text
    b.screenshot("board")

    row.find_element("link text", KEY).click()
    wait_for(lambda: b.driver.current_url.endswith(f"/proposals/{KEY}"))
    timeline = b.driver.find_elements("css selector", "#timeline tbody tr")
    assert timeline and "交办" in timeline[0].text and "cq-zfbgt" in timeline[0].text
    assert "已逾期" in b.driver.find_element("id", "tasks").text
    records = b.driver.find_element("id", "deadline-records")
    # Past due: overdue, or missed once the monitor has fired its expiry.
    assert records.find_elements(
        "css selector", '[data-agency="cq-jw"] [data-standing="missed"], '
                        '[data-agency="cq-jw"] [data-standing="overdue"]')
    assert "完整" in b.driver.find_element("id", "verify").text
    b.screenshot("proposal")

    b.open("/board?overdue=yes")
    b.driver.find_element("link text", "导出 CSV").click()
    files = wait_for(lambda: [f for f in glob.glob(os.path.join(b.downloads, "*.csv"))])
    raw = open(files[0], "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = raw[3:].decode("utf-8").splitlines()
    assert rows[0].startswith("建议/提案,承办单位")
    ours = [r for r in rows[1:] if r.startswith(KEY + ",")]
    assert {r.split(",")[1] for r in ours} >= {"cq-jw", "cq-czj"}
    assert all(",是," in r for r in ours)


def test_a_co_handlers_opinion_changes_the_supervisors_board_without_a_reload(browser):
    supervisor = browser()
    supervisor.sign_in("supervisor")
    before = count(supervisor, "overdue")
    supervisor.driver.execute_script("window.notReloaded = true;")

    jw = browser()
    jw.sign_in("jw")
    jw.driver.find_element("css selector", f'a[href="/proposals/{KEY}/tasks/cq-jw"]').click()
    jw.driver.find_element("css selector", 'form[data-step="acknowledge"] button').click()
    wait_for(lambda: jw.driver.find_elements("css selector", 'form[data-step="submit_opinion"]'))
    form = jw.driver.find_element("css selector", 'form[data-step="submit_opinion"]')
    form.find_element("name", "document_number").send_keys("渝教函〔2026〕12号")
    form.find_element("name", "summary").send_keys("支持在渝东南布局职业教育资源。")
    form.find_element("css selector", "button").click()
    wait_for(lambda: "已提交" in jw.driver.find_element("tag name", "main").text)
    assert "已提交协办意见" in jw.driver.find_element("id", "task-state").text
    jw.screenshot("task-co-handler")

    wait_for(lambda: count(supervisor, "overdue") == before - 1)
    assert supervisor.driver.execute_script("return window.notReloaded === true;")
    assert not supervisor.driver.find_elements(
        "css selector", f'tr[data-proposal="{KEY}"][data-agency="cq-jw"]')
    supervisor.screenshot("board-refreshed")


def test_a_supervisor_sees_no_form(browser):
    b = browser()
    b.sign_in("supervisor")
    b.open(f"/proposals/{KEY}/tasks/cq-czj")
    assert "协办" in b.driver.find_element("tag name", "main").text
    assert not b.driver.find_elements("css selector", "form.step")
    b.screenshot("task-supervisor")


def test_a_double_clicked_submit_is_one_step(browser, server):
    b = browser()
    b.sign_in("czj")
    b.open(f"/proposals/{KEY}/tasks/cq-czj")
    button = b.driver.find_element("css selector", 'form[data-step="acknowledge"] button')
    ActionChains(b.driver).double_click(button).perform()
    wait_for(lambda: "已提交" in b.driver.find_element("tag name", "main").text)
    timeline = server.api("supervisor", f"/v1/proposals/{KEY}")["timeline"]
    steps = [e for e in timeline if e["event"] == "acknowledge" and e["agency"] == "cq-czj"]
    assert len(steps) == 1, steps
    b.screenshot("task-double-click")


def test_another_agencys_task_page_is_refused(browser):
    b = browser()
    b.sign_in("jw")
    b.open(f"/proposals/{KEY}/tasks/cq-kjj")
    refusal = b.driver.find_element("css selector", "p.refusal")
    assert refusal.get_attribute("data-code") == "not_your_task"
    assert "这不是您单位的任务" in refusal.text
    b.screenshot("task-refused")
