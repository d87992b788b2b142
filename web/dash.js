// web/dash.js - the dashboard: reads /api/v1/... and draws each panel with
// plain DOM and SVG (no library, nothing from the network). Every number
// shown goes through fmt(); the raw value is kept in data-value. When all
// panels are drawn, <body data-ready="N"> counts the refreshes done.
"use strict";

const KPIS = ["revenue", "orders", "new_customers", "churned", "churn_rate", "retention_rate",
              "nps", "csat", "aov", "cpa", "lead_response_s", "clv_pred_avg"];
const SVG = "http://www.w3.org/2000/svg";

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}

function pct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function empty(msg) { return el("p", { class: "empty" }, msg || "no data yet"); }

function put(id, ...nodes) {
  const body = document.querySelector("#" + id + " .body");
  body.replaceChildren(...nodes);
}

async function get(path) {
  const r = await fetch("/api/v1/" + path, { cache: "no-store" });
  const doc = await r.json();
  if (!r.ok) throw new Error(doc.error || r.statusText);
  return doc;
}

function days() { return document.getElementById("days").value; }

function drawFunnel(doc) {
  const total = doc.stages.reduce((s, x) => s + x.customers, 0);
  if (total === 0) return put("funnel", empty());
  const max = Math.max(...doc.stages.map((x) => x.customers), 1);
  const w = 360, row = 22, g = svg("svg", { viewBox: `0 0 ${w} ${row * doc.stages.length}`, width: "100%" });
  doc.stages.forEach((x, i) => {
    g.append(svg("text", { x: 0, y: i * row + 15 }, x.stage));
    g.append(svg("rect", { class: "bar", x: 90, y: i * row + 4, height: row - 8,
                          width: Math.max(1, (w - 150) * x.customers / max) }));
    g.append(svg("text", { x: w - 4, y: i * row + 15, "text-anchor": "end" }, fmt(x.customers)));
  });
  const t = el("table", {}, el("tr", {}, el("th", {}, "stage"), el("th", { class: "num" }, "customers")));
  for (const x of doc.stages)
    t.append(el("tr", { "data-stage": x.stage },
                el("td", {}, x.stage), el("td", { class: "num count", "data-value": x.customers }, fmt(x.customers))));
  const c = el("table", {}, el("tr", {}, el("th", {}, `conversion, ${doc.window.from} – ${doc.window.to}`),
                               el("th", { class: "num" }, "moved on"), el("th", { class: "num" }, "rate")));
  for (const x of doc.conversion)
    c.append(el("tr", { "data-from": x.from }, el("td", {}, `${x.from} → ${x.to}`),
                el("td", { class: "num" }, `${fmt(x.converted)} / ${fmt(x.left)}`),
                el("td", { class: "num" }, pct(x.rate))));
  put("funnel", g, t, c);
}

function spark(points) {
  const w = 160, h = 36, vals = points.filter((v) => typeof v === "number");
  const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: "100%", height: h });
  if (vals.length < 2) return s;
  const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
  let d = "";
  points.forEach((v, i) => {
    if (typeof v !== "number") return;
    const x = (i / (points.length - 1)) * (w - 2) + 1, y = h - 2 - ((v - lo) / span) * (h - 4);
    d += (d ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
  });
  s.append(svg("path", { class: "line", d }));
  return s;
}

function drawKpi(doc) {
  if (!doc.days.length) return put("kpi", empty("no data yet (kpi:history)"));
  const last = doc.days[doc.days.length - 1];
  const grid = el("div", { class: "kpis" });
  for (const k of KPIS) {
    const pts = doc.days.map((d) => d[k]);
    grid.append(el("div", { class: "kpi-card", "data-kpi": k },
                   el("div", { class: "name" }, k),
                   el("div", { class: "last", "data-value": last[k] ?? "" }, fmt(last[k])),
                   spark(pts)));
  }
  put("kpi", el("p", {}, `${doc.days.length} days, ${doc.days[0].date} – ${last.date} (last day partial)`), grid);
}

function drawCohorts(doc) {
  if (!doc.cohorts.length) return put("cohorts", empty("no data yet (kpi:cohorts)"));
  const n = Math.max(...doc.cohorts.map((c) => c.retained.length));
  const head = el("tr", {}, el("th", {}, doc.period), el("th", { class: "num" }, "size"));
  for (let k = 0; k < n; k++) head.append(el("th", { class: "num" }, String(k)));
  const t = el("table", {}, head);
  doc.cohorts.forEach((c, i) => {
    const tr = el("tr", {}, el("td", {}, c.start), el("td", { class: "num" }, fmt(c.size)));
    c.retained.forEach((r, k) => {
      const share = c.share[k];
      const td = el("td", { class: "num cell", "data-cohort": i, "data-k": k, "data-value": r,
                            title: `${r} of ${c.size}` }, pct(share));
      td.style.background = `rgba(74,120,194,${share === null ? 0 : share.toFixed(2)})`;
      tr.append(td);
    });
    t.append(tr);
  });
  put("cohorts", el("p", {}, `as of ${doc.as_of}`), t);
}

function reasonText(rs) {
  return rs.slice(0, 3).map((r) => `${r.signal} ${fmt(r.contribution)}`).join(", ");
}

function drawRisk(doc) {
  if (!doc.customers.length) return put("at_risk", empty("no customer at risk yet"));
  const t = el("table", {}, el("tr", {}, el("th", {}, "customer"), el("th", {}, "stage"),
                              el("th", { class: "num" }, "risk"), el("th", { class: "num" }, "CLV"),
                              el("th", {}, "reasons")));
  for (const c of doc.customers)
    t.append(el("tr", { "data-id": c.id }, el("td", {}, c.id), el("td", { class: "stage" }, c.stage ?? "–"),
                el("td", { class: "num risk", "data-value": c.risk }, fmt(c.risk)),
                el("td", { class: "num clv", "data-value": c.clv ?? "" }, fmt(c.clv)),
                el("td", { class: "reasons" }, reasonText(c.reasons))));
  put("at_risk", el("p", {}, `${doc.total} customers at risk`), t);
}

