/*-------------------------------------------------------------------------
 *
 * reshard.c
 *		  Moving and splitting shards online:
 *		  CALL shardfdw.move_shard(server, shard, new_conninfo) and
 *		  CALL shardfdw.split_shards(server, new_conninfos).
 *
 * Both copy shards to new places with logical replication while the old
 * places stay the ones every query uses, then switch the server's pN
 * options to the new places in one short step.  A move has one "stream":
 * the tables of shard k copied whole to one new place.  A split of N
 * shards into 2N has 2N streams: shard i of the new layout gets, from old
 * shard i mod N, the rows whose remainder modulo 2N is i (a publication
 * row filter computing PostgreSQL's hash partitioning; replicated tables
 * whole; tables without placement stay on shard i < N).  The old places
 * are never changed (but for a temporary replica identity): until the
 * switch, queries read them; after it, the new places.  There is no moment
 * when a row is in two places the server names, and no delete pass.
 *
 * The steps (each stream, then all of them before the next step):
 *
 *	1. Check the arguments, the caller's ownership of the server, the old
 *	   places' wal_level.  If the server already names the new places (an
 *	   earlier call switched and stopped before cleaning up), only clean up.
 *	2. Clean up what an earlier, failed attempt left: its subscriptions on
 *	   the new places (then the rows they copied there are emptied), its
 *	   slots and publications on the old ones.
 *	3. Create the tables missing at the new places from the old places'
 *	   definitions (columns, NOT NULL, primary key, unique and check
 *	   constraints, indexes); tables already there must be empty.
 *	   (fail point move_after_tables)
 *	4. On each old place: REPLICA IDENTITY FULL where the identity does not
 *	   cover what replication needs, a publication (with row filters for a
 *	   split) and a logical replication slot; on the new place a
 *	   subscription using that slot, which copies the rows and then streams
 *	   changes.  (move_after_subscription)
 *	5. Wait until every table is copied (NOTICEs report progress every few
 *	   seconds) and every new place is less than 1 MB behind.
 *	   (move_after_sync)
 *	6. Switch, in a transaction of its own: take the moving shard's write
 *	   lock (a split: the server's) in ExclusiveLock mode (every shardfdw
 *	   write holds both in RowExclusive mode to the end of its transaction,
 *	   see shardxact_lock_for_write), which waits for the writes in flight
 *	   and holds new ones back; (move_after_lock) refuse if an old place has
 *	   in-doubt prepared transactions of shardfdw; wait until each new place
 *	   has applied everything up to its old place's current WAL position;
 *	   compare (filtered) row counts table by table; flush the new places'
 *	   WAL; (move_before_switch) ALTER SERVER ... OPTIONS (SET pN ... [,
 *	   ADD pN ...]); commit, which releases the locks.  The whole step is
 *	   bounded by shardfdw.move_switch_timeout (lock_timeout for the lock
 *	   wait, a deadline for the rest); past it, the operation fails.
 *	   (move_after_switch)
 *	7. Drop the subscriptions, the slots and the publications; set replica
 *	   identities back.  The old places' tables are left as they are.
 *
 * Invariants: until step 6 commits, the server names the old places, which
 * every read and write uses: a failure at any step leaves them
 * authoritative, and the operation can be run again.  A failure before the
 * switch empties what was copied (only tables the operation itself
 * filled: tables found non-empty at a new place are refused before
 * anything is created); after the switch nothing is emptied.  Writes that
 * were held back connect to the new places (connect_entries reads the
 * catalog); a transaction that had already used an old place and goes on
 * using that shard gets a serialization failure (check_moved in
 * connection.c), and so does a statement planned for N shards that runs
 * on after a split switched to 2N (shardconn_check_layout).  Reads are
 * never held back: a read that began on the old places finishes there,
 * with the snapshot it started with.
 *
 * Writes that do not go through this coordinator database (a client
 * connected to the shard itself, another coordinator) are not held back,
 * and those made to an old place after the switch are lost: stop them
 * first.  DDL on the tables during the operation breaks the replication,
 * which fails the operation.
 *
 * Connections: two sessions of their own per stream (connection.c), to
 * the old and the new place, each command committing on its own; closed
 * at the end, also on error.  Memory: the procedure's SPI context (a child
 * of the portal's, which survives the commits of step 6).
 *
 * src/reshard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "commands.h"
#include "connection.h"
#include "deparse.h"
#include "option.h"
#include "reshard.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(shardfdw_move_shard);
PG_FUNCTION_INFO_V1(shardfdw_split_shards);

/* shardfdw.move_switch_timeout, ms: how long the switch may hold writes */
static int	move_switch_timeout = 10000;

#define MOVE_CMD_TIMEOUT_MS		60000	/* an ordinary command */
#define MOVE_LONG_TIMEOUT_MS	3600000 /* a truncate, an emptiness test */
#define MOVE_POLL_MS			200
#define MOVE_SWITCH_POLL_MS		20
#define MOVE_NOTICE_MS			5000
#define MOVE_CATCHUP_BYTES		(1024 * 1024)
#define MOVE_STALL_MS			300000	/* a copy that makes no progress */
#define MOVE_PREPARED_WAIT_MS	10000	/* a prepared transaction that stays */

/* One copy: the tables of an old shard (filtered) to one new place. */
typedef struct Stream
{
	int			source;			/* old shard number */
	int			target;			/* shard number in the new layout */
	char	   *conninfo;		/* the new place */
	char	   *name;			/* publication, slot and subscription */
	char	  **filters;		/* per table: row filter, NULL for all */
	char	   *set_full;		/* per table: we set REPLICA IDENTITY FULL
								 * at the old place, which had this identity
								 * ('d' or 'n'); 0 if not */
	char	   *source_conninfo;	/* pN of the source when copying began */
	ShardSession old;
	ShardSession new;
	bool		copying;		/* the new place's tables hold our copy */
	bool		published;		/* our publication may exist at the old
								 * place: its replica identities must stay */
	char	   *identities;		/* of the publication dropped: "<identity>
								 * <table>" lines to set back */
} Stream;

