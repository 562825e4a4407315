// Login page: OAuth2 password flow (POST /api/v1/auth/token) or a pasted API token.
"use strict";
(function () {
  const { t, api, $, flash, setToken, clearToken, homeFor } = window.SOC;

  function nextUrl(role) {
    const next = new URLSearchParams(location.search).get("next") || "";
    // Only same-site paths: "/x" but never "//host" or "/\host".
    return /^\/(?![\/\\])/.test(next) && !next.startsWith("/ui/login") ? next : homeFor(role);
  }

  async function enter(token) {
    const user = await api("/me", { token, noRedirect: true });
    setToken(token);
    location.assign(nextUrl(user.role));
  }

  window.SOC.page(() => {
    $("#login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = new URLSearchParams({ grant_type: "password", username: $("#username").value.trim(), password: $("#password").value });
      try {
        const data = await api("/auth/token", { method: "POST", body, noRedirect: true });
        await enter(data.access_token);
      } catch (err) {
        clearToken();
        flash(t("login.failed") + (err.status ? " (" + err.status + ": " + err.detail + ")" : ""), true);
      }
    });
    $("#token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await enter($("#token").value.trim());
      } catch (err) {
        clearToken();
        flash(t("login.failed") + (err.status ? " (" + err.status + ": " + err.detail + ")" : ""), true);
      }
    });
  });
})();
