/*
 * tests/unit/test_store.c — the LMDB store and the audit chain.
 *
 * Each test gets its own temporary directory (setup_store, teardown_store).
 * Damage is done behind the store's back with a raw LMDB handle opened
 * while the store is closed (LMDB forbids two handles on one environment
 * in one process), or with stdio on data.mdb.
 */
#include "config.h"

#include <sys/stat.h>

#include <pthread.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <openssl/evp.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/store.h"

#define MAP		(16 * 1024 * 1024)

struct fx {
	char		 base[64];
	char		*dir;		/* base/db: not there until opened */
};

static int
setup_store(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	strcpy(fx->base, "/tmp/test_store.XXXXXX");
	if (mkdtemp(fx->base) == NULL ||
	    (fx->dir = ly_path_join(fx->base, "db")) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown_store(void **state)
{
	struct fx *fx = *state;

	ly_clock_set(0);
	(void)ly_remove_tree(fx->base, 0);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct ca_serial
sn(uint64_t v)
{
	struct ca_serial s;

	memset(&s, 0, sizeof(s));
	for (int i = CA_SERIAL_LEN - 1; i >= 0 && v != 0; i--) {
		s.b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return s;
}

static struct store *
open_rw(const char *dir)
{
	struct store *st = NULL;

	assert_int_equal(store_open(dir, MAP, 0, &st), LY_OK);
	return st;
}

static struct store_txn *
begin(struct store *st, int write)
{
	struct store_txn *t = NULL;

	assert_int_equal(store_txn_begin(st, write, &t), LY_OK);
	return t;
}

static void
reservation(struct store_cert *c, uint64_t serial, const char *identity)
{
	memset(c, 0, sizeof(*c));
	c->serial = sn(serial);
	c->status = STORE_RESERVED;
	c->ca = CA_ISSUING;
	c->reason = -1;
	strcpy(c->profile, "server");
	c->created = 1700000000;
	c->identity = (char *)identity;
}

/* Reserves and stores a valid record in one transaction. */
static void
add_cert(struct store *st, uint64_t serial, const char *identity,
    int64_t not_after)
{
	static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	struct store_txn *t = begin(st, 1);
	struct store_cert c;

	reservation(&c, serial, identity);
	assert_int_equal(store_cert_reserve(t, &c), LY_OK);
	c.status = STORE_VALID;
	c.not_before = not_after - 86400;
	c.not_after = not_after;
	c.der = der;
	c.derlen = sizeof(der);
	assert_int_equal(store_cert_put(t, &c), LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);
}

/* Raw LMDB access to one named database, with the store closed. */
enum raw_op { RAW_GET, RAW_PUT, RAW_DEL, RAW_DROP };

static int
raw(const char *dir, const char *db, enum raw_op op, const void *key,
    size_t klen, const void *val, size_t vlen, unsigned char *out,
    size_t *outlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db,
	    strcmp(db, "identity") == 0 ? MDB_DUPSORT : 0, &dbi), 0);
	switch (op) {
	case RAW_DROP:
		/* The database itself goes: the layout of an older schema. */
		rc = mdb_drop(txn, dbi, 1);
		break;
	case RAW_GET:
		rc = mdb_get(txn, dbi, &k, &v);
		if (rc == 0 && out != NULL) {
			assert_true(v.mv_size <= *outlen);
			memcpy(out, v.mv_data, v.mv_size);
			*outlen = v.mv_size;
		}
		break;
	case RAW_PUT:
		rc = mdb_put(txn, dbi, &k, &v, 0);
		break;
	default:
		rc = mdb_del(txn, dbi, &k, NULL);
		break;
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return rc;
}

static int
raw_count(const char *dir, const char *db)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return (int)ms.ms_entries;
}

/* ---- environment -------------------------------------------------------- */

static void
test_open_reopen(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_txn *t;
	struct store_cert *c = NULL;
	struct ca_serial s = sn(0x1234);
	struct stat sb;
	char *path;

	st = open_rw(fx->dir);
	assert_int_equal(stat(fx->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	path = ly_path_join(fx->dir, "data.mdb");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(path);

	add_cert(st, 0x1234, "web-1", 1800000000);
	store_close(st);

	st = open_rw(fx->dir);
	t = begin(st, 0);
	assert_int_equal(store_cert_get(t, &s, &c), LY_OK);
	assert_string_equal(c->identity, "web-1");
	assert_int_equal(c->status, STORE_VALID);
	store_cert_free(c);
	store_txn_abort(t);
	store_close(st);
	store_close(NULL);
	store_txn_abort(NULL);
}

static void
test_schema(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_txn *t;
	unsigned char buf[16];
	size_t len = sizeof(buf);
	const void *val;
	unsigned char two[4] = { 0, 0, 0, 2 };
	unsigned char three[4] = { 0, 0, 0, 3 };

	st = open_rw(fx->dir);
	t = begin(st, 1);
	/* The store's own keys are not for store_meta_put(). */
	assert_int_equal(store_meta_put(t, "schema", two, 4), LY_ERR_ARG);
	assert_int_equal(store_meta_put(t, "audit_head", two, 4), LY_ERR_ARG);
	assert_int_equal(store_meta_put(t, "crl_number", "\x07", 1), LY_OK);
	assert_int_equal(store_meta_get(t, "crl_number", &val, &len), LY_OK);
	assert_int_equal(len, 1);
	assert_memory_equal(val, "\x07", 1);
	assert_int_equal(store_meta_get(t, "nope", &val, &len),
	    LY_ERR_NOT_FOUND);
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_close(st);

	len = sizeof(buf);
	assert_int_equal(raw(fx->dir, "meta", RAW_GET, "schema", 6, NULL, 0,
	    buf, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, two, 4);

	/* A newer store: refused, also read-only, with what to do. */
	assert_int_equal(raw(fx->dir, "meta", RAW_PUT, "schema", 6, three, 4,
	    NULL, NULL), 0);
	st = NULL;
	assert_int_equal(store_open(fx->dir, MAP, 0, &st), LY_ERR_STORE);
	assert_null(st);
	assert_non_null(strstr(ly_errdetail(), "schema version 3 was "
	    "written by a newer Lanyard"));
	assert_int_equal(store_open(fx->dir, MAP, STORE_RDONLY, &st),
	    LY_ERR_STORE);
	assert_null(st);
	assert_int_equal(store_open(fx->dir, MAP, STORE_UPGRADE, &st),
	    LY_ERR_STORE);
	assert_null(st);
}

/*
 * A schema 1 store, made by the test as version 1 laid it out (no
 * "disabled" database, meta schema = 1): read-only until upgraded, then
 * at version 2 with the new database and an audit entry.
 */
static void
test_schema_upgrade(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct store_cert c, *g = NULL;
	unsigned char one[4] = { 0, 0, 0, 1 }, buf[4];
	size_t len = sizeof(buf);
	const char *v;
	uint64_t n = 0;

	t = begin(st, 1);
	reservation(&c, 0x1234, "{\"userId\":1}");
	assert_int_equal(store_cert_reserve(t, &c), LY_OK);
	assert_int_equal(store_audit_append(t, "test", "init", NULL), LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_close(st);
	assert_int_equal(raw(fx->dir, "disabled", RAW_DROP, NULL, 0, NULL, 0,
	    NULL, NULL), 0);
	assert_int_equal(raw(fx->dir, "meta", RAW_PUT, "schema", 6, one, 4,
	    NULL, NULL), 0);

	/* Writable: refused, saying how to upgrade; nothing is created. */
	st = NULL;
	assert_int_equal(store_open(fx->dir, MAP, STORE_EXISTING, &st),
	    LY_ERR_STORE);
	assert_null(st);
	assert_non_null(strstr(ly_errdetail(), "ca-admin upgrade"));
	/* Read-only: readable, with no disabled identity. */
	assert_int_equal(store_open(fx->dir, MAP, STORE_RDONLY |
	    STORE_EXISTING, &st), LY_OK);
	assert_int_equal(store_schema(st), 1);
	t = begin(st, 0);
	assert_int_equal(store_disabled_get(t, "{\"userId\":1}", &v, &len),
	    LY_ERR_NOT_FOUND);
	assert_int_equal(store_cert_get(t, &c.serial, &g), LY_OK);
	store_cert_free(g);
	store_txn_abort(t);
	store_close(st);

	/* The upgrade. */
	assert_int_equal(store_open(fx->dir, MAP, STORE_EXISTING |
	    STORE_UPGRADE, &st), LY_OK);
	assert_int_equal(store_schema(st), 1);
	assert_int_equal(store_upgrade(st, "test", "{\"from\":1}"), LY_OK);
	assert_int_equal(store_schema(st), 2);
	assert_int_equal(store_upgrade(st, "test", NULL), LY_ERR_STATE);
	store_close(st);
	len = sizeof(buf);
	assert_int_equal(raw(fx->dir, "meta", RAW_GET, "schema", 6, NULL, 0,
	    buf, &len), 0);
	assert_memory_equal(buf, "\0\0\0\2", 4);

	/* Now an ordinary store: writable, the new database in use. */
	st = open_rw(fx->dir);
	t = begin(st, 1);
	assert_int_equal(store_disabled_put(t, "{\"userId\":1}", "{}"), LY_OK);
	assert_int_equal(store_disabled_get(t, "{\"userId\":1}", &v, &len),
	    LY_OK);
	assert_int_equal(len, 2);
	assert_int_equal(store_audit_verify(t, &n), LY_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_close(st);
}

/* ---- certificate records ------------------------------------------------ */

static void
test_roundtrip(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct store_cert c, *g = NULL;
	unsigned char der[3000];
	const char *id = "{\"team\":\"infra\",\"host\":\"db-7\"}";

	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 7);
	t = begin(st, 1);
	reservation(&c, 0xabcdef, id);
	c.serial.b[0] = 0x7f;	/* a full 20-octet serial */
	assert_int_equal(store_cert_reserve(t, &c), LY_OK);
	assert_int_equal(store_cert_get(t, &c.serial, &g), LY_OK);
	assert_int_equal(g->status, STORE_RESERVED);
	assert_null(g->der);
	assert_int_equal(g->derlen, 0);
	assert_string_equal(g->identity, id);
	store_cert_free(g);

	c.status = STORE_VALID;
	c.ca = CA_ROOT;
	c.reason = -1;
	strcpy(c.profile, "a-profile-name-of-some-length");
	c.not_before = 1700000100;
	c.not_after = 1731536100;
	c.supersedes = sn(0x99);
	c.superseded_by = sn(0x1000001);
	c.der = der;
	c.derlen = sizeof(der);
	assert_int_equal(store_cert_put(t, &c), LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);

	t = begin(st, 1);
	c.status = STORE_REVOKED;
	c.reason = 4;
	c.revoked_at = 1710000000;
	c.invalidity = 1709990000;
	assert_int_equal(store_cert_put(t, &c), LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);

	t = begin(st, 0);
	assert_int_equal(store_cert_get(t, &c.serial, &g), LY_OK);
	store_txn_abort(t);	/* g outlives the transaction */
	assert_memory_equal(g->serial.b, c.serial.b, CA_SERIAL_LEN);
	assert_int_equal(g->status, STORE_REVOKED);
	assert_int_equal(g->ca, CA_ROOT);
	assert_int_equal(g->reason, 4);
	assert_string_equal(g->profile, c.profile);
	assert_int_equal(g->created, 1700000000);
	assert_int_equal(g->not_before, c.not_before);
	assert_int_equal(g->not_after, c.not_after);
	assert_int_equal(g->revoked_at, c.revoked_at);
	assert_int_equal(g->invalidity, c.invalidity);
	assert_memory_equal(g->supersedes.b, c.supersedes.b, CA_SERIAL_LEN);
	assert_memory_equal(g->superseded_by.b, c.superseded_by.b,
	    CA_SERIAL_LEN);
	assert_string_equal(g->identity, id);
	assert_int_equal(g->derlen, sizeof(der));
	assert_memory_equal(g->der, der, sizeof(der));
	store_cert_free(g);

	/* No identity stays no identity. */
	t = begin(st, 1);
	reservation(&c, 5, NULL);
	assert_int_equal(store_cert_reserve(t, &c), LY_OK);
	assert_int_equal(store_cert_get(t, &c.serial, &g), LY_OK);
	assert_null(g->identity);
	store_cert_free(g);
	store_txn_abort(t);
	store_close(st);
}

static void
test_reserve_put_errors(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t = begin(st, 1);
	struct store_cert c, *g = NULL;
	struct ca_serial s = sn(77);

	reservation(&c, 77, NULL);
	assert_int_equal(store_cert_reserve(t, &c), LY_OK);
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_EXISTS);
	c.status = STORE_VALID;
	/* Even a stored certificate's serial cannot be reserved again. */
	assert_int_equal(store_cert_put(t, &c), LY_OK);
	c.status = STORE_RESERVED;
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_EXISTS);

	reservation(&c, 78, NULL);
	c.status = STORE_VALID;
	assert_int_equal(store_cert_put(t, &c), LY_ERR_NOT_FOUND);
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);
	c.status = 9;
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);
	reservation(&c, 0, NULL);
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);
	reservation(&c, 79, "");
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);
	reservation(&c, 79, NULL);
	c.reason = 11;
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);

	s = sn(78);
	assert_int_equal(store_cert_get(t, &s, &g), LY_ERR_NOT_FOUND);
	assert_null(g);
	store_txn_abort(t);
	store_close(st);
}

