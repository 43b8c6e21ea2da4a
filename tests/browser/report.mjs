// SPDX-License-Identifier: ISC
//
// report.mjs - the HTML page of `campaign report NAME --format html` in a
// real browser: Debian's chromium, headless, driven by puppeteer-core
// (which downloads no browser).  Run by tests/e2e/report_html.bats:
//
//   node report.mjs FILE OUTDIR EXPECTED.json
//
// opens FILE (a file:// URL) at a phone's size and at a desktop's, and
// checks each time:
//   - the charts' data: the funnel's bars (data-step, data-value) and the
//     bounce classes' (data-class, data-value) exactly as EXPECTED says,
//     in order; the timeline's bars per series (data-series, data-at,
//     data-value) include EXPECTED's points and number EXPECTED's buckets;
//     each drawn bar as long as its value says (of the longest);
//   - no request but the page itself (request interception: anything
//     other than FILE's own URL and data: is refused and fails the test),
//     nor any element that would make one (src, href, srcset, action,
//     poster; link, iframe, object, embed), had the CSP not refused it;
//   - no script ran: no <script> element, window.__pwned undefined, no
//     dialog opened, no script error; EXPECTED's hostile strings appear
//     literally in the page's text (escaped, not run);
//   - laid out for the screen: the viewport meta honoured, nothing wider
//     than the screen (document scrollWidth <= the viewport's width);
// and saves OUTDIR/report.png (the phone, the whole page) and
// OUTDIR/report-desktop.png.
//
// EXPECTED.json: {"funnel": [{"step": "sent", "value": 8}, ...],
//                 "bounce_classes": [{"class": "hard", "value": 1}, ...],
//                 "timeline_buckets": 3,
//                 "timeline": [{"series": "opens", "at": "...", "value": 2}],
//                 "hostile": ["<script>window.__pwned=1</script>", ...]}
// (an empty list: that chart must have no bar; absent: not checked).
//
// Exits 0 when every check holds, 1 with one line per failed check on
// stderr, 2 when the browser cannot be driven at all.  Every wait is
// bounded (WAIT_MS), and the whole run by a watchdog (RUN_MS).
//
// Environment: CHROMIUM (default /usr/bin/chromium).

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const WAIT_MS = 5000;    // one navigation, one protocol call
const LAUNCH_MS = 15000; // chromium's start (the first one on a cold disk)
const RUN_MS = 45000;    // the whole run
const PHONE = {          // an iPhone 13/14-sized screen, in CSS pixels
    width: 390,
    height: 844,
    deviceScaleFactor: 2,
    isMobile: true,      // so chromium honours <meta name="viewport">
    hasTouch: true,
};
const DESKTOP = { width: 1280, height: 800, deviceScaleFactor: 1 };
const BAR_SLACK = 1.5;   // CSS pixels a bar's length may be off (rounding)

const [file, outdir, expectedPath] = process.argv.slice(2);
if (!file || !outdir || !expectedPath) {
    console.error("usage: node report.mjs FILE OUTDIR EXPECTED.json");
    process.exit(2);
}
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

const watchdog = setTimeout(() => {
    console.error(`report.mjs: gave up after ${RUN_MS / 1000} s`);
    process.exit(2);
}, RUN_MS);
watchdog.unref();

let expected;
try {
    expected = JSON.parse(readFileSync(expectedPath, "utf8"));
} catch (err) {
    console.error(`report.mjs: ${expectedPath}: ${err.message}`);
    process.exit(2);
}
if (!existsSync(file)) {
    console.error(`report.mjs: no page at ${file}`);
    process.exit(2);
}

let puppeteer;
try {
    puppeteer = (await import("puppeteer-core")).default;
} catch (err) {
    console.error(`report.mjs: cannot load puppeteer-core (${err.code || err.message}):` +
        " run scripts/install-deps (npm ci --prefix tests/browser)");
    process.exit(2);
}
if (!existsSync(chromium)) {
    console.error(`report.mjs: no browser at ${chromium}: run scripts/install-deps (Debian package chromium)`);
    process.exit(2);
}

const problems = [];
function check(ok, what) {
    if (!ok)
        problems.push(what);
}

