/*
 * ca/store.c — the LMDB environment, transactions, certificate records
 * with their indexes, and meta values. The audit log is in ca/audit.c.
 *
 * Certificate record, version 1 (value of certs; the key is the serial).
 * Integers are big-endian; times are seconds since the epoch as int64.
 *
 *	off	len	field
 *	  0	  1	record version (1)
 *	  1	  1	status (enum store_status)
 *	  2	  1	ca (slot: ca/slots.c)
 *	  3	  1	reason (int8, two's complement; -1 none)
 *	  4	  8	created
 *	 12	  8	not_before
 *	 20	  8	not_after
 *	 28	  8	revoked_at
 *	 36	  8	invalidity
 *	 44	 20	supersedes
 *	 64	 20	superseded_by
 *	 84	  1	P: profile length (< CONF_NAME_MAX)
 *	 85	  P	profile, no NUL
 *	  .	  4	I: identity length; 0 = no identity, else it counts the
 *			terminating NUL, which is the identity's only NUL
 *	  .	  I	identity
 *	  .	  4	D: DER length; 0 = no DER (reserved)
 *	  .	  D	DER
 *
 * The record ends exactly after the DER. The identity keeps its NUL so a
 * decoded record can point into LMDB memory without a copy.
 *
 * Index values: identity SHA-256(identity) → serial (duplicates sorted);
 * expiry not_after(8) ‖ serial → "" (only for not_after != 0, i.e. not for
 * a bare reservation); revoked ca(1) ‖ serial → revoked_at(8) ‖ reason(1)
 * ‖ invalidity(8).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/store.h"
#include "ca/store_int.h"

#define STORE_MAXDBS		16
#define STORE_META_SCHEMA	"schema"

#define REC_VERSION		1
#define REC_FIXED		85	/* bytes up to and with P */
#define REC_REASON_MAX		10	/* RFC 5280 5.3.1 aACompromise */
#define REVOKED_VALLEN		(8 + 1 + 8)

/* Names and flags of the databases, in the order of dbi_slot(). */
static const struct {
	const char	*name;
	unsigned int	 flags;
} dbtab[] = {
	{ "meta",	0 },
	{ "certs",	0 },
	{ "identity",	MDB_DUPSORT },
	{ "expiry",	0 },
	{ "revoked",	0 },
	{ "audit",	0 },
	{ "ocsp",	0 },
	{ "tokens",	0 },	/* added later: optional in a read-only store */
	{ "disabled",	0 },	/* schema 2 (ca/store_disabled.c) */
};
#define NDBS	(sizeof(dbtab) / sizeof(dbtab[0]))

static MDB_dbi *
dbi_slot(struct store *st, size_t i)
{
	MDB_dbi *slots[NDBS] = {
		&st->meta, &st->certs, &st->identity, &st->expiry,
		&st->revoked, &st->audit, &st->ocsp, &st->tokens,
		&st->disabled,
	};

	return slots[i];
}

int
store_mdb_err(int rc, const char *what)
{
	switch (rc) {
	case MDB_MAP_FULL:
		return ly_fail(LY_ERR_STORE_FULL, "%s: store map full "
		    "(raise the map size)", what);
	case MDB_NOTFOUND:
		return ly_fail(LY_ERR_NOT_FOUND, "%s: not found", what);
	case MDB_KEYEXIST:
		return ly_fail(LY_ERR_EXISTS, "%s: already exists", what);
	default:
		return ly_fail(LY_ERR_STORE, "%s: %s", what, mdb_strerror(rc));
	}
}

int
store_txn_need_write(const struct store_txn *t, const char *op)
{
	if (t == NULL)
		return ly_fail(LY_ERR_ARG, "%s: no transaction", op);
	if (!t->write)
		return ly_fail(LY_ERR_ARG, "%s: needs a write transaction", op);
	return LY_OK;
}

/* The serial as OpenSSL prints it (whole octets, no leading zero octets). */
static void
serial_str(const struct ca_serial *s, char buf[2 * CA_SERIAL_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, n = 0;

	while (i < CA_SERIAL_LEN - 1 && s->b[i] == 0)
		i++;
	for (; i < CA_SERIAL_LEN; i++) {
		buf[n++] = hex[s->b[i] >> 4];
		buf[n++] = hex[s->b[i] & 0xf];
	}
	buf[n] = '\0';
}

static int
serial_is_zero(const struct ca_serial *s)
{
	static const struct ca_serial zero;

	return memcmp(s->b, zero.b, CA_SERIAL_LEN) == 0;
}

/* ---- environment ------------------------------------------------------- */

/*
 * Reads the schema version; writes it into a new store (write mode only).
 * A store that has data but no version is damaged, not new: refused.
 */
static int
store_schema_check(struct store *st, MDB_txn *txn)
{
	MDB_val k = { sizeof(STORE_META_SCHEMA) - 1, (void *)STORE_META_SCHEMA };
	MDB_val v;
	MDB_stat ms;
	unsigned char buf[4];
	uint32_t ver;
	int rc;

	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if (st->rdonly || st->existing)
			return ly_fail(LY_ERR_STORE, "store: no schema version: "
			    "not a Lanyard store, or one never initialised");
		if ((rc = mdb_stat(txn, st->meta, &ms)) != 0)
			return store_mdb_err(rc, "store: meta");
		if (ms.ms_entries != 0)
			return ly_fail(LY_ERR_STORE, "store: schema version "
			    "missing from a store that has meta values");
		if ((rc = mdb_stat(txn, st->certs, &ms)) != 0)
			return store_mdb_err(rc, "store: certs");
		if (ms.ms_entries != 0)
			return ly_fail(LY_ERR_STORE, "store: schema version "
			    "missing from a store that has certificates");
		ly_be32_put(buf, STORE_SCHEMA_VERSION);
		st->schema = STORE_SCHEMA_VERSION;
		v.mv_size = sizeof(buf);
		v.mv_data = buf;
		if ((rc = mdb_put(txn, st->meta, &k, &v, MDB_NOOVERWRITE)) != 0)
			return store_mdb_err(rc, "store: writing schema version");
		return LY_OK;
	}
	if (rc != 0)
		return store_mdb_err(rc, "store: reading schema version");
	if (v.mv_size != sizeof(buf))
		return ly_fail(LY_ERR_STORE, "store: schema version of %zu "
		    "bytes, expected 4", v.mv_size);
	ver = ly_be32_get(v.mv_data);
	if (ver > STORE_SCHEMA_VERSION || ver == 0)
		return ly_fail(LY_ERR_STORE, "store: schema version %u was "
		    "written by a newer Lanyard (this one knows up to version "
		    "%d): refusing to open it; run the newer version", ver,
		    STORE_SCHEMA_VERSION);
	/*
	 * An older store is read, never written, until "ca-admin upgrade"
	 * migrates it (ca/upgrade.c): a write by this build could leave it
	 * in a shape neither version knows.
	 */
	if (ver < STORE_SCHEMA_VERSION && !st->rdonly && !st->upgrade)
		return ly_fail(LY_ERR_STORE, "store: schema version %u is older "
		    "than this Lanyard's %d: it opens read-only until "
		    "\"ca-admin upgrade\" migrates it (after a backup)", ver,
		    STORE_SCHEMA_VERSION);
	st->schema = ver;
	return LY_OK;
}

