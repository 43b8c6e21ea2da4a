/* SPDX-License-Identifier: ISC */
/*
 * test_machine.c - machine-hit classification (engine/machine.c): every
 * shipped user-agent rule, the shipped ranges at their edges, people's
 * clients, user rules and their errors, and the cost of one call.
 *
 * The scanner user agents below are made up around the vendor's name
 * (the vendors do not publish theirs); the others are real.
 */
#include <stdlib.h>
#include <time.h>

#include "th.h"

#include "machine.h"

struct row {
    const char *name;
    const char *ua;
    const char *ip;
    int machine;
    const char *cls;
    const char *reason; /* NULL: not checked (a person's is always NULL) */
};

#define CHROME                                                                 \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "    \
    "like Gecko) Chrome/120.0.0.0 Safari/537.36"
#define IPHONE_SAFARI                                                          \
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "                  \
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "     \
    "Safari/604.1"
#define FIREFOX                                                                \
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
#define THUNDERBIRD                                                            \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "      \
    "Thunderbird/115.5.0"

#define R_APPLE_NET "Apple Mail Privacy Protection (Apple 17.0.0.0/8)"
#define R_GOOGLE_NET "Gmail image proxy (Google address range)"
#define R_MS_NET "Microsoft Exchange Online (link scanning / image proxy)"
#define R_YAHOO_NET "Yahoo Mail image proxy (Yahoo address range)"
#define R_BARE "Apple Mail Privacy Protection (bare Mozilla/5.0)"