struct collect {
	struct ca_serial s[64];
	size_t		 n;
	size_t		 stop_at;	/* 0: never */
};

static int
collect_certs_cb(const struct store_cert *c, void *arg)
{
	struct collect *col = arg;

	assert_true(col->n < 64);
	col->s[col->n++] = c->serial;
	if (col->stop_at != 0 && col->n == col->stop_at)
		return 42;
	return 0;
}

static void
test_foreach_order(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct collect col;
	/* Out of order, and of different significant lengths. */
	uint64_t in[] = { 0x1000, 0x5, 0xffffffffffULL, 0x100, 0xff, 0x2,
	    0x10000000000ULL, 0x1 };
	uint64_t want[] = { 0x1, 0x2, 0x5, 0xff, 0x100, 0x1000,
	    0xffffffffffULL, 0x10000000000ULL };
	size_t i, n = sizeof(in) / sizeof(in[0]);

	for (i = 0; i < n; i++)
		add_cert(st, in[i], NULL, 1800000000 + (int64_t)i);
	t = begin(st, 0);
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_foreach(t, collect_certs_cb, &col), LY_OK);
	assert_int_equal(col.n, n);
	for (i = 0; i < n; i++) {
		struct ca_serial w = sn(want[i]);

		assert_memory_equal(col.s[i].b, w.b, CA_SERIAL_LEN);
	}
	/* A non-zero callback value stops the walk and is returned. */
	memset(&col, 0, sizeof(col));
	col.stop_at = 3;
	assert_int_equal(store_cert_foreach(t, collect_certs_cb, &col), 42);
	assert_int_equal(col.n, 3);
	store_txn_abort(t);
	store_close(st);
}

