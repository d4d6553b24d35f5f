/*-------------------------------------------------------------------------
 *
 * reshard.c
 *		  Moving a shard to another server online:
 *		  CALL shardfdw.move_shard(server, shard, new_conninfo).
 *
 * The shard's tables (the remote tables of every shardfdw foreign table of
 * the server) are copied to the new place with logical replication, while
 * the old place stays the one every query uses; then, in one short step,
 * writes to that shard are held back, the last changes are waited for,
 * the row counts compared, and pN is switched by ALTER SERVER; the
 * replication is then removed.  The steps:
 *
 *	1. Check the arguments, the caller's ownership of the server, the old
 *	   place's wal_level.  If pN already is new_conninfo (an earlier call
 *	   switched it and stopped before cleaning up), only clean up.
 *	2. Clean up what an earlier, failed attempt left: its subscription on
 *	   the new place (then the rows it copied there are emptied), its slot
 *	   and publication on the old one.
 *	3. Create the tables missing on the new place from the old place's
 *	   definitions (columns, NOT NULL, primary key, unique and check
 *	   constraints, indexes); tables already there must be empty.
 *	   (fail point move_after_tables)
 *	4. On the old place: REPLICA IDENTITY FULL for tables without primary
 *	   key (so that UPDATE and DELETE can be replicated), a publication and
 *	   a logical replication slot; on the new place a subscription using
 *	   that slot, which copies the rows and then streams changes.
 *	   (move_after_subscription)
 *	5. Wait until every table is copied (NOTICEs report progress every
 *	   few seconds) and the new place is less than 1 MB behind.
 *	   (move_after_sync)
 *	6. Switch, in a transaction of its own: take the shard's write lock in
 *	   ExclusiveLock mode (every shardfdw write holds it in RowExclusive
 *	   mode to the end of its transaction, see shardxact_lock_for_write),
 *	   which waits for the writes in flight and holds new ones back;
 *	   (move_after_lock) refuse if the old place has in-doubt prepared
 *	   transactions of shardfdw; wait until the new place has applied
 *	   everything up to the old place's current WAL position; compare row
 *	   counts table by table; flush the new place's WAL; (move_before_
 *	   switch) ALTER SERVER ... OPTIONS (SET pN new_conninfo); commit,
 *	   which releases the lock.  The whole step is bounded by
 *	   shardfdw.move_switch_timeout (lock_timeout for the lock wait, a
 *	   deadline for the rest); past it, the move fails.
 *	   (move_after_switch)
 *	7. Drop the subscription, the slot and the publication; set replica
 *	   identities back.  The old place's tables are left as they are.
 *
 * Invariants: until step 6 commits, pN names the old place, which every
 * read and write uses: a failure at any step leaves it authoritative, and
 * the move can be run again.  A failure before the switch empties what was
 * copied (only tables the move itself filled: tables found non-empty on
 * the new place are refused before anything is created); after the switch
 * nothing is emptied.  Writes to the moving shard that were held back
 * connect to the new place (connect_entries reads the catalog); a
 * transaction that had already used the old place and then writes there
 * gets a serialization failure (shardconn_check_moved).  Reads are never
 * held back: a read that began on the old place finishes there, with the
 * snapshot it started with.
 *
 * Writes that do not go through shardfdw (a client connected to the shard
 * itself) are not held back, and those made to the old place after the
 * switch are lost: stop them first.
 *
 * Connections: two sessions of their own (connection.c), to the old and
 * the new place, each command committing on its own; closed at the end,
 * also on error.  Memory: the procedure's SPI context (a child of the
 * portal's, which survives the commits of step 6).
 *
 * src/reshard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "commands.h"
#include "connection.h"
#include "deparse.h"
#include "option.h"
#include "reshard.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(shardfdw_move_shard);

/* shardfdw.move_switch_timeout, ms: how long the switch may hold writes */
static int	move_switch_timeout = 10000;

