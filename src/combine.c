/*-------------------------------------------------------------------------
 *
 * combine.c
 *		  Partial aggregates: what the shards compute, and combining it.
 *
 * When an aggregate query cannot be shipped whole (its groups span
 * shards), every shard computes partial results per group and the
 * coordinator combines them.  The shards run plain SQL (they do not have
 * this extension), so every partial is an ordinary aggregate call from
 * which the coordinator rebuilds the state PostgreSQL's own parallel
 * aggregation would combine.  The rules (ShardAggCombine):
 *
 *	SHARD_COMBINE_FN: the aggregate's transition state is its result (no
 *		final function, a plain transition type) and it has a strict
 *		combine function: the shards return the aggregate itself and the
 *		results are folded with the combine function.  count (-> sum of
 *		counts), sum of int2/int4/float4/float8/interval/money, min, max,
 *		bool_and, bool_or, every, bit_and, bit_or, regr_count, ...
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
 *	SHARD_COMBINE_FLOAT: avg and the variance family over float4/float8
 *		(transition float8_accum or float4_accum, state {N, Sx, Sxx} where
 *		Sxx is the sum of squared deviations from the mean, kept by the
 *		Youngs-Cramer algorithm).  The shards return avg(x), count(x) and
 *		var_pop(x): avg and var_pop share one float8_accum transition on
 *		the shard, the very one a local aggregate runs, so a shard does no
 *		more per row than count and PostgreSQL's own avg.  N is exact; Sx
 *		and Sxx are rebuilt as avg * N and var_pop * N, the shard's own
 *		values up to one rounding of its division and one of the product
 *		(relative error below 2^-52: no plain SQL returns float8_accum's
 *		Sx and Sxx themselves, and a separate sum(x) would cost the shard
 *		another transition per row for one ulp).  A sum of squares,
 *		sum(x*x), would not do: N*sum(x*x) - sum(x)^2 cancels
 *		catastrophically when the mean is large against the spread.  avg
 *		ships Sxx as well: PostgreSQL's avg keeps it, and raises its
 *		overflow error, so ours does too.  States are combined with
 *		PostgreSQL's float8_combine and finished with the aggregate's own
 *		final function (float8_avg, float8_var_samp, ...) on the rebuilt
 *		array, so NaN, Infinity, overflow, no input (NULL) and one input
 *		(NULL for the sample forms) behave as in PostgreSQL's parallel
 *		aggregation.  Only the order of additions differs from a local
 *		aggregate, hence the last digits.
 *	SHARD_COMBINE_FLOAT_REGR: regr_sxx/syy/sxy/avgx/avgy/r2/slope/
 *		intercept, covar_pop/samp and corr (float8_regr_accum, state {N,
 *		Sx, Sxx, Sy, Syy, Sxy}): the shards return regr_count(y, x),
 *		sum(x) and sum(y) over the rows where both are non-NULL, and
 *		regr_sxx, regr_syy, regr_sxy(y, x), which return the state's
 *		Sxx, Syy and Sxy themselves: the exact state of each shard.  They
 *		are combined with float8_regr_combine and finished with the
 *		aggregate's final function.
 *	SHARD_COMBINE_ARRAY_AGG, _STRING_AGG, _JSON_AGG(_ROWS), _JSONB_AGG:
 *		array_agg, string_agg (with a constant delimiter, which the shards
 *		return next to each string), json_agg and jsonb_agg, without
 *		ORDER BY or DISTINCT: their results are in no particular order,
 *		so each shard's result is a run of the whole and the coordinator
 *		concatenates the runs (arrays along their first dimension, strings
 *		with the delimiter between them, JSON arrays element by element,
 *		with json_agg's own separators).  A group keeps its runs until it
 *		is returned: memory proportional to the result, as locally.
 *
 * Anything else (ordered aggregates, DISTINCT ones other than those
 * planned as distinct values per group, string_agg with a varying
 * delimiter, internal states without a rule here, user-defined aggregates
 * without a combine function) is not combinable: the planner then leaves
 * aggregation to the coordinator over fetched rows, which is always right.
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
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "combine.h"
#include "deparse.h"

typedef struct ShardCombiner ShardCombiner;

/*
 * A combiner of partial rows into groups.  Rows come in with ngroup group
 * key columns followed by each aggregate's partial columns; groups go out
 * as ngroup keys followed by each aggregate's final value, in outdesc's
 * layout.  Everything lives in a child of cxt.
 */
static ShardCombiner *shard_combiner_create(TupleDesc outdesc, int ngroup,
											Oid *eqops, Oid *collations,
											int naggs, ShardAggCombine *kinds,
											Oid *combinefns, Oid *aggfnoids,
											Oid *inputcollids,
											MemoryContext cxt);
static void shard_combiner_add(ShardCombiner *cb, Datum *values,
							   bool *nulls);
static bool shard_combiner_next(ShardCombiner *cb, Datum *values,
								bool *nulls);
static bool shard_combiner_next_states(ShardCombiner *cb, Datum *values,
									   bool *nulls);
static void shard_combiner_reset(ShardCombiner *cb);
static ShardAggCombine shard_combiner_kind(ShardCombiner *cb, int i);
static void shard_combiner_distinct_partial(ShardCombiner *cb, int i,
											Datum x, bool xnull, Datum *out,
											bool *outnull);

/*
 * State slots per aggregate: variance needs three (sum, count, sumsq), the
 * regression state six.
 */
#define STATES_PER_AGG SHARD_AGG_MAX_PARTIAL_COLS

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
	FmgrInfo   *finalfn;		/* FLOAT_*: the aggregate's final function */
	Oid		   *rettype;		/* the aggregate's result type */
	MemoryContext floatcxt;		/* FLOAT_*: arrays of one combine step */
	MemoryContext statecxt;		/* concatenations from next_states */

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
 * The category json_agg gives an element of type typid: true for arrays and
 * composites (json.c's json_categorize_type: JSONTYPE_ARRAY and
 * JSONTYPE_COMPOSITE), whose elements after the first are preceded by
 * ", \n " instead of ", ".
 */
static bool
json_rows_category(Oid typid)
{
	typid = getBaseType(typid);
	switch (typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case JSONOID:
		case JSONBOID:
			return false;
		default:
			return OidIsValid(get_element_type(typid)) ||
				typid == ANYARRAYOID || typid == ANYCOMPATIBLEARRAYOID ||
				typid == RECORDARRAYOID || type_is_rowtype(typid);
	}
}

