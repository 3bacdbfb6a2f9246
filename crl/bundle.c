/*
 * crl/bundle.c — the CRL files in a publish directory: each CRL as
 * <name>.crl, and every current full CRL as one PEM file for gateways.
 *
 * Several processes write them (ca-server's schedule, ca-admin crl
 * publish, the admin API, ca-admin publish), and their generations
 * overlap. A file is written only under an exclusive lock on its
 * directory and only from the CRL the store holds at that moment, never
 * from the writer's own copy: the store's CRL only moves forward
 * (ca_crl_record()), so each write under the lock carries a number at
 * least that of the write before it, and no file goes back.
 */
#include "config.h"

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "ca/store.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "crl/extern.h"
#include "util/util.h"

/*
 * An exclusive lock on dir, held until dir_unlock(*fdp): flock() on the
 * directory itself (no lock file to leave in a served directory). Two
 * threads of one process exclude each other too: each opens its own
 * descriptor.
 */
static int
dir_lock(const char *dir, int *fdp)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return ly_fail(LY_ERR_IO, "%s: %s", dir, strerror(errno));
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		close(fd);
		return ly_fail(LY_ERR_IO, "%s: lock: %s", dir, strerror(errno));
	}
	*fdp = fd;
	return LY_OK;
}

static void
dir_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* drops the flock */
}

int
crl_write_file(struct ca *ca, const struct crl_id *id, const char *dir)
{
	struct store_txn *txn = NULL;
	const unsigned char *der;
	char name[CRL_NAME_MAX + 8], *path = NULL;
	size_t len;
	int fd = -1, r;

	crl_name(ca, id, name, CRL_NAME_MAX);
	strcat(name, ".crl");
	if ((path = ly_path_join(dir, name)) == NULL)
		return LY_ERR_ALLOC;
	if ((r = dir_lock(dir, &fd)) != LY_OK)
		goto out;
	/* Read under the lock: the store's CRL now is the newest there is. */
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK ||
	    (r = crl_get(txn, ca, id, &der, &len, NULL)) != LY_OK)
		goto out;
	/* A failed write leaves the previous file as it was. */
	r = ly_file_write_atomic(path, der, len, 0644);
 out:
	store_txn_abort(txn);
	dir_unlock(fd);
	free(path);
	return r;
}

/* PEM armour around the stored DER: no X509_CRL is built for it. */
static int
append(BIO *b, struct store_txn *txn, const struct ca *ca,
    const struct crl_id *id)
{
	const unsigned char *der;
	size_t len;
	int r;

	if ((r = crl_get(txn, ca, id, &der, &len, NULL)) != LY_OK)
		return r;
	if (PEM_write_bio(b, "X509 CRL", "", der, (long)len) <= 0)
		return ly_fail(LY_ERR_INTERNAL, "PEM encoding of a CRL failed");
	return LY_OK;
}

/*
 * The full CRLs of slot for the bundle: one per CA unless [crl]
 * bundle_shards (every shard's then). GnuTLS keeps one CRL per issuer
 * (the last shard would hide the others) and NSS refuses a critical IDP
 * (docs/revocation.md). An offline root's is there once imported.
 */
static int
append_slot(BIO *b, struct store_txn *txn, struct ca *ca, int slot)
{
	struct crl_id id;
	unsigned int k, shards = crl_shards(ca, slot);
	int r;

	memset(&id, 0, sizeof(id));
	id.slot = slot;
	id.shard = -1;
	if (shards <= 1 || !ca_conf(ca)->crl_bundle_shards) {
		r = append(b, txn, ca, &id);
		if (r == LY_ERR_NOT_FOUND && ca_slot_is_root(ca, slot) &&
		    ca_root_offline(ca)) {
			ly_errclear();
			r = LY_OK;
		}
		return r;
	}
	for (k = 0, r = LY_OK; r == LY_OK && k < shards; k++) {
		id.shard = (int)k;
		/* Another CA's CRL has its name: never made (crl/extern.h). */
		if (!crl_shadowed(ca, &id))
			r = append(b, txn, ca, &id);
	}
	return r;
}

int
crl_write_bundle(struct ca *ca, const char *dir)
{
	struct store_txn *txn = NULL;
	char *path = NULL, *data;
	time_t now = ly_now();
	BIO *b = NULL;
	long len;
	int fd = -1, r = LY_OK, root, slot;

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    (path = ly_path_join(dir, CRL_BUNDLE_NAME)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* As crl_write_file(): the store read under the directory's lock. */
	if ((r = dir_lock(dir, &fd)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	/*
	 * The issuing CAs' CRLs, then the roots': every slot that is not
	 * retired (nothing a retired CA signed is valid any more).
	 */
	for (root = 0; root <= 1 && r == LY_OK; root++)
		for (slot = 0; slot < ca_nslots(ca) && r == LY_OK; slot++)
			if (!!ca_slot_is_root(ca, slot) == root &&
			    ca_slot_state(ca, slot, now) != CA_SLOT_RETIRED)
				r = append_slot(b, txn, ca, slot);
	if (r != LY_OK)
		goto out;
	store_txn_abort(txn);
	txn = NULL;
	len = BIO_get_mem_data(b, &data);
	r = ly_file_write_atomic(path, data, (size_t)len, 0644);
 out:
	store_txn_abort(txn);
	dir_unlock(fd);
	BIO_free(b);
	free(path);
	return r;
}
