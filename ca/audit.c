/*
 * ca/audit.c — the hash-chained audit log in the store's "audit" database.
 *
 * Entry, version 1 (key: seq, 8 bytes big-endian, from 1):
 *
 *	off	len	field
 *	  0	  1	entry version (1)
 *	  1	  8	time (int64 big-endian, ly_now())
 *	  9	 32	prev: hash of entry seq-1 (zeros for seq 1)
 *	 41	 32	hash = SHA-256(seq ‖ time ‖ prev ‖ actor\0 ‖ action\0
 *			‖ detail\0)
 *	 73	  .	actor\0 action\0 detail\0 (actor, action non-empty;
 *			detail may be empty), ending the value exactly
 *
 * meta "audit_head" = seq ‖ hash of the last entry, written in the same
 * transaction, so a removed last entry shows. The chain is unkeyed: it
 * shows edits made by anything that does not also rewrite every later
 * entry and the head; it is not a signature.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/store.h"
#include "ca/store_int.h"

#define AUDIT_VERSION		1
#define AUDIT_HDR		(1 + 8 + 32 + 32)
/* Per string, with its NUL: a generous bound on "compact JSON". */
#define AUDIT_FIELD_MAX		(64 * 1024)

/* A decoded entry; pointers into the LMDB value. */
struct audit_rec {
	uint64_t		 seq;
	int64_t			 time;
	const unsigned char	*prev;
	const unsigned char	*hash;
	const char		*actor;
	const char		*action;
	const char		*detail;
	const unsigned char	*strs;	/* actor\0 action\0 detail\0 */
	size_t			 strslen;
};

/* SHA-256(seq ‖ time ‖ prev ‖ strs), strs being the three strings. */
static int
audit_hash(uint64_t seq, int64_t time, const unsigned char prev[32],
    const unsigned char *strs, size_t strslen, unsigned char out[32])
{
	unsigned char *buf;
	size_t len = 8 + 8 + 32 + strslen;
	int r = LY_ERR_INTERNAL;

	if ((buf = malloc(len)) == NULL)
		return LY_ERR_ALLOC;
	ly_be64_put(buf, seq);
	ly_be64_put(buf + 8, (uint64_t)time);
	memcpy(buf + 16, prev, 32);
	memcpy(buf + 48, strs, strslen);
	if (!EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL)) {
		ly_log_crypto("audit hash");
		r = ly_fail(LY_ERR_INTERNAL, "audit: SHA-256 failed");
		goto out;
	}
	r = LY_OK;
 out:
	free(buf);
	return r;
}

/* Takes the next NUL-terminated string from [*pp, end). */
static const char *
audit_str(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp, *nul;

	if (p >= end || (nul = memchr(p, '\0', (size_t)(end - p))) == NULL)
		return NULL;
	*pp = nul + 1;
	return (const char *)p;
}

/* Decodes an untrusted entry; LY_ERR_AUDIT naming its seq if malformed. */
static int
audit_decode(const MDB_val *k, const MDB_val *v, struct audit_rec *e)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;

	memset(e, 0, sizeof(*e));
	if (k->mv_size != 8)
		return ly_fail(LY_ERR_AUDIT, "audit: key of %zu bytes",
		    k->mv_size);
	e->seq = ly_be64_get(k->mv_data);
	if (v->mv_size < AUDIT_HDR || p[0] != AUDIT_VERSION)
		goto bad;
	e->time = (int64_t)ly_be64_get(p + 1);
	e->prev = p + 9;
	e->hash = p + 41;
	p += AUDIT_HDR;
	e->strs = p;
	e->strslen = (size_t)(end - p);
	if ((e->actor = audit_str(&p, end)) == NULL ||
	    (e->action = audit_str(&p, end)) == NULL ||
	    (e->detail = audit_str(&p, end)) == NULL)
		goto bad;
	if (p != end || e->actor[0] == '\0' || e->action[0] == '\0')
		goto bad;
	return LY_OK;
 bad:
	return ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64 " malformed",
	    e->seq);
}

/*
 * Reads the head: *seqp and hash of the last entry, or 0 and zeros for a
 * new log. Refuses to extend a log whose head does not name its last
 * entry, so damage is not buried under new entries.
 */
