/*
 * conf/conf.c — ca.conf through libinih into a checked struct conf.
 *
 * Unknown sections and keys are errors: a misspelt "rsa_min_bit" must not
 * silently leave a weaker default in force. The built-in profiles exist
 * before the file is read, so a file may tune one key of one profile.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "conf/conf.h"
#include "util/util.h"

#define CONF_FILE_MAX	(256 * 1024)

struct parse {
	struct conf	*conf;
	const char	*name;
	int		 failed;
	const char	*text;		/* what the reader has not handed out */
	int		 line;		/* of the last line handed out */
};

static const struct {
	const char		*name;
	enum conf_keytype	 kt;
} keytypes[] = {
	{ "ec-p256", CONF_KEY_EC_P256 },
	{ "ec-p384", CONF_KEY_EC_P384 },
	{ "rsa-2048", CONF_KEY_RSA_2048 },
	{ "rsa-3072", CONF_KEY_RSA_3072 },
	{ "rsa-4096", CONF_KEY_RSA_4096 },
};

enum conf_keytype
conf_keytype_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (strcmp(s, keytypes[i].name) == 0)
			return keytypes[i].kt;
	return CONF_KEY_NONE;
}

const char *
conf_keytype_name(enum conf_keytype kt)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
		if (keytypes[i].kt == kt)
			return keytypes[i].name;
	return "none";
}

long
conf_duration_parse(const char *s)
{
	char *end;
	long v, mul = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else
		return -1;
	/* Ten years is past every lifetime Lanyard issues. */
	if (v > 10L * 366 * 86400 / mul)
		return -1;
	return v * mul;
}

static int
set_fail(struct parse *p, int line, const char *section, const char *key,
    const char *why)
{
	if (!p->failed)
		ly_fail(LY_ERR_CONFIG, "%s:%d: [%s] %s: %s", p->name, line,
		    section, key, why);
	p->failed = 1;
	return 0;
}

static int
set_str(char **dst, const char *v)
{
	char *s;

	if ((s = strdup(v)) == NULL)
		return 0;
	free(*dst);
	*dst = s;
	return 1;
}

/* Paths in ca.conf are relative to the instance directory. */
static int
set_path(struct conf *c, char **dst, const char *v)
{
	char *s;

	if ((s = ly_path_join(c->dir, v)) == NULL)
		return 0;
	free(*dst);
	*dst = s;
	return 1;
}

static int
parse_int(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return 0;
	*out = n;
	return 1;
}

unsigned int
conf_threads_auto(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > CONF_THREADS_AUTO_MAX / CONF_THREADS_PER_CORE)
		return CONF_THREADS_AUTO_MAX;
	return (unsigned int)n * CONF_THREADS_PER_CORE;
}

static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		*out = 0;
	else
		return 0;
	return 1;
}

/*
 * Splits a comma separated list in place and calls fn for each trimmed,
 * non-empty item. Returns 0 if fn refused one.
 */
static int
each_item(char *list, int (*fn)(const char *, void *), void *arg)
{
	char *item, *save = NULL, *e;

	for (item = strtok_r(list, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*item))
			item++;
		e = item + strlen(item);
		while (e > item && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*item != '\0' && !fn(item, arg))
			return 0;
	}
	return 1;
}

struct strlist {
	char	**v;
	size_t	 *n;
};

static int
add_str(const char *item, void *arg)
{
	struct strlist *l = arg;

	if (*l->n >= CONF_MAX_LIST)
		return 0;
	if ((l->v[*l->n] = strdup(item)) == NULL)
		return 0;
	(*l->n)++;
	return 1;
}

static int
set_list(char **v, size_t *n, const char *value)
{
	struct strlist l = { v, n };
	char *copy;
	int ok;

	while (*n > 0)
		free(v[--*n]);
	if ((copy = strdup(value)) == NULL)
		return 0;
	ok = each_item(copy, add_str, &l);
	free(copy);
	return ok;
}

static int
add_eku_name(const char *item, void *arg)
{
	unsigned int *eku = arg;

	if (strcmp(item, "client") == 0)
		*eku |= CONF_EKU_CLIENT;
	else if (strcmp(item, "server") == 0)
		*eku |= CONF_EKU_SERVER;
	else if (strcmp(item, "ocsp") == 0)
		*eku |= CONF_EKU_OCSP;
	else
		return 0;
	return 1;
}

static int
add_keytype(const char *item, void *arg)
{
	unsigned int *kt = arg;

	if (strcmp(item, "ec-p256") == 0)
		*kt |= CONF_ALLOW_EC_P256;
	else if (strcmp(item, "ec-p384") == 0)
		*kt |= CONF_ALLOW_EC_P384;
	else if (strcmp(item, "rsa") == 0)
		*kt |= CONF_ALLOW_RSA;
	else if (strcmp(item, "ed25519") == 0)
		*kt |= CONF_ALLOW_ED25519;
	else
		return 0;
	return 1;
}

static int
add_idkind(const char *item, void *arg)
{
	unsigned int *k = arg;

	if (strcmp(item, "json") == 0)
		*k |= 1u << CONF_ID_JSON;
	else if (strcmp(item, "spiffe") == 0)
		*k |= 1u << CONF_ID_SPIFFE;
	else if (strcmp(item, "none") == 0)
		*k |= 1u << CONF_ID_NONE;
	else
		return 0;
	return 1;
}

static int
add_fieldtype(const char *item, void *arg)
{
	struct conf_field *f = arg;

	if (strcmp(item, "string") == 0)
		f->types |= CONF_FIELD_STRING;
	else if (strcmp(item, "integer") == 0)
		f->types |= CONF_FIELD_INTEGER;
	else if (strcmp(item, "required") == 0)
		f->required = 1;
	else
		return 0;
	return 1;
}

/* Applies fn to a private, '|'-and-','-split copy of value. */
static int
parse_flags(const char *value, int (*fn)(const char *, void *), void *arg)
{
	char *copy, *s;
	int ok;

	if ((copy = strdup(value)) == NULL)
		return 0;
	for (s = copy; *s != '\0'; s++)
		if (*s == '|' || *s == ' ')
			*s = ',';
	ok = each_item(copy, fn, arg);
	free(copy);
	return ok;
}