/* Opens every database once, for the life of the environment. */
static int
store_dbis_open(struct store *st)
{
	MDB_txn *txn = NULL;
	unsigned int create = st->rdonly ? 0 : MDB_CREATE;
	size_t i;
	int rc, r = LY_ERR_STORE;

	rc = mdb_txn_begin(st->env, NULL, st->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0) {
		txn = NULL;
		r = store_mdb_err(rc, "store: begin");
		goto out;
	}
	for (i = 0; i < NDBS; i++) {
		rc = mdb_dbi_open(txn, dbtab[i].name, dbtab[i].flags | create,
		    dbi_slot(st, i));
		if (rc == MDB_NOTFOUND && dbi_slot(st, i) == &st->tokens) {
			/* A read-only look at a store older than tokens. */
			st->no_tokens = 1;
			continue;
		}
		if (rc == MDB_NOTFOUND && dbi_slot(st, i) == &st->disabled) {
			/* A read-only look at a schema 1 store. */
			st->no_disabled = 1;
			continue;
		}
		if (rc == MDB_NOTFOUND) {
			r = ly_fail(LY_ERR_STORE, "store: database \"%s\" "
			    "missing (not a Lanyard store?)", dbtab[i].name);
			goto out;
		}
		if (rc != 0) {
			r = store_mdb_err(rc, dbtab[i].name);
			goto out;
		}
	}
	if ((r = store_schema_check(st, txn)) != LY_OK)
		goto out;
	/*
	 * Commit even a read transaction: that is what makes the handles
	 * usable by later transactions (lmdb.h, mdb_dbi_open).
	 */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		r = store_mdb_err(rc, "store: commit");
		goto out;
	}
	r = LY_OK;
 out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return r;
}

int
store_open(const char *dir, size_t map_size, unsigned int flags,
    struct store **stp)
{
	struct store *st = NULL;
	struct stat sb;
	char *path = NULL;
	/* NOTLS: read transactions are handed to worker threads. */
	unsigned int eflags = MDB_NOTLS;
	int rc, r = LY_ERR_STORE;

	if (dir == NULL || stp == NULL || map_size == 0 ||
	    (flags & ~(unsigned int)(STORE_RDONLY | STORE_EXISTING |
	    STORE_UPGRADE)) != 0)
		return ly_fail(LY_ERR_ARG, "store_open: bad arguments");
	if (flags & (STORE_RDONLY | STORE_EXISTING)) {
		/*
		 * LMDB would create lock.mdb before finding data.mdb
		 * missing: look first, so a read-only open creates nothing.
		 */
		if ((path = ly_path_join(dir, "data.mdb")) == NULL) {
			r = LY_ERR_ALLOC;
			goto out;
		}
		if (stat(path, &sb) == -1) {
			r = ly_fail(errno == ENOENT ? LY_ERR_NOT_FOUND :
			    LY_ERR_IO, "%s: %s%s", path, strerror(errno),
			    errno == ENOENT ? " (the store is gone: restore it "
			    "from a backup; only init makes a new one)" : "");
			goto out;
		}
		if (flags & STORE_RDONLY)
			eflags |= MDB_RDONLY;
	} else if ((r = ly_mkdir_p(dir, 0700)) != LY_OK)
		goto out;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	st->rdonly = (flags & STORE_RDONLY) != 0;
	st->existing = (flags & STORE_EXISTING) != 0;
	st->upgrade = (flags & STORE_UPGRADE) != 0;
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		r = store_mdb_err(rc, "mdb_env_create");
		goto out;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, map_size)) != 0) {
		r = store_mdb_err(rc, dir);
		goto out;
	}
	/* No MDB_NOSYNC/NOMETASYNC: a commit is durable on return. */
	if ((rc = mdb_env_open(st->env, dir, eflags, 0600)) != 0) {
		r = store_mdb_err(rc, dir);
		goto out;
	}
	/*
	 * Free the reader slots of dead processes: a stale reader pins old
	 * pages and the map fills. Failure here is not fatal.
	 */
	(void)mdb_reader_check(st->env, NULL);
	if ((r = store_dbis_open(st)) != LY_OK)
		goto out;
	*stp = st;
	st = NULL; /* transferred */
	r = LY_OK;
 out:
	store_close(st);
	free(path);
	return r;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
}

