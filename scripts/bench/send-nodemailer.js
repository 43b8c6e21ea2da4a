// SPDX-License-Identifier: ISC
//
// send-nodemailer.js - the yardstick of scripts/bench/send: what a
// developer would script instead of campaign, with nodemailer's pooled
// SMTP transport (pool: true, maxConnections = concurrency).
//
//   node send-nodemailer.js PORT CONCURRENCY COUNT HTML_FILE TEXT_FILE
//
// Sends COUNT personalised messages (the first name and the address
// change per recipient) to 127.0.0.1:PORT, no TLS, CONCURRENCY sendMail
// calls in flight; the HTML and text parts are campaign's promo message
// (campaign preview), so the size is the same; nodemailer builds and
// quoted-printable-encodes each message, but renders no template, signs
// nothing and records nothing.  Prints "sent=N failed=F seconds=S".
'use strict';

const fs = require('fs');
const nodemailer = require('nodemailer');

const [port, conc, count] = process.argv.slice(2, 5).map(Number);
const html = fs.readFileSync(process.argv[5], 'utf8');
const text = fs.readFileSync(process.argv[6], 'utf8');
const names = ['Niccolò', 'Zoë', 'José', 'Françoise', 'Björn', 'Giulia'];

const transporter = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: conc,
});

let next = 0, sent = 0, failed = 0;

async function worker() {
    for (;;) {
        const i = next++;
        if (i >= count)
            return;
        const name = names[i % names.length];
        try {
            await transporter.sendMail({
                from: 'Acme Moda <news@acme.example>',
                to: `${name} <user${i}@example.com>`,
                subject: `${name}, le novità di primavera: fino al 30% di sconto`,
                text: text.replace('{{name}}', name),
                html: html.replace('{{name}}', name),
                list: { unsubscribe: `https://t.acme.example/u/${i}` },
            });
            sent++;
        } catch (e) {
            failed++;
        }
    }
}

(async () => {
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: conc }, worker));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    transporter.close();
    console.log(`sent=${sent} failed=${failed} seconds=${s.toFixed(3)}`);
    process.exit(failed ? 1 : 0);
})();
