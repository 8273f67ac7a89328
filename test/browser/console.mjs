// Browser test of the admin console (docs/CONSOLE.md), run by
// console_test.go against `ward serve --dev`: the dev administrator signs
// in through the console's BFF and Ward's own pages, every page and
// action is used, each page is screenshotted at desktop and phone widths
// into $ARTIFACTS and audited (audit.mjs: lang, labels, contrast, no
// sideways scroll, no CSP violation); a user without the admin role is
// refused; a cross-site request is refused by the BFF's CSRF defence.
// Prints one JSON line per check; exits non-zero on the first failure.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { audit, watch } from "./audit.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const CONSOLE = env("CONSOLE_URL"); // http://127.0.0.1:9000/console/
const ADMIN = env("ADMIN_USER");
const ADMIN_PASS = env("ADMIN_PASSWORD");
const USER = env("WARD_USER"); // no admin role
const PASS = env("WARD_PASSWORD");
const ART = env("ARTIFACTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const origin = new URL(CONSOLE).origin;

fs.mkdirSync(ART, { recursive: true });
const check = (name, ok, detail) => {
  console.log(JSON.stringify({ check: name, ok: !!ok, detail }));
  if (!ok) throw new Error(`check failed: ${name}: ${JSON.stringify(detail)}`);
};
const VIEWPORTS = [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]];
let shotN = 0;
async function shots(page, name) {
  shotN++;
  for (const [label, vp] of VIEWPORTS) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(50);
    await page.screenshot({ path: path.join(ART, `${String(shotN).padStart(2, "0")}-${name}-${label}.png`), fullPage: true });
    const problems = await page.evaluate(audit);
    check(`${name} (${label}): accessibility basics`, problems.length === 0, problems);
  }
  check(`${name}: no CSP violation or script error`, page.violations.length === 0, page.violations);
  await page.setViewportSize(VIEWPORTS[0][1]);
}

// The attacker's page, on another site (localhost is not 127.0.0.1's site).
const attacker = http.createServer((req, res) => {
  res.setHeader("Content-Type", "text/html");
  if (req.url === "/form") {
    // An auto-submitted cross-site form to the admin API's key rotation.
    res.end(`<!doctype html><title>attacker</title><form id="f" method="POST" action="${origin}/console/bff/api/keys/rotate"><input name="x" value="1"></form>
<script>document.getElementById("f").submit()</script>`);
    return;
  }
  res.end("<!doctype html><title>attacker</title><h1>Another site</h1>");
});
await new Promise((r) => attacker.listen(0, "127.0.0.1", r));
const evil = `http://localhost:${attacker.address().port}`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const newPage = async () => {
  const ctx = await browser.newContext({ locale: "en-US", viewport: VIEWPORTS[0][1] });
  return watch(await ctx.newPage());
};

// signIn goes from the console's sign-in panel through Ward's login and
// consent pages back to the console.
async function signIn(page, user, pass) {
  await page.goto(CONSOLE);
  await page.waitForSelector("main h1");
  check(`${user}: the console asks to sign in`, (await page.textContent("main h1")) === "Ward console" &&
    (await page.locator("a.button", { hasText: "Sign in" }).count()) === 1, await page.textContent("body"));
  await page.click("a.button");
  await page.fill("#username", user);
  await page.fill("#password", pass);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  if (await page.locator('button[value="allow"]').count()) await page.click('button[value="allow"]');
  await page.waitForURL((u) => u.pathname.startsWith(new URL(CONSOLE).pathname) && !u.pathname.includes("/bff/"));
  await page.waitForSelector("main h1");
}

// nav follows a link of the navigation and waits for its page.
async function nav(page, title) {
  await page.click(`nav a:text-is("${title}")`);
  await page.waitForSelector(`main h1:text-is("${title}")`);
}