/* ---- transactions ------------------------------------------------------ */

int
store_txn_begin(struct store *st, int write, struct store_txn **tp)
{
	struct store_txn *t = NULL;
	int rc, r = LY_ERR_STORE;

	if (st == NULL || tp == NULL)
		return ly_fail(LY_ERR_ARG, "store_txn_begin: bad arguments");
	if (write && st->rdonly)
		return ly_fail(LY_ERR_ARG, "store opened read-only: no write "
		    "transaction");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return LY_ERR_ALLOC;
	t->st = st;
	t->write = write != 0;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		r = store_mdb_err(rc, "store: begin");
		goto out;
	}
	*tp = t;
	t = NULL; /* transferred */
	r = LY_OK;
 out:
	free(t);
	return r;
}

int
store_txn_begin_child(struct store_txn *parent, struct store_txn **tp)
{
	struct store_txn *t = NULL;
	int rc;

	if (tp == NULL)
		return ly_fail(LY_ERR_ARG, "store_txn_begin_child: bad "
		    "arguments");
	if (store_txn_need_write(parent, "store_txn_begin_child") != LY_OK)
		return LY_ERR_ARG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return LY_ERR_ALLOC;
	t->st = parent->st;
	t->write = 1;
	/*
	 * LMDB nests write transactions only without MDB_WRITEMAP, which
	 * store_open() never sets: a child's pages are copies until it
	 * commits into its parent.
	 */
	if ((rc = mdb_txn_begin(t->st->env, parent->txn, 0, &t->txn)) != 0) {
		free(t);
		return store_mdb_err(rc, "store: begin child");
	}
	*tp = t;
	return LY_OK;
}

int
store_txn_commit(struct store_txn *t)
{
	int rc;

	if (t == NULL)
		return ly_fail(LY_ERR_ARG, "store_txn_commit: no transaction");
	/* LMDB frees the transaction whether or not the commit succeeds. */
	rc = mdb_txn_commit(t->txn);
	free(t);
	if (rc != 0)
		return store_mdb_err(rc, "store: commit");
	return LY_OK;
}

void
store_txn_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---- certificate records ----------------------------------------------- */

/* What a write must satisfy before it is encoded. */
static int
cert_check(const struct store_cert *c, const char *op)
{
	char sn[2 * CA_SERIAL_LEN + 1];

	if (c == NULL)
		return ly_fail(LY_ERR_ARG, "%s: no record", op);
	serial_str(&c->serial, sn);
	if (serial_is_zero(&c->serial))
		return ly_fail(LY_ERR_ARG, "%s: serial zero", op);
	if (c->status < STORE_RESERVED || c->status > STORE_BURNED)
		return ly_fail(LY_ERR_ARG, "%s: serial %s: bad status %u", op,
		    sn, c->status);
	if (c->ca >= CA_MAX_SLOTS)
		return ly_fail(LY_ERR_ARG, "%s: serial %s: bad CA slot %u", op,
		    sn, c->ca);
	if (c->reason < -1 || c->reason > REC_REASON_MAX)
		return ly_fail(LY_ERR_ARG, "%s: serial %s: bad reason %d", op,
		    sn, c->reason);
	if (memchr(c->profile, '\0', sizeof(c->profile)) == NULL)
		return ly_fail(LY_ERR_ARG, "%s: serial %s: profile not "
		    "terminated", op, sn);
	/* Negative times would sort after all others in the expiry index. */
	if (c->not_after < 0)
		return ly_fail(LY_ERR_ARG, "%s: serial %s: negative notAfter",
		    op, sn);
	if (c->identity != NULL && (c->identity[0] == '\0' ||
	    strlen(c->identity) >= UINT32_MAX))
		return ly_fail(LY_ERR_ARG, "%s: serial %s: empty or oversized "
		    "identity (use NULL for none)", op, sn);
	if ((c->der == NULL) != (c->derlen == 0) || c->derlen > UINT32_MAX)
		return ly_fail(LY_ERR_ARG, "%s: serial %s: bad DER length",
		    op, sn);
	return LY_OK;
}

/* Encodes a checked record (cert_check()) into a new buffer. */
static int
cert_encode(const struct store_cert *c, unsigned char **bufp, size_t *lenp)
{
	unsigned char *buf, *p;
	size_t plen, ilen, len;

	plen = strlen(c->profile);
	ilen = c->identity != NULL ? strlen(c->identity) + 1 : 0;
	len = REC_FIXED + plen + 4 + ilen + 4 + c->derlen;
	if ((buf = malloc(len)) == NULL)
		return LY_ERR_ALLOC;
	p = buf;
	p[0] = REC_VERSION;
	p[1] = c->status;
	p[2] = c->ca;
	p[3] = (unsigned char)c->reason;
	ly_be64_put(p + 4, (uint64_t)c->created);
	ly_be64_put(p + 12, (uint64_t)c->not_before);
	ly_be64_put(p + 20, (uint64_t)c->not_after);
	ly_be64_put(p + 28, (uint64_t)c->revoked_at);
	ly_be64_put(p + 36, (uint64_t)c->invalidity);
	memcpy(p + 44, c->supersedes.b, CA_SERIAL_LEN);
	memcpy(p + 64, c->superseded_by.b, CA_SERIAL_LEN);
	p[84] = (unsigned char)plen;
	p += REC_FIXED;
	memcpy(p, c->profile, plen);
	p += plen;
	ly_be32_put(p, (uint32_t)ilen);
	p += 4;
	if (ilen > 0)
		memcpy(p, c->identity, ilen);
	p += ilen;
	ly_be32_put(p, (uint32_t)c->derlen);
	p += 4;
	if (c->derlen > 0)
		memcpy(p, c->der, c->derlen);
	*bufp = buf;
	*lenp = len;
	return LY_OK;
}

