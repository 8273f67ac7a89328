// Browser end-to-end test of the backend-for-frontend, run by
// browser_test.go against `ward serve --dev`: a real Chromium logs in to
// the demo app, calls the demo API through the BFF, checks from the
// page's own JavaScript that no token is reachable, tries cross-site
// requests that must be refused, and logs out through the issuer's
// end_session_endpoint (OpenID Connect), after which a login asks for the
// password again. A screenshot of each step
// goes to $ARTIFACTS. Prints one JSON line per check; exits non-zero on
// the first failure.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const APP = env("APP_URL"); // http://127.0.0.1:9001/app/
const ISSUER = env("ISSUER"); // http://127.0.0.1:9000
const PUBLIC_CLIENT = env("PUBLIC_CLIENT"); // demo-cli: loopback redirect, any port
const USER = env("WARD_USER");
const PASS = env("WARD_PASSWORD");
const ART = env("ARTIFACTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const origin = new URL(APP).origin;

fs.mkdirSync(ART, { recursive: true });
let step = 0;
const shot = async (page, name) => {
  step++;
  const file = path.join(ART, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
};
const check = (name, ok, detail) => {
  console.log(JSON.stringify({ check: name, ok: !!ok, detail }));
  if (!ok) throw new Error(`check failed: ${name}: ${JSON.stringify(detail)}`);
};

// The attacker's page, on another site (localhost is not 127.0.0.1's site).
const attacker = http.createServer((req, res) => {
  res.setHeader("Content-Type", "text/html");
  if (req.url === "/form") {
    // An auto-submitted cross-site form to the logout endpoint.
    res.end(`<!doctype html><form id="f" method="POST" action="${origin}/bff/logout"><input name="x" value="1"></form>
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
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();

  // 1. The app, logged out.
  await page.goto(APP);
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("Not logged in"));
  await shot(page, "app-logged-out");
  check("logged out at first", true);

  // 2. Log in through the authorization server's page.
  await page.click("#login");
  await page.waitForSelector("input[name=password]");
  check("login page is the authorization server's", new URL(page.url()).origin !== origin, page.url());
  await page.fill("#username", USER);
  await page.fill("#password", PASS);
  await shot(page, "login-page");
  await page.click("button[type=submit]");
  // Consent, the first time.
  await page.waitForLoadState();
  if (await page.locator("button[name=decision][value=allow]").count()) {
    await shot(page, "consent-page");
    await page.click("button[name=decision][value=allow]");
  }
  await page.waitForURL(APP);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Logged in as"));
  const status = await page.textContent("#status");
  check("logged in after the redirect back", status.includes("Logged in as"), status);
  // The BFF site requests openid: the name comes from the verified ID token.
  check("the user's name from the ID token is shown", status.includes("Logged in as Demo User"), status);
  await shot(page, "app-logged-in");

  // 3. The demo API through the BFF: the upstream saw the identity, the
  //    gateway verified a DPoP-bound token, and neither the token nor the
  //    proof was forwarded.
  await page.click("#call");
  await page.waitForFunction(() => !document.getElementById("result").textContent.startsWith("(nothing"));
  const result = await page.textContent("#result");
  check("API call answered 200", result.startsWith("200"), result);
  const body = JSON.parse(result.slice(result.indexOf("\n") + 1));
  check("upstream received the user's identity", body.identity_headers["X-Ward-Subject"] && body.identity_headers["X-Ward-Client"] === "demo-bff", body);
  check("upstream received no credentials", body.authorization_forwarded === false && body.dpop_forwarded === false, body);
  await shot(page, "api-answer");

  // 4. No token is reachable from the page's own JavaScript.
  const reach = await page.evaluate(async () => {
    const dbs = indexedDB.databases ? (await indexedDB.databases()).length : 0;
    const user = await (await fetch("/bff/user", { headers: { "X-Ward-CSRF": "1" } })).text();
    return {
      cookie: document.cookie,
      local: localStorage.length,
      session: sessionStorage.length,
      indexedDB: dbs,
      jwtInPage: /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(document.documentElement.outerHTML),
      jwtInUser: /eyJ[A-Za-z0-9_-]{10,}\./.test(user),
      user,
    };
  });
  check("document.cookie is empty (HttpOnly session)", reach.cookie === "", reach);
  check("no web storage", reach.local === 0 && reach.session === 0 && reach.indexedDB === 0, reach);
  check("no JWT in the page or in /bff/user", !reach.jwtInPage && !reach.jwtInUser, reach);
  const cookies = await ctx.cookies(origin);
  const sess = cookies.find((c) => c.name === "ward-bff-demo");
  check("session cookie is HttpOnly and SameSite=Strict", sess && sess.httpOnly && sess.sameSite === "Strict", cookies);
  check("the session cookie is an opaque id", sess && /^[A-Za-z0-9_-]{43}$/.test(sess.value), sess && sess.value.length);

  // 5. Cross-site requests are refused and change nothing.
  const evilPage = await ctx.newPage();
  await evilPage.goto(evil + "/");
  const xs = await evilPage.evaluate(async (o) => {
    const out = {};
    try {
      const r = await fetch(o + "/bff/api/whoami", { credentials: "include", headers: { "X-Ward-CSRF": "1" } });
      out.readable = r.status;
    } catch (e) {
      out.readable = "blocked: " + e.name;
    }
    try {
      const r = await fetch(o + "/bff/logout", { method: "POST", credentials: "include", mode: "no-cors" });
      out.noCors = r.type;
    } catch (e) {
      out.noCors = "blocked: " + e.name;
    }
    return out;
  }, origin);
  check("cross-site fetch with the CSRF header cannot read the API", String(xs.readable).startsWith("blocked"), xs);
  await shot(evilPage, "cross-site-attempts");
  const formResp = evilPage.waitForResponse((r) => r.url() === origin + "/bff/logout");
  await evilPage.goto(evil + "/form");
  const fr = await formResp;
  check("cross-site form POST to logout is refused", fr.status() === 403, fr.status());
  await shot(evilPage, "cross-site-form-refused");
  await evilPage.close();
  const still = await page.evaluate(async () => (await fetch("/bff/user", { headers: { "X-Ward-CSRF": "1" } })).status);
  check("still logged in after the cross-site attempts", still === 200, still);

  // 6. A public client on a loopback redirect URI (any local process can
  // listen there) never gets a code from remembered consent (RFC 8252
  // §8.6): with the session of step 2, it gets the consent page, allowed
  // once, and the consent page again.
  const cb = http.createServer((req, res) => { res.setHeader("Content-Type", "text/plain"); res.end("callback reached"); });
  await new Promise((r) => cb.listen(0, "127.0.0.1", r));
  const authorizeURL = () => {
    const verifier = crypto.randomBytes(32).toString("base64url");
    const q = new URLSearchParams({
      response_type: "code", client_id: PUBLIC_CLIENT, scope: "demo:read", state: crypto.randomBytes(8).toString("hex"),
      redirect_uri: `http://127.0.0.1:${cb.address().port}/callback`,
      code_challenge: crypto.createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256",
    });
    return `${ISSUER}/authorize?${q}`;
  };
  const cli = await ctx.newPage();
  await cli.goto(authorizeURL());
  check("public loopback client: consent page", (await cli.textContent("h1")) === "Allow access?", await cli.textContent("body"));
  await cli.click('button[value="allow"]');
  await cli.waitForURL((u) => u.pathname === "/callback");
  check("public loopback client: code after consent", new URL(cli.url()).searchParams.has("code"), cli.url());
  await cli.goto(authorizeURL());
  const again = await cli.textContent("body");
  check("public loopback client: consent page again, never a silent code", again.includes("Allow access?") && again.includes("asked every time"), again);
  await shot(cli, "public-client-consent-every-time");
  await cli.close();
  cb.close();

  // 7. Log out: the app sends the browser through the issuer's
  //    end_session_endpoint (OpenID Connect RP-Initiated Logout), which
  //    ends the login there too and sends it back to the app.
  const visited = [];
  const onNav = (r) => { if (r.isNavigationRequest()) visited.push(r.url()); };
  page.on("request", onNav);
  await page.click("#logout");
  await page.waitForURL((u) => u.href.startsWith(APP) && u.searchParams.has("state"));
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("Not logged in"));
  page.off("request", onNav);
  const es = visited.map((u) => new URL(u)).find((u) => u.origin === ISSUER && u.pathname === "/end_session");
  check("logout went through the issuer's end_session endpoint", es && es.searchParams.get("id_token_hint") &&
    es.searchParams.get("post_logout_redirect_uri") === APP && es.searchParams.get("state") === new URL(page.url()).searchParams.get("state"), visited);
  const logout = await page.textContent("#result");
  check("logout revoked the grant", logout.includes('"grant_revoked":true'), logout);
  const after = await page.evaluate(async () => {
    const u = await fetch("/bff/user", { headers: { "X-Ward-CSRF": "1" } });
    const a = await fetch("/bff/api/whoami", { headers: { "X-Ward-CSRF": "1" } });
    return { user: u.status, api: a.status };
  });
  check("session gone after logout", after.user === 401 && after.api === 401, after);
  const left = (await ctx.cookies(origin)).filter((c) => c.name.startsWith("ward-bff-"));
  check("session cookie cleared", left.length === 0, left);
  await shot(page, "app-logged-out-again");

  // 8. The login at the issuer ended too: logging in asks for the
  //    password again.
  await page.click("#login");
  await page.waitForSelector("input[name=password]");
  check("a second login asks for the password again", new URL(page.url()).origin === ISSUER, page.url());
  await shot(page, "login-page-after-logout");
  console.log(JSON.stringify({ done: true, screenshots: step }));
} finally {
  await browser.close();
  attacker.close();
}
