/*
 * tests/shim/p11shim.c — a PKCS#11 module for tests that wraps a real one
 * (SoftHSM) and injects faults.
 *
 * Environment:
 *	SHIM_MODULE	the real module (default: Debian's SoftHSM2)
 *	SHIM_FAULT_FILE	the faults, read at each call of a function below;
 *			no file, no faults
 *
 * The fault file holds one rule a line, "op:action[:count]":
 *	op	initialize (C_Initialize), opensession, login, tokeninfo
 *		(C_GetTokenInfo), signinit, sign (C_Sign with an output
 *		buffer: a signature, not a length query)
 *	action	a return value by name (CKR_DEVICE_ERROR, ...) or number
 *		(0x30), or, for sign only, "corrupt": sign, then flip a bit
 *		of the signature; or "kill": sign, then SIGKILL the process
 *		(a crash after the HSM signed, before anything was stored);
 *		or, for tokeninfo only, "uninit": the token looks
 *		uninitialised (no CKF_TOKEN_INITIALIZED, a blank label), as
 *		SoftHSM shows one whose token.object is being rewritten
 *	count	how many calls to hit: a number (default 1) or "*" (all)
 * The first rule of an op with hits left applies. Each hit is written back
 * (the count goes down, to 0), so a test reads what was consumed.
 *
 * An error on C_Sign acts as a token would: the signing operation is
 * finished (the real C_Sign runs, its result is dropped);
 * CKR_SESSION_HANDLE_INVALID also closes the session, and
 * CKR_USER_NOT_LOGGED_IN logs the token out, so recovering takes what it
 * would take with a real token. Other errors only return the value.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <pkcs11-helper-1.0/pkcs11.h>

#define SHIM_DEFAULT_MODULE	"/usr/lib/softhsm/libsofthsm2.so"
#define SHIM_FILE_MAX		4096
#define SHIM_RULES_MAX		32

enum shim_op {
	OP_INITIALIZE, OP_OPENSESSION, OP_LOGIN, OP_TOKENINFO, OP_SIGNINIT,
	OP_SIGN, OP_MAX
};

static const char *const op_names[OP_MAX] = {
	"initialize", "opensession", "login", "tokeninfo", "signinit", "sign",
};

static const struct {
	const char	*name;
	CK_RV		 rv;
} rv_names[] = {
	{ "CKR_OK", CKR_OK },
	{ "CKR_GENERAL_ERROR", CKR_GENERAL_ERROR },
	{ "CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED },
	{ "CKR_DEVICE_ERROR", CKR_DEVICE_ERROR },
	{ "CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY },
	{ "CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED },
	{ "CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID },
	{ "CKR_SESSION_CLOSED", CKR_SESSION_CLOSED },
	{ "CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN },
	{ "CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT },
	{ "CKR_PIN_INCORRECT", CKR_PIN_INCORRECT },
	{ "CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID },
};

/* The action that means "corrupt the signature", not a return value. */
#define SHIM_CORRUPT		((CK_RV)-2)
/* The action that means "the token looks uninitialised". */
#define SHIM_UNINIT		((CK_RV)-3)
/* The action that means "die at once, as by kill -9". */
#define SHIM_KILL		((CK_RV)-4)

struct rule {
	enum shim_op	 op;
	CK_RV		 rv;
	long		 count;		/* -1: always */
};

static struct {
	pthread_mutex_t		 lock;
	pthread_once_t		 once;
	void			*dl;
	CK_FUNCTION_LIST_PTR	 real;
	CK_FUNCTION_LIST	 list;
	char			 last[SHIM_FILE_MAX];	/* the file as parsed */
	struct rule		 rules[SHIM_RULES_MAX];
	size_t			 nrules;
} shim = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.once = PTHREAD_ONCE_INIT,
};