static struct conf_profile *
profile_find(struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

static struct conf_profile *
profile_add(struct conf *c, const char *name)
{
	struct conf_profile *p;

	if (c->nprofiles >= CONF_MAX_PROFILES ||
	    strlen(name) >= CONF_NAME_MAX)
		return NULL;
	p = &c->profiles[c->nprofiles];
	memset(p, 0, sizeof(*p));
	if ((p->name = strdup(name)) == NULL)
		return NULL;
	/* A new profile starts as a client profile. */
	p->days = 30;
	p->max_days = 397;
	p->eku = CONF_EKU_CLIENT;
	p->key_types = CONF_ALLOW_EC_P256 | CONF_ALLOW_EC_P384 |
	    CONF_ALLOW_RSA;
	p->rsa_min_bits = 2048;
	p->rsa_max_bits = 8192;
	p->identities = 1u << CONF_ID_JSON | 1u << CONF_ID_SPIFFE;
	p->encoding = CONF_ENC_URI;
	p->reissue_before = 7 * 86400;
	p->reissue_percent = 0;
	c->nprofiles++;
	return p;
}

static int
defaults(struct conf *c)
{
	struct conf_profile *p;

	c->store_map_size = (size_t)1024 * 1024 * 1024;
	c->tidy_keep = 90;	/* CA_TIDY_KEEP_DAYS of ca/ops.h */
	c->crl_validity = 86400;
	c->crl_root_validity = 30 * 86400;
	c->crl_delta_validity = 3600;
	c->crl_refresh_before = 4 * 3600;
	c->crl_debounce = 2;
	c->crl_shards = 1;
	c->ocsp_validity = 86400;
	c->ocsp_refresh_before = 12 * 3600;
	c->ocsp_nonce_sign = 1;
	c->ocsp_max_requests = 16;
	c->ocsp_signer_days = 7;
	c->ocsp_signer_rotate_before = 2 * 86400;
	c->threads = conf_threads_auto();
	c->max_connections = 1024;
	c->max_connections_per_ip = 64;
	c->connection_timeout = 10;
	c->max_body = 64 * 1024;
	c->max_header = 16 * 1024;
	if ((c->http_listen = strdup("127.0.0.1:8080")) == NULL ||
	    (c->https_listen = strdup("127.0.0.1:8443")) == NULL ||
	    (c->tls_dns = strdup("localhost")) == NULL ||
	    (c->tls_ip = strdup("127.0.0.1")) == NULL ||
	    (c->tls_priority = strdup(CONF_TLS_PRIORITY)) == NULL)
		return 0;
	c->identity_max = 512;
	c->root.days = 3650;
	c->root.ocsp_validity = 180 * 86400;
	c->root.key_type = CONF_KEY_EC_P256;
	c->issuing.days = 1825;
	c->issuing.key_type = CONF_KEY_EC_P256;
	c->issuers[0] = &c->issuing;
	c->nissuers = 1;
	if ((c->root.name = strdup("root")) == NULL ||
	    (c->issuing.name = strdup("issuing")) == NULL ||
	    (c->identity_oid = strdup("1.3.6.1.4.1.32473.1.1")) == NULL ||
	    (c->url_base = strdup("http://127.0.0.1:8080")) == NULL)
		return 0;
	if ((p = profile_add(c, "client")) == NULL)
		return 0;
	if ((p = profile_add(c, "service")) == NULL)
		return 0;
	p->days = 90;
	p->eku = CONF_EKU_SERVER | CONF_EKU_CLIENT;
	p->identities = 1u << CONF_ID_NONE | 1u << CONF_ID_SPIFFE;
	p->require_dns_or_ip = 1;
	p->allow_dns_ip = 1;
	if ((p = profile_add(c, "ocsp")) == NULL)
		return 0;
	p->days = 7;
	p->max_days = 30;
	p->eku = CONF_EKU_OCSP;
	p->identities = 1u << CONF_ID_NONE;
	p->allow_dns_ip = 1;
	p->ocsp_nocheck = 1;
	p->reissue_before = 2 * 86400;
	if ((p = profile_add(c, "admin")) == NULL)
		return 0;
	p->identities = 1u << CONF_ID_JSON;
	if ((p->role = strdup("admin")) == NULL)
		return 0;
	return 1;
}

static int
field_set(struct parse *p, int line, const char *name, const char *value)
{
	struct conf *c = p->conf;
	struct conf_field *f = NULL;
	size_t i;

	if (*name == '\0' || strlen(name) >= CONF_NAME_MAX)
		return set_fail(p, line, "identity", name, "bad field name");
	for (i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i].name, name) == 0)
			f = &c->fields[i];
	if (f == NULL) {
		if (c->nfields >= CONF_MAX_FIELDS)
			return set_fail(p, line, "identity", name,
			    "too many fields");
		f = &c->fields[c->nfields++];
		if ((f->name = strdup(name)) == NULL)
			return set_fail(p, line, "identity", name, "no memory");
	}
	f->types = 0;
	f->required = 0;
	if (!parse_flags(value, add_fieldtype, f) || f->types == 0)
		return set_fail(p, line, "identity", name,
		    "expected string, integer or both, optionally required");
	return 1;
}

static int	set_duration(struct parse *, int, const char *, const char *,
		    const char *, long, long *);