#define MOVE_CMD_TIMEOUT_MS		60000	/* an ordinary command */
#define MOVE_LONG_TIMEOUT_MS	3600000 /* a count or a truncate */
#define MOVE_POLL_MS			200
#define MOVE_SWITCH_POLL_MS		20
#define MOVE_NOTICE_MS			5000
#define MOVE_CATCHUP_BYTES		(1024 * 1024)

typedef struct Move
{
	Oid			serverid;
	char	   *servername;
	int			shard;
	char	   *new_conninfo;
	char	   *name;			/* publication, slot and subscription */
	int			ntables;
	char	  **qnames;			/* quoted, schema-qualified remote names */
	char	   *table_list;		/* the same, comma-separated */
	char	   *set_full;		/* we set REPLICA IDENTITY FULL there: the
								 * identity it had ('d' or 'n'), else 0 */
	ShardSession old;
	ShardSession new;
	bool		copying;		/* the new place's tables hold our copy */
	bool		switched;		/* step 6 committed */
	const char *step;			/* for the error context */
} Move;

static void move_run(Move *m);
static void move_open(Move *m, ShardSession *s, const char *conninfo,
					  const char *what);
static void move_collect_tables(Move *m);
static void move_clean_earlier(Move *m);
static void move_prepare_new(Move *m);
static void move_subscribe(Move *m);
static void move_wait_sync(Move *m);
static void move_sync_state(Move *m, int *waiting, int *total, char **rows);
static void move_catch_up(Move *m, TimestampTz deadline, bool switching);
static void move_switch(Move *m);
static void move_drop_replication(Move *m, bool empty_copy);
static char *move_subscription_conninfo(Move *m);
static bool move_bool(ShardSession *s, const char *sql);
static void move_exec(ShardSession *s, const char *sql, long timeout_ms);
static void move_sleep(long ms);
static long switch_left(TimestampTz deadline);
static void move_error_context(void *arg);

/* reshard_init: see reshard.h. */
void
reshard_init(void)
{
	DefineCustomIntVariable("shardfdw.move_switch_timeout",
							"How long shardfdw.move_shard may hold back writes to the moving shard.",
							"Past it, the move fails and the old place stays the shard's.",
							&move_switch_timeout, 10000, 100, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
}

/*
 * shardfdw_move_shard: CALL shardfdw.move_shard(server name, shard int,
 * new_conninfo text).  See the file comment.
 */
Datum
shardfdw_move_shard(PG_FUNCTION_ARGS)
{
	Move		m;
	ForeignServer *server;
	ErrorContextCallback errcb;
	MemoryContext cxt;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("shardfdw.move_shard() cannot run inside a transaction block"),
				 errhint("Run CALL shardfdw.move_shard(...) on its own, outside BEGIN ... COMMIT.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the server, the shard and the new conninfo must not be NULL")));
	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "shardfdw could not connect to SPI");

	/* (from here on, in the SPI procedure context: it survives commits) */
	cxt = CurrentMemoryContext;
	memset(&m, 0, sizeof(m));
	server = shardfdw_server(NameStr(*PG_GETARG_NAME(0)));
	m.serverid = server->serverid;
	m.servername = pstrdup(server->servername);
	m.shard = PG_GETARG_INT32(1);
	m.new_conninfo = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!pg_foreign_server_ownercheck(m.serverid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_SERVER,
					   m.servername);
	if (m.shard < 0 || m.shard >= shardfdw_cluster_size(server))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("server \"%s\" has no shard %d", m.servername, m.shard),
				 errhint("Its shards are numbered 0 to %d.",
						 shardfdw_cluster_size(server) - 1)));
	shardfdw_check_conninfo("new_conninfo", m.new_conninfo);
	m.name = psprintf("shardfdw_move_%u_%d", m.serverid, m.shard);
	m.step = "checking";

	errcb.callback = move_error_context;
	errcb.arg = &m;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	PG_TRY();
	{
		move_run(&m);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/*
		 * Undo the replication (and, before the switch, the copy) as far as
		 * the shards let us, then raise the error.  Only libpq work on our
		 * own sessions is done here: no catalog access, no SPI.
		 */
		error_context_stack = errcb.previous;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (m.old.conn != NULL && m.new.conn != NULL)
		{
			PG_TRY();
			{
				move_drop_replication(&m, m.copying && !m.switched);
			}
			PG_CATCH();
			{
				ErrorData  *e2 = CopyErrorData();

				FlushErrorState();
				ereport(WARNING,
						(errmsg("could not undo the move of shard p%d of server \"%s\": %s",
								m.shard, m.servername, e2->message),
						 errhint("Run the move again: it cleans up first.")));
			}
			PG_END_TRY();
		}
		shardconn_session_close(&m.old);
		shardconn_session_close(&m.new);
		ReThrowError(edata);
	}
	PG_END_TRY();
	error_context_stack = errcb.previous;
	shardconn_session_close(&m.old);
	shardconn_session_close(&m.new);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The steps (see the file comment), with the sessions open.
 */
