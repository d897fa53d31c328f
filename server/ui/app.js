"use strict";
// The results browser. Every piece of user text reaches the page through textContent or
// attribute values, never through innerHTML; the server's CSP forbids inline scripts too.
(function () {
  const API = "/api/v1";
  const METRICS = ["iops", "read_iops", "write_iops", "bw_mib_s", "read_bw_mib_s", "write_bw_mib_s",
    "read_lat_mean_ms", "read_lat_p50_ms", "read_lat_p95_ms", "read_lat_p99_ms", "read_lat_p999_ms",
    "read_lat_max_ms", "write_lat_mean_ms", "write_lat_p50_ms", "write_lat_p95_ms", "write_lat_p99_ms",
    "write_lat_p999_ms", "write_lat_max_ms", "iops_per_worker", "scaling_efficiency"];
  const view = document.getElementById("view");
  const charts = [];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  // The one number format and chart vocabulary of the site and the report (charts.js).
  const C = window.fioloadgenCharts;
  const fmt = (v, metric = "") => (v === null || v === undefined ? "–" : C.metric(metric, Number(v)));
  const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "–");

  function notice(message) {
    const box = document.getElementById("notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function token() { return document.getElementById("token").value.trim(); }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.write) headers.Authorization = "Bearer " + token();
    const response = await fetch(API + path, {
      method: options.method || "GET", headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const document_ = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(document_.message || response.status + " " + response.statusText);
    return document_;
  }

  async function act(action) {
    try { notice(""); return await action(); } catch (err) { notice(err.message); return null; }
  }

  function clearCharts() { while (charts.length) charts.pop().destroy(); }

  function chart(title, config) {
    const canvas = el("canvas", { "aria-label": title });
    const box = el("div", { class: "chart" }, canvas);
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { title: { display: true, text: title } } }, config.options || {});
    if (config.options.plugins && !config.options.plugins.title) config.options.plugins.title = { display: true, text: title };
    requestAnimationFrame(() => charts.push(C.make(canvas, config, title)));
    return box;
  }

  // -- masthead: survives a server restart by polling and saying so meanwhile ---------------
  async function pollStatus() {
    const badge = document.getElementById("server-status");
    try {
      const data = (await api("/status")).data;
      const running = data.running_job;
      badge.className = "status " + (running ? "busy" : "ok");
      badge.textContent = `${data.backend} · workers ${Object.entries(data.workers).map(([t, n]) => t + "=" + n).join(", ")}` +
        ` · ${running ? "running " + running.title : "idle"} · queued ${data.queue_length}` +
        ` · up ${Math.floor(data.uptime_s)}s · v${data.version}`;
    } catch (err) {
      badge.className = "status down";
      badge.textContent = "server unreachable – retrying";
    }
  }

  // -- profiles --------------------------------------------------------------------------
  async function profilesPage() {
    const profiles = (await api("/profiles")).data;
    const status = (await api("/status")).data;
    const text = el("pre", { id: "profile-text" }, "select a profile");
    const select = el("select", { id: "run-profile" }, profiles.map((p) => el("option", { value: p.name }, p.name)));
    const targets = el("select", { id: "run-target" }, Object.keys(status.workers).map((t) => el("option", { value: t }, t)));
    const workers = el("input", { id: "run-workers", type: "number", min: 1, value: 1, size: 4 });
    const title = el("input", { id: "run-title", type: "text", maxlength: 200, placeholder: "title" });
    const runForm = el("form", { class: "inline", id: "run-form", onsubmit: (event) => {
      event.preventDefault();
      act(async () => {
        const job = (await api("/jobs", { method: "POST", write: true, body: {
          profile: select.value, target: targets.value, workers: Number(workers.value), title: title.value } })).data;
        location.hash = "#/job/" + encodeURIComponent(job.id);
      });
    } }, el("label", {}, "profile ", select), el("label", {}, "target ", targets),
      el("label", {}, "workers ", workers), el("label", {}, "title ", title),
      el("button", { type: "submit", id: "run-submit" }, "Run"));
    const list = el("table", { id: "profiles" }, el("tr", {}, el("th", {}, "name"), el("th", {}, "description"), el("th", {}, "")),
      profiles.map((p) => el("tr", {}, el("td", {}, p.name), el("td", {}, p.description),
        el("td", {}, el("button", { class: "view", onclick: () => act(async () => {
          text.textContent = (await api("/profiles/" + encodeURIComponent(p.name))).data.text;
          select.value = p.name;
        }) }, "view"), p.read_only ? null : el("button", { onclick: () => act(async () => {
          await api("/profiles/" + encodeURIComponent(p.name), { method: "DELETE", write: true }); route();
        }) }, "delete")))));
    const builder = customBuilder();
    return [el("h1", {}, "Profiles"), list, el("fieldset", {}, el("legend", {}, "Run"), runForm), text, builder];
  }

  function customBuilder() {
    const field = (id, label, input) => el("label", {}, label + " ", Object.assign(input, { id }));
    const pattern = el("select", {}, el("option", { value: "random" }, "random"), el("option", { value: "sequential" }, "sequential"));
    const read = el("input", { type: "number", min: 0, max: 100, value: 70, size: 4 });
    const bs = el("input", { type: "text", value: "4k", size: 5 });
    const depth = el("input", { type: "number", min: 1, max: 1024, value: 4, size: 4 });
    const runtime = el("input", { type: "number", min: 1, value: 30, size: 5 });
    const name = el("input", { type: "text", maxlength: 24, placeholder: "name", size: 14 });
    const preview = el("pre", { id: "builder-preview" });
    const spec = () => ({ pattern: pattern.value, read_pct: Number(read.value), block_size: bs.value,
      iodepth: Number(depth.value), runtime: Number(runtime.value) });
    return el("fieldset", { id: "builder" }, el("legend", {}, "Custom profile"),
      field("b-pattern", "pattern", pattern), field("b-read", "read %", read), field("b-bs", "block size", bs),
      field("b-depth", "iodepth", depth), field("b-runtime", "runtime s", runtime), field("b-name", "name", name),
      el("button", { type: "button", onclick: () => act(async () => {
        preview.textContent = (await api("/profile-builder", { method: "POST", body: spec() })).data.text;
      }) }, "Preview"),
      el("button", { type: "button", id: "b-save", onclick: () => act(async () => {
        await api("/profiles/" + encodeURIComponent(name.value), { method: "PUT", write: true, body: { spec: spec() } });
        route();
      }) }, "Save"), preview);
  }

  // -- runs: every run with its queue state ----------------------------------------------
  // One list for runs from plugin sessions, the http store and server jobs; jobs without a
  // run yet (queued, running, cancelled) come first. Every row opens #/job/<id>.
  // The list's filters and page live in the route (#/jobs?status=failed&profile=...), so
  // a view survives a reload and can be shared as a link.
  const FILTERS = ["q", "status", "verdict", "test", "session", "profile", "label"];
  const FILTER_NAMES = { q: "title, test or profile contains", status: "queue state", verdict: "verdict",
    test: "test (node id without [...]), or job", session: "session", profile: "profile", label: "label KEY=VALUE" };
  // Pages follow the server's cursor (keyset paging: a deep page costs what the first
  // does); the cursor and where the page starts are in the route too, "back" keeps the
  // cursors of the pages before (a reloaded deep page goes back to the first).
  const jobsBack = [];
  const PAGE = 50;
  const VERDICTS = ["", "pass", "fail", "regression", "unstable", "suspect", "inconclusive", "improved", "error", "none"];

  function badge(status) {
    const ok = ["pass", "improved"].includes(status);
    const warn = ["suspect", "inconclusive"].includes(status);
    const none = !status || status === "none";
    return el("span", { class: "fio-verdict " + (ok ? "fio-ok" : warn ? "fio-warn" : none ? "fio-none" : "fio-bad"),
      "data-status": status || "-" }, status || "–");
  }

  // The route of a view of the list: its filters (empty ones left out) and page.
  function jobsRoute(state) {
    const q = new URLSearchParams();
    for (const name of [...FILTERS, "cursor", "start"]) if (state[name] && state[name] !== "0") q.set(name, state[name]);
    const text = q.toString();
    return "#/jobs" + (text ? "?" + text : "");
  }

  // A row's actions in one menu (a disclosure: keyboard reachable, Escape closes it).
  function rowMenu(job, actions) {
    if (!actions.length) return null;
    const menu = el("details", { class: "row-menu" },
      el("summary", { "aria-label": "actions for " + (job.title || job.id) }, "actions"),
      el("div", { class: "row-menu-items", role: "group", "aria-label": "actions for " + (job.title || job.id) }, actions));
    menu.addEventListener("keydown", (e) => { if (e.key === "Escape") { menu.open = false; menu.querySelector("summary").focus(); } });
    return menu;
  }

  async function jobsPage(params) {
    const state = Object.fromEntries([...FILTERS, "cursor", "start"].map((name) => [name, (params.get(name) || "").trim()]));
    const start = Math.max(0, parseInt(state.start, 10) || 0);
    const q = new URLSearchParams({ limit: PAGE });
    if (state.cursor) q.set("cursor", state.cursor);
    for (const name of FILTERS) if (state[name]) q.set(name, state[name]);
    const page = await api("/jobs?" + q);
    const selected = new Set();
    const output = el("pre", { id: "job-output", hidden: true });
    const show = (text) => { output.hidden = false; output.textContent = text; };
    const actions = (job) => {
      const buttons = [];
      const id = encodeURIComponent(job.id);
      if (job.status === "queued") buttons.push(el("button", { class: "cancel", onclick: () => act(async () => { await api(`/jobs/${id}/cancel`, { method: "POST", write: true }); route(); }) }, "cancel"));
      if (job.status !== "running") buttons.push(el("button", { class: "delete", onclick: () => act(async () => { await api(`/jobs/${id}`, { method: "DELETE", write: true }); route(); }) }, "delete"));
      if (!["queued", "running", "cancelled"].includes(job.status)) {
        buttons.push(el("button", { class: "rerun", onclick: () => act(async () => { await api(`/jobs/${id}/rerun`, { method: "POST", write: true }); route(); }) }, "rerun"));
        buttons.push(el("button", { class: "export", onclick: () => act(async () => show(JSON.stringify(await api("/export?ids=" + id), null, 1))) }, "export"));
      }
      return buttons;
    };
    // A changed filter starts again at the first page.
    const set = (name) => (e) => {
      jobsBack.length = 0;
      location.hash = jobsRoute({ ...state, [name]: e.target.value.trim(), cursor: "", start: "" });
    };
    const text = (name) => el("input", { id: "filter-" + name, type: "search", placeholder: FILTER_NAMES[name],
      "aria-label": "filter: " + FILTER_NAMES[name], value: state[name], onchange: set(name) });
    const filters = el("div", { id: "filters" },
      text("q"), " ",
      el("select", { id: "filter-status", "aria-label": "filter: queue state", onchange: set("status") },
        ["", "queued", "running", "complete", "failed", "cancelled", "interrupted"].map((s) => el("option", { value: s, selected: s === state.status }, s || "any state"))), " ",
      el("select", { id: "filter-verdict", "aria-label": "filter: verdict", onchange: set("verdict") },
        VERDICTS.map((v) => el("option", { value: v, selected: v === state.verdict }, v || "any verdict"))), " ",
      text("test"), " ", text("session"), " ", text("profile"), " ", text("label"), " ",
      FILTERS.some((name) => state[name]) ? el("a", { href: "#/jobs", id: "filters-clear" }, "clear filters") : null);
    // One title column: a plugin run's title is its test (the node id's tail, the whole id
    // in the tooltip); a line under it says only what the title does not.
    const titleCell = (job) => {
      const imported = job.labels && job.labels["imported-from"];
      const note = imported ? "imported from " + imported : null;
      return el("td", { class: "title" },
        el("a", { href: "#/job/" + encodeURIComponent(job.id), class: "job-link", title: job.test_id || job.title }, job.title || job.id),
        note ? el("span", { class: "test fio-note" }, note) : null);
    };
    const table = el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, ["select", "run", "state", "verdict", "profile", "workers", "target", "started", "iops", "actions"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, page.data.map((job) => el("tr", { "data-job": job.id, "data-source": job.source },
        el("td", {}, el("input", { type: "checkbox", class: "pick", "aria-label": "select " + (job.title || job.id),
          onchange: (e) => (e.target.checked ? selected.add(job.id) : selected.delete(job.id)) })),
        titleCell(job),
        el("td", { class: "s-" + job.status }, job.status), el("td", { class: "verdict" }, badge(job.verdict)),
        el("td", {}, job.profile), el("td", { class: "num" }, job.workers),
        el("td", {}, job.target), el("td", {}, when(job.started || job.created)),
        el("td", { class: "num" }, job.summary ? fmt(job.summary.iops, "iops") : "–"), el("td", {}, rowMenu(job, actions(job)))))));
    const pager = el("div", {}, el("span", { id: "jobs-count" }, `${page.data.length ? start + 1 : 0}–${start + page.data.length} of ${page.total}`), " ",
      el("button", { id: "jobs-previous", disabled: start === 0, onclick: () => {
        const before = jobsBack.pop() || { cursor: "", start: "" };
        location.hash = jobsRoute({ ...state, cursor: before.cursor, start: String(before.start || "") }); } }, "previous"),
      el("button", { id: "jobs-next", disabled: !page.next_cursor, onclick: () => {
        jobsBack.push({ cursor: state.cursor, start });
        location.hash = jobsRoute({ ...state, cursor: page.next_cursor, start: String(start + page.data.length) }); } }, "next"),
      el("button", { id: "compare-selected", onclick: () => { if (selected.size) location.hash = "#/compare/" + [...selected].map(encodeURIComponent).join(","); } }, "compare selected"));
    return [el("h1", {}, "Runs"), filters, table, pager, output];
  }

  // -- one job or run -------------------------------------------------------------------
  async function jobPage(id, params) {
    const job = (await api("/jobs/" + encodeURIComponent(id))).data;
    const facts = [
      el("table", { id: "job-summary" }, [["id", job.id], ["state", job.status], ["verdict", badge(job.verdict)],
        ["test", job.test_id || "–"], ["profile", job.profile], ["workers", job.workers], ["target", job.target],
        ["started", when(job.started)], ["ended", when(job.ended)],
        ["labels", Object.entries(job.labels || {}).map(([k, v]) => k + "=" + v).join(", ") || "–"],
        ["error", job.error || "–"]].map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, v))))];
    if (job.history_key) facts.push(el("p", {}, el("a", { href: "#/history/" + encodeURIComponent(job.history_key), id: "history-link" }, "history of this case")));
    if (!job.run) {
      const parts = [el("h1", {}, job.title), ...facts];
      parts.push(el("p", {}, job.status === "queued" || job.status === "running" ? "waiting for the result…" : "no result"));
      if (job.status === "queued" || job.status === "running") setTimeout(() => { if (location.hash === "#/job/" + encodeURIComponent(id)) route(); }, 2000);
      parts.push(el("h2", {}, "profile"), el("pre", { id: "profile-text" }, job.profile_text || ""));
      return parts;
    }
    // The same renderer as the static site's run page: the same content in both. Its
    // summary comes first; the job's own facts (state, times, labels) after it.
    const container = el("div", { id: "run" });
    const parts = [container, el("section", { id: "job", "aria-labelledby": "job-title" },
      el("h2", { id: "job-title" }, "job " + job.id), ...facts)];
    requestAnimationFrame(() => window.fioloadgenRenderRun(container, job.run, {
      title: job.title, keyHref: "#/history/" + encodeURIComponent(job.history_key || ""),
      runHref: (runId) => "#/job/" + encodeURIComponent(runId),
      // The tab in the route (#/job/<id>?tab=phases) without a new route or history entry.
      tab: params.get("tab"),
      saveTab: (tab) => history.replaceState(null, "", "#/job/" + encodeURIComponent(id) + "?" + new URLSearchParams({ tab })),
      // fio's output is large: fetched when asked for, in the run page's "raw" tab.
      loadRaw: async () => (await api(`/jobs/${encodeURIComponent(id)}/raw`)).data }));
    return parts;
  }

  // -- overview: the home page ----------------------------------------------------------
  // The static site's index draws the same document with the same renderer (overview.js).
  async function overviewPage(params) {
    const doc = (await api("/overview")).data;
    const container = el("div", { id: "overview" });
    window.fioloadgenRenderOverview(container, doc, {
      title: "Overview",
      // The key table's filters in the route (#/overview?text=...), without a new route
      // (no re-render while typing) or a history entry per keystroke.
      filters: params,
      saveFilters: (filters) => {
        const text = filters.toString();
        history.replaceState(null, "", "#/overview" + (text ? "?" + text : ""));
      },
      keyHref: (row) => "#/history/" + encodeURIComponent(row.history_key),
      runHref: (id) => "#/job/" + encodeURIComponent(id),
      pendingNote: "this page asks again in a few seconds.",
    });
    // A cold summary cache fills over several requests: ask again while keys are pending.
    if (doc.pending) setTimeout(() => { if (isHome()) route(); }, 3000);
    return [container];
  }

  function isHome() { return ["", "#", "#/", "#/overview"].includes(location.hash.split("?")[0]); }

  // -- history ---------------------------------------------------------------------------
  async function historyIndex() {
    const keys = (await api("/history")).data;
    return [el("h1", {}, "History"), el("table", { id: "history-keys" },
      el("tr", {}, ["key", "backend", "runs", "last run", "latest verdict"].map((h) => el("th", { scope: "col" }, h))),
      keys.map((k) => el("tr", { "data-key": k.history_key },
        el("td", {}, el("a", { href: "#/history/" + encodeURIComponent(k.history_key), title: k.test || "" }, k.title || k.profile)),
        el("td", {}, k.backend), el("td", { class: "num" }, k.runs), el("td", {}, when(k.last_run)),
        el("td", { class: "verdict" }, badge(k.verdict)))))];
  }

  // A key's page: the same renderer as the static site's key pages (keypage.js); the
  // metric is in the route, so a view is a link.
  async function historyPage(key, metric) {
    const doc = (await api(`/history/${encodeURIComponent(key)}?metric=${encodeURIComponent(metric)}`)).data;
    const container = el("div", { id: "key" });
    window.fioloadgenRenderKey(container, doc, {
      runHref: (id) => "#/job/" + encodeURIComponent(id),
      compareHref: (ids) => "#/compare/" + ids.map(encodeURIComponent).join(","),
      chooseMetric: (m) => { location.hash = `#/history/${encodeURIComponent(key)}/${encodeURIComponent(m)}`; },
    });
    return [container];
  }

  // -- compare ---------------------------------------------------------------------------
  // Runs side by side (plugin runs and server jobs alike): every metric with its delta
  // against the first run picked, and the runs' latency histograms and time series
  // overlaid in one chart each.
  const worse = (metric, d) => (d === null ? false : (/_ms$/.test(metric) ? d > 0 : d < 0));

  async function comparePage(ids) {
    const runs = (await api("/compare?ids=" + ids.map(encodeURIComponent).join(","))).data;
    const metrics = METRICS.filter((m) => runs.some((r) => r.metrics[m] !== undefined && r.metrics[m] !== null));
    // Runs of one test share a title: the run id tells them apart.
    const name = (r) => (r.title && r.title !== r.run_id ? r.title.split("::").pop() + " · " : "") + r.run_id.slice(0, 12);
    const base = runs[0];
    const head = el("tr", {}, el("th", {}, "metric"), runs.map((r, i) => [el("th", {}, name(r)), i ? el("th", {}, "Δ vs " + name(base)) : null]));
    const table = el("table", { id: "compare" }, head, metrics.map((m) => el("tr", {}, el("td", {}, m),
      runs.map((r, i) => {
        const cells = [el("td", { class: "num" }, fmt(r.metrics[m], m))];
        if (i) {
          const d = C.delta(m, r.metrics[m], base.metrics[m]);
          cells.push(el("td", { class: "num delta" + (d.worse ? " worse" : d.pct === null ? "" : " better"), "data-metric": m }, C.percent(d.pct)));
        }
        return cells;
      }))));
    const grid = el("div", { class: "charts", id: "compare-charts" });
    // The same overlaid charts as the static site's compare page (charts.js).
    for (const item of C.overlays(runs.map((r) => ({ name: name(r), latency: r.latency, timeseries: r.timeseries, spectrum: r.spectrum })))) {
      const box = chart(item.title, item.config);
      box.querySelector("canvas").id = item.id;
      grid.append(box);
    }
    return [el("h1", {}, "Compare runs"), el("p", {}, "Δ: change against the first run picked; red is worse (lower throughput, higher latency)."), table, grid];
  }

  // Sessions (plugin sessions; server jobs too with the box ticked), pick two to compare.
  async function sessionsPage() {
    const found = (await api("/sessions?jobs=1")).data;
    const picked = [];
    const a = el("input", { id: "set-a", type: "text", size: 28, placeholder: "A: session, baseline, K=V, previous" });
    const b = el("input", { id: "set-b", type: "text", size: 28, placeholder: "B: session, baseline, K=V, latest" });
    const go = () => { if (a.value.trim() && b.value.trim()) location.hash = "#/compare-sets/" + encodeURIComponent(a.value.trim()) + "/" + encodeURIComponent(b.value.trim()); };
    const table = el("table", { id: "sessions" },
      el("tr", {}, ["", "session", "started", "kind", "runs", "commit", "labels", "verdicts"].map((h) => el("th", {}, h))),
      found.map((s) => el("tr", { "data-session": s.session_id },
        el("td", {}, el("input", { type: "checkbox", class: "pick-session", "aria-label": "select session " + s.session_id, onchange: (e) => {
          if (e.target.checked) picked.push(s.session_id); else picked.splice(picked.indexOf(s.session_id), 1);
          // The older picked first: A is the baseline.
          const order = found.map((x) => x.session_id).filter((id) => picked.includes(id)).reverse();
          a.value = order[0] ? "session:" + order[0] : ""; b.value = order[1] ? "session:" + order[1] : "";
        } })),
        el("td", {}, el("code", {}, s.session_id)), el("td", {}, when(s.started_at)), el("td", {}, s.kind),
        el("td", { class: "num" }, s.runs), el("td", {}, (s.labels.git_commit || "–").slice(0, 12)),
        el("td", {}, Object.entries(s.labels).filter(([k]) => k !== "git_commit").map(([k, v]) => k + "=" + v).join(", ") || "–"),
        el("td", {}, Object.entries(s.verdicts).map(([k, v]) => k + "=" + v).join(" ")))));
    return [el("h1", {}, "Sessions"), el("p", {}, "Tick two sessions, or name any two sets of runs (a session id, latest, previous, a baseline, K=V labels):"),
      el("form", { class: "inline", id: "compare-form", onsubmit: (e) => { e.preventDefault(); go(); } }, a, " vs ", b, " ",
        el("button", { type: "submit", id: "compare-sets" }, "compare")), table];
  }

  async function compareSetsPage(a, b) {
    const data = (await api(`/compare/sets?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`)).data;
    // The comparison's own word, coloured as the run statuses it stands for.
    const verdictBadge = (v) => {
      const shown = badge({ regression: "regression", improvement: "improved", unchanged: "pass", inconclusive: "inconclusive" }[v] || "none");
      shown.textContent = v;
      return shown;
    };
    const table = el("table", { id: "compare-sets-table" },
      el("tr", {}, ["case", "metric", "A median", "B median", "Δ", "verdict", "test", "p"].map((h) => el("th", {}, h))),
      data.rows.map((r) => el("tr", { "data-metric": r.metric },
        el("td", {}, r.case), el("td", {}, r.metric),
        el("td", { class: "num" }, fmt(r.baseline, r.metric) + " (n=" + r.baseline_n + ")"),
        el("td", { class: "num" }, fmt(r.current, r.metric) + " (n=" + r.current_n + ")"),
        el("td", { class: "num delta" + (worse(r.metric, r.delta_pct) ? " worse" : "") }, C.percent(r.delta_pct)),
        el("td", { class: "verdict", "data-verdict": r.verdict }, verdictBadge(r.verdict)),
        el("td", {}, r.test), el("td", { class: "num" }, r.p_value === null ? "–" : r.p_value < 0.0001 ? "<0.0001" : C.sig3(r.p_value)))));
    const runs = [...data.a.runs.slice(0, 1), ...data.b.runs.slice(0, 1)];
    return [el("h1", {}, "Compare"), el("p", { id: "compare-sides" }, "A: " + data.a.description + " (" + data.a.runs.length + " runs) · B: " +
      data.b.description + " (" + data.b.runs.length + " runs)" + (data.only_in_a || data.only_in_b ? ` · unpaired: ${data.only_in_a} key(s) only in A, ${data.only_in_b} only in B` : "")),
      el("p", { id: "compare-outcome", class: data.regression ? "error" : "" }, data.regression ? "B regressed against A" : "no regression of B against A"),
      table, runs.length === 2 ? el("p", {}, el("a", { href: "#/compare/" + runs.map(encodeURIComponent).join(","), id: "compare-first-runs" }, "overlay the first run of each side")) : null];
  }

  // -- routing ---------------------------------------------------------------------------
  // Routes overlap when the URL changes quickly (a filter, then another): only the
  // newest one's page is shown, whichever answer arrives last.
  let routes = 0;
  async function route() {
    const mine = ++routes;
    clearCharts();
    // Charts the shared run renderer drew on pages that are gone.
    if (window.Chart) for (const c of Object.values(window.Chart.instances || {})) if (!document.contains(c.canvas)) c.destroy();
    // #/<view>/<arg>...?<filters>: the filters of a list view are in the route's query.
    const route_ = location.hash.replace(/^#\/?/, "");
    const at = route_.indexOf("?");
    const params = new URLSearchParams(at < 0 ? "" : route_.slice(at + 1));
    const parts = (at < 0 ? route_ : route_.slice(0, at)).split("/").map(decodeURIComponent);
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.id === "nav-" + (parts[0] || "overview"));
    let content;
    try {
      if (parts[0] === "profiles") content = await profilesPage();
      else if (parts[0] === "job" && parts[1]) content = await jobPage(parts[1], params);
      else if (parts[0] === "history" && parts[1]) content = await historyPage(parts[1], parts[2] || "iops");
      else if (parts[0] === "history") content = await historyIndex();
      else if (parts[0] === "compare" && parts[1]) content = await comparePage(parts[1].split(","));
      else if (parts[0] === "sessions") content = await sessionsPage();
      else if (parts[0] === "compare-sets" && parts[1] && parts[2]) content = await compareSetsPage(parts[1], parts[2]);
      else if (parts[0] === "jobs") content = await jobsPage(params);
      else content = await overviewPage(params);
    } catch (err) {
      content = [el("p", { class: "error" }, "cannot load this page: " + err.message)];
    }
    if (mine === routes) view.replaceChildren(...content);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const input = document.getElementById("token");
    input.value = sessionStorage.getItem("fioloadgen-token") || "";
    input.addEventListener("change", () => sessionStorage.setItem("fioloadgen-token", input.value.trim()));
    window.addEventListener("hashchange", route);
    pollStatus();
    setInterval(pollStatus, 3000);
    route();
  });
})();
