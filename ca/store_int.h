/*
 * ca/store_int.h — declarations shared by the store's files only:
 * ca/store.c, ca/audit.c, ca/store_copy.c and ca/store_disabled.c. The
 * rest of the tree sees the opaque handles of ca/store.h.
 */
#ifndef LANYARD_STORE_INT_H
#define LANYARD_STORE_INT_H

#include <stdint.h>

#include <lmdb.h>

struct store {
	MDB_env		*env;
	int		 rdonly;
	int		 existing;	/* STORE_EXISTING */
	/* Opened once in store_open(), then only read: safe from any thread. */
	MDB_dbi		 meta;
	MDB_dbi		 certs;
	MDB_dbi		 identity;
	MDB_dbi		 expiry;
	MDB_dbi		 revoked;
	MDB_dbi		 audit;
	MDB_dbi		 ocsp;
	MDB_dbi		 tokens;
	int		 no_tokens;	/* read-only store made before tokens */
	MDB_dbi		 disabled;
	int		 no_disabled;	/* read-only store of schema 1 */
	int		 upgrade;	/* STORE_UPGRADE */
	uint32_t	 schema;	/* version found (or written) */
};

struct store_txn {
	struct store	*st;
	MDB_txn		*txn;
	int		 write;
};

/* meta key of the audit head: seq(8, big-endian) ‖ hash(32). */
#define STORE_META_AUDIT_HEAD	"audit_head"
#define STORE_AUDIT_HEAD_LEN	(8 + 32)

/*
 * Maps an LMDB return code to LY_ERR_* and records "what: reason" in
 * ly_errdetail(): MDB_MAP_FULL → LY_ERR_STORE_FULL, MDB_NOTFOUND →
 * LY_ERR_NOT_FOUND, MDB_KEYEXIST → LY_ERR_EXISTS, anything else
 * LY_ERR_STORE.
 */
int		 store_mdb_err(int rc, const char *what);
/* LY_OK if t is a write transaction, else LY_ERR_ARG naming op. */
int		 store_txn_need_write(const struct store_txn *t, const char *op);

#endif /* LANYARD_STORE_INT_H */
