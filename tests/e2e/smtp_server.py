#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# smtp_server.py - a scripted aiosmtpd relay for the SMTP client and
# send tests (tests/e2e/smtp_tls.bats, send_script.bats,
# send_refused_relay.bats).  Run with /usr/bin/python3 (Debian's
# python3-aiosmtpd).
#
#   --mode starttls|smtps|plain   STARTTLS (required before MAIL), implicit
#                                 TLS, or no TLS
#   --cert PEM --key PEM          the server certificate chain and key
#   --user U --password P         AUTH PLAIN/LOGIN credentials (AUTH is
#                                 offered only inside TLS unless plain)
#   --pipelining                  also advertise PIPELINING
#   --no-smtputf8                 do not advertise SMTPUTF8 (RFC 6531),
#                                 which is advertised by default; then a
#                                 MAIL FROM with the SMTPUTF8 parameter
#                                 gets "555 5.5.4", and a non-ASCII
#                                 address in MAIL FROM or RCPT TO
#                                 "553 5.6.7" (RFC 6531 3.5; also when
#                                 SMTPUTF8 is offered but the transaction
#                                 did not ask for it)
#   --no-8bitmime                 do not advertise 8BITMIME (RFC 6152);
#                                 then BODY=8BITMIME on MAIL FROM gets
#                                 "555 5.5.4"
#   --size N                      announce "SIZE N" (RFC 1870; default
#                                 33554432, aiosmtpd's) and refuse bigger:
#                                 "552 5.3.4" to a MAIL FROM whose SIZE=
#                                 is over N, and to the dot of a message
#                                 over N bytes; 0: no SIZE, no limit
#   --maildir DIR                 each accepted message as DIR/N.eml, its
#                                 envelope as DIR/N.env ("from ADDR",
#                                 "rcpt ADDR"..., "auth B", "tls B",
#                                 "params [PARAM...]": MAIL FROM's,
#                                 UTF-8); N goes on from
#                                 the highest already there, so that a
#                                 restarted server adds to the same DIR
#   --port-file F                 written (atomically) with the port once
#                                 listening on 127.0.0.1 (port chosen by
#                                 the kernel)
#   --refuse MODE                 the relay refuses us, the client, for
#                                 every recipient (below)
#   --events F                    one line per event, appended and flushed:
#                                 "connect", "ehlo NAME", "helo NAME",
#                                 "auth MECH ok|fail USER",
#                                 "mail ADDR CODE", then "mail-params ADDR
#                                 [PARAM...]" (MAIL FROM's parameters as
#                                 sent, e.g. "SIZE=1234 BODY=8BITMIME
#                                 SMTPUTF8"; none: nothing after ADDR),
#                                 "rcpt ADDR CODE",
#                                 "data ADDR... CODE",
#                                 "drop rcpt|dot ADDR", "tls failed WHY"
#
# SMTP_SERVER_DEBUG=1 in the environment logs aiosmtpd's dialogue on
# stderr.
#
# What a recipient gets depends on how its local part starts:
#   reject    550 5.1.1 at RCPT          blocked   554 5.7.1 at RCPT (policy)
#   full      552 5.2.2 at RCPT (mailbox full: a soft bounce)
#   unknown   550 5.1.1 at RCPT, the text quoting the address as Postfix's
#             does ("<ADDR>: Recipient address rejected: User unknown ...")
#   defer     451 4.2.0 at RCPT          close421  421 4.7.0 at RCPT, then
#                                                  the server hangs up
#   droprcpt  the connection is cut at RCPT, before the dot - the first
#             time only (per address); afterwards it is accepted
#   dropdot   the message is taken and stored, then the connection is cut
#             without a reply to the dot - the first time only
#   dotdefer  451 4.3.0 to the dot       dotreject 554 5.6.0 to the dot
#   dotwait   the message is taken and stored, and the reply to the dot
#             held back while the client stays connected ("hold dot ADDR"
#             event) - the first time only
#
# --refuse MODE answers as a misconfigured or strict relay does, the same
# for every recipient whatever its local part (which counts only where
# the refusal lets the transaction through):
#   admin    every RCPT: "550 Administrative prohibition" (Exim's default
#            ACL text, no enhanced status)
#   relay    every RCPT: "554 5.7.1 <ADDR>: Relay access denied"
#   sender   MAIL FROM: "553 5.1.8 <ADDR>: Sender address rejected: Domain
#            not found"
#   helo     every RCPT, when the EHLO/HELO name has no dot and is not an
#            address literal "[...]": "504 5.5.2 <NAME>: Helo command
#            rejected: need fully-qualified hostname" (Postfix's
#            reject_non_fqdn_helo_hostname, delayed to RCPT as
#            smtpd_delay_reject does); a dotted name or a literal passes
#   auth     MAIL FROM, unless the session authenticated (needs --user and
#            --password to be possible): "530 5.7.0 Authentication
#            required"
#   content  the final dot: "554 5.6.0 Message content rejected"
# Stops on SIGTERM or SIGINT.
import argparse
import asyncio
import os
import signal
import ssl

