/*-------------------------------------------------------------------------
 *
 * join.c
 *		  Joins of shardfdw tables computed on the shards.
 *
 * A join of two shardfdw tables of the same server (and user mapping) is
 * computed by each shard on its own rows -- one remote query per target
 * shard -- when that gives the same rows as joining the whole tables:
 *
 *	- co-located: both tables are distributed the same way (hash with the
 *	  same hash operator family and collation, or both modulo) and a join
 *	  clause equates the two distribution columns; matching rows then
 *	  always live on the same shard.  Every join type qualifies.
 *	- one side replicated: every shard has all of its rows, so the join is
 *	  right as long as the replicated side is never the preserved side of
 *	  an outer join (that would repeat its unmatched rows once per shard):
 *	  INNER, LEFT/SEMI/ANTI with the replicated side inside, RIGHT with it
 *	  outside.  Both replicated: any one shard computes the join.
 *	- both sides pruned at plan time to the same single shard.
 *
 * Target shards: the intersection of the sides' shards for INNER and SEMI,
 * the preserved side's for LEFT, RIGHT and ANTI, the union for FULL -- or,
 * when plan time cannot narrow them, chosen at run time from one side's
 * key conditions (generic plans).
 * The remote SQL is written by deparse.c: each side with remote conditions
 * is sent as a subquery, so its filter applies before the join whatever
 * the join type; SEMI and ANTI joins become [NOT] EXISTS.  Only joins of
 * two base tables are pushed; a side with local conditions keeps the join
 * local.
 *
 * src/join.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "deparse.h"
#include "connection.h"
#include "join.h"
#include "shard.h"
#include "shardfdw.h"

static bool is_dist_var(RelOptInfo *rel, ShardRelInfo *fp, Node *node);
static bool joined_on_keys(RelOptInfo *outerrel, ShardRelInfo *o,
						   RelOptInfo *innerrel, ShardRelInfo *i,
						   List *joinclauses);
static Bitmapset *side_targets(ShardRelInfo *fp);
static bool same_runtime_key(ShardRelInfo *o, ShardRelInfo *i);

/* Is node the distribution column of base relation rel? */
static bool
is_dist_var(RelOptInfo *rel, ShardRelInfo *fp, Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Var) && ((Var *) node)->varno == rel->relid &&
		((Var *) node)->varlevelsup == 0 &&
		fp->opts.dist_attno != InvalidAttrNumber &&
		((Var *) node)->varattno == fp->opts.dist_attno;
}

/*
 * Are the two tables co-located and joined on their distribution columns
 * by one of joinclauses (Exprs)?
 */
static bool
joined_on_keys(RelOptInfo *outerrel, ShardRelInfo *o, RelOptInfo *innerrel,
			   ShardRelInfo *i, List *joinclauses)
{
	ListCell   *lc;

	if (o->opts.distribution != i->opts.distribution ||
		(o->opts.distribution != SHARD_DIST_HASH &&
		 o->opts.distribution != SHARD_DIST_MODULO) ||
		o->opts.nshards != i->opts.nshards)
		return false;
	if (o->opts.distribution == SHARD_DIST_HASH &&
		(o->opts.dist_hash_opfamily != i->opts.dist_hash_opfamily ||
		 o->opts.dist_collation != i->opts.dist_collation))
		return false;

	foreach(lc, joinclauses)
	{
		OpExpr	   *op = lfirst(lc);
		Node	   *l;
		Node	   *r;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2 ||
			get_op_opfamily_strategy(op->opno, o->opts.dist_hash_opfamily) !=
			HTEqualStrategyNumber ||
			!shard_collation_matches(&o->opts, op->inputcollid))
			continue;
		l = linitial(op->args);
		r = lsecond(op->args);
		if ((is_dist_var(outerrel, o, l) && is_dist_var(innerrel, i, r)) ||
			(is_dist_var(outerrel, o, r) && is_dist_var(innerrel, i, l)))
			return true;
	}
	return false;
}

