/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  Writes to shardfdw tables: INSERT routed by key, UPDATE and DELETE
 *		  pushed down whole or done row by row, TRUNCATE on every shard.
 *
 * What runs where:
 *
 *	1. INSERT (and COPY FROM, partition routing): each row goes to the
 *	   shard that owns its distribution key (shard_route: PARTITION BY
 *	   HASH placement, NULL keys on shard 0; modulo), every shard for a
 *	   replicated table.  Rows are batched per shard (batch_size rows per
 *	   multi-row INSERT) and the shards of a batch are written in
 *	   parallel.  A table with no distribution column over several shards
 *	   cannot route rows: an error says how to declare one.  COPY FROM,
 *	   and INSERT ... SELECT when no row's outcome is needed (no
 *	   RETURNING, ON CONFLICT, row trigger or check option: see
 *	   insert_streams), stream the rows with COPY ... FROM STDIN instead;
 *	   a shard's COPY stays open across batches and ends with the
 *	   statement, or earlier when another statement needs its connection.
 *	2. UPDATE / DELETE pushed down (shardfdw_plan_direct_modify): when the
 *	   scan below has no local condition and every SET expression can be
 *	   evaluated on the shards, the whole statement is sent to the target
 *	   shards (pruned like a read, also at run time) in parallel; scan.c
 *	   executes it and returns the RETURNING rows.
 *	3. UPDATE / DELETE row by row otherwise: the scan fetches each row with
 *	   its ctid and its distribution key (row identity columns added by
 *	   shardfdw_add_update_targets); the key says which shard holds the row
 *	   and the ctid which row there.  An UPDATE that changes the key moves
 *	   the row: DELETE on the old shard, INSERT of the whole new row on the
 *	   new one, in the same transaction.  Replicated tables and tables
 *	   without a distribution column over several shards cannot be changed
 *	   row by row (a ctid names a row on one shard only): an error asks for
 *	   a statement the shards can run whole.
 *	4. TRUNCATE runs on every shard of each server, with CASCADE and
 *	   RESTART IDENTITY passed on.
 *
 * Every write runs in the shard's remote transaction (xact.c starts it in
 * front of the statement) and marks it written, so its COMMIT is waited
 * for; a failure on any shard raises the remote error (SQLSTATE, detail,
 * constraint, naming the shard) and the local transaction's abort rolls
 * back every shard.
 *
 * Memory: the ShardModifyState lives in the executor's per-query context;
 * per-row conversions use a temporary context reset for every row or
 * batch; PGresults are cleared before the next statement.
 *
 * src/modify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "foreign/foreign.h"
#include "parser/analyze.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "connection.h"
#include "deparse.h"
#include "modify.h"
#include "option.h"
#include "shard.h"
#include "shardfdw.h"
#include "xact.h"

/*
 * Rows per COPY on one shard: a longer stream is cut into COPYs of this
 * many rows, so that the input line of each row of the open one can be
 * kept (to tell a shard's error by the input's line) in bounded memory.
 */
#define COPY_CHUNK_ROWS 65536

/* Names of the row identity columns shardfdw adds for UPDATE / DELETE. */
#define SHARDFDW_KEY_JUNK "shardfdw_key"

/* Executor state of a foreign modification (ResultRelInfo->ri_FdwState). */
typedef struct ShardModifyState
{
	Relation	rel;
	char	   *relname;
	ShardTableOptions opts;
	ForeignServer *server;
	UserMapping *user;
	CmdType		operation;

	/* the one-row statement and its parameters */
	char	   *sql;
	List	   *target_attrs;	/* columns sent ($2.. for UPDATE) */
	List	   *retrieved_attrs;	/* RETURNING columns */
	char	   *on_conflict;	/* the INSERT's ON CONFLICT clause, or NULL */
	Index		alias_varno;	/* the INSERT names its target r<n>, or 0 */
	FmgrInfo   *param_out;		/* output functions of target_attrs */
	int			text_needs;		/* the settings the rows' text depends on
								 * (shardconn_text_needs) */
	AttInMetadata *attinmeta;	/* to read RETURNING rows */

	/* routing */
	bool		routed;			/* by a distribution key */
	ShardRouter router;

	/* UPDATE / DELETE: the row identity in the subplan's output */
	AttrNumber	ctid_attno;
	AttrNumber	key_attno;		/* 0: one shard */

	/* UPDATE changing the key: the row moves */
	bool		single_row;		/* INSERT of one VALUES row */
	bool		moves_rows;
	char	   *move_delete_sql;	/* DELETE by ctid */
	char	   *move_insert_sql;	/* INSERT of every column */
	List	   *move_insert_attrs;
	FmgrInfo   *move_param_out;

	/* INSERT batches: the statement for n rows, made when first needed */
	int			batch_size;
	char	  **batch_sql;		/* [1 .. batch_size] */

	/* COPY FROM: rows streamed with COPY ... FROM STDIN to each shard */
	bool		copy;
	char	   *copy_sql;
	bool	   *copying;		/* by shard: its COPY is open */
	bool		copy_from;		/* a COPY FROM (else INSERT ... SELECT) */
	uint64		rows_in;		/* rows streamed so far */
	uint64	  **copy_lines;		/* by shard: the input line (COPY FROM) or
								 * row number of each row of its open COPY,
								 * to tell a shard's error in input terms */
	int		   *copy_nlines;
	StringInfoData line;		/* one row in COPY text format */

	/*
	 * UPDATE / DELETE row by row, batched (see row_batch_size): by shard,
	 * up to batch_size statements, their parameters in queue_cxt[shard];
	 * sent when full and when the executor run ends, so that every row is
	 * written, and counted, within the statement.
	 */
	int			row_batch;		/* statements per batch; 0: one at a time */
	bool		set_tag;		/* the statement's rows are counted */
	EState	   *estate;
	ShardStmt **queued;
	int		   *nqueued;
	MemoryContext *queue_cxt;

	ShardConn **conns;			/* by shard, made when first needed */
	double	   *written;		/* rows written per shard */
	MemoryContext temp_cxt;		/* reset per row or batch */
} ShardModifyState;

static void check_writable(Relation rel, const ShardTableOptions *opts,
						   CmdType operation, bool direct);
static List *insert_target_attrs(Relation rel);
static ShardModifyState *create_state(EState *estate, ResultRelInfo *rinfo,
									  CmdType operation, List *fdw_private,
									  Plan *subplan, bool copy);
static void copy_rows(ShardModifyState *ms, TupleTableSlot **slots, int n);
static void finish_copies(ShardModifyState *ms);
static void copy_result(ShardModifyState *ms, int s);
static uint64 copy_input_line(void);
static void finish_copy_on(ShardConn *c, void *owner);
static bool insert_streams(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						   List *fdw_private);
static int	row_batch_size(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						   List *fdw_private);
static void queue_row(ShardModifyState *ms, int shard, int nparams,
					  const char **values);
static void flush_rows(ShardModifyState *ms, int only);
static void flush_rows_at_end(void *arg);
static bool direct_update_targets(PlannerInfo *root, Index resultRelation,
								  RelOptInfo *rel, ShardRelInfo *target_fp,
								  List **target_attrs, List **target_exprs);
static bool plan_direct_modify_join(PlannerInfo *root, ModifyTable *plan,
									Index resultRelation, int subplan_index,
									ForeignScan *fscan);
static void start_row_batches(ShardModifyState *ms, ModifyTableState *mtstate,
							  ResultRelInfo *rinfo, List *fdw_private);
static void append_copy_text(StringInfo buf, const char *s);
static FmgrInfo *output_functions(Relation rel, List *attrs, int *needs);
static int	text_modes(ShardModifyState *ms);
static ShardConn *shard_conn(ShardModifyState *ms, int shard);
static int	row_shard(ShardModifyState *ms, TupleTableSlot *slot,
					  AttrNumber attno);
static void slot_params(ShardModifyState *ms, TupleTableSlot *slot,
						List *attrs, FmgrInfo *out, const char **values);
static int	affected_rows(PGresult *res);
static void store_returning(ShardModifyState *ms, PGresult *res,
							TupleTableSlot *slot);
static PGresult *run_one(ShardModifyState *ms, int shard, const char *sql,
						 int nparams, const char **values);
static int	write_row(ShardModifyState *ms, int shard, const char *sql,
					  int nparams, const char **values, TupleTableSlot *slot);
static char *conflict_clause(PlannerInfo *root, ModifyTable *plan,
							 Index resultRelation, Relation rel,
							 ShardTableOptions *opts, Index *alias_varno);

static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;