/*
 * The rules for built-in aggregates with array or internal states, found
 * by their transition function: float avg/variance (float8_accum,
 * float4_accum), the regression family (float8_regr_accum), and the
 * concatenating aggregates.
 */
static bool
builtin_combinable(Aggref *agg, Form_pg_aggregate aggform,
				   ShardAggCombine *kind, List **partial_types)
{
	int			nargs = list_length(agg->args);
	Expr	   *delim;

	switch (aggform->aggtransfn)
	{
		case F_FLOAT8_ACCUM:
		case F_FLOAT4_ACCUM:
			if (nargs != 1)
				return false;
			*kind = SHARD_COMBINE_FLOAT;
			*partial_types = list_make3_oid(FLOAT8OID, INT8OID, FLOAT8OID);
			return OidIsValid(aggform->aggfinalfn);
		case F_FLOAT8_REGR_ACCUM:
			if (nargs != 2 || !OidIsValid(aggform->aggfinalfn))
				return false;
			*kind = SHARD_COMBINE_FLOAT_REGR;
			*partial_types = list_make2_oid(INT8OID, FLOAT8OID);
			for (int i = 0; i < 4; i++)
				*partial_types = lappend_oid(*partial_types, FLOAT8OID);
			return true;
		case F_ARRAY_AGG_TRANSFN:
		case F_ARRAY_AGG_ARRAY_TRANSFN:
			if (nargs != 1)
				return false;
			*kind = SHARD_COMBINE_ARRAY_AGG;
			*partial_types = list_make1_oid(agg->aggtype);
			return true;
		case F_STRING_AGG_TRANSFN:
		case F_BYTEA_STRING_AGG_TRANSFN:
			/* one delimiter for all rows: a constant */
			if (nargs != 2)
				return false;
			delim = lsecond_node(TargetEntry, agg->args)->expr;
			while (IsA(delim, RelabelType))
				delim = ((RelabelType *) delim)->arg;
			if (!IsA(delim, Const))
				return false;
			*kind = SHARD_COMBINE_STRING_AGG;
			*partial_types = list_make2_oid(agg->aggtype, agg->aggtype);
			return true;
		case F_JSON_AGG_TRANSFN:
			if (nargs != 1)
				return false;
			*kind = json_rows_category(exprType((Node *) linitial_node(TargetEntry, agg->args)->expr)) ?
				SHARD_COMBINE_JSON_AGG_ROWS : SHARD_COMBINE_JSON_AGG;
			*partial_types = list_make1_oid(JSONOID);
			return true;
		case F_JSONB_AGG_TRANSFN:
			if (nargs != 1)
				return false;
			*kind = SHARD_COMBINE_JSONB_AGG;
			*partial_types = list_make1_oid(JSONBOID);
			return true;
		default:
			return false;
	}
}

/*
 * Is the JSON text json_agg and jsonb_agg make of a value of type typid the
 * same on a shard (DateStyle ISO, IntervalStyle postgres, TimeZone UTC,
 * extra_float_digits 3) as under any settings here?  Booleans, integers,
 * numeric, strings, uuid, json(b), date and timestamp (JSON writes these
 * two in ISO 8601 whatever DateStyle says), and arrays of them.  Not
 * timestamptz (time zone), interval, float4/float8 (extra_float_digits),
 * money, bytea, ...; not composites either: a shard would name the fields
 * after its own row type, not this one.
 */
static bool
json_portable_type(Oid typid)
{
	Oid			elem;

	typid = getBaseType(typid);
	switch (typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case CHAROID:
		case UUIDOID:
		case JSONOID:
		case JSONBOID:
		case DATEOID:
		case TIMESTAMPOID:
			return true;
		default:
			break;
	}
	elem = get_element_type(typid);
	return OidIsValid(elem) && elem != typid && json_portable_type(elem);
}

/* shard_agg_json_shippable: see combine.h. */
bool
shard_agg_json_shippable(PlannerInfo *root, RelOptInfo *rel, Aggref *agg)
{
	HeapTuple	tup;
	Oid			transfn;
	Aggref	   *probe;

	if (get_func_namespace(agg->aggfnoid) != PG_CATALOG_NAMESPACE ||
		agg->aggkind != AGGKIND_NORMAL || agg->aggdirectargs != NIL ||
		agg->args == NIL)
		return false;
	tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg->aggfnoid));
	if (!HeapTupleIsValid(tup))
		return false;
	transfn = ((Form_pg_aggregate) GETSTRUCT(tup))->aggtransfn;
	ReleaseSysCache(tup);
	if ((transfn != F_JSON_AGG_TRANSFN && transfn != F_JSONB_AGG_TRANSFN) ||
		!json_portable_type(exprType((Node *) linitial_node(TargetEntry,
															 agg->args)->expr)))
		return false;

	/*
	 * The rest (argument, FILTER, ORDER BY, DISTINCT, collations) as for
	 * the immutable count(any) over the same inputs.
	 */
	probe = copyObject(agg);
	probe->aggfnoid = F_COUNT_ANY;
	probe->aggtype = INT8OID;
	probe->aggcollid = InvalidOid;
	return shardfdw_is_foreign_upper_expr(root, rel, (Expr *) probe);
}

/*
 * Does the combine function fn insist on being called by an aggregate
 * node (AggCheckCallContext)?  The combiner calls combine functions
 * directly.  Of the built-in combine functions with a plain transition
 * type, only range_intersect_agg's do (they are its transition functions).
 */
