// Unit report form (Mẫu 03): builds the nested JSON from the dotted field names, checks the
// mandatory fields before sending (the API checks them again) and opens "my unit's tickets".
"use strict";
(function () {
  const { t, api, $, $$, isoToLocal, flash, showError } = window.SOC;

  function setPath(obj, dotted, value) {
    const keys = dotted.split(".");
    let node = obj;
    for (const key of keys.slice(0, -1)) node = node[key] = node[key] || {};
    node[keys[keys.length - 1]] = value;
  }

  function fieldValue(box) {
    const widget = box.dataset.widget;
    const name = box.dataset.path;
    if (widget === "checks") return $$("input:checked", box).map((i) => i.value);
    if (widget === "radio") { const on = $("input:checked", box); return on ? on.value : null; }
    if (widget === "bool") return $("input", box).checked;
    const ctl = box.querySelector("[name='" + name + "']");
    const raw = ctl.value.trim();
    if (!raw) return null;
    if (widget === "list") return raw.split(/[,;\n]+/).map((s) => s.trim()).filter(Boolean);
    if (widget === "level") return parseInt(raw, 10);
    // The printed form shows local time (dd/mm/yyyy hh:mm): send the local value as typed.
    return raw;
  }

  function collect() {
    const data = {};
    const missing = [];
    for (const box of $$("#report-form .field")) {
      const value = fieldValue(box);
      const empty = value == null || (Array.isArray(value) && !value.length);
      box.classList.toggle("invalid", box.classList.contains("required") && empty);
      if (box.classList.contains("required") && empty) missing.push(($(".label", box) || $("label", box)).textContent.replace("*", "").trim());
      if (!empty) setPath(data, box.dataset.path, value);
    }
    return { data, missing };
  }

  window.SOC.page(() => {
    const form = $("#report-form");
    const now = new Date();
    form.elements.report_time.value = isoToLocal(now.toISOString());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const { data, missing } = collect();
      const error = $("#report-error");
      if (missing.length) {
        error.textContent = t("report.missing") + ": " + missing.join("; ");
        error.hidden = false;
        return;
      }
      error.hidden = true;
      try {
        const created = await api("/reports", { method: "POST", body: { data } });
        flash(t("report.sent"));
        location.assign("/ui/tickets" + (created && created.id ? "?created=" + encodeURIComponent(created.id) : ""));
      } catch (err) {
        if (err.status === 422 || err.status === 400) { error.textContent = t("common.error") + ": " + err.detail; error.hidden = false; }
        else showError(err);
      }
    });
  });
})();
