/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executor of shardfdw foreign scans: parallel cursors on shards.
 *
 * A scan reads its target shards at once.  On the first call each target
 * shard gets one batch: (remote transaction start), DECLARE c CURSOR FOR
 * <remote SQL>, FETCH fetch_size -- one round trip.  Rows are returned from
 * whichever shard has a batch ready; as soon as a shard's batch starts
 * being returned, its next FETCH is sent, so the network and the shards
 * work while the coordinator consumes rows.
 *
 * Memory.  Each shard keeps at most two batches: the one being returned
 * and the one that arrived meanwhile, each in its own memory context under
 * the scan's context (a child of the executor state's per-query context),
 * reset when replaced.  So memory is bounded by 2 x shards x the batch size:
 * fetch_size rows at first; a long scan's FETCHes then ask for twice as
 * many rows each time, as long as a batch stays under SCAN_BATCH_BYTES
 * (from the width of the rows seen so far), since bigger batches cost the
 * shard and the network fewer round trips per row.  The memory of a scan
 * is then bounded by 2 x shards x SCAN_BATCH_BYTES (or fetch_size rows,
 * if that is more) whatever the table size.  A returned tuple lives until
 * the next call, as the executor requires.
 *
 * Cursors and batches.  A cursor lives in its shard's remote transaction;
 * when a scan ends or restarts, its CLOSE is queued in front of that
 * connection's next batch (or dropped at commit), costing no round trip.
 * A FETCH still in flight at the end is orphaned: the next user of the
 * connection reads and checks it.  If another scan needs a connection
 * while our batch is in flight, it completes the batch and hands it to us
 * through absorb_batch().
 *
 * One statement.  A SELECT outside a transaction block whose only remote
 * access is this scan of one shard (a lookup by key) skips the cursor and
 * the remote transaction: its query is sent as it is, prepared on the
 * shard once per connection, and runs alone in the shard's implicit
 * transaction (one round trip, no START TRANSACTION, DECLARE, FETCH or
 * COMMIT for the shard to run).  Its rows are streamed (libpq single-row
 * mode) and converted fetch_size at a time, so memory stays bounded as
 * with a cursor; a stream the scan stops early is cancelled.  "Only remote
 * access" is checked on the plan (scan_is_alone): the scan must sit under
 * nothing but nodes that never rescan it, with no subplans and no row
 * locks, in a portal that cannot rewind; so no other scan of the statement
 * needs the same snapshot or the same connection meanwhile.  No function
 * the statement calls may run a query of its own (only built-in parallel-
 * safe ones are known not to), and the executor run must want every row
 * (a client fetching a portal in chunks could run another statement in
 * between): another user of the connection would have to read the rest
 * of the stream into memory first (absorb_stream), unbounded.
 *
 * In a remote transaction (a transaction block, or a statement that is
 * not all of its transaction) such a scan is streamed the same way, the
 * statement prepared and sent right behind the transaction's START (one
 * round trip), when it will be read to its end: no Limit above it, and an
 * executor run that wants every row.  Otherwise the cursor stays: a
 * stream stopped early in a remote transaction must be read to its end
 * (a cancel would end the transaction), and an error in rows nobody needed
 * would end the transaction too (see start_scan).
 *
 * Target shards.  Fixed at plan time, or computed at executor start and at
 * every rescan from prune key expressions (Params of prepared statements,
 * nested-loop parameters), or any one shard for a replicated table.
 *
 * src/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_proc.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "funcapi.h"
#include "lib/binaryheap.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sortsupport.h"
#include "utils/typcache.h"
#include "utils/fmgroids.h"

#include "combine.h"
#include "connection.h"
#include "option.h"
#include "scan.h"
#include "shard.h"
#include "shardfdw.h"
#include "xact.h"

/* A FETCH asks for more rows than fetch_size only while its batch fits. */
#define SCAN_BATCH_BYTES (2 * 1024 * 1024)

/* Shard lists longer than this are summarized in EXPLAIN. */
int			shardfdw_explain_shard_list_max = 8;

typedef struct ShardScanState ShardScanState;

/*
 * How form_row reads a column's text: through the type's input function,
 * or, for the commonest types (no domain, no typmod), by the code that
 * input function runs, without the function call.
 */
typedef enum ColumnInput
{
	COL_INPUT_FUNCTION,			/* InputFunctionCall */
	COL_INPUT_CTID,				/* the row's ctid (not a column) */
	COL_INPUT_TEXT,				/* textin: text of the given length */
	COL_INPUT_INT4,				/* int4in */
	COL_INPUT_INT8				/* int8in */
} ColumnInput;

/* Per-shard state of one scan. */
typedef struct ScanShard
{
	ShardScanState *scan;		/* back link */
	int			shard;
	ShardConn  *conn;
	unsigned int cursor;		/* remote cursor number; 0 = none */
	bool		inflight;		/* our batch is on the wire */
	bool		eof;			/* the cursor has returned its last row */
	int			nbatches;		/* batches received since DECLARE */
	int			fetching;		/* rows the FETCH in flight asks for */
	int			next_fetch;		/* rows the next FETCH asks for */
	double		row_bytes;		/* average width of the rows converted */

	/*
	 * Batch being returned: row r is vals[r * natts ...] and nulls[r *
	 * natts ...] (natts of the scan tuple descriptor), and, when the scan
	 * reads ctid, ctids[r] (else ctids is NULL).  Kept as column values,
	 * not heap tuples: a row goes into the scan slot as a virtual tuple
	 * (store_row), with no heap_form_tuple for the executor to take apart
	 * again.
	 */
	MemoryContext cxt[2];
	int			cur;			/* index of the current batch's context */
	Datum	   *vals;
	bool	   *nulls;
	ItemPointerData *ctids;
	int			nrows;
	int			next;

	/* batch that arrived while the current one was being returned */
	bool		have_incoming;
	struct RawBatch *in_raw;	/* its PGresult, converted when it becomes
								 * current (convert_batch) */
	int			in_nrows;

	/*
	 * The remote error of a speculative FETCH (one the executor had not
	 * asked for yet), in scan_cxt: raised only when this shard's rows are
	 * really needed, forgotten if the scan ends first.  The cursor is
	 * unusable after it (eof is set).
	 */
	ErrorData  *error;

	/* merge: key values of row next, extracted once per row */
	Datum	   *keys;
	bool	   *keynulls;

	/*
	 * A streamed scan (see "One statement" in the file comment): the
	 * results taken from the connection and not yet converted, a malloc'd
	 * array of PGresults freed by a reset callback of scan_cxt; converted
	 * fetch_size rows at a time.
	 */
	bool		stream;
	PGresult  **pending;
	int			npending;
	int			pnext;			/* first result not yet used up */
	int			prow;			/* its next row */
} ScanShard;

struct ShardScanState
{
	Relation	rel;			/* NULL for an upper-relation scan */
	char	   *relname;		/* for messages */
	AttInMetadata *attinmeta;	/* of the rows the shards return */

	/*
	 * The columns of the remote result (retrieved_attrs, as arrays made
	 * once): where each goes, and how its text is read.
	 */
	int			ncols;
	AttrNumber *col_attno;
	ColumnInput *col_input;
	bool		all_columns;	/* every column of the row descriptor is
								 * among them */
	ForeignServer *server;
	UserMapping *user;
	ShardTableOptions opts;

	/* from the plan */
	char	   *sql;
	List	   *retrieved_attrs;
	int			fetch_size;
	int			nshards_total;
	List	   *static_targets;
	ShardPruneMode prune_mode;

	/* remote query parameters */
	int			num_params;
	List	   *param_states;
	FmgrInfo   *param_out;
	int			param_needs;	/* the settings their text depends on
								 * (shardconn_text_needs) */
	const char **param_values;

	/* run-time pruning */
	List	   *prune_exprs;
	List	   *prune_states;
	List	   *prune_is_array;

	/* the current scan */
	MemoryContext scan_cxt;		/* per-scan: shards array */
	bool		started;
	ScanShard  *shards;
	int			nactive;
	int			current;
	Bitmapset  *targets;		/* of the current / last scan, for EXPLAIN */
	bool		ran;			/* a scan has run (for EXPLAIN ANALYZE) */
	bool		alone;			/* the statement's only scan, never rescanned
								 * (scan_is_alone) */
	bool		limited;		/* ... under a Limit node (which may stop it
								 * early) */
	bool		heap_rows;		/* rows must be heap tuples: the plan reads
								 * system columns other than ctid and
								 * tableoid (see store_row) */
	MemoryContext row_cxt;		/* the heap tuple of the row returned last */
	bool		reads_ctid;		/* retrieved_attrs has ctid */

	/*
	 * Merge of ordered shard streams: with nkeys > 0 every shard returns
	 * its rows sorted (ORDER BY in the remote SQL) and the scan returns
	 * them in order through a binary heap of shard indexes keyed by each
	 * shard's current row.
	 */
	int			nkeys;
	SortSupport sortkeys;		/* nkeys entries; ssup_attno = column */
	binaryheap *heap;
	bool		merge_started;
	int			last_returned;	/* shard of the row returned last, or -1 */

	/* partial aggregates, combined here (NULL: the rows are final) */
	ShardCombineScan *combine;
	bool		combined;		/* every shard row has been folded */
	MemoryContext out_cxt;		/* per output row */

