// The demo single-page app: every call goes to the gateway's BFF with the
// CSRF header; the browser never sees a token.
"use strict";

const csrf = { "X-Ward-CSRF": "1" };
const $ = (id) => document.getElementById(id);

async function refresh() {
  const r = await fetch("/bff/user", { headers: csrf, credentials: "same-origin" });
  if (r.ok) {
    const u = await r.json();
    // name comes from the ID token (the BFF site requests openid).
    const who = u.name ? u.name + " (" + u.sub + ")" : u.sub;
    $("status").textContent = "Logged in as " + who + " (scope: " + (u.scope || "none") + ")";
    $("login").hidden = true;
    $("call").hidden = false;
    $("logout").hidden = false;
  } else {
    $("status").textContent = "Not logged in.";
    $("login").hidden = false;
    $("call").hidden = true;
    $("logout").hidden = true;
  }
}

$("call").addEventListener("click", async () => {
  const r = await fetch("/bff/api/whoami", { headers: csrf, credentials: "same-origin" });
  let text = await r.text();
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: shown as it is
  }
  $("result").textContent = r.status + "\n" + text;
});

$("logout").addEventListener("click", async () => {
  const r = await fetch("/bff/logout", { method: "POST", headers: csrf, credentials: "same-origin" });
  let out = {};
  try {
    out = await r.json();
  } catch {
    // not JSON: nothing to follow
  }
  const shown = "logout: " + r.status + "\n" + JSON.stringify({ logged_out: out.logged_out, grant_revoked: out.grant_revoked });
  if (typeof out.redirect === "string" && /^https?:\/\//.test(out.redirect)) {
    // The issuer's end_session_endpoint (OpenID Connect RP-Initiated
    // Logout): the login there ends too, then it sends the browser back.
    sessionStorage.setItem("ward-demo-logout", shown);
    location.href = out.redirect;
    return;
  }
  $("result").textContent = shown;
  await refresh();
});

const back = sessionStorage.getItem("ward-demo-logout");
if (back) {
  sessionStorage.removeItem("ward-demo-logout");
  $("result").textContent = back;
}

refresh().catch((e) => { $("status").textContent = "Error: " + e; });