/* The shipped table alone. */
static const struct row shipped[] = {
    /* every shipped user-agent rule */
    {"GoogleImageProxy",
     "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via "
     "ggpht.com GoogleImageProxy)",
     NULL, 1, "gmail-proxy", "Gmail image proxy (GoogleImageProxy)"},
    {"YahooMailProxy",
     "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
     NULL, 1, "yahoo-proxy", "Yahoo Mail image proxy (YahooMailProxy)"},
    {"Office Existence Discovery", "Microsoft Office Existence Discovery", NULL,
     1, "bot", "Microsoft Office link probe (Existence Discovery)"},
    {"Office Protocol Discovery", "Microsoft Office Protocol Discovery", NULL,
     1, "bot", "Microsoft Office link probe (Protocol Discovery)"},
    {"Barracuda", "Mozilla/5.0 (compatible; Barracuda Link Protection)", NULL,
     1, "scanner", "link scanner: Barracuda"},
    {"Mimecast", "Mimecast-URL-Protect/1.0", NULL, 1, "scanner",
     "link scanner: Mimecast"},
    {"Proofpoint", "Proofpoint URL Defense", NULL, 1, "scanner",
     "link scanner: Proofpoint"},
    {"IronPort", "Cisco IronPort Web Security", NULL, 1, "scanner",
     "link scanner: Cisco IronPort"},
    {"Symantec", "Symantec Email Security.cloud", NULL, 1, "scanner",
     "link scanner: Symantec"},
    {"Trend Micro", "Mozilla/5.0 (compatible; Trend Micro Email Security)",
     NULL, 1, "scanner", "link scanner: Trend Micro"},
    {"TrendMicro", "TrendMicroScanner/2.0", NULL, 1, "scanner",
     "link scanner: Trend Micro"},
    {"Sophos", "Sophos Time-of-Click", NULL, 1, "scanner",
     "link scanner: Sophos"},
    {"Forcepoint", "Forcepoint-Email-Security", NULL, 1, "scanner",
     "link scanner: Forcepoint"},
    {"FireEye", "FireEye ETP URL analysis", NULL, 1, "scanner",
     "link scanner: FireEye"},
    {"BingPreview",
     "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like "
     "Gecko) BingPreview/1.0b",
     NULL, 1, "bot", "crawler: BingPreview"},
    {"bingbot",
     "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
     NULL, 1, "bot", "crawler: bingbot"},
    {"Googlebot",
     "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     NULL, 1, "bot", "crawler: Googlebot"},
    {"facebookexternalhit",
     "facebookexternalhit/1.1 "
     "(+http://www.facebook.com/externalhit_uatext.php)",
     NULL, 1, "bot", "link preview: Facebook"},
    {"Slackbot", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
     NULL, 1, "bot", "link preview: Slack"},
    {"Twitterbot", "Twitterbot/1.0", NULL, 1, "bot", "link preview: Twitter"},
    {"LinkedInBot before Apache-HttpClient",
     "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient "
     "+http://www.linkedin.com)",
     NULL, 1, "bot", "link preview: LinkedIn"},
    {"WhatsApp", "WhatsApp/2.23.20.0", NULL, 1, "bot",
     "link preview: WhatsApp"},
    {"Discordbot",
     "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", NULL,
     1, "bot", "link preview: Discord"},
    {"TelegramBot before Twitterbot", "TelegramBot (like TwitterBot)", NULL, 1,
     "bot", "link preview: Telegram"},
    {"HeadlessChrome",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.0.0 Safari/537.36",
     NULL, 1, "bot", "automation: headless Chrome"},
    {"python-requests", "python-requests/2.31.0", NULL, 1, "bot",
     "HTTP library: python-requests"},
    {"Python-urllib", "Python-urllib/3.11", NULL, 1, "bot",
     "HTTP library: Python urllib"},
    {"Go-http-client", "Go-http-client/1.1", NULL, 1, "bot",
     "HTTP library: Go net/http"},
    {"curl/", "curl/8.4.0", NULL, 1, "bot", "HTTP library: curl"},
    {"Wget", "Wget/1.21.3", NULL, 1, "bot", "HTTP library: Wget"},
    {"libwww-perl", "libwww-perl/6.72", NULL, 1, "bot",
     "HTTP library: libwww-perl"},
    {"okhttp", "okhttp/4.12.0", NULL, 1, "bot", "HTTP library: OkHttp"},
    {"Apache-HttpClient before Java/", "Apache-HttpClient/4.5.14 (Java/17.0.2)",
     NULL, 1, "bot", "HTTP library: Apache HttpClient"},
    {"axios/", "axios/1.6.2", NULL, 1, "bot", "HTTP library: axios"},
    {"node-fetch", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
     NULL, 1, "bot", "HTTP library: node-fetch"},
    {"Java/", "Java/17.0.2", NULL, 1, "bot", "HTTP library: Java"},
    {"Scrapy", "Scrapy/2.11.0 (+https://scrapy.org)", NULL, 1, "bot",
     "crawler: Scrapy"},
    {"spider",
     "Mozilla/5.0 (compatible; Baiduspider/2.0; "
     "+http://www.baidu.com/search/spider.html)",
     NULL, 1, "bot", "crawler: \"spider\" in user agent"},
    {"crawler", "Mozilla/5.0 (compatible; ExampleCrawler 1.0)", NULL, 1, "bot",
     "crawler: \"crawler\" in user agent"},
    {"bot/",
     "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", NULL,
     1, "bot", "crawler: \"bot/\" in user agent"},

    /* table order, not position in the header, decides */
    {"GoogleImageProxy after curl/ still wins", "curl/7.0 GoogleImageProxy",
     NULL, 1, "gmail-proxy", "Gmail image proxy (GoogleImageProxy)"},
    {"pattern at the very end", "x bot/", NULL, 1, "bot",
     "crawler: \"bot/\" in user agent"},
    {"pattern cut short at the end", "x bot", NULL, 0, "unknown", NULL},

    /* case-insensitive */
    {"upper-case GOOGLEIMAGEPROXY", "X (VIA GGPHT.COM GOOGLEIMAGEPROXY)", NULL,
     1, "gmail-proxy", "Gmail image proxy (GoogleImageProxy)"},
    {"upper-case CURL/", "CURL/7.0", NULL, 1, "bot", "HTTP library: curl"},
    {"lower-case googlebot", "googlebot-image/1.0", NULL, 1, "bot",
     "crawler: Googlebot"},
    {"mixed-case HeAdLeSsChRoMe", "HeAdLeSsChRoMe/1", NULL, 1, "bot",
     "automation: headless Chrome"},

    /* Apple MPP's bare user agent */
    {"bare Mozilla/5.0", "Mozilla/5.0", NULL, 1, "apple-mpp", R_BARE},
    {"bare Mozilla/5.0 any case", "MOZILLA/5.0", NULL, 1, "apple-mpp", R_BARE},
    {"bare Mozilla/5.0 with blanks", " Mozilla/5.0\t", NULL, 1, "apple-mpp",
     R_BARE},
    {"bare Mozilla/5.0 from Google: user agent first", "Mozilla/5.0",
     "66.249.80.1", 1, "apple-mpp", R_BARE},
    {"Mozilla/5.0 with a platform is not bare", "Mozilla/5.0 (Windows)", NULL,
     0, "unknown", NULL},
    {"Mozilla/5.01 is not bare", "Mozilla/5.01", NULL, 0, "unknown", NULL},
    {"Mozilla/5. is not bare", "Mozilla/5.", NULL, 0, "unknown", NULL},

    /* no user agent */
    {"NULL user agent", NULL, NULL, 1, "bot", "no user agent"},
    {"empty user agent", "", NULL, 1, "bot", "no user agent"},
    {"blank user agent", " \t ", NULL, 1, "bot", "no user agent"},
    {"empty user agent from a person's address", "", "192.0.2.1", 1, "bot",
     "no user agent"},
    {"NULL user agent from Apple: the range says more", NULL, "17.1.2.3", 1,
     "apple-mpp", R_APPLE_NET},

    /* Apple 17.0.0.0/8 edges */
    {"17.0.0.0 first of Apple /8", CHROME, "17.0.0.0", 1, "apple-mpp",
     R_APPLE_NET},
    {"17.255.255.255 last of Apple /8", CHROME, "17.255.255.255", 1,
     "apple-mpp", R_APPLE_NET},
    {"16.255.255.255 below Apple /8", CHROME, "16.255.255.255", 0, "browser",
     NULL},
    {"18.0.0.0 above Apple /8", CHROME, "18.0.0.0", 0, "browser", NULL},

    /* Google 66.249.80.0/20 edges */
    {"66.249.80.0 first of Google /20", CHROME, "66.249.80.0", 1, "gmail-proxy",
     R_GOOGLE_NET},
    {"66.249.95.255 last of Google /20", CHROME, "66.249.95.255", 1,
     "gmail-proxy", R_GOOGLE_NET},
    {"66.249.79.255 just below Google /20", CHROME, "66.249.79.255", 0,
     "browser", NULL},
    {"66.249.96.0 just above Google /20", CHROME, "66.249.96.0", 0, "browser",
     NULL},
    {"66.102.15.255 last of Google 66.102.0.0/20", CHROME, "66.102.15.255", 1,
     "gmail-proxy", R_GOOGLE_NET},
    {"66.102.16.0 above Google 66.102.0.0/20", CHROME, "66.102.16.0", 0,
     "browser", NULL},

    /* Microsoft Exchange Online Protection */
    {"40.92.0.0 first of EOP /15", CHROME, "40.92.0.0", 1, "microsoft-proxy",
     R_MS_NET},
    {"40.93.255.255 last of EOP /15", CHROME, "40.93.255.255", 1,
     "microsoft-proxy", R_MS_NET},
    {"40.94.0.0 above EOP /15", CHROME, "40.94.0.0", 0, "browser", NULL},
    {"40.107.12.34 in EOP /16", CHROME, "40.107.12.34", 1, "microsoft-proxy",
     R_MS_NET},
    {"40.108.0.0 above EOP /16", CHROME, "40.108.0.0", 0, "browser", NULL},
    {"52.103.255.255 last of EOP /14", CHROME, "52.103.255.255", 1,
     "microsoft-proxy", R_MS_NET},
    {"52.99.255.255 below EOP /14", CHROME, "52.99.255.255", 0, "browser",
     NULL},
    {"104.47.127.255 last of EOP /17", CHROME, "104.47.127.255", 1,
     "microsoft-proxy", R_MS_NET},
    {"104.47.128.0 above EOP /17", CHROME, "104.47.128.0", 0, "browser", NULL},

    /* Yahoo */
    {"98.136.0.0 first of Yahoo /14", CHROME, "98.136.0.0", 1, "yahoo-proxy",
     R_YAHOO_NET},
    {"98.139.255.255 last of Yahoo /14", CHROME, "98.139.255.255", 1,
     "yahoo-proxy", R_YAHOO_NET},
    {"98.140.0.0 above Yahoo /14", CHROME, "98.140.0.0", 0, "browser", NULL},
    {"74.6.1.2 in Yahoo /16", CHROME, "74.6.1.2", 1, "yahoo-proxy",
     R_YAHOO_NET},
    {"74.7.0.0 above Yahoo /16", CHROME, "74.7.0.0", 0, "browser", NULL},

    /* IPv6 */
    {"2a01:111:f400::1 in EOP /48", CHROME, "2a01:111:f400::1", 1,
     "microsoft-proxy", R_MS_NET},
    {"last of EOP 2a01:111:f400::/48", CHROME,
     "2a01:111:f400:ffff:ffff:ffff:ffff:ffff", 1, "microsoft-proxy", R_MS_NET},
    {"2a01:111:f401:: just above EOP /48", CHROME, "2a01:111:f401::", 0,
     "browser", NULL},
    {"2a01:111:f3ff:ffff:... just below EOP /48", CHROME,
     "2a01:111:f3ff:ffff:ffff:ffff:ffff:ffff", 0, "browser", NULL},
    {"2a01:111:f403:abcd::5 in EOP /48", CHROME, "2a01:111:f403:abcd::5", 1,
     "microsoft-proxy", R_MS_NET},
    {"IPv6 upper-case hex", CHROME, "2A01:111:F403::5", 1, "microsoft-proxy",
     R_MS_NET},
    {"documentation IPv6 address is a person", CHROME, "2001:db8::1", 0,
     "browser", NULL},
    {"IPv4-compatible ::17.0.0.1 is not Apple's 17/8", CHROME, "::17.0.0.1", 0,
     "browser", NULL},

    /* IPv4-mapped IPv6, as a dual-stack socket reports IPv4 peers */
    {"::ffff:17.1.2.3 is Apple", CHROME, "::ffff:17.1.2.3", 1, "apple-mpp",
     R_APPLE_NET},
    {"::ffff:66.249.95.255 is Google", CHROME, "::ffff:66.249.95.255", 1,
     "gmail-proxy", R_GOOGLE_NET},
    {"::ffff:66.249.96.0 is not Google", CHROME, "::ffff:66.249.96.0", 0,
     "browser", NULL},

    /* addresses that do not parse match no range */
    {"address not numeric", CHROME, "mail.example.com", 0, "browser", NULL},
    {"address out of range", CHROME, "17.256.0.1", 0, "browser", NULL},
    {"address with a port", CHROME, "17.1.2.3:443", 0, "browser", NULL},
    {"address empty", CHROME, "", 0, "browser", NULL},
    {"address with trailing text", CHROME, "17.1.2.3 x", 0, "browser", NULL},

    /* people */
    {"desktop Chrome", CHROME, "203.0.113.5", 0, "browser", NULL},
    {"iPhone Safari", IPHONE_SAFARI, "203.0.113.5", 0, "browser", NULL},
    {"Firefox", FIREFOX, "2001:db8::5", 0, "browser", NULL},
    {"Edge",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
     NULL, 0, "browser", NULL},
    {"Android Chrome",
     "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
     NULL, 0, "browser", NULL},
    {"Thunderbird", THUNDERBIRD, "198.51.100.7", 0, "mail-client", NULL},
    {"Apple Mail on iPhone (no Safari, no Version/)",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
     NULL, 0, "mail-client", NULL},
    {"Apple Mail on a Mac",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko)",
     NULL, 0, "mail-client", NULL},
    {"desktop Outlook ms-office is a person",
     "Mozilla/4.0 (compatible; ms-office; MSOffice 16)", NULL, 0, "mail-client",
     NULL},
    {"desktop Outlook Microsoft Outlook is a person",
     "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; "
     "Pro)",
     NULL, 0, "mail-client", NULL},
    {"unknown client", "SomeMailReader 3.1", NULL, 0, "unknown", NULL},
    {"Mozilla/ alone is not a browser", "Mozilla/4.0 (compatible)", NULL, 0,
     "unknown", NULL},
};

