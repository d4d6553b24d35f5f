/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Deciding which expressions the shards can evaluate, and building
 *		  the remote SQL text that shardfdw sends to them.
 *
 * Two halves live here:
 *
 *	- The shippability test (shardfdw_is_foreign_expr) walks an expression
 *	  tree and accepts it only if every node is of a kind we know how to
 *	  print, every function, operator and type it uses is built in or
 *	  belongs to an extension listed in the server's "extensions" option,
 *	  nothing in it is mutable, and every collation-sensitive operation uses
 *	  a collation the shard will also pick (see "Collations" below).
 *
 *	- The deparser turns accepted expressions, and the scan around them,
 *	  into SQL text.  It only ever sees expressions the walker accepted, so
 *	  an unsupported node there is a bug (elog), never a user error.
 *
 * Invariants of the generated text:
 *
 *	- The remote session runs with search_path = pg_catalog.  Built-in
 *	  objects (OID < FirstGenbkiObjectId, i.e. objects of pg_catalog) are
 *	  printed unqualified; every other function, operator and type is
 *	  schema-qualified (OPERATOR(schema.op) for operators).
 *	- Every identifier goes through quote_identifier; every literal through
 *	  shardfdw_deparse_string_literal, so any value round-trips.
 *	- Every constant carries its type explicitly (a "::type" cast), except
 *	  booleans, int4 (parenthesized when negative) and plain decimal
 *	  numeric literals, whose bare spelling already has exactly that type.
 *	- Every operator application is parenthesized, so the remote parser's
 *	  precedence rules never matter.
 *	- Params are printed as "$n::type", n being the 1-based position of the
 *	  Param in the caller's params list; equal() Params share one number.
 *	  With no params list (EXPLAIN-only text, e.g. for remote cost
 *	  estimates) a typed NULL placeholder is printed instead.
 *	- The coordinator sets DateStyle, IntervalStyle and extra_float_digits
 *	  around deparsing, so type output functions produce portable text.
 *
 * Collations: we assume the remote columns have the collations declared
 * for the local foreign-table columns and that the shards' default
 * collation equals ours.  An expression is shippable only if the input
 * collation of every collation-sensitive operation is either derived from
 * a foreign column (state SAFE) or is the default collation with no other
 * collation in play (state NONE).  A Const or Param carrying a non-default
 * collation (the result of a folded COLLATE clause) is UNSAFE, as is any
 * node that introduces a collation not derived from its inputs.
 *
 * Upper expressions (shardfdw_is_foreign_upper_expr): grouping keys,
 * output columns, HAVING and sort keys of a grouped query over one foreign
 * relation may also contain plain aggregate calls (Aggref), which follow
 * the collation rules of function calls; columns of other relations are
 * not allowed there.  Sort keys are checked by shardfdw_is_shippable_sort
 * and printed by shardfdw_deparse_sort_item.
 *
 * The deparse context carries the relation the SQL is for (foreignrel),
 * the scan relation underneath (scanrel), and whether column references
 * must be qualified with "rN." aliases: they are for a join pushed down
 * by join.c, whose FROM clause names each table rN.
 *
 * src/deparse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/dependency.h"
#include "common/hashfn.h"
#include "catalog/partition.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "connection.h"
#include "deparse.h"
#include "option.h"
#include "shard.h"

/* ----------------------------------------------------------------------
 * Shippability cache
 * ----------------------------------------------------------------------
 */

/*
 * Whether a non-built-in object may be shipped depends on the extension
 * that owns it and on the server's "extensions" option, so the cache is
 * keyed by (object, catalog, server).
 */
typedef struct ShippableCacheKey
{
	Oid			objid;			/* the object */
	Oid			classid;		/* its catalog */
	Oid			serverid;		/* foreign server whose list applies */
} ShippableCacheKey;

typedef struct ShippableCacheEntry
{
	ShippableCacheKey key;		/* hash key; must be first */
	bool		shippable;
} ShippableCacheEntry;

/* Session lifetime, in TopMemoryContext (hash_create's default). */
static HTAB *ShippableCache = NULL;

/* ----------------------------------------------------------------------
 * Walker (shippability) state
 * ----------------------------------------------------------------------
 */

/* Where the collation of a subexpression comes from. */
typedef enum ShardCollateState
{
	SHARD_COLLATE_NONE,			/* not collatable, or default collation */
	SHARD_COLLATE_SAFE,			/* derived from a foreign column */
	SHARD_COLLATE_UNSAFE		/* from anything else, or a conflict */
} ShardCollateState;

/* Collation state of one subexpression, bubbled up to its parent. */
typedef struct foreign_loc_cxt
{
	Oid			collation;		/* meaningful only when state is SAFE */
	ShardCollateState state;
} foreign_loc_cxt;

/* State global to one shippability test. */
typedef struct foreign_glob_cxt
{
	PlannerInfo *root;
	RelOptInfo *foreignrel;		/* relation the expression is pushed to */
	Relids		relids;			/* base relids whose Vars are remote */
	ShardRelInfo *fpinfo;		/* options (server, extensions) */
	bool		upper;			/* an upper-relation expression: no Vars of
								 * other relations */
	bool		allow_aggs;		/* Aggrefs accepted here (upper, and not
								 * already inside an aggregate) */
	Index		excluded_varno; /* ON CONFLICT DO UPDATE: Vars of EXCLUDED,
								 * or 0 */
} foreign_glob_cxt;

/* ----------------------------------------------------------------------
 * Deparser state
 * ----------------------------------------------------------------------
 */

/*
 * One CASE-with-argument being printed.  A CaseTestExpr inside its WHEN
 * clauses stands for "arg"; it is printed by deparsing arg again (the
 * walker only accepts immutable expressions, so repeating arg is exact),
 * in the scope of the enclosing frame.
 */
typedef struct CaseArgFrame
{
	Expr	   *arg;			/* NULL for a CASE without argument */
	struct CaseArgFrame *outer;
} CaseArgFrame;

/* Context for deparsing one statement. */
typedef struct deparse_expr_cxt
{
	PlannerInfo *root;
	RelOptInfo *foreignrel;		/* the rel the statement is for; a join or
								 * upper rel later, the base rel now */
	RelOptInfo *scanrel;		/* underlying scan relation */
	StringInfo	buf;			/* output */
	List	  **params_list;	/* Params printed as $n; NULL: placeholders */
	bool		qualify_col;	/* print column refs as "rN.col" */
	CaseArgFrame *case_frame;	/* innermost CASE being printed */
	Index		excluded_varno; /* Vars printed as "excluded.col", or 0 */
} deparse_expr_cxt;

/* Alias prefix for relations when columns are qualified (joins, later). */
#define SHARDFDW_REL_ALIAS_PREFIX	"r"

/* ----------------------------------------------------------------------
 * Prototypes of private functions
 * ----------------------------------------------------------------------
 */
static void init_shippable_cache(void);
static void shippable_cache_inval(Datum arg, int cacheid, uint32 hashvalue);
static bool is_builtin(Oid objid);
static bool is_shippable(Oid objid, Oid classid, ShardRelInfo *fpinfo);
static bool lookup_shippable(Oid objid, Oid classid, ShardRelInfo *fpinfo);
static bool sort_operator_ok(Oid sortop, Oid sorttype, ShardRelInfo *fpinfo);

static bool is_local_value(Node *node, Relids relids);
static bool reads_row_walker(Node *node, void *context);
static bool has_remote_mutable(Node *node, Relids relids);
static bool is_foreign_expr_common(PlannerInfo *root, RelOptInfo *baserel,
								   Expr *expr, bool upper,
								   Index excluded_varno);

static bool foreign_expr_walker(Node *node, foreign_glob_cxt *glob_cxt,
								foreign_loc_cxt *outer_cxt,
								foreign_loc_cxt *case_arg_cxt);
static void merge_collation(foreign_loc_cxt *outer, ShardCollateState state,
							Oid collation);
static bool input_collation_ok(Oid inputcollid, foreign_loc_cxt *inner);
static void result_collation(Oid collation, Oid restype,
							 foreign_loc_cxt *inner,
							 ShardCollateState *state, Oid *outcoll);
static ShardCollateState value_collation_state(Oid collation, Oid typid);
static bool relabel_resets_collation(RelabelType *r);
static bool const_is_shippable(Const *c);
static bool is_reg_type(Oid typid);
static bool has_unportable_text(Oid typid);
static bool coerce_via_io_ok(CoerceViaIO *cio);
static bool aggref_parts_ok(Aggref *agg, foreign_glob_cxt *glob_cxt,
							foreign_loc_cxt *inner_cxt);

static void deparse_target_list(StringInfo buf, Relation rel, Index rtindex,
								Bitmapset *attrs_used, bool qualify_col,
								List **retrieved_attrs);
static void deparse_column_ref(StringInfo buf, Index varno, Oid relid,
							   AttrNumber attno, bool qualify_col);
static void append_remote_relname(StringInfo buf, const char *schema,
								  const char *table);
static void append_conditions(List *exprs, deparse_expr_cxt *context);
static void append_set_list(Oid relid, List *attrs, List *exprs,
							deparse_expr_cxt *context);
static void append_conds(List *exprs, const char *sep,
						 deparse_expr_cxt *context);
static void deparse_from_where(const ShardRemoteQuery *q,
							   deparse_expr_cxt *context);
static void deparse_join_side(RelOptInfo *rel, deparse_expr_cxt *context);
static List *clauses_of(List *restrictinfos);
static char *deparse_type_name(Oid typid, int32 typmod);
static void append_function_name(Oid funcid, deparse_expr_cxt *context);
static void append_operator_name(Oid opno, deparse_expr_cxt *context);
static void append_cast(Node *arg, Oid typid, int32 typmod,
						deparse_expr_cxt *context);
static void append_expr_list(List *exprs, deparse_expr_cxt *context);
static void init_expr_cxt(deparse_expr_cxt *context, StringInfo buf,
						  PlannerInfo *root, RelOptInfo *baserel,
						  List **params_list);
static void append_sort_key(Expr *expr, deparse_expr_cxt *context);
static void append_sort_suffix(Oid sortop, Oid sorttype, bool nulls_first,
							   deparse_expr_cxt *context);

static void deparse_expr(Expr *node, deparse_expr_cxt *context);
static void deparse_var(Var *node, deparse_expr_cxt *context);
static void deparse_const(Const *node, deparse_expr_cxt *context);
static void deparse_value_param(Expr *node, Oid type, int32 typmod,
								deparse_expr_cxt *context);
static void deparse_param(Param *node, deparse_expr_cxt *context);
static void deparse_subscripting_ref(SubscriptingRef *node,
									 deparse_expr_cxt *context);
static void deparse_func_expr(FuncExpr *node, deparse_expr_cxt *context);
static void deparse_op_expr(OpExpr *node, deparse_expr_cxt *context);
static void deparse_distinct_expr(DistinctExpr *node,
								  deparse_expr_cxt *context);
static void deparse_nullif_expr(NullIfExpr *node, deparse_expr_cxt *context);
static void deparse_scalar_array_op_expr(ScalarArrayOpExpr *node,
										 deparse_expr_cxt *context);
static void deparse_relabel_type(RelabelType *node,
								 deparse_expr_cxt *context);
static void deparse_coerce_via_io(CoerceViaIO *node,
								  deparse_expr_cxt *context);
static void deparse_bool_expr(BoolExpr *node, deparse_expr_cxt *context);
static void deparse_null_test(NullTest *node, deparse_expr_cxt *context);
static void deparse_boolean_test(BooleanTest *node,
								 deparse_expr_cxt *context);
static void deparse_case_expr(CaseExpr *node, deparse_expr_cxt *context);
static void deparse_case_test_expr(CaseTestExpr *node,
								   deparse_expr_cxt *context);
static void deparse_coalesce_expr(CoalesceExpr *node,
								  deparse_expr_cxt *context);
static void deparse_min_max_expr(MinMaxExpr *node,
								 deparse_expr_cxt *context);
static void deparse_array_expr(ArrayExpr *node, deparse_expr_cxt *context);
static void deparse_aggref(Aggref *node, deparse_expr_cxt *context);


/* ======================================================================
 * Shippability of catalog objects
 * ======================================================================
 */

/*
 * init_shippable_cache: create the session-lifetime cache and register the
 * invalidation callbacks.
 *
 * A change to any foreign server may change its "extensions" list.  A
 * change to pg_proc, pg_operator or pg_type may mean an object was dropped
 * and its OID could be reused by an object of another owner.  Either way
 * we flush everything: the cache is small and refilled cheaply.  (Adding
 * or removing extension members with ALTER EXTENSION sends no catalog
 * invalidation and is only noticed when one of the above happens.)
 */
static void
init_shippable_cache(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(ShippableCacheKey);
	ctl.entrysize = sizeof(ShippableCacheEntry);
	ShippableCache = hash_create("shardfdw shippability cache", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS);

	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, shippable_cache_inval,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, shippable_cache_inval,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(OPEROID, shippable_cache_inval,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, shippable_cache_inval,
								  (Datum) 0);
}

/*
 * shippable_cache_inval: syscache callback; forget every cached answer.
 */
static void
shippable_cache_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	ShippableCacheEntry *entry;

	if (ShippableCache == NULL)
		return;

	hash_seq_init(&status, ShippableCache);
	while ((entry = (ShippableCacheEntry *) hash_seq_search(&status)) != NULL)
	{
		if (hash_search(ShippableCache, &entry->key, HASH_REMOVE,
						NULL) == NULL)
			elog(ERROR, "shardfdw shippability cache is corrupted");
	}
}

/*
 * is_builtin: true for objects with OIDs assigned at bootstrap, which are
 * exactly the objects of pg_catalog (not information_schema's, which get
 * OIDs later in initdb).  We assume the shards run a server version that
 * has all of them.
 */
static bool
is_builtin(Oid objid)
{
	return objid < FirstGenbkiObjectId;
}

/*
 * lookup_shippable: uncached answer for a non-built-in object: it must be a
 * member of one of the extensions listed in the server's "extensions"
 * option.  An implicit array type is judged by its element type (array
 * types belong to their element type, not directly to the extension).
 */
static bool
lookup_shippable(Oid objid, Oid classid, ShardRelInfo *fpinfo)
{
	Oid			extoid;

	if (classid == TypeRelationId)
	{
		Oid			elemtype = get_element_type(objid);

		if (OidIsValid(elemtype))
			return is_shippable(elemtype, TypeRelationId, fpinfo);
	}

	extoid = getExtensionOfObject(classid, objid);
	return OidIsValid(extoid) &&
		list_member_oid(fpinfo->opts.shippable_extensions, extoid);
}

/*
 * is_shippable: may the object objid of catalog classid be referenced in
 * SQL sent to fpinfo's server?
 */
