/*-------------------------------------------------------------------------
 *
 * xact.c
 *		  Remote transactions on the shards: their start, savepoints,
 *		  commit and rollback, mirrored from the local transaction.
 *
 * A shard's remote transaction starts with the first batch sent to it
 * after the local transaction touched it: REPEATABLE READ, or SERIALIZABLE
 * when the local transaction is.  Its commands travel at the head of the
 * next batch (shardxact_owed_commands), so starting it costs no round
 * trip of its own.  Local subtransactions are mirrored by savepoints
 * s<level>, created lazily; a released savepoint is released in front of
 * the next batch (free), a rolled-back one at once.
 *
 * At local pre-commit every remote transaction is committed, all shards in
 * parallel.  A REPEATABLE READ transaction that wrote nothing has nothing
 * to lose: its COMMIT is not waited for, and the connection's next user
 * reads the answer (commit_deferred).  One that wrote (wrote, set by
 * shardxact_mark_written) is always waited for.  At abort every remote
 * transaction is rolled back after cancelling what is in flight, with
 * bounded waits; a connection whose state cannot be restored in time is
 * closed.
 *
 * Two-phase commit: when the local transaction wrote on two or more shards
 * (of servers with two_phase_commit on), pre-commit prepares each of them
 * (PREPARE TRANSACTION 'gid', all in parallel; any failure aborts
 * everything), having first written one row per gid into
 * shardfdw.commit_records inside the local transaction (and flushed it),
 * so that the records exist if and only if the local transaction
 * commits.  After the local commit each shard gets
 * COMMIT PREPARED (after an abort, ROLLBACK PREPARED), in parallel, with a
 * deadline; what fails there is left for
 * shardfdw.recover_prepared_transactions() (recovery.c), which decides by
 * the records.  A gid names the coordinator (system identifier, database),
 * the local transaction and the shard: shardfdw_<sysid>_<db>_<fxid>_<server>_<shard>.
 * Read-only shards are committed one-phase; a single writer too.
 *
 * State: the per-connection fields of ShardConn (xact_depth, xact_pending,
 * wrote, commit_deferred, prefetch_repair, queued) belong to this module;
 * connection.c owns sockets and batches.  The queued commands live in
 * CacheMemoryContext and are dropped at the end of the remote transaction.
 *
 * src/xact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/portal.h"
#include "utils/memutils.h"

#include "connection.h"
#include "option.h"
#include "xact.h"

/* Has the current local transaction used a shard connection? */
static bool xact_got_connection = false;

/*
 * Statement nesting: queries run by the executor, and utility statements
 * (which may run queries of their own: DO, CALL, COPY, EXPLAIN ANALYZE).
 * A statement at executor level 1 under no utility statement, outside a
 * transaction block, is the whole local transaction.
 */
static int	executor_nesting = 0;
static int	utility_nesting = 0;
static bool top_statement_alone = false;	/* see executor_run */
static bool run_to_end = false; /* the innermost run has no row count */

/* A statement of this local transaction committed on its shard alone. */
static bool xact_autocommitted = false;

/*
 * This library was loaded while a statement was running (by a function,
 * DO block or cursor using a foreign table, without
 * shared_preload_libraries): the nesting counted above misses what was
 * already under way, so nothing may commit alone until that statement
 * ends (the end of a transaction while no portal runs: a procedure's
 * COMMIT does not end the CALL).
 */
static bool loaded_mid_statement = false;

/*
 * Callbacks to run when an executor run ends (shardxact_at_run_end), in
 * TopTransactionContext: forgotten at the end of the transaction.
 */
typedef struct RunEndCallback
{
	EState	   *estate;
	void		(*fn) (void *arg);
	void	   *arg;
} RunEndCallback;

static List *run_end_callbacks_list = NIL;

static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;

static void xact_callback(XactEvent event, void *arg);
static void executor_run(QueryDesc *queryDesc, ScanDirection direction,
						 uint64 count, bool execute_once);
static void executor_finish(QueryDesc *queryDesc);
static void subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg);
static bool prepare_writers(void);
static void run_end_callbacks(EState *estate);
static void end_remote_transactions(void);
static void rollback_savepoints(int level);
static void stop_and_run(List *conns, int min_depth, const char *const *steps,
						 int nsteps);
static void forget_run_end(void *arg);
static void collect_prepare(ShardConn *c);
static void record_gids(List *conns);
static void resolve_prepared(bool commit);

