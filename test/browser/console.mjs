// Browser test of the admin console (docs/CONSOLE.md), run by
// console_test.go against `ward serve --dev`: the dev administrator signs
// in through the console's BFF and Ward's own pages, every page and
// action is used, each page is screenshotted at desktop and phone widths
// into $ARTIFACTS and audited (a11y.mjs: lang, labels, contrast, no
// sideways scroll, no CSP violation); a user without the admin role is
// refused; a cross-site request is refused by the BFF's CSRF defence.
// Prints one JSON line per check; exits non-zero on the first failure.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { audit, watch } from "./a11y.mjs";

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
    await other.close();
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
