/*
 * cmd/admin_status.c — ca-admin status: one screen of what an operator
 * checks each morning, and an exit status for cron (0 nothing to do, 1
 * something needs action: each is listed). Thresholds are in
 * docs/operations.md and ca-admin(8).
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"
#include "cmd/admin_ops.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

/* Thresholds: past these, something needs action. */
#define ST_CA_DAYS		90	/* a CA certificate expires within */
#define ST_OCSP_SECS		86400	/* the OCSP signer (rotates 2d before) */
#define ST_TLS_DAYS		7	/* ca-server's certificate (renews at 1/3) */
#define ST_STORE_RATIO		0.8	/* of the LMDB map in use */
#define ST_BACKUP_SECS		(26 * 3600)	/* a daily backup, with slack */
#define ST_CRL_MAX		256	/* every slot's, shard's, delta */

struct crlst {
	char		 name[64];
	uint64_t	 number;
	time_t		 next_update;
	int		 retired;	/* its last CRL: nothing is due */
};

struct report {
	json_t		*o;
	json_t		*actions;
};

static void
action(struct report *rp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
action(struct report *rp, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(rp->actions, json_string(buf));
}

/*
 * Every CRL of every CA slot and shard (and a partitioned CA's whole
 * one), full and delta, from the store: what is not there is skipped.
 */
static size_t
crls_get(struct ca *ca, time_t now, struct crlst *out)
{
	struct store_txn *txn = NULL;
	const unsigned char *der;
	struct crl_info info;
	struct crl_id id;
	size_t len, n = 0;
	unsigned int shards, k;
	int slot, delta;

	if (store_txn_begin(ca_store(ca), 0, &txn) != LY_OK)
		return 0;
	for (slot = 0; slot < ca_nslots(ca); slot++) {
		shards = ca_crl_shards(ca, slot);
		/* k == shards: the whole scope's (shard -1) */
		for (k = 0; k < shards + (shards > 1); k++)
			for (delta = 0; delta <= 1 && n < ST_CRL_MAX; delta++) {
				id.slot = slot;
				id.shard = shards > 1 && k < shards ? (int)k : -1;
				id.delta = delta;
				if (crl_get(txn, ca, &id, &der, &len, &info) !=
				    LY_OK)
					continue;
				crl_name(ca, &id, out[n].name,
				    sizeof(out[n].name));
				out[n].number = info.number;
				out[n].next_update = info.next_update;
				out[n].retired = ca_slot_state(ca, slot, now) ==
				    CA_SLOT_RETIRED;
				n++;
			}
	}
	store_txn_abort(txn);
	ly_errclear();
	return n;
}

/*
 * Whether a ca-server serves this instance: the supervisor whose PID is
 * in DIR/ca-server.lock holds a flock on that file (cmd/ca-server.c).
 * The lock is looked up in /proc/locks, never taken: a status run from
 * cron must not make a ca-server that starts at that moment find the
 * instance locked. The PID of the lock's holder must be the one the file
 * names, so a stale file or an inode number of another file system never
 * counts. 0: no server.
 */
static long
server_pid(const char *dir)
{
	char *path, buf[32], line[256], type[16];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	long pid = 0, holder, named;
	ssize_t n;
	FILE *f = NULL;
	int fd = -1;

	if ((path = ly_path_join(dir, "ca-server.lock")) == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		goto out;
	buf[n] = '\0';
	if ((named = strtol(buf, NULL, 10)) <= 0 ||
	    (f = fopen("/proc/locks", "r")) == NULL)
		goto out;
	/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters: "->" */
	while (pid == 0 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %15s %*s %*s %ld %x:%x:%lu", type, &holder,
		    &maj, &min, &ino) != 5 || strcmp(type, "FLOCK") != 0)
			continue;
		if (ino == (unsigned long)st.st_ino && holder == named)
			pid = named;
	}
 out:
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	free(path);
	return pid;
}

static json_t *
time_json(time_t t)
{
	char ts[21];

	if (t == 0)
		return json_null();
	ly_time_fmt(t, ts);
	return json_string(ts);
}

