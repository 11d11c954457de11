/* meiguard: the page behaviour that used to sit in inline handlers (the Content-Security-Policy forbids them). */
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.matches && el.matches("[data-submit-on-change]") && el.form) {
    el.form.submit();
  }
});
