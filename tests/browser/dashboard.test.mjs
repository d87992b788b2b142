// tests/browser/dashboard.test.mjs - loads the clmd dashboard in headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core) and
// checks that each panel shows what the JSON API returns: every funnel
// count, the last KPI point of each KPI, the first cohort cell, the top
// at-risk customer, the first row of the breakdowns panel, the health badge. Every request not to the dashboard's
// own address is refused and makes the test fail. Saves a screenshot.
//   node dashboard.test.mjs http://127.0.0.1:<port> <screenshot.png>
// Exit 0: all panels agree; 1: a mismatch or an outside request (printed).
import { chromium } from "playwright-core";

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
  console.error("usage: node dashboard.test.mjs <base url> <screenshot.png>");
  process.exit(2);
}
const origin = new URL(base).origin;
const KPIS = ["revenue", "orders", "new_customers", "churned", "churn_rate", "retention_rate",
              "nps", "csat", "aov", "cpa", "lead_response_s", "clv_pred_avg"];

// the page's own formatting (web/dash.js), worked out again here
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}
function pct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }

async function api(path) {
  const r = await fetch(`${origin}/api/v1/${path}`);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

const problems = [];
function expect(what, got, want) {
  if (got !== want) problems.push(`${what}: page shows ${JSON.stringify(got)}, API says ${JSON.stringify(want)}`);
}

const outside = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // no name resolves: nothing can leave this host even if a request slipped past the route
  args: ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-sandbox"],
});
let code = 1;
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.origin === origin) return route.continue();
    outside.push(u.href);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));

  // the API and the page read the same Redis: read the API, load the page,
  // compare; a background job may change a key in between, so up to 3 tries
  for (let attempt = 1; attempt <= 3; attempt++) {
    problems.length = 0;
    const [funnel, kpi, cohorts, risk] = await Promise.all([
      api("funnel?days=30"), api("kpi?days=30"), api("cohorts"), api("at_risk?limit=10")]);
    await page.goto(`${origin}/dashboard`);
    await page.waitForSelector("body[data-ready]", { timeout: 30000 });

    for (const s of funnel.stages)
      expect(`funnel ${s.stage}`, await page.textContent(`#funnel tr[data-stage="${s.stage}"] .count`),
             fmt(s.customers));
    if (funnel.stages.every((s) => s.customers === 0)) problems.push("funnel: no customer at all");

    if (!kpi.days.length) problems.push("kpi: the API has no day");
    const last = kpi.days[kpi.days.length - 1] || {};
    for (const k of KPIS)
      expect(`last ${k}`, await page.textContent(`#kpi [data-kpi="${k}"] .last`), fmt(last[k]));

    if (!cohorts.cohorts.length) problems.push("cohorts: the API has no cohort");
    else {
      const c0 = cohorts.cohorts[0];
      expect("first cohort cell", await page.textContent('#cohorts td[data-cohort="0"][data-k="0"]'),
             pct(c0.share[0]));
      expect("first cohort cell count",
             await page.getAttribute('#cohorts td[data-cohort="0"][data-k="0"]', "data-value"),
             String(c0.retained[0]));
    }

    if (!risk.customers.length) problems.push("at_risk: the API has no customer");
    else {
      const top = risk.customers[0];
      const row = "#at_risk tr[data-id]";
      expect("top at-risk id", await page.getAttribute(row, "data-id"), top.id);
      expect("top at-risk stage", await page.textContent(`${row} .stage`), top.stage ?? "–");
      expect("top at-risk risk", await page.textContent(`${row} .risk`), fmt(top.risk));
      expect("top at-risk CLV", await page.textContent(`${row} .clv`), fmt(top.clv));
    }
    // breakdowns: the first configured dimension's first value over the
    // page's default window (30 days), summed here from the API's days
    const dims = (await api("breakdown")).dimensions;
    if (!dims.length) problems.push("breakdown: the API lists no dimension");
    else {
      const bd = await api(`breakdown?dim=${encodeURIComponent(dims[0])}&days=3660`);
      const v = bd.values[0], from = new Date(Date.parse(bd.to) - 29 * 86400000).toISOString().slice(0, 10);
      const sum = {}; let start = 0;
      for (const d of bd.days)
        for (const [k, n] of Object.entries(d[v] || {}))
          if (d.date >= from) sum[k] = (sum[k] || 0) + n;
          else if (k === "customers_delta") start += n;
      if (!sum.orders) problems.push(`breakdown: no order under ${v} in the window`);
      const row = `#breakdowns tr[data-value="${v}"]`;
      expect(`breakdown ${v} revenue`, await page.textContent(`${row} .revenue`), fmt((sum.revenue_micros || 0) / 1e6));
      expect(`breakdown ${v} orders`, await page.textContent(`${row} .orders`), fmt(sum.orders || 0));
      expect(`breakdown ${v} new customers`, await page.textContent(`${row} .new_customers`),
             fmt(sum.new_customers || 0));
      expect(`breakdown ${v} churn rate`, await page.textContent(`${row} .churn_rate`),
             pct(start > 0 ? (sum.churned || 0) / start : null));
      expect(`breakdown ${v} conversion`, await page.textContent(`${row} .conversion`),
             pct(sum.new_leads ? (sum.leads_converted || 0) / sum.new_leads : null));
    }
    const badge = await page.textContent("#health");
    if (badge !== "healthy" && badge !== "unhealthy") problems.push(`health badge: "${badge}"`);
    if (!problems.length) break;
    console.error(`attempt ${attempt}:\n  ${problems.join("\n  ")}`);
  }
  // the page asked for nothing outside; a request we make ourselves is refused
  const before = outside.length;
  const reached = await page.evaluate(() =>
    fetch("https://cdn.jsdelivr.net/npm/chart.js").then(() => true, () => false));
  if (reached) problems.push("a request to the outside was not refused");
  if (outside.length !== before + 1) problems.push("the probe request to the outside was not seen");
  outside.splice(before, 1);
  for (const u of outside) problems.push(`the page asked for ${u}`);

  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  if (problems.length) console.error(problems.join("\n"));
  else {
    console.log("every panel shows what the API returns");
    code = 0;
  }
} finally {
  await browser.close();
}
process.exit(code);
