#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# smtp_server.py - a scripted aiosmtpd relay for the SMTP client tests
# (tests/e2e/smtp_tls.bats).  Run with /usr/bin/python3 (Debian's
# python3-aiosmtpd).
#
#   --mode starttls|smtps|plain   STARTTLS (required before MAIL), implicit
#                                 TLS, or no TLS
#   --cert PEM --key PEM          the server certificate chain and key
#   --user U --password P         AUTH PLAIN/LOGIN credentials (AUTH is
#                                 offered only inside TLS unless plain)
#   --pipelining                  also advertise PIPELINING
#   --maildir DIR                 each accepted message as DIR/N.eml, its
#                                 envelope as DIR/N.env
#   --port-file F                 written (atomically) with the port once
#                                 listening on 127.0.0.1 (port chosen by
#                                 the kernel)
#
# Recipients starting with "reject" get 550 5.1.1, "defer" 451 4.2.0.
# Stops on SIGTERM or SIGINT.
import argparse
import asyncio
import os
import signal
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.n = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.args.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        responses.insert(len(responses) - 1, "250-ENHANCEDSTATUSCODES")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("reject"):
            return "550 5.1.1 no such user"
        if address.startswith("defer"):
            return "451 4.2.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        if self.args.maildir:
            base = os.path.join(self.args.maildir, str(self.n))
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            os.rename(base + ".eml.tmp", base + ".eml")
            with open(base + ".env", "w") as f:
                f.write("from %s\n" % envelope.mail_from)
                for r in envelope.rcpt_tos:
                    f.write("rcpt %s\n" % r)
                f.write("auth %s\n" % bool(session.authenticated))
                f.write("tls %s\n" % bool(session.ssl))
        return "250 2.0.0 OK queued as %d" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["starttls", "smtps", "plain"],
                    default="starttls")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--pipelining", action="store_true")
    ap.add_argument("--maildir")
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()

    ctx = None
    if args.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and args.user is not None
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        return AuthResult(success=ok, handled=False)

    handler = Handler(args)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        kw = dict(hostname="relay.test", ident="campaign test relay",
                  authenticator=authenticator if args.user else None,
                  # smtps: aiosmtpd does not see the TLS under it
                  auth_require_tls=args.mode == "starttls", loop=loop,
                  enable_SMTPUTF8=False, timeout=30)
        if args.mode == "starttls":
            kw.update(tls_context=ctx, require_starttls=True)
        return SMTP(handler, **kw)

    server = loop.run_until_complete(loop.create_server(
        factory, host="127.0.0.1", port=0,
        ssl=ctx if args.mode == "smtps" else None))
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
