"""The /bulk/ pages: hub, template and export downloads, upload → error table or preview → apply."""

import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from meiguard.audit.models import AuditEntry
from meiguard.authz.tests.conftest import id_number
from meiguard.bulk.models import ImportRun
from meiguard.bulk.specs import PRACTITIONERS
from meiguard.bulk.tests.conftest import nurse_row, sheet, xlsx
from meiguard.registry.models import Practitioner

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(client, content, *, kind="practitioners", name="人员.xlsx"):
    return client.post(
        "/bulk/import/", {"kind": kind, "file": SimpleUploadedFile(name, content, content_type=XLSX)}
    )


def test_the_hub_offers_templates_upload_export_and_recent_runs(clinic, world):
    page = world.client("wang").get("/bulk/")
    html = page.content.decode()
    assert page.status_code == 200
    for kind in ("practitioners", "qualifications", "authorizations", "full"):
        assert f'href="/bulk/templates/{kind}/"' in html
    assert 'action="/bulk/import/"' in html and 'enctype="multipart/form-data"' in html
    assert '<label for="id_file">' in html and '<label for="id_kind">' in html
    assert 'action="/bulk/export/"' in html
    assert "<caption" in html and 'scope="col"' in html
    assert "bulk/bulk.css" in html
    # a doctor manages nothing: no upload form
    doctor = world.client("li").get("/bulk/").content.decode()
    assert 'action="/bulk/import/"' not in doctor and "您没有可导入的机构" in doctor


def test_the_pages_need_a_login(world):
    assert world.client("wang").get("/bulk/").status_code == 200
    from django.test import Client

    assert Client().get("/bulk/").status_code == 302


def test_template_and_export_download_as_xlsx(clinic, world):
    client = world.client("wang")
    template = client.get("/bulk/templates/qualifications/")
    assert template.status_code == 200
    assert template["Content-Type"] == XLSX
    assert 'filename="meiguard-qualifications-template.xlsx"' in template["Content-Disposition"]
    assert load_workbook(io.BytesIO(template.content)).sheetnames[0] == "资质"
    assert client.get("/bulk/templates/nonsense/").status_code == 404
    export = client.get("/bulk/export/", {"kind": "full", "institution": clinic.jia.pk})
    assert export.status_code == 200 and export["Cache-Control"] == "no-store"
    rows = list(load_workbook(io.BytesIO(export.content))["执业人员"].iter_rows(values_only=True))
    assert rows[1][1] == "李医生"
    foreign = client.get("/bulk/export/", {"kind": "full", "institution": clinic.yi.pk})
    assert foreign.status_code == 400  # 乙 is not a choice for wang


def test_an_upload_with_errors_shows_the_error_table_and_writes_nothing(clinic, world):
    client = world.client("wang")
    good = nurse_row(clinic.jia.credit_code, id_number())
    bad = nurse_row(clinic.jia.credit_code, id_number(), practising_since="2019-02-30")
    people = Practitioner.objects.count()
    audit = AuditEntry.objects.count()
    response = upload(client, xlsx({"执业人员": sheet(PRACTITIONERS, good, bad)}))
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert response["Location"] == f"/bulk/runs/{run.pk}/"
    html = client.get(response["Location"]).content.decode()
    assert 'id="import-errors"' in html
    assert "发现 1 处错误,没有写入任何数据。" in html
    table = html[html.index('id="import-errors"') : html.index("</table>", html.index('id="import-errors"'))]
    assert "<caption>" in table and '<th scope="col">行号</th>' in table
    assert re.search(
        r"<td>执业人员</td><th scope=\"row\">3</th><td>开始执业日期</td><td>I3</td><td>日期不存在:2019-02-30</td>",
        table,
    )
    assert "确认导入" not in html  # no apply button
    assert Practitioner.objects.count() == people
    assert AuditEntry.objects.count() == audit


def test_a_clean_upload_previews_then_applies(clinic, world):
    client = world.client("wang")
    number = id_number()
    response = upload(
        client, xlsx({"执业人员": sheet(PRACTITIONERS, nurse_row(clinic.jia.credit_code, number))})
    )
    run_url = response["Location"]
    html = client.get(run_url).content.decode()
    assert "确认导入" in html and 'id="import-changes"' in html
    assert "周护士 · 护士" in html
    assert not Practitioner.objects.filter(name="周护士").exists()
    dry = ImportRun.objects.get()
    applied = client.post(f"/bulk/runs/{dry.pk}/apply/")
    final = ImportRun.objects.get(mode="apply")
    assert applied["Location"] == f"/bulk/runs/{final.pk}/"
    page = client.get(applied["Location"]).content.decode()
    assert "导入完成,已写入全部数据" in page and "已导入:全部行已写入" in page
    assert Practitioner.objects.filter(name="周护士").count() == 1
    # a second post is refused with a message, nothing written twice
    again = client.post(f"/bulk/runs/{dry.pk}/apply/", follow=True)
    assert "该文件已经导入过了" in again.content.decode()
    assert Practitioner.objects.filter(name="周护士").count() == 1


def test_a_rejected_file_is_explained_on_the_hub(clinic, world):
    client = world.client("wang")
    response = upload(client, b"garbage", name="人员.xlsx")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and "文件不是有效的 .xlsx 工作簿" in html
    headers = upload(client, xlsx({"执业人员": [["姓名", "备注"], ["x", "y"]]}))
    assert headers.status_code == 400
    assert "缺少列“身份证号”" in headers.content.decode()
    assert ImportRun.objects.count() == 0


def test_runs_are_private_to_the_uploader_and_the_institution(clinic, world):
    wang = world.client("wang")
    upload(wang, xlsx({"执业人员": sheet(PRACTITIONERS, nurse_row(clinic.jia.credit_code, id_number()))}))
    run = ImportRun.objects.get()
    assert world.client("sun").get(f"/bulk/runs/{run.pk}/").status_code == 404
    assert world.client("sun").post(f"/bulk/runs/{run.pk}/apply/").status_code == 404
    colleague = world.client("zhao").get(f"/bulk/runs/{run.pk}/")
    assert colleague.status_code == 200  # 甲's compliance officer sees the run, not its rows
    html = colleague.content.decode()
    assert "只有上传人可以查看逐行明细" in html and "周护士" not in html and "确认导入" not in html
    assert "周护士" in wang.get(f"/bulk/runs/{run.pk}/").content.decode()
    assert run.file_name in world.client("zhao").get("/bulk/").content.decode()
    assert run.file_name not in world.client("sun").get("/bulk/").content.decode()
