"""The demo rows: an applied import and a dry run with errors, added once on top of seed_demo."""

import io

from django.core.management import call_command

from meiguard.bulk import demo
from meiguard.bulk.models import ImportRun
from meiguard.registry.models import Practitioner


def test_demo_seed_adds_an_applied_import_and_a_failed_dry_run_once(db):
    first = io.StringIO()
    call_command("seed_demo", "--quiet", stdout=first)  # seed_demo runs this app's seed once
    out = io.StringIO()
    demo.seed(out)
    demo.seed(out)
    runs = {r.file_name: r for r in ImportRun.objects.all()}
    assert set(runs) == {demo.GOOD_FILE, demo.BAD_FILE}
    assert runs[demo.GOOD_FILE].status == "applied"
    assert runs[demo.GOOD_FILE].totals()["create"] == 5
    assert runs[demo.BAD_FILE].status == "invalid"
    assert [(e["row"], e["column"]) for e in runs[demo.BAD_FILE].errors] == [
        (2, "身份证号"),
        (3, "执业证书编码"),
        (3, "执业类别"),
        (3, "执业范围"),
    ]
    assert Practitioner.objects.filter(name__in=["刘婷", "何佳"]).count() == 2
    assert first.getvalue().count("bulk import demo") == 1
    assert "bulk import demo" not in out.getvalue()  # the reruns add nothing
