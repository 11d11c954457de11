/* meiguard clinical pages: the drawn signature, the per-site stopwatch, the scan-first inputs and the camera
   as a scanner.
   No inline scripts or handlers (strict CSP): everything is wired here through data-* attributes. */
(function () {
  "use strict";

  function signaturePad(form) {
    var canvas = form.querySelector("[data-signature-pad]");
    var output = form.querySelector("[data-signature-output]");
    var status = form.querySelector("[data-signature-status]");
    if (!canvas || !output) { return; }
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    var last = null;
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";

    function point(e) {
      var r = canvas.getBoundingClientRect();
      return { x: (e.clientX - r.left) * (canvas.width / r.width), y: (e.clientY - r.top) * (canvas.height / r.height) };
    }
    function mark() {
      drawn = true;
      if (status) { status.textContent = status.getAttribute("data-signed") || "✓"; }
    }
    canvas.addEventListener("pointerdown", function (e) {
      e.preventDefault();
      drawing = true;
      last = point(e);
      if (canvas.setPointerCapture) { try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic */ } }
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) { return; }
      e.preventDefault();
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      last = p;
      mark();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    var clear = form.querySelector("[data-signature-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        output.value = "";
        if (status) { status.textContent = status.getAttribute("data-empty") || ""; }
      });
    }
    form.addEventListener("submit", function () {
      output.value = drawn ? canvas.toDataURL("image/png") : "";
    });
  }

  function stopwatch(box) {
    var minutes = box.querySelector("[data-timer-minutes]");
    var display = box.querySelector("[data-timer-display]");
    var toggle = box.querySelector("[data-timer-toggle]");
    if (!minutes || !toggle) { return; }
    var started = null;
    var tick = null;
    function elapsed() { return started ? Date.now() - started : 0; }
    function show() {
      var s = Math.floor(elapsed() / 1000);
      var mm = String(Math.floor(s / 60)).padStart(2, "0");
      var ss = String(s % 60).padStart(2, "0");
      if (display) { display.textContent = mm + ":" + ss; }
    }
    toggle.addEventListener("click", function () {
      if (started === null) {
        started = Date.now();
        tick = window.setInterval(show, 1000);
        toggle.textContent = toggle.getAttribute("data-label-stop");
        toggle.setAttribute("aria-pressed", "true");
      } else {
        window.clearInterval(tick);
        show();
        minutes.value = String(Math.max(1, Math.ceil(elapsed() / 60000)));
        started = null;
        toggle.textContent = toggle.getAttribute("data-label-start");
        toggle.setAttribute("aria-pressed", "false");
      }
    });
  }

  function scanInput(input) {
    /* A scanner types the code and presses Enter: keep Enter from submitting an empty field, and
       keep focus here after the page loads so the next scan lands in it. */
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !input.value.trim()) { e.preventDefault(); }
    });
  }

  /* The camera as a scanner: where the browser has BarcodeDetector (feature-detected; no library) and a camera,
     a button under a scan-first input reads a code from the camera, fills that input and submits its form as a
     scanner's Enter would. Elsewhere the button stays hidden and the input works with a USB/Bluetooth scanner. */
  var CAMERA_FORMATS = ["data_matrix", "code_128", "qr_code", "ean_13", "ean_8", "upc_a", "code_39", "itf"];

  function cameraAvailable() {
    return "BarcodeDetector" in window && !!navigator.mediaDevices &&
      typeof navigator.mediaDevices.getUserMedia === "function";
  }

  function barcodeDetector() {
    var Detector = window.BarcodeDetector;
    var supported = typeof Detector.getSupportedFormats === "function" ?
      Detector.getSupportedFormats() : Promise.resolve(CAMERA_FORMATS);
    return supported.then(function (formats) {
      var wanted = CAMERA_FORMATS.filter(function (f) { return formats.indexOf(f) !== -1; });
      return wanted.length ? new Detector({ formats: wanted }) : new Detector();
    });
  }

  function scanCamera(box) {
    var input = document.getElementById(box.getAttribute("data-scan-camera"));
    var start = box.querySelector("[data-scan-camera-start]");
    var stop = box.querySelector("[data-scan-camera-stop]");
    var view = box.querySelector("[data-scan-camera-view]");
    var video = box.querySelector("[data-scan-camera-video]");
    var status = box.querySelector("[data-scan-camera-status]");
    if (!input || !start || !view || !video || !cameraAvailable()) { return; }
    box.hidden = false;
    var stream = null;
    var timer = null;
    var running = false;

    function say(key) { if (status) { status.textContent = key ? status.getAttribute(key) || "" : ""; } }
    function close() {
      running = false;
      window.clearTimeout(timer);
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null;
      video.srcObject = null;
      view.hidden = true;
      start.hidden = false;
    }
    function submit(code) {
      close();
      say("");
      input.focus();
      input.value = code;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      var form = input.form;
      if (!form) { return; }
      /* As a scanner's Enter in the field: implicit submission through the form's first submit button. */
      var button = form.querySelector('button[type="submit"], input[type="submit"]');
      if (typeof form.requestSubmit === "function") { form.requestSubmit(button || undefined); } else { form.submit(); }
    }
    function look(detector) {
      if (!running) { return; }
      detector.detect(video).then(function (codes) {
        if (!running) { return; }
        var hit = (codes || []).filter(function (c) { return c && c.rawValue; })[0];
        if (hit) { submit(hit.rawValue); } else { timer = window.setTimeout(function () { look(detector); }, 150); }
      }, function () {
        if (running) { timer = window.setTimeout(function () { look(detector); }, 300); }
      });
    }
    start.addEventListener("click", function () {
      if (running) { return; }
      running = true;
      say("data-aim");
      barcodeDetector().then(function (detector) {
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
          .then(function (s) {
            if (!running) { s.getTracks().forEach(function (t) { t.stop(); }); return; }
            stream = s;
            video.srcObject = s;
            view.hidden = false;
            start.hidden = true;
            return Promise.resolve(video.play()).then(function () { look(detector); });
          });
      }).catch(function () { close(); say("data-denied"); });
    });
    if (stop) { stop.addEventListener("click", function () { close(); say(""); input.focus(); }); }
    box.addEventListener("keydown", function (e) { if (e.key === "Escape" && running) { close(); say(""); input.focus(); } });
    window.addEventListener("pagehide", close);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-signature-form]"), signaturePad);
    Array.prototype.forEach.call(document.querySelectorAll("[data-timer]"), stopwatch);
    Array.prototype.forEach.call(document.querySelectorAll("[data-scan]"), scanInput);
    Array.prototype.forEach.call(document.querySelectorAll("[data-scan-camera]"), scanCamera);
    /* Browsers skip autofocus when the URL has a #fragment (we return to the step's anchor): focus the
       scan-first input of the next step ourselves, so the scanner's keystrokes land in it. */
    var first = document.querySelector("[data-scan][autofocus]");
    function focusScan() { if (first && document.activeElement !== first) { first.focus(); } }
    focusScan();
    window.addEventListener("load", focusScan);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
