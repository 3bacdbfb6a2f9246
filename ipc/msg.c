/*
 * ipc/msg.c — the message table, the one parser and the encoder of the
 * front/engine protocol (the format is in ipc/ipc.h).
 *
 * The table says, for every type and its reply, how many fields there
 * are and how large each may be. The parser checks the header (version,
 * type, length) before it looks at a byte of the body, then walks the
 * fields against the table, so that neither side ever holds a message
 * of a shape the other did not mean to send.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "util/util.h"

enum ipc_kind {
	K_BLOB,		/* bytes */
	K_TEXT,		/* bytes without NUL */
	K_I64,		/* exactly 8 bytes */
	K_SERIAL,	/* exactly 20 bytes (CA_SERIAL_LEN) */
};

struct ipc_spec {
	enum ipc_kind	 kind;
	size_t		 max;
};

struct ipc_shape {
	const char		*name;
	size_t			 n;
	struct ipc_spec		 f[IPC_FIELDS_MAX];
};

/* Sizes: a CSR as ca/ takes it, a certificate, an OCSP request. */
#define S_CSR		(64 * 1024)
#define S_CERT		(16 * 1024)
#define S_TOKEN		IPC_TOKEN_MAX
#define S_ACTOR		256
#define S_NAME		64
#define S_IDENTITY	8192
#define S_OCSP_REQ	(8 * 1024)
#define S_OCSP_RESP	(128 * 1024)
#define S_ETAG		67	/* struct ocsp_reply.etag holds 67 + NUL */

#define F_SERIAL	{ K_SERIAL, 20 }
#define F_I64		{ K_I64, 8 }
#define F_R		F_I64, { K_TEXT, IPC_DETAIL_MAX }	/* r, detail */

static const struct ipc_shape requests[IPC_TYPES] = {
	[IPC_HELLO] = { "hello", 0, { { 0, 0 } } },
	[IPC_ENROLL] = { "enroll", 3, { { K_TEXT, S_TOKEN },
	    { K_BLOB, S_CSR }, { K_TEXT, S_ACTOR } } },
	[IPC_REISSUE] = { "reissue", 3, { F_SERIAL, { K_BLOB, S_CERT },
	    { K_BLOB, S_CSR } } },
	[IPC_TOKEN_CREATE] = { "token-create", 5, { F_SERIAL,
	    { K_BLOB, S_CERT }, { K_TEXT, S_NAME }, { K_TEXT, S_IDENTITY },
	    F_I64 } },
	[IPC_TOKEN_REVOKE] = { "token-revoke", 3, { F_SERIAL,
	    { K_BLOB, S_CERT }, { K_TEXT, S_NAME } } },
	[IPC_REVOKE] = { "revoke", 4, { F_SERIAL, { K_BLOB, S_CERT },
	    F_SERIAL, F_I64 } },
	[IPC_CRL_PUBLISH] = { "crl-publish", 2, { F_SERIAL,
	    { K_BLOB, S_CERT } } },
	[IPC_OCSP_SIGN] = { "ocsp-sign", 1, { { K_BLOB, S_OCSP_REQ } } },
	[IPC_HEALTH] = { "health", 0, { { 0, 0 } } },
	[IPC_TLS_ENSURE] = { "tls-ensure", 0, { { 0, 0 } } },
	[IPC_STATS] = { "stats", 0, { { 0, 0 } } },
	[IPC_IDENTITY_DISABLE] = { "identity-disable", 4, { F_SERIAL,
	    { K_BLOB, S_CERT }, { K_TEXT, S_IDENTITY }, F_I64 } },
	[IPC_IDENTITY_ENABLE] = { "identity-enable", 3, { F_SERIAL,
	    { K_BLOB, S_CERT }, { K_TEXT, S_IDENTITY } } },
	[IPC_ISSUER_ROLLOVER] = { "issuer-rollover", 4, { F_SERIAL,
	    { K_BLOB, S_CERT }, { K_TEXT, S_NAME }, F_I64 } },
};