/* The same requests against user rules (see user_rules below). */
static const struct row user[] = {
    {"user UA rule overrides shipped GoogleImageProxy",
     "Mozilla/5.0 (via ggpht.com GoogleImageProxy)", NULL, 1, "scanner",
     "scanner: corporate proxy"},
    {"user net rule overrides shipped Google range", CHROME, "66.249.80.9", 1,
     "bot", "bot: our uptime checker"},
    {"user net rule overrides shipped curl/ rule", "curl/8.0", "66.249.80.9", 1,
     "bot", "bot: our uptime checker"},
    {"user UA rule beats user net rule",
     "Mozilla/5.0 (via ggpht.com GoogleImageProxy)", "66.249.80.9", 1,
     "scanner", "scanner: corporate proxy"},
    {"user rule marks a browser a machine", "Mozilla/5.0 Chrome/1 AcmeGate/2",
     NULL, 1, "scanner", "Acme Gateway"},
    {"user pattern matches case-insensitively", "x ACMEGATE/2 y", NULL, 1,
     "scanner", "Acme Gateway"},
    {"label prefix gmail-proxy: gives the class", "X-Relay-Img/1", NULL, 1,
     "gmail-proxy", "gmail-proxy: relay"},
    {"label prefix is case-insensitive", "YProx/3", NULL, 1, "yahoo-proxy",
     "Yahoo-Proxy: old proxy"},
    {"label without a class prefix is a scanner", "ApplesAndPears/1", NULL, 1,
     "scanner", "apple: not a class"},
    {"NULL label", "NoLabel/1", NULL, 1, "scanner",
     "user rule: user agent contains \"NoLabel\""},
    {"single address rule matches", CHROME, "192.0.2.7", 1, "microsoft-proxy",
     "microsoft-proxy: tenant scanner"},
    {"single address rule misses the next", CHROME, "192.0.2.8", 0, "browser",
     NULL},
    {"user IPv6 /32 first", CHROME, "2001:db8::", 1, "scanner",
     "user rule: address in 2001:db8::/32"},
    {"user IPv6 /32 last", CHROME, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1,
     "scanner", "user rule: address in 2001:db8::/32"},
    {"user IPv6 /32 above", CHROME, "2001:db9::", 0, "browser", NULL},
    {"user IPv6 /32 below", CHROME, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 0,
     "browser", NULL},
    {"user IPv6 /127 odd", CHROME, "2001:dba::1", 1, "bot", "bot: pair"},
    {"user mapped range matches IPv4", CHROME, "198.51.100.9", 1, "scanner",
     "scanner: mapped"},
    {"user mapped range matches mapped", CHROME, "::ffff:198.51.100.255", 1,
     "scanner", "scanner: mapped"},
    {"user mapped range misses next /24", CHROME, "198.51.101.0", 0, "browser",
     NULL},
    {"shipped rules still apply", "curl/8.0", "203.0.113.1", 1, "bot",
     "HTTP library: curl"},
    {"failed add left no rule behind", FIREFOX, NULL, 0, "browser", NULL},
    {"first user rule added wins, not first in header", "beta-x alpha-x", NULL,
     1, "scanner", "scanner: first"},
    {"one-byte user pattern", "a~b", NULL, 1, "bot", "bot: tilde"},
    {"one-byte user pattern loses to an earlier rule", "alpha-x ~", NULL, 1,
     "scanner", "scanner: first"},
    {"one-byte user pattern beats a later rule", "~ beta-x", NULL, 1, "bot",
     "bot: tilde"},
};

