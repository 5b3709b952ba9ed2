// Draws each <div class="chart" data-source="ID"> with uPlot from the JSON in <script id="ID">.
// The same figures are in the page's table, so nothing depends on this script.
(function () {
  "use strict";
  var COLOURS = ["#1d4f91", "#00703c", "#6f4d00", "#6a1b9a", "#b10e1e", "#4a4a4a", "#005a8c"];
  var DASHES = [[], [6, 3], [2, 2], [8, 2, 2, 2], [4, 4], [1, 3], [10, 4]];
  function draw(el) {
    var src = document.getElementById(el.getAttribute("data-source"));
    if (!src || !window.uPlot) { return; }
    var d = JSON.parse(src.textContent);
    if (!d.x.length) { return; }
    var series = [{ label: "time" }];
    var data = [d.x];
    d.series.forEach(function (s, i) {
      // a dash pattern as well as a colour: a series is never told apart by colour alone
      series.push({ label: s.label, stroke: COLOURS[i % COLOURS.length],
                    dash: DASHES[i % DASHES.length], width: i === 0 ? 2 : 1.5, spanGaps: false });
      data.push(s.values);
    });
    var width = Math.max(280, el.clientWidth || 800);
    el.textContent = "";
    new window.uPlot({ width: width, height: 260, series: series,
                       axes: [{}, { label: "milliseconds" }] }, data, el);
  }
  function all() {
    Array.prototype.forEach.call(document.querySelectorAll("div.chart[data-source]"), draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", all);
  } else { all(); }
})();