typedef struct Move
{
	Oid			serverid;
	char	   *servername;
	const char *what;			/* "move" or "split", for messages */
	int			nshards;		/* shards before */
	int			new_nshards;	/* and after */
	int			nstreams;
	Stream	   *streams;
	int			ntables;
	char	  **qnames;			/* quoted, schema-qualified remote names */
	char	  **columns;		/* remote distribution columns (or NULL) */
	ShardTableOptions *opts;	/* per table, of one of its foreign tables */
	bool		started;		/* step 2 began: the streams' state is known */
	bool		locked;			/* step 6 holds the old shards' write locks */
	bool		switched;		/* step 6 committed */
	const char *step;			/* for the error context */
} Move;

static void reshard(Move *m);
static void reshard_run(Move *m);
static bool already_switched(Move *m);
static void open_stream(Move *m, Stream *st);
static void collect_tables(Move *m);
static void check_places(Move *m);
static void check_unchanged(Move *m);
static void prepare_new(Move *m, Stream *st, bool create);
static void subscribe(Move *m, Stream *st);
static char *subscription_conninfo(Move *m, Stream *st);
static void wait_sync(Move *m);
static void sync_state(Stream *st, int *waiting, int *total, char **rows);
static void catch_up(Stream *st, TimestampTz deadline, bool switching);
static void switch_layout(Move *m);
static void drop_replication(Move *m, bool empty_copy);
static void drop_stream(Move *m, Stream *st, bool empty_copy);
static bool remote_bool(ShardSession *s, const char *sql);
static void remote_exec(ShardSession *s, const char *sql, long timeout_ms);
static void move_sleep(long ms);
static long switch_left(TimestampTz deadline);
static int	switch_lock_shard(Move *m);
static void take_switch_lock(Move *m);
static void begin_procedure(FunctionCallInfo fcinfo, const char *name);
static ForeignServer *owned_server(Move *m, Name srvname);
static void reshard_error_context(void *arg);

/* reshard_init: see reshard.h. */
void
reshard_init(void)
{
	DefineCustomIntVariable("shardfdw.move_switch_timeout",
							"How long shardfdw.move_shard and split_shards may hold back writes to the shards they switch.",
							"Past it, the operation fails and the old places stay the shards'.",
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
	Stream	   *st;

	begin_procedure(fcinfo, "move_shard");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the server, the shard and the new conninfo must not be NULL")));

	memset(&m, 0, sizeof(m));
	m.what = "move";
	server = owned_server(&m, PG_GETARG_NAME(0));
	m.new_nshards = m.nshards;
	m.nstreams = 1;
	m.streams = palloc0(sizeof(Stream));
	st = &m.streams[0];
	st->source = st->target = PG_GETARG_INT32(1);
	st->conninfo = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (st->source < 0 || st->source >= m.nshards)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("server \"%s\" has no shard %d", server->servername,
						st->source),
				 errhint("Its shards are numbered 0 to %d.", m.nshards - 1)));
	shardfdw_check_conninfo("new_conninfo", st->conninfo);
	st->name = psprintf("shardfdw_move_%u_%d", m.serverid, st->target);
	reshard(&m);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * shardfdw_split_shards: CALL shardfdw.split_shards(server name,
 * new_conninfos text[]): the N shards of server become 2N, shard i of the
 * new layout at new_conninfos[i + 1].  See the file comment.
 */
Datum
shardfdw_split_shards(PG_FUNCTION_ARGS)
{
	Move		m;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	begin_procedure(fcinfo, "split_shards");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the server and the new conninfos must not be NULL")));

	memset(&m, 0, sizeof(m));
	m.what = "split";
	(void) owned_server(&m, PG_GETARG_NAME(0));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &n);

	/* (an earlier call may have switched: then the server has 2N) */
	if (n != 2 * m.nshards && n != m.nshards)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a split of server \"%s\" needs %d new conninfos, not %d",
						m.servername, 2 * m.nshards, n),
				 errdetail("Shard i of the %d shards after the split lives at element i + 1; every shard gets a new place.",
						   2 * m.nshards)));
	if (n == m.nshards)
	{
		if (n % 2 != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a split of server \"%s\" needs %d new conninfos, not %d",
							m.servername, 2 * m.nshards, n)));
		m.nshards = n / 2;
	}
	m.new_nshards = n;
	m.nstreams = n;
	m.streams = palloc0(sizeof(Stream) * n);
	for (int i = 0; i < n; i++)
	{
		Stream	   *st = &m.streams[i];

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the new conninfos must not contain NULL")));
		st->target = i;
		st->source = i % m.nshards;
		st->conninfo = TextDatumGetCString(elems[i]);
		shardfdw_check_conninfo("new_conninfos", st->conninfo);
		st->name = psprintf("shardfdw_split_%u_%d", m.serverid, i);
	}
	reshard(&m);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * CALL only, outside a transaction block: the switch commits on its own.
 * Connects to SPI in non-atomic mode (the caller SPI_finish()es); from
 * then on, CurrentMemoryContext is the procedure's, which survives the
 * commits.
 */
static void
begin_procedure(FunctionCallInfo fcinfo, const char *name)
{
	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("shardfdw.%s() cannot run inside a transaction block",
						name),
				 errhint("Run CALL shardfdw.%s(...) on its own, outside BEGIN ... COMMIT.",
						 name)));
	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "shardfdw could not connect to SPI");
}

/*
 * The shardfdw server named srvname, which the caller must own (the switch
 * runs ALTER SERVER); fills m's server fields.
 */