/*
 * Are both sides restricted, at run time, to the one shard of the same key
 * value (a generic plan's "a.id = $1" that PostgreSQL applies to both sides
 * of "a JOIN b ON a.id = b.id", leaving no join clause)?  Then every row
 * of either side lives on that shard, and any join of them can be computed
 * there.
 */
static bool
same_runtime_key(ShardRelInfo *o, ShardRelInfo *i)
{
	return o->prunable && i->prunable && !o->prune_static &&
		!i->prune_static &&
		list_length(o->prune_exprs) == 1 &&
		!linitial_int(o->prune_is_array) &&
		!linitial_int(i->prune_is_array) &&
		equal(o->prune_exprs, i->prune_exprs) &&
		o->opts.distribution == i->opts.distribution &&
		o->opts.nshards == i->opts.nshards &&
		(o->opts.distribution != SHARD_DIST_HASH ||
		 (o->opts.dist_hash_opfamily == i->opts.dist_hash_opfamily &&
		  o->opts.dist_collation == i->opts.dist_collation));
}

/* Shards a side must be read on, as fixed at plan time (palloc'd). */
static Bitmapset *
side_targets(ShardRelInfo *fp)
{
	Bitmapset  *all = NULL;

	if (fp->prune_static)
		return bms_copy(fp->static_shards);
	for (int s = 0; s < fp->opts.nshards; s++)
		all = bms_add_member(all, s);
	return all;
}

/*
 * shardfdw_join_paths: see join.h.  The join's ShardRelInfo (with its
 * ShardJoinInfo) is palloc'd in the planner's context and hung on
 * joinrel->fdw_private.
 */
