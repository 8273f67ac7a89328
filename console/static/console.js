// Ward admin console: the one script of the shell (docs/CONSOLE.md). It
// asks the admin API, through the console's BFF (prefix/bff/api, with the
// X-Ward-CSRF header the BFF requires), for the page the address names,
// shows the HTML fragment the server rendered, and submits the pages'
// forms the same way. It never sees a token: the BFF keeps them.
const prefix = document.documentElement.dataset.prefix;
const app = document.getElementById("app");
const csrf = { "X-Ward-CSRF": "1" };

// Trusted Types (the CSP requires them): the only HTML this script puts
// in the page is the admin API's, escaped by html/template on the server.
const policy = window.trustedTypes
  ? window.trustedTypes.createPolicy("console", { createHTML: (s) => s })
  : { createHTML: (s) => s };

function fragment(html) {
  const t = document.createElement("template");
  t.innerHTML = policy.createHTML(html);
  return t.content;
}

// apiURL maps a console address (/console/clients?q=x) to the admin API's
// through the BFF (/console/bff/api/clients?q=x).
function apiURL(pathname, search) {
  let rest = pathname.slice(prefix.length);
  if (rest === "" || rest === "/") rest = "/home";
  return prefix + "/bff/api" + rest + (search || "");
}

function isConsolePath(u) {
  return u.origin === location.origin && u.pathname.startsWith(prefix + "/") &&
    !u.pathname.startsWith(prefix + "/bff/") && !u.pathname.startsWith(prefix + "/static/");
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function showLogin(reason) {
  const back = location.pathname + location.search;
  const login = el("a", { class: "button", href: prefix + "/bff/login?return_to=" + encodeURIComponent(back) }, "Sign in");
  const main = el("main", { id: "main", class: "signin" },
    el("h1", {}, "Ward console"),
    el("p", {}, "Sign in with your Ward account. Only administrators can use the console."),
    reason ? el("p", { class: "muted" }, reason) : "",
    login);
  app.replaceChildren(main);
}

function showError(status, text) {
  app.replaceChildren(el("main", { id: "main" }, el("h1", {}, "Ward console"),
    el("p", { class: "problem", role: "alert" }, `The console could not be loaded (${status}): ${text}`)));
}

// show puts a response of the admin API in the page.
async function show(resp, { form } = {}) {
  if (resp.status === 401) {
    let why = "";
    try { why = (await resp.json()).error_description || ""; } catch { /* not JSON */ }
    showLogin(why);
    return;
  }
  const type = resp.headers.get("Content-Type") || "";
  const text = await resp.text();
  if (!type.startsWith("text/html")) {
    let msg = text;
    try { msg = JSON.parse(text).error_description || text; } catch { /* not JSON */ }
    showError(resp.status, msg);
    return;
  }
  const frag = fragment(text);
  if (form && resp.status >= 400 && resp.status < 500 && document.getElementById("problem")) {
    // A refused form: keep what the operator typed, say what is wrong.
    const p = frag.querySelector(".problem");
    const slot = document.getElementById("problem");
    slot.replaceChildren(p || el("p", { class: "problem", role: "alert" }, `Refused (${resp.status}).`));
    slot.scrollIntoView({ block: "nearest" });
    return;
  }
  app.replaceChildren(frag);
  live();
  const title = app.querySelector("h1");
  document.title = (title ? title.textContent + " · " : "") + "Ward console";
  const main = document.getElementById("main");
  if (main) main.focus({ preventScroll: true });
}

// live reloads a page that asks for it (an element with data-refresh="N",
// N seconds, at least 2) while it is shown, visible and not being typed
// in: a live list needs no script of its own.
let timer = 0;
function live() {
  clearTimeout(timer);
  const el = app.querySelector("[data-refresh]");
  if (!el) return;
  const every = Math.max(2, parseInt(el.dataset.refresh, 10) || 0) * 1000;
  const at = location.pathname + location.search;
  timer = setTimeout(() => {
    const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
    if (location.pathname + location.search !== at) return;
    if (document.hidden || typing) { live(); return; }
    load(location.pathname, location.search);
  }, every);
}

async function load(pathname, search) {
  const resp = await fetch(apiURL(pathname, search), { headers: { ...csrf, Accept: "text/html" } });
  await show(resp);
}

function go(u, push) {
  if (push) history.pushState(null, "", u.pathname + u.search);
  return load(u.pathname, u.search);
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[href]");
  if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && ev.button === 0) {
    const u = new URL(a.href, location.href);
    if (isConsolePath(u)) {
      ev.preventDefault();
      go(u, true);
    }
    return;
  }
  const out = ev.target.closest("[data-logout]");
  if (out) {
    ev.preventDefault();
    logout();
  }
});

document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  const u = new URL(form.getAttribute("action") || location.pathname, location.href);
  if (!isConsolePath(u)) return;
  ev.preventDefault();
  const data = new URLSearchParams(new FormData(form, ev.submitter));
  if ((form.method || "get").toLowerCase() === "get") {
    u.search = data.toString() ? "?" + data.toString() : "";
    go(u, true);
    return;
  }
  const ask = form.dataset.confirm;
  if (ask && !window.confirm(ask)) return;
  const resp = await fetch(apiURL(u.pathname, ""), {
    method: "POST",
    headers: { ...csrf, Accept: "text/html", "Content-Type": "application/x-www-form-urlencoded" },
    body: data.toString(),
  });
  const to = resp.headers.get("X-Console-Location");
  if (resp.ok && to && to.startsWith(prefix + "/")) history.pushState(null, "", to);
  await show(resp, { form: true });
});

window.addEventListener("popstate", () => load(location.pathname, location.search));

async function logout() {
  const resp = await fetch(prefix + "/bff/logout", { method: "POST", headers: csrf });
  let to = prefix + "/";
  try { to = (await resp.json()).redirect || to; } catch { /* keep the default */ }
  location.assign(to);
}

async function start() {
  const me = await fetch(prefix + "/bff/user", { headers: csrf });
  if (me.status === 401) {
    showLogin("");
    return;
  }
  await load(location.pathname, location.search);
}

start().catch((e) => showError("network", String(e)));