const url = pathToFileURL(resolve(file)).href;
const profile = join(outdir, "chromium-report");
mkdirSync(profile, { recursive: true });

// The flags keep chromium off the network (this machine has none besides
// loopback: its background fetches would be refused) and out of its
// sandbox (we run as root in a container).
const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    timeout: LAUNCH_MS,
    protocolTimeout: WAIT_MS * 2,
    args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ],
}).catch((err) => {
    console.error(`report.mjs: chromium did not start: ${err.message}`);
    process.exit(2);
});

try {
    await look("phone", PHONE, "report.png");
    await look("desktop", DESKTOP, "report-desktop.png");
} catch (err) {
    problems.push(err.message);
} finally {
    await browser.close().catch(() => {});
}

if (problems.length) {
    for (const p of problems)
        console.error(`report.mjs: ${p}`);
    process.exit(1);
}
console.log("report: ok");
process.exit(0);

// look - open the page at one screen size, check it, save a screenshot.
async function look(name, viewport, shot) {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    await page.setViewport(viewport);

    // every request the page makes: only itself (and data:) may load
    const refused = [];
    const loaded = [];
    await page.setRequestInterception(true);
    page.on("request", (r) => {
        const u = r.url();
        if (u === url || u.startsWith("data:")) {
            loaded.push(u);
            r.continue().catch(() => {});
        } else {
            refused.push(`${r.method()} ${u}`);
            r.abort("blockedbyclient").catch(() => {});
        }
    });
    const jsErrors = [];
    page.on("pageerror", (err) => jsErrors.push(err.message));
    const dialogs = [];
    page.on("dialog", (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        d.dismiss().catch(() => {});
    });

    await page.goto(url, { waitUntil: "load" });
    const p = await facts(page, viewport.width);

    const at = `${name} (${viewport.width}x${viewport.height})`;
    check(refused.length === 0, `${at}: requests other than the page: ${refused.join(", ")}`);
    check(loaded.includes(url), `${at}: the page's own request was not seen (interception not in effect?)`);
    check(p.refs.length === 0, `${at}: elements that would fetch something: ${p.refs.join(", ")}`);
    check(p.scripts === 0, `${at}: ${p.scripts} <script> elements in the DOM`);
    check(p.pwned === "undefined", `${at}: window.__pwned is ${p.pwned}: a hostile script ran`);
    check(dialogs.length === 0, `${at}: dialogs opened: ${dialogs.join("; ")}`);
    check(jsErrors.length === 0, `${at}: script errors: ${jsErrors.join("; ")}`);
    for (const h of expected.hostile || [])
        check(p.text.includes(h), `${at}: the hostile text ${JSON.stringify(h)} is not in the page's text`);

    check(/width=device-width/.test(p.viewport || ""), `${at}: viewport meta "${p.viewport}", expected width=device-width`);
    check(p.innerWidth === viewport.width, `${at}: layout width ${p.innerWidth} px, expected ${viewport.width}`);
    check(p.scrollWidth <= viewport.width,
        `${at}: page ${p.scrollWidth} px wide: scrolls sideways on a ${viewport.width} px screen (widest: ${p.widest})`);
    // a chart in a .scroll box may be wider than the screen: the box
    // scrolls, not the page
    check(p.svgs.every((s) => s.width > 0 && s.height > 0 && (s.inScroll || s.width <= viewport.width)),
        `${at}: an SVG chart is not drawn within the screen: ${JSON.stringify(p.svgs)}`);

    charts(at, p);
    await page.screenshot({ path: join(outdir, shot), fullPage: name === "phone" });
    console.log(`${at}: ${loaded.length} requests, ${p.bars.length} bars, ${p.svgs.length} charts`);
    await page.close();
}

