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

/* shardfdw.run_on_shards(server name, sql text, shards int[]) */
extern Datum shardfdw_run_on_shards(PG_FUNCTION_ARGS);

#endif							/* SHARDFDW_COMMANDS_H */
