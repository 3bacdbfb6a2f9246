/*
 * web/tls.c — client certificates of the HTTPS listener.
 *
 * libmicrohttpd requests one (MHD_OPTION_HTTPS_MEM_TRUST) but accepts any
 * at the handshake; web_tls_peer() verifies it against the instance's
 * current CA certificates (every issuer generation, see trust_current())
 * for the TLS WWW client purpose and hands the leaf on as DER: what it means is enroll/'s and ca/'s business. The
 * listener's own key and certificate are ca/'s (ca/tls.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "util/util.h"
#include "web/extern.h"

/* ---- the listener's priority string ------------------------------------- */

int
web_tls_priority_check(const char *prio)
{
	gnutls_priority_t pc;
	const char *err = NULL;
	int rc;

	/* MHD would only say "failed": GnuTLS says where the string is wrong. */
	if ((rc = gnutls_priority_init(&pc, prio, &err)) < 0)
		return ly_fail(LY_ERR_CONFIG, "[server] tls_priority: %s%s%.40s",
		    gnutls_strerror(rc), err != NULL ? " at: " : "",
		    err != NULL ? err : "");
	gnutls_priority_deinit(pc);
	return LY_OK;
}

/* ---- client certificates ------------------------------------------------ */

/*
 * The trust list client certificates are verified against: every CA
 * certificate of ca_trust_pem(), read again at most once a second, so
 * that a certificate from an issuer generation registered after the
 * listener started (a rollover) is trusted at once. MHD's own list
 * (MHD_OPTION_HTTPS_MEM_TRUST) only makes it ask for a certificate.
 * One list per process; verification holds its lock (client
 * certificates come with enrollment and admin requests, not OCSP).
 */
static pthread_mutex_t	 trust_mu = PTHREAD_MUTEX_INITIALIZER;
static gnutls_x509_trust_list_t trust_tl;
static char		*trust_pem;
static time_t		 trust_checked;

/*
 * Under trust_mu: the list is current, or the last good one is kept.
 * force: read the registry now (a certificate that did not verify may
 * be from a CA registered this very second).
 */
static int
trust_current(struct ca *ca, int force)
{
	gnutls_x509_trust_list_t tl;
	gnutls_datum_t d;
	time_t now = time(NULL);
	char *pem = NULL;

	struct timespec ts;
	static int64_t forced_ms;
	int64_t ms;

	if (trust_tl != NULL && now == trust_checked && !force)
		return 0;
	if (force) {
		/* At most ten a second, whatever strangers send. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (trust_tl != NULL && ms - forced_ms < 100)
			return 0;
		forced_ms = ms;
		(void)ca_slots_sync(ca);
	}
	trust_checked = now;
	if (ca_trust_pem(ca, &pem) != LY_OK)
		return trust_tl != NULL ? 0 : -1;
	if (trust_pem != NULL && strcmp(pem, trust_pem) == 0) {
		free(pem);
		return 0;
	}
	d.data = (unsigned char *)pem;
	d.size = (unsigned int)strlen(pem);
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		free(pem);
		return trust_tl != NULL ? 0 : -1;
	}
	if (gnutls_x509_trust_list_add_trust_mem(tl, &d, NULL,
	    GNUTLS_X509_FMT_PEM, 0, 0) <= 0) {
		gnutls_x509_trust_list_deinit(tl, 1);
		free(pem);
		return trust_tl != NULL ? 0 : -1;
	}
	if (trust_tl != NULL)
		gnutls_x509_trust_list_deinit(trust_tl, 1);
	free(trust_pem);
	trust_tl = tl;
	trust_pem = pem;
	return 0;
}

#define PEER_CHAIN_MAX	8

/* Verifies the peer's chain for the TLS WWW client purpose; 0 or why. */
static int
peer_verify(struct ca *ca, const gnutls_datum_t *peers, unsigned int n,
    unsigned int *statusp, char *why, size_t whylen)
{
	gnutls_x509_crt_t crts[PEER_CHAIN_MAX];
	gnutls_typed_vdata_st data;
	unsigned int i, k = 0;
	int rc = -1;

	if (n > PEER_CHAIN_MAX)
		n = PEER_CHAIN_MAX;
	for (i = 0; i < n; i++) {
		if ((rc = gnutls_x509_crt_init(&crts[k])) < 0)
			goto out;
		if ((rc = gnutls_x509_crt_import(crts[k++], &peers[i],
		    GNUTLS_X509_FMT_DER)) < 0)
			goto out;
	}
	/* The purpose matters: a serverAuth-only certificate is refused. */
	memset(&data, 0, sizeof(data));
	data.type = GNUTLS_DT_KEY_PURPOSE_OID;
	data.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
	pthread_mutex_lock(&trust_mu);
	if (trust_current(ca, 0) != 0) {
		pthread_mutex_unlock(&trust_mu);
		snprintf(why, whylen, "no trust list");
		rc = -1;
		goto out;
	}
	rc = gnutls_x509_trust_list_verify_crt2(trust_tl, crts, n, &data, 1,
	    0, statusp, NULL);
	/* No known signer: once more with the registry read now. */
	if (rc >= 0 && (*statusp & GNUTLS_CERT_SIGNER_NOT_FOUND) &&
	    trust_current(ca, 1) == 0)
		rc = gnutls_x509_trust_list_verify_crt2(trust_tl, crts, n,
		    &data, 1, 0, statusp, NULL);
	pthread_mutex_unlock(&trust_mu);
 out:
	if (rc < 0 && why[0] == '\0')
		snprintf(why, whylen, "%s", gnutls_strerror(rc));
	for (i = 0; i < k; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return rc < 0 ? -1 : 0;
}

int
web_tls_peer(struct ca *ca, struct MHD_Connection *c, unsigned char **derp,
    size_t *lenp, char *why, size_t whylen)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t ss;
	const gnutls_datum_t *peers;
	gnutls_datum_t out = { NULL, 0 };
	unsigned int n = 0, status = 0;

	*derp = NULL;
	*lenp = 0;
	why[0] = '\0';
	if ((ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    (ss = (gnutls_session_t)ci->tls_session) == NULL)
		return WEB_PEER_NONE;
	if ((peers = gnutls_certificate_get_peers(ss, &n)) == NULL || n == 0)
		return WEB_PEER_NONE;
	if (peer_verify(ca, peers, n, &status, why, whylen) != 0)
		return WEB_PEER_UNTRUSTED;
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0) == 0 && out.data != NULL)
			snprintf(why, whylen, "%s", (const char *)out.data);
		else
			snprintf(why, whylen, "status 0x%x", status);
		gnutls_free(out.data);
		/* GnuTLS ends each sentence with a space. */
		n = (unsigned int)strlen(why);
		while (n > 0 && why[n - 1] == ' ')
			why[--n] = '\0';
		return WEB_PEER_UNTRUSTED;
	}
	/* Element 0 is the leaf; the session's copy dies with the connection. */
	if ((*derp = malloc(peers[0].size)) == NULL)
		return LY_ERR_ALLOC;
	memcpy(*derp, peers[0].data, peers[0].size);
	*lenp = peers[0].size;
	return WEB_PEER_VERIFIED;
}