/*
 * shardfdw.test_fail_point (superuser, for tests): "<point>:crash" kills
 * this backend (SIGKILL, as a crash of the coordinator) when the commit
 * protocol reaches <point>; "<point>:error" raises an ERROR there;
 * "<point>:pause:<file>" waits there while
 * <file> exists (at most a minute), so that a test can kill or cut a shard
 * meanwhile.  Points: before_prepare (records written), between_prepares,
 * after_prepares, before_commit_prepared (the local transaction
 * committed), between_commit_prepared (xact.c), before_record_delete
 * (recovery.c), and the steps of a shard move, move_after_tables ..
 * move_after_switch (reshard.c).
 */
static char *test_fail_point = NULL;

/* shardxact_init: see xact.h. */
void
shardxact_init(void)
{
	loaded_mid_statement = (ActivePortal != NULL);
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = executor_run;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = executor_finish;

	DefineCustomStringVariable("shardfdw.test_fail_point",
							   "Failure injection in the commit protocol (tests only).",
							   NULL, &test_fail_point, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							   NULL, NULL, NULL);
}

/* shardxact_fail_point: see xact.h. */
void
shardxact_fail_point(const char *point)
{
	size_t		len = strlen(point);
	const char *action;

	if (test_fail_point == NULL ||
		strncmp(test_fail_point, point, len) != 0 ||
		test_fail_point[len] != ':')
		return;
	action = test_fail_point + len + 1;
	if (strcmp(action, "crash") == 0)
	{
		elog(LOG, "shardfdw test fail point %s: crashing", point);
		(void) kill(MyProcPid, SIGKILL);
		pg_usleep(10L * 1000000L);	/* (never reached) */
	}
	else if (strcmp(action, "error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("shardfdw test fail point %s", point)));
	else if (strncmp(action, "pause:", 6) == 0)
	{
		elog(LOG, "shardfdw test fail point %s: pausing", point);
		for (int i = 0; i < 6000 && access(action + 6, F_OK) == 0; i++)
			pg_usleep(10000L);
	}
}

/* ExecutorRun_hook: count the nesting of queries. */
static void
executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			 bool execute_once)
{
	bool		outer_to_end = run_to_end;

	/*
	 * Is the top-level statement alone in what it writes?  Not when it
	 * writes in a CTE or in more than one table, nor when a rule made it
	 * one of several statements of the portal, nor when no portal runs it:
	 * then it is not a client's statement but one of code that may run
	 * several in one transaction (a trigger fired by logical replication's
	 * apply worker, a background worker's SPI, a fast-path function call).
	 */
	if (executor_nesting == 0)
	{
		PlannedStmt *ps = queryDesc->plannedstmt;

		top_statement_alone = !ps->hasModifyingCTE &&
			list_length(ps->resultRelations) <= 1 &&
			ActivePortal != NULL && list_length(ActivePortal->stmts) <= 1;
	}
	executor_nesting++;
	run_to_end = (count == 0);
	PG_TRY();
	{
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
		run_end_callbacks(queryDesc->estate);
	}
	PG_FINALLY();
	{
		executor_nesting--;
		run_to_end = outer_to_end;
	}
	PG_END_TRY();
}

/* shardxact_run_to_end: see xact.h. */
bool
shardxact_run_to_end(void)
{
	return executor_nesting > 0 && run_to_end;
}

/* shardxact_at_run_end: see xact.h. */
void
shardxact_at_run_end(EState *estate, void (*fn) (void *arg), void *arg)
{
	RunEndCallback *cb;
	MemoryContextCallback *gone;
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	cb = palloc(sizeof(RunEndCallback));
	cb->estate = estate;
	cb->fn = fn;
	cb->arg = arg;
	run_end_callbacks_list = lappend(run_end_callbacks_list, cb);
	MemoryContextSwitchTo(old);

	/*
	 * Forgotten when the query's memory goes (an error, a portal dropped);
	 * that memory never outlives the transaction.  The callback struct
	 * lives in it.
	 */
	gone = MemoryContextAlloc(estate->es_query_cxt,
							  sizeof(MemoryContextCallback));
	gone->func = forget_run_end;
	gone->arg = cb;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, gone);
}

/* The query's memory is going: its callback must not run any more. */
static void
forget_run_end(void *arg)
{
	run_end_callbacks_list = list_delete_ptr(run_end_callbacks_list, arg);
}