static int
audit_head(struct store_txn *t, uint64_t *seqp, unsigned char hash[32])
{
	struct store *st = t->st;
	MDB_val k = { sizeof(STORE_META_AUDIT_HEAD) - 1,
	    (void *)STORE_META_AUDIT_HEAD };
	MDB_val v;
	MDB_stat ms;
	unsigned char key[8];
	uint64_t seq = 0;
	int rc;

	rc = mdb_get(t->txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if ((rc = mdb_stat(t->txn, st->audit, &ms)) != 0)
			return store_mdb_err(rc, "audit");
		if (ms.ms_entries != 0)
			return ly_fail(LY_ERR_AUDIT, "audit: head missing from "
			    "a log of %zu entries", ms.ms_entries);
		*seqp = 0;
		memset(hash, 0, 32);
		return LY_OK;
	}
	if (rc != 0)
		return store_mdb_err(rc, "audit head");
	if (v.mv_size != STORE_AUDIT_HEAD_LEN)
		return ly_fail(LY_ERR_AUDIT, "audit: head of %zu bytes",
		    v.mv_size);
	seq = ly_be64_get(v.mv_data);
	memcpy(hash, (const unsigned char *)v.mv_data + 8, 32);

	ly_be64_put(key, seq);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_get(t->txn, st->audit, &k, &v);
	if (rc == MDB_NOTFOUND)
		return ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64 " missing "
		    "(last entry removed?)", seq);
	if (rc != 0)
		return store_mdb_err(rc, "audit");
	if (v.mv_size < AUDIT_HDR ||
	    memcmp((const unsigned char *)v.mv_data + 41, hash, 32) != 0)
		return ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64 " does "
		    "not match the head", seq);
	*seqp = seq;
	return LY_OK;
}

int
store_audit_append(struct store_txn *t, const char *actor,
    const char *action, const char *detail)
{
	unsigned char *buf = NULL, key[8], head[STORE_AUDIT_HEAD_LEN];
	size_t alen, aclen, dlen, len;
	uint64_t seq = 0;
	int64_t now;
	MDB_val k, v;
	int rc, r = LY_ERR_STORE;

	if ((r = store_txn_need_write(t, "store_audit_append")) != LY_OK)
		goto out;
	if (actor == NULL || actor[0] == '\0' || action == NULL ||
	    action[0] == '\0') {
		r = ly_fail(LY_ERR_ARG, "store_audit_append: actor and action "
		    "are required");
		goto out;
	}
	if (detail == NULL)
		detail = "";
	alen = strlen(actor) + 1;
	aclen = strlen(action) + 1;
	dlen = strlen(detail) + 1;
	if (alen > AUDIT_FIELD_MAX || aclen > AUDIT_FIELD_MAX ||
	    dlen > AUDIT_FIELD_MAX) {
		r = ly_fail(LY_ERR_TOO_LARGE, "store_audit_append: a field "
		    "is over %d bytes", AUDIT_FIELD_MAX);
		goto out;
	}
	if ((r = audit_head(t, &seq, head + 8)) != LY_OK)
		goto out;
	if (seq == UINT64_MAX) {
		r = ly_fail(LY_ERR_AUDIT, "audit: sequence exhausted");
		goto out;
	}
	seq++;
	now = (int64_t)ly_now();

	len = AUDIT_HDR + alen + aclen + dlen;
	if ((buf = malloc(len)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	buf[0] = AUDIT_VERSION;
	ly_be64_put(buf + 1, (uint64_t)now);
	memcpy(buf + 9, head + 8, 32);
	memcpy(buf + AUDIT_HDR, actor, alen);
	memcpy(buf + AUDIT_HDR + alen, action, aclen);
	memcpy(buf + AUDIT_HDR + alen + aclen, detail, dlen);
	if ((r = audit_hash(seq, now, buf + 9, buf + AUDIT_HDR,
	    alen + aclen + dlen, buf + 41)) != LY_OK)
		goto out;

	ly_be64_put(key, seq);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	v.mv_size = len;
	v.mv_data = buf;
	rc = mdb_put(t->txn, t->st->audit, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		r = ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64 " exists "
		    "beyond the head", seq);
		goto out;
	}
	if (rc != 0) {
		r = store_mdb_err(rc, "audit append");
		goto out;
	}

	ly_be64_put(head, seq);
	memcpy(head + 8, buf + 41, 32);
	k.mv_size = sizeof(STORE_META_AUDIT_HEAD) - 1;
	k.mv_data = (void *)STORE_META_AUDIT_HEAD;
	v.mv_size = sizeof(head);
	v.mv_data = head;
	if ((rc = mdb_put(t->txn, t->st->meta, &k, &v, 0)) != 0) {
		r = store_mdb_err(rc, "audit head");
		goto out;
	}
	r = LY_OK;
 out:
	free(buf);
	return r;
}

int
store_audit_foreach(struct store_txn *t, store_audit_cb cb, void *arg)
{
	struct store_audit_entry ent;
	struct audit_rec e;
	MDB_cursor *cur = NULL;
	MDB_cursor_op op = MDB_FIRST;
	MDB_val k, v;
	int rc, r = LY_ERR_STORE;

	if (t == NULL || cb == NULL)
		return ly_fail(LY_ERR_ARG, "store_audit_foreach: bad "
		    "arguments");
	if ((rc = mdb_cursor_open(t->txn, t->st->audit, &cur)) != 0)
		return store_mdb_err(rc, "store_audit_foreach");
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if ((r = audit_decode(&k, &v, &e)) != LY_OK)
			goto out;
		ent.seq = e.seq;
		ent.time = e.time;
		ent.actor = e.actor;
		ent.action = e.action;
		ent.detail = e.detail;
		memcpy(ent.hash, e.hash, sizeof(ent.hash));
		if ((r = cb(&ent, arg)) != 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND) {
		r = store_mdb_err(rc, "store_audit_foreach");
		goto out;
	}
	r = LY_OK;
 out:
	mdb_cursor_close(cur);
	return r;
}

/* The head must name the last entry checked (n, hash); none for no log. */
static int
audit_verify_head(struct store_txn *t, uint64_t n, const unsigned char hash[32])
{
	MDB_val k = { sizeof(STORE_META_AUDIT_HEAD) - 1,
	    (void *)STORE_META_AUDIT_HEAD };
	MDB_val v;
	uint64_t hseq;
	int rc;

	rc = mdb_get(t->txn, t->st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if (n == 0)
			return LY_OK;
		return ly_fail(LY_ERR_AUDIT, "audit: head missing after "
		    "entry %" PRIu64, n);
	}
	if (rc != 0)
		return store_mdb_err(rc, "audit head");
	if (v.mv_size != STORE_AUDIT_HEAD_LEN)
		return ly_fail(LY_ERR_AUDIT, "audit: head of %zu bytes",
		    v.mv_size);
	hseq = ly_be64_get(v.mv_data);
	if (hseq > n)
		return ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64 " missing "
		    "(last entry removed; head names %" PRIu64 ")", n + 1,
		    hseq);
	if (hseq != n)
		return ly_fail(LY_ERR_AUDIT, "audit: head mismatch: head names "
		    "entry %" PRIu64 ", log ends at %" PRIu64, hseq, n);
	if (memcmp((const unsigned char *)v.mv_data + 8, hash, 32) != 0)
		return ly_fail(LY_ERR_AUDIT, "audit: head mismatch: hash of "
		    "entry %" PRIu64 " differs", n);
	return LY_OK;
}