static int
slot_key(struct parse *p, int line, const char *sec, struct conf_ca *ca,
    const char *k, const char *v)
{
	struct conf *c = p->conf;
	long n;

	if (strcmp(k, "key") == 0) {
		if (strncmp(v, "pkcs11:", 7) != 0)
			return set_fail(p, line, sec, k,
			    "expected an RFC 7512 pkcs11: URI");
		return set_str(&ca->key_uri, v);
	}
	if (strcmp(k, "pin_file") == 0)
		return set_path(c, &ca->pin_file, v);
	if (strcmp(k, "pin_env") == 0)
		return set_str(&ca->pin_env, v);
	if (strcmp(k, "subject") == 0) {
		if (v[0] != '/')
			return set_fail(p, line, sec, k,
			    "expected /attr=value/...");
		return set_str(&ca->subject, v);
	}
	if (strcmp(k, "key_type") == 0) {
		if ((ca->key_type = conf_keytype_parse(v)) == CONF_KEY_NONE)
			return set_fail(p, line, sec, k, "unknown key type");
		return 1;
	}
	if (strcmp(k, "rsa_padding") == 0) {
		if (strcmp(v, "pkcs1") == 0)
			ca->rsa_padding = CONF_RSA_PKCS1;
		else if (strcmp(v, "pss") == 0)
			ca->rsa_padding = CONF_RSA_PSS;
		else
			return set_fail(p, line, sec, k, "pkcs1 or pss");
		return 1;
	}
	if (strcmp(k, "days") == 0) {
		if (!parse_int(v, 1, 36600, &n))
			return set_fail(p, line, sec, k, "1 to 36600");
		ca->days = (int)n;
		return 1;
	}
	if (strcmp(k, "cert") == 0)
		return set_path(c, &ca->cert_file, v);
	/* Only the root pre-signs responses about CA certificates. */
	if (strcmp(k, "ocsp_validity") == 0 && ca == &c->root)
		return set_duration(p, line, sec, k, v, 3600,
		    &ca->ocsp_validity);
	if (strcmp(k, "offline") == 0 && ca == &c->root)
		return parse_bool(v, &ca->offline) ||
		    set_fail(p, line, sec, k, "yes or no");
	if (strcmp(k, "renew_before") == 0 && ca == &c->root)
		return set_duration(p, line, sec, k, v, 3600,
		    &ca->renew_before);
	if (strcmp(k, "crl_shards") == 0 && ca != &c->root) {
		if (!parse_int(v, 1, 64, &n))
			return set_fail(p, line, sec, k, "1 to 64");
		ca->crl_shards = (unsigned int)n;
		return 1;
	}
	if (strcmp(k, "rollover_before") == 0 && ca != &c->root) {
		if (strcmp(v, "off") == 0) {
			ca->rollover_before = 0;
			return 1;
		}
		return set_duration(p, line, sec, k, v, 86400,
		    &ca->rollover_before);
	}
	if (strcmp(k, "permitted_dns") == 0)
		return set_list(ca->permitted_dns, &ca->npermitted_dns, v) ||
		    set_fail(p, line, sec, k, "too many names");
	if (strcmp(k, "excluded_dns") == 0)
		return set_list(ca->excluded_dns, &ca->nexcluded_dns, v) ||
		    set_fail(p, line, sec, k, "too many names");
	if (strcmp(k, "permitted_ip") == 0)
		return set_list(ca->permitted_ip, &ca->npermitted_ip, v) ||
		    set_fail(p, line, sec, k, "too many ranges");
	return set_fail(p, line, sec, k, "unknown key");
}

static int
profile_key(struct parse *p, int line, const char *sec,
    struct conf_profile *pr, const char *k, const char *v)
{
	long n;

	if (strcmp(k, "days") == 0 || strcmp(k, "max_days") == 0) {
		if (!parse_int(v, 1, 36600, &n))
			return set_fail(p, line, sec, k, "1 to 36600");
		*(k[0] == 'd' ? &pr->days : &pr->max_days) = (int)n;
		return 1;
	}
	if (strcmp(k, "eku") == 0) {
		pr->eku = 0;
		return (parse_flags(v, add_eku_name, &pr->eku) &&
		    pr->eku != 0) ||
		    set_fail(p, line, sec, k, "client, server, ocsp");
	}
	if (strcmp(k, "key_types") == 0) {
		pr->key_types = 0;
		return (parse_flags(v, add_keytype, &pr->key_types) &&
		    pr->key_types != 0) ||
		    set_fail(p, line, sec, k, "ec-p256, ec-p384, rsa, ed25519");
	}
	if (strcmp(k, "rsa_min_bits") == 0 || strcmp(k, "rsa_max_bits") == 0) {
		if (!parse_int(v, 2048, 16384, &n))
			return set_fail(p, line, sec, k, "2048 to 16384");
		*(k[4] == 'm' && k[5] == 'i' ? &pr->rsa_min_bits :
		    &pr->rsa_max_bits) = (int)n;
		return 1;
	}
	if (strcmp(k, "identity") == 0) {
		pr->identities = 0;
		return (parse_flags(v, add_idkind, &pr->identities) &&
		    pr->identities != 0) ||
		    set_fail(p, line, sec, k, "json, spiffe, none");
	}
	if (strcmp(k, "encoding") == 0) {
		if (strcmp(v, "uri") == 0)
			pr->encoding = CONF_ENC_URI;
		else if (strcmp(v, "othername") == 0)
			pr->encoding = CONF_ENC_OTHERNAME;
		else
			return set_fail(p, line, sec, k, "uri or othername");
		return 1;
	}
	if (strcmp(k, "require_dns_or_ip") == 0)
		return parse_bool(v, &pr->require_dns_or_ip) ||
		    set_fail(p, line, sec, k, "yes or no");
	if (strcmp(k, "allow_dns_ip") == 0)
		return parse_bool(v, &pr->allow_dns_ip) ||
		    set_fail(p, line, sec, k, "yes or no");
	if (strcmp(k, "ocsp_nocheck") == 0)
		return parse_bool(v, &pr->ocsp_nocheck) ||
		    set_fail(p, line, sec, k, "yes or no");
	if (strcmp(k, "role") == 0)
		return set_str(&pr->role, v);
	/* Checked against the [issuer] sections once the file is read. */
	if (strcmp(k, "issuer") == 0)
		return set_str(&pr->issuer, v);
	if (strcmp(k, "reissue_threshold") == 0) {
		size_t len = strlen(v);

		if (len > 1 && v[len - 1] == '%') {
			char num[16];

			if (len > sizeof(num))
				return set_fail(p, line, sec, k, "bad share");
			memcpy(num, v, len - 1);
			num[len - 1] = '\0';
			if (!parse_int(num, 1, 100, &n))
				return set_fail(p, line, sec, k,
				    "share of 1% to 100%");
			pr->reissue_percent = (int)n;
			pr->reissue_before = 0;
			return 1;
		}
		if ((n = conf_duration_parse(v)) < 0)
			return set_fail(p, line, sec, k,
			    "a duration (7d, 12h) or a share (33%)");
		pr->reissue_before = n;
		pr->reissue_percent = 0;
		return 1;
	}
	return set_fail(p, line, sec, k, "unknown key");
}

