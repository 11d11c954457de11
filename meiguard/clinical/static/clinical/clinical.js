/* meiguard clinical pages: the drawn signature, the per-site stopwatch and the scan-first inputs.
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

  function typeAhead(input) {
    /* Type part of a name (Chinese or pinyin-free text as shown) to narrow the <select> it names: options
       and whole groups that do not match are hidden, and the first match is selected. */
    var select = document.getElementById(input.getAttribute("data-filter-for"));
    if (!select) { return; }
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var firstMatch = null;
      Array.prototype.forEach.call(select.querySelectorAll("option"), function (o) {
        var hit = !q || !o.value || o.textContent.toLowerCase().indexOf(q) !== -1;
        o.hidden = !hit;
        if (hit && o.value && !firstMatch) { firstMatch = o; }
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (g) {
        g.hidden = !Array.prototype.some.call(g.querySelectorAll("option"), function (o) { return !o.hidden; });
      });
      if (q && firstMatch && select.selectedOptions[0] && select.selectedOptions[0].hidden) {
        select.value = firstMatch.value;
      }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-filter-for]"), typeAhead);
    Array.prototype.forEach.call(document.querySelectorAll("[data-signature-form]"), signaturePad);
    Array.prototype.forEach.call(document.querySelectorAll("[data-timer]"), stopwatch);
    Array.prototype.forEach.call(document.querySelectorAll("[data-scan]"), scanInput);
    /* Browsers skip autofocus when the URL has a #fragment (we return to the step's anchor): focus the
       scan-first input of the next step ourselves, so the scanner's keystrokes land in it. */
    var first = document.querySelector("[data-scan][autofocus]");
    function focusScan() { if (first && document.activeElement !== first) { first.focus(); } }
    focusScan();
    window.addEventListener("load", focusScan);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