	/* OFFSET and LIMIT applied after the merge (-1: no limit) */
	int64		limit_count;
	int64		limit_offset;
	int64		skipped;
	int64		returned;

	/* a direct UPDATE / DELETE (plan operation not CMD_SELECT) */
	bool		dm_done;		/* the statement has run */
	bool		dm_set_processed;	/* count rows into es_processed */
	double	   *dm_written;		/* rows written per shard */
	struct RawBatch **dm_results;	/* the shards' results, in scan_cxt */
	int			dm_nresults;
	int			dm_current;		/* RETURNING: result being returned */
	int			dm_row;			/* and its next row */

	/* statistics for EXPLAIN ANALYZE */
	double		rows_fetched;

	/* error context */
	int			cur_attno;
	int			cur_shard;
};

static void start_scan(ShardScanState *st, ExprContext *econtext);
static void stop_scan(ShardScanState *st);
static Bitmapset *choose_targets(ShardScanState *st, ExprContext *econtext);
static void compute_params(ShardScanState *st, ExprContext *econtext);
static void send_fetch(ScanShard *s, bool speculative);
static void raise_deferred_error(ShardScanState *st);
static void type_record_columns(ShardScanState *st, ForeignScan *fsplan,
								EState *estate);
static void absorb_batch(ShardConn *c, void *owner);
static bool scan_is_alone(ForeignScanState *node, bool *limited);
static bool inputs_may_run_query(ShardScanState *st);
static bool reads_header_columns(ForeignScanState *node);
static void plan_columns(ShardScanState *st);
static void connect_any(ShardScanState *st, ShardConn **conns);
static void absorb_stream(ShardConn *c, ScanShard *s);
static void pending_append(ScanShard *s, PGresult **rows, int n);
static void free_pending(void *arg);
static void convert_pending(ScanShard *s);
static void store_result(ScanShard *s, PGresult *res);
static void convert_batch(ScanShard *s);
static void clear_raw_batch(void *arg);
static void conversion_error_callback(void *arg);
static bool advance(ScanShard *s);
static bool ensure_row(ScanShard *s);
static void check_inflight(ScanShard *s);
static void cache_keys(ShardScanState *st, ScanShard *s);
static int	merge_compare(Datum a, Datum b, void *arg);
static TupleTableSlot *merge_next(ShardScanState *st, TupleTableSlot *slot);
static ScanShard *next_append_row(ShardScanState *st);
static TupleTableSlot *next_row(ForeignScanState *node);
static TupleTableSlot *combine_next(ShardScanState *st, TupleTableSlot *slot);

/*
 * A whole-row Var of a table in a join's output may be typed RECORD (the
 * row identity of an UPDATE's target, which may have been an inheritance
 * parent when it was made): its text is then read as a row of that table,
 * through a blessed copy of the table's row type (kept with the query).
 */
static void
type_record_columns(ShardScanState *st, ForeignScan *fsplan, EState *estate)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, fsplan->fdw_scan_tlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) tle->expr;

		if (IsA(var, Var) && var->varattno == InvalidAttrNumber &&
			var->vartype == RECORDOID && var->varlevelsup == 0 &&
			var->varno > 0 && var->varno <= estate->es_range_table_size &&
			exec_rt_fetch(var->varno, estate)->rtekind == RTE_RELATION)
		{
			Relation	rel = table_open(exec_rt_fetch(var->varno, estate)->relid,
										 NoLock);
			MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
			TupleDesc	desc = CreateTupleDescCopy(RelationGetDescr(rel));

			desc->tdtypeid = RECORDOID;
			desc->tdtypmod = -1;
			BlessTupleDesc(desc);
			MemoryContextSwitchTo(old);
			st->attinmeta->atttypmods[i] = desc->tdtypmod;
			table_close(rel, NoLock);
		}
		i++;
	}
}

/*
 * shardscan_begin: set up the scan; nothing is sent to the shards yet.
 */
void
shardscan_begin(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	ShardScanState *st;
	Oid			userid;
	List	   *fdw_private = fsplan->fdw_private;
	List	   *combine_plan;
	int			nexprs;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st = palloc0(sizeof(ShardScanState));
	node->fdw_state = st;

	st->rel = node->ss.ss_currentRelation;
	{
		Index		rtindex = fsplan->scan.scanrelid > 0 ?
			fsplan->scan.scanrelid : bms_next_member(fsplan->fs_relids, -1);
		RangeTblEntry *rte = exec_rt_fetch(rtindex, estate);

		userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	}
	shardfdw_get_table_options(st->rel ? RelationGetRelid(st->rel) :
							   (Oid) intVal(list_nth(fdw_private,
													 ShardScanPrivateRelid)),
							   &st->opts);
	st->relname = get_rel_name(st->opts.relid);
	st->server = GetForeignServer(st->opts.serverid);
	st->user = GetUserMapping(userid, st->opts.serverid);

	st->sql = strVal(list_nth(fdw_private, ShardScanPrivateSql));
	st->retrieved_attrs = list_nth(fdw_private, ShardScanPrivateRetrievedAttrs);
	st->fetch_size = intVal(list_nth(fdw_private, ShardScanPrivateFetchSize));
	st->nshards_total = intVal(list_nth(fdw_private, ShardScanPrivateNShards));
	st->static_targets = list_nth(fdw_private, ShardScanPrivateTargets);
	st->prune_mode = intVal(list_nth(fdw_private, ShardScanPrivatePruneMode));
	st->num_params = intVal(list_nth(fdw_private,
									 ShardScanPrivateNumRemoteParams));
	st->prune_is_array = list_nth(fdw_private, ShardScanPrivatePruneIsArray);
	st->dm_set_processed = intVal(list_nth(fdw_private,
										   ShardScanPrivateSetProcessed)) != 0;

	/*
	 * The rows the shards return: the table's columns for a base scan, the
	 * scan tuple (fdw_scan_tlist) for aggregation done whole on the
	 * shards, group keys and partial columns for partial aggregation
	 * (combine.c says which).
	 */
	st->limit_count = intVal(list_nth(fdw_private,
									  ShardScanPrivateLimitCount));
	st->limit_offset = intVal(list_nth(fdw_private,
									   ShardScanPrivateLimitOffset));
	combine_plan = list_nth(fdw_private, ShardScanPrivateCombine);
	if (st->rel)
		st->attinmeta = TupleDescGetAttInMetadata(RelationGetDescr(st->rel));
	else if (!shard_combine_is_partial(combine_plan))
	{
		st->attinmeta = TupleDescGetAttInMetadata(node->ss.ss_ScanTupleSlot->tts_tupleDescriptor);
		type_record_columns(st, (ForeignScan *) node->ss.ps.plan, estate);
	}
	else
	{
		TupleDesc	rowdesc;

		st->combine = shard_combine_begin(combine_plan,
										  node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
										  estate->es_query_cxt, &rowdesc);
		st->attinmeta = TupleDescGetAttInMetadata(rowdesc);
		st->out_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"shardfdw combined row",
											ALLOCSET_SMALL_SIZES);
	}

	/* merge keys of an ordered scan */
	st->nkeys = list_length(list_nth(fdw_private, ShardScanPrivateSortAttnos));
	if (st->nkeys > 0)
	{
		List	   *attnos = list_nth(fdw_private, ShardScanPrivateSortAttnos);
		List	   *ops = list_nth(fdw_private, ShardScanPrivateSortOps);
		List	   *colls = list_nth(fdw_private,
									 ShardScanPrivateSortCollations);
		List	   *nfirst = list_nth(fdw_private,
									  ShardScanPrivateSortNullsFirst);

		st->sortkeys = palloc0(sizeof(SortSupportData) * st->nkeys);
		for (int k = 0; k < st->nkeys; k++)
		{
			SortSupport ssup = &st->sortkeys[k];

			ssup->ssup_cxt = CurrentMemoryContext;
			ssup->ssup_collation = list_nth_oid(colls, k);
			ssup->ssup_nulls_first = list_nth_int(nfirst, k) != 0;
			ssup->ssup_attno = list_nth_int(attnos, k);
			PrepareSortSupportFromOrderingOp(list_nth_oid(ops, k), ssup);
		}
	}
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "shardfdw scan",
										 ALLOCSET_SMALL_SIZES);
	st->alone = scan_is_alone(node, &st->limited);
	st->reads_ctid = list_member_int(st->retrieved_attrs,
									 SelfItemPointerAttributeNumber);
	plan_columns(st);
	/* (RETURNING of a direct modification reads them from the scan slot) */
	st->heap_rows = fsplan->operation != CMD_SELECT ||
		reads_header_columns(node);
	if (st->heap_rows)
		st->row_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"shardfdw row",
											ALLOCSET_SMALL_SIZES);

	/* fdw_exprs: remote params first, then prune keys */
	nexprs = list_length(fsplan->fdw_exprs);
	if (st->num_params > 0)
	{
		List	   *pexprs = list_copy_head(fsplan->fdw_exprs, st->num_params);
		ListCell   *lc;
		int			i = 0;

		st->param_states = ExecInitExprList(pexprs, (PlanState *) node);
		st->param_out = palloc0(sizeof(FmgrInfo) * st->num_params);
		st->param_values = palloc0(sizeof(char *) * st->num_params);
		foreach(lc, pexprs)
		{
			Oid			typout;
			bool		isvarlena;

			getTypeOutputInfo(exprType(lfirst(lc)), &typout, &isvarlena);
			fmgr_info(typout, &st->param_out[i++]);
			st->param_needs |= shardconn_text_needs(exprType(lfirst(lc)));
		}
	}
	if (nexprs > st->num_params)
	{
		st->prune_exprs = list_copy_tail(fsplan->fdw_exprs, st->num_params);
		st->prune_states = ExecInitExprList(st->prune_exprs,
											(PlanState *) node);
	}
}

