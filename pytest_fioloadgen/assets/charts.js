/* One chart vocabulary for the static site and the results server's UI (Chart.js), the
 * same rules as the report's pygal charts (report/charts.py) and report/numbers.py:
 *
 * - numbers: 3 significant digits and a unit, never scientific (29.1k, 1.20 ms, 412 µs);
 * - a value axis is logarithmic when its data spans a decade or more (latency does);
 * - the scale is the data's range plus a margin: a threshold line far from the data is
 *   drawn at the edge's side but never squeezes the data into a flat line;
 * - measured lines solid with points, ideal or reference lines dashed and grey;
 * - every chart can be saved as PNG (a button under its canvas).
 *
 * window.fioloadgenCharts = { el, sig3, si, latency, metric, percent, valueAxis, save, make, ... }.
 * All text goes through textContent. */
(function () {
  'use strict';
  var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  var REFERENCE = '#888';

  // One DOM helper for the run and compare pages: text goes in as text nodes, never HTML.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function sig3(value) {
    if (value === null || value === undefined || !isFinite(value)) { return '-'; }
    if (value === 0) { return '0'; }
    var digits = 2 - Math.floor(Math.log10(Math.abs(value)));
    var rounded = Number(value.toFixed(Math.max(0, Math.min(20, digits))));
    if (Math.floor(Math.log10(Math.abs(rounded))) !== Math.floor(Math.log10(Math.abs(value)))) {
      digits -= 1;
    }
    return Number(value).toFixed(Math.max(0, Math.min(20, digits)));
  }
  function si(value) {
    if (value === null || value === undefined || !isFinite(value)) { return '-'; }
    var prefixes = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
    for (var i = 0; i < prefixes.length; i++) {
      if (Math.abs(value) >= prefixes[i][0] * 0.9995) { return sig3(value / prefixes[i][0]) + prefixes[i][1]; }
    }
    return sig3(value);
  }
  // A latency in milliseconds, in the unit that keeps 1-3 integer digits.
  function latency(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) { return '-'; }
    var units = [[1000, 's'], [1, 'ms'], [1e-3, 'µs'], [1e-6, 'ns']];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(ms) >= units[i][0] * 0.9995) { return sig3(ms / units[i][0]) + ' ' + units[i][1]; }
    }
    return ms === 0 ? '0 ms' : sig3(ms / 1e-6) + ' ns';
  }
  function metric(name, value) {
    if (value === null || value === undefined) { return '-'; }
    if (/_ms$/.test(name)) { return latency(value); }
    if (/bw_mib_s$/.test(name)) { return sig3(value) + ' MiB/s'; }
    if (/iops/.test(name)) { return si(value); }
    return sig3(value);
  }
  function percent(delta) {
    if (delta === null || delta === undefined || !isFinite(delta)) { return '-'; }
    var sign = delta > 0 ? '+' : '';
    return Math.abs(delta) < 99.95 ? sign + delta.toFixed(1) + '%' : sign + sig3(delta) + '%';
  }

  // The value axis for ``values`` (the data, never the threshold lines): its type, its
  // range with a margin, and ticks in the one number format. ``kind``: 'latency' (ms),
  // 'count' (IOPS, completions) or 'plain'.
  function valueAxis(values, kind, title, fromZero) {
    var data = values.filter(function (v) { return v !== null && v !== undefined && isFinite(v); });
    var positive = data.filter(function (v) { return v > 0; });
    var low = Math.min.apply(null, data.length ? data : [0]);
    var high = Math.max.apply(null, data.length ? data : [1]);
    var format = kind === 'latency' ? latency : kind === 'count' ? si : sig3;
    var axis = { title: { display: !!title, text: title || '' },
      ticks: { callback: function (value) { return format(Number(value)); } } };
    var decades = positive.length === data.length && positive.length &&
      Math.max.apply(null, positive) / Math.min.apply(null, positive) >= 10;
    if (decades) {
      axis.type = 'logarithmic';
      axis.min = Math.min.apply(null, positive) / 1.5;
      axis.max = Math.max.apply(null, positive) * 1.5;
      // Only the 1-2-5 ticks of each decade: readable labels on a log axis.
      axis.afterBuildTicks = function (scale) {
        scale.ticks = scale.ticks.filter(function (tick) {
          var lead = tick.value / Math.pow(10, Math.floor(Math.log10(tick.value)));
          return [1, 2, 5].some(function (k) { return Math.abs(lead - k) < 1e-6; });
        });
      };
    } else {
      var margin = (high - low) * 0.1 || Math.abs(high) * 0.1 || 1;
      axis.type = 'linear';
      axis.min = fromZero || (low >= 0 && low - margin < 0) ? Math.min(0, low) : low - margin;
      axis.max = high + margin;
    }
    return axis;
  }

  // A reference line (threshold, ideal, baseline): grey or red, dashed, no points; it
  // never widens the scale (valueAxis is built from the data alone).
  function reference(label, data, color) {
    return { label: label, data: data, borderColor: color || REFERENCE, backgroundColor: color || REFERENCE,
      borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, fill: false, fioReference: true };
  }

  // A "save PNG" button that downloads the canvas as it is drawn.
  function save(canvas, name) {
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'fio-save-png';
    button.textContent = 'save PNG';
    button.addEventListener('click', function () {
      var link = document.createElement('a');
      link.download = (name || canvas.id || 'chart').replace(/[^A-Za-z0-9_.-]+/g, '_') + '.png';
      link.href = canvas.toDataURL('image/png');
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
    return button;
  }

  // Draw a chart on ``canvas`` (Chart.js) with our defaults, then a save button after it.
  function make(canvas, config, name) {
    config.options = Object.assign({ animation: false, maintainAspectRatio: false }, config.options || {});
    var chart = new window.Chart(canvas, config);
    canvas.setAttribute('data-chart-ready', '1');
    // In the chart's box, in its corner (absolutely positioned: the box's size stays the
    // canvas's, which Chart.js measures).
    var box = canvas.parentNode;
    if (box && !box.querySelector('.fio-save-png')) { box.appendChild(save(canvas, name)); }
    return chart;
  }

  // Runs compared in one chart each (the site's compare page and the UI's): ``runs`` are
  // {name, latency: {read|write: {histogram: [{le_ms, count}]}}, timeseries: {workers}}.
  // Returns [{id, title, config}]: latency distributions overlaid (log latency axis:
  // buckets span µs to ms), IOPS (workers summed) and mean latency over the run.
  function overlays(runs) {
    var found = [];
    function line(label, index, data, dashed) {
      var color = palette[index % palette.length];
      return { label: label, borderColor: color, backgroundColor: color, pointRadius: dashed === undefined ? 2 : 0,
        borderDash: dashed ? [4, 3] : [], data: data };
    }
    function add(id, title, datasets, kind, axisTitle, x) {
      if (!datasets.length) { return; }
      var values = [];
      datasets.forEach(function (d) { d.data.forEach(function (p) { values.push(p.y); }); });
      found.push({ id: id, title: title, config: { type: 'line', data: { datasets: datasets }, options: {
        parsing: false, plugins: { title: { display: true, text: title } },
        scales: { x: x, y: valueAxis(values, kind, axisTitle) } } } });
    }
    function summed(run, names) {
      var totals = {};
      var workers = (run.timeseries || {}).workers || {};
      Object.keys(workers).forEach(function (w) {
        names.forEach(function (n) {
          (workers[w][n] || []).forEach(function (p) { totals[p[0]] = (totals[p[0]] || 0) + p[1]; });
        });
      });
      return Object.keys(totals).map(Number).sort(function (a, b) { return a - b; })
        .map(function (t) { return { x: t / 1000, y: totals[t] }; });
    }
    var seconds = { type: 'linear', title: { display: true, text: 'seconds' } };
    ['read', 'write'].forEach(function (direction) {
      var sets = [];
      runs.forEach(function (run, index) {
        var lat = (run.latency || {})[direction];
        if (!lat) { return; }
        sets.push(line(run.name + ' ' + direction, index, lat.histogram.map(function (b) {
          return { x: b.le_ms, y: b.count }; })));
      });
      var edges = [];
      sets.forEach(function (d) { d.data.forEach(function (p) { edges.push(p.x); }); });
      var x = valueAxis(edges, 'latency', direction + ' completion latency');
      add('compare-latency-' + direction, direction + ' latency distribution, overlaid', sets, 'count', 'completions', x);
    });
    add('compare-timeseries-iops', 'read+write IOPS over the run, overlaid', runs.map(function (run, index) {
      return line(run.name + ' IOPS', index, summed(run, ['read_iops', 'write_iops']), false);
    }).filter(function (d) { return d.data.length; }), 'count', 'IOPS', seconds);
    var latSets = [];
    runs.forEach(function (run, index) {
      ['read', 'write'].forEach(function (direction) {
        var workers = (run.timeseries || {}).workers || {};
        var count = Object.keys(workers).filter(function (w) { return (workers[w][direction + '_lat_ms'] || []).length; }).length;
        if (!count) { return; }
        latSets.push(line(run.name + ' ' + direction + ' latency', index,
          summed(run, [direction + '_lat_ms']).map(function (p) { return { x: p.x, y: p.y / count }; }), direction === 'write'));
      });
    });
    add('compare-timeseries-lat', 'read/write mean latency over the run, overlaid', latSets, 'latency', 'latency', seconds);
    ['read', 'write'].forEach(function (direction) {
      var config = distribution(direction + ' latency by percentile, overlaid', runs.map(function (run, index) {
        return { label: run.name + ' ' + direction, spectrum: (run.spectrum || {})[direction],
          color: palette[index % palette.length] };
      }));
      if (config) { found.push({ id: 'compare-distribution-' + direction, title: config.options.plugins.title.text, config: config }); }
    });
    return found;
  }

  // The HdrHistogram percentile distribution plot: latency (log) against 1/(1-p) (log),
  // so 50 %, 90 %, 99 %, 99.9 %, 99.99 % stand equally apart. ``sets`` are {label,
  // spectrum (quantile name -> ms), dashed, color, fill}; returns a Chart.js config. The
  // ladder is the stored spectrum's own (fio/spectrum.py): a quantile's name is its
  // percentile's digits after 'p', two before the decimal point (p5: 5, p97: 97, p999: 99.9,
  // p9995: 99.95), as in the metric names (read_lat_p999_ms); 'max' is not a quantile.
  function percentileOf(name) {
    var digits = /^p(\d+)$/.exec(name);
    if (!digits) { return null; }
    var text = digits[1];
    return Number(text.length <= 2 ? text : text.slice(0, 2) + '.' + text.slice(2));
  }
  function ladderOf(spectrum) {
    return Object.keys(spectrum || {}).map(function (name) { return [name, percentileOf(name)]; })
      .filter(function (step) { return step[1] !== null && step[1] < 100; })
      .sort(function (a, b) { return a[1] - b[1]; });
  }
  var PERCENT_TICKS = { 2: '50%', 10: '90%', 100: '99%', 1000: '99.9%', 10000: '99.99%' };
  function odds(percentile) { return 1 / (1 - percentile / 100); }
  function distribution(title, sets) {
    var values = [];
    var datasets = sets.map(function (set, index) {
      var color = set.color || palette[index % palette.length];
      var data = [];
      ladderOf(set.spectrum).forEach(function (step) {
        var value = (set.spectrum || {})[step[0]];
        if (value === null || value === undefined || !(value > 0)) { return; }
        data.push({ x: odds(step[1]), y: value });
        values.push(value);
      });
      return { label: set.label, data: data, borderColor: color, backgroundColor: set.fill || color,
        borderDash: set.dashed ? [5, 4] : [], pointRadius: set.dashed ? 0 : 2, fill: set.fillTo || false,
        fioReference: !!set.dashed, fioSpectrum: set.key || set.label };
    }).filter(function (d) { return d.data.length; });
    if (!datasets.length) { return null; }
    var y = valueAxis(values.concat([Math.min.apply(null, values) / 10]), 'latency', 'completion latency');
    y.type = 'logarithmic';
    y.min = Math.min.apply(null, values) / 1.5;
    y.max = Math.max.apply(null, values) * 1.5;
    var x = { type: 'logarithmic', min: 1, max: 20000, title: { display: true, text: 'percentile' },
      afterBuildTicks: function (scale) {
        scale.ticks = Object.keys(PERCENT_TICKS).map(function (v) { return { value: Number(v) }; });
      },
      ticks: { callback: function (value) { return PERCENT_TICKS[value] || ''; } } };
    return { type: 'line', data: { datasets: datasets },
      options: { parsing: false, scales: { x: x, y: y }, plugins: { title: { display: true, text: title } } } };
  }

  // Change of ``value`` against ``base`` in percent, and whether it is worse.
  function delta(name, value, base) {
    if (value === null || value === undefined || !base) { return { pct: null, worse: false }; }
    var pct = (value - base) / Math.abs(base) * 100;
    return { pct: pct, worse: /_ms$/.test(name) ? pct > 0 : pct < 0 };
  }

  window.fioloadgenCharts = { el: el, palette: palette, reference: reference, sig3: sig3, si: si,
    latency: latency, metric: metric, percent: percent, valueAxis: valueAxis, save: save, make: make,
    overlays: overlays, delta: delta, distribution: distribution,
    percentileOf: percentileOf };
}());