try {
  // 1. A user without the admin role is refused.
  {
    const page = await newPage();
    await signIn(page, USER, PASS);
    const body = await page.textContent("main");
    check("non-admin refused", (await page.textContent("main h1")) === "Access refused" && body.includes("admin role"), body);
    await shots(page, "refused-non-admin");
    check("non-admin: no client listed", !(await page.content()).includes("ward-console"), "");
  }

  // 2. The administrator.
  const page = await newPage();
  await signIn(page, ADMIN, ADMIN_PASS);
  check("admin: back on the page asked for", new URL(page.url()).pathname === new URL(CONSOLE).pathname, page.url());
  await shots(page, "home");
  await nav(page, "Clients");
  check("clients listed", (await page.textContent("main")).includes("ward-console"), await page.textContent("main"));
  await shots(page, "clients");

  page.on("dialog", (d) => d.accept()); // the data-confirm questions
  // has waits until the element's text holds want (an answer replaces
  // the page after the address changed).
  const has = (sel, want) => page.waitForFunction(([s, w]) => (document.querySelector(s) || {}).textContent?.includes(w), [sel, want], { timeout: 10000 })
    .then(() => true, () => false);
  const notice = async (want) => {
    await page.waitForFunction((w) => (document.querySelector(".notice") || {}).textContent?.includes(w), want, { timeout: 10000 })
      .catch(() => {});
    const got = (await page.locator(".notice").count()) ? await page.textContent(".notice") : "(no notice)";
    check(`notice: ${want}`, got.includes(want), got);
  };

  // Clients: a refused form keeps what was typed and names the field.
  await page.click('a.button:text-is("New client")');
  await page.waitForSelector("#c-id");
  await shots(page, "client-new");
  await page.fill("#c-id", "shop-web");
  await page.fill("#c-name", "Shop (web)");
  await page.fill("#c-redirects", "http://shop.example.com/callback");
  await page.fill("#c-scopes", "orders:read");
  await page.click('button:text-is("Create client")');
  await page.waitForSelector("#problem .problem");
  check("bad redirect URI refused, naming it", (await page.textContent("#problem")).includes("redirect_uris") &&
    (await page.inputValue("#c-id")) === "shop-web", await page.textContent("#problem"));
  await shots(page, "client-refused");
  await page.fill("#c-redirects", "https://shop.example.com/callback");
  await page.click('button:text-is("Create client")');
  await notice("Client shop-web created");
  const secret1 = await page.textContent("#client-secret");
  check("client secret shown once", /^[A-Za-z0-9_-]{43}$/.test(secret1) && new URL(page.url()).pathname.endsWith("/clients/shop-web"), [secret1, page.url()]);
  await shots(page, "client-created");
  await page.fill("#c-name", "Shop web app");
  await page.click('button:text-is("Save")');
  await notice("Client shop-web saved");
  check("client renamed", (await page.inputValue("#c-name")) === "Shop web app" && (await page.locator("#client-secret").count()) === 0, "");
  await page.click('button:text-is("Rotate secret")');
  await notice("was rotated");
  const secret2 = await page.textContent("#client-secret");
  check("rotated secret differs", secret2 !== secret1 && secret2.length === 43, secret2);
  await page.click('button:text-is("Delete client")');
  await notice("Client shop-web deleted");
  check("deleted client gone from the list", !(await page.textContent("main table")).includes("shop-web"), "");
  await page.goBack();
  await page.waitForSelector("main h1");

  // Users.
  await nav(page, "Users");
  check("users listed", (await page.textContent("main table")).includes(USER), "");
  await shots(page, "users");
  await page.fill("#u-name", "eve");
  await page.click('button:text-is("Create user")');
  await notice("User eve created");
  const pw1 = await page.textContent("#user-password");
  check("new user's password shown once", pw1.length === 24, pw1);
  await shots(page, "user-created");
  await page.click('button:text-is("Reset password")');
  await notice("eve has a new password");
  check("new password differs", (await page.textContent("#user-password")) !== pw1, "");
  await page.click('button:text-is("Give the admin role")');
  await notice("eve now has the admin role");
  await page.click('button:text-is("Remove the admin role")');
  await notice("eve no longer has the admin role");
  await page.click('button:text-is("Unlock sign-in")');
  await notice("eve had no failed login to forget");
  await page.click('a:text-is("Users")');
  await page.fill("#user-q", "eve");
  await page.click('button:text-is("Search")');
  await page.waitForURL((u) => u.search === "?q=eve");
  check("user search", await has("main caption", "1 user(s)") && (await page.textContent("main table")).includes("eve"), await page.textContent("main"));

  // Signing keys.
  await nav(page, "Signing keys");
  const before = await page.locator("main tbody tr").count();
  await shots(page, "keys");
  await page.click('button:text-is("Rotate the signing key")');
  await notice("published");
  const keysAfter = await page.locator("main tbody tr").count();
  check("a key added", keysAfter === before + 1, before);

  // Grants and sessions: the non-admin's console sign-in of step 1.
  await nav(page, "Grants and sessions");
  await shots(page, "grants-empty");
  await page.fill("#g-user", USER);
  await page.click('button:text-is("Find")');
  await page.waitForSelector("main table");
  check("the user's grant and session found", (await page.textContent("main")).includes("ward-console") &&
    (await page.locator('button:text-is("End")').count()) >= 1, await page.textContent("main"));
  await shots(page, "grants");
  await page.click('button:text-is("Revoke")');
  await notice("revoked");
  check("grant shown revoked", (await page.textContent("main table")).includes("revoked_by_admin"), "");
  await page.click('button:text-is("End")');
  await notice("Session ended");
  await page.fill("#g-client", "ward-console");
  await page.fill("#g-user", "");
  await page.click('button:text-is("Find")');
  check("grants by client", await has("main table", "user-admin"), await page.textContent("main"));

  // 3. No token in the page; the session cookie is HttpOnly.
  const leaks = await page.evaluate(() => ({ cookie: document.cookie, ls: localStorage.length, ss: sessionStorage.length,
    jwt: /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./.test(document.documentElement.outerHTML) }));
  check("no token or cookie reachable from the page", leaks.cookie === "" && leaks.ls === 0 && leaks.ss === 0 && !leaks.jwt, leaks);

  // 4. CSRF: another site's script cannot call the admin API (the
  //    preflight of the custom header is refused; a no-cors POST lacks it).
  {
    const other = await page.context().newPage();
    await other.goto(evil);
    const r = await other.evaluate(async (o) => {
      const out = {};
      try { await fetch(o + "/console/bff/api/clients", { headers: { "X-Ward-CSRF": "1" }, credentials: "include" }); out.cors = "answered"; } catch { out.cors = "blocked"; }
      await fetch(o + "/console/bff/api/keys/rotate", { method: "POST", mode: "no-cors", credentials: "include", body: "x=1" });
      return out;
    }, origin);
    check("cross-site call blocked", r.cors === "blocked", r);
    const resp = await other.goto(evil + "/form");
    await other.waitForURL((u) => u.origin === origin, { timeout: 10000 });
    const refused = await other.textContent("body");
    check("cross-site form refused by the CSRF check", refused.includes("csrf_header") || refused.includes("X-Ward-CSRF"), [resp && resp.status(), refused]);
    await other.close();
    await nav(page, "Signing keys");
    check("no key rotated by the cross-site requests", (await page.locator("main tbody tr").count()) === keysAfter, keysAfter);
  }

  // 5. Sign out.
  await page.click("button[data-logout]");
  await page.waitForSelector("a.button");
  check("signed out", (await page.textContent("main h1")) === "Ward console", await page.textContent("body"));
  console.log(JSON.stringify({ done: true }));
} finally {
  await browser.close();
  attacker.close();
}
