/*-------------------------------------------------------------------------
 *
 * join.h
 *		  Joins computed on the shards (join.c).
 *
 * include/join.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_JOIN_H
#define SHARDFDW_JOIN_H

#include "lib/stringinfo.h"
#include "nodes/pathnodes.h"

/* GetForeignJoinPaths: offer the join of two shardfdw tables per shard. */
extern void shardfdw_join_paths(PlannerInfo *root, RelOptInfo *joinrel,
								RelOptInfo *outerrel, RelOptInfo *innerrel,
								JoinType jointype,
								JoinPathExtraData *extra);

/*
 * Append " FROM ... [WHERE ...]" for a scan of rel (a shardfdw base
 * relation, or a join pushed down by shardfdw_join_paths).  Params go to
 * *params_list.
 */
extern void shardfdw_deparse_from_where(StringInfo buf, PlannerInfo *root,
										RelOptInfo *rel, List **params_list);

/* "t1 INNER JOIN t2" for EXPLAIN, palloc'd. */
extern char *shardfdw_join_description(PlannerInfo *root, RelOptInfo *rel);

#endif							/* SHARDFDW_JOIN_H */
