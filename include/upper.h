/*-------------------------------------------------------------------------
 *
 * upper.h
 *		  Planning of grouping, DISTINCT, ORDER BY and LIMIT on the shards
 *		  (upper.c).
 *
 * include/upper.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_UPPER_H
#define SHARDFDW_UPPER_H

#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"

/*
 * GetForeignUpperPaths: offer the query block above a shardfdw scan or
 * pushed-down join -- its grouping and aggregates, DISTINCT, ORDER BY and
 * LIMIT -- computed on the shards.
 */
extern void shardfdw_upper_paths(PlannerInfo *root, UpperRelationKind stage,
								 RelOptInfo *input_rel,
								 RelOptInfo *output_rel, void *extra);

/*
 * The ForeignScan of such an upper relation (GetForeignPlan for
 * scanrelid 0 over a grouped, ordered or final relation).
 */
extern ForeignScan *shardfdw_plan_upper_scan(PlannerInfo *root,
											 RelOptInfo *rel, List *tlist,
											 Plan *outer_plan);

#endif							/* SHARDFDW_UPPER_H */