/*
 * Call (and forget) the callbacks registered for estate, in order: its
 * ExecutorRun has returned, the rows it counted are about to be read.
 */
static void
run_end_callbacks(EState *estate)
{
	ListCell   *lc;
	List	   *mine = NIL;

	foreach(lc, run_end_callbacks_list)
	{
		RunEndCallback *cb = lfirst(lc);

		if (cb->estate == estate)
			mine = lappend(mine, cb);
	}
	foreach(lc, mine)
	{
		RunEndCallback *cb = lfirst(lc);

		run_end_callbacks_list = list_delete_ptr(run_end_callbacks_list, cb);
		cb->fn(cb->arg);
	}
	list_free(mine);
}

/* ExecutorFinish_hook: likewise (AFTER triggers run queries here). */
static void
executor_finish(QueryDesc *queryDesc)
{
	executor_nesting++;
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		executor_nesting--;
	}
	PG_END_TRY();
}

/* shardxact_utility_enter / _leave: see xact.h. */
void
shardxact_utility_enter(void)
{
	utility_nesting++;
}

void
shardxact_utility_leave(void)
{
	utility_nesting--;
}

/*
 * From the backend's libpq/libpq.h (pqcomm.c), which cannot be included
 * here: through libpq-be.h it needs the GSSAPI headers of the build.
 */
extern bool pq_is_reading_msg(void);
extern bool pq_buffer_has_data(void);
extern void pq_startmsgread(void);
extern void pq_endmsgread(void);
extern int	pq_peekbyte(void);

/*
 * Is the running top-level statement the last the client sends in this
 * transaction?  A simple Query message is a transaction of its own (one
 * with several statements is a transaction block).  In the extended
 * protocol everything up to the next Sync is one implicit transaction, so
 * the statement is known to be the last only when that Sync has arrived:
 * it is the next message, already in the receive buffer (as with libpq's
 * PQsendQueryPrepared, which sends Bind, Describe, Execute and Sync at
 * once).  A portal of the extended protocol runs a cached plan; a simple
 * query's portal has none.
 */
static bool
sync_follows(void)
{
	int			next;

	/*
	 * (Not a client's: a background worker that made a portal of its own
	 * to run several statements in one transaction, say.)
	 */
	if (whereToSendOutput != DestRemote || ActivePortal == NULL)
		return false;
	if (ActivePortal->cplan == NULL)
		return true;
	if (pq_is_reading_msg() || !pq_buffer_has_data())
		return false;
	/* (a message read started and ended without consuming a byte) */
	pq_startmsgread();
	next = pq_peekbyte();
	pq_endmsgread();
	return next == 'S';
}

/*
 * shardxact_may_autocommit: see xact.h.  The running statement is all of
 * the local transaction: outside a transaction block, a top-level query
 * under no utility statement, the last statement of its transaction
 * (sync_follows), and nothing has been written locally or on a shard by
 * the transaction so far (no transaction ID assigned: an earlier statement
 * of the same extended-protocol transaction, or a function the statement
 * called before its row was sent).
 */
bool
shardxact_may_autocommit(void)
{
	return !IsTransactionBlock() && executor_nesting == 1 &&
		utility_nesting == 0 && top_statement_alone &&
		!xact_got_connection && !xact_autocommitted && !loaded_mid_statement &&
		!TransactionIdIsValid(GetTopTransactionIdIfAny()) &&
		sync_follows();
}

/* shardxact_note_autocommit: see xact.h. */
void
shardxact_note_autocommit(void)
{
	xact_autocommitted = true;
}

/*
 * shardxact_check_write: see xact.h.  Refuse a write after a statement of
 * the same local transaction committed alone: the two could not be atomic
 * (e.g. several statements executed before one Sync of the extended
 * protocol).
 */
void
shardxact_check_write(void)
{
	if (xact_autocommitted)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("cannot write to shards after a statement of the same transaction committed on its shard alone"),
				 errhint("Run statements that must be atomic together in an explicit transaction block (BEGIN ... COMMIT).")));
}

/* shardxact_note_connection: see xact.h. */
void
shardxact_note_connection(void)
{
	xact_got_connection = true;
}