static bool
needs_agg_context(Oid fn)
{
	return fn == F_RANGE_INTERSECT_AGG_TRANSFN ||
		fn == F_MULTIRANGE_INTERSECT_AGG_TRANSFN;
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
		agg->agglevelsup != 0 || list_length(agg->args) > 2)
		return false;
	if (list_length(agg->args) == 1)
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
	if (get_func_namespace(agg->aggfnoid) == PG_CATALOG_NAMESPACE &&
		builtin_combinable(agg, aggform, kind, partial_types))
		ok = true;
	else if (!OidIsValid(aggform->aggfinalfn) &&
		OidIsValid(aggform->aggcombinefn) &&
		aggform->aggtranstype != INTERNALOID &&
		(aggform->aggtranstype == agg->aggtype ||
		 IsPolymorphicType(aggform->aggtranstype)) &&
		func_strict(aggform->aggcombinefn) &&
		!needs_agg_context(aggform->aggcombinefn))
	{
		*kind = SHARD_COMBINE_FN;
		*combinefn = aggform->aggcombinefn;
		*partial_types = list_make1_oid(agg->aggtype);
		ok = true;
	}
	ReleaseSysCache(tup);
	return ok;
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
			if (strcmp(name, "count") == 0 || strcmp(name, "regr_count") == 0)
				return psprintf("%s -> sum", name);
			return psprintf("%s -> %s", name, name);
		case SHARD_COMBINE_FLOAT:
			return psprintf("%s -> sum/count/sxx", name);
		case SHARD_COMBINE_FLOAT_REGR:
			return psprintf("%s -> count/sx/sxx/sy/syy/sxy", name);
		case SHARD_COMBINE_ARRAY_AGG:
		case SHARD_COMBINE_STRING_AGG:
		case SHARD_COMBINE_JSON_AGG:
		case SHARD_COMBINE_JSON_AGG_ROWS:
		case SHARD_COMBINE_JSONB_AGG:
			return psprintf("%s -> concatenation", name);
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
static ShardCombiner *
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
	cb->finalfn = palloc0(sizeof(FmgrInfo) * Max(naggs, 1));
	cb->rettype = palloc0(sizeof(Oid) * Max(naggs, 1));
	cb->floatcxt = AllocSetContextCreate(cxt, "shardfdw float combine",
										 ALLOCSET_SMALL_SIZES);
	cb->statecxt = AllocSetContextCreate(cxt, "shardfdw combined states",
										 ALLOCSET_DEFAULT_SIZES);

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
		cb->rettype[i] = rettype;
		if (kinds[i] == SHARD_COMBINE_FLOAT ||
			kinds[i] == SHARD_COMBINE_FLOAT_REGR ||
			kinds[i] == SHARD_COMBINE_FN)
		{
			HeapTuple	tup = SearchSysCache1(AGGFNOID,
											  ObjectIdGetDatum(aggfnoids[i]));
			Form_pg_aggregate agg;

			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for aggregate %u",
					 aggfnoids[i]);
			agg = (Form_pg_aggregate) GETSTRUCT(tup);
			/* float moments end with the aggregate's final function */
			if (kinds[i] != SHARD_COMBINE_FN)
				fmgr_info_cxt(agg->aggfinalfn, &cb->finalfn[i], cxt);
			else
				fmgr_info_cxt(agg->aggtransfn, &cb->transfn[i], cxt);
			ReleaseSysCache(tup);
		}
		if (kinds[i] == SHARD_COMBINE_FN)
		{
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
		if (kinds[i] >= SHARD_COMBINE_FLOAT)
		{
			/*
			 * FLOAT_*: the float8 transition values {N, Sx, Sxx[, Sy, Syy,
			 * Sxy]}; concatenations: a List of runs (and the delimiter).
			 */
			for (int j = 0; j < STATES_PER_AGG; j++)
				get_typlenbyval(FLOAT8OID,
								&cb->typlen[i * STATES_PER_AGG + j],
								&cb->typbyval[i * STATES_PER_AGG + j]);
		}
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
static void
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

/* Store float8 v in state slot k (allocated in tablecxt if by reference). */
static void
set_float8_slot(ShardCombiner *cb, Datum *vals, bool *nulls, int k, float8 v)
{
	MemoryContext old = MemoryContextSwitchTo(cb->tablecxt);

	vals[k] = Float8GetDatum(v);
	nulls[k] = false;
	MemoryContextSwitchTo(old);
}

/* Number of float8 transition values of a FLOAT_* kind. */
#define FLOAT_STATE_LEN(kind) ((kind) == SHARD_COMBINE_FLOAT_REGR ? 6 : 3)

/* A FLOAT_* state as the float8[] PostgreSQL's functions take ({0,...}
 * when still empty), palloc'd in the current context. */
static Datum
float_state_array(ShardCombiner *cb, int i, Datum *svals, bool *snulls,
				  int s)
{
	int			n = FLOAT_STATE_LEN(cb->kinds[i]);
	Datum		d[6];

	for (int j = 0; j < n; j++)
		d[j] = snulls[s] ? Float8GetDatum(0.0) : svals[s + j];
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Fold one shard's float transition values part ({N, Sx, Sxx[, Sy, Syy,
 * Sxy]}, N > 0) into aggregate i's state in slots s...: the first is
 * copied, the next are combined by PostgreSQL's float8_combine or
 * float8_regr_combine (the combine functions of these aggregates, which
 * parallel aggregation uses).
 */
static void
float_fold(ShardCombiner *cb, int i, Datum *svals, bool *snulls, int s,
		   const float8 *part)
{
	ShardAggCombine kind = cb->kinds[i];
	int			n = FLOAT_STATE_LEN(kind);
	MemoryContext old;
	float8		result[6];
	Datum		d[6];
	Datum		r;
	ArrayType  *a;

	if (snulls[s])
	{
		for (int j = 0; j < n; j++)
			set_float8_slot(cb, svals, snulls, s + j, part[j]);
		return;
	}
	old = MemoryContextSwitchTo(cb->floatcxt);
	for (int j = 0; j < n; j++)
		d[j] = Float8GetDatum(part[j]);
	r = DirectFunctionCall2(kind == SHARD_COMBINE_FLOAT_REGR ?
							float8_regr_combine : float8_combine,
							float_state_array(cb, i, svals, snulls, s),
							PointerGetDatum(construct_array(d, n, FLOAT8OID,
															sizeof(float8),
															FLOAT8PASSBYVAL,
															TYPALIGN_DOUBLE)));
	a = DatumGetArrayTypeP(r);
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != n || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != FLOAT8OID)
		elog(ERROR, "shardfdw: unexpected float combine state");
	memcpy(result, ARR_DATA_PTR(a), sizeof(float8) * n);
	MemoryContextSwitchTo(old);
	MemoryContextReset(cb->floatcxt);
	for (int j = 0; j < n; j++)
		set_float8_slot(cb, svals, snulls, s + j, result[j]);
}

/*
 * Keep one shard's run v of a concatenating aggregate (a copy, in
 * tablecxt) in the List in slot s; a NULL run (no input) adds nothing.
 */
static void
add_run(ShardCombiner *cb, Datum *svals, bool *snulls, int s, Datum v,
		bool isnull)
{
	MemoryContext old;
	List	   *runs;

	if (isnull)
		return;
	old = MemoryContextSwitchTo(cb->tablecxt);
	runs = snulls[s] ? NIL : (List *) DatumGetPointer(svals[s]);
	runs = lappend(runs, DatumGetPointer(datumCopy(v, false, -1)));
	svals[s] = PointerGetDatum(runs);
	snulls[s] = false;
	MemoryContextSwitchTo(old);
}

/*
 * shard_combiner_add: fold one partial row (group keys, then partials)
 * into its group.
 */