static int
rule_parse(char *line, struct rule *r)
{
	char	*op, *act, *cnt, *end;
	size_t	 i;

	op = strtok_r(line, ":", &end);
	act = strtok_r(NULL, ":", &end);
	cnt = strtok_r(NULL, ":", &end);
	if (op == NULL || act == NULL)
		return -1;
	for (i = 0; i < OP_MAX && strcmp(op, op_names[i]) != 0; i++)
		continue;
	if (i == OP_MAX)
		return -1;
	r->op = (enum shim_op)i;
	if (strcmp(act, "corrupt") == 0 && r->op == OP_SIGN)
		r->rv = SHIM_CORRUPT;
	else if (strcmp(act, "kill") == 0 && r->op == OP_SIGN)
		r->rv = SHIM_KILL;
	else if (strcmp(act, "uninit") == 0 && r->op == OP_TOKENINFO)
		r->rv = SHIM_UNINIT;
	else if (strncmp(act, "0x", 2) == 0)
		r->rv = strtoul(act, NULL, 16);
	else {
		for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]) &&
		    strcmp(act, rv_names[i].name) != 0; i++)
			continue;
		if (i == sizeof(rv_names) / sizeof(rv_names[0]))
			return -1;
		r->rv = rv_names[i].rv;
	}
	if (cnt == NULL || *cnt == '\0')
		r->count = 1;
	else if (strcmp(cnt, "*") == 0)
		r->count = -1;
	else
		r->count = strtol(cnt, NULL, 10);
	return 0;
}

/* Parses text (a copy is kept as shim.last) into shim.rules. Lock held. */
static void
rules_load(const char *text)
{
	char	 buf[SHIM_FILE_MAX], *line, *end;
	struct rule r;

	snprintf(shim.last, sizeof(shim.last), "%s", text);
	snprintf(buf, sizeof(buf), "%s", text);
	shim.nrules = 0;
	for (line = strtok_r(buf, "\n", &end); line != NULL;
	    line = strtok_r(NULL, "\n", &end)) {
		line[strcspn(line, " \t\r#")] = '\0';
		if (*line != '\0' && shim.nrules < SHIM_RULES_MAX &&
		    rule_parse(line, &r) == 0)
			shim.rules[shim.nrules++] = r;
	}
}

static const char *
rv_name(CK_RV rv, char *buf, size_t len)
{
	size_t	i;

	if (rv == SHIM_CORRUPT)
		return "corrupt";
	if (rv == SHIM_KILL)
		return "kill";
	if (rv == SHIM_UNINIT)
		return "uninit";
	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	snprintf(buf, len, "0x%lx", (unsigned long)rv);
	return buf;
}

/* Writes the rules back (tmp file + rename: readers see old or new). */
static void
rules_save(const char *path)
{
	char	 text[SHIM_FILE_MAX], tmp[4096], num[32], cnt[32];
	size_t	 i, len = 0;
	FILE	*fp;

	text[0] = '\0';
	for (i = 0; i < shim.nrules && len < sizeof(text); i++) {
		if (shim.rules[i].count < 0)
			snprintf(cnt, sizeof(cnt), "*");
		else
			snprintf(cnt, sizeof(cnt), "%ld", shim.rules[i].count);
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "%s:%s:%s\n", op_names[shim.rules[i].op],
		    rv_name(shim.rules[i].rv, num, sizeof(num)), cnt);
	}
	snprintf(tmp, sizeof(tmp), "%s.shim%ld", path, (long)getpid());
	if ((fp = fopen(tmp, "w")) == NULL)
		return;
	fputs(text, fp);
	if (fclose(fp) == 0 && rename(tmp, path) == 0)
		snprintf(shim.last, sizeof(shim.last), "%s", text);
	else
		unlink(tmp);
}

/*
 * The fault for this call of op, if any: 1 and *rvp, and the hit is
 * counted. Reads the file afresh; a changed file resets the rules.
 */
