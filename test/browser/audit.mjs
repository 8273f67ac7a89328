// Shared by the Chromium scripts (pages.mjs, device.mjs, console.mjs,
// console_security.mjs): the checks' output, the accessibility audit run
// in each page, CSP watching, and screenshots at desktop and phone widths.
import path from "node:path";

export const check = (name, ok, detail) => {
  console.log(JSON.stringify({ check: name, ok: !!ok, detail }));
  if (!ok) throw new Error(`check failed: ${name}: ${JSON.stringify(detail)}`);
};

export const VIEWPORTS = [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]];

// audit runs in the page: the problems an accessibility checker would
// flag first.
export function audit() {
  const problems = [];
  if (!document.documentElement.getAttribute("lang")) problems.push("no lang attribute on <html>");
  if (!document.title.trim()) problems.push("no <title>");
  if (!document.querySelector("h1")) problems.push("no <h1>");
  for (const i of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const byFor = i.id && document.querySelector(`label[for="${CSS.escape(i.id)}"]`);
    if (!byFor && !i.closest("label") && !i.getAttribute("aria-label") && !i.getAttribute("aria-labelledby")) {
      problems.push("input without a label: " + (i.name || i.id));
    }
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("img without alt: " + img.src);
  }
  for (const c of document.querySelectorAll("button, a")) {
    if (c.getClientRects().length && !c.textContent.trim() && !c.getAttribute("aria-label")) problems.push("control without text");
  }
  const rgb = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const n = walker.currentNode;
    const el = n.parentElement;
    if (!n.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden" || el.getClientRects().length === 0) continue;
    const l1 = lum(rgb(cs.color));
    const l2 = lum(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (parseInt(cs.fontWeight, 10) >= 700 && size >= 18.66);
    const need = large ? 3 : 4.5;
    if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)} < ${need}: "${n.textContent.trim().slice(0, 40)}"`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push(`horizontal scroll: ${document.documentElement.scrollWidth} px wide in ${window.innerWidth}`);
  }
  return problems;
}

// watch collects a page's CSP violations and script errors.
export function watch(page) {
  page.violations = [];
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) page.violations.push(m.text());
  });
  page.on("pageerror", (e) => page.violations.push("script error: " + e.message));
  return page;
}

// shots screenshots the page at each width into art and audits it there.
export async function shots(art, page, name) {
  for (const [label, vp] of VIEWPORTS) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(50);
    await page.screenshot({ path: path.join(art, `${name}-${label}.png`), fullPage: true });
    const problems = await page.evaluate(audit);
    check(`${name} (${label}): accessibility basics`, problems.length === 0, problems);
  }
  check(`${name}: no CSP violation or script error`, page.violations.length === 0, page.violations);
  await page.setViewportSize(VIEWPORTS[0][1]);
}
