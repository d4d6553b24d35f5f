/*-------------------------------------------------------------------------
 *
 * deadlock.h
 *		  The distributed deadlock detector (deadlock.c).
 *
 * include/deadlock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_DEADLOCK_H
#define SHARDFDW_DEADLOCK_H

/* Define shardfdw.deadlock_timeout.  Once, from _PG_init. */
extern void shardfdw_deadlock_init(void);

/*
 * This backend's tag, "shardfdw:<system identifier>:<pid>", which starts
 * the application_name of every shard connection it makes (static
 * storage).
 */
extern const char *shardfdw_deadlock_tag(void);

/*
 * How long (ms) a statement may wait on the shards without a word before
 * shardfdw_deadlock_check is due; -1 when the detector is off.
 */
extern long shardfdw_deadlock_check_after(void);

/*
 * Called by a statement that has waited shardfdw.deadlock_timeout on the
 * shards: look for a cycle of lock waits through this backend's remote
 * transactions and raise ERROR 40P01 if this backend is to end it.
 * Returns whether it saw such a cycle (left to another member to end);
 * the caller checks less often while it sees none.
 */
extern bool shardfdw_deadlock_check(void);

/* the longest interval between two checks of one wait, in deadlock_timeouts */
#define SHARDFDW_DEADLOCK_MAX_BACKOFF 8

#endif							/* SHARDFDW_DEADLOCK_H */
