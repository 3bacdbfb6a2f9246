/*
 * ca/extern.h — declarations private to ca/.
 */
#ifndef LANYARD_CA_EXTERN_H
#define LANYARD_CA_EXTERN_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "conf/conf.h"
#include "hsm/hsm.h"

/* Token labels of the embedded default (conf_default_text() names them). */
#define CA_ROOT_TOKEN		"lanyard-root"
#define CA_ISSUING_TOKEN	"lanyard-issuing"

/* Certificates are backdated this much against clock skew of relying parties. */
#define CA_BACKDATE		300

/* The writers waiting for a group commit (commit.c). */
struct commit_op;
struct commit_queue {
	pthread_mutex_t		 mu;
	struct commit_op	*head;	/* the batch being committed, then the next */
	struct commit_op	**tail;
	size_t			 queued;	/* ops from head to tail */
	struct ca_commit_stats	 stats;
};

/*
 * One CA of the instance (ca/slots.c). Filled in before nslots counts it
 * and never changed after, but for retired.
 */
struct ca_slot {
	char		 name[CONF_NAME_MAX];	/* in URLs and files */
	char		 issuer[CONF_NAME_MAX];	/* its ca.conf section */
	unsigned int	 gen;
	int		 parent;		/* slot that signed it */
	int64_t		 activates;
	_Atomic int	 retired;
	/*
	 * Its section's settings with the generation's own name, key URI
	 * and certificate file (owned: key_uri, cert_file, name; the rest
	 * is borrowed from conf).
	 */
	struct conf_ca	 cc;
	int		 own;			/* cc's three strings are ours */
};

struct ca {
	struct conf	*conf;
	struct store	*store;
	unsigned int	 flags;
	struct ca_slot	 slots[CA_MAX_SLOTS];
	_Atomic int	 nslots;
	X509		*certs[CA_MAX_SLOTS];
	struct hsm_key	*keys[CA_MAX_SLOTS];	/* opened on first use */
	pthread_mutex_t	 lock;		/* guards keys[] and hsm_ready */
	int		 hsm_ready;
	unsigned char	*der[CA_MAX_SLOTS];	/* certs[] encoded, for web/ */
	size_t		 derlen[CA_MAX_SLOTS];
	/* The registry as last read (ca_slots_refresh()). */
	pthread_mutex_t	 slots_lock;
	uint64_t	 slots_version;
	_Atomic int64_t	 slots_checked;	/* time of the last look */
	X509		*cross[CA_MAX_SLOTS];	/* cross-certificates */
	_Atomic int	 ncross;
	ca_presign_fn	 presign;	/* ocsp/'s, or NULL */
	void		*presign_arg;
	struct commit_queue commit;	/* its writers (commit.c) */
};

/* What goes into a certificate; cert_build() turns it into an unsigned X509. */
struct cert_spec {
	const struct conf	*conf;
	const struct conf_profile *profile;	/* NULL: a CA certificate */
	X509			*issuer;	/* NULL: self-signed */
	const char		*issuer_name;	/* "root", "issuing": URLs */
	unsigned int		 crl_shards;	/* the issuer's (ca_crl_shards()) */
	EVP_PKEY		*pubkey;	/* the subject's key */
	const X509_PUBKEY	*spki;		/* its encoding from a CSR, or NULL */
	X509_NAME		*subject;
	const struct ca_serial	*serial;
	time_t			 not_before;
	time_t			 not_after;
	int			 pathlen;	/* CA: -1 for none */
	const struct conf_ca	*constraints;	/* CA: name constraints */
	const struct ca_identity *id;		/* leaf: the SANs */
};

/* cert.c */
/*
 * cert_build() may leave the key undecoded in the X509 (see set_key());
 * cert_decode() gives the certificate decoded from its DER, whole, as a
 * client would read it (LY_ERR_INTERNAL if it does not decode, or has
 * trailing bytes or no usable key).
 */
int	 cert_build(const struct cert_spec *, X509 **);
int	 cert_decode(const unsigned char *der, size_t len, X509 **);
int	 cert_name_parse(const char *, X509_NAME **);
int	 cert_cidr_parse(const char *, unsigned char addr[16],
	    unsigned char mask[16]);
X509_NAME *cert_leaf_subject(const struct conf *, const struct ca_identity *,
	    const char *fallback_cn);
int	 cert_identity_from(const struct conf *, X509 *, struct ca_identity *);
char	*cert_url(const struct conf *, const char *kind, const char *ca);
int	 cert_load_pem(const char *path, X509 **);
int	 cert_write_pem(const char *path, X509 *const *, size_t n);
/*
 * The store record of a CA certificate x signed elsewhere (a ceremony):
 * its serial, times and DER (rec->der: OPENSSL_free() it), issued by
 * slot ca, profile "<section>-ca", status valid.
 */
struct store_cert;
int	 cert_record(X509 *x, int ca, const char *section,
	    struct store_cert *rec);

/*
 * commit.c: group commit. commit_write() applies fn's writes durably: fn
 * is called once with a write transaction (a nested one when other
 * writers share the commit), on this thread or on another writer's, and
 * returns LY_OK to keep its writes or an error to undo them and nothing
 * else. commit_write() returns fn's error (with its detail), or the
 * commit's, or LY_OK once the commit holding the writes is durable. So
 * fn must be quick and touch only the store and memory its caller lends
 * it: no HSM, no lock the caller may hold, no thread-local state but
 * ly_fail()'s. The caller must not hold a write transaction (it may
 * lead a batch, and LMDB has one writer).
 */