static int
set_duration(struct parse *p, int line, const char *sec, const char *k,
    const char *v, long min, long *out)
{
	long n;

	if ((n = conf_duration_parse(v)) < min)
		return set_fail(p, line, sec, k, "a duration such as 30s, "
		    "10m, 12h or 7d, not too short");
	*out = n;
	return 1;
}

static int
crl_key(struct parse *p, int line, const char *sec, const char *k,
    const char *v)
{
	struct conf *c = p->conf;
	long n;

	if (strcmp(k, "validity") == 0)
		return set_duration(p, line, sec, k, v, 60, &c->crl_validity);
	if (strcmp(k, "root_validity") == 0)
		return set_duration(p, line, sec, k, v, 3600,
		    &c->crl_root_validity);
	if (strcmp(k, "delta_validity") == 0)
		return set_duration(p, line, sec, k, v, 60,
		    &c->crl_delta_validity);
	if (strcmp(k, "refresh_before") == 0)
		return set_duration(p, line, sec, k, v, 1,
		    &c->crl_refresh_before);
	if (strcmp(k, "debounce") == 0)
		return set_duration(p, line, sec, k, v, 0, &c->crl_debounce);
	if (strcmp(k, "shards") == 0) {
		if (!parse_int(v, 1, 64, &n))
			return set_fail(p, line, sec, k, "1 to 64");
		c->crl_shards = (unsigned int)n;
		return 1;
	}
	if (strcmp(k, "bundle_shards") == 0)
		return parse_bool(v, &c->crl_bundle_shards) ||
		    set_fail(p, line, sec, k, "yes or no");
	if (strcmp(k, "on_revoke") == 0) {
		if (strcmp(v, "full") == 0)
			c->crl_on_revoke_delta = 0;
		else if (strcmp(v, "delta") == 0)
			c->crl_on_revoke_delta = 1;
		else
			return set_fail(p, line, sec, k, "full or delta");
		return 1;
	}
	return set_fail(p, line, sec, k, "unknown key");
}

static int
ocsp_key(struct parse *p, int line, const char *sec, const char *k,
    const char *v)
{
	struct conf *c = p->conf;
	long n;

	if (strcmp(k, "validity") == 0)
		return set_duration(p, line, sec, k, v, 60, &c->ocsp_validity);
	if (strcmp(k, "refresh_before") == 0)
		return set_duration(p, line, sec, k, v, 1,
		    &c->ocsp_refresh_before);
	if (strcmp(k, "nonce") == 0) {
		if (strcmp(v, "sign") == 0)
			c->ocsp_nonce_sign = 1;
		else if (strcmp(v, "ignore") == 0)
			c->ocsp_nonce_sign = 0;
		else
			return set_fail(p, line, sec, k, "sign or ignore");
		return 1;
	}
	if (strcmp(k, "max_requests") == 0) {
		if (!parse_int(v, 1, 256, &n))
			return set_fail(p, line, sec, k, "1 to 256");
		c->ocsp_max_requests = (unsigned int)n;
		return 1;
	}
	if (strcmp(k, "signer_days") == 0) {
		if (!parse_int(v, 1, 90, &n))
			return set_fail(p, line, sec, k, "1 to 90");
		c->ocsp_signer_days = (int)n;
		return 1;
	}
	if (strcmp(k, "signer_rotate_before") == 0)
		return set_duration(p, line, sec, k, v, 60,
		    &c->ocsp_signer_rotate_before);
	return set_fail(p, line, sec, k, "unknown key");
}

/* "host:port" with a numeric port; host may be [v6]. */
static int
listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	long port;

	if (colon == NULL || colon == v || !parse_int(colon + 1, 1, 65535,
	    &port))
		return 0;
	return 1;
}

static int
server_key(struct parse *p, int line, const char *sec, const char *k,
    const char *v)
{
	struct conf *c = p->conf;
	long n;

	if (strcmp(k, "http") == 0 || strcmp(k, "https") == 0) {
		/* Revocation data must be served: only HTTPS may be off. */
		if (!listen_ok(v) && (k[4] != 's' || strcmp(v, "off") != 0))
			return set_fail(p, line, sec, k, k[4] == 's' ?
			    "address:port, or off" : "address:port");
		return set_str(k[4] == 's' ? &c->https_listen :
		    &c->http_listen, v);
	}
	if (strcmp(k, "threads") == 0 && strcmp(v, "auto") == 0) {
		c->threads = conf_threads_auto();
		return 1;
	}
	if (strcmp(k, "threads") == 0 || strcmp(k, "max_connections") == 0 ||
	    strcmp(k, "max_connections_per_ip") == 0 ||
	    strcmp(k, "connection_timeout") == 0) {
		if (!parse_int(v, 1, 100000, &n))
			return set_fail(p, line, sec, k, k[0] == 't' ?
			    "1 to 100000, or auto" : "1 to 100000");
		*(k[0] == 't' ? &c->threads : strcmp(k, "max_connections") == 0 ?
		    &c->max_connections : k[0] == 'm' ?
		    &c->max_connections_per_ip : &c->connection_timeout) =
		    (unsigned int)n;
		return 1;
	}
	if (strcmp(k, "user") == 0) {
		/* Looked up by ca-server (getpwnam) when it starts as root. */
		if (v[0] == '\0' || strlen(v) > 32 || strchr(v, '/') != NULL)
			return set_fail(p, line, sec, k, "a user name");
		return set_str(&c->server_user, v);
	}
	if (strcmp(k, "tls_dns") == 0 || strcmp(k, "tls_ip") == 0) {
		/* Names are checked by ca/tls.c with ca/'s identity rules. */
		if (strlen(v) > 4096)
			return set_fail(p, line, sec, k, "a comma list");
		return set_str(k[4] == 'd' ? &c->tls_dns : &c->tls_ip, v);
	}
	if (strcmp(k, "tls_priority") == 0) {
		/* GnuTLS parses it when the listener starts (web/server.c). */
		if (v[0] == '\0' || strlen(v) > 1024)
			return set_fail(p, line, sec, k, "a GnuTLS priority "
			    "string");
		return set_str(&c->tls_priority, v);
	}
	if (strcmp(k, "tls_days") == 0) {
		if (!parse_int(v, 1, 3650, &n))
			return set_fail(p, line, sec, k, "1 to 3650");
		c->tls_days = (int)n;
		return 1;
	}
	if (strcmp(k, "max_body") == 0 || strcmp(k, "max_header") == 0) {
		if (!parse_int(v, 1024, 16 * 1024 * 1024, &n))
			return set_fail(p, line, sec, k, "1024 to 16777216 "
			    "bytes");
		*(k[4] == 'b' ? &c->max_body : &c->max_header) = (size_t)n;
		return 1;
	}
	return set_fail(p, line, sec, k, "unknown key");
}

