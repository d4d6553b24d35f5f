/*-------------------------------------------------------------------------
 *
 * combine.h
 *		  Partial aggregates: what the shards compute, how it is combined
 *		  (combine.c).
 *
 * include/combine.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_COMBINE_H
#define SHARDFDW_COMBINE_H

#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "shardfdw.h"

/* How the partial results of one aggregate are combined. */
typedef enum ShardAggCombine
{
	SHARD_COMBINE_FN = 1,		/* one partial of the result type, combined
								 * with the aggregate's combine function
								 * (count, sum of int2/int4/float, min,
								 * max, bool_and/or, bit_and/or, ...) */
	SHARD_COMBINE_NUMERIC_SUM,	/* sum(int8/numeric): numeric partial sums */
	SHARD_COMBINE_AVG,			/* avg(int2/int4/int8/numeric): sum and
								 * count, divided in numeric at the end */
	SHARD_COMBINE_VAR,			/* variance/stddev families over
								 * int2/int4/int8/numeric: count, sum and
								 * sum of squares, in numeric */
	SHARD_COMBINE_FLOAT,		/* avg and the variance/stddev families
								 * over float4/float8: sum, count and
								 * var_pop, i.e. the {N, Sx, Sxx} state of
								 * float8_accum, float8_combine */
	SHARD_COMBINE_FLOAT_REGR,	/* regr_*, corr, covar_*: regr_count, sum
								 * of x, regr_sxx, sum of y, regr_syy,
								 * regr_sxy: the float8_regr_accum state,
								 * float8_regr_combine */
	SHARD_COMBINE_ARRAY_AGG,	/* array_agg: arrays concatenated */
	SHARD_COMBINE_STRING_AGG,	/* string_agg(x, constant): the strings
								 * and the delimiter; joined with it */
	SHARD_COMBINE_JSON_AGG,		/* json_agg: JSON arrays concatenated */
	SHARD_COMBINE_JSON_AGG_ROWS,	/* json_agg of arrays / composites
									 * (", \n " between their elements) */
	SHARD_COMBINE_JSONB_AGG		/* jsonb_agg: jsonb arrays concatenated */
} ShardAggCombine;

/*
 * Can agg be computed from per-shard partials?  If so, set *kind, the
 * combine function (for SHARD_COMBINE_FN) and the types of the partial
 * columns the shards return (an OidList, palloc'd).
 */
extern bool shard_agg_combinable(Aggref *agg, ShardAggCombine *kind,
								 Oid *combinefn, List **partial_types);

/*
 * json_agg/jsonb_agg are STABLE (their output of some types depends on
 * settings), so the general shippability test refuses them.  True when
 * agg is one of them over a type whose JSON form is the same under the
 * shards' settings as here, and everything else in it is shippable.
 */
extern bool shard_agg_json_shippable(PlannerInfo *root, RelOptInfo *rel,
									 Aggref *agg);

/*
 * The partial columns the shards compute for agg (combined with rule
 * kind), as expressions over the same relation for deparse.c: a List of
 * Exprs, palloc'd, in the order the combiner reads them.
 */
extern List *shard_agg_partial_exprs(Aggref *agg, ShardAggCombine kind);

/* Human-readable combine rule of agg for EXPLAIN ("count -> sum"). */
extern char *shard_agg_explain(Oid aggfnoid, ShardAggCombine kind);

typedef struct ShardCombineScan ShardCombineScan;

/*
 * The plan-time description of how a scan of upper relation up turns the
 * shards' rows into its output: a List for the scan's fdw_private
 * (ShardScanPrivateCombine), which only combine.c builds and reads.
 */
extern List *shard_combine_plan(ShardUpperInfo *up);

/* Are the rows partial aggregates to combine (not final rows)? */
extern bool shard_combine_is_partial(List *plan);

/*
 * EXPLAIN's "Combine:" text of a plan ("count -> sum, ..."), palloc'd;
 * NULL when nothing is aggregated.
 */
extern char *shard_combine_explain(List *plan);

/*
 * Executor: set up the combining of a partial plan for a scan whose
 * output rows have descriptor scandesc, in memory context cxt (which must
 * live as long as the scan).  *rowdesc gets the layout of the rows the
 * shards return: the group keys, x of the DISTINCT aggregates if any, then
 * each aggregate's partial columns.
 */
extern ShardCombineScan *shard_combine_begin(List *plan, TupleDesc scandesc,
											 MemoryContext cxt,
											 TupleDesc *rowdesc);

/* Fold one row from a shard (in rowdesc's layout). */
extern void shard_combine_add(ShardCombineScan *cs, Datum *values,
							  bool *nulls);

/*
 * Once every shard row is added: the next group, as scandesc's keys and
 * final aggregate values; false after the last.  Values live in the
 * caller's current memory context or in the combiner's.
 */
extern bool shard_combine_next(ShardCombineScan *cs, Datum *values,
							   bool *nulls);

/* Forget every group (rescan). */
extern void shard_combine_reset(ShardCombineScan *cs);

/* Number of partial columns of an aggregate combined by kind. */
#define SHARD_AGG_PARTIAL_COLS(kind) \
	((kind) == SHARD_COMBINE_AVG || (kind) == SHARD_COMBINE_STRING_AGG ? 2 : \
	 (kind) == SHARD_COMBINE_VAR || (kind) == SHARD_COMBINE_FLOAT ? 3 : \
	 (kind) == SHARD_COMBINE_FLOAT_REGR ? 6 : 1)

/*
 * Can agg(DISTINCT x) of this kind be combined from the distinct values of
 * x per group (shard_combiner_distinct_partial)?  Not the concatenating
 * aggregates: their DISTINCT form returns the values sorted.
 */
#define SHARD_AGG_DISTINCT_OK(kind) \
	((kind) != SHARD_COMBINE_FLOAT_REGR && (kind) < SHARD_COMBINE_ARRAY_AGG)

/* The most partial columns any aggregate has (FLOAT_REGR). */
#define SHARD_AGG_MAX_PARTIAL_COLS 6

#endif							/* SHARDFDW_COMBINE_H */
