/*-------------------------------------------------------------------------
 *
 * modify.h
 *		  INSERT, UPDATE, DELETE and TRUNCATE of shardfdw tables (modify.c).
 *
 * include/modify.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_MODIFY_H
#define SHARDFDW_MODIFY_H

#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "parser/analyze.h"

/*
 * fdw_private of a row-by-row foreign modification (PlanForeignModify): a
 * List indexed by these.
 */
typedef enum ShardModifyPrivateIndex
{
	ShardModifyPrivateSql,		/* String: INSERT (one row), UPDATE or
								 * DELETE of one row by ctid */
	ShardModifyPrivateTargetAttrs,	/* IntList: columns sent, in order */
	ShardModifyPrivateRetrievedAttrs,	/* IntList: RETURNING columns */
	ShardModifyPrivateOnConflict,	/* String: the INSERT's ON CONFLICT
									 * clause, or "" */
	ShardModifyPrivateAlias,	/* Integer: the INSERT names its target
								 * r<n> (for ON CONFLICT DO UPDATE), or 0 */
	ShardModifyPrivateMovesRows,	/* Integer: UPDATE may change the
									 * distribution key (rows may move) */
	ShardModifyPrivateSingleRow,	/* Integer: INSERT of one VALUES row */
	ShardModifyPrivateCount
} ShardModifyPrivateIndex;

/* The FdwRoutine callbacks of writes (see modify.c). */
extern int	shardfdw_is_updatable(Relation rel);
extern void shardfdw_add_update_targets(PlannerInfo *root, Index rtindex,
										RangeTblEntry *target_rte,
										Relation target_relation);
extern List *shardfdw_plan_modify(PlannerInfo *root, ModifyTable *plan,
								  Index resultRelation, int subplan_index);
extern void shardfdw_begin_modify(ModifyTableState *mtstate,
								  ResultRelInfo *rinfo, List *fdw_private,
								  int subplan_index, int eflags);
extern TupleTableSlot *shardfdw_exec_insert(EState *estate,
											ResultRelInfo *rinfo,
											TupleTableSlot *slot,
											TupleTableSlot *planSlot);
extern TupleTableSlot **shardfdw_exec_batch_insert(EState *estate,
												   ResultRelInfo *rinfo,
												   TupleTableSlot **slots,
												   TupleTableSlot **planSlots,
												   int *numSlots);
extern int	shardfdw_batch_size(ResultRelInfo *rinfo);
extern TupleTableSlot *shardfdw_exec_update(EState *estate,
											ResultRelInfo *rinfo,
											TupleTableSlot *slot,
											TupleTableSlot *planSlot);
extern TupleTableSlot *shardfdw_exec_delete(EState *estate,
											ResultRelInfo *rinfo,
											TupleTableSlot *slot,
											TupleTableSlot *planSlot);
extern void shardfdw_end_modify(EState *estate, ResultRelInfo *rinfo);
extern void shardfdw_begin_insert(ModifyTableState *mtstate,
								  ResultRelInfo *rinfo);
extern void shardfdw_end_insert(EState *estate, ResultRelInfo *rinfo);
extern void shardfdw_explain_modify(ModifyTableState *mtstate,
									ResultRelInfo *rinfo, List *fdw_private,
									int subplan_index, ExplainState *es);
extern bool shardfdw_plan_direct_modify(PlannerInfo *root, ModifyTable *plan,
										Index resultRelation,
										int subplan_index);
extern void shardfdw_exec_truncate(List *rels, DropBehavior behavior,
								   bool restart_seqs);

/* Install the hooks of modify.c; once, from _PG_init. */
extern void shardfdw_modify_init(void);

/*
 * post_parse_analyze_hook: keep the conflict target of an INSERT ... ON
 * CONFLICT (cols) into a shardfdw table for the shards (PostgreSQL's own
 * arbiter inference would fail: a foreign table has no unique index).
 */
extern void shardfdw_post_parse_analyze(ParseState *pstate, Query *query,
										JumbleState *jstate);

#endif							/* SHARDFDW_MODIFY_H */
