/*
 * ca/identity.c — the identity codec: canonical JSON identities, SPIFFE
 * IDs, DNS names and IP addresses, each checked to the letter before it can
 * reach a certificate.
 *
 * Identities come from an admin or from a token, never from a CSR, but the
 * admin's JSON is still untrusted text: it ends up in a URI SAN (an
 * IA5String), in the store's keys and in the audit log.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/util.h"
#include "ca/ca.h"

#define SPIFFE_SCHEME		"spiffe://"
#define DNS_LABEL_MAX		63
#define ROLE_KEY		"role"

/* Whether an untrusted string may go into a message as it is. */
static int
identity_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* ---- JSON -------------------------------------------------------------- */

static const struct conf_field *
identity_field(const struct conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->nfields; i++)
		if (conf->fields[i].name != NULL &&
		    strcmp(conf->fields[i].name, name) == 0)
			return &conf->fields[i];
	return NULL;
}

/*
 * A string value must say something and be printable: no C0 or C1 control
 * characters, no DEL. jansson has already refused invalid UTF-8 and
 * U+0000, so the only two-octet sequences to look at are U+0080..U+009F,
 * encoded C2 80..C2 9F.
 */
static int
identity_string_check(const char *key, const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	if (len == 0)
		return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"%s\" is an "
		    "empty string", key);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && i + 1 < len &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f))
			return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"%s\" "
			    "contains a control character", key);
	}
	return LY_OK;
}

/* Checks one member of the object against the schema. */
static int
identity_member_check(const struct conf *conf, const char *key,
    json_t *v)
{
	const struct conf_field *f;

	if ((f = identity_field(conf, key)) == NULL) {
		char names[256];

		conf_field_names(conf, names, sizeof(names));
		return ly_fail(LY_ERR_BAD_IDENTITY, "identity: unknown key "
		    "\"%.64s\" (keys: %s)", identity_printable(key) ? key :
		    "(not printable)", names);
	}
	if (json_is_string(v)) {
		if ((f->types & CONF_FIELD_STRING) == 0)
			return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"%s\" "
			    "must be an integer", key);
		return identity_string_check(key, json_string_value(v),
		    json_string_length(v));
	}
	if (json_is_integer(v)) {
		if ((f->types & CONF_FIELD_INTEGER) == 0)
			return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"%s\" "
			    "must be a string", key);
		return LY_OK;
	}
	return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"%s\" is %s; only "
	    "strings and integers are allowed", key,
	    json_is_real(v) ? "a real number" :
	    json_is_boolean(v) ? "a boolean" :
	    json_is_null(v) ? "null" :
	    json_is_array(v) ? "an array" : "an object");
}

/*
 * "role" is not the holder's to choose: with a profile role it is forced
 * (a different one is refused), without one it may not appear at all.
 */
static int
identity_role(json_t *obj, const char *role)
{
	json_t *v;

	v = json_object_get(obj, ROLE_KEY);
	if (role == NULL) {
		if (v != NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"role\" "
			    "is set by the profile and this profile has none");
		return LY_OK;
	}
	if (v != NULL && (!json_is_string(v) ||
	    strcmp(json_string_value(v), role) != 0))
		return ly_fail(LY_ERR_BAD_IDENTITY, "identity: \"role\" must "
		    "be \"%s\" for this profile", role);
	if (json_object_set_new(obj, ROLE_KEY, json_string(role)) != 0)
		return ly_fail(LY_ERR_ALLOC, "identity: cannot set role");
	return LY_OK;
}

static int
identity_schema_check(const struct conf *conf, json_t *obj)
{
	const char *key;
	json_t *v;
	size_t i;
	int r;

	json_object_foreach(obj, key, v) {
		/* identity_role() has checked or set it. */
		if (strcmp(key, ROLE_KEY) == 0)
			continue;
		if ((r = identity_member_check(conf, key, v)) != LY_OK)
			return r;
	}
	for (i = 0; i < conf->nfields; i++)
		if (conf->fields[i].required &&
		    json_object_get(obj, conf->fields[i].name) == NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "identity: "
			    "required key \"%s\" is missing",
			    conf->fields[i].name);
	return LY_OK;
}

