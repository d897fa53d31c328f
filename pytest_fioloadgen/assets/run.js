/* A run page: the static history site's (run.html#<run id>) and the results server's UI
 * render a run with this one renderer, so both show the same content.
 *
 * window.fioloadgenRenderRun(container, doc, options) renders a run document
 * (report/run_document.py: {run: the stored record, derived: what its fio document
 * gives, flags, sweep}). A summary first (the stored verdict with its reason, the flags,
 * the gated metrics with their deltas against the baseline), then tabs (WAI-ARIA: arrow
 * keys, Home, End; "show all sections" makes it one page): timeline, phases,
 * distribution, per worker, response curve, metrics, environment, raw; a tab only when
 * the run has something for it. Charts are drawn when their tab is first shown (Chart.js
 * measures its box). Every field of the stored record is shown: the known ones in their
 * own sections, any other one (fields later versions add) in a generic table, so nothing
 * the record holds is hidden. All text goes through textContent.
 *
 * options: title, keyHref, runHref(id) (links to sibling runs), loadRaw() (a Promise of
 * fio's raw document: the UI's "fio's output"), tab (the tab shown first), saveTab(tab)
 * (called when the reader picks a tab: the host puts it in the URL, so a reload or a
 * shared link opens the same tab).
 *
 * On the site's run.html (a <main id="run" data-format>), the run's data file
 * (runs/<shard>/<name>.js, which calls fioloadgenRun) is loaded from the page's hash
 * (#<run id>, or #<run id>?tab=<tab>): a script element, no fetch, no network, so it
 * works from file://. */
