/*
 * ocsp/root_import.c — the root's OCSP responses about CA certificates
 * carried from the root's instance to an issuing instance whose root is
 * offline ([root] offline = yes): ca-admin root crl --out DIR writes them
 * as DIR/OCSP_ROOT_DIR/<serial>.der, ca-admin root import-crl reads them
 * back, checks each, and stores it as ocsp_root_presign() would have, so
 * that the issuing instance's responder serves it.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "ca/store.h"
#include "ocsp/extern.h"
#include "util/util.h"

/* An OCSP response is small; a file bigger than this is not one of ours. */
#define ROOT_IMPORT_MAX		(64 * 1024)
#define ROOT_IMPORT_FILES	1024

struct export_arg {
	struct ca	*ca;
	struct store_txn *txn;
	const char	*dir;
	unsigned char	 root[CA_MAX_SLOTS];	/* ocsp_root_slots() */
	struct ca_serial self[CA_MAX_SLOTS];
	size_t		 n;
};

/* Whether serial is a root's own certificate. */
static int
export_self(const struct export_arg *a, const struct ca_serial *serial)
{
	int slot;

	for (slot = 0; slot < CA_MAX_SLOTS; slot++)
		if (a->root[slot] && memcmp(serial, &a->self[slot],
		    sizeof(*serial)) == 0)
			return 1;
	return 0;
}

static int
export_cb(const struct store_cert *rec, void *arg)
{
	struct export_arg *a = arg;
	struct ocsp_stored st;
	const void *v;
	char *hex = NULL, name[2 * CA_SERIAL_LEN + 8], *path = NULL;
	size_t len;
	int r;

	if (rec->ca >= CA_MAX_SLOTS || !a->root[rec->ca] ||
	    export_self(a, &rec->serial))
		return 0;
	r = store_ocsp_get(a->txn, &rec->serial, &v, &len);
	if (r == LY_ERR_NOT_FOUND || (r == LY_OK &&
	    (ocsp_stored_parse(v, len, &st) != LY_OK || !st.by_root ||
	    st.slot != rec->ca))) {
		ly_errclear();
		return 0;	/* none signed by the root: nothing to carry */
	}
	if (r != LY_OK)
		return r;
	if ((hex = ca_serial_hex(&rec->serial)) == NULL)
		return LY_ERR_ALLOC;
	snprintf(name, sizeof(name), "%s.der", hex);
	if ((path = ly_path_join(a->dir, name)) == NULL)
		r = LY_ERR_ALLOC;
	else if ((r = ly_file_write_atomic(path, st.der, st.len, 0644)) ==
	    LY_OK)
		a->n++;
	free(hex);
	free(path);
	return r;
}

int
ocsp_root_export(struct ca *ca, const char *dir, size_t *countp)
{
	struct export_arg a;
	char *sub = NULL;
	int r;

	memset(&a, 0, sizeof(a));
	a.ca = ca;
	if ((r = ocsp_root_slots(ca, a.root, a.self)) != LY_OK)
		return r;
	if ((sub = ly_path_join(dir, OCSP_ROOT_DIR)) == NULL)
		return LY_ERR_ALLOC;
	a.dir = sub;
	if ((r = ly_mkdir_p(sub, 0755)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &a.txn)) != LY_OK)
		goto out;
	r = store_cert_foreach(a.txn, export_cb, &a);
	store_txn_abort(a.txn);
	if (r == LY_OK && countp != NULL)
		*countp = a.n;
 out:
	free(sub);
	return r;
}

static time_t
gen_time(const ASN1_GENERALIZEDTIME *t)
{
	time_t v = 0;

	/* Absent or unreadable: 0. */
	(void)ly_asn1_time(t, &v);
	return v;
}

/*
 * The root slot (not retired) whose key signed bs, or -1. Each root is
 * a trust anchor of its own: verified alone, by key.
 */
static int
import_signer(struct ca *ca, OCSP_BASICRESP *bs, X509 **rootp)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char root[CA_MAX_SLOTS];
	struct ca_serial self[CA_MAX_SLOTS];
	int slot, found = -1;

	if (ocsp_root_slots(ca, root, self) != LY_OK ||
	    (certs = sk_X509_new_null()) == NULL)
		return -1;
	for (slot = 0; slot < CA_MAX_SLOTS && found == -1; slot++) {
		if (!root[slot])
			continue;
		sk_X509_zero(certs);
		if (!sk_X509_push(certs, ca_cert(ca, slot)))
			break;
		if (OCSP_basic_verify(bs, certs, NULL, OCSP_NOVERIFY |
		    OCSP_NOINTERN) == 1) {
			found = slot;
			*rootp = ca_cert(ca, slot);
		}
		ERR_clear_error();
	}
	sk_X509_free(certs);
	return found;
}

/*
 * Checks one response file: a successful basic response signed by a
 * root (its certificate, by key), one SingleResponse about a serial under
 * that root, good or revoked, current now. Fills *item (der borrowed from
 * val, which this allocates in the stored form).
 */