static void
move_run(Move *m)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	const char *current = shardfdw_shard_conninfo(server, m->shard);
	char	   *what;
	char	   *wal_level;

	/* 1. an earlier call switched already: clean up only */
	if (current != NULL && strcmp(current, m->new_conninfo) == 0)
	{
		m->switched = true;
		move_open(m, &m->new, m->new_conninfo, "the new place");
		if (move_bool(&m->new, shardfdw_deparse_move(MOVE_SQL_HAS_SUBSCRIPTION,
													 m->name, NULL)))
		{
			char	   *conninfo = shardconn_session_value(&m->new,
														   shardfdw_deparse_move(MOVE_SQL_SUBSCRIPTION_CONNINFO,
																				 m->name, NULL),
														   0, NULL,
														   MOVE_CMD_TIMEOUT_MS);
			PQconninfoOption *opts = conninfo ?
				PQconninfoParse(conninfo, NULL) : NULL;
			const char **kw = palloc0(sizeof(char *) * 64);
			const char **val = palloc0(sizeof(char *) * 64);
			int			n = 0;

			if (opts == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot read the connection of subscription %s at the new place of shard p%d",
								m->name, m->shard)));
			for (PQconninfoOption *o = opts; o->keyword && n < 63; o++)
				if (o->val != NULL)
				{
					kw[n] = pstrdup(o->keyword);
					val[n++] = pstrdup(o->val);
				}
			PQconninfoFree(opts);
			m->step = "removing the replication";
			shardconn_session_open(&m->old, kw, val,
								   "the old place of the shard",
								   MOVE_CMD_TIMEOUT_MS);
			move_drop_replication(m, false);
		}
		ereport(NOTICE,
				(errmsg("shard p%d of server \"%s\" is already at the new place",
						m->shard, m->servername)));
		return;
	}

	what = psprintf("the old place of shard p%d", m->shard);
	move_open(m, &m->old, NULL, what);
	what = psprintf("the new place of shard p%d", m->shard);
	move_open(m, &m->new, m->new_conninfo, what);
	wal_level = shardconn_session_value(&m->old,
										shardfdw_deparse_move(MOVE_SQL_WAL_LEVEL,
															  NULL, NULL),
										0, NULL, MOVE_CMD_TIMEOUT_MS);
	if (wal_level == NULL || strcmp(wal_level, "logical") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot move shard p%d of server \"%s\": its server has wal_level \"%s\"",
						m->shard, m->servername,
						wal_level ? wal_level : "unknown"),
				 errhint("Set wal_level = logical on the shard's server and restart it.")));
	move_collect_tables(m);

	/* 2. and 3. */
	m->step = "cleaning up an earlier attempt";
	move_clean_earlier(m);
	m->step = "creating the tables at the new place";
	move_prepare_new(m);
	shardxact_fail_point("move_after_tables");

	/* 4. and 5. */
	m->step = "starting replication";
	move_subscribe(m);
	shardxact_fail_point("move_after_subscription");
	m->step = "copying";
	move_wait_sync(m);
	m->step = "catching up";
	move_catch_up(m, 0, false);
	shardxact_fail_point("move_after_sync");

	/* 6. */
	m->step = "switching";
	move_switch(m);
	shardxact_fail_point("move_after_switch");

	/* 7. */
	m->step = "removing the replication";
	move_drop_replication(m, false);
	ereport(NOTICE,
			(errmsg("shard p%d of server \"%s\" moved to the new place",
					m->shard, m->servername),
			 errdetail("The tables at the old place are left as they were; drop them when they are no longer needed.")));
}

