/*-------------------------------------------------------------------------
 *
 * upper.c
 *		  Planning the query block above a shardfdw scan on the shards:
 *		  grouping and aggregates, DISTINCT, ORDER BY and LIMIT/OFFSET.
 *
 * PostgreSQL offers every upper stage (GROUP_AGG, DISTINCT, ORDERED,
 * FINAL) to the FDW of the relation below.  Each stage that the shards can
 * compute the same way gets a ForeignPath whose fdw_private is
 * a ShardUpperInfo: the block so far, built up stage by stage (a grouped
 * relation's info is copied into the ordered and final ones).
 *
 *	- Grouping is done whole on each shard when every group lives on one
 *	  shard (one target shard, a replicated table, GROUP BY the distribution
 *	  column under its own collation, or a join's group-safe key); else
 *	  each shard aggregates its rows and combine.c folds the partial
 *	  results per group on the coordinator.  Nothing is offered when an
 *	  aggregate can be neither shipped nor combined.
 *	- ORDER BY is shipped with the block, and the scan merges the shards'
 *	  sorted streams; LIMIT/OFFSET is applied whole by a single target
 *	  shard, else each shard returns LIMIT + OFFSET rows and the scan
 *	  applies the exact OFFSET and LIMIT after the merge.
 *
 * The remote SQL is written by deparse.c from a ShardRemoteQuery that
 * shardfdw_plan_upper_scan fills in; the partial columns of combined
 * aggregates come from combine.c as expressions.
 *
 * Invariant: a grouping key is never a bare Param (setrefs.c would turn
 * the remote parameter into a reference to the scan tuple).
 *
 * src/upper.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "foreign/fdwapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/tlist.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"

#include "combine.h"
#include "connection.h"
#include "deparse.h"
#include "join.h"
#include "shard.h"
#include "shardfdw.h"
#include "upper.h"

static ShardUpperInfo *upper_over(RelOptInfo *input_rel);
static ForeignPath *our_path(RelOptInfo *rel, List *pathkeys);
static void add_ordered_path(PlannerInfo *root, RelOptInfo *input_rel,
							 RelOptInfo *ordered_rel);
static void add_final_path(PlannerInfo *root, RelOptInfo *input_rel,
						   RelOptInfo *final_rel, FinalPathExtraData *extra);
static bool collect_aggs(Node *node, List **aggs, List *group_exprs);
static void add_grouping_path(PlannerInfo *root, RelOptInfo *input_rel,
							  RelOptInfo *grouped_rel, List *groupclauses,
							  Node *havingqual);

/*
 * shardfdw_upper_paths: see upper.h.
 */
