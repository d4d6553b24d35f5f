/*-------------------------------------------------------------------------
 *
 * recovery.c
 *		  Resolving the prepared transactions that two-phase commit left on
 *		  the shards: shardfdw.recover_prepared_transactions().
 *
 * xact.c prepares the shards of a transaction that wrote on several of
 * them, records each gid in shardfdw.commit_records inside the local
 * transaction, and after the local commit (or abort) tells the shards.
 * A crash of the coordinator, or a shard or connection lost at the wrong
 * moment, leaves prepared transactions behind.  Their fate was decided by
 * the local transaction:
 *
 *	- the local transaction is still running: leave it;
 *	- it is over and a record exists (read with a snapshot taken after
 *	  that check): it committed, so COMMIT PREPARED;
 *	- it is over and left no record: it aborted (or died before its
 *	  commit), so ROLLBACK PREPARED.
 *
 * A record whose gid is prepared on no shard any more was committed: it
 * is deleted.  Only gids of this coordinator database are touched (they
 * start with shardfdw_<system identifier>_<database OID>_).
 *
 * With shardfdw in shared_preload_libraries and shardfdw.recovery_databases
 * set, one background worker per listed database runs the function right
 * after the server starts and then every shardfdw.recovery_interval
 * seconds (0: only at start), as the bootstrap superuser (who needs a user
 * mapping for each server, or a PUBLIC one); so a COMMIT PREPARED that
 * failed is retried.
 *
 * Invariant: a record is only deleted after its shard has answered that
 * the gid is not (or no longer) prepared there.  Shard connections are
 * the session's cached ones (connection.c); every command runs alone, in
 * the shard's implicit transaction (COMMIT PREPARED may not run inside a
 * transaction block), with the usual interruptible waits.
 *
 * src/recovery.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_foreign_server.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "connection.h"
#include "option.h"
#include "recovery.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(shardfdw_recover_prepared_transactions);

/* GUCs of the recovery worker (see the file comment) */
static char *recovery_databases = NULL;
static int	recovery_interval = 60;

PGDLLEXPORT void shardfdw_recovery_main(Datum arg);

/*
 * Run sql alone on c (the shard's implicit transaction); the result, for
 * the caller to PQclear.  Errors are raised naming the shard.
 */
static PGresult *
run_alone(ShardConn *c, const char *sql)
{
	shardconn_send_autocommit(c, sql, 0, NULL);
	return shardconn_result(c);
}

/*
 * Run COMMIT / ROLLBACK PREPARED sql alone on c.  False when the gid is
 * gone meanwhile (the session that prepared it resolved it first), true
 * when done; other errors are raised.
 */
static bool
resolve_alone(ShardConn *c, const char *sql)
{
	ShardConn  *one[1];

	shardconn_send_autocommit(c, sql, 0, NULL);
	one[0] = c;
	(void) shardconn_wait_any(one, 1);
	if (c->batch_error && !c->batch_lost &&
		PQresultErrorField(c->batch_error, PG_DIAG_SQLSTATE) &&
		strcmp(PQresultErrorField(c->batch_error, PG_DIAG_SQLSTATE),
			   "42704") == 0)
	{
		shardconn_clear_batch(c);
		return false;
	}
	PQclear(shardconn_result(c));
	return true;
}

/*
 * Does shardfdw.commit_records hold gid, as of now?  Read with a snapshot
 * taken here, not the statement's: the caller has just seen that gid's
 * local transaction is over, and must see its record if it committed,
 * also when that commit came after this statement (or this transaction,
 * under REPEATABLE READ) took its snapshot.
 */
static bool
has_record(const char *gid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	SPIPlanPtr	plan;

	args[0] = CStringGetTextDatum(gid);
	plan = SPI_prepare("SELECT 1 FROM shardfdw.commit_records WHERE gid = $1",
					   1, argtypes);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "shardfdw could not read shardfdw.commit_records");
	SPI_freeplan(plan);
	return SPI_processed > 0;
}