static void
check_cas(const struct ca_status *st, struct report *rp)
{
	json_t *a = json_array();
	int slot;

	for (slot = 0; slot < st->nca; slot++) {
		long left = (long)(st->ca[slot].not_after - st->now);
		int state = st->ca[slot].state;

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}",
		    "name", st->ca[slot].name, "issuer", st->ca[slot].issuer,
		    "state", ca_slot_state_name(state), "not_after",
		    time_json(st->ca[slot].not_after)));
		/* A superseded generation is meant to run out. */
		if (state != CA_SLOT_ACTIVE)
			continue;
		if (st->ca[slot].need > 0 && left < st->ca[slot].need)
			action(rp, "the %s CA has %ld days left, less than the "
			    "%ld days a certificate of its profiles needs "
			    "(validity plus reissue window): new ones are cut "
			    "to its notAfter; roll it over (ca-admin issuer "
			    "rollover %s) or set rollover_before",
			    st->ca[slot].name, left / 86400,
			    (st->ca[slot].need + 86399) / 86400,
			    st->ca[slot].issuer);
		else if (left < ST_CA_DAYS * 86400L)
			action(rp, "the %s CA certificate expires within %d "
			    "days: plan its rollover", st->ca[slot].name,
			    ST_CA_DAYS);
	}
	json_object_set_new(rp->o, "cas", a);
}

static void
check_crls(struct ca *ca, const struct ca_status *st, struct report *rp)
{
	struct crlst c[ST_CRL_MAX];
	json_t *a = json_array();
	size_t n = crls_get(ca, st->now, c), i;

	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_pack("{s:s, s:I, s:o}", "name",
		    c[i].name, "number", (json_int_t)c[i].number,
		    "next_update", time_json(c[i].next_update)));
		if (c[i].next_update <= st->now && !c[i].retired)
			action(rp, "CRL %s is past its nextUpdate: relying "
			    "parties refuse it (is ca-server running? "
			    "ca-admin crl publish)", c[i].name);
	}
	if (n == 0)
		action(rp, "no CRL has been published");
	json_object_set_new(rp->o, "crls", a);
}

/*
 * What the root's ceremony signed: its CRL and the OCSP responses about
 * the issuing CA. Their nextUpdate comes while the root token is in the
 * safe: warn ca_root_renew_before() ahead (a ceremony
 * is planned), not when relying parties already refuse.
 */
static void
check_root(struct ca *ca, const struct ca_status *st, struct report *rp)
{
	struct store_txn *txn = NULL;
	struct crl_info info;
	struct crl_id id = { CA_ROOT, -1, 0 };
	long ahead = ca_root_renew_before(ca, ca_conf(ca)->root.ocsp_validity);
	int slot;
	time_t ocsp_next = 0, soon = st->now + ahead;
	size_t n = 0;

	if (ocsp_root_next_update(ca, &ocsp_next, &n) != LY_OK) {
		action(rp, "the root's OCSP responses cannot be read: %s",
		    ly_errdetail());
		return;
	}
	json_object_set_new(rp->o, "root_ocsp", json_pack("{s:I, s:o}",
	    "certificates", (json_int_t)n, "next_update",
	    time_json(ocsp_next)));
	if (n > 0 && ocsp_next == 0)
		action(rp, "the root has signed no OCSP response about a CA "
		    "certificate it issued: ca-admin root crl");
	else if (n > 0 && ocsp_next <= soon)
		action(rp, "the root's OCSP responses about CA certificates "
		    "expire within %ld days: ca-admin root crl (root token)",
		    ahead / 86400);
	if (store_txn_begin(ca_store(ca), 0, &txn) != LY_OK)
		return;
	/* Each root generation's that is not retired (root rollover). */
	for (slot = 0; slot < ca_nslots(ca); slot++) {
		if (!ca_slot_is_root(ca, slot) || ca_slot_state(ca, slot,
		    st->now) == CA_SLOT_RETIRED)
			continue;
		id.slot = slot;
		if (crl_get(txn, ca, &id, NULL, NULL, &info) == LY_OK &&
		    info.next_update > st->now && info.next_update <= st->now +
		    (ahead = ca_root_renew_before(ca, (long)(info.next_update -
		    info.this_update))))
			action(rp, "the %s CRL's nextUpdate is within %ld "
			    "days: ca-admin root crl (root token)",
			    ca_slot_name(ca, slot), ahead / 86400);
	}
	store_txn_abort(txn);
	ly_errclear();
}

