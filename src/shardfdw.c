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
 * Joins are planned in join.c, the query block above a scan (grouping,
 * ORDER BY, LIMIT) in upper.c; all of them describe their remote SELECT as
 * a ShardRemoteQuery that deparse.c alone turns into SQL.  The executor
 * callbacks live in scan.c, IMPORT FOREIGN SCHEMA and ANALYZE in import.c.
 *
 * Path-level fdw_private is indexed by ShardPathPrivateIndex, plan-level
 * by ShardScanPrivateIndex (shardfdw.h).
 *
 * src/shardfdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_foreign_server.h"
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
#include "commands.h"
#include "connection.h"
#include "deadlock.h"
#include "deparse.h"
#include "import.h"
#include "join.h"
#include "modify.h"
#include "recovery.h"
#include "reshard.h"
#include "option.h"
#include "scan.h"
#include "shard.h"
#include "shardfdw.h"
#include "upper.h"
#include "xact.h"

PG_MODULE_MAGIC;


/* Startup cost of each target shard beyond the first (parallel setup). */
#define SHARDFDW_PER_SHARD_STARTUP_FRACTION 0.1

static ProcessUtility_hook_type prev_utility_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

void		_PG_init(void);

static void shard_object_access(ObjectAccessType access, Oid classId,
								Oid objectId, int subId, void *arg);
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
static List *remote_distinct_on(PlannerInfo *root, RelOptInfo *baserel,
								List *pathkeys);
static bool has_ctid_condition(RelOptInfo *rel, List *clauses);
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
 * options as soon as they are set, and changes of a server's number of
 * shards.
 */
