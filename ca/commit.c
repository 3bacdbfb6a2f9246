/*
 * ca/commit.c — group commit of the store's write transactions.
 *
 * Every durable LMDB commit is an fdatasync, and LMDB has one writer at a
 * time: when ca-server's threads issue at once, each waiting its turn for
 * a transaction of its own, the disk's sync latency and the commit's CPU
 * bound issuance, not the HSM. So a writer hands its work (a function
 * that applies its writes to a transaction) to a queue and sleeps. The
 * writer at the head of the queue leads: it takes the queue as it stands,
 * opens one write transaction, applies each writer's work in a nested
 * transaction of its own, commits once and wakes every writer with its
 * own result. A nested transaction that fails (a token used already, a
 * serial taken) is aborted alone and leaves the others' writes as they
 * were. Writers that arrive meanwhile queue behind the batch and form the
 * next one: the more writers wait, the more one sync carries.
 *
 * No writer returns before the commit that holds its writes is durable,
 * so the invariants that rest on a durable commit (DESIGN.md section 3)
 * hold as they did with a transaction per writer. A batch of one is
 * applied to the top-level transaction without a nested one: a single
 * writer does what it did before.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ca/extern.h"
#include "util/util.h"

/*
 * Writers in one transaction at most: bounds the dirty pages LMDB keeps
 * in memory, and how long the first writer of a batch waits for the last.
 */
#define COMMIT_BATCH_MAX	64

/* One writer's work; lives on its stack until it is done. */
struct commit_op {
	commit_fn		 fn;
	void			*arg;
	int			 r;
	int			 done;	/* under q->mu */
	pthread_cond_t		 cv;	/* done, or this op heads the queue */
	struct commit_op	*next;
	char			 detail[512];	/* as ly_errdetail() keeps */
};

void
commit_init(struct commit_queue *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	q->tail = &q->head;
}

void
commit_destroy(struct commit_queue *q)
{
	pthread_mutex_destroy(&q->mu);
}

/*
 * ly_errdetail() is per thread, and the work runs on the leader's: keep
 * the detail with the op so that its own writer can report it.
 */
static void
op_fail(struct commit_op *op, int r)
{
	op->r = r;
	snprintf(op->detail, sizeof(op->detail), "%s", ly_errdetail());
}

static void
op_apply(struct commit_op *op, struct store_txn *txn)
{
	ly_errclear();
	if ((op->r = op->fn(txn, op->arg)) != LY_OK)
		op_fail(op, op->r);
}

/*
 * A batch of one: the work in the top-level transaction, as ever.
 * Returns 1 if it committed, else 0.
 */
static int
run_one(struct store *st, struct commit_op *op)
{
	struct store_txn *txn = NULL;
	int r;

	if ((r = store_txn_begin(st, 1, &txn)) != LY_OK) {
		op_fail(op, r);
		return 0;
	}
	op_apply(op, txn);
	if (op->r != LY_OK) {
		store_txn_abort(txn);
		return 0;
	}
	if ((r = store_txn_commit(txn)) != LY_OK) {
		op_fail(op, r);
		return 0;
	}
	return 1;
}

/*
 * Each op in a child of one transaction. Returns 1 if the transaction
 * committed, else 0 (then every op has failed).
 */
static int
run_batch(struct store *st, struct commit_op **ops, size_t n)
{
	struct store_txn *txn = NULL, *child;
	size_t i, nok = 0;
	int r;

	if (n == 1)
		return run_one(st, ops[0]);
	if ((r = store_txn_begin(st, 1, &txn)) != LY_OK) {
		for (i = 0; i < n; i++)
			op_fail(ops[i], r);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if ((r = store_txn_begin_child(txn, &child)) != LY_OK) {
			op_fail(ops[i], r);
			continue;
		}
		op_apply(ops[i], child);
		if (ops[i]->r != LY_OK) {
			store_txn_abort(child);
			continue;
		}
		/* A failed commit of a child aborts it alone (LMDB). */
		if ((r = store_txn_commit(child)) != LY_OK) {
			op_fail(ops[i], r);
			continue;
		}
		nok++;
	}
	if (nok == 0) {
		store_txn_abort(txn);
		return 0;
	}
	/* One sync for the batch; if it fails, nothing of it was stored. */
	if ((r = store_txn_commit(txn)) != LY_OK) {
		for (i = 0; i < n; i++)
			if (ops[i]->r == LY_OK)
				op_fail(ops[i], r);
		return 0;
	}
	return 1;
}

int
commit_write(struct ca *ca, commit_fn fn, void *arg)
{
	struct commit_queue *q = &ca->commit;
	struct commit_op op, *batch[COMMIT_BATCH_MAX], *p;
	size_t i, n = 0, nok = 0;
	int commits;

	memset(&op, 0, sizeof(op));
	op.fn = fn;
	op.arg = arg;
	pthread_cond_init(&op.cv, NULL);

	pthread_mutex_lock(&q->mu);
	*q->tail = &op;
	q->tail = &op.next;
	q->queued++;
	while (!op.done && q->head != &op)
		pthread_cond_wait(&op.cv, &q->mu);
	if (op.done)
		goto out;

	/*
	 * This op heads the queue: lead. The batch stays at the head while
	 * it runs, so writers that arrive meanwhile wait behind it; only
	 * the tail's next pointer changes under us, and it is read with the
	 * lock held.
	 */
	for (p = q->head; p != NULL && n < COMMIT_BATCH_MAX; p = p->next)
		batch[n++] = p;
	pthread_mutex_unlock(&q->mu);

	commits = run_batch(ca->store, batch, n);

	pthread_mutex_lock(&q->mu);
	if ((q->head = batch[n - 1]->next) == NULL)
		q->tail = &q->head;
	q->queued -= n;
	for (i = 0; i < n; i++) {
		if (batch[i]->r == LY_OK)
			nok++;
		batch[i]->done = 1;
		if (batch[i] != &op)
			pthread_cond_signal(&batch[i]->cv);
	}
	/* The next batch's first writer leads it. */
	if (q->head != NULL)
		pthread_cond_signal(&q->head->cv);
	q->stats.commits += (uint64_t)commits;
	q->stats.writes += nok;
	q->stats.failed += n - nok;
	if (n > q->stats.max_batch)
		q->stats.max_batch = n;
 out:
	pthread_mutex_unlock(&q->mu);
	pthread_cond_destroy(&op.cv);
	if (op.r != LY_OK)
		return ly_fail(op.r, "%s", op.detail);
	return LY_OK;
}

void
ca_commit_stats(struct ca *ca, struct ca_commit_stats *s)
{
	pthread_mutex_lock(&ca->commit.mu);
	*s = ca->commit.stats;
	pthread_mutex_unlock(&ca->commit.mu);
}
