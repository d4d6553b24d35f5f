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
	SHARD_COMBINE_VAR			/* variance/stddev families over
								 * int2/int4/int8/numeric: count, sum and
								 * sum of squares, in numeric */
} ShardAggCombine;

/*
 * Can agg be computed from per-shard partials?  If so, set *kind, the
 * combine function (for SHARD_COMBINE_FN) and the types of the partial
 * columns the shards return (an OidList, palloc'd).
 */
extern bool shard_agg_combinable(Aggref *agg, ShardAggCombine *kind,
								 Oid *combinefn, List **partial_types);

/* Append the partial columns of agg ("sum(x), count(x)", ...) to buf. */
extern void shard_agg_deparse_partials(StringInfo buf, PlannerInfo *root,
									   RelOptInfo *baserel, Aggref *agg,
									   ShardAggCombine kind,
									   List **params_list);

/* Human-readable combine rule of agg for EXPLAIN ("count -> sum"). */
extern char *shard_agg_explain(Oid aggfnoid, ShardAggCombine kind);

typedef struct ShardCombiner ShardCombiner;

/*
 * A combiner of partial rows into groups.  Rows come in with ngroup group
 * key columns followed by each aggregate's partial columns; groups go out
 * as ngroup keys followed by each aggregate's final value, in outdesc's
 * layout.  Everything lives in a child of cxt.
 */
extern ShardCombiner *shard_combiner_create(TupleDesc outdesc, int ngroup,
											Oid *eqops, Oid *collations,
											int naggs, ShardAggCombine *kinds,
											Oid *combinefns, Oid *aggfnoids,
											Oid *inputcollids,
											MemoryContext cxt);
extern void shard_combiner_add(ShardCombiner *cb, Datum *values,
							   bool *nulls);
extern bool shard_combiner_next(ShardCombiner *cb, Datum *values,
								bool *nulls);
extern bool shard_combiner_next_states(ShardCombiner *cb, Datum *values,
									   bool *nulls);
extern void shard_combiner_reset(ShardCombiner *cb);
extern ShardAggCombine shard_combiner_kind(ShardCombiner *cb, int i);
extern void shard_combiner_distinct_partial(ShardCombiner *cb, int i,
											Datum x, bool xnull, Datum *out,
											bool *outnull);

/* Number of partial columns of an aggregate combined by kind. */
#define SHARD_AGG_PARTIAL_COLS(kind) \
	((kind) == SHARD_COMBINE_AVG ? 2 : (kind) == SHARD_COMBINE_VAR ? 3 : 1)

#endif							/* SHARDFDW_COMBINE_H */
