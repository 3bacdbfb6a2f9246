/*
 * web/framing.c — the request head as RFC 9112 wants it, checked before
 * any handler sees the request.
 *
 * What libmicrohttpd 0.9.75 does (read in its connection.c and tried with
 * raw requests): with both Content-Length and Transfer-Encoding it takes
 * the Transfer-Encoding; with two Content-Lengths it takes the first; a
 * Transfer-Encoding other than "chunked" makes it read the body until the
 * connection closes; it passes field names that are not tokens ("X(A)",
 * "X A") and values with a bare CR on; and it stores a value up to its
 * first NUL, so "Authorization: Basic <b64>\0junk" reaches us as a clean
 * "Basic <b64>" (a NUL in the request target cuts the path or a query
 * argument alike). Each of these is a request whose framing or meaning
 * two parsers may read differently (request smuggling, RFC 9112 11.2):
 * refused here with 400 and the connection closed (RFC 9112 6.1, 6.3).
 * MHD_OPTION_STRICT_FOR_CLIENT = 1 (server.c) makes MHD itself refuse an
 * HTTP/1.1 request without Host and a URI with a space.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "web/extern.h"

/* What one pass over the header fields found. */
struct framing {
	const char	*region;	/* the raw head, as MHD keeps it */
	size_t		 regionlen;
	unsigned int	 ncl, nte;
	const char	*cl;		/* the first Content-Length */
	size_t		 cllen;
	const char	*te;
	const char	*why;		/* the first fault, or NULL */
	/* The fields' name and value pointers, to find where lines end. */
	const char	*keys[WEB_FRAMING_FIELDS_MAX];
	const char	*vals[WEB_FRAMING_FIELDS_MAX];
	size_t		 vlens[WEB_FRAMING_FIELDS_MAX];
	unsigned int	 n;
};

/* RFC 9110 5.6.2: tchar. */
static int
is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

const char *
web_field_check(const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	size_t i;
	unsigned char ch;

	if (namelen == 0 || strlen(name) != namelen)
		return "a field name that is empty or holds a NUL";
	for (i = 0; i < namelen; i++)
		if (!is_tchar((unsigned char)name[i]))
			return "a field name that is not a token";
	/* MHD 0.9.76 and later give the length past a NUL; 0.9.75 does not. */
	if (strlen(value) != valuelen)
		return "a NUL in a field value";
	/* RFC 9110 5.5: VCHAR, obs-text, SP and HTAB; no CR, LF or NUL. */
	for (i = 0; i < valuelen; i++) {
		ch = (unsigned char)value[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return "a control character in a field value";
	}
	return NULL;
}

static int
is_region(const struct framing *f, const char *p)
{
	uintptr_t a = (uintptr_t)f->region, x = (uintptr_t)p;

	return x >= a && x < a + f->regionlen;
}

static enum MHD_Result
field_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t keylen,
    const char *value, size_t valuelen)
{
	struct framing *f = cls;
	const char *why;

	(void)kind;
	if (value == NULL)
		value = "";
	if ((why = web_field_check(key, keylen, value, valuelen)) != NULL) {
		f->why = why;
		return MHD_NO;
	}
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (f->ncl++ == 0) {
			f->cl = value;
			f->cllen = valuelen;
		} else if (valuelen != f->cllen ||
		    memcmp(value, f->cl, valuelen) != 0) {
			f->why = "two different Content-Length fields";
			return MHD_NO;
		}
	}
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->nte++;
		f->te = value;
	}
	if (f->n < WEB_FRAMING_FIELDS_MAX) {
		f->keys[f->n] = key;
		f->vals[f->n] = value;
		f->vlens[f->n] = valuelen;
		f->n++;
	}
	return MHD_YES;
}

/*
 * XXX MHD 0.9.75 stores a field value up to its first NUL (strlen) and
 * gives no length past it, but it parses the head in place: each line
 * ends in its read buffer with the CR LF (or LF) it overwrote with NULs,
 * up to the next line. So after a value, up to where the next field's
 * name begins (or the head ends), only those NULs may follow: any other
 * byte was sent after a NUL. A NUL right before a bare LF looks like a
 * CR LF and passes: the value is then exactly what preceded it. Only the
 * head's bytes, [method, method + header size) as MHD reports them, are
 * read. Later versions of MHD refuse a NUL themselves.
 */
static const char *
nul_check(struct framing *f)
{
	const char *end, *p;
	unsigned int i, j;
	size_t room;

	for (i = 0; i < f->n; i++) {
		if (!is_region(f, f->vals[i]))
			continue;
		end = f->region + f->regionlen;
		for (j = 0; j < f->n; j++)
			if (is_region(f, f->keys[j]) && f->keys[j] > f->vals[i] &&
			    f->keys[j] < end)
				end = f->keys[j];
		p = f->vals[i] + f->vlens[i];
		/* CR LF; and CR LF of the empty line after the last field. */
		room = end == f->region + f->regionlen ? 4 : 2;
		if (p > end || (size_t)(end - p) > room)
			return "a NUL in a field value, or a folded line";
		for (; p < end; p++)
			if (*p != '\0')
				return "a NUL in a field value, or a folded line";
	}
	return NULL;
}

