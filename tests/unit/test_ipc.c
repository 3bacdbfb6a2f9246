/*
 * Unit tests of the front/engine protocol (ipc/): the one parser, and an
 * engine (ca-server --engine-fd, a real process on a SoftHSM2 instance)
 * fed hand-crafted messages as a fully compromised front would send
 * them. Each claim of docs/security.md "The front/engine boundary" has
 * its test here: every request below is refused, and audited.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "ipc/ipc.h"
#include "util/util.h"
#include "tests/unit/fixture.h"

#define ID_DEV		"{\"userId\":42}"
#define ID_VICTIM	"{\"userId\":7}"
#define ID_ADMIN	"{\"userId\":1,\"role\":\"admin\"}"

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca_issued dev, victim, revoked, admin;
	pid_t		 engine;
	int		 fd;
	uint32_t	 id;
};

/* ---- the parser ------------------------------------------------------------ */

static unsigned char *
encode(uint8_t type, const struct ipc_field *f, size_t n, size_t *lenp)
{
	unsigned char *buf = NULL;

	assert_int_equal(ipc_msg_encode(type, 7, f, n, &buf, lenp), LY_OK);
	return buf;
}

static void
test_parse_roundtrip(void **state)
{
	unsigned char rb[8], *buf;
	struct ipc_field f[3] = {
		{ (const unsigned char *)"tok", 3 },
		{ (const unsigned char *)"csr\0bytes", 9 },
		{ (const unsigned char *)"enroll:1.2.3.4", 14 },
	};
	struct ipc_msg m;
	size_t len;

	(void)state;
	buf = encode(IPC_ENROLL, f, 3, &len);
	assert_int_equal(ipc_msg_parse(buf, len, &m), LY_OK);
	assert_int_equal(m.type, IPC_ENROLL);
	assert_int_equal(m.id, 7);
	assert_int_equal(m.nfields, 3);
	assert_string_equal(ipc_field_str(&m.f[0]), "tok");
	assert_int_equal(m.f[1].len, 9);
	assert_memory_equal(m.f[1].p, "csr\0bytes", 9);
	ipc_msg_clear(&m);
	free(buf);
	/* An answer with an error carries its empty fields. */
	assert_int_equal(ipc_reply_encode(IPC_ENROLL, 9, LY_ERR_TOKEN, "no",
	    NULL, 0, &buf, &len), LY_OK);
	assert_int_equal(ipc_msg_parse(buf, len, &m), LY_OK);
	assert_int_equal(m.type, IPC_REPLY | IPC_ENROLL);
	assert_int_equal(ipc_field_i64(&m.f[0]), LY_ERR_TOKEN);
	assert_int_equal(m.f[2].len, 0);
	ipc_msg_clear(&m);
	free(buf);
	ipc_i64_put(rb, -1);
	assert_int_equal(ipc_field_i64(&(struct ipc_field){ rb, 8 }), -1);
}