int
ca_identity_json_canon(const struct conf *conf, const char *json, size_t len,
    const char *role, char **canonp)
{
	json_error_t err;
	json_t *obj = NULL;
	char *canon = NULL;
	size_t clen;
	int r = LY_ERR_INTERNAL;

	if (json == NULL)
		return ly_fail(LY_ERR_ARG, "identity: no JSON");
	/*
	 * Before parsing: the canonical form can only be shorter than the
	 * input by white space and escapes, so four times the limit is
	 * plenty, and it bounds what jansson allocates.
	 */
	if (len / 4 > conf->identity_max ||
	    (len / 4 == conf->identity_max && len % 4 != 0))
		return ly_fail(LY_ERR_TOO_LARGE, "identity: %zu bytes of JSON "
		    "for an identity of at most %zu", len, conf->identity_max);
	/*
	 * JSON_DECODE_ANY only so that a non-object gets our message; the
	 * EOF check stays on, so trailing bytes are refused; jansson refuses
	 * invalid UTF-8 and, without JSON_ALLOW_NUL, "\u0000".
	 */
	obj = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &err);
	if (obj == NULL) {
		r = ly_fail(LY_ERR_BAD_IDENTITY, "identity: invalid JSON at "
		    "byte %d: %s", err.position, err.text);
		goto out;
	}
	if (!json_is_object(obj)) {
		r = ly_fail(LY_ERR_BAD_IDENTITY, "identity: not a JSON object");
		goto out;
	}
	if (json_object_size(obj) == 0) {
		r = ly_fail(LY_ERR_BAD_IDENTITY, "identity: empty object");
		goto out;
	}
	/* Role first: the schema may list "role" as required. */
	if ((r = identity_role(obj, role)) != LY_OK ||
	    (r = identity_schema_check(conf, obj)) != LY_OK)
		goto out;
	/* ASCII only, so the result is a valid IA5String (RFC 5280 4.2.1.6). */
	canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENSURE_ASCII);
	if (canon == NULL) {
		r = ly_fail(LY_ERR_ALLOC, "identity: cannot encode JSON");
		goto out;
	}
	if ((clen = strlen(canon)) > conf->identity_max) {
		r = ly_fail(LY_ERR_TOO_LARGE, "identity: canonical form of %zu "
		    "bytes is longer than %zu", clen, conf->identity_max);
		goto out;
	}
	*canonp = canon;
	canon = NULL;	/* transferred */
	r = LY_OK;
 out:
	free(canon);
	json_decref(obj);
	return r;
}

/* ---- SPIFFE ------------------------------------------------------------ */

/* Names the character that a SPIFFE ID may not carry, for the message. */
static const char *
spiffe_badchar(char c)
{
	switch (c) {
	case ':':
		return "a port";
	case '@':
		return "user info";
	case '?':
		return "a query";
	case '#':
		return "a fragment";
	case '%':
		return "percent-encoding";
	default:
		return NULL;
	}
}

static int
spiffe_td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-' || c == '_';
}

static int
spiffe_path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int
spiffe_refuse_char(const char *where, char c)
{
	const char *what;

	if ((what = spiffe_badchar(c)) != NULL)
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: %s may not "
		    "carry %s", where, what);
	if (c >= 'A' && c <= 'Z')
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: the trust "
		    "domain must be lower case");
	return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: character 0x%02x is "
	    "not allowed in the %s", (unsigned char)c, where);
}

/* Checks "/seg/seg..." (SPIFFE ID 2.2); an empty path is allowed. */
static int
spiffe_path_check(const char *p)
{
	const char *seg;
	size_t n;

	while (*p == '/') {
		seg = ++p;
		while (*p != '\0' && *p != '/') {
			if (!spiffe_path_char(*p))
				return spiffe_refuse_char("path", *p);
			p++;
		}
		n = (size_t)(p - seg);
		if (n == 0)
			return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: %s",
			    *p == '\0' ? "trailing '/'" : "empty path segment");
		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: path "
			    "segment \"%.*s\" is not allowed", (int)n, seg);
	}
	return LY_OK;
}