/* Install the hooks of this module; once, from _PG_init. */
void
shardfdw_modify_init(void)
{
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = shardfdw_post_parse_analyze;
}

/*
 * shardfdw_is_updatable: IsForeignRelUpdatable.  The "updatable" option
 * (table over server) allows INSERT, UPDATE and DELETE together.
 */
int
shardfdw_is_updatable(Relation rel)
{
	ShardTableOptions opts;

	shardfdw_get_table_options(RelationGetRelid(rel), &opts);
	return opts.updatable ?
		(1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE) : 0;
}

/*
 * Raise the error of a write that cannot be routed: rows of a table without
 * a distribution column, or changed row by row on several shards of a
 * replicated table or one without a distribution column.
 */
static void
check_writable(Relation rel, const ShardTableOptions *opts,
			   CmdType operation, bool direct)
{
	if (opts->nshards == 1 || direct)
		return;
	if (operation == CMD_INSERT && opts->distribution == SHARD_DIST_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot insert into foreign table \"%s\": it has no distribution column to route rows by",
						RelationGetRelationName(rel)),
				 errhint("Declare one with ALTER FOREIGN TABLE %s OPTIONS (ADD distribution_column '...'), or OPTIONS (ADD distribution 'replicated') for a table copied to every shard.",
						 quote_identifier(RelationGetRelationName(rel)))));
	if (operation != CMD_INSERT &&
		(opts->distribution == SHARD_DIST_NONE ||
		 opts->distribution == SHARD_DIST_REPLICATED))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\" row by row",
						operation == CMD_UPDATE ? "update" : "delete from",
						RelationGetRelationName(rel)),
				 errdetail(opts->distribution == SHARD_DIST_REPLICATED ?
						   "Each shard holds its own copy of a replicated row, which no ctid names on every shard." :
						   "Without a distribution column nothing tells which shard holds a row."),
				 errhint("Write the statement so that the shards can run it whole: immutable built-in expressions in SET and WHERE, no join.")));
}

/* The columns an INSERT sends: every one but dropped and generated ones. */
static List *
insert_target_attrs(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	List	   *attrs = NIL;

	for (int i = 1; i <= tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i - 1);

		/* a generated column is left to the shard, as postgres_fdw does */
		if (!att->attisdropped && !att->attgenerated)
			attrs = lappend_int(attrs, i);
	}
	return attrs;
}

/*
 * shardfdw_add_update_targets: AddForeignUpdateTargets.  The row identity
 * of UPDATE and DELETE: the row's ctid on its shard and its distribution
 * key (which shard).  (PostgreSQL itself fetches the whole old row of every
 * UPDATE of a foreign table, so the new row, which a moved row needs, is
 * complete.)
 */
void
shardfdw_add_update_targets(PlannerInfo *root, Index rtindex,
							RangeTblEntry *target_rte,
							Relation target_relation)
{
	ShardTableOptions opts;
	Form_pg_attribute keyatt;

	shardfdw_get_table_options(RelationGetRelid(target_relation), &opts);
	add_row_identity_var(root,
						 makeVar(rtindex, SelfItemPointerAttributeNumber,
								 TIDOID, -1, InvalidOid, 0),
						 rtindex, "ctid");
	if (opts.nshards == 1 || opts.dist_attno == InvalidAttrNumber)
		return;
	keyatt = TupleDescAttr(RelationGetDescr(target_relation),
						   opts.dist_attno - 1);
	add_row_identity_var(root,
						 makeVar(rtindex, opts.dist_attno, keyatt->atttypid,
								 keyatt->atttypmod, keyatt->attcollation, 0),
						 rtindex, SHARDFDW_KEY_JUNK);
}

/*
 * The name of the junk entry of exclRelTlist in which
 * shardfdw_post_parse_analyze keeps an ON CONFLICT target: its Const holds
 * the attnums, as text "1,3".
 */
#define SHARDFDW_CONFLICT_TARGET "shardfdw_conflict_target"

/* Is relid a shardfdw foreign table? */
static bool
is_shardfdw_relation(Oid relid)
{
	ForeignTable *ft;
	ForeignServer *server;
	ForeignDataWrapper *fdw;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return false;
	ft = GetForeignTable(relid);
	server = GetForeignServer(ft->serverid);
	fdw = GetForeignDataWrapper(server->fdwid);
	return strcmp(fdw->fdwname, "shardfdw") == 0;
}

/* Keep the conflict targets of query and of its CTEs (see modify.h). */
static void
keep_conflict_targets(Query *query)
{
	OnConflictExpr *oc = query->onConflict;
	RangeTblEntry *rte;
	StringInfoData attnos;
	ListCell   *lc;

	foreach(lc, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (IsA(cte->ctequery, Query))
			keep_conflict_targets((Query *) cte->ctequery);
	}
	if (query->commandType != CMD_INSERT || oc == NULL ||
		oc->arbiterElems == NIL)
		return;
	rte = rt_fetch(query->resultRelation, query->rtable);
	if (!is_shardfdw_relation(rte->relid))
		return;

	initStringInfo(&attnos);
	foreach(lc, oc->arbiterElems)
	{
		InferenceElem *ie = lfirst_node(InferenceElem, lc);
		Var		   *v = (Var *) ie->expr;

		if (!IsA(v, Var) || v->varno != query->resultRelation ||
			v->varattno <= 0 || OidIsValid(ie->infercollid) ||
			OidIsValid(ie->inferopclass))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the ON CONFLICT target of foreign table \"%s\" must be a list of columns",
							get_rel_name(rte->relid)),
					 errhint("Name the columns of the shards' unique index, without COLLATE or operator class.")));
		appendStringInfo(&attnos, "%s%d", attnos.len ? "," : "", v->varattno);
	}
	if (oc->arbiterWhere)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the ON CONFLICT target of foreign table \"%s\" cannot have a WHERE clause",
						get_rel_name(rte->relid))));
	oc->exclRelTlist =
		lappend(oc->exclRelTlist,
				makeTargetEntry((Expr *) makeConst(TEXTOID, -1, InvalidOid, -1,
												   CStringGetTextDatum(attnos.data),
												   false, false),
								list_length(oc->exclRelTlist) + 1,
								pstrdup(SHARDFDW_CONFLICT_TARGET), true));
	oc->arbiterElems = NIL;
}

/* shardfdw_post_parse_analyze: see modify.h. */
void
shardfdw_post_parse_analyze(ParseState *pstate, Query *query,
							JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	keep_conflict_targets(query);
}

/*
 * The ON CONFLICT clause the shards get for plan's INSERT into rel
 * (palloc'd).  A conflict target must include the distribution column,
 * so that a conflicting row can only be on the shard the new row goes to;
 * DO UPDATE must leave that column alone and use expressions the shards
 * can evaluate from the existing row and EXCLUDED.  *alias_varno: the
 * name the INSERT must give its target (r<n>), or 0.
 */
static char *
conflict_clause(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
				Relation rel, ShardTableOptions *opts, Index *alias_varno)
{
	List	   *conflict_attrs = NIL;
	bool		do_update = plan->onConflictAction == ONCONFLICT_UPDATE;
	RelOptInfo *target;
	ShardRelInfo *fp;
	List	   *set_exprs = NIL;
	ListCell   *lc;
	char	   *clause;

	foreach(lc, plan->exclRelTlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resname && strcmp(tle->resname, SHARDFDW_CONFLICT_TARGET) == 0)
		{
			char	   *list = TextDatumGetCString(((Const *) tle->expr)->constvalue);
			char	   *tok;
			char	   *save;

			for (tok = strtok_r(list, ",", &save); tok;
				 tok = strtok_r(NULL, ",", &save))
				conflict_attrs = lappend_int(conflict_attrs, atoi(tok));
		}
	}
	if (conflict_attrs != NIL && opts->nshards > 1 &&
		opts->dist_attno != InvalidAttrNumber &&
		!list_member_int(conflict_attrs, opts->dist_attno))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the ON CONFLICT target of foreign table \"%s\" must include its distribution column \"%s\"",
						RelationGetRelationName(rel),
						NameStr(TupleDescAttr(RelationGetDescr(rel),
											  opts->dist_attno - 1)->attname)),
				 errdetail("Only then can a conflicting row only be on the shard the new row goes to."),
				 errhint("Name the columns of a unique index of the shards that includes the distribution column.")));
	if (do_update && opts->nshards > 1 &&
		list_member_int(plan->onConflictCols, opts->dist_attno))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO UPDATE cannot change the distribution column of foreign table \"%s\"",
						RelationGetRelationName(rel))));

	/* the target as a base relation, for the shippability test */
	target = makeNode(RelOptInfo);
	target->reloptkind = RELOPT_BASEREL;
	target->relid = resultRelation;
	target->relids = bms_make_singleton(resultRelation);
	fp = palloc0(sizeof(ShardRelInfo));
	fp->opts = *opts;
	fp->server = GetForeignServer(opts->serverid);
	fp->relation_name = RelationGetRelationName(rel);
	target->fdw_private = fp;

	foreach(lc, plan->onConflictSet)
		set_exprs = lappend(set_exprs, lfirst_node(TargetEntry, lc)->expr);
	clause = shardfdw_deparse_on_conflict(root, target, plan->exclRelRTI,
										  do_update, conflict_attrs,
										  plan->onConflictCols, set_exprs,
										  (Expr *) plan->onConflictWhere);
	if (clause == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the ON CONFLICT DO UPDATE of foreign table \"%s\" cannot be run on the shards",
						RelationGetRelationName(rel)),
				 errhint("Use immutable built-in expressions of the existing row and of EXCLUDED; compute values such as now() in the inserted row and use EXCLUDED.col.")));
	*alias_varno = do_update ? resultRelation : 0;
	return clause;
}

