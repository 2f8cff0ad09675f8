// Playbook and rule editors: progressive enhancement only (the forms
// post without this file). The line gutter follows the text as it
// scrolls, and "line N" in the linter's list puts the cursor on line N.
(function () {
  "use strict";
  var ta = document.getElementById("pb-body");
  if (!ta) { return; }

  function gutter() { return document.getElementById("pb-gutter"); }
  function follow() {
    var g = gutter();
    if (g) { g.scrollTop = ta.scrollTop; }
  }
  function size() {
    var g = gutter();
    if (g) { g.style.height = ta.offsetHeight + "px"; }
  }
  ta.addEventListener("scroll", follow);
  if (window.ResizeObserver) { new ResizeObserver(size).observe(ta); }
  size();
  // The linter's answer replaces the gutter (an out-of-band swap).
  document.body.addEventListener("htmx:afterSettle", function () { size(); follow(); });

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest(".lint-go");
    if (!b) { return; }
    var n = parseInt(b.getAttribute("data-line"), 10);
    if (!(n > 0)) { return; }
    var lines = ta.value.split("\n");
    var at = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) { at += lines[i].length + 1; }
    var end = at + (lines[n - 1] || "").length;
    ta.focus();
    ta.setSelectionRange(at, end);
    // Scroll the line into view: lines are of equal height.
    var lh = parseFloat(window.getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (n - 3) * lh);
    follow();
  });
})();