/* shardxact_shard_locktag: see xact.h (shard -1: the server's). */
void
shardxact_shard_locktag(LOCKTAG *tag, Oid serverid, int shard)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, serverid, (uint32) shard,
						 SHARDFDW_LOCKTAG_SHARD);
}

/*
 * shardxact_lock_for_write: see xact.h.  The first time in a transaction
 * (the lock is new), invalidations are read: if a move of the shard
 * committed while we waited, the connection to its new place is made by
 * the caller's shardconn_get (connect_entries reads the catalog), and a
 * connection this transaction already has to the old place is an error
 * there, as is a statement planned for another number of shards (a split
 * committed: the invalidation makes every connection of the server be
 * remade, which shardconn_get_many checks with shardconn_check_layout).
 * Every caller gets its connections right after this.
 */
void
shardxact_lock_for_write(ForeignServer *server, Bitmapset *shards)
{
	bool		fresh = false;
	int			shard = -1;
	LOCKTAG		tag;

	/* the server's first (see xact.h), then the shards' */
	shardxact_shard_locktag(&tag, server->serverid, -1);
	if (LockAcquire(&tag, RowExclusiveLock, false, false) == LOCKACQUIRE_OK)
		fresh = true;
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		shardxact_shard_locktag(&tag, server->serverid, shard);
		if (LockAcquire(&tag, RowExclusiveLock, false, false) ==
			LOCKACQUIRE_OK)
			fresh = true;
	}
	if (fresh)
		AcceptInvalidationMessages();
}

/* shardxact_mark_written: see xact.h. */
void
shardxact_mark_written(ShardConn *c)
{
	c->wrote = true;
}

/*
 * shardxact_owed_commands: see xact.h.  New savepoints come last: a queued
 * RELEASE of an earlier savepoint of the same level must not release the
 * new one.
 */
