"""The camera as a scanner (issue 12 part 8): on a browser with ``BarcodeDetector`` and a camera, the "用摄像头扫码"
button under a scan-first input reads a code from the camera, puts it into that input and submits the form as
a scanner's Enter would; the usage is recorded. Without ``BarcodeDetector`` the button is not shown and the
input works with a scanner as before.

Chromium on Linux has no ``BarcodeDetector``, so the first test stubs it (a detector that finds the code on
its third look) and ``navigator.mediaDevices.getUserMedia`` (a real ``MediaStream`` from a canvas), before
any page script runs. The code is the raw GS1 element string a DataMatrix gives, with the FNC1 separator.
"""

from __future__ import annotations

import json
from decimal import Decimal

from playwright.sync_api import Page, expect

from meiguard.clinical import actions
from meiguard.clinical.models import Case, ChecklistNode, Usage
from meiguard.clinical.tests.conftest import BREAST, TOXIN, clin  # noqa: F401  (fixture)
from meiguard.registry.models import Product
from meiguard.registry.tests.factories import gtin

from .conftest import login, tablet

FAKE_CAMERA = """
(function () {
  var scan = window.__scan = { code: %s, looks: 0, stopped: 0, constraints: null, formats: null };
  function FakeDetector(options) { scan.formats = options && options.formats; }
  FakeDetector.getSupportedFormats = function () { return Promise.resolve(["code_128", "data_matrix", "qr_code"]); };
  FakeDetector.prototype.detect = function (source) {
    scan.looks += 1;
    scan.source = source && source.tagName;
    return Promise.resolve(scan.looks < 3 ? [] : [{ rawValue: scan.code, format: "data_matrix" }]);
  };
  window.BarcodeDetector = FakeDetector;
  navigator.mediaDevices.getUserMedia = function (constraints) {
    scan.constraints = constraints;
    var canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 240;
    canvas.getContext("2d").fillRect(0, 0, 320, 240);
    var stream = canvas.captureStream(10);
    stream.getTracks().forEach(function (t) {
      var stop = t.stop.bind(t);
      t.stop = function () { scan.stopped += 1; stop(); };
    });
    return Promise.resolve(stream);
  };
})();
"""
NO_DETECTOR = "delete window.BarcodeDetector;"


def _in_operation(clin) -> Case:  # noqa: F811
    case = clin.ready(TOXIN)
    actions.open_record(clin.actor("li"), case.pk)
    return case


def test_the_camera_fills_the_scan_field_and_the_usage_is_recorded(page: Page, clin):  # noqa: F811
    lot = clin.clinic.lot
    Product.objects.filter(pk=lot.product_id).update(udi_di=gtin(41))
    code = f"01{gtin(41)}10{lot.lot_no}\x1d17301231"  # raw DataMatrix content: FNC1 after the lot
    page.add_init_script(script=FAKE_CAMERA % json.dumps(code))
    case = _in_operation(clin)
    tablet(page)
    login(page, "li")
    page.goto(f"/clinical/cases/{case.pk}/")
    field = page.get_by_label("扫描批次/UDI 条码")
    expect(field).to_be_focused()
    page.get_by_label("实际剂量").fill("20")
    page.get_by_label("部位", exact=True).fill("眉间")
    camera = page.locator("#step-usage").get_by_role("button", name="用摄像头扫码")
    expect(camera).to_be_visible()
    camera.click()
    # The detector finds the code, the field gets it and the form is submitted: the usage is in the table.
    expect(page.locator("#step-usage table")).to_contain_text(lot.lot_no)
    usage = Usage.objects.get(case=case)  # exactly one
    assert (usage.lot_id, usage.dose_value, usage.site) == (lot.pk, Decimal(20), "眉间")


def test_the_camera_looks_until_it_sees_a_code_and_stops_the_camera(page: Page, clin):  # noqa: F811
    """The same scan, watched before the form leaves the page: the field holds the code, the camera is
    released and the environment-facing camera was asked for."""
    lot = clin.clinic.lot
    code = f"01{gtin(42)}10{lot.lot_no}"
    page.add_init_script(script=FAKE_CAMERA % json.dumps(code))
    case = _in_operation(clin)
    tablet(page)
    login(page, "li")
    page.goto(f"/clinical/cases/{case.pk}/")
    # Keep the form on the page for this test: the submit is observed, not sent.
    page.evaluate(
        """() => { window.__submitted = null;
        document.querySelector('#u-code').form.addEventListener('submit', e => {
          e.preventDefault(); window.__submitted = e.submitter ? e.submitter.textContent.trim() : 'none'; }); }"""
    )
    page.locator("#step-usage").get_by_role("button", name="用摄像头扫码").click()
    expect(page.locator("#u-code")).to_have_value(code)  # the submit follows in the same task
    expect(page.locator("#u-code")).to_be_focused()
    scan = page.evaluate("window.__scan")
    assert scan["looks"] == 3 and scan["source"] == "VIDEO" and scan["stopped"] >= 1
    assert scan["constraints"]["video"]["facingMode"] == {"ideal": "environment"}
    assert scan["constraints"]["audio"] is False
    assert "data_matrix" in scan["formats"] and "code_128" in scan["formats"]
    assert page.evaluate("window.__submitted") == "核验并记录"  # through the form's own submit button
    expect(page.locator("[data-scan-camera-view]")).to_be_hidden()


def test_without_barcode_detector_the_button_is_hidden(page: Page, clin):  # noqa: F811
    page.add_init_script(script=NO_DETECTOR)
    case = _in_operation(clin)
    surgical = clin.case(BREAST)
    clin.consult(surgical)
    clin.consent(surgical)
    clin.assess(surgical)
    clin.review(surgical)
    tablet(page)
    login(page, "li")
    page.goto(f"/clinical/cases/{case.pk}/")
    expect(page.get_by_label("扫描批次/UDI 条码")).to_be_visible()
    camera = page.locator("[data-scan-camera]")
    expect(camera).to_have_count(1)  # rendered (translated) but not shown
    expect(camera).to_be_hidden()
    expect(camera.get_by_role("button", name="用摄像头扫码", include_hidden=True)).to_have_count(1)
    # The wristband input of checklist node 1 offers the camera only where it can work, too.
    page.goto(f"/clinical/cases/{surgical.pk}/")
    expect(page.locator("#n1-scan")).to_be_visible()
    expect(page.locator('[data-scan-camera="n1-scan"]')).to_be_hidden()
    assert not ChecklistNode.objects.filter(case=surgical, completed_at__isnull=False).exists()


def test_the_wristband_camera_button_is_offered_on_checklist_node_1(page: Page, clin):  # noqa: F811
    page.add_init_script(script=FAKE_CAMERA % json.dumps("x"))
    surgical = clin.case(BREAST)
    clin.consult(surgical)
    clin.consent(surgical)
    clin.assess(surgical)
    clin.review(surgical)
    tablet(page)
    login(page, clin.doctor_of(surgical))
    page.goto(f"/clinical/cases/{surgical.pk}/")
    expect(
        page.locator('[data-scan-camera="n1-scan"]').get_by_role("button", name="用摄像头扫码")
    ).to_be_visible()
