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
#include "nodes/plannodes.h"

/* GetForeignJoinPaths: offer the join of two shardfdw tables per shard. */
extern void shardfdw_join_paths(PlannerInfo *root, RelOptInfo *joinrel,
								RelOptInfo *outerrel, RelOptInfo *innerrel,
								JoinType jointype,
								JoinPathExtraData *extra);

/*
 * GetForeignPlan of a join pushed down by shardfdw_join_paths: the
 * ForeignScan, its fdw_scan_tlist the columns the join's output and its
 * local quals need.
 */
extern ForeignScan *shardfdw_plan_join_scan(PlannerInfo *root,
											RelOptInfo *joinrel,
											ForeignPath *best_path,
											List *tlist, Plan *outer_plan);

/* "t1 INNER JOIN t2" for EXPLAIN, palloc'd. */
extern char *shardfdw_join_description(PlannerInfo *root, RelOptInfo *rel);

#endif							/* SHARDFDW_JOIN_H */