/*
 * Target shards of the scan that is starting, in scan_cxt.
 */
static Bitmapset *
choose_targets(ShardScanState *st, ExprContext *econtext)
{
	Bitmapset  *targets = NULL;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(st->scan_cxt);

	switch (st->prune_mode)
	{
		case SHARD_PRUNE_NONE:
			foreach(lc, st->static_targets)
				targets = bms_add_member(targets, lfirst_int(lc));
			break;
		case SHARD_PRUNE_RUNTIME:
			{
				Bitmapset  *found;

				/* evaluate in per-tuple memory, keep the result */
				MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
				found = shard_eval_prune(&st->opts, st->prune_exprs,
										 st->prune_states, st->prune_is_array,
										 econtext);
				MemoryContextSwitchTo(st->scan_cxt);
				targets = bms_copy(found);
				break;
			}
		case SHARD_PRUNE_ANY_ONE:
			targets = bms_make_singleton(shardconn_pick_any(st->user,
															st->nshards_total));
			break;
	}
	MemoryContextSwitchTo(old);
	return targets;
}

/*
 * Evaluate the remote query's parameters into text, with the shards'
 * text conventions.  Values live in the scan context until the next scan.
 */
static void
compute_params(ShardScanState *st, ExprContext *econtext)
{
	int			nestlevel;
	int			n = st->num_params;
	int			i = 0;
	ListCell   *lc;
	MemoryContext old;
	Datum	   *values;
	bool	   *nulls;

	if (n == 0)
		return;
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);

	/*
	 * The values, under the session's own settings (a parameter may be a
	 * stable expression such as now()::text); then their text, under the
	 * shards' conventions.
	 */
	values = palloc(sizeof(Datum) * n);
	nulls = palloc(sizeof(bool) * n);
	foreach(lc, st->param_states)
	{
		values[i] = ExecEvalExpr(lfirst(lc), econtext, &nulls[i]);
		i++;
	}
	nestlevel = shardconn_set_transmission_modes_for(st->param_needs);
	for (i = 0; i < n; i++)
		st->param_values[i] = nulls[i] ? NULL :
			MemoryContextStrdup(st->scan_cxt,
								OutputFunctionCall(&st->param_out[i],
												   values[i]));
	shardconn_reset_transmission_modes(nestlevel);
	MemoryContextSwitchTo(old);
}

/*
 * Start a scan: decide the target shards, connect to them (in parallel)
 * and send each its first batch (DECLARE + FETCH).
 */
static void
start_scan(ShardScanState *st, ExprContext *econtext)
{
	ShardConn **conns;
	MemoryContext old;
	int			shard;
	int			i;
	bool		stream;
	bool		stream_alone;
	char		declare_head[64];
	char		fetch[64];

	MemoryContextReset(st->scan_cxt);
	st->shards = NULL;
	st->heap = NULL;
	st->merge_started = false;
	st->last_returned = -1;
	st->targets = choose_targets(st, econtext);
	compute_params(st, econtext);
	st->started = true;
	st->ran = true;
	st->skipped = 0;
	st->returned = 0;
	st->current = 0;
	st->nactive = bms_num_members(st->targets);
	if (st->nactive == 0)
		return;

	/*
	 * (Before the connection is taken, which counts as a use.)  In a
	 * remote transaction, only a scan that will be read to its end (no
	 * Limit above it, no LIMIT of its own, an executor run with no row
	 * count): a stream stopped early there would have to be read to its
	 * end, and an error in rows the statement never needed would end that
	 * transaction, where a cursor never computes them (or computes them
	 * under a savepoint, for a prefetch).
	 */
	stream_alone = shardxact_may_autocommit();
	stream = st->alone && st->nactive == 1 && st->combine == NULL &&
		shardxact_run_to_end() && !inputs_may_run_query(st) &&
		(stream_alone ||
		 (!st->limited && st->limit_count < 0 && st->limit_offset == 0));

	old = MemoryContextSwitchTo(st->scan_cxt);
	conns = palloc0(sizeof(ShardConn *) * st->nshards_total);
	if (st->prune_mode == SHARD_PRUNE_ANY_ONE)
		connect_any(st, conns);
	else
		shardconn_get_many(st->server, st->user, st->targets, conns);

	st->shards = palloc0(sizeof(ScanShard) * st->nactive);
	if (st->nkeys > 0)
		st->heap = binaryheap_allocate(st->nactive, merge_compare, st);
	st->merge_started = false;
	st->last_returned = -1;
	i = 0;
	shard = -1;
	while ((shard = bms_next_member(st->targets, shard)) >= 0)
	{
		ScanShard  *s = &st->shards[i++];
		ShardStmt	stmts[2];
		StringInfoData declare;

		s->scan = st;
		s->shard = shard;
		s->conn = conns[shard];
		s->cxt[0] = AllocSetContextCreate(st->scan_cxt, "shardfdw batch",
										  ALLOCSET_DEFAULT_SIZES);
		s->cxt[1] = AllocSetContextCreate(st->scan_cxt, "shardfdw batch",
										  ALLOCSET_DEFAULT_SIZES);
		if (st->nkeys > 0)
		{
			s->keys = palloc(sizeof(Datum) * st->nkeys);
			s->keynulls = palloc(sizeof(bool) * st->nkeys);
		}

		if (stream)
		{
			MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

			s->stream = true;
			cb->func = free_pending;
			cb->arg = s;
			MemoryContextRegisterResetCallback(st->scan_cxt, cb);
			shardconn_send_stream(s->conn, st->sql, st->num_params,
								  st->param_values, st->fetch_size,
								  stream_alone, s, absorb_batch);
			s->inflight = true;
			continue;
		}

		/* (a batch of another scan in flight is settled by the send) */
		s->cursor = shardconn_cursor_number(s->conn);
		snprintf(declare_head, sizeof(declare_head),
				 "DECLARE c%u CURSOR FOR\n", s->cursor);
		initStringInfo(&declare);
		appendStringInfoString(&declare, declare_head);
		appendStringInfoString(&declare, st->sql);
		snprintf(fetch, sizeof(fetch), "FETCH %d FROM c%u",
				 st->fetch_size, s->cursor);
		s->fetching = st->fetch_size;
		s->next_fetch = st->fetch_size;

		stmts[0].sql = declare.data;
		stmts[0].nparams = st->num_params;
		stmts[0].params = st->param_values;
		stmts[0].context_sql = NULL;
		stmts[1].sql = fetch;
		stmts[1].nparams = 0;
		stmts[1].params = NULL;
		stmts[1].context_sql = st->sql;
		/*
		 * With several shards, rows may come from the others first: the
		 * FETCH is speculative.  (A merge needs every shard's first row.)
		 */
		if (st->nactive > 1 && st->nkeys == 0)
			shardconn_send_speculative(s->conn, stmts, 2, s, absorb_batch);
		else
			shardconn_send_stmts(s->conn, stmts, 2, s, absorb_batch);
		s->inflight = true;
	}
	MemoryContextSwitchTo(old);
}

/*
 * Send the next FETCH of shard s.  speculative: the executor may never
 * need these rows (a prefetch, or one of several shards asked at once for
 * rows any of them can give); a remote error is then deferred.
 */
static void
send_fetch(ScanShard *s, bool speculative)
{
	char		fetch[64];
	ShardStmt	stmt;
	int			fetch_size = s->scan->fetch_size;

	/*
	 * A long scan: twice as many rows per FETCH while a batch fits, and
	 * fewer again when the rows got wider.
	 */
	if (s->nbatches > 0 && s->row_bytes > 0)
	{
		if ((double) s->next_fetch * 2 * s->row_bytes <= SCAN_BATCH_BYTES &&
			s->next_fetch <= INT_MAX / 2)
			s->next_fetch *= 2;
		while (s->next_fetch > fetch_size &&
			   (double) s->next_fetch * s->row_bytes > SCAN_BATCH_BYTES)
			s->next_fetch /= 2;
	}
	s->fetching = Max(s->next_fetch, fetch_size);
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM c%u",
			 s->fetching, s->cursor);
	stmt.sql = fetch;
	stmt.nparams = 0;
	stmt.params = NULL;
	stmt.context_sql = s->scan->sql;
	if (speculative)
		shardconn_send_speculative(s->conn, &stmt, 1, s, absorb_batch);
	else
		shardconn_send_stmts(s->conn, &stmt, 1, s, absorb_batch);
	s->inflight = true;
}

/*
 * ShardConnAbsorb for scans: our batch on c has completed (maybe while
 * another user waited for the connection); take its rows.
 */
static void
absorb_batch(ShardConn *c, void *owner)
{
	ScanShard  *s = (ScanShard *) owner;
	PGresult   *res;
	MemoryContext old;

	if (s->stream)
	{
		absorb_stream(c, s);
		return;
	}
	s->inflight = false;
	old = MemoryContextSwitchTo(s->scan->scan_cxt);
	s->error = shardconn_speculative_error(c);
	MemoryContextSwitchTo(old);
	if (s->error)
	{
		s->eof = true;
		return;
	}
	res = shardconn_result(c);
	store_result(s, res);
}

