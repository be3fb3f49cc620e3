"""A local Galaxy with the suite (as `make serve` starts it) and a real browser driving it.

Run with `make test-browser`: it uses the Galaxy venv, which has Playwright, and Debian's
chromium (`apt-get install chromium`; Playwright's own browser download is not used).
Against a Galaxy that is already running (`make serve`), set DNALM_GALAXY_URL to its URL.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

try:
    import requests
    from galaxy_ui import SCREENSHOTS, log_in
    from playwright import sync_api as playwright_api
except ImportError:  # the dnalm venv: these tests belong to the Galaxy venv (make test-browser)
    collect_ignore_glob = ["*"]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SMALL_FASTA = REPO / "test-data" / "hg38_windows_small.fa"  # 80 real hg38 windows of 201 bp
CHROMIUM = "/usr/bin/chromium"
# Offline and in a container: no sandbox, no GPU, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GALAXY_START_SECONDS = 600
EXPECT_SECONDS = 120


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_secrets(state_dir):
    lines = (state_dir / "secrets.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def wait_until_ready(url, secrets, server):
    """Galaxy answers and the first-run helper has made the admin account."""
    deadline = time.monotonic() + GALAXY_START_SECONDS
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"Galaxy exited with {server.returncode}; see {ARTIFACTS}/browser-serve.log "
                               f"and {ARTIFACTS}/browser-galaxy.log")
        try:
            users = requests.get(
                f"{url}/api/users",
                params={"f_email": secrets["ADMIN_EMAIL"]},
                headers={"x-api-key": secrets["BOOTSTRAP_API_KEY"]},
                timeout=10,
            )
            if users.ok and users.json():
                return
        except requests.RequestException:
            pass  # still starting
        time.sleep(3)
    raise TimeoutError(f"Galaxy at {url} not ready after {GALAXY_START_SECONDS} s")


@pytest.fixture(scope="session")
def galaxy(tmp_path_factory):
    """URL and admin login of a Galaxy serving the suite; started here unless given."""
    if os.environ.get("DNALM_GALAXY_URL"):
        state_dir = Path(os.environ.get("GALAXY_STATE_DIR", REPO / ".galaxy"))
        secrets = read_secrets(state_dir)
        url = os.environ["DNALM_GALAXY_URL"].rstrip("/")
        wait_until_ready(url, secrets, None)
        yield {"url": url, "email": secrets["ADMIN_EMAIL"], "password": secrets["ADMIN_PASSWORD"]}
        return

    state_dir = tmp_path_factory.mktemp("galaxy")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    # .ci/serve prints its start and login lines; Galaxy's own log goes to GALAXY_LOG
    env = dict(os.environ, PORT=str(port), GALAXY_STATE_DIR=str(state_dir),
               GALAXY_LOG=str(ARTIFACTS / "browser-galaxy.log"))
    with open(ARTIFACTS / "browser-serve.log", "w") as log:
        server = subprocess.Popen(
            [str(REPO / ".ci" / "serve")], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        secrets_file = state_dir / "secrets.env"
        while not secrets_file.exists() and server.poll() is None:
            time.sleep(0.5)
        secrets = read_secrets(state_dir)
        wait_until_ready(url, secrets, server)
        yield {"url": url, "email": secrets["ADMIN_EMAIL"], "password": secrets["ADMIN_PASSWORD"]}
    finally:
        stop(server)


def stop(server):
    """Ctrl-C for the whole server, as a person would; then make sure."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="session")
def browser():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # this run's screenshots only
    # What the page shows next can take Galaxy more than Playwright's default 5 s on a busy
    # 2-core machine (a history item appearing, a list loading); a failure still fails.
    playwright_api.expect.set_options(timeout=EXPECT_SECONDS * 1000)
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_context(browser, **options):
    return browser.new_context(viewport={"width": 1400, "height": 1000}, **options)


@pytest.fixture(scope="session")
def login(browser, galaxy, tmp_path_factory):
    """The admin logs in once; every test's browser context starts with that session's cookie.

    A login loads Galaxy's whole web client twice (the form, then the app): on a busy
    2-core machine that is a minute, so it is not repeated for every test.
    """
    context = new_context(browser)
    log_in(context.new_page(), galaxy)
    state = tmp_path_factory.mktemp("browser") / "login.json"
    context.storage_state(path=state)
    context.close()
    return state


@pytest.fixture
def page(browser, login, request):
    """A fresh browser page, logged in; on failure its screenshot and HTML are kept."""
    context = new_context(browser, storage_state=login)
    page = context.new_page()
    page.set_default_timeout(EXPECT_SECONDS * 1000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"FAILED-{request.node.name}.png", full_page=True)
        (SCREENSHOTS / f"FAILED-{request.node.name}.html").write_text(page.content())
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