int
ca_identity_spiffe_check(const struct conf *conf, const char *id)
{
	const char *td, *p;
	size_t tdlen;

	if (conf->spiffe_trust_domain == NULL)
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE IDs are not "
		    "accepted: ca.conf sets no SPIFFE trust domain");
	if (id == NULL)
		return ly_fail(LY_ERR_ARG, "no SPIFFE ID");
	if (strnlen(id, CA_SPIFFE_MAX + 1) > CA_SPIFFE_MAX)
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID longer than %d "
		    "bytes", CA_SPIFFE_MAX);
	/* The scheme is lower case only (SPIFFE ID 2.1), unlike RFC 3986. */
	if (strncmp(id, SPIFFE_SCHEME, strlen(SPIFFE_SCHEME)) != 0)
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID must begin "
		    "with \"%s\"", SPIFFE_SCHEME);
	td = p = id + strlen(SPIFFE_SCHEME);
	for (; *p != '\0' && *p != '/'; p++)
		if (!spiffe_td_char(*p))
			return spiffe_refuse_char("trust domain", *p);
	if ((tdlen = (size_t)(p - td)) == 0)
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: empty trust "
		    "domain");
	if (strlen(conf->spiffe_trust_domain) != tdlen ||
	    memcmp(td, conf->spiffe_trust_domain, tdlen) != 0)
		return ly_fail(LY_ERR_BAD_IDENTITY, "SPIFFE ID: trust domain "
		    "\"%.*s\" is not \"%s\"", (int)(tdlen > 255 ? 255 : tdlen),
		    td, conf->spiffe_trust_domain);
	return spiffe_path_check(p);
}

/* ---- DNS names and IP addresses ---------------------------------------- */

static int
dns_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* One label of n octets at l, RFC 1123 2.1 and RFC 5891 4.2.3.1. */
static int
dns_label_check(const char *l, size_t n, int *numeric)
{
	size_t i;

	if (n == 0)
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: empty label");
	if (n > DNS_LABEL_MAX)
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: label longer "
		    "than %d octets", DNS_LABEL_MAX);
	*numeric = 1;
	for (i = 0; i < n; i++) {
		if (l[i] == '*')
			return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: '*' is "
			    "only allowed as the whole first label");
		if (l[i] == '_')
			return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: '_' is "
			    "not allowed in a host name");
		if ((unsigned char)l[i] >= 0x80)
			return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: "
			    "non-ASCII; give an IDN as A-labels (xn--)");
		if (!dns_ldh(l[i]))
			return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: "
			    "character 0x%02x is not allowed",
			    (unsigned char)l[i]);
		if (l[i] < '0' || l[i] > '9')
			*numeric = 0;
	}
	if (l[0] == '-' || l[n - 1] == '-')
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: a label may not "
		    "begin or end with '-'");
	/* "??--" is reserved for IDNA; only "xn--" A-labels are defined. */
	if (n >= 4 && l[2] == '-' && l[3] == '-' &&
	    !((l[0] == 'x' || l[0] == 'X') && (l[1] == 'n' || l[1] == 'N')))
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: label \"%.*s\" "
		    "has '--' in positions 3 and 4 (RFC 5891 4.2.3.1)",
		    (int)n, l);
	return LY_OK;
}

