// The device verification page (RFC 8628 §3.3) in Chromium, run by
// device_test.go: the link of verification_uri_complete fills the code in
// but waits for the person (§5.4); Continue, the login page, the decision
// page showing the client, the scopes and the code to compare; Allow; the
// done page. Then a wrong code in French. Each page is screenshot at
// desktop and phone widths into $ARTIFACTS and audited (audit.mjs).
import { chromium } from "playwright-core";
import fs from "node:fs";
import { check, VIEWPORTS, watch, shots } from "./audit.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const ISSUER = env("ISSUER");
const COMPLETE = env("VERIFY_URL");
const CODE = env("USER_CODE");
const USER = env("WARD_USER");
const PASS = env("WARD_PASSWORD");
const ART = env("ARTIFACTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(ART, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const newPage = async (locale = "en-US") => {
  const ctx = await browser.newContext({ locale, viewport: VIEWPORTS[0][1] });
  return watch(await ctx.newPage());
};

try {
  {
    const page = await newPage();
    await page.goto(COMPLETE);
    check("prefilled, not submitted (RFC 8628 5.4)", (await page.inputValue("#user_code")) === CODE &&
      (await page.locator('button[name="decision"]').count()) === 0, await page.textContent("main"));
    await shots(ART, page, "device-code");
    await page.click("button[type=submit]");
    await page.waitForSelector("#password");
    await shots(ART, page, "device-login");
    await page.fill("#username", USER);
    await page.fill("#password", PASS);
    await page.click("button[type=submit]");
    await page.waitForSelector('button[value="allow"]');
    const main = await page.textContent("main");
    check("decision page: client, scope, user and the code to compare",
      main.includes("Living Room TV") && main.includes("read") && main.includes(USER) && main.includes(CODE), main);
    await shots(ART, page, "device-confirm");
    await page.click('button[value="allow"]');
    await page.waitForSelector("main h1");
    check("done page", (await page.textContent("h1")) === "Device connected", await page.textContent("main"));
    await shots(ART, page, "device-done");
  }
  {
    const fr = await newPage("fr-FR");
    await fr.goto(ISSUER + "/device");
    await fr.fill("#user_code", "bbbb-bbbb");
    await fr.click("button[type=submit]");
    await fr.waitForSelector("#device-error");
    check("wrong code, in French", (await fr.getAttribute("html", "lang")) === "fr" &&
      (await fr.textContent("#device-error")).includes("erroné"), await fr.textContent("main"));
    await shots(ART, fr, "device-wrong-fr");
  }
  console.log(JSON.stringify({ done: true }));
} finally {
  await browser.close();
}
