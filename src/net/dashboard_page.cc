#include "net/dashboard_page.h"

namespace aipool::net {

namespace {

constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aipool dashboard</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#222}h1{font-size:20px;margin:0 0 8px}
h2{font-size:16px;margin:18px 0 6px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.err{color:#b00}.muted{color:#777}svg{border:1px solid #ccc;background:#fcfcfc}
#key{display:none;margin:8px 0}
</style></head><body>
<h1>aipool dashboard</h1>
<div id="status" class="muted">loading…</div>
<div id="key">Admin key: <input id="keyInput" type="password" size="40"> <button id="keyButton">use</button></div>
<h2>Jobs per second and latency, last 5 minutes</h2>
<svg id="rate" width="720" height="120"></svg><div class="muted" id="rateLegend"></div>
<svg id="latency" width="720" height="120"></svg><div class="muted" id="latencyLegend"></div>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>id</th><th>address</th><th>GPUs</th><th>models (in use / capacity)</th>
<th>jobs ok</th><th>failed</th><th>failures in a row</th><th>last error</th><th>connected since</th></tr></thead><tbody></tbody></table>
<h2>Models</h2>
<table id="keys"><thead><tr><th>pipeline</th><th>model</th><th>capacity</th><th>in use</th><th>waiting</th>
<th>workers</th><th>jobs, last minute</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
let adminKey = sessionStorage.getItem("aipoolAdminKey") || "";
const $ = (id) => document.getElementById(id);
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; }
function when(unix) { return unix ? new Date(unix * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }
function line(svg, series, pick, color, max) {
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value, n = series.length;
  const pts = series.map((s, i) => [i * (w - 1) / Math.max(1, n - 1), pick(s)])
                    .filter((p) => p[1] !== null && p[1] !== undefined)
                    .map((p) => p[0].toFixed(1) + "," + (h - 2 - (h - 4) * p[1] / max).toFixed(1));
  const el = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  el.setAttribute("points", pts.join(" ")); el.setAttribute("fill", "none"); el.setAttribute("stroke", color);
  svg.appendChild(el);
}
function chart(series) {
  const rate = $("rate"), lat = $("latency");
  rate.replaceChildren(); lat.replaceChildren();
  const maxRate = Math.max(1, ...series.map((s) => s.ok + s.failed));
  line(rate, series, (s) => s.ok, "#2a7", maxRate); line(rate, series, (s) => s.failed, "#c33", maxRate);
  const maxLat = Math.max(1, ...series.map((s) => s.p99_ms || 0));
  line(lat, series, (s) => s.p50_ms, "#27c", maxLat); line(lat, series, (s) => s.p99_ms, "#a5c", maxLat);
  const last = series.slice(-10), jobs = last.reduce((a, s) => a + s.ok + s.failed, 0);
  $("rateLegend").textContent = "green: ok, red: failed; " + (jobs / last.length).toFixed(1) +
      " jobs/s over the last 10 s; peak " + maxRate + "/s";
  const recent = series.filter((s) => s.p50_ms !== null).slice(-1)[0];
  $("latencyLegend").textContent = "blue: p50, purple: p99 (ms); " +
      (recent ? "last: p50 " + recent.p50_ms.toFixed(1) + " ms, p99 " + recent.p99_ms.toFixed(1) + " ms" : "no jobs yet");
}
function tables(data) {
  const wb = $("workers").tBodies[0]; wb.replaceChildren();
  for (const w of data.pool.workers) {
    const r = wb.insertRow(); r.dataset.worker = w.id;
    cell(r, w.id); cell(r, w.address); cell(r, String(w.gpus.length));
    cell(r, w.keys.map((k) => k.pipeline + " " + k.model_id + " " + k.in_use + "/" + k.capacity).join("; "));
    cell(r, String(w.jobs_ok)); cell(r, String(w.jobs_failed), w.jobs_failed ? "err" : "");
    cell(r, String(w.consecutive_failures)); cell(r, w.last_error ? w.last_error + " (" + when(w.last_error_at) + ")" : "", "err");
    cell(r, when(w.connected_since));
  }
  const throughput = {};
  for (const k of data.history.per_key) throughput[k.pipeline + " " + k.model_id] = k.jobs_last_minute;
  const kb = $("keys").tBodies[0]; kb.replaceChildren();
  for (const k of data.pool.keys) {
    const r = kb.insertRow();
    cell(r, k.pipeline); cell(r, k.model_id); cell(r, String(k.capacity)); cell(r, String(k.in_use));
    cell(r, String(k.waiting)); cell(r, String(k.workers)); cell(r, String(throughput[k.pipeline + " " + k.model_id] || 0));
  }
}
async function refresh() {
  try {
    const headers = adminKey ? { Authorization: "Bearer " + adminKey } : {};
    const reply = await fetch("/dashboard.json", { headers, cache: "no-store" });
    if (reply.status === 401 || reply.status === 403) {
      $("key").style.display = "block"; $("status").textContent = "this orchestrator asks for its admin key";
      return;
    }
    const data = await reply.json();
    $("key").style.display = "none";
    $("status").textContent = data.pool.workers.length + " live worker(s); updated " + when(data.now) + " UTC";
    tables(data); chart(data.history.series);
  } catch (e) {
    $("status").textContent = "cannot reach the orchestrator: " + e;
  }
}
$("keyButton").onclick = () => { adminKey = $("keyInput").value; sessionStorage.setItem("aipoolAdminKey", adminKey); refresh(); };
refresh(); setInterval(refresh, 1000);
</script></body></html>
)html";

}  // namespace

std::string_view dashboard_page() { return kPage; }

}  // namespace aipool::net
