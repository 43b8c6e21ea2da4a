#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""send_inject.py - a hand-written SMTP server for the STARTTLS command
injection case (CVE-2011-0411, CVE-2021-22947), for send_script.bats.

It offers STARTTLS and answers the STARTTLS command with "220 Ready to
start TLS" and, in the same write, a second reply that a vulnerable
client would read after the handshake as if the TLS server had sent it.
A correct client aborts before the handshake and sends nothing more.

Usage: send_inject.py --port-file F --log F
    The port (chosen by the kernel, 127.0.0.1) is written to the port
    file once listening.  The log gets one line per event:
        connect
        cmd LINE            each command line received before STARTTLS
        after N             bytes received after the injected reply,
                            until the client closed (or 5 s passed)
Stops on SIGTERM, or after 20 connections.
"""
import argparse
import os
import socket
import time


def log(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def session(conn, logf):
    conn.settimeout(5)
    f = conn.makefile("rb")
    conn.sendall(b"220 inject.test ESMTP\r\n")
    while True:
        line = f.readline(1024)
        if not line:
            return
        cmd = line.rstrip(b"\r\n").decode("ascii", "replace")
        log(logf, "cmd " + cmd)
        verb = cmd.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            conn.sendall(b"250-inject.test\r\n250-PIPELINING\r\n"
                         b"250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
        elif verb == "STARTTLS":
            conn.sendall(b"220 2.0.0 Ready to start TLS\r\n"
                         b"250 2.0.0 injected before the handshake\r\n")
            n = 0
            end = time.monotonic() + 5
            while time.monotonic() < end:
                try:
                    b = conn.recv(4096)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not b:
                    break
                n += len(b)
            log(logf, "after %d" % n)
            return
        elif verb == "QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"530 5.7.0 Must issue a STARTTLS command first\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    for _ in range(20):
        conn, _ = srv.accept()
        log(args.log, "connect")
        try:
            session(conn, args.log)
        except OSError as e:
            log(args.log, "error %s" % e)
        finally:
            conn.close()


if __name__ == "__main__":
    main()
