#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""man_check.py BIN MANPAGE - the man page and --help cannot drift apart
(tests/e2e/manpage.bats): every option a command's --help names is in
that command's entry of the man page, every option of the entry's
synopsis is in --help; CONFIGURATION, ENVIRONMENT, EXIT STATUS and FILES
sections exist, and FILES names the secret, the lock and the journal once
each.  Prints one line per drift; exits 1 when there is any."""
import re, subprocess, sys
bin, man_path = sys.argv[1], sys.argv[2]
man = open(man_path).read().replace('\\-', '-')
cmds = ["init", "import", "lists", "render", "contacts show", "contacts forget", "optout",
        "suppress import", "suppress list", "suppress lift", "dkim keygen", "templates",
        "preview", "send", "pause", "resume", "cancel", "report", "doctor", "serve"]
sec = man.split('\n.SH COMMANDS\n', 1)[1].split('\n.SH ', 1)[0]
entries = []
for part in ('\n' + sec).split('\n.TP\n')[1:]:
    head = part.split('\n', 1)[0]
    words = re.sub(r'^\.(BI|BR|B|IR|I)\s+', '', head).replace('"', '')
    entries.append((words, part))
opt = re.compile(r'--[a-z][a-z-]*')
bad = []
for c in cmds:
    out = subprocess.run([bin] + c.split() + ["--help"], capture_output=True, text=True).stdout
    hopts = set(opt.findall(out.split("\nGlobal options:")[0])) - {"--help"}
    ent = [p for w, p in entries if re.match(r'(\S+ )?' + re.escape(c) + r'\b', w) or (', ' + c + ' ') in w or w.startswith(c)]
    if not ent:
        bad.append("%s: no entry in the man page" % c); continue
    mopts = set(opt.findall(ent[0]))
    synopsis = set(opt.findall(ent[0].split('\n', 1)[0]))
    for o in sorted(hopts - mopts):
        bad.append("%s %s: in --help, not in the man page" % (c, o))
    for o in sorted(synopsis - hopts):
        bad.append("%s %s: in the man page's synopsis, not in --help" % (c, o))
for s in ("CONFIGURATION", "ENVIRONMENT", "FILES", "EXIT STATUS"):
    if "\n.SH %s\n" % s not in man:
        bad.append("no %s section" % s)
files = man.split('\n.SH FILES\n', 1)[1].split('\n.SH ', 1)[0] if '\n.SH FILES\n' in man else ''
for f in (".secret", ".lock", ".journal"):
    n = files.count(f)
    if n != 1:
        bad.append("FILES names %s %d times (once)" % (f, n))
print("\n".join(bad))
sys.exit(1 if bad else 0)
