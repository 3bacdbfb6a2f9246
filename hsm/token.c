/*
 * hsm/token.c — initialising a new token on a free slot (pkcs11-helper
 * cannot), under the admin lock.
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

/* --- tokens ----------------------------------------------------------- */

/* Pads label with blanks into a PKCS#11 32-byte label field. */
static void
label_pad(unsigned char out[32], const char *label)
{
	size_t	len = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, len > 32 ? 32 : len);
}

/*
 * Scans the slots: *labelledp is set if an initialised token is labelled
 * label (its slot in *lslotp), *freep if some slot holds an uninitialised
 * token (the first in *fslotp).
 */
static int
token_slots_scan(const char *label, CK_SLOT_ID *lslotp, int *labelledp,
    CK_SLOT_ID *fslotp, int *freep)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SLOT_ID	*slots = NULL;
	CK_TOKEN_INFO	 ti;
	CK_ULONG	 i, n;
	char		 tl[33];
	int		 r;

	*labelledp = *freep = 0;
	if ((r = hsm_slots_get(&slots, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			if (!*freep) {
				*fslotp = slots[i];
				*freep = 1;
			}
			continue;
		}
		hsm_fixstr(tl, ti.label, sizeof(ti.label));
		if (strcmp(tl, label) == 0 && !*labelledp) {
			*lslotp = slots[i];
			*labelledp = 1;
		}
	}
	free(slots);
	return 0;
}

/*
 * Initialises a new token labelled label on the first slot with no
 * initialised token, with the given SO and user PINs. LY_ERR_EXISTS if a
 * token with that label exists, LY_ERR_HSM if there is no free slot or the
 * module fails. pkcs11-helper needs no refresh: it asks for the slot list
 * afresh whenever it looks for a token.
 */
int
hsm_token_init(const char *label, const char *so_pin, const char *user_pin)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SLOT_ID	 slot = 0, fslot = 0;
	CK_RV		 rv;
	unsigned char	 plabel[32];
	int		 labelled, freeslot, loggedin = 0, r;

	if (label == NULL || *label == '\0' || strlen(label) > 32 ||
	    so_pin == NULL || *so_pin == '\0' || user_pin == NULL ||
	    *user_pin == '\0')
		return ly_fail(LY_ERR_ARG, "hsm_token_init: label of 1 to 32 "
		    "bytes and both PINs needed");
	if (f == NULL)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	hsm_admin_lock();
	if ((r = token_slots_scan(label, &slot, &labelled, &fslot, &freeslot))
	    != 0)
		goto out;
	r = LY_ERR_HSM;
	if (labelled) {
		r = ly_fail(LY_ERR_EXISTS, "token %s already exists (slot %lu)",
		    label, (unsigned long)slot);
		goto out;
	}
	if (!freeslot) {
		r = ly_fail(LY_ERR_HSM, "token %s: no slot with an "
		    "uninitialised token", label);
		goto out;
	}
	label_pad(plabel, label);
	if ((rv = f->C_InitToken(fslot, (CK_UTF8CHAR_PTR)so_pin,
	    (CK_ULONG)strlen(so_pin), plabel)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: C_InitToken on "
		    "slot %lu", label, (unsigned long)fslot);
		goto out;
	}
	/* SoftHSM gives the new token another slot id: look it up anew. */
	if ((r = token_slots_scan(label, &slot, &labelled, &fslot, &freeslot))
	    != 0)
		goto out;
	r = LY_ERR_HSM;
	if (!labelled) {
		r = ly_fail(LY_ERR_HSM, "token %s: not found after "
		    "C_InitToken", label);
		goto out;
	}
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: C_OpenSession",
		    label);
		goto out;
	}
	if ((rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin,
	    (CK_ULONG)strlen(so_pin))) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: SO login", label);
		goto out;
	}
	loggedin = 1;
	if ((rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin,
	    (CK_ULONG)strlen(user_pin))) != CKR_OK) {
		r = hsm_fail_rv(rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID ?
		    LY_ERR_HSM_PIN : LY_ERR_HSM, rv, "token %s: C_InitPIN",
		    label);
		goto out;
	}
	ly_log(LY_LOG_INFO, "token %s: initialised on slot %lu", label,
	    (unsigned long)slot);
	r = 0;
 out:
	/* Nobody else can be logged into a token made a moment ago. */
	if (loggedin)
		(void)f->C_Logout(s);
	if (s != CK_INVALID_HANDLE)
		hsm_session_close(s);
	/* The new token's first verified copy (the guard's, if on). */
	if (r == 0)
		(void)hsm_guard_snapshot();
	hsm_admin_unlock();
	ERR_clear_error();
	return r;
}
