"""Not collected by the suite (the name does not match ``test_*.py``): test_harness.py runs it in a child
pytest to prove that a failing browser test leaves a screenshot."""

from .conftest import login


def test_fails_on_purpose(page, world):
    login(page, "zhao")
    page.goto("/authz/check/")
    assert page.title() == "deliberately wrong", "this test fails on purpose"
