"""Not collected by the suite (the name does not match ``test_*.py``): test_harness.py runs it in a child
pytest to prove that a failing browser test leaves a screenshot and that errors thrown by a page are reported."""

from playwright.sync_api import expect


def test_fails_on_purpose(page):
    page.goto("/login/")
    expect(page.get_by_label("用户名")).to_be_visible()
    assert page.title() == "deliberately wrong", "this test fails on purpose"


def test_passes_but_the_page_throws(page):
    page.goto("/login/")
    page.evaluate("setTimeout(() => { throw new Error('boom from the page') }, 0)")
    page.wait_for_timeout(100)