static int
fault(enum shim_op op, CK_RV *rvp)
{
	const char *path = getenv("SHIM_FAULT_FILE");
	char	 text[SHIM_FILE_MAX];
	size_t	 n = 0, i;
	FILE	*fp;
	int	 hit = 0;

	if (path == NULL || *path == '\0')
		return 0;
	pthread_mutex_lock(&shim.lock);
	if ((fp = fopen(path, "r")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
	}
	text[n] = '\0';
	if (strcmp(text, shim.last) != 0)
		rules_load(text);
	for (i = 0; i < shim.nrules; i++) {
		if (shim.rules[i].op != op || shim.rules[i].count == 0)
			continue;
		*rvp = shim.rules[i].rv;
		if (shim.rules[i].count > 0) {
			shim.rules[i].count--;
			rules_save(path);
		}
		hit = 1;
		break;
	}
	pthread_mutex_unlock(&shim.lock);
	return hit;
}

/* ---- the functions that fail on demand ----------------------------------- */

static CK_RV
shim_Initialize(CK_VOID_PTR args)
{
	CK_RV	rv;

	if (fault(OP_INITIALIZE, &rv))
		return rv;
	return shim.real->C_Initialize(args);
}

static CK_RV
shim_OpenSession(CK_SLOT_ID slot, CK_FLAGS fl, CK_VOID_PTR app,
    CK_NOTIFY notify, CK_SESSION_HANDLE_PTR sp)
{
	CK_RV	rv;

	if (fault(OP_OPENSESSION, &rv))
		return rv;
	return shim.real->C_OpenSession(slot, fl, app, notify, sp);
}

static CK_RV
shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	CK_RV	rv;

	if (fault(OP_LOGIN, &rv))
		return rv;
	return shim.real->C_Login(s, type, pin, len);
}

static CK_RV
shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV	rv;

	if (!fault(OP_TOKENINFO, &rv))
		return shim.real->C_GetTokenInfo(slot, info);
	if (rv != SHIM_UNINIT)
		return rv;
	if ((rv = shim.real->C_GetTokenInfo(slot, info)) == CKR_OK) {
		info->flags &= ~(CK_FLAGS)CKF_TOKEN_INITIALIZED;
		memset(info->label, ' ', sizeof(info->label));
	}
	return rv;
}

static CK_RV
shim_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	CK_RV	rv;

	if (fault(OP_SIGNINIT, &rv))
		return rv;
	return shim.real->C_SignInit(s, mech, key);
}

static CK_RV
shim_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len,
    CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
	CK_RV	rv, frv;

	/* Length queries pass: a fault hits a signature. */
	if (sig == NULL || !fault(OP_SIGN, &frv))
		return shim.real->C_Sign(s, data, len, sig, siglen);
	/* The token's operation ends with this call either way. */
	rv = shim.real->C_Sign(s, data, len, sig, siglen);
	if (frv == SHIM_KILL)
		raise(SIGKILL);
	if (frv == SHIM_CORRUPT) {
		if (rv == CKR_OK && *siglen > 0)
			sig[*siglen / 2] ^= 0x01;
		return rv;
	}
	if (frv == CKR_SESSION_HANDLE_INVALID)
		(void)shim.real->C_CloseSession(s);
	else if (frv == CKR_USER_NOT_LOGGED_IN)
		(void)shim.real->C_Logout(s);
	return frv;
}

/* ---- the module ------------------------------------------------------------ */

static void
shim_load(void)
{
	const char		*path = getenv("SHIM_MODULE");
	CK_C_GetFunctionList	 getlist;

	if (path == NULL || *path == '\0')
		path = SHIM_DEFAULT_MODULE;
	if ((shim.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "p11shim: %s\n", dlerror());
		return;
	}
	*(void **)&getlist = dlsym(shim.dl, "C_GetFunctionList");
	if (getlist == NULL || getlist(&shim.real) != CKR_OK) {
		fprintf(stderr, "p11shim: %s: no function list\n", path);
		shim.real = NULL;
		return;
	}
	shim.list = *shim.real;
	shim.list.C_Initialize = shim_Initialize;
	shim.list.C_OpenSession = shim_OpenSession;
	shim.list.C_Login = shim_Login;
	shim.list.C_GetTokenInfo = shim_GetTokenInfo;
	shim.list.C_SignInit = shim_SignInit;
	shim.list.C_Sign = shim_Sign;
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR listp)
{
	if (listp == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&shim.once, shim_load);
	if (shim.real == NULL)
		return CKR_GENERAL_ERROR;
	*listp = &shim.list;
	return CKR_OK;
}