List *
shardxact_owed_commands(ShardConn *c)
{
	List	   *cmds = NIL;
	int			level = GetCurrentTransactionNestLevel();

	c->batch_began_xact = false;
	if (c->xact_depth == 0)
	{
		cmds = lappend(cmds, pstrdup(IsolationIsSerializable() ?
									 "START TRANSACTION ISOLATION LEVEL SERIALIZABLE" :
									 "START TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
		c->xact_depth = 1;
		c->batch_began_xact = true;
	}
	if (c->prefetch_repair)
	{
		/* undo a failed speculative statement before anything else */
		cmds = lappend(cmds, pstrdup("ROLLBACK TO SAVEPOINT "
									 SHARDCONN_PREFETCH_SAVEPOINT));
		cmds = lappend(cmds, pstrdup("RELEASE SAVEPOINT "
									 SHARDCONN_PREFETCH_SAVEPOINT));
		c->prefetch_repair = false;
	}
	cmds = list_concat(cmds, c->queued);	/* (copies the cells) */
	list_free(c->queued);
	c->queued = NIL;
	while (c->xact_depth < level)
	{
		c->xact_depth++;
		cmds = lappend(cmds, psprintf("SAVEPOINT s%d", c->xact_depth));
	}
	return cmds;
}

/*
 * Commit (PRE_COMMIT) or roll back (ABORT) every remote transaction with
 * the local one; close connections that are broken, stale or not to be
 * kept once the transaction is over.
 */
static void
xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;

	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
	{
		xact_autocommitted = false;

		/*
		 * The statement under way at the load goes on after a COMMIT or
		 * ROLLBACK inside a procedure or DO block (its portal is still
		 * active): only the end of a top-level transaction ends it.
		 */
		loaded_mid_statement = loaded_mid_statement && ActivePortal != NULL;
		run_end_callbacks_list = NIL;	/* (in TopTransactionContext) */
	}
	if (!xact_got_connection)
		return;

	switch (event)
	{
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_COMMIT:
			{
				List	   *pending;
				ListCell   *lc;

				pending = NIL;

				/*
				 * First make sure every shard that wrote can still commit:
				 * a lost connection (terminated backend, stopped shard) or
				 * a failed remote transaction found now aborts the local
				 * transaction, and so every shard's, before any COMMIT is
				 * sent.  (What fails between the COMMITs is for two-phase
				 * commit to handle.)
				 */
				shardconn_scan_begin(&scan);
				while ((c = shardconn_scan_next(&scan)) != NULL)
				{
					if (c->conn == NULL || c->xact_depth == 0)
						continue;
					if (c->busy)
						shardconn_settle(c);
					if (c->broken)
						ereport(ERROR,
								(errcode(ERRCODE_CONNECTION_FAILURE),
								 errmsg("cannot commit: the remote transaction on %s is in an unknown state",
										shardconn_describe(c))));
					if (c->wrote && !c->prefetch_repair &&
						!shardconn_transaction_healthy(c))
					{
						shardconn_scan_end(&scan);
						c->broken = true;
						ereport(ERROR,
								(errcode(ERRCODE_CONNECTION_FAILURE),
								 errmsg("cannot commit: the remote transaction on %s was lost",
										shardconn_describe(c)),
								 errdetail("The transaction is rolled back on every shard.")));
					}
				}

				/* several shards wrote: prepare them (two-phase commit) */
				(void) prepare_writers();

				shardconn_scan_begin(&scan);
				while ((c = shardconn_scan_next(&scan)) != NULL)
				{
					if (c->conn == NULL || c->xact_depth == 0)
						continue;
					/* COMMIT ends cursors and savepoints: drop the queue */
					list_free_deep(c->queued);
					c->queued = NIL;
					shardconn_send(c, "COMMIT TRANSACTION", 0, NULL, NULL, NULL);

					/*
					 * A REPEATABLE READ transaction that wrote nothing has
					 * nothing to lose: its COMMIT is not waited for, and the
					 * connection's next user reads the result.  That saves
					 * a round trip per lookup.
					 */
					if (!c->wrote && !IsolationIsSerializable())
					{
						c->commit_deferred = true;
						c->xact_depth = 0;
					}
					else
						pending = lappend(pending, c);
				}
				/* all shards commit in parallel; now collect */
				foreach(lc, pending)
				{
					PGresult   *res;
					bool		rolled_back;

					c = lfirst(lc);
					res = shardconn_result(c);
					/* a failed remote transaction answers COMMIT so */
					rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
					PQclear(res);
					c->xact_depth = 0;
					c->wrote = false;
					if (rolled_back)
						ereport(ERROR,
								(errcode(ERRCODE_TRANSACTION_ROLLBACK),
								 errmsg("the remote transaction on %s was rolled back instead of committed",
										shardconn_describe(c))));
				}
				list_free(pending);
				break;
			}
		case XACT_EVENT_PRE_PREPARE:
			shardconn_scan_begin(&scan);
			while ((c = shardconn_scan_next(&scan)) != NULL)
			{
				if (c->conn && c->xact_depth > 0)
				{
					shardconn_scan_end(&scan);
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that has operated on shardfdw foreign tables")));
				}
			}
			break;
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_ABORT:
			/*
			 * The prepared shards learn the local transaction's fate.  On
			 * abort, the remote transactions still open are ended first: a
			 * PREPARE still in flight is cancelled there, and if the cancel
			 * caught it, its transaction is left failed and must be rolled
			 * back before ROLLBACK PREPARED can tell its gid is gone.
			 */
			if (event == XACT_EVENT_COMMIT ||
				event == XACT_EVENT_PARALLEL_COMMIT)
			{
				resolve_prepared(true);
				end_remote_transactions();
			}
			else
			{
				end_remote_transactions();
				resolve_prepared(false);
			}
			shardconn_scan_begin(&scan);
			while ((c = shardconn_scan_next(&scan)) != NULL)
			{
				if (c->conn == NULL || c->commit_deferred)
					continue;
				c->xact_depth = 0;
				c->wrote = false;
				c->prefetch_repair = false;
				list_free_deep(c->queued);
				c->queued = NIL;
				shardconn_clear_batch(c);
				if (c->broken || c->invalidated || !c->keep ||
					PQstatus(c->conn) != CONNECTION_OK ||
					PQtransactionStatus(c->conn) != PQTRANS_IDLE)
					shardconn_disconnect(c);
			}
			xact_got_connection = false;
			break;
	}
}

/*
 * Mirror the end of a local subtransaction on every shard that has a
 * savepoint for it: a release is queued in front of the next batch; a
 * rollback is done at once.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	int			level;

	if (!xact_got_connection ||
		(event != SUBXACT_EVENT_PRE_COMMIT_SUB &&
		 event != SUBXACT_EVENT_ABORT_SUB))
		return;

	level = GetCurrentTransactionNestLevel();
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		rollback_savepoints(level);
		return;
	}
	shardconn_scan_begin(&scan);
	while ((c = shardconn_scan_next(&scan)) != NULL)
	{
		char		sql[100];

		if (c->conn == NULL || c->xact_depth < level)
			continue;
		if (c->busy)
			shardconn_settle(c);
		snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT s%d", level);
		shardconn_queue(c, sql);
		c->xact_depth = level - 1;
	}
}

/*
 * rollback_savepoints: a local subtransaction at nesting level "level"
 * aborts: on every shard that has its savepoint, drop the queued commands
 * and a failed prefetch's savepoint inside the level (they go with the
 * rollback), stop what is in flight, then ROLLBACK TO and RELEASE the
 * savepoint (stop_and_run).
 */
static void
rollback_savepoints(int level)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	List	   *conns = NIL;
	char		rollback[64];
	char		release[64];
	const char *steps[2];
	ListCell   *lc;

	shardconn_scan_begin(&scan);
	while ((c = shardconn_scan_next(&scan)) != NULL)
	{
		if (c->conn == NULL || c->xact_depth < level)
			continue;
		list_free_deep(c->queued);
		c->queued = NIL;
		if (c->prefetch_repair && c->prefetch_repair_level >= level)
			c->prefetch_repair = false;
		conns = lappend(conns, c);
	}
	snprintf(rollback, sizeof(rollback), "ROLLBACK TO SAVEPOINT s%d", level);
	snprintf(release, sizeof(release), "RELEASE SAVEPOINT s%d", level);
	steps[0] = rollback;
	steps[1] = release;
	stop_and_run(conns, level, steps, 2);
	foreach(lc, conns)
		((ShardConn *) lfirst(lc))->xact_depth = level - 1;
	list_free(conns);
}

