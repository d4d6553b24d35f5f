/*-------------------------------------------------------------------------
 *
 * combine.c
 *		  Partial aggregates: what the shards compute, and combining it.
 *
 * When an aggregate query cannot be shipped whole (its groups span
 * shards), every shard computes partial results per group and the
 * coordinator combines them.  Three rules cover the supported aggregates:
 *
 *	SHARD_COMBINE_FN: the aggregate's transition state is its result (no
 *		final function, a plain transition type) and it has a strict
 *		combine function: the shards return the aggregate itself and the
 *		results are folded with the combine function.  count (-> sum of
 *		counts), sum of int2/int4/float4/float8/interval/money, min, max,
 *		bool_and, bool_or, every, bit_and, bit_or, ...
 *	SHARD_COMBINE_NUMERIC_SUM: sum(int8) and sum(numeric) return numeric
 *		partial sums, added exactly.
 *	SHARD_COMBINE_AVG: avg of int2/int4/int8/numeric: the shards return
 *		sum and count; the coordinator divides the totals in numeric, as
 *		PostgreSQL's own final functions do, so the result is identical.
 *	SHARD_COMBINE_VAR: var_samp/var_pop/variance/stddev_samp/stddev_pop/
 *		stddev of int2/int4/int8/numeric: the shards return count, sum and
 *		sum of squares in numeric (exact); the coordinator applies
 *		PostgreSQL's formula (N*sumX2 - sumX^2) / (N*(N-1) or N*N) with the
 *		same numeric scales; the square root is correctly rounded to the
 *		variance's scale, as sqrt_var rounds it.
 *
 * Anything else (DISTINCT or ordered aggregates, float variances,
 * internal states such as string_agg, user-defined aggregates without such a rule) is
 * not combinable: the planner then leaves aggregation to the coordinator
 * over fetched rows, which is always right.
 *
 * The combiner keeps one state per group in a TupleHashTable keyed by the
 * group values with the GROUP BY equality operators; all of it lives in a
 * memory context that is reset between scans.
 *
 * src/combine.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "combine.h"
#include "deparse.h"

/* State slots per aggregate: variance needs three (sum, count, sumsq). */
#define STATES_PER_AGG 3

struct ShardCombiner
{
	TupleDesc	outdesc;
	int			ngroup;
	int			naggs;
	ShardAggCombine *kinds;
	FmgrInfo   *combine;		/* per aggregate (SHARD_COMBINE_FN) */
	Oid		   *inputcollids;
	int16	   *typlen;			/* per state slot */
	bool	   *typbyval;
	Datum	   *empty_values;	/* FN results of an empty input */
	bool	   *empty_nulls;
	bool	   *var_sample;		/* VAR: divide by N*(N-1), else N*N */
	bool	   *var_sqrt;		/* VAR: stddev, else variance */
	bool	   *int_sum;		/* AVG/VAR: the partial sum is int8 */
	FmgrInfo   *transfn;		/* FN: the aggregate's transition function,
								 * to turn a DISTINCT value into a partial */
	Oid		   *argtype;		/* the aggregate's declared argument type */

	MemoryContext cxt;			/* everything below */
	MemoryContext tablecxt;		/* groups; reset between scans */
	MemoryContext tempcxt;
	TupleDesc	keydesc;
	TupleTableSlot *keyslot;	/* virtual: group keys of an input row */
	TupleTableSlot *firstslot;	/* minimal: a group's stored keys */
	FmgrInfo	numeric_add;
	FmgrInfo	int8_add;
	TupleHashTable table;		/* NULL without GROUP BY */
	TupleHashIterator iter;
	bool		iterating;

	/* without GROUP BY: one group, output even for empty input */
	Datum	   *single_values;
	bool	   *single_nulls;
	bool		single_done;
};

/* Is aggregate aggfnoid pg_catalog.<name>? */
static bool
is_catalog_agg(Oid aggfnoid, const char *name)
{
	return get_func_namespace(aggfnoid) == PG_CATALOG_NAMESPACE &&
		strcmp(get_func_name(aggfnoid), name) == 0;
}

/*
 * shard_agg_combinable: see combine.h.
 */