/* An answer's serial may be empty (an error): K_BLOB of at most 20. */
static const struct ipc_shape replies[IPC_TYPES] = {
	[IPC_HELLO] = { "hello", 2, { F_R } },
	[IPC_ENROLL] = { "enroll", 6, { F_R, { K_BLOB, S_CERT },
	    { K_BLOB, 20 }, F_I64, F_I64 } },
	[IPC_REISSUE] = { "reissue", 6, { F_R, { K_BLOB, S_CERT },
	    { K_BLOB, 20 }, F_I64, F_I64 } },
	[IPC_TOKEN_CREATE] = { "token-create", 4, { F_R,
	    { K_TEXT, S_TOKEN }, { K_TEXT, S_NAME } } },
	[IPC_TOKEN_REVOKE] = { "token-revoke", 2, { F_R } },
	[IPC_REVOKE] = { "revoke", 2, { F_R } },
	[IPC_CRL_PUBLISH] = { "crl-publish", 2, { F_R } },
	[IPC_OCSP_SIGN] = { "ocsp-sign", 8, { F_R, { K_BLOB, S_OCSP_RESP },
	    F_I64, F_I64, F_I64, F_I64, { K_TEXT, S_ETAG } } },
	[IPC_HEALTH] = { "health", 2, { F_R } },
	[IPC_TLS_ENSURE] = { "tls-ensure", 3, { F_R, F_I64 } },
	[IPC_STATS] = { "stats", 9, { F_R, F_I64, F_I64, F_I64, F_I64, F_I64,
	    F_I64, F_I64 } },
	[IPC_IDENTITY_DISABLE] = { "identity-disable", 3, { F_R, F_I64 } },
	[IPC_IDENTITY_ENABLE] = { "identity-enable", 2, { F_R } },
	[IPC_ISSUER_ROLLOVER] = { "issuer-rollover", 3, { F_R,
	    { K_TEXT, S_NAME } } },
};

static const struct ipc_shape *
shape_of(unsigned int type)
{
	unsigned int t = type & ~(unsigned int)IPC_REPLY;

	if (t == 0 || t >= IPC_TYPES || (type & 0xff) != type)
		return NULL;
	return (type & IPC_REPLY) ? &replies[t] : &requests[t];
}

/* The largest body a shape allows. */
static size_t
shape_max(const struct ipc_shape *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		n += 4 + s->f[i].max;
	return n;
}

const char *
ipc_type_name(unsigned int type)
{
	const struct ipc_shape *s = shape_of(type);

	return s != NULL ? s->name : "?";
}

static uint32_t
be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
ipc_i64_put(unsigned char out[8], int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)u;
		u >>= 8;
	}
}

int64_t
ipc_field_i64(const struct ipc_field *f)
{
	uint64_t u = 0;
	size_t i;

	for (i = 0; i < 8 && i < f->len; i++)
		u = u << 8 | f->p[i];
	return (int64_t)u;
}

const char *
ipc_field_str(const struct ipc_field *f)
{
	return (const char *)f->p;
}

int
ipc_hdr_parse(const unsigned char hdr[IPC_HDR_LEN], uint8_t *typep,
    uint32_t *idp, size_t *bodylenp)
{
	const struct ipc_shape *s;
	size_t len;

	if (hdr[0] != IPC_VERSION)
		return ly_fail(LY_ERR_BAD_INPUT, "ipc: version %u, not %u",
		    hdr[0], IPC_VERSION);
	if ((s = shape_of(hdr[1])) == NULL)
		return ly_fail(LY_ERR_BAD_INPUT, "ipc: unknown type %u", hdr[1]);
	if (hdr[2] != 0 || hdr[3] != 0)
		return ly_fail(LY_ERR_BAD_INPUT, "ipc: padding not zero");
	len = be32_get(hdr + 8);
	if (len > shape_max(s) || len > IPC_BODY_MAX)
		return ly_fail(LY_ERR_TOO_LARGE, "ipc: %s body of %zu bytes, "
		    "over %zu", s->name, len, shape_max(s));
	*typep = hdr[1];
	*idp = be32_get(hdr + 4);
	*bodylenp = len;
	return LY_OK;
}

