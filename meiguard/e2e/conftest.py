"""Browser tests: Playwright (sync API) drives Debian's Chromium against pytest-django's ``live_server``.

Fixtures and helpers (see docs/testing.md):

- ``browser`` (package scope): one headless Chromium at ``/usr/bin/chromium`` for all e2e tests. Playwright
  never downloads a browser here; if Chromium is missing the tests FAIL and say to run ``bash scripts/setup``.
- ``page``: a fresh browser context per test (1280x900, zh-CN, Asia/Shanghai) whose relative URLs go to the
  live server; ``tablet(page)`` switches it to 768x1024.
- ``login(page, username, password)``: signs in through the real login form (django-axes included).
- ``shot(page, name)``: a full-page PNG at ``test-output/screenshots/<test>/<nn>-<name>.png``
  (``TEST_OUTPUT_DIR`` moves ``test-output``). A failing test gets ``<nn>-failure.png`` automatically.
- ``clinic``: the authz tests' clinic (甲诊所, 李医生 and his active authorizations), built by the project's own
  actions; the personas' passwords are ``PASSWORDS[username]``.

``live_server`` makes every test here transactional: data is created inside the test (function-scoped
fixtures) and the tables are flushed afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from meiguard.authz.tests.conftest import clinic  # noqa: F401  (the fixture, reused as is)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine's network is closed: without these, Chromium keeps trying (and failing) to reach
    # Google's update, sync and field-trial services, flooding the log with refused connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000

# The personas of the root conftest (``World``) are created with these passwords; staff added by a journey
# (``helpers.add_staff``) follow the same pattern.
PASSWORDS = {name: f"pw-{name}-123456" for name in ("wang", "li", "zhang", "zhao", "qian", "sun")}


def password_of(username: str) -> str:
    return PASSWORDS.get(username, f"pw-{username}-123456")


def chromium_path() -> Path:
    """Debian's Chromium; ``E2E_CHROMIUM`` points elsewhere (e.g. a local Chrome when developing)."""
    return Path(os.environ.get("E2E_CHROMIUM") or "/usr/bin/chromium")


def output_dir() -> Path:
    """``test-output`` at the repository root, or ``$TEST_OUTPUT_DIR``."""
    configured = os.environ.get("TEST_OUTPUT_DIR", "").strip()
    return Path(configured).resolve() if configured else REPO / "test-output"


def require_chromium(path: Path) -> Path:
    """The browser tests FAIL (never skip) without Chromium, and say how to get it."""
    if not path.is_file():
        pytest.fail(
            f"Chromium not found at {path}: the browser tests need Debian's chromium package. "
            "Run `bash scripts/setup` (it apt-installs chromium and fonts-noto-cjk), "
            "or set E2E_CHROMIUM to a Chromium/Chrome binary.",
            pytrace=False,
        )
    return path