static ForeignServer *
owned_server(Move *m, Name srvname)
{
	ForeignServer *server = shardfdw_server(NameStr(*srvname));

	m->serverid = server->serverid;
	m->servername = pstrdup(server->servername);
	m->nshards = shardfdw_cluster_size(server);
	if (!pg_foreign_server_ownercheck(m->serverid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_SERVER,
					   m->servername);
	return server;
}

/*
 * Run the operation; on error, undo the replication (and, before the
 * switch, the copies) as far as the shards let us, close the sessions and
 * raise the error.
 */
static void
reshard(Move *m)
{
	ErrorContextCallback errcb;
	MemoryContext cxt = CurrentMemoryContext;

	LOCKTAG		optag;

	/*
	 * One operation per server at a time, for its whole length (a session
	 * lock: the switch's commit must not release it).  Two would use the
	 * same names and undo each other's work.
	 */
	SET_LOCKTAG_ADVISORY(optag, MyDatabaseId, m->serverid, 0,
						 SHARDFDW_LOCKTAG_OPERATION);
	if (LockAcquire(&optag, ExclusiveLock, true, true) ==
		LOCKACQUIRE_NOT_AVAIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("another move or split of server \"%s\" is running",
						m->servername)));

	m->step = "checking";
	errcb.callback = reshard_error_context;
	errcb.arg = m;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	PG_TRY();
	{
		reshard_run(m);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* (only libpq work on our own sessions here: no catalog, no SPI) */
		error_context_stack = errcb.previous;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();

		/* the shards' writes go on at once, not after the cleanup */
		if (m->locked)
		{
			LOCKTAG		tag;

			shardxact_shard_locktag(&tag, m->serverid, switch_lock_shard(m));
			(void) LockRelease(&tag, ExclusiveLock, false);
		}
		PG_TRY();
		{
			/* (before step 2, what is there is an earlier attempt's) */
			if (m->started || m->switched)
				drop_replication(m, !m->switched);
		}
		PG_CATCH();
		{
			ErrorData  *e2 = CopyErrorData();

			FlushErrorState();
			ereport(WARNING,
					(errmsg("could not undo the %s of server \"%s\": %s",
							m->what, m->servername, e2->message),
					 errhint("Run it again: it cleans up first.")));
		}
		PG_END_TRY();
		for (int i = 0; i < m->nstreams; i++)
		{
			shardconn_session_close(&m->streams[i].old);
			shardconn_session_close(&m->streams[i].new);
		}
		LockRelease(&optag, ExclusiveLock, true);
		ReThrowError(edata);
	}
	PG_END_TRY();
	error_context_stack = errcb.previous;
	for (int i = 0; i < m->nstreams; i++)
	{
		shardconn_session_close(&m->streams[i].old);
		shardconn_session_close(&m->streams[i].new);
	}
	LockRelease(&optag, ExclusiveLock, true);
}

/*
 * The steps (see the file comment).
 */
static void
reshard_run(Move *m)
{
	if (already_switched(m))
		return;
	if (shardfdw_cluster_size(GetForeignServer(m->serverid)) != m->nshards)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a split of server \"%s\" needs %d new conninfos, not %d",
						m->servername,
						2 * shardfdw_cluster_size(GetForeignServer(m->serverid)),
						m->nstreams)));

	for (int i = 0; i < m->nstreams; i++)
		open_stream(m, &m->streams[i]);
	check_places(m);
	collect_tables(m);

	/* 2. and 3. */
	m->step = "cleaning up an earlier attempt";
	for (int i = 0; i < m->nstreams; i++)
		m->streams[i].copying =
			remote_bool(&m->streams[i].new,
						shardfdw_deparse_move(MOVE_SQL_HAS_SUBSCRIPTION,
											  m->streams[i].name, NULL));
	m->started = true;
	for (int i = 0; i < m->nstreams; i++)
		if (m->streams[i].copying)
		{
			ereport(NOTICE,
					(errmsg("removing what an earlier %s of server \"%s\" left at the new places",
							m->what, m->servername)));
			break;
		}
	drop_replication(m, true);
	m->step = "creating the tables at the new places";
	for (int i = 0; i < m->nstreams; i++)
		prepare_new(m, &m->streams[i], false);	/* every check first */
	for (int i = 0; i < m->nstreams; i++)
		prepare_new(m, &m->streams[i], true);
	shardxact_fail_point("move_after_tables");

	/* 4. and 5. */
	m->step = "starting replication";
	for (int i = 0; i < m->nstreams; i++)
		subscribe(m, &m->streams[i]);
	shardxact_fail_point("move_after_subscription");
	m->step = "copying";
	wait_sync(m);
	m->step = "catching up";
	for (int i = 0; i < m->nstreams; i++)
		catch_up(&m->streams[i], 0, false);
	shardxact_fail_point("move_after_sync");

	/* 6. */
	m->step = "switching";
	switch_layout(m);
	shardxact_fail_point("move_after_switch");

	/* 7. */
	m->step = "removing the replication";
	drop_replication(m, false);
	ereport(NOTICE,
			(errmsg("%s of server \"%s\" done: %d shards at their new places",
					m->what, m->servername, m->nstreams),
			 errdetail("The tables at the old places are left as they were; drop them when they are no longer needed.")));
}

/*
 * Step 1's second half: does the server name the new places already?
 * Then an earlier call switched and stopped before cleaning up: remove
 * what it left (the old places are found through the subscriptions) and
 * return true.
 */