/* check - classify one row and compare every field. */
static void
check(const struct machine_rules *r, const struct row *c)
{
    struct machine_verdict v = {-1, "unset", NULL};
    int ok;

    machine_classify(r, c->ua, c->ip, &v);
    ok = v.machine == c->machine && v.ua_class != NULL &&
         strcmp(v.ua_class, c->cls) == 0 &&
         (c->machine ? v.reason != NULL && *v.reason != '\0'
                     : v.reason == NULL) &&
         (c->reason == NULL ||
          (v.reason != NULL && strcmp(v.reason, c->reason) == 0));
    TH_CHECK(ok, "%s", c->name);
    if (!ok)
        printf("#   got  machine=%d class=%s reason=%s\n"
               "#   want machine=%d class=%s reason=%s\n",
               v.machine, v.ua_class ? v.ua_class : "(null)",
               v.reason ? v.reason : "(null)", c->machine, c->cls,
               c->reason ? c->reason : "(any)");
}

/* add_ok - a rule that must be accepted. */
static void
add_ok(int rc, const struct err *e, const char *what)
{
    TH_CHECK(rc == 0, "accepts %s", what);
    if (rc != 0)
        printf("#   %s\n", e->msg);
}

static void
user_rules(void)
{
    struct machine_rules *r = machine_rules_new();
    struct err e;

    err_clear(&e);
    add_ok(machine_rules_add_ua(r, "GoogleImageProxy",
                                "scanner: corporate proxy", &e),
           &e, "user UA rule GoogleImageProxy");
    add_ok(machine_rules_add_net(r, "66.249.80.0/24", "bot: our uptime checker",
                                 &e),
           &e, "user net 66.249.80.0/24");
    add_ok(machine_rules_add_ua(r, "acmegate/", "Acme Gateway", &e), &e,
           "user UA rule with a plain label");
    add_ok(machine_rules_add_ua(r, "X-Relay-Img", "gmail-proxy: relay", &e), &e,
           "user UA rule gmail-proxy:");
    add_ok(machine_rules_add_ua(r, "yprox/", "Yahoo-Proxy: old proxy", &e), &e,
           "user UA rule Yahoo-Proxy:");
    add_ok(machine_rules_add_ua(r, "ApplesAndPears", "apple: not a class", &e),
           &e, "user UA rule apple:");
    add_ok(machine_rules_add_ua(r, "NoLabel", NULL, &e), &e,
           "user UA rule with NULL label");
    add_ok(machine_rules_add_net(r, "192.0.2.7",
                                 "microsoft-proxy: tenant scanner", &e),
           &e, "user single address");
    add_ok(machine_rules_add_net(r, "2001:db8::/32", "", &e), &e,
           "user IPv6 /32 with empty label");
    add_ok(machine_rules_add_net(r, "2001:dba::/127", "bot: pair", &e), &e,
           "user IPv6 /127");
    add_ok(machine_rules_add_net(r, "::ffff:198.51.100.0/120",
                                 "scanner: mapped", &e),
           &e, "user IPv4-mapped range");
    add_ok(machine_rules_add_ua(r, "ALPHA-X", "scanner: first", &e), &e,
           "user UA rule alpha-x");
    add_ok(machine_rules_add_ua(r, "~", "bot: tilde", &e), &e,
           "one-byte user UA rule");
    add_ok(machine_rules_add_ua(r, "beta-x", "bot: second", &e), &e,
           "user UA rule beta-x");
    /* a rejected add (bad label) must not leave its pattern behind */
    TH_CHECK(machine_rules_add_ua(r, "Firefox", "bad\nlabel", &e) == -1 &&
                 e.kind == EX_CONFIG,
             "rejects a label with a line break");

    for (size_t i = 0; i < sizeof user / sizeof user[0]; i++)
        check(r, &user[i]);
    machine_rules_free(r);
}