bool
shard_agg_combinable(Aggref *agg, ShardAggCombine *kind, Oid *combinefn,
					 List **partial_types)
{
	HeapTuple	tup;
	Form_pg_aggregate aggform;
	Oid			argtype = InvalidOid;
	bool		ok = false;

	*partial_types = NIL;
	*combinefn = InvalidOid;
	if (agg->aggkind != AGGKIND_NORMAL || agg->aggdistinct != NIL ||
		agg->aggorder != NIL || agg->aggsplit != AGGSPLIT_SIMPLE ||
		agg->agglevelsup != 0 || list_length(agg->args) > 1)
		return false;
	if (agg->args != NIL)
		argtype = exprType((Node *) linitial_node(TargetEntry, agg->args)->expr);

	if (is_catalog_agg(agg->aggfnoid, "avg") &&
		(argtype == INT2OID || argtype == INT4OID || argtype == INT8OID ||
		 argtype == NUMERICOID))
	{
		*kind = SHARD_COMBINE_AVG;
		*partial_types = list_make2_oid(argtype == INT2OID ||
										argtype == INT4OID ?
										INT8OID : NUMERICOID, INT8OID);
		return true;
	}
	if ((is_catalog_agg(agg->aggfnoid, "var_samp") ||
		 is_catalog_agg(agg->aggfnoid, "var_pop") ||
		 is_catalog_agg(agg->aggfnoid, "variance") ||
		 is_catalog_agg(agg->aggfnoid, "stddev_samp") ||
		 is_catalog_agg(agg->aggfnoid, "stddev_pop") ||
		 is_catalog_agg(agg->aggfnoid, "stddev")) &&
		(argtype == INT2OID || argtype == INT4OID || argtype == INT8OID ||
		 argtype == NUMERICOID))
	{
		*kind = SHARD_COMBINE_VAR;
		*partial_types = list_make3_oid(argtype == INT2OID ||
										argtype == INT4OID ?
										INT8OID : NUMERICOID,
										INT8OID, NUMERICOID);
		return true;
	}
	if (is_catalog_agg(agg->aggfnoid, "sum") &&
		(argtype == INT8OID || argtype == NUMERICOID))
	{
		*kind = SHARD_COMBINE_NUMERIC_SUM;
		*partial_types = list_make1_oid(NUMERICOID);
		return true;
	}

	tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg->aggfnoid));
	if (!HeapTupleIsValid(tup))
		return false;
	aggform = (Form_pg_aggregate) GETSTRUCT(tup);
	if (!OidIsValid(aggform->aggfinalfn) &&
		OidIsValid(aggform->aggcombinefn) &&
		aggform->aggtranstype != INTERNALOID &&
		(aggform->aggtranstype == agg->aggtype ||
		 IsPolymorphicType(aggform->aggtranstype)) &&
		func_strict(aggform->aggcombinefn))
	{
		*kind = SHARD_COMBINE_FN;
		*combinefn = aggform->aggcombinefn;
		*partial_types = list_make1_oid(agg->aggtype);
		ok = true;
	}
	ReleaseSysCache(tup);
	return ok;
}

/*
 * shard_agg_deparse_partials: see combine.h.  For FN and NUMERIC_SUM the
 * partial is the aggregate itself; avg becomes sum and count of the same
 * argument under the same FILTER, variance adds the sum of squares.
 */
void
shard_agg_deparse_partials(StringInfo buf, PlannerInfo *root,
						   RelOptInfo *baserel, Aggref *agg,
						   ShardAggCombine kind, List **params_list)
{
	Expr	   *arg;

	if (kind == SHARD_COMBINE_FN || kind == SHARD_COMBINE_NUMERIC_SUM)
	{
		shardfdw_deparse_expr(buf, root, baserel, (Expr *) agg, params_list);
		return;
	}
	/*
	 * avg: sum and count (the sum is int8 for int2/int4 input, numeric
	 * otherwise: exact either way, and shared with a sum(x) of the query);
	 * variance adds the sum of squares, computed exactly in numeric.
	 */
	arg = linitial_node(TargetEntry, agg->args)->expr;
	for (int i = 0; i < (kind == SHARD_COMBINE_VAR ? 3 : 2); i++)
	{
		if (i == 0)
			appendStringInfoString(buf, "sum(");
		else if (i == 1)
			appendStringInfoString(buf, ", count(");
		else
		{
			appendStringInfoString(buf, ", sum((");
			shardfdw_deparse_expr(buf, root, baserel, arg, params_list);
			appendStringInfoString(buf, ")::numeric * (");
		}
		shardfdw_deparse_expr(buf, root, baserel, arg, params_list);
		appendStringInfoString(buf, i == 2 ? ")::numeric)" : ")");
		if (agg->aggfilter)
		{
			appendStringInfoString(buf, " FILTER (WHERE ");
			shardfdw_deparse_expr(buf, root, baserel, agg->aggfilter,
								  params_list);
			appendStringInfoChar(buf, ')');
		}
	}
}

