/*-------------------------------------------------------------------------
 *
 * recovery.h
 *		  Resolving prepared transactions left on the shards (recovery.c):
 *		  shardfdw.recover_prepared_transactions() and its background worker.
 *
 * include/recovery.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_RECOVERY_H
#define SHARDFDW_RECOVERY_H

/*
 * Define the recovery worker's settings (shardfdw.recovery_databases,
 * shardfdw.recovery_interval) and, when loaded by shared_preload_libraries,
 * register one worker per listed database.  Once, from _PG_init.
 */
extern void shardfdw_recovery_init(void);

#endif							/* SHARDFDW_RECOVERY_H */