static bool
is_shippable(Oid objid, Oid classid, ShardRelInfo *fpinfo)
{
	ShippableCacheKey key;
	ShippableCacheEntry *entry;
	bool		shippable;

	if (is_builtin(objid))
		return true;

	/* No extension listed: nothing non-built-in can be shipped. */
	if (fpinfo->opts.shippable_extensions == NIL)
		return false;

	if (ShippableCache == NULL)
		init_shippable_cache();

	memset(&key, 0, sizeof(key));
	key.objid = objid;
	key.classid = classid;
	key.serverid = fpinfo->opts.serverid;

	entry = (ShippableCacheEntry *) hash_search(ShippableCache, &key,
												HASH_FIND, NULL);
	if (entry)
		return entry->shippable;

	/*
	 * Compute before entering: the catalog access can process invalidations
	 * that would flush an entry we had already made.
	 */
	shippable = lookup_shippable(objid, classid, fpinfo);

	entry = (ShippableCacheEntry *) hash_search(ShippableCache, &key,
												HASH_ENTER, NULL);
	entry->shippable = shippable;
	return shippable;
}


/* ======================================================================
 * Shippability of expressions
 * ======================================================================
 */

/*
 * shardfdw_is_foreign_expr: true if expr, a clause over baserel, can be
 * evaluated on the shards with the same result it has locally.  Columns of
 * other relations (outer side of a parameterized path) are accepted: they
 * are sent as parameters.  Aggregates are not.
 */
bool
shardfdw_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel, Expr *expr)
{
	return is_foreign_expr_common(root, baserel, expr, false, 0);
}

/*
 * shardfdw_is_foreign_upper_expr: like shardfdw_is_foreign_expr, for an
 * expression of a grouping/aggregation step computed over baserel alone
 * (a grouping key, an output column, a HAVING clause, a sort key).
 *
 * Design: the same walker, with two switches.  Plain aggregate calls
 * (Aggref) are accepted anywhere in the expression -- sum(x) / count(*) + 1,
 * CASE over aggregates -- but not inside another aggregate; see the
 * T_Aggref case of foreign_expr_walker for what an aggregate must satisfy.
 * Columns of other relations are refused: the grouped query runs on the
 * shards as one statement over baserel, and nothing outside it is known
 * there.  GROUPING() and window functions are never shipped (the walker
 * does not know their node types).  Allocates nothing the caller sees.
 */
bool
shardfdw_is_foreign_upper_expr(PlannerInfo *root, RelOptInfo *baserel,
							   Expr *expr)
{
	return is_foreign_expr_common(root, baserel, expr, true, 0);
}

/*
 * is_foreign_expr_common: the shippability test behind
 * shardfdw_is_foreign_expr (upper = false) and
 * shardfdw_is_foreign_upper_expr (upper = true).
 */
static bool
is_foreign_expr_common(PlannerInfo *root, RelOptInfo *baserel, Expr *expr,
					   bool upper, Index excluded_varno)
{
	foreign_glob_cxt glob_cxt;
	foreign_loc_cxt loc_cxt;

	glob_cxt.root = root;
	glob_cxt.foreignrel = baserel;
	glob_cxt.relids = baserel->relids;
	glob_cxt.fpinfo = (ShardRelInfo *) baserel->fdw_private;
	glob_cxt.upper = upper;
	glob_cxt.allow_aggs = upper;
	glob_cxt.excluded_varno = excluded_varno;
	if (glob_cxt.fpinfo == NULL)
		elog(ERROR, "shardfdw relation %u has no planner state",
			 baserel->relid);

	loc_cxt.collation = InvalidOid;
	loc_cxt.state = SHARD_COLLATE_NONE;

	if (!foreign_expr_walker((Node *) expr, &glob_cxt, &loc_cxt, NULL))
		return false;

	/* A result collation the shard would not derive the same way. */
	if (loc_cxt.state == SHARD_COLLATE_UNSAFE)
		return false;

	/*
	 * Stable and volatile functions can give other answers remotely (those
	 * inside a local value are computed here).
	 */
	if (has_remote_mutable((Node *) expr, baserel->relids))
		return false;

	return true;
}

/*
 * Is node a value the coordinator can compute once for the whole scan and
 * send as a parameter: an expression (not a plain Var, Param or Const)
 * with a stable function in it, but no volatile one, no column of the
 * relations relids, no aggregate, window function, subplan or
 * placeholder?  Within one statement it has one value, as PostgreSQL
 * guarantees for stable functions.
 */
bool
shardfdw_is_local_value(Node *node)
{
	return is_local_value(node, NULL);
}

static bool
is_local_value(Node *node, Relids relids)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_FuncExpr:
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
		case T_ScalarArrayOpExpr:
		case T_SQLValueFunction:
		case T_CoerceViaIO:
		case T_RelabelType:
		case T_ArrayCoerceExpr:
		case T_CoerceToDomain:
		case T_BoolExpr:
		case T_CaseExpr:
		case T_CoalesceExpr:
		case T_MinMaxExpr:
		case T_ArrayExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_SubscriptingRef:
			break;
		default:
			return false;		/* a leaf, or not an expression */
	}
	if (!contain_mutable_functions(node) || contain_volatile_functions(node))
		return false;
	return !reads_row_walker(node, NULL);
}

/*
 * Does node read anything that varies per row or needs the executor around
 * it: a column (of any relation or level), a placeholder, an aggregate, a
 * window function, a sublink or subplan?
 */
static bool
reads_row_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) || IsA(node, PlaceHolderVar) || IsA(node, Aggref) ||
		IsA(node, GroupingFunc) || IsA(node, WindowFunc) ||
		IsA(node, SubLink) || IsA(node, SubPlan) ||
		IsA(node, AlternativeSubPlan) || IsA(node, CaseTestExpr))
		return true;
	return expression_tree_walker(node, reads_row_walker, context);
}

/*
 * Mutator of has_remote_mutable: node with every local value replaced by a
 * Param of its type (context: the Relids).
 */
static Node *
replace_local_values(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (is_local_value(node, (Relids) context))
	{
		Param	   *p = makeNode(Param);

		p->paramkind = PARAM_EXTERN;
		p->paramid = 0;
		p->paramtype = exprType(node);
		p->paramtypmod = exprTypmod(node);
		p->paramcollid = exprCollation(node);
		p->location = -1;
		return (Node *) p;
	}
	return expression_tree_mutator(node, replace_local_values, context);
}

/*
 * Does node use a stable or volatile function outside the local values
 * (is_local_value) it contains, i.e. one the shards would evaluate?
 */
static bool
has_remote_mutable(Node *node, Relids relids)
{
	return contain_mutable_functions(replace_local_values(node,
														  (void *) relids));
}

/*
 * shardfdw_is_shippable_sort: true if "ORDER BY expr" with sortop (a btree
 * "<" or ">" operator) under collation can be done by the shards with the
 * same order as here, so that their sorted streams can be merged locally.
 *
 * Design: expr must be a shippable upper expression (it may be, or
 * contain, an aggregate when sorting grouped output); sortop must pass
 * sort_operator_ok.  For the collation, we rely on the walker: an accepted
 * expression's own collation (exprCollation) is one the shard derives the
 * same way -- a column's declared collation, or the default/type
 * collation.  So the sort is safe exactly when it uses that collation.
 * A sort under any other collation (say a pathkey from "ORDER BY col
 * COLLATE "C"" over a folded COLLATE) is refused.  Allocates nothing the
 * caller sees.
 */
bool
shardfdw_is_shippable_sort(PlannerInfo *root, RelOptInfo *baserel,
						   Expr *expr, Oid sortop, Oid collation)
{
	ShardRelInfo *fpinfo = (ShardRelInfo *) baserel->fdw_private;

	if (fpinfo == NULL)
		elog(ERROR, "shardfdw relation %u has no planner state",
			 baserel->relid);

	if (!sort_operator_ok(sortop, exprType((Node *) expr), fpinfo))
		return false;
	if (exprCollation((Node *) expr) != collation)
		return false;
	return shardfdw_is_foreign_upper_expr(root, baserel, expr);
}

/*
 * sort_operator_ok: may the shards sort values of sorttype with sortop?
 * It must be a btree ordering operator, shippable and immutable.  When it
 * is the type's default "<" or ">" it is printed as ASC/DESC and the shard
 * picks the same operator; otherwise it is printed as USING op, which the
 * shard resolves by name for (sorttype, sorttype), so we insist that those
 * be the operator's exact input types (no resolution through binary
 * coercion that could pick another operator).
 */
static bool
sort_operator_ok(Oid sortop, Oid sorttype, ShardRelInfo *fpinfo)
{
	Oid			opfamily;
	Oid			opcintype;
	int16		strategy;
	TypeCacheEntry *typentry;

	if (!OidIsValid(sortop))
		return false;
	if (!get_ordering_op_properties(sortop, &opfamily, &opcintype,
									&strategy))
		return false;
	if (!is_shippable(sortop, OperatorRelationId, fpinfo))
		return false;
	if (func_volatile(get_opcode(sortop)) != PROVOLATILE_IMMUTABLE)
		return false;

	typentry = lookup_type_cache(sorttype,
								 TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);
	if (sortop != typentry->lt_opr && sortop != typentry->gt_opr)
	{
		Oid			lefttype;
		Oid			righttype;

		op_input_types(sortop, &lefttype, &righttype);
		if (lefttype != sorttype || righttype != sorttype)
			return false;
	}
	return true;
}

/*
 * shardfdw_classify_conditions: split input_conds (RestrictInfos) into the
 * ones the shards can evaluate (appended to *remote_conds) and the rest
 * (appended to *local_conds).  The RestrictInfos themselves are shared, not
 * copied.
 */
void
shardfdw_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
							 List *input_conds, List **remote_conds,
							 List **local_conds)
{
	ListCell   *lc;

	foreach(lc, input_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (shardfdw_is_foreign_expr(root, baserel, ri->clause))
			*remote_conds = lappend(*remote_conds, ri);
		else
			*local_conds = lappend(*local_conds, ri);
	}
}

/*
 * merge_collation: fold one child's collation state into its parent's.
 * A stronger state wins; two SAFE collations merge if equal, a non-default
 * one beats the default, and two different non-default ones conflict
 * (UNSAFE: the parent may still not care, so this is not yet a refusal).
 */
static void
merge_collation(foreign_loc_cxt *outer, ShardCollateState state,
				Oid collation)
{
	if (state > outer->state)
	{
		outer->state = state;
		outer->collation = collation;
	}
	else if (state == outer->state && state == SHARD_COLLATE_SAFE &&
			 collation != outer->collation)
	{
		if (outer->collation == DEFAULT_COLLATION_OID)
			outer->collation = collation;
		else if (collation != DEFAULT_COLLATION_OID)
			outer->state = SHARD_COLLATE_UNSAFE;
	}
}

/*
 * input_collation_ok: may an operation whose input collation is inputcollid
 * be shipped, given the merged state of its inputs?  A non-default input
 * collation must be that of the foreign columns feeding it; the default
 * one is fine unless a column with another collation is involved.
 */
static bool
input_collation_ok(Oid inputcollid, foreign_loc_cxt *inner)
{
	if (!OidIsValid(inputcollid))
		return true;			/* inputs are not collatable */

	switch (inner->state)
	{
		case SHARD_COLLATE_SAFE:
			return inputcollid == inner->collation;
		case SHARD_COLLATE_NONE:
			return inputcollid == DEFAULT_COLLATION_OID;
		case SHARD_COLLATE_UNSAFE:
			return false;
	}
	return false;				/* keep compiler quiet */
}

/*
 * result_collation: the collation state of a node of type restype whose
 * result collation is collation, given the merged state of its inputs.  A
 * node must not introduce a collation its inputs did not give it; with no
 * collation from a column among the inputs, the shard derives either the
 * default collation or the result type's own one, so those two are fine.
 */
static void
result_collation(Oid collation, Oid restype, foreign_loc_cxt *inner,
				 ShardCollateState *state, Oid *outcoll)
{
	*outcoll = collation;
	if (!OidIsValid(collation))
		*state = SHARD_COLLATE_NONE;
	else if (inner->state == SHARD_COLLATE_SAFE &&
			 collation == inner->collation)
		*state = SHARD_COLLATE_SAFE;
	else if (inner->state == SHARD_COLLATE_NONE &&
			 (collation == DEFAULT_COLLATION_OID ||
			  collation == get_typcollation(restype)))
		*state = SHARD_COLLATE_NONE;
	else
		*state = SHARD_COLLATE_UNSAFE;
}

/*
 * value_collation_state: the collation state of a Const or Param of type
 * typid.  Its type's own collation (e.g. "C" for name) is what the shard
 * gives a typed literal or parameter too; any other non-default collation
 * comes from a folded COLLATE clause and cannot be reproduced.
 */
static ShardCollateState
value_collation_state(Oid collation, Oid typid)
{
	if (!OidIsValid(collation) || collation == DEFAULT_COLLATION_OID ||
		collation == get_typcollation(typid))
		return SHARD_COLLATE_NONE;
	return SHARD_COLLATE_UNSAFE;
}

/*
 * relabel_resets_collation: is r a folded "COLLATE default" on a value
 * with another collation?  Such a node is printed with an explicit COLLATE
 * clause (deparse_relabel_type), so the shard derives the default
 * collation too.
 */
static bool
relabel_resets_collation(RelabelType *r)
{
	Oid			argcoll = exprCollation((Node *) r->arg);

	return r->resultcollid == DEFAULT_COLLATION_OID &&
		OidIsValid(argcoll) && argcoll != DEFAULT_COLLATION_OID;
}

/*
 * is_reg_type: an OID alias type (regclass and friends), whose text form
 * names a catalog object.
 */
static bool
is_reg_type(Oid typid)
{
	switch (typid)
	{
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGCLASSOID:
		case REGCOLLATIONOID:
		case REGTYPEOID:
		case REGROLEOID:
		case REGNAMESPACEOID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
			return true;
		default:
			return false;
	}
}

/*
 * has_unportable_text: values of this type cannot be sent as text and be
 * read back identically by a shard: OID aliases (resolved by name in the
 * shard's catalogs and search_path), money (read per lc_monetary) and
 * pseudo-types such as anonymous record (no input function).  Arrays of
 * those too.
 */
static bool
has_unportable_text(Oid typid)
{
	Oid			elemtype = get_element_type(typid);

	if (OidIsValid(elemtype))
		typid = elemtype;
	return is_reg_type(typid) || typid == MONEYOID ||
		get_typtype(typid) == TYPTYPE_PSEUDO;
}

/*
 * const_is_shippable: type-specific checks on a Const.  A non-NULL OID
 * alias constant is shippable only if it names a built-in object (whose
 * name resolves to the same object on the shard): never for regrole (the
 * bootstrap superuser's name differs between clusters), nor for regproc
 * and regoper (a bare name may be ambiguous there).
 */
static bool
const_is_shippable(Const *c)
{
	if (c->constisnull)
		return true;

	switch (c->consttype)
	{
		case REGPROCEDUREOID:
		case REGOPERATOROID:
		case REGCLASSOID:
		case REGCOLLATIONOID:
		case REGTYPEOID:
		case REGNAMESPACEOID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
			return is_builtin(DatumGetObjectId(c->constvalue));
		default:
			break;
	}
	return !has_unportable_text(c->consttype);
}