/*
 * The PGresult of a batch not yet converted, cleared when the memory
 * context of its batch is reset or deleted (also by an abort), or earlier
 * by convert_batch.
 */
typedef struct RawBatch
{
	PGresult   *res;
} RawBatch;

/* MemoryContextCallback: PQclear a RawBatch's result. */
static void
clear_raw_batch(void *arg)
{
	RawBatch   *raw = (RawBatch *) arg;

	if (raw->res)
		PQclear(raw->res);
	raw->res = NULL;
}

/*
 * Take a FETCH result as the incoming batch of s, unconverted: its rows
 * are converted only when the scan makes the batch current (advance), so
 * that a value the local type cannot read raises its error only if the
 * rows are needed, like a remote error of a speculative FETCH.  res is
 * owned by the batch's memory context from here on (also on error).
 */
static void
store_result(ScanShard *s, PGresult *res)
{
	ShardScanState *st = s->scan;
	int			incxt = 1 - s->cur;
	RawBatch   *raw;
	MemoryContextCallback *cb;
	int			n = PQntuples(res);

	Assert(!s->have_incoming);
	MemoryContextReset(s->cxt[incxt]);
	raw = MemoryContextAlloc(s->cxt[incxt], sizeof(RawBatch));
	raw->res = res;
	cb = MemoryContextAlloc(s->cxt[incxt], sizeof(MemoryContextCallback));
	cb->func = clear_raw_batch;
	cb->arg = raw;
	MemoryContextRegisterResetCallback(s->cxt[incxt], cb);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		elog(ERROR, "unexpected result status %s from FETCH",
			 PQresStatus(PQresultStatus(res)));
	if (PQnfields(res) != Max(list_length(st->retrieved_attrs), 1) && n > 0)
		elog(ERROR, "remote query returned %d columns, expected %d",
			 PQnfields(res), list_length(st->retrieved_attrs));

	s->in_raw = raw;
	s->in_nrows = n;
	s->have_incoming = true;
	s->nbatches++;
	if (n < s->fetching)
		s->eof = true;
	st->rows_fetched += n;
}

/*
 * Fill st->ncols, col_attno and col_input from retrieved_attrs and the
 * row descriptor (in the current memory context, the query's).
 */
static void
plan_columns(ShardScanState *st)
{
	TupleDesc	tupdesc = st->attinmeta->tupdesc;
	ListCell   *lc;
	int			j = 0;
	int			ncolumns = 0;	/* columns of the row descriptor among them */

	st->ncols = list_length(st->retrieved_attrs);
	st->col_attno = palloc(sizeof(AttrNumber) * Max(st->ncols, 1));
	st->col_input = palloc(sizeof(ColumnInput) * Max(st->ncols, 1));
	foreach(lc, st->retrieved_attrs)
	{
		int			attno = lfirst_int(lc);
		ColumnInput how = COL_INPUT_FUNCTION;

		if (attno == SelfItemPointerAttributeNumber)
			how = COL_INPUT_CTID;
		else if (attno > 0 && attno <= tupdesc->natts &&
				 st->attinmeta->atttypmods[attno - 1] == -1)
		{
			switch (TupleDescAttr(tupdesc, attno - 1)->atttypid)
			{
				case TEXTOID:
					how = COL_INPUT_TEXT;
					break;
				case INT4OID:
					how = COL_INPUT_INT4;
					break;
				case INT8OID:
					how = COL_INPUT_INT8;
					break;
				default:
					break;
			}
		}
		st->col_attno[j] = attno;
		st->col_input[j] = how;
		j++;
		if (attno > 0 && attno <= tupdesc->natts)
			ncolumns++;
	}

	/* every attno 1 .. natts retrieved (each once: retrieved_attrs is a set) */
	st->all_columns = (ncolumns == tupdesc->natts);
}

/*
 * The integer of the text a shard sent for an int4 (int8) column.  The
 * shard's output function writes an optional minus sign and digits; up to
 * 9 (18) digits cannot overflow and are added up here (small_integer),
 * anything else goes through the input function's own parser, with its
 * checks and errors.
 */
static inline bool
small_integer(const char *text, int maxdigits, int64 *result)
{
	const char *p = text + (text[0] == '-');
	uint64		v = 0;
	int			n = 0;

	while (p[n] >= '0' && p[n] <= '9' && n <= maxdigits)
	{
		v = v * 10 + (p[n] - '0');
		n++;
	}
	if (n == 0 || n > maxdigits || p[n] != '\0')
		return false;
	*result = text[0] == '-' ? -(int64) v : (int64) v;
	return true;
}

static inline int32
read_int4(const char *text)
{
	int64		v;

	return small_integer(text, 9, &v) ? (int32) v : pg_strtoint32(text);
}

static inline int64
read_int8(const char *text)
{
	int64		v;

	return small_integer(text, 18, &v) ? v : pg_strtoint64(text);
}

/*
 * Row r of res (columns retrieved_attrs of the scan's row descriptor) into
 * values / nulls (the descriptor's width; values palloc'd in
 * CurrentMemoryContext), and its ctid into *ctid when the scan reads it.
 */
static void
form_row(ShardScanState *st, PGresult *res, int r, Datum *values,
		 bool *nulls, ItemPointer ctid)
{
	/* (columns the shards do not send read as NULL) */
	if (!st->all_columns)
		memset(nulls, true, sizeof(bool) * st->attinmeta->tupdesc->natts);
	for (int j = 0; j < st->ncols; j++)
	{
		int			attno = st->col_attno[j];
		char	   *v = PQgetisnull(res, r, j) ? NULL : PQgetvalue(res, r, j);

		st->cur_attno = attno;
		switch (v == NULL && st->col_input[j] != COL_INPUT_CTID ?
				COL_INPUT_FUNCTION : st->col_input[j])
		{
			case COL_INPUT_CTID:
				/* the row's ctid on its shard */
				st->cur_attno = 0;
				if (v != NULL && ctid != NULL)
					*ctid = *(ItemPointer)
						DatumGetPointer(DirectFunctionCall1(tidin,
															CStringGetDatum(v)));
				continue;
			case COL_INPUT_TEXT:
				values[attno - 1] = PointerGetDatum(cstring_to_text_with_len(v,
																			 PQgetlength(res, r, j)));
				break;
			case COL_INPUT_INT4:
				values[attno - 1] = Int32GetDatum(read_int4(v));
				break;
			case COL_INPUT_INT8:
				values[attno - 1] = Int64GetDatum(read_int8(v));
				break;
			case COL_INPUT_FUNCTION:
				values[attno - 1] =
					InputFunctionCall(&st->attinmeta->attinfuncs[attno - 1], v,
									  st->attinmeta->attioparams[attno - 1],
									  st->attinmeta->atttypmods[attno - 1]);
				break;
		}
		nulls[attno - 1] = (v == NULL);
	}
	st->cur_attno = 0;
}

/*
 * Put a row (values / nulls of the scan's row descriptor, ctid or NULL)
 * into slot.  As a virtual tuple, whose values stay where they are (in
 * the batch context, valid until the next row is asked for); but as a
 * heap tuple (in row_cxt, replaced at the next row) when the plan reads
 * xmin, xmax, cmin or cmax, which only a heap tuple has: they read as
 * invalid here (the header fields heap_form_tuple filled in overlay them).
 * ctid and tableoid are read from the slot itself.
 */
static void
store_row(ShardScanState *st, TupleTableSlot *slot, Datum *values,
		  bool *nulls, ItemPointer ctid)
{
	int			natts = slot->tts_tupleDescriptor->natts;

	if (st->heap_rows)
	{
		MemoryContext old;
		HeapTuple	tup;

		MemoryContextReset(st->row_cxt);
		old = MemoryContextSwitchTo(st->row_cxt);
		tup = heap_form_tuple(slot->tts_tupleDescriptor, values, nulls);
		if (ctid)
			tup->t_self = tup->t_data->t_ctid = *ctid;
		HeapTupleHeaderSetXmin(tup->t_data, InvalidTransactionId);
		HeapTupleHeaderSetXmax(tup->t_data, InvalidTransactionId);
		HeapTupleHeaderSetCmin(tup->t_data, InvalidTransactionId);
		MemoryContextSwitchTo(old);
		ExecStoreHeapTuple(tup, slot, false);
		return;
	}
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	if (ctid)
		slot->tts_tid = *ctid;
}

/* Store row s->next of s's current batch into slot (store_row). */
static void
store_shard_row(ShardScanState *st, ScanShard *s, TupleTableSlot *slot)
{
	int			natts = st->attinmeta->tupdesc->natts;

	store_row(st, slot, &s->vals[s->next * natts], &s->nulls[s->next * natts],
			  s->ctids ? &s->ctids[s->next] : NULL);
}

/*
 * Make room in CurrentMemoryContext for n rows of s's next batch
 * (s->vals, s->nulls, s->ctids).
 */
static void
alloc_rows(ScanShard *s, int n)
{
	int			natts = s->scan->attinmeta->tupdesc->natts;

	n = Max(n, 1);
	s->vals = palloc(sizeof(Datum) * Max(natts, 1) * n);
	s->nulls = palloc(sizeof(bool) * Max(natts, 1) * n);
	s->ctids = s->scan->reads_ctid ?
		palloc0(sizeof(ItemPointerData) * n) : NULL;
}

