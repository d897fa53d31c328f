/* Trend charts of the static history site (fioloadgen report). Reads the JSON block
 * written by pytest_fioloadgen/report/site.py and draws it with the vendored Chart.js.
 * Works from file://: no fetch, no modules, no network. */
(function () {
  'use strict';
  var block = document.getElementById('trend-data');
  if (!block || typeof Chart === 'undefined') { return; }
  var data = JSON.parse(block.textContent);
  var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd'];
  var limitColors = { min: '#c62828', max: '#c62828' };

  data.charts.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) { return; }
    var datasets = [];
    Object.keys(spec.series).forEach(function (metric, index) {
      var values = spec.series[metric];
      if (!values.some(function (v) { return v !== null; })) { return; }
      var color = palette[index % palette.length];
      datasets.push({
        label: metric,
        data: values,
        borderColor: color,
        backgroundColor: color,
        spanGaps: true,
        tension: 0,
        // A change point is drawn as a large red triangle on every line.
        pointStyle: data.change.map(function (c) { return c ? 'triangle' : 'circle'; }),
        pointRadius: data.change.map(function (c) { return c ? 8 : 3; }),
        pointBackgroundColor: data.change.map(function (c) { return c ? '#c62828' : color; })
      });
    });
    Object.keys(spec.thresholds).forEach(function (metric) {
      spec.thresholds[metric].forEach(function (limit) {
        datasets.push({
          label: metric + ' ' + limit.bound + ' ' + limit.value,
          data: data.labels.map(function () { return limit.value; }),
          borderColor: limitColors[limit.bound],
          borderDash: [6, 4],
          borderWidth: 1.5,
          pointRadius: 0,
          fill: false
        });
      });
    });
    var chart = new Chart(canvas, {
      type: 'line',
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: spec.title } },
        onClick: function (event, elements) {
          if (elements.length) { window.location.href = data.runs[elements[0].index]; }
        }
      }
    });
    canvas.dataset.points = String(data.labels.length);
    canvas.dataset.datasets = String(chart.data.datasets.length);
  });
}());
