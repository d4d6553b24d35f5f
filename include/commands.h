/*-------------------------------------------------------------------------
 *
 * commands.h
 *		  Statements run on every shard of a server (commands.c):
 *		  shardfdw.run_on_shards().
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

#endif							/* SHARDFDW_COMMANDS_H */
