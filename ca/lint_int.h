/*
 * ca/lint_int.h — declarations shared by ca/lint.c, ca/lint_crl.c and
 * ca/lint_ocsp.c only: the pieces the rules of every kind use. The rest
 * of the tree sees ca_lint_*() in ca/ca.h.
 */
#ifndef LANYARD_LINT_INT_H
#define LANYARD_LINT_INT_H

#include <openssl/x509v3.h>

#include "ca/ca.h"

/* RFC 5280 4.1.2.2, 5.2.3: serials and CRL numbers. */
#define LINT_SERIAL_MAX		20

/* How a time must be encoded. */
#define LINT_TIME_5280		0	/* UTCTime to 2049, then Generalized */
#define LINT_TIME_GENERALIZED	1	/* RFC 6960: GeneralizedTime only */

/* What an extKeyUsage says, for the consistency rules. */
#define LINT_EKU_SERVER		0x01
#define LINT_EKU_CLIENT		0x02
#define LINT_EKU_OCSP		0x04
#define LINT_EKU_ANY		0x08
#define LINT_EKU_OTHER		0x10

/* A certificate's extensions that the consistency rules look at. */
struct cert_facts {
	BASIC_CONSTRAINTS	*bc;
	int			 bc_crit;
	ASN1_BIT_STRING		*ku;
	int			 ku_crit;
	EXTENDED_KEY_USAGE	*eku;
	unsigned int		 eku_flags;	/* LINT_EKU_* */
	GENERAL_NAMES		*san;
	int			 san_crit;
	ASN1_OCTET_STRING	*ski;
	int			 ski_crit;
	AUTHORITY_KEYID		*aki;
	int			 aki_crit;
	AUTHORITY_INFO_ACCESS	*aia;
	int			 cdp;		/* a CRL DP is present */
	int			 nocheck;	/* id-pkix-ocsp-nocheck */
	int			 ca;		/* basicConstraints cA */
};

/*
 * Refuses: LY_ERR_LINT with "lint: <rule>: <words>" as the error detail,
 * logged, and counted as a failure of kind k. Every lint function stops
 * at its first failure, so a refused operation counts once.
 */
int	 lint_fail(enum ca_lint_kind k, const char *rule, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The encoding of t (mode LINT_TIME_*), from its bytes: no allocation. */
int	 lint_time(enum ca_lint_kind, const char *what, const ASN1_TIME *t,
	    int mode);
/* lint_time(), and a date the calendar has. */
int	 lint_time_full(enum ca_lint_kind, const char *what,
	    const ASN1_TIME *t, int mode);
/* a before b; both linted first. */
int	 lint_time_before(const ASN1_TIME *a, const ASN1_TIME *b);
/* The DER content octets of a non-negative INTEGER; 0 for zero. */
int	 lint_int_octets(const ASN1_INTEGER *);
/* Positive, at most 20 octets (RFC 5280 4.1.2.2). */
int	 lint_serial(enum ca_lint_kind, const char *what, const ASN1_INTEGER *);
/*
 * No extension twice; none critical but those of crit (the NIDs the
 * object may carry critical).
 */
int	 lint_exts(enum ca_lint_kind, const char *what,
	    const STACK_OF(X509_EXTENSION) *, const int *crit, size_t ncrit);
/* The issuer's key identifier: its SKI, else SHA-1 of its key. Caller frees. */
ASN1_OCTET_STRING *lint_issuer_key_id(const X509 *issuer);
/*
 * An AKI: present (if required), not critical, with a keyIdentifier equal
 * to want (not compared when want is NULL).
 */
int	 lint_aki(enum ca_lint_kind, const char *what, const AUTHORITY_KEYID *,
	    int crit, int required, const ASN1_OCTET_STRING *want);
/* Decodes x's extensions into f (cleared first); f is freed with _clear. */
int	 lint_facts_load(enum ca_lint_kind, const X509 *x, struct cert_facts *f,
	    const char *what);
void	 lint_facts_clear(struct cert_facts *);
/* A delegated OCSP signer: nocheck, no CRL DP, no OCSP URL. */
int	 lint_ocsp_signer(enum ca_lint_kind, const struct cert_facts *);

#endif /* LANYARD_LINT_INT_H */