/*
 * shardfdw_plan_modify: PlanForeignModify.  The one-row statement and what
 * it sends and fetches, as a List indexed by ShardModifyPrivateIndex.
 */
List *
shardfdw_plan_modify(PlannerInfo *root, ModifyTable *plan,
					 Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	ShardTableOptions opts;
	List	   *target_attrs = NIL;
	Bitmapset  *returning = NULL;
	List	   *retrieved_attrs = NIL;
	char	   *on_conflict = NULL;
	Index		alias_varno = 0;
	bool		moves = false;
	bool		single_row;
	char	   *sql = NULL;
	List	   *result = NIL;
	Plan	   *subplan = outerPlan(plan);

	shardfdw_get_table_options(rte->relid, &opts);
	check_writable(rel, &opts, operation, false);

	if (operation == CMD_INSERT)
		target_attrs = insert_target_attrs(rel);
	else if (operation == CMD_UPDATE &&
			 rel->trigdesc && rel->trigdesc->trig_update_before_row)
	{
		/* a BEFORE ROW trigger may change any column, the key too */
		target_attrs = insert_target_attrs(rel);
		moves = opts.nshards > 1 && opts.dist_attno != InvalidAttrNumber;
	}
	else if (operation == CMD_UPDATE)
	{
		RelOptInfo *baserel = find_base_rel(root, resultRelation);
		Bitmapset  *cols = get_rel_all_updated_cols(root, baserel);
		int			col = -1;

		while ((col = bms_next_member(cols, col)) >= 0)
		{
			AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;

			if (attno <= InvalidAttrNumber)
				elog(ERROR, "shardfdw cannot update system column %d", attno);
			/* a generated column is recomputed by the shard, as on INSERT */
			if (TupleDescAttr(RelationGetDescr(rel), attno - 1)->attgenerated)
				continue;
			target_attrs = lappend_int(target_attrs, attno);
			if (attno == opts.dist_attno && opts.nshards > 1)
				moves = true;
		}
	}

	if (plan->returningLists)
		pull_varattnos((Node *) list_nth(plan->returningLists, subplan_index),
					   resultRelation, &returning);
	/*
	 * With RETURNING, the slot the shard's row is stored in is also what
	 * AFTER ROW triggers see as NEW: fetch the whole row for them.
	 */
	if (returning && rel->trigdesc &&
		((operation == CMD_INSERT && rel->trigdesc->trig_insert_after_row) ||
		 (operation == CMD_UPDATE && rel->trigdesc->trig_update_after_row)))
		returning = bms_add_member(returning,
								   0 - FirstLowInvalidHeapAttributeNumber);

	/* INSERT ... VALUES of one row: a Result with no input */
	single_row = operation == CMD_INSERT && subplan != NULL &&
		IsA(subplan, Result) && outerPlan(subplan) == NULL;

	if (plan->onConflictAction != ONCONFLICT_NONE)
		on_conflict = conflict_clause(root, plan, resultRelation, rel, &opts,
									  &alias_varno);

	switch (operation)
	{
		case CMD_INSERT:
			sql = shardfdw_deparse_insert(rel, target_attrs, 1, on_conflict,
										  alias_varno, returning,
										  &retrieved_attrs);
			break;
		case CMD_UPDATE:
			sql = shardfdw_deparse_update(rel, target_attrs, returning,
										  &retrieved_attrs);
			break;
		case CMD_DELETE:
			sql = shardfdw_deparse_delete(rel, returning, &retrieved_attrs);
			break;
		default:
			elog(ERROR, "unexpected operation %d", (int) operation);
	}
	table_close(rel, NoLock);

	for (int i = 0; i < ShardModifyPrivateCount; i++)
	{
		Node	   *item = NULL;

		switch ((ShardModifyPrivateIndex) i)
		{
			case ShardModifyPrivateSql:
				item = (Node *) makeString(sql);
				break;
			case ShardModifyPrivateTargetAttrs:
				item = (Node *) target_attrs;
				break;
			case ShardModifyPrivateRetrievedAttrs:
				item = (Node *) retrieved_attrs;
				break;
			case ShardModifyPrivateOnConflict:
				item = (Node *) makeString(on_conflict ? on_conflict : "");
				break;
			case ShardModifyPrivateAlias:
				item = (Node *) makeInteger((int) alias_varno);
				break;
			case ShardModifyPrivateMovesRows:
				item = (Node *) makeInteger(moves);
				break;
			case ShardModifyPrivateSingleRow:
				item = (Node *) makeInteger(single_row);
				break;
			case ShardModifyPrivateCount:
				break;
		}
		result = lappend(result, item);
	}
	return result;
}

