// SPDX-License-Identifier: ISC
//
// unsubscribe.mjs - the unsubscribe page of `campaign serve` in a real
// browser: Debian's chromium, headless, driven by puppeteer-core (which
// downloads no browser).  Run by tests/e2e/serve_browser.bats, twice:
//
//   node unsubscribe.mjs look  URL OUTDIR EMAIL MASKED LIST
//       open the page at a phone's size, check it (title, heading, list,
//       the address masked and never in full, the viewport meta in effect,
//       nothing wider than the screen, one button in a POST form, no
//       request to another origin) and save OUTDIR/unsubscribe.png;
//       does not click.
//   node unsubscribe.mjs click URL OUTDIR EMAIL MASKED LIST
//       open the page, click the button, wait for the answer page
//       (#done), check it the same way and save OUTDIR/unsubscribe-done.png.
//
// Exits 0 when every check holds, 1 with one line per failed check on
// stderr, 2 when the browser cannot be driven at all.  Every wait is
// bounded (WAIT_MS), and the whole run by a watchdog (RUN_MS).
//
// Environment: CHROMIUM (default /usr/bin/chromium).

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const WAIT_MS = 5000;   // one navigation, one selector, one protocol call
const LAUNCH_MS = 15000; // chromium's start (the first one on a cold disk)
const RUN_MS = 45000;   // the whole run
const PHONE = {         // an iPhone 13/14-sized screen, in CSS pixels
    width: 390,
    height: 844,
    deviceScaleFactor: 2,
    isMobile: true,     // so chromium honours <meta name="viewport">
    hasTouch: true,
};
const MIN_TAP = 44;     // smallest comfortable touch target, CSS pixels

const [mode, url, outdir, email, masked, list] = process.argv.slice(2);
if (!["look", "click"].includes(mode) || !list) {
    console.error("usage: node unsubscribe.mjs look|click URL OUTDIR EMAIL MASKED LIST");
    process.exit(2);
}
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

const watchdog = setTimeout(() => {
    console.error(`unsubscribe.mjs: gave up after ${RUN_MS / 1000} s`);
    process.exit(2);
}, RUN_MS);
watchdog.unref();

let puppeteer;
try {
    puppeteer = (await import("puppeteer-core")).default;
} catch (err) {
    console.error(`unsubscribe.mjs: cannot load puppeteer-core (${err.code || err.message}):` +
        " run scripts/install-deps (npm ci --prefix tests/browser)");
    process.exit(2);
}
if (!existsSync(chromium)) {
    console.error(`unsubscribe.mjs: no browser at ${chromium}: run scripts/install-deps (Debian package chromium)`);
    process.exit(2);
}

const problems = [];
function check(ok, what) {
    if (!ok)
        problems.push(what);
}

const origin = new URL(url).origin;
const profile = join(outdir, `chromium-${mode}`);
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
    console.error(`unsubscribe.mjs: chromium did not start: ${err.message}`);
    process.exit(2);
});

