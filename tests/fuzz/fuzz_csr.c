/*
 * CSR intake and policy: DER (or PEM) as a device sends it, parsed and
 * checked against every profile of the built-in configuration.
 *
 * A mutated CSR almost never keeps a valid signature, and ca_csr_check()
 * checks the key, then the signature, then the extensions: fed as it is,
 * the fuzzer would hardly get past the signature. So, in this harness
 * only, each decoded request is also
 *   - judged by ca_key_check() with its own key, whatever its signature,
 *   - signed again, with its key swapped for a fixed P-256 key made at
 *     start, and checked by ca_csr_check(): the signature verifies, and
 *     the mutated attributes and extensions meet the policy.
 * The request as sent is checked too, for the refusal of a bad signature.
 * Seeds: tests/fuzz/corpus/csr, one CSR per key type and encoding
 * (made by make-seeds.sh there; no key is kept).
 */
#include "config.h"

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *profiles[] = { "client", "service", "ocsp", "admin" };

/* The harness's own signing key, made once (never a file). */
static EVP_PKEY *
fuzz_key(void)
{
	static EVP_PKEY *key;

	if (key == NULL && (key = EVP_EC_gen("P-256")) == NULL)
		abort();
	return key;
}

/* req, signed again by the harness's key (its key swapped in), or NULL. */
static X509_REQ *
resign(X509_REQ *req)
{
	X509_REQ *dup;

	if ((dup = X509_REQ_dup(req)) == NULL)
		return NULL;
	if (X509_REQ_set_pubkey(dup, fuzz_key()) != 1 ||
	    X509_REQ_sign(dup, fuzz_key(), EVP_sha256()) <= 0) {
		X509_REQ_free(dup);
		return NULL;
	}
	return dup;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct conf *conf = fuzz_conf();
	const struct conf_profile *p;
	X509_REQ *req = NULL, *signed_req;
	EVP_PKEY *key = NULL;
	size_t i;

	if (ca_csr_parse(data, len, &req, &key) == LY_OK) {
		signed_req = resign(req);
		for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
			if ((p = conf_profile_get(conf, profiles[i])) == NULL)
				continue;
			(void)ca_csr_check(p, req, key);
			(void)ca_key_check(p, key);
			if (signed_req != NULL)
				(void)ca_csr_check(p, signed_req, fuzz_key());
			fuzz_reset();
		}
		X509_REQ_free(signed_req);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
	fuzz_reset();
	return 0;
}
