/*-------------------------------------------------------------------------
 *
 * shardfdw.c
 *		  Foreign-data wrapper handler and planner callbacks of shardfdw.
 *
 * Planning a base relation: split its WHERE clauses into the ones the
 * shards can evaluate (shipped in the remote SQL) and the rest (filtered
 * locally); find shard pruning conditions on the distribution column;
 * estimate rows and costs from local statistics or, with
 * use_remote_estimate, from EXPLAIN on the target shards only; offer an
 * unparameterized path and, for join clauses on the distribution key,
 * parameterized paths whose target shard is decided per outer row.  The
 * plan's fdw_private is a List indexed by ShardScanPrivateIndex.
 *
 * Costs grow with the number of target shards, so pruned plans win.
 *
 * The executor callbacks live in scan.c, IMPORT FOREIGN SCHEMA and ANALYZE
 * in import.c.
 *
 * src/shardfdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "access/stratnum.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/tlist.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"

#include "combine.h"
#include "connection.h"
#include "deparse.h"
#include "import.h"
#include "join.h"
#include "option.h"
#include "scan.h"
#include "shard.h"
#include "shardfdw.h"

PG_MODULE_MAGIC;

/* log base 2, for sort and merge costs */
#define LOG2(x)  (log(x) / 0.693147180559945)

/* Startup cost of each target shard beyond the first (parallel setup). */
#define SHARDFDW_PER_SHARD_STARTUP_FRACTION 0.1

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* What GetForeignPlan puts into fdw_private (see make_fdw_private). */
typedef struct ScanPlan
{
	char	   *sql;
	List	   *retrieved_attrs;
	int			nparams;
	ShardPruneMode mode;
	List	   *targets;
	List	   *prune_exprs;
	List	   *prune_is_array;
	List	   *sort_attnos;
	List	   *sort_ops;
	List	   *sort_colls;
	List	   *sort_nulls_first;
	ShardUpperInfo *upper;		/* NULL for a base-relation scan */
	char	   *relations;		/* scanrelid 0: what is read, for EXPLAIN */
	char	   *merge_keys;		/* merge keys, for EXPLAIN */
	int64		limit_count;	/* applied by the scan: -1 none */
	int64		limit_offset;
} ScanPlan;

void		_PG_init(void);

static void shardGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
static void shardGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
static ForeignScan *shardGetForeignPlan(PlannerInfo *root,
										RelOptInfo *baserel,
										Oid foreigntableid,
										ForeignPath *best_path,
										List *tlist, List *scan_clauses,
										Plan *outer_plan);
static void shardGetForeignUpperPaths(PlannerInfo *root,
									  UpperRelationKind stage,
									  RelOptInfo *input_rel,
									  RelOptInfo *output_rel, void *extra);
static void add_grouping_path(PlannerInfo *root, RelOptInfo *input_rel,
							  RelOptInfo *grouped_rel, List *groupclauses,
							  Node *havingqual);
static ForeignScan *plan_upper_scan(PlannerInfo *root, RelOptInfo *rel,
									List *tlist, Plan *outer_plan);
static bool collect_aggs(Node *node, List **aggs, List *group_exprs);
static ShardUpperInfo *upper_over(RelOptInfo *input_rel);
static ForeignPath *our_path(RelOptInfo *rel, List *pathkeys);
static void add_ordered_path(PlannerInfo *root, RelOptInfo *input_rel,
							 RelOptInfo *ordered_rel);
static void add_final_path(PlannerInfo *root, RelOptInfo *input_rel,
						   RelOptInfo *final_rel, FinalPathExtraData *extra);
static ForeignScan *plan_join_scan(PlannerInfo *root, RelOptInfo *joinrel,
								   ForeignPath *best_path, List *tlist,
								   Plan *outer_plan);
static void targets_from_join(ShardRelInfo *fp, ScanPlan *sp);
static void shardBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *shardIterateForeignScan(ForeignScanState *node);
static void shardReScanForeignScan(ForeignScanState *node);
static void shardEndForeignScan(ForeignScanState *node);
static void shardExplainForeignScan(ForeignScanState *node,
									ExplainState *es);
static bool shardAnalyzeForeignTable(Relation relation,
									 AcquireSampleRowsFunc *func,
									 BlockNumber *totalpages);
static List *shardImportForeignSchema(ImportForeignSchemaStmt *stmt,
									  Oid serverOid);

static void estimate_costs(PlannerInfo *root, RelOptInfo *baserel,
						   ShardRelInfo *fpinfo, List *param_conds,
						   int nshards, Bitmapset *targets,
						   double *rows, Cost *startup, Cost *total);
static void remote_estimate(PlannerInfo *root, RelOptInfo *baserel,
							ShardRelInfo *fpinfo, List *remote_conds,
							Bitmapset *targets, double *rows,
							Cost *startup, Cost *total);
static bool ec_matches_dist_column(PlannerInfo *root, RelOptInfo *rel,
								   EquivalenceClass *ec,
								   EquivalenceMember *em, void *arg);
static Bitmapset *all_shards(int nshards);
static char *merge_key_names(PlannerInfo *root, List *exprs, bool qualify);
static List *remote_distinct_on(PlannerInfo *root, RelOptInfo *baserel,
								List *pathkeys);
static void plan_targets(PlannerInfo *root, RelOptInfo *baserel,
						 ShardRelInfo *fpinfo, List *clauses, ScanPlan *sp);
static List *make_fdw_private(ShardRelInfo *fpinfo, ScanPlan *sp);
static List *useful_pathkeys_list(PlannerInfo *root, RelOptInfo *rel);

static void shard_utility_hook(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree,
							   ProcessUtilityContext context,
							   ParamListInfo params,
							   QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);

PG_FUNCTION_INFO_V1(shardfdw_handler);

/*
 * _PG_init: install the utility hook that checks column-dependent table
 * options as soon as they are set.
 */
void
_PG_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = shard_utility_hook;
}

/*
 * shardfdw_handler: the FdwRoutine of shardfdw (palloc'd, owned by the
 * caller).
 */
Datum
shardfdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = shardGetForeignRelSize;
	routine->GetForeignPaths = shardGetForeignPaths;
	routine->GetForeignPlan = shardGetForeignPlan;
	routine->BeginForeignScan = shardBeginForeignScan;
	routine->IterateForeignScan = shardIterateForeignScan;
	routine->ReScanForeignScan = shardReScanForeignScan;
	routine->EndForeignScan = shardEndForeignScan;
	routine->ExplainForeignScan = shardExplainForeignScan;
	routine->GetForeignUpperPaths = shardGetForeignUpperPaths;
	routine->GetForeignJoinPaths = shardfdw_join_paths;
	routine->AnalyzeForeignTable = shardAnalyzeForeignTable;
	routine->ImportForeignSchema = shardImportForeignSchema;

	PG_RETURN_POINTER(routine);
}

/* The set {0 .. nshards-1}, palloc'd. */
static Bitmapset *
all_shards(int nshards)
{
	Bitmapset  *r = NULL;

	for (int i = 0; i < nshards; i++)
		r = bms_add_member(r, i);
	return r;
}

/*
 * shardGetForeignRelSize: options, clause classification, pruning and the
 * row estimate of a base relation.  The ShardRelInfo is palloc'd in the
 * planner's context and hung on baserel->fdw_private.
 */
static void
shardGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	ShardRelInfo *fpinfo = palloc0(sizeof(ShardRelInfo));
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Oid			userid;
	ListCell   *lc;
	double		rows;
	Cost		startup;
	Cost		total;

	baserel->fdw_private = fpinfo;
	shardfdw_get_table_options(foreigntableid, &fpinfo->opts);
	fpinfo->table = GetForeignTable(foreigntableid);
	fpinfo->server = GetForeignServer(fpinfo->table->serverid);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	fpinfo->user = GetUserMapping(userid, fpinfo->server->serverid);
	fpinfo->relation_name = get_rel_name(foreigntableid);

	shardfdw_classify_conditions(root, baserel, baserel->baserestrictinfo,
								 &fpinfo->remote_conds, &fpinfo->local_conds);

	/* columns needed: the target list and the local quals */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &fpinfo->attrs_used);
	foreach(lc, fpinfo->local_conds)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) rinfo->clause, baserel->relid,
					   &fpinfo->attrs_used);
	}
	fpinfo->local_conds_sel = clauselist_selectivity(root,
													 fpinfo->local_conds,
													 baserel->relid,
													 JOIN_INNER, NULL);
	cost_qual_eval(&fpinfo->local_conds_cost, fpinfo->local_conds, root);

	/* pruning */
	if (fpinfo->opts.distribution == SHARD_DIST_REPLICATED)
		fpinfo->est_shards = 1;
	else
	{
		fpinfo->prunable = shard_find_prune_exprs(root, baserel, &fpinfo->opts,
												  baserel->baserestrictinfo,
												  &fpinfo->prune_exprs,
												  &fpinfo->prune_is_array);
		fpinfo->est_shards = fpinfo->opts.nshards;
		if (fpinfo->prunable)
		{
			bool		all_const = true;

			foreach(lc, fpinfo->prune_exprs)
				if (!IsA(lfirst(lc), Const))
					all_const = false;
			if (all_const)
			{
				fpinfo->prune_static = true;
				fpinfo->static_shards = shard_eval_prune(&fpinfo->opts,
														 fpinfo->prune_exprs,
														 NIL,
														 fpinfo->prune_is_array,
														 NULL);
				fpinfo->est_shards = bms_num_members(fpinfo->static_shards);
			}
			else
				fpinfo->est_shards = Min(fpinfo->opts.nshards,
										 list_length(fpinfo->prune_exprs));
		}
	}

	/* tables never analyzed: assume 10 pages per shard, as postgres_fdw */
	if (baserel->tuples < 0)
	{
		int			width = baserel->reltarget->width;

		baserel->pages = 10 * fpinfo->opts.nshards;
		baserel->tuples = (10 * fpinfo->opts.nshards * BLCKSZ) /
			(width + MAXALIGN(SizeofHeapTupleHeader));
	}

	if (fpinfo->prune_static && bms_is_empty(fpinfo->static_shards))
	{
		/* no shard can hold a matching row */
		rows = 1;
		startup = total = fpinfo->opts.fdw_startup_cost;
	}
	else
		estimate_costs(root, baserel, fpinfo, NIL, fpinfo->est_shards,
					   fpinfo->prune_static ? fpinfo->static_shards : NULL,
					   &rows, &startup, &total);
	baserel->rows = rows;
	fpinfo->rows = rows;
	fpinfo->startup_cost = startup;
	fpinfo->total_cost = total;
}