/*
 * coerce_via_io_ok: an I/O conversion is shipped only from a string type,
 * whose text form is the value itself, so only the target's input function
 * matters (its volatility is checked with the rest of the expression).
 * Output functions of other types may depend on settings the shard does
 * not share (bytea_output, extra_float_digits, ...).  Targets whose input
 * depends on such settings (xml: xmloption) are refused too.
 */
static bool
coerce_via_io_ok(CoerceViaIO *cio)
{
	Oid			argtype = exprType((Node *) cio->arg);

	if (argtype != TEXTOID && argtype != VARCHAROID && argtype != BPCHAROID)
		return false;
	if (cio->resulttype == XMLOID || has_unportable_text(cio->resulttype))
		return false;
	return true;
}

/*
 * aggref_parts_ok: are the arguments, ORDER BY, DISTINCT and FILTER of
 * aggregate agg shippable?  The merged collation state of the arguments
 * that feed the aggregate's input collation is folded into *inner_cxt.
 *
 * The ORDER BY and DISTINCT keys are entries of agg->args (resjunk ones
 * when they are not arguments), so walking args checks their expressions.
 * As in the parser (assign_aggregate_collations), resjunk entries do not
 * contribute to the input collation.  Every sort/DISTINCT key is compared
 * under its own collation, so its own state must not be UNSAFE; the
 * FILTER clause is boolean and only checked for shippability.  ORDER BY
 * operators must pass sort_operator_ok; DISTINCT is printed as the bare
 * keyword, so the shard picks the type's default equality and ordering
 * operators as our parser did: they only need to be shippable.
 */
static bool
aggref_parts_ok(Aggref *agg, foreign_glob_cxt *glob_cxt,
				foreign_loc_cxt *inner_cxt)
{
	ShardRelInfo *fpinfo = glob_cxt->fpinfo;
	foreign_loc_cxt filter_cxt;
	ListCell   *lc;

	foreach(lc, agg->args)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		foreign_loc_cxt arg_cxt;

		arg_cxt.collation = InvalidOid;
		arg_cxt.state = SHARD_COLLATE_NONE;
		if (!foreign_expr_walker((Node *) tle->expr, glob_cxt, &arg_cxt,
								 NULL))
			return false;
		if (tle->ressortgroupref != 0 &&
			arg_cxt.state == SHARD_COLLATE_UNSAFE)
			return false;
		if (!tle->resjunk)
			merge_collation(inner_cxt, arg_cxt.state, arg_cxt.collation);
	}

	foreach(lc, agg->aggorder)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupref_tle(sgc->tleSortGroupRef,
												agg->args);

		if (!sort_operator_ok(sgc->sortop, exprType((Node *) tle->expr),
							  fpinfo))
			return false;
	}

	foreach(lc, agg->aggdistinct)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);

		if (!is_shippable(sgc->eqop, OperatorRelationId, fpinfo))
			return false;
		if (OidIsValid(sgc->sortop) &&
			!is_shippable(sgc->sortop, OperatorRelationId, fpinfo))
			return false;
	}

	filter_cxt.collation = InvalidOid;
	filter_cxt.state = SHARD_COLLATE_NONE;
	if (!foreign_expr_walker((Node *) agg->aggfilter, glob_cxt, &filter_cxt,
							 NULL))
		return false;
	if (filter_cxt.state == SHARD_COLLATE_UNSAFE)
		return false;

	return true;
}

/*
 * foreign_expr_walker: true if node can be shipped.  Besides the answer,
 * it folds the node's collation state into *outer_cxt.  case_arg_cxt is
 * the collation state of the argument of the CASE whose WHEN clause we are
 * in, or NULL when a CaseTestExpr cannot occur here.
 */
