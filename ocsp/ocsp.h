/*
 * ocsp/ocsp.h — the OCSP responder (RFC 6960, RFC 5019 profile).
 *
 * Every CA slot is answered for (ca.h, "CA slots"): the CertID's issuer
 * hashes name the slot. Responses about an issuing slot's certificates
 * are signed by a delegated OCSP signing certificate that slot issues to
 * a key on its token (profile "ocsp": EKU OCSPSigning,
 * id-pkix-ocsp-nocheck), rotated before it expires; the responder ID is
 * by key hash. A root slot's are its own, pre-signed (ocsp/root.c). A response per certificate is signed ahead of time and kept
 * in the store (ca_set_presign: in the same transaction as the
 * certificate), so that a GET without a nonce is a store read.
 *
 * ocsp/ turns request bytes into response bytes and knows no sockets.
 */
#ifndef LANYARD_OCSP_H
#define LANYARD_OCSP_H

#include <stddef.h>
#include <time.h>

#include "ca/ca.h"

/* Hard limit on a request's size, checked before OpenSSL parses it. */
#define OCSP_REQUEST_MAX	(8 * 1024)

struct ocsp_responder;

/*
 * Creates the responder of ca: loads the current delegated signer of
 * every issuing slot from the store, or issues one (key generated on
 * that CA's token) if there is none or it is within [ocsp]
 * signer_rotate_before of expiry, and registers the pre-signing hook
 * with ca_set_presign(). Fails if no slot has a signer (and the HSM is
 * there); a slot whose signer could not be made is logged and answered
 * tryLater until a later sync makes it. ca must stay open while the
 * responder lives.
 */
int		 ocsp_responder_new(struct ca *, struct ocsp_responder **);
void		 ocsp_responder_free(struct ocsp_responder *);

/* What a response says, for metrics and logs. */
enum ocsp_outcome {
	OCSP_OUT_GOOD,
	OCSP_OUT_REVOKED,
	OCSP_OUT_UNKNOWN,
	OCSP_OUT_MALFORMED,	/* malformedRequest */
	OCSP_OUT_UNAUTHORIZED,	/* an issuer we do not serve */
	OCSP_OUT_TRYLATER,	/* cannot sign now (HSM) */
	OCSP_OUT_INTERNAL,	/* internalError */
	OCSP_OUT_MAX
};

struct ocsp_reply {
	unsigned char	*der;		/* the OCSPResponse; owned */
	size_t		 len;
	enum ocsp_outcome outcome;
	int		 presigned;	/* served from the store */
	/* For RFC 5019 caching headers; 0 when not cacheable (nonce, error). */
	time_t		 this_update;
	time_t		 next_update;
	time_t		 produced_at;
	char		 etag[68];	/* quoted hex SHA-256 of der, or "" */
};

/*
 * Answers one DER request (POST body, or the decoded GET path). Always
 * produces a response to send, with HTTP 200, unless it returns an error
 * (LY_ERR_ALLOC and the like), in which case the caller answers 500.
 * Malformed input gives a malformedRequest response, never an error.
 */
int		 ocsp_respond(struct ocsp_responder *, const unsigned char *req,
		    size_t len, struct ocsp_reply *);
void		 ocsp_reply_clear(struct ocsp_reply *);

/*
 * Re-signs every pre-signed response whose nextUpdate is closer than
 * [ocsp] refresh_before, and rotates the signer when due. *countp (if
 * not NULL) is the number re-signed.
 */
int		 ocsp_refresh(struct ocsp_responder *, size_t *countp);

/*
 * Writes the current response of every certificate of every slot that
 * is not retired (the roots' about CA certificates, if signed) to
 * dir/<base64 of its RFC 5019 request> (ocsp/publish.c), for a static web
 * server. *countp (if not NULL) is the number written.
 */
int		 ocsp_publish(struct ocsp_responder *, struct ca *,
		    const char *dir, size_t *countp);