// The alert's event time (what the customer did, in stream time); the
// entry's id (when clmd raised it) for an entry without a document.
function alertTime(a) {
  const at = a.alert && a.alert.event_ts ? Date.parse(a.alert.event_ts) : a.at_ms;
  return new Date(Number.isNaN(at) ? a.at_ms : at).toISOString().slice(0, 19).replace("T", " ");
}

function drawAlerts(doc) {
  if (!doc.alerts.length) return put("alerts", empty("no alert yet"));
  const t = el("table", {}, el("tr", {}, el("th", {}, "event time"), el("th", {}, "kind"), el("th", {}, "customer"),
                              el("th", { class: "num" }, "risk")));
  for (const a of doc.alerts)
    t.append(el("tr", {}, el("td", {}, alertTime(a)),
                el("td", {}, a.kind ?? "–"), el("td", {}, a.customer_id ?? "–"),
                el("td", { class: "num" }, fmt(a.risk))));
  put("alerts", t);
}

function drawHealth(doc) {
  const h = document.getElementById("health");
  h.dataset.state = doc.healthy ? "ok" : "bad";
  h.textContent = doc.healthy ? "healthy" : "unhealthy";
  const age = doc.last_flush_ms ? ((Date.now() - doc.last_flush_ms) / 1000).toFixed(1) + " s ago" : "none yet";
  const m = doc.model || {};
  const rows = [["consumer lag", fmt(doc.lag)], ["partitions", fmt(doc.partitions)],
                ["events/s", fmt(doc.events_per_s)], ["consumed", fmt(doc.consumed)],
                ["last flush", age], ["model", m.status ? m.status + (m.last_error ? ": " + m.last_error : "") : "not fitted yet"],
                ["model fitted", m.fitted_at ? new Date(m.fitted_at).toISOString().slice(0, 19).replace("T", " ") : "–"]];
  put("ops", el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", { class: "num" }, v)))));
}

// The first configured breakdown dimension, per value over the window:
// Σ of the window's days, and S (the running sum of customers_delta over
// the days before the window) for the churn rate (README "Breakdowns").
// The span asked is the API's longest, so that S covers the history.
const BD_SPAN = 3660;
function breakdownRows(doc, from) {
  const rows = doc.values.map((v) => ({ value: v, c: {}, start: 0 }));
  const of = (v) => rows.find((r) => r.value === v) || rows[rows.push({ value: v, c: {}, start: 0 }) - 1];
  for (const d of doc.days)
    for (const [v, counters] of Object.entries(d)) {
      if (v === "date") continue;
      const r = of(v);
      for (const [k, n] of Object.entries(counters)) {
        if (d.date >= from) r.c[k] = (r.c[k] || 0) + n;
        else if (k === "customers_delta") r.start += n;
      }
    }
  return rows.map((r) => ({
    value: r.value, revenue: (r.c.revenue_micros || 0) / 1e6, orders: r.c.orders || 0,
    new_customers: r.c.new_customers || 0,
    churn_rate: r.start > 0 ? (r.c.churned || 0) / r.start : null,
    conversion: r.c.new_leads ? (r.c.leads_converted || 0) / r.c.new_leads : null,
  }));
}

async function drawBreakdowns() {
  const list = await get("breakdown");
  if (!list.dimensions.length) return put("breakdowns", empty("no breakdown configured (breakdowns)"));
  const dim = list.dimensions[0];
  const doc = await get(`breakdown?dim=${encodeURIComponent(dim)}&days=${BD_SPAN}`);
  const from = new Date(Date.parse(doc.to) - (days() - 1) * 86400000).toISOString().slice(0, 10);
  const t = el("table", {}, el("tr", {}, el("th", {}, dim), el("th", { class: "num" }, "revenue"),
                              el("th", { class: "num" }, "orders"), el("th", { class: "num" }, "new customers"),
                              el("th", { class: "num" }, "churn rate"), el("th", { class: "num" }, "conversion")));
  for (const r of breakdownRows(doc, from))
    t.append(el("tr", { "data-value": r.value }, el("td", {}, r.value),
                el("td", { class: "num revenue" }, fmt(r.revenue)), el("td", { class: "num orders" }, fmt(r.orders)),
                el("td", { class: "num new_customers" }, fmt(r.new_customers)),
                el("td", { class: "num churn_rate" }, pct(r.churn_rate)),
                el("td", { class: "num conversion" }, pct(r.conversion))));
  put("breakdowns", el("p", {}, `${from} – ${doc.to}`), t);
}

let refreshes = 0;
async function refresh() {
  const jobs = [["funnel?days=" + days(), "funnel", drawFunnel], ["kpi?days=" + days(), "kpi", drawKpi],
                ["cohorts", "cohorts", drawCohorts], ["at_risk?limit=10", "at_risk", drawRisk],
                ["alerts?limit=10", "alerts", drawAlerts], ["health", "ops", drawHealth]];
  await Promise.all(jobs.map(async ([path, id, draw]) => {
    try { draw(await get(path)); } catch (e) { put(id, empty("error: " + e.message)); }
  }).concat(drawBreakdowns().catch((e) => put("breakdowns", empty("error: " + e.message)))));
  document.body.dataset.ready = String(++refreshes);
}

document.getElementById("days").addEventListener("change", refresh);
refresh();
setInterval(refresh, 10000);