/* Delete gid's record (SPI is connected already). */
static void
delete_record(const char *gid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	args[0] = CStringGetTextDatum(gid);
	if (SPI_execute_with_args("DELETE FROM shardfdw.commit_records WHERE gid = $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "shardfdw could not delete from shardfdw.commit_records");
}

/* Append one row (server, shard, gid, action) to the function's result. */
static void
report_action(ReturnSetInfo *rsinfo, const char *server, int shard,
			  const char *gid, const char *action)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = CStringGetTextDatum(server);
	values[1] = Int32GetDatum(shard);
	values[2] = CStringGetTextDatum(gid);
	values[3] = CStringGetTextDatum(action);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Resolve the prepared transactions of this coordinator database on shard
 * "shard" of server: see the file comment.  Records of this shard found
 * prepared are added to *seen (palloc'd strings).
 */
static void
recover_shard(ReturnSetInfo *rsinfo, ForeignServer *server, int shard,
			  const char *prefix, List **seen)
{
	UserMapping *user = GetUserMapping(GetUserId(), server->serverid);
	ShardConn  *c = shardconn_get(server, user, shard);
	StringInfoData sql;
	PGresult   *res;
	int			n;

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT gid FROM pg_catalog.pg_prepared_xacts"
					 " WHERE database = current_database()"
					 " AND starts_with(gid, '%s') ORDER BY gid", prefix);
	res = run_alone(c, sql.data);
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		char	   *gid = pstrdup(PQgetvalue(res, i, 0));
		const char *action;
		uint64		fxid = 0;
		uint32		serverid = 0;
		int			gshard = -1;

		/* shardfdw_<sysid>_<db>_<fxid>_<server>_<shard> */
		if (sscanf(gid + strlen(prefix), UINT64_FORMAT "_%u_%d", &fxid,
				   &serverid, &gshard) != 3 ||
			serverid != server->serverid || gshard != shard)
			continue;			/* not of this server and shard */
		*seen = lappend(*seen, gid);
		resetStringInfo(&sql);

		/*
		 * First whether the local transaction is still running, then (if
		 * not) whether it left a record.  The other order is wrong: a
		 * transaction could commit between a look at the records that
		 * missed it and the look at the running transactions, and its
		 * prepared shards would be rolled back.
		 */
		if (TransactionIdIsInProgress(XidFromFullTransactionId(FullTransactionIdFromU64(fxid))))
			action = "in progress";
		else if (has_record(gid))
		{
			appendStringInfo(&sql, "COMMIT PREPARED '%s'", gid);
			action = resolve_alone(c, sql.data) ? "committed" : "record removed";
			shardxact_fail_point("before_record_delete");
			delete_record(gid);
		}
		else
		{
			appendStringInfo(&sql, "ROLLBACK PREPARED '%s'", gid);
			action = resolve_alone(c, sql.data) ? "rolled back" : "gone";
		}
		report_action(rsinfo, server->servername, shard, gid, action);
	}
	PQclear(res);
	pfree(sql.data);
}

/*
 * try_recover_shard: recover_shard in a subtransaction.  A shard that
 * cannot be reached, or fails, is reported as a WARNING and a row with
 * action "failed: <message>"; false then.
 */
static bool
try_recover_shard(ReturnSetInfo *rsinfo, ForeignServer *server, int shard,
				  const char *prefix, List **seen)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		recover_shard(rsinfo, server, shard, prefix, seen);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errmsg("could not recover the prepared transactions of shard p%d of server \"%s\": %s",
						shard, server->servername, edata->message)));
		report_action(rsinfo, server->servername, shard, "",
					  psprintf("failed: %s", edata->message));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * shardfdw.recover_prepared_transactions(): see shardfdw--1.0.sql and the
 * file comment.  Every shard of every shardfdw server is asked; one that
 * cannot be reached (or fails) is skipped with a WARNING and a "failed"
 * row, and its records are kept: run it again when the shard is back.
 */
