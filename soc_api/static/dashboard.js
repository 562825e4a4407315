// Dashboards drawn as inline SVG from API data: alerts over time, by unit, by ATT&CK tactic, by
// level, and incidents by national type. No chart library.
"use strict";
(function () {
  const { t, label, api, el, $, showError } = window.SOC;
  const SVG = "http://www.w3.org/2000/svg"; // the SVG namespace name (an identifier, never fetched)
  const TACTICS = ["reconnaissance", "resource_development", "initial_access", "execution", "persistence", "privilege_escalation",
    "defense_evasion", "credential_access", "discovery", "lateral_movement", "collection", "command_and_control", "exfiltration", "impact"];
  const MAX_ALERTS = 1000;

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function empty(box) { box.replaceChildren(el("p", { className: "hint" }, t("common.none"))); }

  // Horizontal bars: [[label, value, cssClass?], ...]
  function barsH(box, rows) {
    if (!rows.length) { empty(box); return; }
    const width = 560; const labelW = 210; const rowH = 22; const height = rows.length * rowH + 10;
    const max = Math.max(...rows.map((r) => r[1]), 1);
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    rows.forEach(([name, value, cls], i) => {
      const y = 5 + i * rowH;
      const w = Math.max(1, ((width - labelW - 50) * value) / max);
      const text = String(name).length > 32 ? String(name).slice(0, 31) + "…" : String(name);
      chart.append(svg("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, text),
        svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 7, class: "bar " + (cls || "") }, svg("title", {}, name + ": " + value)),
        svg("text", { x: labelW + w + 5, y: y + 14 }, value));
    });
    box.replaceChildren(chart);
  }

  // Vertical bars per hour: buckets = [[Date, count], ...]
  function barsTime(box, buckets) {
    if (!buckets.length) { empty(box); return; }
    const width = 1000; const height = 240; const left = 40; const bottom = 40; const top = 10;
    const max = Math.max(...buckets.map((b) => b[1]), 1);
    const step = (width - left - 10) / buckets.length;
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    chart.append(svg("line", { x1: left, y1: height - bottom, x2: width - 5, y2: height - bottom, class: "axis" }),
      svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }),
      svg("text", { x: left - 6, y: top + 8, "text-anchor": "end" }, max), svg("text", { x: left - 6, y: height - bottom, "text-anchor": "end" }, 0));
    const every = Math.max(1, Math.ceil(buckets.length / 12));
    buckets.forEach(([when, count], i) => {
      const h = ((height - bottom - top) * count) / max;
      const x = left + i * step + 1;
      const hh = String(when.getHours()).padStart(2, "0") + ":00";
      const day = String(when.getDate()).padStart(2, "0") + "/" + String(when.getMonth() + 1).padStart(2, "0");
      chart.append(svg("rect", { x, y: height - bottom - h, width: Math.max(1, step - 2), height: h, class: "bar" }, svg("title", {}, day + " " + hh + ": " + count)));
      if (i % every === 0) chart.append(svg("text", { x: x + step / 2, y: height - bottom + 14, "text-anchor": "middle" }, hh), svg("text", { x: x + step / 2, y: height - bottom + 28, "text-anchor": "middle" }, day));
    });
    box.replaceChildren(chart);
  }

  const countBy = (items, keyOf) => {
    const out = new Map();
    for (const item of items) for (const key of [].concat(keyOf(item))) out.set(key, (out.get(key) || 0) + 1);
    return out;
  };
  const sorted = (map) => Array.from(map.entries()).sort((a, b) => b[1] - a[1]);

  async function fetchAlerts() {
    const items = [];
    let total = 0;
    for (let offset = 0; offset < MAX_ALERTS; offset += 500) {
      const page = await api("/alerts?limit=500&offset=" + offset);
      total = page.total;
      items.push(...page.items);
      if (items.length >= total || !page.items.length) break;
    }
    return { items, total };
  }

  function hourly(alerts) {
    if (!alerts.length) return [];
    const times = alerts.map((a) => new Date(a.last_seen).getTime()).filter((x) => !Number.isNaN(x));
    const hour = 3600000;
    const end = Math.floor(Math.max(...times) / hour) * hour;
    const start = Math.max(Math.floor(Math.min(...times) / hour) * hour, end - 71 * hour);
    const buckets = [];
    for (let h = start; h <= end; h += hour) buckets.push([new Date(h), 0]);
    for (const x of times) {
      const i = Math.floor((x - start) / hour);
      if (i >= 0 && i < buckets.length) buckets[i][1] += 1;
    }
    return buckets;
  }

  function tacticsOf(alert) {
    const found = (alert.tags || []).map((tag) => String(tag).toLowerCase().replace(/^attack\./, "").replace(/-/g, "_")).filter((x) => TACTICS.includes(x));
    return found.length ? found : ["none"];
  }

  window.SOC.page(async () => {
    const { items, total } = await fetchAlerts();
    $("#sample").textContent = t("dash.sample", { n: items.length }) + " (" + t("common.total") + ": " + total + ")";
    barsTime($("#chart-time"), hourly(items));
    barsH($("#chart-unit"), sorted(countBy(items, (a) => a.unit_code || "–")).slice(0, 15));
    barsH($("#chart-tactic"), sorted(countBy(items, tacticsOf)).map(([k, v]) => [label("tactic", k), v]));
    const levels = ["critical", "high", "medium", "low", "informational"];
    const byLevel = countBy(items, (a) => a.level);
    barsH($("#chart-level"), levels.filter((l) => byLevel.get(l)).map((l) => [label("level", l), byLevel.get(l), l]));
    try {
      const data = await api("/incidents?limit=500");
      const incidents = Array.isArray(data) ? data : data.items;
      barsH($("#chart-type"), sorted(countBy(incidents, (i) => i.incident_type)).map(([k, v]) => [label("itype", k), v]));
    } catch (err) {
      if (err.status === 404 || err.status === 405) $("#chart-type").replaceChildren(el("p", { className: "hint" }, t("common.not_available")));
      else showError(err);
    }
  });
})();