static bool
already_switched(Move *m)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	UserMapping *user = GetUserMapping(GetUserId(), m->serverid);

	if (shardfdw_cluster_size(server) != m->new_nshards)
		return false;
	for (int i = 0; i < m->nstreams; i++)
	{
		const char *current = shardfdw_shard_conninfo(server,
													  m->streams[i].target);

		if (current == NULL || strcmp(current, m->streams[i].conninfo) != 0)
			return false;
	}

	m->switched = true;
	m->step = "removing the replication";
	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];
		const char **kw;
		const char **val;
		char	   *conninfo;
		PQconninfoOption *opts;
		int			n = 0;

		shardfdw_conn_params(server, user, st->target, &kw, &val);
		shardconn_session_open(&st->new, kw, val,
							   psprintf("shard p%d", st->target),
							   MOVE_CMD_TIMEOUT_MS);
		if (!remote_bool(&st->new, shardfdw_deparse_move(MOVE_SQL_HAS_SUBSCRIPTION,
														 st->name, NULL)))
			continue;
		conninfo = shardconn_session_value(&st->new,
										   shardfdw_deparse_move(MOVE_SQL_SUBSCRIPTION_CONNINFO,
																 st->name, NULL),
										   0, NULL, MOVE_CMD_TIMEOUT_MS);
		opts = conninfo ? PQconninfoParse(conninfo, NULL) : NULL;
		if (opts == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot read the connection of subscription %s at shard p%d",
							st->name, st->target)));
		kw = palloc0(sizeof(char *) * 64);
		val = palloc0(sizeof(char *) * 64);
		for (PQconninfoOption *o = opts; o->keyword && n < 63; o++)
			if (o->val != NULL)
			{
				kw[n] = pstrdup(o->keyword);
				val[n++] = pstrdup(o->val);
			}
		PQconninfoFree(opts);
		shardconn_session_open(&st->old, kw, val,
							   psprintf("the old place of shard p%d", st->source),
							   MOVE_CMD_TIMEOUT_MS);
	}
	/* (the streams whose old place we reached; identities set back too) */
	drop_replication(m, false);
	ereport(NOTICE,
			(errmsg("server \"%s\" already names the new places", m->servername)));
	return true;
}

/*
 * Open the sessions of a stream and check its old place's wal_level.
 */
static void
open_stream(Move *m, Stream *st)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	UserMapping *user = GetUserMapping(GetUserId(), m->serverid);
	const char **kw;
	const char **val;
	char	   *wal_level;

	st->source_conninfo = shardfdw_shard_conninfo(server, st->source) ?
		pstrdup(shardfdw_shard_conninfo(server, st->source)) : NULL;
	shardfdw_conn_params(server, user, st->source, &kw, &val);
	shardconn_session_open(&st->old, kw, val,
						   psprintf("the old place of shard p%d", st->source),
						   MOVE_CMD_TIMEOUT_MS);
	shardfdw_conn_params_at(server, user, st->source, st->conninfo, &kw, &val);
	shardconn_session_open(&st->new, kw, val,
						   psprintf("the new place of shard p%d", st->target),
						   MOVE_CMD_TIMEOUT_MS);
	wal_level = shardconn_session_value(&st->old,
										shardfdw_deparse_move(MOVE_SQL_WAL_LEVEL,
															  NULL, NULL),
										0, NULL, MOVE_CMD_TIMEOUT_MS);
	if (wal_level == NULL || strcmp(wal_level, "logical") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s shard p%d of server \"%s\": its server has wal_level \"%s\"",
						m->what, st->source, m->servername,
						wal_level ? wal_level : "unknown"),
				 errhint("Set wal_level = logical on the shard's server and restart it.")));
}

/*
 * Refuse new places that are places of the server already, or the same as
 * each other: the copy (and, on failure, its emptying) would land on a
 * shard in use.  A place is a database of a cluster (system identifier
 * and database name), whatever conninfo names it.
 */
static void
check_places(Move *m)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	UserMapping *user = GetUserMapping(GetUserId(), m->serverid);
	const char *sql = shardfdw_deparse_move(MOVE_SQL_PLACE, NULL, NULL);
	ShardProbe *probes = palloc0(sizeof(ShardProbe) * m->nshards);
	char	  **current = palloc0(sizeof(char *) * m->nshards);
	char	  **fresh = palloc0(sizeof(char *) * m->nstreams);

	for (int k = 0; k < m->nshards; k++)
	{
		probes[k].server = server;
		probes[k].user = user;
		probes[k].shard = k;
	}
	shardconn_probe(probes, m->nshards, sql, "shardfdw reshard", 10000);
	for (int k = 0; k < m->nshards; k++)
	{
		if (probes[k].result == NULL || PQntuples(probes[k].result) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("cannot tell whether a new place is shard p%d of server \"%s\": it did not answer",
							k, m->servername),
					 errdetail_internal("%s", probes[k].error ? probes[k].error : "")));
		current[k] = pstrdup(PQgetvalue(probes[k].result, 0, 0));
		PQclear(probes[k].result);
	}
	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];

		fresh[i] = shardconn_session_value(&st->new, sql, 0, NULL,
										   MOVE_CMD_TIMEOUT_MS);
		for (int k = 0; k < m->nshards; k++)
			if (fresh[i] && strcmp(fresh[i], current[k]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the new place of shard p%d is shard p%d of server \"%s\" already",
								st->target, k, m->servername),
						 errhint("A new place must be a database that no shard of the server uses.")));
		for (int j = 0; j < i; j++)
			if (fresh[i] && fresh[j] && strcmp(fresh[i], fresh[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("shards p%d and p%d would have the same new place",
								m->streams[j].target, st->target)));
	}
}

/*
 * Under the write locks: nothing the copy relies on changed meanwhile (the
 * old places, the number of shards, the set of tables); else refuse the
 * switch, whose counts would not tell.
 */
static void
check_unchanged(Move *m)
{
	ForeignServer *server;
	List	   *oids;
	ListCell   *lc;

	AcceptInvalidationMessages();
	server = GetForeignServer(m->serverid);
	if (shardfdw_cluster_size(server) != m->nshards)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the number of shards of server \"%s\" changed during the %s",
						m->servername, m->what)));
	for (int i = 0; i < m->nstreams; i++)
	{
		const char *now = shardfdw_shard_conninfo(server,
												  m->streams[i].source);
		const char *then = m->streams[i].source_conninfo;

		if ((now == NULL) != (then == NULL) ||
			(now != NULL && strcmp(now, then) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("shard p%d of server \"%s\" changed place during the %s",
							m->streams[i].source, m->servername, m->what)));
	}
	oids = shardfdw_table_oids(m->serverid);
	foreach(lc, oids)
	{
		ShardTableOptions opts;
		char	   *q;
		bool		known = false;

		shardfdw_get_table_options(lfirst_oid(lc), &opts);
		q = quote_qualified_identifier(opts.schema_name, opts.table_name);
		for (int t = 0; t < m->ntables; t++)
			if (strcmp(m->qnames[t], q) == 0)
				known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("foreign table \"%s\" of server \"%s\" appeared during the %s",
							get_rel_name(opts.relid), m->servername, m->what),
					 errhint("Run it again: the new table is copied too.")));
	}
}

