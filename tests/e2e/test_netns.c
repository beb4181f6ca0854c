/* test_netns.c -- workers on three "hosts" (network namespaces) sharing one
 * PostgreSQL over TCP, one S3 server and the report-server simulator, and
 * one host's link cut in the middle of a backfill.
 *
 * tests/fixtures/netns/netctl.sh makes the hosts: namespaces joined to a
 * bridge in the root namespace by veth pairs, on a private /24.
 * PostgreSQL (the fixture's, as a non-root user), s3rver and the simulator
 * listen on the bridge's address; one `tillpipe worker` runs in each
 * namespace (`ip netns exec`) with a short lease.  Once host a has done a
 * couple of jobs, its next load is held inside its transaction (HOLD: a
 * test-only trigger waits for an advisory lock the test holds) and its
 * link is set down.  What must follow: its jobs -- the one whose load
 * transaction the server holds for a client that went silent, too -- are
 * rescued by the other hosts after the lease; every job ends succeeded
 * once; the records are exactly what `tillpipe run` gives for the same
 * files.  Then the link comes back: the cut worker's late writes are
 * refused by the fence and change nothing.
 *
 * Needs root (CAP_NET_ADMIN) and ip (iproute2): without them it prints
 * "netns: skipped: ..." and CTest counts it as skipped.  Whatever happens,
 * the namespaces, veths and bridge go (at exit, and by netctl.sh's
 * watchdog when this process is killed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgcase.h"

#define NETCTL TP_TEST_SOURCE_DIR "/tests/fixtures/netns/netctl.sh"
#define S3CTL TP_TEST_SOURCE_DIR "/tests/fixtures/s3/s3ctl.sh"
#define NHOSTS 3
/* The backfill: 3 branches x 2 terminals x DAYS days from 2025-04-01. */
#define DAYS 16
#define JOBS (3 * 2 * DAYS)

typedef struct host {
    char name[8], ns[48], link[24], addr[32];
} host;

static pid_t owner; /* this process: the forked cases must not tear down */
static char tag[16], br_addr[32], br_cidr[40];
static host hosts[NHOSTS];
static const char *sim; /* the simulator's URL, on the bridge */
static char served[700], s3dir[700], s3_endpoint[128];

/* ------------------------------------------------------------ the network */

static void net_down(void)
{
    if (getpid() != owner || !tag[0])
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, NETCTL " down %s", tag);
    tu_run(cmd, NULL);
    tag[0] = '\0';
}

/* `netctl.sh up`: 0, 77 when this machine cannot make namespaces (said on
 * stdout, one line), else 1. */
static int net_up(void)
{
    snprintf(tag, sizeof tag, "%d", (int)owner);
    char cmd[600], *out = NULL;
    snprintf(cmd, sizeof cmd, "NETCTL_OWNER_PID=%d " NETCTL " up %s %d", (int)owner, tag, NHOSTS);
    int rc = tu_run(cmd, &out);
    if (rc == 77) {
        tag[0] = '\0';
        printf("netns: skipped: %s", out);
        free(out);
        return 77;
    }
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
        host h = {0};
        if (sscanf(l, "bridge %31s %39s", br_addr, br_cidr) == 2)
            continue;
        if (sscanf(l, "host %7s %47s %23s %31s", h.name, h.ns, h.link, h.addr) == 4 && n < NHOSTS)
            hosts[n++] = h;
    }
    if (rc != 0 || n != NHOSTS || !br_addr[0]) {
        fprintf(stderr, "test_netns: %s: exit %d\n%s", cmd, rc, out);
        free(out);
        net_down();
        return 1;
    }
    free(out);
    return 0;
}

/* ip link set down / up the root end of host h's veth. */
static void link_set(const host *h, const char *verb)
{
    free(ok(NETCTL " %s %s %s", verb, tag, h->name));
}

/* ------------------------------------------------------------ the servers */

/* The served folder (the backfill's days); the simulator and s3rver on the
 * bridge's address. */
static void servers_up(void)
{
    snprintf(served, sizeof served, "%s/served", root);
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd,
             BIN " gen --branches 3 --days %d --seed 131 --start 2025-04-01 --no-faults"
                 " --orders 80 --out %s",
             DAYS, served);
    if (tu_run(cmd, &out) != 0) {
        fprintf(stderr, "test_netns: %s\n%s", cmd, out ? out : "");
        exit(EXIT_FAILURE);
    }
    free(out);
    if (!(sim = tu_sim_start_at(br_addr, served, NULL))) {
        fprintf(stderr, "test_netns: cannot start the simulator on %s\n", br_addr);
        exit(EXIT_FAILURE);
    }
    snprintf(s3dir, sizeof s3dir, "%s/s3", root);
    snprintf(cmd, sizeof cmd, "S3CTL_ADDRESS=%s S3CTL_OWNER_PID=%d " S3CTL " start %s tillpipe-raw",
             br_addr, (int)owner, s3dir);
    if (tu_run(cmd, &out) != 0) {
        fprintf(stderr, "test_netns: %s\n%s", cmd, out ? out : "");
        exit(EXIT_FAILURE);
    }
    free(out);
    char path[800];
    snprintf(path, sizeof path, "%s/endpoint", s3dir);
    char *ep = tu_read(path, NULL);
    if (!ep)
        exit(EXIT_FAILURE);
    ep[strcspn(ep, "\n")] = '\0';
    snprintf(s3_endpoint, sizeof s3_endpoint, "%s", ep);
    free(ep);
}

