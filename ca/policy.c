/*
 * ca/policy.c — what a profile lets a certificate say: the identity
 * checked against the profile, and against the issuing CA's name
 * constraints (RFC 5280 4.2.1.10).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "ca/extern.h"
#include "util/util.h"

/*
 * RFC 5280 4.2.1.10 for dNSName: "example.org" covers itself and every
 * name below it, ".example.org" only the names below it.
 */
static int
dns_within(const char *name, const char *base)
{
	size_t n = strlen(name), b = strlen(base);

	if (base[0] == '.')
		return n > b && strcasecmp(name + n - b, base) == 0;
	if (n == b)
		return strcasecmp(name, base) == 0;
	return n > b && name[n - b - 1] == '.' &&
	    strcasecmp(name + n - b, base) == 0;
}

static int
ip_within(const char *ip, const char *cidr)
{
	unsigned char a[16], net[16], mask[16];
	int len, i;

	if ((len = ca_identity_ip_parse(ip, a)) < 0 ||
	    cert_cidr_parse(cidr, net, mask) != len)
		return 0;
	for (i = 0; i < len; i++)
		if ((a[i] & mask[i]) != net[i])
			return 0;
	return 1;
}

/*
 * The issuing CA does not sign what its own name constraints forbid: the
 * relying party would refuse it, and a CA that signs it anyway is broken.
 */
static int
constraints_check(const struct conf_ca *c, const struct ca_identity *id)
{
	size_t i, j;
	int in;

	for (i = 0; i < id->ndns; i++) {
		for (j = 0; j < c->nexcluded_dns; j++)
			if (dns_within(id->dns[i], c->excluded_dns[j]))
				return ly_fail(LY_ERR_POLICY, "DNS name %s is "
				    "excluded by the issuing CA's name "
				    "constraints (%s)", id->dns[i],
				    c->excluded_dns[j]);
		for (in = c->npermitted_dns == 0, j = 0; !in &&
		    j < c->npermitted_dns; j++)
			in = dns_within(id->dns[i], c->permitted_dns[j]);
		if (!in)
			return ly_fail(LY_ERR_POLICY, "DNS name %s is outside "
			    "the issuing CA's name constraints", id->dns[i]);
	}
	for (i = 0; i < id->nip; i++) {
		for (in = c->npermitted_ip == 0, j = 0; !in &&
		    j < c->npermitted_ip; j++)
			in = ip_within(id->ip[i], c->permitted_ip[j]);
		if (!in)
			return ly_fail(LY_ERR_POLICY, "IP address %s is outside "
			    "the issuing CA's name constraints", id->ip[i]);
	}
	return LY_OK;
}

/* Checks the identity against the profile and brings JSON to canonical form. */
int
ca_identity_check(const struct conf *conf, const struct conf_profile *p,
    const struct ca_identity *in, struct ca_identity *out)
{
	const struct conf_ca *sec;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((p->identities & (1u << in->kind)) == 0) {
		const char *k = in->kind == CONF_ID_JSON ? "a JSON identity" :
		    in->kind == CONF_ID_SPIFFE ? "a SPIFFE ID" :
		    "only DNS/IP names";
		return ly_fail(LY_ERR_POLICY, "profile %s does not take %s",
		    p->name, k);
	}
	if (in->ndns + in->nip > 0 && !p->allow_dns_ip)
		return ly_fail(LY_ERR_POLICY, "profile %s does not take DNS "
		    "or IP names", p->name);
	if (p->require_dns_or_ip && in->ndns + in->nip == 0)
		return ly_fail(LY_ERR_POLICY, "profile %s needs at least one "
		    "DNS name or IP address", p->name);
	out->kind = in->kind;
	switch (in->kind) {
	case CONF_ID_JSON:
		if (in->value == NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "empty identity");
		if ((r = ca_identity_json_canon(conf, in->value,
		    strlen(in->value), p->role, &out->value)) != LY_OK)
			goto fail;
		break;
	case CONF_ID_SPIFFE:
		if (in->value == NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "empty SPIFFE ID");
		if ((r = ca_identity_spiffe_check(conf, in->value)) != LY_OK)
			goto fail;
		if ((out->value = strdup(in->value)) == NULL) {
			r = LY_ERR_ALLOC;
			goto fail;
		}
		break;
	default:
		if (in->value != NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "profile %s takes "
			    "no identity value", p->name);
		break;
	}
	for (i = 0; i < in->ndns; i++)
		if ((r = ca_identity_add_dns(out, in->dns[i])) != LY_OK)
			goto fail;
	for (i = 0; i < in->nip; i++)
		if ((r = ca_identity_add_ip(out, in->ip[i])) != LY_OK)
			goto fail;
	/* The constraints of the issuer that signs: the profile's. */
	if ((sec = conf_issuer(conf, p->issuer != NULL ? p->issuer :
	    conf->issuing.name)) == NULL)
		sec = &conf->issuing;
	if ((r = constraints_check(sec, out)) != LY_OK)
		goto fail;
	return LY_OK;
 fail:
	ca_identity_clear(out);
	return r;
}