/*
 * Open session s to the shard: at conninfo, or (NULL) where pN says.
 */
static void
move_open(Move *m, ShardSession *s, const char *conninfo, const char *what)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	UserMapping *user = GetUserMapping(GetUserId(), m->serverid);
	const char **kw;
	const char **val;

	shardfdw_conn_params_at(server, user, m->shard, conninfo, &kw, &val);
	shardconn_session_open(s, kw, val, what, MOVE_CMD_TIMEOUT_MS);
}

/*
 * The remote tables of the server's shardfdw foreign tables, each once.
 */
static void
move_collect_tables(Move *m)
{
	List	   *oids = shardfdw_table_oids(m->serverid);
	ListCell   *lc;
	StringInfoData list;

	m->qnames = palloc(sizeof(char *) * Max(list_length(oids), 1));
	m->ntables = 0;
	initStringInfo(&list);
	foreach(lc, oids)
	{
		ShardTableOptions opts;
		char	   *q;
		bool		seen = false;

		shardfdw_get_table_options(lfirst_oid(lc), &opts);
		q = pstrdup(quote_qualified_identifier(opts.schema_name,
											   opts.table_name));
		for (int i = 0; i < m->ntables; i++)
			if (strcmp(m->qnames[i], q) == 0)
				seen = true;
		if (seen)
			continue;
		appendStringInfo(&list, "%s%s", m->ntables > 0 ? ", " : "", q);
		m->qnames[m->ntables++] = q;
	}
	if (m->ntables == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("server \"%s\" has no shardfdw tables to move",
						m->servername),
				 errhint("Without tables, ALTER SERVER ... OPTIONS (SET p%d '...') is all a move does.",
						 m->shard)));
	m->table_list = list.data;
	m->set_full = palloc0(sizeof(char) * m->ntables);
}

/*
 * Step 2: remove what an earlier attempt left.  Its subscription on the
 * new place means the tables there hold its partial copy: empty them.
 */
static void
move_clean_earlier(Move *m)
{
	bool		leftover = move_bool(&m->new,
									 shardfdw_deparse_move(MOVE_SQL_HAS_SUBSCRIPTION,
														   m->name, NULL));

	if (leftover)
		ereport(NOTICE,
				(errmsg("removing what an earlier move of shard p%d left at the new place",
						m->shard)));
	move_drop_replication(m, leftover);
}

/*
 * Step 3: create the tables missing at the new place; those there must be
 * empty.  Also notes which tables need REPLICA IDENTITY FULL (set in step
 * 4), and refuses tables logical replication cannot copy.
 */
