/* SPDX-License-Identifier: ISC */
/*
 * test_provider.c - recipient domains grouped by provider
 * (engine/provider.c): the shipped table (any case, A-labels), the MX
 * suffix match on a label boundary, the user's [provider NAME] sections
 * and their configuration errors, MX rollup over the wire against a real
 * name server (dnsmasq on a loopback port, serving test MX records: a
 * missing dnsmasq is a failure, scripts/install-deps installs it), the
 * run's cache (the server's query log counts one query per domain), a
 * dead resolver (bounded, then no more lookups), and the throttle's
 * provider bucket (engine/throttle.c, on a fake clock).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "th.h"

#include "config.h"
#include "provider.h"
#include "throttle.h"

static char dir[64];

/* write_conf - dir/campaign.conf with text; its path */
static const char *
write_conf(const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/campaign.conf", dir);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const struct {
    const char *domain, *want;
} table[] = {
    {"gmail.com", "google"},
    {"googlemail.com", "google"},
    {"GMail.COM", "google"},
    {"hotmail.com", "microsoft"},
    {"hotmail.co.uk", "microsoft"},
    {"outlook.com", "microsoft"},
    {"live.com", "microsoft"},
    {"msn.com", "microsoft"},
    {"yahoo.com", "yahoo"},
    {"yahoo.fr", "yahoo"},
    {"ymail.com", "yahoo"},
    {"aol.com", "yahoo"},
    {"icloud.com", "apple"},
    {"me.com", "apple"},
    {"web.de", "gmx"},
    {"proton.me", "proton"},
    {"evilgmail.com", NULL},
    {"gmail.com.evil.test", NULL},
    {"mail.gmail.com", NULL},
    {"example.com", NULL},
};

static const struct {
    const char *host, *suffix;
    int want;
} suffixes[] = {
    {"aspmx.l.google.com", "google.com", 1},
    {"google.com", "google.com", 1},
    {"ASPMX.L.Google.COM", "google.com", 1},
    {"aspmx.l.google.com.", "google.com", 1},
    {"evilgoogle.com", "google.com", 0},
    {"mx.evilgoogle.com", "google.com", 0},
    {"google.com.evil.test", "google.com", 0},
    {"oogle.com", "google.com", 0},
    {"", "google.com", 0},
    {"x.google.com", "", 0},
    {"corp-b-test.mail.protection.outlook.com", "protection.outlook.com", 1},
    {"protection-outlook.com", "protection.outlook.com", 0},
};

static const struct {
    const char *host, *want;
} mxs[] = {
    {"aspmx.l.google.com", "google"},
    {"alt1.aspmx.l.google.com", "google"},
    {"smtp.google.com", "google"},
    {"corp-b-test.mail.protection.outlook.com", "microsoft"},
    {"hotmail-com.olc.protection.outlook.com", "microsoft"},
    {"mta5.am0.yahoodns.net", "yahoo"},
    {"mx01.mail.icloud.com", "apple"},
    {"evilgoogle.com", NULL},
    {"mx.example.net", NULL},
};

static void
test_table(void)
{
    struct limits_off {
        struct config_limits l;
    } z;
    struct providers *p;
    struct err e;

    memset(&z, 0, sizeof z);
    z.l.resolver = (char *)"off";
    p = providers_new(&z.l, &e);
    TH_CHECK(p != NULL, "providers_new with the shipped table");
    if (p == NULL)
        return;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *got = providers_of_domain(p, table[i].domain);
        if (table[i].want == NULL)
            TH_CHECK(got == NULL, "table: %s is no provider's (got %s)",
                     table[i].domain, got ? got : "NULL");
        else
            TH_STREQ(got, table[i].want, "table: %s", table[i].domain);
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        TH_CHECK(provider_suffix_match(suffixes[i].host, suffixes[i].suffix) ==
                     suffixes[i].want,
                 "suffix: \"%s\" %s \"%s\"", suffixes[i].host,
                 suffixes[i].want ? "matches" : "does not match",
                 suffixes[i].suffix);
    for (size_t i = 0; i < sizeof mxs / sizeof mxs[0]; i++) {
        const char *got = providers_of_mx(p, mxs[i].host);
        if (mxs[i].want == NULL)
            TH_CHECK(got == NULL, "mx: %s is no provider's (got %s)",
                     mxs[i].host, got ? got : "NULL");
        else
            TH_STREQ(got, mxs[i].want, "mx: %s", mxs[i].host);
    }
    TH_CHECK(provider_shipped("google") && provider_shipped("microsoft") &&
                 !provider_shipped("gogle"),
             "provider_shipped");
    /* resolver off: the table alone, nothing looked up */
    TH_STREQ(providers_resolve(p, "gmail.com"), "google",
             "resolve: gmail.com from the table");
    TH_CHECK(providers_resolve(p, "corp-a.test") == NULL,
             "resolve with resolver = off: an unknown domain is its own");
    struct providers_stats st;
    providers_stats(p, &st);
    TH_CHECK(st.lookups == 0 && st.dns_off == 1,
             "resolver = off: no lookups (%ld)", st.lookups);
    providers_free(p);
    providers_free(NULL);
}