/* shard_agg_explain: see combine.h; palloc'd. */
char *
shard_agg_explain(Oid aggfnoid, ShardAggCombine kind)
{
	char	   *name = get_func_name(aggfnoid);

	switch (kind)
	{
		case SHARD_COMBINE_AVG:
			return psprintf("%s -> sum/count", name);
		case SHARD_COMBINE_VAR:
			return psprintf("%s -> count, sum, sum of squares", name);
		case SHARD_COMBINE_NUMERIC_SUM:
			return psprintf("%s -> sum", name);
		case SHARD_COMBINE_FN:
			if (strcmp(name, "count") == 0)
				return psprintf("%s -> sum", name);
			return psprintf("%s -> %s", name, name);
	}
	return name;
}

/*
 * Empty-input result of an FN aggregate: its initial value (count: 0),
 * else NULL.
 */
static void
fn_empty_value(Oid aggfnoid, Oid rettype, Datum *value, bool *isnull)
{
	HeapTuple	tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
	Datum		init;
	bool		initnull;

	*value = (Datum) 0;
	*isnull = true;
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
	init = SysCacheGetAttr(AGGFNOID, tup, Anum_pg_aggregate_agginitval,
						   &initnull);
	if (!initnull)
	{
		Oid			typinput;
		Oid			typioparam;

		getTypeInputInfo(rettype, &typinput, &typioparam);
		*value = OidInputFunctionCall(typinput, TextDatumGetCString(init),
									  typioparam, -1);
		*isnull = false;
	}
	ReleaseSysCache(tup);
}

/*
 * shard_combiner_create: see combine.h.  The arrays are copied.
 */