/*
 * The remote tables of the server's shardfdw foreign tables, each once,
 * and each stream's row filters for them.
 */
static void
collect_tables(Move *m)
{
	List	   *oids = shardfdw_table_oids(m->serverid);
	ListCell   *lc;

	m->qnames = palloc(sizeof(char *) * Max(list_length(oids), 1));
	m->columns = palloc0(sizeof(char *) * Max(list_length(oids), 1));
	m->opts = palloc(sizeof(ShardTableOptions) * Max(list_length(oids), 1));
	m->ntables = 0;
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
		m->opts[m->ntables] = opts;
		if (opts.dist_attno > 0)
			m->columns[m->ntables] = shardfdw_column_name(opts.relid,
														  opts.dist_attno);
		m->qnames[m->ntables++] = q;
	}
	if (m->ntables == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("server \"%s\" has no shardfdw tables to %s",
						m->servername, m->what),
				 errhint("Without tables, ALTER SERVER ... OPTIONS is all it takes.")));

	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];

		st->filters = palloc0(sizeof(char *) * m->ntables);
		st->set_full = palloc0(sizeof(char) * m->ntables);
		if (m->new_nshards == m->nshards)
			continue;			/* a move copies every row */
		for (int t = 0; t < m->ntables; t++)
			st->filters[t] = shardfdw_deparse_split_filter(&m->opts[t],
														   m->columns[t],
														   m->new_nshards,
														   st->target);
	}
}

/*
 * Step 3 for one stream: check, then (create) create the tables missing at
 * the new place; those there must be empty.  Also notes which tables need REPLICA IDENTITY FULL
 * (set in step 4), and refuses tables logical replication cannot copy.
 */
static void
prepare_new(Move *m, Stream *st, bool create)
{
	PGresult   *defs;
	PGresult   *there;
	int			created = 0;

	/* (a move's publication has no row filter: no column to cover) */
	char	  **columns = m->new_nshards != m->nshards ? m->columns :
		palloc0(sizeof(char *) * m->ntables);

	defs = shardconn_session_exec(&st->old,
								  shardfdw_deparse_move_definitions(m->qnames,
																	columns,
																	m->ntables),
								  0, NULL, MOVE_CMD_TIMEOUT_MS);
	there = shardconn_session_exec(&st->new,
								   shardfdw_deparse_move_exists(m->qnames,
																m->ntables),
								   0, NULL, MOVE_CMD_TIMEOUT_MS);
	if (PQntuples(defs) != m->ntables || PQntuples(there) != m->ntables)
		elog(ERROR, "unexpected answer to the table definitions query");

	/* first every check, then the changes */
	for (int i = 0; i < m->ntables; i++)
	{
		if (strcmp(PQgetvalue(defs, i, 1), "t") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table %s does not exist at the old place of shard p%d",
							m->qnames[i], st->source)));
		if (strcmp(PQgetvalue(defs, i, 5), "r") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot %s %s: it is not an ordinary table at the old place of shard p%d",
							m->what, m->qnames[i], st->source),
					 errhint("Logical replication copies ordinary tables only.")));
		if (strcmp(PQgetvalue(defs, i, 4), "t") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot %s %s: it has generated columns",
							m->what, m->qnames[i]),
					 errhint("Logical replication does not copy generated columns.")));
		if (strcmp(PQgetvalue(defs, i, 3), "t") == 0 &&
			PQgetvalue(defs, i, 6)[0] == 'i')
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot %s %s: its replica identity index does not cover the distribution column",
							m->what, m->qnames[i]),
					 errhint("Use REPLICA IDENTITY DEFAULT or FULL on the shards during the %s.",
							 m->what)));
		if (strcmp(PQgetvalue(there, i, 1), "t") == 0 &&
			remote_bool(&st->new, shardfdw_deparse_move(MOVE_SQL_HAS_ROWS, NULL,
														m->qnames[i])))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table %s at the new place of shard p%d is not empty",
							m->qnames[i], st->target),
					 errhint("Empty or drop it there: a %s copies every row itself.",
							 m->what)));
	}
	for (int i = 0; i < m->ntables && create; i++)
	{
		st->set_full[i] = strcmp(PQgetvalue(defs, i, 3), "t") == 0 ?
			PQgetvalue(defs, i, 6)[0] : 0;
		if (strcmp(PQgetvalue(there, i, 1), "t") == 0)
			continue;
		remote_exec(&st->new, PQgetvalue(defs, i, 2), MOVE_CMD_TIMEOUT_MS);
		created++;
	}
	PQclear(defs);
	PQclear(there);
	if (created > 0)
		ereport(NOTICE,
				(errmsg("created %d of %d tables at the new place of shard p%d",
						created, m->ntables, st->target)));
}

/*
 * Step 4 for one stream: publication and slot at the old place,
 * subscription at the new one.  (The slot is made first, by us: a
 * subscription that creates its own slot hangs when both places are
 * databases of one server.)
 */
