// Sorting the leaderboard by a click on a column, and a self-check of the rendering:
// on load, the leaderboard must have its rows and every chart must have drawn something;
// <body data-rendered> becomes "ok" or "failed: ..." (tests read it from the DOM).
(function () {
  "use strict";
  function sortable(table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var desc = th.getAttribute("aria-sort") !== "descending";
        var num = th.dataset.type === "num";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
          var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      });
    });
  }
  function check() {
    var failed = [];
    var body = document.body;
    var rows = document.querySelectorAll("#leaderboard tbody tr").length;
    var want = parseInt(body.dataset.rows, 10);
    if (rows === 0 || rows !== want) failed.push("leaderboard has " + rows + " rows, expected " + want);
    var expect = (body.dataset.expect || "").split(" ").filter(Boolean);
    expect.forEach(function (name) {
      if (!document.querySelector('svg[data-chart="' + name + '"]')) failed.push(name + ": missing");
    });
    document.querySelectorAll("svg[data-chart]").forEach(function (svg, i) {
      var name = svg.dataset.chart + " #" + i;
      var box = svg.getBoundingClientRect();
      if (!(box.width > 0 && box.height > 0)) failed.push(name + ": empty box");
      var drawn = svg.getBBox();
      if (!(drawn.width > 0 && drawn.height > 0)) failed.push(name + ": nothing drawn");
    });
    body.dataset.rendered = failed.length ? "failed: " + failed.join("; ") : "ok";
  }
  document.querySelectorAll("table.sortable").forEach(sortable);
  window.addEventListener("load", function () {
    try { check(); } catch (e) { document.body.dataset.rendered = "failed: " + e; }
  });
})();