/*
 * Decodes an untrusted record: every length is checked against the value
 * and the record must end exactly after the DER. c->identity and c->der
 * point into v (borrowed, valid as long as v is).
 */
static int
record_decode(const MDB_val *k, const MDB_val *v, struct store_cert *c)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;
	const char *why;
	char sn[2 * CA_SERIAL_LEN + 1];
	size_t plen;
	uint32_t ilen, dlen;

	if (k->mv_size != CA_SERIAL_LEN)
		return ly_fail(LY_ERR_STORE, "corrupt record: key of %zu "
		    "bytes", k->mv_size);
	memset(c, 0, sizeof(*c));
	memcpy(c->serial.b, k->mv_data, CA_SERIAL_LEN);

	why = "truncated";
	if (v->mv_size < REC_FIXED)
		goto bad;
	why = "unknown record version";
	if (p[0] != REC_VERSION)
		goto bad;
	c->status = p[1];
	c->ca = p[2];
	c->reason = (int8_t)p[3];
	why = "bad status, CA slot or reason";
	if (c->status < STORE_RESERVED || c->status > STORE_BURNED ||
	    c->ca >= CA_MAX_SLOTS ||
	    c->reason < -1 || c->reason > REC_REASON_MAX)
		goto bad;
	c->created = (int64_t)ly_be64_get(p + 4);
	c->not_before = (int64_t)ly_be64_get(p + 12);
	c->not_after = (int64_t)ly_be64_get(p + 20);
	c->revoked_at = (int64_t)ly_be64_get(p + 28);
	c->invalidity = (int64_t)ly_be64_get(p + 36);
	memcpy(c->supersedes.b, p + 44, CA_SERIAL_LEN);
	memcpy(c->superseded_by.b, p + 64, CA_SERIAL_LEN);
	plen = p[84];
	p += REC_FIXED;

	why = "bad profile";
	if (plen >= sizeof(c->profile) || (size_t)(end - p) < plen ||
	    memchr(p, '\0', plen) != NULL)
		goto bad;
	memcpy(c->profile, p, plen);
	c->profile[plen] = '\0';
	p += plen;

	why = "bad identity";
	if (end - p < 4)
		goto bad;
	ilen = ly_be32_get(p);
	p += 4;
	if ((size_t)(end - p) < ilen)
		goto bad;
	/* The terminating NUL must be the only one. */
	if (ilen > 0 && (ilen == 1 || memchr(p, '\0', ilen) != p + ilen - 1))
		goto bad;
	c->identity = ilen > 0 ? (char *)p : NULL;
	p += ilen;

	why = "bad DER length";
	if (end - p < 4)
		goto bad;
	dlen = ly_be32_get(p);
	p += 4;
	if ((size_t)(end - p) != dlen)
		goto bad;
	c->der = dlen > 0 ? (unsigned char *)p : NULL;
	c->derlen = dlen;
	return LY_OK;
 bad:
	serial_str(&c->serial, sn);
	memset(c, 0, sizeof(*c));
	return ly_fail(LY_ERR_STORE, "corrupt record for serial %s: %s", sn,
	    why);
}

/*
 * What the indexes hold for one record. Taken from the old record before
 * anything is written, so nothing points into LMDB pages that a put could
 * move.
 */
struct cert_idx {
	int		 has_id;
	unsigned char	 idhash[32];
	int64_t		 not_after;
	int		 revoked;
	uint8_t		 ca;
};

static int
identity_hash(const char *identity, unsigned char h[32])
{
	if (!EVP_Digest(identity, strlen(identity), h, NULL, EVP_sha256(),
	    NULL)) {
		ly_log_crypto("identity hash");
		return ly_fail(LY_ERR_INTERNAL, "SHA-256 failed");
	}
	return LY_OK;
}

static int
cert_idx_of(const struct store_cert *c, struct cert_idx *ix)
{
	int r;

	memset(ix, 0, sizeof(*ix));
	if (c->identity != NULL) {
		if ((r = identity_hash(c->identity, ix->idhash)) != LY_OK)
			return r;
		ix->has_id = 1;
	}
	ix->not_after = c->not_after;
	ix->revoked = c->status == STORE_REVOKED;
	ix->ca = c->ca;
	return LY_OK;
}

/* An absent pair is not an error when removing an index entry. */
static int
idx_del(struct store_txn *t, MDB_dbi dbi, MDB_val *k, MDB_val *v,
    const char *what)
{
	int rc;

	rc = mdb_del(t->txn, dbi, k, v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc, what);
	return LY_OK;
}

/*
 * Brings the indexes of serial from old (NULL: a new record) to nw (built
 * from nc). New entries are always written, so an index entry lost
 * earlier is put back by the next write of the record.
 */
