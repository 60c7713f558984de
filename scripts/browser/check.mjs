// Loads phonehome HTML reports (and diff pages) in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core over the DevTools protocol) and checks what a reader's browser would do:
//
//   node check.mjs [--screenshot OUT.png] [--expect-text TEXT]... [--hostile] REPORT.html...
//
// For every report: no console error or warning, no page error, no request other than the
// file itself (with the page's own Content-Security-Policy, and again with CSP bypassed so
// that escaping alone is tested), no dialog, no script element, no image, no event-handler
// attribute, `window.__pwned` (what the hostile fixtures try to set) still unset, and each
// --expect-text present in the page's visible text. --screenshot saves the first report's
// top as a PNG. Exits 1 with the list of failures.

import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import path from "node:path";

const args = process.argv.slice(2);
const reports = [];
const expectTexts = [];
let screenshot = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--screenshot") screenshot = args[++i];
  else if (args[i] === "--expect-text") expectTexts.push(args[++i]);
  else reports.push(args[i]);
}
if (reports.length === 0) {
  console.error("usage: node check.mjs [--screenshot OUT.png] [--expect-text TEXT]... REPORT.html...");
  process.exit(2);
}

const failures = [];
const fail = (what) => failures.push(what);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function load(file, { bypassCSP }) {
  const url = pathToFileURL(path.resolve(file)).href;
  const label = `${path.basename(file)}${bypassCSP ? " (CSP bypassed)" : ""}`;
  const context = await browser.newContext({ bypassCSP, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests = [];
  context.on("request", (r) => {
    if (r.url() !== url) requests.push(`${r.method()} ${r.url()}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") fail(`${label}: console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => fail(`${label}: page error: ${e.message}`));
  page.on("dialog", async (d) => {
    fail(`${label}: a dialog opened (script ran): ${d.message()}`);
    await d.dismiss();
  });
  await page.goto(url, { waitUntil: "load" });
  // Give anything deferred (image errors, timers) a moment to fire.
  await page.waitForTimeout(300);
  const state = await page.evaluate(() => ({
    pwned: window.__pwned,
    scripts: document.querySelectorAll("script").length,
    active: document.querySelectorAll("img, iframe, object, embed, video, audio, link, form, input, base").length,
    handlers: [...document.querySelectorAll("*")].filter((e) =>
      [...e.attributes].some((a) => a.name.startsWith("on") || (a.name === "href" && !a.value.startsWith("#")))
    ).length,
    text: document.body.innerText,
    csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? null,
    sections: [...document.querySelectorAll("main > section")].map((s) => s.id),
  }));
  if (requests.length) fail(`${label}: network requests: ${requests.join(", ")}`);
  if (state.pwned !== undefined) fail(`${label}: window.__pwned = ${state.pwned}: injected script ran`);
  if (state.scripts) fail(`${label}: ${state.scripts} script elements`);
  if (state.active) fail(`${label}: ${state.active} img/iframe/object/link/form... elements`);
  if (state.handlers) fail(`${label}: ${state.handlers} elements with an event handler or outside link`);
  if (!state.csp || !state.csp.startsWith("default-src 'none'")) fail(`${label}: CSP meta missing: ${state.csp}`);
  // The sections of a report, or of a diff page (`phonehome diff --format html`).
  const pages = [
    ["overview", "identifiers", "countries", "organisations", "matrix", "timeline", "destinations", "methods"],
    ["overview", "identifiers", "organisations", "countries", "destinations", "methods"],
  ];
  if (!pages.some((want) => want.join() === state.sections.join())) fail(`${label}: sections ${state.sections.join()}`);
  return { page, context, state, label };
}

const texts = [];
for (const [n, file] of reports.entries()) {
  for (const bypassCSP of [false, true]) {
    const { page, context, state, label } = await load(file, { bypassCSP });
    if (!bypassCSP) {
      texts.push(state.text);
      if (n === 0 && screenshot) {
        await page.screenshot({ path: screenshot, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 2300 } });
        console.log(`${label}: screenshot ${screenshot}`);
      }
    }
    console.log(`${label}: loaded, ${state.text.length} characters of text`);
    await context.close();
  }
}
// Each expected text (the hostile fixtures' markup) is shown, as text, by some report.
for (const t of expectTexts) {
  if (texts.some((x) => x.includes(t))) console.log(`shown as text: ${JSON.stringify(t)}`);
  else fail(`no report shows ${JSON.stringify(t)} as text`);
}
await browser.close();

if (failures.length) {
  console.error(`FAILED (${failures.length}):`);
  for (const f of failures) console.error(`  ${f}`);
  process.exit(1);
}
console.log(`ok: ${reports.length} report(s), no console error, no request, no script ran`);