ShardCombiner *
shard_combiner_create(TupleDesc outdesc, int ngroup, Oid *eqops,
					  Oid *collations, int naggs, ShardAggCombine *kinds,
					  Oid *combinefns, Oid *aggfnoids, Oid *inputcollids,
					  MemoryContext cxt)
{
	ShardCombiner *cb;
	MemoryContext old;
	int			nstates = naggs * STATES_PER_AGG;

	cxt = AllocSetContextCreate(cxt, "shardfdw combine",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	cb = palloc0(sizeof(ShardCombiner));
	cb->cxt = cxt;
	cb->tablecxt = AllocSetContextCreate(cxt, "shardfdw groups",
										 ALLOCSET_DEFAULT_SIZES);
	cb->tempcxt = AllocSetContextCreate(cxt, "shardfdw combine temp",
										ALLOCSET_SMALL_SIZES);
	cb->outdesc = outdesc;
	cb->ngroup = ngroup;
	fmgr_info_cxt(F_NUMERIC_ADD, &cb->numeric_add, cxt);
	fmgr_info_cxt(F_INT8PL, &cb->int8_add, cxt);
	cb->naggs = naggs;
	cb->kinds = palloc(sizeof(ShardAggCombine) * Max(naggs, 1));
	cb->combine = palloc0(sizeof(FmgrInfo) * Max(naggs, 1));
	cb->inputcollids = palloc(sizeof(Oid) * Max(naggs, 1));
	cb->typlen = palloc(sizeof(int16) * Max(nstates, 1));
	cb->typbyval = palloc(sizeof(bool) * Max(nstates, 1));
	cb->empty_values = palloc0(sizeof(Datum) * Max(naggs, 1));
	cb->empty_nulls = palloc(sizeof(bool) * Max(naggs, 1));
	cb->var_sample = palloc0(sizeof(bool) * Max(naggs, 1));
	cb->var_sqrt = palloc0(sizeof(bool) * Max(naggs, 1));
	cb->int_sum = palloc0(sizeof(bool) * Max(naggs, 1));
	cb->transfn = palloc0(sizeof(FmgrInfo) * Max(naggs, 1));
	cb->argtype = palloc0(sizeof(Oid) * Max(naggs, 1));

	for (int i = 0; i < naggs; i++)
	{
		Oid			rettype = TupleDescAttr(outdesc, ngroup + i)->atttypid;

		Oid		   *sigtypes;
		int			nsig;

		cb->kinds[i] = kinds[i];
		cb->inputcollids[i] = inputcollids[i];
		cb->empty_nulls[i] = true;
		(void) get_func_signature(aggfnoids[i], &sigtypes, &nsig);
		cb->argtype[i] = nsig == 1 ? sigtypes[0] : InvalidOid;
		if (kinds[i] == SHARD_COMBINE_FN)
		{
			HeapTuple	tup = SearchSysCache1(AGGFNOID,
											  ObjectIdGetDatum(aggfnoids[i]));

			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for aggregate %u",
					 aggfnoids[i]);
			fmgr_info_cxt(((Form_pg_aggregate) GETSTRUCT(tup))->aggtransfn,
						  &cb->transfn[i], cxt);
			ReleaseSysCache(tup);
			fmgr_info_cxt(combinefns[i], &cb->combine[i], cxt);
			get_typlenbyval(rettype, &cb->typlen[i * STATES_PER_AGG],
							&cb->typbyval[i * STATES_PER_AGG]);
			fn_empty_value(aggfnoids[i], rettype, &cb->empty_values[i],
						   &cb->empty_nulls[i]);
		}
		else
		{
			/* numeric sum in slot 0, int8 count in 1, numeric sumsq in 2 */
			char	   *name = get_func_name(aggfnoids[i]);
			Oid		   *argtypes;
			int			nargs;

			/* int2/int4 input: the shards sum in int8 */
			(void) get_func_signature(aggfnoids[i], &argtypes, &nargs);
			cb->int_sum[i] = nargs == 1 &&
				(argtypes[0] == INT2OID || argtypes[0] == INT4OID);
			get_typlenbyval(cb->int_sum[i] ? INT8OID : NUMERICOID,
							&cb->typlen[i * STATES_PER_AGG],
							&cb->typbyval[i * STATES_PER_AGG]);
			cb->var_sample[i] = strcmp(name, "var_pop") != 0 &&
				strcmp(name, "stddev_pop") != 0;
			cb->var_sqrt[i] = strncmp(name, "stddev", 6) == 0;
		}
		get_typlenbyval(INT8OID, &cb->typlen[i * STATES_PER_AGG + 1],
						&cb->typbyval[i * STATES_PER_AGG + 1]);
		get_typlenbyval(NUMERICOID, &cb->typlen[i * STATES_PER_AGG + 2],
						&cb->typbyval[i * STATES_PER_AGG + 2]);
	}

	if (ngroup > 0)
	{
		AttrNumber *keycols = palloc(sizeof(AttrNumber) * ngroup);
		Oid		   *eqfuncs;
		FmgrInfo   *hashfuncs;

		cb->keydesc = CreateTemplateTupleDesc(ngroup);
		for (int i = 0; i < ngroup; i++)
		{
			TupleDescCopyEntry(cb->keydesc, i + 1, outdesc, i + 1);
			keycols[i] = i + 1;
		}
		cb->keyslot = MakeSingleTupleTableSlot(cb->keydesc,
											   &TTSOpsVirtual);
		cb->firstslot = MakeSingleTupleTableSlot(cb->keydesc,
												 &TTSOpsMinimalTuple);
		execTuplesHashPrepare(ngroup, eqops, &eqfuncs, &hashfuncs);
		cb->table = BuildTupleHashTableExt(NULL, cb->keydesc, ngroup,
										   keycols, eqfuncs, hashfuncs,
										   collations, 256,
										   sizeof(Datum) * nstates +
										   sizeof(bool) * nstates,
										   cxt, cb->tablecxt,
										   cb->tempcxt, false);
	}
	MemoryContextSwitchTo(old);
	shard_combiner_reset(cb);
	return cb;
}

