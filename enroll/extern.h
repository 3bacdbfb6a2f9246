/*
 * enroll/extern.h — declarations private to enroll/.
 */
#ifndef LANYARD_ENROLL_EXTERN_H
#define LANYARD_ENROLL_EXTERN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "enroll/enroll.h"

#define ENROLL_BODY_MAX		(64 * 1024)	/* 413 above */
#define ENROLL_RL_SLOTS		256	/* addresses tracked at once */
#define ENROLL_RL_FAILS		10	/* failed tokens per window */
#define ENROLL_RL_WINDOW	60	/* seconds */
#define ENROLL_HSM_RETRY	5	/* Retry-After of a 503 */

struct enroll_rl {
	char		 addr[64];
	time_t		 start;		/* window start; 0: free slot */
	unsigned int	 fails;
};

struct enroll {
	struct ca	*ca;
	const struct enroll_engine *ops;	/* what signs or writes */
	void		*arg;
	/*
	 * Per CA slot, made on first use and kept (a slot's chain never
	 * changes): ["<issuing PEM>","<root PEM>"] for a certificate it
	 * signed. Read without the lock once set.
	 */
	_Atomic(char *)	 chain_json[CA_MAX_SLOTS];
	pthread_mutex_t	 lock;		/* guards rl[], chain_json[] writes */
	struct enroll_rl rl[ENROLL_RL_SLOTS];
};

/* enroll.c: the JSON chain of a certificate CA slot signed (borrowed). */
const char	*enroll_chain_json(struct enroll *, int slot);

/* local.c: the operations done with ca/ in this process (arg: the ca) */
extern const struct enroll_engine enroll_local;

/* body.c: the JSON API's bodies, and the members each kind takes. */
enum enroll_body_kind {
	ENROLL_BODY_ENROLL,	/* POST /api/v1/enroll: {token, csr} */
	ENROLL_BODY_REISSUE,	/* POST /api/v1/reissue: {csr} */
	ENROLL_BODY_TOKEN,	/* POST /api/v1/tokens: {profile, identity, ttl?} */
	ENROLL_BODY_REVOKE,	/* POST .../revoke: {reason?} */
	/* POST /api/v1/identities/disabled: {identity|spiffe|dns, revoke?} */
	ENROLL_BODY_DISABLE,
	/* POST /api/v1/identities/enabled: {identity|spiffe|dns} */
	ENROLL_BODY_ENABLE,
	/* POST /api/v1/issuers/<name>/rollover: {at?} (RFC 3339) */
	ENROLL_BODY_ROLLOVER,
};
/* The members, borrowed from json: valid until enroll_body_clear(). */
struct enroll_body {
	json_t		*json;
	const char	*token;
	const char	*csr;
	const char	*profile;
	const char	*identity;
	const char	*ttl;		/* NULL: absent */
	const char	*reason;	/* NULL: absent */
	const char	*spiffe;	/* DISABLE, ENABLE: exactly one of */
	const char	*dns;		/* identity, spiffe and dns */
	const char	*revoke;	/* NULL: absent */
	const char	*at;		/* NULL: absent */
};
/*
 * Parses len bytes of body as one JSON object (at most ENROLL_BODY_MAX
 * bytes, duplicate members refused) with exactly the string members kind
 * takes, no more. LY_OK with *b filled (clear it with
 * enroll_body_clear()); LY_ERR_TOO_LARGE or LY_ERR_BAD_INPUT with
 * ly_errdetail() saying why, *b untouched. The values are not checked
 * beyond being strings: their owners (ca/) check them.
 */
int	 enroll_body_parse(const unsigned char *body, size_t len,
	    enum enroll_body_kind kind, struct enroll_body *b);
/* Frees what b holds and zeroes it; NULL is a no-op. */
void	 enroll_body_clear(struct enroll_body *b);

/* enroll.c */
int	 enroll_error(struct enroll_response *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	 enroll_ca_error(struct enroll_response *, int r);
int	 enroll_method_error(struct enroll_response *, const char *allow);
int	 enroll_json_reply(struct enroll_response *, int status, json_t *);
/* As enroll_json_reply(), for JSON text it takes (malloc'd; NULL: ALLOC). */
int	 enroll_json_reply_text(struct enroll_response *, int status, char *);
/*
 * enroll_body_parse() of req's body, a refusal answered in resp (413
 * too_large, 400 bad_request): LY_OK with *b filled, or the answer's
 * result with b->json NULL. enroll_body_clear() it either way.
 */
int	 enroll_body_read(const struct enroll_request *,
	    enum enroll_body_kind, struct enroll_response *,
	    struct enroll_body *);
int	 enroll_client_find(struct enroll *, const struct enroll_request *,
	    struct enroll_response *, struct store_cert **);
int	 enroll_client(struct enroll *, const struct enroll_request *,
	    struct enroll_response *, struct store_cert **);
long	 enroll_rl_check(struct enroll *, const char *addr);
int	 enroll_rl_refused(struct enroll *, const struct enroll_request *,
	    struct enroll_response *, int *rp);
void	 enroll_rl_fail(struct enroll *, const char *addr);
int	 enroll_token_error(struct enroll *, const struct enroll_request *,
	    struct enroll_response *, const char *token, int r);
int	 enroll_reissue_after(struct enroll *, const struct store_cert *,
	    struct enroll_response *, time_t *afterp);
int	 enroll_reissue_allowed(struct enroll *, const struct store_cert *,
	    struct enroll_response *);

/* est.c */
/*
 * An EST base64 body (RFC 8951) to DER: ly_b64_decode with LY_B64_WS,
 * white space and line breaks skipped, anything else refused, padding
 * required. *outp freed by the caller. LY_ERR_BAD_INPUT, LY_ERR_ALLOC.
 */
int	 est_b64_decode(const unsigned char *, size_t, unsigned char **outp,
	    size_t *outlen);
int	 est_handle(struct enroll *, const struct enroll_request *,
	    struct enroll_response *);
/* api.c */
int	 api_handle(struct enroll *, const struct enroll_request *,
	    struct enroll_response *);
/* admin.c */
/*
 * enroll/admin_identity.c: /api/v1/identities/<rest>, rest "disabled" or
 * "enabled"; the admin is checked already.
 */
int	 admin_identities(struct enroll *, const struct enroll_request *,
	    struct enroll_response *, const char *rest,
	    const struct store_cert *admin, const char *actor);
/* enroll/admin_issuer.c: /api/v1/issuers<rest>; the admin is checked. */
int	 admin_issuers(struct enroll *, const struct enroll_request *,
	    struct enroll_response *, const char *rest,
	    const struct store_cert *admin, const char *actor);
int	 admin_handle(struct enroll *, const struct enroll_request *,
	    struct enroll_response *);

#endif /* LANYARD_ENROLL_EXTERN_H */
