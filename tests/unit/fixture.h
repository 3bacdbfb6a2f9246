/*
 * tests/unit/fixture.h — what the engine-level unit tests share: a real
 * SoftHSM2-backed instance in a temp dir, and CSRs made on the spot.
 */
#ifndef LANYARD_TEST_FIXTURE_H
#define LANYARD_TEST_FIXTURE_H

#include <stddef.h>

#include <openssl/x509.h>

#include "conf/conf.h"

struct ca;
struct hsm_key;

/*
 * A P-256 key and a CSR for it, signed, as DER (pem 0) or PEM (pem 1).
 * cn and san (an OpenSSL subjectAltName value such as "DNS:evil.example")
 * may be NULL: the tests use them to show the CSR's wishes are ignored.
 * Returns a malloc'd buffer and its length; aborts the test on failure.
 */
unsigned char	*fixture_csr(const char *cn, const char *san, int pem,
		    size_t *lenp);

/* The SoftHSM2 module: $SOFTHSM2_MODULE (make check sets it) or Debian's. */
const char	*fixture_softhsm_module(void);

/*
 * A self-signed-shaped certificate for key, not yet signed: subject and
 * issuer CN=cn, the given serial, valid from now for a day. Aborts the
 * test on failure; the caller frees it.
 */
X509		*fixture_cert(EVP_PKEY *key, const char *cn, long serial);

/*
 * A new instance: mkdtemp(prefix-XXXXXX) into base (at least 64 bytes),
 * ca_init() of base/i with config (NULL: the default with keys of kt) into dir
 * (at least 80 bytes). Returns 0, or -1 with the reason on stderr.
 */
int		 fixture_instance(const char *prefix, enum conf_keytype kt,
		    const char *config, char *base, char *dir);
/*
 * The PKCS#11 fault shim's rule file (tests/shim/p11shim.c): set writes
 * text to path; get reads it back as the shim left it (counts consumed),
 * into a static buffer valid until the next call.
 */
void		 fixture_faults_set(const char *path, const char *text);
char		*fixture_faults_get(const char *path);
/*
 * Polls hsm_key_check(k) every 100 ms, at most tries times, until it
 * passes: 0 if it did, -1 if it never did.
 */
int		 fixture_wait_recovered(struct hsm_key *k, int tries);
/*
 * Logs every session of the process out, as a token reset would: a
 * C_Logout on any session of a token logs out all of them (hsm/'s pool).
 */
void		 fixture_token_logout(void);

/*
 * The audit entries of ca whose action is action, counted in one read
 * transaction after the whole chain verified (the test fails if not).
 */
size_t		 fixture_audit_count(struct ca *ca, const char *action);

/*
 * Issues a certificate of profile for the JSON identity {"userId":user}
 * and the CSR csr (actor "test"); the test fails if it is refused.
 * *sp is its serial; the certificate is returned (caller frees).
 */
struct ca_serial;
X509		*fixture_issue_user(struct ca *ca, const char *profile,
		    const unsigned char *csr, size_t csrlen, int user,
		    struct ca_serial *sp);
/*
 * The store's record of serial, read in its own read transaction (the
 * test fails if there is none); freed with store_cert_free().
 */
struct store_cert *fixture_record(struct ca *ca,
		    const struct ca_serial *serial);

/* rm -rf base. */
void		 fixture_remove(const char *base);

#endif /* LANYARD_TEST_FIXTURE_H */
