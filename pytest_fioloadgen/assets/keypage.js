/* A history key's page, one renderer for the results UI (#/history/<key>/<metric>) and
 * the static site (keys/<key>.html#metric=<metric>): report/key_history.py makes the
 * document.
 *
 * window.fioloadgenRenderKey(container, doc, options) draws: the key's title (test ·
 * profile · workers · target), a metric picker (the metrics the key's runs have), the
 * metric's trend with the baseline band, the change points (triangles) and the
 * thresholds, and the runs newest first, each with a box to tick. A point of the chart
 * (or a run's link) opens that run; two or more ticked runs open the compare page.
 * doc: {history_key, title, case, metrics, metric, points: [{run_id, started_at, value,
 *   verdict, title}] oldest first, baseline_band, change_points, thresholds}.
 * options: runHref(id), compareHref(ids), chooseMetric(metric) (the picker's change).
 * All text goes through textContent (charts.js's el). */
(function () {
  'use strict';
  var C = window.fioloadgenCharts;
  var el = C.el;
  var LINE = '#1565c0';
  var CHANGE = '#ef6c00';
  var PICKED = '#6a1b9a';

  function when(t) {
    if (!t) { return '-'; }
    return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }
  function badge(status) {
    var s = status || 'none';
    var kind = { pass: 'ok', improved: 'ok', suspect: 'warn', inconclusive: 'warn', none: 'none' }[s] || 'bad';
    return el('span', { 'class': 'fio-verdict fio-' + kind, 'data-status': s }, [s]);
  }

  function trendConfig(doc, changes, picked, options) {
    var metric = doc.metric;
    var labels = doc.points.map(function (p) { return when(p.started_at); });
    var values = doc.points.map(function (p) { return p.value; });
    var band = doc.baseline_band;
    // The scale is the data's (and the band's): a far threshold stays at the edge's side,
    // its legend saying so, and never flattens the data.
    var axis = C.valueAxis(band ? values.concat([band.low, band.high]) : values,
      /_ms$/.test(metric) ? 'latency' : 'count');
    function each(fn) { return doc.points.map(fn); }
    var datasets = [{
      label: metric, data: values, borderColor: LINE, backgroundColor: LINE, tension: 0, spanGaps: true,
      pointStyle: each(function (p) { return changes[p.run_id] ? 'triangle' : 'circle'; }),
      pointRadius: each(function (p) { return changes[p.run_id] ? 8 : picked[p.run_id] ? 6 : 3; }),
      pointBackgroundColor: each(function (p) { return changes[p.run_id] ? CHANGE : picked[p.run_id] ? PICKED : LINE; })
    }];
    (doc.thresholds || []).forEach(function (line) {
      var off = line.value < axis.min || line.value > axis.max;
      datasets.push(C.reference('threshold ' + line.bound + ' ' + C.metric(metric, line.value) +
        (off ? ' (off scale)' : ''), each(function () { return line.value; }), '#c62828'));
    });
    if (band) {
      datasets.push({ label: band.label + ' (low)', data: each(function () { return band.low; }),
        borderColor: 'rgba(46,125,50,.5)', pointRadius: 0, fioBand: true });
      datasets.push({ label: band.label + ' (high)', data: each(function () { return band.high; }),
        borderColor: 'rgba(46,125,50,.5)', backgroundColor: 'rgba(46,125,50,.15)', fill: '-1',
        pointRadius: 0, fioBand: true });
    }
    return {
      type: 'line',
      data: { labels: labels, datasets: datasets },
      options: {
        scales: { y: axis },
        plugins: { title: { display: true, text: metric + ' over time' } },
        // Only the series' own points are links: a band or a threshold is no run.
        onClick: function (event, elements) {
          var hit = elements.filter(function (e) { return e.datasetIndex === 0; })[0];
          if (hit) { window.location.href = options.runHref(doc.points[hit.index].run_id); }
        },
        onHover: function (event, elements) {
          var hit = elements.some(function (e) { return e.datasetIndex === 0; });
          event.native.target.style.cursor = hit ? 'pointer' : 'default';
        }
      }
    };
  }

  function render(container, doc, options) {
    var metric = doc.metric;
    var metrics = (doc.metrics || []).slice();
    if (metrics.indexOf(metric) < 0) { metrics.unshift(metric); }
    var changes = {};
    (doc.change_points || []).forEach(function (c) { changes[c.run_id] = c; });
    var picked = {};
    var chart = null;

    var picker = el('select', { id: 'key-metric' }, metrics.map(function (m) {
      var option = el('option', { value: m }, [m]);
      option.selected = m === metric;
      return option;
    }));
    picker.addEventListener('change', function () { options.chooseMetric(picker.value); });
    var compare = el('button', { type: 'button', id: 'key-compare', disabled: 'disabled' }, ['compare the ticked runs']);
    var tickedNote = el('span', { id: 'key-ticked', 'class': 'fio-note', 'aria-live': 'polite' }, ['tick two or more runs to compare them']);
    function ticked() {
      return doc.points.filter(function (p) { return picked[p.run_id]; }).map(function (p) { return p.run_id; });
    }
    compare.addEventListener('click', function () {
      var ids = ticked();
      if (ids.length >= 2) { window.location.href = options.compareHref(ids); }
    });

    var rows = doc.points.slice().reverse().map(function (p) {
      var box = el('input', { type: 'checkbox', 'class': 'key-pick', value: p.run_id, 'aria-label': 'compare run ' + p.run_id });
      box.addEventListener('change', function () {
        if (box.checked) { picked[p.run_id] = true; } else { delete picked[p.run_id]; }
        var ids = ticked();
        compare.disabled = ids.length < 2;
        tickedNote.textContent = ids.length + ' run(s) ticked' + (ids.length < 2 ? ': tick two or more to compare them' : '');
        if (chart) {
          var fresh = trendConfig(doc, changes, picked, options).data.datasets[0];
          chart.data.datasets[0].pointRadius = fresh.pointRadius;
          chart.data.datasets[0].pointBackgroundColor = fresh.pointBackgroundColor;
          chart.update();
        }
      });
      var change = changes[p.run_id];
      return el('tr', { 'data-run': p.run_id, 'class': change ? 'key-change' : '' }, [
        el('td', {}, [box]),
        el('td', {}, [el('a', { href: options.runHref(p.run_id), 'class': 'key-point-link' }, [when(p.started_at)])]),
        el('td', { 'class': 'num' }, [C.metric(metric, p.value)]),
        el('td', {}, [change ? 'level shift ' + C.percent(change.delta_pct) + ' (' + change.direction + ')' : '']),
        el('td', {}, [badge(p.verdict)]),
        el('td', { 'class': 'key-run-title' }, [p.title || p.run_id])
      ]);
    });
    var table = el('table', { id: 'key-points', 'class': 'fio-runs' }, [
      el('caption', {}, ['runs of this key, newest first']),
      el('thead', {}, [el('tr', {}, ['compare', 'run (UTC)', metric, 'change point', 'verdict', 'title'].map(function (h) {
        return el('th', { scope: 'col' }, [h]);
      }))]),
      el('tbody', {}, rows)
    ]);
    var c = doc.case || {};
    var canvas = el('canvas', { id: 'key-trend', role: 'img', 'aria-label': metric + ' of ' + doc.points.length + ' runs over time' });
    var band = doc.baseline_band;
    var parts = [
      el('h1', { id: 'key-title' }, [doc.title]),
      el('p', { id: 'key-facts' }, ['backend ' + c.backend + ' · target ' + c.target + ' · ' + doc.points.length +
        ' run(s) with ' + metric + ' · key ', el('code', {}, [doc.history_key])]),
      c.test ? el('p', { 'class': 'fio-note' }, ['test ', el('code', {}, [c.test])]) : null,
      el('p', { 'class': 'key-controls' }, [el('label', { 'for': 'key-metric' }, ['metric ']), picker, ' ', compare, ' ', tickedNote]),
      el('p', { id: 'key-overlay', 'class': 'fio-note' }, [
        (band ? band.label + ' (' + C.metric(metric, band.low) + ' to ' + C.metric(metric, band.high) + ')' : 'no baseline band yet (too few runs)') +
        ' · ' + (doc.change_points || []).length + ' change point(s) · ' +
        ((doc.thresholds || []).length ? (doc.thresholds || []).map(function (t) { return 'threshold ' + t.bound + ' ' + C.metric(metric, t.value); }).join(', ') : 'no threshold') +
        '. A point opens its run.']),
      el('div', { 'class': 'fio-trend key-trend-box' }, [canvas]),
      table
    ];
    container.textContent = '';
    parts.forEach(function (part) { if (part) { container.appendChild(part); } });

    function draw() {
      if (!document.contains(container)) { return; } // a page replaced before it was shown
      if (!doc.points.length) {
        canvas.replaceWith(el('p', { id: 'key-empty' }, ['no run of this key has ' + metric]));
      } else {
        chart = C.make(canvas, trendConfig(doc, changes, picked, options), 'key-' + metric);
        canvas.setAttribute('data-points', String(doc.points.length));
        canvas.setAttribute('data-metric', metric);
      }
      container.setAttribute('data-rendered', metric);
    }
    // Chart.js measures its box: draw once the container is in the page.
    if (document.contains(container)) { draw(); } else { window.requestAnimationFrame(draw); }
  }

  window.fioloadgenRenderKey = render;

  // The static site's key page: every metric in a JSON block next to its container; the
  // metric shown is in the page's hash (#metric=<name>), so a view is a link.
  var block = document.getElementById('key-data');
  var main = document.getElementById('key');
  if (!block || !main) { return; }
  var data = JSON.parse(block.textContent);
  function chosen() {
    var wanted = new URLSearchParams(window.location.hash.slice(1)).get('metric');
    return wanted && data.series[wanted] ? wanted : data.metrics.indexOf('iops') >= 0 ? 'iops' : data.metrics[0];
  }
  function show() {
    if (window.Chart) {
      Object.values(window.Chart.instances || {}).forEach(function (c) { c.destroy(); });
    }
    var metric = chosen();
    var series = data.series[metric] || { values: [], thresholds: [], baseline_band: null, change_points: [] };
    var points = [];
    data.runs.forEach(function (run, i) {
      var value = series.values[i];
      if (value !== null && value !== undefined) {
        points.push({ run_id: run.run_id, started_at: run.started_at, value: value, verdict: run.verdict, title: run.title });
      }
    });
    render(main, {
      history_key: data.history_key, title: data.title, 'case': data['case'], metrics: data.metrics,
      metric: metric, points: points, baseline_band: series.baseline_band,
      change_points: series.change_points, thresholds: series.thresholds
    }, {
      runHref: function (id) { return '../run.html#' + encodeURIComponent(id); },
      compareHref: function (ids) { return '../compare.html#' + ids.map(encodeURIComponent).join(','); },
      chooseMetric: function (m) { window.location.hash = 'metric=' + encodeURIComponent(m); }
    });
  }
  window.addEventListener('hashchange', show);
  show();
}());