/* shard_combiner_reset: forget all groups (for a rescan). */
void
shard_combiner_reset(ShardCombiner *cb)
{
	int			nstates = cb->naggs * STATES_PER_AGG;

	cb->iterating = false;
	cb->single_done = false;
	/* the table's structure lives in cxt, its entries in tablecxt */
	if (cb->table)
		ResetTupleHashTable(cb->table);
	MemoryContextReset(cb->tablecxt);
	cb->single_values = MemoryContextAllocZero(cb->tablecxt,
											   sizeof(Datum) * Max(nstates, 1));
	cb->single_nulls = MemoryContextAlloc(cb->tablecxt,
										  sizeof(bool) * Max(nstates, 1));
	memset(cb->single_nulls, true, sizeof(bool) * Max(nstates, 1));
}

/*
 * Fold one partial value into state slot (vals[s], nulls[s]) with fn, the
 * strict combine rule: NULLs are skipped, the first value is copied.
 */
static void
fold(ShardCombiner *cb, FmgrInfo *fn, Oid collid, Datum *vals, bool *nulls,
	 int s, Datum v, bool isnull)
{
	MemoryContext old;
	Datum		r;

	if (isnull)
		return;
	old = MemoryContextSwitchTo(cb->tablecxt);
	if (nulls[s])
		r = datumCopy(v, cb->typbyval[s], cb->typlen[s]);
	else
	{
		r = FunctionCall2Coll(fn, collid, vals[s], v);
		if (!cb->typbyval[s] && DatumGetPointer(r) != DatumGetPointer(vals[s]))
			r = datumCopy(r, false, cb->typlen[s]);
	}
	MemoryContextSwitchTo(old);
	vals[s] = r;
	nulls[s] = false;
}

/*
 * shard_combiner_add: fold one partial row (group keys, then partials)
 * into its group.
 */
void
shard_combiner_add(ShardCombiner *cb, Datum *values, bool *nulls)
{
	Datum	   *svals;
	bool	   *snulls;
	int			col = cb->ngroup;

	if (cb->table)
	{
		TupleHashEntry entry;
		bool		isnew;
		int			nstates = cb->naggs * STATES_PER_AGG;

		ExecClearTuple(cb->keyslot);
		memcpy(cb->keyslot->tts_values, values, sizeof(Datum) * cb->ngroup);
		memcpy(cb->keyslot->tts_isnull, nulls, sizeof(bool) * cb->ngroup);
		ExecStoreVirtualTuple(cb->keyslot);
		entry = LookupTupleHashEntry(cb->table, cb->keyslot, &isnew, NULL);
		if (isnew)
		{
			entry->additional = MemoryContextAlloc(cb->tablecxt,
												   (sizeof(Datum) + sizeof(bool)) *
												   Max(nstates, 1));
			svals = (Datum *) entry->additional;
			snulls = (bool *) (svals + nstates);
			memset(svals, 0, sizeof(Datum) * nstates);
			memset(snulls, true, sizeof(bool) * nstates);
		}
		svals = (Datum *) entry->additional;
		snulls = (bool *) (svals + nstates);
	}
	else
	{
		svals = cb->single_values;
		snulls = cb->single_nulls;
	}

	for (int i = 0; i < cb->naggs; i++)
	{
		int			s = i * STATES_PER_AGG;

		switch (cb->kinds[i])
		{
			case SHARD_COMBINE_FN:
				fold(cb, &cb->combine[i], cb->inputcollids[i], svals, snulls,
					 s, values[col], nulls[col]);
				col++;
				break;
			case SHARD_COMBINE_NUMERIC_SUM:
				fold(cb, &cb->numeric_add, InvalidOid, svals, snulls, s,
					 values[col], nulls[col]);
				col++;
				break;
			case SHARD_COMBINE_AVG:
			case SHARD_COMBINE_VAR:
				/* sum in slot s (int8 or numeric), int8 count in s + 1 */
				fold(cb, cb->int_sum[i] ? &cb->int8_add : &cb->numeric_add,
					 InvalidOid, svals, snulls, s, values[col], nulls[col]);
				fold(cb, &cb->int8_add, InvalidOid, svals, snulls, s + 1,
					 values[col + 1], nulls[col + 1]);
				col += 2;
				if (cb->kinds[i] == SHARD_COMBINE_VAR)
				{
					/* numeric sum of squares in slot s + 2 */
					fold(cb, &cb->numeric_add, InvalidOid, svals, snulls,
						 s + 2, values[col], nulls[col]);
					col++;
				}
				break;
		}
	}
}