/* the user's [provider NAME] sections */
static void
test_config(void)
{
    struct config cfg;
    struct providers *p;
    struct err e;
    const char *path =
        write_conf("[limits]\n"
                   "provider.google = 20/s\n"
                   "provider.acme = 3/s\n"
                   "resolver = off\n"
                   "[provider google]\n"
                   "domains = Corp.Example\n"
                   "[provider acme]\n"
                   "domains = bücher.example, acme.test other.test\n"
                   "mx = *.MX.acme.test .in.acme.net\n"
                   "mx = relay.acme.org.\n");

    err_clear(&e);
    if (config_load(&cfg, path, &e) == -1) {
        TH_CHECK(0, "config with [provider] sections loads: %s", e.msg);
        return;
    }
    TH_CHECK(cfg.limits.nprovider_rate == 2 &&
                 cfg.limits.provider_rate[1].rate.per_second == 3,
             "provider.NAME rates read");
    p = providers_new(&cfg.limits, &e);
    TH_CHECK(p != NULL, "providers_new from the configuration");
    if (p != NULL) {
        TH_STREQ(providers_of_domain(p, "corp.example"), "google",
                 "[provider google] domains = extends google");
        TH_STREQ(providers_of_domain(p, "gmail.com"), "google",
                 "... and keeps its shipped domains");
        TH_STREQ(providers_of_domain(p, "xn--bcher-kva.example"), "acme",
                 "a U-label domain is kept as A-labels");
        TH_STREQ(providers_of_domain(p, "XN--BCHER-KVA.EXAMPLE"), "acme",
                 "... any case");
        TH_STREQ(providers_of_domain(p, "other.test"), "acme",
                 "domains: comma- or space-separated");
        TH_STREQ(providers_of_mx(p, "in1.mx.acme.test"), "acme",
                 "mx = *.MX.acme.test matches under it");
        TH_STREQ(providers_of_mx(p, "mx.acme.test"), "acme",
                 "... and the name itself");
        TH_CHECK(providers_of_mx(p, "evilmx.acme.test") == NULL,
                 "... not evilmx.acme.test");
        TH_STREQ(providers_of_mx(p, "a.in.acme.net"), "acme",
                 "mx = .in.acme.net");
        TH_STREQ(providers_of_mx(p, "relay.acme.org"), "acme",
                 "mx = relay.acme.org. (a final dot), repeated key");
        providers_free(p);
    }
    config_free(&cfg);

    static const struct {
        const char *conf, *want;
    } bad[] = {
        {"[limits]\nprovider.gogle = 5/s\n",
         "provider.gogle: no such provider"},
        {"[limits]\nprovider.Google = 5/s\n",
         "campaign.conf:2: provider.Google"},
        {"[limits]\nprovider.google = fast\n",
         "campaign.conf:2: provider.google"},
        {"[limits]\nprovider.google = 5/s\nprovider.google = 6/s\n",
         "campaign.conf:3: provider.google: the same provider"},
        {"[limits]\nresolver = dns.example\n", "campaign.conf:2: resolver"},
        {"[limits]\nresolver = 127.0.0.1:0\n", "campaign.conf:2: resolver"},
        {"\n[provider acme]\nmx = bad_host!\n", "campaign.conf:3: mx"},
        {"[provider acme]\ndomains = \u2603.com\n", "campaign.conf:2: domains"},
        {"[provider acme]\nhosts = a.b\n", "campaign.conf:2: unknown key"},
        {"[provider]\ndomains = a.b\n", "campaign.conf:2: [provider ]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        path = write_conf(bad[i].conf);
        int rc = config_load(&cfg, path, &e);
        TH_CHECK(rc == -1 && e.kind == EX_CONFIG && strstr(e.msg, bad[i].want),
                 "config error %zu: \"%s\" (got \"%s\")", i, bad[i].want,
                 rc == -1 ? e.msg : "no error");
        config_free(&cfg);
    }
    /* the environment override */
    path = write_conf("[limits]\nprovider.google = 5/s\n");
    setenv("CAMPAIGN_LIMITS_RESOLVER", "127.0.0.1:5353", 1);
    err_clear(&e);
    if (config_load(&cfg, path, &e) == 0) {
        TH_STREQ(cfg.limits.resolver, "127.0.0.1:5353",
                 "CAMPAIGN_LIMITS_RESOLVER sets [limits] resolver");
    } else {
        TH_CHECK(0, "CAMPAIGN_LIMITS_RESOLVER: %s", e.msg);
    }
    config_free(&cfg);
    unsetenv("CAMPAIGN_LIMITS_RESOLVER");
}

/* free_udp_port - a UDP port of 127.0.0.1 nobody has right now */
static int
free_udp_port(void)
{
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), port;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &n);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* queries - how many times dnsmasq's log shows an MX query for name */
static int
queries(const char *log, const char *name)
{
    char line[512], want[256];
    int n = 0;
    FILE *f = fopen(log, "r");

    if (f == NULL)
        return -1;
    snprintf(want, sizeof want, "query[MX] %s from", name);
    while (fgets(line, sizeof line, f))
        if (strstr(line, want))
            n++;
    fclose(f);
    return n;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* start_dnsmasq - dnsmasq on 127.0.0.1:port with the test records,
 * queries logged to log; its pid, or -1 */
static pid_t
start_dnsmasq(int port, const char *log)
{
    char portarg[32], logarg[160];
    pid_t pid;

    snprintf(portarg, sizeof portarg, "--port=%d", port);
    snprintf(logarg, sizeof logarg, "--log-facility=%s", log);
    pid = fork();
    if (pid == 0) {
        execl("/usr/sbin/dnsmasq", "dnsmasq", "--keep-in-foreground",
              "--no-resolv", "--no-hosts", "--bind-interfaces",
              "--listen-address=127.0.0.1", "--pid-file=", "--user=root",
              portarg, "--log-queries", logarg,
              "--mx-host=corp-a.test,aspmx.l.google.com,10",
              "--mx-host=corp-a.test,mx.backup.test,20",
              "--mx-host=corp-b.test,corp-b-test.mail.protection.outlook."
              "com,10",
              "--mx-host=corp-c.test,mx.corp-c.test,5",
              "--mx-host=corp-c.test,aspmx.l.google.com,10",
              /* the same the other way round: whatever the order the
               * server gives them in, the preference decides */
              "--mx-host=corp-d.test,aspmx.l.google.com,10",
              "--mx-host=corp-d.test,mx.corp-d.test,5",
              /* authoritative for .test: NXDOMAIN for what is not
               * here, NODATA for nomx.test's MX */
              "--local=/test/", "--host-record=nomx.test,192.0.2.1",
              (char *)NULL);
        _exit(127);
    }
    /* up when the log says so (bounded: 5 s) */
    for (int i = 0; i < 50; i++) {
        char line[256];
        FILE *f = fopen(log, "r");
        int up = 0;
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "started"))
                up = 1;
        if (f)
            fclose(f);
        if (up)
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        usleep(100000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

/* MX rollup against dnsmasq, and the cache */
static void
test_dns(void)
{
    struct config_limits l;
    char resolver[64], log[128];
    struct providers *p;
    struct providers_stats st;
    struct err e;
    int port = free_udp_port();
    pid_t pid;

    if (access("/usr/sbin/dnsmasq", X_OK) != 0) {
        TH_CHECK(0, "dnsmasq is installed (scripts/install-deps: "
                    "dnsmasq-base)");
        return;
    }
    snprintf(log, sizeof log, "%s/dnsmasq.log", dir);
    pid = start_dnsmasq(port, log);
    TH_CHECK(pid > 0, "dnsmasq starts on 127.0.0.1:%d", port);
    if (pid <= 0)
        return;
    memset(&l, 0, sizeof l);
    snprintf(resolver, sizeof resolver, "127.0.0.1:%d", port);
    l.resolver = resolver;
    p = providers_new(&l, &e);
    TH_CHECK(p != NULL, "providers_new with resolver %s", resolver);
    if (p != NULL) {
        for (int round = 0; round < 3; round++) {
            TH_STREQ(providers_resolve(p, "corp-a.test"), "google",
                     "corp-a.test (MX aspmx.l.google.com) is google, round %d",
                     round);
            TH_STREQ(providers_resolve(p, "CORP-B.test"), "microsoft",
                     "corp-b.test (MX *.mail.protection.outlook.com) is "
                     "microsoft, round %d",
                     round);
            TH_CHECK(providers_resolve(p, "corp-c.test") == NULL,
                     "corp-c.test: its most preferred MX is its own, Google "
                     "only the backup: no provider, round %d",
                     round);
            TH_CHECK(providers_resolve(p, "corp-d.test") == NULL,
                     "corp-d.test: the same, its records the other way "
                     "round, round %d",
                     round);
            TH_CHECK(providers_resolve(p, "nomx.test") == NULL,
                     "nomx.test (no MX): its own group, round %d", round);
            TH_CHECK(providers_resolve(p, "nowhere.test") == NULL,
                     "nowhere.test (NXDOMAIN): its own group, round %d", round);
            TH_STREQ(providers_resolve(p, "gmail.com"), "google",
                     "gmail.com: the table, round %d", round);
        }
        providers_stats(p, &st);
        TH_CHECK(st.lookups == 6, "6 domains looked up once each (%ld)",
                 st.lookups);
        TH_CHECK(st.by_mx == 2 && st.failed == 0 && st.dns_off == 0,
                 "2 by MX, none failed (%ld, %ld, %d)", st.by_mx, st.failed,
                 st.dns_off);
        providers_free(p);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    /* the server's side: one query per domain, none for the table's */
    TH_CHECK(queries(log, "corp-a.test") == 1,
             "dnsmasq saw corp-a.test once (%d)", queries(log, "corp-a.test"));
    TH_CHECK(queries(log, "nowhere.test") == 1,
             "dnsmasq saw nowhere.test once: a negative answer is kept too "
             "(%d)",
             queries(log, "nowhere.test"));
    TH_CHECK(queries(log, "gmail.com") == 0,
             "dnsmasq never asked about gmail.com (%d)",
             queries(log, "gmail.com"));
}

/* a resolver that does not answer: bounded, then off for the run */
static void
test_dead(void)
{
    struct config_limits l;
    char resolver[64];
    struct providers *p;
    struct providers_stats st;
    struct err e;
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    double t0, t;

    /* a bound socket nobody reads: queries time out (no ICMP refusal) */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &n);
    memset(&l, 0, sizeof l);
    snprintf(resolver, sizeof resolver, "127.0.0.1:%d", ntohs(a.sin_port));
    l.resolver = resolver;
    p = providers_new(&l, &e);
    TH_CHECK(p != NULL, "providers_new with a silent resolver");
    if (p == NULL) {
        close(fd);
        return;
    }
    t0 = now_s();
    TH_CHECK(providers_resolve(p, "a.test") == NULL, "a.test: no answer");
    t = now_s() - t0;
    TH_CHECK(t >= 1.5 && t < PROVIDER_DNS_TIMEOUT + 1.5,
             "one lookup waits about %d s (%.1f s)", PROVIDER_DNS_TIMEOUT, t);
    t0 = now_s();
    TH_CHECK(providers_resolve(p, "a.test") == NULL && now_s() - t0 < 0.1,
             "a.test again: the failure is kept, no wait");
    for (int i = 0; i < 10; i++) {
        char d[32];
        snprintf(d, sizeof d, "d%d.test", i);
        providers_resolve(p, d);
    }
    t = now_s() - t0;
    providers_stats(p, &st);
    TH_CHECK(st.lookups == PROVIDER_DNS_FAILS && st.dns_off == 1,
             "after %d failures in a row no more lookups (%ld, off %d)",
             PROVIDER_DNS_FAILS, st.lookups, st.dns_off);
    TH_CHECK(t < (PROVIDER_DNS_FAILS - 1) * (PROVIDER_DNS_TIMEOUT + 1.5),
             "11 more domains in %.1f s", t);
    TH_STREQ(providers_resolve(p, "googlemail.com"), "google",
             "the table still works");
    providers_free(p);
    close(fd);
}

/* taken - messages a take every ms lets go in [from, to), alternating
 * the domains */
static int
taken(struct throttle *t, const char *const *dom, const char *const *prov,
      int n, int64_t from, int64_t to)
{
    int got = 0, k = 0;

    for (int64_t ms = from; ms < to; ms++)
        if (throttle_take_provider(t, dom[k % n], prov[k % n],
                                   THROTTLE_NO_RELAY, ms) == 0) {
            got++;
            k++;
        }
    return got;
}

static void
test_throttle(void)
{
    struct config_limits l;
    struct throttle *t;
    const char *dom[] = {"gmail.com", "googlemail.com", "corp-a.test"};
    const char *google[] = {"google", "google", "google"};
    const char *none[] = {NULL, NULL, NULL};
    const char *other[] = {"microsoft", "microsoft", "microsoft"};
    int n;

    memset(&l, 0, sizeof l);
    l.provider_rate[0].name = (char *)"google";
    l.provider_rate[0].rate.per_second = 5;
    l.nprovider_rate = 1;
    t = throttle_new(&l, 1000000);
    /* 10 s: 5/s and a burst of 1 (the default, a tenth of 5, at least 1) */
    n = taken(t, dom, google, 3, 1000000, 1010000);
    TH_CHECK(n >= 50 && n <= 51,
             "provider google at 5/s: 3 domains together, 10 s: %d", n);
    n = taken(t, dom, none, 3, 1010000, 1011000);
    TH_CHECK(n == 1000, "the same domains with no provider: unlimited (%d)", n);
    n = taken(t, dom, other, 3, 1011000, 1012000);
    TH_CHECK(n == 1000, "a provider with no rate: unlimited (%d)", n);
    throttle_free(t);

    /* the tightest wins: domain.gmail.com = 2/s under provider 5/s */
    l.domain[0].domain = (char *)"gmail.com";
    l.domain[0].rate.per_second = 2;
    l.ndomain = 1;
    t = throttle_new(&l, 1000000);
    n = taken(t, dom, google, 1, 1000000, 1010000);
    TH_CHECK(n >= 20 && n <= 21, "gmail.com at 2/s within google's 5/s: %d", n);
    throttle_free(t);
    /* and the global rate under both */
    l.rate.per_second = 1;
    t = throttle_new(&l, 1000000);
    n = taken(t, dom, google, 3, 1000000, 1010000);
    TH_CHECK(n >= 10 && n <= 11, "global 1/s under google's 5/s: %d", n);
    throttle_free(t);

    /* a throttling reply about a Google recipient cuts Google's rate,
     * not the others' */
    memset(&l, 0, sizeof l);
    l.provider_rate[0].name = (char *)"google";
    l.provider_rate[0].rate.per_second = 10;
    l.nprovider_rate = 1;
    l.domain[0].domain = (char *)"other.example";
    l.domain[0].rate.per_second = 10;
    l.ndomain = 1;
    t = throttle_new(&l, 1000000);
    throttle_slow_provider(t, "corp-a.test", "google", THROTTLE_NO_RELAY,
                           1000000);
    n = taken(t, dom + 2, google, 1, 1000000, 1004000);
    TH_CHECK(n >= 19 && n <= 21,
             "google after a slow-down: 5/s for 4 s, not 10/s (%d)", n);
    {
        const char *od[] = {"other.example"};
        n = taken(t, od, none, 1, 1004000, 1008000);
        TH_CHECK(n >= 40 && n <= 42, "other.example keeps its 10/s (%d)", n);
    }
    throttle_free(t);
}

int
main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_provider.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_table();
    test_config();
    test_dns();
    test_dead();
    test_throttle();
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    return TH_DONE();
}