struct rewrite {
	struct store_txn *t;
	int		 n;
};

/* Writes the record it is given back, changed, during the walk. */
static int
rewrite_cb(const struct store_cert *c, void *arg)
{
	struct rewrite *rw = arg;
	struct store_cert d = *c;
	char id[32];

	snprintf(id, sizeof(id), "renamed-%d", rw->n++);
	d.identity = id;
	d.superseded_by = sn(0x999);
	assert_int_equal(store_cert_put(rw->t, &d), LY_OK);
	/* c itself is untouched by the put (a copy in write transactions). */
	assert_memory_equal(c->superseded_by.b, sn(0).b, CA_SERIAL_LEN);
	return 0;
}

static void
test_write_during_foreach(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct rewrite rw = { NULL, 0 };
	struct collect col;

	for (uint64_t i = 1; i <= 20; i++)
		add_cert(st, i * 3, "same-identity", 1800000000);
	t = begin(st, 1);
	rw.t = t;
	assert_int_equal(store_cert_foreach(t, rewrite_cb, &rw), LY_OK);
	assert_int_equal(rw.n, 20);
	assert_int_equal(store_txn_commit(t), LY_OK);

	t = begin(st, 0);
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_by_identity(t, "same-identity", collect_certs_cb,
	    &col), LY_OK);
	assert_int_equal(col.n, 0);
	assert_int_equal(store_cert_by_identity(t, "renamed-7", collect_certs_cb,
	    &col), LY_OK);
	assert_int_equal(col.n, 1);
	store_txn_abort(t);
	store_close(st);
	assert_int_equal(raw_count(fx->dir, "identity"), 20);
}

struct reader {
	struct store_txn *t;
	struct collect	 col;
	int		 r;
};

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;

	rd->r = store_cert_foreach(rd->t, collect_certs_cb, &rd->col);
	return NULL;
}

