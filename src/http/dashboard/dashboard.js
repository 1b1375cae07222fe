// The a1c-jobs dashboard: reads the API every few seconds with the bearer token the person
// typed in (kept in sessionStorage) and draws every section with DOM calls, never innerHTML,
// so job errors and payloads are shown exactly as the API gives them.
"use strict";

const TOKEN_KEY = "a1c-jobs.token";
const REFRESH_MS = 5000;
const PROBLEM_LIMIT = 50;
const STATUSES = ["PENDING", "PROCESSING", "RETRY", "COMPLETED", "FAILED", "DEAD_LETTER",
  "CANCELLED"];

let timer = null;
let loading = false;

class Unauthorized extends Error {}
class Missing extends Error {}

// --- the API ---------------------------------------------------------------------------------

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    throw new Unauthorized("no token");
  }
  const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    throw new Unauthorized("token refused");
  }
  if (response.status === 404 && !options.method) {
    throw new Missing(path);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = { error: text };
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : response.status + " " + response.statusText;
    throw new Error(message);
  }
  return body;
}

// An array out of a body that is one, or an object holding one under a usual key.
function rows(body, ...keys) {
  if (Array.isArray(body)) {
    return body;
  }
  for (const key of [...keys, "items", "data", "jobs"]) {
    if (body && Array.isArray(body[key])) {
      return body[key];
    }
  }
  return [];
}

