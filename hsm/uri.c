/*
 * hsm/uri.c — RFC 7512 PKCS#11 URIs (p11-kit's parser): a token and,
 * maybe, an object on it; the token of a URI, and the URI of an object
 * beside another.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

/* --- URIs --------------------------------------------------------------- */

int
hsm_uri_parse(const char *text, int need_object, struct hsm_uri *u)
{
	CK_TOKEN_INFO	*ti;
	CK_ATTRIBUTE	*a;
	int		 pr, r = LY_ERR_CONFIG;

	memset(u, 0, sizeof(*u));
	u->text = text != NULL ? text : "(null)";
	if (text == NULL)
		return ly_fail(LY_ERR_CONFIG, "no PKCS#11 URI");
	if ((u->p11 = p11_kit_uri_new()) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	pr = p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u->p11);
	if (pr != P11_KIT_URI_OK) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": %s", text,
		    p11_kit_uri_message(pr));
		goto out;
	}
	/* A PIN belongs in a protected file, not in ca.conf. */
	if (p11_kit_uri_get_pin_value(u->p11) != NULL ||
	    p11_kit_uri_get_pin_source(u->p11) != NULL) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": pin-value and "
		    "pin-source are not allowed; use a PIN file", text);
		goto out;
	}
	ti = p11_kit_uri_get_token_info(u->p11);
	hsm_fixstr(u->token, ti->label, sizeof(ti->label));
	if (u->token[0] == '\0') {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": no token= "
		    "label", text);
		goto out;
	}
	if ((a = p11_kit_uri_get_attribute(u->p11, CKA_LABEL)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > HSM_LABEL_MAX ||
		    memchr(a->pValue, '\0', a->ulValueLen) != NULL) {
			r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": bad "
			    "object= label", text);
			goto out;
		}
		memcpy(u->object, a->pValue, a->ulValueLen);
		u->object[a->ulValueLen] = '\0';
		u->has_object = 1;
	}
	if ((a = p11_kit_uri_get_attribute(u->p11, CKA_ID)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > HSM_ID_MAX) {
			r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": id= "
			    "empty or longer than %d bytes", text, HSM_ID_MAX);
			goto out;
		}
		memcpy(u->id, a->pValue, a->ulValueLen);
		u->idlen = a->ulValueLen;
	}
	if (need_object && !u->has_object && u->idlen == 0) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": no object= or "
		    "id=", text);
		goto out;
	}
	r = 0;
 out:
	if (r != 0) {
		p11_kit_uri_free(u->p11);
		u->p11 = NULL;
	}
	return r;
}

void
hsm_uri_clear(struct hsm_uri *u)
{
	if (u->p11 != NULL)
		p11_kit_uri_free(u->p11);
	u->p11 = NULL;
}

int
hsm_uri_token(const char *uri, char label[33])
{
	struct hsm_uri u;
	int r;

	memset(&u, 0, sizeof(u));
	if ((r = hsm_uri_parse(uri, 0, &u)) == LY_OK)
		memcpy(label, u.token, sizeof(u.token));
	hsm_uri_clear(&u);
	return r;
}

int
hsm_uri_object(const char *uri, char **outp)
{
	struct hsm_uri u;
	char *s;
	int r;

	if ((r = hsm_uri_parse(uri, 0, &u)) != LY_OK)
		return r;
	if (!u.has_object)
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": no object= "
		    "label", uri);
	else if ((s = strdup(u.object)) == NULL)
		r = LY_ERR_ALLOC;
	else
		*outp = s;
	hsm_uri_clear(&u);
	return r;
}

int
hsm_uri_sibling(const char *uri, const char *object, char **outp)
{
	struct hsm_uri u;
	CK_ATTRIBUTE a;
	char *s = NULL;
	int r;

	if (object == NULL || *object == '\0' ||
	    strlen(object) > HSM_LABEL_MAX)
		return ly_fail(LY_ERR_CONFIG, "bad object label");
	if ((r = hsm_uri_parse(uri, 0, &u)) != LY_OK)
		return r;
	r = LY_ERR_CONFIG;
	(void)p11_kit_uri_clear_attribute(u.p11, CKA_ID);
	(void)p11_kit_uri_clear_attribute(u.p11, CKA_CLASS);
	a.type = CKA_LABEL;
	a.pValue = (void *)object;
	a.ulValueLen = (CK_ULONG)strlen(object);
	if (p11_kit_uri_set_attribute(u.p11, &a) != P11_KIT_URI_OK ||
	    p11_kit_uri_format(u.p11, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) !=
	    P11_KIT_URI_OK) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": cannot name "
		    "object %s beside it", uri, object);
		goto out;
	}
	*outp = s;
	s = NULL;
	r = LY_OK;
 out:
	free(s);
	hsm_uri_clear(&u);
	return r;
}
