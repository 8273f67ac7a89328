// Browser test of the console's security pages (docs/CONSOLE.md,
// "Security pages"), run by console_security_test.go against `ward serve
// --dev` whose store holds events with hostile fields: the overview, the
// live list of events and its filters, one event's page and the blocks
// page are used as the dev administrator, each screenshotted at desktop
// and phone widths into $ARTIFACTS and audited (audit.mjs); a hostile
// client_id, route or reason is shown as text and runs nothing; a user
// without the admin role is refused. Prints one JSON line per check;
// exits non-zero on the first failure.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { audit, watch } from "./audit.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const CONSOLE = env("CONSOLE_URL");
const ADMIN = env("ADMIN_USER");
const ADMIN_PASS = env("ADMIN_PASSWORD");
const USER = env("WARD_USER");
const PASS = env("WARD_PASSWORD");
const ART = env("ARTIFACTS");
const HOSTILE_CLIENT = env("HOSTILE_CLIENT");
const GATEWAY = env("GATEWAY_URL"); // http://127.0.0.1:9001
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const base = new URL(CONSOLE);

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
    await page.waitForTimeout(80);
    await page.screenshot({ path: path.join(ART, `${String(shotN).padStart(2, "0")}-${name}-${label}.png`), fullPage: true });
    const problems = await page.evaluate(audit);
    check(`${name} (${label}): accessibility basics`, problems.length === 0, problems);
  }
  check(`${name}: no CSP violation or script error`, page.violations.length === 0, page.violations);
  check(`${name}: no hostile payload ran`, !(await page.evaluate(() => window.__pwned)), "");
  await page.setViewportSize(VIEWPORTS[0][1]);
}

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

async function signIn(page, user, pass, at) {
  await page.goto(new URL(at, base).href);
  await page.waitForSelector("main h1");
  await page.click("a.button");
  await page.fill("#username", user);
  await page.fill("#password", pass);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  if (await page.locator('button[value="allow"]').count()) await page.click('button[value="allow"]');
  await page.waitForURL((u) => u.pathname.startsWith(base.pathname) && !u.pathname.includes("/bff/"));
  await page.waitForSelector("main h1");
}

async function nav(page, title) {
  await page.click(`nav a:text-is("${title}")`);
  await page.waitForSelector(`main h1:text-is("${title}")`);
}

// shown runs action (a click that loads a console page) and waits until
// the admin API's answer is in the page.
async function shown(page, action) {
  const answered = page.waitForResponse((r) => r.url().includes("/bff/api/") && !r.url().includes("/events/live"));
  await action();
  await answered;
  await page.waitForTimeout(150);
}

const rowCount = (page) => page.locator("table.events tbody tr[data-id]").count();

