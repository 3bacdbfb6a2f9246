/*
 * ocsp/root.c — the OCSP responses about CA certificates, which the root
 * signs ahead of time (see ocsp.h): the issuing CA's certificate carries
 * an OCSP URL, relying parties that check every link ask about it, and
 * the root key may be on a token that is kept offline.
 *
 * The responses are signed by the root itself, not by a delegated
 * signer: a relying party then needs nothing but the trust anchor to
 * check them, and there is no second root-certified key to rotate.
 * With several root slots (generations of the root), each signs about
 * the certificates it issued; a retired one signs nothing more.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ocsp.h>

#include "ocsp/extern.h"
#include "util/util.h"

/* A certificate a root issued, as the response states it. */
struct root_item {
	struct ca_serial serial;
	int		 slot;		/* the root slot that issued it */
	int		 status;	/* enum store_status */
	struct ocsp_status st;
};

struct root_collect {
	/* Root slots that sign (not retired), and their own serials. */
	unsigned char	 root[CA_MAX_SLOTS];
	struct ca_serial self[CA_MAX_SLOTS];
	struct root_item *items;
	size_t		 n, cap;
};

/* Whether serial is a root's own certificate: nothing to answer for. */
static int
root_self(const struct root_collect *col, const struct ca_serial *serial)
{
	int slot;

	for (slot = 0; slot < CA_MAX_SLOTS; slot++)
		if (col->root[slot] && memcmp(serial, &col->self[slot],
		    sizeof(*serial)) == 0)
			return 1;
	return 0;
}

static int
root_collect_cb(const struct store_cert *rec, void *arg)
{
	struct root_collect *col = arg;
	struct root_item *it, *ni;
	size_t cap;

	if (rec->ca >= CA_MAX_SLOTS || !col->root[rec->ca] ||
	    (rec->status != STORE_VALID && rec->status != STORE_REVOKED) ||
	    root_self(col, &rec->serial))
		return 0;
	if (col->n == col->cap) {
		cap = col->cap != 0 ? col->cap * 2 : 8;
		if ((ni = reallocarray(col->items, cap, sizeof(*ni))) == NULL)
			return LY_ERR_ALLOC;
		col->items = ni;
		col->cap = cap;
	}
	it = &col->items[col->n++];
	memset(it, 0, sizeof(*it));
	it->serial = rec->serial;
	it->slot = rec->ca;
	it->status = rec->status;
	it->st.reason = -1;
	if (rec->status == STORE_VALID)
		it->st.status = V_OCSP_CERTSTATUS_GOOD;
	else {
		it->st.status = V_OCSP_CERTSTATUS_REVOKED;
		it->st.revoked_at = (time_t)rec->revoked_at;
		it->st.reason = rec->reason;
	}
	return 0;
}

int
ocsp_root_slots(struct ca *ca, unsigned char root[CA_MAX_SLOTS],
    struct ca_serial self[CA_MAX_SLOTS])
{
	X509 *x;
	int slot, n = ca_nslots(ca), any = 0;

	memset(root, 0, CA_MAX_SLOTS);
	for (slot = 0; slot < n && slot < CA_MAX_SLOTS; slot++) {
		if (!ca_slot_is_root(ca, slot) ||
		    ca_slot_state(ca, slot, ly_now()) == CA_SLOT_RETIRED)
			continue;
		if ((x = ca_cert(ca, slot)) == NULL ||
		    ca_serial_from_asn1(X509_get0_serialNumber(x),
		    &self[slot]) != LY_OK)
			return ly_fail(LY_ERR_STATE, "no root CA certificate "
			    "(%s)", ca_slot_name(ca, slot));
		root[slot] = 1;
		any = 1;
	}
	if (!any)
		return ly_fail(LY_ERR_STATE, "no root CA certificate");
	return LY_OK;
}

/* The certificates the roots issued but their own, in one read transaction. */
static int
root_collect(struct ca *ca, struct root_collect *col)
{
	struct store_txn *txn = NULL;
	int r;

	memset(col, 0, sizeof(*col));
	if ((r = ocsp_root_slots(ca, col->root, col->self)) != LY_OK)
		return r;
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		return r;
	r = store_cert_foreach(txn, root_collect_cb, col);
	store_txn_abort(txn);
	return r;
}

/* A root slot as an OCSP signer (struct ocsp_by): its key through ca/. */
struct root_signer {
	struct ca	*ca;
	int		 slot;
};

static int
root_sign(void *arg, int (*fn)(void *, EVP_MD_CTX *), void *obj)
{
	struct root_signer *rs = arg;

	return ca_sign(rs->ca, rs->slot, fn, obj);
}

static int
root_bad(void *arg)
{
	struct root_signer *rs = arg;

	return ca_sign_bad(rs->ca, rs->slot, "OCSP response");
}