/* Output functions of the columns attrs of rel (palloc'd). */
static FmgrInfo *
output_functions(Relation rel, List *attrs, int *needs)
{
	FmgrInfo   *out = palloc0(sizeof(FmgrInfo) * Max(list_length(attrs), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, attrs)
	{
		Oid			type = TupleDescAttr(RelationGetDescr(rel),
										 lfirst_int(lc) - 1)->atttypid;
		Oid			typout;
		bool		isvarlena;

		getTypeOutputInfo(type, &typout, &isvarlena);
		fmgr_info(typout, &out[i++]);
		*needs |= shardconn_text_needs(type);
	}
	return out;
}

/*
 * The executor state of a modification of rinfo's table (for COPY and
 * partition routing, fdw_private NIL: an INSERT of every column), in the
 * per-query context.  subplan: the plan whose output holds the row
 * identity (UPDATE, DELETE), or NULL.
 */
static ShardModifyState *
create_state(EState *estate, ResultRelInfo *rinfo, CmdType operation,
			 List *fdw_private, Plan *subplan, bool copy)
{
	ShardModifyState *ms = palloc0(sizeof(ShardModifyState));
	Relation	rel = rinfo->ri_RelationDesc;
	/* a partition rows are routed to has no range table entry of its own */
	Index		rtindex = rinfo->ri_RangeTableIndex > 0 ?
		rinfo->ri_RangeTableIndex :
		rinfo->ri_RootResultRelInfo->ri_RangeTableIndex;
	RangeTblEntry *rte = exec_rt_fetch(rtindex, estate);
	Oid			userid = OidIsValid(rte->checkAsUser) ?
		rte->checkAsUser : GetUserId();

	ms->rel = rel;
	ms->relname = RelationGetRelationName(rel);
	ms->operation = operation;
	shardfdw_get_table_options(RelationGetRelid(rel), &ms->opts);
	ms->server = GetForeignServer(ms->opts.serverid);
	ms->user = GetUserMapping(userid, ms->opts.serverid);

	if (fdw_private != NIL)
	{
		ms->sql = strVal(list_nth(fdw_private, ShardModifyPrivateSql));
		ms->target_attrs = list_nth(fdw_private, ShardModifyPrivateTargetAttrs);
		ms->retrieved_attrs = list_nth(fdw_private,
									   ShardModifyPrivateRetrievedAttrs);
		ms->on_conflict = strVal(list_nth(fdw_private,
										  ShardModifyPrivateOnConflict));
		if (ms->on_conflict[0] == '\0')
			ms->on_conflict = NULL;
		ms->alias_varno = intVal(list_nth(fdw_private,
										  ShardModifyPrivateAlias));
		ms->moves_rows = intVal(list_nth(fdw_private,
										 ShardModifyPrivateMovesRows)) != 0;
		ms->single_row = intVal(list_nth(fdw_private,
										 ShardModifyPrivateSingleRow)) != 0;
	}
	else
	{
		Bitmapset  *returning = NULL;

		/* COPY or partition routing: every column, RETURNING whole rows */
		check_writable(rel, &ms->opts, CMD_INSERT, false);
		ms->target_attrs = insert_target_attrs(rel);
		if (rinfo->ri_returningList != NIL)
			returning = bms_make_singleton(0 - FirstLowInvalidHeapAttributeNumber);
		ms->sql = shardfdw_deparse_insert(rel, ms->target_attrs, 1, NULL, 0,
										  returning, &ms->retrieved_attrs);
	}
	ms->param_out = output_functions(rel, ms->target_attrs, &ms->text_needs);
	ms->attinmeta = TupleDescGetAttInMetadata(RelationGetDescr(rel));

	ms->routed = ms->opts.nshards > 1 &&
		(ms->opts.distribution == SHARD_DIST_HASH ||
		 ms->opts.distribution == SHARD_DIST_MODULO);
	if (ms->routed)
		shard_router_init(&ms->router, &ms->opts, ms->opts.dist_type);

	if (subplan != NULL)
	{
		ms->ctid_attno = ExecFindJunkAttributeInTlist(subplan->targetlist,
													  "ctid");
		if (!AttributeNumberIsValid(ms->ctid_attno))
			elog(ERROR, "shardfdw could not find the junk ctid column");
		if (ms->routed)
		{
			ms->key_attno = ExecFindJunkAttributeInTlist(subplan->targetlist,
														 SHARDFDW_KEY_JUNK);
			if (!AttributeNumberIsValid(ms->key_attno))
				elog(ERROR, "shardfdw could not find the junk key column");
		}
	}
	if (ms->moves_rows)
	{
		List	   *dummy;

		ms->move_delete_sql = shardfdw_deparse_delete(rel, NULL, &dummy);
		ms->move_insert_attrs = insert_target_attrs(rel);
		ms->move_insert_sql = shardfdw_deparse_insert(rel,
													  ms->move_insert_attrs,
													  1, NULL, 0, NULL,
													  &dummy);
		if (ms->retrieved_attrs != NIL)
			ms->move_insert_sql = psprintf("%s RETURNING %s",
										   ms->move_insert_sql,
										   strstr(ms->sql, " RETURNING ") +
										   strlen(" RETURNING "));
		ms->move_param_out = output_functions(rel, ms->move_insert_attrs,
											  &ms->text_needs);
	}

	ms->batch_size = 1;
	ms->batch_sql = palloc0(sizeof(char *) * (ms->opts.batch_size + 1));
	ms->batch_sql[1] = ms->sql;
	ms->conns = palloc0(sizeof(ShardConn *) * ms->opts.nshards);
	ms->written = palloc0(sizeof(double) * ms->opts.nshards);
	if (copy)
	{
		ms->copy = true;
		ms->copy_sql = shardfdw_deparse_copy(rel, ms->target_attrs);
		ms->copying = palloc0(sizeof(bool) * ms->opts.nshards);
		ms->copy_lines = palloc0(sizeof(uint64 *) * ms->opts.nshards);
		ms->copy_nlines = palloc0(sizeof(int) * ms->opts.nshards);
		initStringInfo(&ms->line);
	}
	ms->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "shardfdw modify",
										 ALLOCSET_SMALL_SIZES);
	return ms;
}

/*
 * shardfdw_begin_modify: BeginForeignModify.  Nothing is sent yet.
 */
void
shardfdw_begin_modify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					  List *fdw_private, int subplan_index, int eflags)
{
	CmdType		operation = mtstate->operation;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	rinfo->ri_FdwState =
		create_state(mtstate->ps.state, rinfo, operation, fdw_private,
					 operation == CMD_INSERT ? NULL :
					 outerPlanState(mtstate)->plan,
					 insert_streams(mtstate, rinfo, fdw_private));
	start_row_batches((ShardModifyState *) rinfo->ri_FdwState, mtstate, rinfo,
					  fdw_private);
}

/*
 * row_batch_size: how many row-by-row UPDATEs or DELETEs go to a shard in
 * one pipelined batch: batch_size, or 1 (each row waited for) when a row's
 * own outcome is needed before the next row (RETURNING, row triggers,
 * check options, a row moving to another shard).  The last batches are
 * sent when the statement's executor run ends (shardxact_at_run_end),
 * before its rows are counted.  A queued statement that finds no row
 * (the row was changed before by the same statement: a join gave it
 * twice) is taken off the count, as the row-at-a-time path returns no row
 * for it.
 */
static int
row_batch_size(ModifyTableState *mtstate, ResultRelInfo *rinfo,
			   List *fdw_private)
{
	ShardTableOptions opts;

	if ((mtstate->operation != CMD_UPDATE &&
		 mtstate->operation != CMD_DELETE) ||
		fdw_private == NIL || mtstate->mt_nrels != 1)
		return 1;
	if (list_nth(fdw_private, ShardModifyPrivateRetrievedAttrs) != NIL ||
		intVal(list_nth(fdw_private, ShardModifyPrivateMovesRows)) != 0 ||
		rinfo->ri_TrigDesc != NULL || rinfo->ri_WithCheckOptions != NIL ||
		rinfo->ri_projectReturning != NULL)
		return 1;
	shardfdw_get_table_options(RelationGetRelid(rinfo->ri_RelationDesc),
							   &opts);
	return Max(opts.batch_size, 1);
}

/*
 * start_row_batches: set up ms's batches of row-by-row writes, if any
 * (row_batch_size), and have the end of the executor run send the last
 * ones.
 */
static void
start_row_batches(ShardModifyState *ms, ModifyTableState *mtstate,
				  ResultRelInfo *rinfo, List *fdw_private)
{
	int			size = row_batch_size(mtstate, rinfo, fdw_private);
	int			nshards = ms->opts.nshards;

	if (size <= 1)
		return;
	ms->row_batch = size;
	ms->set_tag = mtstate->canSetTag;
	ms->estate = mtstate->ps.state;
	ms->queued = palloc0(sizeof(ShardStmt *) * nshards);
	ms->nqueued = palloc0(sizeof(int) * nshards);
	ms->queue_cxt = palloc0(sizeof(MemoryContext) * nshards);
	shardxact_at_run_end(mtstate->ps.state, flush_rows_at_end, ms);
}

/*
 * queue_row: queue the statement of one row (ms->sql with values) for
 * shard; the shard's batch is sent when full.
 */
static void
queue_row(ShardModifyState *ms, int shard, int nparams, const char **values)
{
	ShardStmt  *st;
	const char **params;
	MemoryContext old;

	if (ms->queued[shard] == NULL)
	{
		ms->queued[shard] = MemoryContextAlloc(GetMemoryChunkContext(ms),
											   sizeof(ShardStmt) * ms->row_batch);
		ms->queue_cxt[shard] = AllocSetContextCreate(GetMemoryChunkContext(ms),
													 "shardfdw row batch",
													 ALLOCSET_DEFAULT_SIZES);
	}
	old = MemoryContextSwitchTo(ms->queue_cxt[shard]);
	params = palloc(sizeof(char *) * Max(nparams, 1));
	for (int i = 0; i < nparams; i++)
		params[i] = values[i] ? pstrdup(values[i]) : NULL;
	MemoryContextSwitchTo(old);

	st = &ms->queued[shard][ms->nqueued[shard]++];
	st->sql = ms->sql;
	st->nparams = nparams;
	st->params = params;
	st->context_sql = NULL;
	if (ms->nqueued[shard] >= ms->row_batch)
		flush_rows(ms, shard);
}

/*
 * flush_rows: send the queued statements of shard "only" (-1: of every
 * shard, all sent before any answer is read) and wait for them.  A remote
 * error is raised naming its shard and statement.  Rows that a statement
 * did not find are taken off the statement's count.
 */
static void
flush_rows(ShardModifyState *ms, int only)
{
	int			nshards = ms->opts.nshards;

	for (int s = 0; s < nshards; s++)
	{
		ShardConn  *c;

		if ((only >= 0 && s != only) || ms->nqueued[s] == 0)
			continue;
		shardxact_check_write();
		c = shard_conn(ms, s);
		shardxact_mark_written(c);
		shardconn_send_prepared(c, ms->queued[s], ms->nqueued[s]);
	}
	for (int s = 0; s < nshards; s++)
	{
		int64		k;

		if ((only >= 0 && s != only) || ms->nqueued[s] == 0)
			continue;
		PQclear(shardconn_result(ms->conns[s]));
		k = ms->conns[s]->batch_affected;
		ms->written[s] += k;
		if (ms->set_tag && k < ms->nqueued[s])
			ms->estate->es_processed -= ms->nqueued[s] - k;
		ms->nqueued[s] = 0;
		MemoryContextReset(ms->queue_cxt[s]);
	}
}

