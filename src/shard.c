/*-------------------------------------------------------------------------
 *
 * shard.c
 *		  Row placement and shard pruning.
 *
 * Placement.  A hash-distributed table places a row exactly where
 * PostgreSQL's PARTITION BY HASH (col) with MODULUS N puts it: the key is
 * hashed with the extended hash support function (HASHEXTENDED_PROC) of
 * the column type's default hash operator family, seeded with
 * HASH_PARTITION_SEED, folded with hash_combine64 into a zero row hash, and
 * the shard is that value modulo N.  So a hash-partitioned deployment can
 * switch to shardfdw without moving a row, and satisfies_hash_partition()
 * on a shard verifies placement.  Because integer types share one hash
 * family whose members hash equal values alike, a key of another integer
 * type finds the same shard.  A modulo-distributed table puts key k on
 * shard k mod N, taken non-negative.
 *
 * Pruning.  Conditions on the distribution column of the form col = expr,
 * col = ANY(array expr) / col IN (...), and ORs of those, where the
 * equality operator belongs to the column's hash family and expr does not
 * depend on the scanned row, yield "prune key expressions".  The target
 * shards are the owners of their non-NULL values: decided at plan time
 * when they are Consts, otherwise at executor start and at every rescan
 * (Params of prepared statements, nested-loop parameters).
 *
 * src/shard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "commands/defrem.h"
#include "parser/parse_coerce.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "option.h"
#include "shard.h"

/* Estimated number of keys in an array whose length is unknown. */
#define SHARD_UNKNOWN_ARRAY_KEYS 10

static bool clause_prune_keys(RelOptInfo *baserel,
							  const ShardTableOptions *opts, Expr *clause,
							  List **exprs, List **is_array);
static bool is_dist_column(RelOptInfo *baserel,
						   const ShardTableOptions *opts, Node *node);
static bool is_row_independent(RelOptInfo *baserel, Node *node);
static bool is_dist_equality(const ShardTableOptions *opts, Oid opno);
static int	count_keys(List *exprs, List *is_array);
static Bitmapset *add_key_shards(const ShardTableOptions *opts,
								 Bitmapset *shards, Oid type, Datum value,
								 bool isnull, bool is_array);

PG_FUNCTION_INFO_V1(shardfdw_shard_for);

/*
 * The extended hash function of keytype in the distribution column's hash
 * operator family (for a type binary-coercible to the column's, that of
 * the column's opclass input type).  Errors if there is none.
 */
static Oid
hash_proc(const ShardTableOptions *opts, Oid keytype)
{
	Oid			procid;

	keytype = getBaseType(keytype);
	procid = get_opfamily_proc(opts->dist_hash_opfamily, keytype, keytype,
							   HASHEXTENDED_PROC);
	if (!OidIsValid(procid))
	{
		/* e.g. varchar, hashed by the text opclass it is coercible to */
		Oid			intype = get_opclass_input_type(shardfdw_default_hash_opclass(opts->dist_type));

		if (IsBinaryCoercible(keytype, intype))
			procid = get_opfamily_proc(opts->dist_hash_opfamily, intype,
									   intype, HASHEXTENDED_PROC);
	}
	if (!OidIsValid(procid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a key of type %s cannot be placed on a table distributed on type %s",
						format_type_be(keytype),
						format_type_be(opts->dist_type)),
				 errhint("Cast the key to the type of the distribution column.")));
	return procid;
}

/* shard_hash_proc: see shard.h. */
Oid
shard_hash_proc(const ShardTableOptions *opts)
{
	return hash_proc(opts, opts->dist_type);
}

/*
 * shard_for_key: the shard that owns non-NULL key "key" of type keytype.
 */
int
shard_for_key(const ShardTableOptions *opts, Oid keytype, Datum key)
{
	if (opts->distribution == SHARD_DIST_MODULO)
	{
		int64		v;
		int64		r;

		switch (getBaseType(keytype))
		{
			case INT2OID:
				v = DatumGetInt16(key);
				break;
			case INT4OID:
				v = DatumGetInt32(key);
				break;
			case INT8OID:
				v = DatumGetInt64(key);
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("a modulo-distributed key must be an integer, not %s",
								format_type_be(keytype))));
				v = 0;			/* keep compiler quiet */
		}
		r = v % opts->nshards;
		return (int) (r < 0 ? r + opts->nshards : r);
	}
	else if (opts->distribution == SHARD_DIST_HASH)
	{
		Oid			procid = hash_proc(opts, keytype);
		uint64		hash;
		uint64		rowhash;

		hash = DatumGetUInt64(OidFunctionCall2Coll(procid,
												   opts->dist_collation,
												   key,
												   UInt64GetDatum(HASH_PARTITION_SEED)));
		rowhash = hash_combine64(0, hash);
		return (int) (rowhash % (uint64) opts->nshards);
	}

	elog(ERROR, "shard_for_key called for a table without a distribution key");
	return -1;					/* keep compiler quiet */
}