/*
 * Final value of aggregate i from its state slots.
 */
static Datum var_final(bool sample, bool stddev, Datum sumx, int64 n,
					   Datum sumx2);

/* Aggregate i's combined sum as numeric (it may be an int8 sum). */
static Datum
sum_as_numeric(ShardCombiner *cb, int i, Datum sum)
{
	return cb->int_sum[i] ? DirectFunctionCall1(int8_numeric, sum) : sum;
}
static Datum sqrt_rounded(Datum v, int32 rscale);
static TupleHashEntry next_entry(ShardCombiner *cb, Datum *values,
								 bool *nulls);

/*
 * Variance or standard deviation from N, sum and sum of squares, as
 * PostgreSQL's numeric_stddev_internal computes it (N > 0, and N > 1 for
 * the sample forms).
 */
static Datum
var_final(bool sample, bool stddev, Datum sumx, int64 n, Datum sumx2)
{
	Datum		nn = DirectFunctionCall1(int8_numeric, Int64GetDatum(n));
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	Datum		num;
	Datum		den;
	Datum		var;
	int32		rscale;

	num = DirectFunctionCall2(numeric_sub,
							  DirectFunctionCall2(numeric_mul, nn, sumx2),
							  DirectFunctionCall2(numeric_mul, sumx, sumx));
	/* roundoff can make the numerator negative: PostgreSQL returns 0 */
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, num, zero)) <= 0)
		return zero;
	den = sample ?
		DirectFunctionCall2(numeric_mul, nn,
							DirectFunctionCall2(numeric_sub, nn,
												DirectFunctionCall1(int4_numeric,
																	Int32GetDatum(1)))) :
		DirectFunctionCall2(numeric_mul, nn, nn);
	var = DirectFunctionCall2(numeric_div, num, den);
	if (!stddev)
		return var;
	rscale = DatumGetInt32(DirectFunctionCall1(numeric_scale, var));
	return sqrt_rounded(var, rscale);
}

/*
 * The square root of v (> 0) correctly rounded (half up) to rscale
 * digits, as PostgreSQL's sqrt_var gives it: a root with guard digits,
 * rounded, then moved by one unit if exact squares show it is off.
 */
static Datum
sqrt_rounded(Datum v, int32 rscale)
{
	char		str[32];
	Datum		r;
	Datum		half;
	Datum		ulp;
	Datum		lo;
	Datum		hi;

	r = DirectFunctionCall2(numeric_round,
							DirectFunctionCall1(numeric_sqrt,
												DirectFunctionCall2(numeric_round, v,
																	Int32GetDatum(rscale + 10))),
							Int32GetDatum(rscale));
	snprintf(str, sizeof(str), "5e%d", -(rscale + 1));
	half = DirectFunctionCall3(numeric_in, CStringGetDatum(str),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	snprintf(str, sizeof(str), "1e%d", -rscale);
	ulp = DirectFunctionCall3(numeric_in, CStringGetDatum(str),
							  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	/* the exact root must lie in [r - half, r + half) */
	lo = DirectFunctionCall2(numeric_sub, r, half);
	hi = DirectFunctionCall2(numeric_add, r, half);
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, v,
										  DirectFunctionCall2(numeric_mul, lo, lo))) < 0)
		r = DirectFunctionCall2(numeric_sub, r, ulp);
	else if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, v,
											   DirectFunctionCall2(numeric_mul, hi, hi))) >= 0)
		r = DirectFunctionCall2(numeric_add, r, ulp);
	return DirectFunctionCall2(numeric_round, r, Int32GetDatum(rscale));
}