/* form_row into row r of s's batch being converted */
static inline void
form_shard_row(ScanShard *s, PGresult *res, int row, int r)
{
	int			natts = s->scan->attinmeta->tupdesc->natts;

	form_row(s->scan, res, row, &s->vals[r * natts], &s->nulls[r * natts],
			 s->ctids ? &s->ctids[r] : NULL);
}

/*
 * Convert the rows of s's raw batch (just made current, in s->cxt[s->cur])
 * into s->vals / s->nulls / s->ctids, and free the PGresult.
 */
static void
convert_batch(ScanShard *s)
{
	ShardScanState *st = s->scan;
	PGresult   *res = s->in_raw->res;
	ErrorContextCallback errcb;
	MemoryContext old = MemoryContextSwitchTo(s->cxt[s->cur]);
	int			n = PQntuples(res);

	errcb.callback = conversion_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	st->cur_shard = s->shard;
	alloc_rows(s, n);
	for (int r = 0; r < n; r++)
		form_shard_row(s, res, r, r);
	s->nrows = n;
	/* (a row costs about as much raw, in the batch that comes next) */
	if (n > 0)
		s->row_bytes = 2.0 *
			MemoryContextMemAllocated(s->cxt[s->cur], false) / n;
	error_context_stack = errcb.previous;
	clear_raw_batch(s->in_raw);
	s->in_raw = NULL;
	MemoryContextSwitchTo(old);
}

/*
 * Run the direct modification on its target shards, all in parallel, and
 * keep the results (cleared with the scan context).  Rows are counted
 * into es_processed here without RETURNING, one by one as they are
 * returned with it; a replicated table's statement ran on every copy, and
 * one copy's rows stand for the table.
 */
static void
run_direct_modify(ForeignScanState *node)
{
	ShardScanState *st = (ShardScanState *) node->fdw_state;
	EState	   *estate = node->ss.ps.state;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ShardConn **conns;
	MemoryContext old;
	int			shard = -1;
	int			i = 0;
	uint64		total = 0;
	bool		autocommit;
	ShardStmt	stmt;

	MemoryContextReset(st->scan_cxt);
	shardxact_check_write();
	st->targets = choose_targets(st, econtext);
	compute_params(st, econtext);
	st->started = true;
	st->ran = true;

	/*
	 * A statement on one shard that is all of the local transaction, with
	 * nothing left to do locally afterwards (no RETURNING), runs in the
	 * shard's implicit transaction: one round trip, no COMMIT to wait for.
	 */
	autocommit = bms_num_members(st->targets) == 1 &&
		node->resultRelInfo->ri_projectReturning == NULL &&
		node->resultRelInfo->ri_TrigDesc == NULL &&
		shardxact_may_autocommit();
	old = MemoryContextSwitchTo(st->scan_cxt);
	conns = palloc0(sizeof(ShardConn *) * st->nshards_total);
	shardxact_lock_for_write(st->server, st->targets);
	shardconn_get_many(st->server, st->user, st->targets, conns);
	while ((shard = bms_next_member(st->targets, shard)) >= 0)
	{
		if (autocommit)
		{
			shardxact_note_autocommit();
			shardconn_send_autocommit(conns[shard], st->sql, st->num_params,
									  st->param_values);
			continue;
		}
		shardxact_mark_written(conns[shard]);
		stmt.sql = st->sql;
		stmt.nparams = st->num_params;
		stmt.params = st->param_values;
		stmt.context_sql = NULL;
		shardconn_send_prepared(conns[shard], &stmt, 1);
	}
	st->dm_results = palloc0(sizeof(RawBatch *) *
							 Max(bms_num_members(st->targets), 1));
	MemoryContextSwitchTo(old);
	if (st->dm_written == NULL)
		st->dm_written = MemoryContextAllocZero(GetMemoryChunkContext(st),
												sizeof(double) * st->nshards_total);
	MemoryContextSwitchTo(st->scan_cxt);
	shard = -1;
	while ((shard = bms_next_member(st->targets, shard)) >= 0)
	{
		RawBatch   *raw = palloc(sizeof(RawBatch));
		MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

		raw->res = NULL;
		cb->func = clear_raw_batch;
		cb->arg = raw;
		MemoryContextRegisterResetCallback(st->scan_cxt, cb);
		raw->res = shardconn_result(conns[shard]);
		st->dm_written[shard] = strtod(PQcmdTuples(raw->res), NULL);
		if (i == 0 || st->opts.distribution != SHARD_DIST_REPLICATED)
		{
			st->dm_results[st->dm_nresults++] = raw;
			total += strtoull(PQcmdTuples(raw->res), NULL, 10);
		}
		st->rows_fetched += PQntuples(raw->res);
		i++;
	}
	MemoryContextSwitchTo(old);
	st->dm_done = true;
	if (node->resultRelInfo->ri_projectReturning == NULL &&
		st->dm_set_processed)
		estate->es_processed += total;
}

/* shardfdw_iterate_direct_modify: see scan.h. */
TupleTableSlot *
shardfdw_iterate_direct_modify(ForeignScanState *node)
{
	ShardScanState *st = (ShardScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ResultRelInfo *rinfo = node->resultRelInfo;
	TupleDesc	tupdesc = st->attinmeta->tupdesc;
	MemoryContext old;

	if (!st->dm_done)
		run_direct_modify(node);
	if (rinfo->ri_projectReturning == NULL)
		return ExecClearTuple(slot);

	while (st->dm_current < st->dm_nresults &&
		   st->dm_row >= PQntuples(st->dm_results[st->dm_current]->res))
	{
		st->dm_current++;
		st->dm_row = 0;
	}
	if (st->dm_current >= st->dm_nresults)
		return ExecClearTuple(slot);

	old = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	if (tupdesc->natts > 0 && st->retrieved_attrs != NIL)
	{
		Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
		bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
		ItemPointerData ctid;

		ItemPointerSetInvalid(&ctid);
		form_row(st, st->dm_results[st->dm_current]->res, st->dm_row,
				 values, nulls, &ctid);
		store_row(st, slot, values, nulls,
				  ItemPointerIsValid(&ctid) ? &ctid : NULL);
	}
	else
		ExecStoreAllNullTuple(slot);	/* e.g. RETURNING 1 */
	MemoryContextSwitchTo(old);
	st->dm_row++;
	if (st->dm_set_processed)
		node->ss.ps.state->es_processed++;

	/* the local RETURNING list reads this row */
	rinfo->ri_projectReturning->pi_exprContext->ecxt_scantuple = slot;
	return slot;
}

/*
 * Every other shard is exhausted: raise the deferred error of a shard whose
 * rows the scan has not had, if any.
 */
static void
raise_deferred_error(ShardScanState *st)
{
	for (int i = 0; i < st->nactive; i++)
		if (st->shards[i].error)
			ReThrowError(st->shards[i].error);
}

/* Error context while converting a shard's row. */
static void
conversion_error_callback(void *arg)
{
	ShardScanState *st = (ShardScanState *) arg;

	if (st->cur_attno > 0)
		errcontext("column %d (\"%s\") of a row of foreign table \"%s\" from shard p%d",
				   st->cur_attno,
				   NameStr(TupleDescAttr(st->attinmeta->tupdesc,
										 st->cur_attno - 1)->attname),
				   st->relname, st->cur_shard);
	else
		errcontext("processing a row of foreign table \"%s\" from shard p%d",
				   st->relname, st->cur_shard);
}

/*
 * Make s's incoming batch current if the current one is used up, and ask
 * for the one after it.  True if s has a row to return.
 */
static bool
advance(ScanShard *s)
{
	if (s->next < s->nrows)
		return true;
	if (s->stream)
	{
		if (s->pnext >= s->npending)
			return false;
		convert_pending(s);
		return s->nrows > 0;
	}
	if (!s->have_incoming)
		return false;

	/* swap: the old current batch is no longer referenced */
	s->cur = 1 - s->cur;
	MemoryContextReset(s->cxt[1 - s->cur]);
	s->vals = NULL;
	s->nulls = NULL;
	s->ctids = NULL;
	s->nrows = 0;
	s->next = 0;
	s->have_incoming = false;
	s->in_nrows = 0;
	convert_batch(s);

	/* prefetch while this batch is returned */
	if (!s->eof && !s->inflight)
		send_fetch(s, true);
	return s->nrows > 0;
}

/*
 * shardscan_iterate: the next row, after the OFFSET and within the LIMIT
 * this scan applies itself (when the shards could only pre-limit).
 */
TupleTableSlot *
shardscan_iterate(ForeignScanState *node)
{
	ShardScanState *st = (ShardScanState *) node->fdw_state;
	TupleTableSlot *slot;

	if (st->limit_count < 0 && st->limit_offset == 0)
		return next_row(node);
	if (st->limit_count >= 0 && st->returned >= st->limit_count)
		return ExecClearTuple(node->ss.ss_ScanTupleSlot);
	for (;;)
	{
		slot = next_row(node);
		if (TupIsNull(slot) || st->skipped >= st->limit_offset)
			break;
		st->skipped++;
	}
	if (!TupIsNull(slot))
		st->returned++;
	return slot;
}

/*
 * The next row from any target shard (merged, combined or appended), or
 * an empty slot.
 */
static TupleTableSlot *
next_row(ForeignScanState *node)
{
	ShardScanState *st = (ShardScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ScanShard  *s;

	if (!st->started)
		start_scan(st, node->ss.ps.ps_ExprContext);
	if (st->nkeys > 0)
		return merge_next(st, slot);
	if (st->combine)
		return combine_next(st, slot);

	/* the common case first: the current shard's batch has a row */
	if (st->nactive > 0)
	{
		s = &st->shards[st->current];
		if (s->next < s->nrows)
		{
			store_shard_row(st, s, slot);
			s->next++;
			return slot;
		}
	}
	s = next_append_row(st);
	if (s == NULL)
		return ExecClearTuple(slot);
	store_shard_row(st, s, slot);
	s->next++;
	return slot;
}

/*
 * The shard with the next row of the scan (any target shard's, in arrival
 * order): its row s->next, which the caller takes and steps over.  NULL at
 * the end.  The row lives in its shard's batch context until the next
 * call.
 */
static ScanShard *
next_append_row(ShardScanState *st)
{
	for (;;)
	{
		ShardConn **waiting;
		int			nwaiting = 0;
		int			idx;

		/* the per-row path: the current shard's batch */
		if (st->nactive > 0 && advance(&st->shards[st->current]))
		{
			return &st->shards[st->current];
		}

		/* a batch ready on another shard, maybe arrived meanwhile? */
		for (int k = 1; k < st->nactive; k++)
		{
			int			i = (st->current + k) % st->nactive;
			ScanShard  *s = &st->shards[i];

			if (s->inflight && shardconn_poll(s->conn))
				absorb_batch(s->conn, s);
			if (advance(s))
			{
				st->current = i;
				return s;
			}
		}

		/* nothing ready: wait for whichever shard answers first */
		waiting = palloc(sizeof(ShardConn *) * Max(st->nactive, 1));
		for (int i = 0; i < st->nactive; i++)
		{
			ScanShard  *s = &st->shards[i];

			check_inflight(s);
			if (s->inflight)
				waiting[nwaiting++] = s->conn;
			else if (!s->eof && !s->have_incoming && s->next >= s->nrows)
			{
				/* (another shard may answer first with rows enough) */
				send_fetch(s, st->nactive > 1);
				waiting[nwaiting++] = s->conn;
			}
			else
				waiting[nwaiting++] = NULL;
		}
		idx = shardconn_wait_any(waiting, nwaiting);
		pfree(waiting);
		if (idx < 0)
		{
			/* every shard is exhausted */
			bool		more = false;

			for (int i = 0; i < st->nactive; i++)
				if (st->shards[i].inflight || st->shards[i].have_incoming ||
					st->shards[i].pnext < st->shards[i].npending)
					more = true;
			if (!more)
			{
				/* a shard whose rows we did not get: now they are needed */
				raise_deferred_error(st);
				return NULL;
			}
		}
		else
			absorb_batch(st->shards[idx].conn, &st->shards[idx]);
	}
}

/*
 * Our batch on s's connection must still be there: a subtransaction abort
 * (e.g. an exception caught in PL/pgSQL while this scan was open) cancels
 * and drops every batch in flight, and the cursor cannot go on then.
 */
static void
check_inflight(ScanShard *s)
{
	if (s->inflight && (!s->conn->busy || s->conn->owner != s))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("a fetch from shard p%d of foreign table \"%s\" was cancelled by a subtransaction abort",
						s->shard, s->scan->relname),
				 errhint("Do not roll back a subtransaction while a scan of the same foreign table is still open.")));
}

