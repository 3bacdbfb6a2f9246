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
	const char	*query;		/* the URL's query ("status=valid"), or NULL */
};

struct enroll_response {
	int		 status;	/* HTTP status */
	const char	*content_type;	/* static string */
	unsigned char	*body;		/* owned; freed by enroll_response_clear */
	size_t		 len;
	const char	*www_authenticate;	/* static, or NULL (401) */
	const char	*allow;		/* static, or NULL (405: "GET", "POST") */
	const char	*content_transfer_encoding;	/* "base64" for EST, or NULL */
	long		 retry_after;	/* seconds, or 0 */
	const char	*error_code;	/* stable code for metrics/logs, or NULL */
};

/*
 * Endpoints, statuses and stable error codes ({"error","detail"} JSON;
 * the same body for EST errors):
 *   EST (RFC 7030, base64 per RFC 8951)
 *     GET  /.well-known/est/cacerts         200 certs-only PKCS#7 (issuing,
 *          root), application/pkcs7-mime, Content-Transfer-Encoding base64
 *     GET  /.well-known/est/csrattrs        204: no attributes asked for
 *     POST /.well-known/est/simpleenroll    HTTP Basic, the password is the
 *          one-time token (user ignored); a client certificate alone, even
 *          an admin's, does not enroll: 401 + WWW-Authenticate. A refused
 *          token is 401 with token_invalid/token_used/token_expired.
 *     POST /.well-known/est/simplereenroll  client certificate; the same
 *          reissue window as /api/v1/reissue
 *   JSON
 *     POST /api/v1/enroll {"token","csr"}   200 {certificate, chain,
 *          serial, not_after}; 403 token_invalid|token_used|token_expired
 *     POST /api/v1/reissue {"csr"}          client certificate; 409
 *          reissue_too_early with allowed_after; 403 revoked|forbidden.
 *          A superseded certificate asking again for its successor's
 *          key gets the successor (200, same serial, nothing written).
 *     GET  /api/v1/reissue                  client certificate of the
 *          store, whatever its status: 200 {serial, not_after,
 *          allowed_after, status: valid|revoked|expired|superseded
 *          [, superseded_by]}; writes nothing. 401 as for POST.
 *   Admin (client certificate of profile "admin", valid; else 403
 *     forbidden, or 403 revoked for a revoked admin certificate):
 *     /api/v1/tokens (POST, GET), /api/v1/tokens/<id> (DELETE; 409
 *     token_used if it was used or revoked already),
 *     /api/v1/certificates[?status=] (GET), /api/v1/certificates/<serial>
 *     (GET), .../<serial>/revoke (POST {"reason"}; 409 revoked if it is
 *     already), /api/v1/crl/publish (POST)
 * Codes: bad_request (400, also unknown fields, wrong types, duplicates),
 * bad_csr, key_policy (400), unauthorized (401), forbidden, revoked,
 * token_* (403), not_found (404), conflict, reissue_too_early (409),
 * unsupported_media_type (415: EST wants application/pkcs10),
 * method_not_allowed (405 + Allow), too_large (413),
 * rate_limited (429 + Retry-After: 10 failed tokens a minute per
 * client_addr), hsm_unavailable (503 + Retry-After: 5), engine_unavailable
 * (503 + Retry-After: 5: ca-server's engine process is down), store_full (507:
 * the store map is full, nothing was written), internal (500).
 */

/*
 * What enroll/ asks of the engine: the operations that sign or write.
 * enroll_new() does them with ca/ in this process (ca-admin's tests, the
 * unit tests); ca-server's front passes the IPC client (ipc/ipc.h), and
 * its engine process checks every request again as if the front were
 * hostile (docs/architecture.md). Each returns LY_OK or a negative
 * LY_ERR_* with ly_errdetail() set, as the ca/ function of the same
 * name does, or LY_ERR_ENGINE when the engine cannot be reached. client
 * and admin are the store's records of the certificate web/ verified
 * (enroll_client()): the engine looks them up again by serial and
 * compares the DER. Outputs are set on success only.
 */
struct store_cert;
struct enroll_engine {
	int	(*issue_token)(void *, const char *token,
		    const unsigned char *csr, size_t csrlen, const char *actor,
		    struct ca_issued *out);
	int	(*reissue)(void *, const struct store_cert *client,
		    const unsigned char *csr, size_t csrlen, const char *actor,
		    struct ca_issued *out);
	int	(*token_create)(void *, const struct store_cert *admin,
		    const char *profile, const char *identity, long ttl,
		    const char *actor, char **tokenp, char **idp);
	int	(*token_revoke)(void *, const struct store_cert *admin,
		    const char *id, const char *actor);
	int	(*revoke)(void *, const struct store_cert *admin,
		    const struct ca_serial *, int reason, const char *actor);
	int	(*crl_publish)(void *, const struct store_cert *admin,
		    const char *actor);
	int	(*identity_disable)(void *, const struct store_cert *admin,
		    const char *identity, int reason, const char *actor,
		    size_t *revokedp);
	int	(*identity_enable)(void *, const struct store_cert *admin,
		    const char *identity, const char *actor);
	/*
	 * ca_issuer_rollover() of the issuer section name, taking over at
	 * at (0: now), then the new CA's first CRLs; name (CONF_NAME_MAX
	 * bytes) gets the new CA's name.
	 */
	int	(*issuer_rollover)(void *, const struct store_cert *admin,
		    const char *issuer, time_t at, const char *actor,
		    char *name);
};

/* ca must stay open while e lives. The operations run in this process. */
int		 enroll_new(struct ca *, struct enroll **);
/*
 * As enroll_new(), the operations that sign or write going to ops with
 * arg (both must outlive e). ca may be opened read-only: enroll/ reads
 * the store itself (token states, certificate lists, the client check).
 */
int		 enroll_new_engine(struct ca *, const struct enroll_engine *ops,
		    void *arg, struct enroll **);
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