/* MDB_NOTLS: read transactions are not tied to the thread that began them. */
static void
test_read_txn_threads(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t1, *t2;
	struct reader rd;
	pthread_t th;

	add_cert(st, 1, NULL, 1800000000);
	add_cert(st, 2, NULL, 1800000000);
	t1 = begin(st, 0);
	t2 = begin(st, 0);	/* two in one thread: needs NOTLS */
	memset(&rd, 0, sizeof(rd));
	rd.t = t1;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(rd.r, LY_OK);
	assert_int_equal(rd.col.n, 2);
	store_txn_abort(t1);
	store_txn_abort(t2);
	store_close(st);
}

static int
has(const struct collect *col, uint64_t v)
{
	struct ca_serial s = sn(v);

	for (size_t i = 0; i < col->n; i++)
		if (memcmp(col->s[i].b, s.b, CA_SERIAL_LEN) == 0)
			return 1;
	return 0;
}

static void
test_by_identity(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct store_cert *c = NULL;
	struct ca_serial s = sn(11);
	struct collect col;

	add_cert(st, 10, "spiffe://example.org/a", 1800000000);
	add_cert(st, 11, "spiffe://example.org/a", 1800000001);
	add_cert(st, 12, "spiffe://example.org/b", 1800000002);
	add_cert(st, 13, NULL, 1800000003);
	add_cert(st, 14, "spiffe://example.org/a", 1800000004);

	t = begin(st, 0);
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_by_identity(t, "spiffe://example.org/a",
	    collect_certs_cb, &col), LY_OK);
	assert_int_equal(col.n, 3);
	assert_true(has(&col, 10) && has(&col, 11) && has(&col, 14));
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_by_identity(t, "spiffe://example.org/b",
	    collect_certs_cb, &col), LY_OK);
	assert_int_equal(col.n, 1);
	assert_true(has(&col, 12));
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_by_identity(t, "spiffe://example.org/c",
	    collect_certs_cb, &col), LY_OK);
	assert_int_equal(col.n, 0);
	store_txn_abort(t);

	/* Moving 11 to identity b moves its index entry. */
	t = begin(st, 1);
	assert_int_equal(store_cert_get(t, &s, &c), LY_OK);
	free(c->identity);
	c->identity = strdup("spiffe://example.org/b");
	assert_int_equal(store_cert_put(t, c), LY_OK);
	store_cert_free(c);
	assert_int_equal(store_txn_commit(t), LY_OK);

	t = begin(st, 0);
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_by_identity(t, "spiffe://example.org/a",
	    collect_certs_cb, &col), LY_OK);
	assert_int_equal(col.n, 2);
	assert_true(has(&col, 10) && has(&col, 14));
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_by_identity(t, "spiffe://example.org/b",
	    collect_certs_cb, &col), LY_OK);
	assert_int_equal(col.n, 2);
	assert_true(has(&col, 11) && has(&col, 12));
	store_txn_abort(t);
	store_close(st);
	assert_int_equal(raw_count(fx->dir, "identity"), 4);
}