static void
final_value(ShardCombiner *cb, int i, Datum *svals, bool *snulls,
			bool empty, Datum *value, bool *isnull)
{
	int			s = i * STATES_PER_AGG;

	switch (cb->kinds[i])
	{
		case SHARD_COMBINE_FN:
			if (empty)
			{
				*value = cb->empty_values[i];
				*isnull = cb->empty_nulls[i];
			}
			else
			{
				*value = svals[s];
				*isnull = snulls[s];
			}
			break;
		case SHARD_COMBINE_NUMERIC_SUM:
			*value = svals[s];
			*isnull = snulls[s];
			break;
		case SHARD_COMBINE_VAR:
			{
				int64		n = snulls[s + 1] ? 0 : DatumGetInt64(svals[s + 1]);

				if (n == 0 || (cb->var_sample[i] && n == 1) || snulls[s] ||
					snulls[s + 2])
				{
					*value = (Datum) 0;
					*isnull = true;
				}
				else
				{
					*value = var_final(cb->var_sample[i], cb->var_sqrt[i],
									   sum_as_numeric(cb, i, svals[s]), n,
									   svals[s + 2]);
					*isnull = false;
				}
				break;
			}
		case SHARD_COMBINE_AVG:
			if (snulls[s + 1] || DatumGetInt64(svals[s + 1]) == 0 || snulls[s])
			{
				*value = (Datum) 0;
				*isnull = true;
			}
			else
			{
				*value = DirectFunctionCall2(numeric_div,
											 sum_as_numeric(cb, i, svals[s]),
											 DirectFunctionCall1(int8_numeric,
																 svals[s + 1]));
				*isnull = false;
			}
			break;
	}
}

/*
 * shard_combiner_next: the next finished group into values/nulls (in
 * outdesc's layout; pass-by-reference results are palloc'd in the caller's
 * context or point into the combiner); false when there are no more.
 */
bool
shard_combiner_next(ShardCombiner *cb, Datum *values, bool *nulls)
{
	TupleHashEntry entry;
	Datum	   *svals;
	bool	   *snulls;
	int			nstates = cb->naggs * STATES_PER_AGG;

	if (cb->table == NULL)
	{
		/* no GROUP BY: exactly one row, also for no input at all */
		bool		empty = true;

		if (cb->single_done)
			return false;
		cb->single_done = true;
		for (int s = 0; s < nstates; s++)
			if (!cb->single_nulls[s])
				empty = false;
		svals = cb->single_values;
		snulls = cb->single_nulls;
		for (int i = 0; i < cb->naggs; i++)
			final_value(cb, i, svals, snulls,
						empty && cb->kinds[i] == SHARD_COMBINE_FN,
						&values[i], &nulls[i]);
		return true;
	}

	entry = next_entry(cb, values, nulls);
	if (entry == NULL)
		return false;
	svals = (Datum *) entry->additional;
	snulls = (bool *) (svals + nstates);
	for (int i = 0; i < cb->naggs; i++)
		final_value(cb, i, svals, snulls, false,
					&values[cb->ngroup + i], &nulls[cb->ngroup + i]);
	return true;
}

/*
 * The next group of cb's hash table, its keys copied into values/nulls
 * (from the group's first row), or NULL when all have been returned.
 */
static TupleHashEntry
next_entry(ShardCombiner *cb, Datum *values, bool *nulls)
{
	TupleHashEntry entry;

	if (!cb->iterating)
	{
		InitTupleHashIterator(cb->table, &cb->iter);
		cb->iterating = true;
	}
	entry = ScanTupleHashTable(cb->table, &cb->iter);
	if (entry == NULL)
		return NULL;
	ExecStoreMinimalTuple(entry->firstTuple, cb->firstslot, false);
	slot_getallattrs(cb->firstslot);
	for (int k = 0; k < cb->ngroup; k++)
	{
		values[k] = cb->firstslot->tts_values[k];
		nulls[k] = cb->firstslot->tts_isnull[k];
	}
	return entry;
}

/*
 * shard_combiner_next_states: the next group's keys and its aggregates'
 * combined states, in the layout of a partial row (per aggregate its
 * partial columns), so that they can be folded again by another combiner
 * (two-level combining of DISTINCT aggregates).  false when done.
 * Pass-by-reference values point into the combiner.
 */
