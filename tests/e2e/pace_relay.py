#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# pace_relay.py - a scripted aiosmtpd relay for the pacing tests
# (tests/e2e/pace.bats): it logs when each connection opens and closes
# and when each recipient arrives, can be slow to answer the end of the
# data (to keep connections busy) and can say "slow down" for a while.
# Run with /usr/bin/python3 (Debian's python3-aiosmtpd).
#
#   --port-file F        written (atomically) with the port once listening
#                        on 127.0.0.1 (port chosen by the kernel)
#   --log F              one line per event, appended and flushed, the
#                        time first (time.time(), seconds):
#                          T open C          connection C opened
#                          T close C         connection C closed
#                          T rcpt C ADDR CODE  RCPT TO and our answer
#                          T sent C ADDR     the message's data accepted
#                                            (250 to the dot) for ADDR
#   --data-delay S       wait S seconds before answering the dot
#   --throttle-after N   once N recipients have been accepted, answer
#   --throttle-for S     every RCPT of the next S seconds with
#                        "421 4.7.28 ... unusual rate ... rate limited"
#                        (Gmail's words; a 421 ends the session)
import argparse
import asyncio
import itertools
import os
import signal
import time

from aiosmtpd.smtp import SMTP

GMAIL_421 = ("421 4.7.28 [127.0.0.1] Our system has detected an unusual "
             "rate of unsolicited mail originating from your IP address. "
             "To protect our users from spam, mail sent from your IP "
             "address has been temporarily rate limited.")


class Handler:
    def __init__(self, args):
        self.args = args
        self.log = open(args.log, "a", encoding="utf-8")
        self.accepted = 0
        self.throttle_until = None

    def event(self, line):
        self.log.write("%.6f %s\n" % (time.time(), line))
        self.log.flush()

    async def handle_RCPT(self, server, session, envelope, address, options):
        a = self.args
        now = time.time()
        if (a.throttle_after and self.throttle_until is None
                and self.accepted >= a.throttle_after):
            self.throttle_until = now + a.throttle_for
        if self.throttle_until is not None and now < self.throttle_until:
            self.event("rcpt %d %s 421" % (session.conn_id, address))
            return GMAIL_421
        self.accepted += 1
        envelope.rcpt_tos.append(address)
        self.event("rcpt %d %s 250" % (session.conn_id, address))
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.data_delay:
            await asyncio.sleep(self.args.data_delay)
        for r in envelope.rcpt_tos:
            self.event("sent %d %s" % (session.conn_id, r))
        return "250 2.0.0 queued"


class PaceSMTP(SMTP):
    ids = itertools.count(1)

    def connection_made(self, transport):
        super().connection_made(transport)
        self.session.conn_id = next(PaceSMTP.ids)
        self.event_handler.event("open %d" % self.session.conn_id)

    def connection_lost(self, exc):
        if self.session is not None:
            self.event_handler.event("close %d" % self.session.conn_id)
        super().connection_lost(exc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--data-delay", type=float, default=0)
    ap.add_argument("--throttle-after", type=int, default=0)
    ap.add_argument("--throttle-for", type=float, default=1.0)
    args = ap.parse_args()

    handler = Handler(args)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return PaceSMTP(handler, hostname="relay.test",
                        ident="campaign pacing relay", loop=loop,
                        enable_SMTPUTF8=True, data_size_limit=None,
                        timeout=30)

    server = loop.run_until_complete(loop.create_server(
        factory, host="127.0.0.1", port=0, backlog=256))
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(args.port_file + ".tmp", args.port_file)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()


if __name__ == "__main__":
    main()