try {
  // 1. A user without the admin role gets none of the security pages.
  {
    const page = await newPage();
    await signIn(page, USER, PASS, "events");
    const body = await page.textContent("main");
    check("non-admin refused the events", (await page.textContent("main h1")) === "Access refused" && !body.includes("token_leaked"), body);
    await shots(page, "security-refused-non-admin");
  }

  // 2. The administrator: the overview.
  const page = await newPage();
  await signIn(page, ADMIN, ADMIN_PASS, "security");
  check("overview shown", (await page.textContent("main h1")) === "Security overview", await page.textContent("main"));
  const charts = await page.locator("figure.chart-box svg[role=img]").count();
  check("overview: four charts drawn", charts === 4, charts);
  const leaked = await page.locator(".card", { hasText: "tokens leaked" }).locator(".figure").textContent();
  check("overview: tokens leaked counted", Number(leaked) >= 2, leaked);
  check("overview: top clients list the hostile client as text",
    (await page.locator("table.top a", { hasText: HOSTILE_CLIENT }).count()) === 1, await page.textContent("table.top"));
  const desc = await page.locator("figure.chart-box desc").allTextContents();
  check("overview: accepted DPoP traffic charted", desc.some((d) => d.startsWith("Accepted gateway requests") && /dpop [1-9]/.test(d)), desc);
  check("overview: refusals by reason charted", desc.some((d) => d.startsWith("Gateway refusals") && /no_token [1-9]/.test(d)), desc);
  await shots(page, "security-overview");
  await page.selectOption("select[name=range]", "1h");
  await shown(page, () => page.click("form.filters button[type=submit]"));
  check("overview: the range is kept in the address", new URL(page.url()).searchParams.get("range") === "1h", page.url());

  // 3. The events: filters, the hostile fields as text.
  await nav(page, "Security events");
  const all = await rowCount(page);
  check("events listed", all >= 5, all);
  check("the hostile client shown as text",
    (await page.locator("table.events td", { hasText: HOSTILE_CLIENT }).count()) >= 1, HOSTILE_CLIENT);
  await shots(page, "security-events");
  await page.selectOption("select[name=type]", "token_leaked");
  await shown(page, () => page.click("form.filters button[type=submit]"));
  const types = await page.locator("table.events tbody tr[data-id] td:nth-child(3)").allTextContents();
  check("filter by type", types.length >= 2 && types.every((t) => t === "token_leaked"), types);
  await page.fill("input[name=client]", HOSTILE_CLIENT);
  await shown(page, () => page.click("form.filters button[type=submit]"));
  check("the filter is in the address", new URL(page.url()).searchParams.get("client") === HOSTILE_CLIENT, page.url());
  check("filter by a hostile client", (await rowCount(page)) === 1, await page.textContent("table.events"));
  await shots(page, "security-events-filtered");

  // 4. Live: a failed sign-in elsewhere appears on the first page
  //    without a reload.
  await shown(page, () => page.click("form.filters a:text-is('Clear')"));
  const before = await rowCount(page);
  {
    const other = await newPage();
    await other.goto(new URL("bff/login", base).href);
    await other.fill("#username", "nobody-" + Date.now());
    await other.fill("#password", "wrong password");
    await other.click("button[type=submit]");
    await other.waitForLoadState();
    await other.close();
  }
  await page.waitForFunction((n) => document.querySelectorAll("table.events tbody tr[data-id]").length > n, before, { timeout: 20000 });
  const fresh = await page.locator("table.events tbody tr.fresh td:nth-child(3)").allTextContents();
  check("live: the failed sign-in appeared", fresh.includes("login_failed"), fresh);
  check("live: the status says so", /new event/.test(await page.textContent("[data-live-status]")), await page.textContent("[data-live-status]"));

  // 5. One event's page: the leak with the hostile fields.
  await page.goto(new URL("events?client=" + encodeURIComponent(HOSTILE_CLIENT), base).href);
  await page.waitForSelector("table.events tbody tr[data-id] a");
  await shown(page, () => page.click("table.events tbody tr[data-id] a"));
  const text = await page.textContent("main");
  check("event page: what happened", text.includes("the token has leaked") && text.includes("What Ward did"), text);
  check("event page: the hostile client as text", text.includes(HOSTILE_CLIENT), text);
  check("event page: what Ward did names the family", text.includes("Revoked the grant family"), text);
  await shots(page, "security-event");

  // 6. The blocks: this test's own address probes the gateway with
  //    malformed tokens until it is blocked (the console is on the
  //    authorization server's listener and its session already made),
  //    then the block is listed and lifted.
  const probe = () => fetch(GATEWAY + "/demo/whoami", { headers: { Authorization: "Bearer not-a-token" } }).then((r) => r.status);
  let status = 0;
  for (let i = 0; i < 40 && status !== 429; i++) status = await probe();
  check("probing got this address blocked at the gateway", status === 429, status);
  await nav(page, "Blocked addresses and keys");
  const lifts = await page.locator("form button", { hasText: "Lift" }).count();
  if (lifts > 0) {
    await shots(page, "security-blocks");
    page.once("dialog", (d) => d.accept());
    await shown(page, () => page.locator("form button", { hasText: "Lift" }).first().click());
    check("lift: confirmed", /Lifted the block of/.test(await page.textContent("p.notice")), await page.textContent("main"));
    check("lift: one block fewer", (await page.locator("form button", { hasText: "Lift" }).count()) === lifts - 1, lifts);
    const after = await probe();
    check("lift: the gateway answers the address again", after === 401, after);
    await shots(page, "security-blocks-lifted");
  } else {
    check("blocks: the probing address is listed", false, await page.textContent("main"));
  }
  console.log(JSON.stringify({ done: true }));
} finally {
  await browser.close();
}
