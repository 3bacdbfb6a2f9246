/*
 * ca/restore.c — a new instance from a backup, which never un-revokes a
 * certificate and never reuses a CRL number (see ca_restore() in
 * ca/ops.h). The CRLs and OCSP responses given are untrusted files:
 * sizes are capped, each is decoded by OpenSSL whole, and it counts only
 * if it verifies against a CA certificate of the backup.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"

#define RESTORE_CRL_MAX		(512 * 1024 * 1024)
#define RESTORE_OCSP_MAX	(64 * 1024)
#define RESTORE_OCSP_FILES	(4 * 1024 * 1024)
#define RESTORE_BATCH		5000	/* revocations per write transaction */

struct revlist {
	struct ca_revocation	*v;
	size_t			 n, cap;
};

static int
revlist_add(struct revlist *l, const struct ca_revocation *rv)
{
	struct ca_revocation *nv;

	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 1024 : l->cap * 2;

		if ((nv = reallocarray(l->v, cap, sizeof(*nv))) == NULL)
			return LY_ERR_ALLOC;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *rv;
	return LY_OK;
}

/* The CA slot whose certificate signed the CRL; -1 if none. */
static int
crl_issuer(struct ca *ca, X509_CRL *crl)
{
	int slot;

	for (slot = 0; slot < ca_nslots(ca); slot++) {
		X509 *c = ca_cert(ca, slot);

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_subject_name(c)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(c)) == 1)
			return slot;
	}
	ERR_clear_error();
	return -1;
}

/* One revokedCertificates entry into rv; 1 if it revokes, 0 if not. */
static int
crl_entry(const X509_REVOKED *x, int slot, struct ca_revocation *rv)
{
	ASN1_ENUMERATED *e;
	ASN1_GENERALIZEDTIME *g;
	int crit;

	memset(rv, 0, sizeof(*rv));
	rv->slot = slot;
	rv->reason = -1;
	if (ca_serial_from_asn1(X509_REVOKED_get0_serialNumber(x),
	    &rv->serial) != LY_OK ||
	    ly_asn1_time(X509_REVOKED_get0_revocationDate(x),
	    &rv->revoked_at) != LY_OK)
		return ly_fail(LY_ERR_BAD_INPUT, "bad entry");
	if ((e = X509_REVOKED_get_ext_d2i(x, NID_crl_reason, &crit,
	    NULL)) != NULL) {
		rv->reason = (int)ASN1_ENUMERATED_get(e);
		ASN1_ENUMERATED_free(e);
	}
	if (rv->reason < -1 || rv->reason > 10 || rv->reason == 7)
		return ly_fail(LY_ERR_BAD_INPUT, "bad reason code");
	/* A delta's removeFromCRL revokes nothing; and nothing un-revokes. */
	if (rv->reason == 8)
		return 0;
	if ((g = X509_REVOKED_get_ext_d2i(x, NID_invalidity_date, &crit,
	    NULL)) != NULL) {
		(void)ly_asn1_time(g, &rv->invalidity);
		ASN1_GENERALIZEDTIME_free(g);
	}
	return 1;
}

/* A verified CRL: its number and every revocation it lists. */
static int
restore_crl_take(struct ca *ca, const char *path, X509_CRL *crl,
    struct revlist *l, struct ca_restore_info *info)
{
	STACK_OF(X509_REVOKED) *revs;
	ASN1_INTEGER *num;
	struct ca_revocation rv;
	uint64_t n;
	int slot, i, crit, k, r;

	if ((slot = crl_issuer(ca, crl)) < 0)
		return ly_fail(LY_ERR_BAD_INPUT, "%s: CRL not signed by a CA "
		    "of this backup", path);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	k = num != NULL && ASN1_INTEGER_get_uint64(&n, num);
	ASN1_INTEGER_free(num);
	if (!k)
		return ly_fail(LY_ERR_BAD_INPUT, "%s: CRL without a usable "
		    "CRL number", path);
	if (n > info->crl_number[slot])
		info->crl_number[slot] = n;
	revs = X509_CRL_get_REVOKED(crl);
	for (i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		if ((k = crl_entry(sk_X509_REVOKED_value(revs, i), slot,
		    &rv)) < 0)
			return ly_fail(k, "%s: entry %d: %s", path, i,
			    ly_errdetail());
		if (k == 1 && (r = revlist_add(l, &rv)) != LY_OK)
			return r;
	}
	info->crls++;
	return LY_OK;
}

