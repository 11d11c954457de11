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
