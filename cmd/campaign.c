/* SPDX-License-Identifier: ISC */
/*
 * campaign.c - main(): global options, the command table, dispatch.
 *
 * Global options (--db, --config, --templates, -v, -q) may appear anywhere
 * before "--"; they are taken out of argv before the subcommand parses
 * its own.  Defaults come from $CAMPAIGN_DB, $CAMPAIGN_CONFIG and
 * $CAMPAIGN_TEMPLATES, else ./campaign.db, ./campaign.conf, ./templates.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "../engine/clock.h"
#include "../engine/log.h"
#include "cmd.h"

#ifndef CAMPAIGN_VERSION
#define CAMPAIGN_VERSION "0.1.0"
#endif

const struct command commands[] = {
    {"init", cmd_init, "campaign init [--force]",
     "Create the database (and a commented campaign.conf and the tracking\n"
     "secret if there are none); apply any schema migrations.  Safe to run\n"
     "again.  A tracking secret missing once campaigns were sent is not\n"
     "replaced: every link already sent is signed with it.\n"
     "\n"
     "  --force            write a new secret anyway (the links already sent\n"
     "                     stop working)\n"},
    {"import", cmd_import,
     "campaign import FILE... [--list NAME] [--delimiter C] [--encoding E]\n"
     "                [--no-update] [--rejects FILE [--force]] [--dry-run]",
     "Import contacts from CSV files, one transaction per file.  The email\n"
     "column is found by name (email, e-mail, Email Address, mail, ...);\n"
     "every other column becomes an attribute.  Prints\n"
     "  imported N, updated M, unchanged U, rejected R\n"
     "after the commit.  An import never lifts a suppression.\n"
     "\n"
     "  --list NAME        add every imported contact to list NAME\n"
     "  --delimiter C      , ; | or tab (default: detected from the header)\n"
     "  --encoding E       utf-8 (default), latin1 or windows-1252\n"
     "  --no-update        leave existing contacts as they are\n"
     "  --rejects FILE     write refused rows to FILE as CSV with a reason\n"
     "                     (only when some are; never over an input file)\n"
     "  --force            let --rejects replace an existing FILE\n"
     "  --dry-run          validate and count, write nothing\n"},
    {"lists", cmd_lists, "campaign lists [--format table|json]",
     "List the lists with their member counts (all members, and those who\n"
     "can be mailed).\n"
     "\n"
     "  --format F         table (default) or json\n"},
    {"render", cmd_render,
     "campaign render FILE [--data JSON] [--partials DIR]",
     "Render one Mustache template file to stdout, byte for byte (no\n"
     "newline added), with {{x}} HTML-escaped.  No database is needed.\n"
     "\n"
     "  --data JSON        the context: a JSON file holding any value\n"
     "                     (default: an empty object)\n"
     "  --partials DIR     {{>name}} and {{<name}} read DIR/name.mustache;\n"
     "                     a missing partial is empty text\n"},
    {"contacts show", cmd_contacts_show,
     "campaign contacts show EMAIL [--format text|json]",
     "Show one contact: attributes, lists, status and suppression.\n"},
    {"contacts forget", cmd_contacts_forget, "campaign contacts forget EMAIL",
     "Erase a person: the contact, its attributes and memberships are\n"
     "deleted; only a salted hash of the address stays in the suppression\n"
     "list, so that a later import brings the address back suppressed.\n"},
    {"optout", cmd_optout, "campaign optout EMAIL... [--reason R]",
     "Suppress addresses by hand (reason: unsubscribed, the default;\n"
     "bounced, complained or manual).  They are never mailed again.\n"},
    {"suppress import", cmd_suppress_import,
     "campaign suppress import FILE [--reason R] [--delimiter C] "
     "[--encoding E]",
     "Suppress every address in FILE: a CSV with an email column (and an\n"
     "optional reason column), or a plain list of addresses, one per line.\n"
     "The default reason is manual.\n"},
    {"suppress list", cmd_suppress_list,
     "campaign suppress list [--format text|csv] [--source S] [--reason R]",
     "Print the suppression list, oldest first: each address with its\n"
     "reason, its source (smtp: a hard bounce during a send; one-click or\n"
     "unsubscribe page: campaign serve; manual: optout; suppress:FILE, ...),\n"
     "since when, and for a bounce\n"
     "the relay's reply that caused it.  --source and --reason keep only\n"
     "those.  Forgotten people appear by hash only.\n"},
    {"suppress lift", cmd_suppress_lift,
     "campaign suppress lift EMAIL... --reason bounced|manual",
     "Undo a suppression recorded by mistake - a bounce that was really the\n"
     "relay refusing the sender - for addresses suppressed for that reason\n"
     "(all or nothing; each lift is logged).  An unsubscribe or a complaint\n"
     "is the person's own word and is never lifted.\n"},
    {"dkim keygen", cmd_dkim_keygen,
     "campaign dkim keygen --domain D --selector S [--algo rsa|ed25519]\n"
     "                     [--bits N] [--out FILE]",
     "Generate a DKIM signing key: the private key goes to FILE (default\n"
     "S.D.key, mode 0600; an existing file is never overwritten) and the DNS\n"
     "TXT record to publish at S._domainkey.D is printed, followed by the\n"
     "[dkim] lines for campaign.conf.\n"
     "\n"
     "  --domain D         the signing domain (d=), e.g. acme.example\n"
     "  --selector S       the selector (s=), e.g. s2026\n"
     "  --algo A           rsa (rsa-sha256, the default) or ed25519\n"
     "                     (ed25519-sha256, RFC 8463; sign with both)\n"
     "  --bits N           RSA key size, 1024 to 16384 (default 2048)\n"
     "  --out FILE         where to write the private key\n"},
    {"templates", cmd_templates, "campaign templates",
     "List the templates in the templates directory with their subject,\n"
     "layout, text part and the fields they use (a field marked ? is only\n"
     "used inside a section, so a contact without it is fine).\n"},
    {"preview", cmd_preview,
     "campaign preview --template NAME [--to EMAIL] [--format eml|html|text]\n"
     "                 [--data JSON] [--campaign NAME]",
     "Print the complete message one contact would receive: headers, MIME\n"
     "parts, tracking links and DKIM signatures, as it would be sent.\n"
     "Without --to, the first active contact.  The campaign data defaults\n"
     "to TEMPLATES/NAME.json when that file exists.  A field the template\n"
     "uses that the contact lacks is an error (exit 65) unless the template\n"
     "gives a fallback with an inverted section.\n"},
    {"send", cmd_send,
     "campaign send --template NAME --list NAME [--campaign NAME]\n"
     "              [--data JSON] [--rate R] [--concurrency N] [--max N]\n"
     "              [--dry-run [--out DIR [--force]]] [--test-to EMAIL...]\n"
     "              [--trust-refusals] [--at TIME]",
     "Create or resume a campaign and send it through the relays of\n"
     "campaign.conf.  The campaign's name (default: the template's) is its\n"
     "identity: running the same command again resumes it and never sends\n"
     "anyone a second copy; a finished campaign sends nothing.  The first\n"
     "run freezes the recipients: the list's members minus the suppressed.\n"
     "\n"
     "  --rate R           at most R messages (50/s, 3000/m, 100000/h,\n"
     "                     500000/d)\n"
     "  --concurrency N    SMTP connections (default [limits] concurrency, 8)\n"
     "  --max N            stop after N messages (cron chunks); rerun to go "
     "on\n"
     "  --dry-run          render, build and sign everything, send nothing;\n"
     "                     with --out DIR one .eml per recipient (never\n"
     "                     over an earlier dry run's files without --force)\n"
     "  --test-to EMAIL... send samples instead: each address (repeat the\n"
     "                     option, or separate with commas) gets the message\n"
     "                     of one of the first mailable members of the list,\n"
     "                     Subject prefixed \"[test] \"; nothing is recorded,\n"
     "                     and the samples' Message-IDs and tracking and\n"
     "                     unsubscribe links are their own\n"
     "  --trust-refusals   a refusal the reply table calls the recipient's\n"
     "                     is the recipient's even when every recipient\n"
     "                     gets the same one (see below)\n"
     "  --at TIME          schedule the campaign instead of sending now:\n"
     "                     \"2026-12-24 09:00 Europe/Rome\" (the zone\n"
     "                     defaults to [limits] timezone); run-due starts it\n"
     "                     then, and its recipients are frozen then\n"
     "\n"
     "[limits] window: outside the sending window nothing is sent (exit 0,\n"
     "saying when it opens), and a run stops handing out messages when it\n"
     "closes.  [limits] daily_cap and warmup: a sending domain's messages a\n"
     "day; when they are spent, \"daily limit reached, N left for\n"
     "tomorrow\" (exit 0).\n"
     "\n"
     "4xx replies defer a recipient (retried on a later run after a back-off\n"
     "of 5 minutes doubling to 4 hours); 5xx bounce it (hard bounces are\n"
     "suppressed) when the refusal is the recipient's.  A refusal of us\n"
     "(relaying, HELO, AUTH, the sender) or the same refusal for 10\n"
     "recipients in a row through one relay bounces nobody: that relay is\n"
     "set aside, and with none left the run stops (exit 78 or 69) with the\n"
     "relay's reply and what to fix.  A message the client does not hand\n"
     "to the relay (a UTF-8 address and a relay without SMTPUTF8, a message\n"
     "over its SIZE) is held, never bounced: exit 69, and the next send\n"
     "retries it.  SIGINT/SIGTERM stop cleanly.  A second send of the same\n"
     "campaign exits 75.\n"},
    {"pause", cmd_pause, "campaign pause NAME",
     "Pause a campaign: a running send stops within a second, after the\n"
     "replies in flight.\n"},
    {"resume", cmd_resume, "campaign resume NAME",
     "Allow a paused campaign to be sent again (then run send).  A\n"
     "scheduled campaign that has not started is due at the next run-due\n"
     "if its time has passed (one overdue by more than [limits] grace is\n"
     "not started by run-due on its own).\n"},
    {"run-due", cmd_run_due, "campaign run-due [--force]",
     "For cron or a systemd timer, every few minutes: send every campaign\n"
     "that has something to send now - a schedule whose time has come\n"
     "(send --at), recipients left queued by a stopped run, deferrals whose\n"
     "retry is due (those past their last attempt expire) - each by\n"
     "`send` in its own process, one summary line each, at most [limits]\n"
     "campaigns at once (sharing every rate).  A campaign whose send is\n"
     "still running is left to it, and while another run-due runs this one\n"
     "exits at once.  Nothing to do, outside the sending window, or the\n"
     "day's allowance spent: it exits 0 and prints nothing.  A schedule\n"
     "more than [limits] grace (default 2 h) past its time and past\n"
     "run-due's last run - the machine was off - is not started but said,\n"
     "every run, until --force or campaign resume NAME.\n"
     "The exit code is the first failed send's.\n"},
    {"resend", cmd_resend,
     "campaign resend NAME [--deferred] [--failed] [--uncertain] [--expired]",
     "Put the recipients of the named states back in the queue, due now\n"
     "and with their attempts counted afresh; a finished campaign is sending\n"
     "again.  The next send or run-due sends them; addresses suppressed\n"
     "meanwhile are skipped, as always.\n"},
    {"campaigns", cmd_campaigns, "campaign campaigns",
     "Every campaign with its status, scheduled time, recipients, sent,\n"
     "left to send and next retry (times in [limits] timezone), then the\n"
     "sending window and today's allowance.\n"},
    {"cancel", cmd_cancel, "campaign cancel NAME",
     "Cancel a campaign: a running send stops within a second, and nothing\n"
     "more is ever sent for it.\n"},
    {"report", cmd_report,
     "campaign report [NAME [--undelivered | --uncertain] | --compare A B] "
     "[--format table|json|csv|html] [--out FILE]",
     "Without NAME: every campaign, a row each: status, started, finished,\n"
     "recipients, sent, bounced and the bounce, complaint, unsubscribe,\n"
     "open and click rates.  With NAME: the ledger's counts, its times,\n"
     "what came back, the same rates, the funnel (recipients, sent,\n"
     "accepted, opened, clicked), the bounces by class and status with the\n"
     "most frequent replies, the receiving providers with their delivery,\n"
     "deferral, bounce, open and click rates, opens and clicks over time\n"
     "(hourly for 48 hours, then daily), the links clicked, the uncertain\n"
     "recipients, and the recipients not delivered grouped by the relay's\n"
     "last reply.  Every rate says what it is of: the bounce rate of\n"
     "delivered+bounced, the others of delivered (accepted by the relay,\n"
     "no bounce since), counting people, opens and clicks by people, not\n"
     "machines.  Tables fit the terminal; colour only on a terminal and\n"
     "never with NO_COLOR set.\n"
     "\n"
     "  --undelivered     each recipient not delivered with its state and\n"
     "                    the relay's last reply, one per line\n"
     "  --uncertain       each recipient that was ever uncertain (may have\n"
     "                    received the message twice), one per line\n"
     "  --compare A B     two campaigns side by side, and B - A\n"
     "  --format csv      NAME's recipients, one row each (with --out):\n"
     "                    address, state, last reply, bounce class, first\n"
     "                    open, clicks, unsubscribed; cells a spreadsheet\n"
     "                    would run as a formula are neutralised; without\n"
     "                    NAME every campaign's, the campaign first\n"
     "  --format html     NAME's report as one self-contained page (with\n"
     "                    --out): funnel, rates, opens and clicks over\n"
     "                    time, bounces, providers, top links, inline SVG\n"
     "                    charts, no request and no script\n"
     "  --out FILE        where the CSV or the page goes: written beside it\n"
     "                    and renamed over it once complete (mode 0600)\n"},
    {"doctor", cmd_doctor, "campaign doctor",
     "Check the configuration; connect to each relay (TLS, capabilities,\n"
     "AUTH, SMTPUTF8 when contacts need it); load the DKIM keys and check\n"
     "they align with From; check the bulk-sender requirements (one-click\n"
     "unsubscribe, List-Id, VERP); and say what to fix.  Exit 0 when all\n"
     "is well, 69 when a relay cannot be reached, 78 for anything else to\n"
     "fix.\n"},
    {"serve", cmd_serve, "campaign serve [--listen ADDR:PORT]",
     "Answer the links of every message sent, in the foreground until\n"
     "SIGTERM or SIGINT: the open pixel (GET /o/TOKEN.gif), click\n"
     "redirects (GET /c/TOKEN), the unsubscribe page (GET /u/TOKEN) and\n"
     "RFC 8058 one-click unsubscribe (POST /u/TOKEN), the web view\n"
     "(GET /v/TOKEN) and GET /healthz.  Opens, clicks and views are\n"
     "committed every 100 ms; an unsubscribe is committed before its\n"
     "answer.  Put it behind a TLS proxy such as nginx (see the README).\n"
     "\n"
     "  --listen ADDR:PORT  where to listen (default [serve] listen,\n"
     "                      127.0.0.1:8787)\n"},
    {"bounces parse", cmd_bounces_parse,
     "campaign bounces parse FILE|DIR... [--json]",
     "Read bounces (RFC 3464 DSNs and the non-standard kinds), complaints\n"
     "(RFC 5965 ARF), auto-replies and mailed unsubscribes, and print what\n"
     "each says per recipient: kind, recipient, action, status, reply code,\n"
     "diagnostic and class (hard, soft, blocked, complaint, auto_reply,\n"
     "unsubscribe, delayed, delivered, unknown).  Records nothing.  FILE -\n"
     "reads standard input.\n"
     "\n"
     "  --json  one JSON array, an element per recipient\n"},
    {"bounces ingest", cmd_bounces_ingest,
     "campaign bounces ingest [FILE...|-] [--mbox FILE] [--maildir DIR] "
     "[--rcpt ADDR]",
     "Record what came back to the VERP and unsubscribe addresses: bounces,\n"
     "complaints, auto-replies and mailed unsubscribes.  Each message is\n"
     "matched to what was sent by its VERP or unsubscribe token, else the\n"
     "returned Message-ID, else the recipient's latest campaign; one that\n"
     "matches nothing is counted and ignored (a forged bounce suppresses\n"
     "nobody).  Hard bounces and complaints suppress the address at once,\n"
     "soft bounces after [bounces] soft_limit (3) within soft_days (30),\n"
     "blocked ones are counted; a message read twice counts once.  Without\n"
     "FILE, one message on standard input (a Postfix pipe alias: see the\n"
     "README).  A campaign whose hard-bounce or complaint rate passes\n"
     "[bounces] breaker_hard (5%) or breaker_complaint (0.3%) after\n"
     "breaker_min (200) messages is paused.  Exit 75 when the database is\n"
     "busy (a pipe's MTA tries again).\n"
     "\n"
     "  --mbox FILE    every message of an mbox file\n"
     "  --maildir DIR  every message of a Maildir (new/ and cur/)\n"
     "  --rcpt ADDR    the envelope recipient of the message on standard\n"
     "                 input (default $ORIGINAL_RECIPIENT, $RECIPIENT)\n"},
    {"bounces fetch", cmd_bounces_fetch, "campaign bounces fetch",
     "Read the bounce mailbox over IMAP ([bounces] imap, username,\n"
     "password_env or password_file, tls_verify, ca_file) and ingest every\n"
     "message in it as bounces ingest does; each one recorded is then\n"
     "moved to the processed folder ([bounces] processed = move:Processed,\n"
     "the default), flagged seen (seen: only unseen ones are read) or\n"
     "deleted (delete), so that a cron run never reads it twice.  TLS\n"
     "always (imaps://, or imap:// with STARTTLS).  Exit 78 when the login\n"
     "is refused, 69 when the server cannot be reached or its certificate\n"
     "is not trusted.\n"},
    {"bounces rules", cmd_bounces_rules, "campaign bounces rules",
     "Print the shipped rule table (classify.rules) that classifies the\n"
     "text of refusals and bounces, with its format: the starting point of\n"
     "a file of your own ([bounces] rules), whose rules are tried first.\n"},
    {NULL, NULL, NULL, NULL},
};

static const char global_help[] =
    "Global options:\n"
    "  --db PATH          database (default $CAMPAIGN_DB, else ./campaign.db)\n"
    "  --config PATH      configuration (default $CAMPAIGN_CONFIG, else\n"
    "                     ./campaign.conf)\n"
    "  --templates DIR    templates (default $CAMPAIGN_TEMPLATES, else\n"
    "                     ./templates)\n"
    "  -v, --verbose      more detail on stderr\n"
    "  -q, --quiet        only errors on stderr\n"
    "  --help             help (also after any command)\n"
    "  --version          print the version\n";

static void
usage_all(FILE *f)
{
    fprintf(f, "usage: campaign [global options] COMMAND [options]\n\n"
               "Commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(f, "  %s\n", c->synopsis);
    fprintf(f, "\n%s\nExit codes follow sysexits.h; see campaign(1).\n",
            global_help);
}

int
cmd_usage(const char *name, FILE *f, int code)
{
    for (const struct command *c = commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            fprintf(f, "usage: %s\n\n%s\n%s", c->synopsis, c->help,
                    global_help);
            return code;
        }
    }
    usage_all(f);
    return code;
}

/* take_global - remove the global options from argv; returns new argc,
 * or -1 after printing a usage error. */
