/*
 * ca/json.c — records as JSON: for the audit log, ca-admin --json and
 * the admin API.
 */
#include "config.h"

#include <stdlib.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "ca/extern.h"
#include "util/util.h"

/* Compact JSON describing a certificate record, for the audit log. */
char *
ca_audit_detail_cert(const struct store_cert *rec)
{
	json_t *o;
	char *hex, *s = NULL, na[21];

	if ((hex = ca_serial_hex(&rec->serial)) == NULL)
		return NULL;
	ly_time_fmt((time_t)rec->not_after, na);
	o = json_pack("{s:s, s:s, s:s?, s:s}", "serial", hex,
	    "profile", rec->profile, "identity", rec->identity,
	    "not_after", na);
	if (o != NULL && !ca_serial_is_zero(&rec->supersedes)) {
		char *old = ca_serial_hex(&rec->supersedes);

		if (old != NULL)
			json_object_set_new(o, "supersedes", json_string(old));
		free(old);
	}
	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	free(hex);
	return s;
}

/* An RFC 3339 time under key, unless t is 0 (not set). */
void
ca_json_time(json_t *o, const char *key, int64_t t)
{
	char buf[21];

	if (t == 0)
		return;
	ly_time_fmt((time_t)t, buf);
	json_object_set_new(o, key, json_string(buf));
}

/* A serial in hex under key, unless it is zero (not set). */
void
ca_json_serial(json_t *o, const char *key, const struct ca_serial *s)
{
	char *hex;

	if (ca_serial_is_zero(s) || (hex = ca_serial_hex(s)) == NULL)
		return;
	json_object_set_new(o, key, json_string(hex));
	free(hex);
}

const char *
ca_cert_status(const struct store_cert *c)
{
	switch (c->status) {
	case STORE_RESERVED:
		return "reserved";
	case STORE_BURNED:
		return "burned";
	case STORE_REVOKED:
		return "revoked";
	default:
		return c->not_after <= ly_now() ? "expired" : "valid";
	}
}

json_t *
ca_cert_json(const struct ca *ca, const struct store_cert *c,
    const char *pem_key)
{
	json_t *o;

	if ((o = json_pack("{s:s, s:s, s:s, s:s?}", "status",
	    ca_cert_status(c), "issuer", c->ca < ca_nslots(ca) ?
	    ca_slot_name(ca, c->ca) : "unknown",
	    "profile", c->profile, "identity", c->identity)) == NULL)
		return NULL;
	ca_json_serial(o, "serial", &c->serial);
	ca_json_time(o, "not_before", c->not_before);
	ca_json_time(o, "not_after", c->not_after);
	if (c->status == STORE_REVOKED) {
		ca_json_time(o, "revoked_at", c->revoked_at);
		json_object_set_new(o, "reason",
		    json_string(ca_reason_name(c->reason)));
		ca_json_time(o, "invalidity_date", c->invalidity);
	}
	ca_json_serial(o, "supersedes", &c->supersedes);
	ca_json_serial(o, "superseded_by", &c->superseded_by);
	if (pem_key != NULL && c->der != NULL) {
		const unsigned char *p = c->der;
		X509 *x = d2i_X509(NULL, &p, (long)c->derlen);
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		long len;

		if (x != NULL && b != NULL && PEM_write_bio_X509(b, x) &&
		    (len = BIO_get_mem_data(b, &data)) > 0)
			json_object_set_new(o, pem_key,
			    json_stringn(data, (size_t)len));
		X509_free(x);
		BIO_free(b);
	}
	return o;
}