bool
shard_combiner_next_states(ShardCombiner *cb, Datum *values, bool *nulls)
{
	TupleHashEntry entry;
	Datum	   *svals;
	bool	   *snulls;
	int			nstates = cb->naggs * STATES_PER_AGG;
	int			col = cb->ngroup;

	Assert(cb->table != NULL);
	entry = next_entry(cb, values, nulls);
	if (entry == NULL)
		return false;
	svals = (Datum *) entry->additional;
	snulls = (bool *) (svals + nstates);
	for (int i = 0; i < cb->naggs; i++)
	{
		int			s = i * STATES_PER_AGG;

		for (int j = 0; j < SHARD_AGG_PARTIAL_COLS(cb->kinds[i]); j++)
		{
			values[col] = svals[s + j];
			nulls[col] = snulls[s + j];
			col++;
		}
	}
	return true;
}

/* Combine rule of aggregate i of cb. */
ShardAggCombine
shard_combiner_kind(ShardCombiner *cb, int i)
{
	return cb->kinds[i];
}

/*
 * shard_combiner_distinct_partial: the partial columns (SHARD_AGG_PARTIAL_
 * COLS of its kind) that one distinct value x contributes to aggregate i:
 * for a combine-function aggregate, its transition function applied once
 * to x from the initial state (with PostgreSQL's strictness rules); for
 * sums, averages and variances x itself, a count of 1 and x squared.  A
 * NULL x contributes nothing.  Results are palloc'd in the caller's
 * context when not by value.
 */
void
shard_combiner_distinct_partial(ShardCombiner *cb, int i, Datum x,
								bool xnull, Datum *out, bool *outnull)
{
	int			ncols = SHARD_AGG_PARTIAL_COLS(cb->kinds[i]);
	Datum		xn;

	for (int j = 0; j < ncols; j++)
	{
		out[j] = (Datum) 0;
		outnull[j] = true;
	}
	if (cb->kinds[i] == SHARD_COMBINE_FN)
	{
		FmgrInfo   *fn = &cb->transfn[i];
		Datum		state = cb->empty_values[i];
		bool		statenull = cb->empty_nulls[i];

		if (xnull && fn->fn_strict)
		{
			/* a strict transition ignores NULL input: the initial state */
			out[0] = state;
			outnull[0] = statenull;
		}
		else if (statenull && fn->fn_strict)
		{
			/* a strict transition starts from the first input */
			out[0] = x;
			outnull[0] = false;
		}
		else
		{
			LOCAL_FCINFO(fcinfo, 2);

			InitFunctionCallInfoData(*fcinfo, fn, 2, cb->inputcollids[i],
									 NULL, NULL);
			fcinfo->args[0].value = state;
			fcinfo->args[0].isnull = statenull;
			fcinfo->args[1].value = x;
			fcinfo->args[1].isnull = xnull;
			out[0] = FunctionCallInvoke(fcinfo);
			outnull[0] = fcinfo->isnull;
		}
		return;
	}
	if (xnull)
	{
		if (cb->kinds[i] != SHARD_COMBINE_NUMERIC_SUM)
		{
			out[1] = Int64GetDatum(0);	/* count */
			outnull[1] = false;
		}
		return;
	}

	/* x as numeric (and as int8 for the int8 sums of int2/int4) */
	switch (cb->argtype[i])
	{
		case INT2OID:
			xn = DirectFunctionCall1(int2_numeric, x);
			break;
		case INT4OID:
			xn = DirectFunctionCall1(int4_numeric, x);
			break;
		case INT8OID:
			xn = DirectFunctionCall1(int8_numeric, x);
			break;
		default:
			xn = x;
			break;
	}
	out[0] = !cb->int_sum[i] ? xn :
		Int64GetDatum(cb->argtype[i] == INT2OID ? (int64) DatumGetInt16(x) :
					  (int64) DatumGetInt32(x));
	outnull[0] = false;
	if (cb->kinds[i] == SHARD_COMBINE_NUMERIC_SUM)
		return;
	out[1] = Int64GetDatum(1);
	outnull[1] = false;
	if (cb->kinds[i] == SHARD_COMBINE_VAR)
	{
		out[2] = DirectFunctionCall2(numeric_mul, xn, xn);
		outnull[2] = false;
	}
}