/*
 * prepare_writers: at pre-commit, when two or more remote transactions
 * wrote and every one's server has two_phase_commit on, prepare them all
 * (in parallel) and record their gids in the local transaction.  Returns
 * whether it did.  A failed PREPARE raises the error: the abort that
 * follows rolls back what was prepared (resolve_prepared).  A prepared
 * shard's connection is out of its transaction (xact_depth 0) and keeps
 * its gid in prepared_gid until resolved.
 */
static bool
prepare_writers(void)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	List	   *writers = NIL;
	ListCell   *lc;
	FullTransactionId fxid;
	bool		first = true;

	shardconn_scan_begin(&scan);
	while ((c = shardconn_scan_next(&scan)) != NULL)
		if (c->conn != NULL && c->xact_depth > 0 && c->wrote)
			writers = lappend(writers, c);
	if (list_length(writers) < 2)
	{
		list_free(writers);
		return false;
	}
	foreach(lc, writers)
	{
		c = lfirst(lc);
		if (!shardfdw_two_phase_commit(GetForeignServer(c->serverid)))
		{
			list_free(writers);
			return false;
		}
	}

	fxid = GetTopFullTransactionId();
	foreach(lc, writers)
	{
		char		gid[200];

		c = lfirst(lc);
		snprintf(gid, sizeof(gid), "shardfdw_" UINT64_FORMAT "_%u_" UINT64_FORMAT "_%u_%d",
				 GetSystemIdentifier(), MyDatabaseId,
				 U64FromFullTransactionId(fxid), c->serverid, c->key.shard);
		free(c->prepared_gid);
		c->prepared_gid = strdup(gid);
		if (c->prepared_gid == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}

	/*
	 * The records first, flushed: their WAL carries our transaction id, so
	 * that after a crash no later transaction can be given the id the gids
	 * name (an id only assigned is not logged, and would be handed out
	 * again), and recovery can tell this transaction is over.  They only
	 * count if the local transaction commits, after every PREPARE.
	 */
	record_gids(writers);
	XLogFlush(XactLastRecEnd);

	/*
	 * The local commit must be durable before any COMMIT PREPARED goes
	 * out, also with synchronous_commit off: were it lost in a crash,
	 * recovery would roll back the shards not yet told, while the others
	 * have committed.
	 */
	ForceSyncCommit();

	shardxact_fail_point("before_prepare");
	foreach(lc, writers)
	{
		char		sql[256];

		c = lfirst(lc);
		/* PREPARE ends cursors and savepoints: drop the queue */
		list_free_deep(c->queued);
		c->queued = NIL;
		snprintf(sql, sizeof(sql), "PREPARE TRANSACTION '%s'", c->prepared_gid);
		shardconn_send(c, sql, 0, NULL, NULL, NULL);

		/* (tests: one shard prepared, the others not yet asked) */
		if (first && test_fail_point && test_fail_point[0] != '\0' &&
			strncmp(test_fail_point, "between_prepares:", 17) == 0)
		{
			collect_prepare(c);
			shardxact_fail_point("between_prepares");
		}
		first = false;
	}
	foreach(lc, writers)
	{
		c = lfirst(lc);
		if (c->xact_depth > 0)	/* (else collected above) */
			collect_prepare(c);
	}
	shardxact_fail_point("after_prepares");
	list_free(writers);
	return true;
}

