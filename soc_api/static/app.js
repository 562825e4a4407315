// Read-only alert queue. Data comes only from authenticated API calls; the token stays in
// sessionStorage. Every value is written with textContent (never innerHTML).
"use strict";
(function () {
  const T = {
    vi: {
      title: "Trung tâm điều hành an toàn, an ninh mạng – Cảnh báo", token: "Mã truy cập (API token)",
      save: "Lưu", logout: "Xoá mã", level: "Mức độ", status: "Trạng thái", all: "Tất cả", refresh: "Tải lại",
      lastSeen: "Lần cuối", rule: "Quy tắc", unit: "Đơn vị", count: "Số lần", events: "Sự kiện kích hoạt",
      total: "Tổng", noToken: "Nhập mã truy cập để xem cảnh báo.", failed: "Lỗi", other: "English",
    },
    en: {
      title: "Security Operations Centre – Alerts", token: "Access token (API token)",
      save: "Save", logout: "Clear token", level: "Level", status: "Status", all: "All", refresh: "Reload",
      lastSeen: "Last seen", rule: "Rule", unit: "Unit", count: "Count", events: "Triggering events",
      total: "Total", noToken: "Enter an access token to see alerts.", failed: "Error", other: "Tiếng Việt",
    },
  };
  let lang = sessionStorage.getItem("soc-lang") || "vi";
  const $ = (id) => document.getElementById(id);
  const t = (key) => T[lang][key] || key;

  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("lang").textContent = t("other");
  }

  async function api(path) {
    const token = sessionStorage.getItem("soc-token");
    if (!token) throw new Error(t("noToken"));
    const resp = await fetch(path, { headers: { Authorization: "Bearer " + token } });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(resp.status + ": " + (typeof body.detail === "string" ? body.detail : resp.statusText));
    return body;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  async function loadAlerts() {
    $("error").textContent = "";
    const params = new URLSearchParams({ limit: "100" });
    if ($("level").value) params.set("level", $("level").value);
    if ($("status").value) params.set("status", $("status").value);
    try {
      const data = await api("/api/v1/alerts?" + params);
      const tbody = document.querySelector("#alerts tbody");
      tbody.replaceChildren();
      for (const a of data.items) {
        const tr = document.createElement("tr");
        cell(tr, a.last_seen); cell(tr, a.level, a.level); cell(tr, a.rule_title);
        cell(tr, a.unit_code); cell(tr, a.count); cell(tr, a.status);
        tr.addEventListener("click", () => loadDetail(a.id));
        tbody.appendChild(tr);
      }
      $("total").textContent = t("total") + ": " + data.total;
    } catch (err) {
      $("error").textContent = t("failed") + ": " + err.message;
    }
  }

  async function loadDetail(id) {
    try {
      const a = await api("/api/v1/alerts/" + encodeURIComponent(id));
      $("detail").hidden = false;
      $("detail-title").textContent = a.rule_title;
      const dl = $("detail-fields");
      dl.replaceChildren();
      for (const key of ["id", "rule_id", "level", "status", "verdict", "assignee", "unit_code", "first_seen", "last_seen", "count"]) {
        const dt = document.createElement("dt"); dt.textContent = key;
        const dd = document.createElement("dd"); dd.textContent = a[key] == null ? "–" : String(a[key]);
        dl.append(dt, dd);
      }
      const dt = document.createElement("dt"); dt.textContent = "entity";
      const dd = document.createElement("dd"); dd.textContent = JSON.stringify(a.entity);
      dl.append(dt, dd);
      $("detail-events").textContent = a.events_error || JSON.stringify(a.events, null, 2);
    } catch (err) {
      $("error").textContent = t("failed") + ": " + err.message;
    }
  }

  async function whoami() {
    try {
      const me = await api("/api/v1/me");
      $("whoami").textContent = me.name + " (" + me.role + (me.unit_code ? ", " + me.unit_code : "") + ")";
    } catch (err) {
      $("whoami").textContent = "";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyLang();
    $("lang").addEventListener("click", () => {
      lang = lang === "vi" ? "en" : "vi";
      sessionStorage.setItem("soc-lang", lang);
      applyLang();
    });
    $("save-token").addEventListener("click", () => {
      sessionStorage.setItem("soc-token", $("token").value.trim());
      $("token").value = "";
      whoami(); loadAlerts();
    });
    $("clear-token").addEventListener("click", () => {
      sessionStorage.removeItem("soc-token");
      $("whoami").textContent = "";
      document.querySelector("#alerts tbody").replaceChildren();
    });
    $("refresh").addEventListener("click", loadAlerts);
    $("level").addEventListener("change", loadAlerts);
    $("status").addEventListener("change", loadAlerts);
    if (sessionStorage.getItem("soc-token")) { whoami(); loadAlerts(); }
  });
})();
