/* The overview: what changed, first. The results server's UI home and the static site's
 * index draw it with this one renderer, from one document (report/overview.py:
 * overview_document; the UI fetches /api/v1/overview, the site embeds it as a JSON block).
 *
 * window.fioloadgenRenderOverview(container, doc, options) renders, in this order:
 *  - the latest sessions with their verdict counts;
 *  - the regressions, distribution shifts, unstable runs and change points of the last
 *    doc.days days, newest first;
 *  - every history key as a row (test, profile, workers, backend, target, an IOPS
 *    sparkline of its newest runs with change points marked, last value, delta against
 *    the key's baseline, stored verdict, runs), grouped by target, filterable (text,
 *    verdict) and sortable (click a column's heading).
 * options: keyHref(row) and runHref(runId) make the links (the site's pages or the UI's
 * routes); filters (URLSearchParams: text, verdict, sort, desc) the key table's filter
 * and sort to start with, saveFilters(params) keeps them in the page's URL. All text goes through textContent (charts.js's el). */
(function () {
  'use strict';
  var C = window.fioloadgenCharts;
  var el = C.el;
  var SVG = 'http://www.w3.org/2000/svg';
  var KINDS = [
    ['regression', 'Regressions'],
    ['distribution', 'Distribution shifts'],
    ['unstable', 'Unstable runs'],
    ['change_point', 'Change points']
  ];
  var BADGE = { pass: 'ok', improved: 'ok', fail: 'bad', regression: 'bad', error: 'bad',
    unstable: 'bad', suspect: 'warn', inconclusive: 'warn' };
  // Columns of the key table: [id, heading, sort key (null: not sortable)].
  var COLUMNS = [
    ['test', 'test', function (r) { return r.test; }],
    ['profile', 'profile', function (r) { return r.profile; }],
    ['workers', 'workers', function (r) { return r.workers; }],
    ['backend', 'backend', function (r) { return r.backend; }],
    ['target', 'target', function (r) { return r.target; }],
    ['trend', 'IOPS, newest runs', null],
    ['last', 'last IOPS', function (r) { return r.last; }],
    ['delta', 'Δ vs baseline', function (r) { return r.delta_pct; }],
    ['verdict', 'verdict', function (r) { return SEVERITY.indexOf(r.verdict); }],
    ['runs', 'runs', function (r) { return r.runs; }]
  ];
  // Most severe last: a descending sort puts regressions first.
  var SEVERITY = ['none', 'pass', 'improved', 'inconclusive', 'suspect', 'unstable', 'regression', 'fail', 'error'];

  function when(t) {
    if (!t) { return '-'; }
    return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  }
  function badge(status) {
    var s = status || 'none';
    return el('span', { 'class': 'fio-verdict fio-' + (BADGE[s] || 'none'), 'data-status': s }, [s]);
  }
  function shortTest(id) {
    if (!id) { return '-'; }
    return id.split('::').pop();
  }

  // The IOPS of the key's newest runs as one polyline: change points as triangles, the
  // newest point as a dot, and the figures next to it (what a line alone cannot give).
  // row.spark: the values, oldest first; row.spark_changes: positions of change points
  // in it, row.spark_change_runs: their runs.
  function sparkline(row) {
    var values = row.spark || [];
    var box = el('span', { 'class': 'fio-spark-cell' });
    if (!values.length) { box.appendChild(document.createTextNode('-')); return box; }
    var width = 160, height = 34;
    var changeRuns = {};
    (row.spark_changes || []).forEach(function (at, i) { changeRuns[at] = row.spark_change_runs[i]; });
    var points = values.map(function (value, i) { return { value: value, change: i in changeRuns, run_id: changeRuns[i] }; });
    var low = Math.min.apply(null, values), high = Math.max.apply(null, values);
    var span = (high - low) || 1;
    var step = (width - 8) / Math.max(points.length - 1, 1);
    var xy = points.map(function (p, i) {
      return [4 + i * step, height - 4 - (p.value - low) / span * (height - 8)];
    });
    var figures = 'last ' + C.si(values[values.length - 1]) + ' · ' + C.si(low) + ' to ' + C.si(high);
    var changes = points.filter(function (p) { return p.change; }).length;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'fio-spark');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'IOPS trend: ' + figures + (changes ? ', ' + changes + ' change point(s)' : ''));
    svg.setAttribute('data-last', String(values[values.length - 1]));
    svg.setAttribute('data-points', String(points.length));
    var line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', xy.map(function (p) { return p[0].toFixed(1) + ',' + p[1].toFixed(1); }).join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#1f77b4');
    line.setAttribute('stroke-width', '1.5');
    svg.appendChild(line);
    points.forEach(function (p, i) {
      if (!p.change) { return; }
      var x = xy[i][0], y = xy[i][1];
      var mark = document.createElementNS(SVG, 'polygon');
      mark.setAttribute('class', 'fio-spark-change');
      mark.setAttribute('points', [x, y - 5, x - 4.5, y + 3.5, x + 4.5, y + 3.5].map(function (v) { return v.toFixed(1); }).join(','));
      mark.setAttribute('fill', '#ef6c00');
      mark.setAttribute('data-run', p.run_id);
      svg.appendChild(mark);
    });
    var last = xy[xy.length - 1];
    var dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', last[0].toFixed(1));
    dot.setAttribute('cy', last[1].toFixed(1));
    dot.setAttribute('r', '3');
    dot.setAttribute('fill', '#c62828');
    svg.appendChild(dot);
    box.appendChild(svg);
    box.appendChild(el('span', { 'class': 'fio-spark-figures' }, [figures]));
    return box;
  }

  function sessionsSection(doc, options) {
    var rows = doc.sessions.map(function (s) {
      var counts = Object.keys(s.verdicts).sort(function (a, b) {
        return SEVERITY.indexOf(b) - SEVERITY.indexOf(a);
      }).map(function (v) {
        return el('span', { 'class': 'fio-count', 'data-verdict': v, 'data-count': String(s.verdicts[v]) },
          [badge(v), ' ' + s.verdicts[v]]);
      });
      var commit = (s.labels || {}).git_commit;
      return el('tr', { 'data-session': s.session_id }, [
        el('td', {}, [options.sessionHref ? el('a', { href: options.sessionHref(s) }, [s.session_id.slice(0, 12)]) :
          el('code', {}, [s.session_id.slice(0, 12)])]),
        el('td', {}, [when(s.started_at)]),
        el('td', {}, [s.kind]),
        el('td', { 'class': 'num' }, [String(s.runs)]),
        el('td', {}, [commit ? commit.slice(0, 12) : '-']),
        el('td', { 'class': 'fio-counts' }, counts)
      ]);
    });
    return el('section', { id: 'overview-sessions', 'aria-labelledby': 'overview-sessions-title' }, [
      el('h2', { id: 'overview-sessions-title' }, ['Latest sessions']),
      rows.length ? el('table', { 'class': 'fio-overview-sessions' }, [
        el('thead', {}, [el('tr', {}, ['session', 'started', 'kind', 'runs', 'commit', 'verdicts'].map(function (h) {
          return el('th', { scope: 'col' }, [h]);
        }))]),
        el('tbody', {}, rows)]) : el('p', {}, ['no sessions yet'])
    ]);
  }

  function recentSection(doc, options) {
    var blocks = KINDS.map(function (kind) {
      var events = doc.recent[kind[0]] || [];
      var items = events.slice(0, 50).map(function (e) {
        return el('li', { 'class': 'fio-event' + (e.worse ? ' worse' : ''), 'data-key': e.history_key, 'data-run': e.run_id }, [
          el('span', { 'class': 'fio-event-when' }, [when(e.started_at)]), ' ',
          el('a', { href: options.keyHref({ history_key: e.history_key, page: e.page }), 'class': 'fio-event-key' }, [e.title]), ' ',
          el('a', { href: options.runHref(e.run_id), 'class': 'fio-event-run' }, ['run']), ' ',
          el('span', { 'class': 'fio-event-message' }, [e.message])
        ]);
      });
      if (events.length > items.length) { items.push(el('li', {}, ['… and ' + (events.length - items.length) + ' more'])); }
      return el('div', { 'class': 'fio-recent fio-recent-' + kind[0], id: 'recent-' + kind[0], 'data-count': String(events.length) }, [
        el('h3', {}, [kind[1] + ' ', el('span', { 'class': 'fio-recent-count' + (events.length ? ' some' : '') }, [String(events.length)])]),
        items.length ? el('ul', {}, items) : el('p', { 'class': 'fio-note' }, ['none'])
      ]);
    });
    return el('section', { id: 'overview-recent', 'aria-labelledby': 'overview-recent-title' }, [
      el('h2', { id: 'overview-recent-title' }, ['Last ' + doc.days + ' days']),
      el('div', { 'class': 'fio-recent-grid' }, blocks)
    ]);
  }

  function keyRow(row, options) {
    var delta = row.delta_pct;
    var known = delta !== null && delta !== undefined;
    // Throughput higher is better, latency lower (the one rule of charts.js's delta).
    var worse = known && (/_ms$/.test(row.metric) ? delta > 0 : delta < 0);
    var better = known && delta !== 0 && !worse;
    var cells = {
      test: el('td', { 'class': 'test' }, [el('a', { href: options.keyHref(row), 'class': 'fio-key-link', title: row.test || '' }, [row.test ? shortTest(row.test) : 'key ' + row.history_key.slice(0, 12)])]),
      profile: el('td', {}, [row.profile]),
      workers: el('td', { 'class': 'num' }, [String(row.workers)]),
      backend: el('td', {}, [row.backend]),
      target: el('td', {}, [row.target]),
      trend: el('td', { 'class': 'trend' }, [sparkline(row)]),
      last: el('td', { 'class': 'num last' }, [C.metric(row.metric, row.last)]),
      delta: el('td', { 'class': 'num delta' + (worse ? ' worse' : better ? ' better' : ''), title: row.baseline ? 'baseline ' + C.metric(row.metric, row.baseline) : 'too few runs for a baseline' }, [C.percent(delta)]),
      verdict: el('td', { 'class': 'verdict' }, [badge(row.verdict)]),
      runs: el('td', { 'class': 'num' }, [String(row.runs)])
    };
    return el('tr', { 'data-key': row.history_key, 'data-verdict': row.verdict }, COLUMNS.map(function (c) { return cells[c[0]]; }));
  }

  // The key table's filter and sort as URL parameters (text, verdict, sort, desc): a
  // view of the overview is a link.
  function filtersOf(params) {
    return { text: (params.get('text') || '').trim(), verdict: params.get('verdict') || '',
      sort: params.get('sort') || null, descending: params.get('desc') === '1' };
  }
  function filtersParams(state) {
    var params = new URLSearchParams();
    if (state.text) { params.set('text', state.text); }
    if (state.verdict) { params.set('verdict', state.verdict); }
    if (state.sort) { params.set('sort', state.sort); }
    if (state.sort && state.descending) { params.set('desc', '1'); }
    return params;
  }

  function keysSection(doc, options) {
    var state = filtersOf(options.filters || new URLSearchParams());
    if (!COLUMNS.some(function (c) { return c[0] === state.sort && c[2]; })) { state.sort = null; }
    function saved() {
      if (options.saveFilters) { options.saveFilters(filtersParams(state)); }
    }
    var verdicts = Object.keys(doc.verdicts || {}).sort();
    var text = el('input', { type: 'search', id: 'overview-filter', placeholder: 'test, profile, target or key contains', 'aria-label': 'filter the keys' });
    var verdict = el('select', { id: 'overview-verdict', 'aria-label': 'only keys whose newest run has this verdict' },
      [el('option', { value: '' }, ['any verdict'])].concat(verdicts.map(function (v) {
        return el('option', { value: v }, [v + ' (' + doc.verdicts[v] + ')']);
      })));
    var shown = el('span', { id: 'overview-shown', 'class': 'fio-note' });
    var headings = COLUMNS.map(function (c) {
      if (!c[2]) { return el('th', { scope: 'col' }, [c[1]]); }
      var button = el('button', { type: 'button', 'class': 'fio-sort', 'data-column': c[0] }, [c[1]]);
      button.addEventListener('click', function () {
        state.descending = state.sort === c[0] ? !state.descending : false;
        state.sort = c[0];
        draw();
        saved();
      });
      return el('th', { scope: 'col', 'data-column': c[0] }, [button]);
    });
    var table = el('table', { 'class': 'fio-index', id: 'overview-keys-table' }, [el('thead', {}, [el('tr', {}, headings)])]);
    var groups = {};
    doc.rows.forEach(function (row) {
      var name = row.target + '\u0000' + row.backend;
      (groups[name] = groups[name] || { target: row.target, backend: row.backend, rows: [] }).rows.push(row);
    });
    var order = Object.keys(groups).sort();

    function matches(row) {
      if (state.verdict && row.verdict !== state.verdict) { return false; }
      if (!state.text) { return true; }
      var hay = [row.test, row.profile, row.target, row.backend, row.history_key, 'w' + row.workers].join(' ').toLowerCase();
      return hay.indexOf(state.text.toLowerCase()) >= 0;
    }
    function draw() {
      Array.prototype.slice.call(table.tBodies).forEach(function (body) { body.remove(); });
      var column = COLUMNS.filter(function (c) { return c[0] === state.sort; })[0];
      var count = 0;
      order.forEach(function (name) {
        var group = groups[name];
        var rows = group.rows.filter(matches);
        if (!rows.length) { return; }
        if (column) {
          rows = rows.slice().sort(function (a, b) {
            var x = column[2](a), y = column[2](b);
            var missing = (x === null || x === undefined) - (y === null || y === undefined);
            if (missing) { return missing; } // keys without a figure last, either way
            var order_ = x < y ? -1 : x > y ? 1 : 0;
            return state.descending ? -order_ : order_;
          });
        }
        count += rows.length;
        var head = el('tr', { 'class': 'fio-group' }, [el('th', { colspan: String(COLUMNS.length), scope: 'rowgroup' }, [
          'target ' + group.target + ' · backend ' + group.backend + ' · ' + rows.length + ' key(s)'])]);
        table.appendChild(el('tbody', { 'data-target': group.target, 'data-backend': group.backend },
          [head].concat(rows.map(function (row) { return keyRow(row, options); }))));
      });
      headings.forEach(function (th, i) {
        if (!COLUMNS[i][2]) { return; }
        th.setAttribute('aria-sort', COLUMNS[i][0] === state.sort ? (state.descending ? 'descending' : 'ascending') : 'none');
      });
      shown.textContent = count + ' of ' + doc.rows.length + ' keys shown';
      table.setAttribute('data-shown', String(count));
    }
    text.value = state.text;
    verdict.value = state.verdict;
    if (verdict.value !== state.verdict) { state.verdict = ''; } // a verdict no key has now
    text.addEventListener('input', function () { state.text = text.value.trim(); draw(); saved(); });
    verdict.addEventListener('change', function () { state.verdict = verdict.value; draw(); saved(); });
    draw();
    return el('section', { id: 'overview-keys', 'aria-labelledby': 'overview-keys-title' }, [
      el('h2', { id: 'overview-keys-title' }, ['History keys']),
      el('div', { 'class': 'fio-filters' }, [text, ' ', verdict, ' ', shown]),
      table
    ]);
  }

  function render(container, doc, options) {
    var counts = Object.keys(doc.verdicts || {}).map(function (v) { return v + ' ' + doc.verdicts[v]; }).join(', ');
    var parts = [
      el('h1', {}, [options.title || 'Overview']),
      el('p', { id: 'overview-summary' }, [doc.keys + ' history keys, ' + doc.runs + ' runs' +
        (counts ? '; newest run of each key: ' + counts : '') + '.']),
      doc.pending ? el('p', { id: 'overview-pending', 'class': 'fio-note' }, [doc.pending +
        ' key(s) still being summarised (their change points and baselines are derived once); ' +
        (options.pendingNote || 'reload for the rest.')]) : null,
      sessionsSection(doc, options),
      recentSection(doc, options),
      keysSection(doc, options)
    ];
    container.textContent = '';
    parts.forEach(function (part) { if (part) { container.appendChild(part); } });
    container.setAttribute('data-rendered', String(doc.rows.length));
  }

  window.fioloadgenRenderOverview = render;

  // The static site's index: the document is in a JSON block next to its container.
  var block = document.getElementById('overview-data');
  var main = document.getElementById('overview');
  if (block && main) {
    render(main, JSON.parse(block.textContent), {
      title: 'fio benchmark history',
      // The filters are in the hash (#text=...&verdict=...): kept by a reload, shared as
      // a link. replace(): one history entry per page, not one per keystroke.
      filters: new URLSearchParams(window.location.hash.slice(1)),
      saveFilters: function (params) { window.location.replace('#' + params.toString()); },
      keyHref: function (row) { return row.page; },
      runHref: function (id) { return 'run.html#' + encodeURIComponent(id); }
    });
  }
}());