/*
 * Debian's inih hands no line number to the handler; a reader that counts
 * the lines it hands out gives the messages one.
 */
static char *
reader(char *buf, int size, void *arg)
{
	struct parse *p = arg;
	const char *nl;
	size_t n;

	if (*p->text == '\0')
		return NULL;
	nl = strchr(p->text, '\n');
	n = nl != NULL ? (size_t)(nl - p->text) + 1 : strlen(p->text);
	/* A line longer than inih's buffer is an error, not two lines. */
	if (n >= (size_t)size) {
		p->line++;
		if (!p->failed)
			ly_fail(LY_ERR_CONFIG, "%s:%d: line longer than %d "
			    "characters", p->name, p->line, size - 2);
		p->failed = 1;
		return NULL;
	}
	memcpy(buf, p->text, n);
	buf[n] = '\0';
	p->text += n;
	p->line++;
	return buf;
}

/*
 * The [issuer NAME] section's CA, made on its first key. NAME is the
 * CA's name in URLs and file names, and the first generation's slot name:
 * lower-case letters, digits and '-' (not leading), and never "root",
 * "issuing" nor a name ending in "-delta" or "-<digits>", which CRL file
 * names and later generations ("NAME-2") use.
 */
static struct conf_ca *
issuer_section(struct parse *p, const char *sec, int line, const char *k)
{
	struct conf *c = p->conf;
	struct conf_ca *ic;
	const char *name = sec + 7, *q, *dash;
	size_t i;

	while (*name == ' ')
		name++;
	for (i = 1; i < c->nissuers; i++)
		if (strcmp(c->issuers[i]->name, name) == 0)
			return c->issuers[i];
	for (q = name; *q != '\0'; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
		    (*q == '-' && q != name)))
			break;
	dash = strrchr(name, '-');
	if (*q != '\0' || q == name || q - name > 32 || q[-1] == '-' ||
	    strcmp(name, "root") == 0 || strcmp(name, "issuing") == 0 ||
	    (dash != NULL && (strcmp(dash, "-delta") == 0 ||
	    strspn(dash + 1, "0123456789") == strlen(dash + 1)))) {
		set_fail(p, line, sec, k, "an issuer name is 1 to 32 "
		    "of a-z, 0-9 and '-', not root or issuing, and does not "
		    "end in -delta or -<number>");
		return NULL;
	}
	if (c->nissuers == CONF_MAX_ISSUERS) {
		set_fail(p, line, sec, k, "too many issuers");
		return NULL;
	}
	if ((ic = calloc(1, sizeof(*ic))) == NULL ||
	    (ic->name = strdup(name)) == NULL) {
		free(ic);
		set_fail(p, line, sec, k, "out of memory");
		return NULL;
	}
	ic->days = 1825;
	ic->key_type = CONF_KEY_EC_P256;
	c->issuers[c->nissuers++] = ic;
	return ic;
}

long
conf_issuer_need(const struct conf *c, const char *name)
{
	long need = 0, n;
	size_t i;

	for (i = 0; i < c->nprofiles; i++) {
		const struct conf_profile *p = &c->profiles[i];

		if (p->issuer == NULL || strcmp(p->issuer, name) != 0)
			continue;
		n = (long)p->days * 86400;
		n += p->reissue_percent > 0 ? n / 100 * p->reissue_percent :
		    p->reissue_before;
		if (n > need)
			need = n;
	}
	return need;
}

const struct conf_ca *
conf_issuer(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nissuers; i++)
		if (strcmp(c->issuers[i]->name, name) == 0)
			return c->issuers[i];
	return NULL;
}

