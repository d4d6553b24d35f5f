/*-------------------------------------------------------------------------
 *
 * scan.h
 *		  Executor of shardfdw foreign scans (scan.c).
 *
 * include/scan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_SCAN_H
#define SHARDFDW_SCAN_H

#include "commands/explain.h"
#include "nodes/execnodes.h"

extern void shardscan_begin(ForeignScanState *node, int eflags);
extern TupleTableSlot *shardscan_iterate(ForeignScanState *node);
extern void shardscan_rescan(ForeignScanState *node);
extern void shardscan_end(ForeignScanState *node);
extern void shardscan_explain(ForeignScanState *node, ExplainState *es);

/*
 * IterateDirectModify: run a whole UPDATE or DELETE planned by
 * shardfdw_plan_direct_modify on its target shards (in parallel, on the
 * first call), then return its RETURNING rows one by one.
 */
extern TupleTableSlot *shardfdw_iterate_direct_modify(ForeignScanState *node);

#endif							/* SHARDFDW_SCAN_H */
