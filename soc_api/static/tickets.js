// "My unit's tickets": the incidents and reports the API lets this user see (its unit subtree).
"use strict";
(function () {
  const { t, label, api, el, $, fmtTime, statusTag, nationalClock, table } = window.SOC;
  const list = (data) => (Array.isArray(data) ? data : (data && data.items) || []);

  async function optional(path) {
    try {
      return list(await api(path));
    } catch (err) {
      if (err.status === 404 || err.status === 405) return null;
      throw err;
    }
  }

  window.SOC.page(async () => {
    const [incidents, reports] = await Promise.all([optional("/incidents?limit=200"), optional("/reports?limit=200")]);
    const none = (sel, cols) => table($(sel), [el("tr", {}, el("td", { colSpan: cols, className: "hint" }, t("common.not_available")))], cols);
    if (incidents == null) none("#tickets tbody", 7);
    else {
      table($("#tickets tbody"), incidents.map((inc) => {
        const c = nationalClock(inc);
        return el("tr", { dataset: { id: inc.id } },
          el("td", { className: "mono" }, el("a", { href: "/ui/incidents/" + encodeURIComponent(inc.id) }, inc.id)),
          el("td", {}, inc.title), el("td", {}, label("itype", inc.incident_type)), el("td", {}, statusTag(inc.status)),
          el("td", {}, inc.unit_code || "–"), el("td", { className: "cell-clock " + c.state }, c.text), el("td", {}, fmtTime(inc.updated_at)));
      }), 7);
    }
    if (reports == null) none("#reports tbody", 5);
    else {
      table($("#reports tbody"), reports.map((r) => {
        const data = r.data || r;
        return el("tr", { dataset: { id: r.id } },
          el("td", { className: "mono" }, r.id), el("td", {}, data.summary || r.summary || "–"), el("td", {}, r.unit_code || "–"),
          el("td", {}, r.incident_id ? el("a", { href: "/ui/incidents/" + encodeURIComponent(r.incident_id) }, r.incident_id) : "–"),
          el("td", {}, fmtTime(r.created_at)));
      }), 5);
    }
  });
})();