static void
check_rest(const struct ca_status *st, struct report *rp)
{
	double ratio = st->store_map > 0 ? (double)st->store_used /
	    (double)st->store_map : 0;

	json_object_set_new(rp->o, "ocsp_signer_not_after",
	    time_json(st->ocsp_not_after));
	if (st->ocsp_not_after - st->now < ST_OCSP_SECS)
		action(rp, "the OCSP signer expires within a day (ca-server "
		    "rotates it; ca-admin ocsp refresh)");
	json_object_set_new(rp->o, "tls_not_after",
	    time_json(st->tls_not_after));
	if (st->tls_not_after != 0 &&
	    st->tls_not_after - st->now < ST_TLS_DAYS * 86400L)
		action(rp, "the HTTPS certificate expires within %d days",
		    ST_TLS_DAYS);
	json_object_set_new(rp->o, "store", json_pack("{s:I, s:I, s:f, s:i}",
	    "used_bytes", (json_int_t)st->store_used, "map_bytes",
	    (json_int_t)st->store_map, "ratio", ratio, "schema",
	    (int)st->schema));
	if (ratio > ST_STORE_RATIO)
		action(rp, "the store uses %.0f%% of its map: raise [ca] "
		    "store_map_mb or run ca-admin tidy", ratio * 100);
	if (st->schema < STORE_SCHEMA_VERSION)
		action(rp, "the store has schema version %u: run ca-admin "
		    "upgrade", st->schema);
	json_object_set_new(rp->o, "last_backup", time_json(st->last_backup));
	if (st->last_backup == 0 || st->now - st->last_backup > ST_BACKUP_SECS)
		action(rp, "no backup in the last %d hours: ca-admin backup",
		    ST_BACKUP_SECS / 3600);
	json_object_set_new(rp->o, "tokens_outstanding",
	    json_integer((json_int_t)st->tokens_outstanding));
	json_object_set_new(rp->o, "identities_disabled",
	    json_integer((json_int_t)st->disabled));
}

static void
profiles_json(const struct ca_status *st, struct report *rp)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < st->nprofiles; i++) {
		const struct ca_status_profile *p = &st->profiles[i];

		json_object_set_new(o, p->name, json_pack("{s:I, s:I, s:I, "
		    "s:I, s:I}", "valid", (json_int_t)p->valid, "revoked",
		    (json_int_t)p->revoked, "expired", (json_int_t)p->expired,
		    "reserved", (json_int_t)p->reserved, "expiring_7d",
		    (json_int_t)p->expiring));
	}
	json_object_set_new(rp->o, "profiles", o);
}

static void
print_text(json_t *o)
{
	json_t *v, *e;
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(o, "cas"), i, e)
		printf("CA %-18s notAfter %s\n", json_string_value(
		    json_object_get(e, "name")), json_string_value(
		    json_object_get(e, "not_after")));
	json_array_foreach(json_object_get(o, "crls"), i, e)
		printf("CRL %-17s number %-6lld nextUpdate %s\n",
		    json_string_value(json_object_get(e, "name")),
		    (long long)json_integer_value(json_object_get(e, "number")),
		    json_string_value(json_object_get(e, "next_update")));
	v = json_object_get(json_object_get(o, "root_ocsp"), "next_update");
	printf("root's OCSP responses  nextUpdate %s\n", json_is_string(v) ?
	    json_string_value(v) : "none");
	v = json_object_get(o, "ocsp_signer_not_after");
	printf("OCSP signer            notAfter %s\n", json_is_string(v) ?
	    json_string_value(v) : "none");
	v = json_object_get(o, "tls_not_after");
	printf("HTTPS certificate      notAfter %s\n", json_is_string(v) ?
	    json_string_value(v) : "none");
	printf("HSM                    %s\n", json_string_value(
	    json_object_get(o, "hsm")));
	v = json_object_get(o, "store");
	printf("store                  %.2f%% of %lld MiB used, schema %lld\n",
	    json_real_value(json_object_get(v, "ratio")) * 100,
	    (long long)json_integer_value(json_object_get(v, "map_bytes")) >> 20,
	    (long long)json_integer_value(json_object_get(v, "schema")));
	v = json_object_get(o, "last_backup");
	printf("last backup            %s\n", json_is_string(v) ?
	    json_string_value(v) : "never");
	printf("tokens outstanding     %lld\nidentities disabled    %lld\n",
	    (long long)json_integer_value(json_object_get(o,
	    "tokens_outstanding")), (long long)json_integer_value(
	    json_object_get(o, "identities_disabled")));
	v = json_object_get(o, "server_pid");
	printf("ca-server              %s", json_is_integer(v) ? "running, pid " :
	    "not running\n");
	if (json_is_integer(v))
		printf("%lld\n", (long long)json_integer_value(v));
	printf("%-22s %8s %8s %8s %12s\n", "PROFILE", "VALID", "REVOKED",
	    "EXPIRED", "EXPIRING_7D");
	json_object_foreach(json_object_get(o, "profiles"), k, v)
		printf("%-22s %8lld %8lld %8lld %12lld\n", k, (long long)
		    json_integer_value(json_object_get(v, "valid")), (long long)
		    json_integer_value(json_object_get(v, "revoked")), (long long)
		    json_integer_value(json_object_get(v, "expired")), (long long)
		    json_integer_value(json_object_get(v, "expiring_7d")));
	json_array_foreach(json_object_get(o, "actions"), i, v)
		printf("ACTION: %s\n", json_string_value(v));
	if (json_array_size(json_object_get(o, "actions")) == 0)
		printf("nothing needs action\n");
}