/* A file of CRLs: PEM (one or more) or one DER CRL, nothing trailing. */
static int
crl_file(struct ca *ca, const char *path, struct revlist *l,
    struct ca_restore_info *info)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	X509_CRL *crl = NULL;
	BIO *b = NULL;
	size_t len;
	int n = 0, r;

	if ((r = ly_file_read(path, RESTORE_CRL_MAX, &buf, &len)) != LY_OK)
		return r;
	if (memmem(buf, len, "-----BEGIN X509 CRL-----", 24) != NULL) {
		if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
			r = LY_ERR_ALLOC;
			goto out;
		}
		while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) !=
		    NULL) {
			r = restore_crl_take(ca, path, crl, l, info);
			X509_CRL_free(crl);
			crl = NULL;
			if (r != LY_OK)
				goto out;
			n++;
		}
		ERR_clear_error();
		if (n == 0)
			r = ly_fail(LY_ERR_BAD_INPUT, "%s: no CRL in it", path);
		goto out;
	}
	p = buf;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL ||
	    p != buf + len) {
		ERR_clear_error();
		r = ly_fail(LY_ERR_BAD_INPUT, "%s: not a CRL (PEM or DER, "
		    "nothing trailing)", path);
		goto out;
	}
	r = restore_crl_take(ca, path, crl, l, info);
 out:
	X509_CRL_free(crl);
	BIO_free(b);
	free(buf);
	return r;
}

/*
 * One OCSP response file: it counts if it verifies against the issuing
 * CA (directly or through a delegated signer it certified); its revoked
 * statuses are taken.
 */
static int
ocsp_file(struct ca *ca, const char *path, X509_STORE *xs, struct revlist *l,
    struct ca_restore_info *info)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	STACK_OF(X509) *issuer = NULL;
	struct ca_revocation rv;
	ASN1_GENERALIZEDTIME *rt;
	ASN1_INTEGER *sn;
	size_t len;
	int i, st, reason, slot, r;

	if ((r = ly_file_read(path, RESTORE_OCSP_MAX, &buf, &len)) != LY_OK)
		return r;
	p = buf;
	r = ly_fail(LY_ERR_BAD_INPUT, "%s: not a verified OCSP response",
	    path);
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != buf + len ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL ||
	    (issuer = sk_X509_new_null()) == NULL)
		goto out;
	/* The issuing CA (of any generation) that answered. */
	for (slot = ca_nslots(ca) - 1; slot >= 0; slot--) {
		if (ca_slot_is_root(ca, slot))
			continue;
		(void)sk_X509_pop(issuer);
		if (!sk_X509_push(issuer, ca_cert(ca, slot)))
			goto out;
		if (OCSP_basic_verify(bs, issuer, xs, OCSP_TRUSTOTHER) == 1)
			break;
		ERR_clear_error();
	}
	if (slot < 0)
		goto out;
	for (i = 0; i < OCSP_resp_count(bs); i++) {
		OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);
		const OCSP_CERTID *id = OCSP_SINGLERESP_get0_id(s);

		rt = NULL;
		reason = -1;
		st = OCSP_single_get0_status(s, &reason, &rt, NULL, NULL);
		if (st != V_OCSP_CERTSTATUS_REVOKED)
			continue;
		memset(&rv, 0, sizeof(rv));
		rv.slot = slot;
		rv.reason = reason >= 0 && reason <= 10 && reason != 7 &&
		    reason != 8 ? reason : -1;
		if (!OCSP_id_get0_info(NULL, NULL, NULL, &sn, (OCSP_CERTID *)id)
		    || ca_serial_from_asn1(sn, &rv.serial) != LY_OK ||
		    ly_asn1_time(rt, &rv.revoked_at) != LY_OK)
			goto out;
		if ((r = revlist_add(l, &rv)) != LY_OK)
			goto out;
		info->ocsp++;
	}
	r = LY_OK;
 out:
	ERR_clear_error();
	sk_X509_free(issuer);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	free(buf);
	return r;
}