/*
 * Is node the distribution column of baserel (possibly under a binary
 * compatible relabeling)?
 */
static bool
is_dist_column(RelOptInfo *baserel, const ShardTableOptions *opts,
			   Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Var) &&
		((Var *) node)->varno == baserel->relid &&
		((Var *) node)->varlevelsup == 0 &&
		((Var *) node)->varattno == opts->dist_attno;
}

/*
 * Does node have the same value for every row of baserel during one scan?
 * It may refer to other relations (nested-loop parameters) and Params.
 */
static bool
is_row_independent(RelOptInfo *baserel, Node *node)
{
	Relids		varnos = pull_varnos(NULL, node);

	return !bms_is_member(baserel->relid, varnos) &&
		!contain_volatile_functions(node) &&
		!contain_subplans(node);
}

/* Is opno the equality operator of the distribution column's hash family? */
static bool
is_dist_equality(const ShardTableOptions *opts, Oid opno)
{
	return get_op_opfamily_strategy(opno, opts->dist_hash_opfamily) ==
		HTEqualStrategyNumber;
}

/*
 * If clause restricts the distribution column to the values of some
 * row-independent expressions, append them to *exprs / *is_array and
 * return true.
 */
static bool
clause_prune_keys(RelOptInfo *baserel, const ShardTableOptions *opts,
				  Expr *clause, List **exprs, List **is_array)
{
	if (IsA(clause, RestrictInfo))
		clause = ((RestrictInfo *) clause)->clause;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left;
		Node	   *right;

		if (list_length(op->args) != 2 || !is_dist_equality(opts, op->opno) ||
			!shard_collation_matches(opts, op->inputcollid))
			return false;
		left = linitial(op->args);
		right = lsecond(op->args);
		if (is_dist_column(baserel, opts, right))
		{
			Node	   *tmp = left;

			left = right;
			right = tmp;
		}
		if (!is_dist_column(baserel, opts, left) ||
			!is_row_independent(baserel, right))
			return false;
		*exprs = lappend(*exprs, right);
		*is_array = lappend_int(*is_array, 0);
		return true;
	}
	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;
		Node	   *arr = lsecond(saop->args);

		if (!saop->useOr || !is_dist_equality(opts, saop->opno) ||
			!shard_collation_matches(opts, saop->inputcollid) ||
			!is_dist_column(baserel, opts, linitial(saop->args)) ||
			!is_row_independent(baserel, arr))
			return false;
		*exprs = lappend(*exprs, arr);
		*is_array = lappend_int(*is_array, 1);
		return true;
	}
	if (is_orclause(clause))
	{
		List	   *e = NIL;
		List	   *a = NIL;
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) clause)->args)
		{
			if (!clause_prune_keys(baserel, opts, lfirst(lc), &e, &a))
				return false;
		}
		*exprs = list_concat(*exprs, e);
		*is_array = list_concat(*is_array, a);
		return true;
	}
	return false;
}

/*
 * Estimated number of key values the prune expressions yield (Const arrays
 * are counted exactly).
 */
static int
count_keys(List *exprs, List *is_array)
{
	int			n = 0;
	ListCell   *lc;
	ListCell   *lc2;

	forboth(lc, exprs, lc2, is_array)
	{
		Node	   *e = lfirst(lc);

		if (!lfirst_int(lc2))
			n++;
		else if (IsA(e, Const) && !((Const *) e)->constisnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(((Const *) e)->constvalue);

			n += ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
		}
		else if (IsA(e, ArrayExpr))
			n += list_length(((ArrayExpr *) e)->elements);
		else
			n += SHARD_UNKNOWN_ARRAY_KEYS;
	}
	return n;
}

/*
 * shard_find_prune_exprs: see shard.h.  Among several pruning conditions
 * (ANDed), the one with the fewest keys wins.  The result lists are
 * palloc'd in CurrentMemoryContext.
 */
