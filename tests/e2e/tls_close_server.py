#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tls_close_server.py - a hand-written SMTP relay that ends TLS sessions
badly, for smtp_tls_close.bats (issue 9: the server's close reported as
such, not as a TLS problem).  Plain sockets and Python's ssl; run with
/usr/bin/python3.

Usage: tls_close_server.py --port-file F --cert PEM --key PEM --close HOW
                           [--smtps] [--pipelining] [--after N]
                           [--maildir DIR] [--events F]

    --smtps        implicit TLS (RFC 8314) instead of STARTTLS
    --pipelining   advertise PIPELINING
    --after N      the first N RCPT commands (over all connections) are
                   accepted; every later one ends the session the --close
                   way (default 2)
    --close HOW    how the session ends:
        tls421     "421 4.7.0 example.test too many nonmail commands"
                   inside TLS, then the socket is closed without a TLS
                   close_notify (what Exim does)
        rst421     the same 421 inside TLS, then a TCP reset (SO_LINGER 0)
        clear421   the same 421 written in clear text on the socket, under
                   the TLS session, then closed: the client's TLS layer
                   reads "421 4" as a record header
        garbage    no TLS at all: the ClientHello is answered with bytes
                   that are not TLS, then the socket is closed (the
                   handshake never completes)
    --maildir DIR  each accepted message as DIR/N.eml, its envelope as
                   DIR/N.env (the format of smtp_server.py, which
                   send_dumps.py reads)
    --events F     one line per event: "connect", "tls", "rcpt ADDR 250",
                   "close HOW ADDR", "garbage", "data ADDR 250"

The port (127.0.0.1, chosen by the kernel) is written to the port file
once listening.  One thread per connection; stops on SIGTERM or SIGINT.
"""
import argparse
import os
import signal
import socket
import ssl
import struct
import sys
import threading

REPLY_421 = b"421 4.7.0 example.test too many nonmail commands\r\n"


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rcpts = 0
        self.n = 0

    def event(self, line):
        if self.args.events:
            with self.lock, open(self.args.events, "a") as f:
                f.write(line + "\n")

    def next_rcpt(self):
        with self.lock:
            self.rcpts += 1
            return self.rcpts

    def store(self, mail_from, rcpts, data, tls):
        with self.lock:
            self.n += 1
            n = self.n
        if not self.args.maildir:
            return n
        base = os.path.join(self.args.maildir, str(n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        with open(base + ".env", "w") as f:
            f.write("from %s\n" % mail_from)
            for r in rcpts:
                f.write("rcpt %s\n" % r)
            f.write("tls %s\n" % tls)
        return n


class Conn:
    """One SMTP session on a plain socket, TLS once started."""

    def __init__(self, st, sock, ctx):
        self.st = st
        self.raw = sock
        self.s = sock
        self.ctx = ctx
        self.buf = b""
        self.tls = False

    def send(self, b):
        self.s.sendall(b)

    def line(self):
        while b"\n" not in self.buf:
            b = self.s.recv(4096)
            if not b:
                return None
            self.buf += b
            if len(self.buf) > 65536:
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def start_tls(self):
        if self.st.args.close == "garbage":
            # read the ClientHello, answer with something that is not TLS
            self.raw.settimeout(5)
            try:
                self.raw.recv(4096)
            except OSError:
                pass
            self.st.event("garbage")
            self.raw.sendall(b"\x00\x00\x00 this is not a TLS server\r\n" * 4)
            return False
        self.s = self.ctx.wrap_socket(self.raw, server_side=True)
        self.tls = True
        self.st.event("tls")
        return True

    def close_badly(self, addr):
        how = self.st.args.close
        self.st.event("close %s %s" % (how, addr))
        if how == "clear421":
            # on the socket under the TLS session: not a TLS record
            os.write(self.s.fileno(), REPLY_421)
        else:
            self.send(REPLY_421)
        if how == "rst421":
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        # SSLSocket.close() frees the session without SSL_shutdown: no
        # close_notify goes out
        self.s.close()

    def data(self):
        body = []
        while True:
            line = self.line()
            if line is None:
                return None
            if line == b".":
                return b"".join(body)
            if line.startswith(b"."):
                line = line[1:]
            body.append(line + b"\r\n")

    def run(self):
        args = self.st.args
        if args.smtps and not self.start_tls():
            return
        self.send(b"220 relay.test ESMTP tls_close_server\r\n")
        mail_from, rcpts = None, []
        while True:
            line = self.line()
            if line is None:
                return
            cmd = line.decode("ascii", "replace")
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                caps = [b"250-relay.test"]
                if args.pipelining:
                    caps.append(b"250-PIPELINING")
                if not self.tls:
                    caps.append(b"250-STARTTLS")
                caps.append(b"250 ENHANCEDSTATUSCODES")
                self.send(b"\r\n".join(caps) + b"\r\n")
            elif verb == "STARTTLS" and not self.tls:
                self.send(b"220 2.0.0 Ready to start TLS\r\n")
                if not self.start_tls():
                    return
                self.buf = b""
            elif not self.tls:
                self.send(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
            elif verb == "MAIL":
                mail_from, rcpts = cmd[10:].strip("<> "), []
                self.send(b"250 2.1.0 OK\r\n")
            elif verb == "RCPT":
                addr = cmd[8:].strip("<> ")
                if self.st.next_rcpt() > args.after:
                    self.close_badly(addr)
                    return
                rcpts.append(addr)
                self.st.event("rcpt %s 250" % addr)
                self.send(b"250 2.1.5 OK\r\n")
            elif verb == "DATA":
                if not rcpts:
                    self.send(b"554 5.5.1 no valid recipients\r\n")
                    continue
                self.send(b"354 go ahead\r\n")
                body = self.data()
                if body is None:
                    return
                n = self.st.store(mail_from, rcpts, body, self.tls)
                self.st.event("data %s 250" % " ".join(rcpts))
                self.send(b"250 2.0.0 OK queued as %d\r\n" % n)
                rcpts = []
            elif verb in ("RSET", "NOOP"):
                rcpts = []
                self.send(b"250 2.0.0 OK\r\n")
            elif verb == "QUIT":
                self.send(b"221 2.0.0 bye\r\n")
                return
            else:
                self.send(b"502 5.5.2 not implemented\r\n")


def serve(st, sock, ctx):
    st.event("connect")
    c = Conn(st, sock, ctx)
    try:
        c.run()
    except (OSError, ssl.SSLError) as e:
        st.event("error %s" % e)
    finally:
        try:
            c.s.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--close", required=True,
                    choices=["tls421", "rst421", "clear421", "garbage"])
    ap.add_argument("--smtps", action="store_true")
    ap.add_argument("--pipelining", action="store_true")
    ap.add_argument("--after", type=int, default=2)
    ap.add_argument("--maildir")
    ap.add_argument("--events")
    args = ap.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    st = State(args)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    while True:
        conn, _ = srv.accept()
        conn.settimeout(30)
        threading.Thread(target=serve, args=(st, conn, ctx),
                         daemon=True).start()


if __name__ == "__main__":
    main()
