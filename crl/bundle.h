/*
 * crl/bundle.h — the CRL file for gateways: every CA's current full CRL in
 * one PEM file (nginx ssl_crl, HAProxy crl-file), which a gateway that
 * checks the whole chain (crl_check_all) needs: a CRL for each CA.
 */
#ifndef LANYARD_CRL_BUNDLE_H
#define LANYARD_CRL_BUNDLE_H

#include "ca/ca.h"

#define CRL_BUNDLE_NAME	"crl-bundle.pem"

/*
 * Writes dir/crl-bundle.pem atomically from the CRLs in the store (the
 * issuing CA's full CRLs, every shard, then the root's). LY_ERR_NOT_FOUND
 * if a CRL was never generated.
 */
int		 crl_write_bundle(struct ca *, const char *dir);

#endif /* LANYARD_CRL_BUNDLE_H */