/*
 * Make sure shard s has a current row, waiting for its next batch if
 * needed.  False when s has no more rows.
 */
static bool
ensure_row(ScanShard *s)
{
	for (;;)
	{
		ShardConn  *one[1];

		if (advance(s))
			return true;
		if (!s->inflight)
		{
			if (s->error)
				ReThrowError(s->error);
			if (s->eof)
				return false;
			send_fetch(s, false);
		}
		check_inflight(s);
		one[0] = s->conn;
		(void) shardconn_wait_any(one, 1);
		absorb_batch(s->conn, s);
	}
}

/* Extract the merge keys of s's current row. */
static void
cache_keys(ShardScanState *st, ScanShard *s)
{
	int			natts = st->attinmeta->tupdesc->natts;
	Datum	   *values = &s->vals[s->next * natts];
	bool	   *nulls = &s->nulls[s->next * natts];

	for (int k = 0; k < st->nkeys; k++)
	{
		int			attno = st->sortkeys[k].ssup_attno;

		s->keys[k] = values[attno - 1];
		s->keynulls[k] = nulls[attno - 1];
	}
}

/*
 * binaryheap comparator: the heap keeps the greatest element first, so
 * the comparison is inverted to keep the shard with the smallest current
 * row on top.
 */
static int
merge_compare(Datum a, Datum b, void *arg)
{
	ShardScanState *st = (ShardScanState *) arg;
	ScanShard  *sa = &st->shards[DatumGetInt32(a)];
	ScanShard  *sb = &st->shards[DatumGetInt32(b)];

	for (int k = 0; k < st->nkeys; k++)
	{
		int			cmp = ApplySortComparator(sa->keys[k], sa->keynulls[k],
											  sb->keys[k], sb->keynulls[k],
											  &st->sortkeys[k]);

		if (cmp != 0)
			return -cmp;
	}
	return 0;
}

/*
 * The next row of an ordered scan: the smallest current row among the
 * shards.  Only the shard whose row was returned last moves on, so memory
 * stays at two batches per shard.
 */
static TupleTableSlot *
merge_next(ShardScanState *st, TupleTableSlot *slot)
{
	ScanShard  *s;
	int			i;

	if (st->nactive == 0)
		return ExecClearTuple(slot);	/* no target shard */
	if (!st->merge_started)
	{
		binaryheap_reset(st->heap);
		for (i = 0; i < st->nactive; i++)
		{
			s = &st->shards[i];
			if (ensure_row(s))
			{
				cache_keys(st, s);
				binaryheap_add_unordered(st->heap, Int32GetDatum(i));
			}
		}
		binaryheap_build(st->heap);
		st->merge_started = true;
	}
	else if (st->last_returned >= 0)
	{
		s = &st->shards[st->last_returned];
		s->next++;
		if (ensure_row(s))
		{
			cache_keys(st, s);
			binaryheap_replace_first(st->heap,
									 Int32GetDatum(st->last_returned));
		}
		else
			(void) binaryheap_remove_first(st->heap);
	}

	if (binaryheap_empty(st->heap))
	{
		st->last_returned = -1;
		return ExecClearTuple(slot);
	}
	i = DatumGetInt32(binaryheap_first(st->heap));
	st->last_returned = i;
	s = &st->shards[i];
	store_shard_row(st, s, slot);
	return slot;
}

/*
 * Partial aggregation: fold every shard row into its group, then return
 * the groups one by one.
 */
static TupleTableSlot *
combine_next(ShardScanState *st, TupleTableSlot *slot)
{
	TupleDesc	scandesc = slot->tts_tupleDescriptor;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	tuple;
	MemoryContext old;

	if (!st->combined)
	{
		int			rawnatts = st->attinmeta->tupdesc->natts;
		ScanShard  *s;

		while ((s = next_append_row(st)) != NULL)
		{
			shard_combine_add(st->combine, &s->vals[s->next * rawnatts],
							  &s->nulls[s->next * rawnatts]);
			s->next++;
			CHECK_FOR_INTERRUPTS();
		}
		st->combined = true;
	}

	MemoryContextReset(st->out_cxt);
	old = MemoryContextSwitchTo(st->out_cxt);
	values = palloc(sizeof(Datum) * scandesc->natts);
	nulls = palloc(sizeof(bool) * scandesc->natts);
	if (!shard_combine_next(st->combine, values, nulls))
	{
		MemoryContextSwitchTo(old);
		return ExecClearTuple(slot);
	}
	tuple = heap_form_tuple(scandesc, values, nulls);
	MemoryContextSwitchTo(old);
	ExecStoreHeapTuple(tuple, slot, false);
	return slot;
}

/*
 * Connect to the shard a read of a replicated table chose (st->targets),
 * or, when it cannot be reached, to the next one that can (each attempt
 * within connect_timeout): any copy will do.  The target becomes the shard
 * connected to.  Only a failure to connect moves on, and only from a shard
 * the transaction has not used yet (shardconn_pick_any prefers those it
 * has); the last shard's error is raised when none can be reached.
 */
static void
connect_any(ShardScanState *st, ShardConn **conns)
{
	int			first = bms_singleton_member(st->targets);
	int			n = st->nshards_total;

	for (int k = 0; k < n; k++)
	{
		int			shard = (first + k) % n;
		Bitmapset  *one = bms_make_singleton(shard);
		MemoryContext cxt = CurrentMemoryContext;
		volatile bool connected = false;

		PG_TRY();
		{
			shardconn_get_many(st->server, st->user, one, conns);
			connected = true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			if (k == n - 1 ||
				ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_CONNECTION_EXCEPTION)
				PG_RE_THROW();
			FlushErrorState();
			ereport(DEBUG1,
					(errmsg_internal("shardfdw: replicated table \"%s\": shard p%d unreachable, trying p%d",
									 st->relname, shard, (shard + 1) % n),
					 errdetail_internal("%s", edata->message)));
			FreeErrorData(edata);
		}
		PG_END_TRY();
		if (connected)
		{
			st->targets = one;
			return;
		}
	}
}