static int
cert_index(struct store_txn *t, const struct store_cert *nc,
    const struct cert_idx *old, const struct cert_idx *nw)
{
	struct store *st = t->st;
	unsigned char ek[8 + CA_SERIAL_LEN], rk[1 + CA_SERIAL_LEN];
	unsigned char rv[REVOKED_VALLEN];
	unsigned char hash[32];
	MDB_val k, v;
	int rc, r;

	/* identity: SHA-256(identity) → serial */
	v.mv_size = CA_SERIAL_LEN;
	v.mv_data = (void *)nc->serial.b;
	if (old != NULL && old->has_id && (!nw->has_id ||
	    memcmp(old->idhash, nw->idhash, 32) != 0)) {
		memcpy(hash, old->idhash, 32);
		k.mv_size = 32;
		k.mv_data = hash;
		if ((r = idx_del(t, st->identity, &k, &v, "identity index")) !=
		    LY_OK)
			return r;
	}
	if (nw->has_id) {
		memcpy(hash, nw->idhash, 32);
		k.mv_size = 32;
		k.mv_data = hash;
		rc = mdb_put(t->txn, st->identity, &k, &v, MDB_NODUPDATA);
		if (rc != 0 && rc != MDB_KEYEXIST)
			return store_mdb_err(rc, "identity index");
	}

	/* expiry: not_after ‖ serial → "" */
	memcpy(ek + 8, nc->serial.b, CA_SERIAL_LEN);
	k.mv_size = sizeof(ek);
	k.mv_data = ek;
	if (old != NULL && old->not_after != 0 &&
	    old->not_after != nw->not_after) {
		ly_be64_put(ek, (uint64_t)old->not_after);
		if ((r = idx_del(t, st->expiry, &k, NULL, "expiry index")) !=
		    LY_OK)
			return r;
	}
	if (nw->not_after != 0) {
		ly_be64_put(ek, (uint64_t)nw->not_after);
		v.mv_size = 0;
		v.mv_data = NULL;
		if ((rc = mdb_put(t->txn, st->expiry, &k, &v, 0)) != 0)
			return store_mdb_err(rc, "expiry index");
	}

	/* revoked: ca ‖ serial → revoked_at ‖ reason ‖ invalidity */
	memcpy(rk + 1, nc->serial.b, CA_SERIAL_LEN);
	k.mv_size = sizeof(rk);
	k.mv_data = rk;
	if (old != NULL && old->revoked && (!nw->revoked ||
	    old->ca != nw->ca)) {
		rk[0] = old->ca;
		if ((r = idx_del(t, st->revoked, &k, NULL, "revoked index")) !=
		    LY_OK)
			return r;
	}
	if (nw->revoked) {
		rk[0] = nw->ca;
		ly_be64_put(rv, (uint64_t)nc->revoked_at);
		rv[8] = (unsigned char)nc->reason;
		ly_be64_put(rv + 9, (uint64_t)nc->invalidity);
		v.mv_size = sizeof(rv);
		v.mv_data = rv;
		if ((rc = mdb_put(t->txn, st->revoked, &k, &v, 0)) != 0)
			return store_mdb_err(rc, "revoked index");
	}
	return LY_OK;
}

/* A copy of c that owns its identity and DER; freed by store_cert_free(). */
static int
cert_dup(const struct store_cert *c, struct store_cert **dupp)
{
	struct store_cert *d;
	int r = LY_ERR_ALLOC;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return LY_ERR_ALLOC;
	*d = *c;
	d->identity = NULL;
	d->der = NULL;
	if (c->identity != NULL && (d->identity = strdup(c->identity)) == NULL)
		goto out;
	if (c->der != NULL) {
		if ((d->der = malloc(c->derlen)) == NULL)
			goto out;
		memcpy(d->der, c->der, c->derlen);
	}
	*dupp = d;
	d = NULL; /* transferred */
	r = LY_OK;
 out:
	store_cert_free(d);
	return r;
}

/*
 * Calls cb for a decoded record. In a read transaction the record points
 * into LMDB's read-only map, which nothing can change under it. In a
 * write transaction a put by cb could move the bytes of a dirty page under
 * its own feet, so cb gets a copy there.
 */
static int
cert_call(struct store_txn *t, const struct store_cert *c, store_cert_cb cb,
    void *arg)
{
	struct store_cert *d = NULL;
	int r;

	if (!t->write)
		return cb(c, arg);
	if ((r = cert_dup(c, &d)) != LY_OK)
		return r;
	r = cb(d, arg);
	store_cert_free(d);
	return r;
}

int
store_cert_reserve(struct store_txn *t, const struct store_cert *c)
{
	struct cert_idx nw;
	unsigned char *buf = NULL;
	char sn[2 * CA_SERIAL_LEN + 1];
	size_t len;
	MDB_val k, v;
	int rc, r = LY_ERR_STORE;

	if ((r = store_txn_need_write(t, "store_cert_reserve")) != LY_OK ||
	    (r = cert_check(c, "store_cert_reserve")) != LY_OK)
		goto out;
	serial_str(&c->serial, sn);
	if (c->status != STORE_RESERVED || c->der != NULL) {
		r = ly_fail(LY_ERR_ARG, "store_cert_reserve: serial %s: a "
		    "reservation has status reserved and no DER", sn);
		goto out;
	}
	if ((r = cert_idx_of(c, &nw)) != LY_OK ||
	    (r = cert_encode(c, &buf, &len)) != LY_OK)
		goto out;
	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)c->serial.b;
	v.mv_size = len;
	v.mv_data = buf;
	/* NOOVERWRITE: a serial is never reused, whatever became of it. */
	rc = mdb_put(t->txn, t->st->certs, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		r = ly_fail(LY_ERR_EXISTS, "serial %s already in the store",
		    sn);
		goto out;
	}
	if (rc != 0) {
		r = store_mdb_err(rc, "store_cert_reserve");
		goto out;
	}
	if ((r = cert_index(t, c, NULL, &nw)) != LY_OK)
		goto out;
	r = LY_OK;
 out:
	free(buf);
	return r;
}

