/*
 * enroll/enroll.h — enrollment and reissue: EST (RFC 7030, RFC 8951) and
 * the JSON API, one-time tokens, the reissue policy, the admin API.
 *
 * Like crl/ and ocsp/, enroll/ turns request bytes into response bytes and
 * knows no sockets: web/ hands it what HTTP and TLS established (method,
 * path, a few headers, the body, Basic credentials, the verified client
 * certificate) and writes back what it returns.
 */
#ifndef LANYARD_ENROLL_H
#define LANYARD_ENROLL_H

#include <stddef.h>
#include <time.h>

#include "ca/ca.h"

struct enroll;

/* What web/ established about one request. Everything is untrusted but
 * the client certificate, which web/ verified against Lanyard's chain for
 * TLS client authentication (the store check is enroll/'s). */
struct enroll_request {
	const char	*method;	/* "GET", "POST" */
	const char	*path;		/* "/.well-known/est/simpleenroll", "/api/v1/enroll", ... */
	const char	*content_type;	/* or NULL */
	const char	*basic_user;	/* HTTP Basic, or NULL */
	const char	*basic_pass;
	const unsigned char *body;
	size_t		 bodylen;
	const unsigned char *client_cert;	/* DER of the verified leaf, or NULL */
	size_t		 client_certlen;
	const char	*client_addr;	/* for rate limits and the audit log */
};

struct enroll_response {
	int		 status;	/* HTTP status */
	const char	*content_type;	/* static string */
	unsigned char	*body;		/* owned; freed by enroll_response_clear */
	size_t		 len;
	const char	*www_authenticate;	/* static, or NULL (401) */
	const char	*content_transfer_encoding;	/* "base64" for EST, or NULL */
	long		 retry_after;	/* seconds, or 0 */
	const char	*error_code;	/* stable code for metrics/logs, or NULL */
};

/* ca must stay open while e lives. */
int		 enroll_new(struct ca *, struct enroll **);
void		 enroll_free(struct enroll *);

/*
 * Whether path belongs to enroll/ (EST or /api/v1/): web/ routes those
 * here and only over HTTPS.
 */
int		 enroll_path(const char *path);

/*
 * Answers one request. Always fills *resp (an error is a JSON body
 * {"error": code, "detail": text} with a 4xx/5xx status, or for EST the
 * status RFC 7030 names); returns LY_ERR_ALLOC only when it could not.
 */
int		 enroll_handle(struct enroll *, const struct enroll_request *,
		    struct enroll_response *);
void		 enroll_response_clear(struct enroll_response *);

#endif /* LANYARD_ENROLL_H */