static void
subscribe(Move *m, Stream *st)
{
	st->published = true;
	remote_exec(&st->old,
				shardfdw_deparse_move_publication(st->name, m->qnames,
												  st->filters, st->set_full,
												  m->ntables),
				MOVE_CMD_TIMEOUT_MS);
	/*
	 * A logical slot is made only once every transaction running on its
	 * server has ended: a prepared transaction left in doubt would hold it
	 * up for good.  One prepared before we look and still there seconds
	 * later is not a two-phase commit on its way.
	 */
	{
		char	   *since = shardconn_session_value(&st->old,
													shardfdw_deparse_move(MOVE_SQL_NOW,
																		  NULL, NULL),
													0, NULL,
													MOVE_CMD_TIMEOUT_MS);
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   MOVE_PREPARED_WAIT_MS);
		char	   *gid;

		while ((gid = shardconn_session_value(&st->old,
											  shardfdw_deparse_move(MOVE_SQL_PREPARED_ANY,
																	NULL, since),
											  0, NULL,
											  MOVE_CMD_TIMEOUT_MS)) != NULL &&
			   GetCurrentTimestamp() < deadline)
			move_sleep(MOVE_POLL_MS);
		if (gid != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the server of shard p%d has a prepared transaction, %s, which would hold up the %s",
							st->source, gid, m->what),
					 errhint("Resolve it first (shardfdw.recover_prepared_transactions() resolves those of shardfdw), then run this again.")));
	}
	remote_exec(&st->old, shardfdw_deparse_move(MOVE_SQL_CREATE_SLOT, st->name,
												NULL),
				MOVE_CMD_TIMEOUT_MS);
	st->copying = true;
	remote_exec(&st->new, shardfdw_deparse_move(MOVE_SQL_CREATE_SUBSCRIPTION,
												st->name,
												subscription_conninfo(m, st)),
				MOVE_CMD_TIMEOUT_MS);
}

/*
 * The conninfo by which a new place's subscription reaches the old place:
 * the shard's connection parameters, credentials included (they are kept
 * in pg_subscription, which only superusers read), without the session
 * settings shardfdw adds for itself.
 */
static char *
subscription_conninfo(Move *m, Stream *st)
{
	ForeignServer *server = GetForeignServer(m->serverid);
	UserMapping *user = GetUserMapping(GetUserId(), m->serverid);
	const char **kw;
	const char **val;
	StringInfoData buf;

	shardfdw_conn_params(server, user, st->source, &kw, &val);
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
 * Step 5: wait until every subscription has copied every table, reporting
 * progress.
 */
static void
wait_sync(Move *m)
{
	TimestampTz last_notice = GetCurrentTimestamp();
	TimestampTz last_progress = GetCurrentTimestamp();
	int			last_waiting = -1;
	double		last_rows = -1;

	for (;;)
	{
		int			waiting = 0;
		int			total = 0;
		double		copied = 0;

		for (int i = 0; i < m->nstreams; i++)
		{
			int			w;
			int			t;
			char	   *rows;

			sync_state(&m->streams[i], &w, &t, &rows);
			waiting += w;
			total += t;
			copied += strtod(rows, NULL);
			if (t == 0)
				waiting++;		/* (its tables not listed yet) */
		}
		if (waiting == 0)
			break;

		/*
		 * No table done and no row copied for minutes: the new places
		 * probably lack logical replication workers, or the old ones
		 * walsenders or slots.
		 */
		if (waiting != last_waiting || copied != last_rows)
		{
			last_waiting = waiting;
			last_rows = copied;
			last_progress = GetCurrentTimestamp();
		}
		else if (TimestampDifferenceExceeds(last_progress,
											GetCurrentTimestamp(),
											MOVE_STALL_MS))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("the copy to the new places made no progress for %d seconds",
							MOVE_STALL_MS / 1000),
					 errhint("Check the new places' logs: each needs a logical replication worker per subscription plus copy workers (max_logical_replication_workers, max_worker_processes), and each old place a walsender and a slot per copy (max_wal_senders, max_replication_slots).")));
		if (TimestampDifferenceExceeds(last_notice, GetCurrentTimestamp(),
									   MOVE_NOTICE_MS))
		{
			ereport(NOTICE,
					(errmsg("%s of server \"%s\": %d of %d table copies done",
							m->what, m->servername, total - waiting, total)));
			last_notice = GetCurrentTimestamp();
		}
		move_sleep(MOVE_POLL_MS);
	}
	ereport(NOTICE,
			(errmsg("%s of server \"%s\": all tables copied", m->what,
					m->servername)));
}

/*
 * The state of a stream's subscription: tables still being copied, all
 * tables, rows being copied at its new place now (palloc'd text).  A copy
 * or apply error at the new place (a conflict, a table changed at the old
 * place meanwhile) fails the operation; the new place's log says more.
 */
static void
sync_state(Stream *st, int *waiting, int *total, char **rows)
{
	PGresult   *res = shardconn_session_exec(&st->new,
											 shardfdw_deparse_move(MOVE_SQL_SYNC_STATE,
																   st->name, NULL),
											 0, NULL, MOVE_CMD_TIMEOUT_MS);
	bool		failed;

	if (PQntuples(res) != 1)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the subscription %s at the new place of shard p%d disappeared",
						st->name, st->target)));
	}
	*waiting = atoi(PQgetvalue(res, 0, 0));
	*total = atoi(PQgetvalue(res, 0, 1));
	*rows = pstrdup(PQgetvalue(res, 0, 2));
	/*
	 * An apply error is not retried away; a copy may fail a few times for
	 * want of walsenders or slots at the old place while the other copies
	 * run, and is retried.
	 */
	failed = strcmp(PQgetvalue(res, 0, 3), "0") != 0 ||
		atoi(PQgetvalue(res, 0, 4)) > 3 * Max(*total, 1);
	PQclear(res);
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("logical replication to the new place of shard p%d failed",
						st->target),
				 errhint("The new place's server log tells why; a table changed at the old place meanwhile is one reason.")));
}

/*
 * Wait until a stream's new place has applied its old place's WAL up to
 * the old place's current position: before the switch (switching false)
 * only to within MOVE_CATCHUP_BYTES, with progress NOTICEs and no
 * deadline; during it (switching) all of it, by deadline.
 */