void
shardfdw_join_paths(PlannerInfo *root, RelOptInfo *joinrel,
					RelOptInfo *outerrel, RelOptInfo *innerrel,
					JoinType jointype, JoinPathExtraData *extra)
{
	ShardRelInfo *o = (ShardRelInfo *) outerrel->fdw_private;
	ShardRelInfo *i = (ShardRelInfo *) innerrel->fdw_private;
	ShardRelInfo *fp;
	ShardJoinInfo *j;
	bool		o_rep;
	bool		i_rep;
	bool		ok;
	ListCell   *lc;
	double		k;
	Cost		work;
	Cost		startup;
	Cost		total;

	if (joinrel->fdw_private != NULL || o == NULL || i == NULL ||
		o->join != NULL || i->join != NULL ||
		outerrel->reloptkind != RELOPT_BASEREL ||
		innerrel->reloptkind != RELOPT_BASEREL ||
		o->server->serverid != i->server->serverid ||
		o->user->umid != i->user->umid ||
		o->local_conds != NIL || i->local_conds != NIL ||
		root->parse->rowMarks != NIL ||
		!bms_is_empty(joinrel->lateral_relids))
		return;

	/*
	 * The target of an UPDATE ... FROM or DELETE ... USING joins on the
	 * shards only as an inner join with the statement's one other table:
	 * then the whole statement can run there (modify.c), and otherwise the
	 * join's rows carry the target's row identity (ctid, key) as a scan's
	 * would.  With more tables, a concurrent update of a local one would
	 * need the pushed join rechecked (EvalPlanQual), which it cannot be.
	 */
	if (root->parse->resultRelation > 0 &&
		bms_is_member(root->parse->resultRelation, joinrel->relids) &&
		(jointype != JOIN_INNER ||
		 !bms_equal(joinrel->relids, root->all_baserels)))
		return;
	if (jointype != JOIN_INNER && jointype != JOIN_LEFT &&
		jointype != JOIN_RIGHT && jointype != JOIN_FULL &&
		jointype != JOIN_SEMI && jointype != JOIN_ANTI)
		return;
	/*
	 * The inner side of SEMI and ANTI joins is printed inside [NOT] EXISTS:
	 * none of its columns can be in the join's output.  (An anti join made
	 * of "LEFT JOIN ... WHERE inner.col IS NULL" still outputs the inner
	 * columns, always NULL.)
	 */
	if ((jointype == JOIN_SEMI || jointype == JOIN_ANTI) &&
		bms_overlap(pull_varnos(root, (Node *) joinrel->reltarget->exprs),
					innerrel->relids))
		return;

	/*
	 * A placeholder to be evaluated below the join's top (say coalesce()
	 * of a subquery on the nullable side of an outer join) must go NULL
	 * with its side, which computing it over the join's output would not
	 * do: keep such a join local.  One evaluated at the join itself is
	 * computed over the joined rows, which is right.
	 */
	foreach(lc, root->placeholder_list)
	{
		PlaceHolderInfo *phinfo = lfirst(lc);

		if (bms_is_subset(phinfo->ph_eval_at, joinrel->relids) &&
			bms_nonempty_difference(joinrel->relids, phinfo->ph_eval_at))
			return;
	}

	/* the join's own planner state: server options of the outer side */
	fp = palloc0(sizeof(ShardRelInfo));
	fp->opts = o->opts;
	fp->table = o->table;
	fp->server = o->server;
	fp->user = o->user;
	fp->relation_name = psprintf("%s %s", o->relation_name, i->relation_name);
	j = palloc0(sizeof(ShardJoinInfo));
	j->jointype = jointype;
	j->outerrel = outerrel;
	j->innerrel = innerrel;
	fp->join = j;
	joinrel->fdw_private = fp;	/* the walker reads the options from it */

	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		bool		shippable = shardfdw_is_foreign_expr(root, joinrel,
														 rinfo->clause);

		if (IS_OUTER_JOIN(jointype) &&
			RINFO_IS_PUSHED_DOWN(rinfo, joinrel->relids))
		{
			/* a filter above an outer join */
			if (shippable)
				j->otherclauses = lappend(j->otherclauses, rinfo->clause);
			else
				j->local_exprs = lappend(j->local_exprs, rinfo->clause);
		}
		else if (shippable)
			j->joinclauses = lappend(j->joinclauses, rinfo->clause);
		else if (jointype == JOIN_INNER)
			j->local_exprs = lappend(j->local_exprs, rinfo->clause);
		else
			goto not_pushable;
	}

	/* may each shard join its own rows? */
	o_rep = o->opts.distribution == SHARD_DIST_REPLICATED;
	i_rep = i->opts.distribution == SHARD_DIST_REPLICATED;
	ok = false;
	if (o_rep && i_rep)
	{
		j->any_one = true;
		ok = true;
	}
	else if (i_rep)
	{
		ok = jointype == JOIN_INNER || jointype == JOIN_LEFT ||
			jointype == JOIN_SEMI || jointype == JOIN_ANTI;
		j->targets = side_targets(o);
		if (o->opts.dist_attno != InvalidAttrNumber)
			j->group_safe_vars = list_make1(makeVar(outerrel->relid,
													o->opts.dist_attno,
													o->opts.dist_type, -1,
													o->opts.dist_collation, 0));
	}
	else if (o_rep)
	{
		ok = jointype == JOIN_INNER || jointype == JOIN_RIGHT;
		j->targets = side_targets(i);
		if (i->opts.dist_attno != InvalidAttrNumber)
			j->group_safe_vars = list_make1(makeVar(innerrel->relid,
													i->opts.dist_attno,
													i->opts.dist_type, -1,
													i->opts.dist_collation, 0));
	}
	else
	{
		Bitmapset  *ot = side_targets(o);
		Bitmapset  *it = side_targets(i);
		Var		   *ov = NULL;
		Var		   *iv = NULL;

		if (o->opts.dist_attno != InvalidAttrNumber)
			ov = makeVar(outerrel->relid, o->opts.dist_attno,
						 o->opts.dist_type, -1, o->opts.dist_collation, 0);
		if (i->opts.dist_attno != InvalidAttrNumber)
			iv = makeVar(innerrel->relid, i->opts.dist_attno,
						 i->opts.dist_type, -1, i->opts.dist_collation, 0);
		if (joined_on_keys(outerrel, o, innerrel, i, j->joinclauses))
		{
			ok = true;
			/* NULL-extended keys of the nullable side may mix shards */
			if (jointype != JOIN_RIGHT && jointype != JOIN_FULL)
				j->group_safe_vars = lappend(j->group_safe_vars, ov);
			if (jointype == JOIN_INNER || jointype == JOIN_RIGHT)
				j->group_safe_vars = lappend(j->group_safe_vars, iv);
		}
		else if (o->prune_static && i->prune_static &&
				 bms_num_members(ot) == 1 && bms_equal(ot, it))
			ok = true;
		else if (same_runtime_key(o, i))
			ok = true;

		switch (jointype)
		{
			case JOIN_INNER:
			case JOIN_SEMI:
				j->targets = bms_intersect(ot, it);
				break;
			case JOIN_LEFT:
			case JOIN_ANTI:
				j->targets = ot;
				break;
			case JOIN_RIGHT:
				j->targets = it;
				break;
			default:
				j->targets = bms_union(ot, it);
				break;
		}
	}
	if (!ok)
		goto not_pushable;

	/*
	 * Run-time pruning: when plan time left every shard a target, a side
	 * whose key conditions hold Params (a generic plan's "id = $1") may
	 * choose the shards at execution -- the side whose rows decide the
	 * result: the distributed side next to a replicated one, either side
	 * of a co-located inner join, the preserved side of an outer join.
	 * Its options (distribution) then stand for the join's.
	 */
	if (!j->any_one &&
		bms_num_members(j->targets) == fp->opts.nshards)
	{
		ShardRelInfo *cand[2] = {NULL, NULL};

		if (i_rep)
			cand[0] = o;
		else if (o_rep)
			cand[0] = i;
		else if (joined_on_keys(outerrel, o, innerrel, i, j->joinclauses))
		{
			if (jointype == JOIN_INNER || jointype == JOIN_SEMI)
			{
				cand[0] = o;
				cand[1] = i;
			}
			else if (jointype == JOIN_LEFT || jointype == JOIN_ANTI)
				cand[0] = o;
			else if (jointype == JOIN_RIGHT)
				cand[0] = i;
		}
		else if (same_runtime_key(o, i))
			cand[0] = o;		/* either side: both read one same shard */
		for (int c = 0; c < 2 && j->prune_side == NULL; c++)
			if (cand[c] && cand[c]->prunable && !cand[c]->prune_static)
				j->prune_side = cand[c];
		if (j->prune_side)
			fp->opts = j->prune_side->opts;
	}

	/*
	 * Costs: both sides are read and joined on the shards (weighted at half,
	 * as for aggregates: other machines, in parallel), then the join's rows
	 * cross the network.
	 */
	fp->est_shards = j->any_one ? 1 :
		j->prune_side ? j->prune_side->est_shards :
		Max(bms_num_members(j->targets), 1);
	fp->rows = joinrel->rows;
	fp->retrieved_rows = joinrel->rows;
	k = fp->est_shards;
	work = (o->total_cost - o->startup_cost) +
		(i->total_cost - i->startup_cost) -
		(o->retrieved_rows + i->retrieved_rows) *
		(fp->opts.fdw_tuple_cost + cpu_tuple_cost) +
		(o->retrieved_rows + i->retrieved_rows) * cpu_operator_cost * 2;
	startup = fp->opts.fdw_startup_cost *
		(1.0 + 0.1 * Max(k - 1, 0));
	total = startup + Max(work, 0) * 0.5 +
		joinrel->rows * (fp->opts.fdw_tuple_cost + cpu_tuple_cost) +
		joinrel->rows * cpu_operator_cost * list_length(j->local_exprs);
	fp->startup_cost = startup;
	fp->total_cost = total;

	add_path(joinrel, (Path *)
			 create_foreign_join_path(root, joinrel, NULL, joinrel->rows,
									  startup, total, NIL,
									  joinrel->lateral_relids, NULL,
									  shardfdw_path_private(shardfdw_remote_limit(root, joinrel, NIL),
															NIL)));

	/* in the query's order: every shard sorts, the scan merges */
	if (root->query_pathkeys != NIL)
	{
		List	   *a,
				   *o2,
				   *c,
				   *n,
				   *e;

		if (shardfdw_sort_keys(root, joinrel, root->query_pathkeys,
							   &a, &o2, &c, &n, &e))
		{
			int64		limit = shardfdw_remote_limit(root, joinrel,
													  root->query_pathkeys);
			double		rows = Max(joinrel->rows, 2);
			Cost		sort = 2.0 * cpu_operator_cost * rows * log(rows) /
				0.693147180559945 / k;
			Cost		sorted_total = total + sort +
				rows * cpu_operator_cost * (k > 1 ? log(k) / 0.693147180559945 + 1 : 0);

			if (limit > 0 && limit * k < rows)
				sorted_total = startup + sort +
					(sorted_total - startup - sort) * limit * k / rows;
			add_path(joinrel, (Path *)
					 create_foreign_join_path(root, joinrel, NULL,
											  joinrel->rows,
											  startup + sort, sorted_total,
											  root->query_pathkeys,
											  joinrel->lateral_relids, NULL,
											  shardfdw_path_private(limit, NIL)));
		}
	}
	return;