static void servers_down(void)
{
    tu_sim_stop();
    char cmd[900];
    snprintf(cmd, sizeof cmd, S3CTL " stop %s", s3dir);
    tu_run(cmd, NULL);
}

/* ------------------------------------------------------------ the case */

/* The case's database over TCP, on the bridge: postgresql://...@ADDR:PORT/DB. */
static void tcp_url(char *buf, size_t size, const char *db)
{
    const char *p = strstr(base_url, "port=");
    ck_assert_ptr_nonnull(p);
    snprintf(buf, size, "postgresql://tillpipe@%s:%ld/%s", br_addr, strtol(p + 5, NULL, 10), db);
}

/* Worker w's id in the database (host:pid:time), once it has claimed a job. */
static char *worker_id(int w)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)workers[w].pid);
    ck_assert(wait_for(60, "1",
                       "SELECT count(DISTINCT worker) FROM job_attempts"
                       " WHERE split_part(worker, ':', 2) = '%s'",
                       pid));
    return qs("SELECT min(worker) FROM job_attempts WHERE split_part(worker, ':', 2) = '%s'", pid);
}

/* A worker whose connections are named HOLD (PGAPPNAME) marks a job
 * succeeded -- inside its load transaction, the job row locked -- only
 * when it can take a shared advisory lock that the test may hold: a
 * test-only trigger in the case's database, nothing of tillpipe's. */
#define HOLD "PGAPPNAME=tillpipe-test-hold"
#define HOLD_KEY "4242"
static void install_hold(void)
{
    free(qs("CREATE FUNCTION tp_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF current_setting('application_name') = 'tillpipe-test-hold' THEN"
            " PERFORM pg_advisory_xact_lock_shared(" HOLD_KEY "); END IF; RETURN NEW; END $$"));
    free(qs("CREATE TRIGGER tp_test_hold BEFORE UPDATE OF status ON jobs FOR EACH ROW"
            " WHEN (NEW.status = 'succeeded' AND OLD.status = 'running')"
            " EXECUTE FUNCTION tp_test_hold()"));
}

/* What must not change once the backfill is done: jobs, attempts, events,
 * records, files, findings -- one digest. */
#define STATE_DIGEST                                                                               \
    "SELECT md5(concat_ws('|',"                                                                    \
    " (SELECT string_agg(concat_ws(',', id, status, attempts, records, last_error, finished_at,"   \
    " lease_owner), ';' ORDER BY id) FROM jobs),"                                                  \
    " (SELECT string_agg(concat_ws(',', job_id, attempt, worker, stage, error_code, message,"      \
    " finished_at), ';' ORDER BY id) FROM job_attempts),"                                          \
    " (SELECT count(*) FROM job_events),"                                                          \
    " (SELECT string_agg(concat_ws(',', job_id, source_file, source_line), ';'"                    \
    " ORDER BY job_id, source_file, source_line) FROM records),"                                   \
    " (SELECT string_agg(concat_ws(',', job_id, attempt, sha256), ';' ORDER BY id) FROM files),"   \
    " (SELECT count(*) FROM quality_flags)))"

/* Host a's attempts: each either done or cut off (lease_expired), one cut
 * off inside its load transaction at least, and every one cut off followed
 * by an attempt of another host that did the job. */
static void cut_attempts_rescued(const char *a)
{
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts WHERE worker = '%s'"
                        " AND (stage <> 'done' OR error_code IS NOT NULL)"
                        " AND error_code IS DISTINCT FROM 'lease_expired'",
                        a),
                     0);
    ck_assert_int_ge(qi("SELECT count(*) FROM job_attempts WHERE worker = '%s'"
                        " AND error_code = 'lease_expired' AND stage = 'load'"
                        " AND message LIKE '%%cut off%%' AND finished_at IS NOT NULL",
                        a),
                     1);
    ck_assert_int_eq(qi("SELECT count(*) FROM job_attempts x WHERE x.worker = '%s'"
                        " AND x.error_code = 'lease_expired' AND NOT EXISTS (SELECT 1"
                        " FROM job_attempts y JOIN jobs j ON j.id = y.job_id"
                        " AND j.attempts = y.attempt WHERE y.job_id = x.job_id"
                        " AND y.attempt > x.attempt AND y.stage = 'done'"
                        " AND y.error_code IS NULL AND y.worker <> x.worker)",
                        a),
                     0);
    /* nothing of a cut-off attempt was kept */
    ck_assert_int_eq(qi("SELECT count(*) FROM files f JOIN jobs j ON j.id = f.job_id"
                        " WHERE f.attempt <> j.attempts"),
                     0);
}