static bool
foreign_expr_walker(Node *node, foreign_glob_cxt *glob_cxt,
					foreign_loc_cxt *outer_cxt,
					foreign_loc_cxt *case_arg_cxt)
{
	ShardRelInfo *fpinfo = glob_cxt->fpinfo;
	bool		check_type = true;
	foreign_loc_cxt inner_cxt;
	ShardCollateState state;
	Oid			collation;

	if (node == NULL)
		return true;

	/*
	 * A stable expression that reads no column of the relation (now(),
	 * CURRENT_DATE, a stable function of constants) is computed here once
	 * per scan and sent as a parameter, like a Param.
	 */
	if (is_local_value(node, glob_cxt->relids))
	{
		Oid			type = exprType(node);

		if (has_unportable_text(type) ||
			!is_shippable(type, TypeRelationId, fpinfo))
			return false;
		merge_collation(outer_cxt,
						value_collation_state(exprCollation(node), type),
						exprCollation(node));
		return true;
	}

	inner_cxt.collation = InvalidOid;
	inner_cxt.state = SHARD_COLLATE_NONE;

	switch (nodeTag(node))
	{
		case T_Var:
			{
				Var		   *var = (Var *) node;

				/*
				 * Only user columns of the foreign relation.  Whole-row
				 * references and system columns are evaluated locally.
				 */
				if (var->varlevelsup != 0)
					return false;
				if (glob_cxt->excluded_varno != 0 &&
					var->varno == glob_cxt->excluded_varno)
				{
					/* a column of the row proposed for insertion */
					if (var->varattno <= 0)
						return false;
					collation = var->varcollid;
					state = OidIsValid(collation) ?
						SHARD_COLLATE_SAFE : SHARD_COLLATE_NONE;
					break;
				}
				if (!bms_is_member(var->varno, glob_cxt->relids))
				{
					/*
					 * A column of another relation: the outer side of a
					 * parameterized path.  It is sent as a parameter.  An
					 * upper expression is over the foreign relation alone.
					 */
					if (glob_cxt->upper)
						return false;
					if (has_unportable_text(var->vartype))
						return false;
					collation = var->varcollid;
					state = value_collation_state(collation, var->vartype);
					break;
				}
				/*
				 * ctid has its remote value (where a ctid condition may
				 * not be used is up to the planner); whole-row references
				 * and the other system columns are evaluated locally.
				 */
				if (var->varattno <= 0 &&
					var->varattno != SelfItemPointerAttributeNumber)
					return false;

				/*
				 * The remote column is assumed to have the local column's
				 * collation, so whatever it is, it is safe.
				 */
				collation = var->varcollid;
				state = OidIsValid(collation) ?
					SHARD_COLLATE_SAFE : SHARD_COLLATE_NONE;
			}
			break;

		case T_Const:
			{
				Const	   *c = (Const *) node;

				if (!const_is_shippable(c))
					return false;

				collation = c->constcollid;
				state = value_collation_state(collation, c->consttype);
			}
			break;

		case T_Param:
			{
				Param	   *p = (Param *) node;

				/* Values of PARAM_EXTERN/EXEC Params are sent as $n. */
				if (p->paramkind != PARAM_EXTERN &&
					p->paramkind != PARAM_EXEC)
					return false;
				if (has_unportable_text(p->paramtype))
					return false;

				collation = p->paramcollid;
				state = value_collation_state(collation, p->paramtype);
			}
			break;

		case T_SubscriptingRef:
			{
				SubscriptingRef *sr = (SubscriptingRef *) node;
				foreign_loc_cxt idx_cxt;

				/* Assignment never appears in a qual. */
				if (sr->refassgnexpr != NULL)
					return false;

				/*
				 * Subscripts do not contribute to the result's collation;
				 * check them in a scratch context.
				 */
				idx_cxt.collation = InvalidOid;
				idx_cxt.state = SHARD_COLLATE_NONE;
				if (!foreign_expr_walker((Node *) sr->refupperindexpr,
										 glob_cxt, &idx_cxt, case_arg_cxt))
					return false;
				if (!foreign_expr_walker((Node *) sr->reflowerindexpr,
										 glob_cxt, &idx_cxt, case_arg_cxt))
					return false;
				if (idx_cxt.state == SHARD_COLLATE_UNSAFE)
					return false;
				if (!foreign_expr_walker((Node *) sr->refexpr,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				result_collation(sr->refcollid, sr->refrestype, &inner_cxt,
								 &state, &collation);
			}
			break;

		case T_FuncExpr:
			{
				FuncExpr   *fe = (FuncExpr *) node;

				if (!is_shippable(fe->funcid, ProcedureRelationId, fpinfo))
					return false;

				/*
				 * A type output function called directly (its result is a
				 * cstring) prints under settings the shard does not share,
				 * like an I/O conversion from a non-string type (see
				 * coerce_via_io_ok); the dummy ones of pseudo-types
				 * (anyelement_out) always fail.  Evaluated locally, they run
				 * only on rows the local qual order lets through.
				 */
				if (fe->funcresulttype == CSTRINGOID)
					return false;
				if (!foreign_expr_walker((Node *) fe->args,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;
				if (!input_collation_ok(fe->inputcollid, &inner_cxt))
					return false;

				result_collation(fe->funccollid, fe->funcresulttype,
								 &inner_cxt, &state, &collation);
			}
			break;

		case T_OpExpr:
		case T_DistinctExpr:	/* struct-equivalent to OpExpr */
		case T_NullIfExpr:		/* struct-equivalent to OpExpr */
			{
				OpExpr	   *oe = (OpExpr *) node;

				/*
				 * IS DISTINCT FROM and NULLIF have no syntax naming their
				 * operator: the shard looks "=" up in its search_path,
				 * pg_catalog, so only a built-in operator is sure to be
				 * found again.
				 */
				if (IsA(node, OpExpr))
				{
					if (!is_shippable(oe->opno, OperatorRelationId, fpinfo))
						return false;
				}
				else if (!is_builtin(oe->opno))
					return false;

				if (!foreign_expr_walker((Node *) oe->args,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;
				if (!input_collation_ok(oe->inputcollid, &inner_cxt))
					return false;

				result_collation(oe->opcollid, oe->opresulttype,
								 &inner_cxt, &state, &collation);
			}
			break;

		case T_ScalarArrayOpExpr:
			{
				ScalarArrayOpExpr *oe = (ScalarArrayOpExpr *) node;

				if (!is_shippable(oe->opno, OperatorRelationId, fpinfo))
					return false;
				if (!foreign_expr_walker((Node *) oe->args,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;
				if (!input_collation_ok(oe->inputcollid, &inner_cxt))
					return false;

				/* boolean result */
				collation = InvalidOid;
				state = SHARD_COLLATE_NONE;
			}
			break;

		case T_RelabelType:
			{
				RelabelType *r = (RelabelType *) node;

				if (!foreign_expr_walker((Node *) r->arg,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				collation = r->resultcollid;
				if (relabel_resets_collation(r))
					state = SHARD_COLLATE_NONE;
				else
					result_collation(collation, r->resulttype, &inner_cxt,
									 &state, &collation);
			}
			break;

		case T_CoerceViaIO:
			{
				CoerceViaIO *cio = (CoerceViaIO *) node;

				if (!coerce_via_io_ok(cio))
					return false;
				if (!foreign_expr_walker((Node *) cio->arg,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				result_collation(cio->resultcollid, cio->resulttype,
								 &inner_cxt, &state, &collation);
			}
			break;

		case T_BoolExpr:
			{
				BoolExpr   *b = (BoolExpr *) node;

				if (!foreign_expr_walker((Node *) b->args,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				/* boolean result */
				collation = InvalidOid;
				state = SHARD_COLLATE_NONE;
			}
			break;

		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) node;

				/*
				 * "x IS NULL" on a composite means "all fields null" in SQL;
				 * a NullTest that tests the datum itself has no spelling.
				 */
				if (!nt->argisrow &&
					type_is_rowtype(exprType((Node *) nt->arg)))
					return false;

				if (!foreign_expr_walker((Node *) nt->arg,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				collation = InvalidOid;
				state = SHARD_COLLATE_NONE;
			}
			break;

		case T_BooleanTest:
			{
				BooleanTest *bt = (BooleanTest *) node;

				if (!foreign_expr_walker((Node *) bt->arg,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				collation = InvalidOid;
				state = SHARD_COLLATE_NONE;
			}
			break;

		case T_CaseExpr:
			{
				CaseExpr   *ce = (CaseExpr *) node;
				foreign_loc_cxt arg_cxt;
				ListCell   *lc;

				/*
				 * The argument's collation state is what CaseTestExprs in
				 * the WHEN clauses stand for.
				 */
				arg_cxt.collation = InvalidOid;
				arg_cxt.state = SHARD_COLLATE_NONE;
				if (ce->arg != NULL &&
					!foreign_expr_walker((Node *) ce->arg,
										 glob_cxt, &arg_cxt, case_arg_cxt))
					return false;

				foreach(lc, ce->args)
				{
					CaseWhen   *cw = lfirst_node(CaseWhen, lc);
					foreign_loc_cxt when_cxt;

					/*
					 * WHEN conditions are boolean: they do not feed the
					 * CASE's collation, so use a scratch context.
					 */
					when_cxt.collation = InvalidOid;
					when_cxt.state = SHARD_COLLATE_NONE;
					if (!foreign_expr_walker((Node *) cw->expr, glob_cxt,
											 &when_cxt,
											 ce->arg ? &arg_cxt : NULL))
						return false;

					if (!foreign_expr_walker((Node *) cw->result, glob_cxt,
											 &inner_cxt, case_arg_cxt))
						return false;
				}
				if (!foreign_expr_walker((Node *) ce->defresult, glob_cxt,
										 &inner_cxt, case_arg_cxt))
					return false;

				/* Checked against the THEN/ELSE results only. */
				result_collation(ce->casecollid, ce->casetype, &inner_cxt,
								 &state, &collation);
			}
			break;

		case T_CaseTestExpr:
			{
				CaseTestExpr *ct = (CaseTestExpr *) node;

				/* Only inside the WHEN clause of a CASE with argument. */
				if (case_arg_cxt == NULL)
					return false;

				result_collation(ct->collation, ct->typeId, case_arg_cxt,
								 &state, &collation);
			}
			break;

		case T_CoalesceExpr:
			{
				CoalesceExpr *ce = (CoalesceExpr *) node;

				if (!foreign_expr_walker((Node *) ce->args,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				result_collation(ce->coalescecollid, ce->coalescetype,
								 &inner_cxt, &state, &collation);
			}
			break;

		case T_MinMaxExpr:
			{
				MinMaxExpr *mm = (MinMaxExpr *) node;

				if (!foreign_expr_walker((Node *) mm->args,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;
				if (!input_collation_ok(mm->inputcollid, &inner_cxt))
					return false;

				result_collation(mm->minmaxcollid, mm->minmaxtype,
								 &inner_cxt, &state, &collation);
			}
			break;

		case T_ArrayExpr:
			{
				ArrayExpr  *a = (ArrayExpr *) node;

				if (!foreign_expr_walker((Node *) a->elements,
										 glob_cxt, &inner_cxt, case_arg_cxt))
					return false;

				result_collation(a->array_collid, a->array_typeid,
								 &inner_cxt, &state, &collation);
			}
			break;

		case T_Aggref:
			{
				Aggref	   *agg = (Aggref *) node;
				bool		ok;

				/*
				 * Only in upper expressions, not nested (the parser forbids
				 * that anyway), of this query level, and only plain
				 * aggregates computed in one step: partial aggregation is
				 * the caller's business (it ships the plain aggregates and
				 * combines their results), and ordered-set/hypothetical
				 * ones (WITHIN GROUP) have no deparser.
				 */
				if (!glob_cxt->allow_aggs)
					return false;
				if (agg->agglevelsup != 0)
					return false;
				if (agg->aggkind != AGGKIND_NORMAL ||
					agg->aggsplit != AGGSPLIT_SIMPLE ||
					agg->aggdirectargs != NIL)
					return false;
				if (!is_shippable(agg->aggfnoid, ProcedureRelationId, fpinfo))
					return false;

				glob_cxt->allow_aggs = false;
				ok = aggref_parts_ok(agg, glob_cxt, &inner_cxt);
				glob_cxt->allow_aggs = true;
				if (!ok)
					return false;

				/* Like a function call with inputcollid. */
				if (!input_collation_ok(agg->inputcollid, &inner_cxt))
					return false;

				result_collation(agg->aggcollid, agg->aggtype, &inner_cxt,
								 &state, &collation);
			}
			break;

		case T_List:
			{
				List	   *l = (List *) node;
				ListCell   *lc;

				foreach(lc, l)
				{
					if (!foreign_expr_walker((Node *) lfirst(lc),
											 glob_cxt, &inner_cxt,
											 case_arg_cxt))
						return false;
				}

				/* A list's state is just its members' merged state. */
				collation = inner_cxt.collation;
				state = inner_cxt.state;
				check_type = false;
			}
			break;

		default:

			/*
			 * Anything else is evaluated locally.  Adding a node type here
			 * needs a matching case in deparse_expr.
			 */
			return false;
	}

	/* The result type must exist on the shards with the same meaning. */
	if (check_type &&
		!is_shippable(exprType(node), TypeRelationId, fpinfo))
		return false;

	merge_collation(outer_cxt, state, collation);
	return true;
}


/* ======================================================================
 * Building SQL text
 * ======================================================================
 */

/*
 * shardfdw_remote_query: see deparse.h.
 */
ShardRemoteQuery *
shardfdw_remote_query(RelOptInfo *scanrel)
{
	ShardRemoteQuery *q = palloc0(sizeof(ShardRemoteQuery));

	q->scanrel = scanrel;
	q->limit_count = -1;
	return q;
}

/*
 * shardfdw_deparse_query: see deparse.h.  The one place that builds a
 * remote SELECT; every clause is appended by the steps below, in order,
 * with the transmission modes set so that constants print portably.
 */
char *
shardfdw_deparse_query(PlannerInfo *root, const ShardRemoteQuery *q,
					   List **retrieved_attrs, List **params_list)
{
	RelOptInfo *rel = q->scanrel;
	StringInfoData sql;
	StringInfo	buf = &sql;
	deparse_expr_cxt context;
	ListCell   *lc;
	const char *sep;
	int			nestlevel;

	initStringInfo(&sql);
	nestlevel = shardconn_set_transmission_modes();
	init_expr_cxt(&context, buf, root, rel, params_list);
	*retrieved_attrs = NIL;

	/* SELECT [DISTINCT ON (...)] */
	appendStringInfoString(buf, "SELECT ");
	if (q->distinct_on != NIL)
	{
		appendStringInfoString(buf, "DISTINCT ON (");
		sep = "";
		foreach(lc, q->distinct_on)
		{
			appendStringInfoString(buf, sep);
			deparse_expr(lfirst(lc), &context);
			sep = ", ";
		}
		appendStringInfoString(buf, ") ");
	}

	/* the select list */
	if (!q->use_targets)
	{
		RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
		Relation	relation = table_open(rte->relid, NoLock);

		deparse_target_list(buf, relation, rel->relid, q->attrs_used,
							context.qualify_col, retrieved_attrs);
		table_close(relation, NoLock);
	}
	else
	{
		sep = "";
		foreach(lc, q->targets)
		{
			appendStringInfoString(buf, sep);
			deparse_expr(lfirst(lc), &context);
			sep = ", ";
			*retrieved_attrs = lappend_int(*retrieved_attrs,
										   list_length(*retrieved_attrs) + 1);
		}
		/* "SELECT FROM t" is valid, but older servers reject it */
		if (q->targets == NIL)
			appendStringInfoString(buf, "NULL");
	}

	/* FROM, WHERE */
	deparse_from_where(q, &context);

	/* GROUP BY (by position), HAVING */
	for (int i = 1; i <= q->ngroup; i++)
		appendStringInfo(buf, "%s%d", i == 1 ? " GROUP BY " : ", ", i);
	append_conds(q->having, " HAVING ", &context);

	/* ORDER BY: expressions, or positions of the select list */
	sep = " ORDER BY ";
	for (int i = 0; i < list_length(q->sort_ops); i++)
	{
		Oid			op = list_nth_oid(q->sort_ops, i);
		bool		nf = list_nth_int(q->sort_nulls_first, i) != 0;

		appendStringInfoString(buf, sep);
		if (q->sort_exprs != NIL)
		{
			Expr	   *e = list_nth(q->sort_exprs, i);

			append_sort_key(e, &context);
			append_sort_suffix(op, exprType((Node *) e), nf, &context);
		}
		else
		{
			int			pos = list_nth_int(q->sort_positions, i);

			appendStringInfo(buf, "%d", pos);
			append_sort_suffix(op, exprType(list_nth(q->targets, pos - 1)),
							   nf, &context);
		}
		sep = ", ";
	}

	/* LIMIT, OFFSET */
	if (q->limit_count >= 0)
		appendStringInfo(buf, " LIMIT " INT64_FORMAT, q->limit_count);
	if (q->limit_offset > 0)
		appendStringInfo(buf, " OFFSET " INT64_FORMAT, q->limit_offset);

	shardconn_reset_transmission_modes(nestlevel);
	return sql.data;
}

/* The clauses of a list of RestrictInfos (or Exprs), as a new List. */
static List *
clauses_of(List *restrictinfos)
{
	List	   *r = NIL;
	ListCell   *lc;

	foreach(lc, restrictinfos)
	{
		Node	   *n = lfirst(lc);

		if (IsA(n, RestrictInfo))
			n = (Node *) ((RestrictInfo *) n)->clause;
		r = lappend(r, n);
	}
	return r;
}

/*
 * Append exprs (RestrictInfos or Exprs) joined by AND, each parenthesized,
 * the first preceded by sep.
 */
static void
append_conds(List *exprs, const char *sep, deparse_expr_cxt *context)
{
	if (exprs == NIL)
		return;
	appendStringInfoString(context->buf, sep);
	append_conditions(exprs, context);
}

/*
 * " FROM ... [WHERE ...]" of q: the base table with q->conds, or the join
 * recorded in the scan relation's ShardJoinInfo: sides as in
 * deparse_join_side, SEMI and ANTI joins as [NOT] EXISTS, the conditions
 * above an outer join in WHERE.
 */
static void
deparse_from_where(const ShardRemoteQuery *q, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	ShardRelInfo *fp = (ShardRelInfo *) q->scanrel->fdw_private;
	ShardJoinInfo *j = fp->join;
	const char *jt;

	appendStringInfoString(buf, " FROM ");
	if (j == NULL)
	{
		append_remote_relname(buf, fp->opts.schema_name, fp->opts.table_name);
		append_conds(q->conds, " WHERE ", context);
		return;
	}

	deparse_join_side(j->outerrel, context);
	if (j->jointype == JOIN_SEMI || j->jointype == JOIN_ANTI)
	{
		appendStringInfoString(buf, j->jointype == JOIN_SEMI ?
							   " WHERE EXISTS (SELECT NULL FROM " :
							   " WHERE NOT EXISTS (SELECT NULL FROM ");
		deparse_join_side(j->innerrel, context);
		append_conds(j->joinclauses, " WHERE ", context);
		appendStringInfoChar(buf, ')');
		append_conds(j->otherclauses, " AND ", context);
		return;
	}
	switch (j->jointype)
	{
		case JOIN_LEFT:
			jt = " LEFT JOIN ";
			break;
		case JOIN_RIGHT:
			jt = " RIGHT JOIN ";
			break;
		case JOIN_FULL:
			jt = " FULL JOIN ";
			break;
		default:
			jt = " INNER JOIN ";
			break;
	}
	appendStringInfoString(buf, jt);
	deparse_join_side(j->innerrel, context);
	if (j->joinclauses == NIL)
		appendStringInfoString(buf, " ON (TRUE)");
	else
		append_conds(j->joinclauses, " ON ", context);
	append_conds(j->otherclauses, " WHERE ", context);
}

/*
 * One side of a join: "schema.table rN", or "(SELECT * FROM schema.table
 * WHERE conds) rN" when it has remote conditions, so that they apply
 * before the join whatever its type.  ctid is no column of "*": it is
 * added when the query reads it.  The conditions are printed unqualified,
 * inside the subquery.
 */
static void
deparse_join_side(RelOptInfo *rel, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	ShardRelInfo *fp = (ShardRelInfo *) rel->fdw_private;

	if (fp->remote_conds == NIL)
		append_remote_relname(buf, fp->opts.schema_name, fp->opts.table_name);
	else
	{
		deparse_expr_cxt side;

		init_expr_cxt(&side, buf, context->root, rel, context->params_list);
		appendStringInfoString(buf,
							   bms_is_member(SelfItemPointerAttributeNumber -
											 FirstLowInvalidHeapAttributeNumber,
											 fp->attrs_used) ?
							   "(SELECT *, ctid FROM " : "(SELECT * FROM ");
		append_remote_relname(buf, fp->opts.schema_name, fp->opts.table_name);
		append_conds(clauses_of(fp->remote_conds), " WHERE ", &side);
		appendStringInfoChar(buf, ')');
	}
	appendStringInfo(buf, " %s%u", SHARDFDW_REL_ALIAS_PREFIX, rel->relid);
}

/*
 * init_expr_cxt: set *context up for deparsing expressions over base
 * relation baserel, columns unqualified, into buf.
 */
static void
init_expr_cxt(deparse_expr_cxt *context, StringInfo buf, PlannerInfo *root,
			  RelOptInfo *baserel, List **params_list)
{
	if (baserel->fdw_private == NULL)
		elog(ERROR, "shardfdw relation %u has no planner state",
			 baserel->relid);

	context->root = root;
	context->foreignrel = baserel;
	context->scanrel = baserel;
	context->buf = buf;
	context->params_list = params_list;
	/* a pushed-down join names its columns by relation alias */
	context->qualify_col = IS_JOIN_REL(baserel);
	context->case_frame = NULL;
	context->excluded_varno = 0;
}

/*
 * append_sort_key: append expr as a sort key: a Const with an explicit
 * cast (see shardfdw_deparse_sort_item), anything else as usual.
 */
static void
append_sort_key(Expr *expr, deparse_expr_cxt *context)
{
	if (IsA(expr, Const))
	{
		Const	   *c = (Const *) expr;

		append_cast((Node *) c, c->consttype, c->consttypmod, context);
	}
	else
		deparse_expr(expr, context);
}

/*
 * append_sort_suffix: append " ASC", " DESC" or " USING op" for sorting
 * values of sorttype by sortop, then " NULLS FIRST" or " NULLS LAST".
 */
static void
append_sort_suffix(Oid sortop, Oid sorttype, bool nulls_first,
				   deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	TypeCacheEntry *typentry;

	typentry = lookup_type_cache(sorttype,
								 TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);
	if (sortop == typentry->lt_opr)
		appendStringInfoString(buf, " ASC");
	else if (sortop == typentry->gt_opr)
		appendStringInfoString(buf, " DESC");
	else
	{
		appendStringInfoString(buf, " USING ");
		append_operator_name(sortop, context);
	}

	if (nulls_first)
		appendStringInfoString(buf, " NULLS FIRST");
	else
		appendStringInfoString(buf, " NULLS LAST");
}

/*
 * The remote name of foreign table rel, schema-qualified and quoted,
 * appended to buf.
 */
static void
append_table_name(StringInfo buf, Relation rel)
{
	ShardTableOptions opts;

	shardfdw_get_table_options(RelationGetRelid(rel), &opts);
	append_remote_relname(buf, opts.schema_name, opts.table_name);
}

/* " RETURNING cols" for returning_attrs of rel (nothing when empty). */
static void
append_returning(StringInfo buf, Relation rel, Bitmapset *returning_attrs,
				 List **retrieved_attrs)
{
	*retrieved_attrs = NIL;
	if (bms_is_empty(returning_attrs))
		return;
	appendStringInfoString(buf, " RETURNING ");
	deparse_target_list(buf, rel, 0, returning_attrs, false,
						retrieved_attrs);
}

/* shardfdw_deparse_insert: see deparse.h. */
char *
shardfdw_deparse_insert(Relation rel, List *target_attrs, int nrows,
						const char *on_conflict, Index alias_varno,
						Bitmapset *returning_attrs, List **retrieved_attrs)
{
	StringInfoData buf;
	Oid			relid = RelationGetRelid(rel);
	ListCell   *lc;
	int			p = 1;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "INSERT INTO ");
	append_table_name(&buf, rel);
	if (alias_varno > 0)
		appendStringInfo(&buf, " AS %s%u", SHARDFDW_REL_ALIAS_PREFIX,
						 alias_varno);
	if (target_attrs != NIL)
	{
		const char *sep = "";

		appendStringInfoString(&buf, " (");
		foreach(lc, target_attrs)
		{
			appendStringInfo(&buf, "%s%s", sep,
							 quote_identifier(shardfdw_column_name(relid,
																   lfirst_int(lc))));
			sep = ", ";
		}
		appendStringInfoString(&buf, ") VALUES ");
		for (int r = 0; r < nrows; r++)
		{
			appendStringInfoString(&buf, r > 0 ? ", (" : "(");
			for (int c = 0; c < list_length(target_attrs); c++)
				appendStringInfo(&buf, "%s$%d", c > 0 ? ", " : "", p++);
			appendStringInfoChar(&buf, ')');
		}
	}
	else
		appendStringInfoString(&buf, " DEFAULT VALUES");
	if (on_conflict)
		appendStringInfo(&buf, " %s", on_conflict);
	append_returning(&buf, rel, returning_attrs, retrieved_attrs);
	return buf.data;
}

/*
 * shardfdw_deparse_on_conflict: see deparse.h.  Columns of the target are
 * qualified with its alias r<relid> (unqualified names would be ambiguous
 * with EXCLUDED's).
 */
char *
shardfdw_deparse_on_conflict(PlannerInfo *root, RelOptInfo *rel,
							 Index excluded_varno, bool do_update,
							 List *conflict_attrs, List *set_attrs,
							 List *set_exprs, Expr *where)
{
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	StringInfoData buf;
	deparse_expr_cxt context;
	List	   *params = NIL;
	ListCell   *lc;
	const char *sep = " (";
	int			nestlevel;

	foreach(lc, set_exprs)
		if (!is_foreign_expr_common(root, rel, lfirst(lc), false,
									excluded_varno))
			return NULL;
	if (where &&
		!is_foreign_expr_common(root, rel, where, false, excluded_varno))
		return NULL;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ON CONFLICT");
	foreach(lc, conflict_attrs)
	{
		appendStringInfo(&buf, "%s%s", sep,
						 quote_identifier(shardfdw_column_name(rte->relid,
															   lfirst_int(lc))));
		sep = ", ";
	}
	if (conflict_attrs != NIL)
		appendStringInfoChar(&buf, ')');
	if (!do_update)
	{
		appendStringInfoString(&buf, " DO NOTHING");
		return buf.data;
	}

	nestlevel = shardconn_set_transmission_modes();
	init_expr_cxt(&context, &buf, root, rel, &params);
	context.qualify_col = true;
	context.excluded_varno = excluded_varno;
	appendStringInfoString(&buf, " DO UPDATE");
	append_set_list(rte->relid, set_attrs, set_exprs, &context);
	if (where)
	{
		appendStringInfoString(&buf, " WHERE ");
		deparse_expr(where, &context);
	}
	shardconn_reset_transmission_modes(nestlevel);

	/* the INSERT's parameters are the rows': the clause may have none */
	if (params != NIL)
		return NULL;
	return buf.data;
}

/* shardfdw_deparse_update: see deparse.h. */
char *
shardfdw_deparse_update(Relation rel, List *target_attrs,
						Bitmapset *returning_attrs, List **retrieved_attrs)
{
	StringInfoData buf;
	Oid			relid = RelationGetRelid(rel);
	ListCell   *lc;
	int			p = 2;
	const char *sep = " SET ";

	initStringInfo(&buf);
	appendStringInfoString(&buf, "UPDATE ");
	append_table_name(&buf, rel);
	foreach(lc, target_attrs)
	{
		appendStringInfo(&buf, "%s%s = $%d", sep,
						 quote_identifier(shardfdw_column_name(relid,
															   lfirst_int(lc))),
						 p++);
		sep = ", ";
	}
	appendStringInfoString(&buf, " WHERE ctid = $1");
	append_returning(&buf, rel, returning_attrs, retrieved_attrs);
	return buf.data;
}

/* shardfdw_deparse_delete: see deparse.h. */
char *
shardfdw_deparse_delete(Relation rel, Bitmapset *returning_attrs,
						List **retrieved_attrs)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "DELETE FROM ");
	append_table_name(&buf, rel);
	appendStringInfoString(&buf, " WHERE ctid = $1");
	append_returning(&buf, rel, returning_attrs, retrieved_attrs);
	return buf.data;
}

/*
 * append_set_list: " SET col = expr, ..." of columns attrs of table relid
 * and their expressions exprs, into context's buffer.
 */
static void
append_set_list(Oid relid, List *attrs, List *exprs,
				deparse_expr_cxt *context)
{
	ListCell   *lc;
	ListCell   *lc2;
	const char *sep = " SET ";

	forboth(lc, attrs, lc2, exprs)
	{
		appendStringInfo(context->buf, "%s%s = ", sep,
						 quote_identifier(shardfdw_column_name(relid,
															   lfirst_int(lc))));
		deparse_expr(lfirst(lc2), context);
		sep = ", ";
	}
}

/*
 * shardfdw_deparse_direct_modify: see deparse.h.  The table is written
 * unqualified, as in a base scan, so the shipped expressions read the same.
 */
char *
shardfdw_deparse_direct_modify(PlannerInfo *root, RelOptInfo *baserel,
							   CmdType operation, List *target_attrs,
							   List *target_exprs, List *remote_conds,
							   Bitmapset *returning_attrs,
							   List **retrieved_attrs, List **params_list)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Relation	rel = table_open(rte->relid, NoLock);
	StringInfoData buf;
	deparse_expr_cxt context;
	int			nestlevel = shardconn_set_transmission_modes();

	initStringInfo(&buf);
	init_expr_cxt(&context, &buf, root, baserel, params_list);
	appendStringInfoString(&buf, operation == CMD_UPDATE ? "UPDATE " :
						   "DELETE FROM ");
	append_table_name(&buf, rel);
	append_set_list(rte->relid, target_attrs, target_exprs, &context);
	append_conds(remote_conds, " WHERE ", &context);
	append_returning(&buf, rel, returning_attrs, retrieved_attrs);
	table_close(rel, NoLock);
	shardconn_reset_transmission_modes(nestlevel);
	return buf.data;
}

/* shardfdw_deparse_direct_modify_join: see deparse.h. */
char *
shardfdw_deparse_direct_modify_join(PlannerInfo *root, RelOptInfo *joinrel,
									RelOptInfo *targetrel, CmdType operation,
									List *target_attrs, List *target_exprs,
									List **params_list)
{
	ShardRelInfo *jfp = (ShardRelInfo *) joinrel->fdw_private;
	ShardJoinInfo *j = jfp->join;
	ShardRelInfo *tfp = (ShardRelInfo *) targetrel->fdw_private;
	RelOptInfo *other = j->outerrel == targetrel ? j->innerrel : j->outerrel;
	RangeTblEntry *rte = planner_rt_fetch(targetrel->relid, root);
	StringInfoData buf;
	deparse_expr_cxt context;
	List	   *conds;
	int			nestlevel = shardconn_set_transmission_modes();

	initStringInfo(&buf);
	init_expr_cxt(&context, &buf, root, joinrel, params_list);
	appendStringInfoString(&buf, operation == CMD_UPDATE ? "UPDATE " :
						   "DELETE FROM ");
	append_remote_relname(&buf, tfp->opts.schema_name, tfp->opts.table_name);
	appendStringInfo(&buf, " %s%u", SHARDFDW_REL_ALIAS_PREFIX,
					 targetrel->relid);
	append_set_list(rte->relid, target_attrs, target_exprs, &context);
	appendStringInfoString(&buf, operation == CMD_UPDATE ? " FROM " :
						   " USING ");
	deparse_join_side(other, &context);

	/* the join's conditions, then the target's own (qualified here) */
	conds = list_concat(list_copy(j->joinclauses), j->otherclauses);
	conds = list_concat(conds, clauses_of(tfp->remote_conds));
	append_conds(conds, " WHERE ", &context);
	shardconn_reset_transmission_modes(nestlevel);
	return buf.data;
}

/* shardfdw_deparse_copy: see deparse.h. */
char *
shardfdw_deparse_copy(Relation rel, List *target_attrs)
{
	StringInfoData buf;
	ListCell   *lc;
	const char *sep = " (";

	initStringInfo(&buf);
	appendStringInfoString(&buf, "COPY ");
	append_table_name(&buf, rel);
	foreach(lc, target_attrs)
	{
		appendStringInfo(&buf, "%s%s", sep,
						 quote_identifier(shardfdw_column_name(RelationGetRelid(rel),
															   lfirst_int(lc))));
		sep = ", ";
	}
	if (target_attrs != NIL)
		appendStringInfoChar(&buf, ')');
	appendStringInfoString(&buf, " FROM STDIN");
	return buf.data;
}

/* shardfdw_deparse_truncate: see deparse.h. */
char *
shardfdw_deparse_truncate(List *rels, DropBehavior behavior,
						  bool restart_seqs)
{
	StringInfoData buf;
	ListCell   *lc;
	const char *sep = "TRUNCATE ";

	initStringInfo(&buf);
	foreach(lc, rels)
	{
		appendStringInfoString(&buf, sep);
		append_table_name(&buf, (Relation) lfirst(lc));
		sep = ", ";
	}
	if (restart_seqs)
		appendStringInfoString(&buf, " RESTART IDENTITY");
	if (behavior == DROP_CASCADE)
		appendStringInfoString(&buf, " CASCADE");
	return buf.data;
}

/*
 * shardfdw_deparse_analyze_sql: append "SELECT every column FROM rel" for
 * ANALYZE to buf; *retrieved_attrs is set to a new IntList of the attnums
 * fetched, in order.  Allocated in CurrentMemoryContext.
 */
void
shardfdw_deparse_analyze_sql(StringInfo buf, Relation rel,
							 List **retrieved_attrs)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	bool		first = true;
	int			i;

	*retrieved_attrs = NIL;

	appendStringInfoString(buf, "SELECT ");
	for (i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;

		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;

		deparse_column_ref(buf, 0, relid, (AttrNumber) i, false);
		*retrieved_attrs = lappend_int(*retrieved_attrs, i);
	}
	if (first)
		appendStringInfoString(buf, "NULL");

	appendStringInfoString(buf, " FROM ");
	shardfdw_deparse_relation(buf, rel);
}

/*
 * shardfdw_deparse_relation: append the quoted, schema-qualified remote
 * name of foreign table rel (options schema_name and table_name, else the
 * local names) to buf.
 */
void
shardfdw_deparse_relation(StringInfo buf, Relation rel)
{
	ShardTableOptions opts;

	shardfdw_get_table_options(RelationGetRelid(rel), &opts);
	append_remote_relname(buf, opts.schema_name, opts.table_name);
}

/*
 * shardfdw_deparse_string_literal: append val to buf as an SQL string
 * literal that means val whatever standard_conforming_strings is on the
 * other side: quotes are doubled, and when val has a backslash the E''
 * form is used with backslashes doubled.
 */
void
shardfdw_deparse_string_literal(StringInfo buf, const char *val)
{
	bool		has_backslash = (strchr(val, '\\') != NULL);
	const char *p;

	if (has_backslash)
		appendStringInfoChar(buf, 'E');
	appendStringInfoChar(buf, '\'');
	for (p = val; *p; p++)
	{
		if (SQL_STR_DOUBLE(*p, has_backslash))
			appendStringInfoChar(buf, *p);
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * deparse_target_list: append the remote names of the columns of rel in
 * attrs_used (offset by FirstLowInvalidHeapAttributeNumber; a whole-row
 * member means every column), in attnum order and skipping dropped ones,
 * or "NULL" if there are none.  *retrieved_attrs is set to a new IntList
 * of those attnums.  System columns are never fetched.
 */
static void
deparse_target_list(StringInfo buf, Relation rel, Index rtindex,
					Bitmapset *attrs_used, bool qualify_col,
					List **retrieved_attrs)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	bool		wholerow;
	bool		first = true;
	int			i;

	*retrieved_attrs = NIL;

	wholerow = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber,
							 attrs_used);

	for (i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;
		if (!wholerow &&
			!bms_is_member(i - FirstLowInvalidHeapAttributeNumber,
						   attrs_used))
			continue;

		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;

		deparse_column_ref(buf, rtindex, relid, (AttrNumber) i, qualify_col);
		*retrieved_attrs = lappend_int(*retrieved_attrs, i);
	}

	/* ctid, the only system column with a remote value */
	if (bms_is_member(SelfItemPointerAttributeNumber -
					  FirstLowInvalidHeapAttributeNumber, attrs_used))
	{
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		deparse_column_ref(buf, rtindex, relid, SelfItemPointerAttributeNumber,
						   qualify_col);
		*retrieved_attrs = lappend_int(*retrieved_attrs,
									   SelfItemPointerAttributeNumber);
	}

	/* "SELECT FROM t" is valid, but older servers reject it. */
	if (first)
		appendStringInfoString(buf, "NULL");
}

/*
 * deparse_column_ref: append the reference to column attno of relation
 * relid (range table index varno, used as the "r<varno>" qualifier when
 * qualify_col).
 *
 * A user column is its quoted remote name.  A whole-row reference (attno
 * 0) is ROW() of the non-dropped columns in local order, which the
 * coordinator reads back with the row type's input function; ctid is the
 * remote ctid (it identifies a row within its shard only).  Other system
 * columns are not stored remotely: tableoid is the local foreign table's
 * OID, the others 0, as postgres_fdw does.  When qualified (a join), the
 * relation may be on the nullable side of an outer join, so whole-row and
 * constant system values are wrapped to go NULL with the rest of the row:
 * "(r.*)::text IS NOT NULL" is false exactly for a NULL-extended row.
 */
static void
deparse_column_ref(StringInfo buf, Index varno, Oid relid, AttrNumber attno,
				   bool qualify_col)
{
	char		qual[32];

	qual[0] = '\0';
	if (qualify_col)
		snprintf(qual, sizeof(qual), "%s%u.", SHARDFDW_REL_ALIAS_PREFIX,
				 varno);

	if (attno == SelfItemPointerAttributeNumber)
		appendStringInfo(buf, "%sctid", qual);
	else if (attno == 0 || attno < 0)
	{
		if (qualify_col)
			appendStringInfo(buf, "CASE WHEN (%s*)::text IS NOT NULL THEN ",
							 qual);
		if (attno == 0)
		{
			Relation	rel = table_open(relid, NoLock);
			TupleDesc	tupdesc = RelationGetDescr(rel);
			const char *sep = "";

			appendStringInfoString(buf, "ROW(");
			for (int i = 1; i <= tupdesc->natts; i++)
			{
				if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
					continue;
				appendStringInfo(buf, "%s%s%s", sep, qual,
								 quote_identifier(shardfdw_column_name(relid, i)));
				sep = ", ";
			}
			appendStringInfoChar(buf, ')');
			table_close(rel, NoLock);
		}
		else
			appendStringInfo(buf, "%u",
							 attno == TableOidAttributeNumber ? relid : 0);
		if (qualify_col)
			appendStringInfoString(buf, " END");
	}
	else
		appendStringInfo(buf, "%s%s", qual,
						 quote_identifier(shardfdw_column_name(relid, attno)));
}

/*
 * append_remote_relname: append "schema.table", each part quoted as needed.
 */
static void
append_remote_relname(StringInfo buf, const char *schema, const char *table)
{
	appendStringInfo(buf, "%s.%s",
					 quote_identifier(schema), quote_identifier(table));
}

/*
 * append_conditions: append exprs (RestrictInfos or bare clauses) joined
 * by AND, each one parenthesized.
 */
static void
append_conditions(List *exprs, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	ListCell   *lc;
	bool		first = true;

	foreach(lc, exprs)
	{
		Expr	   *expr = (Expr *) lfirst(lc);

		if (IsA(expr, RestrictInfo))
			expr = ((RestrictInfo *) expr)->clause;

		if (!first)
			appendStringInfoString(buf, " AND ");
		first = false;

		appendStringInfoChar(buf, '(');
		deparse_expr(expr, context);
		appendStringInfoChar(buf, ')');
	}
}

/*
 * deparse_type_name: the name of type typid with modifier typmod (-1 for
 * none), as the shard will read it: built-in types as format_type prints
 * them, others always schema-qualified.  The result is palloc'd.
 */
static char *
deparse_type_name(Oid typid, int32 typmod)
{
	bits16		flags = FORMAT_TYPE_TYPEMOD_GIVEN;

	if (!is_builtin(typid))
		flags |= FORMAT_TYPE_FORCE_QUALIFY;

	return format_type_extended(typid, typmod, flags);
}

/*
 * append_function_name: append the name of function funcid, qualified
 * unless built in.
 */
static void
append_function_name(Oid funcid, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	HeapTuple	proctup;
	Form_pg_proc procform;

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", funcid);
	procform = (Form_pg_proc) GETSTRUCT(proctup);

	if (!is_builtin(funcid))
	{
		char	   *nspname = get_namespace_name(procform->pronamespace);

		if (nspname == NULL)
			elog(ERROR, "cache lookup failed for namespace %u",
				 procform->pronamespace);
		appendStringInfo(buf, "%s.", quote_identifier(nspname));
	}
	appendStringInfoString(buf,
						   quote_identifier(NameStr(procform->proname)));

	ReleaseSysCache(proctup);
}

/*
 * append_operator_name: append the name of operator opno: bare if built in,
 * else as OPERATOR(schema.name).
 */
static void
append_operator_name(Oid opno, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	HeapTuple	optup;
	Form_pg_operator opform;

	optup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(optup))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	opform = (Form_pg_operator) GETSTRUCT(optup);

	if (is_builtin(opno))
		appendStringInfoString(buf, NameStr(opform->oprname));
	else
	{
		char	   *nspname = get_namespace_name(opform->oprnamespace);

		if (nspname == NULL)
			elog(ERROR, "cache lookup failed for namespace %u",
				 opform->oprnamespace);
		appendStringInfo(buf, "OPERATOR(%s.%s)",
						 quote_identifier(nspname),
						 NameStr(opform->oprname));
	}

	ReleaseSysCache(optup);
}

/*
 * append_cast: append "(arg)::type".  The parentheses keep the cast bound
 * to the whole argument.
 */
static void
append_cast(Node *arg, Oid typid, int32 typmod, deparse_expr_cxt *context)
{
	appendStringInfoChar(context->buf, '(');
	deparse_expr((Expr *) arg, context);
	appendStringInfo(context->buf, ")::%s", deparse_type_name(typid, typmod));
}

/*
 * append_expr_list: append the expressions separated by ", ".
 */
static void
append_expr_list(List *exprs, deparse_expr_cxt *context)
{
	ListCell   *lc;
	bool		first = true;

	foreach(lc, exprs)
	{
		if (!first)
			appendStringInfoString(context->buf, ", ");
		first = false;
		deparse_expr((Expr *) lfirst(lc), context);
	}
}

/*
 * deparse_expr: append the SQL text of node, which the walker accepted.
 */
static void
deparse_expr(Expr *node, deparse_expr_cxt *context)
{
	if (node == NULL)
		return;
	if (is_local_value((Node *) node, context->scanrel->relids))
	{
		/* computed on the coordinator once per scan: a parameter */
		deparse_value_param(node, exprType((Node *) node),
							exprTypmod((Node *) node), context);
		return;
	}

	switch (nodeTag(node))
	{
		case T_Var:
			deparse_var((Var *) node, context);
			break;
		case T_Const:
			deparse_const((Const *) node, context);
			break;
		case T_Param:
			deparse_param((Param *) node, context);
			break;
		case T_SubscriptingRef:
			deparse_subscripting_ref((SubscriptingRef *) node, context);
			break;
		case T_FuncExpr:
			deparse_func_expr((FuncExpr *) node, context);
			break;
		case T_OpExpr:
			deparse_op_expr((OpExpr *) node, context);
			break;
		case T_DistinctExpr:
			deparse_distinct_expr((DistinctExpr *) node, context);
			break;
		case T_NullIfExpr:
			deparse_nullif_expr((NullIfExpr *) node, context);
			break;
		case T_ScalarArrayOpExpr:
			deparse_scalar_array_op_expr((ScalarArrayOpExpr *) node,
										 context);
			break;
		case T_RelabelType:
			deparse_relabel_type((RelabelType *) node, context);
			break;
		case T_CoerceViaIO:
			deparse_coerce_via_io((CoerceViaIO *) node, context);
			break;
		case T_BoolExpr:
			deparse_bool_expr((BoolExpr *) node, context);
			break;
		case T_NullTest:
			deparse_null_test((NullTest *) node, context);
			break;
		case T_BooleanTest:
			deparse_boolean_test((BooleanTest *) node, context);
			break;
		case T_CaseExpr:
			deparse_case_expr((CaseExpr *) node, context);
			break;
		case T_CaseTestExpr:
			deparse_case_test_expr((CaseTestExpr *) node, context);
			break;
		case T_CoalesceExpr:
			deparse_coalesce_expr((CoalesceExpr *) node, context);
			break;
		case T_MinMaxExpr:
			deparse_min_max_expr((MinMaxExpr *) node, context);
			break;
		case T_ArrayExpr:
			deparse_array_expr((ArrayExpr *) node, context);
			break;
		case T_Aggref:
			deparse_aggref((Aggref *) node, context);
			break;
		case T_List:
			append_expr_list((List *) node, context);
			break;
		default:
			elog(ERROR, "shardfdw cannot deparse expression node type %d",
				 (int) nodeTag(node));
			break;
	}
}

/*
 * deparse_var: a column of the scan relation, by its remote name.
 */
static void
deparse_var(Var *node, deparse_expr_cxt *context)
{
	RangeTblEntry *rte;

	if (node->varlevelsup != 0)
		elog(ERROR, "shardfdw cannot deparse an outer-level Var");
	if (context->excluded_varno != 0 && node->varno == context->excluded_varno)
	{
		RangeTblEntry *target = planner_rt_fetch(context->scanrel->relid,
												 context->root);

		appendStringInfo(context->buf, "excluded.%s",
						 quote_identifier(shardfdw_column_name(target->relid,
															   node->varattno)));
		return;
	}
	if (!bms_is_member(node->varno, context->scanrel->relids))
	{
		/* outer relation of a parameterized path: a parameter */
		deparse_value_param((Expr *) node, node->vartype, node->vartypmod,
							context);
		return;
	}

	rte = planner_rt_fetch(node->varno, context->root);
	deparse_column_ref(context->buf, node->varno, rte->relid,
					   node->varattno, context->qualify_col);
}

/*
 * deparse_const: a constant, through its type's output function, with an
 * explicit cast unless the bare literal already has exactly the type.
 * NULL is printed as a typed NULL.
 */
static void
deparse_const(Const *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	Oid			typoutput;
	bool		typIsVarlena;
	char	   *extval;

	if (node->constisnull)
	{
		appendStringInfo(buf, "NULL::%s",
						 deparse_type_name(node->consttype,
										   node->consttypmod));
		return;
	}

	getTypeOutputInfo(node->consttype, &typoutput, &typIsVarlena);
	extval = OidOutputFunctionCall(typoutput, node->constvalue);

	switch (node->consttype)
	{
		case BOOLOID:
			appendStringInfoString(buf,
								   DatumGetBool(node->constvalue) ?
								   "true" : "false");
			return;

		case INT4OID:

			/*
			 * A bare integer literal that fits in int4 is an int4.  A
			 * negative one is parenthesized so that it cannot merge with a
			 * preceding operator ("- -1" is a comment start).
			 */
			if (extval[0] == '-')
				appendStringInfo(buf, "(%s)", extval);
			else
				appendStringInfoString(buf, extval);
			return;

		case NUMERICOID:

			/*
			 * "digits.digits" is read as numeric with that exact scale.
			 * Anything else (integral, negative, NaN, Infinity, typmod) goes
			 * through the quoted form below.
			 */
			if (node->consttypmod < 0 &&
				strspn(extval, "0123456789.") == strlen(extval) &&
				extval[0] != '.' && strchr(extval, '.') != NULL &&
				extval[strlen(extval) - 1] != '.')
			{
				appendStringInfoString(buf, extval);
				return;
			}
			break;

		default:
			break;
	}

	shardfdw_deparse_string_literal(buf, extval);
	appendStringInfo(buf, "::%s",
					 deparse_type_name(node->consttype, node->consttypmod));
}

/*
 * deparse_param: "$n::type", n being the Param's 1-based position in the
 * params list (added if new).  Without a params list (explain-only text)
 * a typed NULL stands in, so the remote planner sees a value of the right
 * type without knowing it.
 */
static void
deparse_param(Param *node, deparse_expr_cxt *context)
{
	deparse_value_param((Expr *) node, node->paramtype, node->paramtypmod,
						context);
}

/*
 * deparse_value_param: print node -- a Param, or a Var of an outer
 * relation -- as "$n::type"; see deparse_param.
 */
static void
deparse_value_param(Expr *node, Oid type, int32 typmod,
					deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	char	   *typname = deparse_type_name(type, typmod);

	if (context->params_list != NULL)
	{
		int			pindex = 0;
		bool		found = false;
		ListCell   *lc;

		foreach(lc, *context->params_list)
		{
			pindex++;
			if (equal(node, (Node *) lfirst(lc)))
			{
				found = true;
				break;
			}
		}
		if (!found)
		{
			*context->params_list = lappend(*context->params_list, node);
			pindex = list_length(*context->params_list);
		}
		appendStringInfo(buf, "$%d::%s", pindex, typname);
	}
	else
		appendStringInfo(buf, "((SELECT NULL::%s)::%s)", typname, typname);
}

/*
 * deparse_subscripting_ref: "(container)[i]", "(container)[lo:hi]", ...
 * An omitted slice bound is a NULL list member.
 */
static void
deparse_subscripting_ref(SubscriptingRef *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	ListCell   *lowlist_item;
	ListCell   *uplist_item;

	appendStringInfoChar(buf, '(');
	deparse_expr(node->refexpr, context);
	appendStringInfoChar(buf, ')');

	lowlist_item = list_head(node->reflowerindexpr);
	foreach(uplist_item, node->refupperindexpr)
	{
		appendStringInfoChar(buf, '[');
		if (lowlist_item)
		{
			deparse_expr(lfirst(lowlist_item), context);
			appendStringInfoChar(buf, ':');
			lowlist_item = lnext(node->reflowerindexpr, lowlist_item);
		}
		deparse_expr(lfirst(uplist_item), context);
		appendStringInfoChar(buf, ']');
	}
}

/*
 * deparse_func_expr: a cast as "(arg)::type", anything else (including the
 * functions behind special SQL syntax such as EXTRACT) as a plain call,
 * with VARIADIC before the last argument when the call was variadic.
 */
static void
deparse_func_expr(FuncExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	ListCell   *lc;
	bool		first = true;

	if (node->funcformat == COERCE_EXPLICIT_CAST ||
		node->funcformat == COERCE_IMPLICIT_CAST)
	{
		int32		typmod = -1;

		/*
		 * One-argument casts, and explicit length coercions (whose extra
		 * arguments are the typmod and "explicit" flag), map onto the cast
		 * syntax.  An implicit length coercion errors instead of
		 * truncating, which no cast syntax expresses, so it falls through
		 * to a plain call of the coercion function.
		 */
		if (list_length(node->args) == 1 ||
			(node->funcformat == COERCE_EXPLICIT_CAST &&
			 exprIsLengthCoercion((Node *) node, &typmod)))
		{
			append_cast(linitial(node->args), node->funcresulttype, typmod,
						context);
			return;
		}
	}

	append_function_name(node->funcid, context);
	appendStringInfoChar(buf, '(');
	foreach(lc, node->args)
	{
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		if (node->funcvariadic && lnext(node->args, lc) == NULL)
			appendStringInfoString(buf, "VARIADIC ");
		deparse_expr((Expr *) lfirst(lc), context);
	}
	appendStringInfoChar(buf, ')');
}

/*
 * deparse_op_expr: "(left OP right)" or "(OP right)".
 */
static void
deparse_op_expr(OpExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;

	appendStringInfoChar(buf, '(');
	if (list_length(node->args) == 2)
	{
		deparse_expr(linitial(node->args), context);
		appendStringInfoChar(buf, ' ');
		append_operator_name(node->opno, context);
		appendStringInfoChar(buf, ' ');
		deparse_expr(lsecond(node->args), context);
	}
	else if (list_length(node->args) == 1)
	{
		append_operator_name(node->opno, context);
		appendStringInfoChar(buf, ' ');
		deparse_expr(linitial(node->args), context);
	}
	else
		elog(ERROR, "operator %u has %d arguments",
			 node->opno, list_length(node->args));
	appendStringInfoChar(buf, ')');
}

/*
 * deparse_distinct_expr: "(a IS DISTINCT FROM b)".
 */
static void
deparse_distinct_expr(DistinctExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;

	Assert(list_length(node->args) == 2);
	appendStringInfoChar(buf, '(');
	deparse_expr(linitial(node->args), context);
	appendStringInfoString(buf, " IS DISTINCT FROM ");
	deparse_expr(lsecond(node->args), context);
	appendStringInfoChar(buf, ')');
}

/*
 * deparse_nullif_expr: "NULLIF(a, b)".
 */
static void
deparse_nullif_expr(NullIfExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;

	Assert(list_length(node->args) == 2);
	appendStringInfoString(buf, "NULLIF(");
	deparse_expr(linitial(node->args), context);
	appendStringInfoString(buf, ", ");
	deparse_expr(lsecond(node->args), context);
	appendStringInfoChar(buf, ')');
}

/*
 * deparse_scalar_array_op_expr: "(x OP ANY (array))" or ALL.
 */
static void
deparse_scalar_array_op_expr(ScalarArrayOpExpr *node,
							 deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;

	Assert(list_length(node->args) == 2);
	appendStringInfoChar(buf, '(');
	deparse_expr(linitial(node->args), context);
	appendStringInfoChar(buf, ' ');
	append_operator_name(node->opno, context);
	appendStringInfo(buf, " %s (", node->useOr ? "ANY" : "ALL");
	deparse_expr(lsecond(node->args), context);
	appendStringInfoString(buf, "))");
}

/*
 * deparse_relabel_type: the argument alone for an implicit relabeling,
 * a cast for an explicit one; a COLLATE clause when the relabeling resets
 * the collation to the default one (a folded "COLLATE default").
 */
static void
deparse_relabel_type(RelabelType *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	bool		add_collate = relabel_resets_collation(node);

	if (add_collate)
		appendStringInfoChar(buf, '(');

	if (node->relabelformat == COERCE_IMPLICIT_CAST)
		deparse_expr(node->arg, context);
	else
		append_cast((Node *) node->arg, node->resulttype,
					node->resulttypmod, context);

	if (add_collate)
		appendStringInfoString(buf, " COLLATE pg_catalog.\"default\")");
}

/*
 * deparse_coerce_via_io: "(arg)::type"; the shard performs the same I/O
 * conversion, as no cast function exists for the pair on either side.
 */
static void
deparse_coerce_via_io(CoerceViaIO *node, deparse_expr_cxt *context)
{
	append_cast((Node *) node->arg, node->resulttype, -1, context);
}

/*
 * deparse_bool_expr: "(a AND b ...)", "(a OR b ...)", "(NOT a)".
 */
static void
deparse_bool_expr(BoolExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	const char *op = NULL;
	ListCell   *lc;
	bool		first = true;

	switch (node->boolop)
	{
		case AND_EXPR:
			op = "AND";
			break;
		case OR_EXPR:
			op = "OR";
			break;
		case NOT_EXPR:
			appendStringInfoString(buf, "(NOT ");
			deparse_expr(linitial(node->args), context);
			appendStringInfoChar(buf, ')');
			return;
	}
	if (op == NULL)
		elog(ERROR, "unrecognized boolop: %d", (int) node->boolop);

	appendStringInfoChar(buf, '(');
	foreach(lc, node->args)
	{
		if (!first)
			appendStringInfo(buf, " %s ", op);
		first = false;
		deparse_expr((Expr *) lfirst(lc), context);
	}
	appendStringInfoChar(buf, ')');
}

/*
 * deparse_null_test: "(x IS NULL)" or "(x IS NOT NULL)".
 */
static void
deparse_null_test(NullTest *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;

	appendStringInfoChar(buf, '(');
	deparse_expr(node->arg, context);
	if (node->nulltesttype == IS_NULL)
		appendStringInfoString(buf, " IS NULL)");
	else
		appendStringInfoString(buf, " IS NOT NULL)");
}

/*
 * deparse_boolean_test: "(x IS [NOT] TRUE|FALSE|UNKNOWN)".
 */
static void
deparse_boolean_test(BooleanTest *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	const char *test = NULL;

	switch (node->booltesttype)
	{
		case IS_TRUE:
			test = " IS TRUE)";
			break;
		case IS_NOT_TRUE:
			test = " IS NOT TRUE)";
			break;
		case IS_FALSE:
			test = " IS FALSE)";
			break;
		case IS_NOT_FALSE:
			test = " IS NOT FALSE)";
			break;
		case IS_UNKNOWN:
			test = " IS UNKNOWN)";
			break;
		case IS_NOT_UNKNOWN:
			test = " IS NOT UNKNOWN)";
			break;
	}
	if (test == NULL)
		elog(ERROR, "unrecognized booltesttype: %d",
			 (int) node->booltesttype);

	appendStringInfoChar(buf, '(');
	deparse_expr(node->arg, context);
	appendStringInfoString(buf, test);
}

/*
 * deparse_case_expr: always the searched form
 * "(CASE WHEN cond THEN result ... [ELSE result] END)".  For a CASE with
 * an argument, the WHEN conditions reference it through CaseTestExprs,
 * which print the argument itself; this keeps the exact comparison
 * operator of each WHEN (the simple form would make the shard look "="
 * up by name).
 */
static void
deparse_case_expr(CaseExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	CaseArgFrame frame;
	ListCell   *lc;

	frame.arg = node->arg;
	frame.outer = context->case_frame;

	appendStringInfoString(buf, "(CASE");
	foreach(lc, node->args)
	{
		CaseWhen   *cw = lfirst_node(CaseWhen, lc);

		appendStringInfoString(buf, " WHEN ");
		context->case_frame = &frame;
		deparse_expr(cw->expr, context);
		context->case_frame = frame.outer;

		appendStringInfoString(buf, " THEN ");
		deparse_expr(cw->result, context);
	}
	if (node->defresult != NULL)
	{
		appendStringInfoString(buf, " ELSE ");
		deparse_expr(node->defresult, context);
	}
	appendStringInfoString(buf, " END)");
}

/*
 * deparse_case_test_expr: the argument of the innermost CASE, printed in
 * the scope that CASE appeared in.
 */
static void
deparse_case_test_expr(CaseTestExpr *node, deparse_expr_cxt *context)
{
	CaseArgFrame *frame = context->case_frame;

	if (frame == NULL || frame->arg == NULL)
		elog(ERROR, "shardfdw found a CaseTestExpr outside CASE WHEN");

	appendStringInfoChar(context->buf, '(');
	context->case_frame = frame->outer;
	deparse_expr(frame->arg, context);
	context->case_frame = frame;
	appendStringInfoChar(context->buf, ')');
}

/*
 * deparse_coalesce_expr: "COALESCE(a, b, ...)".
 */
static void
deparse_coalesce_expr(CoalesceExpr *node, deparse_expr_cxt *context)
{
	appendStringInfoString(context->buf, "COALESCE(");
	append_expr_list(node->args, context);
	appendStringInfoChar(context->buf, ')');
}

/*
 * deparse_min_max_expr: "GREATEST(a, ...)" or "LEAST(a, ...)".
 */
static void
deparse_min_max_expr(MinMaxExpr *node, deparse_expr_cxt *context)
{
	appendStringInfoString(context->buf,
						   node->op == IS_GREATEST ? "GREATEST(" : "LEAST(");
	append_expr_list(node->args, context);
	appendStringInfoChar(context->buf, ')');
}

/*
 * deparse_array_expr: "ARRAY[a, b, ...]::type[]"; the cast gives an empty
 * array its type and keeps the element type exact.
 */
static void
deparse_array_expr(ArrayExpr *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;

	appendStringInfoString(buf, "ARRAY[");
	append_expr_list(node->elements, context);
	appendStringInfo(buf, "]::%s",
					 deparse_type_name(node->array_typeid, -1));
}

/*
 * deparse_aggref: a plain aggregate call,
 * "name([DISTINCT] args [ORDER BY key ASC|DESC|USING op NULLS ...])
 * [FILTER (WHERE cond)]", or "name(*)" for count(*) and the like.
 * VARIADIC goes before the last argument when the call was variadic.
 * Resjunk entries of args are ORDER BY keys only, not arguments.
 */
static void
deparse_aggref(Aggref *node, deparse_expr_cxt *context)
{
	StringInfo	buf = context->buf;
	ListCell   *lc;

	if (node->aggsplit != AGGSPLIT_SIMPLE || node->aggdirectargs != NIL)
		elog(ERROR, "shardfdw cannot deparse aggregate %u in this form",
			 node->aggfnoid);

	append_function_name(node->aggfnoid, context);
	appendStringInfoChar(buf, '(');

	if (node->aggdistinct != NIL)
		appendStringInfoString(buf, "DISTINCT ");

	if (node->aggstar)
		appendStringInfoChar(buf, '*');
	else
	{
		int			nargs = 0;
		int			i = 0;

		foreach(lc, node->args)
		{
			if (!lfirst_node(TargetEntry, lc)->resjunk)
				nargs++;
		}

		foreach(lc, node->args)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			if (tle->resjunk)
				continue;
			if (i > 0)
				appendStringInfoString(buf, ", ");
			i++;
			if (node->aggvariadic && i == nargs)
				appendStringInfoString(buf, "VARIADIC ");
			deparse_expr(tle->expr, context);
		}
	}

	if (node->aggorder != NIL)
	{
		bool		first = true;

		appendStringInfoString(buf, " ORDER BY ");
		foreach(lc, node->aggorder)
		{
			SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
			TargetEntry *tle = get_sortgroupref_tle(sgc->tleSortGroupRef,
													node->args);

			if (!first)
				appendStringInfoString(buf, ", ");
			first = false;

			append_sort_key(tle->expr, context);
			append_sort_suffix(sgc->sortop, exprType((Node *) tle->expr),
							   sgc->nulls_first, context);
		}
	}
	appendStringInfoChar(buf, ')');

	if (node->aggfilter != NULL)
	{
		appendStringInfoString(buf, " FILTER (WHERE ");
		deparse_expr(node->aggfilter, context);
		appendStringInfoChar(buf, ')');
	}
}

/* shardfdw_deparse_table_sizes: see deparse.h. */
char *
shardfdw_deparse_table_sizes(char **schemas, char **names, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf,
						   "SELECT n.nspname, c.relname, c.reltuples::bigint,"
						   " pg_catalog.pg_total_relation_size(c.oid)"
						   " FROM pg_catalog.pg_class c"
						   " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
						   " WHERE (n.nspname, c.relname) IN (");
	for (int i = 0; i < n; i++)
	{
		appendStringInfoString(&buf, i > 0 ? ", (" : "(");
		shardfdw_deparse_string_literal(&buf, schemas[i]);
		appendStringInfoString(&buf, "::pg_catalog.name, ");
		shardfdw_deparse_string_literal(&buf, names[i]);
		appendStringInfoString(&buf, "::pg_catalog.name)");
	}
	if (n == 0)
		appendStringInfoString(&buf, "(NULL::pg_catalog.name, NULL::pg_catalog.name)");
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * Shard moves (reshard.c).
 *
 * The statements a move sends to the old and the new place of a shard.
 * Names (publication, slot, subscription) are shardfdw's own and are quoted
 * all the same; tables come as schema-qualified names already quoted
 * (quote_qualified_identifier).
 */

/* shardfdw_deparse_move_definitions: see deparse.h. */
char *
shardfdw_deparse_move_definitions(char **qnames, char **columns, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf,
						   "SELECT t.ord, c.oid IS NOT NULL,"
	/* CREATE TABLE: columns, types, collations, NOT NULL */
						   " pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I; CREATE TABLE %s (%s)',"
						   "  n.nspname, c.oid::pg_catalog.regclass,"
						   "  (SELECT pg_catalog.string_agg(pg_catalog.format('%I %s%s%s',"
						   "     a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
						   "     CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation"
						   "      THEN pg_catalog.format(' COLLATE %I.%I', cn.nspname, co.collname)"
						   "      ELSE '' END,"
						   "     CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', '"
						   "     ORDER BY a.attnum)"
						   "   FROM pg_catalog.pg_attribute a"
						   "   JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid"
						   "   LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
						   "   LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
						   "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))"
	/* constraints: primary key, unique, check */
						   " || COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format("
						   "     '; ALTER TABLE %s ADD CONSTRAINT %I %s', c.oid::pg_catalog.regclass,"
						   "     k.conname, pg_catalog.pg_get_constraintdef(k.oid)), '' ORDER BY k.conname)"
						   "   FROM pg_catalog.pg_constraint k"
						   "   WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c')), '')"
	/* other indexes */
						   " || COALESCE((SELECT pg_catalog.string_agg('; ' ||"
						   "     pg_catalog.pg_get_indexdef(i.indexrelid), '' ORDER BY i.indexrelid)"
						   "   FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND NOT EXISTS"
						   "   (SELECT 1 FROM pg_catalog.pg_constraint k"
						   "     WHERE k.conrelid = c.oid AND k.conindid = i.indexrelid)), ''),"
	/*
	 * Replication needs a replica identity for UPDATE and DELETE, and one
	 * that covers the column of a row filter.
	 */
						   " c.relreplident = 'n' OR (c.relreplident IN ('d', 'i') AND NOT EXISTS"
						   "  (SELECT 1 FROM pg_catalog.pg_index i"
						   "    WHERE i.indrelid = c.oid"
						   "    AND CASE c.relreplident WHEN 'd' THEN i.indisprimary ELSE i.indisreplident END"
						   "    AND (t.col IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
						   "      WHERE a.attrelid = c.oid AND a.attname = t.col"
						   "      AND a.attnum = ANY (i.indkey))))),"
	/* logical replication does not copy generated columns */
						   " EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a"
						   "  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
						   "  AND a.attgenerated <> ''),"
						   " c.relkind, c.relreplident"
						   " FROM (VALUES ");
	for (int i = 0; i < n; i++)
	{
		appendStringInfo(&buf, "%s(%d, ", i > 0 ? ", " : "", i);
		shardfdw_deparse_string_literal(&buf, qnames[i]);
		appendStringInfoString(&buf, ", ");
		if (columns[i])
			shardfdw_deparse_string_literal(&buf, columns[i]);
		else
			appendStringInfoString(&buf, "NULL");
		appendStringInfoString(&buf, "::pg_catalog.name)");
	}
	appendStringInfoString(&buf,
						   ") t(ord, qname, col)"
						   " LEFT JOIN pg_catalog.pg_class c"
						   "  ON c.oid = pg_catalog.to_regclass(t.qname)"
						   " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
						   " ORDER BY t.ord");
	return buf.data;
}

/* shardfdw_deparse_move_exists: see deparse.h. */
char *
shardfdw_deparse_move_exists(char **qnames, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT t.ord, pg_catalog.to_regclass(t.qname) IS NOT NULL FROM (VALUES ");
	for (int i = 0; i < n; i++)
	{
		appendStringInfo(&buf, "%s(%d, ", i > 0 ? ", " : "", i);
		shardfdw_deparse_string_literal(&buf, qnames[i]);
		appendStringInfoChar(&buf, ')');
	}
	appendStringInfoString(&buf, ") t(ord, qname) ORDER BY t.ord");
	return buf.data;
}

/* shardfdw_deparse_move: see deparse.h. */
char *
shardfdw_deparse_move(ShardMoveSql kind, const char *name, const char *arg)
{
	StringInfoData buf;
	const char *q = name ? quote_identifier(name) : NULL;

	initStringInfo(&buf);
	switch (kind)
	{
		case MOVE_SQL_WAL_LEVEL:
			appendStringInfoString(&buf, "SELECT pg_catalog.current_setting('wal_level')");
			break;
		case MOVE_SQL_HAS_ROWS:
			appendStringInfo(&buf, "SELECT EXISTS (SELECT 1 FROM %s)", arg);
			break;
		case MOVE_SQL_TRUNCATE:
			appendStringInfo(&buf, "SET LOCAL lock_timeout = '10s'; TRUNCATE %s", arg);
			break;
		case MOVE_SQL_IDENTITY_DEFAULT:
			appendStringInfo(&buf, "SET LOCAL lock_timeout = '10s'; ALTER TABLE %s REPLICA IDENTITY DEFAULT", arg);
			break;
		case MOVE_SQL_IDENTITY_NOTHING:
			appendStringInfo(&buf, "SET LOCAL lock_timeout = '10s'; ALTER TABLE %s REPLICA IDENTITY NOTHING", arg);
			break;
		case MOVE_SQL_DROP_PUBLICATION:
			appendStringInfo(&buf, "DROP PUBLICATION IF EXISTS %s", q);
			break;
		case MOVE_SQL_CREATE_SLOT:
			appendStringInfoString(&buf, "SELECT pg_catalog.pg_create_logical_replication_slot(");
			shardfdw_deparse_string_literal(&buf, name);
			appendStringInfoString(&buf, ", 'pgoutput')");
			break;
		case MOVE_SQL_DROP_SLOT:
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.pg_drop_replication_slot(slot_name)"
								   " FROM pg_catalog.pg_replication_slots WHERE slot_name = ");
			shardfdw_deparse_string_literal(&buf, name);
			break;
		case MOVE_SQL_HAS_SUBSCRIPTION:
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.count(*) FROM pg_catalog.pg_subscription"
								   " WHERE subname = ");
			shardfdw_deparse_string_literal(&buf, name);
			appendStringInfoString(&buf,
								   " AND subdbid = (SELECT oid FROM pg_catalog.pg_database"
								   " WHERE datname = pg_catalog.current_database())");
			break;
		case MOVE_SQL_SUBSCRIPTION_CONNINFO:
			appendStringInfoString(&buf,
								   "SELECT subconninfo FROM pg_catalog.pg_subscription"
								   " WHERE subname = ");
			shardfdw_deparse_string_literal(&buf, name);
			appendStringInfoString(&buf,
								   " AND subdbid = (SELECT oid FROM pg_catalog.pg_database"
								   " WHERE datname = pg_catalog.current_database())");
			break;
		case MOVE_SQL_CREATE_SUBSCRIPTION:
			/* arg: the conninfo of the old place */
			appendStringInfo(&buf, "CREATE SUBSCRIPTION %s CONNECTION ", q);
			shardfdw_deparse_string_literal(&buf, arg);
			appendStringInfo(&buf, " PUBLICATION %s WITH (create_slot = false, slot_name = ", q);
			shardfdw_deparse_string_literal(&buf, name);
			appendStringInfoString(&buf, ", copy_data = true)");
			break;
		case MOVE_SQL_DISABLE_SUBSCRIPTION:
			appendStringInfo(&buf, "ALTER SUBSCRIPTION %s DISABLE", q);
			break;
		case MOVE_SQL_DROP_SUBSCRIPTION:
			/* detached from its slot first: no connection to the old place */
			appendStringInfo(&buf,
							 "ALTER SUBSCRIPTION %s SET (slot_name = NONE);"
							 " DROP SUBSCRIPTION %s", q, q);
			break;
		case MOVE_SQL_SUBSCRIPTION_WORKERS:
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.count(pid) FROM pg_catalog.pg_stat_subscription"
								   " WHERE subname = ");
			shardfdw_deparse_string_literal(&buf, name);
			break;
		case MOVE_SQL_SLOT_ACTIVE:
			appendStringInfoString(&buf,
								   "SELECT active FROM pg_catalog.pg_replication_slots"
								   " WHERE slot_name = ");
			shardfdw_deparse_string_literal(&buf, name);
			break;
		case MOVE_SQL_SYNC_STATE:
			/* tables not ready, all tables, rows being copied, apply and copy errors */
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.count(*) FILTER (WHERE r.srsubstate <> 'r'),"
								   " pg_catalog.count(r.srsubid),"
								   " (SELECT COALESCE(pg_catalog.sum(p.tuples_processed), 0)"
								   "   FROM pg_catalog.pg_stat_progress_copy p),"
								   " (SELECT COALESCE(pg_catalog.sum(t.apply_error_count), 0)"
								   "   FROM pg_catalog.pg_stat_subscription_stats t WHERE t.subname = s.subname),"
								   " (SELECT COALESCE(pg_catalog.sum(t.sync_error_count), 0)"
								   "   FROM pg_catalog.pg_stat_subscription_stats t WHERE t.subname = s.subname)"
								   " FROM pg_catalog.pg_subscription s"
								   " LEFT JOIN pg_catalog.pg_subscription_rel r ON r.srsubid = s.oid"
								   " WHERE s.subname = ");
			shardfdw_deparse_string_literal(&buf, name);
			appendStringInfoString(&buf, " GROUP BY s.subname");
			break;
		case MOVE_SQL_RECEIVED:
			/* arg: an LSN of the old place: bytes not yet applied here */
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.pg_wal_lsn_diff(");
			shardfdw_deparse_string_literal(&buf, arg);
			appendStringInfoString(&buf,
								   "::pg_catalog.pg_lsn, latest_end_lsn)"
								   " FROM pg_catalog.pg_stat_subscription"
								   " WHERE relid IS NULL AND subname = ");
			shardfdw_deparse_string_literal(&buf, name);
			break;
		case MOVE_SQL_CURRENT_LSN:
			/* a WAL record after the LSN, so that a keepalive reports past it */
			/*
			 * The end of a WAL record written now: past every commit that
			 * returned before (also an asynchronous one, whose record may
			 * be past the write position), and once sent, a keepalive
			 * reports past it.
			 */
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.pg_logical_emit_message(false, 'shardfdw', '')");
			break;
		case MOVE_SQL_IN_DOUBT:
			/* arg: this coordinator's gid prefix (no LIKE wildcards in it) */
			appendStringInfoString(&buf,
								   "SELECT gid FROM pg_catalog.pg_prepared_xacts"
								   " WHERE pg_catalog.starts_with(gid, ");
			shardfdw_deparse_string_literal(&buf, arg);
			appendStringInfoString(&buf, ") LIMIT 1");
			break;
		case MOVE_SQL_PREPARED_ANY:
			/* arg: a time of the shard's clock: those prepared by then */
			appendStringInfoString(&buf,
								   "SELECT gid FROM pg_catalog.pg_prepared_xacts"
								   " WHERE prepared <= ");
			shardfdw_deparse_string_literal(&buf, arg);
			appendStringInfoString(&buf, "::pg_catalog.timestamptz LIMIT 1");
			break;
		case MOVE_SQL_NOW:
			appendStringInfoString(&buf, "SELECT pg_catalog.now()::pg_catalog.text");
			break;
		case MOVE_SQL_PUBLICATION_COMMENT:
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.obj_description(oid, 'pg_publication')"
								   " FROM pg_catalog.pg_publication WHERE pubname = ");
			shardfdw_deparse_string_literal(&buf, name);
			break;
		case MOVE_SQL_PLACE:
			/* which database of which cluster this is */
			appendStringInfoString(&buf,
								   "SELECT pg_catalog.format('%s/%s',"
								   " (SELECT system_identifier FROM pg_catalog.pg_control_system()),"
								   " pg_catalog.current_database())");
			break;
		case MOVE_SQL_FLUSH:
			appendStringInfoString(&buf,
								   "SET LOCAL synchronous_commit = on;"
								   " SELECT pg_catalog.txid_current()");
			break;
	}
	return buf.data;
}

/* shardfdw_deparse_tables_nonempty: see deparse.h. */
char *
shardfdw_deparse_tables_nonempty(char **schemas, char **names, int n)
{
	StringInfoData buf;

	Assert(n > 0);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%sEXISTS (SELECT 1 FROM %s)",
						 i > 0 ? ", " : "",
						 quote_qualified_identifier(schemas[i], names[i]));
	return buf.data;
}

/*
 * Is attno one of the key columns (not INCLUDE columns, not expressions)
 * of the index whose pg_index row is index?
 */
static bool
index_has_key_column(Form_pg_index index, AttrNumber attno)
{
	for (int k = 0; k < index->indnkeyatts; k++)
		if (index->indkey.values[k] == attno)
			return true;
	return false;
}

/*
 * Refuse a unique index (a PRIMARY KEY or UNIQUE constraint's or one of
 * its own) of rel that does not have the distribution column unique_key
 * among its key columns: each shard could enforce it only on its own
 * rows.
 */
static void
check_unique_index(Relation rel, Form_pg_index index, AttrNumber unique_key)
{
	if (!index->indisunique || index_has_key_column(index, unique_key))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot distribute table \"%s\": unique index \"%s\" does not include the distribution column \"%s\"",
					RelationGetRelationName(rel),
					get_rel_name(index->indexrelid),
					get_attname(RelationGetRelid(rel), unique_key, false)),
			 errdetail("Each shard could enforce it only among its own rows."),
			 errhint("Add the distribution column to the primary key or unique constraint, or distribute by a column it includes.")));
}

/*
 * The remote statements of one constraint of rel (an ALTER TABLE ... ADD
 * CONSTRAINT, palloc'd), or NULL for a constraint that is not the
 * table's to copy.  Foreign keys and exclusion constraints are refused.
 */
static char *
deparse_constraint(Relation rel, Form_pg_constraint con)
{
	switch (con->contype)
	{
		case CONSTRAINT_PRIMARY:
		case CONSTRAINT_UNIQUE:
		case CONSTRAINT_CHECK:
			return pg_get_constraintdef_command(con->oid);
		case CONSTRAINT_FOREIGN:
		case CONSTRAINT_EXCLUSION:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot distribute table \"%s\": %s constraint \"%s\" is not supported",
							RelationGetRelationName(rel),
							con->contype == CONSTRAINT_FOREIGN ? "foreign key" : "exclusion",
							NameStr(con->conname)),
					 errdetail("Shards cannot check a constraint that spans other shards or tables."),
					 errhint("Drop the constraint first (ALTER TABLE ... DROP CONSTRAINT).")));
			break;
		default:
			break;
	}
	return NULL;
}

/* shardfdw_deparse_column_defs: see deparse.h. */
void
shardfdw_deparse_column_defs(StringInfo buf, Relation rel, bool with_defaults)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	const char *sep = "";

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		if (att->attidentity || att->attgenerated)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot distribute table \"%s\": column \"%s\" is %s column",
							RelationGetRelationName(rel), NameStr(att->attname),
							att->attidentity ? "an identity" : "a generated"),
					 errhint("Drop the %s (ALTER TABLE ... ALTER COLUMN ... DROP %s) first.",
							 att->attidentity ? "identity" : "generation expression",
							 att->attidentity ? "IDENTITY" : "EXPRESSION")));
		appendStringInfo(buf, "%s%s %s", sep, quote_identifier(NameStr(att->attname)),
						 format_type_with_typemod(att->atttypid, att->atttypmod));
		sep = ", ";
		if (OidIsValid(att->attcollation) &&
			att->attcollation != get_typcollation(att->atttypid))
			appendStringInfo(buf, " COLLATE %s",
							 generate_collation_name(att->attcollation));
		if (att->attnotnull)
			appendStringInfoString(buf, " NOT NULL");
		if (with_defaults && att->atthasdef)
		{
			TupleConstr *constr = tupdesc->constr;

			for (int d = 0; constr && d < constr->num_defval; d++)
				if (constr->defval[d].adnum == att->attnum)
					appendStringInfo(buf, " DEFAULT %s",
									 deparse_expression(stringToNode(constr->defval[d].adbin),
														NIL, false, false));
		}
	}
}

