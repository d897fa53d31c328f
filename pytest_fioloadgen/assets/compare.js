/* The static site's compare page: compare.html#<run id>,<run id>,... (a key page's
 * "compare the runs ticked"). Loads each run's data file as run.html does (a script
 * element: works from file://), then shows every metric side by side with its delta
 * against the first run, each run's stored verdict, and the runs' latency distributions
 * and time series overlaid (charts.js, the UI's compare page draws the same). All text
 * goes through textContent. */
(function () {
  'use strict';
  var main = document.getElementById('compare');
  if (!main || !main.hasAttribute('data-format')) { return; }
  var C = window.fioloadgenCharts;
  var ids = window.location.hash.slice(1).split(',').filter(Boolean).map(decodeURIComponent);
  var docs = {};

  var el = C.el;
  function fail(message) {
    main.textContent = '';
    main.appendChild(el('p', { 'class': 'fio-error', id: 'compare-error' }, [message]));
  }
  function name(doc) {
    var run = doc.run;
    var test = run.test_id ? run.test_id.split('::').pop() + ' · ' : '';
    return test + run.run_id.slice(0, 12);
  }

  function render(found) {
    var base = found[0].run;
    var metrics = [];
    found.forEach(function (doc) {
      Object.keys(doc.run.metrics || {}).forEach(function (m) { if (metrics.indexOf(m) < 0) { metrics.push(m); } });
    });
    metrics.sort();
    var head = [el('th', {}, ['metric'])];
    found.forEach(function (doc, i) {
      head.push(el('th', {}, [el('a', { href: 'run.html#' + encodeURIComponent(doc.run.run_id) }, [name(doc)])]));
      if (i) { head.push(el('th', {}, ['Δ vs first'])); }
    });
    var rows = [el('tr', {}, [el('td', {}, ['verdict'])].concat([].concat.apply([], found.map(function (doc, i) {
      var cells = [el('td', { 'class': 'verdict' }, [doc.run.verdict || '-'])];
      if (i) { cells.push(el('td', {}, [''])); }
      return cells;
    }))))];
    metrics.forEach(function (m) {
      var cells = [el('td', {}, [m])];
      found.forEach(function (doc, i) {
        var value = doc.run.metrics[m];
        cells.push(el('td', { 'class': 'num' }, [C.metric(m, value)]));
        if (i) {
          var d = C.delta(m, value, base.metrics[m]);
          cells.push(el('td', { 'class': 'num delta' + (d.worse ? ' worse' : ''), 'data-metric': m }, [C.percent(d.pct)]));
        }
      });
      rows.push(el('tr', {}, cells));
    });
    main.textContent = '';
    main.appendChild(el('h1', {}, ['compare ' + found.length + ' runs']));
    main.appendChild(el('p', {}, ['Δ: change against the first run; worse in red (lower throughput, higher latency).']));
    main.appendChild(el('table', { id: 'compare-table' }, [el('thead', {}, [el('tr', {}, head)]), el('tbody', {}, rows)]));
    var charts = C.overlays(found.map(function (doc) {
      var derived = doc.derived || {};
      return { name: name(doc), latency: derived.latency, timeseries: derived.timeseries,
        spectrum: (doc.run || {}).spectrum };
    }));
    var boxes = charts.map(function (item) {
      var canvas = el('canvas', { id: item.id, 'class': 'fio-run-chart' });
      var box = el('div', { 'class': 'fio-run-chartbox' }, [canvas]);
      main.appendChild(box);
      return [canvas, item];
    });
    boxes.forEach(function (pair) { C.make(pair[0], pair[1].config, pair[1].id); });
    main.dataset.rendered = String(found.length);
  }

  if (ids.length < 2) { fail('name two or more runs: compare.html#<run id>,<run id> (tick them on a key page)'); return; }
  // Each data file calls fioloadgenRun(doc); load them one after the other.
  window.fioloadgenRun = function (doc) { docs[doc.run.run_id] = doc; };
  var next = 0;
  function load() {
    if (next >= ids.length) {
      var missing = ids.filter(function (id) { return !docs[id]; });
      if (missing.length) { fail('no data for run(s) ' + missing.join(', ')); return; }
      render(ids.map(function (id) { return docs[id]; }));
      return;
    }
    var id = ids[next++];
    var script = document.createElement('script');
    script.src = window.fioloadgenRunDataPath(id);
    script.onload = load;
    script.onerror = load;
    document.body.appendChild(script);
  }
  load();
  window.addEventListener('hashchange', function () { window.location.reload(); });
}());