static int
take_global(struct ctx *ctx, int argc, char **argv, int *want_version)
{
    int out = 1, i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        const char *val = NULL;

        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            ctx->verbose = 1;
            continue;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            ctx->quiet = 1;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            *want_version = 1;
            continue;
        }
        if (strncmp(a, "--db", 4) == 0 && (a[4] == '\0' || a[4] == '='))
            dst = &ctx->db_path, val = a[4] ? a + 5 : NULL;
        else if (strncmp(a, "--config", 8) == 0 &&
                 (a[8] == '\0' || a[8] == '='))
            dst = &ctx->config_path, val = a[8] ? a + 9 : NULL,
            ctx->config_named = 1;
        else if (strncmp(a, "--templates", 11) == 0 &&
                 (a[11] == '\0' || a[11] == '='))
            dst = &ctx->templates_dir, val = a[11] ? a + 12 : NULL;
        if (dst == NULL) {
            argv[out++] = argv[i];
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "campaign: %s needs a value\n", a);
                return -1;
            }
            val = argv[++i];
        }
        *dst = val;
    }
    for (; i < argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    return out;
}

static const char *
env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int
main(int argc, char **argv)
{
    struct ctx ctx;
    int want_version = 0, n;

    memset(&ctx, 0, sizeof ctx);
    ctx.db_path = env_or("CAMPAIGN_DB", "campaign.db");
    ctx.config_path = env_or("CAMPAIGN_CONFIG", "campaign.conf");
    ctx.config_named = ctx.config_path != NULL &&
                       strcmp(ctx.config_path, "campaign.conf") != 0;
    ctx.templates_dir = env_or("CAMPAIGN_TEMPLATES", "templates");

    if ((argc = take_global(&ctx, argc, argv, &want_version)) == -1)
        return EX_USAGE;
    log_init("campaign", ctx.quiet     ? LOG_QUIET
                         : ctx.verbose ? LOG_VERBOSE
                                       : LOG_NORMAL);
    {
        struct err e;
        err_clear(&e);
        if (clock_init(&e) == -1)
            return cmd_fail(&e);
        if (clock_is_fake())
            log_warnx("%s is set: the clock is moved (for the tests only)",
                      CLOCK_TEST_ENV);
    }
    if (want_version) {
        printf("campaign %s\n", CAMPAIGN_VERSION);
        return 0;
    }
    if (argc < 2) {
        usage_all(stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc >= 3) {
            char name[64];
            snprintf(name, sizeof name, "%s%s%s", argv[2], argc >= 4 ? " " : "",
                     argc >= 4 ? argv[3] : "");
            return cmd_usage(name, stdout, 0);
        }
        usage_all(stdout);
        return 0;
    }
    /* two-word commands first ("contacts show"), then one-word */
    for (const struct command *c = commands; c->name; c++) {
        size_t l = strlen(argv[1]);
        if (strncmp(c->name, argv[1], l) != 0)
            continue;
        if (c->name[l] == '\0')
            return c->run(&ctx, argc - 1, argv + 1);
        if (c->name[l] == ' ' && argc >= 3 &&
            strcmp(c->name + l + 1, argv[2]) == 0)
            return c->run(&ctx, argc - 2, argv + 2);
    }
    /* a group name alone or with an unknown subcommand */
    n = 0;
    for (const struct command *c = commands; c->name; c++) {
        size_t l = strlen(argv[1]);
        if (strncmp(c->name, argv[1], l) == 0 && c->name[l] == ' ') {
            if (n++ == 0)
                fprintf(stderr, "usage:\n");
            fprintf(stderr, "  %s\n", c->synopsis);
        }
    }
    if (n > 0) {
        if (argc >= 3 && strcmp(argv[2], "--help") == 0)
            return 0;
        return EX_USAGE;
    }
    fprintf(stderr, "campaign: unknown command \"%s\" (see campaign --help)\n",
            argv[1]);
    return EX_USAGE;
}