/*
 * check_functions_in_node callback: may this function run a query (and so
 * need the scan's connection while its stream is open)?  Only built-in
 * parallel-safe functions, and a few built-ins known to run none, are
 * known not to: the built-ins that run queries (query_to_xml,
 * table_to_xml, ts_stat, ts_rewrite with a query, ...) are all parallel
 * restricted or unsafe.  (Built-ins that call a user's cast or output
 * function, to_json of a type with a cast to json say, are not seen; the
 * rest of a stream is then read into memory, as the file comment says.)
 */
static bool
may_run_query_func(Oid funcid, void *context)
{
	if (funcid >= FirstNormalObjectId)
		return true;
	switch (funcid)
	{
			/* not parallel safe, but they run no query */
		case F_RANDOM:
		case F_SETSEED:
		case F_NEXTVAL:
		case F_CURRVAL:
		case F_LASTVAL:
		case F_PG_BACKEND_PID:
			return false;
		default:
			return func_parallel(funcid) != PROPARALLEL_SAFE;
	}
}

/*
 * expression_tree_walker: does node call a may_run_query_func function, or
 * check a domain's constraints (which may call any function)?
 */
static bool
may_run_query_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, may_run_query_func, context))
		return true;
	if (IsA(node, CoerceToDomain) &&
		DomainHasConstraints(((CoerceToDomain *) node)->resulttype))
		return true;
	if (IsA(node, Aggref))
	{
		/* its ORDER BY and DISTINCT sort and compare with operators */
		List	   *clauses = list_concat_copy(((Aggref *) node)->aggorder,
											   ((Aggref *) node)->aggdistinct);
		ListCell   *lc;

		foreach(lc, clauses)
		{
			SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);

			if ((OidIsValid(sgc->sortop) &&
				 may_run_query_func(get_opcode(sgc->sortop), NULL)) ||
				(OidIsValid(sgc->eqop) &&
				 may_run_query_func(get_opcode(sgc->eqop), NULL)))
				return true;
		}
	}
	return expression_tree_walker(node, may_run_query_walker, context);
}

/* Do any of the n operators ops[] (sort or equality) have such a function? */
static bool
operators_may_run_query(int n, Oid *ops)
{
	for (int i = 0; i < n; i++)
		if (may_run_query_func(get_opcode(ops[i]), NULL))
			return true;
	return false;
}

/*
 * Do the expressions of plan node plan (one of those scan_is_alone lets
 * through, or the scan itself) call a function that may run a query?
 */
static bool
plan_may_run_query(Plan *plan)
{
	if (may_run_query_walker((Node *) plan->targetlist, NULL) ||
		may_run_query_walker((Node *) plan->qual, NULL))
		return true;
	switch (nodeTag(plan))
	{
		case T_Limit:
			return may_run_query_walker(((Limit *) plan)->limitOffset, NULL) ||
				may_run_query_walker(((Limit *) plan)->limitCount, NULL);
		case T_WindowAgg:
			return operators_may_run_query(((WindowAgg *) plan)->partNumCols,
										   ((WindowAgg *) plan)->partOperators) ||
				operators_may_run_query(((WindowAgg *) plan)->ordNumCols,
										((WindowAgg *) plan)->ordOperators) ||
				may_run_query_walker(((WindowAgg *) plan)->startOffset, NULL) ||
				may_run_query_walker(((WindowAgg *) plan)->endOffset, NULL) ||
				may_run_query_walker((Node *) ((WindowAgg *) plan)->runCondition, NULL);
		case T_Result:
			return may_run_query_walker(((Result *) plan)->resconstantqual, NULL);
		case T_Sort:
			return operators_may_run_query(((Sort *) plan)->numCols,
										   ((Sort *) plan)->sortOperators);
		case T_IncrementalSort:
			return operators_may_run_query(((IncrementalSort *) plan)->sort.numCols,
										   ((IncrementalSort *) plan)->sort.sortOperators);
		case T_Agg:
			return operators_may_run_query(((Agg *) plan)->numCols,
										   ((Agg *) plan)->grpOperators);
		case T_Unique:
			return operators_may_run_query(((Unique *) plan)->numCols,
										   ((Unique *) plan)->uniqOperators);
		case T_ForeignScan:
			/* (its recheck quals run only for EvalPlanQual: not in a SELECT) */
			return may_run_query_walker((Node *) ((ForeignScan *) plan)->fdw_exprs, NULL);
		default:
			return false;
	}
}

/*
 * Is the input function of a column of the rows the shards return one that
 * may run a query (a user-defined type's, or domain_in for a domain with
 * constraints, which may call any function: the other built-in types'
 * input functions run none)?  Then converting a row could need the
 * connection while the stream is open.
 */
static bool
inputs_may_run_query(ShardScanState *st)
{
	TupleDesc	desc = st->attinmeta->tupdesc;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			fn = st->attinmeta->attinfuncs[i].fn_oid;

		if (att->attisdropped)
			continue;
		if (fn >= FirstNormalObjectId ||
			(fn == F_DOMAIN_IN && DomainHasConstraints(att->atttypid)))
			return true;
	}
	return false;
}

/*
 * May this scan run as one streamed statement, as far as the plan goes
 * (see "One statement" in the file comment)?  The statement is a SELECT
 * with no subplans (no other scan can hide there) and no row locks, in a
 * portal that cannot be rewound (no SCROLL, no WITH HOLD), and this scan
 * is reached from the top of the plan through nodes that read their one
 * child once.  No expression on that chain, the scan's included, calls a
 * function that might run a query of its own: one reaching the same shard
 * while the stream is open would need the rest of it read into memory
 * first (see may_run_query_func).  Computed once per execution, by walking
 * that chain; *limited tells whether a node that may stop reading early is
 * on it (a Limit, or a WindowAgg, whose run condition can end it).
 */
static bool
scan_is_alone(ForeignScanState *node, bool *limited)
{
	PlannedStmt *stmt = node->ss.ps.state->es_plannedstmt;
	Plan	   *plan = stmt->planTree;

	*limited = false;

	if (stmt->commandType != CMD_SELECT || stmt->subplans != NIL ||
		stmt->rowMarks != NIL || ActivePortal == NULL ||
		(ActivePortal->cursorOptions & (CURSOR_OPT_SCROLL | CURSOR_OPT_HOLD)))
		return false;
	while (plan != NULL)
	{
		if (plan_may_run_query(plan))
			return false;
		if (plan == node->ss.ps.plan)
			break;
		switch (nodeTag(plan))
		{
			case T_Limit:
			case T_WindowAgg:	/* (a run condition can stop it early) */
				*limited = true;
				/* FALLTHROUGH */
			case T_Result:
			case T_Sort:
			case T_IncrementalSort:
			case T_Agg:
			case T_Unique:
			case T_ProjectSet:
				if (innerPlan(plan) != NULL)
					return false;
				plan = outerPlan(plan);
				break;
			default:
				return false;
		}
	}
	return plan == node->ss.ps.plan;
}

/*
 * Does the plan of this scan of a base relation read a system column that
 * lives in a heap tuple's header (xmin, xmax, cmin, cmax), in its target
 * list or quals?  (ctid and tableoid are kept in the slot itself; a join
 * or upper relation's scan tuple has no system columns of its own.)
 */
static bool
reads_header_columns(ForeignScanState *node)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	Bitmapset  *attrs = NULL;
	int			attno = -1;

	if (fsplan->scan.scanrelid == 0)
		return false;
	pull_varattnos((Node *) fsplan->scan.plan.targetlist,
				   fsplan->scan.scanrelid, &attrs);
	pull_varattnos((Node *) fsplan->scan.plan.qual,
				   fsplan->scan.scanrelid, &attrs);
	while ((attno = bms_next_member(attrs, attno)) >= 0)
	{
		AttrNumber	a = attno + FirstLowInvalidHeapAttributeNumber;

		if (a < 0 && a != SelfItemPointerAttributeNumber &&
			a != TableOidAttributeNumber)
			return true;
	}
	return false;
}

/*
 * ShardConnAbsorb of a streamed scan: take the rows gathered on c (a
 * chunk, or all that is left when another user needed c), and once the
 * statement has ended, its final result (raising its error, if any).
 */
static void
absorb_stream(ShardConn *c, ScanShard *s)
{
	int			n;
	PGresult  **rows = shardconn_stream_take(c, &n);
	PGresult   *volatile res = NULL;

	pending_append(s, rows, n);
	free(rows);
	if (c->busy)
		return;

	/*
	 * The end: a zero-row result (or all rows, without single-row mode),
	 * or the statement's error.  The error is kept, like a speculative
	 * FETCH's, and raised when the scan reaches it (raise_deferred_error,
	 * ensure_row): we may be absorbing for another user of the connection
	 * (a function the query calls, which might catch it).
	 */
	s->inflight = false;
	s->eof = true;
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			res = shardconn_result(c);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(s->scan->scan_cxt);
			s->error = CopyErrorData();
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
		}
		PG_END_TRY();
	}
	if (res == NULL)
		return;
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		return;
	}
	{
		PGresult   *one[1] = {res};

		pending_append(s, one, 1);
	}
}

/*
 * Append the n results rows[] to s's pending results, which own them from
 * here on (also on error: they are cleared then).
 */