// charts - the data elements against EXPECTED, and their drawn lengths
// against their values.
function charts(at, p) {
    const funnel = p.bars.filter((b) => b.step !== null);
    const classes = p.bars.filter((b) => b.cls !== null);
    const series = p.bars.filter((b) => b.series !== null);
    if (expected.funnel) {
        const got = funnel.map((b) => `${b.step}=${b.value}`).join(" ");
        const want = expected.funnel.map((s) => `${s.step}=${s.value}`).join(" ");
        check(got === want, `${at}: funnel bars "${got}", expected "${want}"`);
        proportional(at, "funnel", funnel, "width");
    }
    if (expected.bounce_classes) {
        const got = classes.map((b) => `${b.cls}=${b.value}`).join(" ");
        const want = expected.bounce_classes.map((c) => `${c.class}=${c.value}`).join(" ");
        check(got === want, `${at}: bounce-class bars "${got}", expected "${want}"`);
        proportional(at, "bounce classes", classes, "width");
    }
    if (expected.timeline_buckets !== undefined) {
        for (const s of ["opens", "clicks", "machine_opens"]) {
            const n = series.filter((b) => b.series === s).length;
            check(n === expected.timeline_buckets,
                `${at}: ${n} timeline bars of ${s}, expected one per bucket (${expected.timeline_buckets})`);
        }
        // people's opens and clicks share one scale, machines' their own
        proportional(at, "timeline (people)", series.filter((b) => b.series !== "machine_opens"), "height");
        proportional(at, "timeline (machines)", series.filter((b) => b.series === "machine_opens"), "height");
    }
    for (const t of expected.timeline || []) {
        const b = series.find((x) => x.series === t.series && x.at === t.at);
        check(b && b.value === String(t.value),
            `${at}: timeline ${t.series} at ${t.at}: ${b ? b.value : "no bar"}, expected ${t.value}`);
    }
}

// proportional - each bar's drawn length (dim: width or height) is its
// value's share of the longest one's.
function proportional(at, what, bars, dim) {
    const top = bars.reduce((m, b) => (Number(b.value) > Number(m.value) ? b : m), bars[0] || { value: 0 });
    if (!bars.length || Number(top.value) <= 0)
        return;
    check(top[dim] > 0, `${at}: ${what}: the longest bar (${top.value}) is not drawn`);
    for (const b of bars) {
        const want = (top[dim] * Number(b.value)) / Number(top.value);
        check(Math.abs(b[dim] - want) <= BAR_SLACK,
            `${at}: ${what}: the bar of ${b.value} is ${b[dim].toFixed(1)} px, expected ${want.toFixed(1)} px`);
    }
}

// facts - what the checks look at, read in the page.
async function facts(page, screenWidth) {
    return page.evaluate((W) => {
        const vp = document.querySelector('meta[name="viewport"]');
        // the element that sticks out furthest on the right (when any does)
        let widest = "";
        let right = W;
        for (const el of document.body.querySelectorAll("*")) {
            const r = el.getBoundingClientRect();
            if (r.right > right && !el.closest(".scroll")) {
                right = r.right;
                widest = `<${el.tagName.toLowerCase()} class="${el.getAttribute("class") || ""}"> to ${Math.round(r.right)} px`;
            }
        }
        return {
            text: document.body.textContent,
            scripts: document.scripts.length,
            pwned: typeof window.__pwned,
            viewport: vp && vp.getAttribute("content"),
            innerWidth: window.innerWidth,
            // what would fetch something, blocked or not (a CSP refuses
            // before any request: the interception would not see it)
            refs: [...document.querySelectorAll("[src], [*|href], [srcset], [action], [poster], link, iframe, object, embed")]
                .map((el) => el.outerHTML.slice(0, 100)),
            scrollWidth: document.documentElement.scrollWidth,
            widest,
            svgs: [...document.querySelectorAll("svg")].map((s) => {
                const r = s.getBoundingClientRect();
                return { width: r.width, height: r.height, inScroll: !!s.closest(".scroll") };
            }),
            bars: [...document.querySelectorAll("svg rect.bar")].map((b) => {
                const r = b.getBoundingClientRect();
                return {
                    step: b.getAttribute("data-step"),
                    cls: b.getAttribute("data-class"),
                    series: b.getAttribute("data-series"),
                    at: b.getAttribute("data-at"),
                    value: b.getAttribute("data-value"),
                    width: r.width,
                    height: r.height,
                };
            }),
        };
    }, screenWidth);
}
