// Incident list: filters in the address bar, pagination, the national notification clock per row;
// the half-year / annual summary (Mẫu 05): period picker, check, draft details, PDF/DOCX download.
"use strict";
(function () {
  const { t, label, api, el, $, $$, fmtTime, badge, statusTag, nationalClock, showError, table, flash, formValues } = window.SOC;
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

  // --- Mẫu 05: the half-year / annual summary computed from the tickets --------------------------
  let summaryDraft = {};

  function summaryPeriod() {
    const form = $("#summary-form");
    const year = parseInt(form.elements.year.value, 10);
    if (!(year >= 2000 && year <= 2100)) return null;
    return String(year) + (form.elements.half.value ? "-" + form.elements.half.value : "");
  }

  function fmtDay(iso) {
    const [y, m, d] = String(iso).split("-");
    return d + "/" + m + "/" + y;
  }

  function showMissing(items) {
    const box = $("#summary-missing");
    box.replaceChildren(el("li", {}, t("summary.missing")), ...items.map((m) => el("li", {}, m)));
    box.hidden = !items.length;
  }

  // GET /summaries/{period}: the counts, the deadline and what the form still misses.
  async function checkSummary() {
    const period = summaryPeriod();
    if (!period) return null;
    const s = await api("/summaries/" + encodeURIComponent(period));
    const periodLabel = window.SOC.lang === "en" ? s.label_en : s.label_vi;
    const due = s.due_before ? t("summary.due", { date: fmtDay(s.due_before) }) : t("summary.no_due");
    const serious = (s.stats.by_severity || {}).serious || 0;
    $("#summary-info").textContent = t("summary.totals", { period: periodLabel, total: s.stats.total, handled: s.stats.handled, in_progress: s.stats.in_progress, serious }) + " · " + due + (s.ok ? " · " + t("summary.ready") : "");
    $("#summary-info").hidden = false;
    table($("#summary-rows tbody"), s.stats.by_type.map((r) => el("tr", {},
      el("td", {}, label("itype", r.incident_type)), el("td", {}, r.total), el("td", {}, r.handled_in_house),
      el("td", {}, r.handled_with_help), el("td", {}, r.referred_to_coordinator), el("td", {}, r.in_progress))), 6);
    $("#summary-rows").hidden = false;
    showMissing(s.missing);
    summaryDraft = s.draft || {};
    const draftForm = $("#summary-draft-form");
    const org = summaryDraft.reporting_org || {};
    for (const name of ["name", "address", "phone", "email"]) draftForm.elements[name].value = org[name] || "";
    draftForm.elements.signature.value = summaryDraft.signature || "";
    draftForm.elements.recommendations.value = summaryDraft.recommendations || "";
    if (!s.ok) $("#summary-draft").open = true;
    return s;
  }

  async function downloadSummary(format) {
    const s = await checkSummary();
    if (!s || !s.ok) return;
    const resp = await api("/summaries/" + encodeURIComponent(s.period) + "/export?format=" + format, { raw: true });
    const url = URL.createObjectURL(await resp.blob());
    const a = el("a", { href: url, download: "mau05-" + s.period + "." + format });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function saveSummaryDraft(form) {
    const period = summaryPeriod();
    if (!period) return;
    const v = formValues(form);
    const body = Object.assign({}, summaryDraft, {
      reporting_org: { name: v.name || null, address: v.address || null, phone: v.phone || null, email: v.email || null },
      signature: v.signature || null,
      recommendations: v.recommendations || null,
    });
    await api("/summaries/" + encodeURIComponent(period), { method: "PUT", body });
    flash(t("common.saved"));
    await checkSummary();
  }

  function setupSummary() {
    const form = $("#summary-form");
    const now = new Date();
    form.elements.year.value = String(now.getFullYear());
    form.elements.half.value = now.getMonth() < 6 ? "H1" : "H2";
    form.addEventListener("submit", (ev) => { ev.preventDefault(); checkSummary().catch(showError); });
    for (const button of $$("button.summary-export", form)) {
      button.addEventListener("click", () => downloadSummary(button.dataset.format).catch(showError));
    }
    $("#summary-draft-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveSummaryDraft(ev.target).catch(showError); });
  }

  window.SOC.page(async () => {
    setupSummary();
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