/*
 * Estimate rows and costs of scanning baserel on nshards target shards,
 * with param_conds (RestrictInfos of a parameterized path) in addition to
 * the relation's own quals.  targets, when known, are the shards a remote
 * estimate asks.
 */
static void
estimate_costs(PlannerInfo *root, RelOptInfo *baserel, ShardRelInfo *fpinfo,
			   List *param_conds, int nshards, Bitmapset *targets,
			   double *rows, Cost *startup, Cost *total)
{
	const ShardTableOptions *opts = &fpinfo->opts;
	double		retrieved;
	Cost		remote_startup = 0;
	Cost		remote_total;
	Cost		run;
	double		frac;

	if (opts->use_remote_estimate && param_conds == NIL)
	{
		double		remote_rows;

		/*
		 * Ask the target shards; when they are only known at run time, as
		 * many shards as will be targeted (their figures are alike, hash
		 * placement spreads rows evenly).
		 */
		if (targets == NULL)
			targets = all_shards(nshards);
		remote_estimate(root, baserel, fpinfo, fpinfo->remote_conds,
						targets, &remote_rows, &remote_startup,
						&remote_total);
		retrieved = remote_rows;
		*rows = clamp_row_est(remote_rows * fpinfo->local_conds_sel);
	}
	else
	{
		Selectivity sel;
		List	   *conds = list_concat(list_copy(baserel->baserestrictinfo),
										param_conds);

		sel = clauselist_selectivity(root, conds, baserel->relid,
									 JOIN_INNER, NULL);
		*rows = clamp_row_est(baserel->tuples * sel);
		retrieved = clamp_row_est(*rows / Max(fpinfo->local_conds_sel, 1e-10));
		retrieved = Min(retrieved, Max(baserel->tuples, 1));

		/*
		 * The shards' own work: a scan of their part of the table (hash
		 * placement spreads rows evenly), or an index probe when a key
		 * condition restricts it to a few rows.
		 */
		frac = (double) nshards / opts->nshards;
		if (retrieved < baserel->tuples * frac * 0.1)
			remote_total = nshards * (random_page_cost +
									  cpu_index_tuple_cost) +
				retrieved * (cpu_tuple_cost + random_page_cost * 0.1);
		else
			remote_total = baserel->pages * frac * seq_page_cost +
				baserel->tuples * frac * cpu_tuple_cost * 2;
	}

	if (param_conds == NIL)
		fpinfo->retrieved_rows = retrieved;

	*startup = opts->fdw_startup_cost *
		(1.0 + SHARDFDW_PER_SHARD_STARTUP_FRACTION * Max(nshards - 1, 0)) +
		remote_startup + fpinfo->local_conds_cost.startup;
	run = remote_total - remote_startup +
		retrieved * (opts->fdw_tuple_cost + cpu_tuple_cost) +
		retrieved * fpinfo->local_conds_cost.per_tuple;
	*total = *startup + Max(run, 0);
}

/*
 * Ask the target shards for EXPLAIN of the remote query (all in parallel)
 * and combine: rows and total work add up, startup is the slowest shard's.
 */
static void
remote_estimate(PlannerInfo *root, RelOptInfo *baserel, ShardRelInfo *fpinfo,
				List *remote_conds, Bitmapset *targets, double *rows,
				Cost *startup, Cost *total)
{
	StringInfoData sql;
	List	   *retrieved_attrs;
	ShardConn **conns;
	int			nestlevel;
	int			shard = -1;

	*rows = 0;
	*startup = 0;
	*total = 0;
	if (bms_is_empty(targets))
		return;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "EXPLAIN ");
	nestlevel = shardconn_set_transmission_modes();
	shardfdw_deparse_select(&sql, root, baserel, fpinfo->attrs_used,
							remote_conds, &retrieved_attrs, NULL);
	shardconn_reset_transmission_modes(nestlevel);

	conns = palloc0(sizeof(ShardConn *) * fpinfo->opts.nshards);
	shardconn_get_many(fpinfo->server, fpinfo->user, targets, conns);
	while ((shard = bms_next_member(targets, shard)) >= 0)
		shardconn_send(conns[shard], sql.data, 0, NULL, NULL, NULL);
	shard = -1;
	while ((shard = bms_next_member(targets, shard)) >= 0)
	{
		PGresult   *res = shardconn_result(conns[shard]);
		double		s_startup = 0;
		double		s_total = 0;
		double		s_rows = 0;
		int			s_width = 0;
		char	   *line;
		char	   *p;

		line = PQntuples(res) > 0 ? pstrdup(PQgetvalue(res, 0, 0)) : "";
		PQclear(res);
		p = strrchr(line, '(');
		if (p == NULL ||
			sscanf(p, "(cost=%lf..%lf rows=%lf width=%d)",
				   &s_startup, &s_total, &s_rows, &s_width) != 4)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not interpret EXPLAIN output from shard p%d: \"%s\"",
							shard, line)));
		*rows += s_rows;
		*startup = Max(*startup, s_startup);
		*total += s_total;
	}
}

/*
 * generate_implied_equalities_for_column callback: is em the distribution
 * column of rel?
 */
static bool
ec_matches_dist_column(PlannerInfo *root, RelOptInfo *rel,
					   EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	ShardRelInfo *fpinfo = (ShardRelInfo *) arg;
	Expr	   *e = em->em_expr;

	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return e && IsA(e, Var) && ((Var *) e)->varno == rel->relid &&
		((Var *) e)->varattno == fpinfo->opts.dist_attno;
}

/*
 * shardfdw_sort_keys: translate pathkeys into merge keys of a scan of rel
 * (a base relation, or a join pushed down): each must be ordered by a
 * plain column of a relation of rel with an operator and collation the
 * shards apply the same way.  On success the lists (column attnos in
 * their own tables, operators, collations, nulls-first flags, and the
 * column expressions) are set, palloc'd; false if any pathkey cannot be
 * shipped.
 */
