/*
 * ocsp/publish.c — pre-signed OCSP responses as static files, laid out as
 * the RFC 5019 GET URLs, so an ordinary web server serving the directory
 * answers GET /ocsp/<base64 request> as ca-server does (DESIGN.md section
 * 5: revocation data is static-shaped and scales out on existing engines).
 *
 * For each certificate the request a client makes without a nonce is built
 * with OpenSSL exactly as clients build it (one SHA-1 CertID, RFC 5019
 * 2.1.1), answered through ocsp_respond() (the pre-signed fast path), and
 * written to <dir>/<base64 of the request>. Base64 holds '/', which a web
 * server decodes from %2F before it maps a path to a file: the file sits in
 * the subdirectories those slashes make. A base64 that ends in '/' names a
 * directory, whose index file is OCSP_PUBLISH_INDEX ("index _;" in nginx).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "ca/store.h"
#include "ocsp/extern.h"
#include "util/util.h"

struct collect {
	struct ca_serial *serials;
	size_t		  n, cap;
	int		  slot;		/* the CA whose certificates these are */
	int		  root;		/* it is a root: skip the roots' own */
	unsigned char	  roots[CA_MAX_SLOTS];	/* ocsp_root_slots() */
	struct ca_serial  self[CA_MAX_SLOTS];
};

/* Whether serial is a root's own certificate: no one asks about it. */
static int
collect_self(const struct collect *col, const struct ca_serial *serial)
{
	int slot;

	for (slot = 0; slot < CA_MAX_SLOTS; slot++)
		if (col->roots[slot] && memcmp(serial, &col->self[slot],
		    sizeof(*serial)) == 0)
			return 1;
	return 0;
}

static int
collect_cb(const struct store_cert *c, void *arg)
{
	struct collect *col = arg;
	struct ca_serial *ns;

	if (c->ca != col->slot || (c->status != STORE_VALID &&
	    c->status != STORE_REVOKED) || (col->root &&
	    collect_self(col, &c->serial)))
		return 0;
	if (col->n == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 256;

		if ((ns = reallocarray(col->serials, cap, sizeof(*ns))) == NULL)
			return LY_ERR_ALLOC;
		col->serials = ns;
		col->cap = cap;
	}
	col->serials[col->n++] = c->serial;
	return 0;
}

/* The DER of the request a nonce-less RFC 5019 client sends for serial. */
static int
request_der(X509 *issuer, const struct ca_serial *serial, unsigned char **derp,
    int *lenp)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	ASN1_INTEGER *sn = NULL;
	int r = LY_ERR_INTERNAL;

	if ((sn = ca_serial_to_asn1(serial)) == NULL ||
	    (id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
	    X509_get0_pubkey_bitstr(issuer), sn)) == NULL ||
	    (req = OCSP_REQUEST_new()) == NULL ||
	    OCSP_request_add0_id(req, id) == NULL)
		goto out;
	id = NULL;	/* owned by req */
	*derp = NULL;
	if ((*lenp = i2d_OCSP_REQUEST(req, derp)) <= 0)
		goto out;
	r = LY_OK;
 out:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	ASN1_INTEGER_free(sn);
	return r;
}

static int
write_one(struct ocsp_responder *resp, X509 *issuer, int root,
    const char *dir, const struct ca_serial *serial)
{
	struct ocsp_reply reply;
	unsigned char *der = NULL;
	char *b64 = NULL, *path = NULL, *slash;
	int len, n, r;

	memset(&reply, 0, sizeof(reply));
	if ((r = request_der(issuer, serial, &der, &len)) != LY_OK)
		return r;
	if ((b64 = malloc(4 * ((size_t)len + 2) / 3 + 2)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, der, len);
	if (n > 0 && b64[n - 1] == '/')
		strcpy(b64 + n, OCSP_PUBLISH_INDEX);
	if ((r = ocsp_respond(resp, der, (size_t)len, &reply)) != LY_OK)
		goto out;
	/* The root's response about a CA certificate may not be signed yet. */
	if (reply.outcome == OCSP_OUT_UNAUTHORIZED && root) {
		r = LY_ERR_NOT_FOUND;
		goto out;
	}
	if (reply.outcome != OCSP_OUT_GOOD && reply.outcome != OCSP_OUT_REVOKED) {
		r = ly_fail(LY_ERR_INTERNAL, "no definite OCSP status for a "
		    "stored certificate");
		goto out;
	}
	if ((path = ly_path_join(dir, b64)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((slash = strrchr(path, '/')) != NULL) {
		*slash = '\0';
		r = ly_mkdir_p(path, 0755);
		*slash = '/';
		if (r != LY_OK)
			goto out;
	}
	r = ly_file_write_atomic(path, reply.der, reply.len, 0644);
 out:
	ocsp_reply_clear(&reply);
	OPENSSL_free(der);
	free(b64);
	free(path);
	return r;
}

int
ocsp_publish(struct ocsp_responder *resp, struct ca *ca, const char *dir,
    size_t *countp)
{
	struct collect col;
	struct store_txn *txn = NULL;
	unsigned char roots[CA_MAX_SLOTS];
	struct ca_serial self[CA_MAX_SLOTS];
	size_t i, n = 0;
	int r, k, slot, nslots = ca_nslots(ca);

	if ((r = ly_mkdir_p(dir, 0755)) != LY_OK ||
	    (r = ocsp_root_slots(ca, roots, self)) != LY_OK)
		return r;
	/*
	 * The issuing CAs' certificates, then the CA certificates the roots
	 * issued, with the responses the roots signed (ca-admin root crl).
	 * A retired CA serves nothing new.
	 */
	for (k = 0; r == LY_OK && k < 2 * nslots; k++) {
		slot = k % nslots;
		if ((k < nslots) == (ca_slot_is_root(ca, slot) != 0) ||
		    slot >= CA_MAX_SLOTS ||
		    ca_slot_state(ca, slot, ly_now()) == CA_SLOT_RETIRED)
			continue;
		memset(&col, 0, sizeof(col));
		col.slot = slot;
		col.root = ca_slot_is_root(ca, slot);
		memcpy(col.roots, roots, sizeof(roots));
		memcpy(col.self, self, sizeof(self));
		/* Collect first: answering may sign; no read txn held open. */
		if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
			break;
		r = store_cert_foreach(txn, collect_cb, &col);
		store_txn_abort(txn);
		for (i = 0; r == LY_OK && i < col.n; i++) {
			r = write_one(resp, ca_cert(ca, slot), col.root, dir,
			    &col.serials[i]);
			if (r == LY_OK)
				n++;
			else if (r == LY_ERR_NOT_FOUND && col.root)
				r = LY_OK;
		}
		free(col.serials);
	}
	if (r == LY_OK && countp != NULL)
		*countp = n;
	return r;
}