/*
 * shardfdw_deparse_create_table: see deparse.h.  Constraints are added by
 * pg_get_constraintdef_command's ALTER TABLE (so NOT VALID stays so), in
 * name order; indexes that back no constraint by pg_get_indexdef_string,
 * in OID order.  Both name the table schema-qualified.
 */
List *
shardfdw_deparse_create_table(Relation rel, AttrNumber unique_key)
{
	StringInfoData buf;
	List	   *stmts = NIL;
	List	   *indexes;
	Relation	conrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	ListCell   *lc;
	int			nestlevel;

	/* print every name that is not in pg_catalog schema-qualified */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE TABLE %s (",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	shardfdw_deparse_column_defs(&buf, rel, false);
	appendStringInfoChar(&buf, ')');
	stmts = lappend(stmts, buf.data);

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationGetRelid(rel)));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		char	   *sql = deparse_constraint(rel, (Form_pg_constraint) GETSTRUCT(tup));

		if (sql)
			stmts = lappend(stmts, sql);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);

	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));

		if (!HeapTupleIsValid(itup))
			elog(ERROR, "cache lookup failed for index %u", indexoid);
		if (unique_key != InvalidAttrNumber)
			check_unique_index(rel, (Form_pg_index) GETSTRUCT(itup), unique_key);
		ReleaseSysCache(itup);
		if (!OidIsValid(get_index_constraint(indexoid)))
			stmts = lappend(stmts, pg_get_indexdef_string(indexoid));
	}
	list_free(indexes);

	AtEOXact_GUC(true, nestlevel);
	return stmts;
}