bool
shardfdw_sort_keys(PlannerInfo *root, RelOptInfo *rel, List *pathkeys,
					  List **attnos, List **ops, List **colls,
					  List **nulls_first, List **exprs)
{
	ListCell   *lc;

	*attnos = *ops = *colls = *nulls_first = *exprs = NIL;
	foreach(lc, pathkeys)
	{
		PathKey    *pk = lfirst_node(PathKey, lc);
		EquivalenceClass *ec = pk->pk_eclass;
		EquivalenceMember *found = NULL;
		Var		   *var = NULL;
		Oid			sortop;
		ListCell   *lc2;

		if (ec->ec_has_volatile)
			return false;
		foreach(lc2, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(lc2);
			Expr	   *e = em->em_expr;

			while (e && IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			if (e && IsA(e, Var) && ((Var *) e)->varlevelsup == 0 &&
				((Var *) e)->varattno > 0 && !em->em_is_child &&
				bms_is_member(((Var *) e)->varno, rel->relids) &&
				bms_equal(em->em_relids, bms_make_singleton(((Var *) e)->varno)))
			{
				found = em;
				var = (Var *) e;
				break;
			}
		}
		if (found == NULL)
			return false;
		sortop = get_opfamily_member(pk->pk_opfamily, found->em_datatype,
									 found->em_datatype, pk->pk_strategy);
		if (!OidIsValid(sortop) ||
			!shardfdw_is_shippable_sort(root, rel, found->em_expr, sortop,
										ec->ec_collation))
			return false;
		*attnos = lappend_int(*attnos, var->varattno);
		*ops = lappend_oid(*ops, sortop);
		*colls = lappend_oid(*colls, ec->ec_collation);
		*nulls_first = lappend_int(*nulls_first, pk->pk_nulls_first);
		*exprs = lappend(*exprs, found->em_expr);
	}
	return pathkeys != NIL;
}

/*
 * Orderings worth offering for a scan of rel: the query's ORDER BY, and
 * single columns joined with other relations (for merge joins).  Only the
 * ones the shards can produce are returned (a List of pathkey Lists).
 */
static List *
useful_pathkeys_list(PlannerInfo *root, RelOptInfo *rel)
{
	List	   *result = NIL;
	List	   *a,
			   *o,
			   *c,
			   *n,
			   *e;
	ListCell   *lc;

	if (root->query_pathkeys &&
		shardfdw_sort_keys(root, rel, root->query_pathkeys,
							  &a, &o, &c, &n, &e))
		result = lappend(result, root->query_pathkeys);

	if (!rel->has_eclass_joins)
		return result;
	foreach(lc, root->eq_classes)
	{
		EquivalenceClass *ec = lfirst(lc);
		List	   *pathkeys;

		if (ec->ec_has_volatile || ec->ec_has_const ||
			!bms_is_subset(rel->relids, ec->ec_relids) ||
			bms_equal(ec->ec_relids, rel->relids) ||
			ec->ec_opfamilies == NIL)
			continue;
		pathkeys = list_make1(make_canonical_pathkey(root, ec,
													 linitial_oid(ec->ec_opfamilies),
													 BTLessStrategyNumber,
													 false));
		if (root->query_pathkeys &&
			compare_pathkeys(pathkeys, root->query_pathkeys) != PATHKEYS_DIFFERENT &&
			linitial(pathkeys) == linitial(root->query_pathkeys))
			continue;
		if (shardfdw_sort_keys(root, rel, pathkeys, &a, &o, &c, &n, &e))
			result = lappend(result, pathkeys);
	}
	return result;
}

/*
 * The DISTINCT ON expressions each shard may apply to a sorted scan of
 * baserel (palloc'd List), or NIL.  Each shard then sends only its first
 * row per key; the local Unique over the merged, ordered stream still
 * picks the first row overall.  Dropping rows below the DISTINCT ON is
 * only safe when nothing else reads them: baserel must be the query's only
 * relation with no local filter, and no aggregates, window functions or
 * set-returning functions come in between.  The keys must be plain columns
 * that lead the scan's ORDER BY, as the shards require.
 */
static List *
remote_distinct_on(PlannerInfo *root, RelOptInfo *baserel, List *pathkeys)
{
	Query	   *parse = root->parse;
	ShardRelInfo *fpinfo = (ShardRelInfo *) baserel->fdw_private;
	List	   *exprs = NIL;
	List	   *attnos;
	List	   *ops;
	List	   *colls;
	List	   *nf;
	List	   *sort_exprs;
	ListCell   *lc;
	int			i = 0;

	if (!parse->hasDistinctOn || parse->hasAggs || parse->groupClause ||
		parse->hasWindowFuncs || parse->hasTargetSRFs ||
		parse->rowMarks != NIL || fpinfo->local_conds != NIL ||
		!bms_equal(root->all_baserels, baserel->relids) ||
		!shardfdw_sort_keys(root, baserel, pathkeys, &attnos, &ops, &colls,
							&nf, &sort_exprs))
		return NIL;
	foreach(lc, parse->distinctClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		Expr	   *e = (Expr *) get_sortgroupclause_expr(sgc, parse->targetList);
		Expr	   *k;

		while (IsA(e, RelabelType))
			e = ((RelabelType *) e)->arg;
		if (i >= list_length(sort_exprs))
			return NIL;
		k = list_nth(sort_exprs, i++);
		while (IsA(k, RelabelType))
			k = ((RelabelType *) k)->arg;
		if (!IsA(e, Var) || !equal(e, k))
			return NIL;
		exprs = lappend(exprs, e);
	}
	return exprs;
}

/*
 * shardfdw_remote_limit: the row limit every shard may apply to a scan of
 * baserel (a base relation or a pushed-down join) with the given
 * pathkeys, or 0.  The planner's limit_tuples (LIMIT + OFFSET, when both
 * are constants and nothing like grouping comes between) bounds the rows
 * the query needs; it may be shipped when baserel is the only relation,
 * nothing is filtered locally, and the scan delivers the query's ordering
 * (or the query has none).  The local Limit keeps the exact LIMIT/OFFSET.
 * FETCH ... WITH TIES is not shipped: a shard would cut inside a tie.
 */
int64
shardfdw_remote_limit(PlannerInfo *root, RelOptInfo *baserel, List *pathkeys)
{
	ShardRelInfo *fpinfo = (ShardRelInfo *) baserel->fdw_private;

	if (root->limit_tuples <= 0 || root->limit_tuples > (double) PG_INT32_MAX ||
		fpinfo->local_conds != NIL || root->parse->rowMarks != NIL ||
		(fpinfo->join && fpinfo->join->local_exprs != NIL) ||
		root->parse->limitOption == LIMIT_OPTION_WITH_TIES ||
		!bms_equal(root->all_baserels, baserel->relids))
		return 0;
	if (root->query_pathkeys != NIL &&
		!pathkeys_contained_in(root->query_pathkeys, pathkeys))
		return 0;
	return (int64) root->limit_tuples;
}

/*
 * shardGetForeignPaths: the plain path, and parameterized paths for join
 * clauses on the distribution column (a nested loop then reads only the
 * owning shard for each outer row).
 */
static void
shardGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid)
{
	ShardRelInfo *fpinfo = (ShardRelInfo *) baserel->fdw_private;
	List	   *candidates = NIL;
	ListCell   *lc;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL,
									 fpinfo->rows,
									 fpinfo->startup_cost,
									 fpinfo->total_cost,
									 NIL, NULL, NULL,
									 list_make1(makeInteger((int) Min(shardfdw_remote_limit(root, baserel, NIL),
																	  PG_INT32_MAX)))));

	/*
	 * Sorted paths: every shard sorts its rows (ORDER BY in the remote
	 * query) and the scan merges the streams.  The shards sort in parallel;
	 * the merge costs a comparison per row and level of a heap over the
	 * shards.
	 */
	foreach(lc, useful_pathkeys_list(root, baserel))
	{
		List	   *pathkeys = lfirst(lc);
		double		k = Max(fpinfo->est_shards, 1);
		double		per_shard = Max(fpinfo->retrieved_rows / k, 2.0);
		Cost		sort_cost = 2.0 * cpu_operator_cost * per_shard *
			LOG2(per_shard);
		Cost		merge_cost = fpinfo->rows * cpu_operator_cost *
			(k > 1 ? LOG2(k) + 1 : 0);
		Cost		startup = fpinfo->startup_cost +
			(fpinfo->total_cost - fpinfo->startup_cost) * 0.5 + sort_cost;
		Cost		total = fpinfo->total_cost + sort_cost + merge_cost;

		int64		limit = shardfdw_remote_limit(root, baserel, pathkeys);

		/* with a remote LIMIT each shard sorts and sends only the top rows */
		if (limit > 0 && limit < fpinfo->rows)
			total = startup + (total - startup) * limit * k / fpinfo->rows;
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL,
										 fpinfo->rows, startup, total,
										 pathkeys, NULL, NULL,
										 list_make2(makeInteger((int) Min(limit, PG_INT32_MAX)),
													remote_distinct_on(root, baserel, pathkeys))));
	}

	if (fpinfo->opts.dist_attno == InvalidAttrNumber)
		return;

	/* join clauses on the key that the shards can evaluate */
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		List	   *e;
		List	   *a;

		if (join_clause_is_movable_to(rinfo, baserel) &&
			shard_find_prune_exprs(root, baserel, &fpinfo->opts,
								   list_make1(rinfo), &e, &a) &&
			shardfdw_is_foreign_expr(root, baserel, rinfo->clause))
			candidates = lappend(candidates, rinfo);
	}
	if (baserel->has_eclass_joins)
	{
		List	   *clauses;

		clauses = generate_implied_equalities_for_column(root, baserel,
														 ec_matches_dist_column,
														 fpinfo,
														 baserel->lateral_referencers);
		foreach(lc, clauses)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

			if (join_clause_is_movable_to(rinfo, baserel) &&
				shardfdw_is_foreign_expr(root, baserel, rinfo->clause))
				candidates = lappend(candidates, rinfo);
		}
	}

	foreach(lc, candidates)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;
		ParamPathInfo *ppi;
		double		rows;
		Cost		startup;
		Cost		total;

		required_outer = bms_union(rinfo->clause_relids,
								   baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		estimate_costs(root, baserel, fpinfo, ppi->ppi_clauses, 1, NULL,
					   &rows, &startup, &total);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL,
										 ppi->ppi_rows, startup, total,
										 NIL, required_outer, NULL, NIL));
	}
}

/*
 * shardGetForeignPlan: the ForeignScan node, with the remote SQL and the
 * target shards (or the expressions that choose them at run time).
 */
