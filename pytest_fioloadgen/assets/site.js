/* Trend charts of the static history site (fioloadgen report). Reads the JSON block
 * written by pytest_fioloadgen/report/site.py and draws it with the vendored Chart.js.
 * Works from file://: no fetch, no modules, no network. */
(function () {
  'use strict';
  // A key page's "compare the runs ticked": the site's compare page with their ids.
  var picker = document.getElementById('fio-compare-picked');
  if (picker) {
    picker.addEventListener('click', function () {
      var ids = Array.prototype.map.call(document.querySelectorAll('input.fio-pick:checked'),
        function (box) { return encodeURIComponent(box.value); });
      if (ids.length) { window.location.href = picker.getAttribute('data-page') + '#' + ids.join(','); }
    });
  }
  var block = document.getElementById('trend-data');
  if (!block || typeof Chart === 'undefined') { return; }
  var data = JSON.parse(block.textContent);
  var C = window.fioloadgenCharts;
  var palette = C.palette;

  data.charts.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) { return; }
    var datasets = [];
    var values = [];
    var metrics = Object.keys(spec.series);
    Object.keys(spec.series).forEach(function (metric, index) {
      var series = spec.series[metric];
      if (!series.some(function (v) { return v !== null; })) { return; }
      var color = palette[index % palette.length];
      values = values.concat(series);
      datasets.push({
        label: metric,
        data: series,
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
    // The scale comes from the data alone: a limit far away is drawn at the edge's side
    // (its legend says so), never squeezing the data flat.
    var latency = metrics.every(function (m) { return /_ms$/.test(m); });
    var axis = C.valueAxis(values, latency ? 'latency' : 'count');
    Object.keys(spec.thresholds).forEach(function (metric) {
      spec.thresholds[metric].forEach(function (limit) {
        var off = limit.value < axis.min || limit.value > axis.max;
        datasets.push(C.reference(
          metric + ' ' + limit.bound + ' ' + C.metric(metric, limit.value) + (off ? ' (off scale)' : ''),
          data.labels.map(function () { return limit.value; }), '#c62828'));
      });
    });
    var chart = C.make(canvas, {
      type: 'line',
      data: { labels: data.labels, datasets: datasets },
      options: {
        scales: { y: axis },
        plugins: { title: { display: true, text: spec.title } },
        onClick: function (event, elements) {
          if (elements.length) { window.location.href = data.runs[elements[0].index]; }
        }
      }
    }, spec.id);
    canvas.dataset.points = String(data.labels.length);
    canvas.dataset.datasets = String(chart.data.datasets.length);
  });
}());