/* The HSM probe: a signature with the issuing CA key (needs the PIN). */
static void
check_hsm(const char *dir, struct report *rp)
{
	struct ca *ca = NULL;
	char why[600];
	int r;

	/* The store's own trouble (an older schema) is reported elsewhere. */
	if ((r = ca_open(dir, 0, &ca)) != LY_OK) {
		snprintf(why, sizeof(why), "not checked: %s", ly_errdetail());
		json_object_set_new(rp->o, "hsm", json_string(why));
		return;
	}
	r = ca_hsm_check(ca);
	if (r == LY_OK)
		json_object_set_new(rp->o, "hsm", json_string("reachable"));
	else {
		snprintf(why, sizeof(why), "unreachable: %s", ly_errdetail());
		json_object_set_new(rp->o, "hsm", json_string(why));
		action(rp, "the HSM does not sign: %s", ly_errdetail());
	}
	ca_close(ca);
}

int
admin_status(const char *dir, int argc, char **argv)
{
	struct ca_status *st = NULL;
	struct report rp;
	struct ca *ca = NULL;
	long pid;
	int json = 0, nohsm = 0, i, r, ex = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--no-hsm") == 0)
			nohsm = 1;
		else {
			int help = strcmp(argv[i], "--help") == 0;

			fprintf(help ? stdout : stderr, "usage: ca-admin --dir "
			    "DIR status [--json] [--no-hsm]\n");
			return help ? 0 : 2;
		}
	}
	memset(&rp, 0, sizeof(rp));
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (rp.o = json_object()) == NULL ||
	    (rp.actions = json_array()) == NULL)
		goto out;
	/* Read-only: works on an older store and beside a running server. */
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = ca_status_get(ca, st)) != LY_OK) {
		fprintf(stderr, "ca-admin: status: %s: %s\n", ly_strerror(r),
		    ly_errdetail());
		goto out;
	}
	check_cas(st, &rp);
	check_crls(ca, st, &rp);
	check_root(ca, st, &rp);
	check_rest(st, &rp);
	profiles_json(st, &rp);
	ca_close(ca);
	ca = NULL;
	if (nohsm)
		json_object_set_new(rp.o, "hsm", json_string("not checked"));
	else
		check_hsm(dir, &rp);
	if ((pid = server_pid(dir)) > 0)
		json_object_set_new(rp.o, "server_pid", json_integer(pid));
	else
		action(&rp, "no ca-server is running for this instance");
	json_object_set_new(rp.o, "actions", json_incref(rp.actions));
	if (json) {
		char *s = json_dumps(rp.o, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (s != NULL)
			printf("%s\n", s);
		free(s);
	} else
		print_text(rp.o);
	ex = json_array_size(rp.actions) > 0 ? 1 : 0;
 out:
	ca_close(ca);
	json_decref(rp.o);
	json_decref(rp.actions);
	free(st);
	return ex;
}