static void
add_fails(int rc, const struct err *e, const char *value, const char *what)
{
    int ok = rc == -1 && e->kind == EX_CONFIG &&
             (value == NULL || strstr(e->msg, value) != NULL) &&
             strchr(e->msg, '\n') == NULL;
    TH_CHECK(ok, "rejects %s", what);
    if (!ok)
        printf("#   rc=%d kind=%d msg=%s\n", rc, e->kind, e->msg);
}

/* free_null - machine_rules_free(NULL), run by th_survives */
static void
free_null(void)
{
    machine_rules_free(NULL);
}

static void
errors(void)
{
    struct machine_rules *r = machine_rules_new();
    struct err e;
    char big[MACHINE_PATTERN_MAX + 2];
    static const struct {
        const char *cidr, *named, *what;
    } nets[] = {
        {"10.0.0.0/33", "10.0.0.0/33", "IPv4 prefix 33"},
        {"nonsense", "nonsense", "nonsense"},
        {"::/129", "::/129", "IPv6 prefix 129"},
        {"10.0.0.0/", "10.0.0.0/", "empty prefix"},
        {"10.0.0.0/-1", "10.0.0.0/-1", "negative prefix"},
        {"10.0.0.0/ 8", "10.0.0.0/ 8", "blank in prefix"},
        {"10.0.0.0/8x", "10.0.0.0/8x", "trailing text"},
        {"10.0.0.0/0008", "10.0.0.0/0008", "four-digit prefix"},
        {"10.0.0.1/8", "10.0.0.1/8", "host bits set (IPv4)"},
        {"2001:db8::1/32", "2001:db8::1/32", "host bits set (IPv6)"},
        {"1.2.3.4.5", "1.2.3.4.5", "five octets"},
        {"256.0.0.0/8", "256.0.0.0/8", "octet 256"},
        {"/24", "/24", "no address"},
        {"2001:db8:::1/64", "2001:db8:::1/64", "bad IPv6"},
        {"10.0.0.0/8\n", "10.0.0.0/8\\x0a", "a line break (escaped)"},
        {"", NULL, "empty range"},
        {NULL, NULL, "NULL range"},
    };

    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        err_clear(&e);
        add_fails(machine_rules_add_net(r, nets[i].cidr, "x", &e), &e,
                  nets[i].named, nets[i].what);
    }
    err_clear(&e);
    add_fails(machine_rules_add_ua(r, "", "x", &e), &e, NULL, "empty pattern");
    err_clear(&e);
    add_fails(machine_rules_add_ua(r, NULL, "x", &e), &e, NULL, "NULL pattern");
    err_clear(&e);
    add_fails(machine_rules_add_ua(r, "a\tb", "x", &e), &e, "a\\x09b",
              "pattern with a tab");
    err_clear(&e);
    add_fails(machine_rules_add_ua(r, "a\x7f", "x", &e), &e, "a\\x7f",
              "pattern with DEL");
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0'; /* 201 bytes */
    err_clear(&e);
    add_fails(machine_rules_add_ua(r, big, "x", &e), &e, "ppppp",
              "201-byte pattern");
    TH_CHECK(strstr(e.msg, "ppp...") != NULL && strlen(e.msg) < 160,
             "a long value is cut short in the message");
    err_clear(&e);
    add_fails(machine_rules_add_ua(r, "ok", big, &e), &e, "ppppp",
              "201-byte label");
    err_clear(&e);
    add_fails(machine_rules_add_net(r, "192.0.2.0/24", "a\rb", &e), &e,
              "a\\x0db", "net label with CR");
    big[sizeof big - 2] = '\0'; /* 200 bytes */
    err_clear(&e);
    add_ok(machine_rules_add_ua(r, big, big, &e), &e,
           "200-byte pattern and label");
    add_ok(machine_rules_add_net(r, "0.0.0.0/0", "bot: all IPv4", &e), &e,
           "0.0.0.0/0");
    add_ok(machine_rules_add_net(r, "::/0", "bot: all IPv6", &e), &e, "::/0");
    {
        struct machine_verdict v;
        machine_classify(r, CHROME, "203.0.113.9", &v);
        TH_CHECK(v.machine == 1 && strcmp(v.reason, "bot: all IPv4") == 0,
                 "0.0.0.0/0 matches any IPv4 address");
        machine_classify(r, CHROME, "2001:db8::9", &v);
        TH_CHECK(v.machine == 1 && strcmp(v.reason, "bot: all IPv6") == 0,
                 "::/0 matches any IPv6 address");
    }
    machine_rules_free(r);
    TH_CHECK(th_survives(free_null), "machine_rules_free(NULL) is a no-op");
}

