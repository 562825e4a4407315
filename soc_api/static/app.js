// Shared code of the SOC web UI: messages, the authenticated API client, DOM helpers, login state.
// Pages hold no data; every value comes from the JSON API with the bearer token kept in
// sessionStorage, and every value is written with textContent (never as markup).
"use strict";
(function () {
  const MESSAGES = JSON.parse(document.getElementById("soc-i18n").textContent);
  const LANG = document.documentElement.lang || "vi";
  const TOKEN_KEY = "soc-token";
  const API = "/api/v1";

  function t(key, vars) {
    let text = Object.prototype.hasOwnProperty.call(MESSAGES, key) ? MESSAGES[key] : key;
    for (const [name, value] of Object.entries(vars || {})) text = text.split("{" + name + "}").join(String(value));
    return text;
  }
  // A label for an enumerated value ("status.new"), falling back to the raw value.
  function label(prefix, value) {
    if (value == null || value === "") return "–";
    const key = prefix + "." + value;
    return Object.prototype.hasOwnProperty.call(MESSAGES, key) ? MESSAGES[key] : String(value);
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(status + ": " + detail);
      this.status = status;
      this.detail = detail;
    }
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);
  function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }
  function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

  function goLogin() {
    const here = location.pathname + location.search;
    location.assign("/ui/login?next=" + encodeURIComponent(here));
  }

  function detailText(body, fallback) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail)) {
      return body.detail.map((d) => (Array.isArray(d.loc) ? d.loc.slice(1).join(".") + ": " : "") + (d.msg || "")).join("; ");
    }
    return fallback;
  }

  // Calls the JSON API. `body` may be a plain object (sent as JSON), FormData or URLSearchParams.
  // With {raw: true} the Response is returned (downloads).
  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    const tok = opts.token || token();
    if (tok) headers.Authorization = "Bearer " + tok;
    let body = opts.body;
    if (body != null && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const resp = await fetch(API + path, { method: opts.method || (body != null ? "POST" : "GET"), headers, body });
    if (resp.status === 401 && !opts.noRedirect) {
      clearToken();
      goLogin();
      throw new ApiError(401, "unauthorised");
    }
    if (opts.raw && resp.ok) return resp;
    const data = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) throw new ApiError(resp.status, detailText(data, resp.statusText));
    return data;
  }

  // el("td", {className: "x", dataset: {id: 1}, onclick: fn}, "text", child...)
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child == null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return pad(d.getDate()) + "/" + pad(d.getMonth() + 1) + "/" + d.getFullYear() + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  // <input type=datetime-local> value (local time) -> ISO 8601 with offset; "" -> null.
  function localToIso(value) {
    if (!value) return null;
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? null : d.toISOString();
  }
  function isoToLocal(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  const badge = (cls, text) => el("span", { className: "badge " + (cls || "") }, text);
  const levelBadge = (level) => badge(level, label("level", level));
  const statusTag = (status) => el("span", { className: "status " + (status || "") }, label("status", status));

  // Deadline state: {state: ok|warn|overdue|met, text}. Warn when less than `warnHours` are left.
  function clock(dueIso, metIso, warnHours) {
    if (metIso) return { state: "met", text: t("incident.met") + " " + fmtTime(metIso) };
    if (!dueIso) return { state: "ok", text: "–" };
    const ms = new Date(dueIso).getTime() - Date.now();
    const abs = Math.abs(ms);
    const days = Math.floor(abs / 86400000);
    const hours = Math.floor((abs % 86400000) / 3600000);
    const minutes = Math.floor((abs % 3600000) / 60000);
    const span = (days ? days + " " + t("incident.days") + " " : "") + hours + " " + t("incident.hours") + (days ? "" : " " + minutes + " " + t("incident.minutes"));
    if (ms < 0) return { state: "overdue", text: t("incident.overdue") + " " + span };
    return { state: ms < (warnHours == null ? 48 : warnHours) * 3600000 ? "warning" : "ok", text: t("incident.remaining") + " " + span };
  }

  // The 5-day national notification clock of an incident: from its deadlines when the API gives
  // them, else counted from its detection time.
  function nationalClock(inc) {
    const items = Array.isArray(inc.deadlines) ? inc.deadlines : [];
    const d = items.find((x) => /national/i.test(x.key || x.kind || ""));
    if (d) return deadlineClock(d, 48);
    if (!inc.detected_at) return { state: "ok", text: "–" };
    return clock(new Date(new Date(inc.detected_at).getTime() + 5 * 86400000).toISOString(), null, 48);
  }
  // A deadline from the API ({key, due_at, state, met_at, label_vi, label_en}); the server's state wins.
  function deadlineClock(d, warnHours) {
    const c = clock(d.due_at || d.due, d.met_at || null, warnHours);
    if (d.state && ["ok", "warning", "overdue", "met"].includes(d.state) && c.state !== "met") c.state = d.state;
    return c;
  }

  function flash(message, isError) {
    const box = $("#flash");
    if (!box) return;
    box.textContent = message;
    box.className = isError ? "error" : "";
    box.hidden = false;
    if (!isError) setTimeout(() => { if (box.textContent === message) box.hidden = true; }, 6000);
  }
  function showError(err) {
    if (err && err.status === 401) return;
    flash(t("common.error") + ": " + (err && err.message ? err.message : String(err)), true);
  }

  function table(tbody, rows, colspan) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: colspan || 1, className: "hint" }, t("common.none")))]));
  }

  // Form values: {name: value} of the named controls, "" for empty; checkboxes grouped into lists.
  function formValues(form) {
    const out = {};
    for (const ctl of form.elements) {
      if (!ctl.name || ctl.disabled) continue;
      if (ctl.type === "checkbox") {
        if (!Array.isArray(out[ctl.name])) out[ctl.name] = [];
        if (ctl.checked) out[ctl.name].push(ctl.value);
      } else if (ctl.type === "radio") {
        if (!(ctl.name in out)) out[ctl.name] = "";
        if (ctl.checked) out[ctl.name] = ctl.value;
      } else if (ctl.type !== "file") {
        out[ctl.name] = ctl.value.trim();
      }
    }
    return out;
  }

  let mePromise = null;
  function me() {
    if (!mePromise) mePromise = api("/me");
    return mePromise;
  }

  function applyRoles(role) {
    for (const node of $$("[data-roles]")) node.hidden = !node.dataset.roles.split(" ").includes(role);
  }

  const homeFor = (role) => (role === "unit_reporter" ? "/ui/tickets" : "/ui/alerts");

  const pageHandlers = [];
  function page(handler) { pageHandlers.push(handler); }

  document.addEventListener("DOMContentLoaded", async () => {
    const isLogin = document.body.dataset.page === "login";
    const logout = $("#logout");
    logout.addEventListener("click", async () => {
      try { await api("/auth/logout", { method: "POST", noRedirect: true }); } catch (err) { /* token may be an API token */ }
      clearToken();
      location.assign("/ui/login");
    });
    if (!token()) {
      applyRoles("");
      if (!isLogin) { goLogin(); return; }
    } else {
      try {
        const user = await me();
        $("#whoami").textContent = t("common.signed_in_as") + " " + user.name + (user.unit_code ? " (" + user.unit_code + ")" : "");
        logout.hidden = false;
        applyRoles(user.role);
        document.body.dataset.role = user.role;
        if (document.body.dataset.page === "alerts" && location.pathname === "/" && user.role === "unit_reporter") {
          location.replace(homeFor(user.role));
          return;
        }
      } catch (err) {
        if (!isLogin) { showError(err); return; }
      }
    }
    for (const handler of pageHandlers) {
      try { await handler(); } catch (err) { showError(err); }
    }
  });

  window.SOC = {
    t, label, api, ApiError, el, $, $$, fmtTime, localToIso, isoToLocal, badge, levelBadge, statusTag,
    clock, deadlineClock, nationalClock, flash, showError, table, formValues, me, page, setToken, clearToken, homeFor, lang: LANG,
  };
})();