/* shardfdw_deparse_move_count: see deparse.h. */
char *
shardfdw_deparse_move_count(const char *qname, const char *filter)
{
	if (filter == NULL)
		return psprintf("SELECT pg_catalog.count(*) FROM %s", qname);
	return psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s", qname,
					filter);
}

/*
 * shardfdw_deparse_move_publication: see deparse.h.  One implicit
 * transaction: REPLICA IDENTITY FULL where set_full names the identity a
 * table had, the publication, and a comment on it recording those
 * identities (a line "<identity> <table>" each), so that whoever drops the
 * publication, even after a crash, can set them back.
 */
char *
shardfdw_deparse_move_publication(const char *name, char **qnames,
								  char **filters, const char *set_full, int n)
{
	StringInfoData buf;
	StringInfoData comment;

	initStringInfo(&buf);
	initStringInfo(&comment);
	appendStringInfoString(&buf, "SET LOCAL lock_timeout = '10s'; ");
	for (int i = 0; i < n; i++)
		if (set_full[i])
		{
			appendStringInfo(&buf, "ALTER TABLE %s REPLICA IDENTITY FULL; ",
							 qnames[i]);
			appendStringInfo(&comment, "%c %s\n", set_full[i], qnames[i]);
		}
	appendStringInfo(&buf, "CREATE PUBLICATION %s FOR TABLE ",
					 quote_identifier(name));
	for (int i = 0; i < n; i++)
	{
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", qnames[i]);
		if (filters[i])
			appendStringInfo(&buf, " WHERE %s", filters[i]);
	}
	appendStringInfo(&buf, "; COMMENT ON PUBLICATION %s IS ",
					 quote_identifier(name));
	shardfdw_deparse_string_literal(&buf, comment.data);
	return buf.data;
}