static ForeignScan *
shardGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid, ForeignPath *best_path,
					List *tlist, List *scan_clauses, Plan *outer_plan)
{
	ShardRelInfo *fpinfo;
	List	   *remote_conds = NIL;
	List	   *remote_exprs = NIL;
	List	   *local_exprs = NIL;
	List	   *params_list = NIL;
	List	   *retrieved_attrs = NIL;
	List	   *fdw_exprs;
	ScanPlan	sp;
	Bitmapset  *attrs_used;
	List	   *sort_attnos = NIL;
	List	   *sort_ops = NIL;
	List	   *sort_colls = NIL;
	List	   *sort_nulls_first = NIL;
	List	   *sort_exprs = NIL;
	StringInfoData sql;
	ListCell   *lc;
	int			nestlevel;

	if (IS_UPPER_REL(baserel))
		return plan_upper_scan(root, baserel, tlist, outer_plan);
	if (IS_JOIN_REL(baserel))
		return plan_join_scan(root, baserel, best_path, tlist, outer_plan);
	fpinfo = (ShardRelInfo *) baserel->fdw_private;
	attrs_used = bms_copy(fpinfo->attrs_used);

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (rinfo->pseudoconstant)
			continue;
		if (list_member_ptr(fpinfo->remote_conds, rinfo))
		{
			remote_conds = lappend(remote_conds, rinfo);
			remote_exprs = lappend(remote_exprs, rinfo->clause);
		}
		else if (list_member_ptr(fpinfo->local_conds, rinfo))
			local_exprs = lappend(local_exprs, rinfo->clause);
		else if (shardfdw_is_foreign_expr(root, baserel, rinfo->clause))
		{
			remote_conds = lappend(remote_conds, rinfo);
			remote_exprs = lappend(remote_exprs, rinfo->clause);
		}
		else
			local_exprs = lappend(local_exprs, rinfo->clause);
	}

	/* ordered path: the merge keys must be fetched too */
	if (best_path->path.pathkeys != NIL)
	{
		ListCell   *lc2;

		if (!shardfdw_sort_keys(root, baserel, best_path->path.pathkeys,
								   &sort_attnos, &sort_ops, &sort_colls,
								   &sort_nulls_first, &sort_exprs))
			elog(ERROR, "shardfdw path has pathkeys it cannot ship");
		foreach(lc2, sort_attnos)
			attrs_used = bms_add_member(attrs_used, lfirst_int(lc2) -
										FirstLowInvalidHeapAttributeNumber);
	}

	initStringInfo(&sql);
	nestlevel = shardconn_set_transmission_modes();
	shardfdw_deparse_select(&sql, root, baserel, attrs_used,
							remote_conds, &retrieved_attrs, &params_list);
	if (sort_attnos != NIL)
	{
		ListCell   *le;
		ListCell   *lo;
		ListCell   *ln;
		const char *sep = " ORDER BY ";

		forthree(le, sort_exprs, lo, sort_ops, ln, sort_nulls_first)
		{
			appendStringInfoString(&sql, sep);
			shardfdw_deparse_sort_item(&sql, root, baserel, lfirst(le),
									   lfirst_oid(lo), lfirst_int(ln) != 0,
									   &params_list);
			sep = ", ";
		}
	}
	if (best_path->fdw_private != NIL &&
		intVal(linitial(best_path->fdw_private)) > 0)
		appendStringInfo(&sql, " LIMIT %d",
						 intVal(linitial(best_path->fdw_private)));
	if (list_length(best_path->fdw_private) > 1 &&
		lsecond(best_path->fdw_private) != NIL)
	{
		/* "SELECT ..." becomes "SELECT DISTINCT ON (keys) ..." */
		StringInfoData dsql;
		const char *dsep = "";

		initStringInfo(&dsql);
		appendStringInfoString(&dsql, "SELECT DISTINCT ON (");
		foreach(lc, (List *) lsecond(best_path->fdw_private))
		{
			appendStringInfoString(&dsql, dsep);
			shardfdw_deparse_expr(&dsql, root, baserel, lfirst(lc),
								  &params_list);
			dsep = ", ";
		}
		appendStringInfo(&dsql, ") %s", sql.data + strlen("SELECT "));
		sql = dsql;
	}
	shardconn_reset_transmission_modes(nestlevel);

	memset(&sp, 0, sizeof(sp));
	sp.sql = sql.data;
	sp.retrieved_attrs = retrieved_attrs;
	sp.nparams = list_length(params_list);
	sp.sort_attnos = sort_attnos;
	sp.sort_ops = sort_ops;
	sp.sort_colls = sort_colls;
	sp.sort_nulls_first = sort_nulls_first;
	if (sort_exprs != NIL)
		sp.merge_keys = merge_key_names(root, sort_exprs, false);
	plan_targets(root, baserel, fpinfo, scan_clauses, &sp);

	fdw_exprs = list_concat(list_copy(params_list), sp.prune_exprs);

	return make_foreignscan(tlist,
							local_exprs,
							baserel->relid,
							fdw_exprs,
							make_fdw_private(fpinfo, &sp),
							NIL,
							remote_exprs,
							outer_plan);
}

/*
 * Names of merge key columns for EXPLAIN (palloc'd): "col, ..." for a base
 * scan, "alias.col, ..." when qualify.
 */
static char *
merge_key_names(PlannerInfo *root, List *exprs, bool qualify)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, exprs)
	{
		Expr	   *e = lfirst(lc);
		Var		   *v;
		RangeTblEntry *rte;

		while (IsA(e, RelabelType))
			e = ((RelabelType *) e)->arg;
		v = castNode(Var, e);
		rte = planner_rt_fetch(v->varno, root);
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		if (qualify)
			appendStringInfo(&buf, "%s.", quote_identifier(rte->eref->aliasname));
		appendStringInfoString(&buf,
							   quote_identifier(get_attname(rte->relid,
															v->varattno,
															false)));
	}
	return buf.data;
}

/*
 * Decide the target shards of a scan of baserel restricted by clauses
 * (RestrictInfos): fixed at plan time, or prune key expressions evaluated
 * at run time, or any one shard of a replicated table.  Fills sp.
 */
static void
plan_targets(PlannerInfo *root, RelOptInfo *baserel, ShardRelInfo *fpinfo,
			 List *clauses, ScanPlan *sp)
{
	ListCell   *lc;

	sp->mode = SHARD_PRUNE_NONE;
	sp->targets = NIL;
	sp->prune_exprs = NIL;
	sp->prune_is_array = NIL;
	if (fpinfo->opts.distribution == SHARD_DIST_REPLICATED)
		sp->mode = SHARD_PRUNE_ANY_ONE;
	else if (shard_find_prune_exprs(root, baserel, &fpinfo->opts, clauses,
									&sp->prune_exprs, &sp->prune_is_array))
	{
		bool		all_const = true;

		foreach(lc, sp->prune_exprs)
			if (!IsA(lfirst(lc), Const))
				all_const = false;
		if (all_const)
		{
			Bitmapset  *shards = shard_eval_prune(&fpinfo->opts,
												  sp->prune_exprs, NIL,
												  sp->prune_is_array, NULL);
			int			shard = -1;

			while ((shard = bms_next_member(shards, shard)) >= 0)
				sp->targets = lappend_int(sp->targets, shard);
			sp->prune_exprs = NIL;
			sp->prune_is_array = NIL;
		}
		else
			sp->mode = SHARD_PRUNE_RUNTIME;
	}
	else
	{
		for (int i = 0; i < fpinfo->opts.nshards; i++)
			sp->targets = lappend_int(sp->targets, i);
	}
}

/*
 * The fdw_private List of a ForeignScan, indexed by ShardScanPrivateIndex
 * (palloc'd).
 */
