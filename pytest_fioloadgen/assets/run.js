/* A run page: the static history site's (run.html#<run id>) and the results server's UI
 * render a run with this one renderer, so both show the same content.
 *
 * window.fioloadgenRenderRun(container, doc, options) renders a run document
 * (report/run_document.py: {run: the stored record, derived: what its fio document
 * gives}). Every field of the stored record is shown: the known ones in their own
 * sections (the stored verdict with its reason, threshold checks and comparisons), any
 * other one (fields later versions add) in a generic table, so nothing the record holds
 * is hidden. All text goes through textContent.
 *
 * On the site's run.html (a <main id="run" data-format>), the run's data file
 * (runs/<shard>/<name>.js, which calls fioloadgenRun) is loaded from the page's hash:
 * a script element, no fetch, no network, so it works from file://. */
(function () {
  'use strict';
  var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];
  // Fields shown in a section of their own (everything else goes to "other fields").
  var SHOWN = ['run_id', 'session_id', 'profile_name', 'profile_hash', 'profile_text',
    'workers', 'backend', 'target', 'started_at', 'finished_at', 'status', 'metrics',
    'labels', 'fingerprint', 'notes', 'repeat', 'test_id', 'verdict', 'error',
    'history_key', 'comparisons', 'evidence'];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  // The same names as site.py's file_name and run_data_path.
  function fileName(id) {
    if (/^[A-Za-z0-9_-]+$/.test(id)) { return id; }
    var bytes = new TextEncoder().encode(id);
    return '~' + Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? '0' : '') + b.toString(16);
    }).join('');
  }
  function dataPath(id) {
    var name = fileName(id);
    var shard = name.replace(/^~/, '').slice(0, 2) || '_';
    while (shard.length < 2) { shard += '_'; }
    return 'runs/' + shard + '/' + name + '.js';
  }

  function text(value) {
    if (value === null || value === undefined) { return '-'; }
    if (typeof value === 'number') {
      return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
    }
    if (typeof value === 'object') { return JSON.stringify(value); }
    return String(value);
  }
  function when(seconds) {
    return new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }
  function badge(status) {
    var ok = ['pass', 'unchanged', 'improvement', 'improved'].indexOf(status) >= 0;
    var warn = ['suspect', 'inconclusive'].indexOf(status) >= 0;
    var none = ['none', 'insufficient-history', 'skipped', '-'].indexOf(status) >= 0;
    var css = ok ? 'fio-ok' : warn ? 'fio-warn' : none ? 'fio-none' : 'fio-bad';
    return el('span', { 'class': 'fio-verdict ' + css, 'data-status': text(status) }, [text(status)]);
  }
  function section(title, id, children) {
    return el('section', { id: id }, [el('h3', {}, [title])].concat(children));
  }
  // A table of objects; columns are the union of their keys, ``first`` leading.
  function objectTable(rows, first, cssClass) {
    var columns = (first || []).slice();
    rows.forEach(function (row) {
      Object.keys(row).forEach(function (key) { if (columns.indexOf(key) < 0) { columns.push(key); } });
    });
    return el('table', { 'class': cssClass || '' }, [
      el('thead', {}, [el('tr', {}, columns.map(function (c) { return el('th', {}, [c]); }))]),
      el('tbody', {}, rows.map(function (row) {
        return el('tr', {}, columns.map(function (c) { return el('td', {}, [text(row[c])]); }));
      }))
    ]);
  }
  function pairsTable(mapping, cssClass) {
    var keys = Object.keys(mapping || {}).sort();
    return el('table', { 'class': cssClass || '' }, [el('tbody', {}, keys.map(function (key) {
      return el('tr', {}, [el('td', {}, [key]), el('td', {}, [text(mapping[key])])]);
    }))]);
  }
  // Charts are drawn after the page is in the document (Chart.js measures its box).
  var charts = [];
  function chart(id, config) {
    var canvas = el('canvas', { id: id, 'class': 'fio-run-chart' });
    var box = el('div', { 'class': 'fio-run-chartbox' }, [canvas]);
    charts.push([canvas, config]);
    return box;
  }

  // The verdict decided once by the session and stored with the run, with its reason
  // and the threshold checks it was decided on; never recomputed here.
  function verdictSection(run) {
    var evidence = run.evidence || {};
    var parts = [badge(run.verdict || (run.status === 'failed' ? 'error' : '-'))];
    if (evidence.reason) { parts.push(el('p', { 'class': 'fio-reason', id: 'verdict-reason' }, [evidence.reason])); }
    if (Array.isArray(evidence.checks) && evidence.checks.length) {
      parts.push(objectTable(evidence.checks, ['metric', 'bound', 'limit', 'measured', 'passed',
        'worker', 'source'], 'fio-checks'));
    }
    if (run.error) { parts.push(el('p', { 'class': 'fio-error' }, [run.error])); }
    return section('verdict', 'verdict', parts);
  }

  function workerSection(derived) {
    var workers = derived.per_worker || [];
    if (!workers.length) { return null; }
    return section('per worker', 'per-worker', [
      objectTable(workers, ['worker', 'jobs', 'iops', 'bw_mib_s', 'read_lat_p99_ms',
        'write_lat_p99_ms'], 'fio-workers'),
      chart('chart-workers', {
        type: 'bar',
        data: {
          labels: workers.map(function (w) { return w.worker; }),
          datasets: [{ label: 'IOPS', data: workers.map(function (w) { return w.iops; }),
            backgroundColor: palette[0] }]
        },
        options: { plugins: { title: { display: true, text: 'IOPS per worker' } } }
      })
    ]);
  }

  function latencySection(derived) {
    var directions = Object.keys(derived.latency || {});
    if (!directions.length) { return null; }
    var parts = [];
    directions.forEach(function (direction, index) {
      var latency = derived.latency[direction];
      parts.push(chart('chart-latency-' + direction, {
        type: 'bar',
        data: {
          labels: latency.histogram.map(function (b) { return '≤ ' + text(b.le_ms) + ' ms'; }),
          datasets: [{ label: direction + ' completions', backgroundColor: palette[index],
            data: latency.histogram.map(function (b) { return b.count; }) }]
        },
        options: { plugins: { title: { display: true, text: direction + ' latency distribution' } } }
      }));
      var percentiles = {};
      Object.keys(latency.percentiles_ms).forEach(function (p) {
        percentiles[/^p/.test(p) ? p : 'p' + p] = latency.percentiles_ms[p];
      });
      percentiles.min = latency.min_ms;
      percentiles.mean = latency.mean_ms;
      percentiles.max = latency.max_ms;
      percentiles.samples = latency.samples;
      parts.push(el('h4', {}, [direction + ' latency (ms)']), pairsTable(percentiles, 'fio-latency'));
    });
    return section('latency', 'latency', parts);
  }

  function timeseriesSection(derived) {
    var series = derived.timeseries;
    if (!series || !series.workers) { return null; }
    var kinds = [['iops', ['read_iops', 'write_iops'], 'IOPS over the run'],
      ['lat', ['read_lat_ms', 'write_lat_ms'], 'latency over the run (ms)']];
    var parts = [];
    kinds.forEach(function (kind) {
      var datasets = [];
      Object.keys(series.workers).sort().forEach(function (worker) {
        kind[1].forEach(function (name) {
          var points = series.workers[worker][name];
          if (!points || !points.length) { return; }
          var color = palette[datasets.length % palette.length];
          datasets.push({ label: worker + ' ' + name, borderColor: color, backgroundColor: color,
            pointRadius: 0, data: points.map(function (p) { return { x: p[0] / 1000, y: p[1] }; }) });
        });
      });
      if (datasets.length) {
        parts.push(chart('chart-timeseries-' + kind[0], {
          type: 'line',
          data: { datasets: datasets },
          options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 's' } } },
            plugins: { title: { display: true, text: kind[2] } } }
        }));
      }
    });
    return parts.length ? section('time series', 'timeseries', parts) : null;
  }

  function render(main, doc, options) {
    var run = doc.run;
    var derived = doc.derived || {};
    var key = doc.key || {};
    var keyHref = (options && options.keyHref) || key.page || 'index.html';
    charts = [];
    var parts = [
      el('h1', {}, [(options && options.title) || 'run ' + run.run_id]),
      el('p', {}, [
        el('a', { href: keyHref, id: 'key-link' }, [key.title || run.history_key || '-']),
        ' · ' + when(run.started_at) + ' · session ' + run.session_id +
          (run.test_id ? ' · test ' + run.test_id : '') + ' · key ' + (run.history_key || '-')
      ]),
      verdictSection(run)
    ];
    var comparisons = (run.evidence || {}).comparisons || run.comparisons;
    if (Array.isArray(comparisons) && comparisons.length) {
      parts.push(section('comparisons with the baseline', 'comparisons',
        [objectTable(comparisons, ['metric', 'status', 'current', 'baseline_center',
          'baseline_spread', 'baseline_n', 'delta_pct', 'tolerance_pct', 'test', 'p_value',
          'mde_pct', 'repeats_needed'], 'fio-comparisons')]));
    }
    parts.push(section('metrics', 'metrics', [pairsTable(run.metrics, 'fio-metrics')]));
    if (derived.unreadable) {
      parts.push(el('p', { 'class': 'fio-error' }, ['stored fio output unreadable: ' + derived.unreadable]));
    }
    [workerSection(derived), latencySection(derived), timeseriesSection(derived)].forEach(function (s) {
      if (s) { parts.push(s); }
    });
    if (run.notes && run.notes.length) {
      parts.push(section('notes', 'notes', [el('ul', {}, run.notes.map(function (n) {
        return el('li', {}, [text(n)]);
      }))]));
    }
    var facts = { workers: run.workers, backend: run.backend, target: run.target,
      profile: run.profile_name, profile_hash: run.profile_hash, repeat: run.repeat,
      started: when(run.started_at), finished: when(run.finished_at), status: run.status };
    parts.push(section('run', 'facts', [pairsTable(facts, 'fio-facts')]));
    parts.push(section('labels', 'labels', [pairsTable(run.labels, 'fio-facts')]));
    parts.push(section('environment', 'fingerprint', [pairsTable(run.fingerprint, 'fio-facts')]));
    parts.push(section('profile as run', 'profile', [el('pre', {}, [run.profile_text || ''])]));
    var others = {};
    Object.keys(run).forEach(function (name) { if (SHOWN.indexOf(name) < 0) { others[name] = run[name]; } });
    if (Object.keys(others).length) {
      parts.push(section('other fields', 'other', [pairsTable(others, 'fio-facts')]));
    }
    main.textContent = '';
    parts.forEach(function (part) { main.appendChild(part); });
    if (typeof Chart !== 'undefined') {
      charts.forEach(function (item) {
        item[1].options = Object.assign({ animation: false, maintainAspectRatio: false }, item[1].options);
        new Chart(item[0], item[1]);
        item[0].setAttribute("data-chart-ready", "1");
      });
    }
    main.dataset.rendered = run.run_id;
  }

  function fail(main, message) {
    main.textContent = '';
    main.appendChild(el('p', { 'class': 'fio-error', id: 'run-error' }, [message]));
  }


  window.fioloadgenRenderRun = function (main, doc, options) {
    try { render(main, doc, options); } catch (err) { fail(main, 'cannot show this run: ' + err); }
  };

  // The static site's run.html: the run named by the hash, from its data file.
  var main = document.getElementById('run');
  if (!main || !main.hasAttribute('data-format')) { return; }
  window.fioloadgenRun = function (doc) {
    document.title = 'run ' + doc.run.run_id;
    window.fioloadgenRenderRun(main, doc);
  };
  var id = decodeURIComponent(window.location.hash.slice(1));
  if (!id) { fail(main, 'no run given: open this page from a history key\'s list of runs'); return; }
  var script = document.createElement('script');
  script.src = dataPath(id);
  script.onerror = function () { fail(main, 'no data for run ' + id + ' (' + dataPath(id) + ')'); };
  document.body.appendChild(script);
  window.addEventListener('hashchange', function () { window.location.reload(); });
}());