/* One worker per host over TCP (host a's named HOLD), the store in s3rver,
 * the reports from the simulator, all on the bridge. */
static void start_workers(int *w)
{
    char db[800], store[300];
    tcp_url(db, sizeof db, "nn_cut");
    snprintf(store, sizeof store, "s3://tillpipe-raw?endpoint=%s&https=0", s3_endpoint);
    setenv("TILLPIPE_S3_ACCESS_KEY", "S3RVER", 1);
    setenv("TILLPIPE_S3_SECRET_KEY", "S3RVER", 1);
    for (int i = 0; i < NHOSTS; i++) {
        free(ok("mkdir -p %s/work-%s", tmp, hosts[i].name));
        w[i] = spawn(i == 0 ? HOLD : NULL,
                     "ip netns exec %s " WORKER " --database '%s' --server %s --store '%s'"
                     " --workdir %s/work-%s --concurrency 2 --exit-when-idle",
                     hosts[i].ns, db, sim, store, tmp, hosts[i].name);
    }
}

START_TEST(cut_host_is_rescued)
{
    case_begin("nn_cut");
    install_hold();
    only_branches("'BMC', 'MAGS', 'AYALA-FRN'");
    char want[96];
    snprintf(want, sizeof want, "%d jobs queued", JOBS);
    ok_contains(want, BIN " enqueue --from 2025-04-01 --to 2025-04-%02d", DAYS);
    int w[NHOSTS];
    start_workers(w);
    char *a = worker_id(w[0]);

    /* host a does a few jobs; then its next load waits inside its
     * transaction, and its link goes down */
    ck_assert(wait_for(60, "t",
                       "SELECT count(*) >= 2 FROM job_attempts WHERE worker = '%s'"
                       " AND stage = 'done'",
                       a));
    PGconn *hold = conn();
    exec_ok(hold, "SELECT pg_advisory_lock(" HOLD_KEY ")");
    ck_assert_msg(wait_for(60, "t",
                           "SELECT count(*) > 0 FROM pg_stat_activity WHERE client_addr = '%s'"
                           " AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                           hosts[0].addr),
                  "host a never waited in a load");
    link_set(&hosts[0], "cut");
    TRACE("host a cut off");
    exec_ok(hold, "SELECT pg_advisory_unlock(" HOLD_KEY ")");
    PQfinish(hold);
    if (getenv("TP_TEST_VERBOSE"))
        fprintf(stderr, "at the cut: %lld queued, %lld running (%lld of them host a's)\n",
                qi("SELECT count(*) FROM jobs WHERE status = 'queued'"),
                qi("SELECT count(*) FROM jobs WHERE status = 'running'"),
                qi("SELECT count(*) FROM jobs WHERE status = 'running' AND lease_owner = '%s'", a));

    /* the others finish the backfill, host a's jobs included */
    expect_exit(w[1], 120, 0);
    expect_exit(w[2], 120, 0);
    all_succeeded_once(JOBS);
    long long n = load_expected(served, "");
    records_are_expected(n);
    cut_attempts_rescued(a);
    long long cut = qi("SELECT count(*) FROM job_attempts WHERE worker = '%s'"
                       " AND error_code = 'lease_expired'",
                       a);
    char *before = qs(STATE_DIGEST);

    /* the link back: host a's worker finds its leases gone, its late
     * writes (the failures of its cut-off attempts) are refused by the
     * fence, it writes nothing and exits with the queue empty */
    link_set(&hosts[0], "mend");
    TRACE("host a back");
    expect_exit(w[0], 120, 0);
    log_contains(w[0], "the lease was already lost");
    snprintf(want, sizeof want, "0 retried, 0 failed, 0 cancelled, 0 released, %lld lost", cut);
    log_contains(w[0], want);
    char *after = qs(STATE_DIGEST);
    ck_assert_str_eq(before, after);
    all_succeeded_once(JOBS);
    records_are_expected(n);
    free(before);
    free(after);
    free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("netns");
    pc_add(s, "nn_cut", cut_host_is_rescued);
    return s;
}

int main(void)
{
    owner = getpid();
    if (geteuid() != 0) {
        printf("netns: skipped: needs root (CAP_NET_ADMIN) to make network namespaces\n");
        return EXIT_SUCCESS;
    }
    int rc = net_up();
    if (rc == 77)
        return EXIT_SUCCESS;
    if (rc != 0)
        return EXIT_FAILURE;
    atexit(net_down);
    /* the fixture's PostgreSQL also listens on the bridge, for the hosts */
    setenv("PGCTL_LISTEN", br_addr, 1);
    setenv("PGCTL_ALLOW", br_cidr, 1);
    rc = pc_main("test_netns", suite(), servers_up, servers_down);
    net_down();
    return rc;
}
