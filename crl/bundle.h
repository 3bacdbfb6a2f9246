/*
 * crl/bundle.h — the CRL file for gateways: every CA's current full CRL in
 * one PEM file (nginx ssl_crl, HAProxy crl-file), which a gateway that
 * checks the whole chain (crl_check_all) needs: a CRL for each CA.
 */
#ifndef LANYARD_CRL_BUNDLE_H
#define LANYARD_CRL_BUNDLE_H

#include "ca/ca.h"

struct crl_id;

#define CRL_BUNDLE_NAME	"crl-bundle.pem"

/*
 * Writes dir/<name>.crl atomically (mode 0644) from the CRL id as the
 * store holds it now, under an exclusive lock on dir (flock) taken before
 * the store is read: of concurrent writers, whichever writes last writes
 * the newest CRL, so the file's CRL number never goes down. A failed
 * write leaves the previous file. LY_ERR_NOT_FOUND if the CRL was never
 * generated, LY_ERR_IO if dir cannot be locked or written.
 */
int		 crl_write_file(struct ca *, const struct crl_id *,
		    const char *dir);

/*
 * Writes dir/crl-bundle.pem atomically from the CRLs in the store: the
 * full CRL of every CA slot that is not retired, the issuing CAs' first
 * (each of its whole scope, even when it is partitioned, unless [crl]
 * bundle_shards = yes puts every shard there), then the roots'; read
 * under the
 * same lock as crl_write_file(): no CRL in it ever goes back.
 * LY_ERR_NOT_FOUND if a CRL was never generated.
 */
int		 crl_write_bundle(struct ca *, const char *dir);

#endif /* LANYARD_CRL_BUNDLE_H */
