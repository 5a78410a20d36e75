"""The browser tests' world: a real `cohandle serve` on a PostgreSQL database of its own,
after `cohandle demo`, with a token per role and one proposal whose co-handlers' opinions
are overdue; and real Chromium, driven through chromedriver (both from Debian's packages,
installed by deploy/dev/ensure-browser.sh), headless, on a fresh profile that talks to no
one."""

import datetime
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service as DriverService

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.environ.get("COHANDLE_BIN", os.path.join(TARGET, "debug", "cohandle"))
POSTGRES = os.environ.get("COHANDLE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
SCREENSHOTS = os.path.join(ROOT, "target", "screenshots")

# The proposal the tests work on: assigned 45 days ago, so its co-handlers' one-month
# opinion deadline has passed.
KEY = "cq-5-3-1001"

ROLES = {
    "assigner": ("cq-zfbgt", "assigner"),
    "lead": ("cq-kjj", "agency"),
    "jw": ("cq-jw", "agency"),
    "czj": ("cq-czj", "agency"),
    "congress": ("cq-rdgw", "congress_office"),
    "supervisor": ("cq-dc", "supervisor"),
    "admin": ("cq-dc", "admin"),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql):
    subprocess.run(["psql", f"{POSTGRES}/postgres", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


def cohandle(env, *args):
    done = subprocess.run([BINARY, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout


def china_today():
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()


class Server:
    def __init__(self, url, secrets):
        self.url = url
        self.secrets = secrets

    def api(self, who, path, body=None):
        request = urllib.request.Request(self.url + path, method="POST" if body else "GET")
        request.add_header("Authorization", "Bearer " + self.secrets[who])
        if body is not None:
            request.add_header("Content-Type", "application/json")
            request.add_header("Idempotency-Key", str(uuid.uuid4()))
            request.data = json.dumps(body).encode()
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="session")
def server():
    name = "cohandle_browser_" + uuid.uuid4().hex
    psql(f"CREATE DATABASE {name}")
    port = free_port()
    env = dict(os.environ,
               COHANDLE__DATABASE__URL=f"{POSTGRES}/{name}",
               COHANDLE__HTTP__LISTEN=f"127.0.0.1:{port}",
               RUST_LOG="warn")
    env.pop("COHANDLE__AMQP__URL", None)
    process = None
    try:
        cohandle(env, "demo")
        secrets = {}
        for who, (agency, role) in ROLES.items():
            printed = cohandle(env, "token", "create", "--agency", agency, "--role", role)
            secrets[who] = printed.strip().splitlines()[-1]
        process = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        server = Server(url, secrets)
        assigned = china_today() - datetime.timedelta(days=45)
        server.api("assigner", "/v1/proposals", {
            "key": KEY,
            "definition": "chongqing-deputy-suggestion",
            "info": {
                "kind": "deputy_suggestion", "number": "第1001号",
                "session": "市五届人大三次会议",
                "title": "关于加快渝东南职业教育发展的建议", "category": "教育",
                "lead_deputy": "郎平权", "submitted_on": str(assigned - datetime.timedelta(days=5)),
                "disclosure_consent": "full_text", "key_supervision": True,
            },
            "mode": "lead_with_co_handlers",
            "handlers": [{"agency": "cq-kjj", "role": "lead"},
                         {"agency": "cq-jw", "role": "co_handler"},
                         {"agency": "cq-czj", "role": "co_handler"}],
            "assigned_on": str(assigned),
        })
        yield server
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Browser:
    """One Chromium with a profile of its own, signed in as one party."""

    def __init__(self, server):
        self.server = server
        self.profile = tempfile.mkdtemp(prefix="cohandle-chromium-")
        self.downloads = tempfile.mkdtemp(prefix="cohandle-downloads-")
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ["--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=zh-CN",
                     f"--user-data-dir={self.profile}"]:
            options.add_argument(flag)
        options.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
        })
        driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.driver = webdriver.Chrome(service=DriverService(executable_path=driver),
                                       options=options)
        self.driver.implicitly_wait(0)

    def open(self, path):
        self.driver.get(self.server.url + path)

    def sign_in(self, who):
        self.open("/signin")
        self.driver.find_element("id", "token").send_keys(self.server.secrets[who])
        self.driver.find_element("css selector", "form.card button[type=submit]").click()
        wait_for(lambda: "/signin" not in self.driver.current_url)

    def sign_out(self):
        self.driver.find_element("css selector", "form.signout button").click()
        wait_for(lambda: "/signin" in self.driver.current_url)

    def screenshot(self, name):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))

    def close(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)
        shutil.rmtree(self.downloads, ignore_errors=True)


def wait_for(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        except (StaleElementReferenceException, NoSuchElementException):
            # The page is loading, or its live part was swapped while being read: look again.
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("waited in vain")
        time.sleep(0.2)


@pytest.fixture
def browser(server):
    opened = []

    def open_browser():
        b = Browser(server)
        opened.append(b)
        return b

    yield open_browser
    for b in opened:
        b.close()