/*
 * collect_prepare: the answer to c's PREPARE TRANSACTION; c is then out
 * of its remote transaction.  A PREPARE the shard refused leaves nothing
 * prepared (the error is raised); after a lost connection the gid is
 * kept, as the PREPARE may have happened.
 */
static void
collect_prepare(ShardConn *c)
{
	PG_TRY();
	{
		PQclear(shardconn_result(c));
	}
	PG_CATCH();
	{
		c->xact_depth = 0;
		c->wrote = false;
		if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK)
		{
			free(c->prepared_gid);
			c->prepared_gid = NULL;
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	c->xact_depth = 0;
	c->wrote = false;
}

/*
 * record_gids: insert the prepared gid of each of conns into
 * shardfdw.commit_records, in the local transaction (the row is the
 * commit decision).  Inserted directly, with no privilege check: the
 * table belongs to the extension.
 */
static void
record_gids(List *conns)
{
	Oid			nsp = get_namespace_oid("shardfdw", false);
	Oid			relid = get_relname_relid("commit_records", nsp);
	Relation	rel;
	ListCell   *lc;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table shardfdw.commit_records does not exist"),
				 errhint("Update the shardfdw extension (two-phase commit records its decisions there), or set the server option two_phase_commit to false.")));
	rel = table_open(relid, RowExclusiveLock);
	foreach(lc, conns)
	{
		ShardConn  *c = lfirst(lc);
		Datum		values[2];
		bool		nulls[2] = {false, false};
		HeapTuple	tup;

		values[0] = CStringGetTextDatum(c->prepared_gid);
		values[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
		CatalogTupleInsert(rel, tup);
		heap_freetuple(tup);
	}
	table_close(rel, NoLock);
	CommandCounterIncrement();
}

/*
 * resolve_prepared: after the local transaction committed (commit) or
 * aborted, COMMIT or ROLLBACK PREPARED every shard transaction it
 * prepared, all at once, with a deadline.  Nothing here may raise an
 * error: a shard that does not answer in time keeps its prepared
 * transaction, with a WARNING, until shardfdw.recover_prepared_transactions()
 * resolves it by the records.
 */
/*
 * "prepared transaction with identifier ... does not exist" (undefined
 * object): resolved already (by recovery, racing with us), or, after an
 * abort, never prepared.  Either way nothing is left to do.
 */
#define GID_GONE "42704"