int
ca_identity_dns_check(char *name)
{
	const char *p, *dot;
	size_t len, i;
	int numeric = 0, r;

	if (name == NULL || name[0] == '\0')
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name is empty");
	if ((len = strnlen(name, CA_DNS_MAX + 1)) > CA_DNS_MAX)
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name longer than %d "
		    "octets", CA_DNS_MAX);
	if (name[len - 1] == '.')
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: trailing '.' "
		    "is not allowed");
	p = name;
	if (p[0] == '*' && p[1] == '.')
		p += 2;		/* RFC 6125 6.4.3: whole first label only */
	else if (p[0] == '*' && p[1] == '\0')
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: a wildcard "
		    "needs a domain");
	for (;;) {
		dot = strchr(p, '.');
		if ((r = dns_label_check(p, dot != NULL ? (size_t)(dot - p) :
		    strlen(p), &numeric)) != LY_OK)
			return r;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	/* RFC 3696 2: so that "10.0.0.1" is never read as a host name. */
	if (numeric)
		return ly_fail(LY_ERR_BAD_IDENTITY, "DNS name: the last label "
		    "is all digits; an address goes in as an IP");
	/* Only now, so that a refused name is left as it was. */
	for (i = 0; i < len; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	return LY_OK;
}

int
ca_identity_ip_parse(const char *s, unsigned char out[16])
{
	unsigned char b[16];

	if (s == NULL || s[0] == '\0')
		return ly_fail(LY_ERR_BAD_IDENTITY, "IP address is empty");
	if (strnlen(s, INET6_ADDRSTRLEN) >= INET6_ADDRSTRLEN)
		return ly_fail(LY_ERR_BAD_IDENTITY, "IP address too long");
	if (inet_pton(AF_INET, s, b) == 1) {
		memcpy(out, b, 4);
		return 4;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		memcpy(out, b, 16);
		return 16;
	}
	return ly_fail(LY_ERR_BAD_IDENTITY, "\"%s\" is not an IPv4 or IPv6 "
	    "address", identity_printable(s) ? s : "(not printable)");
}

static int
identity_room(const struct ca_identity *id)
{
	if (id->ndns + id->nip >= CA_MAX_NAMES)
		return ly_fail(LY_ERR_TOO_LARGE, "more than %d DNS names and "
		    "IP addresses", CA_MAX_NAMES);
	return LY_OK;
}

int
ca_identity_add_dns(struct ca_identity *id, const char *name)
{
	char *copy = NULL;
	size_t i;
	int r = LY_ERR_INTERNAL;

	if (name == NULL)
		return ly_fail(LY_ERR_ARG, "no DNS name");
	if ((r = identity_room(id)) != LY_OK)
		return r;
	if ((copy = strndup(name, CA_DNS_MAX + 1)) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	if ((r = ca_identity_dns_check(copy)) != LY_OK)
		goto out;
	for (i = 0; i < id->ndns; i++)
		if (strcmp(id->dns[i], copy) == 0) {
			r = ly_fail(LY_ERR_BAD_IDENTITY, "DNS name %s given "
			    "twice", copy);
			goto out;
		}
	id->dns[id->ndns++] = copy;
	copy = NULL;	/* transferred */
	r = LY_OK;
 out:
	free(copy);
	return r;
}

int
ca_identity_add_ip(struct ca_identity *id, const char *s)
{
	unsigned char b[16];
	char text[INET6_ADDRSTRLEN], *copy;
	size_t i;
	int n, r;

	if ((r = identity_room(id)) != LY_OK)
		return r;
	if ((n = ca_identity_ip_parse(s, b)) < 0)
		return n;
	/* The canonical text, so "::0:1" and "::1" are one address. */
	if (inet_ntop(n == 4 ? AF_INET : AF_INET6, b, text,
	    sizeof(text)) == NULL)
		return ly_fail(LY_ERR_INTERNAL, "inet_ntop");
	for (i = 0; i < id->nip; i++)
		if (strcmp(id->ip[i], text) == 0)
			return ly_fail(LY_ERR_BAD_IDENTITY, "IP address %s "
			    "given twice", text);
	if ((copy = strdup(text)) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	id->ip[id->nip++] = copy;
	return LY_OK;
}

void
ca_identity_clear(struct ca_identity *id)
{
	size_t i;

	if (id == NULL)
		return;
	free(id->value);
	for (i = 0; i < id->ndns; i++)
		free(id->dns[i]);
	for (i = 0; i < id->nip; i++)
		free(id->ip[i]);
	memset(id, 0, sizeof(*id));
}

const char *
ca_identity_key(const struct ca_identity *id)
{
	if (id->value != NULL)
		return id->value;
	if (id->ndns > 0)
		return id->dns[0];
	if (id->nip > 0)
		return id->ip[0];
	return NULL;
}