static int
import_one(struct ca *ca, const unsigned char *der, size_t len,
    struct ca_ocsp_item *item, unsigned char **valp, time_t *nextp)
{
	X509 *root = NULL;
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *single;
	OCSP_CERTID *want = NULL;
	ASN1_INTEGER *sn = NULL;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rev = NULL;
	struct ocsp_signed sg;
	time_t now = ly_now();
	int r = LY_ERR_BAD_INPUT, status, reason, slot;

	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL ||
	    OCSP_resp_count(bs) != 1) {
		r = ly_fail(LY_ERR_BAD_INPUT, "not one successful OCSP "
		    "response with one certificate");
		goto out;
	}
	/* The signature by a root's key; the root is the trust anchor. */
	if ((slot = import_signer(ca, bs, &root)) == -1) {
		r = ly_fail(LY_ERR_BAD_INPUT, "not signed by this root");
		goto out;
	}
	single = OCSP_resp_get0(bs, 0);
	OCSP_id_get0_info(NULL, NULL, NULL, &sn,
	    (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(single));
	if (sn == NULL || (want = OCSP_cert_id_new(EVP_sha1(),
	    X509_get_subject_name(root), X509_get0_pubkey_bitstr(root),
	    sn)) == NULL || OCSP_id_cmp(want,
	    OCSP_SINGLERESP_get0_id(single)) != 0 ||
	    ca_serial_from_asn1(sn, &item->serial) != LY_OK) {
		r = ly_fail(LY_ERR_BAD_INPUT, "not about a certificate this "
		    "root issued");
		goto out;
	}
	status = OCSP_single_get0_status(single, &reason, &rev, &tu, &nu);
	if (status != V_OCSP_CERTSTATUS_GOOD &&
	    status != V_OCSP_CERTSTATUS_REVOKED) {
		r = ly_fail(LY_ERR_BAD_INPUT, "status is neither good nor "
		    "revoked");
		goto out;
	}
	memset(&sg, 0, sizeof(sg));
	sg.der = (unsigned char *)der;
	sg.len = len;
	sg.this_update = gen_time(tu);
	sg.next_update = gen_time(nu);
	sg.produced_at = gen_time(OCSP_resp_get0_produced_at(bs));
	if (sg.next_update <= now || sg.this_update > now + 300) {
		r = ly_fail(LY_ERR_BAD_INPUT, "not current (thisUpdate to "
		    "nextUpdate does not hold now)");
		goto out;
	}
	if ((r = ocsp_stored_encode(&sg, status, slot, valp, &item->len)) !=
	    LY_OK)
		goto out;
	(*valp)[OCSP_STORED_SIGNER] = OCSP_STORED_ROOT;
	item->der = *valp;
	item->status = status == V_OCSP_CERTSTATUS_GOOD ? STORE_VALID :
	    STORE_REVOKED;
	*nextp = sg.next_update;
	r = LY_OK;
 out:
	ERR_clear_error();
	OCSP_CERTID_free(want);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return r;
}

int
ocsp_root_import(struct ca *ca, const char *dir, const char *actor,
    size_t *countp)
{
	struct ca_ocsp_item items[ROOT_IMPORT_FILES];
	unsigned char *vals[ROOT_IMPORT_FILES], *der = NULL;
	struct dirent *e;
	DIR *d = NULL;
	char *path = NULL, detail[96], t[21];
	size_t n = 0, i, len, stored = 0;
	time_t next = 0, earliest = 0;
	int r = LY_OK;

	if ((d = opendir(dir)) == NULL)
		return ly_fail(LY_ERR_IO, "%s: cannot open", dir);
	while (r == LY_OK && (e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".der") != 0)
			continue;
		if (n == ROOT_IMPORT_FILES) {
			r = ly_fail(LY_ERR_TOO_LARGE, "%s: more than %d "
			    "responses", dir, ROOT_IMPORT_FILES);
			break;
		}
		if ((path = ly_path_join(dir, e->d_name)) == NULL) {
			r = LY_ERR_ALLOC;
			break;
		}
		if ((r = ly_file_read(path, ROOT_IMPORT_MAX, &der, &len)) ==
		    LY_OK && (r = import_one(ca, der, len, &items[n], &vals[n],
		    &next)) != LY_OK)
			r = ly_fail(r, "%s: %s", path, ly_errdetail());
		if (r == LY_OK) {
			if (n == 0 || next < earliest)
				earliest = next;
			n++;
		}
		free(der);
		der = NULL;
		free(path);
		path = NULL;
	}
	closedir(d);
	if (r == LY_OK && n == 0)
		r = ly_fail(LY_ERR_NOT_FOUND, "%s: no *.der OCSP response", dir);
	if (r != LY_OK)
		goto out;
	ly_time_fmt(earliest, t);
	snprintf(detail, sizeof(detail), "{\"imported\":%zu,"
	    "\"next_update\":\"%s\"}", n, t);
	if ((r = ca_root_ocsp_store(ca, items, n, actor, detail, &stored)) !=
	    LY_OK)
		goto out;
	if (stored != n)
		ly_log(LY_LOG_WARN, "%zu of %zu root OCSP responses not stored: "
		    "their certificate is unknown here or of another status",
		    n - stored, n);
	if (countp != NULL)
		*countp = stored;
 out:
	for (i = 0; i < n; i++)
		free(vals[i]);
	return r;
}