static void
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
			case SHARD_COMBINE_FLOAT:
				{
					/* avg, count, var_pop: {N, Sx = avg * N, Sxx = var_pop * N} */
					int64		n = nulls[col + 1] ? 0 :
						DatumGetInt64(values[col + 1]);
					float8		part[3];

					if (n > 0 && !nulls[col])
					{
						part[0] = (float8) n;
						part[1] = DatumGetFloat8(values[col]) * part[0];
						part[2] = nulls[col + 2] ? get_float8_nan() :
							DatumGetFloat8(values[col + 2]) * part[0];
						float_fold(cb, i, svals, snulls, s, part);
					}
					col += 3;
					break;
				}
			case SHARD_COMBINE_FLOAT_REGR:
				{
					/* regr_count, Sx, Sxx, Sy, Syy, Sxy: the state itself */
					int64		n = nulls[col] ? 0 : DatumGetInt64(values[col]);
					float8		part[6];

					if (n > 0)
					{
						part[0] = (float8) n;
						for (int j = 1; j < 6; j++)
							part[j] = nulls[col + j] ? get_float8_nan() :
								DatumGetFloat8(values[col + j]);
						float_fold(cb, i, svals, snulls, s, part);
					}
					col += 6;
					break;
				}
			case SHARD_COMBINE_ARRAY_AGG:
			case SHARD_COMBINE_JSON_AGG:
			case SHARD_COMBINE_JSON_AGG_ROWS:
			case SHARD_COMBINE_JSONB_AGG:
				add_run(cb, svals, snulls, s, values[col], nulls[col]);
				col++;
				break;
			case SHARD_COMBINE_STRING_AGG:
				add_run(cb, svals, snulls, s, values[col], nulls[col]);
				/* the delimiter, the same constant in every row */
				if (snulls[s + 1] && !nulls[col + 1])
				{
					MemoryContext old = MemoryContextSwitchTo(cb->tablecxt);

					svals[s + 1] = datumCopy(values[col + 1], false, -1);
					snulls[s + 1] = false;
					MemoryContextSwitchTo(old);
				}
				col += 2;
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
	/* NaN or an infinity among the inputs: NaN, which has no scale */
	if (!stddev || numeric_is_nan(DatumGetNumeric(var)))
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

/*
 * The text (or bytea) runs of string_agg joined with delim (none when
 * NULL), or json_agg's runs "[a, b]", "[c]" joined into "[a, b, c]" with
 * the separator json_agg puts between two elements: ", ", and for arrays
 * and composites (rows) ", \n " unless the element is a NULL.  One
 * allocation of the result's size.
 */
#define JSON_RUN_STARTS_NULL(r, len) ((len) >= 4 && memcmp((r), "null", 4) == 0)

static Datum
join_runs(List *runs, bool json, bool rows, Datum delim, bool delimnull)
{
	const char *d = "";
	int			dlen = 0;
	Size		len = json ? 2 : 0;
	char	   *out;
	char	   *p;
	ListCell   *lc;

	if (!json && !delimnull)
	{
		d = VARDATA_ANY(DatumGetPointer(delim));
		dlen = VARSIZE_ANY_EXHDR(DatumGetPointer(delim));
	}
	foreach(lc, runs)
	{
		struct varlena *run = lfirst(lc);
		int			rlen = VARSIZE_ANY_EXHDR(run);

		if (json)
		{
			const char *r = VARDATA_ANY(run);

			if (rlen < 2 || r[0] != '[' || r[rlen - 1] != ']')
				elog(ERROR, "shardfdw: a shard's json_agg result is not an array");
			len += rlen - 2;
			if (foreach_current_index(lc) > 0)
				len += (rows && !JSON_RUN_STARTS_NULL(r + 1, rlen - 2)) ? 4 : 2;
		}
		else
			len += rlen + (foreach_current_index(lc) > 0 ? dlen : 0);
	}
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	p = VARDATA(out);
	if (json)
		*p++ = '[';
	foreach(lc, runs)
	{
		struct varlena *run = lfirst(lc);
		const char *r = VARDATA_ANY(run);
		int			rlen = VARSIZE_ANY_EXHDR(run);

		if (json)
		{
			r++;
			rlen -= 2;
			if (foreach_current_index(lc) > 0)
			{
				const char *sep = (rows && !JSON_RUN_STARTS_NULL(r, rlen)) ?
					", \n " : ", ";

				memcpy(p, sep, strlen(sep));
				p += strlen(sep);
			}
		}
		else if (foreach_current_index(lc) > 0)
		{
			memcpy(p, d, dlen);
			p += dlen;
		}
		memcpy(p, r, rlen);
		p += rlen;
	}
	if (json)
		*p++ = ']';
	Assert(p == VARDATA(out) + len);
	return PointerGetDatum(out);
}

/*
 * The arrays of array_agg's runs concatenated along their first dimension,
 * as array_agg builds them: of elements, or of sub-arrays for
 * array_agg(anyarray) (with its checks: same dimensions).
 */
static Datum
concat_arrays(List *runs, bool of_arrays, Oid arraytype)
{
	ArrayBuildStateAny *astate = NULL;
	ListCell   *lc;

	foreach(lc, runs)
	{
		ArrayType  *a = DatumGetArrayTypeP(PointerGetDatum(lfirst(lc)));
		ArrayIterator it;
		Datum		v;
		bool		isnull;

		if (ARR_NDIM(a) == 0)
			continue;
		it = array_create_iterator(a, of_arrays ? ARR_NDIM(a) - 1 : 0, NULL);
		while (array_iterate(it, &v, &isnull))
			astate = accumArrayResultAny(astate, v, isnull,
										 of_arrays ? arraytype : ARR_ELEMTYPE(a),
										 CurrentMemoryContext);
		array_free_iterator(it);
	}
	if (astate == NULL)
		return PointerGetDatum(construct_empty_array(get_element_type(arraytype)));
	return makeArrayResultAny(astate, CurrentMemoryContext, true);
}

/* The elements of jsonb_agg's runs (jsonb arrays) in one jsonb array. */
static Datum
concat_jsonb(List *runs)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	ListCell   *lc;

	(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, runs)
	{
		Jsonb	   *jb = DatumGetJsonbP(PointerGetDatum(lfirst(lc)));
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
			elog(ERROR, "shardfdw: a shard's jsonb_agg result is not an array");
		it = JsonbIteratorInit(&jb->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_ELEM)
				(void) pushJsonbValue(&state, WJB_ELEM, &v);
		}
	}
	res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/*
 * The result of concatenating aggregate i from its runs (at least one),
 * palloc'd in the current context.
 */
