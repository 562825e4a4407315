// Alert detail: fields, triggering ECS events (expandable JSON) and the analyst's actions.
"use strict";
(function () {
  const { t, label, api, el, $, fmtTime, levelBadge, statusTag, flash, showError, formValues, me } = window.SOC;
  const id = document.body.dataset.objectId;
  const path = "/alerts/" + encodeURIComponent(id);
  let alert = null;

  function field(dl, name, value) {
    dl.append(el("dt", {}, t(name)), el("dd", {}, value == null || value === "" ? "–" : value));
  }

  function eventSummary(ev) {
    const parts = [fmtTime(ev["@timestamp"])];
    const get = (dotted) => dotted.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), ev);
    for (const key of ["event.action", "event.category", "source.ip", "user.name", "host.name", "url.original", "process.command_line"]) {
      const v = get(key);
      if (v != null && v !== "") parts.push(key + "=" + (Array.isArray(v) ? v.join(",") : v));
    }
    return parts.join(" · ");
  }

  function render(a) {
    alert = a;
    $("#alert-title").replaceChildren(levelBadge(a.level), " ", a.rule_title);
    const dl = $("#alert-fields");
    dl.replaceChildren();
    field(dl, "field.id", el("span", { className: "mono" }, a.id));
    field(dl, "field.status", statusTag(a.status));
    field(dl, "field.verdict", a.verdict ? label("verdict", a.verdict) : null);
    field(dl, "field.assignee", a.assignee);
    field(dl, "field.rule_id", el("span", { className: "mono" }, a.rule_id));
    field(dl, "field.unit", a.unit_code);
    field(dl, "field.entity", el("span", { className: "mono" }, Object.entries(a.entity || {}).map(([k, v]) => k + "=" + v).join(", ")));
    field(dl, "field.count", String(a.count));
    if (a.risk_score != null) field(dl, "field.risk", String(a.risk_score));
    field(dl, "field.first_seen", fmtTime(a.first_seen));
    field(dl, "field.last_seen", fmtTime(a.last_seen));
    field(dl, "field.tags", el("span", { className: "tags" }, (a.tags || []).map((tag) => el("span", {}, tag))));
    const anomaly = a.context && a.context.anomaly;
    if (anomaly) {
      field(dl, "alert.anomaly_score", String(anomaly.score) + " < " + String(anomaly.threshold));
      if (anomaly.window) field(dl, "alert.anomaly_window", fmtTime(anomaly.window.start) + " – " + fmtTime(anomaly.window.end));
      const top = Object.entries(anomaly.top_values || {});
      field(dl, "alert.anomaly_top", top.length ? el("ul", { className: "plain mono" }, top.map(([k, v]) => el("li", {}, k + " = " + v))) : null);
    }
    const events = $("#events");
    events.replaceChildren(...(a.events || []).map((ev, i) =>
      el("details", { className: "event", open: i === 0 }, el("summary", {}, eventSummary(ev)), el("pre", {}, JSON.stringify(ev, null, 2)))));
    if (!(a.events || []).length) events.append(el("p", { className: "hint" }, t("alert.no_events")));
    if (a.events_pending) events.append(el("p", { className: "hint" }, t("alert.events_pending", { n: a.events_pending })));
    $("#events-error").hidden = !a.events_error;
    $("#events-error").textContent = a.events_error || "";
    const sf = $("#status-form");
    sf.elements.status.value = a.status;
    sf.elements.verdict.value = a.verdict || "";
    sf.elements.assignee.value = a.assignee || "";
    const inc = $("#incident-form");
    if (!inc.elements.title.value) inc.elements.title.value = a.rule_title + (a.unit_code ? " – " + a.unit_code : "");
  }

  async function loadComments() {
    const list = $("#comments");
    try {
      const data = await api(path + "/comments");
      const items = Array.isArray(data) ? data : data.items || [];
      list.replaceChildren(...items.map((c) => el("li", {}, el("span", { className: "who" }, c.author || ""), el("span", { className: "hint" }, fmtTime(c.created_at)), el("div", {}, c.body))));
    } catch (err) {
      if (err.status === 404 || err.status === 405) list.replaceChildren(el("li", { className: "hint" }, t("common.not_available")));
      else throw err;
    }
  }

  async function load() {
    try {
      render(await api(path));
    } catch (err) {
      if (err.status === 403 || err.status === 404) { $("#denied").hidden = false; return false; }
      throw err;
    }
    $("#alert-view").hidden = false;
    return true;
  }

  window.SOC.page(async () => {
    if (!(await load())) return;
    await loadComments().catch(showError);
    $("#status-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = formValues(ev.target);
      const body = { status: v.status };
      if (v.verdict) body.verdict = v.verdict;
      if (v.assignee && v.assignee !== alert.assignee) body.assignee = v.assignee;
      try { render({ ...alert, ...(await api(path, { method: "PATCH", body })) }); flash(t("common.saved")); } catch (err) { showError(err); }
    });
    $("#assign-me").addEventListener("click", async () => {
      try {
        const user = await me();
        render({ ...alert, ...(await api(path, { method: "PATCH", body: { assignee: user.name } })) });
        flash(t("common.saved"));
      } catch (err) { showError(err); }
    });
    $("#comment-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api(path + "/comments", { method: "POST", body: { body: ev.target.elements.body.value.trim() } });
        ev.target.reset();
        await loadComments();
      } catch (err) { showError(err); }
    });
    $("#incident-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = formValues(ev.target);
      const body = { title: v.title, incident_type: v.incident_type, impacts: v.impacts, owner_can_handle: !v.owner_cannot_handle.length, alert_ids: [alert.id] };
      if (v.description) body.description = v.description;
      if (v.security_level) body.security_level = parseInt(v.security_level, 10);
      try {
        const inc = await api("/incidents", { method: "POST", body });
        flash(t("alert.incident_created"));
        location.assign("/ui/incidents/" + encodeURIComponent(inc.id));
      } catch (err) { showError(err); }
    });
    $("#suppress-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = formValues(ev.target);
      const days = Math.min(365, Math.max(1, parseInt(v.days, 10) || 7));
      const body = { rule_id: alert.rule_id, entity: alert.entity || {}, reason: v.reason, days };
      try { await api("/suppressions", { method: "POST", body }); flash(t("alert.suppressed")); ev.target.reset(); } catch (err) { showError(err); }
    });
  });
})();