static void
move_prepare_new(Move *m)
{
	PGresult   *defs = shardconn_session_exec(&m->old,
											  shardfdw_deparse_move_definitions(m->qnames,
																				m->ntables),
											  0, NULL, MOVE_CMD_TIMEOUT_MS);
	PGresult   *there = shardconn_session_exec(&m->new,
											   shardfdw_deparse_move_exists(m->qnames,
																			m->ntables),
											   0, NULL, MOVE_CMD_TIMEOUT_MS);
	int			created = 0;

	if (PQntuples(defs) != m->ntables || PQntuples(there) != m->ntables)
		elog(ERROR, "unexpected answer to the table definitions query");

	/* first every check, then the changes */
	for (int i = 0; i < m->ntables; i++)
	{
		if (strcmp(PQgetvalue(defs, i, 1), "t") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table %s does not exist at the old place of shard p%d",
							m->qnames[i], m->shard)));
		if (strcmp(PQgetvalue(defs, i, 5), "r") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot move %s: it is not an ordinary table at the old place of shard p%d",
							m->qnames[i], m->shard),
					 errhint("Logical replication copies ordinary tables only.")));
		if (strcmp(PQgetvalue(defs, i, 4), "t") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot move %s: it has generated columns",
							m->qnames[i]),
					 errhint("Logical replication does not copy generated columns.")));
		if (strcmp(PQgetvalue(there, i, 1), "t") == 0 &&
			move_bool(&m->new, shardfdw_deparse_move(MOVE_SQL_HAS_ROWS, NULL,
													 m->qnames[i])))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table %s at the new place of shard p%d is not empty",
							m->qnames[i], m->shard),
					 errhint("Empty or drop it there: a move copies every row itself.")));
	}
	for (int i = 0; i < m->ntables; i++)
	{
		m->set_full[i] = strcmp(PQgetvalue(defs, i, 3), "t") == 0 ?
			PQgetvalue(defs, i, 6)[0] : 0;
		if (strcmp(PQgetvalue(there, i, 1), "t") == 0)
			continue;
		move_exec(&m->new, PQgetvalue(defs, i, 2), MOVE_CMD_TIMEOUT_MS);
		created++;
	}
	PQclear(defs);
	PQclear(there);
	if (created > 0)
		ereport(NOTICE,
				(errmsg("created %d of %d tables at the new place of shard p%d",
						created, m->ntables, m->shard)));
}

/*
 * Step 4: publication and slot at the old place, subscription at the new
 * one.  (The slot is made first, by us: a subscription that creates its
 * own slot hangs when both places are databases of one server.)
 */
static void
move_subscribe(Move *m)
{
	for (int i = 0; i < m->ntables; i++)
		if (m->set_full[i])
			move_exec(&m->old, shardfdw_deparse_move(MOVE_SQL_IDENTITY_FULL,
													 NULL, m->qnames[i]),
					  MOVE_CMD_TIMEOUT_MS);
	move_exec(&m->old, shardfdw_deparse_move(MOVE_SQL_CREATE_PUBLICATION,
											 m->name, m->table_list),
			  MOVE_CMD_TIMEOUT_MS);
	move_exec(&m->old, shardfdw_deparse_move(MOVE_SQL_CREATE_SLOT, m->name,
											 NULL),
			  MOVE_CMD_TIMEOUT_MS);
	m->copying = true;
	move_exec(&m->new, shardfdw_deparse_move(MOVE_SQL_CREATE_SUBSCRIPTION,
											 m->name,
											 move_subscription_conninfo(m)),
			  MOVE_CMD_TIMEOUT_MS);
}

/*
 * The conninfo by which the new place's subscription reaches the old
 * place: the shard's connection parameters, credentials included (they are
 * kept in pg_subscription, which only superusers read), without the
 * session settings shardfdw adds for itself.
 */
static char *
move_subscription_conninfo(Move *m)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	UserMapping *user = GetUserMapping(GetUserId(), m->serverid);
	const char **kw;
	const char **val;
	StringInfoData buf;

	shardfdw_conn_params(server, user, m->shard, &kw, &val);
	initStringInfo(&buf);
	for (int i = 0; kw[i] != NULL; i++)
	{
		if (strcmp(kw[i], "options") == 0 ||
			strcmp(kw[i], "application_name") == 0 ||
			strcmp(kw[i], "client_encoding") == 0)
			continue;
		appendStringInfo(&buf, "%s%s='", buf.len > 0 ? " " : "", kw[i]);
		for (const char *p = val[i]; *p; p++)
		{
			if (*p == '\'' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '\'');
	}
	return buf.data;
}

/*
 * Step 5: wait until the subscription has copied every table, reporting
 * progress.  A copy or apply error at the new place fails the move (the
 * new place's log says more).
 */