/* Whether a field of len bytes at p fits spec. */
static int
field_ok(const struct ipc_spec *spec, const unsigned char *p, size_t len)
{
	switch (spec->kind) {
	case K_I64:
		return len == 8;
	case K_SERIAL:
		return len == 20;
	case K_TEXT:
		return len <= spec->max && memchr(p, '\0', len) == NULL;
	case K_BLOB:
	default:
		return len <= spec->max;
	}
}

int
ipc_msg_parse(const unsigned char *buf, size_t len, struct ipc_msg *msg)
{
	const struct ipc_shape *s;
	const unsigned char *p, *end;
	unsigned char *out;
	size_t bodylen, flen, i;
	uint32_t id;
	uint8_t type;
	int r;

	memset(msg, 0, sizeof(*msg));
	if (buf == NULL || len < IPC_HDR_LEN)
		return ly_fail(LY_ERR_BAD_INPUT, "ipc: short message");
	if ((r = ipc_hdr_parse(buf, &type, &id, &bodylen)) != LY_OK)
		return r;
	if (bodylen != len - IPC_HDR_LEN)
		return ly_fail(LY_ERR_BAD_INPUT, "ipc: body of %zu bytes, the "
		    "header says %zu", len - IPC_HDR_LEN, bodylen);
	s = shape_of(type);
	/* Each field gets a NUL after it: at most n more bytes. */
	if ((msg->buf = malloc(bodylen + s->n + 1)) == NULL)
		return LY_ERR_ALLOC;
	p = buf + IPC_HDR_LEN;
	end = p + bodylen;
	out = msg->buf;
	for (i = 0; i < s->n; i++) {
		if ((size_t)(end - p) < 4) {
			r = ly_fail(LY_ERR_BAD_INPUT, "ipc: %s: field %zu "
			    "missing", s->name, i);
			goto out;
		}
		flen = be32_get(p);
		p += 4;
		if (flen > (size_t)(end - p) || !field_ok(&s->f[i], p, flen)) {
			r = ly_fail(LY_ERR_BAD_INPUT, "ipc: %s: field %zu of "
			    "%zu bytes refused", s->name, i, flen);
			goto out;
		}
		memcpy(out, p, flen);
		out[flen] = '\0';
		msg->f[i].p = out;
		msg->f[i].len = flen;
		out += flen + 1;
		p += flen;
	}
	if (p != end) {
		r = ly_fail(LY_ERR_BAD_INPUT, "ipc: %s: %zu bytes trailing",
		    s->name, (size_t)(end - p));
		goto out;
	}
	msg->type = type;
	msg->id = id;
	msg->nfields = s->n;
	r = LY_OK;
 out:
	if (r != LY_OK)
		ipc_msg_clear(msg);
	return r;
}

void
ipc_msg_clear(struct ipc_msg *msg)
{
	if (msg == NULL)
		return;
	free(msg->buf);
	memset(msg, 0, sizeof(*msg));
}

int
ipc_msg_encode(uint8_t type, uint32_t id, const struct ipc_field *f,
    size_t n, unsigned char **bufp, size_t *lenp)
{
	const struct ipc_shape *s;
	unsigned char *buf, *p;
	size_t i, len = 0;

	if ((s = shape_of(type)) == NULL || n != s->n)
		return ly_fail(LY_ERR_ARG, "ipc: cannot encode type %u with "
		    "%zu fields", type, n);
	for (i = 0; i < n; i++) {
		if ((f[i].p == NULL && f[i].len != 0) ||
		    !field_ok(&s->f[i], f[i].p, f[i].len))
			return ly_fail(LY_ERR_ARG, "ipc: %s: field %zu of %zu "
			    "bytes does not fit", s->name, i, f[i].len);
		len += 4 + f[i].len;
	}
	if ((buf = malloc(IPC_HDR_LEN + len)) == NULL)
		return LY_ERR_ALLOC;
	buf[0] = IPC_VERSION;
	buf[1] = type;
	buf[2] = buf[3] = 0;
	be32_put(buf + 4, id);
	be32_put(buf + 8, (uint32_t)len);
	p = buf + IPC_HDR_LEN;
	for (i = 0; i < n; i++) {
		be32_put(p, (uint32_t)f[i].len);
		if (f[i].len > 0)
			memcpy(p + 4, f[i].p, f[i].len);
		p += 4 + f[i].len;
	}
	*bufp = buf;
	*lenp = IPC_HDR_LEN + len;
	return LY_OK;
}