#define RESTORE_OCSP_DEPTH	8	/* base64's '/' makes subdirectories */

/* The files under dir, recursively (no links followed), as ocsp_file(). */
static int
ocsp_walk(struct ca *ca, const char *dir, int depth, X509_STORE *xs,
    struct revlist *l, struct ca_restore_info *info, size_t *np)
{
	DIR *d;
	struct dirent *de;
	struct stat sb;
	char *path;
	int r = LY_OK;

	if (depth > RESTORE_OCSP_DEPTH)
		return ly_fail(LY_ERR_TOO_LARGE, "%s: nested too deep", dir);
	if ((d = opendir(dir)) == NULL)
		return ly_fail(LY_ERR_IO, "%s: %s", dir, strerror(errno));
	while (r == LY_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (++*np > RESTORE_OCSP_FILES) {
			r = ly_fail(LY_ERR_TOO_LARGE, "%s: too many files", dir);
			break;
		}
		if ((path = ly_path_join(dir, de->d_name)) == NULL) {
			r = LY_ERR_ALLOC;
			break;
		}
		if (lstat(path, &sb) == -1)
			r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
		else if (S_ISDIR(sb.st_mode))
			r = ocsp_walk(ca, path, depth + 1, xs, l, info, np);
		else if (S_ISREG(sb.st_mode))
			r = ocsp_file(ca, path, xs, l, info);
		free(path);
	}
	closedir(d);
	return r;
}

static int
ocsp_dir_read(struct ca *ca, const char *dir, struct revlist *l,
    struct ca_restore_info *info)
{
	X509_STORE *xs = NULL;
	size_t n = 0;
	int r = LY_ERR_ALLOC;

	int slot, ok = 1;

	if ((xs = X509_STORE_new()) == NULL)
		return LY_ERR_ALLOC;
	for (slot = 0; slot < ca_nslots(ca) && ok; slot++)
		ok = X509_STORE_add_cert(xs, ca_cert(ca, slot));
	if (ok)
		r = ocsp_walk(ca, dir, 0, xs, l, info, &n);
	X509_STORE_free(xs);
	return r;
}

/* CRL numbers go on above every one published (meta crl_number/<ca>). */
static int
crl_numbers_raise(struct ca *ca, struct store_txn *txn,
    const struct ca_restore_info *info)
{
	const void *v;
	unsigned char buf[8];
	char key[64];
	uint64_t cur;
	size_t len;
	int slot, r;

	for (slot = 0; slot < ca_nslots(ca); slot++) {
		/* XXX the key of ca_crl_number_next() in ca/ca.c. */
		snprintf(key, sizeof(key), "crl_number/%s",
		    ca_slot_name(ca, slot));
		cur = 0;
		r = store_meta_get(txn, key, &v, &len);
		if (r == LY_OK && len == 8)
			cur = ly_be64_get(v);
		else if (r != LY_ERR_NOT_FOUND)
			return r == LY_OK ? ly_fail(LY_ERR_STORE, "%s: corrupt",
			    key) : r;
		if (info->crl_number[slot] <= cur)
			continue;
		ly_be64_put(buf, info->crl_number[slot]);
		if ((r = store_meta_put(txn, key, buf, sizeof(buf))) != LY_OK)
			return r;
	}
	return LY_OK;
}

/* The summary audit entry of the restore. */
static int
restore_audit(struct ca *ca, struct store_txn *txn, const char *file,
    json_t *manifest, const struct ca_restore_info *info, const char *actor)
{
	json_t *o, *nums;
	char *detail = NULL;
	int slot, r = LY_ERR_ALLOC;

	if ((nums = json_object()) == NULL)
		return LY_ERR_ALLOC;
	for (slot = 0; slot < ca_nslots(ca); slot++)
		json_object_set_new(nums, ca_slot_name(ca, slot),
		    json_integer((json_int_t)info->crl_number[slot]));
	if ((o = json_pack("{s:s, s:O?, s:O?, s:I, s:I, s:I, s:I, s:o}",
	    "from", file, "backup_created",
	    json_object_get(manifest, "created"), "backup_audit_seq",
	    json_object_get(manifest, "audit_seq"), "crls",
	    (json_int_t)info->crls, "ocsp_revocations", (json_int_t)info->ocsp,
	    "reapplied", (json_int_t)info->reapplied, "without_certificate",
	    (json_int_t)info->unknown, "crl_number_published", nums)) !=
	    NULL &&
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) != NULL)
		r = store_audit_append(txn, actor, "restore", detail);
	json_decref(o);
	free(detail);
	return r;
}