static void
test_parse_refused(void **state)
{
	struct ipc_field f[3] = {
		{ (const unsigned char *)"tok", 3 },
		{ (const unsigned char *)"csr", 3 },
		{ (const unsigned char *)"enroll:x", 8 },
	};
	unsigned char *buf, *big;
	struct ipc_msg m;
	size_t len;

	(void)state;
	buf = encode(IPC_ENROLL, f, 3, &len);
	/* Version, type, padding, length: each refused before the body. */
	buf[0] = 2;
	assert_int_equal(ipc_msg_parse(buf, len, &m), LY_ERR_BAD_INPUT);
	buf[0] = IPC_VERSION;
	buf[1] = 0x42;
	assert_int_equal(ipc_msg_parse(buf, len, &m), LY_ERR_BAD_INPUT);
	buf[1] = IPC_ENROLL;
	buf[2] = 1;
	assert_int_equal(ipc_msg_parse(buf, len, &m), LY_ERR_BAD_INPUT);
	buf[2] = 0;
	buf[8] = 0x7f;	/* ~2 GiB */
	assert_int_equal(ipc_msg_parse(buf, len, &m), LY_ERR_TOO_LARGE);
	buf[8] = 0;
	/* Short, and trailing bytes. */
	assert_int_equal(ipc_msg_parse(buf, len - 1, &m), LY_ERR_BAD_INPUT);
	assert_int_equal(ipc_msg_parse(buf, 5, &m), LY_ERR_BAD_INPUT);
	assert_null(m.buf);
	free(buf);
	/* Too few fields (a HEALTH body sent as ENROLL). */
	assert_int_equal(ipc_msg_encode(IPC_ENROLL, 1, f, 2, &buf, &len),
	    LY_ERR_ARG);
	/* A text field with a NUL: the encoder refuses it too. */
	f[0].p = (const unsigned char *)"t\0k";
	assert_int_equal(ipc_msg_encode(IPC_ENROLL, 1, f, 3, &buf, &len),
	    LY_ERR_ARG);
	/* A field over its maximum. */
	big = calloc(1, 70 * 1024);
	assert_non_null(big);
	f[0].p = (const unsigned char *)"tok";
	f[1].p = big;
	f[1].len = 70 * 1024;
	assert_int_equal(ipc_msg_encode(IPC_ENROLL, 1, f, 3, &buf, &len),
	    LY_ERR_ARG);
	free(big);
}

/* ---- a hostile front against a real engine -------------------------------- */

static void
ipc_issue(struct ca *ca, const char *profile, const char *id,
    struct ca_issued *out)
{
	char *tok = NULL, *tid = NULL;
	unsigned char *csr;
	size_t len;

	assert_int_equal(ca_token_create(ca, profile, id, 3600, "test", &tok,
	    &tid), LY_OK);
	csr = fixture_csr("x", NULL, 1, &len);
	assert_int_equal(ca_issue_token_der(ca, tok, csr, len, "test", out),
	    LY_OK);
	free(csr);
	free(tok);
	free(tid);
}

static const char *
server_path(void)
{
	const char *top = getenv("top_builddir");
	static char path[4096];

	snprintf(path, sizeof(path), "%s/ca-server", top != NULL ? top : ".");
	return path;
}

/* Starts an engine alone on a socketpair: f->fd is the front's end. */
static void
engine_start(struct fixture *f)
{
	int sv[2];
	char fdarg[16];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((f->engine = fork()) == 0) {
		close(sv[0]);
		snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
		execl(server_path(), "ca-server", "--dir", f->dir,
		    "--engine-fd", fdarg, (char *)NULL);
		_exit(127);
	}
	assert_true(f->engine > 0);
	close(sv[1]);
	f->fd = sv[0];
}

static void
engine_stop(struct fixture *f)
{
	int st;

	if (f->engine <= 0)
		return;
	close(f->fd);
	kill(f->engine, SIGTERM);
	waitpid(f->engine, &st, 0);
	f->engine = 0;
}

/* Sends raw bytes and reads the answer: its r, or 1 at end of stream. */
static int
raw_call(struct fixture *f, const unsigned char *buf, size_t len,
    struct ipc_msg *reply)
{
	struct ipc_msg m;
	int r;

	/* A refusal carries a reply too: the caller clears it either way. */
	if (reply != NULL)
		memset(reply, 0, sizeof(*reply));
	assert_int_equal(ipc_write(f->fd, buf, len), LY_OK);
	if ((r = ipc_read(f->fd, &m)) == LY_ERR_NOT_FOUND ||
	    r == LY_ERR_IO)
		return 1;
	assert_int_equal(r, LY_OK);
	assert_int_equal(m.type & IPC_REPLY, IPC_REPLY);
	r = (int)ipc_field_i64(&m.f[0]);
	if (reply != NULL)
		*reply = m;
	else
		ipc_msg_clear(&m);
	return r;
}

static int
ipc_call(struct fixture *f, uint8_t type, const struct ipc_field *fl, size_t n,
    struct ipc_msg *reply)
{
	unsigned char *buf = NULL;
	size_t len;
	int r;