(function () {
  'use strict';
  // The chart vocabulary and number format shared with the site and the UI (charts.js).
  var C = window.fioloadgenCharts;
  var palette = C.palette;
  // Fields shown in a section of their own (everything else goes to "other fields").
  var SHOWN = ['run_id', 'session_id', 'profile_name', 'profile_hash', 'profile_text',
    'workers', 'backend', 'target', 'started_at', 'finished_at', 'status', 'metrics',
    'labels', 'fingerprint', 'notes', 'repeat', 'test_id', 'verdict', 'error',
    'history_key', 'comparisons', 'evidence', 'spectrum', 'sweep'];

  var el = C.el;

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
      return Number.isInteger(value) && Math.abs(value) < 1e6 ? String(value) : C.sig3(value);
    }
    if (Array.isArray(value)) { return value.map(text).join(', '); }
    if (typeof value === 'object') {
      return Object.keys(value).sort().map(function (k) { return k + '=' + text(value[k]); }).join(', ');
    }
    return String(value);
  }
  // A value of a named metric (or comparison field) in the one number format.
  function figure(name, value) {
    if (typeof value !== 'number') { return text(value); }
    if (/_pct$/.test(name)) { return C.percent(value); }
    return C.metric(name, value);
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
  function objectTable(rows, first, cssClass, metricOf) {
    var columns = (first || []).slice();
    rows.forEach(function (row) {
      Object.keys(row).forEach(function (key) { if (columns.indexOf(key) < 0) { columns.push(key); } });
    });
    return el('table', { 'class': cssClass || '' }, [
      el('thead', {}, [el('tr', {}, columns.map(function (c) { return el('th', {}, [c]); }))]),
      el('tbody', {}, rows.map(function (row) {
        return el('tr', {}, columns.map(function (c) {
          var name = metricOf ? metricOf(row, c) : null;
          return el('td', {}, [name ? figure(name, row[c]) : text(row[c])]);
        }));
      }))
    ]);
  }
  // Key and value rows; a nested object becomes a table of its own (the environment's
  // facts are readable, not JSON); ``metrics``: values in the one number format.
  function pairsTable(mapping, cssClass, metrics) {
    var keys = Object.keys(mapping || {}).sort();
    return el('table', { 'class': cssClass || '' }, [el('tbody', {}, keys.map(function (key) {
      var value = mapping[key];
      var cell = value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length
        ? pairsTable(value, 'fio-nested', metrics)
        : (metrics ? figure(key, value) : text(value));
      return el('tr', {}, [el('td', {}, [key]), el('td', {}, [cell])]);
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
    var iops = workers.map(function (w) { return w.iops; });
    return section('per worker', 'per-worker', [
      objectTable(workers, ['worker', 'jobs', 'iops', 'bw_mib_s', 'read_lat_p99_ms',
        'write_lat_p99_ms'], 'fio-workers', function (row, column) {
        return column === 'worker' || column === 'jobs' ? null : column;
      }),
      chart('chart-workers', {
        type: 'bar',
        data: {
          labels: workers.map(function (w) { return w.worker; }),
          datasets: [{ label: 'IOPS', data: iops, backgroundColor: palette[0] }]
        },
        options: { scales: { y: C.valueAxis(iops, 'count', 'IOPS', true) },
          plugins: { title: { display: true, text: 'IOPS per worker' } } }
      })
    ]);
  }

  function latencySection(derived) {
    var directions = Object.keys(derived.latency || {});
    if (!directions.length) { return null; }
    var parts = [];
    directions.forEach(function (direction, index) {
      var latency = derived.latency[direction];
      var counts = latency.histogram.map(function (b) { return b.count; });
      parts.push(chart('chart-latency-' + direction, {
        type: 'bar',
        data: {
          labels: latency.histogram.map(function (b) { return '≤ ' + C.latency(b.le_ms); }),
          datasets: [{ label: direction + ' completions', backgroundColor: palette[index], data: counts }]
        },
        options: { scales: { x: { title: { display: true, text: direction + ' completion latency' } },
          y: C.valueAxis(counts, 'count', 'completions') },
          plugins: { title: { display: true, text: direction + ' latency distribution' } } }
      }));
      var percentiles = {};
      Object.keys(latency.percentiles_ms).forEach(function (p) {
        percentiles[/^p/.test(p) ? p : 'p' + p] = latency.percentiles_ms[p];
      });
      percentiles.min = latency.min_ms;
      percentiles.mean = latency.mean_ms;
      percentiles.max = latency.max_ms;
      percentiles.samples = latency.samples;
      var shown = {};
      Object.keys(percentiles).forEach(function (name) {
        shown[name] = name === 'samples' ? text(percentiles[name]) : C.latency(percentiles[name]);
      });
      parts.push(el('h4', {}, [direction + ' latency']), pairsTable(shown, 'fio-latency'));
    });
    return section('latency', 'latency', parts);
  }

  // The run's latency by percentile (HdrHistogram style) per direction, from its stored
  // spectrum; with a comparison, the band the distribution gate held it to, shaded.
  function distributionSection(run) {
    var spectrum = run.spectrum || {};
    var judged = {};
    (((run.evidence || {}).distribution) || []).forEach(function (item) { judged[item.direction] = item; });
    var parts = [];
    Object.keys(spectrum).sort().forEach(function (direction) {
      var detail = (judged[direction] || {}).detail || {};
      var pick = function (edge) {
        var out = {};
        Object.keys(detail).forEach(function (name) { out[name] = detail[name][edge]; });
        return out;
      };
      var sets = [];
      if (Object.keys(detail).length) {
        sets.push({ label: 'baseline band (low)', key: 'band-low', spectrum: pick('low'), dashed: true, color: '#999' });
        sets.push({ label: 'baseline band (high)', key: 'band-high', spectrum: pick('high'), dashed: true,
          color: '#999', fill: 'rgba(150,150,150,0.15)', fillTo: '-1' });
        sets.push({ label: 'baseline median', key: 'baseline', spectrum: pick('baseline'), dashed: true, color: '#555' });
      }
      sets.push({ label: direction + ' this run', key: 'current', spectrum: spectrum[direction], color: palette[0] });
      var config = C.distribution(direction + ' latency by percentile', sets);
      if (config) { parts.push(chart('chart-distribution-' + direction, config)); }
      if (judged[direction] && judged[direction].message) {
        parts.push(el('p', { 'class': 'fio-reason', 'data-direction': direction }, [judged[direction].message]));
      }
    });
    return parts.length ? section('latency distribution', 'distribution', parts) : null;
  }

  function timeseriesSection(derived) {
    var series = derived.timeseries;
    if (!series || !series.workers) { return null; }
    var kinds = [['iops', ['read_iops', 'write_iops'], 'read/write IOPS over the run', 'count', 'IOPS'],
      ['lat', ['read_lat_ms', 'write_lat_ms'], 'read/write mean latency over the run', 'latency', 'latency']];
    var parts = [];
    kinds.forEach(function (kind) {
      var datasets = [];
      Object.keys(series.workers).sort().forEach(function (worker) {
        kind[1].forEach(function (name) {
          var points = series.workers[worker][name];
          if (!points || !points.length) { return; }
          var color = palette[datasets.length % palette.length];
          datasets.push({ label: worker + ' ' + name.replace(/_/g, ' ').replace(' ms', ''),
            borderColor: color, backgroundColor: color,
            pointRadius: 0, data: points.map(function (p) { return { x: p[0] / 1000, y: p[1] }; }) });
        });
      });
      if (datasets.length) {
        var values = [];
        datasets.forEach(function (d) { d.data.forEach(function (p) { values.push(p.y); }); });
        parts.push(chart('chart-timeseries-' + kind[0], {
          type: 'line',
          data: { datasets: datasets },
          options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'seconds' } },
            y: C.valueAxis(values, kind[3], kind[4]) },
            plugins: { title: { display: true, text: kind[2] } } }
        }));
      }
    });
    return parts.length ? section('time series', 'timeseries', parts) : null;
  }

  // Spans of a timeline drawn as shaded bands behind the data: a stall red, a straggler
  // orange, the common window of skewed workers grey, an injected fault blue.
  var MARK_COLORS = { stall: 'rgba(214,39,40,0.16)', straggler: 'rgba(255,127,14,0.16)', recovery: 'rgba(44,160,44,0.14)',
    skew: 'rgba(120,120,120,0.12)', fault: 'rgba(31,119,180,0.16)' };
  var shade = {
    id: 'fioShade',
    beforeDatasetsDraw: function (chart, args, opts) {
      var marks = (opts && opts.marks) || [];
      var x = chart.scales.x;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      marks.forEach(function (mark) {
        var left = Math.max(x.getPixelForValue(mark.from_s), area.left);
        var right = Math.min(x.getPixelForValue(mark.to_s), area.right);
        if (right <= left) { return; }
        ctx.fillStyle = MARK_COLORS[mark.kind] || 'rgba(0,0,0,0.1)';
        ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
      });
      ctx.restore();
    }
  };

  // The run over time (report/timeline_view.py): merged IOPS per direction with every
  // worker's line on demand, and p50/p99/p99.9 per direction on a log latency axis,
  // exact across workers per interval; stalls, stragglers, skew and faults shaded.
  function timelineSection(derived) {
    var view = derived.timeline;
    if (!view || !view.times_s || !view.times_s.length) { return null; }
    var times = view.times_s;
    var marks = view.marks || [];
    var seconds = { type: 'linear', title: { display: true, text: 'seconds since the client started' } };
    function points(values) {
      return values.map(function (v, i) { return { x: times[i], y: v === null ? null : v }; });
    }
    var parts = [];
    if (marks.length) {
      parts.push(el('ul', { id: 'timeline-marks', 'class': 'fio-marks' }, marks.map(function (m) {
        return el('li', { 'data-kind': m.kind }, [el('span', { 'class': 'fio-mark fio-mark-' + m.kind }, [m.kind]),
          ' ' + C.sig3(m.from_s) + '-' + C.sig3(m.to_s) + ' s: ' + m.label]);
      })));
    }
    var iopsSets = [];
    var iopsValues = [];
    Object.keys(view.directions).forEach(function (direction, index) {
      var values = view.directions[direction].iops;
      iopsValues = iopsValues.concat(values);
      iopsSets.push({ label: direction + ' IOPS (all workers)', fioSeries: direction + ':iops',
        borderColor: palette[index], backgroundColor: palette[index], pointRadius: 0, data: points(values) });
    });
    Object.keys(view.workers || {}).forEach(function (worker, index) {
      var color = palette[(index + 2) % palette.length];
      iopsSets.push({ label: worker + ' IOPS', fioSeries: 'worker:' + worker, hidden: true,
        borderColor: color, backgroundColor: color, borderWidth: 1, pointRadius: 0,
        data: points(view.workers[worker].iops) });
    });
    var toggle = el('input', { type: 'checkbox', id: 'timeline-per-worker' });
    parts.push(el('label', { 'class': 'fio-toggle' }, [toggle, ' per-worker lines']));
    parts.push(chart('chart-timeline-iops', {
      type: 'line',
      data: { datasets: iopsSets },
      plugins: [shade],
      options: { parsing: false, scales: { x: seconds, y: C.valueAxis(iopsValues, 'count', 'IOPS', true) },
        plugins: { fioShade: { marks: marks },
          title: { display: true, text: 'IOPS over time, ' + C.sig3(view.interval_s) + ' s intervals' } } }
    }));
    toggle.addEventListener('change', function () {
      var canvas = document.getElementById('chart-timeline-iops');
      var drawn = canvas && window.Chart ? window.Chart.getChart(canvas) : null;
      if (!drawn) { return; }
      drawn.data.datasets.forEach(function (d) {
        if (/^worker:/.test(d.fioSeries)) { d.hidden = !toggle.checked; }
      });
      drawn.update();
    });
    Object.keys(view.directions).forEach(function (direction) {
      var series = view.directions[direction];
      var sets = [];
      var values = [];
      [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9']].forEach(function (pair, index) {
        var data = series[pair[0]] || [];
        values = values.concat(data.filter(function (v) { return v !== null; }));
        sets.push({ label: direction + ' ' + pair[1], fioSeries: direction + ':' + pair[0],
          borderColor: palette[index], backgroundColor: palette[index], pointRadius: 1.5,
          spanGaps: false, data: points(data) });
      });
      if (!values.length) { return; }
      var axis = C.valueAxis(values, 'latency', direction + ' completion latency');
      if (axis.type !== 'logarithmic') {
        // Latency over time reads on a log axis: a stall of 100x sits beside 1x.
        var positive = values.filter(function (v) { return v > 0; });
        axis = C.valueAxis(positive.concat([Math.min.apply(null, positive) / 10]), 'latency',
          direction + ' completion latency');
        axis.type = 'logarithmic';
      }
      parts.push(chart('chart-timeline-lat-' + direction, {
        type: 'line',
        data: { datasets: sets },
        plugins: [shade],
        options: { parsing: false, scales: { x: seconds, y: axis },
          plugins: { fioShade: { marks: marks },
            title: { display: true, text: direction + ' latency percentiles over time (exact across workers)' } } }
      }));
    });
    parts.push(el('p', { 'class': 'fio-note' }, ['Percentiles per interval come from the workers\' histograms summed, ' +
      'within ' + text(view.error_pct) + '% (the stored bins\' width); an interval with too few I/Os for a percentile ' +
      'leaves a gap (p99 needs 1,000, p99.9 10,000).']));
    return section('timeline', 'timeline', parts);
  }

  // The run's phases around its fault (verdicts/phases.py), as stored.
  function phasesSection(derived) {
    var view = derived.timeline;
    if (!view || !view.phases || !view.phases.length) { return null; }
    return section('phases around the fault', 'phases', [objectTable(view.phases, ['phase', 'from_s', 'to_s',
      'iops', 'bw_mib_s', 'read_lat_mean_ms', 'read_lat_p99_ms', 'write_lat_mean_ms', 'write_lat_p99_ms'],
    'fio-phases', function (row, column) {
      return column === 'phase' || /_s$/.test(column) ? null : column;
    })]);
  }

  // The response curve of the run's sweep (report/response_curve.py: the runs of its
  // session on the same sweep, one point per value of the axis, the mean over repeats):
  // mean and p99 latency against throughput, this run's point and the knee marked.
  function curveSection(sweep, options) {
    if (!sweep) { return null; }
    var axes = Object.keys(sweep.axes || {}).map(function (option) {
      return option + '=' + (sweep.point || {})[option] + ' of [' + sweep.axes[option].join(', ') + ']';
    });
    var parts = [el('p', { id: 'sweep-point' }, ['this run is the sweep point ' + axes.join(', ') +
      (Object.keys(sweep.fixed || {}).length ? ' (with ' + text(sweep.fixed) + ')' : '')])];
    var curve = sweep.curve;
    if (!curve) {
      parts.push(el('p', { 'class': 'fio-note' }, ['no other point of this sweep is stored for this session: ' +
        'a response curve needs two.']));
      return section('response curve', 'response-curve', parts);
    }
    var points = curve.points;
    function series(label, key, attribute, color, extra) {
      return Object.assign({ label: label, fioSeries: key, showLine: true, borderColor: color, backgroundColor: color,
        pointRadius: 3, data: points.map(function (p) { return { x: p.throughput, y: p[attribute] }; }) }, extra || {});
    }
    var datasets = [series('mean latency', 'mean', 'mean_ms', palette[0]), series('p99 latency', 'p99', 'p99_ms', palette[1])];
    var current = points.filter(function (p) { return p.current; });
    datasets.push({ label: 'this run (' + curve.axis + '=' + (current[0] || {}).value + ')', fioSeries: 'current',
      showLine: false, pointRadius: 8, pointStyle: 'rectRot', borderColor: '#222', backgroundColor: 'rgba(0,0,0,0)',
      data: current.map(function (p) { return { x: p.throughput, y: p.mean_ms }; }) });
    if (curve.knee !== null && curve.knee !== undefined) {
      var knee = points[curve.knee];
      datasets.push({ label: 'knee (' + curve.axis + '=' + knee.value + ')', fioSeries: 'knee', showLine: false,
        pointRadius: 7, borderColor: '#c62828', backgroundColor: '#c62828', data: [{ x: knee.throughput, y: knee.mean_ms }] });
    }
    var latencies = [];
    points.forEach(function (p) { latencies.push(p.mean_ms, p.p99_ms); });
    var throughputs = points.map(function (p) { return p.throughput; });
    var xAxis = C.valueAxis(throughputs, curve.unit === 'IOPS' ? 'count' : 'plain', curve.unit);
    parts.push(chart('chart-response-curve', {
      type: 'scatter',
      data: { datasets: datasets },
      options: { parsing: false, scales: { x: xAxis, y: C.valueAxis(latencies, 'latency', curve.direction + ' latency') },
        plugins: { title: { display: true, text: 'response curve along ' + curve.axis + ': ' + curve.direction +
          ' latency against ' + curve.unit },
        tooltip: { callbacks: { label: function (item) {
          var p = points[item.dataIndex] || {};
          return curve.axis + '=' + p.value + ': ' + C.sig3(item.parsed.x) + ' ' + curve.unit + ', ' + C.latency(item.parsed.y);
        } } } } }
    }));
    var runHref = (options && options.runHref) || function (id) { return 'run.html#' + encodeURIComponent(id); };
    parts.push(el('table', { 'class': 'fio-curve', id: 'curve-points' }, [
      el('caption', {}, [curve.describe || 'the sweep\'s points']),
      el('thead', {}, [el('tr', {}, [curve.axis, curve.unit, 'mean latency', 'p99 latency', 'runs'].map(function (h) {
        return el('th', { scope: 'col' }, [h]);
      }))]),
      el('tbody', {}, points.map(function (p, index) {
        return el('tr', { 'data-value': p.value, 'class': (p.current ? 'fio-current' : '') + (index === curve.knee ? ' fio-knee' : '') }, [
          el('th', { scope: 'row' }, [p.value + (p.current ? ' (this run)' : '') + (index === curve.knee ? ' (knee)' : '')]),
          el('td', { 'class': 'num' }, [curve.unit === 'IOPS' ? C.si(p.throughput) : C.sig3(p.throughput)]),
          el('td', { 'class': 'num' }, [C.latency(p.mean_ms)]),
          el('td', { 'class': 'num' }, [C.latency(p.p99_ms)]),
          el('td', {}, p.run_ids.map(function (id, i) {
            return el('span', {}, [i ? ', ' : '', el('a', { href: runHref(id), 'class': 'fio-run-link' }, [id])]);
          }))
        ]);
      }))
    ]));
    return section('response curve', 'response-curve', parts);
  }

  // -- the summary: what a reader needs first --------------------------------------------
  var FLAG_TEXT = { 'cache?': 'the figures may come from a cache, not the storage',
    unstable: 'too noisy to trust', imbalance: 'the workers did not share the work evenly',
    stalls: 'the storage stalled', imported: 'imported, not measured by this harness' };
  function flagsList(flags) {
    if (!flags.length) { return el('p', { id: 'run-flags', 'class': 'fio-flags', 'data-count': '0' }, ['flags: none']); }
    return el('ul', { id: 'run-flags', 'class': 'fio-flags', 'aria-label': 'flags', 'data-count': String(flags.length) },
      flags.map(function (f) {
        return el('li', { 'data-flag': f.flag }, [el('span', { 'class': 'fio-flag' }, [f.flag]),
          ' ' + (f.detail || FLAG_TEXT[f.flag] || '')]);
      }));
  }
  // The gated metrics: each compared with the baseline, its delta and the verdict on it.
  function gatedTable(comparisons) {
    var heads = ['metric', 'verdict', 'this run', 'baseline', 'Δ', 'tolerance', 'test', 'p'];
    return el('table', { 'class': 'fio-comparisons fio-wrap' }, [
      el('caption', {}, ['Δ: change against the baseline\'s centre; red is worse (lower throughput, higher latency)']),
      el('thead', {}, [el('tr', {}, heads.map(function (h) { return el('th', { scope: 'col' }, [h]); }))]),
      el('tbody', {}, comparisons.map(function (c) {
        var base = figure(c.metric, c.baseline_center) + (c.baseline_spread !== undefined && c.baseline_spread !== null
          ? ' ± ' + figure(c.metric, c.baseline_spread) : '') + (c.baseline_n !== undefined ? ' (n=' + text(c.baseline_n) + ')' : '');
        var worse = typeof c.delta_pct === 'number' && (/_ms$/.test(c.metric) ? c.delta_pct > 0 : c.delta_pct < 0);
        return el('tr', { 'data-metric': c.metric }, [
          el('th', { scope: 'row' }, [text(c.metric)]),
          el('td', {}, [badge(c.status)]),
          el('td', { 'class': 'num' }, [figure(c.metric, c.current)]),
          el('td', { 'class': 'num' }, [base]),
          el('td', { 'class': 'num delta' + (worse ? ' worse' : ''), 'data-delta': text(c.delta_pct) }, [C.percent(c.delta_pct)]),
          el('td', { 'class': 'num' }, [typeof c.tolerance_pct === 'number' ? C.percent(c.tolerance_pct).replace('+', '±') : text(c.tolerance_pct)]),
          el('td', {}, [text(c.test)]),
          el('td', { 'class': 'num' }, [typeof c.p_value === 'number' ? (c.p_value < 0.0001 ? '<0.0001' : C.sig3(c.p_value)) : '-'])
        ]);
      }))
    ]);
  }
  function summarySection(run, doc) {
    var parts = [verdictSection(run), el('h3', {}, ['flags']), flagsList(doc.flags || [])];
    var comparisons = (run.evidence || {}).comparisons || run.comparisons;
    if (Array.isArray(comparisons) && comparisons.length) {
      var known = ['metric', 'status', 'current', 'baseline_center', 'baseline_spread', 'baseline_n', 'delta_pct',
        'tolerance_pct', 'test', 'p_value'];
      var more = [];
      comparisons.forEach(function (c) { Object.keys(c).forEach(function (k) {
        if (known.indexOf(k) < 0 && more.indexOf(k) < 0) { more.push(k); } }); });
      var box = [gatedTable(comparisons)];
      if (more.length) {
        // Fields of a comparison the table has no column for (mde_pct, repeats_needed...).
        box.push(el('details', {}, [el('summary', {}, ['more about the comparisons']),
          objectTable(comparisons.map(function (c) {
            var row = { metric: c.metric };
            more.forEach(function (k) { row[k] = c[k]; });
            return row;
          }), ['metric'], 'fio-wrap', function (row, column) { return /_pct$/.test(column) ? column : null; })]));
      }
      parts.push(el('section', { id: 'comparisons' }, [el('h3', {}, ['gated metrics'])].concat(box)));
    } else {
      parts.push(el('section', { id: 'comparisons' }, [el('h3', {}, ['gated metrics']),
        el('p', { 'class': 'fio-note' }, ['not compared with a baseline (no history yet, gating off, or not the case\'s last repeat)'])]));
    }
    var summary = el('section', { id: 'summary', 'aria-labelledby': 'summary-title' },
      [el('h2', { id: 'summary-title' }, ['summary'])].concat(parts));
    return summary;
  }

  // -- tabs (WAI-ARIA tabs: arrow keys, Home and End move between them) ------------------
  function tabs(panels, main, saveTab) {
    var list = el('div', { role: 'tablist', 'aria-label': 'run details', id: 'run-tabs', 'class': 'fio-tablist' });
    var shown = el('button', { type: 'button', id: 'run-all-sections', 'class': 'fio-all', 'aria-pressed': 'false' },
      ['show all sections']);
    var buttons = [];
    var boxes = [];
    function drawIn(panel) {
      charts.forEach(function (item) {
        if (!item[2] && panel.contains(item[0]) && typeof Chart !== 'undefined') {
          item[2] = true;
          C.make(item[0], item[1], main.dataset.runId + '-' + item[0].id);
        }
      });
    }
    function select(index, focus, picked) {
      if (picked && saveTab) { saveTab(panels[index].id); }
      shown.setAttribute('aria-pressed', 'false');
      main.classList.remove('fio-all-sections');
      buttons.forEach(function (button, i) {
        var on = i === index;
        button.setAttribute('aria-selected', on ? 'true' : 'false');
        button.tabIndex = on ? 0 : -1;
        boxes[i].hidden = !on;
      });
      if (focus) { buttons[index].focus(); }
      drawIn(boxes[index]);
    }
    panels.forEach(function (panel, index) {
      var button = el('button', { type: 'button', role: 'tab', id: 'tab-' + panel.id, 'data-tab': panel.id,
        'aria-controls': 'panel-' + panel.id, 'aria-selected': 'false', tabindex: '-1' }, [panel.label]);
      button.addEventListener('click', function () { select(index, false, true); });
      button.addEventListener('keydown', function (event) {
        var to = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: panels.length - 1 }[event.key];
        if (to === undefined) { return; }
        event.preventDefault();
        select((to + panels.length) % panels.length, true, true);
      });
      buttons.push(button);
      list.appendChild(button);
      boxes.push(el('div', { role: 'tabpanel', id: 'panel-' + panel.id, 'aria-labelledby': 'tab-' + panel.id,
        tabindex: '0', 'class': 'fio-tabpanel' }, panel.content));
    });
    shown.addEventListener('click', function () {
      // One long page: every section at once (to read through, search or print).
      var all = shown.getAttribute('aria-pressed') !== 'true';
      if (!all) { select(Math.max(0, buttons.findIndex(function (b) { return b.getAttribute('aria-selected') === 'true'; })), false); return; }
      shown.setAttribute('aria-pressed', 'true');
      main.classList.add('fio-all-sections');
      boxes.forEach(function (box) { box.hidden = false; drawIn(box); });
    });
    return { nodes: [el('div', { 'class': 'fio-tabbar' }, [list, shown])].concat(boxes), select: select };
  }

  function rawSection(run, options) {
    var parts = [];
    var others = {};
    Object.keys(run).forEach(function (name) { if (SHOWN.indexOf(name) < 0) { others[name] = run[name]; } });
    if (Object.keys(others).length) {
      parts.push(section('other fields', 'other', [pairsTable(others, 'fio-facts')]));
    }
    // Scrolled boxes take the keyboard focus (tabindex), so they scroll without a mouse.
    parts.push(section('the stored record', 'record', [el('pre', { id: 'run-record', 'class': 'fio-raw',
      tabindex: '0', role: 'region', 'aria-label': 'the stored record as JSON' }, [JSON.stringify(run, null, 1)])]));
    if (options && options.loadRaw) {
      var out = el('pre', { id: 'raw-output', 'class': 'fio-raw', hidden: 'hidden', tabindex: '0', role: 'region',
        'aria-label': 'fio\'s output as JSON' });
      var button = el('button', { type: 'button', id: 'load-raw' }, ['show fio\'s output']);
      button.addEventListener('click', function () {
        options.loadRaw().then(function (raw) {
          out.hidden = false;
          out.textContent = JSON.stringify(raw, null, 1);
        }, function (err) { out.hidden = false; out.textContent = 'cannot load fio\'s output: ' + err.message; });
      });
      parts.push(section('fio\'s output', 'fio-output', [button, out]));
    }
    return parts;
  }

  function render(main, doc, options) {
    var run = doc.run;
    var derived = doc.derived || {};
    var key = doc.key || {};
    var keyHref = (options && options.keyHref) || key.page || 'index.html';
    charts = [];
    main.dataset.runId = run.run_id || 'run';
    var parts = [
      el('h1', {}, [(options && options.title) || 'run ' + run.run_id]),
      el('p', { 'class': 'fio-run-meta' }, [
        el('a', { href: keyHref, id: 'key-link' }, [key.title || run.history_key || '-']),
        ' · ' + when(run.started_at) + ' · session ' + run.session_id +
          (run.test_id ? ' · test ' + run.test_id : '') + ' · key ' + (run.history_key || '-')
      ]),
      summarySection(run, doc)
    ];
    if (derived.unreadable) {
      parts.push(el('p', { 'class': 'fio-error' }, ['stored fio output unreadable: ' + derived.unreadable]));
    }
    var facts = { workers: run.workers, backend: run.backend, target: run.target,
      profile: run.profile_name, profile_hash: run.profile_hash, repeat: run.repeat,
      started: when(run.started_at), finished: when(run.finished_at), status: run.status };
    var environment = [section('run', 'facts', [pairsTable(facts, 'fio-facts')]),
      section('labels', 'labels', [pairsTable(run.labels, 'fio-facts')]),
      section('environment', 'fingerprint', [pairsTable(run.fingerprint, 'fio-facts')])];
    if (run.notes && run.notes.length) {
      environment.push(section('notes', 'notes', [el('ul', {}, run.notes.map(function (n) {
        return el('li', {}, [text(n)]);
      }))]));
    }
    environment.push(section('profile as run', 'profile', [el('pre', { 'class': 'fio-profile' }, [run.profile_text || ''])]));
    // Tabs with something to show, in the order a reader asks: over time, around the
    // fault, how latency spreads, per worker, along the sweep, then the record itself.
    var panels = [
      { id: 'timeline', label: 'timeline', content: [timelineSection(derived), timeseriesSection(derived)] },
      { id: 'phases', label: 'phases', content: [phasesSection(derived)] },
      { id: 'distribution', label: 'distribution', content: [distributionSection(run), latencySection(derived)] },
      { id: 'workers', label: 'per worker', content: [workerSection(derived)] },
      { id: 'curve', label: 'response curve', content: [curveSection(doc.sweep, options)] },
      { id: 'metrics', label: 'metrics', content: [section('metrics', 'metrics', [pairsTable(run.metrics, 'fio-metrics', true)])] },
      { id: 'environment', label: 'environment', content: environment },
      { id: 'raw', label: 'raw', content: rawSection(run, options) }
    ].map(function (panel) {
      return { id: panel.id, label: panel.label, content: panel.content.filter(function (part) { return part; }) };
    }).filter(function (panel) { return panel.content.length; });
    var tabbed = tabs(panels, main, options && options.saveTab);
    main.textContent = '';
    parts.concat(tabbed.nodes).forEach(function (part) { main.appendChild(part); });
    var first = (options && options.tab) ? panels.map(function (p) { return p.id; }).indexOf(options.tab) : 0;
    tabbed.select(Math.max(0, first), false);
    main.dataset.rendered = run.run_id;
  }

  function fail(main, message) {
    main.textContent = '';
    main.appendChild(el('p', { 'class': 'fio-error', id: 'run-error' }, [message]));
  }


  // The data file of a run, for the site's compare page (compare.js).
  window.fioloadgenRunDataPath = dataPath;

  window.fioloadgenRenderRun = function (main, doc, options) {
    try { render(main, doc, options); } catch (err) { fail(main, 'cannot show this run: ' + err); }
  };

  // The static site's run.html: the run named by the hash, from its data file.
  var main = document.getElementById('run');
  if (!main || !main.hasAttribute('data-format')) { return; }
  window.fioloadgenRun = function (doc) {
    document.title = 'run ' + doc.run.run_id;
    window.fioloadgenRenderRun(main, doc, {
      tab: tab,
      saveTab: function (picked) {
        window.history.replaceState(null, '', '#' + encodeURIComponent(id) + '?tab=' + encodeURIComponent(picked));
      }
    });
  };
  // The id is encoded in links (a '?' in it is %3F), so the first '?' starts the options.
  var hash = window.location.hash.slice(1);
  var at = hash.indexOf('?');
  var id = decodeURIComponent(at < 0 ? hash : hash.slice(0, at));
  var tab = new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)).get('tab');
  if (!id) { fail(main, 'no run given: open this page from a history key\'s list of runs'); return; }
  var script = document.createElement('script');
  script.src = dataPath(id);
  script.onerror = function () { fail(main, 'no data for run ' + id + ' (' + dataPath(id) + ')'); };
  document.body.appendChild(script);
  window.addEventListener('hashchange', function () { window.location.reload(); });
}());