static int
handler(void *arg, const char *sec, const char *k, const char *v)
{
	struct parse *p = arg;
	struct conf *c = p->conf;
	struct conf_profile *pr;
	int line = p->line;
	long n;

	if (p->failed)
		return 0;
	if (k == NULL)		/* a section header on its own */
		return 1;
	if (strcmp(sec, "ca") == 0) {
		if (strcmp(k, "organization") == 0)
			return set_str(&c->organization, v);
		if (strcmp(k, "store") == 0)
			return set_path(c, &c->store_dir, v);
		if (strcmp(k, "store_map_mb") == 0) {
			if (!parse_int(v, 1, 1024 * 1024, &n))
				return set_fail(p, line, sec, k,
				    "1 to 1048576");
			c->store_map_size = (size_t)n * 1024 * 1024;
			return 1;
		}
		if (strcmp(k, "publish_dir") == 0)
			return set_path(c, &c->publish_dir, v);
		if (strcmp(k, "tidy_interval") == 0) {
			if (strcmp(v, "off") == 0) {
				c->tidy_interval = 0;
				return 1;
			}
			return set_duration(p, line, sec, k, v, 3600,
			    &c->tidy_interval);
		}
		if (strcmp(k, "tidy_keep") == 0) {
			if (!parse_int(v, 0, 36600, &n))
				return set_fail(p, line, sec, k, "0 to 36600 "
				    "days");
			c->tidy_keep = (int)n;
			return 1;
		}
		return set_fail(p, line, sec, k, "unknown key");
	}
	if (strcmp(sec, "hsm") == 0) {
		if (strcmp(k, "module") == 0)
			return set_str(&c->hsm_module, v);
		if (strcmp(k, "softhsm2_conf") == 0)
			return set_path(c, &c->softhsm2_conf, v);
		if (strcmp(k, "sessions") == 0) {
			if (strcmp(v, "auto") == 0) {
				c->hsm_sessions = 0;
				return 1;
			}
			if (!parse_int(v, 1, 256, &n))
				return set_fail(p, line, sec, k,
				    "1 to 256, or auto");
			c->hsm_sessions = (unsigned int)n;
			return 1;
		}
		return set_fail(p, line, sec, k, "unknown key");
	}
	if (strcmp(sec, "root") == 0)
		return slot_key(p, line, sec, &c->root, k, v);
	if (strcmp(sec, "issuing") == 0)
		return slot_key(p, line, sec, &c->issuing, k, v);
	if (strncmp(sec, "issuer ", 7) == 0) {
		struct conf_ca *ic;

		if ((ic = issuer_section(p, sec, line, k)) == NULL)
			return 0;
		return slot_key(p, line, sec, ic, k, v);
	}
	if (strcmp(sec, "urls") == 0) {
		if (strcmp(k, "base") != 0 && strcmp(k, "crl") != 0 &&
		    strcmp(k, "ocsp") != 0 && strcmp(k, "ca_issuers") != 0)
			return set_fail(p, line, sec, k, "unknown key");
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)
			return set_fail(p, line, sec, k, "expected an http URL");
		if (strcmp(k, "base") == 0)
			return set_str(&c->url_base, v);
		if (strcmp(k, "crl") == 0)
			return set_str(&c->crl_url, v);
		if (strcmp(k, "ocsp") == 0)
			return set_str(&c->ocsp_url, v);
		if (strcmp(k, "ca_issuers") == 0)
			return set_str(&c->ca_issuers_url, v);
		return set_fail(p, line, sec, k, "unknown key");
	}
	if (strcmp(sec, "identity") == 0) {
		if (strncmp(k, "field.", 6) == 0)
			return field_set(p, line, k + 6, v);
		if (strcmp(k, "max_length") == 0) {
			if (!parse_int(v, 16, 4096, &n))
				return set_fail(p, line, sec, k, "16 to 4096");
			c->identity_max = (size_t)n;
			return 1;
		}
		if (strcmp(k, "spiffe_trust_domain") == 0)
			return set_str(&c->spiffe_trust_domain, v);
		if (strcmp(k, "othername_oid") == 0) {
			ASN1_OBJECT *o = OBJ_txt2obj(v, 1);

			/* Checked now: a bad OID would fail every issuance. */
			ASN1_OBJECT_free(o);
			if (o == NULL) {
				ERR_clear_error();
				return set_fail(p, line, sec, k,
				    "expected a dotted OID");
			}
			return set_str(&c->identity_oid, v);
		}
		return set_fail(p, line, sec, k, "unknown key");
	}
	if (strcmp(sec, "crl") == 0)
		return crl_key(p, line, sec, k, v);
	if (strcmp(sec, "ocsp") == 0)
		return ocsp_key(p, line, sec, k, v);
	if (strcmp(sec, "server") == 0)
		return server_key(p, line, sec, k, v);
	if (strncmp(sec, "profile ", 8) == 0) {
		const char *name = sec + 8;

		while (*name == ' ')
			name++;
		if ((pr = profile_find(c, name)) == NULL &&
		    (pr = profile_add(c, name)) == NULL)
			return set_fail(p, line, sec, k, "too many profiles");
		return profile_key(p, line, sec, pr, k, v);
	}
	return set_fail(p, line, sec, k, "unknown section");
}

static int
check_ca(const struct conf_ca *ca)
{
	if (ca->key_uri == NULL)
		return ly_fail(LY_ERR_CONFIG, "[%s] key is required", ca->name);
	if (ca->subject == NULL)
		return ly_fail(LY_ERR_CONFIG, "[%s] subject is required",
		    ca->name);
	if (ca->cert_file == NULL)
		return ly_fail(LY_ERR_CONFIG, "[%s] cert is required",
		    ca->name);
	if (ca->pin_file == NULL && ca->pin_env == NULL)
		return ly_fail(LY_ERR_CONFIG,
		    "[%s] pin_file or pin_env is required", ca->name);
	return LY_OK;
}

static int
check_conf(struct conf *c)
{
	size_t i;
	int r;

	if (c->hsm_module == NULL)
		return ly_fail(LY_ERR_CONFIG, "[hsm] module is required");
	if (c->store_dir == NULL)
		return ly_fail(LY_ERR_CONFIG, "[ca] store is required");
	if ((r = check_ca(&c->root)) != LY_OK)
		return r;
	for (i = 0; i < c->nissuers; i++)
		if ((r = check_ca(c->issuers[i])) != LY_OK)
			return r;
	for (i = 0; i < c->nprofiles; i++) {
		struct conf_profile *p = &c->profiles[i];

		if (p->issuer == NULL &&
		    (p->issuer = strdup(c->issuing.name)) == NULL)
			return LY_ERR_ALLOC;
		if (conf_issuer(c, p->issuer) == NULL)
			return ly_fail(LY_ERR_CONFIG, "[profile %s] issuer %s: "
			    "no such [issuer] section (issuing, or [issuer "
			    "NAME])", p->name, p->issuer);

		if (p->days > p->max_days)
			return ly_fail(LY_ERR_CONFIG, "[profile %s] days %d "
			    "exceed max_days %d", p->name, p->days,
			    p->max_days);
		if (p->rsa_min_bits > p->rsa_max_bits)
			return ly_fail(LY_ERR_CONFIG, "[profile %s] "
			    "rsa_min_bits exceeds rsa_max_bits", p->name);
		if (p->encoding == CONF_ENC_OTHERNAME && c->identity_oid == NULL)
			return ly_fail(LY_ERR_CONFIG, "[profile %s] othername "
			    "encoding needs [identity] othername_oid", p->name);
	}
	for (i = 0; i < c->nissuers; i++) {
		const struct conf_ca *ic = c->issuers[i];
		long need = conf_issuer_need(c, ic->name);

		if (ic->rollover_before >= (long)ic->days * 86400)
			return ly_fail(LY_ERR_CONFIG, "[%s%s] rollover_before "
			    "must be shorter than the CA's days, or every new "
			    "generation would be due at once", i == 0 ? "" :
			    "issuer ", ic->name);
		if (ic->rollover_before != 0 && ic->rollover_before < need)
			return ly_fail(LY_ERR_CONFIG, "[%s%s] rollover_before "
			    "%ld days is shorter than %ld days, the longest "
			    "validity plus reissue window of its profiles: "
			    "leaves would be cut to its notAfter before it "
			    "rolls over", i == 0 ? "" : "issuer ", ic->name,
			    ic->rollover_before / 86400, (need + 86399) / 86400);
	}
	if (c->nfields == 0)
		return ly_fail(LY_ERR_CONFIG,
		    "[identity] declares no field");
	return LY_OK;
}