int
store_cert_put(struct store_txn *t, const struct store_cert *c)
{
	struct store_cert oc;
	struct cert_idx old, nw;
	unsigned char *buf = NULL;
	char sn[2 * CA_SERIAL_LEN + 1];
	size_t len;
	MDB_val k, v;
	int rc, r = LY_ERR_STORE;

	if ((r = store_txn_need_write(t, "store_cert_put")) != LY_OK ||
	    (r = cert_check(c, "store_cert_put")) != LY_OK)
		goto out;
	serial_str(&c->serial, sn);
	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)c->serial.b;
	rc = mdb_get(t->txn, t->st->certs, &k, &v);
	if (rc == MDB_NOTFOUND) {
		r = ly_fail(LY_ERR_NOT_FOUND, "serial %s was never reserved",
		    sn);
		goto out;
	}
	if (rc != 0) {
		r = store_mdb_err(rc, "store_cert_put");
		goto out;
	}
	/* The old record must decode: its index entries are to be undone. */
	if ((r = record_decode(&k, &v, &oc)) != LY_OK)
		goto out;
	/*
	 * Burned is final: a certificate that an issuance in flight still
	 * tries to store over it is refused and never returned. Only a
	 * reservation is burned.
	 */
	if (oc.status == STORE_BURNED || (c->status == STORE_BURNED &&
	    oc.status != STORE_RESERVED)) {
		r = ly_fail(LY_ERR_STATE, "serial %s is %s: it cannot become "
		    "%s", sn, oc.status == STORE_BURNED ? "burned" :
		    "not a reservation", c->status == STORE_BURNED ? "burned" :
		    "a certificate");
		goto out;
	}
	if ((r = cert_idx_of(&oc, &old)) != LY_OK ||
	    (r = cert_idx_of(c, &nw)) != LY_OK ||
	    (r = cert_encode(c, &buf, &len)) != LY_OK)
		goto out;
	v.mv_size = len;
	v.mv_data = buf;
	if ((rc = mdb_put(t->txn, t->st->certs, &k, &v, 0)) != 0) {
		r = store_mdb_err(rc, "store_cert_put");
		goto out;
	}
	if ((r = cert_index(t, c, &old, &nw)) != LY_OK)
		goto out;
	r = LY_OK;
 out:
	free(buf);
	return r;
}

int
store_cert_del(struct store_txn *t, const struct ca_serial *serial)
{
	struct store_cert oc;
	struct cert_idx old;
	unsigned char ek[8 + CA_SERIAL_LEN], rk[1 + CA_SERIAL_LEN];
	unsigned char hash[32];
	MDB_val k, v, iv;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_cert_del")) != LY_OK)
		return r;
	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)serial->b;
	if ((rc = mdb_get(t->txn, t->st->certs, &k, &v)) != 0)
		return store_mdb_err(rc, "store_cert_del");
	/* The index entries come from the record, taken before it goes. */
	if ((r = record_decode(&k, &v, &oc)) != LY_OK ||
	    (r = cert_idx_of(&oc, &old)) != LY_OK)
		return r;
	iv.mv_size = CA_SERIAL_LEN;
	iv.mv_data = (void *)serial->b;
	if (old.has_id) {
		MDB_val hk = { sizeof(hash), hash };

		memcpy(hash, old.idhash, sizeof(hash));
		if ((r = idx_del(t, t->st->identity, &hk, &iv,
		    "identity index")) != LY_OK)
			return r;
	}
	if (old.not_after != 0) {
		MDB_val ekv = { sizeof(ek), ek };

		ly_be64_put(ek, (uint64_t)old.not_after);
		memcpy(ek + 8, serial->b, CA_SERIAL_LEN);
		if ((r = idx_del(t, t->st->expiry, &ekv, NULL,
		    "expiry index")) != LY_OK)
			return r;
	}
	if (old.revoked) {
		MDB_val rkv = { sizeof(rk), rk };

		rk[0] = old.ca;
		memcpy(rk + 1, serial->b, CA_SERIAL_LEN);
		if ((r = idx_del(t, t->st->revoked, &rkv, NULL,
		    "revoked index")) != LY_OK)
			return r;
	}
	if ((r = idx_del(t, t->st->ocsp, &k, NULL, "ocsp")) != LY_OK)
		return r;
	if ((rc = mdb_del(t->txn, t->st->certs, &k, NULL)) != 0)
		return store_mdb_err(rc, "store_cert_del");
	return LY_OK;
}

int
store_token_del(struct store_txn *t, const unsigned char hash[32])
{
	MDB_val k;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_token_del")) != LY_OK)
		return r;
	if (t->st->no_tokens)
		return ly_fail(LY_ERR_NOT_FOUND, "store_token_del: not found");
	k.mv_size = 32;
	k.mv_data = (void *)hash;
	if ((rc = mdb_del(t->txn, t->st->tokens, &k, NULL)) != 0)
		return store_mdb_err(rc, "store_token_del");
	return LY_OK;
}

int
store_cert_get(struct store_txn *t, const struct ca_serial *serial,
    struct store_cert **certp)
{
	struct store_cert tmp, *c = NULL;
	char sn[2 * CA_SERIAL_LEN + 1];
	MDB_val k, v;
	int rc, r;

	if (t == NULL || serial == NULL || certp == NULL)
		return ly_fail(LY_ERR_ARG, "store_cert_get: bad arguments");
	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)serial->b;
	rc = mdb_get(t->txn, t->st->certs, &k, &v);
	if (rc == MDB_NOTFOUND) {
		serial_str(serial, sn);
		return ly_fail(LY_ERR_NOT_FOUND, "serial %s not in the store",
		    sn);
	}
	if (rc != 0)
		return store_mdb_err(rc, "store_cert_get");
	/* A deep copy: the caller keeps it past the transaction. */
	if ((r = record_decode(&k, &v, &tmp)) != LY_OK ||
	    (r = cert_dup(&tmp, &c)) != LY_OK)
		return r;
	*certp = c;
	return LY_OK;
}

void
store_cert_free(struct store_cert *c)
{
	if (c == NULL)
		return;
	free(c->identity);
	free(c->der);
	free(c);
}