static List *
make_fdw_private(ShardRelInfo *fpinfo, ScanPlan *sp)
{
	List	   *fdw_private = NIL;
	ShardUpperInfo *up = sp->upper;

	for (int i = 0; i < ShardScanPrivateCount; i++)
	{
		Node	   *item = NULL;

		switch ((ShardScanPrivateIndex) i)
		{
			case ShardScanPrivateSql:
				item = (Node *) makeString(sp->sql);
				break;
			case ShardScanPrivateRetrievedAttrs:
				item = (Node *) sp->retrieved_attrs;
				break;
			case ShardScanPrivateFetchSize:
				item = (Node *) makeInteger(fpinfo->opts.fetch_size);
				break;
			case ShardScanPrivateNShards:
				item = (Node *) makeInteger(fpinfo->opts.nshards);
				break;
			case ShardScanPrivateTargets:
				item = (Node *) sp->targets;
				break;
			case ShardScanPrivatePruneMode:
				item = (Node *) makeInteger(sp->mode);
				break;
			case ShardScanPrivateNumRemoteParams:
				item = (Node *) makeInteger(sp->nparams);
				break;
			case ShardScanPrivatePruneIsArray:
				item = (Node *) sp->prune_is_array;
				break;
			case ShardScanPrivateSortAttnos:
				item = (Node *) sp->sort_attnos;
				break;
			case ShardScanPrivateSortOps:
				item = (Node *) sp->sort_ops;
				break;
			case ShardScanPrivateSortCollations:
				item = (Node *) sp->sort_colls;
				break;
			case ShardScanPrivateSortNullsFirst:
				item = (Node *) sp->sort_nulls_first;
				break;
			case ShardScanPrivateRelid:
				item = (Node *) makeInteger((int) fpinfo->opts.relid);
				break;
			case ShardScanPrivateCombineMode:
				item = (Node *) makeInteger(up ? up->mode : SHARD_COMBINE_NONE);
				break;
			case ShardScanPrivateNGroup:
				item = (Node *) makeInteger(up ? list_length(up->group_exprs) : 0);
				break;
			case ShardScanPrivateGroupEqops:
				item = (Node *) (up ? up->group_eqops : NIL);
				break;
			case ShardScanPrivateGroupCollations:
				item = (Node *) (up ? up->group_collations : NIL);
				break;
			case ShardScanPrivateAggKinds:
				item = (Node *) (up ? up->agg_kinds : NIL);
				break;
			case ShardScanPrivateAggCombineFns:
				item = (Node *) (up ? up->agg_combinefns : NIL);
				break;
			case ShardScanPrivateAggFnOids:
			case ShardScanPrivateAggInputCollids:
				{
					List	   *oids = NIL;
					ListCell   *lc;

					foreach(lc, up ? up->aggs : NIL)
					{
						Aggref	   *agg = lfirst_node(Aggref, lc);

						oids = lappend_oid(oids,
										   i == ShardScanPrivateAggFnOids ?
										   agg->aggfnoid : agg->inputcollid);
					}
					item = (Node *) oids;
					break;
				}
			case ShardScanPrivatePartialTypes:
				item = (Node *) (up ? up->partial_types : NIL);
				break;
			case ShardScanPrivateDistinctType:
			case ShardScanPrivateDistinctEqop:
			case ShardScanPrivateDistinctCollation:
				{
					Oid			v = InvalidOid;

					if (up && up->distinct_expr)
					{
						Oid			type = exprType((Node *) up->distinct_expr);

						v = i == ShardScanPrivateDistinctType ? type :
							i == ShardScanPrivateDistinctEqop ?
							lookup_type_cache(type, TYPECACHE_EQ_OPR)->eq_opr :
							exprCollation((Node *) up->distinct_expr);
					}
					item = (Node *) makeInteger((int) v);
					break;
				}
			case ShardScanPrivateAggIsDistinct:
				item = (Node *) (up ? up->agg_is_distinct : NIL);
				break;
			case ShardScanPrivateRelations:
				item = (Node *) makeString(sp->relations ? sp->relations : "");
				break;
			case ShardScanPrivateMergeKeys:
				item = (Node *) makeString(sp->merge_keys ? sp->merge_keys : "");
				break;
			case ShardScanPrivateLimitCount:
				item = (Node *) makeInteger(sp->upper && sp->upper->has_limit ?
											(int) sp->limit_count : -1);
				break;
			case ShardScanPrivateLimitOffset:
				item = (Node *) makeInteger(sp->upper && sp->upper->has_limit ?
											(int) sp->limit_offset : 0);
				break;
			case ShardScanPrivateCount:
				break;
		}
		fdw_private = lappend(fdw_private, item);
	}
	return fdw_private;
}

/*
 * shardGetForeignUpperPaths: offer aggregation on the shards for a
 * grouped query over one shardfdw table.
 */
static void
shardGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
						  RelOptInfo *input_rel, RelOptInfo *output_rel,
						  void *extra)
{
	if (output_rel->fdw_private != NULL || input_rel->fdw_private == NULL)
		return;
	if (stage == UPPERREL_ORDERED)
	{
		add_ordered_path(root, input_rel, output_rel);
		return;
	}
	if (stage == UPPERREL_FINAL)
	{
		add_final_path(root, input_rel, output_rel,
					   (FinalPathExtraData *) extra);
		return;
	}
	if (input_rel->reloptkind != RELOPT_BASEREL && !IS_JOIN_REL(input_rel))
		return;
	if (stage == UPPERREL_GROUP_AGG)
	{
		GroupPathExtraData *gextra = (GroupPathExtraData *) extra;

		if (root->parse->groupingSets ||
			gextra->patype != PARTITIONWISE_AGGREGATE_NONE)
			return;
		add_grouping_path(root, input_rel, output_rel,
						  root->parse->groupClause, gextra->havingQual);
	}
	else if (stage == UPPERREL_DISTINCT && !root->parse->hasDistinctOn)
		add_grouping_path(root, input_rel, output_rel,
						  root->parse->distinctClause, NULL);
}

/*
 * The query block below an ORDERED or FINAL stage, as a ShardUpperInfo of
 * our own (palloc'd): a copy of a grouped relation's (aggregated whole on
 * the shards, so its rows are final), or a plain scan or join without
 * local conditions.  NULL when the rows below are not ours to finish.
 */
static ShardUpperInfo *
upper_over(RelOptInfo *input_rel)
{
	ShardUpperInfo *up;

	if (IS_UPPER_REL(input_rel))
	{
		ShardUpperInfo *in = (ShardUpperInfo *) input_rel->fdw_private;

		if (in->mode != SHARD_COMBINE_NONE || in->local_having != NIL)
			return NULL;
		up = palloc(sizeof(ShardUpperInfo));
		memcpy(up, in, sizeof(ShardUpperInfo));
		return up;
	}
	else
	{
		ShardRelInfo *fp = (ShardRelInfo *) input_rel->fdw_private;

		if (fp->local_conds != NIL ||
			(fp->join && fp->join->local_exprs != NIL))
			return NULL;
		up = palloc0(sizeof(ShardUpperInfo));
		up->base = fp;
		up->scanrel = input_rel;
		up->mode = SHARD_COMBINE_NONE;
		up->scan_only = true;
		return up;
	}
}

/*
 * Our cheapest path of rel delivering pathkeys (NIL: any), or NULL.
 */
static ForeignPath *
our_path(RelOptInfo *rel, List *pathkeys)
{
	ForeignPath *best = NULL;
	ListCell   *lc;

	foreach(lc, rel->pathlist)
	{
		Path	   *path = lfirst(lc);

		if (!IsA(path, ForeignPath) || path->param_info != NULL ||
			(pathkeys != NIL &&
			 !pathkeys_contained_in(pathkeys, path->pathkeys)))
			continue;
		if (best == NULL || path->total_cost < best->path.total_cost)
			best = (ForeignPath *) path;
	}
	return best;
}

/*
 * ORDERED stage: ship the query's ORDER BY with the block below (a scan,
 * join, or aggregation done whole), merging the shards' sorted streams.
 * Sort keys of an aggregation must be its output columns, sorted by the
 * type's default ordering.
 */
static void
add_ordered_path(PlannerInfo *root, RelOptInfo *input_rel,
				 RelOptInfo *ordered_rel)
{
	ShardUpperInfo *up;
	ForeignPath *in;
	ListCell   *lc;
	double		rows;
	double		k;

	if (root->parse->hasTargetSRFs || root->sort_pathkeys == NIL ||
		(up = upper_over(input_rel)) == NULL || up->sort_exprs != NIL)
		return;

	if (up->scan_only)
	{
		List	   *attnos;

		if (!shardfdw_sort_keys(root, input_rel, root->sort_pathkeys,
								&attnos, &up->sort_ops, &up->sort_colls,
								&up->sort_nulls_first, &up->sort_exprs))
			return;
		in = our_path(input_rel, root->sort_pathkeys);
	}
	else
	{
		List	   *outputs = list_concat(list_copy(up->group_exprs),
										  up->aggs);

		foreach(lc, root->sort_pathkeys)
		{
			PathKey    *pk = lfirst_node(PathKey, lc);
			Expr	   *found = NULL;
			Oid			type = InvalidOid;
			Oid			sortop;
			TypeCacheEntry *tc;
			ListCell   *lc2;

			foreach(lc2, pk->pk_eclass->ec_members)
			{
				EquivalenceMember *em = lfirst(lc2);
				Expr	   *e = em->em_expr;

				while (IsA(e, RelabelType))
					e = ((RelabelType *) e)->arg;
				if (list_member(outputs, e))
				{
					found = e;
					type = em->em_datatype;
					break;
				}
			}
			if (found == NULL)
				return;
			sortop = get_opfamily_member(pk->pk_opfamily, type, type,
										 pk->pk_strategy);
			tc = lookup_type_cache(exprType((Node *) found),
								   TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);
			if (!OidIsValid(sortop) ||
				(sortop != tc->lt_opr && sortop != tc->gt_opr) ||
				!shardfdw_is_shippable_sort(root, up->scanrel, found, sortop,
											pk->pk_eclass->ec_collation))
				return;
			up->sort_exprs = lappend(up->sort_exprs, found);
			up->sort_ops = lappend_oid(up->sort_ops, sortop);
			up->sort_colls = lappend_oid(up->sort_colls,
										 pk->pk_eclass->ec_collation);
			up->sort_nulls_first = lappend_int(up->sort_nulls_first,
											   pk->pk_nulls_first);
		}
		in = our_path(input_rel, NIL);
	}
	if (in == NULL)
		return;

	/* a grouped block is sorted on the shards, then merged */
	rows = in->path.rows;
	k = Max(up->base->est_shards, 1);
	ordered_rel->fdw_private = up;
	add_path(ordered_rel, (Path *)
			 create_foreign_upper_path(root, ordered_rel,
									   root->upper_targets[UPPERREL_ORDERED],
									   rows, in->path.startup_cost,
									   in->path.total_cost +
									   rows * cpu_operator_cost *
									   (LOG2(k) + 1),
									   root->sort_pathkeys, NULL, NIL));
}