	assert_int_equal(ipc_msg_encode(type, ++f->id, fl, n, &buf, &len),
	    LY_OK);
	r = raw_call(f, buf, len, reply);
	free(buf);
	return r;
}

static int
setup_ipc(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ca *ca = NULL;

	if (f == NULL || fixture_instance("/tmp/lanyard-ipc",
	    CONF_KEY_EC_P256, NULL, f->base, f->dir) != 0 ||
	    ca_open(f->dir, 0, &ca) != LY_OK)
		return -1;
	ipc_issue(ca, "client", ID_DEV, &f->dev);
	ipc_issue(ca, "client", ID_VICTIM, &f->victim);
	ipc_issue(ca, "client", "{\"userId\":9}", &f->revoked);
	ipc_issue(ca, "admin", ID_ADMIN, &f->admin);
	assert_int_equal(ca_revoke(ca, &f->revoked.serial, 1, 0, "test"),
	    LY_OK);
	ca_close(ca);
	engine_start(f);
	/* The engine answers once it has done its start. */
	assert_int_equal(ipc_call(f, IPC_HELLO, NULL, 0, NULL), LY_OK);
	*state = f;
	return 0;
}

static int
teardown_ipc(void **state)
{
	struct fixture *f = *state;

	engine_stop(f);
	ca_issued_clear(&f->dev);
	ca_issued_clear(&f->victim);
	ca_issued_clear(&f->revoked);
	ca_issued_clear(&f->admin);
	fixture_remove(f->base);
	free(f);
	return 0;
}

#define SER(is)	{ (is)->serial.b, CA_SERIAL_LEN }
#define DER(is)	{ (is)->der, (is)->derlen }

/* The engine's "ipc-refused" audit entries whose actor contains what. */
struct audit_count {
	const char	*what;
	int		 n;
};

static int
ipc_audit_cb(const struct store_audit_entry *e, void *arg)
{
	struct audit_count *a = arg;

	if (strcmp(e->action, "ipc-refused") == 0 &&
	    (a->what == NULL || strstr(e->actor, a->what) != NULL ||
	    strstr(e->detail, a->what) != NULL))
		a->n++;
	return 0;
}

static int
refusals(struct fixture *f, const char *what)
{
	struct audit_count a = { what, 0 };
	struct store *st = NULL;
	struct store_txn *txn = NULL;
	struct conf *conf = NULL;

	assert_int_equal(conf_load(f->dir, NULL, &conf), LY_OK);
	assert_int_equal(store_open(conf->store_dir, conf->store_map_size,
	    STORE_RDONLY | STORE_EXISTING, &st), LY_OK);
	assert_int_equal(store_txn_begin(st, 0, &txn), LY_OK);
	assert_int_equal(store_audit_foreach(txn, ipc_audit_cb, &a), LY_OK);
	store_txn_abort(txn);
	store_close(st);
	conf_free(conf);
	return a.n;
}

/* A revoked certificate cannot reissue, whatever the front says. */
static void
test_revoked_client(void **state)
{
	struct fixture *f = *state;
	unsigned char *csr;
	size_t len;
	int before = refusals(f, "revoked");

	csr = fixture_csr("x", NULL, 1, &len);
	{
		struct ipc_field fl[3] = { SER(&f->revoked), DER(&f->revoked),
		    { csr, len } };

		assert_int_equal(ipc_call(f, IPC_REISSUE, fl, 3, NULL),
		    LY_ERR_STATE);
	}
	free(csr);
	assert_int_equal(refusals(f, "revoked"), before + 1);
}

/*
 * A foreign identity: the front presents the victim's serial with the
 * attacker's own certificate, or asks for admin operations with a
 * device certificate; both refused.
 */