static void
resolve_prepared(bool commit)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	ShardConn **conns = NULL;
	const char **sqls = NULL;
	bool	   *ok;
	int			n = 0;
	int			max = 0;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	shardconn_scan_begin(&scan);
	while ((c = shardconn_scan_next(&scan)) != NULL)
	{
		if (c->prepared_gid == NULL)
			continue;
		/* (the answer to a PREPARE may still be on its way) */
		if ((c->busy || c->in_copy) && !shardconn_abandon(c))
			c->broken = true;
		if (n == max)
		{
			max = Max(8, max * 2);
			conns = conns ? repalloc(conns, sizeof(ShardConn *) * max) :
				palloc(sizeof(ShardConn *) * max);
			sqls = sqls ? repalloc(sqls, sizeof(char *) * max) :
				palloc(sizeof(char *) * max);
		}
		conns[n] = c;
		sqls[n] = psprintf("%s PREPARED '%s'", commit ? "COMMIT" : "ROLLBACK",
						   c->prepared_gid);
		n++;
	}
	MemoryContextSwitchTo(old);
	if (n == 0)
		return;

	if (commit)
		shardxact_fail_point("before_commit_prepared");
	ok = palloc(sizeof(bool) * n);
	if (commit && n > 1 && test_fail_point &&
		strncmp(test_fail_point, "between_commit_prepared:", 24) == 0)
	{
		/* (tests: one shard told, the others not yet) */
		shardconn_run_in_abort_many(conns, sqls, 1, ok, GID_GONE);
		shardxact_fail_point("between_commit_prepared");
		shardconn_run_in_abort_many(conns + 1, sqls + 1, n - 1, ok + 1,
									GID_GONE);
	}
	else
		shardconn_run_in_abort_many(conns, sqls, n, ok, GID_GONE);
	for (int i = 0; i < n; i++)
	{
		c = conns[i];
		/*
		 * Not resolved.  (A PREPARE that was refused has no gid here any
		 * more: collect_prepare cleared it.)  On a connection that works,
		 * the gid is there and left for recovery; on one that was lost or
		 * left in an unknown state, it may be (its PREPARE may or may not
		 * have happened): say so too, it may hold locks until recovery.
		 */
		if (!ok[i] && c->conn != NULL && !c->broken)
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("prepared transaction %s on %s is left for shardfdw.recover_prepared_transactions()",
							c->prepared_gid, shardconn_describe(c))));
		else if (!ok[i])
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("prepared transaction %s on %s may remain: its connection was lost before it could be told to %s",
							c->prepared_gid, shardconn_describe(c),
							commit ? "commit" : "roll back"),
					 errhint("shardfdw.recover_prepared_transactions() resolves it.")));
		free(c->prepared_gid);
		c->prepared_gid = NULL;
		pfree((char *) sqls[i]);
	}
	pfree(conns);
	pfree(sqls);
	pfree(ok);
}

/*
 * end_remote_transactions: at the end of the local transaction, stop what
 * is in flight on every connection and roll back the remote transactions
 * still open (after a commit there are none), all shards at once
 * (stop_and_run).  The COMMIT of a read-only transaction still in flight
 * is left to the connection's next user; a connection that is not kept is
 * closed without waiting for it (nothing was written, and a stopped shard
 * must not hold up the end of the local transaction, when interrupts are
 * held).
 */
static void
end_remote_transactions(void)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	List	   *conns = NIL;
	const char *abort_sql = "ABORT TRANSACTION";

	shardconn_scan_begin(&scan);
	while ((c = shardconn_scan_next(&scan)) != NULL)
	{
		if (c->conn == NULL)
			continue;
		if (c->commit_deferred)
		{
			if (c->invalidated || !c->keep)
				shardconn_disconnect(c);
			continue;
		}
		conns = lappend(conns, c);
	}
	stop_and_run(conns, 1, &abort_sql, 1);
	list_free(conns);
}

/*
 * stop_and_run: on the connections of List conns, stop what is in flight
 * (shardconn_abandon_many), then run each of steps[0 .. nsteps-1] on those
 * whose remote nesting is at least min_depth and that are not broken
 * (shardconn_run_in_abort_many): every step on all of them at once, one
 * deadline per step.  A connection where something fails is marked
 * broken and skipped by the later steps.
 */
static void
stop_and_run(List *conns, int min_depth, const char *const *steps, int nsteps)
{
	int			n = list_length(conns);
	ShardConn **todo;
	const char **sqls;
	bool	   *ok;
	int			i;
	ListCell   *lc;

	if (n == 0)
		return;
	todo = palloc(sizeof(ShardConn *) * n);
	sqls = palloc(sizeof(char *) * n);
	ok = palloc(sizeof(bool) * n);

	i = 0;
	foreach(lc, conns)
	{
		ShardConn  *c = lfirst(lc);

		todo[i++] = (c->busy || c->in_copy) ? c : NULL;
	}
	shardconn_abandon_many(todo, n, ok);
	i = 0;
	foreach(lc, conns)
		if (!ok[i++])
			((ShardConn *) lfirst(lc))->broken = true;

	for (int step = 0; step < nsteps; step++)
	{
		i = 0;
		foreach(lc, conns)
		{
			ShardConn  *c = lfirst(lc);

			todo[i] = (c->broken || c->xact_depth < min_depth) ? NULL : c;
			sqls[i++] = steps[step];
		}
		shardconn_run_in_abort_many(todo, sqls, n, ok, NULL);
		for (i = 0; i < n; i++)
			if (todo[i] != NULL && !ok[i])
				todo[i]->broken = true;
	}
	pfree(todo);
	pfree(sqls);
	pfree(ok);
}
