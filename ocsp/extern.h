/*
 * ocsp/extern.h — declarations private to ocsp/.
 *
 * request.c parses untrusted request bytes (the only place that does);
 * response.c builds, signs and encodes responses and the stored form of a
 * pre-signed one; responder.c answers requests, pre-signs and refreshes.
 * The delegated signer (its key, certificate and rotation) is ca/'s
 * (struct ca_signers, ca/signer.c).
 */
#ifndef LANYARD_OCSP_EXTERN_H
#define LANYARD_OCSP_EXTERN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "ocsp/ocsp.h"

/* RFC 8954 2.1: a nonce is 1 to 32 octets. */
#define OCSP_NONCE_MAX		32
/* Hash algorithms a CertID may use: SHA-1 (RFC 5019) and SHA-2. */
#define OCSP_NHASH		4

/* A CA's name and key hashes (RFC 6960 4.1.1) under one hash. */
struct ocsp_issuer_hash {
	int		 nid;
	unsigned char	 name[EVP_MAX_MD_SIZE];
	unsigned char	 key[EVP_MAX_MD_SIZE];
	unsigned int	 len;
};

/* ---- request.c ---------------------------------------------------------- */

/* One CertID of a request; every pointer is borrowed from the request. */
struct ocsp_certreq {
	OCSP_CERTID		*id;
	int			 nid;		/* its hash algorithm */
	const ASN1_OCTET_STRING	*name_hash;
	const ASN1_OCTET_STRING	*key_hash;
	const ASN1_INTEGER	*serial;
};

/* A checked request. */
struct ocsp_request {
	OCSP_REQUEST		*req;
	struct ocsp_certreq	*ids;
	size_t			 nids;
	int			 nonce;		/* has a nonce of 1 to 32 octets */
};

/*
 * Parses an untrusted DER OCSPRequest of at most OCSP_REQUEST_MAX bytes
 * holding 1 to max CertIDs: no trailing bytes, hash algorithm SHA-1 or
 * SHA-2 with hashes of its length, no unknown critical extension, at most
 * one nonce, of 1 to 32 octets (RFC 8954). *reqp is freed with
 * ocsp_request_free(). LY_ERR_BAD_INPUT or LY_ERR_TOO_LARGE (a
 * malformedRequest), LY_ERR_ALLOC. Logs at debug level only: the bytes
 * are anyone's.
 */
int	 ocsp_request_parse(const unsigned char *, size_t, unsigned int max,
	    struct ocsp_request **reqp);
void	 ocsp_request_free(struct ocsp_request *);

/* ---- response.c --------------------------------------------------------- */

/* The status of one certificate, as a SingleResponse states it. */
struct ocsp_status {
	int		 status;	/* V_OCSP_CERTSTATUS_* */
	time_t		 revoked_at;
	int		 reason;	/* CRL reason, -1 none */
};

/* A signed response and the times it states. */
struct ocsp_signed {
	unsigned char	*der;		/* OCSPResponse; OPENSSL_free */
	size_t		 len;
	time_t		 this_update;
	time_t		 next_update;
	time_t		 produced_at;
};

/*
 * Builds and signs a successful response with one SingleResponse per
 * CertID (used as given), thisUpdate and producedAt now, nextUpdate the
 * earlier of now + validity and the signer's notAfter, responder ID by
 * key, the signer's certificate included, and the nonce of nonce_from if
 * not NULL. It is linted before it is signed (LY_ERR_LINT), and the
 * signature is verified with the signer's certificate before the response
 * is returned. LY_ERR_HSM if the token does not sign (or signs wrongly),
 * LY_ERR_STATE if the signer has expired.
 */
int	 ocsp_response_sign(struct ca_signer *, OCSP_CERTID *const *ids,
	    const struct ocsp_status *, size_t n, OCSP_REQUEST *nonce_from,
	    time_t now, long validity, struct ocsp_signed *);
/*
 * Who signs a response, for ocsp_response_sign_by(): the delegated
 * signer (ocsp_response_sign()), or the root itself (ocsp/root.c).
 * cert is the signer's certificate (borrowed), not_after its notAfter;
 * sign signs obj through fn as ca_sign() does; bad reports a signature
 * that does not verify (LY_ERR_HSM, logged and counted).
 */