static void
test_foreign_identity(void **state)
{
	struct fixture *f = *state;
	unsigned char *csr, ttl[8];
	size_t len;
	int before = refusals(f, NULL);

	csr = fixture_csr("x", NULL, 1, &len);
	{
		struct ipc_field fl[3] = { SER(&f->victim), DER(&f->dev),
		    { csr, len } };

		assert_int_equal(ipc_call(f, IPC_REISSUE, fl, 3, NULL),
		    LY_ERR_POLICY);
	}
	free(csr);
	ipc_i64_put(ttl, 3600);
	{
		/* A device certificate as an admin's. */
		struct ipc_field fl[5] = { SER(&f->dev), DER(&f->dev),
		    { (const unsigned char *)"client", 6 },
		    { (const unsigned char *)ID_VICTIM, strlen(ID_VICTIM) },
		    { ttl, 8 } };

		assert_int_equal(ipc_call(f, IPC_TOKEN_CREATE, fl, 5, NULL),
		    LY_ERR_POLICY);
	}
	{
		/* The admin's serial with a device certificate's DER. */
		struct ipc_field fl[2] = { SER(&f->admin), DER(&f->dev) };

		assert_int_equal(ipc_call(f, IPC_CRL_PUBLISH, fl, 2, NULL),
		    LY_ERR_POLICY);
	}
	{
		unsigned char reason[8];
		struct ipc_field fl[4] = { SER(&f->dev), DER(&f->dev),
		    SER(&f->victim), { reason, 8 } };

		ipc_i64_put(reason, 1);
		assert_int_equal(ipc_call(f, IPC_REVOKE, fl, 4, NULL),
		    LY_ERR_POLICY);
	}
	{
		/* Disabling the victim's identity, as a device. */
		unsigned char reason[8];
		struct ipc_field fl[4] = { SER(&f->dev), DER(&f->dev),
		    { (const unsigned char *)ID_VICTIM, strlen(ID_VICTIM) },
		    { reason, 8 } };

		ipc_i64_put(reason, 1);
		assert_int_equal(ipc_call(f, IPC_IDENTITY_DISABLE, fl, 4, NULL),
		    LY_ERR_POLICY);
	}
	assert_int_equal(refusals(f, NULL), before + 5);
}

/* A PEM CSR that asks for basicConstraints CA:TRUE and keyCertSign. */
static unsigned char *
ca_csr(size_t *lenp)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_NAME *n = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *out;
	char *data;
	long len;

	assert_non_null(key);
	assert_non_null(req);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"evil CA", -1, -1, 0);
	X509_REQ_set_subject_name(req, n);
	X509_REQ_set_pubkey(req, key);
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
	    NID_basic_constraints, "critical,CA:TRUE"));
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
	    NID_key_usage, "critical,keyCertSign,cRLSign"));
	X509_REQ_add_extensions(req, exts);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
	len = BIO_get_mem_data(b, &data);
	out = malloc((size_t)len);
	assert_non_null(out);
	memcpy(out, data, (size_t)len);
	*lenp = (size_t)len;
	BIO_free(b);
	X509_NAME_free(n);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return out;
}

/*
 * A CA certificate: the engine takes profile and identity from the token
 * and builds the TBS itself; a CSR asking for CA:TRUE gets a leaf or a
 * refusal, never a CA. And an admin (valid) cannot create a token of a
 * profile that does not exist ("root").
 */
static void
test_no_ca_certificate(void **state)
{
	struct fixture *f = *state;
	unsigned char *csr = NULL, ttl[8];
	size_t len = 0;
	struct ipc_msg m;
	const unsigned char *p;
	char *tok;
	X509 *x;
	int r;

	ipc_i64_put(ttl, 3600);
	{
		struct ipc_field fl[5] = { SER(&f->admin), DER(&f->admin),
		    { (const unsigned char *)"root", 4 },
		    { (const unsigned char *)ID_VICTIM, strlen(ID_VICTIM) },
		    { ttl, 8 } };

		assert_int_not_equal(ipc_call(f, IPC_TOKEN_CREATE, fl, 5, NULL),
		    LY_OK);
		fl[2].p = (const unsigned char *)"client";
		fl[2].len = 6;
		assert_int_equal(ipc_call(f, IPC_TOKEN_CREATE, fl, 5, &m),
		    LY_OK);
		tok = strdup(ipc_field_str(&m.f[2]));
		ipc_msg_clear(&m);
	}
	csr = ca_csr(&len);
	{
		struct ipc_field fl[3] = { { (const unsigned char *)tok,
		    strlen(tok) }, { csr, len },
		    { (const unsigned char *)"enroll:test", 11 } };

		r = ipc_call(f, IPC_ENROLL, fl, 3, &m);
		if (r == LY_OK) {
			p = m.f[2].p;
			x = d2i_X509(NULL, &p, (long)m.f[2].len);
			assert_non_null(x);
			assert_int_equal(X509_check_ca(x), 0);
			X509_free(x);
		}
		ipc_msg_clear(&m);
	}
	free(csr);
	free(tok);
}

