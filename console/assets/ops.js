// Riposte console, operations pages: progressive enhancement only. The
// silence form offers three matcher rows without this file; with it, more.
(function () {
  "use strict";
  var add = document.getElementById("add-matcher");
  var set = document.getElementById("matchers");
  if (!add || !set) { return; }
  add.hidden = false;
  add.addEventListener("click", function () {
    var rows = set.querySelectorAll(".ops-matcher");
    var row = rows[rows.length - 1].cloneNode(true);
    var value = row.querySelector("input[name=value]");
    if (value) { value.value = ""; }
    set.appendChild(row);
    var first = row.querySelector("select");
    if (first) { first.focus(); }
  });
})();
