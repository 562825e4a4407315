// Alert queue: filters kept in the address bar, pagination, selection and bulk actions.
"use strict";
(function () {
  const { t, api, el, $, $$, fmtTime, localToIso, isoToLocal, levelBadge, statusTag, flash, showError, table, me } = window.SOC;
  const PAGE = 50;
  const FILTERS = ["level", "status", "unit", "rule_id", "since", "until", "q"];
  let offset = 0;
  let total = 0;
  let loadSeq = 0; // answers of superseded loads (a filter changed meanwhile) are dropped

  const entityText = (entity) => Object.entries(entity || {}).map(([k, v]) => k + "=" + v).join(", ");

  function readUrl() {
    const params = new URLSearchParams(location.search);
    const form = $("#filters");
    for (const name of FILTERS) {
      const value = params.get(name) || "";
      form.elements[name].value = name === "since" || name === "until" ? isoToLocal(value) : value;
    }
    offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
  }

  function query() {
    const form = $("#filters");
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      let value = form.elements[name].value.trim();
      if (name === "since" || name === "until") value = localToIso(value) || "";
      if (value) params.set(name, value);
    }
    if (offset) params.set("offset", String(offset));
    return params;
  }

  function selectedIds() {
    return $$("#alerts tbody input.pick:checked").map((box) => box.value);
  }
  function updateSelection() {
    const n = selectedIds().length;
    $("#selected-count").textContent = String(n);
    for (const b of $$("#bulk button")) b.disabled = n === 0;
  }

  async function load() {
    const params = query();
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
    params.set("limit", String(PAGE));
    const seq = ++loadSeq;
    const data = await api("/alerts?" + params);
    if (seq !== loadSeq) return;
    total = data.total;
    const rows = data.items.map((a) => {
      const pick = el("input", { type: "checkbox", className: "pick", value: a.id, onchange: updateSelection });
      pick.setAttribute("aria-label", a.rule_title);
      const link = el("a", { href: "/ui/alerts/" + encodeURIComponent(a.id) }, a.rule_title);
      return el("tr", { className: "clickable", dataset: { id: a.id } },
        el("td", { onclick: (ev) => ev.stopPropagation() }, pick),
        el("td", {}, fmtTime(a.last_seen)),
        el("td", {}, levelBadge(a.level)),
        el("td", {}, a.risk_score == null ? "–" : String(a.risk_score)),
        el("td", {}, link),
        el("td", { className: "mono" }, entityText(a.entity)),
        el("td", {}, a.unit_code || "–"),
        el("td", {}, String(a.count)),
        el("td", {}, statusTag(a.status)),
        el("td", {}, a.assignee || "–"));
    });
    for (const row of rows) row.addEventListener("click", (ev) => { if (ev.target.tagName !== "A") location.assign("/ui/alerts/" + encodeURIComponent(row.dataset.id)); });
    table($("#alerts tbody"), rows, 10);
    $("#select-all").checked = false;
    const pageNo = Math.floor(offset / PAGE) + 1;
    const pages = Math.max(1, Math.ceil(total / PAGE));
    $("#page-info").textContent = t("common.page") + " " + pageNo + "/" + pages + " · " + t("common.total") + ": " + total;
    $("#prev").disabled = offset === 0;
    $("#next").disabled = offset + PAGE >= total;
    updateSelection();
  }

  // One change applied to every selected alert (POST /alerts/bulk); refusals are listed per alert.
  async function bulk(changes) {
    const ids = selectedIds();
    if (!ids.length) return;
    const res = await api("/alerts/bulk", { method: "POST", body: { ids, ...changes } });
    const refused = Object.entries(res.errors || {});
    flash(t("alerts.bulk_done", { n: res.updated.length }) + (refused.length ? " · " + t("common.error") + ": " + refused.map(([id, why]) => id + " – " + why).join("; ") : ""), refused.length > 0);
    await load();
  }

  window.SOC.page(async () => {
    readUrl();
    const form = $("#filters");
    form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load().catch(showError); });
    form.addEventListener("reset", () => setTimeout(() => { offset = 0; load().catch(showError); }, 0));
    for (const sel of $$("select", form)) sel.addEventListener("change", () => { offset = 0; load().catch(showError); });
    $("#prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load().catch(showError); });
    $("#next").addEventListener("click", () => { offset += PAGE; load().catch(showError); });
    $("#select-all").addEventListener("change", (ev) => {
      for (const box of $$("#alerts tbody input.pick")) box.checked = ev.target.checked;
      updateSelection();
    });
    $("#bulk-ack").addEventListener("click", () => bulk({ status: "acknowledged" }).catch(showError));
    $("#bulk-close").addEventListener("click", () => bulk({ status: "closed", verdict: $("#bulk-verdict").value }).catch(showError));
    $("#bulk-assign").addEventListener("click", async () => {
      const who = $("#bulk-assignee").value.trim() || (await me()).name;
      await bulk({ assignee: who }).catch(showError);
    });
    await load();
  });
})();