Datum
shardfdw_recover_prepared_transactions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		prefix[64];
	List	   *servers = NIL;
	List	   *seen = NIL;
	List	   *failed = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	snprintf(prefix, sizeof(prefix), "shardfdw_" UINT64_FORMAT "_%u_",
			 GetSystemIdentifier(), MyDatabaseId);

	/* every command runs alone on its shard: no remote transaction open */
	{
		HASH_SEQ_STATUS scan;
		ShardConn  *c;

		shardconn_scan_begin(&scan);
		while ((c = shardconn_scan_next(&scan)) != NULL)
			if (c->conn != NULL &&
				(c->xact_depth != 0 || c->queued != NIL || c->prefetch_repair))
			{
				shardconn_scan_end(&scan);
				ereport(ERROR,
						(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
						 errmsg("cannot recover prepared transactions in a transaction that has used shardfdw tables"),
						 errhint("Call shardfdw.recover_prepared_transactions() in a transaction of its own.")));
			}
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "shardfdw could not connect to SPI");
	if (SPI_execute("SELECT s.oid FROM pg_catalog.pg_foreign_server s"
					" JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
					" WHERE w.fdwhandler = 'shardfdw.shardfdw_handler'::regproc"
					" ORDER BY s.srvname", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "shardfdw could not list its servers");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		servers = lappend_oid(servers,
							  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc,
															 1, &isnull)));
	}

	foreach(lc, servers)
	{
		ForeignServer *server = GetForeignServer(lfirst_oid(lc));
		int			nshards = shardfdw_cluster_size(server);

		for (int shard = 0; shard < nshards; shard++)
			if (!try_recover_shard(rsinfo, server, shard, prefix, &seen))
				failed = lappend(failed, psprintf("%u_%d", server->serverid,
												  shard));
	}

	/* records prepared nowhere any more: committed already */
	if (SPI_execute("SELECT gid FROM shardfdw.commit_records ORDER BY gid",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "shardfdw could not read shardfdw.commit_records");
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		nrec = SPI_processed;
		List	   *gone = NIL;

		for (uint64 i = 0; i < nrec; i++)
		{
			char	   *gid = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
			ListCell   *lc2;
			bool		found = false;

			foreach(lc2, seen)
				if (strcmp(lfirst(lc2), gid) == 0)
					found = true;
			if (!found && strncmp(gid, prefix, strlen(prefix)) == 0)
				gone = lappend(gone, gid);
		}
		foreach(lc, gone)
		{
			char	   *gid = lfirst(lc);
			uint64		fxid;
			uint32		serverid;
			int			shard;
			ForeignServer *server;

			ListCell   *lc3;
			bool		unknown = false;

			if (sscanf(gid + strlen(prefix), UINT64_FORMAT "_%u_%d", &fxid,
					   &serverid, &shard) != 3 ||
				(server = GetForeignServerExtended(serverid, FSV_MISSING_OK)) == NULL)
				continue;
			/* (a shard that could not be asked may still have it prepared) */
			foreach(lc3, failed)
				if (strcmp(lfirst(lc3), psprintf("%u_%d", serverid, shard)) == 0)
					unknown = true;
			if (unknown)
				continue;
			delete_record(gid);
			report_action(rsinfo, server->servername, shard, gid,
						  "record removed");
		}
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * shardfdw_recovery_init: from _PG_init.  Defines the worker's settings
 * and, while shared_preload_libraries are loaded, registers one worker per
 * database of shardfdw.recovery_databases.
 */
void
shardfdw_recovery_init(void)
{
	char	   *list;
	List	   *names;
	ListCell   *lc;

	DefineCustomIntVariable("shardfdw.recovery_interval",
							"Seconds between two runs of the recovery worker (0: only at start).",
							NULL, &recovery_interval, 60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	/* (a postmaster setting exists only when loaded with the server) */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("shardfdw.recovery_databases",
							   "Databases whose prepared transactions a background worker recovers.",
							   "A comma-separated list; needs shardfdw in shared_preload_libraries.",
							   &recovery_databases, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("shardfdw");
	if (recovery_databases == NULL || recovery_databases[0] == '\0')
		return;
	list = pstrdup(recovery_databases);
	if (!SplitIdentifierString(list, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in shardfdw.recovery_databases")));
	foreach(lc, names)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 10;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "shardfdw");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "shardfdw_recovery_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "shardfdw recovery %s",
				 (char *) lfirst(lc));
		snprintf(worker.bgw_type, BGW_MAXLEN, "shardfdw recovery");
		strlcpy(worker.bgw_extra, lfirst(lc), BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * shardfdw_recovery_main: the recovery worker of the database named in
 * bgw_extra.  Each round is a transaction of its own that calls
 * shardfdw.recover_prepared_transactions() if the extension is installed.
 * An error ends the worker, which the postmaster starts again 10 s later.
 */
void
shardfdw_recovery_main(Datum arg)
{
	char		dbname[BGW_EXTRALEN];

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);

	for (;;)
	{
		uint64		done = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "shardfdw recovery worker could not connect to SPI");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING,
							   "SELECT shardfdw.recover_prepared_transactions()");
		if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'shardfdw'",
						true, 1) == SPI_OK_SELECT && SPI_processed > 0 &&
			SPI_execute("SELECT count(*) FROM shardfdw.recover_prepared_transactions() WHERE action <> 'in progress'",
						false, 0) == SPI_OK_SELECT && SPI_processed > 0)
		{
			bool		isnull;

			done = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1,
											   &isnull));
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);
		if (done > 0)
			elog(LOG, "shardfdw recovery worker resolved " UINT64_FORMAT " prepared transactions or records in database \"%s\"",
				 done, dbname);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH |
						 (recovery_interval > 0 ? WL_TIMEOUT : 0),
						 recovery_interval * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