int
conf_parse(const char *dir, const char *name, const char *text,
    struct conf **confp)
{
	struct parse p;
	struct conf *c;
	int line, r = LY_ERR_CONFIG;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return LY_ERR_ALLOC;
	if ((c->dir = strdup(dir != NULL ? dir : ".")) == NULL ||
	    (c->path = strdup(name)) == NULL || !defaults(c)) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.conf = c;
	p.name = name;
	p.text = text;
	line = ini_parse_stream(reader, &p, handler, &p);
	if (p.failed)
		goto out;
	if (line != 0) {
		/* inih found a syntax error, or a handler ran out of memory. */
		r = ly_fail(LY_ERR_CONFIG, "%s:%d: syntax error", name, line);
		goto out;
	}
	/* Where CRLs for gateways go, unless the file says. */
	if (c->publish_dir == NULL &&
	    (c->publish_dir = ly_path_join(c->dir, "publish")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* The default identity schema, when the file names no field. */
	if (c->nfields == 0) {
		if (field_set(&p, 0, "userId", "integer|string|required") == 0 ||
		    field_set(&p, 0, "platform", "string") == 0 ||
		    field_set(&p, 0, "role", "string") == 0)
			goto out;
	}
	if ((r = check_conf(c)) != LY_OK)
		goto out;
	*confp = c;
	c = NULL;
	r = LY_OK;
 out:
	conf_free(c);
	return r;
}

int
conf_load(const char *dir, const char *path, struct conf **confp)
{
	unsigned char *text = NULL;
	char *p = NULL;
	size_t len;
	int r;

	if (path == NULL && (p = ly_path_join(dir, "ca.conf")) == NULL)
		return LY_ERR_ALLOC;
	if ((r = ly_file_read(path != NULL ? path : p, CONF_FILE_MAX, &text,
	    &len)) != LY_OK) {
		/* The usual mistake: --dir at a directory that is no instance. */
		if (r == LY_ERR_NOT_FOUND && path == NULL)
			ly_fail(r, "%s is not a Lanyard instance: there is no "
			    "%s (ca-admin --dir DIR init makes one)", dir, p);
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		r = ly_fail(LY_ERR_CONFIG, "%s: contains a NUL byte",
		    path != NULL ? path : p);
		goto out;
	}
	r = conf_parse(dir, path != NULL ? path : p, (char *)text, confp);
 out:
	free(text);
	free(p);
	return r;
}

static void
ca_free(struct conf_ca *ca)
{
	size_t i;

	free(ca->name);
	free(ca->key_uri);
	free(ca->pin_file);
	free(ca->pin_env);
	free(ca->subject);
	free(ca->cert_file);
	for (i = 0; i < ca->npermitted_dns; i++)
		free(ca->permitted_dns[i]);
	for (i = 0; i < ca->nexcluded_dns; i++)
		free(ca->excluded_dns[i]);
	for (i = 0; i < ca->npermitted_ip; i++)
		free(ca->permitted_ip[i]);
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->dir);
	free(c->path);
	free(c->organization);
	free(c->store_dir);
	free(c->publish_dir);
	free(c->hsm_module);
	free(c->softhsm2_conf);
	ca_free(&c->root);
	ca_free(&c->issuing);
	for (i = 1; i < c->nissuers; i++) {
		ca_free(c->issuers[i]);
		free(c->issuers[i]);
	}
	free(c->url_base);
	free(c->crl_url);
	free(c->ocsp_url);
	free(c->ca_issuers_url);
	for (i = 0; i < c->nfields; i++)
		free(c->fields[i].name);
	free(c->spiffe_trust_domain);
	free(c->identity_oid);
	free(c->http_listen);
	free(c->https_listen);
	free(c->server_user);
	free(c->tls_dns);
	free(c->tls_ip);
	free(c->tls_priority);
	for (i = 0; i < c->nprofiles; i++) {
		free(c->profiles[i].name);
		free(c->profiles[i].role);
		free(c->profiles[i].issuer);
	}
	free(c);
}

const struct conf_profile *
conf_profile_get(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

/* Appends name to buf as "a, b, c"; a name that does not fit ends in "...". */
static void
names_add(char *buf, size_t len, const char *name)
{
	size_t n = strlen(buf);

	if (n + 1 >= len)
		return;
	if ((size_t)snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "",
	    name) >= len - n && len >= 4)
		memcpy(buf + len - 4, "...", 4);
}

void
conf_profile_names(const struct conf *c, char *buf, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < c->nprofiles; i++)
		names_add(buf, len, c->profiles[i].name);
}

void
conf_field_names(const struct conf *c, char *buf, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < c->nfields; i++)
		if (c->fields[i].name != NULL)
			names_add(buf, len, c->fields[i].name);
}