def _headed() -> bool:
    return os.environ.get("E2E_HEADED", "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    path = require_chromium(chromium_path())
    # Playwright's sync API runs an asyncio event loop in this thread (in a greenlet) from start() to stop().
    # Django refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation), yet the tests
    # must create data and check the database while the browser is up. Nothing here is actually concurrent
    # on that connection (the test thread waits while the live-server thread serves the browser), so the
    # guard is lifted, and only for as long as the loop runs: other test packages keep Django's protection.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        headed = _headed()
        try:
            launched = playwright.chromium.launch(
                executable_path=str(path),
                headless=not headed,
                args=[a for a in CHROMIUM_ARGS if not (headed and a == "--headless")],
                slow_mo=float(os.environ.get("E2E_SLOWMO") or 0),
            )
        except PlaywrightError as exc:
            hint = "headed mode needs a display (try `xvfb-run -a`)" if headed else "run `bash scripts/setup`"
            pytest.fail(f"Chromium at {path} did not start: {exc}\n{hint}", pytrace=False)
        yield launched
        launched.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# ---- screenshots -------------------------------------------------------------------------------------


def _safe(name: str) -> str:
    """A file name from a test or shot name (``test_x[param-1]`` → ``test_x_param-1``)."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "shot"


class Screenshots:
    """Numbered full-page screenshots of one test, in their own folder (emptied when the test starts)."""

    def __init__(self, test_name: str) -> None:
        self.folder = output_dir() / "screenshots" / _safe(test_name)
        self.count = 0
        if self.folder.is_dir():
            for old in self.folder.glob("*.png"):
                old.unlink()

    def take(self, page: Page, name: str) -> Path:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{_safe(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


SCREENSHOTS = pytest.StashKey[Screenshots]()


def _screenshots(request: pytest.FixtureRequest) -> Screenshots:
    item = request.node
    if SCREENSHOTS not in item.stash:
        item.stash[SCREENSHOTS] = Screenshots(item.name)
    return item.stash[SCREENSHOTS]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``shot(page, "name")`` saves ``<nn>-name.png`` for this test and returns its path."""
    return _screenshots(request).take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        page = getattr(item, "funcargs", {}).get("page")
        shots = item.stash.get(SCREENSHOTS, None)
        if page is not None and shots is not None and not page.is_closed():
            try:
                path = shots.take(page, "failure")
            except PlaywrightError as exc:  # the browser itself may be what failed
                report.sections.append(("e2e", f"no failure screenshot: {exc}"))
            else:
                report.sections.append(("e2e", f"failure screenshot: {path}\npage URL: {page.url}"))
    return report


# ---- pages -------------------------------------------------------------------------------------------


@pytest.fixture
def page(browser: Browser, live_server, request: pytest.FixtureRequest, settings) -> Iterator[Page]:
    # The real login stack, django-axes included (the root conftest turns it off for unit tests). The
    # attempts table is flushed after every test here, so failures never carry over and lock a user out.
    settings.AXES_ENABLED = True
    from axes.utils import reset

    reset()
    _screenshots(request)  # the folder is emptied now, so a failure screenshot never sits beside stale ones
    context = browser.new_context(
        base_url=live_server.url,
        viewport=DESKTOP,  # type: ignore[arg-type]
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(TIMEOUT_MS)
    new = context.new_page()
    errors: list[str] = []
    new.on("pageerror", lambda exc: errors.append(str(exc)))
    # Anything the Content-Security-Policy blocks (an inline script, handler or style element) fails the test.
    new.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield new
    context.close()
    if errors:
        pytest.fail("JavaScript errors on the page:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def phone(browser: Browser, live_server, page: Page) -> Iterator[Page]:
    """A phone-sized page (its own context: mobile emulation is fixed when a context is made). ``page`` is
    asked for so the login stack is set up the same way."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,  # type: ignore[arg-type]
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(TIMEOUT_MS)
    new = context.new_page()
    errors: list[str] = []
    new.on("pageerror", lambda exc: errors.append(str(exc)))
    new.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield new
    context.close()
    if errors:
        pytest.fail("JavaScript errors on the phone page:\n" + "\n".join(errors), pytrace=False)


def tablet(page: Page) -> Page:
    """Switch the page to a tablet in portrait (768x1024), the smallest screen the staff pages support."""
    page.set_viewport_size(TABLET)  # type: ignore[arg-type]
    return page


def desktop(page: Page) -> Page:
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    return page


def login(page: Page, username: str, password: str | None = None) -> None:
    """Sign in through the login form at /login/; raises AssertionError with the form's message if refused."""
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password if password is not None else password_of(username))
    with page.expect_navigation():
        page.get_by_role("button", name="登录", exact=True).click()
    if re.search(r"/login/?(\?|$)", page.url):
        alert = page.get_by_role("alert")
        message = alert.first.inner_text() if alert.count() else page.title()
        raise AssertionError(f"login as {username!r} was refused: {message.strip()}")