/*
 * An arbitrary TBS: no type carries one. A message of an unknown type
 * (here with a TBS-like body) or an answer type sent to the engine is
 * refused at the header: the connection ends, and it is audited.
 */
static void
test_arbitrary_tbs(void **state)
{
	struct fixture *f = *state;
	unsigned char msg[IPC_HDR_LEN + 64];
	int before = refusals(f, "malformed header");

	memset(msg, 0x30, sizeof(msg));
	msg[0] = IPC_VERSION;
	msg[1] = 0x20;		/* no such type */
	msg[2] = msg[3] = 0;
	msg[8] = msg[9] = msg[10] = 0;
	msg[11] = 64;
	assert_int_equal(raw_call(f, msg, sizeof(msg), NULL), 1);
	engine_stop(f);
	assert_int_equal(refusals(f, "malformed header"), before + 1);
	engine_start(f);
	assert_int_equal(ipc_call(f, IPC_HELLO, NULL, 0, NULL), LY_OK);
	/* An answer type from the front is no request. */
	msg[1] = IPC_REPLY | IPC_HEALTH;
	msg[11] = 0;
	assert_int_equal(raw_call(f, msg, IPC_HDR_LEN, NULL) != LY_OK, 1);
	assert_int_equal(refusals(f, NULL) > before, 1);
}

/* A malformed body is answered and audited; an oversized one ends it. */
static void
test_malformed_oversized(void **state)
{
	struct fixture *f = *state;
	unsigned char *buf, hdr[IPC_HDR_LEN];
	struct ipc_field fl[1] = { { (const unsigned char *)"x", 1 } };
	size_t len;
	int before = refusals(f, "malformed message");

	/* A HEALTH body (none) under an ENROLL header: field 0 missing. */
	buf = encode(IPC_OCSP_SIGN, fl, 1, &len);
	buf[1] = IPC_ENROLL;
	assert_int_equal(raw_call(f, buf, len, NULL), LY_ERR_BAD_INPUT);
	free(buf);
	assert_int_equal(refusals(f, "malformed message"), before + 1);
	/* Still in step. */
	assert_int_equal(ipc_call(f, IPC_HELLO, NULL, 0, NULL), LY_OK);
	/* 16 MiB announced: refused before a byte of it is read. */
	memset(hdr, 0, sizeof(hdr));
	hdr[0] = IPC_VERSION;
	hdr[1] = IPC_ENROLL;
	hdr[8] = 1;
	assert_int_equal(raw_call(f, hdr, sizeof(hdr), NULL), 1);
	engine_stop(f);
	assert_int_equal(refusals(f, "malformed header"), 1);
	engine_start(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test_setup_teardown(test_revoked_client, setup_ipc,
		    teardown_ipc),
		cmocka_unit_test_setup_teardown(test_foreign_identity, setup_ipc,
		    teardown_ipc),
		cmocka_unit_test_setup_teardown(test_no_ca_certificate, setup_ipc,
		    teardown_ipc),
		cmocka_unit_test_setup_teardown(test_arbitrary_tbs, setup_ipc,
		    teardown_ipc),
		cmocka_unit_test_setup_teardown(test_malformed_oversized, setup_ipc,
		    teardown_ipc),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
