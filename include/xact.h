/*-------------------------------------------------------------------------
 *
 * xact.h
 *		  Remote transactions on the shards (xact.c).
 *
 * include/xact.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_XACT_H
#define SHARDFDW_XACT_H

#include "connection.h"
#include "nodes/execnodes.h"
#include "storage/lock.h"

/* Register the local (sub)transaction callbacks; once, from _PG_init. */
extern void shardxact_init(void);

/* The current local transaction has used a shard connection. */
extern void shardxact_note_connection(void);

/*
 * The commands c's remote transaction owes before the next statement,
 * in order: START TRANSACTION when none is open, the rollback of a failed
 * speculative statement, queued commands (CLOSE, RELEASE), then the
 * SAVEPOINTs that bring the remote nesting level up to the local one.
 * The state of c is advanced as if they had been sent (the connection
 * layer sends them at the head of the batch).  The List and its strings
 * are palloc'd in CurrentMemoryContext.
 */
extern List *shardxact_owed_commands(ShardConn *c);

/*
 * May the write about to be sent to one shard run there as a statement of
 * its own, in the shard's implicit transaction (no remote transaction
 * commands: one round trip)?  Only when it is the whole local transaction:
 * outside a transaction block, a top-level statement, before any other
 * use of a shard.  The caller also makes sure it is a single statement to
 * a single shard whose local processing cannot fail afterwards (no
 * RETURNING, no triggers), then calls shardxact_note_autocommit.
 */
extern bool shardxact_may_autocommit(void);

/*
 * Does the innermost running executor run go to the end of its query
 * (ExecutorRun with no row count: not a cursor FETCH, not an SPI call
 * that wants only a row or two, such as PL/pgSQL's SELECT INTO)?
 */
extern bool shardxact_run_to_end(void);
extern void shardxact_note_autocommit(void);

/*
 * Every write calls this first: after a statement that committed on its
 * shard alone, another write in the same local transaction is refused.
 */
extern void shardxact_check_write(void);

/* Utility statements nest statements too (shardfdw.c's utility hook). */
extern void shardxact_utility_enter(void);
extern void shardxact_utility_leave(void);

/*
 * Call fn(arg) when the ExecutorRun of estate returns normally, before the
 * caller reads the rows it counted (modify.c sends its last batches of
 * row-by-row writes there).  Registrations end with the transaction.
 */
extern void shardxact_at_run_end(EState *estate, void (*fn) (void *arg),
								 void *arg);

/*
 * Every write takes, before it gets a shard's connection, the write lock of
 * the server (shard -1) and then that of each shard it writes to, in
 * RowExclusiveLock mode, to the end of the local transaction: advisory-type
 * locks (field4 SHARDFDW_LOCKTAG_SHARD) on (database, server, shard).
 * shardfdw.move_shard takes the moving shard's in ExclusiveLock mode to
 * hold its writes back while it switches it to its new place; split_shards
 * and a hand-made change of the number of shards take the server's, which
 * holds back every shard's writes at once (one lock: taking the shards'
 * one by one could deadlock with a writer holding some of them).
 */
#define SHARDFDW_LOCKTAG_SHARD 1801
/* ... and (database, server, 0) for a move or split running (reshard.c) */
#define SHARDFDW_LOCKTAG_OPERATION 1802
extern void shardxact_lock_for_write(ForeignServer *server, Bitmapset *shards);
extern void shardxact_shard_locktag(LOCKTAG *tag, Oid serverid, int shard);

/* c's remote transaction has modified data: its COMMIT is waited for. */
extern void shardxact_mark_written(ShardConn *c);

/*
 * A failure-injection point of the commit protocol (shardfdw.
 * test_fail_point, for tests): crash, fail or pause here if it names
 * point.
 */
extern void shardxact_fail_point(const char *point);

#endif							/* SHARDFDW_XACT_H */