import asyncio.sslproto as sslproto

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException


class RelaySMTP(SMTP):
    async def smtp_STARTTLS(self, arg):
        # aiosmtpd 1.4 puts the TLS layer in place only after "220" has
        # been written and drained: a fast client's ClientHello can arrive
        # in between, be read as plain text, and the handshake fails now
        # and then.  Reading is paused until the TLS layer is there.
        if arg or not self.tls_context:
            return await super().smtp_STARTTLS(arg)
        self.transport.pause_reading()
        await self.push("220 Ready to start TLS")
        waiter = self.loop.create_future()
        self._tls_protocol = sslproto.SSLProtocol(
            self.loop, self, self.tls_context, waiter, server_side=True)
        self._original_transport = self.transport
        self._original_transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        self._original_transport.resume_reading()
        try:
            await waiter
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.event_handler.event("tls failed %r" % (error,))
            raise TLSSetupException() from error


class Handler:
    def __init__(self, args):
        self.args = args
        self.n = 0
        if args.maildir and os.path.isdir(args.maildir):
            for name in os.listdir(args.maildir):
                stem, _, ext = name.partition(".")
                if ext == "eml" and stem.isdigit():
                    self.n = max(self.n, int(stem))
        self.dropped = set()  # (kind, address) cut once already

    def event(self, line):
        # addresses may be UTF-8 (SMTPUTF8), or bytes that are not UTF-8
        # (aiosmtpd keeps them as surrogates): written back as received
        if self.args.events:
            with open(self.args.events, "a", encoding="utf-8",
                      errors="surrogateescape") as f:
                f.write(line + "\n")

    def drop_once(self, kind, address):
        if (kind, address) in self.dropped:
            return False
        self.dropped.add((kind, address))
        self.event("drop %s %s" % (kind, address))
        return True

    @staticmethod
    def cut(server):
        # no reply at all: the client sees the connection die
        server.transport.abort()
        raise ConnectionResetError("cut by the test server")

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self.event("helo %s" % hostname)
        return "250 %s" % server.hostname

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.event("ehlo %s" % hostname)
        if self.args.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        responses.insert(len(responses) - 1, "250-ENHANCEDSTATUSCODES")
        if self.args.no_smtputf8:
            responses.remove("250-SMTPUTF8")
        if self.args.no_8bitmime:
            responses.remove("250-8BITMIME")
        if self.args.size > 0:
            responses.insert(1, "250-SIZE %d" % self.args.size)
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        reply = "250 OK"  # as aiosmtpd says without this hook
        # aiosmtpd has checked the syntax and upper-cased the parameters
        smtputf8 = "SMTPUTF8" in options
        size = [o[5:] for o in options if o.startswith("SIZE=")]
        if smtputf8 and self.args.no_smtputf8:
            reply = ("555 5.5.4 MAIL FROM parameter SMTPUTF8 not "
                     "implemented")
        elif "BODY=8BITMIME" in options and self.args.no_8bitmime:
            reply = ("555 5.5.4 MAIL FROM parameter BODY=8BITMIME not "
                     "implemented")
        elif not address.isascii() and not smtputf8:
            reply = ("553 5.6.7 <%s>: non-ASCII sender address without "
                     "SMTPUTF8" % address)
        elif (self.args.size > 0 and size and size[0].isdigit()
              and int(size[0]) > self.args.size):
            reply = "552 5.3.4 Message size exceeds fixed maximum size"
        elif self.args.refuse == "sender":
            reply = ("553 5.1.8 <%s>: Sender address rejected: Domain not "
                     "found" % address)
        elif self.args.refuse == "auth" and not session.authenticated:
            reply = "530 5.7.0 Authentication required"
        self.event("mail %s %s" % (address, reply[:3]))
        self.event(" ".join(["mail-params", address] + options))
        if reply.startswith("250"):
            envelope.mail_from = address
            envelope.mail_options.extend(options)
        return reply

    @staticmethod
    def fqdn(name):
        # a dot, or an address literal ("[192.0.2.1]", "[IPv6:...]")
        name = name or ""
        return "." in name or (name.startswith("[") and name.endswith("]"))

    async def handle_RCPT(self, server, session, envelope, address, options):
        reply = "250 2.1.5 OK"
        refuse = self.args.refuse
        if not address.isascii() and not envelope.smtp_utf8:
            # RFC 6531 3.5: a UTF-8 address needs SMTPUTF8 on MAIL FROM
            reply = ("553 5.6.7 <%s>: non-ASCII recipient address without "
                     "SMTPUTF8" % address)
        elif refuse == "admin":
            reply = "550 Administrative prohibition"
        elif refuse == "relay":
            reply = "554 5.7.1 <%s>: Relay access denied" % address
        elif refuse == "helo" and not self.fqdn(session.host_name):
            reply = ("504 5.5.2 <%s>: Helo command rejected: need "
                     "fully-qualified hostname" % session.host_name)
        elif address.startswith("reject"):
            reply = "550 5.1.1 no such user"
        elif address.startswith("unknown"):
            reply = ("550 5.1.1 <%s>: Recipient address rejected: User "
                     "unknown in virtual mailbox table" % address)
        elif address.startswith("defer"):
            reply = "451 4.2.0 try again later"
        elif address.startswith("blocked"):
            reply = "554 5.7.1 rejected by policy"
        elif address.startswith("full"):
            reply = "552 5.2.2 mailbox full"
        elif address.startswith("close421"):
            self.event("rcpt %s 421" % address)
            await server.push("421 4.7.0 too busy, closing")
            self.cut(server)
        elif address.startswith("droprcpt") and self.drop_once("rcpt", address):
            self.cut(server)
        self.event("rcpt %s %s" % (address, reply[:3]))
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        rcpts = " ".join(envelope.rcpt_tos)
        if self.args.size > 0 and len(envelope.original_content) > self.args.size:
            self.event("data %s 552" % rcpts)
            return "552 5.3.4 Message size exceeds fixed maximum size"
        if self.args.refuse == "content":
            self.event("data %s 554" % rcpts)
            return "554 5.6.0 Message content rejected"
        if any(r.startswith("dotdefer") for r in envelope.rcpt_tos):
            self.event("data %s 451" % rcpts)
            return "451 4.3.0 try again later"
        if any(r.startswith("dotreject") for r in envelope.rcpt_tos):
            self.event("data %s 554" % rcpts)
            return "554 5.6.0 content rejected"
        self.n += 1
        if self.args.maildir:
            base = os.path.join(self.args.maildir, str(self.n))
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            os.rename(base + ".eml.tmp", base + ".eml")
            with open(base + ".env", "w", encoding="utf-8",
                      errors="surrogateescape") as f:
                f.write("from %s\n" % envelope.mail_from)
                for r in envelope.rcpt_tos:
                    f.write("rcpt %s\n" % r)
                f.write("auth %s\n" % bool(session.authenticated))
                f.write("tls %s\n" % bool(session.ssl))
                f.write("%s\n" % " ".join(["params"]
                                          + envelope.mail_options))
        if any(r.startswith("dropdot") and self.drop_once("dot", r)
               for r in envelope.rcpt_tos):
            self.cut(server)
        if any(r.startswith("dotwait") and self.drop_once("wait", r)
               for r in envelope.rcpt_tos):
            # stored, and the reply held back until the client goes away
            self.event("hold dot %s" % rcpts)
            while not server.transport.is_closing():
                await asyncio.sleep(0.05)
            return "250 2.0.0 OK (too late)"
        self.event("data %s 250" % rcpts)
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
    ap.add_argument("--no-smtputf8", action="store_true")
    ap.add_argument("--no-8bitmime", action="store_true")
    ap.add_argument("--size", type=int, default=33554432)
    ap.add_argument("--maildir")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--refuse", choices=["admin", "relay", "sender", "helo",
                                         "auth", "content"])
    ap.add_argument("--events")
    args = ap.parse_args()
    if os.environ.get("SMTP_SERVER_DEBUG"):
        import logging
        logging.basicConfig(level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(message)s")

    ctx = None
    if args.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and args.user is not None
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        handler.event("auth %s %s %s" % (mechanism, "ok" if ok else "fail",
                                         getattr(auth_data, "login", b"?")
                                         .decode(errors="replace")))
        return AuthResult(success=ok, handled=False)

    handler = Handler(args)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        handler.event("connect")
        kw = dict(hostname="relay.test", ident="campaign test relay",
                  authenticator=authenticator if args.user else None,
                  # smtps: aiosmtpd does not see the TLS under it
                  auth_require_tls=args.mode == "starttls", loop=loop,
                  # SMTPUTF8 on in aiosmtpd whatever --no-smtputf8
                  # says: it reads every line as UTF-8, so that a client
                  # that sends UTF-8 anyway is seen (and refused) in the
                  # handler hooks; the EHLO hook hides the keyword, and
                  # SIZE is announced and enforced by the hooks too
                  enable_SMTPUTF8=True, data_size_limit=None, timeout=30)
        if args.mode == "starttls":
            kw.update(tls_context=ctx, require_starttls=True)
        return RelaySMTP(handler, **kw)

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
