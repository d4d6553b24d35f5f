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

#endif							/* SHARDFDW_SCAN_H */