static Datum
concat_runs(ShardCombiner *cb, int i, List *runs, Datum delim,
			bool delimnull)
{
	switch (cb->kinds[i])
	{
		case SHARD_COMBINE_ARRAY_AGG:
			return concat_arrays(runs, cb->argtype[i] == ANYARRAYOID,
								 cb->rettype[i]);
		case SHARD_COMBINE_STRING_AGG:
			return join_runs(runs, false, false, delim, delimnull);
		case SHARD_COMBINE_JSON_AGG:
		case SHARD_COMBINE_JSON_AGG_ROWS:
			return join_runs(runs, true,
							 cb->kinds[i] == SHARD_COMBINE_JSON_AGG_ROWS,
							 (Datum) 0, true);
		case SHARD_COMBINE_JSONB_AGG:
			return concat_jsonb(runs);
		default:
			elog(ERROR, "shardfdw: not a concatenating aggregate");
	}
	return (Datum) 0;
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
		case SHARD_COMBINE_FLOAT:
		case SHARD_COMBINE_FLOAT_REGR:
			{
				/* the aggregate's own final function on the state */
				LOCAL_FCINFO(fcinfo, 1);

				InitFunctionCallInfoData(*fcinfo, &cb->finalfn[i], 1,
										 InvalidOid, NULL, NULL);
				fcinfo->args[0].value = float_state_array(cb, i, svals,
														  snulls, s);
				fcinfo->args[0].isnull = false;
				*value = FunctionCallInvoke(fcinfo);
				*isnull = fcinfo->isnull;
				break;
			}
		case SHARD_COMBINE_ARRAY_AGG:
		case SHARD_COMBINE_STRING_AGG:
		case SHARD_COMBINE_JSON_AGG:
		case SHARD_COMBINE_JSON_AGG_ROWS:
		case SHARD_COMBINE_JSONB_AGG:
			*isnull = snulls[s];
			*value = *isnull ? (Datum) 0 :
				concat_runs(cb, i, (List *) DatumGetPointer(svals[s]),
							svals[s + 1], snulls[s + 1]);
			break;
	}
}

/*
 * shard_combiner_next: the next finished group into values/nulls (in
 * outdesc's layout; pass-by-reference results are palloc'd in the caller's
 * context or point into the combiner); false when there are no more.
 */
static bool
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
static bool
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
	/* what this call builds lives until the next call */
	MemoryContextReset(cb->statecxt);
	for (int i = 0; i < cb->naggs; i++)
	{
		int			s = i * STATES_PER_AGG;
		ShardAggCombine kind = cb->kinds[i];
		Datum	   *v = &values[col];
		bool	   *n = &nulls[col];

		col += SHARD_AGG_PARTIAL_COLS(kind);
		switch (kind)
		{
			case SHARD_COMBINE_FN:
			case SHARD_COMBINE_NUMERIC_SUM:
			case SHARD_COMBINE_AVG:
			case SHARD_COMBINE_VAR:
				for (int j = 0; j < SHARD_AGG_PARTIAL_COLS(kind); j++)
				{
					v[j] = svals[s + j];
					n[j] = snulls[s + j];
				}
				break;
			case SHARD_COMBINE_FLOAT:
				{
					/* avg = Sx / N, count, var_pop = Sxx / N from {N, Sx, Sxx} */
					float8		nn = snulls[s] ? 0.0 : DatumGetFloat8(svals[s]);
					MemoryContext old = MemoryContextSwitchTo(cb->statecxt);

					v[1] = Int64GetDatum((int64) nn);
					n[1] = false;
					n[0] = n[2] = nn == 0.0;
					if (nn > 0.0)
					{
						v[0] = Float8GetDatum(DatumGetFloat8(svals[s + 1]) / nn);
						v[2] = Float8GetDatum(DatumGetFloat8(svals[s + 2]) / nn);
					}
					MemoryContextSwitchTo(old);
					break;
				}
			case SHARD_COMBINE_FLOAT_REGR:
				{
					/* regr_count, then the state's other five values */
					float8		nn = snulls[s] ? 0.0 : DatumGetFloat8(svals[s]);

					v[0] = Int64GetDatum((int64) nn);
					n[0] = false;
					for (int j = 1; j < 6; j++)
					{
						v[j] = svals[s + j];
						n[j] = nn == 0.0;
					}
					break;
				}
			case SHARD_COMBINE_ARRAY_AGG:
			case SHARD_COMBINE_STRING_AGG:
			case SHARD_COMBINE_JSON_AGG:
			case SHARD_COMBINE_JSON_AGG_ROWS:
			case SHARD_COMBINE_JSONB_AGG:
				{
					/* one run of all this entry's runs (and the delimiter) */
					MemoryContext old = MemoryContextSwitchTo(cb->statecxt);

					n[0] = snulls[s];
					if (!n[0])
						v[0] = concat_runs(cb, i,
										   (List *) DatumGetPointer(svals[s]),
										   svals[s + 1], snulls[s + 1]);
					if (kind == SHARD_COMBINE_STRING_AGG)
					{
						v[1] = svals[s + 1];
						n[1] = snulls[s + 1];
					}
					MemoryContextSwitchTo(old);
					break;
				}
		}
	}
	return true;
}