not_pushable:
	joinrel->fdw_private = NULL;
}

/*
 * The ForeignScan of a join computed on the shards: fdw_scan_tlist holds
 * the columns the join's output and its local quals need.
 */
ForeignScan *
shardfdw_plan_join_scan(PlannerInfo *root, RelOptInfo *joinrel, ForeignPath *best_path,
			   List *tlist, Plan *outer_plan)
{
	ShardRelInfo *fp = (ShardRelInfo *) joinrel->fdw_private;
	ShardJoinInfo *j = fp->join;
	List	   *scan_tlist;
	List	   *sort_exprs = NIL;
	List	   *params_list = NIL;
	List	   *retrieved = NIL;
	ShardRemoteQuery *q;
	char	   *sql;
	ShardScanPlan	sp;

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
		sp.merge_keys = shardfdw_merge_key_names(root, exprs, true);
	}

	q = shardfdw_remote_query(joinrel);
	q->use_targets = true;
	q->targets = get_tlist_exprs(scan_tlist, false);
	q->sort_exprs = sort_exprs;
	q->sort_ops = sp.sort_ops;
	q->sort_nulls_first = sp.sort_nulls_first;
	if (best_path->fdw_private != NIL &&
		intVal(list_nth(best_path->fdw_private, ShardPathPrivateLimit)) > 0)
		q->limit_count = intVal(list_nth(best_path->fdw_private,
										 ShardPathPrivateLimit));
	sql = shardfdw_deparse_query(root, q, &retrieved, &params_list);

	sp.sql = sql;
	sp.retrieved_attrs = retrieved;
	sp.nparams = list_length(params_list);
	sp.relations = shardfdw_join_description(root, joinrel);
	shardfdw_targets_from_join(fp, &sp);
	shardfdw_check_ctid_conditions(joinrel, fp, &sp);

	return make_foreignscan(tlist, j->local_exprs, 0,
							list_concat(list_copy(params_list),
										sp.prune_exprs),
							shardfdw_make_fdw_private(fp, &sp), scan_tlist, NIL,
							outer_plan);
}

/*
 * shardfdw_join_description: "t1 INNER JOIN t2" (palloc'd).
 */
char *
shardfdw_join_description(PlannerInfo *root, RelOptInfo *rel)
{
	ShardRelInfo *fp = (ShardRelInfo *) rel->fdw_private;
	ShardJoinInfo *j = fp->join;
	const char *jt;

	if (j == NULL)
		return pstrdup(quote_identifier(fp->relation_name));
	switch (j->jointype)
	{
		case JOIN_LEFT:
			jt = "LEFT JOIN";
			break;
		case JOIN_RIGHT:
			jt = "RIGHT JOIN";
			break;
		case JOIN_FULL:
			jt = "FULL JOIN";
			break;
		case JOIN_SEMI:
			jt = "SEMI JOIN";
			break;
		case JOIN_ANTI:
			jt = "ANTI JOIN";
			break;
		default:
			jt = "INNER JOIN";
			break;
	}
	return psprintf("(%s) %s (%s)",
					shardfdw_join_description(root, j->outerrel), jt,
					shardfdw_join_description(root, j->innerrel));
}
