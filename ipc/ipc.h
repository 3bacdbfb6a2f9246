/*
 * ipc/ipc.h — the messages between ca-server's front and its engine
 * (docs/architecture.md).
 *
 * The front parses HTTP, TLS, JSON, EST and OCSP bytes from the network
 * and holds no PIN and no PKCS#11 session; the engine holds both and
 * does what the front asks only through this short list of requests,
 * each checked again there as if the front were hostile (ipc/engine.c).
 *
 * Wire format, version 1, over a SOCK_STREAM socketpair:
 *
 *	off	len	field
 *	  0	  1	version (IPC_VERSION)
 *	  1	  1	type (enum ipc_type; IPC_REPLY | type for the answer)
 *	  2	  2	zero
 *	  4	  4	request id (big-endian), copied into the answer
 *	  8	  4	body length (big-endian), at most the type's maximum
 *	 12	  .	body: the type's fields in order, each a 4-byte
 *			big-endian length and that many bytes
 *
 * Each type has a fixed number of fields and a maximum size for each
 * (ipc/msg.c); an integer field is exactly 8 bytes (big-endian, two's
 * complement); a text field holds no NUL. ipc_msg_parse() is the one
 * door every message goes through, on both sides: it checks the
 * version, the type and the length before anything else, then every
 * field, and refuses trailing bytes.
 */
#ifndef LANYARD_IPC_H
#define LANYARD_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_VERSION	1
#define IPC_HDR_LEN	12
#define IPC_REPLY	0x80		/* the answer to a type */
#define IPC_FIELDS_MAX	10
#define IPC_BODY_MAX	(256 * 1024)	/* the largest any type allows */
#define IPC_DETAIL_MAX	512		/* an error's detail, truncated */
#define IPC_TOKEN_MAX	256		/* an enrollment token's text */

enum ipc_type {
	IPC_HELLO = 1,		/* () → (r, detail): the engine is ready */
	IPC_ENROLL,		/* (token, csr, actor) → (r, detail, der,
				 *  serial, not_after, CA slot) */
	IPC_REISSUE,		/* (serial, client cert, csr) → as ENROLL */
	IPC_TOKEN_CREATE,	/* (admin serial, admin cert, profile,
				 *  identity, ttl) → (r, detail, token, id) */
	IPC_TOKEN_REVOKE,	/* (admin serial, admin cert, id) → (r, detail) */
	IPC_REVOKE,		/* (admin serial, admin cert, serial, reason)
				 *  → (r, detail) */
	IPC_CRL_PUBLISH,	/* (admin serial, admin cert) → (r, detail) */
	IPC_OCSP_SIGN,		/* (request DER) → (r, detail, response DER,
				 *  outcome, this_update, next_update,
				 *  produced_at, etag) */
	IPC_HEALTH,		/* () → (r, detail): the HSM probe */
	IPC_TLS_ENSURE,		/* () → (r, detail, issued): DIR/tls is usable */
	IPC_STATS,		/* () → (r, detail, 4 HSM counters, 3 lint
				 *  counters): for /metrics */
	IPC_IDENTITY_DISABLE,	/* (admin serial, admin cert, identity key,
				 *  reason) → (r, detail, revoked) */
	IPC_IDENTITY_ENABLE,	/* (admin serial, admin cert, identity key)
				 *  → (r, detail) */
	IPC_ISSUER_ROLLOVER,	/* (admin serial, admin cert, issuer, at)
				 *  → (r, detail, new CA's name) */
	IPC_TYPES		/* one past the last */
};

/* One field of a parsed message: NUL-terminated, borrowed from the msg. */
struct ipc_field {
	const unsigned char	*p;
	size_t			 len;
};

/*
 * A parsed message. Its fields point into buf (owned, freed by
 * ipc_msg_clear(), which zeroes the struct; clearing a zeroed one is a
 * no-op) and are valid until then.
 */
struct ipc_msg {
	uint8_t			 type;
	uint32_t		 id;
	size_t			 nfields;
	struct ipc_field	 f[IPC_FIELDS_MAX];
	unsigned char		*buf;
};