static void
move_wait_sync(Move *m)
{
	TimestampTz last_notice = GetCurrentTimestamp();

	for (;;)
	{
		int			waiting;
		int			total;
		char	   *rows;

		move_sync_state(m, &waiting, &total, &rows);
		if (total > 0 && waiting == 0)
			break;
		if (TimestampDifferenceExceeds(last_notice, GetCurrentTimestamp(),
									   MOVE_NOTICE_MS))
		{
			ereport(NOTICE,
					(errmsg("moving shard p%d: %d of %d tables copied, %s rows copied in the tables still being copied",
							m->shard, total - waiting, total, rows)));
			last_notice = GetCurrentTimestamp();
		}
		move_sleep(MOVE_POLL_MS);
	}
	ereport(NOTICE,
			(errmsg("moving shard p%d: all %d tables copied", m->shard,
					m->ntables)));
}

/*
 * The state of the subscription: tables still being copied, all tables,
 * rows copied so far (palloc'd text).  A copy or apply error at the new
 * place (a conflict, a table changed at the old place meanwhile) fails the
 * move; the new place's log says more.
 */
static void
move_sync_state(Move *m, int *waiting, int *total, char **rows)
{
	PGresult   *res = shardconn_session_exec(&m->new,
											 shardfdw_deparse_move(MOVE_SQL_SYNC_STATE,
																   m->name, NULL),
											 0, NULL, MOVE_CMD_TIMEOUT_MS);
	bool		failed;

	if (PQntuples(res) != 1)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the subscription %s at the new place of shard p%d disappeared",
						m->name, m->shard)));
	}
	*waiting = atoi(PQgetvalue(res, 0, 0));
	*total = atoi(PQgetvalue(res, 0, 1));
	*rows = pstrdup(PQgetvalue(res, 0, 2));
	failed = strcmp(PQgetvalue(res, 0, 3), "0") != 0;
	PQclear(res);
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("logical replication to the new place of shard p%d failed",
						m->shard),
				 errhint("The new place's server log tells why; a table changed at the old place during the move is one reason.")));
}

/*
 * Wait until the new place has applied the old place's WAL up to its
 * current position: before the switch (switching false) only to within
 * MOVE_CATCHUP_BYTES, with progress NOTICEs and no deadline; during it
 * (switching) all of it, by deadline.
 */
static void
move_catch_up(Move *m, TimestampTz deadline, bool switching)
{
	TimestampTz last_notice = GetCurrentTimestamp();
	const char *current = shardfdw_deparse_move(MOVE_SQL_CURRENT_LSN, NULL,
												NULL);
	char	   *lsn = shardconn_session_value(&m->old, current, 0, NULL,
											  MOVE_CMD_TIMEOUT_MS);

	for (;;)
	{
		char	   *behind = shardconn_session_value(&m->new,
													 shardfdw_deparse_move(MOVE_SQL_RECEIVED,
																		   m->name, lsn),
													 0, NULL,
													 MOVE_CMD_TIMEOUT_MS);
		double		bytes = behind ? strtod(behind, NULL) : -1;

		if (behind != NULL &&
			(bytes <= 0 || (!switching && bytes < MOVE_CATCHUP_BYTES)))
			return;
		if (!switching)
		{
			int			waiting;
			int			total;
			char	   *rows;

			move_sync_state(m, &waiting, &total, &rows);
		}
		if (switching && GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("the new place of shard p%d did not catch up within shardfdw.move_switch_timeout (%d ms)",
							m->shard, move_switch_timeout),
					 errdetail("%s bytes of WAL were still to be applied.",
							   behind ? behind : "unknown"),
					 errhint("Run the move again when the shard is less busy, or raise shardfdw.move_switch_timeout.")));
		if (!switching)
		{
			if (TimestampDifferenceExceeds(last_notice, GetCurrentTimestamp(),
										   MOVE_NOTICE_MS))
			{
				ereport(NOTICE,
						(errmsg("moving shard p%d: the new place is %s bytes behind",
								m->shard, behind ? behind : "unknown")));
				last_notice = GetCurrentTimestamp();
			}
			/* the old place moves on: measure against its new position */
			lsn = shardconn_session_value(&m->old, current, 0, NULL,
										  MOVE_CMD_TIMEOUT_MS);
		}
		move_sleep(switching ? MOVE_SWITCH_POLL_MS : MOVE_POLL_MS);
	}
}