/* flush_rows_at_end: the executor run is over (shardxact_at_run_end) */
static void
flush_rows_at_end(void *arg)
{
	flush_rows((ShardModifyState *) arg, -1);
}

/*
 * insert_streams: does this INSERT stream its rows with COPY?  Yes for an
 * INSERT ... SELECT (its rows come from a plan, not from a VALUES list or
 * a single row) that can be batched at all (no RETURNING, row trigger or
 * check option: shardfdw_batch_size) and has no ON CONFLICT, which COPY
 * does not have.  The shards then parse one COPY per shard instead of one
 * multi-row INSERT per batch.
 */
static bool
insert_streams(ModifyTableState *mtstate, ResultRelInfo *rinfo,
			   List *fdw_private)
{
	Plan	   *source;

	if (mtstate->operation != CMD_INSERT || fdw_private == NIL ||
		mtstate->mt_nrels != 1)
		return false;
	if (strVal(list_nth(fdw_private, ShardModifyPrivateOnConflict))[0] != '\0' ||
		list_nth(fdw_private, ShardModifyPrivateRetrievedAttrs) != NIL)
		return false;
	if (shardfdw_batch_size(rinfo) <= 1)
		return false;
	source = outerPlanState(mtstate)->plan;
	if (IsA(source, ValuesScan) ||
		(IsA(source, Result) && outerPlan(source) == NULL))
		return false;
	return true;
}

/*
 * shardfdw_begin_insert: BeginForeignInsert (COPY FROM, whose
 * ModifyTableState has no plan, and rows routed to a partition that is a
 * shardfdw table).  COPY streams with the COPY protocol.
 */
void
shardfdw_begin_insert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	ShardModifyState *ms = create_state(mtstate->ps.state, rinfo, CMD_INSERT,
										NIL, NULL, mtstate->ps.plan == NULL);

	ms->copy_from = ms->copy;
	rinfo->ri_FdwState = ms;
}

/* The connection to a shard, made when first needed. */
static ShardConn *
shard_conn(ShardModifyState *ms, int shard)
{
	if (ms->conns[shard] == NULL)
	{
		shardxact_lock_for_write(ms->server, bms_make_singleton(shard));
		ms->conns[shard] = shardconn_get(ms->server, ms->user, shard);
	}
	return ms->conns[shard];
}

/* The shard of the row whose distribution key is column attno of slot. */
static int
row_shard(ShardModifyState *ms, TupleTableSlot *slot, AttrNumber attno)
{
	bool		isnull;
	Datum		key;

	if (!ms->routed)
		return 0;
	key = slot_getattr(slot, attno, &isnull);
	return shard_route(&ms->router, key, isnull);
}

/*
 * The text of columns attrs of slot into values[0 ..] (in ms->temp_cxt).
 * The caller has set the shards' text conventions
 * (shardconn_set_transmission_modes), once for all the rows it converts:
 * setting them costs more than converting a short row.
 */
static void
slot_text(ShardModifyState *ms, TupleTableSlot *slot, List *attrs,
		  FmgrInfo *out, const char **values)
{
	MemoryContext old = MemoryContextSwitchTo(ms->temp_cxt);
	ListCell   *lc;
	int			i = 0;

	slot_getallattrs(slot);
	foreach(lc, attrs)
	{
		int			attno = lfirst_int(lc);

		values[i] = slot->tts_isnull[attno - 1] ? NULL :
			OutputFunctionCall(&out[i], slot->tts_values[attno - 1]);
		i++;
	}
	MemoryContextSwitchTo(old);
}

/*
 * slot_params: slot_text of one row, with the shards' text conventions
 * set around it.
 */
static void
slot_params(ShardModifyState *ms, TupleTableSlot *slot, List *attrs,
			FmgrInfo *out, const char **values)
{
	int			nestlevel = text_modes(ms);

	slot_text(ms, slot, attrs, out, values);
	shardconn_reset_transmission_modes(nestlevel);
}

/*
 * text_modes: set those of the shards' text conventions that the columns
 * ms converts depend on; the GUC nest level to reset, or -1.
 */
static int
text_modes(ShardModifyState *ms)
{
	return shardconn_set_transmission_modes_for(ms->text_needs);
}

/* The row count of a write's result. */
static int
affected_rows(PGresult *res)
{
	return atoi(PQcmdTuples(res));
}

/*
 * Store the first RETURNING row of res in slot (the columns fetched; the
 * others NULL), or leave slot alone without RETURNING.
 */
static void
store_returning(ShardModifyState *ms, PGresult *res, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = RelationGetDescr(ms->rel);
	ListCell   *lc;
	int			j = 0;

	if (ms->retrieved_attrs == NIL || PQntuples(res) == 0)
		return;
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);
	foreach(lc, ms->retrieved_attrs)
	{
		int			attno = lfirst_int(lc);
		char	   *v = PQgetisnull(res, 0, j) ? NULL : PQgetvalue(res, 0, j);

		j++;
		if (attno <= 0)
			continue;			/* (ctid: the slot's own) */
		slot->tts_values[attno - 1] =
			InputFunctionCall(&ms->attinmeta->attinfuncs[attno - 1], v,
							  ms->attinmeta->attioparams[attno - 1],
							  ms->attinmeta->atttypmods[attno - 1]);
		slot->tts_isnull[attno - 1] = (v == NULL);
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * Run sql with values on shard, as a write of its remote transaction, and
 * return the result (the caller PQclears it).
 */
static PGresult *
run_one(ShardModifyState *ms, int shard, const char *sql, int nparams,
		const char **values)
{
	ShardConn  *c;

	shardxact_check_write();
	c = shard_conn(ms, shard);
	shardxact_mark_written(c);
	return shardconn_exec(c, sql, nparams, values);
}

/*
 * Write one row on shard with sql and values: the rows it changed are
 * counted for EXPLAIN ANALYZE and, with RETURNING, stored in slot.
 * Returns that count.
 */
static int
write_row(ShardModifyState *ms, int shard, const char *sql, int nparams,
		  const char **values, TupleTableSlot *slot)
{
	PGresult   *res = run_one(ms, shard, sql, nparams, values);
	int			k = affected_rows(res);

	ms->written[shard] += k;
	store_returning(ms, res, slot);
	PQclear(res);
	return k;
}

/*
 * shardfdw_exec_insert: ExecForeignInsert.  One row: to its shard, or to
 * every shard of a replicated table (in parallel; the first shard's
 * answer stands for all).  NULL when ON CONFLICT DO NOTHING skipped it.
 */
TupleTableSlot *
shardfdw_exec_insert(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	int			numSlots = 1;
	TupleTableSlot **r;

	r = shardfdw_exec_batch_insert(estate, rinfo, &slot, &planSlot,
								   &numSlots);
	return numSlots > 0 ? r[0] : NULL;
}

/*
 * shardfdw_exec_batch_insert: ExecForeignBatchInsert.  The rows are
 * grouped by shard, each shard gets one multi-row INSERT, all shards at
 * once; *numSlots becomes the number of rows inserted (for a replicated
 * table, as counted by one shard).
 */
TupleTableSlot **
shardfdw_exec_batch_insert(EState *estate, ResultRelInfo *rinfo,
						   TupleTableSlot **slots, TupleTableSlot **planSlots,
						   int *numSlots)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;
	int			n = *numSlots;
	int			nattrs = list_length(ms->target_attrs);
	int			nshards = ms->opts.nshards;
	bool		every = ms->opts.distribution == SHARD_DIST_REPLICATED &&
		nshards > 1;
	int		   *shard_of;
	int		   *count;
	const char **values;
	const char ***params;
	int		   *filled;
	int			inserted = 0;
	int			first = -1;
	bool		autocommit;
	int			nestlevel;
	MemoryContext old;

	if (ms->copy)
	{
		copy_rows(ms, slots, n);
		return slots;
	}
	MemoryContextReset(ms->temp_cxt);
	old = MemoryContextSwitchTo(ms->temp_cxt);
	shard_of = palloc(sizeof(int) * Max(n, 1));
	count = palloc0(sizeof(int) * nshards);
	params = palloc0(sizeof(char **) * nshards);
	filled = palloc0(sizeof(int) * nshards);

	/* route every row; convert its values once */
	values = palloc(sizeof(char *) * Max(n * nattrs, 1));
	nestlevel = text_modes(ms);
	for (int i = 0; i < n; i++)
	{
		slot_text(ms, slots[i], ms->target_attrs, ms->param_out,
				  &values[i * nattrs]);
		shard_of[i] = every ? -1 :
			row_shard(ms, slots[i], ms->opts.dist_attno);
		if (!every)
			count[shard_of[i]]++;
	}
	shardconn_reset_transmission_modes(nestlevel);
	for (int s = 0; s < nshards; s++)
	{
		if (every)
			count[s] = n;
		if (count[s] > 0)
			params[s] = palloc(sizeof(char *) * Max(count[s] * nattrs, 1));
	}
	for (int i = 0; i < n; i++)
		for (int s = 0; s < nshards; s++)
		{
			if (!every && shard_of[i] != s)
				continue;
			memcpy(&params[s][filled[s] * nattrs], &values[i * nattrs],
				   sizeof(char *) * nattrs);
			filled[s]++;
		}

	/*
	 * One statement per shard, all sent before any answer is read.  The
	 * INSERT of one VALUES row to one shard, as all of the local
	 * transaction (no RETURNING, no triggers), runs in the shard's implicit
	 * transaction: one round trip.
	 */
	shardxact_check_write();
	autocommit = ms->single_row && n == 1 && !every &&
		rinfo->ri_projectReturning == NULL && rinfo->ri_TrigDesc == NULL &&
		rinfo->ri_WithCheckOptions == NIL && shardxact_may_autocommit();
	for (int s = 0; s < nshards; s++)
	{
		ShardConn  *c;

		if (count[s] == 0)
			continue;
		if (ms->batch_sql[count[s]] == NULL)
		{
			List	   *dummy;

			ms->batch_sql[count[s]] =
				MemoryContextStrdup(GetMemoryChunkContext(ms),
									shardfdw_deparse_insert(ms->rel,
															ms->target_attrs,
															count[s],
															ms->on_conflict,
															ms->alias_varno,
															NULL, &dummy));
		}
		c = shard_conn(ms, s);
		if (autocommit)
		{
			shardxact_note_autocommit();
			shardconn_send_autocommit(c, ms->batch_sql[count[s]],
									  count[s] * nattrs, params[s]);
		}
		else
		{
			ShardStmt	stmt;

			shardxact_mark_written(c);
			stmt.sql = ms->batch_sql[count[s]];
			stmt.nparams = count[s] * nattrs;
			stmt.params = (const char *const *) params[s];
			stmt.context_sql = NULL;

			/*
			 * One row: prepared on the shard (keyed INSERTs run again and
			 * again).  Several: a text per row count, which would fill
			 * the connection's prepared statements; sent unnamed.
			 */
			if (count[s] == 1)
				shardconn_send_prepared(c, &stmt, 1);
			else
				shardconn_send_stmts(c, &stmt, 1, NULL, NULL);
		}
		if (first < 0)
			first = s;
	}
	for (int s = 0; s < nshards; s++)
	{
		PGresult   *res;
		int			k;

		if (count[s] == 0)
			continue;
		res = shardconn_result(ms->conns[s]);
		k = affected_rows(res);
		ms->written[s] += k;
		if (!every || s == first)
		{
			inserted += k;
			if (n == 1)
				store_returning(ms, res, slots[0]);
		}
		PQclear(res);
	}
	MemoryContextSwitchTo(old);
	*numSlots = inserted;
	return slots;
}

