/*
 * ca/tls.c — the key and certificate of ca-server's own HTTPS listener.
 *
 * DIR/tls/server.key (EC P-256, made in software: the TLS stack needs the
 * key in memory, mode 0600 in a 0700 directory) and DIR/tls/server.crt
 * (the leaf, then the issuing CA), issued by ca_issue() with the "service"
 * profile and the [server] tls_dns / tls_ip names. `ca-admin init` makes
 * the first pair; ca-server checks it at start and periodically, and
 * ca_tls_ensure() replaces it when one file is missing, when the key and
 * certificate do not match, when the issuing CA did not sign it, when its
 * names differ from the configuration, or when less than a third of its
 * lifetime is left.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "util/util.h"

/* A key or chain file larger than this is not ours. */
#define TLS_FILE_MAX	(64 * 1024)

int
ca_tls_renew_due(time_t not_before, time_t not_after, time_t now)
{
	/* Renew with a third of the lifetime left, as step-ca does. */
	if (not_after <= not_before || now >= not_after || now < not_before)
		return 1;
	return not_after - now <= (not_after - not_before) / 3;
}

/* The DNS/IP identity of [server] tls_dns and tls_ip, checked by ca/. */
static int
tls_identity(const struct conf *conf, struct ca_identity *id)
{
	char **items = NULL;
	size_t n = 0, i;
	int r;

	memset(id, 0, sizeof(*id));
	id->kind = CONF_ID_NONE;
	if ((r = ly_list_split(conf->tls_dns, &items, &n)) != LY_OK)
		return r;
	for (i = 0; i < n && r == LY_OK; i++)
		r = ca_identity_add_dns(id, items[i]);
	ly_list_free(items, n);
	items = NULL;
	if (r == LY_OK && (r = ly_list_split(conf->tls_ip, &items, &n)) ==
	    LY_OK) {
		for (i = 0; i < n && r == LY_OK; i++)
			r = ca_identity_add_ip(id, items[i]);
		ly_list_free(items, n);
	}
	if (r == LY_OK && id->ndns == 0 && id->nip == 0)
		r = ly_fail(LY_ERR_CONFIG, "[server] tls_dns and tls_ip name "
		    "nothing");
	if (r != LY_OK)
		ca_identity_clear(id);
	return r;
}

/* Whether the certificate's SANs are exactly the identity's names. */
static int
names_match(X509 *x, const struct ca_identity *id)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	const unsigned char *d;
	char dns[CA_DNS_MAX + 1], ip[INET6_ADDRSTRLEN];
	size_t ndns = 0, nip = 0, k;
	int i, len, found, ok = 1;

	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)) ==
	    NULL)
		return 0;
	for (i = 0; ok && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		found = 0;
		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			if (len <= 0 || len > CA_DNS_MAX)
				break;
			memcpy(dns, d, (size_t)len);
			dns[len] = '\0';
			for (k = 0; k < id->ndns && !found; k++)
				found = strcasecmp(dns, id->dns[k]) == 0;
			ndns++;
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((len != 4 && len != 16) || inet_ntop(len == 4 ?
			    AF_INET : AF_INET6, d, ip, sizeof(ip)) == NULL)
				break;
			for (k = 0; k < id->nip && !found; k++)
				found = strcmp(ip, id->ip[k]) == 0;
			nip++;
		}
		ok = found;
	}
	ok = ok && i == sk_GENERAL_NAME_num(gens) && ndns == id->ndns &&
	    nip == id->nip;
	GENERAL_NAMES_free(gens);
	return ok;
}

/* The issuing CA slot whose certificate signed x; -1 if none. */
static int
tls_signer(struct ca *ca, X509 *x)
{
	int slot, n = ca_nslots(ca);

	for (slot = n - 1; slot >= 0; slot--)
		if (!ca_slot_is_root(ca, slot) &&
		    X509_check_issued(ca_cert(ca, slot), x) == X509_V_OK)
			return slot;
	return -1;
}