/* Combine rule of aggregate i of cb. */
static ShardAggCombine
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
static void
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
	if (cb->kinds[i] == SHARD_COMBINE_FLOAT_REGR ||
		cb->kinds[i] >= SHARD_COMBINE_ARRAY_AGG)
		elog(ERROR, "shardfdw: no DISTINCT partial for this aggregate");
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

	if (cb->kinds[i] == SHARD_COMBINE_FLOAT)
	{
		/* avg x, count 1, var_pop: what float8_accum makes of x alone */
		float8		xf = cb->argtype[i] == FLOAT4OID ?
			(float8) DatumGetFloat4(x) : DatumGetFloat8(x);

		out[0] = Float8GetDatum(xf);
		outnull[0] = false;
		out[1] = Int64GetDatum(1);
		outnull[1] = false;
		out[2] = Float8GetDatum(isnan(xf) || isinf(xf) ?
								get_float8_nan() : 0.0);
		outnull[2] = false;
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

/* ======================================================================
 * Partial columns as expressions
 * ======================================================================
 */

/*
 * An Aggref calling the built-in aggregate fnoid on args (Exprs) with
 * filter, for the remote query: only what the deparser reads is filled in.
 */
static Aggref *
make_partial_agg(Oid fnoid, List *args, Expr *filter)
{
	Aggref	   *a = makeNode(Aggref);
	ListCell   *lc;

	a->aggfnoid = fnoid;
	a->aggtype = get_func_rettype(fnoid);
	a->aggkind = AGGKIND_NORMAL;
	a->aggsplit = AGGSPLIT_SIMPLE;
	a->aggno = a->aggtransno = -1;
	a->location = -1;
	foreach(lc, args)
	{
		a->aggargtypes = lappend_oid(a->aggargtypes, exprType(lfirst(lc)));
		a->args = lappend(a->args,
						  makeTargetEntry(lfirst(lc), list_length(a->args) + 1,
										  NULL, false));
	}
	a->aggfilter = filter;
	return a;
}

/* The pg_catalog aggregate name(argtypes), which must exist. */
static Oid
catalog_agg(const char *name, int nargs, Oid argtype)
{
	Oid			argtypes[2] = {argtype, argtype};

	return LookupFuncName(list_make2(makeString("pg_catalog"),
									 makeString(pstrdup(name))),
						  nargs, argtypes, false);
}

/* expr cast to type (an explicit cast, printed as such), or expr itself. */
static Expr *
cast_to(Expr *expr, Oid type)
{
	Node	   *r;

	if (exprType((Node *) expr) == type)
		return expr;
	r = coerce_to_target_type(NULL, (Node *) expr, exprType((Node *) expr),
							  type, -1, COERCION_EXPLICIT,
							  COERCE_EXPLICIT_CAST, -1);
	if (r == NULL)
		elog(ERROR, "shardfdw has no cast from type %u to %u",
			 exprType((Node *) expr), type);
	return (Expr *) r;
}

/* The operator numeric * numeric. */
static Oid
numeric_mul_operator(void)
{
	return OpernameGetOprid(list_make1(makeString("*")), NUMERICOID,
							NUMERICOID);
}

/* filter AND other IS NOT NULL (either may be NULL). */
static Expr *
filter_not_null(Expr *filter, Expr *other)
{
	NullTest   *nt;

	if (other == NULL)
		return filter;
	nt = makeNode(NullTest);
	nt->arg = other;
	nt->nulltesttype = IS_NOT_NULL;
	nt->argisrow = false;
	nt->location = -1;
	if (filter == NULL)
		return (Expr *) nt;
	return make_andclause(list_make2(filter, nt));
}

/*
 * shard_agg_partial_exprs: see combine.h.  For FN, NUMERIC_SUM and the
 * concatenations the partial is the aggregate itself (string_agg adds its
 * delimiter); avg becomes sum and count of the same argument under the
 * same FILTER, variance adds the exact sum of squares in numeric; float
 * moments are sum, count and var_pop (float4 summed in float8, as
 * float4_accum does); the regression family is regr_count, the sums of x
 * and y over the rows where both are set, and regr_sxx, regr_syy, regr_sxy.
 */
List *
shard_agg_partial_exprs(Aggref *agg, ShardAggCombine kind)
{
	Expr	   *filter = agg->aggfilter;
	Expr	   *arg;

	switch (kind)
	{
		case SHARD_COMBINE_FN:
		case SHARD_COMBINE_NUMERIC_SUM:
		case SHARD_COMBINE_ARRAY_AGG:
		case SHARD_COMBINE_JSON_AGG:
		case SHARD_COMBINE_JSON_AGG_ROWS:
		case SHARD_COMBINE_JSONB_AGG:
			return list_make1(agg);
		case SHARD_COMBINE_STRING_AGG:
			return list_make2(agg, lsecond_node(TargetEntry, agg->args)->expr);
		case SHARD_COMBINE_FLOAT:
			/* avg and var_pop share the shard's one float8_accum state */
			arg = linitial_node(TargetEntry, agg->args)->expr;
			return list_make3(make_partial_agg(catalog_agg("avg", 1,
														   exprType((Node *) arg)),
											   list_make1(arg), filter),
							  make_partial_agg(F_COUNT_ANY, list_make1(arg),
											   filter),
							  make_partial_agg(catalog_agg("var_pop", 1,
														   exprType((Node *) arg)),
											   list_make1(arg), filter));
		case SHARD_COMBINE_FLOAT_REGR:
			{
				/* Y is the first argument, X the second */
				Expr	   *y = linitial_node(TargetEntry, agg->args)->expr;
				Expr	   *x = lsecond_node(TargetEntry, agg->args)->expr;
				List	   *yx = list_make2(y, x);
				Oid			sum8 = catalog_agg("sum", 1, FLOAT8OID);
				List	   *r;

				r = list_make3(make_partial_agg(catalog_agg("regr_count", 2, FLOAT8OID),
												yx, filter),
							   make_partial_agg(sum8, list_make1(x),
												filter_not_null(filter, y)),
							   make_partial_agg(catalog_agg("regr_sxx", 2, FLOAT8OID),
												yx, filter));
				r = lappend(r, make_partial_agg(sum8, list_make1(y),
												filter_not_null(filter, x)));
				r = lappend(r, make_partial_agg(catalog_agg("regr_syy", 2, FLOAT8OID),
												yx, filter));
				r = lappend(r, make_partial_agg(catalog_agg("regr_sxy", 2, FLOAT8OID),
												yx, filter));
				return r;
			}
		case SHARD_COMBINE_AVG:
		case SHARD_COMBINE_VAR:
			break;
	}
	arg = linitial_node(TargetEntry, agg->args)->expr;
	{
		/* sum(x) is exact: int8 for int2/int4 input, numeric otherwise */
		List	   *r;

		r = list_make2(make_partial_agg(catalog_agg("sum", 1,
													exprType((Node *) arg)),
										list_make1(arg), filter),
					   make_partial_agg(F_COUNT_ANY, list_make1(arg), filter));
		if (kind == SHARD_COMBINE_VAR)
		{
			Expr	   *n = cast_to(arg, NUMERICOID);
			Expr	   *sq = make_opclause(numeric_mul_operator(), NUMERICOID,
										   false, n, n, InvalidOid,
										   InvalidOid);

			((OpExpr *) sq)->opfuncid = F_NUMERIC_MUL;
			r = lappend(r, make_partial_agg(catalog_agg("sum", 1, NUMERICOID),
											list_make1(sq), filter));
		}
		return r;
	}
}

/* ======================================================================
 * The combine plan of a scan, and its execution
 * ======================================================================
 */

/*
 * The combine plan: a List in the scan's fdw_private
 * (ShardScanPrivateCombine), indexed by these.  Only this file builds and
 * reads it.
 */
typedef enum ShardCombinePlanIndex
{
	CombinePlanMode,			/* Integer: ShardCombineMode */
	CombinePlanNGroup,			/* Integer: group columns leading the scan
								 * tuple, followed by one per aggregate */
	CombinePlanGroupEqops,		/* OidList: equality ops of group keys */
	CombinePlanGroupCollations, /* OidList */
	CombinePlanAggKinds,		/* IntList: ShardAggCombine per aggregate */
	CombinePlanAggCombineFns,	/* OidList */
	CombinePlanAggFnOids,		/* OidList */
	CombinePlanAggInputCollids, /* OidList */
	CombinePlanPartialTypes,	/* OidList: types of the partial columns
								 * the shards return */
	CombinePlanDistinctType,	/* Integer: type of x of the DISTINCT
								 * aggregates (two-level combine), or 0 */
	CombinePlanDistinctEqop,	/* Integer: its equality operator */
	CombinePlanDistinctCollation,	/* Integer: its collation */
	CombinePlanAggIsDistinct,	/* IntList: 1 for DISTINCT aggregates */
	CombinePlanCount
} ShardCombinePlanIndex;

/* The combining of one scan (see shard_combine_begin). */
struct ShardCombineScan
{
	ShardCombiner *combiner;	/* groups out, final values */
	ShardCombiner *distinct_combiner;	/* first level with DISTINCT
										 * aggregates: keys + x */
	List	   *agg_is_distinct;
	int			ngroup;
	int			naggs;
	TupleDesc	scandesc;		/* the output rows */
	bool		folded;			/* the first level has been folded */
};

/*
 * shard_combine_plan: see combine.h.  The List is palloc'd in the
 * planner's context.
 */
List *
shard_combine_plan(ShardUpperInfo *up)
{
	List	   *plan = NIL;
	Oid			xtype = up->distinct_expr ?
		exprType((Node *) up->distinct_expr) : InvalidOid;

	for (int i = 0; i < CombinePlanCount; i++)
	{
		Node	   *item = NULL;

		switch ((ShardCombinePlanIndex) i)
		{
			case CombinePlanMode:
				item = (Node *) makeInteger(up->mode);
				break;
			case CombinePlanNGroup:
				item = (Node *) makeInteger(list_length(up->group_exprs));
				break;
			case CombinePlanGroupEqops:
				item = (Node *) up->group_eqops;
				break;
			case CombinePlanGroupCollations:
				item = (Node *) up->group_collations;
				break;
			case CombinePlanAggKinds:
				item = (Node *) up->agg_kinds;
				break;
			case CombinePlanAggCombineFns:
				item = (Node *) up->agg_combinefns;
				break;
			case CombinePlanAggFnOids:
			case CombinePlanAggInputCollids:
				{
					List	   *oids = NIL;
					ListCell   *lc;

					foreach(lc, up->aggs)
					{
						Aggref	   *agg = lfirst_node(Aggref, lc);

						oids = lappend_oid(oids, i == CombinePlanAggFnOids ?
										   agg->aggfnoid : agg->inputcollid);
					}
					item = (Node *) oids;
					break;
				}
			case CombinePlanPartialTypes:
				item = (Node *) up->partial_types;
				break;
			case CombinePlanDistinctType:
				item = (Node *) makeInteger((int) xtype);
				break;
			case CombinePlanDistinctEqop:
				item = (Node *) makeInteger(OidIsValid(xtype) ?
											(int) lookup_type_cache(xtype, TYPECACHE_EQ_OPR)->eq_opr : 0);
				break;
			case CombinePlanDistinctCollation:
				item = (Node *) makeInteger(OidIsValid(xtype) ?
											(int) exprCollation((Node *) up->distinct_expr) : 0);
				break;
			case CombinePlanAggIsDistinct:
				item = (Node *) up->agg_is_distinct;
				break;
			case CombinePlanCount:
				break;
		}
		plan = lappend(plan, item);
	}
	return plan;
}

/* Does the combine plan fold partial rows (or are the rows final)? */
bool
shard_combine_is_partial(List *plan)
{
	return plan != NIL &&
		intVal(list_nth(plan, CombinePlanMode)) == SHARD_COMBINE_PARTIAL;
}

/*
 * shard_combine_explain: see combine.h.  The text is palloc'd; NULL when
 * nothing is aggregated.
 */
char *
shard_combine_explain(List *plan)
{
	List	   *kinds;
	List	   *aggoids;
	List	   *distinct;
	StringInfoData comb;

	if (plan == NIL ||
		(!shard_combine_is_partial(plan) &&
		 list_nth(plan, CombinePlanAggFnOids) == NIL &&
		 intVal(list_nth(plan, CombinePlanNGroup)) == 0))
		return NULL;
	if (!shard_combine_is_partial(plan))
		return pstrdup("none (aggregated whole on the shards)");

	kinds = list_nth(plan, CombinePlanAggKinds);
	aggoids = list_nth(plan, CombinePlanAggFnOids);
	distinct = list_nth(plan, CombinePlanAggIsDistinct);
	initStringInfo(&comb);
	for (int i = 0; i < list_length(kinds); i++)
	{
		if (distinct != NIL && list_nth_int(distinct, i))
			appendStringInfo(&comb, "%s%s(DISTINCT) -> distinct values per group",
							 i > 0 ? ", " : "",
							 get_func_name(list_nth_oid(aggoids, i)));
		else
			appendStringInfo(&comb, "%s%s", i > 0 ? ", " : "",
							 shard_agg_explain(list_nth_oid(aggoids, i),
											   list_nth_int(kinds, i)));
	}
	if (comb.len == 0)
		appendStringInfoString(&comb, "duplicates removed");
	return comb.data;
}

/*
 * shard_combine_begin: see combine.h.  Everything is allocated in cxt (the
 * executor's per-query context), which the combiners make their own
 * children of.
 */
ShardCombineScan *
shard_combine_begin(List *plan, TupleDesc scandesc, MemoryContext cxt,
					TupleDesc *rowdesc)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	ShardCombineScan *cs = palloc0(sizeof(ShardCombineScan));
	int			ngroup = intVal(list_nth(plan, CombinePlanNGroup));
	List	   *kinds = list_nth(plan, CombinePlanAggKinds);
	List	   *partial_types = list_nth(plan, CombinePlanPartialTypes);
	int			naggs = list_length(kinds);
	ShardAggCombine *akinds = palloc(sizeof(ShardAggCombine) * Max(naggs, 1));
	Oid		   *fns = palloc(sizeof(Oid) * Max(naggs, 1));
	Oid		   *aggoids = palloc(sizeof(Oid) * Max(naggs, 1));
	Oid		   *collids = palloc(sizeof(Oid) * Max(naggs, 1));
	Oid		   *eqops = palloc(sizeof(Oid) * (ngroup + 1));
	Oid		   *gcolls = palloc(sizeof(Oid) * (ngroup + 1));
	Oid			xtype = (Oid) intVal(list_nth(plan, CombinePlanDistinctType));
	TupleDesc	desc;
	int			attno = ngroup;
	ListCell   *lc;

	cs->ngroup = ngroup;
	cs->naggs = naggs;
	cs->scandesc = scandesc;
	cs->agg_is_distinct = list_nth(plan, CombinePlanAggIsDistinct);
	for (int i = 0; i < naggs; i++)
	{
		akinds[i] = list_nth_int(kinds, i);
		fns[i] = list_nth_oid(list_nth(plan, CombinePlanAggCombineFns), i);
		aggoids[i] = list_nth_oid(list_nth(plan, CombinePlanAggFnOids), i);
		collids[i] = list_nth_oid(list_nth(plan, CombinePlanAggInputCollids), i);
	}
	for (int i = 0; i < ngroup; i++)
	{
		eqops[i] = list_nth_oid(list_nth(plan, CombinePlanGroupEqops), i);
		gcolls[i] = list_nth_oid(list_nth(plan, CombinePlanGroupCollations), i);
	}

	/* the rows the shards return: keys, [x,] the partial columns */
	desc = CreateTemplateTupleDesc(ngroup + (OidIsValid(xtype) ? 1 : 0) +
								   list_length(partial_types));
	for (int i = 1; i <= ngroup; i++)
		TupleDescCopyEntry(desc, i, scandesc, i);
	if (OidIsValid(xtype))
		TupleDescInitEntry(desc, ++attno, NULL, xtype, -1, 0);
	foreach(lc, partial_types)
		TupleDescInitEntry(desc, ++attno, NULL, lfirst_oid(lc), -1, 0);
	*rowdesc = desc;

	cs->combiner = shard_combiner_create(scandesc, ngroup, eqops, gcolls,
										 naggs, akinds, fns, aggoids,
										 collids, cxt);
	if (OidIsValid(xtype))
	{
		/*
		 * DISTINCT aggregates: a first level keyed by the group keys and x
		 * folds the other aggregates and removes duplicate x across
		 * shards; its groups feed the second level (cs->combiner, which
		 * made its own copies of the arrays).
		 */
		TupleDesc	d1 = CreateTemplateTupleDesc(ngroup + 1 + naggs);
		int			n1 = 0;

		for (int i = 1; i <= ngroup; i++)
			TupleDescCopyEntry(d1, i, scandesc, i);
		TupleDescInitEntry(d1, ngroup + 1, NULL, xtype, -1, 0);
		eqops[ngroup] = (Oid) intVal(list_nth(plan, CombinePlanDistinctEqop));
		gcolls[ngroup] = (Oid) intVal(list_nth(plan,
											   CombinePlanDistinctCollation));
		for (int i = 0; i < naggs; i++)
		{
			if (list_nth_int(cs->agg_is_distinct, i))
				continue;
			TupleDescCopyEntry(d1, ngroup + 2 + n1, scandesc,
							   ngroup + 1 + i);
			akinds[n1] = akinds[i];
			fns[n1] = fns[i];
			aggoids[n1] = aggoids[i];
			collids[n1] = collids[i];
			n1++;
		}
		d1->natts = ngroup + 1 + n1;	/* the columns filled in */
		cs->distinct_combiner = shard_combiner_create(d1, ngroup + 1,
													  eqops, gcolls, n1,
													  akinds, fns, aggoids,
													  collids, cxt);
	}
	MemoryContextSwitchTo(old);
	return cs;
}

