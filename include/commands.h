/*-------------------------------------------------------------------------
 *
 * commands.h
 *		  Statements run on every shard of a server (commands.c):
 *		  shardfdw.run_on_shards(), shardfdw.create_distributed_table(),
 *		  and the check that refuses a change of the number of shards of a
 *		  server whose distributed tables have rows.
 *
 * include/commands.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_COMMANDS_H
#define SHARDFDW_COMMANDS_H

#include "fmgr.h"
#include "foreign/foreign.h"
#include "nodes/pg_list.h"

/* shardfdw.run_on_shards(server name, sql text, shards int[]) */
extern Datum shardfdw_run_on_shards(PG_FUNCTION_ARGS);

/* The shardfdw server named srvname (an error if it is not one). */
extern ForeignServer *shardfdw_server(const char *srvname);

/*
 * The OIDs of the shardfdw foreign tables of server serverid (InvalidOid:
 * of every shardfdw server), ordered by name; in CurrentMemoryContext.
 */
extern List *shardfdw_table_oids(Oid serverid);

/*
 * shardfdw.create_distributed_table(rel regclass, server name,
 * distribution_column name, distribution text)
 */
extern Datum shardfdw_create_distributed_table(PG_FUNCTION_ARGS);

/* Is serverid a server of a shardfdw wrapper (false if it does not exist)? */
extern bool shardfdw_is_shardfdw_server(Oid serverid);

/*
 * Called by the utility hook after an ALTER SERVER changed the number of
 * shards (pN options) of a shardfdw server from old_nshards (old: the
 * server as it was before, palloc'd) to new_nshards: raises an ERROR
 * unless every hash or modulo table of the server is empty on every shard
 * of the old configuration (probed over connections of their own, with a
 * deadline; a shard that does not answer is an error too), since where
 * such a row lives depends on the number of shards.  Replicated tables
 * and tables without a distribution column do not count.
 */
extern void shardfdw_check_resize(ForeignServer *old, int old_nshards,
								  int new_nshards);

/*
 * An ALTER SERVER changed server serverid (the object access hook, before
 * the new version is visible): note its number of shards as it was, unless
 * shardfdw_allow_resize is on.
 */
extern void shardfdw_note_server_alter(Oid serverid);

/*
 * Check the noted changes (shardfdw_check_resize for each), from the
 * utility hook after the ALTER SERVER, or at pre-commit for one it did not
 * wrap.  The visible catalog must have the new versions.
 */
extern void shardfdw_check_resizes(void);

/*
 * Let (allow true) or stop letting (false) this backend change the number
 * of shards of a server whose distributed tables have rows, bypassing
 * shardfdw_check_resize.  For C code that moves the rows itself
 * (shardfdw.split_shards, reshard.c), around its own ALTER SERVER: it must
 * reset the flag in a PG_FINALLY, since nothing else does (an error does
 * not).
 */
extern void shardfdw_allow_resize(bool allow);

#endif							/* SHARDFDW_COMMANDS_H */