char *
conf_default_text(enum conf_keytype kt)
{
	char *s;

	if (asprintf(&s,
"# Lanyard instance configuration; see ca.conf(5).\n"
"# Relative paths are relative to this directory.\n"
"\n"
"[ca]\n"
"organization = Lanyard Demo\n"
"store = store\n"
"store_map_mb = 1024\n"
"publish_dir = publish\n"
"# ca-server removes records that expired tidy_keep days ago, every\n"
"# tidy_interval (off by default; see ca-admin tidy).\n"
"#tidy_interval = 1d\n"
"#tidy_keep = 90\n"
"\n"
"# The embedded default: SoftHSM2 tokens under hsm/. For a real HSM set\n"
"# module to its PKCS#11 library and drop softhsm2_conf.\n"
"[hsm]\n"
"module = %s\n"
"softhsm2_conf = hsm/softhsm2.conf\n"
"\n"
"# The root CA key may live on its own token (as here), so that token can\n"
"# be kept offline once the issuing CA is signed.\n"
"[root]\n"
"key = pkcs11:token=lanyard-root;object=root-ca\n"
"pin_file = hsm/root.pin\n"
"subject = /O=Lanyard Demo/CN=Lanyard Root CA\n"
"key_type = %s\n"
"days = 3650\n"
"cert = certs/root.crt\n"
"# OCSP responses about the issuing CA, signed by the root ahead of time\n"
"# (ca-admin root crl, with the root's CRL): the root token can stay offline.\n"
"ocsp_validity = 180d\n"
"# ca-admin status and ca-server warn this long before those run out\n"
"# (default: a quarter of their validity, at least 7 days).\n"
"# renew_before = 30d\n"
"# offline = yes: this instance never opens the root key (a ceremony's\n"
"# issuing instance, see docs/operations.md \"Years of operation\").\n"
"# offline = no\n"
"\n"
"[issuing]\n"
"key = pkcs11:token=lanyard-issuing;object=issuing-ca\n"
"pin_file = hsm/issuing.pin\n"
"# pin_env = LANYARD_ISSUING_PIN\n"
"subject = /O=Lanyard Demo/CN=Lanyard Issuing CA 1\n"
"key_type = %s\n"
"days = 1825\n"
"cert = certs/issuing.crt\n"
"# Name constraints in the issuing CA certificate (comma lists):\n"
"# permitted_dns = example.org, .example.org\n"
"# excluded_dns = .internal.example.org\n"
"# permitted_ip = 10.0.0.0/8\n"
"# Roll over to a new generation (issuing-2, ...) on its own this long\n"
"# before notAfter (ca-admin issuer rollover does it by hand):\n"
"# rollover_before = 400d\n"
"\n"
"# More issuing CAs: one [issuer NAME] section each, with the keys of\n"
"# [issuing]; a profile names its issuer (issuer = NAME, default\n"
"# issuing). E.g. client certificates for devices from a CA of their\n"
"# own (docs/operations.md, \"Several issuing CAs\"):\n"
"# [issuer devices]\n"
"# key = pkcs11:token=lanyard-devices;object=devices-ca\n"
"# pin_file = hsm/devices.pin\n"
"# subject = /O=Lanyard Demo/CN=Lanyard Devices CA 1\n"
"# key_type = ec-p256\n"
"# days = 1825\n"
"# cert = certs/devices.crt\n"
"\n"
"# CRL Distribution Point, OCSP and caIssuers URLs in certificates.\n"
"[urls]\n"
"base = http://127.0.0.1:8080\n"
"\n"
"# The JSON identity schema: field.NAME = string|integer [required].\n"
"[identity]\n"
"field.userId = integer|string|required\n"
"field.platform = string\n"
"field.role = string\n"
"max_length = 512\n"
"spiffe_trust_domain = example.org\n"
"# Type of the otherName SAN for profiles with encoding = othername.\n"
"# 1.3.6.1.4.1.32473 is the documentation arc (RFC 5612): use your own.\n"
"othername_oid = 1.3.6.1.4.1.32473.1.1\n"
"\n"
"# Revocation data. Durations: 30s, 10m, 12h, 7d.\n"
"[crl]\n"
"validity = 1d\n"
"delta_validity = 1h\n"
"# The root's CRL lists revoked intermediates: it has no delta, is signed\n"
"# only when due or by ca-admin crl publish, so its token can stay offline.\n"
"root_validity = 30d\n"
"refresh_before = 4h\n"
"debounce = 2s\n"
"shards = 1\n"
"# With shards > 1: yes puts the shards into crl-bundle.pem; no (the\n"
"# default) puts one full CRL of the issuing CA there, as GnuTLS and NSS\n"
"# need (see docs/revocation.md).\n"
"bundle_shards = no\n"
"\n"
"[ocsp]\n"
"validity = 1d\n"
"refresh_before = 12h\n"
"# sign: answer a request with a nonce by signing on demand; ignore: serve\n"
"# the pre-signed response without the nonce (RFC 5019).\n"
"nonce = sign\n"
"max_requests = 16\n"
"signer_days = 7\n"
"signer_rotate_before = 2d\n"
"\n"
"[server]\n"
"http = 127.0.0.1:8080\n"
"https = 127.0.0.1:8443\n"
"# The HTTPS server certificate (issued at init, renewed by ca-server;\n"
"# profile service):\n"
"# its DNS names and IP addresses, comma-separated.\n"
"tls_dns = localhost\n"
"tls_ip = 127.0.0.1\n"
"# TLS versions and ciphers of the HTTPS listener, a GnuTLS priority\n"
"# string; the default allows TLS 1.2 and 1.3 with AEAD ciphers only.\n"
"tls_priority = %s\n"
"# Threads per listener; auto: 4 per core, at most 32.\n"
"threads = auto\n"
"# Started as root, ca-server runs its front (what parses requests) as\n"
"# this user; without it the front stays root, with a warning.\n"
"# user = lanyard\n"
"max_connections = 1024\n"
"max_connections_per_ip = 64\n"
"connection_timeout = 10\n"
"max_body = 65536\n"
"max_header = 16384\n"
"\n"
"[profile client]\n"
"days = 30\n"
"max_days = 397\n"
"eku = client\n"
"key_types = ec-p256, ec-p384, rsa\n"
"rsa_min_bits = 2048\n"
"identity = json, spiffe\n"
"encoding = uri\n"
"reissue_threshold = 7d\n"
"\n"
"[profile service]\n"
"days = 90\n"
"max_days = 397\n"
"eku = server, client\n"
"key_types = ec-p256, ec-p384, rsa\n"
"identity = none, spiffe\n"
"require_dns_or_ip = yes\n"
"allow_dns_ip = yes\n"
"\n"
"[profile ocsp]\n"
"days = 7\n"
"max_days = 30\n"
"eku = ocsp\n"
"identity = none\n"
"allow_dns_ip = yes\n"
"ocsp_nocheck = yes\n"
"\n"
"[profile admin]\n"
"days = 30\n"
"eku = client\n"
"identity = json\n"
"role = admin\n",
	    SOFTHSM2_MODULE, conf_keytype_name(kt), conf_keytype_name(kt),
	    CONF_TLS_PRIORITY) == -1)
		return NULL;
	return s;
}