/* shard_combine_add: see combine.h. */
void
shard_combine_add(ShardCombineScan *cs, Datum *values, bool *nulls)
{
	shard_combiner_add(cs->distinct_combiner ?
					   cs->distinct_combiner : cs->combiner, values, nulls);
}

/*
 * Feed the first level's groups (keys, x, the other aggregates' states)
 * into the second: each DISTINCT aggregate gets x as a partial of its own.
 */
static void
fold_distinct_level(ShardCombineScan *cs)
{
	int			ngroup = cs->ngroup;
	int			nmax = (ngroup + 1) + cs->naggs * SHARD_AGG_MAX_PARTIAL_COLS + 1;
	Datum	   *v1 = palloc(sizeof(Datum) * nmax);
	bool	   *n1 = palloc(sizeof(bool) * nmax);
	Datum	   *v2 = palloc(sizeof(Datum) * nmax);
	bool	   *n2 = palloc(sizeof(bool) * nmax);

	while (shard_combiner_next_states(cs->distinct_combiner, v1, n1))
	{
		int			in = ngroup + 1;	/* first-level states start here */
		int			out = ngroup;
		Datum		x = v1[ngroup];
		bool		xnull = n1[ngroup];
		ListCell   *lc;
		int			i = 0;

		memcpy(v2, v1, sizeof(Datum) * ngroup);
		memcpy(n2, n1, sizeof(bool) * ngroup);
		foreach(lc, cs->agg_is_distinct)
		{
			ShardAggCombine kind = shard_combiner_kind(cs->combiner, i);

			if (lfirst_int(lc))
			{
				shard_combiner_distinct_partial(cs->combiner, i, x, xnull,
												&v2[out], &n2[out]);
				out += SHARD_AGG_PARTIAL_COLS(kind);
			}
			else
			{
				for (int j = 0; j < SHARD_AGG_PARTIAL_COLS(kind); j++)
				{
					v2[out] = v1[in];
					n2[out] = n1[in];
					out++;
					in++;
				}
			}
			i++;
		}
		shard_combiner_add(cs->combiner, v2, n2);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(v1);
	pfree(n1);
	pfree(v2);
	pfree(n2);
}

/* shard_combine_next: see combine.h. */
bool
shard_combine_next(ShardCombineScan *cs, Datum *values, bool *nulls)
{
	if (cs->distinct_combiner && !cs->folded)
	{
		fold_distinct_level(cs);
		cs->folded = true;
	}
	return shard_combiner_next(cs->combiner, values, nulls);
}

/* shard_combine_reset: see combine.h. */
void
shard_combine_reset(ShardCombineScan *cs)
{
	shard_combiner_reset(cs->combiner);
	if (cs->distinct_combiner)
		shard_combiner_reset(cs->distinct_combiner);
	cs->folded = false;
}