/*
 * Why the files at keyp/crtp must be replaced (a static string), or NULL
 * if they are fine. LY_ERR_CONFIG in *rp for a key file others can read.
 */
static const char *
renew_reason(struct ca *ca, const char *keyp, const char *crtp,
    const struct ca_identity *id, int *rp)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	const char *why = NULL;
	time_t nb = 0, na = 0;
	int slot;

	*rp = LY_OK;
	if (stat(keyp, &st) == -1)
		return "no key";
	if (st.st_mode & 077) {
		*rp = ly_fail(LY_ERR_CONFIG, "%s is readable or writable by "
		    "others (mode %03o): chmod 600 it or remove it", keyp,
		    (unsigned int)(st.st_mode & 0777));
		return NULL;
	}
	if (ly_file_read(keyp, TLS_FILE_MAX, &buf, &len) != LY_OK ||
	    (bio = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		why = "unreadable key";
		goto out;
	}
	BIO_free(bio);
	bio = NULL;
	OPENSSL_cleanse(buf, len);
	free(buf);
	buf = NULL;
	if (ly_file_read(crtp, TLS_FILE_MAX, &buf, &len) != LY_OK ||
	    (bio = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		why = "no certificate";
		goto out;
	}
	/* Unreadable: 0, which makes the certificate due for renewal. */
	(void)ly_asn1_time(X509_get0_notBefore(x), &nb);
	(void)ly_asn1_time(X509_get0_notAfter(x), &na);
	if (X509_check_private_key(x, pk) != 1)
		why = "key and certificate differ";
	/*
	 * A rollover alone does not replace it (a renewal restarts the
	 * front): the next renewal comes from the new generation.
	 */
	else if ((slot = tls_signer(ca, x)) < 0 ||
	    ca_slot_state(ca, slot, ly_now()) == CA_SLOT_RETIRED)
		why = "not issued by an issuing CA of this instance";
	else if (!names_match(x, id))
		why = "names differ from [server] tls_dns/tls_ip";
	else if (ca_tls_renew_due(nb, na, ly_now()))
		why = "a third of its lifetime left";
 out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return why;
}

/* The PEM of a BIO's contents into a file, atomically. */
static int
bio_write_file(BIO *bio, const char *path, unsigned int mode)
{
	char *data;
	long len;

	if ((len = BIO_get_mem_data(bio, &data)) <= 0)
		return ly_fail(LY_ERR_INTERNAL, "%s: empty PEM", path);
	return ly_file_write_atomic(path, data, (size_t)len, mode);
}

/* A new key and a certificate for it, written to keyp and crtp. */
static int
renew(struct ca *ca, const char *keyp, const char *crtp,
    struct ca_identity *id, const char *actor)
{
	const struct conf *conf = ca_conf(ca);
	struct ca_request req;
	struct ca_serial serial;
	EVP_PKEY *pk = NULL;
	X509_REQ *xr = NULL;
	X509_NAME *nm = NULL;
	X509 *x = NULL;
	BIO *kb = NULL, *cb = NULL;
	unsigned char *der = NULL;
	const char *cn;
	int len, slot, r = LY_ERR_INTERNAL;

	cn = id->ndns > 0 ? id->dns[0] : id->ip[0];
	if ((pk = EVP_EC_gen("P-256")) == NULL ||
	    (xr = X509_REQ_new()) == NULL || (nm = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(xr, nm) || !X509_REQ_set_pubkey(xr, pk) ||
	    X509_REQ_sign(xr, pk, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(xr, &der)) <= 0) {
		r = ly_fail(LY_ERR_INTERNAL, "TLS server key and CSR: OpenSSL "
		    "failed");
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.profile = "service";
	req.csr = der;
	req.csrlen = (size_t)len;
	req.identity = *id;		/* borrowed: cleared by the caller */
	req.days = conf->tls_days;
	req.actor = actor;
	req.cn = cn;
	if ((r = ca_issue(ca, &req, &x, &serial)) != LY_OK)
		goto out;
	if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
	    (cb = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, x) || (slot = tls_signer(ca, x)) < 0 ||
	    !PEM_write_bio_X509(cb, ca_cert(ca, slot))) {
		r = ly_fail(LY_ERR_INTERNAL, "TLS server PEM: OpenSSL failed");
		goto out;
	}
	/* Key first: a crash between leaves a pair that does not match. */
	if ((r = bio_write_file(kb, keyp, 0600)) != LY_OK ||
	    (r = bio_write_file(cb, crtp, 0644)) != LY_OK)
		goto out;
	r = LY_OK;
 out:
	ERR_clear_error();
	BIO_free(kb);
	BIO_free(cb);
	OPENSSL_free(der);
	X509_free(x);
	X509_NAME_free(nm);
	X509_REQ_free(xr);
	EVP_PKEY_free(pk);
	return r;
}

int
ca_tls_paths(const char *dir, char **keyp, char **crtp)
{
	char *tdir;

	*keyp = *crtp = NULL;
	if ((tdir = ly_path_join(dir, CA_TLS_DIR)) == NULL)
		return LY_ERR_ALLOC;
	*keyp = ly_path_join(tdir, "server.key");
	*crtp = ly_path_join(tdir, "server.crt");
	free(tdir);
	if (*keyp == NULL || *crtp == NULL) {
		free(*keyp);
		free(*crtp);
		*keyp = *crtp = NULL;
		return LY_ERR_ALLOC;
	}
	return LY_OK;
}

int
ca_tls_ensure(struct ca *ca, const char *dir, const char *actor,
    int *issuedp)
{
	struct ca_identity id;
	char *tdir = NULL, *keyp = NULL, *crtp = NULL;
	const char *why;
	int r;

	*issuedp = 0;
	memset(&id, 0, sizeof(id));
	if ((r = tls_identity(ca_conf(ca), &id)) != LY_OK)
		goto out;
	if ((tdir = ly_path_join(dir, CA_TLS_DIR)) == NULL ||
	    ca_tls_paths(dir, &keyp, &crtp) != LY_OK) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ly_mkdir_p(tdir, 0700)) != LY_OK)
		goto out;
	if ((why = renew_reason(ca, keyp, crtp, &id, &r)) == NULL)
		goto out;
	ly_log(LY_LOG_INFO, "TLS server certificate: issuing a new one (%s)",
	    why);
	if ((r = renew(ca, keyp, crtp, &id, actor)) != LY_OK)
		goto out;
	*issuedp = 1;
 out:
	ca_identity_clear(&id);
	free(tdir);
	free(keyp);
	free(crtp);
	return r;
}

/*
 * PEM of every CA certificate of ca_trust_bundle(): MHD's trust list,
 * GET /ca/bundle.pem and ca-admin publish.
 */
int
ca_trust_pem(struct ca *ca, char **pemp)
{
	X509 *xs[2 * CA_MAX_SLOTS];
	size_t i, n;
	int ok = 1;
	BIO *b;
	char *data;
	long len;
	int r = LY_ERR_INTERNAL;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return LY_ERR_ALLOC;
	if (ca_trust_bundle(ca, xs, 2 * CA_MAX_SLOTS, &n) != LY_OK) {
		BIO_free(b);
		return LY_ERR_INTERNAL;
	}
	for (i = 0; i < n && ok; i++)
		ok = PEM_write_bio_X509(b, xs[i]);
	if (ok && (len = BIO_get_mem_data(b, &data)) > 0) {
		if ((*pemp = malloc((size_t)len + 1)) == NULL)
			r = LY_ERR_ALLOC;
		else {
			memcpy(*pemp, data, (size_t)len);
			(*pemp)[len] = '\0';
			r = LY_OK;
		}
	}
	BIO_free(b);
	return r;
}