/*
 * Checks a message header: version, a known type (request or reply),
 * zero padding, a body length within the type's maximum. *typep, *idp
 * and *bodylenp are set on success. LY_ERR_BAD_INPUT or
 * LY_ERR_TOO_LARGE with the reason.
 */
int		 ipc_hdr_parse(const unsigned char hdr[IPC_HDR_LEN],
		    uint8_t *typep, uint32_t *idp, size_t *bodylenp);
/*
 * Parses one whole message (header and body, len bytes) into *msg:
 * ipc_hdr_parse(), the body length equal to what is left, exactly the
 * type's number of fields, each within its maximum (integers exactly 8
 * bytes, text without NUL), no trailing bytes. On failure *msg is
 * zeroed; LY_ERR_BAD_INPUT / LY_ERR_TOO_LARGE / LY_ERR_ALLOC.
 */
int		 ipc_msg_parse(const unsigned char *, size_t len,
		    struct ipc_msg *msg);
void		 ipc_msg_clear(struct ipc_msg *);

/* The value of an integer field (parsed: exactly 8 bytes). */
int64_t		 ipc_field_i64(const struct ipc_field *);
/* The text of a text or blob field, NUL-terminated (borrowed). */
const char	*ipc_field_str(const struct ipc_field *);

/*
 * Encodes a message of type with id and the n fields in f (each checked
 * against the type's rules as ipc_msg_parse() would) into *bufp
 * (caller frees) of *lenp bytes. LY_ERR_ARG for a message the other
 * side would refuse.
 */
int		 ipc_msg_encode(uint8_t type, uint32_t id,
		    const struct ipc_field *f, size_t n, unsigned char **bufp,
		    size_t *lenp);
/*
 * Encodes the answer to a request of type (without IPC_REPLY) with id:
 * r and detail (truncated to IPC_DETAIL_MAX - 1 bytes), then, when r is
 * LY_OK, the n fields of extra the answer's shape has after those two;
 * for an error, the shape's fields empty (integers 0).
 */
int		 ipc_reply_encode(uint8_t type, uint32_t id, int r,
		    const char *detail, const struct ipc_field *extra,
		    size_t n, unsigned char **bufp, size_t *lenp);
/* An integer field's 8 bytes, for ipc_msg_encode(). */
void		 ipc_i64_put(unsigned char out[8], int64_t v);

/*
 * Reads one message from fd (blocking) through ipc_msg_parse(); the
 * header is checked before the body is read. LY_ERR_NOT_FOUND at a clean
 * end of stream, LY_ERR_IO on a read error, or the parse errors. When
 * the header passed and the body did not, msg->type and msg->id (only)
 * are set: the stream is still in step and the refusal can be answered;
 * otherwise msg->type is 0 and the stream must be closed.
 */
int		 ipc_read(int fd, struct ipc_msg *msg);
/* Writes len bytes to fd, whole. LY_ERR_IO on failure (EPIPE included). */
int		 ipc_write(int fd, const unsigned char *, size_t len);

/*
 * ca-server's supervisor hands each process its end of a new front/engine
 * socketpair over a control socket (SCM_RIGHTS, ipc/fd.c): one byte
 * IPC_CTL_FD with the descriptor. The children write IPC_CTL_READY once
 * on their control socket when they serve.
 */
#define IPC_CTL_FD	'F'
#define IPC_CTL_READY	'R'
/* Sends fd over the control socket ctl (the caller still owns fd). */
int		 ipc_fd_send(int ctl, int fd);
/*
 * Receives one descriptor from ctl (blocking): *fdp. LY_ERR_NOT_FOUND at
 * the end of stream (the supervisor is gone), LY_ERR_IO otherwise.
 */
int		 ipc_fd_recv(int ctl, int *fdp);

/* The name of a type for logs and the audit log ("enroll"); "?" if none. */
const char	*ipc_type_name(unsigned int type);

#endif /* LANYARD_IPC_H */