struct ocsp_by {
	X509		*cert;
	time_t		 not_after;
	int		(*sign)(void *arg, int (*fn)(void *, EVP_MD_CTX *),
			    void *obj);
	int		(*bad)(void *arg);
	void		*arg;
};
/* ocsp_response_sign(), by any signer. */
int	 ocsp_response_sign_by(const struct ocsp_by *, OCSP_CERTID *const *ids,
	    const struct ocsp_status *, size_t n, OCSP_REQUEST *nonce_from,
	    time_t now, long validity, struct ocsp_signed *);
/* An unsuccessful OCSPResponse (malformedRequest, ...); OPENSSL_free. */
int	 ocsp_response_error(int status, unsigned char **derp, size_t *lenp);

/*
 * The stored form of a pre-signed response (the ocsp database of the
 * store): a fixed header, then the DER, so that serving it needs no
 * parsing and no hashing:
 *	0   4  magic "LYO1"
 *	4   1  status: V_OCSP_CERTSTATUS_GOOD, _REVOKED or _UNKNOWN
 *	5   1  signer: 0 the issuing CA's delegated signer, OCSP_STORED_ROOT
 *	       the root (a response about a CA certificate, ocsp/root.c)
 *	6   1  the slot of the CA the response is about (its CertID's
 *	       issuer), plus 1; 0 in responses stored before slots: then
 *	       CA_ROOT if signed by the root, else CA_ISSUING
 *	7   1  zero
 *	8   8  thisUpdate   (seconds since the epoch, big-endian)
 *	16  8  nextUpdate
 *	24  8  producedAt
 *	32 32  SHA-256 of the DER (the ETag)
 *	64  -  the OCSPResponse, DER
 */
#define OCSP_STORED_HDR		64
#define OCSP_STORED_SIGNER	5	/* the offset of the signer byte */
#define OCSP_STORED_ROOT	1
#define OCSP_STORED_SLOT	6	/* the offset of the slot byte */
struct ocsp_stored {
	int		 status;
	int		 by_root;	/* signed by the root (ocsp/root.c) */
	int		 slot;		/* the issuer the response is about */
	time_t		 this_update;
	time_t		 next_update;
	time_t		 produced_at;
	unsigned char	 hash[32];
	const unsigned char *der;	/* borrowed from the stored value */
	size_t		 len;
};
/*
 * Encodes s (one certificate's response about a certificate slot
 * issued); *valp is malloc'd. The signer byte is 0: the root's callers
 * set it.
 */
int	 ocsp_stored_encode(const struct ocsp_signed *, int status, int slot,
	    unsigned char **valp, size_t *lenp);
/* Reads the header only. LY_ERR_BAD_INPUT if it is not ours. */
int	 ocsp_stored_parse(const void *val, size_t len, struct ocsp_stored *);

/* ---- root.c ------------------------------------------------------------- */

/*
 * The root slots that sign OCSP responses now (not retired): root[slot]
 * is 1 for each, self[slot] its own certificate's serial (a root answers
 * for what it issued, never for itself). LY_ERR_STATE if there is none
 * or one has no certificate.
 */
int	 ocsp_root_slots(struct ca *, unsigned char root[CA_MAX_SLOTS],
	    struct ca_serial self[CA_MAX_SLOTS]);

/* ---- responder.c -------------------------------------------------------- */

/*
 * One slot's issuer hashes, computed on first use: ready is set (release)
 * after h is written and never cleared, as slots are only ever added, so
 * readers need no lock.
 */
struct ocsp_slot_hash {
	atomic_int		 ready;
	int			 root;		/* ca_slot_is_root() */
	struct ocsp_issuer_hash	 h[OCSP_NHASH];
};

struct ocsp_responder {
	struct ca		*ca;
	const struct conf	*conf;
	/* Which CA a CertID names, by slot (root slots: ocsp/root.c). */
	struct ocsp_slot_hash	 slots[CA_MAX_SLOTS];
	pthread_mutex_t		 hash_lock;	/* one writer of slots[] */
	/* CLOCK_MONOTONIC second of the last sync for a CA without a signer. */
	atomic_llong		 synced;
	struct ca_signers	*signers;	/* the delegated signers (ca/) */
	int			 presigning;	/* ca_set_presign() is ours */
	ocsp_remote_fn		 remote;	/* signs what the store lacks */
	void			*remote_arg;
};

#endif /* LANYARD_OCSP_EXTERN_H */