/*
 * FINAL stage: ship LIMIT/OFFSET with the block below (ordered, grouped
 * whole, or a plain scan or join).  One target shard runs the whole LIMIT
 * and OFFSET; several each return LIMIT + OFFSET rows and the scan applies
 * the exact OFFSET and LIMIT after merging.  Only constant counts.
 */
static void
add_final_path(PlannerInfo *root, RelOptInfo *input_rel,
			   RelOptInfo *final_rel, FinalPathExtraData *extra)
{
	Query	   *parse = root->parse;
	ShardUpperInfo *up;
	ForeignPath *in;
	Const	   *count = (Const *) parse->limitCount;
	Const	   *offset = (Const *) parse->limitOffset;
	double		rows;
	double		frac;

	if (!extra->limit_needed || parse->hasTargetSRFs ||
		parse->rowMarks != NIL ||
		parse->limitOption != LIMIT_OPTION_COUNT ||
		(count && !IsA(count, Const)) || (offset && !IsA(offset, Const)))
		return;
	/* with an ORDER BY, the block below must be our ordered one */
	if (root->sort_pathkeys != NIL &&
		!(IS_UPPER_REL(input_rel) &&
		  ((ShardUpperInfo *) input_rel->fdw_private)->sort_exprs != NIL))
		return;
	if ((up = upper_over(input_rel)) == NULL ||
		(in = our_path(input_rel, NIL)) == NULL)
		return;

	up->has_limit = true;
	up->limit_count = (count == NULL || count->constisnull) ? -1 :
		DatumGetInt64(count->constvalue);
	up->limit_offset = (offset == NULL || offset->constisnull) ? 0 :
		DatumGetInt64(offset->constvalue);
	if (up->limit_count < -1 || up->limit_offset < 0 ||
		up->limit_count > PG_INT32_MAX / 2 ||
		up->limit_offset > PG_INT32_MAX / 2)
		return;					/* let the executor complain / cope */

	/*
	 * Like a Limit node over the block, but the shards stop early and send
	 * only the rows the limit keeps: their share of the run cost is halved.
	 */
	rows = in->path.rows;
	if (up->limit_count >= 0)
		rows = Min(rows, up->limit_count);
	frac = in->path.rows > 0 ?
		Min(1.0, (rows + up->limit_offset) / in->path.rows) * 0.5 : 0.5;
	final_rel->fdw_private = up;
	add_path(final_rel, (Path *)
			 create_foreign_upper_path(root, final_rel,
									   root->upper_targets[UPPERREL_FINAL],
									   rows, in->path.startup_cost,
									   in->path.startup_cost +
									   (in->path.total_cost -
										in->path.startup_cost) * frac,
									   root->sort_pathkeys, NULL, NIL));
}

/*
 * Add every Aggref in node to *aggs (once each).  False if node has a
 * column outside an aggregate that is not a GROUP BY expression.
 */
static bool
collect_aggs(Node *node, List **aggs, List *group_exprs)
{
	List	   *items = pull_var_clause(node, PVC_INCLUDE_AGGREGATES |
										PVC_RECURSE_PLACEHOLDERS);
	ListCell   *lc;

	foreach(lc, items)
	{
		Node	   *item = lfirst(lc);

		if (IsA(item, Aggref))
			*aggs = list_append_unique(*aggs, item);
		else if (!list_member(group_exprs, item))
			return false;
	}
	return true;
}

/*
 * Add a path computing the grouped relation (GROUP BY groupclauses, with
 * aggregates and HAVING) or the distinct relation (SELECT DISTINCT: the
 * distinctClause as keys, no aggregates) on the shards: whole, when
 * every group lives on one shard (one target shard, a replicated table,
 * or GROUP BY including the distribution column); else partially, each
 * shard aggregating its rows per group and the coordinator combining the
 * partial results (combine.c).  Nothing is added when an aggregate can be
 * neither shipped nor combined: aggregation then runs locally over fetched
 * rows.  The ShardUpperInfo is hung on grouped_rel->fdw_private.
 */
static void
add_grouping_path(PlannerInfo *root, RelOptInfo *input_rel,
				  RelOptInfo *grouped_rel, List *groupclauses,
				  Node *havingqual)
{
	Query	   *parse = root->parse;
	ShardRelInfo *fp = (ShardRelInfo *) input_rel->fdw_private;
	PathTarget *target = groupclauses == parse->distinctClause &&
		groupclauses != NIL ? root->upper_targets[UPPERREL_DISTINCT] :
		grouped_rel->reltarget;
	ShardUpperInfo *up;
	ListCell   *lc;
	int			i;
	bool		single_shard;
	bool		by_key = false;
	double		ngroups;
	double		nrows_moved;
	double		k;
	Cost		remote_work;
	Cost		startup;
	Cost		total;

	if ((!parse->hasAggs && groupclauses == NIL) || fp->local_conds != NIL ||
		(fp->join && fp->join->local_exprs != NIL) ||
		parse->hasWindowFuncs || parse->hasTargetSRFs)
		return;

	up = palloc0(sizeof(ShardUpperInfo));
	up->base = fp;
	up->scanrel = input_rel;

	/* GROUP BY expressions first, then the aggregates the rest needs */
	i = 0;
	foreach(lc, target->exprs)
	{
		Expr	   *expr = lfirst(lc);
		Index		sgref = get_pathtarget_sortgroupref(target, i);
		SortGroupClause *sgc;

		i++;
		if (sgref == 0 ||
			(sgc = get_sortgroupref_clause_noerr(sgref, groupclauses)) == NULL)
			continue;
		if (IsA(expr, Const) || !sgc->hashable ||
			!shardfdw_is_foreign_expr(root, input_rel, expr))
			return;
		up->group_exprs = lappend(up->group_exprs, expr);
		up->group_sgrefs = lappend_int(up->group_sgrefs, sgref);
		up->group_eqops = lappend_oid(up->group_eqops, sgc->eqop);
		up->group_collations = lappend_oid(up->group_collations,
										   exprCollation((Node *) expr));
	}
	i = 0;
	foreach(lc, target->exprs)
	{
		Expr	   *expr = lfirst(lc);
		Index		sgref = get_pathtarget_sortgroupref(target, i);

		i++;
		if (sgref != 0 &&
			get_sortgroupref_clause_noerr(sgref, groupclauses) != NULL)
			continue;
		if (!collect_aggs((Node *) expr, &up->aggs, up->group_exprs))
			return;
	}
	if (havingqual &&
		!collect_aggs(havingqual, &up->aggs, up->group_exprs))
		return;

	if (up->group_exprs == NIL && up->aggs == NIL)
		return;

	/* whole on the shards, or partial and combined? */
	if (fp->join)
	{
		single_shard = fp->join->any_one ||
			bms_num_members(fp->join->targets) == 1;
		foreach(lc, up->group_exprs)
		{
			Expr	   *e = lfirst(lc);

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			if (IsA(e, Var))
			{
				ListCell   *lc2;

				foreach(lc2, fp->join->group_safe_vars)
				{
					Var		   *v = lfirst(lc2);

					if (v->varno == ((Var *) e)->varno &&
						v->varattno == ((Var *) e)->varattno)
						by_key = true;
				}
			}
		}
	}
	else
		single_shard = fp->opts.nshards == 1 ||
			fp->opts.distribution == SHARD_DIST_REPLICATED ||
			(fp->prune_static && bms_num_members(fp->static_shards) == 1);
	if (fp->join == NULL && fp->opts.dist_attno != InvalidAttrNumber)
	{
		foreach(lc, up->group_exprs)
		{
			Expr	   *e = lfirst(lc);

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			if (IsA(e, Var) && ((Var *) e)->varno == input_rel->relid &&
				((Var *) e)->varattno == fp->opts.dist_attno)
				by_key = true;
		}
	}
	/* (no GROUP BY over zero shards still owes one row: partial mode) */
	up->mode = (single_shard || (by_key && up->group_exprs != NIL)) ?
		SHARD_COMBINE_NONE : SHARD_COMBINE_PARTIAL;

	foreach(lc, up->aggs)
	{
		Aggref	   *agg = lfirst_node(Aggref, lc);

		if (!shardfdw_is_foreign_upper_expr(root, input_rel, (Expr *) agg))
			return;
		if (up->mode == SHARD_COMBINE_PARTIAL)
		{
			ShardAggCombine kind;
			Oid			combinefn;
			List	   *types;
			bool		distinct = agg->aggdistinct != NIL;

			/*
			 * agg(DISTINCT x): the shards group by x as well and the
			 * coordinator combines twice, first removing duplicate x
			 * across shards (combine.c).  One x for all of them.
			 */
			if (distinct)
			{
				Aggref	   *plain;
				Expr	   *x;

				if (list_length(agg->args) != 1 || agg->aggorder != NIL ||
					agg->aggfilter != NULL)
					return;
				x = linitial_node(TargetEntry, agg->args)->expr;
				if (up->distinct_expr == NULL)
				{
					TypeCacheEntry *tc = lookup_type_cache(exprType((Node *) x),
														   TYPECACHE_EQ_OPR |
														   TYPECACHE_HASH_PROC);

					if (!OidIsValid(tc->eq_opr) || !OidIsValid(tc->hash_proc) ||
						!shardfdw_is_foreign_expr(root, input_rel, x))
						return;
					up->distinct_expr = x;
				}
				else if (!equal(up->distinct_expr, x))
					return;
				plain = copyObject(agg);
				plain->aggdistinct = NIL;
				agg = plain;
			}
			if (!shard_agg_combinable(agg, &kind, &combinefn, &types))
				return;
			up->agg_kinds = lappend_int(up->agg_kinds, kind);
			up->agg_combinefns = lappend_oid(up->agg_combinefns, combinefn);
			up->agg_is_distinct = lappend_int(up->agg_is_distinct, distinct);
			if (!distinct)
				up->partial_types = list_concat(up->partial_types, types);
		}
	}
	if (havingqual)
	{
		foreach(lc, (List *) havingqual)
		{
			Expr	   *qual = lfirst(lc);

			if (up->mode == SHARD_COMBINE_NONE &&
				shardfdw_is_foreign_upper_expr(root, input_rel, qual))
				up->remote_having = lappend(up->remote_having, qual);
			else
				up->local_having = lappend(up->local_having, qual);
		}
	}

	/*
	 * Costs: the shards read and aggregate their rows, then only groups
	 * cross the network -- once per shard in partial mode.  Work done on
	 * the shards is weighted at half of the same work on the coordinator:
	 * it runs on other machines, in parallel, and spares the coordinator
	 * the per-row executor overhead of local aggregation.
	 */
	ngroups = up->group_exprs == NIL ? 1 :
		estimate_num_groups(root, up->group_exprs, input_rel->rows, NULL,
							NULL);
	k = up->mode == SHARD_COMBINE_PARTIAL ? Max(fp->est_shards, 1) : 1;
	nrows_moved = Min(ngroups * k, Max(fp->retrieved_rows, 1));
	remote_work = (fp->total_cost - fp->startup_cost) -
		fp->retrieved_rows * (fp->opts.fdw_tuple_cost + cpu_tuple_cost) +
		fp->retrieved_rows * cpu_operator_cost *
		(list_length(up->aggs) + list_length(up->group_exprs));
	startup = fp->startup_cost + Max(remote_work, 0) * 0.5;
	total = startup +
		nrows_moved * (fp->opts.fdw_tuple_cost + cpu_tuple_cost) +
		nrows_moved * cpu_operator_cost * (list_length(up->aggs) + 1);

	grouped_rel->fdw_private = up;
	add_path(grouped_rel, (Path *)
			 create_foreign_upper_path(root, grouped_rel, target, ngroups,
									   startup, total, NIL, NULL, NIL));
}