static void
test_indexes(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct store_cert *c = NULL;
	struct ca_serial s = sn(0x4242);
	unsigned char rk[1 + CA_SERIAL_LEN], ek[8 + CA_SERIAL_LEN];
	unsigned char val[64];
	size_t len;

	add_cert(st, 0x4242, "x", 1800000000);
	/* revoke via put */
	t = begin(st, 1);
	assert_int_equal(store_cert_get(t, &s, &c), LY_OK);
	c->status = STORE_REVOKED;
	c->reason = 1;
	c->revoked_at = 0x0102030405060708LL;
	c->invalidity = 0x1112131415161718LL;
	c->not_after = 1900000000;	/* and move its expiry */
	assert_int_equal(store_cert_put(t, c), LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_close(st);

	rk[0] = CA_ISSUING;
	memcpy(rk + 1, s.b, CA_SERIAL_LEN);
	len = sizeof(val);
	assert_int_equal(raw(fx->dir, "revoked", RAW_GET, rk, sizeof(rk),
	    NULL, 0, val, &len), 0);
	assert_int_equal(len, 17);
	assert_memory_equal(val, "\x01\x02\x03\x04\x05\x06\x07\x08" "\x01"
	    "\x11\x12\x13\x14\x15\x16\x17\x18", 17);
	assert_int_equal(raw_count(fx->dir, "revoked"), 1);

	/* expiry: the old key replaced by the new one */
	memcpy(ek + 8, s.b, CA_SERIAL_LEN);
	memcpy(ek, "\x00\x00\x00\x00\x6b\x49\xd2\x00", 8);	/* 1800000000 */
	assert_int_equal(raw(fx->dir, "expiry", RAW_GET, ek, sizeof(ek),
	    NULL, 0, NULL, NULL), MDB_NOTFOUND);
	memcpy(ek, "\x00\x00\x00\x00\x71\x3f\xb3\x00", 8);	/* 1900000000 */
	assert_int_equal(raw(fx->dir, "expiry", RAW_GET, ek, sizeof(ek),
	    NULL, 0, NULL, NULL), 0);
	assert_int_equal(raw_count(fx->dir, "expiry"), 1);

	/* No longer revoked (an admin's undo): out of the index. */
	st = open_rw(fx->dir);
	t = begin(st, 1);
	c->status = STORE_VALID;
	c->revoked_at = 0;
	c->reason = -1;
	assert_int_equal(store_cert_put(t, c), LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_cert_free(c);
	store_close(st);
	assert_int_equal(raw(fx->dir, "revoked", RAW_GET, rk, sizeof(rk),
	    NULL, 0, NULL, NULL), MDB_NOTFOUND);
	assert_int_equal(raw_count(fx->dir, "revoked"), 0);
}

static void
test_abort(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t;
	struct store_cert c, *g = NULL;
	uint64_t n = 99;

	t = begin(st, 1);
	reservation(&c, 31, "gone");
	assert_int_equal(store_cert_reserve(t, &c), LY_OK);
	assert_int_equal(store_audit_append(t, "admin", "issue", "{}"), LY_OK);
	assert_int_equal(store_meta_put(t, "k", "v", 1), LY_OK);
	store_txn_abort(t);

	t = begin(st, 0);
	assert_int_equal(store_cert_get(t, &c.serial, &g), LY_ERR_NOT_FOUND);
	assert_int_equal(store_audit_verify(t, &n), LY_OK);
	assert_int_equal(n, 0);
	store_txn_abort(t);
	store_close(st);
	assert_int_equal(raw_count(fx->dir, "certs"), 0);
	assert_int_equal(raw_count(fx->dir, "identity"), 0);
	assert_int_equal(raw_count(fx->dir, "audit"), 0);
	assert_int_equal(raw_count(fx->dir, "meta"), 1);	/* schema */
}

/*
 * Nested transactions as the group commit uses them (ca/commit.c): a
 * child's writes join its parent's when it commits and vanish when it
 * aborts, also after an error inside it, the parent goes on either way,
 * and the audit chain stays whole.
 */
static void
test_child_txn(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_rw(fx->dir);
	struct store_txn *t, *c1 = NULL, *c2 = NULL, *c3 = NULL, *rd;
	struct store_cert c, *g = NULL;
	struct ca_serial s;
	uint64_t n = 0;

	/* Only a write transaction has children. */
	t = begin(st, 0);
	assert_int_equal(store_txn_begin_child(t, &c1), LY_ERR_ARG);
	assert_null(c1);
	store_txn_abort(t);

	t = begin(st, 1);
	assert_int_equal(store_txn_begin_child(t, &c1), LY_OK);
	reservation(&c, 1, "kept");
	assert_int_equal(store_cert_reserve(c1, &c), LY_OK);
	assert_int_equal(store_audit_append(c1, "a", "issue", "{\"n\":1}"),
	    LY_OK);
	assert_int_equal(store_txn_commit(c1), LY_OK);

	/* Writes, then meets a serial the first child took: undone whole. */
	assert_int_equal(store_txn_begin_child(t, &c2), LY_OK);
	reservation(&c, 2, "undone");
	assert_int_equal(store_cert_reserve(c2, &c), LY_OK);
	assert_int_equal(store_audit_append(c2, "a", "issue", "{\"n\":2}"),
	    LY_OK);
	assert_int_equal(store_meta_put(c2, "k", "v", 1), LY_OK);
	reservation(&c, 1, "dup");
	assert_int_equal(store_cert_reserve(c2, &c), LY_ERR_EXISTS);
	store_txn_abort(c2);

	/* A third child sees the first's writes and not the second's. */
	assert_int_equal(store_txn_begin_child(t, &c3), LY_OK);
	s = sn(1);
	assert_int_equal(store_cert_get(c3, &s, &g), LY_OK);
	assert_string_equal(g->identity, "kept");
	store_cert_free(g);
	s = sn(2);
	assert_int_equal(store_cert_get(c3, &s, &g), LY_ERR_NOT_FOUND);
	reservation(&c, 3, "third");
	assert_int_equal(store_cert_reserve(c3, &c), LY_OK);
	assert_int_equal(store_audit_append(c3, "a", "issue", "{\"n\":3}"),
	    LY_OK);
	assert_int_equal(store_txn_commit(c3), LY_OK);

	/* Nothing shows outside until the parent commits. */
	rd = begin(st, 0);
	s = sn(1);
	assert_int_equal(store_cert_get(rd, &s, &g), LY_ERR_NOT_FOUND);
	store_txn_abort(rd);
	assert_int_equal(store_txn_commit(t), LY_OK);

	t = begin(st, 0);
	s = sn(1);
	assert_int_equal(store_cert_get(t, &s, &g), LY_OK);
	store_cert_free(g);
	s = sn(3);
	assert_int_equal(store_cert_get(t, &s, &g), LY_OK);
	assert_string_equal(g->identity, "third");
	store_cert_free(g);
	s = sn(2);
	assert_int_equal(store_cert_get(t, &s, &g), LY_ERR_NOT_FOUND);
	{
		const void *v;
		size_t len;

		assert_int_equal(store_meta_get(t, "k", &v, &len),
		    LY_ERR_NOT_FOUND);
	}
	assert_int_equal(store_audit_verify(t, &n), LY_OK);
	assert_int_equal(n, 2);
	store_txn_abort(t);
	store_close(st);
	assert_int_equal(raw_count(fx->dir, "certs"), 2);
	assert_int_equal(raw_count(fx->dir, "identity"), 2);
}

static void
test_rdonly(void **state)
{
	struct fx *fx = *state;
	struct store *st = NULL;
	struct store_txn *t = NULL;
	struct store_cert c, *g = NULL;
	struct stat sb;

	/* A read-only open of nothing creates nothing. */
	assert_int_equal(store_open(fx->dir, MAP, STORE_RDONLY, &st),
	    LY_ERR_NOT_FOUND);
	assert_null(st);
	assert_int_equal(stat(fx->dir, &sb), -1);

	st = open_rw(fx->dir);
	add_cert(st, 1, "ro", 1800000000);
	/* A read transaction on a writable store cannot write either. */
	t = begin(st, 0);
	reservation(&c, 2, NULL);
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);
	assert_int_equal(store_cert_put(t, &c), LY_ERR_ARG);
	assert_int_equal(store_meta_put(t, "k", "v", 1), LY_ERR_ARG);
	assert_int_equal(store_audit_append(t, "a", "b", NULL), LY_ERR_ARG);
	store_txn_abort(t);
	store_close(st);

	st = NULL;
	assert_int_equal(store_open(fx->dir, MAP, STORE_RDONLY, &st), LY_OK);
	t = NULL;
	assert_int_equal(store_txn_begin(st, 1, &t), LY_ERR_ARG);
	assert_null(t);
	t = begin(st, 0);
	c.serial = sn(1);
	assert_int_equal(store_cert_get(t, &c.serial, &g), LY_OK);
	assert_string_equal(g->identity, "ro");
	store_cert_free(g);
	reservation(&c, 2, NULL);
	assert_int_equal(store_cert_reserve(t, &c), LY_ERR_ARG);
	store_txn_abort(t);
	store_close(st);
}

/*
 * A tiny map fills; the failed transaction leaves the store as the last
 * commit left it.
 */
static void
test_map_full(void **state)
{
	struct fx *fx = *state;
	struct store *st = NULL;
	struct store_txn *t;
	struct store_cert c, *g = NULL;
	unsigned char der[1500];
	uint64_t i, committed = 0;
	int r = LY_OK;
	/*
	 * 256 KiB: a few dozen commits before it is full (LMDB keeps the
	 * pages of the last two commits, so 64 KiB holds just one).
	 */
	const size_t tiny = 256 * 1024;
	char *other;

	/* Too small even to create the databases: a clean failure. */
	other = ly_path_join(fx->base, "small");
	assert_int_equal(store_open(other, 16 * 1024, 0, &st),
	    LY_ERR_STORE_FULL);
	assert_null(st);
	free(other);

	memset(der, 0xa5, sizeof(der));
	assert_int_equal(store_open(fx->dir, tiny, 0, &st), LY_OK);
	for (i = 1; i < 10000; i++) {
		t = begin(st, 1);
		reservation(&c, i, "filler");
		if ((r = store_cert_reserve(t, &c)) == LY_OK) {
			c.status = STORE_VALID;
			c.der = der;
			c.derlen = sizeof(der);
			der[0] = (unsigned char)i;
			r = store_cert_put(t, &c);
		}
		if (r == LY_OK)
			r = store_audit_append(t, "t", "fill", "{}");
		if (r != LY_OK) {
			store_txn_abort(t);
			break;
		}
		if ((r = store_txn_commit(t)) != LY_OK)
			break;
		committed = i;
	}
	assert_int_equal(r, LY_ERR_STORE_FULL);
	assert_true(committed > 10);
	store_close(st);

	st = NULL;
	assert_int_equal(store_open(fx->dir, tiny, 0, &st), LY_OK);
	t = begin(st, 0);
	for (i = 1; i <= committed; i++) {
		struct ca_serial s = sn(i);

		assert_int_equal(store_cert_get(t, &s, &g), LY_OK);
		assert_int_equal(g->status, STORE_VALID);
		assert_int_equal(g->derlen, sizeof(der));
		assert_int_equal(g->der[0], (unsigned char)i);
		store_cert_free(g);
	}
	{
		struct ca_serial s = sn(committed + 1);
		uint64_t n = 0;

		assert_int_equal(store_cert_get(t, &s, &g), LY_ERR_NOT_FOUND);
		assert_int_equal(store_audit_verify(t, &n), LY_OK);
		assert_int_equal(n, committed);
	}
	store_txn_abort(t);
	store_close(st);
}

/*
 * A child that fills the map is undone alone: its parent goes on and
 * commits what the children before and after it wrote (a group commit's
 * batch with one writer too large for the store).
 */
static void
test_child_map_full(void **state)
{
	struct fx *fx = *state;
	struct store *st = NULL;
	struct store_txn *t, *c1;
	struct store_cert c, *g = NULL;
	unsigned char *big;
	const size_t tiny = 256 * 1024;
	uint64_t i, n = 0;

	assert_non_null(big = calloc(1, tiny));
	assert_int_equal(store_open(fx->dir, tiny, 0, &st), LY_OK);
	t = begin(st, 1);
	for (i = 1; i <= 5; i++) {
		assert_int_equal(store_txn_begin_child(t, &c1), LY_OK);
		reservation(&c, i, "small");
		assert_int_equal(store_cert_reserve(c1, &c), LY_OK);
		assert_int_equal(store_audit_append(c1, "t", "small", "{}"),
		    LY_OK);
		assert_int_equal(store_txn_commit(c1), LY_OK);
		if (i != 3)
			continue;
		/* The whole map in one value cannot fit. */
		assert_int_equal(store_txn_begin_child(t, &c1), LY_OK);
		reservation(&c, 100, "big");
		assert_int_equal(store_cert_reserve(c1, &c), LY_OK);
		assert_int_equal(store_meta_put(c1, "big", big, tiny),
		    LY_ERR_STORE_FULL);
		store_txn_abort(c1);
	}
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_close(st);
	free(big);

	st = NULL;
	assert_int_equal(store_open(fx->dir, tiny, 0, &st), LY_OK);
	t = begin(st, 0);
	for (i = 1; i <= 5; i++) {
		struct ca_serial s = sn(i);

		assert_int_equal(store_cert_get(t, &s, &g), LY_OK);
		store_cert_free(g);
	}
	{
		struct ca_serial s = sn(100);
		const void *v;
		size_t len;

		assert_int_equal(store_cert_get(t, &s, &g), LY_ERR_NOT_FOUND);
		assert_int_equal(store_meta_get(t, "big", &v, &len),
		    LY_ERR_NOT_FOUND);
	}
	assert_int_equal(store_audit_verify(t, &n), LY_OK);
	assert_int_equal(n, 5);
	store_txn_abort(t);
	store_close(st);
}

static void
test_corrupt_record(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_txn *t;
	struct store_cert c, *g = NULL;
	struct ca_serial s = sn(0x77);
	struct collect col;
	unsigned char rec[512], bad[512];
	size_t len = sizeof(rec), n;

	st = open_rw(fx->dir);
	add_cert(st, 0x77, "victim", 1800000000);
	store_close(st);
	assert_int_equal(raw(fx->dir, "certs", RAW_GET, s.b, CA_SERIAL_LEN,
	    NULL, 0, rec, &len), 0);

	/* A short value. */
	assert_int_equal(raw(fx->dir, "certs", RAW_PUT, s.b, CA_SERIAL_LEN,
	    "\x01\x02", 2, NULL, NULL), 0);
	st = open_rw(fx->dir);
	t = begin(st, 1);
	assert_int_equal(store_cert_get(t, &s, &g), LY_ERR_STORE);
	assert_null(g);
	assert_non_null(strstr(ly_errdetail(), "corrupt record for serial 77"));
	memset(&col, 0, sizeof(col));
	assert_int_equal(store_cert_foreach(t, collect_certs_cb, &col),
	    LY_ERR_STORE);
	assert_int_equal(store_cert_by_identity(t, "victim", collect_certs_cb, &col),
	    LY_ERR_STORE);
	reservation(&c, 0x77, NULL);
	c.status = STORE_VALID;
	assert_int_equal(store_cert_put(t, &c), LY_ERR_STORE);
	store_txn_abort(t);
	store_close(st);

	/*
	 * Every truncation of a good record, and every single-byte change,
	 * is refused or decoded: never read out of bounds (run with ASan).
	 */
	for (n = 0; n < len; n++) {
		assert_int_equal(raw(fx->dir, "certs", RAW_PUT, s.b,
		    CA_SERIAL_LEN, rec, n, NULL, NULL), 0);
		st = open_rw(fx->dir);
		t = begin(st, 0);
		assert_int_equal(store_cert_get(t, &s, &g), LY_ERR_STORE);
		store_txn_abort(t);
		store_close(st);
	}
	for (n = 0; n < len; n++) {
		int r;

		memcpy(bad, rec, len);
		bad[n] ^= 0xff;
		assert_int_equal(raw(fx->dir, "certs", RAW_PUT, s.b,
		    CA_SERIAL_LEN, bad, len, NULL, NULL), 0);
		st = open_rw(fx->dir);
		t = begin(st, 0);
		r = store_cert_get(t, &s, &g);
		assert_true(r == LY_OK || r == LY_ERR_STORE);
		if (r == LY_OK)
			store_cert_free(g);
		g = NULL;
		store_txn_abort(t);
		store_close(st);
	}
}

/* ---- audit -------------------------------------------------------------- */

#define NAUDIT	100

static void
audit_fill(const char *dir)
{
	struct store *st = open_rw(dir);
	struct store_txn *t = NULL;
	char detail[64];
	uint64_t n = 0;

	ly_clock_set(1700000000);
	for (int i = 1; i <= NAUDIT; i++) {
		/* A few per transaction, as the engine does. */
		if (i % 7 == 1)
			t = begin(st, 1);
		snprintf(detail, sizeof(detail),
		    "{\"n\":%d,\"tag\":\"QZX%03d\"}", i, i);
		assert_int_equal(store_audit_append(t, "admin",
		    i % 2 ? "issue" : "revoke", i == 5 ? NULL : detail), LY_OK);
		if (i % 7 == 0 || i == NAUDIT)
			assert_int_equal(store_txn_commit(t), LY_OK);
	}
	t = begin(st, 0);
	assert_int_equal(store_audit_verify(t, &n), LY_OK);
	assert_int_equal(n, NAUDIT);
	store_txn_abort(t);
	store_close(st);
}

static int
audit_verify(const char *dir, uint64_t *np)
{
	struct store *st = NULL;
	struct store_txn *t;
	int r;

	assert_int_equal(store_open(dir, MAP, STORE_RDONLY, &st), LY_OK);
	t = begin(st, 0);
	r = store_audit_verify(t, np);
	store_txn_abort(t);
	store_close(st);
	return r;
}

static void
key8(unsigned char k[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		k[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

struct audit_seen {
	uint64_t	 n;
	int		 ok;
};

static int
audit_cb(const struct store_audit_entry *e, void *arg)
{
	struct audit_seen *s = arg;

	s->n++;
	if (e->seq != s->n || e->time != 1700000000 ||
	    strcmp(e->actor, "admin") != 0 ||
	    strcmp(e->action, e->seq % 2 ? "issue" : "revoke") != 0 ||
	    (e->seq == 5) != (e->detail[0] == '\0'))
		s->ok = 0;
	return 0;
}

static void
test_audit_chain(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_txn *t;
	struct audit_seen seen = { 0, 1 };
	uint64_t n = 0;

	/* Empty: no head, fine. */
	st = open_rw(fx->dir);
	t = begin(st, 1);
	assert_int_equal(store_audit_verify(t, &n), LY_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_audit_append(t, "", "x", NULL), LY_ERR_ARG);
	assert_int_equal(store_audit_append(t, "a", "", NULL), LY_ERR_ARG);
	assert_int_equal(store_audit_append(t, NULL, "x", NULL), LY_ERR_ARG);
	store_txn_abort(t);
	store_close(st);

	audit_fill(fx->dir);
	assert_int_equal(audit_verify(fx->dir, &n), LY_OK);
	assert_int_equal(n, NAUDIT);

	st = open_rw(fx->dir);
	t = begin(st, 0);
	assert_int_equal(store_audit_foreach(t, audit_cb, &seen), LY_OK);
	assert_int_equal(seen.n, NAUDIT);
	assert_true(seen.ok);
	store_txn_abort(t);
	/* The chain goes on across reopen. */
	t = begin(st, 1);
	assert_int_equal(store_audit_append(t, "admin", "publish", NULL),
	    LY_OK);
	assert_int_equal(store_txn_commit(t), LY_OK);
	store_close(st);
	assert_int_equal(audit_verify(fx->dir, &n), LY_OK);
	assert_int_equal(n, NAUDIT + 1);
}

/* (a) one byte of a detail changed through LMDB */
static void
test_audit_modified(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_txn *t;
	unsigned char k[8], val[256];
	size_t len = sizeof(val);
	unsigned char *p;

	audit_fill(fx->dir);
	key8(k, 37);
	assert_int_equal(raw(fx->dir, "audit", RAW_GET, k, 8, NULL, 0, val,
	    &len), 0);
	assert_non_null(p = memmem(val, len, "QZX037", 6));
	p[5] = '8';
	assert_int_equal(raw(fx->dir, "audit", RAW_PUT, k, 8, val, len, NULL,
	    NULL), 0);
	assert_int_equal(audit_verify(fx->dir, NULL), LY_ERR_AUDIT);
	assert_non_null(strstr(ly_errdetail(), "entry 37 modified"));

	/*
	 * append checks only the last entry against the head (verify is the
	 * full walk): damage it, and nothing is added on top.
	 */
	key8(k, NAUDIT);
	len = sizeof(val);
	assert_int_equal(raw(fx->dir, "audit", RAW_GET, k, 8, NULL, 0, val,
	    &len), 0);
	val[50] ^= 1;	/* inside the stored hash */
	assert_int_equal(raw(fx->dir, "audit", RAW_PUT, k, 8, val, len, NULL,
	    NULL), 0);
	st = open_rw(fx->dir);
	t = begin(st, 1);
	assert_int_equal(store_audit_append(t, "a", "b", NULL), LY_ERR_AUDIT);
	store_txn_abort(t);
	store_close(st);
}

/* (b) a middle entry deleted */
static void
test_audit_gap(void **state)
{
	struct fx *fx = *state;
	unsigned char k[8];

	audit_fill(fx->dir);
	key8(k, 50);
	assert_int_equal(raw(fx->dir, "audit", RAW_DEL, k, 8, NULL, 0, NULL,
	    NULL), 0);
	assert_int_equal(audit_verify(fx->dir, NULL), LY_ERR_AUDIT);
	assert_non_null(strstr(ly_errdetail(), "entry 50 missing"));
}

/* (c) the last entry deleted; then the head too */
static void
test_audit_truncated(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_txn *t;
	unsigned char k[8];

	audit_fill(fx->dir);
	key8(k, NAUDIT);
	assert_int_equal(raw(fx->dir, "audit", RAW_DEL, k, 8, NULL, 0, NULL,
	    NULL), 0);
	assert_int_equal(audit_verify(fx->dir, NULL), LY_ERR_AUDIT);
	assert_non_null(strstr(ly_errdetail(), "entry 100 missing"));
	/* and the chain is not extended over the hole */
	st = open_rw(fx->dir);
	t = begin(st, 1);
	assert_int_equal(store_audit_append(t, "a", "b", NULL), LY_ERR_AUDIT);
	store_txn_abort(t);
	store_close(st);

	assert_int_equal(raw(fx->dir, "meta", RAW_DEL, "audit_head", 10, NULL,
	    0, NULL, NULL), 0);
	assert_int_equal(audit_verify(fx->dir, NULL), LY_ERR_AUDIT);
	assert_non_null(strstr(ly_errdetail(), "head missing"));
	st = open_rw(fx->dir);
	t = begin(st, 1);
	assert_int_equal(store_audit_append(t, "a", "b", NULL), LY_ERR_AUDIT);
	store_txn_abort(t);
	store_close(st);
}

/* (d) a byte flipped in data.mdb itself */
static void
test_audit_file_flip(void **state)
{
	struct fx *fx = *state;
	char *path = ly_path_join(fx->dir, "data.mdb");
	unsigned char *buf, *p;
	size_t len, hits = 0;
	FILE *f;
	long sz;

	audit_fill(fx->dir);
	assert_non_null(f = fopen(path, "r+b"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((sz = ftell(f)) > 0);
	len = (size_t)sz;
	assert_non_null(buf = malloc(len));
	rewind(f);
	assert_int_equal(fread(buf, 1, len, f), len);
	/*
	 * Copy-on-write leaves stale copies of pages in free space: change
	 * every copy so that the live one is surely among them.
	 */
	for (p = buf; (p = memmem(p, len - (size_t)(p - buf), "QZX042",
	    6)) != NULL; p += 6) {
		p[3] = '9';
		hits++;
	}
	assert_true(hits > 0);
	rewind(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(buf);
	free(path);
	assert_int_equal(audit_verify(fx->dir, NULL), LY_ERR_AUDIT);
	assert_non_null(strstr(ly_errdetail(), "entry 42 modified"));
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup_store, teardown_store)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_reopen),
		T(test_schema),
		T(test_schema_upgrade),
		T(test_roundtrip),
		T(test_reserve_put_errors),
		T(test_foreach_order),
		T(test_by_identity),
		T(test_indexes),
		T(test_write_during_foreach),
		T(test_read_txn_threads),
		T(test_abort),
		T(test_child_txn),
		T(test_rdonly),
		T(test_map_full),
		T(test_child_map_full),
		T(test_corrupt_record),
		T(test_audit_chain),
		T(test_audit_modified),
		T(test_audit_gap),
		T(test_audit_truncated),
		T(test_audit_file_flip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