/*
 * shardfdw_batch_size: GetForeignModifyBatchSize.  batch_size rows per
 * shard statement, but one at a time when each row's outcome matters:
 * RETURNING, row triggers, WITH CHECK OPTIONs.
 */
int
shardfdw_batch_size(ResultRelInfo *rinfo)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;
	ShardTableOptions opts;
	int			size;

	if (ms)
		size = ms->opts.batch_size;
	else
	{
		shardfdw_get_table_options(RelationGetRelid(rinfo->ri_RelationDesc),
								   &opts);
		size = opts.batch_size;
	}
	/* a statement has at most 65535 parameters */
	size = Min(size, 65535 / Max(RelationGetDescr(rinfo->ri_RelationDesc)->natts, 1));
	if (rinfo->ri_projectReturning != NULL ||
		rinfo->ri_WithCheckOptions != NIL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	return size;
}

/* The row's ctid (junk of planSlot) as text. */
static char *
row_ctid(ShardModifyState *ms, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		d = ExecGetJunkAttribute(planSlot, ms->ctid_attno, &isnull);

	if (isnull)
		elog(ERROR, "shardfdw row identity ctid is NULL");
	return DatumGetCString(DirectFunctionCall1(tidout, d));
}

/*
 * shardfdw_exec_update: ExecForeignUpdate.  The row's shard comes from its
 * old key; when the new key belongs to another shard the row moves: it is
 * deleted there by ctid and the whole new row inserted on the new shard,
 * both in the transaction.  NULL when the row was gone (0 rows).
 */
TupleTableSlot *
shardfdw_exec_update(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;
	int			nattrs = list_length(ms->target_attrs);
	const char **values;
	int			shard;
	int			to;
	PGresult   *res;
	int			k;
	MemoryContext old;

	MemoryContextReset(ms->temp_cxt);
	old = MemoryContextSwitchTo(ms->temp_cxt);
	shard = row_shard(ms, planSlot, ms->key_attno);
	to = ms->moves_rows ? row_shard(ms, slot, ms->opts.dist_attno) : shard;
	if (to != shard)
	{
		int			nall = list_length(ms->move_insert_attrs);
		const char *ctid = row_ctid(ms, planSlot);

		res = run_one(ms, shard, ms->move_delete_sql, 1, &ctid);
		k = affected_rows(res);
		PQclear(res);
		if (k == 0)
		{
			MemoryContextSwitchTo(old);
			return NULL;		/* gone meanwhile */
		}
		ms->written[shard] += k;
		values = palloc(sizeof(char *) * Max(nall, 1));
		slot_params(ms, slot, ms->move_insert_attrs, ms->move_param_out,
					values);
		(void) write_row(ms, to, ms->move_insert_sql, nall, values, slot);
		MemoryContextSwitchTo(old);
		return slot;
	}
	values = palloc(sizeof(char *) * (nattrs + 1));
	values[0] = row_ctid(ms, planSlot);
	slot_params(ms, slot, ms->target_attrs, ms->param_out, &values[1]);
	if (ms->row_batch > 0)
	{
		queue_row(ms, shard, nattrs + 1, values);
		MemoryContextSwitchTo(old);
		return slot;
	}
	k = write_row(ms, shard, ms->sql, nattrs + 1, values, slot);
	MemoryContextSwitchTo(old);
	return k > 0 ? slot : NULL;
}

/*
 * shardfdw_exec_delete: ExecForeignDelete.  On the shard of the row's key,
 * by ctid.  NULL when the row was gone.
 */
TupleTableSlot *
shardfdw_exec_delete(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;
	const char *ctid;
	int			shard;
	int			k;
	MemoryContext old;

	MemoryContextReset(ms->temp_cxt);
	old = MemoryContextSwitchTo(ms->temp_cxt);
	shard = row_shard(ms, planSlot, ms->key_attno);
	ctid = row_ctid(ms, planSlot);
	if (ms->row_batch > 0)
	{
		queue_row(ms, shard, 1, &ctid);
		MemoryContextSwitchTo(old);
		return slot;
	}
	k = write_row(ms, shard, ms->sql, 1, &ctid, slot);
	MemoryContextSwitchTo(old);
	return k > 0 ? slot : NULL;
}

/*
 * shardfdw_end_modify: EndForeignModify / EndForeignInsert.  Connections
 * and remote transactions outlive the statement; nothing to release.
 */
void
shardfdw_end_modify(EState *estate, ResultRelInfo *rinfo)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;

	if (ms != NULL && ms->copy)
		finish_copies(ms);
	/* (rows left only if the scan below did not run to its end) */
	if (ms != NULL && ms->row_batch > 0)
		flush_rows(ms, -1);
}

/*
 * shardfdw_end_insert: EndForeignInsert.  A COPY ends on every shard it
 * streamed to: all ends sent first, then the answers read (an error, e.g.
 * a unique violation, names its shard).
 */
void
shardfdw_end_insert(EState *estate, ResultRelInfo *rinfo)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;

	if (ms != NULL && ms->copy)
		finish_copies(ms);
}

/*
 * finish_copies: end the COPY of ms on every shard it is open on: all ends
 * sent first, then the answers read (an error, e.g. a unique violation,
 * names its shard).
 */
static void
finish_copies(ShardModifyState *ms)
{
	for (int s = 0; s < ms->opts.nshards; s++)
		if (ms->copying[s])
			shardconn_copy_end(ms->conns[s]);
	for (int s = 0; s < ms->opts.nshards; s++)
		if (ms->copying[s])
			copy_result(ms, s);
}