/* Applies the revocations in batches, then the numbers and the summary. */
static int
restore_apply(struct ca *ca, const struct revlist *l, const char *file,
    json_t *manifest, struct ca_restore_info *info, const char *actor)
{
	struct store_txn *txn = NULL;
	size_t i = 0, k, done;
	int applied, r = LY_OK;

	do {
		if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
			return r;
		for (k = 0, done = 0; k < RESTORE_BATCH && i < l->n; k++, i++) {
			if ((r = ca_revocation_apply(txn, &l->v[i], actor,
			    "restore", &applied)) != LY_OK)
				goto out;
			info->reapplied += applied != 0;
			info->unknown += applied == 2;
			done += applied != 0;
		}
		if (done > 0 && (r = ca_revocations_add(txn, done)) != LY_OK)
			goto out;
		if (i == l->n &&
		    ((r = crl_numbers_raise(ca, txn, info)) != LY_OK ||
		    (r = restore_audit(ca, txn, file, manifest, info,
		    actor)) != LY_OK))
			goto out;
		r = store_txn_commit(txn);
		txn = NULL;
	} while (r == LY_OK && i < l->n);
 out:
	store_txn_abort(txn);
	return r;
}

/* A backup of an older schema is migrated as "ca-admin upgrade" would. */
static int
upgrade_if_old(const char *sdir, size_t map_size, const char *actor)
{
	struct store *st = NULL;
	char detail[96];
	int r;

	if ((r = store_open(sdir, map_size, STORE_EXISTING | STORE_UPGRADE,
	    &st)) != LY_OK)
		return r;
	if (store_schema(st) < STORE_SCHEMA_VERSION) {
		snprintf(detail, sizeof(detail), "{\"from\":%u,\"to\":%d,"
		    "\"during\":\"restore\"}", store_schema(st),
		    STORE_SCHEMA_VERSION);
		r = store_upgrade(st, actor, detail);
	}
	store_close(st);
	return r;
}

/* dir must be absent or empty; *made is 1 if it was created here. */
static int
target_ready(const char *dir, int *made)
{
	DIR *d;
	struct dirent *de;
	int empty = 1;

	*made = 0;
	if (mkdir(dir, 0700) == 0) {
		*made = 1;
		return LY_OK;
	}
	if (errno != EEXIST)
		return ly_fail(LY_ERR_IO, "%s: %s", dir, strerror(errno));
	if ((d = opendir(dir)) == NULL)
		return ly_fail(LY_ERR_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty)
		return ly_fail(LY_ERR_EXISTS, "%s is not empty: a restore "
		    "makes a new instance", dir);
	return LY_OK;
}

/*
 * The embedded SoftHSM's configuration names its token directory by an
 * absolute path below the old instance: move it below the new one, where
 * the operator puts the tokens back (docs/operations.md).
 */
static int
softhsm_relocate(const struct conf *conf, json_t *manifest)
{
	const char *old = json_string_value(json_object_get(manifest,
	    "instance_dir"));
	const char *key = "directories.tokendir = ";
	unsigned char *buf = NULL;
	char *line, *out = NULL, nd[PATH_MAX];
	size_t len, olen;
	int r;

	if (conf->softhsm2_conf == NULL || old == NULL ||
	    access(conf->softhsm2_conf, F_OK) != 0)
		return LY_OK;
	/* Absolute: SoftHSM resolves a relative tokendir from its cwd. */
	if (realpath(conf->dir, nd) == NULL)
		return ly_fail(LY_ERR_IO, "%s: %s", conf->dir, strerror(errno));
	if ((r = ly_file_read(conf->softhsm2_conf, 64 * 1024, &buf, &len)) !=
	    LY_OK)
		return r;
	olen = strlen(old);
	line = strstr((char *)buf, key);
	if (line == NULL || (line != (char *)buf && line[-1] != '\n') ||
	    strncmp(line + strlen(key), old, olen) != 0 ||
	    line[strlen(key) + olen] != '/') {
		free(buf);
		return LY_OK;
	}
	*line = '\0';
	if (asprintf(&out, "%s%s%s%s", (char *)buf, key, nd,
	    line + strlen(key) + olen) == -1) {
		free(buf);
		return LY_ERR_ALLOC;
	}
	r = ly_file_write_atomic(conf->softhsm2_conf, out, strlen(out), 0600);
	free(buf);
	free(out);
	return r;
}