try {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    await page.setViewport(PHONE);

    // every request the page makes: all of them must go to campaign serve
    const requests = [];
    page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
    const jsErrors = [];
    page.on("pageerror", (err) => jsErrors.push(err.message));

    const resp = await page.goto(url, { waitUntil: "load" });
    check(resp && resp.status() === 200, `GET ${url}: status ${resp && resp.status()}, expected 200`);
    check(/^text\/html/.test(resp?.headers()["content-type"] || ""),
        `content-type ${resp?.headers()["content-type"]}, expected text/html`);

    if (mode === "look") {
        const p = await facts(page);
        check(p.title === "Unsubscribe", `title "${p.title}", expected "Unsubscribe"`);
        check(p.h1 === `Unsubscribe from ${list}?`, `heading "${p.h1}", expected "Unsubscribe from ${list}?"`);
        check(!p.done, "#done on the page before any click");
        privacy(p);
        phone(p);
        check(p.forms === 1, `${p.forms} forms, expected 1`);
        check(p.buttons === 1, `${p.buttons} buttons, expected 1`);
        check(p.buttonInPostForm, "#unsubscribe is not the button of a <form method=post>");
        check(p.buttonText === "Unsubscribe", `button says "${p.buttonText}"`);
        check(p.oneClick === "One-Click", `form field List-Unsubscribe = "${p.oneClick}", expected One-Click (RFC 8058)`);
        check(p.button && p.button.height >= MIN_TAP,
            `button ${p.button?.height} px high, under ${MIN_TAP} px: hard to tap`);
        check(p.button && p.button.left >= 0 && p.button.right <= PHONE.width,
            `button [${p.button?.left}, ${p.button?.right}] outside the screen`);
        check(p.button && p.button.bottom <= PHONE.height,
            `button ends at ${p.button?.bottom} px, below the first screen (${PHONE.height})`);
        await page.screenshot({ path: join(outdir, "unsubscribe.png") });
    } else {
        await page.waitForSelector("#unsubscribe", { visible: true });
        const [answer] = await Promise.all([
            page.waitForNavigation({ waitUntil: "load" }),
            page.click("#unsubscribe"),
        ]);
        await page.waitForSelector("#done", { visible: true });
        check(answer && answer.status() === 200, `answer status ${answer && answer.status()}, expected 200`);
        check(answer && answer.request().method() === "POST",
            `answer came from a ${answer && answer.request().method()}, expected the form's POST`);
        const p = await facts(page);
        check(p.title === "Unsubscribed", `title "${p.title}", expected "Unsubscribed"`);
        check(p.done === "You are unsubscribed", `#done says "${p.done}"`);
        check(p.text.includes(`(${list})`), `the answer does not name the list ${list}`);
        check(p.buttons === 0, `${p.buttons} buttons on the answer page`);
        privacy(p);
        phone(p);
        await page.screenshot({ path: join(outdir, "unsubscribe-done.png") });
    }

    check(jsErrors.length === 0, `script errors: ${jsErrors.join("; ")}`);
    const away = requests.filter((r) => !r.split(" ")[1].startsWith(origin + "/"));
    check(away.length === 0, `requests to other origins: ${away.join(", ")}`);
    console.log(`${mode}: ${requests.length} requests: ${requests.join(", ")}`);
} catch (err) {
    problems.push(`${mode}: ${err.message}`);
} finally {
    await browser.close().catch(() => {});
}

if (problems.length) {
    for (const p of problems)
        console.error(`unsubscribe.mjs ${mode}: ${p}`);
    process.exit(1);
}
console.log(`${mode}: ok`);
process.exit(0);

// facts - what the checks look at, read in the page.
async function facts(page) {
    return page.evaluate(() => {
        const q = (s) => document.querySelector(s);
        const b = q("#unsubscribe");
        const r = b && b.getBoundingClientRect();
        const vp = q('meta[name="viewport"]');
        const field = q('form input[name="List-Unsubscribe"]');
        return {
            title: document.title,
            h1: q("h1")?.textContent.trim(),
            done: q("#done")?.textContent.trim() ?? null,
            text: document.body.innerText,
            html: document.documentElement.outerHTML,
            viewport: vp && vp.getAttribute("content"),
            innerWidth: window.innerWidth,
            scrollWidth: document.documentElement.scrollWidth,
            forms: document.forms.length,
            buttons: document.querySelectorAll("button, input[type=submit]").length,
            buttonInPostForm: !!(b && b.form && b.form.method === "post" && b.type === "submit"),
            buttonText: b?.textContent.trim(),
            oneClick: field?.value,
            button: r && { left: r.left, right: r.right, bottom: r.bottom, height: r.height },
            fontPx: parseFloat(getComputedStyle(document.body).fontSize),
        };
    });
}

// privacy - the address shows masked, and never in full (text or markup).
function privacy(p) {
    const full = email.toLowerCase();
    check(!p.text.toLowerCase().includes(full), `the full address ${email} is in the page's text`);
    check(!p.html.toLowerCase().includes(full), `the full address ${email} is in the page's HTML`);
    check(!p.html.includes(encodeURIComponent(email)), "the address, percent-encoded, is in the page's HTML");
    check(p.text.includes(masked), `the masked address ${masked} is not in the page's text`);
}

// phone - laid out for the phone's width: the viewport meta, honoured
// (without it a mobile browser lays out 980 px and shrinks), nothing
// wider than the screen, text of a readable size.
function phone(p) {
    check(/width=device-width/.test(p.viewport || ""), `viewport meta "${p.viewport}", expected width=device-width`);
    check(p.innerWidth === PHONE.width, `layout width ${p.innerWidth} px, expected the phone's ${PHONE.width}`);
    check(p.scrollWidth <= PHONE.width, `page ${p.scrollWidth} px wide: scrolls sideways on a ${PHONE.width} px phone`);
    check(p.fontPx >= 16, `body text ${p.fontPx} px: too small on a phone`);
}
