// Incident list: filters in the address bar, pagination, the national notification clock per row.
"use strict";
(function () {
  const { t, label, api, el, $, $$, fmtTime, badge, statusTag, nationalClock, showError, table } = window.SOC;
  const PAGE = 50;
  const FILTERS = ["status", "incident_type", "severity", "priority", "unit", "q"];
  let offset = 0;

  async function load() {
    const form = $("#filters");
    const params = new URLSearchParams();
    for (const name of FILTERS) if (form.elements[name].value.trim()) params.set(name, form.elements[name].value.trim());
    if (offset) params.set("offset", String(offset));
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
    params.set("limit", String(PAGE));
    const data = await api("/incidents?" + params);
    const items = Array.isArray(data) ? data : data.items;
    const total = Array.isArray(data) ? items.length : data.total;
    table($("#incidents tbody"), items.map((inc) => {
      const c = nationalClock(inc);
      const row = el("tr", { className: "clickable" },
        el("td", { className: "mono" }, el("a", { href: "/ui/incidents/" + encodeURIComponent(inc.id) }, inc.id)),
        el("td", {}, inc.title),
        el("td", {}, label("itype", inc.incident_type)),
        el("td", {}, badge(inc.severity, label("severity", inc.severity))),
        el("td", {}, badge(inc.priority, inc.priority)),
        el("td", {}, statusTag(inc.status)),
        el("td", {}, inc.unit_code || "–"),
        el("td", { className: "cell-clock " + c.state }, c.text),
        el("td", {}, fmtTime(inc.created_at)));
      row.addEventListener("click", (ev) => { if (ev.target.tagName !== "A") location.assign("/ui/incidents/" + encodeURIComponent(inc.id)); });
      return row;
    }), 9);
    $("#page-info").textContent = t("common.page") + " " + (Math.floor(offset / PAGE) + 1) + "/" + Math.max(1, Math.ceil(total / PAGE)) + " · " + t("common.total") + ": " + total;
    $("#prev").disabled = offset === 0;
    $("#next").disabled = offset + PAGE >= total;
  }

  window.SOC.page(async () => {
    const params = new URLSearchParams(location.search);
    const form = $("#filters");
    for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
    offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load().catch(showError); });
    for (const sel of $$("select", form)) sel.addEventListener("change", () => { offset = 0; load().catch(showError); });
    $("#prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load().catch(showError); });
    $("#next").addEventListener("click", () => { offset += PAGE; load().catch(showError); });
    await load();
  });
})();