int
store_cert_foreach(struct store_txn *t, store_cert_cb cb, void *arg)
{
	struct store_cert c;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	int rc, r = LY_ERR_STORE;

	if (t == NULL || cb == NULL)
		return ly_fail(LY_ERR_ARG, "store_cert_foreach: bad arguments");
	if ((rc = mdb_cursor_open(t->txn, t->st->certs, &cur)) != 0)
		return store_mdb_err(rc, "store_cert_foreach");
	/* Keys are big-endian serials of one width: LMDB order is numeric. */
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if ((r = record_decode(&k, &v, &c)) != LY_OK)
			goto out;
		if ((r = cert_call(t, &c, cb, arg)) != 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND) {
		r = store_mdb_err(rc, "store_cert_foreach");
		goto out;
	}
	r = LY_OK;
 out:
	mdb_cursor_close(cur);
	return r;
}

int
store_cert_by_identity(struct store_txn *t, const char *identity,
    store_cert_cb cb, void *arg)
{
	struct store_cert c;
	unsigned char hash[32];
	char sn[2 * CA_SERIAL_LEN + 1];
	MDB_cursor *cur = NULL;
	MDB_val k, v, ck, cv;
	MDB_cursor_op op = MDB_SET_KEY;
	int rc, r = LY_ERR_STORE;

	if (t == NULL || identity == NULL || cb == NULL)
		return ly_fail(LY_ERR_ARG, "store_cert_by_identity: bad "
		    "arguments");
	if ((r = identity_hash(identity, hash)) != LY_OK)
		return r;
	if ((rc = mdb_cursor_open(t->txn, t->st->identity, &cur)) != 0)
		return store_mdb_err(rc, "store_cert_by_identity");
	k.mv_size = sizeof(hash);
	k.mv_data = hash;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT_DUP;
		if (v.mv_size != CA_SERIAL_LEN) {
			r = ly_fail(LY_ERR_STORE, "identity index: value of "
			    "%zu bytes", v.mv_size);
			goto out;
		}
		ck = v;
		rc = mdb_get(t->txn, t->st->certs, &ck, &cv);
		if (rc == MDB_NOTFOUND) {
			memcpy(c.serial.b, v.mv_data, CA_SERIAL_LEN);
			serial_str(&c.serial, sn);
			r = ly_fail(LY_ERR_STORE, "identity index names serial "
			    "%s, which is not in the store", sn);
			goto out;
		}
		if (rc != 0) {
			r = store_mdb_err(rc, "store_cert_by_identity");
			goto out;
		}
		if ((r = record_decode(&ck, &cv, &c)) != LY_OK)
			goto out;
		/* Equal hashes are not equal strings; trust the record. */
		if (c.identity == NULL || strcmp(c.identity, identity) != 0)
			continue;
		if ((r = cert_call(t, &c, cb, arg)) != 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND) {
		r = store_mdb_err(rc, "store_cert_by_identity");
		goto out;
	}
	r = LY_OK;
 out:
	mdb_cursor_close(cur);
	return r;
}

/* ---- meta -------------------------------------------------------------- */

static int
meta_key(struct store_txn *t, const char *key, MDB_val *k, const char *op)
{
	size_t len;

	if (t == NULL || key == NULL || (len = strlen(key)) == 0 ||
	    len > (size_t)mdb_env_get_maxkeysize(t->st->env))
		return ly_fail(LY_ERR_ARG, "%s: bad key", op);
	k->mv_size = len;
	k->mv_data = (void *)key;
	return LY_OK;
}

int
store_meta_get(struct store_txn *t, const char *key, const void **valp,
    size_t *lenp)
{
	MDB_val k, v;
	int rc, r;

	if (valp == NULL || lenp == NULL)
		return ly_fail(LY_ERR_ARG, "store_meta_get: bad arguments");
	if ((r = meta_key(t, key, &k, "store_meta_get")) != LY_OK)
		return r;
	rc = mdb_get(t->txn, t->st->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return ly_fail(LY_ERR_NOT_FOUND, "meta \"%s\" not set", key);
	if (rc != 0)
		return store_mdb_err(rc, "store_meta_get");
	*valp = v.mv_data;
	*lenp = v.mv_size;
	return LY_OK;
}

int
store_meta_put(struct store_txn *t, const char *key, const void *val,
    size_t len)
{
	MDB_val k, v;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_meta_put")) != LY_OK ||
	    (r = meta_key(t, key, &k, "store_meta_put")) != LY_OK)
		return r;
	if (val == NULL && len != 0)
		return ly_fail(LY_ERR_ARG, "store_meta_put: no value");
	/* The schema and the audit head belong to the store itself. */
	if (strcmp(key, STORE_META_SCHEMA) == 0 ||
	    strcmp(key, STORE_META_AUDIT_HEAD) == 0)
		return ly_fail(LY_ERR_ARG, "store_meta_put: \"%s\" is "
		    "reserved", key);
	v.mv_size = len;
	v.mv_data = (void *)val;
	if ((rc = mdb_put(t->txn, t->st->meta, &k, &v, 0)) != 0)
		return store_mdb_err(rc, "store_meta_put");
	return LY_OK;
}

/* ---- revocations in serial order (for CRLs) ---------------------------- */

/* Entries of the revoked index between two releases of the map. */
#define STORE_WALK_RELEASE	4096

/*
 * Pages of the map a long walk has touched, to be released. A page read
 * stays mapped, and the kernel maps the cached pages around it too
 * (fault-around, large folios): walking the revoked index of 1M entries
 * (70 MB) left 500 MB of the file resident, counted in the process's RSS.
 */
struct store_span {
	uintptr_t	 lo;
	uintptr_t	 hi;
};

static void
store_span_add(struct store_span *sp, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	if (a < sp->lo)
		sp->lo = a;
	if (a > sp->hi)
		sp->hi = a;
}