typedef int	(*commit_fn)(struct store_txn *, void *arg);
void	 commit_init(struct commit_queue *);
void	 commit_destroy(struct commit_queue *);
int	 commit_write(struct ca *, commit_fn, void *arg);

/*
 * issuers.c: the next CA of an issuer section -- its generation, slot
 * name, key URI (later generations: object "<name>-ca" on the section's
 * token) and subject (later generations end in " G<n>"). LY_ERR_STATE
 * if a rollover waits already. Cleared with issuer_plan_clear();
 * issuer_plan_conf() gives the section's settings with these.
 */
struct issuer_plan {
	const struct conf_ca	*sec;
	char			 name[CONF_NAME_MAX];
	unsigned int		 gen;
	char			*key_uri;
	char			*subject;
};
int	 issuer_plan(struct ca *, const char *issuer, struct issuer_plan *);
/*
 * hsm_keygen() of cc's key for a new CA; a key already under that label
 * that no CA of the instance has (left by a run that stopped before it
 * registered its CA) is taken instead of refused. *pubp: caller frees.
 */
int	 ca_keygen(struct ca *, const struct conf_ca *cc, const char *pin,
	    EVP_PKEY **pubp);
void	 issuer_plan_conf(const struct issuer_plan *, struct conf_ca *);
void	 issuer_plan_clear(struct issuer_plan *);

/*
 * rootroll.c: the key URI of root generation gen (the [root] key's object
 * with "-<gen>", on the [root] token). Caller frees.
 */
int	 root_gen_key_uri(const struct ca *, unsigned int gen, char **urip);

/* ceremony.c: the issuing CA's key and CSR on a new issuer-only instance. */
int	 ca_issuer_csr(struct ca *, const char *actor);

/* ca.c */
struct ca *ca_alloc(void);
const struct conf_ca *ca_slot_conf(const struct ca *, int slot);

/*
 * slots.c: slots_implied() sets slots 0 and 1 from [root] and [issuing]
 * (certificates not loaded: init makes them); slots_load() reads the
 * certificates of 0 and 1 from their files and every registered slot
 * from the store. slots_free() frees what they own.
 */
int	 slots_implied(struct ca *);
/*
 * The slot name of generation gen of section sec: its name for the
 * first, then <name>-<gen>, or <name>-g<gen> for an issuer whose CRL is
 * split in shards (named <name>-<k>).
 */
int	 slot_gen_name(const struct conf *, const struct conf_ca *sec,
	    unsigned int gen, char *buf, size_t len);
int	 slots_load(struct ca *);
void	 slots_free(struct ca *);
/* Sets a slot's certificate and its DER (takes x). */
int	 slot_set_cert(struct ca *, int slot, X509 *x);
/*
 * Makes the key of a new CA on its token and its certificate, signed by
 * the slot parent (reserved, signed, stored on the token and in certs/),
 * for cc (its key_uri, subject, days, constraints). *xp and *recp (the
 * store record of the certificate, status valid, not yet written) are set
 * on success.
 */
int	 ca_make_cert(struct ca *, const struct conf_ca *cc, int parent,
	    X509 **xp, struct store_cert *recp);

/* sign.c */
int	 ca_pin_load(const struct conf_ca *, char **pinp);
int	 ca_key_get(struct ca *, int slot, struct hsm_key **);
int	 ca_sign_cert(struct ca *, int slot, X509 *);
/*
 * Lints the self-signed x and signs it with the key of cc opened with
 * pin for this one signature: a new root generation, whose key no slot
 * holds until it is registered.
 */
int	 ca_sign_cert_self(const struct conf_ca *cc, const char *pin, X509 *x);

/* record.c (tok: see ca_issue_req.tok) */
int	 ca_reserve(struct ca *, struct store_cert *, const unsigned char *tok);
int	 ca_record(struct ca *, struct store_cert *, X509 *,
	    struct store_cert *old, const char *actor, const char *action);
int	 ca_record_der(struct ca *, struct store_cert *,
	    const unsigned char *der, size_t derlen, struct store_cert *old,
	    const unsigned char *tok, const char *actor, const char *action);

/* json.c */
char	*ca_audit_detail_cert(const struct store_cert *);
void	 ca_json_time(json_t *, const char *key, int64_t t);
void	 ca_json_serial(json_t *, const char *key, const struct ca_serial *);

/* policy.c */
int	 ca_identity_check(const struct conf *, const struct conf_profile *,
	    const struct ca_identity *in, struct ca_identity *out);

/* certp NULL: no X509, only *out (see issue()). */
int	 ca_issue_tok(struct ca *, const char *profile,
	    const struct ca_identity *, const unsigned char *tok,
	    const unsigned char *csr, size_t csrlen, const char *actor,
	    struct ca_issued *out, X509 **certp);

/* token.c: the token's state changes inside the issuing transactions. */
int	 token_claim(struct store_txn *, const unsigned char hash[32],
	    const struct ca_serial *);
int	 token_use(struct store_txn *, const unsigned char hash[32],
	    const struct ca_serial *, const char *actor);
void	 token_release(struct ca *, const unsigned char hash[32],
	    const struct ca_serial *);

#endif /* LANYARD_CA_EXTERN_H */