int
store_audit_verify(struct store_txn *t, uint64_t *countp)
{
	struct audit_rec e;
	unsigned char prev[32], h[32];
	MDB_cursor *cur = NULL;
	MDB_cursor_op op = MDB_FIRST;
	MDB_val k, v;
	uint64_t n = 0;
	int rc, r = LY_ERR_STORE;

	if (t == NULL)
		return ly_fail(LY_ERR_ARG, "store_audit_verify: no "
		    "transaction");
	memset(prev, 0, sizeof(prev));
	if ((rc = mdb_cursor_open(t->txn, t->st->audit, &cur)) != 0)
		return store_mdb_err(rc, "store_audit_verify");
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		/* Keys sort by value: anything but n + 1 means a gap. */
		if (k.mv_size != 8 || ly_be64_get(k.mv_data) != n + 1) {
			r = ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64
			    " missing", n + 1);
			goto out;
		}
		if ((r = audit_decode(&k, &v, &e)) != LY_OK)
			goto out;
		if ((r = audit_hash(e.seq, e.time, e.prev, e.strs, e.strslen,
		    h)) != LY_OK)
			goto out;
		if (memcmp(h, e.hash, sizeof(h)) != 0) {
			r = ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64
			    " modified", e.seq);
			goto out;
		}
		if (memcmp(e.prev, prev, sizeof(prev)) != 0) {
			r = ly_fail(LY_ERR_AUDIT, "audit: entry %" PRIu64
			    " does not link to entry %" PRIu64, e.seq, n);
			goto out;
		}
		memcpy(prev, e.hash, sizeof(prev));
		n = e.seq;
	}
	if (rc != MDB_NOTFOUND) {
		r = store_mdb_err(rc, "store_audit_verify");
		goto out;
	}
	if ((r = audit_verify_head(t, n, prev)) != LY_OK)
		goto out;
	if (countp != NULL)
		*countp = n;
	r = LY_OK;
 out:
	mdb_cursor_close(cur);
	return r;
}