int
ipc_reply_encode(uint8_t type, uint32_t id, int r, const char *detail,
    const struct ipc_field *extra, size_t n, unsigned char **bufp,
    size_t *lenp)
{
	static const unsigned char zero[8];
	const struct ipc_shape *s;
	struct ipc_field f[IPC_FIELDS_MAX];
	unsigned char rb[8];
	size_t i, dlen;

	if ((s = shape_of(IPC_REPLY | type)) == NULL || s->n < 2 ||
	    (r == LY_OK && n != s->n - 2))
		return ly_fail(LY_ERR_ARG, "ipc: cannot answer type %u", type);
	ipc_i64_put(rb, r);
	if (detail == NULL)
		detail = "";
	/* Truncated at a byte: the front shows it as it is. */
	if ((dlen = strlen(detail)) >= IPC_DETAIL_MAX)
		dlen = IPC_DETAIL_MAX - 1;
	f[0].p = rb;
	f[0].len = 8;
	f[1].p = (const unsigned char *)detail;
	f[1].len = dlen;
	for (i = 2; i < s->n; i++) {
		if (r == LY_OK)
			f[i] = extra[i - 2];
		else {
			/* An error carries the shape's empty fields. */
			f[i].p = zero;
			f[i].len = s->f[i].kind == K_I64 ? 8 : 0;
		}
	}
	return ipc_msg_encode(IPC_REPLY | type, id, f, s->n, bufp, lenp);
}

/* Reads exactly len bytes; 0 bytes at the start is a clean end. */
static int
read_full(int fd, unsigned char *buf, size_t len, int first)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, buf + got, len - got)) == -1) {
			if (errno == EINTR)
				continue;
			return ly_fail(LY_ERR_IO, "ipc: read: %s",
			    strerror(errno));
		}
		if (n == 0)
			return first && got == 0 ? ly_fail(LY_ERR_NOT_FOUND,
			    "ipc: end of stream") : ly_fail(LY_ERR_IO,
			    "ipc: stream ends inside a message");
		got += (size_t)n;
	}
	return LY_OK;
}

int
ipc_read(int fd, struct ipc_msg *msg)
{
	unsigned char hdr[IPC_HDR_LEN], *buf = NULL;
	size_t bodylen;
	uint32_t id;
	uint8_t type;
	int r;

	memset(msg, 0, sizeof(*msg));
	if ((r = read_full(fd, hdr, sizeof(hdr), 1)) != LY_OK)
		return r;
	/* Length and type first: the body is not read for a bad header. */
	if ((r = ipc_hdr_parse(hdr, &type, &id, &bodylen)) != LY_OK)
		return r;
	if ((buf = malloc(IPC_HDR_LEN + bodylen)) == NULL)
		return LY_ERR_ALLOC;
	memcpy(buf, hdr, IPC_HDR_LEN);
	if ((r = read_full(fd, buf + IPC_HDR_LEN, bodylen, 0)) == LY_OK &&
	    (r = ipc_msg_parse(buf, IPC_HDR_LEN + bodylen, msg)) != LY_OK &&
	    r != LY_ERR_ALLOC) {
		/* The stream is in step: say which request was refused. */
		msg->type = type;
		msg->id = id;
	}
	free(buf);
	return r;
}

int
ipc_write(int fd, const unsigned char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if ((n = write(fd, buf + done, len - done)) == -1) {
			if (errno == EINTR)
				continue;
			return ly_fail(LY_ERR_IO, "ipc: write: %s",
			    strerror(errno));
		}
		done += (size_t)n;
	}
	return LY_OK;
}
