"""The browser-test harness itself: a missing Chromium fails loudly, a refused login says why, and a failing
browser test leaves a screenshot where TEST_OUTPUT_DIR says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import REPO, login, require_chromium

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_missing_chromium_fails_and_points_to_scripts_setup(tmp_path):
    # pytest.fail raises Failed, which is not a Skipped: the run goes red instead of quietly skipping.
    with pytest.raises(pytest.fail.Exception, match=r"Chromium not found at .*bash scripts/setup"):
        require_chromium(tmp_path / "no-chromium-here")
    assert require_chromium(Path(sys.executable).resolve()) == Path(sys.executable).resolve()


def test_login_reports_a_refused_password_and_the_user_can_still_sign_in(page, world, shot):
    with pytest.raises(AssertionError, match=r"login as 'zhao' was refused: .*密码"):
        login(page, "zhao", "wrong-password")
    login(page, "zhao")
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("zhao")
    shot(page, "signed-in")


def test_a_failing_browser_test_leaves_a_screenshot_and_page_errors_are_reported(tmp_path):
    """Runs ``_selfcheck.py`` (one test fails on purpose, one passes while its page throws) in a child pytest
    on SQLite."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env |= {"TEST_OUTPUT_DIR": str(tmp_path / "out"), "MEIGUARD_TESTING": "1", "E2E_HEADED": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "meiguard/e2e/_selfcheck.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "1 failed" in output and "1 error" in output, output
    assert "JavaScript errors on the page:\nboom from the page" in output
    png = tmp_path / "out" / "screenshots" / "test_fails_on_purpose" / "01-failure.png"
    assert png.is_file(), output
    assert png.read_bytes()[:8] == PNG
    assert f"failure screenshot: {png}" in output