/* The unpacked ca.conf must name the unpacked store and certificates. */
static int
layout_check(const char *dir, json_t *manifest, size_t *map_sizep)
{
	struct conf *conf = NULL;
	char *want = NULL, *real = NULL, *named = NULL;
	int r;

	if ((r = conf_load(dir, NULL, &conf)) != LY_OK)
		return r;
	r = LY_ERR_ALLOC;
	if ((want = ly_path_join(dir, "store")) == NULL)
		goto out;
	if ((real = realpath(want, NULL)) == NULL ||
	    (named = realpath(conf->store_dir, NULL)) == NULL ||
	    strcmp(real, named) != 0) {
		r = ly_fail(LY_ERR_CONFIG, "ca.conf of the backup names the "
		    "store %s, not %s: restore it by hand (docs/operations.md)",
		    conf->store_dir, want);
		goto out;
	}
	if (conf->publish_dir != NULL &&
	    (r = ly_mkdir_p(conf->publish_dir, 0755)) != LY_OK)
		goto out;
	if ((r = softhsm_relocate(conf, manifest)) != LY_OK)
		goto out;
	*map_sizep = conf->store_map_size;
	r = LY_OK;
 out:
	free(want);
	free(real);
	free(named);
	conf_free(conf);
	return r;
}

int
ca_restore(const char *file, const char *dir, const char *const *crls,
    size_t ncrls, const char *ocsp_dir, const char *actor,
    struct ca_restore_info *info)
{
	struct ca_restore_info ri;
	struct revlist l;
	struct ca *ca = NULL;
	json_t *m = NULL;
	uint64_t seq;
	size_t map_size = 0;
	char *sdir = NULL;
	size_t i;
	int made = 0, r;

	memset(&ri, 0, sizeof(ri));
	memset(&l, 0, sizeof(l));
	if ((r = target_ready(dir, &made)) != LY_OK)
		return r;
	r = LY_ERR_ALLOC;
	if ((sdir = ly_path_join(dir, "store")) == NULL)
		goto out;
	/* The snapshot's own chain first: a restore builds on a sound log. */
	if ((r = ca_backup_unpack(file, dir, &m)) != LY_OK ||
	    (r = layout_check(dir, m, &map_size)) != LY_OK ||
	    (r = ca_backup_check_store(sdir, map_size, &seq)) != LY_OK ||
	    (r = upgrade_if_old(sdir, map_size, actor)) != LY_OK ||
	    (r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) != LY_OK)
		goto out;
	for (i = 0; i < ncrls; i++)
		if ((r = crl_file(ca, crls[i], &l, &ri)) != LY_OK)
			goto out;
	if (ocsp_dir != NULL && (r = ocsp_dir_read(ca, ocsp_dir, &l,
	    &ri)) != LY_OK)
		goto out;
	if ((r = restore_apply(ca, &l, file, m, &ri, actor)) != LY_OK)
		goto out;
	*info = ri;
	r = LY_OK;
 out:
	ca_close(ca);
	if (r != LY_OK) {
		/* Remove what was made: never leave half an instance. */
		char why[512];

		snprintf(why, sizeof(why), "%s", ly_errdetail());
		(void)ly_remove_tree(dir, 0);
		if (!made)
			(void)mkdir(dir, 0700);
		(void)ly_fail(r, "%s", why);
	}
	json_decref(m);
	free(l.v);
	free(sdir);
	return r;
}