void
_PG_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = shard_utility_hook;
	prev_object_access_hook = object_access_hook;
	object_access_hook = shard_object_access;
	shardxact_init();
	shardfdw_modify_init();
	shardfdw_recovery_init();
	shardfdw_deadlock_init();
	reshard_init();
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
	routine->GetForeignUpperPaths = shardfdw_upper_paths;
	routine->GetForeignJoinPaths = shardfdw_join_paths;
	routine->AnalyzeForeignTable = shardAnalyzeForeignTable;

	/* writes (modify.c; direct modifications are run by scan.c) */
	routine->IsForeignRelUpdatable = shardfdw_is_updatable;
	routine->AddForeignUpdateTargets = shardfdw_add_update_targets;
	routine->PlanForeignModify = shardfdw_plan_modify;
	routine->BeginForeignModify = shardfdw_begin_modify;
	routine->ExecForeignInsert = shardfdw_exec_insert;
	routine->ExecForeignBatchInsert = shardfdw_exec_batch_insert;
	routine->GetForeignModifyBatchSize = shardfdw_batch_size;
	routine->ExecForeignUpdate = shardfdw_exec_update;
	routine->ExecForeignDelete = shardfdw_exec_delete;
	routine->EndForeignModify = shardfdw_end_modify;
	routine->BeginForeignInsert = shardfdw_begin_insert;
	routine->EndForeignInsert = shardfdw_end_insert;
	routine->ExplainForeignModify = shardfdw_explain_modify;
	routine->PlanDirectModify = shardfdw_plan_direct_modify;
	routine->BeginDirectModify = shardBeginForeignScan;
	routine->IterateDirectModify = shardfdw_iterate_direct_modify;
	routine->EndDirectModify = shardEndForeignScan;
	routine->ExplainDirectModify = shardExplainForeignScan;
	routine->ExecForeignTruncate = shardfdw_exec_truncate;
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
	char	   *sql;
	ShardRemoteQuery *q;
	List	   *retrieved_attrs;
	ShardConn **conns;
	int			shard = -1;

	*rows = 0;
	*startup = 0;
	*total = 0;
	if (bms_is_empty(targets))
		return;

	q = shardfdw_remote_query(baserel);
	q->attrs_used = fpinfo->attrs_used;
	q->conds = remote_conds;
	sql = psprintf("EXPLAIN %s",
				   shardfdw_deparse_query(root, q, &retrieved_attrs, NULL));

	conns = palloc0(sizeof(ShardConn *) * fpinfo->opts.nshards);
	shardconn_get_many(fpinfo->server, fpinfo->user, targets, conns);
	while ((shard = bms_next_member(targets, shard)) >= 0)
		shardconn_send(conns[shard], sql, 0, NULL, NULL, NULL);
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

	e = strip_relabel(e);
	return e && IsA(e, Var) && ((Var *) e)->varno == rel->relid &&
		((Var *) e)->varattno == fpinfo->opts.dist_attno &&
		shard_collation_matches(&fpinfo->opts, ec->ec_collation);
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
	ShardRelInfo *fp = (ShardRelInfo *) rel->fdw_private;
	Relids		visible = rel->relids;
	ListCell   *lc;

	/* a SEMI or ANTI join's inner side is only inside its [NOT] EXISTS */
	if (fp && fp->join &&
		(fp->join->jointype == JOIN_SEMI || fp->join->jointype == JOIN_ANTI))
		visible = fp->join->outerrel->relids;

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
				bms_is_member(((Var *) e)->varno, visible) &&
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

	/*
	 * Every path requires the relations baserel references laterally (its
	 * target list may hold their values, e.g. in a PlaceHolderVar of a
	 * lateral subquery): the scan then runs once per outer row and computes
	 * those values locally.
	 */
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL,
									 fpinfo->rows,
									 fpinfo->startup_cost,
									 fpinfo->total_cost,
									 NIL, baserel->lateral_relids, NULL,
									 shardfdw_path_private(shardfdw_remote_limit(root, baserel, NIL),
														   NIL)));

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
			SHARDFDW_LOG2(per_shard);
		Cost		merge_cost = fpinfo->rows * cpu_operator_cost *
			(k > 1 ? SHARDFDW_LOG2(k) + 1 : 0);
		Cost		startup = fpinfo->startup_cost +
			(fpinfo->total_cost - fpinfo->startup_cost) * 0.5 + sort_cost;
		Cost		total = fpinfo->total_cost + sort_cost + merge_cost;

		int64		limit = shardfdw_remote_limit(root, baserel, pathkeys);

		/*
		 * With a remote LIMIT each shard keeps only its top rows (a top-N
		 * sort, or an index) and sends just those: the shards' reading
		 * and sorting is weighted as shard work is for aggregation (half:
		 * it runs elsewhere, in parallel), the transfer is of the kept
		 * rows only.
		 */
		if (limit > 0 && limit < fpinfo->rows)
		{
			Cost		per_row = fpinfo->opts.fdw_tuple_cost + cpu_tuple_cost;
			Cost		reading = Max(fpinfo->total_cost - fpinfo->startup_cost -
									  fpinfo->retrieved_rows * per_row, 0);
			Cost		top_n = 2.0 * cpu_operator_cost * per_shard *
				SHARDFDW_LOG2(2.0 * limit);
			double		sent = Min(limit * k, Max(fpinfo->retrieved_rows, 1));

			startup = fpinfo->startup_cost + (reading + top_n) * 0.5;
			total = startup + sent * per_row +
				sent * cpu_operator_cost * (k > 1 ? SHARDFDW_LOG2(k) + 1 : 0);
		}
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL,
										 fpinfo->rows, startup, total,
										 pathkeys, baserel->lateral_relids,
										 NULL,
										 shardfdw_path_private(limit,
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
 * shardfdw_path_private: the fdw_private List of a base or join path,
 * indexed by ShardPathPrivateIndex (palloc'd).
 */
List *
shardfdw_path_private(int64 limit, List *distinct_on)
{
	List	   *l = NIL;

	for (int i = 0; i < ShardPathPrivateCount; i++)
	{
		switch ((ShardPathPrivateIndex) i)
		{
			case ShardPathPrivateLimit:
				l = lappend(l, makeInteger((int) Min(Max(limit, 0),
													 PG_INT32_MAX)));
				break;
			case ShardPathPrivateDistinctOn:
				l = lappend(l, distinct_on);
				break;
			case ShardPathPrivateCount:
				break;
		}
	}
	return l;
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
	ShardScanPlan	sp;
	Bitmapset  *attrs_used;
	List	   *sort_attnos = NIL;
	List	   *sort_ops = NIL;
	List	   *sort_colls = NIL;
	List	   *sort_nulls_first = NIL;
	List	   *sort_exprs = NIL;
	ShardRemoteQuery *q;
	char	   *sql;
	ListCell   *lc;

	if (IS_UPPER_REL(baserel))
		return shardfdw_plan_upper_scan(root, baserel, tlist, outer_plan);
	if (IS_JOIN_REL(baserel))
		return shardfdw_plan_join_scan(root, baserel, best_path, tlist,
									   outer_plan);
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

	/* the remote query: columns, conditions, ORDER BY, LIMIT, DISTINCT ON */
	q = shardfdw_remote_query(baserel);
	q->attrs_used = attrs_used;
	q->conds = remote_conds;
	q->sort_exprs = sort_exprs;
	q->sort_ops = sort_ops;
	q->sort_nulls_first = sort_nulls_first;
	if (best_path->fdw_private != NIL)
	{
		int			limit = intVal(list_nth(best_path->fdw_private,
											ShardPathPrivateLimit));

		if (limit > 0)
			q->limit_count = limit;
		q->distinct_on = list_nth(best_path->fdw_private,
								  ShardPathPrivateDistinctOn);
	}
	sql = shardfdw_deparse_query(root, q, &retrieved_attrs, &params_list);

	memset(&sp, 0, sizeof(sp));
	sp.sql = sql;
	sp.retrieved_attrs = retrieved_attrs;
	sp.nparams = list_length(params_list);
	sp.sort_attnos = sort_attnos;
	sp.sort_ops = sort_ops;
	sp.sort_colls = sort_colls;
	sp.sort_nulls_first = sort_nulls_first;
	if (sort_exprs != NIL)
		sp.merge_keys = shardfdw_merge_key_names(root, sort_exprs, false);
	shardfdw_plan_targets(root, baserel, fpinfo, scan_clauses, &sp);
	shardfdw_check_ctid_conditions(baserel, fpinfo, &sp);

	fdw_exprs = list_concat(list_copy(params_list), sp.prune_exprs);

	return make_foreignscan(tlist,
							local_exprs,
							baserel->relid,
							fdw_exprs,
							shardfdw_make_fdw_private(fpinfo, &sp),
							NIL,
							remote_exprs,
							outer_plan);
}

/*
 * Names of merge key columns for EXPLAIN (palloc'd): "col, ..." for a base
 * scan, "alias.col, ..." when qualify.
 */
char *
shardfdw_merge_key_names(PlannerInfo *root, List *exprs, bool qualify)
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
void
shardfdw_plan_targets(PlannerInfo *root, RelOptInfo *baserel, ShardRelInfo *fpinfo,
			 List *clauses, ShardScanPlan *sp)
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
 * Does any of clauses (RestrictInfos or bare expressions) read the ctid of
 * base relation rel?
 */
static bool
has_ctid_condition(RelOptInfo *rel, List *clauses)
{
	Bitmapset  *attrs = NULL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		Node	   *n = lfirst(lc);

		if (IsA(n, RestrictInfo))
			n = (Node *) ((RestrictInfo *) n)->clause;
		pull_varattnos(n, rel->relid, &attrs);
	}
	return bms_is_member(SelfItemPointerAttributeNumber -
						 FirstLowInvalidHeapAttributeNumber, attrs);
}

/*
 * Refuse conditions on ctid of the base relations of rel (a base relation
 * or a join pushed down, planned as fpinfo) when its scan sp may read more
 * than one shard: a ctid identifies a row only within its shard (and the
 * copies of a replicated row have their own), so such a condition could
 * match a row on each shard.  A scan of one shard, fixed or chosen by one
 * key value, keeps postgres_fdw's meaning.
 */
void
shardfdw_check_ctid_conditions(RelOptInfo *rel, ShardRelInfo *fpinfo, ShardScanPlan *sp)
{
	bool		found;

	if (fpinfo->opts.nshards == 1 ||
		(sp->mode == SHARD_PRUNE_NONE && list_length(sp->targets) <= 1) ||
		(sp->mode == SHARD_PRUNE_RUNTIME &&
		 list_length(sp->prune_exprs) == 1 &&
		 !linitial_int(sp->prune_is_array)))
		return;
	if (fpinfo->join)
	{
		ShardJoinInfo *j = fpinfo->join;
		List	   *conds = list_concat(list_copy(j->joinclauses),
										j->otherclauses);

		found = has_ctid_condition(j->outerrel,
								   j->outerrel->baserestrictinfo) ||
			has_ctid_condition(j->innerrel, j->innerrel->baserestrictinfo) ||
			has_ctid_condition(j->outerrel, conds) ||
			has_ctid_condition(j->innerrel, conds);
	}
	else
		found = has_ctid_condition(rel, rel->baserestrictinfo);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot select rows of foreign table \"%s\" by ctid across %d shards",
						fpinfo->relation_name, fpinfo->opts.nshards),
				 errdetail("A ctid identifies a row only within one shard%s.",
						   fpinfo->opts.distribution == SHARD_DIST_REPLICATED ?
						   ", and each shard's copy of a replicated row has its own" : ""),
				 errhint("Add a condition on the distribution column that selects one shard.")));
}