/* The file name of a request whose base64 ends in '/': a directory index. */
#define OCSP_PUBLISH_INDEX	"_"

/*
 * A responder without a signer (ca opened read-only: ca-server's front)
 * hands what the store cannot answer to fn: the request's DER, checked
 * to be well-formed and about an issuing CA we know, for a process that
 * holds the signer (ca-server's engine) to answer with ocsp_respond(). fn
 * fills reply as ocsp_respond() does; an error from it (the engine is
 * down) is answered tryLater. Set before the responder serves.
 */
typedef int	(*ocsp_remote_fn)(void *arg, const unsigned char *req,
		    size_t len, struct ocsp_reply *reply);
void		 ocsp_responder_set_remote(struct ocsp_responder *,
		    ocsp_remote_fn, void *arg);

/*
 * The root's part (ocsp/root.c). Relying parties that check every link
 * of a chain by OCSP (nginx ssl_ocsp on) ask about the issuing CA
 * certificate too; its issuer is the root, whose key may be offline, so
 * the root signs those responses ahead of time, valid for [root]
 * ocsp_validity (capped at the root's notAfter), and the responder
 * serves them from the store (the CertID's issuer hashes say which CA
 * is asked about) without signing.
 *
 * ocsp_root_presign() signs, with the root key itself (RFC 6960 4.2.2.2:
 * the CA that issued the certificate), a response for every certificate
 * the root issued but its own -- good, or revoked as the root's CRL
 * lists it -- and stores them with an audit entry ("root-ocsp"). With
 * several root slots (generations), each that is not retired signs for
 * the certificates it issued. Needs the root token. *countp (if not
 * NULL) is the number stored, *next_updatep (if not NULL) their
 * (earliest) nextUpdate.
 */
int		 ocsp_root_presign(struct ca *, const char *actor,
		    size_t *countp, time_t *next_updatep);
/*
 * For ca-admin status, without the HSM: the earliest nextUpdate of the
 * root's stored responses (0 when a certificate the root issued has
 * none, or *countp is 0), and how many certificates the root issued but
 * its own.
 */
int		 ocsp_root_next_update(struct ca *, time_t *earliestp,
		    size_t *countp);

/*
 * The root's responses carried to an issuing instance whose root is
 * offline (ocsp/root_import.c). ocsp_root_export() writes each stored
 * response the root signed about a certificate it issued to
 * dir/OCSP_ROOT_DIR/<serial hex>.der (the OCSPResponse DER); *countp (if
 * not NULL) is how many. ocsp_root_import() reads every *.der of dir,
 * refuses the lot (LY_ERR_BAD_INPUT, naming the file) unless each is a
 * successful response about one certificate, signed by this instance's
 * root, good or revoked and current, and stores them as
 * ca_root_ocsp_store() does (audited "root-ocsp"); *countp is the number
 * stored (a response whose certificate is unknown here, or of another
 * status, is skipped and logged).
 */
#define OCSP_ROOT_DIR	"root-ocsp"
int		 ocsp_root_export(struct ca *, const char *dir, size_t *countp);
int		 ocsp_root_import(struct ca *, const char *dir, const char *actor,
		    size_t *countp);

/*
 * The notAfter of the signer that expires first, among the slots that
 * have one (for /healthz and metrics); 0 if one of them has none.
 */
time_t		 ocsp_signer_not_after(const struct ocsp_responder *);

/*
 * The DER of an RFC 5019 GET request (the one door for its bytes) from the raw path after "/ocsp/":
 * percent-decoded, then base64-decoded strictly (ly_b64_decode without
 * LY_B64_WS) into out (max bytes).
 * Returns the byte count or LY_ERR_BAD_INPUT / LY_ERR_TOO_LARGE.
 */
int		 ocsp_get_decode(const char *raw, unsigned char *out,
		    size_t max);

#endif /* LANYARD_OCSP_H */