/*
 * copy_result: read the answer to the end of shard s's COPY (sent), its
 * error told in terms of the statement's input.
 */
static void
copy_result(ShardModifyState *ms, int s)
{
	int			n = ms->copy_nlines[s];

	ms->copying[s] = false;
	ms->copy_nlines[s] = 0;
	ms->written[s] +=
		shardconn_copy_result_mapped(ms->conns[s], ms->copy_lines[s], n,
									 ms->copy_from ? NULL :
									 "the rows inserted");
}

/*
 * The line of the COPY FROM input being processed (PostgreSQL 15 hands a
 * foreign table its rows one at a time, as it reads them), or 0.
 */
static uint64
copy_input_line(void)
{
	for (ErrorContextCallback *e = error_context_stack; e; e = e->previous)
		if (e->callback == CopyFromErrorCallback)
			return ((CopyFromState) e->arg)->cur_lineno;
	return 0;
}

/*
 * finish_copy_on: the ShardConnAbsorb that ends ms's COPY on c when
 * another statement needs the connection (e.g. the scan feeding the
 * INSERT reads the same shard); the next row for that shard opens a new
 * COPY.
 */
static void
finish_copy_on(ShardConn *c, void *owner)
{
	ShardModifyState *ms = (ShardModifyState *) owner;

	for (int s = 0; s < ms->opts.nshards; s++)
		if (ms->copying[s] && ms->conns[s] == c)
		{
			shardconn_copy_end(c);
			copy_result(ms, s);
		}
}

/* Append s to buf escaped for COPY's text format. */
static void
append_copy_text(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			default:
				appendStringInfoChar(buf, *s);
				break;
		}
	}
}

/*
 * Stream rows to their shards' COPY (every shard for a replicated table).
 * The COPYs this batch needs that are not open yet are opened first, all
 * at once.  Memory is bounded: the line buffer is reused, libpq sends as
 * its buffer fills.
 */
static void
copy_rows(ShardModifyState *ms, TupleTableSlot **slots, int n)
{
	int			nattrs = list_length(ms->target_attrs);
	int			nshards = ms->opts.nshards;
	const char **values = palloc(sizeof(char *) * Max(nattrs, 1));
	int		   *shard_of = palloc(sizeof(int) * Max(n, 1));
	ShardConn **opening = palloc0(sizeof(ShardConn *) * nshards);
	bool		every = ms->opts.distribution == SHARD_DIST_REPLICATED &&
		nshards > 1;
	bool		any = false;
	int			nestlevel;

	shardxact_check_write();

	/* route the rows; open the COPYs they need */
	for (int i = 0; i < n; i++)
	{
		shard_of[i] = every ? 0 :
			row_shard(ms, slots[i], ms->opts.dist_attno);
		for (int s = shard_of[i]; s < (every ? nshards : shard_of[i] + 1); s++)
			if (!ms->copying[s] && opening[s] == NULL)
			{
				opening[s] = shard_conn(ms, s);
				shardxact_mark_written(opening[s]);
				any = true;
			}
	}
	if (any)
	{
		shardconn_copy_begin_many(opening, nshards, ms->copy_sql, ms,
								  finish_copy_on);
		for (int s = 0; s < nshards; s++)
			if (opening[s] != NULL)
				ms->copying[s] = true;
	}

	nestlevel = text_modes(ms);
	for (int i = 0; i < n; i++)
	{
		uint64		lineno;

		ms->rows_in++;
		lineno = ms->copy_from ? copy_input_line() : 0;
		if (lineno == 0)
			lineno = ms->rows_in;
		MemoryContextReset(ms->temp_cxt);
		slot_text(ms, slots[i], ms->target_attrs, ms->param_out, values);
		resetStringInfo(&ms->line);
		for (int c = 0; c < nattrs; c++)
		{
			if (c > 0)
				appendStringInfoChar(&ms->line, '\t');
			if (values[c] == NULL)
				appendStringInfoString(&ms->line, "\\N");
			else
				append_copy_text(&ms->line, values[c]);
		}
		appendStringInfoChar(&ms->line, '\n');
		for (int s = shard_of[i]; s < (every ? nshards : shard_of[i] + 1); s++)
		{
			/* (a statement on its connection may have ended it meanwhile) */
			if (!ms->copying[s])
			{
				shardconn_copy_begin(ms->conns[s], ms->copy_sql, ms,
									 finish_copy_on);
				ms->copying[s] = true;
			}
			shardconn_copy_put(ms->conns[s], ms->line.data, ms->line.len);
			if (ms->copy_lines[s] == NULL)
				ms->copy_lines[s] =
					MemoryContextAlloc(GetMemoryChunkContext(ms),
									   sizeof(uint64) * COPY_CHUNK_ROWS);
			ms->copy_lines[s][ms->copy_nlines[s]++] = lineno;
			/* a full chunk: its COPY ends, the next row opens another */
			if (ms->copy_nlines[s] >= COPY_CHUNK_ROWS)
			{
				shardconn_copy_end(ms->conns[s]);
				copy_result(ms, s);
			}
		}
	}
	shardconn_reset_transmission_modes(nestlevel);
	pfree(values);
	pfree(shard_of);
	pfree(opening);
}

/*
 * shardfdw_explain_modify: ExplainForeignModify.  Where rows go, the
 * remote statement and batch size (VERBOSE), rows written per shard
 * (ANALYZE).
 */
void
shardfdw_explain_modify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index,
						ExplainState *es)
{
	ShardModifyState *ms = (ShardModifyState *) rinfo->ri_FdwState;
	ShardTableOptions opts;
	char	   *where;

	shardfdw_get_table_options(RelationGetRelid(rinfo->ri_RelationDesc),
							   &opts);
	if (opts.nshards == 1)
		where = pstrdup("1 of 1");
	else if (opts.distribution == SHARD_DIST_REPLICATED)
		where = psprintf("%d of %d (every copy of a replicated table)",
						 opts.nshards, opts.nshards);
	else
		where = psprintf("the owner of each row's %s, of %d",
						 quote_identifier(shardfdw_column_name(opts.relid,
															   opts.dist_attno)),
						 opts.nshards);
	ExplainPropertyText("Shards", where, es);
	if (es->verbose && fdw_private != NIL &&
		(ms ? ms->copy : insert_streams(mtstate, rinfo, fdw_private)))
		ExplainPropertyText("Remote SQL",
							shardfdw_deparse_copy(rinfo->ri_RelationDesc,
												  list_nth(fdw_private,
														   ShardModifyPrivateTargetAttrs)),
							es);
	else if (es->verbose && fdw_private != NIL)
	{
		ExplainPropertyText("Remote SQL",
							strVal(list_nth(fdw_private,
											ShardModifyPrivateSql)),
							es);
		if (mtstate->operation == CMD_INSERT)
			ExplainPropertyInteger("Batch Size", NULL,
								   rinfo->ri_BatchSize > 0 ?
								   rinfo->ri_BatchSize :
								   shardfdw_batch_size(rinfo), es);
		else
			ExplainPropertyInteger("Batch Size", NULL,
								   ms ? Max(ms->row_batch, 1) :
								   row_batch_size(mtstate, rinfo, fdw_private),
								   es);
	}
	if (es->analyze && ms)
	{
		StringInfoData buf;

		/* (EXPLAIN prints before EndForeignModify: end the COPYs now) */
		if (ms->copy)
			finish_copies(ms);

		initStringInfo(&buf);
		for (int s = 0; s < ms->opts.nshards; s++)
			if (ms->written[s] > 0)
				appendStringInfo(&buf, "%sp%d=%.0f", buf.len ? " " : "", s,
								 ms->written[s]);
		ExplainPropertyText("Rows Written", buf.len ? buf.data : "none", es);
	}
}

/*
 * direct_update_targets: the SET list of UPDATE on resultRelation
 * (target_attrs, target_exprs) when every expression can run on the
 * shards over rel (the target table, or the join it is part of) and none
 * changes the distribution key of a multi-shard table; false otherwise.
 */
static bool
direct_update_targets(PlannerInfo *root, Index resultRelation,
					  RelOptInfo *rel, ShardRelInfo *target_fp,
					  List **target_attrs, List **target_exprs)
{
	List	   *tlist;
	ListCell   *lc;
	ListCell   *lc2;

	*target_exprs = NIL;
	get_translated_update_targetlist(root, resultRelation, &tlist,
									 target_attrs);
	forboth(lc, tlist, lc2, *target_attrs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		AttrNumber	attno = lfirst_int(lc2);

		if (attno <= InvalidAttrNumber ||
			(attno == target_fp->opts.dist_attno &&
			 target_fp->opts.nshards > 1) ||
			!shardfdw_is_foreign_expr(root, rel, tle->expr))
			return false;
		*target_exprs = lappend(*target_exprs, tle->expr);
	}
	return true;
}