/*
 * Step 6, in a transaction of its own (see the file comment).
 */
static void
move_switch(Move *m)
{
	ForeignServer *server;
	TimestampTz deadline;
	LOCKTAG		tag;
	char		timeout[32];
	char	   *gid;
	StringInfoData sql;

	SPI_commit();
	snprintf(timeout, sizeof(timeout), "%d", move_switch_timeout);
	(void) set_config_option("lock_timeout", timeout, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   move_switch_timeout);
	m->step = "holding back the shard's writes (waiting for the writes in flight)";
	shardxact_shard_locktag(&tag, m->serverid, m->shard);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	m->step = "switching";
	shardxact_fail_point("move_after_lock");

	gid = shardconn_session_value(&m->old,
								  shardfdw_deparse_move(MOVE_SQL_IN_DOUBT, NULL,
														NULL),
								  0, NULL, MOVE_CMD_TIMEOUT_MS);
	if (gid != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard p%d has an in-doubt prepared transaction of shardfdw: %s",
						m->shard, gid),
				 errhint("Run SELECT shardfdw.recover_prepared_transactions(), then the move again.")));

	move_catch_up(m, deadline, true);

	/* every row arrived: the counts agree */
	for (int i = 0; i < m->ntables; i++)
	{
		const char *count = shardfdw_deparse_move(MOVE_SQL_COUNT, NULL,
												  m->qnames[i]);
		char	   *a = shardconn_session_value(&m->old, count, 0, NULL,
												switch_left(deadline));
		char	   *b = shardconn_session_value(&m->new, count, 0, NULL,
												switch_left(deadline));

		if (a == NULL || b == NULL || strcmp(a, b) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("table %s has %s rows at the old place of shard p%d but %s at the new one",
							m->qnames[i], a ? a : "?", m->shard, b ? b : "?"),
					 errdetail("The shard stays at its old place.")));
	}
	/* what the new place applied is on its disk */
	move_exec(&m->new, shardfdw_deparse_move(MOVE_SQL_FLUSH, NULL, NULL),
			  MOVE_CMD_TIMEOUT_MS);
	shardxact_fail_point("move_before_switch");

	server = GetForeignServer(m->serverid);
	initStringInfo(&sql);
	appendStringInfo(&sql, "ALTER SERVER %s OPTIONS (%s p%d %s)",
					 quote_identifier(m->servername),
					 shardfdw_shard_conninfo(server, m->shard) ? "SET" : "ADD",
					 m->shard, quote_literal_cstr(m->new_conninfo));
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "shardfdw could not switch the shard: %s", sql.data);
	if (GetCurrentTimestamp() >= deadline)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("switching shard p%d took longer than shardfdw.move_switch_timeout (%d ms)",
						m->shard, move_switch_timeout),
				 errhint("Run the move again when the shard is less busy, or raise shardfdw.move_switch_timeout.")));
	SPI_commit();
	m->switched = true;
	ereport(NOTICE,
			(errmsg("shard p%d of server \"%s\" switched to the new place",
					m->shard, m->servername)));
}

/*
 * Remove the replication of the move, in an order that can be repeated
 * from any point: the subscription is disabled, its slot (once the old
 * place's walsender let go of it) and the publication dropped, replica
 * identities set back, and the subscription, detached from the slot,
 * dropped last; as long as it exists, a new attempt finds it and starts
 * over.  empty_copy: also empty the new place's tables, which hold a copy
 * nobody uses (a move that failed before its switch).
 */
