/*
 * ca/slots_retire.c — XXX stubs of ca_slot_retire() and
 * ca_slot_last_expiry() (ca/ca.h) until the slot registry lands: with two
 * slots nothing is ever retiring, so crl/publish.c never retires a slot.
 * The lead replaces this file with the registry's own.
 */
#include "config.h"

#include "ca/extern.h"
#include "util/util.h"

int
ca_slot_retire(struct ca *ca, int slot, const char *actor)
{
	(void)ca;
	(void)actor;
	return ly_fail(LY_ERR_STATE, "CA slot %d is not retiring", slot);
}

int
ca_slot_last_expiry(struct ca *ca, int slot, time_t now, time_t *tp)
{
	(void)ca;
	(void)slot;
	(void)now;
	*tp = 0;
	return LY_OK;
}