/*
 * The fdw_private List of a ForeignScan, indexed by ShardScanPrivateIndex
 * (palloc'd).
 */
List *
shardfdw_make_fdw_private(ShardRelInfo *fpinfo, ShardScanPlan *sp)
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
			case ShardScanPrivateCombine:
				item = (Node *) (up ? shard_combine_plan(up) : NIL);
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
			case ShardScanPrivateSetProcessed:
				item = (Node *) makeInteger(sp->set_processed);
				break;
			case ShardScanPrivateCount:
				break;
		}
		fdw_private = lappend(fdw_private, item);
	}
	return fdw_private;
}

/*
 * Target shards of a scan over a pushed-down join: fixed by join.c, or
 * chosen at run time from one side's key conditions.
 */
void
shardfdw_targets_from_join(ShardRelInfo *fp, ShardScanPlan *sp)
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
 * The object access hook: after an ALTER SERVER of a shardfdw server, note
 * its number of shards as it was (the altered row is not visible yet), so
 * that a change of it is checked (shardfdw_note_server_alter).  This hook,
 * unlike the utility hook, also sees the ALTER SERVER that loads the
 * library (through the validator) in a session that had not used it.
 */
static void
shard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_POST_ALTER && classId == ForeignServerRelationId &&
		shardfdw_is_shardfdw_server(objectId))
		shardfdw_note_server_alter(objectId);
}

/*
 * After CREATE FOREIGN TABLE and ALTER FOREIGN TABLE on a shardfdw table,
 * check the options that depend on its columns, so that a bad
 * distribution_column fails the statement that set it.  After an ALTER
 * SERVER, the change of a number of shards that the object access hook
 * noted is checked at once rather than at commit (shardfdw_check_resizes
 * in commands.c).
 */
static void
shard_utility_hook(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	RangeVar   *volatile target = NULL;

	shardxact_utility_enter();
	PG_TRY();
	{
		if (prev_utility_hook)
			prev_utility_hook(pstmt, queryString, readOnlyTree, context,
							  params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree,
									context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		shardxact_utility_leave();
	}
	PG_END_TRY();

	/* an ALTER SERVER that changed the number of shards: refused now? */
	if (IsA(parsetree, AlterForeignServerStmt))
	{
		CommandCounterIncrement();
		shardfdw_check_resizes();
	}

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
