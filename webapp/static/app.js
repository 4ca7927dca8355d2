// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("keydown", function (e) {
  // "/" focuses the search box, as in most search tools.
  if (e.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
    var q = document.querySelector('input[name="q"]');
    if (q) { e.preventDefault(); q.focus(); q.select(); }
  }
});
document.addEventListener("submit", function (e) {
  // Prevent double submission of forms that change data.
  var f = e.target;
  if (f.method && f.method.toLowerCase() === "post") {
    if (f.dataset.sent) { e.preventDefault(); return; }
    f.dataset.sent = "1";
  }
});