static void
catch_up(Stream *st, TimestampTz deadline, bool switching)
{
	TimestampTz last_notice = GetCurrentTimestamp();
	const char *current = shardfdw_deparse_move(MOVE_SQL_CURRENT_LSN, NULL,
												NULL);
	char	   *lsn = shardconn_session_value(&st->old, current, 0, NULL,
											  switching ? switch_left(deadline) :
											  MOVE_CMD_TIMEOUT_MS);

	for (;;)
	{
		char	   *behind;
		double		bytes;

		behind = shardconn_session_value(&st->new,
										 shardfdw_deparse_move(MOVE_SQL_RECEIVED,
															   st->name, lsn),
										 0, NULL,
										 switching ? switch_left(deadline) :
										 MOVE_CMD_TIMEOUT_MS);
		bytes = behind ? strtod(behind, NULL) : -1;
		if (behind != NULL &&
			(bytes <= 0 || (!switching && bytes < MOVE_CATCHUP_BYTES)))
			return;
		if (switching && GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("the new place of shard p%d did not catch up within shardfdw.move_switch_timeout (%d ms)",
							st->target, move_switch_timeout),
					 errdetail("%s bytes of WAL were still to be applied.",
							   behind ? behind : "unknown"),
					 errhint("Run it again when the shard is less busy, or raise shardfdw.move_switch_timeout.")));
		if (!switching)
		{
			int			waiting;
			int			total;
			char	   *rows;

			sync_state(st, &waiting, &total, &rows);
			if (TimestampDifferenceExceeds(last_notice, GetCurrentTimestamp(),
										   MOVE_NOTICE_MS))
			{
				ereport(NOTICE,
						(errmsg("the new place of shard p%d is %s bytes behind",
								st->target, behind ? behind : "unknown")));
				last_notice = GetCurrentTimestamp();
			}
			/* the old place moves on: measure against its new position */
			lsn = shardconn_session_value(&st->old, current, 0, NULL,
										  MOVE_CMD_TIMEOUT_MS);
		}
		move_sleep(switching ? MOVE_SWITCH_POLL_MS : MOVE_POLL_MS);
	}
}

/*
 * Step 6, in a transaction of its own (see the file comment).
 */
static void
switch_layout(Move *m)
{
	ForeignServer *server;
	TimestampTz deadline;
	char		timeout[32];
	StringInfoData sql;
	bool		first = true;

	/*
	 * This coordinator's gids (xact.c): under the write locks, one of them
	 * still prepared is in doubt, not on its way to its commit.  (Those of
	 * other coordinators are not held back at all: see the file comment.)
	 */
	char	   *prefix = psprintf("shardfdw_" UINT64_FORMAT "_%u_",
								  GetSystemIdentifier(), MyDatabaseId);

	SPI_commit();
	snprintf(timeout, sizeof(timeout), "%d", move_switch_timeout);
	(void) set_config_option("lock_timeout", timeout, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   move_switch_timeout);
	m->step = "holding back the shards' writes (waiting for the writes in flight)";
	take_switch_lock(m);
	m->step = "switching";
	shardxact_fail_point("move_after_lock");
	check_unchanged(m);

	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];
		char	   *gid = shardconn_session_value(&st->old,
												  shardfdw_deparse_move(MOVE_SQL_IN_DOUBT,
																		NULL, prefix),
												  0, NULL, switch_left(deadline));

		if (gid != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("shard p%d has an in-doubt prepared transaction of shardfdw: %s",
							st->source, gid),
					 errhint("Run SELECT shardfdw.recover_prepared_transactions(), then this again.")));
	}
	for (int i = 0; i < m->nstreams; i++)
		catch_up(&m->streams[i], deadline, true);

	/* every row arrived: the counts agree */
	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];

		for (int t = 0; t < m->ntables; t++)
		{
			char	   *a = shardconn_session_value(&st->old,
													shardfdw_deparse_move_count(m->qnames[t],
																				st->filters[t]),
													0, NULL,
													switch_left(deadline));
			char	   *b = shardconn_session_value(&st->new,
													shardfdw_deparse_move_count(m->qnames[t],
																				NULL),
													0, NULL,
													switch_left(deadline));

			if (a == NULL || b == NULL || strcmp(a, b) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("table %s has %s rows for shard p%d at the old place but %s at the new one",
								m->qnames[t], a ? a : "?", st->target,
								b ? b : "?"),
						 errdetail("The shards stay at their old places.")));
		}
		/* what the new place applied is on its disk */
		remote_exec(&st->new, shardfdw_deparse_move(MOVE_SQL_FLUSH, NULL, NULL),
					switch_left(deadline));
	}
	shardxact_fail_point("move_before_switch");

	/* one ALTER SERVER: the new layout appears at once */
	server = GetForeignServer(m->serverid);
	initStringInfo(&sql);
	appendStringInfo(&sql, "ALTER SERVER %s OPTIONS (",
					 quote_identifier(m->servername));
	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];

		appendStringInfo(&sql, "%s%s p%d %s", first ? "" : ", ",
						 shardfdw_shard_conninfo(server, st->target) ?
						 "SET" : "ADD",
						 st->target, quote_literal_cstr(st->conninfo));
		first = false;
	}
	appendStringInfoChar(&sql, ')');
	shardfdw_allow_resize(true);
	PG_TRY();
	{
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "shardfdw could not switch the shards: %s", sql.data);
	}
	PG_FINALLY();
	{
		shardfdw_allow_resize(false);
	}
	PG_END_TRY();
	if (GetCurrentTimestamp() >= deadline)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the switch took longer than shardfdw.move_switch_timeout (%d ms)",
						move_switch_timeout),
				 errhint("Run it again when the shards are less busy, or raise shardfdw.move_switch_timeout.")));
	SPI_commit();
	m->locked = false;
	m->switched = true;
	ereport(NOTICE,
			(errmsg("server \"%s\" switched to the new places", m->servername)));
}

/*
 * Remove the replication of every stream; then set the replica identities
 * back, once no publication with a row filter that needs them is left.
 * empty_copy: also empty the copies of streams that made one (before the
 * switch, nobody uses them).
 */