/* long_ua - only the first MACHINE_UA_SCAN bytes are looked at. */
static void
long_ua(const struct machine_rules *r)
{
    size_t n = 10 * 1024;
    char *s = malloc(n + 1);
    struct machine_verdict v;
    const char *head = "Mozilla/5.0 (compatible; Googlebot/2.1)";

    if (s == NULL)
        abort();
    memset(s, 'x', n);
    s[n] = '\0';
    memcpy(s, head, strlen(head));
    machine_classify(r, s, NULL, &v);
    TH_CHECK(v.machine == 1 && strcmp(v.ua_class, "bot") == 0 &&
                 strcmp(v.reason, "crawler: Googlebot") == 0,
             "10 KB user agent: classified by its head");

    /* "curl/" ending at the last scanned byte is seen ... */
    memset(s, 'x', n);
    memcpy(s + MACHINE_UA_SCAN - 5, "curl/", 5);
    machine_classify(r, s, NULL, &v);
    TH_CHECK(v.machine == 1 && strcmp(v.reason, "HTTP library: curl") == 0,
             "pattern ending at byte %d is seen", MACHINE_UA_SCAN);
    /* ... one byte later it is not */
    memset(s, 'x', n);
    memcpy(s + MACHINE_UA_SCAN - 4, "curl/", 5);
    machine_classify(r, s, NULL, &v);
    TH_CHECK(v.machine == 0 && v.reason == NULL &&
                 strcmp(v.ua_class, "unknown") == 0,
             "pattern past byte %d is not seen", MACHINE_UA_SCAN);
    /* a bare "Mozilla/5.0" followed by a long run of blanks is padded,
     * not bare: the scan never sees its end */
    memset(s, ' ', n);
    memcpy(s, "Mozilla/5.0", 11);
    machine_classify(r, s, NULL, &v);
    TH_CHECK(v.machine == 0 && strcmp(v.ua_class, "unknown") == 0,
             "10 KB of padding after Mozilla/5.0 is not bare");
    /* high bytes pass through the lower-casing untouched */
    memset(s, 0xC3, n);
    machine_classify(r, s, NULL, &v);
    TH_CHECK(v.machine == 0 && strcmp(v.ua_class, "unknown") == 0,
             "10 KB of non-ASCII bytes is an unknown person");
    free(s);
}

/* timing - the cost of one call for a browser's hit. */
static void
timing(const struct machine_rules *r)
{
    enum { N = 1000000 };
    struct timespec t0, t1;
    struct machine_verdict v;
    volatile unsigned sink = 0;
    double ns;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) {
        machine_classify(r, CHROME, "203.0.113.5", &v);
        sink += (unsigned)v.machine + (unsigned char)v.ua_class[0];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
          (double)(t1.tv_nsec - t0.tv_nsec)) /
         N;
    printf("# machine_classify: %.0f ns per call (browser user agent, IPv4, "
           "shipped table, %d calls)\n",
           ns, N);
    TH_CHECK(ns < 2000 && sink == (unsigned)N * 'b',
             "classify costs under 2000 ns per call (%.0f)", ns);
}

int
main(void)
{
    struct machine_rules *r = machine_rules_new();

    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++)
        check(r, &shipped[i]);
    long_ua(r);
    user_rules();
    errors();
    timing(r);
    machine_rules_free(r);
    return TH_DONE();
}