void
shardfdw_upper_paths(PlannerInfo *root, UpperRelationKind stage,
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
									   (SHARDFDW_LOG2(k) + 1),
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
		/*
		 * A grouping key that is a bare Param (an initplan's result, an
		 * outer query's value), or a stable expression of no column (sent
		 * as a parameter too), is not shipped: setrefs.c would replace the
		 * parameter we send by a reference to the scan tuple column that
		 * matches it, which does not exist yet when the parameters are
		 * computed.
		 */
		if (IsA(expr, Const) || IsA(strip_relabel(expr), Param) ||
			shardfdw_is_local_value((Node *) strip_relabel(expr)) ||
			!sgc->hashable ||
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
			Expr	   *e = strip_relabel(lfirst(lc));
			Oid			collid = exprCollation(lfirst(lc));

			if (IsA(e, Var))
			{
				ListCell   *lc2;

				foreach(lc2, fp->join->group_safe_vars)
				{
					Var		   *v = lfirst(lc2);

					if (v->varno == ((Var *) e)->varno &&
						v->varattno == ((Var *) e)->varattno &&
						(!OidIsValid(v->varcollid) || v->varcollid == collid))
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
			Expr	   *e = strip_relabel(lfirst(lc));

			/* (grouped under another collation, equal keys may mix shards) */
			if (IsA(e, Var) && ((Var *) e)->varno == input_rel->relid &&
				((Var *) e)->varattno == fp->opts.dist_attno &&
				shard_collation_matches(&fp->opts,
										exprCollation(lfirst(lc))))
				by_key = true;
		}
	}
	/* (no GROUP BY over zero shards still owes one row: partial mode) */
	up->mode = (single_shard || (by_key && up->group_exprs != NIL)) ?
		SHARD_COMBINE_NONE : SHARD_COMBINE_PARTIAL;

	foreach(lc, up->aggs)
	{
		Aggref	   *agg = lfirst_node(Aggref, lc);

		if (!shardfdw_is_foreign_upper_expr(root, input_rel, (Expr *) agg) &&
			!shard_agg_json_shippable(root, input_rel, agg))
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
			if (!shard_agg_combinable(agg, &kind, &combinefn, &types) ||
				(distinct && !SHARD_AGG_DISTINCT_OK(kind)))
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
ForeignScan *
shardfdw_plan_upper_scan(PlannerInfo *root, RelOptInfo *rel, List *tlist,
				Plan *outer_plan)
{
	ShardUpperInfo *up = (ShardUpperInfo *) rel->fdw_private;
	ShardRelInfo *fp = up->base;
	RelOptInfo *scanrel = up->scanrel;
	List	   *scan_tlist = NIL;
	List	   *params_list = NIL;
	List	   *retrieved = NIL;
	ShardRemoteQuery *q;
	char	   *sql;
	ShardScanPlan	sp;
	ListCell   *lc;
	ListCell   *lc2;
	int			i;

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
		shardfdw_targets_from_join(fp, &sp);
	else
		shardfdw_plan_targets(root, scanrel, fp, scanrel->baserestrictinfo, &sp);
	shardfdw_check_ctid_conditions(scanrel, fp, &sp);

	/*
	 * The remote query's select list: the plain block's columns, or the
	 * grouping keys (with x of the DISTINCT aggregates, which the shards
	 * group by too), then each aggregate, whole or as its partial columns
	 * (a DISTINCT aggregate's are computed from x on the coordinator).
	 */
	q = shardfdw_remote_query(scanrel);
	q->use_targets = true;
	q->conds = fp->remote_conds;
	if (up->scan_only)
		q->targets = get_tlist_exprs(scan_tlist, false);
	q->targets = list_concat(q->targets, list_copy(up->group_exprs));
	if (up->distinct_expr)
		q->targets = lappend(q->targets, up->distinct_expr);
	q->ngroup = list_length(up->group_exprs) + (up->distinct_expr ? 1 : 0);
	i = 0;
	foreach(lc, up->aggs)
	{
		if (up->mode != SHARD_COMBINE_PARTIAL)
			q->targets = lappend(q->targets, lfirst(lc));
		else if (!list_nth_int(up->agg_is_distinct, i))
			q->targets = list_concat(q->targets,
									 shard_agg_partial_exprs(lfirst(lc),
															 list_nth_int(up->agg_kinds, i)));
		i++;
	}
	q->having = up->remote_having;

	/*
	 * ORDER BY: a plain block's sort expressions as such, a grouped block's
	 * by output position (its keys are output columns, in default order).
	 * The merge reads the same positions of the scan tuple.
	 */
	q->sort_ops = up->sort_ops;
	q->sort_nulls_first = up->sort_nulls_first;
	foreach(lc, up->sort_exprs)
	{
		TargetEntry *tle = tlist_member(strip_relabel(lfirst(lc)), scan_tlist);

		if (tle == NULL)
			elog(ERROR, "shardfdw sort key is not in the scan tuple");
		if (up->scan_only)
			q->sort_exprs = lappend(q->sort_exprs, lfirst(lc));
		else
			q->sort_positions = lappend_int(q->sort_positions, tle->resno);
		sp.sort_attnos = lappend_int(sp.sort_attnos, tle->resno);
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
			q->limit_count = up->limit_count;
			q->limit_offset = up->limit_offset;
		}
		else
		{
			if (up->limit_count >= 0)
				q->limit_count = up->limit_count + up->limit_offset;
			sp.limit_count = up->limit_count;
			sp.limit_offset = up->limit_offset;
		}
	}
	sql = shardfdw_deparse_query(root, q, &retrieved, &params_list);

	sp.sql = sql;
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
		sp.merge_keys = shardfdw_merge_key_names(root, up->sort_exprs,
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
							shardfdw_make_fdw_private(fp, &sp),
							scan_tlist,
							NIL,
							outer_plan);
}