static void
drop_replication(Move *m, bool empty_copy)
{
	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];

		if (st->old.conn != NULL)
			drop_stream(m, st, empty_copy && st->copying);
	}
	for (int i = 0; i < m->nstreams; i++)
	{
		Stream	   *st = &m->streams[i];
		bool		unpublished = true;

		char	   *line;
		char	   *save;

		/* (a publication left anywhere on that old place needs them) */
		for (int j = 0; j < m->nstreams; j++)
			if (m->streams[j].source == st->source && m->streams[j].published)
				unpublished = false;
		if (!unpublished || st->identities == NULL || st->old.conn == NULL)
			continue;
		for (line = strtok_r(st->identities, "\n", &save); line != NULL;
			 line = strtok_r(NULL, "\n", &save))
			if (strlen(line) > 2)
				remote_exec(&st->old,
							shardfdw_deparse_move(line[0] == 'n' ?
												  MOVE_SQL_IDENTITY_NOTHING :
												  MOVE_SQL_IDENTITY_DEFAULT,
												  NULL, line + 2),
							MOVE_CMD_TIMEOUT_MS);
		st->identities = NULL;
	}
}

/*
 * Remove one stream's replication, in an order that can be repeated from
 * any point: the subscription is disabled, its slot (once the old place's
 * walsender let go of it) and the publication dropped, the copy emptied
 * (empty_copy), and the subscription, detached from the slot, dropped
 * last; as long as it exists, a new attempt finds it and starts over.
 */
static void
drop_stream(Move *m, Stream *st, bool empty_copy)
{
	/* (without the new place, at least the old place's half) */
	bool		subscribed = st->new.conn != NULL &&
		remote_bool(&st->new,
					shardfdw_deparse_move(MOVE_SQL_HAS_SUBSCRIPTION,
										  st->name, NULL));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   MOVE_CMD_TIMEOUT_MS);

	if (subscribed)
	{
		remote_exec(&st->new, shardfdw_deparse_move(MOVE_SQL_DISABLE_SUBSCRIPTION,
													st->name, NULL),
					MOVE_CMD_TIMEOUT_MS);

		/*
		 * Its workers stop a moment later: a copy worker still running
		 * holds its table (the TRUNCATE below would wait for it while its
		 * walsender waits for the TRUNCATE's transaction to end).
		 */
		while (remote_bool(&st->new,
						   shardfdw_deparse_move(MOVE_SQL_SUBSCRIPTION_WORKERS,
												 st->name, NULL)))
		{
			if (GetCurrentTimestamp() >= deadline)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_IN_USE),
						 errmsg("the workers of subscription %s at the new place of shard p%d did not stop",
								st->name, st->target)));
			move_sleep(MOVE_SWITCH_POLL_MS);
		}
	}
	while (remote_bool(&st->old, shardfdw_deparse_move(MOVE_SQL_SLOT_ACTIVE,
													   st->name, NULL)))
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("replication slot %s at the old place of shard p%d is still in use",
							st->name, st->source)));
		move_sleep(MOVE_SWITCH_POLL_MS);
	}
	remote_exec(&st->old, shardfdw_deparse_move(MOVE_SQL_DROP_SLOT, st->name,
												NULL),
				MOVE_CMD_TIMEOUT_MS);
	/* the identities it needed, to set back once no publication needs them */
	st->identities = shardconn_session_value(&st->old,
											 shardfdw_deparse_move(MOVE_SQL_PUBLICATION_COMMENT,
																   st->name, NULL),
											 0, NULL, MOVE_CMD_TIMEOUT_MS);
	remote_exec(&st->old, shardfdw_deparse_move(MOVE_SQL_DROP_PUBLICATION,
												st->name, NULL),
				MOVE_CMD_TIMEOUT_MS);
	st->published = false;
	if (st->new.conn == NULL)
		return;
	if (empty_copy && m->qnames != NULL)
	{
		PGresult   *there = shardconn_session_exec(&st->new,
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
			remote_exec(&st->new, shardfdw_deparse_move(MOVE_SQL_TRUNCATE, NULL,
														list.data),
						MOVE_LONG_TIMEOUT_MS);
	}
	st->copying = false;
	if (subscribed)
		remote_exec(&st->new, shardfdw_deparse_move(MOVE_SQL_DROP_SUBSCRIPTION,
													st->name, NULL),
					MOVE_CMD_TIMEOUT_MS);
}

/*
 * Take the switch's write lock (switch_lock_shard), waiting at most
 * lock_timeout (set to shardfdw.move_switch_timeout by the caller).
 */
static void
take_switch_lock(Move *m)
{
	LOCKTAG		tag;

	shardxact_shard_locktag(&tag, m->serverid, switch_lock_shard(m));
	m->locked = true;
	PG_TRY();
	{
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	PG_CATCH();
	{
		if (geterrcode() != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("the writes in flight did not end within shardfdw.move_switch_timeout (%d ms)",
						move_switch_timeout),
				 errdetail("A transaction that writes to the shards stayed open; the shards stay at their old places."),
				 errhint("Run it again when the shards are less busy, or raise shardfdw.move_switch_timeout.")));
	}
	PG_END_TRY();
}

/*
 * The write lock the switch takes (xact.h): a move's shard's, or for a
 * split the server's, which holds every shard's writes back at once.
 */
static int
switch_lock_shard(Move *m)
{
	return m->new_nshards == m->nshards ? m->streams[0].source : -1;
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
remote_bool(ShardSession *s, const char *sql)
{
	char	   *v = shardconn_session_value(s, sql, 0, NULL,
											MOVE_LONG_TIMEOUT_MS);

	return v != NULL && (strcmp(v, "t") == 0 || atol(v) > 0);
}

/* Run sql on s, discarding its result. */
static void
remote_exec(ShardSession *s, const char *sql, long timeout_ms)
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

/* Error context: which operation, at which step. */
static void
reshard_error_context(void *arg)
{
	Move	   *m = (Move *) arg;

	if (m->nstreams == 1)
		errcontext("moving shard p%d of server \"%s\" (%s)",
				   m->streams[0].source, m->servername, m->step);
	else
		errcontext("splitting the %d shards of server \"%s\" (%s)",
				   m->nshards, m->servername, m->step);
}