bool
shard_find_prune_exprs(PlannerInfo *root, RelOptInfo *baserel,
					   const ShardTableOptions *opts, List *restrictinfos,
					   List **exprs, List **is_array)
{
	int			best = -1;
	ListCell   *lc;

	*exprs = NIL;
	*is_array = NIL;
	if (opts->distribution != SHARD_DIST_HASH &&
		opts->distribution != SHARD_DIST_MODULO)
		return false;

	foreach(lc, restrictinfos)
	{
		List	   *e = NIL;
		List	   *a = NIL;

		if (clause_prune_keys(baserel, opts, lfirst(lc), &e, &a))
		{
			int			n = count_keys(e, a);

			if (best < 0 || n < best)
			{
				best = n;
				*exprs = e;
				*is_array = a;
			}
		}
	}
	return best >= 0;
}

/* shard_router_init: see shard.h. */
void
shard_router_init(ShardRouter *r, const ShardTableOptions *opts, Oid keytype)
{
	r->opts = opts;
	r->keytype = keytype;
	if (opts->distribution == SHARD_DIST_HASH)
		fmgr_info(hash_proc(opts, keytype), &r->hashfn);
}

/* shard_route: see shard.h. */
int
shard_route(ShardRouter *r, Datum key, bool isnull)
{
	const ShardTableOptions *opts = r->opts;

	if (isnull)
	{
		if (opts->distribution == SHARD_DIST_MODULO)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("the distribution key of foreign table \"%s\" must not be NULL",
							get_rel_name(opts->relid)),
					 errdetail("A table distributed by 'modulo' has no shard for NULL keys."),
					 errhint("Give the row a key, or distribute the table by 'hash', which places NULL keys on shard 0.")));
		return 0;				/* hash: a zero row hash, remainder 0 */
	}
	if (opts->distribution == SHARD_DIST_HASH)
	{
		uint64		hash = DatumGetUInt64(FunctionCall2Coll(&r->hashfn,
															opts->dist_collation,
															key,
															UInt64GetDatum(HASH_PARTITION_SEED)));

		return (int) (hash_combine64(0, hash) % (uint64) opts->nshards);
	}
	return shard_for_key(opts, r->keytype, key);
}

/*
 * Add to shards the owner(s) of one prune key value: a scalar key of type
 * "type", or every element of an array of that type.  NULLs own nothing.
 */
static Bitmapset *
add_key_shards(const ShardTableOptions *opts, Bitmapset *shards, Oid type,
			   Datum value, bool isnull, bool is_array)
{
	if (isnull)
		return shards;
	if (!is_array)
		return bms_add_member(shards, shard_for_key(opts, type, value));
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
						  &elems, &nulls, &nelems);
		for (int i = 0; i < nelems; i++)
			if (!nulls[i])
				shards = bms_add_member(shards,
										shard_for_key(opts, elemtype, elems[i]));
		return shards;
	}
}

/*
 * shard_eval_prune: see shard.h.  An empty result (NULL) means that no
 * shard can hold a matching row.
 */
Bitmapset *
shard_eval_prune(const ShardTableOptions *opts, List *exprs,
				 List *exprstates, List *is_array, ExprContext *econtext)
{
	Bitmapset  *shards = NULL;

	for (int i = 0; i < list_length(exprs); i++)
	{
		Expr	   *expr = list_nth(exprs, i);
		bool		arr = list_nth_int(is_array, i) != 0;
		Datum		value;
		bool		isnull;

		if (exprstates == NIL)
		{
			Const	   *c = castNode(Const, expr);

			value = c->constvalue;
			isnull = c->constisnull;
		}
		else
			value = ExecEvalExpr(list_nth(exprstates, i), econtext, &isnull);
		shards = add_key_shards(opts, shards, exprType((Node *) expr), value,
								isnull, arr);
	}
	return shards;
}

/*
 * shardfdw.shard_for(regclass, anyelement) returns integer: the shard that
 * owns a key value of a hash- or modulo-distributed table; NULL for NULL.
 */
Datum
shardfdw_shard_for(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Oid			keytype;
	ShardTableOptions opts;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	keytype = get_fn_expr_argtype(fcinfo->flinfo, 1);

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE ||
		GetForeignServer(GetForeignTable(relid)->serverid)->fdwid !=
		GetForeignDataWrapperByName("shardfdw", false)->fdwid)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a shardfdw foreign table",
						get_rel_name(relid))));
	shardfdw_get_table_options(relid, &opts);
	if (opts.distribution != SHARD_DIST_HASH &&
		opts.distribution != SHARD_DIST_MODULO)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" has no distribution column",
						get_rel_name(relid)),
				 errhint("shard_for applies to tables distributed by 'hash' or 'modulo'.")));
	PG_RETURN_INT32(shard_for_key(&opts, keytype, PG_GETARG_DATUM(1)));
}