/* Signs the stored form of one response with the root as signer s. */
static int
root_sign_one(const struct ocsp_by *s, const struct root_item *it, time_t now,
    long validity, unsigned char **valp, size_t *lenp)
{
	struct ocsp_signed sg;
	OCSP_CERTID *id = NULL;
	ASN1_INTEGER *sn = NULL;
	int r = LY_ERR_INTERNAL;

	memset(&sg, 0, sizeof(sg));
	/* SHA-1, as RFC 5019 clients (nginx, openssl ocsp) build theirs. */
	if ((sn = ca_serial_to_asn1(&it->serial)) == NULL ||
	    (id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(s->cert),
	    X509_get0_pubkey_bitstr(s->cert), sn)) == NULL) {
		ly_log_crypto("ocsp root");
		goto out;
	}
	if ((r = ocsp_response_sign_by(s, &id, &it->st, 1, NULL, now, validity,
	    &sg)) != LY_OK ||
	    (r = ocsp_stored_encode(&sg, it->st.status, it->slot, valp,
	    lenp)) != LY_OK)
		goto out;
	(*valp)[OCSP_STORED_SIGNER] = OCSP_STORED_ROOT;
 out:
	OPENSSL_free(sg.der);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(sn);
	return r;
}

int
ocsp_root_presign(struct ca *ca, const char *actor, size_t *countp,
    time_t *next_updatep)
{
	struct root_collect col;
	struct ca_ocsp_item *items = NULL;
	struct ocsp_by s[CA_MAX_SLOTS];
	struct root_signer rs[CA_MAX_SLOTS];
	unsigned char **vals = NULL;
	char detail[96], nu[21];
	long validity = ca_conf(ca)->root.ocsp_validity;
	time_t now = ly_now(), next = 0, t;
	size_t i, stored = 0;
	int r, slot;

	memset(s, 0, sizeof(s));
	if ((r = root_collect(ca, &col)) != LY_OK)
		goto out;
	if ((items = calloc(col.n + 1, sizeof(*items))) == NULL ||
	    (vals = calloc(col.n + 1, sizeof(*vals))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/*
	 * Each root as its own OCSP signer. ocsp_response_sign() caps
	 * nextUpdate at the signer's notAfter: next is the earliest.
	 */
	for (slot = 0; slot < CA_MAX_SLOTS; slot++) {
		if (!col.root[slot])
			continue;
		rs[slot].ca = ca;
		rs[slot].slot = slot;
		s[slot].cert = ca_cert(ca, slot);
		s[slot].sign = root_sign;
		s[slot].bad = root_bad;
		s[slot].arg = &rs[slot];
		if ((r = ly_asn1_time(X509_get0_notAfter(s[slot].cert),
		    &s[slot].not_after)) != LY_OK)
			goto out;
		t = now + validity < s[slot].not_after ? now + validity :
		    s[slot].not_after;
		if (next == 0 || t < next)
			next = t;
	}
	for (i = 0; i < col.n; i++) {
		items[i].serial = col.items[i].serial;
		items[i].status = col.items[i].status;
		if ((r = root_sign_one(&s[col.items[i].slot], &col.items[i],
		    now, validity, &vals[i], &items[i].len)) != LY_OK)
			goto out;
		items[i].der = vals[i];
	}
	ly_time_fmt(next, nu);
	snprintf(detail, sizeof(detail), "{\"responses\":%zu,"
	    "\"next_update\":\"%s\"}", col.n, nu);
	if ((r = ca_root_ocsp_store(ca, items, col.n, actor, detail,
	    &stored)) != LY_OK)
		goto out;
	if (countp != NULL)
		*countp = stored;
	if (next_updatep != NULL)
		*next_updatep = next;
 out:
	for (i = 0; vals != NULL && i < col.n; i++)
		free(vals[i]);
	free(vals);
	free(items);
	free(col.items);
	return r;
}

int
ocsp_root_next_update(struct ca *ca, time_t *earliestp, size_t *countp)
{
	struct root_collect col;
	struct store_txn *txn = NULL;
	struct ocsp_stored st;
	const void *v;
	size_t len, i;
	time_t earliest = 0;
	int r;

	if ((r = root_collect(ca, &col)) != LY_OK)
		goto out;
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	for (i = 0; i < col.n; i++) {
		r = store_ocsp_get(txn, &col.items[i].serial, &v, &len);
		if (r == LY_ERR_NOT_FOUND || (r == LY_OK &&
		    (ocsp_stored_parse(v, len, &st) != LY_OK || !st.by_root ||
		    st.slot != col.items[i].slot))) {
			/* None that the responder would serve. */
			earliest = 0;
			break;
		}
		if (r != LY_OK)
			goto out;
		if (i == 0 || st.next_update < earliest)
			earliest = st.next_update;
	}
	ly_errclear();
	*earliestp = earliest;
	*countp = col.n;
	r = LY_OK;
 out:
	store_txn_abort(txn);
	free(col.items);
	return r;
}
