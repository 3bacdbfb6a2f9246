/*
 * web/metrics_status.c — the /metrics gauges of what an operator watches
 * (ca_status_get(): plain numbers from the read-only store, no HSM):
 * seconds until each CA, the OCSP signer and the HTTPS certificate
 * expire, store usage, certificates by profile and status, the last
 * backup, tokens outstanding, identities disabled. docs/alerts.rules.yml
 * alerts on them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "ca/ops.h"
#include "util/util.h"
#include "web/extern.h"

static void
gauge(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void
profiles(FILE *f, const struct ca_status *st)
{
	static const char *names[] = { "valid", "revoked", "expired",
	    "reserved" };
	size_t i, k;

	gauge(f, "lanyard_certificates", "Certificate records in the store, "
	    "by profile and status.");
	for (i = 0; i < st->nprofiles; i++) {
		const struct ca_status_profile *p = &st->profiles[i];
		const uint64_t v[] = { p->valid, p->revoked, p->expired,
		    p->reserved };

		for (k = 0; k < 4; k++)
			fprintf(f, "lanyard_certificates{profile=\"%s\","
			    "status=\"%s\"} %llu\n", p->name, names[k],
			    (unsigned long long)v[k]);
	}
	gauge(f, "lanyard_certificates_expiring_7d", "Valid certificates "
	    "whose notAfter is within 7 days, by profile.");
	for (i = 0; i < st->nprofiles; i++)
		fprintf(f, "lanyard_certificates_expiring_7d{profile=\"%s\"} "
		    "%llu\n", st->profiles[i].name,
		    (unsigned long long)st->profiles[i].expiring);
}

int
web_metrics_status_text(const struct ca_status *st, char **textp,
    size_t *lenp)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0;
	int slot;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return LY_ERR_ALLOC;
	gauge(f, "lanyard_ca_expiry_seconds", "Seconds until the CA "
	    "certificate's notAfter.");
	for (slot = 0; slot < st->nca; slot++)
		if (st->ca[slot].state != CA_SLOT_RETIRED)
			fprintf(f, "lanyard_ca_expiry_seconds{ca=\"%s\","
			    "state=\"%s\"} %lld\n", st->ca[slot].name,
			    ca_slot_state_name(st->ca[slot].state),
			    (long long)(st->ca[slot].not_after - st->now));
	gauge(f, "lanyard_issuer_headroom_seconds", "Seconds an issuing CA "
	    "in force has left beyond what a certificate issued now needs "
	    "(its profiles' validity plus reissue window); negative: leaves "
	    "are cut to the CA's notAfter, roll the issuer over.");
	for (slot = 0; slot < st->nca; slot++)
		if (st->ca[slot].need > 0)
			fprintf(f, "lanyard_issuer_headroom_seconds{ca=\"%s\","
			    "issuer=\"%s\"} %lld\n", st->ca[slot].name,
			    st->ca[slot].issuer, (long long)(st->ca[slot].
			    not_after - st->now - st->ca[slot].need));
	if (st->ocsp_not_after != 0) {
		gauge(f, "lanyard_ocsp_signer_expiry_seconds", "Seconds until "
		    "the current OCSP signing certificate's notAfter.");
		fprintf(f, "lanyard_ocsp_signer_expiry_seconds %lld\n",
		    (long long)(st->ocsp_not_after - st->now));
	}
	if (st->tls_not_after != 0) {
		gauge(f, "lanyard_tls_expiry_seconds", "Seconds until the "
		    "HTTPS server certificate's notAfter.");
		fprintf(f, "lanyard_tls_expiry_seconds %lld\n",
		    (long long)(st->tls_not_after - st->now));
	}
	gauge(f, "lanyard_store_used_ratio", "Share of the LMDB map in use.");
	fprintf(f, "lanyard_store_used_ratio %.6f\n", st->store_map == 0 ? 0 :
	    (double)st->store_used / (double)st->store_map);
	gauge(f, "lanyard_store_used_bytes", "Bytes of the LMDB map in use.");
	fprintf(f, "lanyard_store_used_bytes %zu\n", st->store_used);
	gauge(f, "lanyard_store_schema_version", "Schema version of the "
	    "store (older ones are read-only until ca-admin upgrade).");
	fprintf(f, "lanyard_store_schema_version %u\n", st->schema);
	gauge(f, "lanyard_backup_last_timestamp_seconds", "When the last "
	    "verified backup was taken (0: never).");
	fprintf(f, "lanyard_backup_last_timestamp_seconds %lld\n",
	    (long long)st->last_backup);
	gauge(f, "lanyard_backup_age_seconds", "Seconds since the last "
	    "verified backup (since the epoch if there was none).");
	fprintf(f, "lanyard_backup_age_seconds %lld\n",
	    (long long)(st->now - st->last_backup));
	gauge(f, "lanyard_tokens_outstanding", "Enrollment tokens unused "
	    "and unexpired, or claimed.");
	fprintf(f, "lanyard_tokens_outstanding %llu\n",
	    (unsigned long long)st->tokens_outstanding);
	if (st->root_ocsp_count > 0) {
		gauge(f, "lanyard_root_ocsp_next_update_seconds", "Seconds "
		    "until the earliest nextUpdate of the OCSP responses the "
		    "root signed ahead about the CA certificates it issued "
		    "(negative: past, or a CA certificate has none): the next "
		    "root ceremony renews them.");
		fprintf(f, "lanyard_root_ocsp_next_update_seconds %lld\n",
		    st->root_ocsp_next == 0 ? -1LL :
		    (long long)(st->root_ocsp_next - st->now));
	}
	gauge(f, "lanyard_identities_disabled", "Identities an admin "
	    "disabled.");
	fprintf(f, "lanyard_identities_disabled %llu\n",
	    (unsigned long long)st->disabled);
	profiles(f, st);
	if (fclose(f) != 0) {
		free(buf);
		return LY_ERR_ALLOC;
	}
	*textp = buf;
	*lenp = len;
	return LY_OK;
}