// --- small DOM helpers -----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key === "class") {
      node.className = value;
    } else if (key === "style") {
      // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      node.style.cssText = value;
    } else if (key === "data") {
      Object.assign(node.dataset, value);
    } else if (key.startsWith("on")) {
      node.addEventListener(key.slice(2), value);
    } else {
      node.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function table(headers, body) {
  const head = el("tr", {}, headers.map((h) =>
    el("th", { class: h.startsWith("#") ? "num" : null }, h.replace(/^#/, ""))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

function empty(text) {
  return el("div", { class: "empty" }, text);
}

function fill(id, ...content) {
  document.getElementById(id).replaceChildren(...content.flat());
}

function num(value) {
  const n = Number(value || 0);
  return el("td", { class: n === 0 ? "num zero" : "num" }, n.toLocaleString());
}

// --- time ------------------------------------------------------------------------------------

function relative(iso) {
  if (!iso) {
    return "never";
  }
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  let text;
  if (abs < 60) {
    text = abs + " s";
  } else if (abs < 3600) {
    text = Math.round(abs / 60) + " min";
  } else if (abs < 172800) {
    text = Math.round(abs / 3600) + " h";
  } else {
    text = Math.round(abs / 86400) + " d";
  }
  return seconds >= 0 ? "in " + text : text + " ago";
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

// "2026-03-02T06:00:00+01:00" as "Mon 2026-03-02 06:00 +01:00", the wall clock it names.
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
function wallClock(local) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(.*)$/.exec(local);
  if (!match) {
    return local;
  }
  const [, y, m, d, hm, offset] = match;
  const day = DAYS[new Date(Date.UTC(+y, +m - 1, +d)).getUTCDay()];
  const zone = offset === "Z" || offset === "+00:00" ? "UTC" : offset;
  return `${day} ${y}-${m}-${d} ${hm} ${zone}`;
}

// --- sections --------------------------------------------------------------------------------

function renderAlerts(body) {
  const alerts = rows(body, "alerts");
  if (alerts.length === 0) {
    fill("alerts", el("div", { class: "calm" }, "No active alerts."));
    return;
  }
  fill("alerts", alerts.map((alert) => el("div", { class: "alert" },
    el("strong", {}, alert.rule || alert.name || "alert"),
    alert.message || alert.summary || JSON.stringify(alert),
    alert.since || alert.fired_at ? el("span", { class: "hint" },
      "since " + relative(alert.since || alert.fired_at)) : null)));
}

function meter(inFlight, limit) {
  const share = limit > 0 ? Math.min(1, inFlight / limit) : 0;
  return el("div", { class: "meter" },
    el("div", { class: "track" }, el("div", {
      class: share >= 1 ? "fill full" : "fill", style: `width: ${(share * 100).toFixed(1)}%`,
    })),
    el("span", { class: "label" }, `${inFlight} / ${limit}`));
}

function renderPools(body) {
  const pools = rows(body, "pools");
  if (pools.length === 0) {
    fill("pools", empty("This node runs no pool."));
    return;
  }
  fill("pools", table(["Job type", "In flight", "State"], pools.map((pool) => {
    const inFlight = pool.in_flight ?? pool.running ?? 0;
    const limit = pool.limit ?? pool.concurrency ?? 0;
    const state = pool.paused ? el("span", { class: "badge warn" }, "paused")
      : el("span", { class: "badge ok" }, "running");
    return el("tr", { data: { pool: pool.job_type || pool.name } },
      el("td", { class: "mono" }, pool.job_type || pool.name),
      el("td", {}, meter(inFlight, limit)), el("td", {}, state));
  })));
}

// Queue depth arrives as rows of {job_type, status, count}, or as {job_type: {status: n}}.
function depthByType(body) {
  const byType = new Map();
  const add = (type, status, count) => {
    if (!byType.has(type)) {
      byType.set(type, {});
    }
    byType.get(type)[status] = (byType.get(type)[status] || 0) + Number(count || 0);
  };
  const list = rows(body, "depth", "queue_depth", "rows");
  if (list.length > 0) {
    list.forEach((r) => add(r.job_type, r.status, r.count ?? r.depth));
  } else if (body && typeof body === "object") {
    const source = body.queue_depth || body.depth || body;
    for (const [type, statuses] of Object.entries(source)) {
      if (statuses && typeof statuses === "object" && !Array.isArray(statuses)) {
        Object.entries(statuses).forEach(([status, count]) => add(type, status, count));
      }
    }
  }
  return byType;
}

function age(seconds) {
  if (seconds === undefined || seconds === null) {
    return "";
  }
  return relative(new Date(Date.now() - seconds * 1000).toISOString()).replace(" ago", "");
}

function renderQueue([depth, oldest]) {
  const byType = depthByType(depth);
  const waiting = new Map(rows(oldest).map((r) => [r.job_type, r.age_seconds]));
  if (byType.size === 0) {
    fill("queue", empty("No jobs in the queue."));
    return;
  }
  const types = [...byType.keys()].sort();
  const totals = {};
  const lines = types.map((type) => el("tr", { data: { type } },
    el("td", { class: "mono" }, type),
    STATUSES.map((status) => {
      totals[status] = (totals[status] || 0) + (byType.get(type)[status] || 0);
      return num(byType.get(type)[status]);
    }),
    el("td", { class: "num" }, age(waiting.get(type)))));
  lines.push(el("tr", { class: "total" }, el("td", {}, el("strong", {}, "all types")),
    STATUSES.map((status) => num(totals[status])), el("td")));
  fill("queue", table(["Job type", ...STATUSES.map((s) => "#" + s), "#Oldest due"], lines));
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach((c) => node.append(c));
  return node;
}

function niceMax(value) {
  const steps = [1, 2, 5, 10];
  let scale = 1;
  for (;;) {
    for (const step of steps) {
      if (step * scale >= value) {
        return step * scale;
      }
    }
    scale *= 10;
  }
}

function renderThroughput(body) {
  const minutes = rows(body, "minutes");
  if (minutes.length === 0) {
    fill("throughput", empty("No data."));
    return;
  }
  const width = 900;
  const height = 200;
  const left = 40;
  const bottom = 22;
  const plotH = height - bottom - 8;
  const slot = (width - left) / minutes.length;
  // At least 2, so the half-way line is a whole number of jobs.
  const peak = niceMax(Math.max(2, ...minutes.map((m) => m.completed + m.failed)));
  const y = (n) => 8 + plotH - (n / peak) * plotH;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "jobs completed and failed per minute" });
  for (const tick of [0, peak / 2, peak]) {
    chart.append(svg("line", { x1: left, x2: width, y1: y(tick), y2: y(tick),
      stroke: "#e2e5eb" }));
    const label = svg("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end",
      "font-size": 11, fill: "#6a7283" });
    label.textContent = Number.isInteger(tick) ? String(tick) : tick.toFixed(1);
    chart.append(label);
  }
  minutes.forEach((m, i) => {
    const x = left + i * slot + 1;
    const w = Math.max(1, slot - 2);
    const group = svg("g", { class: "minute" });
    const title = svg("title");
    const at = new Date(m.minute);
    title.textContent = `${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: `
      + `${m.completed} completed, ${m.failed} failed`;
    group.append(title);
    group.append(svg("rect", { x, w, y: y(m.completed), width: w,
      height: Math.max(0, y(0) - y(m.completed)), fill: "#1f9d55" }));
    group.append(svg("rect", { x, y: y(m.completed + m.failed), width: w,
      height: Math.max(0, y(m.completed) - y(m.completed + m.failed)), fill: "#d64545" }));
    chart.append(group);
    if (i % 15 === 0 || i === minutes.length - 1) {
      const label = svg("text", { x: x + w / 2, y: height - 6, "text-anchor": "middle",
        "font-size": 11, fill: "#6a7283" });
      label.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      chart.append(label);
    }
  });
  const completed = minutes.reduce((sum, m) => sum + m.completed, 0);
  const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
  fill("throughput", el("div", { class: "chart" }, chart, el("div", { class: "legend" },
    el("span", {}, el("span", { class: "swatch", style: "background:#1f9d55" }),
      `${completed.toLocaleString()} completed`),
    el("span", {}, el("span", { class: "swatch", style: "background:#d64545" }),
      `${failed.toLocaleString()} failed or dead-lettered`))));
}

async function act(action, id, button) {
  button.disabled = true;
  try {
    await api(`/api/jobs/${encodeURIComponent(id)}/${action}`, { method: "POST", body: "{}" });
    setStatus(`${action === "retry" ? "requeued" : "cancelled"} job ${id.slice(0, 8)}`);
  } catch (err) {
    if (err instanceof Unauthorized) {
      signOut("The token was refused.");
      return;
    }
    setStatus(`${action} failed: ${err.message}`, true);
  }
  refresh();
}

function jobActions(job) {
  const buttons = [];
  if (["FAILED", "DEAD_LETTER", "CANCELLED"].includes(job.status)) {
    buttons.push(el("button", { type: "button", data: { action: "retry", job: job.id },
      onclick: (e) => act("retry", job.id, e.currentTarget) }, "Retry"));
  }
  if (["PENDING", "RETRY", "PROCESSING"].includes(job.status)) {
    buttons.push(el("button", { type: "button", class: "secondary",
      data: { action: "cancel", job: job.id },
      onclick: (e) => act("cancel", job.id, e.currentTarget) }, "Cancel"));
  }
  return el("td", { class: "actions" }, buttons);
}

function renderJobs(lists) {
  const jobs = lists.flatMap((body) => rows(body, "jobs"));
  jobs.sort((a, b) => String(b.updated_at || b.processed_at || "")
    .localeCompare(String(a.updated_at || a.processed_at || "")));
  if (jobs.length === 0) {
    fill("jobs", empty("No failed, dead-letter or retrying jobs."));
    return;
  }
  const badge = { FAILED: "bad", DEAD_LETTER: "bad", RETRY: "warn" };
  fill("jobs", table(["Job", "Type", "Status", "#Attempts", "Error", "When", ""],
    jobs.map((job) => el("tr", { data: { job: job.id, status: job.status } },
      el("td", { class: "mono", title: job.id }, String(job.id).slice(0, 8),
        el("details", {}, el("summary", {}, "payload"),
          el("pre", {}, JSON.stringify(job.payload, null, 2)))),
      el("td", { class: "mono" }, job.job_type),
      el("td", {}, el("span", { class: "badge " + (badge[job.status] || "") }, job.status)),
      el("td", { class: "num" }, `${job.attempts ?? "?"} / ${job.max_attempts ?? "?"}`),
      el("td", {}, el("div", { class: "errtext" }, job.error || "")),
      el("td", { title: clock(job.processed_at || job.updated_at) },
        relative(job.processed_at || job.updated_at || job.run_at)),
      jobActions(job)))));
}

function renderSchedules(body) {
  const schedules = rows(body, "schedules");
  if (schedules.length === 0) {
    fill("schedules", empty("No schedules configured."));
    return;
  }
  fill("schedules", table(["Schedule", "Cron", "Zone", "Next fire (local)", "", "Last fired",
    "Job type"], schedules.map((s) => {
    const next = (s.next || [])[0];
    return el("tr", { data: { schedule: s.schedule } },
      el("td", {}, s.schedule, s.enabled ? null : el("span", { class: "badge" }, " off")),
      el("td", { class: "mono" }, s.cron),
      el("td", {}, s.time_zone),
      el("td", { class: "mono next", title: next ? next.utc : "" },
        next ? wallClock(next.local) : "never"),
      el("td", { class: "muted" }, next ? relative(next.utc) : ""),
      el("td", { class: "muted", title: clock(s.last_fire_at) }, relative(s.last_fire_at)),
      el("td", { class: "mono" }, s.job_type));
  })));
}

function renderNodes(body) {
  const nodes = rows(body, "nodes");
  if (nodes.length === 0) {
    fill("nodes", empty("No node has reported yet."));
    return;
  }
  fill("nodes", table(["Node", "Started", "Last seen"], nodes.map((n) =>
    el("tr", { data: { node: n.name, alive: String(Boolean(n.alive)) } },
      el("td", {}, el("span", { class: n.alive ? "dot alive" : "dot" }), n.name,
        n.alive ? null : el("span", { class: "badge bad" }, " down")),
      el("td", { title: clock(n.started_at) }, relative(n.started_at)),
      el("td", { title: clock(n.last_seen_at) }, relative(n.last_seen_at))))));
}

// --- the loop --------------------------------------------------------------------------------

const SECTIONS = [
  ["alerts", () => api("/api/alerts"), renderAlerts, "Alerts are not available yet."],
  ["pools", () => api("/api/pools"), renderPools, "Pools are not available."],
  ["nodes", () => api("/api/nodes"), renderNodes, "Nodes are not available."],
  ["queue", () => Promise.all([api("/api/stats/queue-depth"),
    api("/api/stats/oldest-runnable")]), renderQueue, "Queue depth is not available."],
  ["throughput", () => api("/api/stats/throughput"), renderThroughput, "No throughput data."],
  ["jobs", () => Promise.all(["DEAD_LETTER", "FAILED", "RETRY"].map((status) =>
    api(`/api/jobs?status=${status}&limit=${PROBLEM_LIMIT}`))), renderJobs,
  "Jobs are not available."],
  ["schedules", () => api("/api/schedules"), renderSchedules, "Schedules are not available."],
];

function setStatus(text, bad = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", bad);
}

async function refresh() {
  if (loading || !sessionStorage.getItem(TOKEN_KEY)) {
    return;
  }
  loading = true;
  try {
    const results = await Promise.allSettled(SECTIONS.map(([, load]) => load()));
    if (results.some((r) => r.status === "rejected" && r.reason instanceof Unauthorized)) {
      signOut("The token was refused.");
      return;
    }
    results.forEach((result, i) => {
      const [id, , render, missing] = SECTIONS[i];
      if (result.status === "fulfilled") {
        render(result.value);
      } else if (result.reason instanceof Missing) {
        fill(id, empty(missing));
      } else {
        fill(id, el("div", { class: "error" }, String(result.reason.message)));
      }
    });
    const failed = results.filter((r) => r.status === "rejected").length;
    setStatus(`updated ${new Date().toLocaleTimeString()}`
      + (failed ? ` · ${failed} section(s) unavailable` : ""));
    document.body.dataset.loaded = "true";
  } finally {
    loading = false;
  }
}

function showBoard() {
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  document.getElementById("sign-out").hidden = false;
  setStatus("loading…");
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(timer);
  timer = null;
  delete document.body.dataset.loaded;
  document.getElementById("board").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("login").hidden = false;
  const error = document.getElementById("login-error");
  error.textContent = message || "";
  error.hidden = !message;
  setStatus("not signed in");
  document.getElementById("token").focus();
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  const token = input.value.trim();
  if (!token) {
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = "";
  showBoard();
});

document.getElementById("sign-out").addEventListener("click", () => signOut());

if (sessionStorage.getItem(TOKEN_KEY)) {
  showBoard();
} else {
  signOut();
}