/*
 * The ForeignScan of a grouped relation: fdw_scan_tlist holds the GROUP BY
 * expressions and then each aggregate; the remote query computes them
 * whole, or their partials grouped by position.  HAVING quals the shards
 * cannot evaluate, and all of them in partial mode, stay local.
 */
static ForeignScan *
plan_upper_scan(PlannerInfo *root, RelOptInfo *rel, List *tlist,
				Plan *outer_plan)
{
	ShardUpperInfo *up = (ShardUpperInfo *) rel->fdw_private;
	ShardRelInfo *fp = up->base;
	RelOptInfo *scanrel = up->scanrel;
	List	   *scan_tlist = NIL;
	List	   *params_list = NIL;
	List	   *retrieved = NIL;
	StringInfoData sql;
	ScanPlan	sp;
	ListCell   *lc;
	ListCell   *lc2;
	int			ncols = 0;
	int			nestlevel;
	int			i;
	const char *sep;

	/*
	 * The scan tuple: the columns a plain block's output needs, or the
	 * GROUP BY expressions and then each aggregate.
	 */
	if (up->scan_only)
	{
		scan_tlist = add_to_flat_tlist(NIL,
									   pull_var_clause((Node *) tlist,
													   PVC_RECURSE_PLACEHOLDERS));
		foreach(lc, up->sort_exprs)
		{
			Expr	   *e = lfirst(lc);

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			scan_tlist = add_to_flat_tlist(scan_tlist, list_make1(e));
		}
	}
	forboth(lc, up->group_exprs, lc2, up->group_sgrefs)
	{
		TargetEntry *tle = makeTargetEntry(lfirst(lc),
										   list_length(scan_tlist) + 1,
										   NULL, false);

		tle->ressortgroupref = lfirst_int(lc2);
		scan_tlist = lappend(scan_tlist, tle);
	}
	foreach(lc, up->aggs)
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry(lfirst(lc),
											 list_length(scan_tlist) + 1,
											 NULL, false));

	/* the shards, decided first: one shard runs LIMIT and OFFSET itself */
	memset(&sp, 0, sizeof(sp));
	if (fp->join)
		targets_from_join(fp, &sp);
	else
		plan_targets(root, scanrel, fp, scanrel->baserestrictinfo, &sp);

	/* the remote query */
	initStringInfo(&sql);
	nestlevel = shardconn_set_transmission_modes();
	appendStringInfoString(&sql, "SELECT ");
	sep = "";
	if (up->scan_only)
	{
		foreach(lc, scan_tlist)
		{
			appendStringInfoString(&sql, sep);
			shardfdw_deparse_expr(&sql, root, scanrel,
								  lfirst_node(TargetEntry, lc)->expr,
								  &params_list);
			sep = ", ";
			ncols++;
		}
		if (scan_tlist == NIL)
			appendStringInfoString(&sql, "NULL");
	}
	foreach(lc, up->group_exprs)
	{
		appendStringInfoString(&sql, sep);
		shardfdw_deparse_expr(&sql, root, scanrel, lfirst(lc), &params_list);
		sep = ", ";
		ncols++;
	}
	if (up->distinct_expr)
	{
		appendStringInfoString(&sql, sep);
		shardfdw_deparse_expr(&sql, root, scanrel, up->distinct_expr,
							  &params_list);
		sep = ", ";
		ncols++;
	}
	i = 0;
	foreach(lc, up->aggs)
	{
		if (up->mode == SHARD_COMBINE_PARTIAL &&
			list_nth_int(up->agg_is_distinct, i))
		{
			i++;
			continue;			/* computed from x on the coordinator */
		}
		appendStringInfoString(&sql, sep);
		if (up->mode == SHARD_COMBINE_PARTIAL)
			shard_agg_deparse_partials(&sql, root, scanrel, lfirst(lc),
									   list_nth_int(up->agg_kinds, i),
									   &params_list);
		else
			shardfdw_deparse_expr(&sql, root, scanrel, lfirst(lc),
								  &params_list);
		sep = ", ";
		i++;
	}
	ncols += up->mode == SHARD_COMBINE_PARTIAL ?
		list_length(up->partial_types) : list_length(up->aggs);
	if (sep[0] == '\0')
		appendStringInfoString(&sql, "NULL");
	shardfdw_deparse_from_where(&sql, root, scanrel, &params_list);
	if (up->group_exprs != NIL || up->distinct_expr)
	{
		int			nkeys = list_length(up->group_exprs) +
			(up->distinct_expr ? 1 : 0);

		appendStringInfoString(&sql, " GROUP BY ");
		for (i = 1; i <= nkeys; i++)
			appendStringInfo(&sql, "%s%d", i > 1 ? ", " : "", i);
	}
	sep = " HAVING ";
	foreach(lc, up->remote_having)
	{
		appendStringInfoString(&sql, sep);
		appendStringInfoChar(&sql, '(');
		shardfdw_deparse_expr(&sql, root, scanrel, lfirst(lc), &params_list);
		appendStringInfoChar(&sql, ')');
		sep = " AND ";
	}

	/*
	 * ORDER BY: a plain block's sort expressions as such, a grouped block's
	 * by output position (its keys are output columns, in default order).
	 * The merge reads the same positions of the scan tuple.
	 */
	sep = " ORDER BY ";
	for (i = 0; i < list_length(up->sort_exprs); i++)
	{
		Expr	   *e = list_nth(up->sort_exprs, i);
		Oid			op = list_nth_oid(up->sort_ops, i);
		bool		nf = list_nth_int(up->sort_nulls_first, i) != 0;
		TargetEntry *tle;

		while (IsA(e, RelabelType))
			e = ((RelabelType *) e)->arg;
		tle = tlist_member(e, scan_tlist);
		if (tle == NULL)
			elog(ERROR, "shardfdw sort key is not in the scan tuple");
		appendStringInfoString(&sql, sep);
		if (up->scan_only)
			shardfdw_deparse_sort_item(&sql, root, scanrel,
									   list_nth(up->sort_exprs, i), op, nf,
									   &params_list);
		else
			appendStringInfo(&sql, "%d %s NULLS %s", tle->resno,
							 op == lookup_type_cache(exprType((Node *) e),
													 TYPECACHE_LT_OPR)->lt_opr ?
							 "ASC" : "DESC",
							 nf ? "FIRST" : "LAST");
		sp.sort_attnos = lappend_int(sp.sort_attnos, tle->resno);
		sep = ", ";
	}
	sp.sort_ops = up->sort_ops;
	sp.sort_colls = up->sort_colls;
	sp.sort_nulls_first = up->sort_nulls_first;

	/*
	 * LIMIT/OFFSET: whole on one shard; else each shard returns LIMIT +
	 * OFFSET rows and the scan applies OFFSET and LIMIT after the merge.
	 */
	sp.limit_count = -1;
	sp.limit_offset = 0;
	if (up->has_limit)
	{
		if (sp.mode == SHARD_PRUNE_ANY_ONE ||
			(sp.mode == SHARD_PRUNE_NONE && list_length(sp.targets) == 1))
		{
			if (up->limit_count >= 0)
				appendStringInfo(&sql, " LIMIT " INT64_FORMAT,
								 up->limit_count);
			if (up->limit_offset > 0)
				appendStringInfo(&sql, " OFFSET " INT64_FORMAT,
								 up->limit_offset);
		}
		else
		{
			if (up->limit_count >= 0)
				appendStringInfo(&sql, " LIMIT " INT64_FORMAT,
								 up->limit_count + up->limit_offset);
			sp.limit_count = up->limit_count;
			sp.limit_offset = up->limit_offset;
		}
	}
	shardconn_reset_transmission_modes(nestlevel);

	for (i = 1; i <= ncols; i++)
		retrieved = lappend_int(retrieved, i);

	sp.sql = sql.data;
	sp.retrieved_attrs = retrieved;
	sp.nparams = list_length(params_list);
	sp.upper = up;
	if (up->scan_only)
		sp.relations = shardfdw_join_description(root, scanrel);
	else
		sp.relations = psprintf("%s on %s",
								up->aggs ? "Aggregate" : "Grouping",
								shardfdw_join_description(root, scanrel));
	if (sp.sort_attnos != NIL && up->scan_only)
		sp.merge_keys = merge_key_names(root, up->sort_exprs,
										IS_JOIN_REL(scanrel));
	else if (sp.sort_attnos != NIL)
	{
		StringInfoData keys;

		initStringInfo(&keys);
		foreach(lc, sp.sort_attnos)
			appendStringInfo(&keys, "%scolumn %d", keys.len > 0 ? ", " : "",
							 lfirst_int(lc));
		sp.merge_keys = keys.data;
	}

	return make_foreignscan(tlist,
							up->local_having,
							0,
							list_concat(list_copy(params_list),
										sp.prune_exprs),
							make_fdw_private(fp, &sp),
							scan_tlist,
							NIL,
							outer_plan);
}