/*
 * shardfdw_deparse_split_filter: see deparse.h.  The remainder is computed
 * as PostgreSQL's hash partitioning does (shard.c): the column's extended
 * hash with HASH_PARTITION_SEED, folded by hash_combine64 into a zero row
 * hash (which adds a constant, modulo 2^64: the arithmetic is done in
 * numeric), modulo the number of shards; a NULL key has remainder 0.  Only
 * built-in functions may appear in a publication's row filter.
 */
char *
shardfdw_deparse_split_filter(const ShardTableOptions *opts,
							  const char *column, int modulus, int remainder)
{
	switch (opts->distribution)
	{
		case SHARD_DIST_HASH:
			{
				Oid			proc = shard_hash_proc(opts);
				const char *col = quote_identifier(column);
				Oid		   *argtypes;
				int			nargs;

				/*
				 * A row filter takes no user-defined type, and calls the
				 * function without a cast the planner would not add by
				 * itself (date, timestamptz and bool hash through another
				 * type's function).
				 */
				(void) get_func_signature(proc, &argtypes, &nargs);
				if (opts->dist_type >= FirstNormalObjectId || nargs != 2 ||
					!IsBinaryCoercible(opts->dist_type, argtypes[0]))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot split foreign table \"%s\": a publication row filter cannot hash its distribution column of type %s",
									get_rel_name(opts->relid),
									format_type_be(opts->dist_type)),
							 errhint("Split tables distributed on integer, text, uuid, numeric or timestamp columns, or reload the table into a server with more shards.")));
				if (proc >= FirstNormalObjectId)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot split foreign table \"%s\": the hash function of type %s is not built in",
									get_rel_name(opts->relid),
									format_type_be(opts->dist_type)),
							 errdetail("A publication's row filter may only call built-in functions.")));
				return psprintf("(COALESCE(((pg_catalog.%s(%s, " INT64_FORMAT ")::pg_catalog.numeric"
								" + " UINT64_FORMAT " + 18446744073709551616)"
								" %% 18446744073709551616) %% %d, 0) = %d)",
								quote_identifier(get_func_name(proc)), col,
								(int64) HASH_PARTITION_SEED,
								hash_combine64(0, 0), modulus, remainder);
			}
		case SHARD_DIST_MODULO:
			return psprintf("(((%s::pg_catalog.numeric %% %d) + %d) %% %d = %d)",
							quote_identifier(column), modulus, modulus,
							modulus, remainder);
		case SHARD_DIST_REPLICATED:
			return NULL;
		default:
			/* no placement: the rows stay on the shard of the same number */
			return remainder < modulus / 2 ? NULL : pstrdup("(false)");
	}
}
