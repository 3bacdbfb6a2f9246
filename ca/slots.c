/*
 * ca/slots.c — the CAs of an instance as slots (ca/ca.h): their names,
 * generations, states, and which one issues for a ca.conf section now.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/extern.h"
#include "util/util.h"

const char *
ca_slot_state_name(int st)
{
	switch (st) {
	case CA_SLOT_ACTIVE:
		return "active";
	case CA_SLOT_NEXT:
		return "next";
	case CA_SLOT_RETIRING:
		return "retiring";
	case CA_SLOT_RETIRED:
		return "retired";
	}
	return "unknown";
}

int
ca_nslots(const struct ca *ca)
{
	(void)ca;
	return 2;
}

static int
valid(const struct ca *ca, int slot)
{
	return slot >= 0 && slot < ca_nslots(ca);
}

const struct conf_ca *
ca_slot_conf(const struct ca *ca, int slot)
{
	return slot == CA_ROOT ? &ca->conf->root : &ca->conf->issuing;
}

int
ca_slot_by_name(const struct ca *ca, const char *name)
{
	int slot;

	for (slot = 0; slot < ca_nslots(ca); slot++)
		if (strcmp(name, ca_slot_name(ca, slot)) == 0)
			return slot;
	return -1;
}

const char *
ca_slot_name(const struct ca *ca, int slot)
{
	return ca_slot_conf(ca, slot)->name;
}

const char *
ca_slot_issuer(const struct ca *ca, int slot)
{
	return ca_slot_conf(ca, slot)->name;
}

unsigned int
ca_slot_gen(const struct ca *ca, int slot)
{
	(void)ca;
	(void)slot;
	return 1;
}

int
ca_slot_is_root(const struct ca *ca, int slot)
{
	(void)ca;
	return slot == CA_ROOT;
}

int
ca_slot_parent(const struct ca *ca, int slot)
{
	(void)ca;
	(void)slot;
	return CA_ROOT;
}

int
ca_slot_state(const struct ca *ca, int slot, time_t now)
{
	(void)ca;
	(void)slot;
	(void)now;
	return CA_SLOT_ACTIVE;
}

time_t
ca_slot_activates(const struct ca *ca, int slot)
{
	(void)ca;
	(void)slot;
	return 0;
}

int
ca_issuer_slot(const struct ca *ca, const char *issuer, time_t now)
{
	(void)now;
	if (strcmp(issuer, ca->conf->issuing.name) == 0)
		return CA_ISSUING;
	return -1;
}

int
ca_root_slot(const struct ca *ca, time_t now)
{
	(void)ca;
	(void)now;
	return CA_ROOT;
}

int
ca_slots_refresh(struct ca *ca)
{
	(void)ca;
	return LY_OK;
}

int
ca_cert_der(const struct ca *ca, int slot, const unsigned char **derp,
    size_t *lenp)
{
	if (!valid(ca, slot))
		return ly_fail(LY_ERR_NOT_FOUND, "no such CA");
	*derp = ca->der[slot];
	*lenp = ca->derlen[slot];
	return LY_OK;
}
