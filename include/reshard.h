/*-------------------------------------------------------------------------
 *
 * reshard.h
 *		  Moving and splitting shards online (reshard.c):
 *		  shardfdw.move_shard(), shardfdw.split_shards().
 *
 * include/reshard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_RESHARD_H
#define SHARDFDW_RESHARD_H

#include "fmgr.h"

/* Define the GUCs of shard moves (from _PG_init). */
extern void reshard_init(void);

/* CALL shardfdw.move_shard(server name, shard int, new_conninfo text) */
extern Datum shardfdw_move_shard(PG_FUNCTION_ARGS);

/* CALL shardfdw.split_shards(server name, new_conninfos text[]) */
extern Datum shardfdw_split_shards(PG_FUNCTION_ARGS);

#endif							/* SHARDFDW_RESHARD_H */