/*
 * Target shards of a scan over a pushed-down join: fixed by join.c, or
 * chosen at run time from one side's key conditions.
 */
static void
targets_from_join(ShardRelInfo *fp, ScanPlan *sp)
{
	int			shard = -1;

	sp->targets = NIL;
	sp->prune_exprs = NIL;
	sp->prune_is_array = NIL;
	if (fp->join->prune_side)
	{
		sp->mode = SHARD_PRUNE_RUNTIME;
		sp->prune_exprs = fp->join->prune_side->prune_exprs;
		sp->prune_is_array = fp->join->prune_side->prune_is_array;
		return;
	}
	sp->mode = fp->join->any_one ? SHARD_PRUNE_ANY_ONE : SHARD_PRUNE_NONE;
	while ((shard = bms_next_member(fp->join->targets, shard)) >= 0)
		sp->targets = lappend_int(sp->targets, shard);
}

/*
 * The ForeignScan of a join computed on the shards: fdw_scan_tlist holds
 * the columns the join's output and its local quals need.
 */
static ForeignScan *
plan_join_scan(PlannerInfo *root, RelOptInfo *joinrel, ForeignPath *best_path,
			   List *tlist, Plan *outer_plan)
{
	ShardRelInfo *fp = (ShardRelInfo *) joinrel->fdw_private;
	ShardJoinInfo *j = fp->join;
	List	   *scan_tlist;
	List	   *sort_exprs = NIL;
	List	   *params_list = NIL;
	List	   *retrieved = NIL;
	StringInfoData sql;
	ScanPlan	sp;
	ListCell   *lc;
	int			nestlevel;
	const char *sep = "";

	scan_tlist = add_to_flat_tlist(NIL,
								   pull_var_clause((Node *) joinrel->reltarget->exprs,
												   PVC_RECURSE_PLACEHOLDERS));
	scan_tlist = add_to_flat_tlist(scan_tlist,
								   pull_var_clause((Node *) j->local_exprs,
												   PVC_RECURSE_PLACEHOLDERS));

	/* ordered path: merge keys are columns of the scan tuple */
	memset(&sp, 0, sizeof(sp));
	if (best_path->path.pathkeys != NIL)
	{
		List	   *attnos;
		List	   *exprs;
		ListCell   *le;

		if (!shardfdw_sort_keys(root, joinrel, best_path->path.pathkeys,
								&attnos, &sp.sort_ops, &sp.sort_colls,
								&sp.sort_nulls_first, &exprs))
			elog(ERROR, "shardfdw join path has pathkeys it cannot ship");
		foreach(le, exprs)
		{
			Expr	   *e = lfirst(le);
			TargetEntry *tle;

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			scan_tlist = add_to_flat_tlist(scan_tlist, list_make1(e));
			tle = tlist_member(e, scan_tlist);
			sp.sort_attnos = lappend_int(sp.sort_attnos, tle->resno);
		}
		sort_exprs = exprs;
		sp.merge_keys = merge_key_names(root, exprs, true);
	}

	initStringInfo(&sql);
	nestlevel = shardconn_set_transmission_modes();
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, scan_tlist)
	{
		appendStringInfoString(&sql, sep);
		shardfdw_deparse_expr(&sql, root, joinrel,
							  lfirst_node(TargetEntry, lc)->expr,
							  &params_list);
		sep = ", ";
		retrieved = lappend_int(retrieved, list_length(retrieved) + 1);
	}
	if (scan_tlist == NIL)
		appendStringInfoString(&sql, "NULL");
	shardfdw_deparse_from_where(&sql, root, joinrel, &params_list);
	sep = " ORDER BY ";
	for (int k = 0; k < list_length(sort_exprs); k++)
	{
		appendStringInfoString(&sql, sep);
		shardfdw_deparse_sort_item(&sql, root, joinrel,
								   list_nth(sort_exprs, k),
								   list_nth_oid(sp.sort_ops, k),
								   list_nth_int(sp.sort_nulls_first, k) != 0,
								   &params_list);
		sep = ", ";
	}
	if (best_path->fdw_private != NIL &&
		intVal(linitial(best_path->fdw_private)) > 0)
		appendStringInfo(&sql, " LIMIT %d",
						 intVal(linitial(best_path->fdw_private)));

	shardconn_reset_transmission_modes(nestlevel);

	sp.sql = sql.data;
	sp.retrieved_attrs = retrieved;
	sp.nparams = list_length(params_list);
	sp.relations = shardfdw_join_description(root, joinrel);
	targets_from_join(fp, &sp);

	return make_foreignscan(tlist, j->local_exprs, 0,
							list_concat(list_copy(params_list),
										sp.prune_exprs),
							make_fdw_private(fp, &sp), scan_tlist, NIL,
							outer_plan);
}

/* Executor callbacks: see scan.c. */
static void
shardBeginForeignScan(ForeignScanState *node, int eflags)
{
	shardscan_begin(node, eflags);
}

static TupleTableSlot *
shardIterateForeignScan(ForeignScanState *node)
{
	return shardscan_iterate(node);
}

static void
shardReScanForeignScan(ForeignScanState *node)
{
	shardscan_rescan(node);
}

static void
shardEndForeignScan(ForeignScanState *node)
{
	shardscan_end(node);
}

static void
shardExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	shardscan_explain(node, es);
}

/* ANALYZE and IMPORT FOREIGN SCHEMA: see import.c. */
static bool
shardAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
						 BlockNumber *totalpages)
{
	return shardfdw_analyze_table(relation, func, totalpages);
}

static List *
shardImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return shardfdw_import_schema(stmt, serverOid);
}

/*
 * Is relid a foreign table of a shardfdw server?
 */
static bool
is_shardfdw_table(Oid relid)
{
	ForeignDataWrapper *fdw;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return false;
	fdw = GetForeignDataWrapperByName("shardfdw", true);
	return fdw != NULL &&
		GetForeignServer(GetForeignTable(relid)->serverid)->fdwid == fdw->fdwid;
}

/*
 * After CREATE FOREIGN TABLE and ALTER FOREIGN TABLE on a shardfdw table,
 * check the options that depend on its columns, so that a bad
 * distribution_column fails the statement that set it.
 */
static void
shard_utility_hook(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	RangeVar   *target = NULL;

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (IsA(parsetree, CreateForeignTableStmt))
		target = ((CreateForeignTableStmt *) parsetree)->base.relation;
	else if (IsA(parsetree, AlterTableStmt) &&
			 ((AlterTableStmt *) parsetree)->objtype == OBJECT_FOREIGN_TABLE)
		target = ((AlterTableStmt *) parsetree)->relation;

	if (target)
	{
		Oid			relid = RangeVarGetRelid(target, NoLock, true);

		if (is_shardfdw_table(relid))
			shardfdw_check_table(relid);
	}
}