/*
 * Drops this process's mappings of the pages in the span; they stay in
 * the page cache and the next access maps them again. Only for read
 * transactions: there every pointer is into the map, which is read-only
 * and shared (no MDB_WRITEMAP), and the span, between two pointers into
 * one mapping, lies inside it. In a write transaction a pointer may be
 * into a dirty page on the heap.
 */
static void
store_span_release(const struct store_txn *t, struct store_span *sp)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);

	if (!t->write && sp->lo <= sp->hi)
		(void)madvise((void *)(sp->lo & ~(pg - 1)),
		    (sp->hi | (pg - 1)) + 1 - (sp->lo & ~(pg - 1)),
		    MADV_DONTNEED);
	sp->lo = UINTPTR_MAX;
	sp->hi = 0;
}

int
store_revoked_foreach(struct store_txn *t, uint8_t ca, store_revoked_cb cb,
    void *arg)
{
	struct store_revoked rv;
	struct store_span span = { UINTPTR_MAX, 0 };
	unsigned char start[1 + CA_SERIAL_LEN];
	size_t n = 0;
	const unsigned char *kp, *vp;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, r;

	if ((rc = mdb_cursor_open(t->txn, t->st->revoked, &cur)) != 0)
		return store_mdb_err(rc, "store_revoked_foreach");
	memset(start, 0, sizeof(start));
	start[0] = ca;
	k.mv_size = sizeof(start);
	k.mv_data = start;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		kp = k.mv_data;
		vp = v.mv_data;
		if (k.mv_size != 1 + CA_SERIAL_LEN || kp[0] != ca)
			break;
		if (v.mv_size != REVOKED_VALLEN) {
			r = ly_fail(LY_ERR_STORE, "corrupt revoked index entry");
			goto out;
		}
		memcpy(rv.serial.b, kp + 1, CA_SERIAL_LEN);
		rv.revoked_at = (int64_t)ly_be64_get(vp);
		rv.reason = (int8_t)vp[8];
		rv.invalidity = (int64_t)ly_be64_get(vp + 9);
		if ((r = cb(&rv, arg)) != 0)
			goto out;
		store_span_add(&span, kp);
		if (++n % STORE_WALK_RELEASE == 0)
			store_span_release(t, &span);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		r = store_mdb_err(rc, "store_revoked_foreach");
		goto out;
	}
	r = LY_OK;
 out:
	mdb_cursor_close(cur);
	if (n >= STORE_WALK_RELEASE)
		store_span_release(t, &span);
	return r;
}

/* ---- pre-signed OCSP responses ----------------------------------------- */

int
store_ocsp_put(struct store_txn *t, const struct ca_serial *serial,
    const void *der, size_t len)
{
	MDB_val k, v;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_ocsp_put")) != LY_OK)
		return r;
	if (der == NULL || len == 0)
		return ly_fail(LY_ERR_ARG, "store_ocsp_put: empty response");
	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)serial->b;
	v.mv_size = len;
	v.mv_data = (void *)der;
	if ((rc = mdb_put(t->txn, t->st->ocsp, &k, &v, 0)) != 0)
		return store_mdb_err(rc, "store_ocsp_put");
	return LY_OK;
}

int
store_ocsp_get(struct store_txn *t, const struct ca_serial *serial,
    const void **derp, size_t *lenp)
{
	MDB_val k, v;
	int rc;

	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)serial->b;
	if ((rc = mdb_get(t->txn, t->st->ocsp, &k, &v)) != 0)
		return store_mdb_err(rc, "store_ocsp_get");
	*derp = v.mv_data;
	*lenp = v.mv_size;
	return LY_OK;
}

int
store_ocsp_del(struct store_txn *t, const struct ca_serial *serial)
{
	MDB_val k;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_ocsp_del")) != LY_OK)
		return r;
	k.mv_size = CA_SERIAL_LEN;
	k.mv_data = (void *)serial->b;
	rc = mdb_del(t->txn, t->st->ocsp, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc, "store_ocsp_del");
	return LY_OK;
}

/* ---- one-time enrollment tokens ---------------------------------------- */

int
store_token_put(struct store_txn *t, const unsigned char hash[32],
    const void *rec, size_t len)
{
	MDB_val k, v;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_token_put")) != LY_OK)
		return r;
	if (t->st->no_tokens)
		return ly_fail(LY_ERR_STORE, "store_token_put: no tokens "
		    "database");
	k.mv_size = 32;
	k.mv_data = (void *)hash;
	v.mv_size = len;
	v.mv_data = (void *)rec;
	if ((rc = mdb_put(t->txn, t->st->tokens, &k, &v, 0)) != 0)
		return store_mdb_err(rc, "store_token_put");
	return LY_OK;
}

int
store_token_get(struct store_txn *t, const unsigned char hash[32],
    const void **recp, size_t *lenp)
{
	MDB_val k, v;
	int rc;

	if (t->st->no_tokens)
		return ly_fail(LY_ERR_NOT_FOUND, "store_token_get: not found");
	k.mv_size = 32;
	k.mv_data = (void *)hash;
	if ((rc = mdb_get(t->txn, t->st->tokens, &k, &v)) != 0)
		return store_mdb_err(rc, "store_token_get");
	*recp = v.mv_data;
	*lenp = v.mv_size;
	return LY_OK;
}

int
store_token_foreach(struct store_txn *t, store_token_cb cb, void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc, r = LY_OK;

	if (t->st->no_tokens)
		return LY_OK;
	if ((rc = mdb_cursor_open(t->txn, t->st->tokens, &c)) != 0)
		return store_mdb_err(rc, "store_token_foreach");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		if ((r = cb(k.mv_data, v.mv_data, v.mv_size, arg)) != 0)
			break;
	}
	if (r == LY_OK && rc != 0 && rc != MDB_NOTFOUND)
		r = store_mdb_err(rc, "store_token_foreach");
	mdb_cursor_close(c);
	return r;
}