/* Whether the last coding of a Transfer-Encoding list is chunked. */
static int
chunked_last(const char *te)
{
	const char *p = strrchr(te, ',');
	size_t n;

	p = p != NULL ? p + 1 : te;
	p += strspn(p, " \t");
	n = strcspn(p, " \t;");
	return n == 7 && strncasecmp(p, "chunked", 7) == 0 &&
	    p[n + strspn(p + n, " \t")] == '\0';
}

/* The query arguments, in the order MHD parsed them. */
struct args {
	const char	*end[WEB_FRAMING_FIELDS_MAX];	/* after key or value */
	const char	*key[WEB_FRAMING_FIELDS_MAX];
	unsigned int	 n;
};

static enum MHD_Result
arg_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t keylen,
    const char *value, size_t valuelen)
{
	struct args *a = cls;

	(void)kind;
	if (a->n >= WEB_FRAMING_FIELDS_MAX)
		return MHD_NO;
	a->key[a->n] = key;
	a->end[a->n] = value != NULL ? value + valuelen : key + keylen;
	a->n++;
	return MHD_YES;
}

/*
 * XXX As nul_check(), for the request target of MHD 0.9.75, parsed in
 * place too: the path up to its first NUL, then '?' and each '&', '='
 * and the space before the version overwritten with NULs. Where a part
 * ends, the next must begin one byte later (two before the version: a
 * trailing '&'); a NUL the client sent leaves bytes between.
 */
static const char *
target_nul_check(struct framing *f, struct MHD_Connection *c,
    const char *url, const char *version)
{
	static const char why[] = "a NUL in the request target";
	struct args a;
	const char *p, *uend;
	unsigned int i;

	if (!is_region(f, url) || !is_region(f, version) || version <= url)
		return NULL;
	uend = version - 1;		/* the space before the version */
	memset(&a, 0, sizeof(a));
	if (MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, arg_cb,
	    &a) < 0 || a.n >= WEB_FRAMING_FIELDS_MAX)
		return "too many query arguments";
	p = url + strlen(url);
	if (a.n == 0)
		return p == uend || p + 1 == uend ? NULL : why;
	if (a.key[0] != p + 1)
		return why;
	for (i = 0; i < a.n; i++) {
		if (!is_region(f, a.key[i]))
			return why;
		/* end[i] is the '&' (or the space) MHD overwrote. */
		if (i + 1 < a.n ? a.end[i] + 1 != a.key[i + 1] :
		    a.end[i] != uend && a.end[i] + 1 != uend)
			return why;
	}
	return NULL;
}

/* RFC 9112 3.2: no control character in the request target. */
static const char *
target_check(const char *url)
{
	for (; *url != '\0'; url++)
		if ((unsigned char)*url <= 0x20 || (unsigned char)*url == 0x7f)
			return "a control character or space in the request "
			    "target";
	return NULL;
}

int
web_framing_check(struct MHD_Connection *c, const char *method,
    const char *url, const char *version, unsigned int *statusp,
    const char **whyp)
{
	const union MHD_ConnectionInfo *ci;
	struct framing f;

	memset(&f, 0, sizeof(f));
	*statusp = MHD_HTTP_BAD_REQUEST;
	ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (ci != NULL) {
		f.region = method;
		f.regionlen = ci->header_size;
	}
	(void)MHD_get_connection_values_n(c, MHD_HEADER_KIND, field_cb, &f);
	if (f.why == NULL && f.n >= WEB_FRAMING_FIELDS_MAX) {
		f.why = "too many header fields";
		*statusp = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
	}
	if (f.why == NULL)
		f.why = target_check(url);
#if MHD_VERSION <= 0x00097500
	if (f.why == NULL && f.region != NULL)
		f.why = nul_check(&f);
	if (f.why == NULL && f.region != NULL)
		f.why = target_nul_check(&f, c, url, version);
#endif
	/* RFC 9112 6.1: Content-Length and Transfer-Encoding together. */
	if (f.why == NULL && f.ncl > 0 && f.nte > 0)
		f.why = "both Content-Length and Transfer-Encoding";
	/* RFC 9112 6.3: chunked must be the last coding; MHD knows no other. */
	if (f.why == NULL && f.nte > 1)
		f.why = "more than one Transfer-Encoding field";
	if (f.why == NULL && f.nte == 1 && !chunked_last(f.te))
		f.why = "a Transfer-Encoding whose last coding is not chunked";
	else if (f.why == NULL && f.nte == 1 &&
	    strcasecmp(f.te, "chunked") != 0) {
		f.why = "a transfer coding other than chunked";
		*statusp = MHD_HTTP_NOT_IMPLEMENTED;
	}
	if (f.why == NULL)
		return 0;
	*whyp = f.why;
	return -1;
}
