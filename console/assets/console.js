// Riposte console: progressive enhancement only. Pages work without this
// file; with it, htmx requests carry the CSRF token and pages refresh when
// the server says something changed.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (e) {
    if (meta) { e.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
  });

  // The live stream: one EventSource per page; elements that want fresh
  // data listen for "riposte:changed" on the body (hx-trigger).
  var live = document.body.getAttribute("data-live");
  if (live && window.EventSource) {
    var es = new EventSource(live);
    var pending = null;
    es.addEventListener("changed", function () {
      // Bursts of changes become one refresh.
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        if (document.activeElement && document.activeElement.matches("input, textarea, select")) {
          // Do not swap a form out from under someone typing.
          document.body.setAttribute("data-stale", "true");
          return;
        }
        document.body.dispatchEvent(new CustomEvent("riposte:changed", { bubbles: true }));
      }, 300);
    });
    document.addEventListener("focusout", function () {
      if (document.body.getAttribute("data-stale") === "true") {
        document.body.removeAttribute("data-stale");
        document.body.dispatchEvent(new CustomEvent("riposte:changed", { bubbles: true }));
      }
    });
  }

  // Buttons that ask before acting carry data-confirm; the dialog names
  // what will happen (the text comes from the server, escaped there).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var q = f.getAttribute && f.getAttribute("data-confirm");
    if (q && !window.confirm(q)) { e.preventDefault(); }
  }, true);
})();
