// The demo single-page app: every call goes to the gateway's BFF with the
// CSRF header; the browser never sees a token. Answers are shown twice:
// readably (what they mean) and raw (status and JSON, under "Raw answer").
"use strict";

const csrf = { "X-Ward-CSRF": "1" };
const $ = (id) => document.getElementById(id);

// el builds an element with text content only (never HTML).
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

async function refresh() {
  const r = await fetch("/bff/user", { headers: csrf, credentials: "same-origin" });
  const signedIn = r.ok;
  if (signedIn) {
    const u = await r.json();
    // The name from the ID token (the BFF site requests openid), else
    // the username the authorization server told (RFC 7662 username),
    // else the opaque subject.
    const login = u.preferred_username || u.username;
    $("status").replaceChildren("Logged in as ", el("strong", u.name || login || u.sub), u.name && login ? " (" + login + ")" : "");
    const ends = new Date(u.session_ends_at);
    $("session").textContent = "Scope granted: " + (u.scope || "none") + ". The session ends at " +
      ends.toLocaleTimeString() + ", or after " + Math.round(u.idle_timeout_sec / 60) + " minutes without use.";
  } else {
    $("status").textContent = "Not logged in.";
  }
  show("session", signedIn);
  for (const [id, visible] of [["login", !signedIn], ["call", signedIn], ["logout", signedIn]]) {
    show(id, visible);
    show(id + "-action", visible);
  }
}

// summarize renders an answer readably in #summary.
function summarize(title, status, body, rows) {
  const s = $("summary");
  s.replaceChildren(el("p", title + " — HTTP " + status, status < 300 ? "ok" : "bad"));
  if (rows.length) {
    const dl = el("dl");
    for (const [k, v, cls] of rows) {
      dl.append(el("dt", k), el("dd", v, cls));
    }
    s.append(dl);
  } else if (body && body.error) {
    s.append(el("p", body.error + (body.error_description ? ": " + body.error_description : "")));
  }
}

function whoamiRows(b) {
  if (!b || !b.identity_headers) return [];
  const h = b.identity_headers;
  const rows = [
    ["User (subject)", h["X-Ward-Subject"] || "—"],
    ["Client", h["X-Ward-Client"] || "—"],
    ["Scopes", h["X-Ward-Scopes"] || "—"],
    ["DPoP key (thumbprint)", h["X-Ward-Jkt"] || "—"],
    ["Access token forwarded", b.authorization_forwarded ? "yes (unexpected)" : "no: the gateway stripped it",
      b.authorization_forwarded ? "bad" : "ok"],
    ["DPoP proof forwarded", b.dpop_forwarded ? "yes (unexpected)" : "no: the gateway stripped it",
      b.dpop_forwarded ? "bad" : "ok"],
    ["Path the API saw", b.path],
  ];
  if (h["X-Ward-Identity"]) rows.push(["Signed identity (JWT)", "present"]);
  return rows;
}

async function answer(r) {
  const text = await r.text();
  let body = null;
  let pretty = text;
  try {
    body = JSON.parse(text);
    pretty = JSON.stringify(body, null, 2);
  } catch {
    // not JSON: shown as it is
  }
  return { text, body, pretty };
}

$("call").addEventListener("click", async () => {
  const r = await fetch("/bff/api/whoami", { headers: csrf, credentials: "same-origin" });
  const a = await answer(r);
  $("result").textContent = r.status + "\n" + a.pretty;
  summarize("What the demo API received", r.status, a.body, r.ok ? whoamiRows(a.body) : []);
});

$("logout").addEventListener("click", async () => {
  const r = await fetch("/bff/logout", { method: "POST", headers: csrf, credentials: "same-origin" });
  const a = await answer(r);
  const shown = "logout: " + r.status + "\n" + a.text;
  const body = a.body || {};
  if (r.ok && typeof body.redirect === "string" && /^https?:\/\//.test(body.redirect)) {
    // The issuer's end_session_endpoint (OpenID Connect RP-Initiated
    // Logout): the login there ends too, then it sends the browser back.
    sessionStorage.setItem("ward-demo-logout", shown);
    location.href = body.redirect;
    return;
  }
  $("result").textContent = shown;
  const rows = a.body && r.ok ? [
    ["Session here", "ended"],
    ["Grant at the authorization server", a.body.grant_revoked ? "revoked" : "not revoked (see the server log)",
      a.body.grant_revoked ? "ok" : "bad"],
  ] : [];
  summarize("Logged out", r.status, a.body, rows);
  await refresh();
});

const back = sessionStorage.getItem("ward-demo-logout");
if (back) {
  sessionStorage.removeItem("ward-demo-logout");
  $("result").textContent = back;
}

refresh().catch((e) => { $("status").textContent = "Error: " + e; });