static void
move_drop_replication(Move *m, bool empty_copy)
{
	bool		subscribed = move_bool(&m->new,
									   shardfdw_deparse_move(MOVE_SQL_HAS_SUBSCRIPTION,
															 m->name, NULL));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   MOVE_CMD_TIMEOUT_MS);

	if (subscribed)
		move_exec(&m->new, shardfdw_deparse_move(MOVE_SQL_DISABLE_SUBSCRIPTION,
												 m->name, NULL),
				  MOVE_CMD_TIMEOUT_MS);
	while (move_bool(&m->old, shardfdw_deparse_move(MOVE_SQL_SLOT_ACTIVE,
													m->name, NULL)))
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot %s at the old place of shard p%d is still in use",
							m->name, m->shard)));
		move_sleep(MOVE_SWITCH_POLL_MS);
	}
	move_exec(&m->old, shardfdw_deparse_move(MOVE_SQL_DROP_SLOT, m->name,
											 NULL),
			  MOVE_CMD_TIMEOUT_MS);
	move_exec(&m->old, shardfdw_deparse_move(MOVE_SQL_DROP_PUBLICATION,
											 m->name, NULL),
			  MOVE_CMD_TIMEOUT_MS);
	for (int i = 0; i < m->ntables; i++)
		if (m->set_full != NULL && m->set_full[i])
		{
			move_exec(&m->old, shardfdw_deparse_move(m->set_full[i] == 'n' ?
													 MOVE_SQL_IDENTITY_NOTHING :
													 MOVE_SQL_IDENTITY_DEFAULT,
													 NULL, m->qnames[i]),
					  MOVE_CMD_TIMEOUT_MS);
			m->set_full[i] = 0;
		}
	if (empty_copy && m->table_list != NULL)
	{
		PGresult   *there = shardconn_session_exec(&m->new,
												   shardfdw_deparse_move_exists(m->qnames,
																				m->ntables),
												   0, NULL,
												   MOVE_CMD_TIMEOUT_MS);
		StringInfoData list;

		initStringInfo(&list);
		for (int i = 0; i < m->ntables && i < PQntuples(there); i++)
			if (strcmp(PQgetvalue(there, i, 1), "t") == 0)
				appendStringInfo(&list, "%s%s", list.len > 0 ? ", " : "",
								 m->qnames[i]);
		PQclear(there);
		if (list.len > 0)
			move_exec(&m->new, shardfdw_deparse_move(MOVE_SQL_TRUNCATE, NULL,
													 list.data),
					  MOVE_LONG_TIMEOUT_MS);
		m->copying = false;
	}
	if (subscribed)
		move_exec(&m->new, shardfdw_deparse_move(MOVE_SQL_DROP_SUBSCRIPTION,
												 m->name, NULL),
				  MOVE_CMD_TIMEOUT_MS);
}

/*
 * Milliseconds left of the switch (at least 1: a command sent with a past
 * deadline fails at once, naming itself).
 */
static long
switch_left(TimestampTz deadline)
{
	long		secs;
	int			usecs;

	TimestampDifference(GetCurrentTimestamp(), deadline, &secs, &usecs);
	return Max(secs * 1000 + usecs / 1000, 1);
}

/* The boolean (or count > 0) answer of sql on s. */
static bool
move_bool(ShardSession *s, const char *sql)
{
	char	   *v = shardconn_session_value(s, sql, 0, NULL,
											MOVE_LONG_TIMEOUT_MS);

	return v != NULL && (strcmp(v, "t") == 0 || atol(v) > 0);
}

/* Run sql on s, discarding its result. */
static void
move_exec(ShardSession *s, const char *sql, long timeout_ms)
{
	PQclear(shardconn_session_exec(s, sql, 0, NULL, timeout_ms));
}

/* Sleep ms, waking for interrupts. */
static void
move_sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/* Error context: which move, at which step. */
static void
move_error_context(void *arg)
{
	Move	   *m = (Move *) arg;

	errcontext("moving shard p%d of server \"%s\" (%s)", m->shard,
			   m->servername, m->step);
}
