// Incident (ticket) page: overview, deadline clocks, tasks, the response playbook of its type (each
// step with its phase and whether its task is done), observables, attachments, national form
// exports, recipients' sending status, linked alerts, timeline and comments.
"use strict";
(function () {
  const SOC = window.SOC;
  const { t, label, api, el, $, $$, fmtTime, localToIso, badge, statusTag, clock, deadlineClock, flash, showError, table, formValues } = window.SOC;
  const id = document.body.dataset.objectId;
  const path = "/incidents/" + encodeURIComponent(id);
  const NATIONAL_DAYS = 5;
  let incident = null;

  const list = (data) => (Array.isArray(data) ? data : (data && (data.items || data.results)) || []);

  // Sub-resource from the incident document when embedded there, else from its own route.
  async function sub(name) {
    if (incident && Array.isArray(incident[name])) return incident[name];
    try {
      return list(await api(path + "/" + name));
    } catch (err) {
      if (err.status === 404 || err.status === 405) return null;
      throw err;
    }
  }

  function deadlines(inc) {
    const items = list(inc.deadlines);
    if (!items.length && inc.detected_at) {
      const due = new Date(new Date(inc.detected_at).getTime() + NATIONAL_DAYS * 86400000).toISOString();
      items.push({ key: "national_notification", due_at: due });
    }
    return items.map((d) => ({ ...d, national: /national/i.test(d.key || "") }));
  }

  function renderDeadlines(inc) {
    const box = $("#deadlines");
    box.replaceChildren(...deadlines(inc).map((d) => {
      const c = deadlineClock(d, d.national ? 48 : 24);
      const title = (SOC.lang === "en" ? d.label_en : d.label_vi) || (d.national ? t("incident.deadline_national") : d.key);
      return el("div", { className: "clock " + c.state + (d.national ? " national" : ""), dataset: { state: c.state, key: d.key || "" } },
        el("div", { className: "what" }, title),
        el("div", { className: "what" }, t("field.deadline") + ": " + fmtTime(d.due_at)),
        el("div", { className: "left" }, c.text));
    }));
  }

  function renderOverview(inc) {
    incident = inc;
    $("#incident-title").replaceChildren(badge(inc.priority, inc.priority || "–"), " ", inc.title || inc.id);
    const dl = $("#incident-fields");
    dl.replaceChildren();
    const add = (key, value) => dl.append(el("dt", {}, t(key)), el("dd", {}, value == null || value === "" ? "–" : value));
    add("field.id", el("span", { className: "mono" }, inc.id));
    add("field.type", label("itype", inc.incident_type));
    add("field.severity", badge(inc.severity, label("severity", inc.severity)));
    add("report.security_level", inc.security_level == null ? null : String(inc.security_level));
    add("field.priority", inc.priority);
    add("field.status", statusTag(inc.status));
    add("field.unit", inc.unit_code);
    add("field.assignee", inc.assignee);
    add("field.source", label("source", inc.source));
    add("report.detected_date", fmtTime(inc.detected_at));
    add("field.created", fmtTime(inc.created_at));
    add("field.updated", fmtTime(inc.updated_at));
    $("#incident-description").textContent = inc.description || "";
    renderDeadlines(inc);
    const form = $("#edit-form");
    for (const name of ["incident_type", "priority", "status"]) if (inc[name]) form.elements[name].value = inc[name];
    form.elements.assignee.value = inc.assignee || "";
    form.elements.security_level.value = inc.security_level == null ? "" : String(inc.security_level);
    for (const box of $$("input[name=impacts]", form)) box.checked = (inc.impacts || []).includes(box.value);
    form.elements.owner_cannot_handle.checked = inc.owner_can_handle === false;
  }

  async function loadTasks() {
    const items = await sub("tasks");
    if (items == null) return;
    table($("#tasks tbody"), items.map((task) => {
      const box = el("input", { type: "checkbox", checked: !!task.done });
      box.setAttribute("aria-label", task.title);
      box.addEventListener("change", async () => {
        try { await api(path + "/tasks/" + encodeURIComponent(task.id), { method: "PATCH", body: { done: box.checked } }); await refresh(); } catch (err) { box.checked = !box.checked; showError(err); }
      });
      const due = task.due_at ? clock(task.due_at, task.done ? task.done_at || task.due_at : null, 24) : null;
      return el("tr", {}, el("td", {}, box), el("td", {}, task.title), el("td", {}, task.owner || "–"),
        el("td", { className: due ? "cell-clock " + due.state : "" }, task.due_at ? fmtTime(task.due_at) : "–"));
    }), 4);
    return items;
  }

  // Step state: its task done/open, or no task (a serious-only step on a normal incident, or seeding off).
  function stepState(step, task) {
    if (task) return task.done ? "done" : "open";
    if (step.applies_if && step.applies_if.severity !== incident.severity) return "not_applicable";
    return "not_seeded";
  }

  async function loadPlaybook(tasks) {
    let book;
    try {
      book = await api("/playbooks/" + encodeURIComponent(incident.incident_type));
    } catch (err) {
      if (err.status !== 404) throw err;
      $("#playbook-title").textContent = "";
      table($("#playbook tbody"), [], 4);
      return;
    }
    const en = SOC.lang === "en";
    const byStep = new Map(list(tasks).filter((x) => x.playbook_step).map((x) => [x.playbook_step, x]));
    $("#playbook-title").textContent = en ? book.title_en : book.title_vi;
    table($("#playbook tbody"), list(book.steps).map((step) => {
      const state = stepState(step, byStep.get(step.key));
      const serious = step.applies_if ? el("span", { className: "hint" }, " · " + t("playbook.serious_only")) : null;
      return el("tr", { dataset: { step: step.key, state } },
        el("td", {}, label("phase", step.phase)),
        el("td", { title: en ? step.description_en : step.description_vi }, en ? step.title_en : step.title_vi, serious),
        el("td", {}, label("pbrole", step.owner)),
        el("td", {}, el("span", { className: "status step-" + state }, label("playbook", state))));
    }), 4);
  }

  async function loadObservables() {
    const items = await sub("observables");
    if (items == null) return;
    const rows = await Promise.all(items.slice(0, 100).map(async (o) => {
      let linked = [];
      try {
        const data = await api("/observables/" + encodeURIComponent(o.type) + "/" + encodeURIComponent(o.value));
        linked = list(data.incidents).filter((x) => x.id !== id);
      } catch (err) { if (err.status !== 404) throw err; }
      return el("tr", {}, el("td", {}, label("obs", o.type)), el("td", { className: "mono" }, o.value),
        el("td", {}, linked.length ? linked.map((x) => el("a", { href: "/ui/incidents/" + encodeURIComponent(x.id), title: x.title }, x.id + " ")) : "–"));
    }));
    table($("#observables tbody"), rows, 3);
  }

  async function loadAttachments() {
    const items = await sub("attachments");
    if (items == null) return;
    table($("#attachments tbody"), items.map((a) => {
      const link = el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); download(path + "/attachments/" + encodeURIComponent(a.id), a.filename).catch(showError); } }, a.filename);
      return el("tr", {}, el("td", {}, link), el("td", {}, String(a.size)), el("td", { className: "mono" }, a.sha256), el("td", {}, fmtTime(a.created_at)));
    }), 4);
  }

  async function loadSendings() {
    const items = await sub("sendings");
    if (items == null) return;
    const analyst = ["admin", "analyst"].includes(document.body.dataset.role);
    table($("#sendings tbody"), items.map((s) => {
      const pick = el("select", { "aria-label": t("field.status") }, ["pending", "sent", "acknowledged", "failed"].map((st) =>
        el("option", { value: st, selected: st === s.status }, label("status", st === "acknowledged" ? "acknowledged_by" : st))));
      const save = el("button", { type: "button", onclick: async () => {
        try { await api("/sendings/" + encodeURIComponent(s.id), { method: "PATCH", body: { status: pick.value } }); flash(t("common.saved")); await refresh(); } catch (err) { showError(err); }
      } }, t("incident.mark"));
      return el("tr", { dataset: { id: String(s.id) } }, el("td", {}, s.recipient_name || s.recipient_code || String(s.recipient_id)),
        el("td", {}, s.form_kind + " (" + s.format + ")"),
        el("td", {}, s.channel || "–"),
        el("td", {}, el("span", { className: "status " + s.status }, label("status", s.status === "acknowledged" ? "acknowledged_by" : s.status))),
        el("td", {}, fmtTime(s.updated_at || s.created_at)),
        analyst ? el("td", {}, pick, " ", save) : null);
    }), 6);
  }

  async function loadTimeline() {
    const items = await sub("timeline");
    if (items == null) return;
    $("#timeline").replaceChildren(...items.map((e) => el("li", {}, el("span", { className: "when" }, fmtTime(e.at || e.created_at)),
      el("b", {}, (e.actor || "") + " "), e.summary || e.kind || "")));
  }

  async function loadComments() {
    const items = await sub("comments");
    if (items == null) { $("#comments").replaceChildren(el("li", { className: "hint" }, t("common.not_available"))); return; }
    $("#comments").replaceChildren(...items.map((c) => el("li", {}, el("span", { className: "who" }, c.author || ""),
      el("span", { className: "hint" }, fmtTime(c.created_at) + (c.kind && c.kind !== "comment" ? " · " + c.kind : "")), el("div", {}, c.body))));
  }

  function loadAlerts() {
    const ids = list(incident.alert_ids || incident.alerts).map((a) => (typeof a === "string" ? { id: a } : a));
    $("#incident-alerts").replaceChildren(...ids.map((a) => el("li", {}, el("a", { href: "/ui/alerts/" + encodeURIComponent(a.id) }, a.rule_title || a.id))));
  }

  async function download(apiPath, fallbackName) {
    const resp = await api(apiPath, { raw: true });
    const blob = await resp.blob();
    const disposition = resp.headers.get("Content-Disposition") || "";
    const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    const name = match ? decodeURIComponent(match[1]) : fallbackName;
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function refresh() {
    renderOverview(await api(path));
    loadAlerts();
    await Promise.all([loadTasks().then(loadPlaybook), loadObservables(), loadAttachments(), loadSendings(), loadTimeline(), loadComments()]);
  }

  window.SOC.page(async () => {
    try {
      renderOverview(await api(path));
    } catch (err) {
      if (err.status === 403 || err.status === 404) { $("#denied").hidden = false; return; }
      throw err;
    }
    $("#incident-view").hidden = false;
    await refresh();
    setInterval(() => renderDeadlines(incident), 60000);
    $("#edit-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = formValues(ev.target);
      const body = {};
      for (const name of ["incident_type", "priority", "status"]) if (v[name] !== incident[name]) body[name] = v[name];
      if (v.assignee && v.assignee !== incident.assignee) body.assignee = v.assignee;
      const level = v.security_level ? parseInt(v.security_level, 10) : null;
      if (level !== incident.security_level && level != null) body.security_level = level;
      if (v.impacts.slice().sort().join() !== (incident.impacts || []).slice().sort().join()) body.impacts = v.impacts;
      if (!v.owner_cannot_handle.length !== incident.owner_can_handle) body.owner_can_handle = !v.owner_cannot_handle.length;
      try { await api(path, { method: "PATCH", body }); flash(t("common.saved")); await refresh(); } catch (err) { showError(err); }
    });
    $("#send-mau03").addEventListener("click", async () => {
      $("#export-error").hidden = true;
      try { await api(path + "/forms/mau03/send", { method: "POST", body: { format: "pdf" } }); flash(t("incident.sent")); await refresh(); } catch (err) {
        $("#export-error").textContent = t("common.error") + ": " + (err.detail || err.message);
        $("#export-error").hidden = false;
      }
    });
    $("#task-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = formValues(ev.target);
      const body = { title: v.title };
      if (v.owner) body.owner = v.owner;
      if (v.due_at) body.due_at = localToIso(v.due_at);
      try { await api(path + "/tasks", { method: "POST", body }); ev.target.reset(); await refresh(); } catch (err) { showError(err); }
    });
    $("#observable-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api(path + "/observables", { method: "POST", body: formValues(ev.target) }); ev.target.reset(); await refresh(); } catch (err) { showError(err); }
    });
    $("#attachment-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = ev.target.elements.file.files[0];
      if (!file) return;
      const body = new FormData();
      body.append("file", file, file.name);
      try { await api(path + "/attachments", { method: "POST", body }); ev.target.reset(); await refresh(); } catch (err) { showError(err); }
    });
    $("#comment-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api(path + "/comments", { method: "POST", body: { body: ev.target.elements.body.value.trim() } }); ev.target.reset(); await refresh(); } catch (err) { showError(err); }
    });
    for (const button of $$("button.export")) {
      button.addEventListener("click", async () => {
        const { kind, format } = button.dataset;
        $("#export-error").hidden = true;
        try {
          await download(path + "/forms/" + kind + "?format=" + format, id + "-" + kind + "." + format);
        } catch (err) {
          $("#export-error").textContent = t("common.error") + ": " + (err.detail || err.message);
          $("#export-error").hidden = false;
        }
      });
    }
  });
})();
