// Ward admin console: the live list of security events (docs/CONSOLE.md).
// When the page shows a table with data-live (the first page of the
// events list), this script asks that address of the admin API, through
// the console's BFF with its CSRF header, every data-every seconds for
// the newest events matching the page's filters, and adds those newer
// than the newest shown on top of the table. It builds the rows with
// DOM calls and puts every value in as text (textContent), never as
// HTML: an event's fields are chosen by clients. Unlike console.js's
// data-refresh (which reloads the whole page), it keeps the operator's
// place, focus and the Live switch, and announces what arrived.
const prefix = document.documentElement.dataset.prefix;
const app = document.getElementById("app");
let timer = null;

function liveTable() {
  const t = app.querySelector("table[data-live]");
  if (!t) return null;
  const src = t.dataset.live || "";
  // Only the admin API through the BFF, same origin.
  if (!src.startsWith(prefix + "/bff/api/events/live")) return null;
  return t;
}

function row(ev, base) {
  const tr = document.createElement("tr");
  tr.dataset.id = String(ev.id);
  tr.className = "fresh";
  ev.cells.forEach((text, i) => {
    const td = document.createElement("td");
    if (i === 0) {
      const a = document.createElement("a");
      a.href = base + "/" + encodeURIComponent(String(ev.id));
      a.textContent = text;
      td.append(a);
    } else if (i === 1) {
      const s = document.createElement("span");
      s.className = "sev sev-" + (["info", "warning", "critical"].includes(text) ? text : "info");
      s.textContent = text;
      td.append(s);
    } else {
      if ([3, 4, 6, 7].includes(i)) td.className = "free"; // client-chosen, perhaps long
      td.textContent = text;
    }
    tr.append(td);
  });
  return tr;
}

async function poll(t) {
  const toggle = t.querySelector("[data-live-toggle]");
  const status = t.querySelector("[data-live-status]");
  if (toggle && !toggle.checked) return;
  const resp = await fetch(t.dataset.live, { headers: { "X-Ward-CSRF": "1", Accept: "application/json" } });
  if (!resp.ok || !(resp.headers.get("Content-Type") || "").startsWith("application/json")) {
    if (status) status.textContent = `Not updated (${resp.status}).`;
    return;
  }
  const { events } = await resp.json();
  const top = Number(t.dataset.top || 0);
  const fresh = events.filter((e) => Number.isSafeInteger(e.id) && e.id > top && Array.isArray(e.cells) && e.cells.length === 8);
  if (fresh.length === 0) return;
  const body = t.tBodies[0];
  body.querySelectorAll("tr.none").forEach((r) => r.remove());
  body.querySelectorAll("tr.fresh").forEach((r) => r.classList.remove("fresh"));
  for (const ev of fresh.reverse()) body.prepend(row(ev, t.dataset.events));
  t.dataset.top = String(Math.max(...fresh.map((e) => e.id)));
  if (status) {
    status.textContent = fresh.length === events.length
      ? `${fresh.length} new events, perhaps more: reload the page to see them all.`
      : `${fresh.length} new event${fresh.length === 1 ? "" : "s"}.`;
  }
}

function watch() {
  const t = liveTable();
  if (timer) clearInterval(timer);
  timer = null;
  if (!t) return;
  const secs = Math.max(2, Number(t.dataset.every) || 5);
  timer = setInterval(() => {
    if (!t.isConnected) { watch(); return; }
    poll(t).catch(() => {});
  }, secs * 1000);
}

// The console's script replaces the page's content on every navigation.
new MutationObserver(watch).observe(app, { childList: true });
watch();
