#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# pf_remote.py - the scripted "remote" SMTP server of make-postfix: a
# plain-socket SMTP server on 127.0.0.1 (stdlib only) that answers each
# RCPT TO by the recipient's local part, and keeps every message sent to
# the bounce domain (the bounces Postfix sends back) as OUTDIR/N.eml.
#
#   pf_remote.py PORTFILE OUTDIR
#
#   nouser*   550 5.1.1 <ADDR>: Recipient address rejected: User unknown
#   full*     552 5.2.2 <ADDR>: Recipient address rejected: Mailbox full
#   defer*    451 4.3.0 <ADDR>: Temporary lookup failure
#   anything else at bounces.acme.example: 250, and the message is kept
import os
import socket
import sys
import threading

port_file, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)
count = [0]
lock = threading.Lock()


def reply_for(addr):
    local = addr.split("@")[0].lower()
    if local.startswith("nouser"):
        return "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table" % addr
    if local.startswith("full"):
        return "552 5.2.2 <%s>: Recipient address rejected: Mailbox full" % addr
    if local.startswith("defer"):
        return "451 4.3.0 <%s>: Temporary lookup failure" % addr
    return "250 2.1.5 Ok"


def session(conn):
    conn.settimeout(30)
    f = conn.makefile("rwb")

    def say(s):
        f.write(s.encode() + b"\r\n")
        f.flush()

    say("220 mx.remote.test ESMTP scripted")
    rcpts = []
    try:
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                f.write(b"250-mx.remote.test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
                f.flush()
            elif up.startswith("HELO"):
                say("250 mx.remote.test")
            elif up.startswith("MAIL FROM"):
                rcpts = []
                say("250 2.1.0 Ok")
            elif up.startswith("RCPT TO"):
                addr = cmd[cmd.index("<") + 1:cmd.rindex(">")]
                r = reply_for(addr)
                if r.startswith("250"):
                    rcpts.append(addr)
                say(r)
            elif up == "DATA":
                if not rcpts:
                    say("554 5.5.1 Error: no valid recipients")
                    continue
                say("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    l = f.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    data.append(l)
                with lock:
                    count[0] += 1
                    n = count[0]
                with open(os.path.join(outdir, "%d.eml" % n), "wb") as out:
                    out.write(b"".join(data))
                say("250 2.0.0 Ok: queued")
            elif up == "RSET":
                rcpts = []
                say("250 2.0.0 Ok")
            elif up == "QUIT":
                say("221 2.0.0 Bye")
                return
            else:
                say("250 2.0.0 Ok")
    except (OSError, ValueError):
        return
    finally:
        conn.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
tmp = port_file + ".tmp"
with open(tmp, "w") as pf:
    pf.write("%d\n" % s.getsockname()[1])
os.rename(tmp, port_file)
while True:
    c, _ = s.accept()
    threading.Thread(target=session, args=(c,), daemon=True).start()
