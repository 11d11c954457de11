/* meiguard: the page behaviour that used to sit in inline handlers (the Content-Security-Policy forbids them). */
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.matches && el.matches("[data-submit-on-change]") && el.form) {
    el.form.submit();
  }
});

/* Phones: the main navigation folds behind a 菜单 button (the quick check stays in view); without script it
   simply stays open. */
document.addEventListener("DOMContentLoaded", function () {
  var header = document.querySelector("header.top");
  var toggle = header && header.querySelector(".menu-toggle");
  if (!toggle) { return; }
  header.classList.add("js-nav");
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    header.classList.toggle("open", open);
  });
});

/* Below 600 px a list's rows become cards: each cell is labelled with its column's heading (data-label),
   read from the table's own header, so templates stay plain tables. Also after htmx swaps. */
function labelCells(root) {
  var tables = root.querySelectorAll ? root.querySelectorAll(".table-wrap > table") : [];
  Array.prototype.forEach.call(tables, function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      var copy = th.cloneNode(true);  // the heading's words only: not the sort arrow nor screen-reader notes
      Array.prototype.forEach.call(copy.querySelectorAll("[aria-hidden], .sr-only"), function (el) { el.remove(); });
      return copy.textContent.replace(/\s+/g, " ").trim();
    });
    // Lists become cards; a grid of many columns (the privilege matrix) keeps scrolling in its region.
    if (!heads.length || heads.length > 12 || table.hasAttribute("data-no-cards")) { return; }
    table.classList.add("cards-sm");
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      var col = 0;
      Array.prototype.forEach.call(tr.children, function (cell) {
        if (heads[col] && !cell.hasAttribute("data-label")) { cell.setAttribute("data-label", heads[col]); }
        col += cell.colSpan || 1;
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
document.addEventListener("htmx:afterSettle", function (event) { labelCells(event.target.parentNode || document); });

/* Type-ahead: type part of a name into an input[data-filter-for] to narrow the <select> it names. Options and
   whole groups that do not match are hidden, and the first match is chosen when nothing (or a hidden option)
   is chosen yet. Used by the check page and the clinical forms; bound again after htmx swaps. */
function typeAhead(input) {
  var select = document.getElementById(input.getAttribute("data-filter-for"));
  if (!select || input.dataset.bound) { return; }
  input.dataset.bound = "1";
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
    var current = select.selectedOptions[0];
    if (q && firstMatch && (!current || current.hidden || !current.value)) {
      select.value = firstMatch.value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
}
function bindTypeAhead(root) {
  if (root.querySelectorAll) { Array.prototype.forEach.call(root.querySelectorAll("[data-filter-for]"), typeAhead); }
}
document.addEventListener("DOMContentLoaded", function () { bindTypeAhead(document); });
document.addEventListener("htmx:afterSettle", function (event) { bindTypeAhead(event.target.parentNode || document); });

/* The idle lock (core/idle.py): the page knows the server's idle limit (body[data-idle-seconds]). While the
   person works, a keep-alive renews the session; idle, a warning shows a minute before the limit, then the page
   locks: an overlay asks for the password, the page and its form stay underneath, untouched. Unlocking resumes
   the same session (same CSRF token), so the form can still be saved. */
document.addEventListener("DOMContentLoaded", function () {
  var body = document.body;
  var limit = parseInt(body.getAttribute("data-idle-seconds") || "", 10);
  var template = document.getElementById("idle-lock-template");
  if (!limit || !template) { return; }
  // The warning and the lock live in a <template> and join the page only when first needed.
  var overlay = null, warning = null, form = null, errorBox = null, countdown = null;
  function ensure() {
    if (overlay) { return; }
    body.appendChild(template.content.cloneNode(true));
    overlay = document.getElementById("idle-lock");
    warning = document.getElementById("idle-warning");
    form = overlay.querySelector("[data-idle-unlock]");
    errorBox = overlay.querySelector("[data-idle-error]");
    countdown = warning.querySelector("[data-idle-countdown]");
    warning.querySelector("[data-idle-continue]").addEventListener("click", function () { active(); keepAlive(); });
    form.addEventListener("submit", unlock);
  }
  var warnBefore = limit > 120 ? 60 : Math.max(1, Math.floor(limit / 2));
  var keepEvery = Math.min(60, Math.max(1, Math.floor(limit / 4)));
  var lastContact = Date.now();   // when the server last renewed the session (as seen from here)
  var lastActivity = lastContact;
  var locked = false;
  var sending = false;

  function csrf() {
    try { return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }
  function post(url, data) {
    return fetch(url, {
      method: "POST", body: data || null, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json" }
    });
  }
  function setInert(on) {
    Array.prototype.forEach.call(document.querySelectorAll("body > header, body > main, body > .skip"), function (el) {
      el.inert = on;
      if (on) { el.setAttribute("aria-hidden", "true"); } else { el.removeAttribute("aria-hidden"); }
    });
  }
  function ended() {  // the server no longer knows this session: only a new sign-in helps
    form.hidden = true;
    overlay.querySelector("[data-idle-ended]").hidden = false;
  }
  function lock(tellServer) {
    if (locked) { return; }
    ensure();
    locked = true;
    warning.hidden = true;
    overlay.hidden = false;
    setInert(true);
    var pw = overlay.querySelector("#idle-password");
    if (pw) { pw.focus(); }
    if (tellServer) {
      post(body.getAttribute("data-idle-lock")).then(function (r) { if (r.status === 401) { ended(); } }, function () {});
    }
  }
  function keepAlive() {
    if (sending || locked) { return; }
    sending = true;
    var sentAt = Date.now();
    post(body.getAttribute("data-idle-keepalive")).then(function (r) {
      sending = false;
      if (r.ok) { lastContact = sentAt; if (warning) { warning.hidden = true; } return; }
      return r.json().then(function (j) {
        lock(false);
        if (j && j.code === "UNAUTHENTICATED") { ended(); }
      });
    }, function () { sending = false; });
  }
  function tick() {
    if (locked) { return; }
    var now = Date.now();
    var idleFor = (now - lastContact) / 1000;
    if (idleFor >= limit) { lock(true); return; }
    if (lastActivity > lastContact && idleFor >= keepEvery) { keepAlive(); }
    if (idleFor >= limit - warnBefore && lastActivity <= lastContact) {
      ensure();
      countdown.textContent = String(Math.max(0, Math.ceil(limit - idleFor)));
      warning.hidden = false;
    }
  }
  function active() {
    if (locked) { return; }
    lastActivity = Date.now();
    if (warning && !warning.hidden) { warning.hidden = true; keepAlive(); }
  }
  ["keydown", "pointerdown", "input", "wheel", "touchstart", "scroll"].forEach(function (type) {
    document.addEventListener(type, active, { capture: true, passive: true });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail && event.detail.successful) { lastContact = Date.now(); }
  });
  document.addEventListener("visibilitychange", tick);
  window.setInterval(tick, 1000);

  function unlock(event) {
    event.preventDefault();
    errorBox.hidden = true;
    post(form.getAttribute("action"), new FormData(form)).then(function (r) {
      return r.json().then(function (j) {
        if (r.ok) {
          locked = false;
          overlay.hidden = true;
          setInert(false);
          form.reset();
          lastContact = lastActivity = Date.now();
          return;
        }
        errorBox.textContent = (j && j.message) || "";
        errorBox.hidden = false;
        if (j && (j.code === "UNAUTHENTICATED" || j.code === "LOCKED_OUT" || j.code === "OTHER_USER")) { ended(); }
        var field = j && j.field && form.querySelector("[name='" + j.field + "']");
        if (field) { field.focus(); }
      });
    }, function () {});
  }
});
