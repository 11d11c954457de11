"""A large privilege matrix opens on one subject (issue 16 item 4): past 60 people or 2,000 cells the page shows
the first subject's procedures with a note and a way to show everything; filters chosen by the reader win."""

from __future__ import annotations

import io

import pytest

from meiguard.authz import matrix
from meiguard.rules.choices import Subject

from .test_matrix import ON, _staff


@pytest.mark.parametrize(
    "people,procedures,large",
    [
        (0, 0, False),
        (60, 33, False),  # 60 people, 1,980 cells: both at or under the limits
        (60, 34, True),  # 2,040 cells
        (61, 1, True),  # more than 60 people
        (40, 50, False),  # exactly 2,000 cells
        (40, 51, True),
    ],
)
def test_the_threshold(people, procedures, large):
    assert matrix.is_large(people, procedures) is large


def test_the_default_subject_is_the_first_in_catalogue_order():
    class P:
        def __init__(self, subject):
            self.subject = subject

    order = list(Subject.values)
    procs = [P(order[2]), P(order[1]), P(order[2])]
    assert matrix.default_subject(procs) == order[1]  # type: ignore[arg-type]
    assert matrix.default_subject([]) == ""


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(matrix, "LARGE_PEOPLE", 2)


def _procedure_subjects(m: matrix.Matrix) -> set[str]:
    return {p.subject for p in m.procedures}


def test_compute_narrows_only_when_asked_and_large(clinic, small_limits):
    _staff(clinic)
    actor = clinic.world.actor("zhao")
    whole = matrix.compute(actor, clinic.jia.pk, ON)
    assert len(_procedure_subjects(whole)) > 1 and not whole.defaulted_subject
    narrowed = matrix.compute(actor, clinic.jia.pk, ON, narrow_if_large=True)
    assert narrowed.defaulted_subject == matrix.default_subject(whole.procedures)
    assert _procedure_subjects(narrowed) == {narrowed.defaulted_subject}
    assert (narrowed.full_people, narrowed.full_procedures) == (len(whole.people), len(whole.procedures))
    # The reader's own filter wins: no narrowing.
    nurses = matrix.compute(
        actor, clinic.jia.pk, ON, matrix.Filters(profession="nurse"), narrow_if_large=True
    )
    assert not nurses.defaulted_subject


def test_a_small_matrix_opens_whole(clinic):
    _staff(clinic)
    m = matrix.compute(clinic.world.actor("zhao"), clinic.jia.pk, ON, narrow_if_large=True)
    assert not m.defaulted_subject


def test_the_page_opens_large_matrices_on_one_subject(clinic, small_limits):
    from openpyxl import load_workbook

    _staff(clinic)
    client = clinic.world.client("zhao")
    whole = matrix.compute(clinic.world.actor("zhao"), clinic.jia.pk, ON)
    first = matrix.default_subject(whole.procedures)
    other = next(p for p in whole.procedures if p.subject != first)

    html = client.get("/authz/matrix/", {"on": "2026-03-03"}).content.decode()
    label = dict(Subject.choices)[first]
    assert f"先只显示“{label}”的项目" in html
    assert f"{len(whole.people)} 人 × {len(whole.procedures)} 个项目" in html
    assert f'data-procedure="{other.code}"' not in html
    assert f'<option value="{first}" selected>' in html  # the filter shows what is applied
    assert "all=1" in html and "显示全部项目" in html

    everything = client.get("/authz/matrix/", {"on": "2026-03-03", "all": "1"}).content.decode()
    assert f'data-procedure="{other.code}"' in everything
    assert "先只显示" not in everything
    assert '<input type="hidden" name="all" value="1">' in everything

    # The export is what the page shows.
    r = client.get("/authz/matrix/", {"institution": clinic.jia.pk, "on": "2026-03-03", "format": "xlsx"})
    header = next(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
    assert not any(h and f"({other.code})" in h for h in header)


def test_english_note(clinic, small_limits):
    _staff(clinic)
    html = clinic.world.client("zhao").get("/authz/matrix/", {"on": "2026-03-03"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Show all procedures" in html.content.decode()
