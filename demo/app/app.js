// The demo single-page app: every call goes to the gateway's BFF with the
// CSRF header; the browser never sees a token.
"use strict";

const csrf = { "X-Ward-CSRF": "1" };
const $ = (id) => document.getElementById(id);

async function refresh() {
  const r = await fetch("/bff/user", { headers: csrf, credentials: "same-origin" });
  if (r.ok) {
    const u = await r.json();
    $("status").textContent = "Logged in as " + u.sub + " (scope: " + (u.scope || "none") + ")";
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
  $("result").textContent = "logout: " + r.status + "\n" + (await r.text());
  await refresh();
});

refresh().catch((e) => { $("status").textContent = "Error: " + e; });
