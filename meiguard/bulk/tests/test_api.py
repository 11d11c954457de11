"""/api/v1/bulk: template, export, dry run, apply (stored or one-step), runs; the error envelope."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from meiguard.authz.tests.conftest import id_number
from meiguard.bulk.models import ImportRun
from meiguard.bulk.specs import PRACTITIONERS
from meiguard.bulk.tests.conftest import nurse_row, sheet, xlsx
from meiguard.core.tests.openapi_shapes import assert_documented
from meiguard.registry.models import Practitioner

API = "/api/v1/bulk"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def post_file(client, path, content, *, kind="practitioners", name="人员.xlsx", **extra):
    return client.post(
        f"{API}{path}", {"kind": kind, "file": SimpleUploadedFile(name, content, content_type=XLSX)}, **extra
    )


def people_file(clinic, *rows):
    return xlsx({"执业人员": sheet(PRACTITIONERS, *rows)})


def test_template_and_export_are_xlsx_downloads(clinic, world):
    client = world.client("wang")
    template = client.get(f"{API}/templates/full")
    assert template.status_code == 200 and template["Content-Type"] == XLSX
    assert load_workbook(io.BytesIO(template.content)).sheetnames[:3] == ["执业人员", "资质", "授权"]
    assert client.get(f"{API}/templates/everything").status_code == 422
    export = client.get(f"{API}/exports/authorizations", {"institution_id": clinic.jia.pk})
    assert export.status_code == 200
    assert len(list(load_workbook(io.BytesIO(export.content))["授权"].iter_rows())) == 1 + 3
    foreign = client.get(f"{API}/exports/full", {"institution_id": clinic.yi.pk})
    assert foreign.status_code == 404
    assert foreign.json()["field"] == "institution_id"


def test_dry_run_reports_row_errors_with_sheet_row_column_and_message(clinic, world):
    client = world.client("wang")
    rows = (
        nurse_row(clinic.jia.credit_code, id_number()),
        nurse_row(clinic.jia.credit_code, id_number(), profession="医生"),
    )
    response = post_file(client, "/imports/dry-run", people_file(clinic, *rows))
    assert response.status_code == 200
    body = response.json()
    assert (body["mode"], body["status"], body["ok"]) == ("dry_run", "invalid", False)
    assert body["errors"] == [
        {
            "sheet": "执业人员",
            "row": 3,
            "column": "职业",
            "cell": "D3",
            "message": "“医生”不是可选值,可选:医师、护士、麻醉医师、咨询师、技师",
        }
    ]
    assert body["totals"] == {"create": 1, "update": 0, "unchanged": 0, "error": 1}
    assert len(body["sha256"]) == 64
    english = post_file(client, "/imports/dry-run", people_file(clinic, *rows), HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["errors"][0]["message"].startswith("“医生” is not")


def test_a_file_that_is_not_the_format_is_a_400_listing_every_problem(clinic, world):
    client = world.client("wang")
    garbage = post_file(client, "/imports/dry-run", b"\x89PNG not a workbook")
    assert garbage.status_code == 400
    assert garbage.json() == {
        "code": "INVALID_FILE",
        "message": "文件不是有效的 .xlsx 工作簿(可能已损坏,或只是改了扩展名)",
        "field": "file",
        "errors": [
            {
                "field": "file",
                "code": "invalid_file",
                "message": "文件不是有效的 .xlsx 工作簿(可能已损坏,或只是改了扩展名)",
            }
        ],
    }
    headers = post_file(client, "/imports", xlsx({"执业人员": [["姓名", "身份证"], ["x", "y"]]}))
    assert headers.status_code == 400
    messages = [e["message"] for e in headers.json()["errors"]]
    assert "工作表“执业人员”第 B 列“身份证”不是模板中的列" in messages
    assert "工作表“执业人员”缺少列“身份证号”" in messages
    assert len(messages) == 1 + len(PRACTITIONERS.columns) - 1
    missing = client.post(f"{API}/imports/dry-run", {"kind": "practitioners"})
    assert missing.status_code == 422 and missing.json()["field"].endswith("file")
    wrong_kind = post_file(client, "/imports/dry-run", people_file(clinic), kind="lots")
    assert wrong_kind.status_code == 422 and wrong_kind.json()["field"] == "kind"
    assert ImportRun.objects.count() == 0


def test_dry_run_then_apply_the_stored_upload(clinic, world):
    client = world.client("wang")
    dry = post_file(
        client, "/imports/dry-run", people_file(clinic, nurse_row(clinic.jia.credit_code, id_number()))
    ).json()
    assert dry["status"] == "valid"
    assert dry["changes"] == [
        {"sheet": "执业人员", "row": 2, "action": "create", "label": "周护士 · 护士", "columns": []}
    ]
    assert world.client("zhao").post(f"{API}/imports/{dry['id']}/apply").status_code == 404
    applied = client.post(f"{API}/imports/{dry['id']}/apply")
    assert applied.status_code == 201
    assert_documented(applied, "POST", "/api/v1/bulk/imports/{run_id}/apply")
    assert (applied.json()["status"], applied.json()["source_id"]) == ("applied", dry["id"])
    assert Practitioner.objects.filter(name="周护士").exists()
    twice = client.post(f"{API}/imports/{dry['id']}/apply")
    assert twice.status_code == 409 and twice.json()["code"] == "ALREADY_APPLIED"
    assert_documented(twice, "POST", "/api/v1/bulk/imports/{run_id}/apply")


def test_one_step_import_writes_all_or_answers_422_with_every_error(clinic, world):
    client = world.client("wang")
    good = nurse_row(clinic.jia.credit_code, id_number())
    bad = nurse_row(clinic.yi.credit_code, id_number(), name="乙护士")
    failed = post_file(client, "/imports", people_file(clinic, good, bad))
    assert failed.status_code == 422
    assert_documented(failed, "POST", "/api/v1/bulk/imports")
    body = failed.json()
    assert body["code"] == "IMPORT_FAILED"
    assert body["errors"] == [
        {
            "field": "执业人员!A3",
            "code": "invalid",
            "sheet": "执业人员",
            "row": 3,
            "column": "主执业机构统一社会信用代码",
            "cell": "A3",
            "message": f"统一社会信用代码为 {clinic.yi.credit_code} 的机构不存在或无权访问",
        }
    ]
    assert body["run"]["status"] == "failed"
    assert not Practitioner.objects.filter(name="周护士").exists()
    created = post_file(client, "/imports", people_file(clinic, good))
    assert created.status_code == 201 and created.json()["totals"]["create"] == 1
    assert Practitioner.objects.filter(name="周护士").exists()


def test_runs_are_listed_for_the_uploader_and_the_institution_without_rows_for_others(clinic, world):
    wang = world.client("wang")
    run = post_file(
        wang, "/imports", people_file(clinic, nurse_row(clinic.jia.credit_code, id_number()))
    ).json()
    listed = wang.get(f"{API}/imports").json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    assert world.client("sun").get(f"{API}/imports").json()["items"] == []
    assert world.client("sun").get(f"{API}/imports/{run['id']}").status_code == 404
    auditor = world.client("qian").get(f"{API}/imports/{run['id']}")
    assert auditor.status_code == 200
    assert auditor.json()["changes"] == [] and auditor.json()["totals"]["create"] == 1
    assert len(wang.get(f"{API}/imports/{run['id']}").json()["changes"]) == 1


def test_the_api_needs_authentication(world):
    from django.test import Client

    response = Client().get(f"{API}/templates/full")
    assert response.status_code == 401
