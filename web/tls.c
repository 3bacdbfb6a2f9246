/*
 * web/tls.c — client certificates of the HTTPS listener.
 *
 * libmicrohttpd requests one (MHD_OPTION_HTTPS_MEM_TRUST) but accepts any
 * at the handshake; web_tls_peer() verifies it with
 * gnutls_certificate_verify_peers() for the TLS WWW client purpose
 * (verify_peers2 would accept a serverAuth-only certificate) and hands the
 * leaf on as DER: what it means is enroll/'s and ca/'s business. The
 * listener's own key and certificate are ca/'s (ca/tls.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

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

int
web_tls_peer(struct MHD_Connection *c, unsigned char **derp, size_t *lenp,
    char *why, size_t whylen)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t ss;
	const gnutls_datum_t *peers;
	gnutls_datum_t out = { NULL, 0 };
	gnutls_typed_vdata_st data;
	unsigned int n = 0, status = 0;
	int rc;

	*derp = NULL;
	*lenp = 0;
	why[0] = '\0';
	if ((ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION)) == NULL ||
	    (ss = (gnutls_session_t)ci->tls_session) == NULL)
		return WEB_PEER_NONE;
	if ((peers = gnutls_certificate_get_peers(ss, &n)) == NULL || n == 0)
		return WEB_PEER_NONE;
	/* The purpose matters: verify_peers2 would take a serverAuth-only one. */
	memset(&data, 0, sizeof(data));
	data.type = GNUTLS_DT_KEY_PURPOSE_OID;
	data.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
	if ((rc = gnutls_certificate_verify_peers(ss, &data, 1, &status)) < 0) {
		snprintf(why, whylen, "%s", gnutls_strerror(rc));
		return WEB_PEER_UNTRUSTED;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    gnutls_certificate_type_get(ss), &out, 0) == 0 &&
		    out.data != NULL)
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