static void
pending_append(ScanShard *s, PGresult **rows, int n)
{
	PGresult  **all;

	if (n == 0)
		return;
	all = realloc(s->pending, sizeof(PGresult *) * (s->npending + n));
	if (all == NULL)
	{
		for (int i = 0; i < n; i++)
			PQclear(rows[i]);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	memcpy(all + s->npending, rows, sizeof(PGresult *) * n);
	s->pending = all;
	s->npending += n;
}

/* MemoryContextCallback: free what a streamed scan has not converted. */
static void
free_pending(void *arg)
{
	ScanShard  *s = (ScanShard *) arg;

	for (int i = s->pnext; i < s->npending; i++)
		if (s->pending[i])
			PQclear(s->pending[i]);
	free(s->pending);
	s->pending = NULL;
	s->npending = 0;
	s->pnext = 0;
}

/*
 * Make the next fetch_size streamed rows of s its current batch (in
 * s->cxt[s->cur], reset first: the row returned last is no longer
 * referenced), freeing the results they came from.
 */
static void
convert_pending(ScanShard *s)
{
	ShardScanState *st = s->scan;
	ErrorContextCallback errcb;
	MemoryContext old;
	int			n = 0;

	MemoryContextReset(s->cxt[s->cur]);
	old = MemoryContextSwitchTo(s->cxt[s->cur]);
	/* room for the rows there are, fetch_size at most */
	for (int i = s->pnext; i < s->npending && n < st->fetch_size; i++)
		n += PQntuples(s->pending[i]) - (i == s->pnext ? s->prow : 0);
	alloc_rows(s, Min(n, st->fetch_size));
	n = 0;
	s->next = 0;

	errcb.callback = conversion_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	st->cur_shard = s->shard;
	while (n < st->fetch_size && s->pnext < s->npending)
	{
		PGresult   *res = s->pending[s->pnext];

		if (s->prow == 0 && PQntuples(res) > 0 &&
			PQnfields(res) != Max(list_length(st->retrieved_attrs), 1))
			elog(ERROR, "remote query returned %d columns, expected %d",
				 PQnfields(res), list_length(st->retrieved_attrs));
		if (s->prow < PQntuples(res))
		{
			form_shard_row(s, res, s->prow++, n++);
			continue;
		}
		PQclear(res);
		s->pending[s->pnext++] = NULL;
		s->prow = 0;
	}
	error_context_stack = errcb.previous;
	s->nrows = n;
	s->nbatches++;
	st->rows_fetched += n;
	if (s->pnext >= s->npending)
	{
		/* all used up: start the array afresh (it would grow per row) */
		free(s->pending);
		s->pending = NULL;
		s->npending = 0;
		s->pnext = 0;
	}
	MemoryContextSwitchTo(old);
}

/*
 * End the current scan: orphan batches in flight and queue the CLOSE of
 * every cursor (sent for free with the connection's next batch).
 */
static void
stop_scan(ShardScanState *st)
{
	char		sql[64];

	if (!st->started)
		return;
	for (int i = 0; i < st->nactive; i++)
	{
		ScanShard  *s = &st->shards[i];

		if (s->inflight && s->stream)
			shardconn_drop_stream(s->conn, s);	/* rows nobody will read */
		else if (s->inflight)
			shardconn_orphan(s->conn, s);
		s->inflight = false;
		if (s->cursor != 0)
		{
			snprintf(sql, sizeof(sql), "CLOSE c%u", s->cursor);
			shardconn_queue(s->conn, sql);
			s->cursor = 0;
		}
	}
	st->started = false;
	st->nactive = 0;
	st->shards = NULL;
	st->skipped = 0;
	st->returned = 0;
	if (st->combine)
	{
		shard_combine_reset(st->combine);
		st->combined = false;
	}
}

/*
 * shardscan_rescan: restart.  When no parameter changed and every shard
 * delivered all its rows in its first batch, the rows are simply returned
 * again; otherwise the cursors are replaced (with new targets if the
 * pruning parameters changed).
 */
void
shardscan_rescan(ForeignScanState *node)
{
	ShardScanState *st = (ShardScanState *) node->fdw_state;
	bool		rewind = (node->ss.ps.chgParam == NULL &&
						  st->combine == NULL);

	if (!st->started)
		return;
	for (int i = 0; rewind && i < st->nactive; i++)
	{
		ScanShard  *s = &st->shards[i];

		if (!s->eof || s->nbatches != 1 || s->inflight || s->error ||
			s->pnext < s->npending)
			rewind = false;
	}
	if (rewind)
	{
		for (int i = 0; i < st->nactive; i++)
		{
			ScanShard  *s = &st->shards[i];

			if (s->have_incoming)
			{
				/* not yet made current: advance() will return it */
				continue;
			}
			s->next = 0;
		}
		st->current = 0;
		st->merge_started = false;
		st->last_returned = -1;
		st->skipped = 0;
		st->returned = 0;
		return;
	}
	stop_scan(st);
}

/* shardscan_end: release the scan's remote resources. */
void
shardscan_end(ForeignScanState *node)
{
	ShardScanState *st = (ShardScanState *) node->fdw_state;

	if (st == NULL)
		return;
	stop_scan(st);
	MemoryContextDelete(st->scan_cxt);
}

/*
 * Append "p0, p3, ..." for the members of shards to buf.
 */
static void
append_shard_list(StringInfo buf, Bitmapset *shards)
{
	int			shard = -1;
	bool		first = true;

	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		appendStringInfo(buf, "%sp%d", first ? "" : ", ", shard);
		first = false;
	}
}

/*
 * shardscan_explain: the Shards line, the Remote SQL (VERBOSE) and the
 * rows fetched (ANALYZE).
 */
void
shardscan_explain(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *fdw_private = fsplan->fdw_private;
	ShardScanState *st = (ShardScanState *) node->fdw_state;
	int			nshards = intVal(list_nth(fdw_private, ShardScanPrivateNShards));
	ShardPruneMode mode = intVal(list_nth(fdw_private,
										  ShardScanPrivatePruneMode));
	StringInfoData buf;

	initStringInfo(&buf);
	if (mode == SHARD_PRUNE_ANY_ONE)
		appendStringInfo(&buf, "1 of %d (any, replicated)", nshards);
	else if (mode == SHARD_PRUNE_RUNTIME && !(es->analyze && st && st->ran))
		appendStringInfo(&buf, "chosen at run time, of %d", nshards);
	else
	{
		Bitmapset  *targets = NULL;
		ListCell   *lc;
		int			k;

		if (mode == SHARD_PRUNE_RUNTIME)
			targets = st->targets;
		else
			foreach(lc, list_nth(fdw_private, ShardScanPrivateTargets))
				targets = bms_add_member(targets, lfirst_int(lc));
		k = bms_num_members(targets);
		appendStringInfo(&buf, "%d of %d", k, nshards);
		if (k > 0 && k < nshards && k <= shardfdw_explain_shard_list_max)
		{
			appendStringInfoString(&buf, " (");
			append_shard_list(&buf, targets);
			appendStringInfoChar(&buf, ')');
		}
		if (mode == SHARD_PRUNE_RUNTIME)
			appendStringInfoString(&buf, ", chosen at run time");
	}
	ExplainPropertyText("Shards", buf.data, es);

	/* joins and aggregation: what is read, how partials are combined */
	if (fsplan->scan.scanrelid == 0)
		ExplainPropertyText("Relations",
							strVal(list_nth(fdw_private,
											ShardScanPrivateRelations)),
							es);
	if (fsplan->scan.scanrelid == 0)
	{
		char	   *comb = shard_combine_explain(list_nth(fdw_private,
														  ShardScanPrivateCombine));

		if (comb)
			ExplainPropertyText("Combine", comb, es);
	}

	if (list_length(list_nth(fdw_private, ShardScanPrivateSortAttnos)) > 0)
		ExplainPropertyText("Merge",
							strVal(list_nth(fdw_private,
											ShardScanPrivateMergeKeys)),
							es);
	if (intVal(list_nth(fdw_private, ShardScanPrivateLimitCount)) >= 0 ||
		intVal(list_nth(fdw_private, ShardScanPrivateLimitOffset)) > 0)
	{
		int			count = intVal(list_nth(fdw_private,
											ShardScanPrivateLimitCount));
		int			offset = intVal(list_nth(fdw_private,
											 ShardScanPrivateLimitOffset));

		ExplainPropertyText("Limit",
							count >= 0 ?
							psprintf("%d offset %d, after the merge", count,
									 offset) :
							psprintf("all offset %d, after the merge", offset),
							es);
	}
	if (es->verbose)
		ExplainPropertyText("Remote SQL",
							strVal(list_nth(fdw_private, ShardScanPrivateSql)),
							es);
	if (es->analyze && st && st->dm_written)
	{
		/* a direct UPDATE / DELETE: what each shard changed */
		StringInfoData w;

		initStringInfo(&w);
		for (int s = 0; s < st->nshards_total; s++)
			if (st->dm_written[s] > 0)
				appendStringInfo(&w, "%sp%d=%.0f", w.len ? " " : "", s,
								 st->dm_written[s]);
		ExplainPropertyText("Rows Written", w.len ? w.data : "none", es);
	}
	else if (es->analyze && st)
		ExplainPropertyFloat("Rows Fetched", NULL, st->rows_fetched, 0, es);
}
