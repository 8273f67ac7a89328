// Screenshots of every page a person sees, run by pages_test.go: each
// page at desktop (1280 px) and phone (390 px) widths into $ARTIFACTS,
// each checked for basic accessibility (a lang attribute, a title and an
// h1, labels on inputs, alt on images, text on controls, text contrast
// per WCAG 2.2 §1.4.3, no horizontal scrolling) and for Content Security
// Policy violations. Prints one JSON line per check; exits non-zero on
// the first failure.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import crypto from "node:crypto";
import { check, VIEWPORTS, watch, shots as shotsIn } from "./audit.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const ISSUER = env("ISSUER");
const APP = env("APP_URL");
const PUBLIC_CLIENT = env("PUBLIC_CLIENT");
const USER = env("WARD_USER");
const PASS = env("WARD_PASSWORD");
const TOKEN_OK_URL = env("TOKEN_OK_URL");
const TOKEN_CANCEL_URL = env("TOKEN_CANCEL_URL");
const BRAND_ISSUER = env("BRAND_ISSUER");
const BRAND_CLIENT = env("BRAND_CLIENT");
const BRAND_USER = env("BRAND_USER");
const BRAND_PASS = env("BRAND_PASSWORD");
const ART = env("ARTIFACTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const GATEWAY = new URL(APP).origin;

fs.mkdirSync(ART, { recursive: true });
const shots = (page, name) => shotsIn(ART, page, name);

// A loopback "client" that answers the redirect, for authorize URLs of
// the dev public client and the brand's client.
const cb = http.createServer((req, res) => { res.setHeader("Content-Type", "text/plain"); res.end("callback reached"); });
await new Promise((r) => cb.listen(0, "127.0.0.1", r));
const authorizeURL = (issuer, clientID, scope, extra = {}) => {
  const verifier = crypto.randomBytes(32).toString("base64url");
  const q = new URLSearchParams({
    response_type: "code", client_id: clientID, scope, state: crypto.randomBytes(8).toString("hex"),
    redirect_uri: `http://127.0.0.1:${cb.address().port}/callback`,
    code_challenge: crypto.createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256", ...extra,
  });
  return `${issuer}/authorize?${q}`;
};

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const newPage = async (locale = "en-US", opts = {}) => {
  const ctx = await browser.newContext({ locale, viewport: VIEWPORTS[0][1], ...opts });
  return watch(await ctx.newPage());
};
const login = async (page, user, pass) => {
  await page.fill("#username", user);
  await page.fill("#password", pass);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
};

try {
  // 1. The CLI's loopback page, first (the pushed requests of the two
  //    `ward token` runs expire 60 s after they started): signed in;
  //    then the other run cancelled with the login page's cancel link.
  {
    const page = await newPage();
    await page.goto(TOKEN_OK_URL);
    await login(page, USER, PASS);
    await page.click('button[value="allow"]');
    await page.waitForURL((u) => u.port !== new URL(ISSUER).port);
    await page.waitForSelector("main h1");
    check("loopback page: signed in", (await page.textContent("h1")) === "You are signed in", await page.textContent("body"));
    await shots(page, "cli-signed-in");
    const other = await newPage();
    await other.goto(TOKEN_CANCEL_URL);
    const cancelHref = await other.getAttribute("#cancel", "href");
    await other.click("#cancel");
    await other.waitForURL((u) => u.href.startsWith(cancelHref.split("?")[0]), { timeout: 10000 })
      .catch((e) => { throw new Error(`cancel link ${cancelHref} not followed: at ${other.url()}: ${e.message}`); });
    await other.waitForSelector("main h1");
    check("loopback page after cancel", (await other.textContent("h1")) === "Sign-in did not complete" &&
      (await other.textContent("body")).includes("cancelled"), await other.textContent("body"));
    await shots(other, "cli-cancelled");
  }

  // 2. The issuer's landing page, in English and in French.
  {
    const page = await newPage();
    const r = await page.goto(ISSUER + "/");
    check("issuer root is a page", r.status() === 200 && (await page.textContent("h1")) === "Sign-in service", r.status());
    check("landing page links the metadata", await page.locator(`a[href="${ISSUER}/.well-known/oauth-authorization-server"]`).count() === 1);
    await shots(page, "home-en");
    const fr = await newPage("fr-FR");
    await fr.goto(ISSUER + "/");
    check("landing page in French", (await fr.getAttribute("html", "lang")) === "fr", await fr.textContent("h1"));
    await shots(fr, "home-fr");
  }

  // 3. The gateway's own 404: JSON, marked, not an HTML page.
  {
    const r = await fetch(GATEWAY + "/no/such/route");
    const body = await r.json();
    check("gateway 404 is JSON no_route with X-Ward-Error", r.status === 404 && body.error === "no_route" &&
      r.headers.get("x-ward-error") === "no_route", { status: r.status, body });
  }

  // 4. Login: English, a wrong password, French; consent in English and
  //    German (the dev public client's loopback redirect: asked every
  //    time).
  {
    const page = await newPage();
    await page.goto(authorizeURL(ISSUER, PUBLIC_CLIENT, "demo:read"));
    check("login page", (await page.getAttribute("html", "lang")) === "en" && (await page.locator("#cancel").count()) === 1);
    await shots(page, "login-en");
    await login(page, USER, "not the password");
    check("wrong password says so", (await page.textContent("#login-error")).includes("Wrong username or password"), await page.textContent("body"));
    await shots(page, "login-wrong-password-en");
    await login(page, USER, PASS);
    check("consent page", (await page.textContent("h1")) === "Allow access?", await page.textContent("body"));
    await shots(page, "consent-en");

    const fr = await newPage("fr-CA");
    await fr.goto(authorizeURL(ISSUER, PUBLIC_CLIENT, "demo:read"));
    check("login page in French from Accept-Language", (await fr.textContent("h1")) === "Connexion", await fr.textContent("h1"));
    await shots(fr, "login-fr");

    const de = await newPage("de-DE");
    await de.goto(authorizeURL(ISSUER, PUBLIC_CLIENT, "demo:read"));
    await login(de, USER, PASS);
    check("consent page in German", (await de.textContent("h1")) === "Zugriff erlauben?", await de.textContent("body"));
    await shots(de, "consent-de");

    // Sign-out pages (RP-Initiated Logout without a hint): the
    // confirmation, "stay signed in", then signed out; in German from
    // ui_locales.
    await page.goto(`${ISSUER}/end_session`);
    check("logout confirmation page", (await page.locator("button[value=logout]").count()) === 1, await page.textContent("body"));
    await shots(page, "logout-confirm-en");
    await page.click("button[value=stay]");
    await page.waitForLoadState();
    check("stay signed in", (await page.textContent("h1")) === "Still signed in", await page.textContent("h1"));
    await shots(page, "logout-kept-en");
    await page.goto(`${ISSUER}/end_session`);
    await page.click("button[value=logout]");
    await page.waitForLoadState();
    check("signed out", (await page.textContent("h1")) === "Signed out", await page.textContent("h1"));
    await shots(page, "logout-done-en");
    await de.goto(`${ISSUER}/end_session?ui_locales=de`);
    check("logout confirmation in German", (await de.textContent("h1")) === "Abmelden?", await de.textContent("h1"));
    await shots(de, "logout-confirm-de");
  }

  // 5. Error pages, written for the person: an unknown client; an
  //    expired flow.
  {
    const page = await newPage();
    const r = await page.goto(`${ISSUER}/authorize?client_id=no-such-app&response_type=code`);
    check("unknown client: error page, no link back", r.status() === 400 && (await page.locator("main a").count()) === 0 &&
      (await page.textContent("#error-code")).includes("invalid_client"), await page.textContent("body"));
    await shots(page, "error-unknown-client-en");
    const de = await newPage("de");
    await de.goto(`${ISSUER}/authorize?client_id=no-such-app&response_type=code`);
    check("error page in German", (await de.textContent("h1")) === "Unbekannte Anwendung", await de.textContent("h1"));
    await shots(de, "error-unknown-client-de");
    await page.goto(`${ISSUER}/login?flow=expired`);
    await shots(page, "error-expired-flow-en");
  }

  // 6. The demo app through the BFF: logged out, logged in with an API
  //    answer, and the BFF's refusal page.
  {
    const page = await newPage();
    await page.goto(APP);
    await page.waitForFunction(() => document.getElementById("status").textContent.includes("Not logged in"));
    check("demo app says where the password is", (await page.textContent("#login-action")).includes("dev-credentials.json"));
    check("logged out: only the login action shows", await page.locator("#call-action").isHidden() && await page.locator("#logout-action").isHidden());
    await shots(page, "app-logged-out");
    await page.click("#login");
    await login(page, USER, PASS);
    if (await page.locator("button[name=decision][value=allow]").count()) {
      await page.click("button[name=decision][value=allow]");
    }
    await page.waitForURL(APP);
    await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Logged in as"));
    check("demo app greets by name and username, not the subject", /^Logged in as .+ \(/.test(await page.textContent("#status")) && (await page.textContent("#status")).includes("(" + USER + ")"), await page.textContent("#status"));
    check("logged in: the login action is hidden", await page.locator("#login-action").isHidden());
    await page.click("#call");
    await page.waitForSelector("#summary dl");
    check("API answer rendered readably", (await page.textContent("#summary")).includes("the gateway stripped it"), await page.textContent("#summary"));
    await shots(page, "app-api-answer");
    await page.click("#logout");
    await page.waitForFunction(() => document.getElementById("status").textContent.includes("Not logged in"));
    await shots(page, "app-logged-out-again");
    const r = await page.goto(GATEWAY + "/bff/callback?code=x&state=y");
    check("BFF refusal page", r.status() === 400 && (await page.textContent("h1")) === "Sign-in did not complete", await page.textContent("body"));
    await shots(page, "bff-refusal");
  }

  // 7. An operator's brand and a client with a logo (served over https
  //    by the test; the browser trusts its certificate here only).
  {
    const page = await newPage("en-GB", { ignoreHTTPSErrors: true });
    await page.goto(BRAND_ISSUER + "/");
    await shots(page, "brand-home");
    await page.goto(authorizeURL(BRAND_ISSUER, BRAND_CLIENT, "openid profile trips:read offline_access"));
    const logo = await page.locator("img.client-logo").evaluate((i) => i.complete && i.naturalWidth > 0);
    check("brand: client logo loaded under the CSP", logo, logo);
    const colour = await page.locator("button[type=submit]").evaluate((b) => getComputedStyle(b).backgroundColor);
    check("brand: the primary colour reaches the button", colour === "rgb(123, 44, 191)", colour);
    await shots(page, "brand-login");
    await login(page, BRAND_USER, BRAND_PASS);
    check("brand: consent explains known scopes", (await page.textContent(".scopes")).includes("Stay connected"), await page.textContent(".scopes"));
    await shots(page, "brand-consent");
    const fr = await newPage("fr", { ignoreHTTPSErrors: true });
    await fr.goto(authorizeURL(BRAND_ISSUER, BRAND_CLIENT, "openid", { ui_locales: "de" }));
    const uiLang = await fr.getAttribute("html", "lang");
    check("ui_locales=de wins over a French browser (OIDC Core 3.1.2.1)", uiLang === "de", uiLang);
    await shots(fr, "brand-login-ui-locales-de");
    await fr.goto(`${BRAND_ISSUER}/authorize?client_id=${BRAND_CLIENT}&redirect_uri=https://evil.example/cb`);
    await shots(fr, "brand-error-fr");
  }
  console.log(JSON.stringify({ done: true }));
} finally {
  await browser.close();
  cb.close();
}
