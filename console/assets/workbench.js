// Incident workbench: progressive enhancement only. A live refresh
// replaces the workbench; the step details a person opened stay open.
(function () {
  "use strict";
  var open = {};
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "wb") { return; }
    open = {};
    e.detail.target.querySelectorAll("details[data-keep][open]").forEach(function (d) {
      open[d.getAttribute("data-keep")] = true;
    });
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("details[data-keep]").forEach(function (d) {
      if (open[d.getAttribute("data-keep")]) { d.open = true; }
    });
  });
})();
