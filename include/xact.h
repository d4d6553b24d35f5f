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

/* c's remote transaction has modified data: its COMMIT is waited for. */
extern void shardxact_mark_written(ShardConn *c);

#endif							/* SHARDFDW_XACT_H */