/*
 * plan_direct_modify_join: PlanDirectModify of UPDATE ... FROM / DELETE ...
 * USING whose join with one other table is pushed down (co-located, or
 * the other table replicated): the whole statement runs on the join's
 * shards.  Only an inner join with no local condition and no RETURNING;
 * a replicated target only joined with another replicated table (each
 * copy must change the same way, so it must see all of the other
 * table's rows).
 */
static bool
plan_direct_modify_join(PlannerInfo *root, ModifyTable *plan,
						Index resultRelation, int subplan_index,
						ForeignScan *fscan)
{
	RelOptInfo *joinrel = find_join_rel(root, fscan->fs_relids);
	RelOptInfo *targetrel;
	RelOptInfo *other;
	ShardRelInfo *jfp;
	ShardRelInfo *tfp;
	ShardRelInfo *ofp;
	ShardJoinInfo *j;
	List	   *target_attrs = NIL;
	List	   *target_exprs = NIL;
	List	   *params_list = NIL;
	ShardScanPlan sp;

	if (joinrel == NULL || joinrel->fdw_private == NULL ||
		plan->returningLists != NIL)
		return false;
	jfp = (ShardRelInfo *) joinrel->fdw_private;
	j = jfp->join;
	if (j == NULL || j->jointype != JOIN_INNER || j->local_exprs != NIL ||
		jfp->local_conds != NIL)
		return false;
	if (j->outerrel->relid == resultRelation)
		targetrel = j->outerrel, other = j->innerrel;
	else if (j->innerrel->relid == resultRelation)
		targetrel = j->innerrel, other = j->outerrel;
	else
		return false;			/* (the target is inside a nested join) */
	if (!IS_SIMPLE_REL(other) || other->fdw_private == NULL)
		return false;
	tfp = (ShardRelInfo *) targetrel->fdw_private;
	ofp = (ShardRelInfo *) other->fdw_private;
	if (tfp == NULL || !tfp->opts.updatable || tfp->local_conds != NIL ||
		ofp->local_conds != NIL)
		return false;
	if (tfp->opts.distribution == SHARD_DIST_REPLICATED &&
		tfp->opts.nshards > 1 &&
		ofp->opts.distribution != SHARD_DIST_REPLICATED)
		return false;
	if (plan->operation == CMD_UPDATE &&
		!direct_update_targets(root, resultRelation, joinrel, tfp,
							   &target_attrs, &target_exprs))
		return false;

	/* the join's shards; every copy when both tables are replicated */
	memset(&sp, 0, sizeof(sp));
	shardfdw_targets_from_join(jfp, &sp);
	if (sp.mode == SHARD_PRUNE_ANY_ONE)
	{
		sp.mode = SHARD_PRUNE_NONE;
		sp.targets = NIL;
		for (int s = 0; s < tfp->opts.nshards; s++)
			sp.targets = lappend_int(sp.targets, s);
	}
	shardfdw_check_ctid_conditions(targetrel, tfp, &sp);

	sp.sql = shardfdw_deparse_direct_modify_join(root, joinrel, targetrel,
												 plan->operation,
												 target_attrs, target_exprs,
												 &params_list);
	sp.retrieved_attrs = NIL;
	sp.nparams = list_length(params_list);
	sp.limit_count = -1;
	sp.set_processed = plan->canSetTag;
	sp.relations = psprintf("%s, %s", tfp->relation_name, ofp->relation_name);

	fscan->operation = plan->operation;
	fscan->resultRelation = resultRelation;
	fscan->fdw_exprs = list_concat(params_list, sp.prune_exprs);
	fscan->fdw_private = shardfdw_make_fdw_private(tfp, &sp);
	return true;
}

/*
 * shardfdw_plan_direct_modify: PlanDirectModify.  Send the whole UPDATE or
 * DELETE to the shards when the scan below is a plain scan of the target
 * table with no local condition and every SET expression is shippable and
 * leaves the distribution key alone (a changed key moves rows, which only
 * the row-by-row path does).  The ForeignScan then carries the statement
 * in the scan's fdw_private layout (ShardScanPrivateIndex), its target
 * shards pruned like a read's (every shard of a replicated table), and
 * scan.c runs it.
 */
bool
shardfdw_plan_direct_modify(PlannerInfo *root, ModifyTable *plan,
							Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	Plan	   *subplan = outerPlan(plan);
	ForeignScan *fscan;
	RelOptInfo *baserel;
	ShardRelInfo *fpinfo;
	List	   *target_attrs = NIL;
	List	   *target_exprs = NIL;
	Bitmapset  *returning = NULL;
	List	   *retrieved_attrs = NIL;
	List	   *params_list = NIL;
	ShardScanPlan sp;

	if (operation != CMD_UPDATE && operation != CMD_DELETE)
		return false;
	if (subplan == NULL || !IsA(subplan, ForeignScan))
		return false;
	fscan = (ForeignScan *) subplan;
	if (fscan->scan.scanrelid == 0 && fscan->scan.plan.qual == NIL &&
		bms_is_member(resultRelation, fscan->fs_relids))
		return plan_direct_modify_join(root, plan, resultRelation,
									   subplan_index, fscan);
	if (fscan->scan.scanrelid != resultRelation || fscan->scan.plan.qual != NIL)
		return false;
	baserel = find_base_rel(root, resultRelation);
	fpinfo = (ShardRelInfo *) baserel->fdw_private;
	if (fpinfo == NULL || fpinfo->local_conds != NIL || !fpinfo->opts.updatable)
		return false;

	if (operation == CMD_UPDATE &&
		!direct_update_targets(root, resultRelation, baserel, fpinfo,
							   &target_attrs, &target_exprs))
		return false;
	if (plan->returningLists)
		pull_varattnos((Node *) list_nth(plan->returningLists, subplan_index),
					   resultRelation, &returning);

	/* the target shards: a read's, but every copy of a replicated table */
	memset(&sp, 0, sizeof(sp));
	shardfdw_plan_targets(root, baserel, fpinfo, baserel->baserestrictinfo,
						  &sp);
	if (sp.mode == SHARD_PRUNE_ANY_ONE)
	{
		sp.mode = SHARD_PRUNE_NONE;
		for (int s = 0; s < fpinfo->opts.nshards; s++)
			sp.targets = lappend_int(sp.targets, s);
	}
	shardfdw_check_ctid_conditions(baserel, fpinfo, &sp);

	sp.sql = shardfdw_deparse_direct_modify(root, baserel, operation,
											target_attrs, target_exprs,
											fpinfo->remote_conds, returning,
											&retrieved_attrs, &params_list);
	sp.retrieved_attrs = retrieved_attrs;
	sp.nparams = list_length(params_list);
	sp.limit_count = -1;
	sp.set_processed = plan->canSetTag;

	fscan->operation = operation;
	fscan->resultRelation = resultRelation;
	fscan->fdw_exprs = list_concat(params_list, sp.prune_exprs);
	fscan->fdw_private = shardfdw_make_fdw_private(fpinfo, &sp);
	return true;
}

/*
 * shardfdw_exec_truncate: ExecForeignTruncate, for the tables of one
 * server: one TRUNCATE of all of them on every shard, in parallel, inside
 * the remote transactions.
 */
void
shardfdw_exec_truncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	Relation	first = linitial(rels);
	ShardTableOptions opts;
	ForeignServer *server;
	UserMapping *user;
	ShardConn **conns;
	Bitmapset  *all = NULL;
	char	   *sql;

	shardfdw_get_table_options(RelationGetRelid(first), &opts);
	server = GetForeignServer(opts.serverid);
	user = GetUserMapping(GetUserId(), opts.serverid);
	shardxact_check_write();
	sql = shardfdw_deparse_truncate(rels, behavior, restart_seqs);
	for (int s = 0; s < opts.nshards; s++)
		all = bms_add_member(all, s);
	conns = palloc0(sizeof(ShardConn *) * opts.nshards);
	shardxact_lock_for_write(server, all);
	shardconn_get_many(server, user, all, conns);
	for (int s = 0; s < opts.nshards; s++)
	{
		shardxact_mark_written(conns[s]);
		shardconn_send(conns[s], sql, 0, NULL, NULL, NULL);
	}
	for (int s = 0; s < opts.nshards; s++)
		PQclear(shardconn_result(conns[s]));
}
