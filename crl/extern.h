/*
 * crl/extern.h — declarations private to crl/.
 */
#ifndef LANYARD_CRL_EXTERN_H
#define LANYARD_CRL_EXTERN_H

#include <stddef.h>
#include <stdint.h>

#include "crl/crl.h"

/* "issuing-63-delta" and room to spare. */
#define CRL_NAME_MAX		64

/* A signed CRL: der points into mem, which its owner frees. */
struct crl_der {
	unsigned char	*mem;
	const unsigned char *der;
	size_t		 len;
};

/* build.c */
/*
 * Builds and signs the CRL id of the given info: number, base (delta),
 * this_update and next_update are the caller's; entries and revocations
 * are set here. A delta lists the revocations at or after since but
 * those of skip[0..nskip) (sorted serials, which its base lists); a full
 * CRL gets INT64_MIN and nothing to skip. The signature is checked with
 * the CA certificate before
 * this returns. On success *out owns the DER (free(out->mem)). Errors:
 * LY_ERR_HSM (signing failed or does not verify), LY_ERR_TOO_LARGE,
 * LY_ERR_ALLOC, LY_ERR_STORE, LY_ERR_INTERNAL.
 */
int	 crl_build(struct ca *, const struct crl_id *, int64_t since,
	    const struct ca_serial *skip, size_t nskip,
	    struct crl_info *info, struct crl_der *out);

/* crl.c */
/* What crl_name_match() knows of a slot: its name and its CRLs. */
struct crl_slotname {
	const char	*name;
	int		 slot;
	unsigned int	 shards;	/* crl_shards() */
	int		 whole;		/* crl_whole() */
	int		 root;		/* no delta */
};
/*
 * crl_name_parse() over a table of slots (so it is tested with any
 * names): the longest slot name whose rest is one of that slot's CRL
 * names wins. LY_ERR_NOT_FOUND if none.
 */
int	 crl_name_match(const struct crl_slotname *, size_t nslots,
	    const char *name, struct crl_id *);
unsigned int crl_shards(const struct ca *, int slot);
/*
 * XXX Whether the name of the CRL id is taken by another CA's CRL, which
 * crl_name_parse() finds first: shard k of "devices" when the CA
 * "devices-k" (a later generation) exists. The two would share the
 * store's key and the file, so id is refused (crl_get(), crl_generate():
 * LY_ERR_STATE) and left out of the bundle; the registry must not name a
 * CA so.
 */
int	 crl_shadowed(const struct ca *, const struct crl_id *);
/*
 * A retiring CA's last full CRL id: as crl_generate(), with nextUpdate
 * the CA certificate's notAfter (nothing it signed is valid after).
 */
int	 crl_generate_last(struct ca *, const struct crl_id *,
	    const char *actor);
/*
 * 1 if a partitioned CA also has a full CRL of its whole scope (for the
 * gateways' bundle: [crl] bundle_shards = no).
 */
int	 crl_whole(const struct ca *, int slot);


#endif /* LANYARD_CRL_EXTERN_H */
