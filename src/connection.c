/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Cached shard connections and pipelined batches.
 *
 * Connections.  One ShardConn per (user mapping, shard) lives in a hash
 * table in CacheMemoryContext for the whole session.  Its PGconn is made on
 * first use (in parallel for all shards a statement needs), and remade when
 * idle (no remote transaction) if the server or user mapping changed, if
 * connection_lifetime has passed, or if the connection died.  Strings that
 * must survive a transaction abort (names for messages, the batch's SQL)
 * are malloc'd and freed with the connection.
 *
 * Batches.  Every request is one batch in libpq pipeline mode: the
 * commands the remote transaction owes (xact.c: START TRANSACTION, the
 * rollback of a failed speculative statement, queued CLOSE / RELEASE, new
 * SAVEPOINTs, in that order), then the statement(s), then one Sync.  So
 * starting the remote transaction, DECLARE and the first FETCH cost one
 * round trip.  At most one batch is in flight per connection; a second
 * user first completes the pending one and hands it to its owner
 * (ShardConnAbsorb).  A batch that starts the remote transaction on a
 * connection that turns out to be dead is sent again once on a fresh
 * connection: nothing could have been committed by it.
 *
 * Speculative statements (shardconn_send_speculative) run under the
 * savepoint SHARDCONN_PREFETCH_SAVEPOINT inside their batch, so that a
 * failure of rows nobody asked for yet does not abort the remote
 * transaction.
 *
 * Remote transactions are xact.c's: it decides what a batch owes and
 * commits or rolls back through the functions exported here.
 *
 * Waiting.  Every wait is on a WaitEventSet including our latch, and checks
 * for interrupts, so statement_timeout and pg_cancel_backend work; the
 * remote query is then cancelled by the abort processing.
 *
 * src/connection.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "cancel.h"
#include "connection.h"
#include "deadlock.h"
#include "option.h"
#include "xact.h"

/*
 * Sent at the head of a new connection's first batch, with its own Sync so
 * that it commits on its own: libpq sends PGDATESTYLE and PGTZ from the
 * postmaster's environment as startup settings, which would override the
 * startup options.
 */
#define SHARDCONN_SETUP_SQL \
	"SELECT pg_catalog.set_config('datestyle', 'ISO', false), " \
	"pg_catalog.set_config('timezone', 'UTC', false)"

/* How long abort processing waits for a shard before giving up on it. */
#define SHARDCONN_ABORT_TIMEOUT_MS 30000

static HTAB *ConnectionHash = NULL;

/*
 * Invalidations of foreign servers seen, and how many of them
 * shardconn_get_many has looked at: a change since may have moved a shard
 * this transaction is using (check_moved).
 */
static uint64 server_invals = 0;
static uint64 server_invals_checked = 0;

/* the cached wait event set of one_socket_set() */
/* the cached one-socket wait event sets (see one_socket_set) */
#define SOCKET_SETS 8
typedef struct SocketSet
{
	WaitEventSet *set;			/* NULL: free slot */
	pgsocket	sock;
	int			events;
} SocketSet;
static SocketSet SocketSets[SOCKET_SETS];
static int	SocketSetsNext = 0;	/* slot to replace next when all are used */
static uint64 SocketSetsGeneration = 0;
static uint64 socket_generation = 1;	/* bumped when sockets may change */

/* Did the current transaction touch any connection? */

static void init_connection_hash(void);
static void connect_entries(ForeignServer *server, UserMapping *user,
							ShardConn **entries, int n);
static bool password_required(UserMapping *user);
static void check_password_rules(UserMapping *user);
static void check_password_used(UserMapping *user, ShardConn *c);
static long ms_until(TimestampTz deadline);
static void report_connect_failure(ShardConn *c, const char *detail);
static bool connection_is_usable(ShardConn *c);
static int	wait_sockets(int n, pgsocket *socks, int *events, long timeout);
static WaitEventSet *one_socket_set(pgsocket sock, int events);
/* when a statement wait checks for deadlocks next (wait_statement) */
typedef struct DeadlockClock
{
	TimestampTz check_at;		/* 0: not started */
	int			factor;			/* interval, in deadlock_timeouts */
} DeadlockClock;

static int	wait_statement(int n, pgsocket *socks, int *events,
						   DeadlockClock *clock);
static void deadlock_check(DeadlockClock *clock, long interval);
static void close_conn(ShardConn *c);
static bool send_batch(ShardConn *c);
static ShardStmt *copy_stmts(const ShardStmt *stmts, int n);
static void free_stmts(ShardStmt *stmts, int n);
static const char *batch_sql(ShardConn *c);
static void retry_batch(ShardConn *c);
static void retry_stream(ShardConn *c);
static void send_alone(ShardConn *c, const char *sql, int nparams,
					   const char *const *params, void *owner,
					   ShardConnAbsorb absorb);
static void send_stmts(ShardConn *c, const ShardStmt *stmts, int nstmts,
					   void *owner, ShardConnAbsorb absorb, bool speculative);
static bool settle_speculative(ShardConn *c);
static int	batch_error_stmt(ShardConn *c);
static void finish_batch(ShardConn *c);
static bool poll_batch(ShardConn *c);
static bool wait_batch_until(ShardConn *c, TimestampTz deadline);
static void report_lost(int elevel, ShardConn *c);
static uint32 conninfo_hash(ForeignServer *server, int shard);
static void report_remote(int elevel, PGresult *res, PGconn *conn,
						  const char *where, const char *sql,
						  const char *context_text);
static void shardconn_check_layout(ForeignServer *server);
static void report_with_context(int elevel, PGresult *res, ShardConn *c,
								const char *sql, const char *context_text);
static bool ends_connection(const PGresult *res);
static void inval_callback(Datum arg, int cacheid, uint32 hashvalue);
static char *malloc_strdup(const char *s);

PG_FUNCTION_INFO_V1(shardfdw_connections);
PG_FUNCTION_INFO_V1(shardfdw_disconnect_all);

/* strdup that raises ERROR on failure; result is malloc'd. */
static char *
malloc_strdup(const char *s)
{
	char	   *r = strdup(s ? s : "");

	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return r;
}

/*
 * Create the connection cache and register the callbacks that end remote
 * transactions and invalidate connections, once per backend.
 */
static void
init_connection_hash(void)
{
	HASHCTL		ctl;

	if (ConnectionHash)
		return;
	ctl.keysize = sizeof(ShardConnKey);
	ctl.entrysize = sizeof(ShardConn);
	ctl.hcxt = CacheMemoryContext;
	ConnectionHash = hash_create("shardfdw connections", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, inval_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, inval_callback, (Datum) 0);
}

/*
 * shardconn_describe: "pN (host=..., port=...) of server "x"", palloc'd.
 */
char *
shardconn_describe(ShardConn *c)
{
	return psprintf("shard p%d (host=%s, port=%s) of server \"%s\"",
					c->key.shard,
					c->host && c->host[0] ? c->host : "local socket",
					c->port && c->port[0] ? c->port : "default",
					c->server_name ? c->server_name : "?");
}

/*
 * shardconn_scan_begin / _next: every cached connection of the session,
 * in no particular order.  Connections may be closed during the scan, not
 * created.
 */
void
shardconn_scan_begin(HASH_SEQ_STATUS *scan)
{
	if (ConnectionHash)
		hash_seq_init(scan, ConnectionHash);
	else
		scan->hashp = NULL;
}

ShardConn *
shardconn_scan_next(HASH_SEQ_STATUS *scan)
{
	if (scan->hashp == NULL)
		return NULL;
	return (ShardConn *) hash_seq_search(scan);
}

/* shardconn_scan_end: stop a scan before its end. */
void
shardconn_scan_end(HASH_SEQ_STATUS *scan)
{
	if (scan->hashp != NULL)
		hash_seq_term(scan);
}

/* c has no COPY open any more (ended, failed or abandoned). */
static void
copy_closed(ShardConn *c)
{
	c->in_copy = false;
	c->copy_owner = NULL;
	c->copy_finish = NULL;
}

/*
 * close_conn: close c's libpq connection, if any, giving its socket's
 * place among the backend's external file descriptors back.
 */
static void
close_conn(ShardConn *c)
{
	if (c->conn == NULL)
		return;
	PQfinish(c->conn);
	c->conn = NULL;
	socket_generation++;
	ReleaseExternalFD();
}

/*
 * Forget the statements prepared on c's shard session (which has ended,
 * or is about to be replaced).
 */
static void
forget_prepared(ShardConn *c)
{
	for (int i = 0; i < c->nprepared; i++)
		free(c->prepared[i].sql);
	c->nprepared = 0;
	c->batch_prepare = NULL;
}

/* Close c's connection (if any) and forget its transaction state. */
void
shardconn_disconnect(ShardConn *c)
{
	close_conn(c);
	shardconn_clear_batch(c);
	c->busy = false;
	c->xact_depth = 0;
	c->xact_pending = false;
	c->broken = false;
	c->wrote = false;
	free(c->prepared_gid);		/* (its fate is for recovery now) */
	c->prepared_gid = NULL;
	c->commit_deferred = false;
	c->prefetch_repair = false;
	copy_closed(c);
	list_free_deep(c->queued);
	c->queued = NIL;
	forget_prepared(c);
}

/*
 * May an idle cached connection be used as it is?  Checks for a dead
 * socket without a round trip: a server that went away has left EOF (and
 * usually a FATAL message) in our receive buffer.
 */
static bool
connection_is_usable(ShardConn *c)
{
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	if (c->invalidated)
		return false;
	if (c->lifetime > 0 &&
		TimestampDifferenceExceeds(c->connected_at, GetCurrentTimestamp(),
								   c->lifetime * 1000))
		return false;
	/* non-blocking look at the socket: reads anything pending */
	if (PQconsumeInput(c->conn) == 0 || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	return true;
}

/*
 * shardconn_transaction_healthy: see connection.h.  No round trip: what
 * the shard sent meanwhile (a FATAL and EOF from a terminated backend) is
 * read first.
 */
bool
shardconn_transaction_healthy(ShardConn *c)
{
	if (c->conn == NULL || c->busy || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	if (PQconsumeInput(c->conn) == 0 || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	return PQtransactionStatus(c->conn) == PQTRANS_INTRANS;
}

/* The password_required option of a user mapping (default true). */
static bool
password_required(UserMapping *user)
{
	ListCell   *lc;

	foreach(lc, user->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "password_required") == 0)
			return defGetBoolean(def);
	}
	return true;
}

/*
 * The rules of postgres_fdw for a role that is not a superuser, unless a
 * superuser set password_required 'false' on the mapping: the mapping must
 * hold a non-empty password (an empty one would make libpq fall back to
 * the coordinator OS user's ~/.pgpass, PGPASSWORD or service file), and
 * (check_password_used) the shard must have asked for it.  user->userid is
 * the role the mapping is used for now, which for a PUBLIC mapping need not
 * be the role that made a cached connection: both are checked every time
 * a connection is handed out, not only when it is made.
 */
static void
check_password_rules(UserMapping *user)
{
	ListCell   *lc;

	if (superuser_arg(user->userid))
		return;
	foreach(lc, user->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "password") == 0 &&
			defGetString(def)[0] != '\0')
			return;
	}
	if (!password_required(user))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("password is required"),
			 errdetail("Non-superusers must provide a password in the user mapping."),
			 errhint("Add a non-empty password to the user mapping, or have a superuser set password_required 'false' on it.")));
}

/* Did c's shard ask for the password, where the rules above require it? */
static void
check_password_used(UserMapping *user, ShardConn *c)
{
	if (superuser_arg(user->userid) || PQconnectionUsedPassword(c->conn) ||
		!password_required(user))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("password is required"),
			 errdetail("Non-superuser cannot connect if the server does not request a password."),
			 errhint("Target server's authentication method must be changed or set password_required=false in the user mapping attributes.")));
}

/*
 * A wait event set for one socket (latch, postmaster death, the socket),
 * kept for the session in TopMemoryContext: creating and closing an epoll
 * set for every wait was a tenth of the coordinator's time in keyed
 * statements.  One set per socket, for up to SOCKET_SETS sockets (a
 * backend whose statements go to a few shards by turns keeps them all);
 * beyond that the slots are reused in turn.  All are dropped when the
 * socket_generation changes: a closed socket leaves the epoll set by
 * itself, and its number may come back for another connection, so every
 * PQfinish and every connection attempt bumps the generation.
 */
static WaitEventSet *
one_socket_set(pgsocket sock, int events)
{
	SocketSet  *volatile slot = NULL;

	if (SocketSetsGeneration != socket_generation)
	{
		for (int i = 0; i < SOCKET_SETS; i++)
		{
			if (SocketSets[i].set != NULL)
				FreeWaitEventSet(SocketSets[i].set);
			SocketSets[i].set = NULL;
		}
		SocketSetsGeneration = socket_generation;
	}
	for (int i = 0; i < SOCKET_SETS; i++)
	{
		if (SocketSets[i].set == NULL)
		{
			if (slot == NULL)
				slot = &SocketSets[i];
			continue;
		}
		if (SocketSets[i].sock != sock)
			continue;
		if (SocketSets[i].events != events)
		{
			ModifyWaitEvent(SocketSets[i].set, 2, events, NULL);
			SocketSets[i].events = events;
		}
		return SocketSets[i].set;
	}
	if (slot == NULL)
	{
		slot = &SocketSets[SocketSetsNext];
		SocketSetsNext = (SocketSetsNext + 1) % SOCKET_SETS;
		FreeWaitEventSet(slot->set);
		slot->set = NULL;
	}
	slot->set = CreateWaitEventSet(TopMemoryContext, 3);
	PG_TRY();
	{
		AddWaitEventToSet(slot->set, WL_LATCH_SET, PGINVALID_SOCKET,
						  MyLatch, NULL);
		AddWaitEventToSet(slot->set, WL_EXIT_ON_PM_DEATH,
						  PGINVALID_SOCKET, NULL, NULL);
		AddWaitEventToSet(slot->set, events, sock, NULL,
						  (void *) (intptr_t) 0);
	}
	PG_CATCH();
	{
		FreeWaitEventSet(slot->set);
		slot->set = NULL;
		PG_RE_THROW();
	}
	PG_END_TRY();
	slot->sock = sock;
	slot->events = events;
	return slot->set;
}

/*
 * shardconn_wait_many: see connection.h (wait_sockets for several
 * sockets, with a wait event set of its own).
 */
int
shardconn_wait_many(int n, pgsocket *socks, int *events, long timeout,
					WaitEvent *ev)
{
	WaitEventSet *set = CreateWaitEventSet(CurrentMemoryContext, n + 2);
	volatile int rc = 0;

	PG_TRY();
	{
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL,
						  NULL);
		for (int i = 0; i < n; i++)
			AddWaitEventToSet(set, events[i], socks[i], NULL,
							  (void *) (intptr_t) i);
		rc = WaitEventSetWait(set, timeout, ev, 1, PG_WAIT_EXTENSION);
	}
	PG_FINALLY();
	{
		FreeWaitEventSet(set);
	}
	PG_END_TRY();
	return rc;
}

/*
 * Wait until one of n sockets is ready for its events, or the latch is
 * set (then interrupts are checked), or timeout ms pass (-1: no limit).
 * Returns the socket's index, -1 on timeout, -2 after a latch wakeup.
 */
static int
wait_sockets(int n, pgsocket *socks, int *events, long timeout)
{
	WaitEvent	ev;
	int			rc;

	if (n == 1)
		/* the common case, a wait on one shard: reuse the cached set */
		rc = WaitEventSetWait(one_socket_set(socks[0], events[0]), timeout,
							  &ev, 1, PG_WAIT_EXTENSION);
	else
		rc = shardconn_wait_many(n, socks, events, timeout, &ev);

	if (rc == 0)
		return -1;
	if (ev.events & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		return -2;
	}
	return (int) (intptr_t) ev.user_data;
}

/* Milliseconds from now until deadline (<= 0 when it has passed). */
static long
ms_until(TimestampTz deadline)
{
	long		secs;
	int			usecs;

	TimestampDifference(GetCurrentTimestamp(), deadline, &secs, &usecs);
	return secs * 1000 + usecs / 1000;
}

/*
 * Raise the error for a connection attempt to c's shard that failed (or
 * timed out), naming the shard with the host and port libpq tried.
 */
static void
report_connect_failure(ShardConn *c, const char *detail)
{
	free(c->host);
	free(c->port);
	c->host = malloc_strdup(PQhost(c->conn));
	c->port = malloc_strdup(PQport(c->conn));
	ereport(ERROR,
			(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
			 errmsg("could not connect to %s", shardconn_describe(c)),
			 errdetail_internal("%s", detail)));
}

/*
 * Connect every entry in entries[] (n of them) at once with libpq's
 * non-blocking API, honouring connect_timeout and interrupts.  On failure
 * every half-made connection is closed and an ERROR names the shard.
 */
static void
connect_entries(ForeignServer *server, UserMapping *user,
				ShardConn **entries, int n)
{
	PostgresPollingStatusType *state;
	volatile TimestampTz deadline = 0;
	int			pending = n;

	if (n == 0)
		return;
	check_password_rules(user);
	state = palloc(sizeof(PostgresPollingStatusType) * n);

	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			ShardConn  *c = entries[i];
			const char **kw;
			const char **val;
			int			timeout_s = 0;

			/* names for messages, also if the connection fails */
			free(c->server_name);
			c->server_name = malloc_strdup(server->servername);
			c->serverid = server->serverid;
			c->userid = user->userid;

			shardfdw_conn_params(server, user, c->key.shard, &kw, &val);
			for (int k = 0; kw[k]; k++)
				if (strcmp(kw[k], "connect_timeout") == 0)
					timeout_s = atoi(val[k]);
			if (timeout_s > 0)
			{
				/* libpq treats 1 s as 2 s; so do we */
				TimestampTz d = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															Max(timeout_s, 2) * 1000);

				if (deadline == 0 || d < deadline)
					deadline = d;
			}

			/* the socket counts against max_files_per_process */
			if (!AcquireExternalFD())
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("could not connect to shard p%d of server \"%s\": too many open files",
								c->key.shard, c->server_name),
						 errhint("Raise max_files_per_process, or close idle connections with shardfdw.disconnect_all().")));
			c->conn = PQconnectStartParams(kw, val, false);
			if (c->conn == NULL)
			{
				ReleaseExternalFD();
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory while connecting to shard p%d",
								c->key.shard)));
			}
			state[i] = PQstatus(c->conn) == CONNECTION_BAD ?
				PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
		}

		while (pending > 0)
		{
			pgsocket   *socks = palloc(sizeof(pgsocket) * n);
			int		   *events = palloc(sizeof(int) * n);
			int		   *index = palloc(sizeof(int) * n);
			int			k = 0;
			int			r;
			long		timeout = -1;

			pending = 0;
			for (int i = 0; i < n; i++)
			{
				ShardConn  *c = entries[i];

				if (state[i] == PGRES_POLLING_FAILED)
					report_connect_failure(c, pchomp(PQerrorMessage(c->conn)));
				if (state[i] == PGRES_POLLING_OK)
					continue;
				pending++;
				socks[k] = PQsocket(c->conn);
				events[k] = state[i] == PGRES_POLLING_READING ?
					WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
				index[k++] = i;
			}
			if (pending == 0)
				break;
			if (deadline != 0)
			{
				timeout = ms_until(deadline);
				if (timeout <= 0)
					report_connect_failure(entries[index[0]],
										   "The connection attempt timed out (connect_timeout).");
			}
			socket_generation++;	/* (a connecting socket may change) */
			r = wait_sockets(k, socks, events, timeout);
			if (r >= 0)
				state[index[r]] = PQconnectPoll(entries[index[r]]->conn);
			pfree(socks);
			pfree(events);
			pfree(index);
		}

		for (int i = 0; i < n; i++)
			check_password_used(user, entries[i]);
	}
	PG_CATCH();
	{
		for (int i = 0; i < n; i++)
		{
			close_conn(entries[i]);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();

	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = entries[i];
		ListCell   *lc;

		free(c->host);
		free(c->port);
		c->host = malloc_strdup(PQhost(c->conn));
		c->port = malloc_strdup(PQport(c->conn));
		c->setup_pending = true;
		c->connected_at = GetCurrentTimestamp();
		c->lifetime = shardfdw_connection_lifetime(server);
		c->keep = true;
		foreach(lc, server->options)
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			if (strcmp(def->defname, "keep_connections") == 0)
				c->keep = defGetBoolean(def);
		}
		c->invalidated = false;
		c->conninfo_hash = conninfo_hash(server, c->key.shard);
		c->server_hashvalue =
			GetSysCacheHashValue1(FOREIGNSERVEROID,
								  ObjectIdGetDatum(server->serverid));
		c->mapping_hashvalue =
			GetSysCacheHashValue1(USERMAPPINGOID,
								  ObjectIdGetDatum(user->umid));
	}
	pfree(state);
}

/*
 * Hash of the pN option of shard (0 for none), to tell whether a
 * connection was made to the place the catalog names now.
 */
static uint32
conninfo_hash(ForeignServer *server, int shard)
{
	const char *conninfo = shardfdw_shard_conninfo(server, shard);

	if (conninfo == NULL)
		return 0;
	return hash_bytes((const unsigned char *) conninfo, strlen(conninfo));
}

/*
 * The shard of c moved (shardfdw.move_shard, split_shards) while c, made
 * to its old place, is in use in this transaction: raise 40001 rather than
 * read or write the old place next to the new one.  Only called for a
 * connection an invalidation touched, so that the common case costs
 * nothing.
 */
static void
check_moved(ShardConn *c)
{
	/* (a server dropped in this transaction has no place to compare) */
	ForeignServer *now = GetForeignServerExtended(c->serverid, FSV_MISSING_OK);

	if (now != NULL && conninfo_hash(now, c->key.shard) != c->conninfo_hash)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("shard p%d of server \"%s\" moved while this transaction was using it",
						c->key.shard, now->servername),
				 errdetail("The transaction used the shard's old place, and cannot go on at the new one."),
				 errhint("Retry the transaction.")));
}

/*
 * Raise 40001 if the number of shards of server (as the running statement
 * read it) is no longer the catalog's: shardfdw.split_shards committed
 * meanwhile, and the statement's placement is that of the old layout.
 */
static void
shardconn_check_layout(ForeignServer *server)
{
	ForeignServer *now = GetForeignServer(server->serverid);
	int			planned = shardfdw_cluster_size(server);
	int			current = shardfdw_cluster_size(now);

	if (planned != current)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the shards of server \"%s\" changed while this statement ran",
						server->servername),
				 errdetail("It was planned for %d shards; the server now has %d.",
						   planned, current),
				 errhint("Retry the transaction.")));
}

/*
 * shardconn_get_many: see connection.h.  Idle connections that are dead,
 * stale or expired are remade; all missing ones are made in parallel.
 */
void
shardconn_get_many(ForeignServer *server, UserMapping *user,
				   Bitmapset *shards, ShardConn **out)
{
	ShardConn **todo;
	int			ntodo = 0;
	int			shard = -1;

	init_connection_hash();

	/*
	 * A server changed: if a shard this transaction uses moved, whichever
	 * shard it asks for now, it would mix the old layout with the new.
	 */
	if (server_invals != server_invals_checked)
	{
		HASH_SEQ_STATUS scan;
		ShardConn  *c;
		List	   *used = NIL;
		ListCell   *lc;

		hash_seq_init(&scan, ConnectionHash);
		while ((c = hash_seq_search(&scan)) != NULL)
			if (c->conn && c->invalidated && c->xact_depth > 0)
				used = lappend(used, c);
		foreach(lc, used)
			check_moved(lfirst(lc));
		list_free(used);
		server_invals_checked = server_invals;
	}
	/* for the role using the mapping now, also on cached connections */
	check_password_rules(user);
	todo = palloc(sizeof(ShardConn *) * Max(bms_num_members(shards), 1));
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		ShardConnKey key;
		ShardConn  *c;
		bool		found;

		key.umid = user->umid;
		key.shard = shard;
		c = hash_search(ConnectionHash, &key, HASH_ENTER, &found);
		if (!found)
		{
			memset(((char *) c) + sizeof(ShardConnKey), 0,
				   sizeof(ShardConn) - sizeof(ShardConnKey));
		}
		/* the previous transaction's COMMIT has answered by now */
		if (c->commit_deferred)
			shardconn_settle(c);
		if (c->conn && c->invalidated && (c->xact_depth > 0 || c->busy))
			check_moved(c);
		if (c->conn && c->xact_depth == 0 && !c->busy &&
			!connection_is_usable(c))
			shardconn_disconnect(c);
		if (c->conn == NULL)
			todo[ntodo++] = c;
		else
		{
			/* made for another role (PUBLIC mapping), or before a change */
			check_password_used(user, c);
			/* a reconnect (retry) must be made for this role, too */
			c->userid = user->userid;
		}
		out[shard] = c;
	}
	/*
	 * With the server's options as the catalog has them now, not as the
	 * caller read them when its plan or scan began: a shard may have moved
	 * since (shardfdw.move_shard; the invalidation was accepted when the
	 * write lock was taken, see shardxact_lock_for_write).
	 */
	if (ntodo > 0)
	{
		shardconn_check_layout(server);
		connect_entries(GetForeignServer(server->serverid), user, todo,
						ntodo);
	}
	pfree(todo);
	shardxact_note_connection();
}

/* shardconn_get: the connection to one shard; see connection.h. */
ShardConn *
shardconn_get(ForeignServer *server, UserMapping *user, int shard)
{
	ShardConn **out = palloc0(sizeof(ShardConn *) * (shard + 1));
	ShardConn  *c;

	shardconn_get_many(server, user, bms_make_singleton(shard), out);
	c = out[shard];
	pfree(out);
	return c;
}

/*
 * shardconn_pick_any: see connection.h.  Prefers a shard already in this
 * transaction (same snapshot, no new round trip to start one), then one
 * with an open connection, then spreads backends over the shards.
 */
int
shardconn_pick_any(UserMapping *user, int nshards)
{
	int			connected = -1;

	if (ConnectionHash)
	{
		for (int shard = 0; shard < nshards; shard++)
		{
			ShardConnKey key;
			ShardConn  *c;

			key.umid = user->umid;
			key.shard = shard;
			c = hash_search(ConnectionHash, &key, HASH_FIND, NULL);
			if (c == NULL || c->conn == NULL || c->broken)
				continue;
			if (c->xact_depth > 0)
				return shard;
			if (connected < 0)
				connected = shard;
		}
	}
	return connected >= 0 ? connected : MyProcPid % nshards;
}

/* shardconn_cursor_number: a new cursor number on c. */
unsigned int
shardconn_cursor_number(ShardConn *c)
{
	return ++c->cursor_number;
}

/*
 * shardconn_queue: remember sql to be sent in front of c's next batch in
 * this remote transaction.  Nothing is queued outside one.
 */
void
shardconn_queue(ShardConn *c, const char *sql)
{
	MemoryContext old;

	if (c->conn == NULL || c->xact_depth == 0)
		return;
	old = MemoryContextSwitchTo(CacheMemoryContext);
	c->queued = lappend(c->queued, pstrdup(sql));
	MemoryContextSwitchTo(old);
}

/* Free what the last batch left in c. */
void
shardconn_clear_batch(ShardConn *c)
{
	if (c->batch_result)
		PQclear(c->batch_result);
	if (c->batch_error)
		PQclear(c->batch_error);
	c->batch_result = NULL;
	c->batch_error = NULL;
	free_stmts(c->batch_stmts, c->batch_nstmts);
	c->batch_stmts = NULL;
	c->batch_nstmts = 0;
	c->batch_err_stmt = -1;
	c->batch_speculative = false;
	c->batch_spec_failed = false;
	c->batch_lost = false;
	free(c->lost_message);
	c->lost_message = NULL;
	c->owner = NULL;
	c->absorb = NULL;
	for (int i = 0; i < c->stream_nrows; i++)
		PQclear(c->stream_rows[i]);
	free(c->stream_rows);
	c->stream_rows = NULL;
	c->stream_nrows = 0;
	c->stream_cap = 0;
	c->batch_stream = false;
	c->stream_received = 0;
	c->stream_single = false;
	c->stream_all = false;
	c->stream_discard = false;
}

/*
 * The prepared statement of c for sql.  When there is none, with create,
 * one is made (not yet ready) if there is room; NULL when there is not (or
 * out of memory, or without create): send it unnamed.
 */
static ShardPrepared *
find_prepared(ShardConn *c, const char *sql, bool create)
{
	uint32		h = hash_bytes((const unsigned char *) sql, strlen(sql));
	ShardPrepared *p;

	for (int i = 0; i < c->nprepared; i++)
	{
		p = &c->prepared[i];
		if (p->hash == h && strcmp(p->sql, sql) == 0)
			return p;
	}
	if (!create || c->nprepared >= SHARDCONN_MAX_PREPARED)
		return NULL;
	p = &c->prepared[c->nprepared];
	p->sql = strdup(sql);		/* (no error while a batch is half sent) */
	if (p->sql == NULL)
		return NULL;
	p->hash = h;
	p->ready = false;
	p->unusable = false;
	c->nprepared++;
	return p;
}

/*
 * The statement of c's batch that failed with res ran by name: if the
 * shard no longer has it (26000), prepare it again next time; if the
 * shard cannot run it any more as prepared (0A000, its result type
 * changed after a remote ALTER), never use it by name again: its text
 * goes unnamed from then on.
 */
static void
prepared_failed(ShardConn *c, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	ShardPrepared *p;

	if (state == NULL || c->batch_err_stmt < 0 ||
		c->batch_err_stmt >= c->batch_nstmts ||
		(strcmp(state, "26000") != 0 && strcmp(state, "0A000") != 0))
		return;
	p = find_prepared(c, c->batch_stmts[c->batch_err_stmt].sql, false);
	if (p == NULL || !p->ready)
		return;
	if (strcmp(state, "26000") == 0)
		p->ready = false;
	else
		p->unusable = true;
}

/*
 * Put one batch on the wire: owed transaction commands, queued commands,
 * then sql, then a Sync.  Returns false if the connection failed while
 * sending (c->lost_message says why).
 */
static bool
send_batch(ShardConn *c)
{
	int			nq = 0;
	int			owed = 0;
	ListCell   *lc;

	if (!PQenterPipelineMode(c->conn))
		goto failed;

	c->batch_syncs = 1;
	c->batch_prepare = NULL;
	c->batch_prepare_at = -1;
	c->batch_affected = 0;
	if (c->setup_pending)
	{
		if (!PQsendQueryParams(c->conn, SHARDCONN_SETUP_SQL, 0, NULL, NULL,
							   NULL, NULL, 0) ||
			!PQpipelineSync(c->conn))
			goto failed;
		nq++;
		c->batch_syncs++;
		c->setup_pending = false;
	}

	/* what the remote transaction owes first (xact.c) */
	if (c->batch_autocommit)
		c->batch_began_xact = false;	/* it may have committed: no retry */
	foreach(lc, c->batch_autocommit ? NIL : shardxact_owed_commands(c))
	{
		if (!PQsendQueryParams(c->conn, lfirst(lc), 0, NULL, NULL, NULL,
							   NULL, 0))
			goto failed;
		nq++;
		owed++;
	}
	c->batch_nowed = nq;

	/*
	 * The shard sends results when its buffer fills or at the Sync; a
	 * Flush makes it send the owed commands' results as soon as they are
	 * done, so that shardconn_abandon can tell when its cancel no longer
	 * risks landing on one of them.
	 */
	if (owed > 0 && !PQsendFlushRequest(c->conn))
		goto failed;

	for (int i = 0; i < c->batch_nstmts; i++)
	{
		ShardStmt  *st = &c->batch_stmts[i];

		if (c->batch_speculative && i == c->batch_nstmts - 1)
		{
			if (!PQsendQueryParams(c->conn,
								   "SAVEPOINT " SHARDCONN_PREFETCH_SAVEPOINT,
								   0, NULL, NULL, NULL, NULL, 0))
				goto failed;
			nq++;
		}
		/*
		 * Only statements with parameters are prepared: a text with the
		 * values written in (a custom plan's) is likely used once.
		 */
		if ((c->batch_autocommit || c->batch_reuse) && st->nparams > 0)
		{
			ShardPrepared *p = find_prepared(c, st->sql, true);

			if (p != NULL && p->unusable)
				p = NULL;

			/* (one Prepare per batch: its position is what we track) */
			if (p != NULL && !p->ready && c->batch_prepare != NULL &&
				c->batch_prepare != p)
				p = NULL;
			if (p != NULL)
			{
				char		name[32];

				snprintf(name, sizeof(name), "shardfdw_s%d",
						 (int) (p - c->prepared));
				if (!p->ready && c->batch_prepare != p)
				{
					if (!PQsendPrepare(c->conn, name, st->sql, st->nparams,
									   NULL))
						goto failed;
					c->batch_prepare = p;
					c->batch_prepare_at = nq++;
				}
				if (!PQsendQueryPrepared(c->conn, name, st->nparams,
										 st->params, NULL, NULL, 0))
					goto failed;
				nq++;
				continue;
			}
		}
		if (!PQsendQueryParams(c->conn, st->sql, st->nparams, NULL,
							   st->params, NULL, NULL, 0))
			goto failed;
		nq++;
	}
	if (c->batch_speculative)
	{
		if (!PQsendQueryParams(c->conn,
							   "RELEASE SAVEPOINT " SHARDCONN_PREFETCH_SAVEPOINT,
							   0, NULL, NULL, NULL, NULL, 0))
			goto failed;
		nq++;
	}
	if (!PQpipelineSync(c->conn))
		goto failed;

	c->busy = true;
	c->batch_left = nq;
	c->batch_total = nq;
	return true;

failed:
	c->lost_message = malloc_strdup(pchomp(PQerrorMessage(c->conn)));
	return false;
}

/*
 * Deep copy of n statements in malloc'd memory, so that a batch can be
 * retried and named in messages after an abort.  free_stmts frees it.
 */
static ShardStmt *
copy_stmts(const ShardStmt *stmts, int n)
{
	ShardStmt  *r = calloc(Max(n, 1), sizeof(ShardStmt));

	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	for (int i = 0; i < n; i++)
	{
		char	  **params = NULL;

		r[i].sql = malloc_strdup(stmts[i].sql);
		r[i].context_sql = stmts[i].context_sql ?
			malloc_strdup(stmts[i].context_sql) : NULL;
		r[i].nparams = stmts[i].nparams;
		if (stmts[i].nparams > 0)
		{
			params = calloc(stmts[i].nparams, sizeof(char *));
			if (params == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
			for (int j = 0; j < stmts[i].nparams; j++)
				params[j] = stmts[i].params[j] ?
					malloc_strdup(stmts[i].params[j]) : NULL;
		}
		r[i].params = (const char *const *) params;
	}
	return r;
}

/* Free a copy made by copy_stmts. */
static void
free_stmts(ShardStmt *stmts, int n)
{
	if (stmts == NULL)
		return;
	for (int i = 0; i < n; i++)
	{
		free((char *) stmts[i].sql);
		free((char *) stmts[i].context_sql);
		for (int j = 0; j < stmts[i].nparams; j++)
			free((char *) stmts[i].params[j]);
		free((char **) stmts[i].params);
	}
	free(stmts);
}

/* SQL of the statement to name in messages about c's batch, or NULL. */
static const char *
batch_sql(ShardConn *c)
{
	ShardStmt  *st;

	if (c->batch_nstmts == 0)
		return NULL;
	if (c->batch_err_stmt >= 0 && c->batch_err_stmt < c->batch_nstmts)
		st = &c->batch_stmts[c->batch_err_stmt];
	else
		st = &c->batch_stmts[c->batch_nstmts - 1];
	return st->context_sql ? st->context_sql : st->sql;
}

/*
 * shardconn_send: one statement; see connection.h.
 */
void
shardconn_send(ShardConn *c, const char *sql, int nparams,
			   const char *const *params, void *owner, ShardConnAbsorb absorb)
{
	ShardStmt	st;

	st.context_sql = NULL;
	st.sql = sql;
	st.nparams = nparams;
	st.params = params;
	shardconn_send_stmts(c, &st, 1, owner, absorb);
}

/*
 * shardconn_send_stmts: see connection.h.
 */
void
shardconn_send_stmts(ShardConn *c, const ShardStmt *stmts, int nstmts,
					 void *owner, ShardConnAbsorb absorb)
{
	send_stmts(c, stmts, nstmts, owner, absorb, false);
}

/*
 * Send sql (one statement) as a batch for owner, with *flag, one of c's
 * per-batch flags (batch_autocommit, batch_reuse), set while the batch is
 * put on the wire.
 */
static void
send_flagged(ShardConn *c, const char *sql, int nparams,
			 const char *const *params, void *owner, ShardConnAbsorb absorb,
			 bool *flag)
{
	ShardStmt	st;

	st.context_sql = NULL;
	st.sql = sql;
	st.nparams = nparams;
	st.params = params;
	*flag = true;
	PG_TRY();
	{
		send_stmts(c, &st, 1, owner, absorb, false);
	}
	PG_FINALLY();
	{
		*flag = false;
	}
	PG_END_TRY();
}

/*
 * Send sql as a batch of its own in the shard's implicit transaction, for
 * owner (see shardconn_send_autocommit, shardconn_send_stream).
 */
static void
send_alone(ShardConn *c, const char *sql, int nparams,
		   const char *const *params, void *owner, ShardConnAbsorb absorb)
{
	if (c->busy)
		shardconn_settle(c);
	if (c->xact_depth != 0 || c->queued != NIL || c->prefetch_repair)
		elog(ERROR, "shardfdw autocommit statement in a remote transaction");
	send_flagged(c, sql, nparams, params, owner, absorb, &c->batch_autocommit);
}

/*
 * shardconn_send_autocommit: see connection.h.
 */
void
shardconn_send_autocommit(ShardConn *c, const char *sql, int nparams,
						  const char *const *params)
{
	send_alone(c, sql, nparams, params, NULL, NULL);
}

/*
 * Turn single-row mode on for c's streamed statement if its results are
 * next: libpq allows it only while the statement heads the pipeline's
 * queue and none of its results has been parsed, so this is tried when
 * the batch is sent and after each result that ends a query or a sync.
 * Without it (not possible) the rows come in one result: still right,
 * only not streamed.
 */
static void
stream_try_single(ShardConn *c)
{
	if (c->batch_stream && !c->stream_single && c->batch_left == 1 &&
		PQsetSingleRowMode(c->conn))
		c->stream_single = true;
}

/* Has c's stream gathered a chunk, so that reading waits for its owner? */
static bool
stream_paused(ShardConn *c)
{
	return c->batch_stream && !c->stream_all && !c->stream_discard &&
		c->stream_nrows >= c->stream_chunk;
}

/* Keep one row of c's stream (res, PGRES_SINGLE_TUPLE). */
static void
stream_keep(ShardConn *c, PGresult *res)
{
	c->stream_received++;
	if (c->stream_discard)
	{
		PQclear(res);
		return;
	}
	if (c->stream_nrows == c->stream_cap)
	{
		int			cap = Max(16, c->stream_cap * 2);
		PGresult  **rows = realloc(c->stream_rows, sizeof(PGresult *) * cap);

		if (rows == NULL)
		{
			PQclear(res);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
		c->stream_rows = rows;
		c->stream_cap = cap;
	}
	c->stream_rows[c->stream_nrows++] = res;
}

/* shardconn_send_stream: see connection.h. */
void
shardconn_send_stream(ShardConn *c, const char *sql, int nparams,
					  const char *const *params, int chunk, bool alone,
					  void *owner, ShardConnAbsorb absorb)
{
	if (alone)
		send_alone(c, sql, nparams, params, owner, absorb);
	else
		/* after what the remote transaction owes, in the same round trip */
		send_flagged(c, sql, nparams, params, owner, absorb, &c->batch_reuse);
	/* (nothing has been read yet: single-row mode can still be chosen) */
	c->batch_stream = true;
	c->stream_alone = alone;
	c->stream_retried = false;
	c->stream_chunk = Max(chunk, 1);
	stream_try_single(c);
}

/* shardconn_stream_take: see connection.h. */
PGresult **
shardconn_stream_take(ShardConn *c, int *nrows)
{
	PGresult  **rows = c->stream_rows;

	*nrows = c->stream_nrows;
	c->stream_rows = NULL;
	c->stream_nrows = 0;
	c->stream_cap = 0;
	return rows;
}

/*
 * shardconn_send_prepared: see connection.h.
 */
void
shardconn_send_prepared(ShardConn *c, const ShardStmt *stmts, int nstmts)
{
	c->batch_reuse = true;
	PG_TRY();
	{
		send_stmts(c, stmts, nstmts, NULL, NULL, false);
	}
	PG_FINALLY();
	{
		c->batch_reuse = false;
	}
	PG_END_TRY();
}

/*
 * shardconn_send_speculative: see connection.h.
 */
void
shardconn_send_speculative(ShardConn *c, const ShardStmt *stmts, int nstmts,
						   void *owner, ShardConnAbsorb absorb)
{
	send_stmts(c, stmts, nstmts, owner, absorb, true);
}

/*
 * Settle a speculative batch of c that has completed: if its statement
 * failed (and nothing else did: owed commands and the connection are
 * fine), owe the rollback to the prefetch savepoint to the next batch and
 * return true, leaving the error in c->batch_error.
 */
static bool
settle_speculative(ShardConn *c)
{
	if (!c->batch_speculative || !c->batch_spec_failed || c->batch_lost ||
		c->batch_error == NULL || c->batch_err_stmt != c->batch_nstmts - 1 ||
		PQstatus(c->conn) != CONNECTION_OK)
		return false;
	c->prefetch_repair = true;
	c->prefetch_repair_level = c->xact_depth;
	return true;
}

/*
 * shardconn_speculative_error: see connection.h.  The error is built by
 * shardconn_report, which only formats it (no resource is acquired between
 * the ereport and its catch), and copied out of the error state.
 */
ErrorData *
shardconn_speculative_error(ShardConn *c)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile edata = NULL;
	PGresult   *res;

	if (c->busy)
	{
		ShardConn  *one[1];

		one[0] = c;
		(void) shardconn_wait_any(one, 1);
	}
	if (!settle_speculative(c))
		return NULL;
	res = c->batch_error;
	c->batch_error = NULL;
	PG_TRY();
	{
		shardconn_report(ERROR, res, c, batch_sql(c));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	shardconn_clear_batch(c);
	return edata;
}

/*
 * Send a batch (see shardconn_send_stmts); speculative as for
 * shardconn_send_speculative.
 */
static void
send_stmts(ShardConn *c, const ShardStmt *stmts, int nstmts, void *owner,
		   ShardConnAbsorb absorb, bool speculative)
{
	if (c->in_copy)
	{
		/* the COPY open on c ends before anything else is sent */
		if (c->copy_finish == NULL)
			elog(ERROR, "shardfdw COPY open on %s", shardconn_describe(c));
		c->copy_finish(c, c->copy_owner);
		Assert(!c->in_copy);
	}
	if (c->busy)
		shardconn_settle(c);
	shardconn_clear_batch(c);

	/* a dead idle connection is remade transparently */
	if (c->xact_depth == 0 && PQstatus(c->conn) != CONNECTION_OK)
	{
		ForeignServer *server = GetForeignServer(c->serverid);
		UserMapping *user = GetUserMapping(c->userid, c->serverid);

		shardconn_disconnect(c);
		connect_entries(server, user, &c, 1);
	}
	if (c->broken)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("connection to %s is unusable in this transaction",
						shardconn_describe(c)),
				 errdetail("An earlier failure left the remote transaction in an unknown state.")));

	c->batch_stmts = copy_stmts(stmts, nstmts);
	c->batch_nstmts = nstmts;
	c->batch_speculative = speculative;
	c->owner = owner;
	c->absorb = absorb;

	if (!send_batch(c))
	{
		if (c->batch_began_xact)
			retry_batch(c);
		else
		{
			c->broken = true;
			report_lost(ERROR, c);
		}
	}
}

/*
 * The batch that started c's remote transaction failed because the
 * connection was dead: reconnect and send it once more.  Nothing of the
 * failed attempt can have been committed, as no COMMIT was sent.
 */
static void
retry_batch(ShardConn *c)
{
	ForeignServer *server = GetForeignServer(c->serverid);
	UserMapping *user = GetUserMapping(c->userid, c->serverid);
	ShardStmt  *stmts = c->batch_stmts;
	int			nstmts = c->batch_nstmts;
	void	   *owner = c->owner;
	ShardConnAbsorb absorb = c->absorb;
	bool		speculative = c->batch_speculative;
	bool		stream = c->batch_stream;
	int			chunk = c->stream_chunk;
	bool		all = c->stream_all;
	bool		discard = c->stream_discard;

	/* keep the statements across the reset */
	c->batch_stmts = NULL;
	c->batch_nstmts = 0;
	close_conn(c);
	c->busy = false;
	c->xact_depth = 0;
	list_free_deep(c->queued);
	c->queued = NIL;
	shardconn_clear_batch(c);
	c->batch_stmts = stmts;
	c->batch_nstmts = nstmts;
	forget_prepared(c);			/* (they were the old session's) */
	connect_entries(server, user, &c, 1);
	c->owner = owner;
	c->absorb = absorb;
	c->batch_speculative = speculative;
	c->prefetch_repair = false;
	if (!send_batch(c))
	{
		c->broken = true;
		report_lost(ERROR, c);
	}
	/* a stream in the remote transaction it starts stays one */
	c->batch_stream = stream;
	c->stream_alone = false;
	c->stream_chunk = chunk;
	c->stream_all = all;
	c->stream_discard = discard;
	stream_try_single(c);
	/* a retried batch is not retried again */
	c->batch_began_xact = false;
}

/*
 * c's stream was lost before any of its rows or its end arrived: send it
 * again, once, on a fresh connection.  A streamed statement is a SELECT
 * alone in the shard's implicit transaction: nothing it could have done
 * would be repeated, and its owner has no row of it yet.
 */
static void
retry_stream(ShardConn *c)
{
	ShardStmt  *st = c->batch_stmts;
	void	   *owner = c->owner;
	ShardConnAbsorb absorb = c->absorb;
	int			chunk = c->stream_chunk;
	bool		all = c->stream_all;
	char	   *sql = pstrdup(st->sql);
	int			nparams = st->nparams;
	const char **params = palloc(sizeof(char *) * Max(nparams, 1));

	for (int i = 0; i < nparams; i++)
		params[i] = st->params[i] ? pstrdup(st->params[i]) : NULL;
	shardconn_disconnect(c);
	shardconn_send_stream(c, sql, nparams, params, chunk, true, owner, absorb);
	c->stream_retried = true;
	c->stream_all = all;		/* (a settle goes on reading it all) */
	pfree(sql);
	pfree(params);
}

/*
 * Which statement of c's batch is the query now being read (the one
 * batch_left counts down to)?  -1 for the commands around the statements
 * (setup, owed commands, the prefetch savepoint); sets batch_spec_failed
 * when it is the speculative statement.
 */
static int
batch_error_stmt(ShardConn *c)
{
	int			k = c->batch_total - c->batch_left - c->batch_nowed;
	int			n = c->batch_nstmts;

	if (k < 0)
		return -1;
	/* (a Prepare and the Execute after it are the same statement) */
	if (c->batch_prepare_at >= 0 &&
		c->batch_total - c->batch_left > c->batch_prepare_at)
		k--;
	if (!c->batch_speculative || k < n - 1)
		return k < n ? k : -1;
	if (k == n)
	{
		/* (k == n - 1 is the SAVEPOINT, k == n + 1 the RELEASE) */
		c->batch_spec_failed = true;
		return n - 1;
	}
	return -1;
}

/* The batch has been read to its Sync: leave pipeline mode. */
static void
finish_batch(ShardConn *c)
{
	c->busy = false;
	if (PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF)
		(void) PQexitPipelineMode(c->conn);
}

/*
 * shardconn_poll: read whatever has arrived for c's batch without
 * blocking; true once the whole batch has been read (or the connection
 * was lost), with the statement's result in c->batch_result and the first
 * error in c->batch_error.
 */
bool
shardconn_poll(ShardConn *c)
{
	if (!poll_batch(c))
		return false;
	if (c->batch_lost && c->batch_began_xact &&
		!(c->batch_stream && c->stream_received > 0))
	{
		/*
		 * The connection was dead before the batch: try a fresh one.  (Not
		 * a stream that has handed out rows: its owner may have returned
		 * them, and they would come again.)
		 */
		retry_batch(c);
		return poll_batch(c);
	}
	if (c->batch_lost && c->batch_stream && c->stream_alone &&
		!c->stream_retried &&
		c->stream_received == 0 && c->batch_result == NULL &&
		c->batch_error == NULL)
	{
		/* a stream (a SELECT) lost before any answer: the same, once */
		retry_stream(c);
		return poll_batch(c);
	}
	return true;
}

/*
 * The body of shardconn_poll, without the retry: read what has arrived;
 * true when the batch is complete or the connection was lost.
 */
static bool
poll_batch(ShardConn *c)
{
	if (!c->busy)
		return true;
	if (stream_paused(c))
		return true;
	stream_try_single(c);

	/*
	 * A stream reads the socket only when libpq has no complete result
	 * left, so that what is buffered stays within one read of the socket.
	 */
	if ((!c->batch_stream || PQisBusy(c->conn)) && !PQconsumeInput(c->conn))
	{
		c->batch_lost = true;
		free(c->lost_message);
		c->lost_message = malloc_strdup(pchomp(PQerrorMessage(c->conn)));
		c->busy = false;
		return true;
	}
	while (!PQisBusy(c->conn))
	{
		PGresult   *res = PQgetResult(c->conn);

		if (res == NULL)
		{
			/* end of one query's results */
			if (c->batch_left > 0)
				c->batch_left--;
			stream_try_single(c);
			continue;
		}
		/* the Prepare of a new prepared statement: did it work? */
		if (c->batch_prepare != NULL &&
			c->batch_total - c->batch_left == c->batch_prepare_at &&
			PQresultStatus(res) != PGRES_PIPELINE_SYNC)	/* (the setup's) */
		{
			if (PQresultStatus(res) == PGRES_COMMAND_OK)
				c->batch_prepare->ready = true;
			c->batch_prepare = NULL;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_PIPELINE_SYNC:
				PQclear(res);
				if (--c->batch_syncs > 0)
				{
					stream_try_single(c);
					break;		/* the setup's own sync */
				}
				finish_batch(c);
				return true;
			case PGRES_SINGLE_TUPLE:
				/* a row of a streamed statement */
				stream_keep(c, res);
				if (stream_paused(c))
					return true;
				break;
			case PGRES_FATAL_ERROR:
			case PGRES_NONFATAL_ERROR:
			case PGRES_BAD_RESPONSE:
				if (c->batch_error == NULL)
				{
					c->batch_error = res;
					c->batch_err_stmt = batch_error_stmt(c);
					prepared_failed(c, res);
				}
				else
					PQclear(res);
				break;
			case PGRES_PIPELINE_ABORTED:
				PQclear(res);
				break;
			case PGRES_COMMAND_OK:
				/* (transaction commands and Prepares have no count) */
				if (*PQcmdTuples(res) != '\0')
					c->batch_affected += strtoll(PQcmdTuples(res), NULL, 10);
				/* FALLTHROUGH */
			default:
				if (c->batch_left == (c->batch_speculative ? 2 : 1))
				{
					/* the batch's own statement */
					if (c->batch_result)
						PQclear(c->batch_result);
					c->batch_result = res;
				}
				else
					PQclear(res);
				break;
		}
		if (PQstatus(c->conn) == CONNECTION_BAD)
		{
			c->batch_lost = true;
			free(c->lost_message);
			c->lost_message = malloc_strdup(pchomp(PQerrorMessage(c->conn)));
			c->busy = false;
			return true;
		}
	}
	return false;
}

/*
 * shardconn_wait_any: see connection.h.  A batch that lost a connection
 * which had only just started its remote transaction is retried here on a
 * fresh connection, transparently to the caller.
 */
int
shardconn_wait_any(ShardConn **conns, int n)
{
	pgsocket   *socks = palloc(sizeof(pgsocket) * Max(n, 1));
	int		   *events = palloc(sizeof(int) * Max(n, 1));
	int		   *index = palloc(sizeof(int) * Max(n, 1));
	DeadlockClock clock = {0, 1};	/* (see wait_statement) */

	for (;;)
	{
		int			k = 0;

		for (int i = 0; i < n; i++)
		{
			ShardConn  *c = conns[i];

			if (c == NULL || !c->busy)
				continue;
			if (shardconn_poll(c))
			{
				pfree(socks);
				pfree(events);
				pfree(index);
				return i;
			}
			socks[k] = PQsocket(c->conn);
			events[k] = WL_SOCKET_READABLE;
			index[k++] = i;
		}
		if (k == 0)
			break;
		(void) wait_statement(k, socks, events, &clock);
	}
	pfree(socks);
	pfree(events);
	pfree(index);
	return -1;
}

/*
 * Read c's batch to its end, waiting at most until deadline (0: forever).
 * Used where interrupts are held (abort processing).  Returns false on
 * timeout or a lost connection.
 */
static bool
wait_batch_until(ShardConn *c, TimestampTz deadline)
{
	while (!poll_batch(c))
	{
		pgsocket	sock = PQsocket(c->conn);
		int			ev = WL_SOCKET_READABLE;
		long		timeout = -1;

		if (deadline != 0)
		{
			timeout = ms_until(deadline);
			if (timeout <= 0)
				return false;
		}
		if (wait_sockets(1, &sock, &ev, timeout) == -1)
			return false;
	}
	return !c->batch_lost;
}

/*
 * Another user needs c while a batch is in flight: complete it and hand it
 * to its owner, or, for an orphaned batch, check and drop its results.
 */
void
shardconn_settle(ShardConn *c)
{
	ShardConn  *one[1];

	one[0] = c;
	c->stream_all = true;		/* (the owner gets all of a stream's rows) */
	(void) shardconn_wait_any(one, 1);
	if (c->commit_deferred)
	{
		/*
		 * The COMMIT of an earlier read-only transaction: nothing can have
		 * been lost, so a dead connection is just remade when next used; an
		 * error answer to COMMIT is worth a WARNING.
		 */
		c->commit_deferred = false;
		if (c->batch_error && !c->batch_lost &&
			PQstatus(c->conn) == CONNECTION_OK &&
			!ends_connection(c->batch_error))
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("COMMIT of a read-only remote transaction failed on %s; reconnecting",
							shardconn_describe(c)),
					 errdetail_internal("%s",
										PQresultErrorMessage(c->batch_error))));
		if (c->batch_lost || c->batch_error)
			shardconn_disconnect(c);
		else
			shardconn_clear_batch(c);
		return;
	}
	if (c->absorb)
		c->absorb(c, c->owner);
	else if (settle_speculative(c))
		shardconn_clear_batch(c);			/* nobody wanted what failed */
	else
	{
		PGresult   *res = shardconn_result(c);

		PQclear(res);
	}
}

/*
 * shardconn_orphan: the owner of the batch in flight no longer wants it.
 */
void
shardconn_orphan(ShardConn *c, void *owner)
{
	if (c->busy && c->owner == owner)
	{
		c->owner = NULL;
		c->absorb = NULL;
	}
}

/*
 * shardconn_drop_stream: see connection.h.
 */
void
shardconn_drop_stream(ShardConn *c, void *owner)
{
	if (!c->busy || c->owner != owner || !c->batch_stream)
		return;
	shardconn_orphan(c, owner);
	if (c->stream_alone)
		(void) shardconn_abandon(c);
	else
		c->stream_discard = true;
}

/*
 * Is res an error that ends the session (FATAL or PANIC, e.g. the backend
 * was terminated), as opposed to an error of the statement?
 */
static bool
ends_connection(const PGresult *res)
{
	const char *severity = PQresultErrorField(res,
											  PG_DIAG_SEVERITY_NONLOCALIZED);

	return severity != NULL &&
		(strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
}

/* Raise the error for a connection lost during a batch. */
static void
report_lost(int elevel, ShardConn *c)
{
	ereport(elevel,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("lost connection to %s", shardconn_describe(c)),
			 c->lost_message ? errdetail_internal("%s", c->lost_message) : 0,
			 batch_sql(c) ? errcontext("remote SQL command: %s", batch_sql(c)) : 0));
}

/*
 * shardconn_result: see connection.h.
 */
PGresult *
shardconn_result(ShardConn *c)
{
	PGresult   *res;

	if (c->busy)
	{
		ShardConn  *one[1];

		one[0] = c;
		(void) shardconn_wait_any(one, 1);
	}
	if (c->batch_lost)
	{
		c->broken = c->xact_depth > 0;
		report_lost(ERROR, c);
	}
	if (c->batch_error)
	{
		res = c->batch_error;
		c->batch_error = NULL;
		shardconn_report(ERROR, res, c, batch_sql(c));
	}
	res = c->batch_result;
	c->batch_result = NULL;
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("no result from %s", shardconn_describe(c)),
				 batch_sql(c) ? errcontext("remote SQL command: %s", batch_sql(c)) : 0));
	return res;
}

/* shardconn_exec: send and wait; see connection.h. */
PGresult *
shardconn_exec(ShardConn *c, const char *sql, int nparams,
			   const char *const *params)
{
	shardconn_send(c, sql, nparams, params, NULL, NULL);
	return shardconn_result(c);
}

/* shardconn_command: run a utility command; see connection.h. */
void
shardconn_command(ShardConn *c, const char *sql)
{
	PQclear(shardconn_exec(c, sql, 0, NULL));
}

/*
 * shardconn_report: raise the remote error in res at elevel.  res is
 * PQclear'd before raising; the remote SQLSTATE, message, detail, hint,
 * context and the names of the schema, table, column, data type and
 * constraint concerned (as on the shard) are kept, and a context line
 * names the shard and the SQL.
 */
void
shardconn_report(int elevel, PGresult *res, ShardConn *c, const char *sql)
{
	report_with_context(elevel, res, c, sql, NULL);
}

/*
 * shardconn_report with the remote context replaced by context_text, when
 * that is not NULL.
 */
static void
report_with_context(int elevel, PGresult *res, ShardConn *c, const char *sql,
					const char *context_text)
{
	report_remote(elevel, res, c->conn, shardconn_describe(c), sql,
				  context_text);
}

/*
 * Raise (at elevel) the remote error of res (PQclear'd here; NULL: the
 * connection's own error), with its SQLSTATE and fields, and a context
 * line naming where (e.g. "shard p1 (...) of server "x"") and sql.
 */
static void
report_remote(int elevel, PGresult *res, PGconn *conn, const char *where,
			  const char *sql, const char *context_text)
{
	char	   *sqlstate = NULL;
	char	   *primary = NULL;
	char	   *detail = NULL;
	char	   *hint = NULL;
	char	   *context = NULL;
	char	   *schema = NULL;
	char	   *table = NULL;
	char	   *column = NULL;
	char	   *datatype = NULL;
	char	   *constraint = NULL;
	char	   *sqlcopy = sql ? pstrdup(sql) : NULL;
	int			code = ERRCODE_CONNECTION_FAILURE;

#define COPYFIELD(var, field) \
	do { \
		char *v_ = res ? PQresultErrorField(res, field) : NULL; \
		if (v_) var = pstrdup(v_); \
	} while (0)

	COPYFIELD(sqlstate, PG_DIAG_SQLSTATE);
	COPYFIELD(primary, PG_DIAG_MESSAGE_PRIMARY);
	COPYFIELD(detail, PG_DIAG_MESSAGE_DETAIL);
	COPYFIELD(hint, PG_DIAG_MESSAGE_HINT);
	COPYFIELD(context, PG_DIAG_CONTEXT);
	if (context_text != NULL)
		context = pstrdup(context_text);
	COPYFIELD(schema, PG_DIAG_SCHEMA_NAME);
	COPYFIELD(table, PG_DIAG_TABLE_NAME);
	COPYFIELD(column, PG_DIAG_COLUMN_NAME);
	COPYFIELD(datatype, PG_DIAG_DATATYPE_NAME);
	COPYFIELD(constraint, PG_DIAG_CONSTRAINT_NAME);
#undef COPYFIELD
	if (res)
		PQclear(res);

	if (sqlstate && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
							 sqlstate[3], sqlstate[4]);
	if (primary == NULL)
		primary = conn ? pchomp(PQerrorMessage(conn)) :
			pstrdup("connection lost");

	ereport(elevel,
			(errcode(code),
			 errmsg_internal("%s", primary),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 context ? errcontext("%s", context) : 0,
			 schema ? err_generic_string(PG_DIAG_SCHEMA_NAME, schema) : 0,
			 table ? err_generic_string(PG_DIAG_TABLE_NAME, table) : 0,
			 column ? err_generic_string(PG_DIAG_COLUMN_NAME, column) : 0,
			 datatype ? err_generic_string(PG_DIAG_DATATYPE_NAME, datatype) : 0,
			 constraint ? err_generic_string(PG_DIAG_CONSTRAINT_NAME, constraint) : 0,
			 errcontext("remote SQL command on %s: %s", where,
						sqlcopy ? sqlcopy : "(none)")));
}

/*
 * Wait until c's socket is ready for ev (WL_SOCKET_READABLE or
 * _WRITEABLE), checking for interrupts; a lost connection is an error.
 */
static void
wait_socket(ShardConn *c, int ev)
{
	pgsocket	sock = PQsocket(c->conn);
	DeadlockClock clock = {0, 1};

	if (sock == PGINVALID_SOCKET)
	{
		c->broken = c->xact_depth > 0;
		report_lost(ERROR, c);
	}
	(void) wait_statement(1, &sock, &ev, &clock);
}

/*
 * Statement waits.  Wait like wait_sockets with no time limit (the caller
 * loops until the shard answers), but once shardfdw.deadlock_timeout has
 * passed since the clock started (the caller keeps *clock, zeroed, for the
 * whole of its wait, so that latch wakeups do not restart it), run the
 * distributed deadlock detector (deadlock.c), which raises 40P01 if this
 * backend is the victim of a cycle; then again after intervals that double
 * while no cycle is seen.  Returns what wait_sockets returned.
 */
static int
wait_statement(int n, pgsocket *socks, int *events, DeadlockClock *clock)
{
	long		interval = shardfdw_deadlock_check_after();
	long		timeout = -1;
	int			r;

	if (interval > 0)
	{
		if (clock->check_at == 0)
		{
			clock->factor = 1;
			clock->check_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  interval);
		}
		timeout = ms_until(clock->check_at);
		if (timeout <= 0)
		{
			deadlock_check(clock, interval);
			timeout = Max(ms_until(clock->check_at), 0);
		}
	}
	r = wait_sockets(n, socks, events, timeout);
	if (r == -1 && interval > 0 && ms_until(clock->check_at) <= 0)
		deadlock_check(clock, interval);
	return r;
}

/* Run a deadlock check of a statement wait and set its next time. */
static void
deadlock_check(DeadlockClock *clock, long interval)
{
	if (shardfdw_deadlock_check())
		clock->factor = 1;
	else
		clock->factor = Min(clock->factor * 2, SHARDFDW_DEADLOCK_MAX_BACKOFF);
	clock->check_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  interval * clock->factor);
}

/* shardconn_copy_begin: see connection.h. */
void
shardconn_copy_begin(ShardConn *c, const char *sql, void *owner,
					 ShardConnAbsorb finish)
{
	shardconn_copy_begin_many(&c, 1, sql, owner, finish);
}

/*
 * shardconn_copy_begin_many: see connection.h.  Each phase is sent to
 * every connection before any answer is read, so a shard that waits (for
 * a lock, say) does not keep the others from starting.
 */
void
shardconn_copy_begin_many(ShardConn **conns, int n, const char *sql,
						  void *owner, ShardConnAbsorb finish)
{
	/* what the remote transactions owe: COPY cannot be pipelined */
	for (int i = 0; i < n; i++)
		if (conns[i] != NULL)
			shardconn_send(conns[i], "SELECT NULL", 0, NULL, NULL, NULL);
	for (int i = 0; i < n; i++)
		if (conns[i] != NULL)
			PQclear(shardconn_result(conns[i]));

	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = conns[i];

		if (c == NULL)
			continue;
		if (!PQsendQuery(c->conn, sql))
		{
			c->broken = true;
			report_lost(ERROR, c);
		}
		c->in_copy = true;
		c->copy_ended = false;
		c->copy_owner = owner;
		c->copy_finish = finish;
	}

	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = conns[i];
		PGresult   *res;

		if (c == NULL)
			continue;
		for (;;)
		{
			if (!PQconsumeInput(c->conn))
			{
				copy_closed(c);
				c->broken = true;
				report_lost(ERROR, c);
			}
			if (!PQisBusy(c->conn))
				break;
			wait_socket(c, WL_SOCKET_READABLE);
		}
		res = PQgetResult(c->conn);
		if (PQresultStatus(res) != PGRES_COPY_IN)
		{
			copy_closed(c);
			/* (the NULL ending the failed command's results) */
			while (PQgetResult(c->conn) != NULL)
				;
			shardconn_report(ERROR, res, c, sql);
		}
		PQclear(res);
		if (PQsetnonblocking(c->conn, 1) != 0)
			elog(ERROR, "shardfdw could not make the connection to %s nonblocking",
				 shardconn_describe(c));
	}
}

/* shardconn_copy_put: see connection.h. */
void
shardconn_copy_put(ShardConn *c, const char *data, int len)
{
	for (;;)
	{
		int			r = PQputCopyData(c->conn, data, len);

		if (r == 1)
			return;
		if (r < 0)
		{
			c->broken = true;
			report_lost(ERROR, c);
		}
		/* the output buffer is full: wait until the shard takes some */
		wait_socket(c, WL_SOCKET_WRITEABLE);
		if (PQflush(c->conn) < 0)
		{
			c->broken = true;
			report_lost(ERROR, c);
		}
	}
}

/* shardconn_copy_end: see connection.h. */
void
shardconn_copy_end(ShardConn *c)
{
	int			r;

	while ((r = PQputCopyEnd(c->conn, NULL)) == 0)
		wait_socket(c, WL_SOCKET_WRITEABLE);
	if (r < 0)
	{
		c->broken = true;
		report_lost(ERROR, c);
	}
	c->copy_ended = true;
}

/* shardconn_copy_result: see connection.h. */
uint64
shardconn_copy_result(ShardConn *c)
{
	return shardconn_copy_result_mapped(c, NULL, 0, NULL);
}

/*
 * The context text of a COPY error res with every "COPY name, line N"
 * whose N is 1 .. nlines told as the caller's line lines[N - 1], or as
 * "COPY name, row lines[N - 1] of <rows_of>" (see
 * shardconn_copy_result_mapped); palloc'd, or NULL to keep res's.
 */
static char *
map_copy_context(const PGresult *res, const uint64 *lines, int nlines,
				 const char *rows_of)
{
	const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
	StringInfoData buf;
	const char *p;
	bool		changed = false;

	if (ctx == NULL || lines == NULL)
		return NULL;
	initStringInfo(&buf);
	p = ctx;
	while (*p)
	{
		const char *copy = strstr(p, "COPY ");
		const char *at;
		char	   *end;
		unsigned long long n;

		if (copy == NULL)
			break;
		at = strstr(copy, ", line ");
		if (at == NULL || memchr(copy, '\n', at - copy) != NULL)
		{
			appendBinaryStringInfo(&buf, p, copy + 5 - p);
			p = copy + 5;
			continue;
		}
		n = strtoull(at + 7, &end, 10);
		if (end == at + 7 || n < 1 || n > (unsigned long long) nlines)
		{
			appendBinaryStringInfo(&buf, p, at + 7 - p);
			p = at + 7;
			continue;
		}
		if (rows_of == NULL)
		{
			appendBinaryStringInfo(&buf, p, at + 7 - p);
			appendStringInfo(&buf, UINT64_FORMAT, lines[n - 1]);
		}
		else
		{
			appendBinaryStringInfo(&buf, p, at - p);
			appendStringInfo(&buf, ", row " UINT64_FORMAT " of %s",
							 lines[n - 1], rows_of);
		}
		p = end;
		changed = true;
	}
	appendStringInfoString(&buf, p);
	if (!changed)
	{
		pfree(buf.data);
		return NULL;
	}
	return buf.data;
}

/* shardconn_copy_result_mapped: see connection.h. */
uint64
shardconn_copy_result_mapped(ShardConn *c, const uint64 *lines, int nlines,
							 const char *rows_of)
{
	PGresult   *res;
	PGresult   *next;
	uint64		n;

	for (;;)
	{
		int			f = PQflush(c->conn);

		if (f < 0 || !PQconsumeInput(c->conn))
		{
			copy_closed(c);
			c->broken = true;
			report_lost(ERROR, c);
		}
		if (f == 0 && !PQisBusy(c->conn))
			break;
		wait_socket(c, f > 0 ? WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE :
					WL_SOCKET_READABLE);
	}
	copy_closed(c);
	(void) PQsetnonblocking(c->conn, 0);
	res = PQgetResult(c->conn);
	while ((next = PQgetResult(c->conn)) != NULL)
		PQclear(next);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		report_with_context(ERROR, res, c, "COPY ... FROM STDIN",
							map_copy_context(res, lines, nlines, rows_of));
	n = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

/*
 * End a COPY still streaming on c during abort processing: tell the shard
 * it failed and read its answer, with a deadline.  False if that did not
 * work (the connection is then unusable).
 */
static bool
abandon_copy(ShardConn *c, TimestampTz deadline)
{
	PGresult   *res;

	copy_closed(c);
	/* (a COPY whose end was sent only has its answer left to read) */
	if (!c->copy_ended &&
		PQputCopyEnd(c->conn, "canceled by the coordinator") < 0)
		return false;
	for (;;)
	{
		pgsocket	sock = PQsocket(c->conn);
		int			ev = WL_SOCKET_READABLE;
		long		timeout = ms_until(deadline);
		int			f = PQflush(c->conn);

		if (f < 0 || !PQconsumeInput(c->conn))
			return false;
		if (f == 0 && !PQisBusy(c->conn))
			break;
		if (timeout <= 0)
			return false;
		if (f > 0)
			ev |= WL_SOCKET_WRITEABLE;
		if (wait_sockets(1, &sock, &ev, timeout) == -1)
			return false;
	}
	while ((res = PQgetResult(c->conn)) != NULL)
		PQclear(res);
	(void) PQsetnonblocking(c->conn, 0);
	return true;
}

/*
 * shardconn_abandon: cancel c's batch in flight and read it to its end.
 * Interrupts may be held: waits are bounded.  Returns false, with c marked
 * broken, if that did not work.
 */
bool
shardconn_abandon(ShardConn *c)
{
	bool		ok;

	shardconn_abandon_many(&c, 1, &ok);
	return ok;
}

/*
 * Wait, until deadline, while any of conns[0 .. n-1] (NULL entries
 * skipped) is busy, not lost, and (owed_only) still running the commands
 * its remote transaction owed, reading what arrives.
 */
static void
wait_abandoned(ShardConn **conns, int n, TimestampTz deadline, bool owed_only)
{
	pgsocket   *socks = palloc(sizeof(pgsocket) * Max(n, 1));
	int		   *events = palloc(sizeof(int) * Max(n, 1));

	for (;;)
	{
		int			k = 0;
		long		timeout = ms_until(deadline);

		for (int i = 0; i < n; i++)
		{
			ShardConn  *c = conns[i];

			if (c == NULL || !c->busy || c->batch_lost ||
				(owed_only && c->batch_total - c->batch_left >= c->batch_nowed))
				continue;
			socks[k] = PQsocket(c->conn);
			events[k++] = WL_SOCKET_READABLE;
		}
		if (k == 0)
			break;
		/*
		 * (Past the deadline, what has arrived is still read once: a
		 * shard whose batch ended while another shard's cancel request
		 * used up the time is not given up.)
		 */
		if (timeout > 0 && wait_sockets(k, socks, events, timeout) == -1)
			timeout = 0;
		for (int i = 0; i < n; i++)
			if (conns[i] != NULL && conns[i]->busy)
				(void) poll_batch(conns[i]);
		if (timeout <= 0)
			break;
	}
	pfree(socks);
	pfree(events);
}

/*
 * shardconn_abandon_many: see connection.h.  Every phase is done for all
 * connections before the next, with one deadline for all: a stuck shard
 * costs the deadline once, not once per shard.
 */
void
shardconn_abandon_many(ShardConn **conns, int n, bool *ok)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   SHARDCONN_ABORT_TIMEOUT_MS);

	/* a COPY still open ends with an error; what has arrived is read */
	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = conns[i];

		ok[i] = true;
		if (c == NULL)
			continue;
		c->stream_discard = true;	/* (a stream's rows are dropped) */
		if (c->in_copy && !abandon_copy(c, deadline))
		{
			c->broken = true;
			ok[i] = false;
			conns[i] = NULL;	/* (nothing more to do with it) */
			continue;
		}
		if (c->busy && poll_batch(c) && !c->batch_lost)
			shardconn_clear_batch(c);
	}

	/*
	 * A cancel must not land on a command the remote transaction owed
	 * (START TRANSACTION, SAVEPOINT): a savepoint that was never made
	 * cannot be rolled back to, and the shard's whole transaction would be
	 * lost with it.  Their results come at once (send_batch asks for a
	 * flush after them): wait for those first.  A cancel sent after them
	 * can only hit the batch's own statements, or find the shard idle,
	 * which ignores it (a request is done once the signal is sent, before we
	 * read the batch's end).
	 */
	wait_abandoned(conns, n, deadline, true);

	/*
	 * The cancel requests: all at once, within the same deadline (none at
	 * all at the end of a transaction that left nothing in flight).
	 */
	{
		PGconn	  **busy = NULL;
		const char **labels = NULL;

		for (int i = 0; i < n; i++)
		{
			ShardConn  *c = conns[i];

			if (c == NULL || !c->busy || c->batch_lost)
				continue;
			if (busy == NULL)
			{
				busy = palloc0(sizeof(PGconn *) * n);
				labels = palloc0(sizeof(char *) * n);
			}
			busy[i] = c->conn;
			labels[i] = shardconn_describe(c);
		}
		if (busy != NULL)
		{
			(void) shard_cancel_many(busy, labels, n, deadline);
			pfree(busy);
			pfree(labels);
		}
	}
	wait_abandoned(conns, n, deadline, false);

	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = conns[i];

		if (c == NULL)
			continue;
		if (c->busy || c->batch_lost)
		{
			c->broken = true;
			c->busy = false;
			ok[i] = false;
		}
		shardconn_clear_batch(c);
	}
}

/*
 * Run sql on c during abort processing (interrupts held): bounded wait,
 * errors reported as WARNING.  Returns success.
 */
bool
shardconn_run_in_abort(ShardConn *c, const char *sql)
{
	bool		ok;

	shardconn_run_in_abort_many(&c, &sql, 1, &ok, NULL);
	return ok;
}

/*
 * shardconn_run_in_abort_many: see connection.h.  Everything is sent
 * before any answer is read; one deadline for all.
 */
void
shardconn_run_in_abort_many(ShardConn **conns, const char **sqls, int n,
							bool *ok, const char *fine_sqlstate)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   SHARDCONN_ABORT_TIMEOUT_MS);

	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = conns[i];

		ok[i] = false;
		if (c == NULL || c->conn == NULL || c->broken ||
			PQstatus(c->conn) != CONNECTION_OK)
			continue;
		shardconn_clear_batch(c);
		list_free_deep(c->queued);
		c->queued = NIL;
		if (!PQenterPipelineMode(c->conn) ||
			!PQsendQueryParams(c->conn, sqls[i], 0, NULL, NULL, NULL, NULL,
							   0) ||
			!PQpipelineSync(c->conn))
			continue;
		c->busy = true;
		c->batch_left = 1;
		c->batch_total = 1;
		c->batch_nowed = 0;
		c->batch_syncs = 1;
		c->batch_prepare = NULL;
		c->batch_prepare_at = -1;
		c->batch_affected = 0;
		ok[i] = true;
	}
	for (int i = 0; i < n; i++)
	{
		ShardConn  *c = conns[i];

		if (!ok[i])
			continue;
		ok[i] = wait_batch_until(c, deadline);
		if (ok[i] && c->batch_error)
		{
			PGresult   *res = c->batch_error;
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			c->batch_error = NULL;
			if (fine_sqlstate && state && strcmp(state, fine_sqlstate) == 0)
				PQclear(res);	/* an outcome the caller accepts */
			else
			{
				shardconn_report(WARNING, res, c, sqls[i]);
				ok[i] = false;
			}
		}
		c->busy = false;
		shardconn_clear_batch(c);
	}
}

/*
 * A foreign server or user mapping changed: connections using it are
 * remade when next idle.
 */
static void
inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;

	if (cacheid == FOREIGNSERVEROID)
		server_invals++;
	hash_seq_init(&scan, ConnectionHash);
	while ((c = hash_seq_search(&scan)) != NULL)
	{
		if (c->conn == NULL)
			continue;
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && c->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && c->mapping_hashvalue == hashvalue))
			c->invalidated = true;
	}
}

/*
 * shardfdw.connections(): one row per open connection of this session.
 */
Datum
shardfdw_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	ShardConn  *c;

	InitMaterializedSRF(fcinfo, 0);
	if (ConnectionHash == NULL)
		PG_RETURN_VOID();

	hash_seq_init(&scan, ConnectionHash);
	while ((c = hash_seq_search(&scan)) != NULL)
	{
		Datum		values[7];
		bool		nulls[7] = {0};

		if (c->conn == NULL)
			continue;
		values[0] = CStringGetTextDatum(c->server_name);
		values[1] = Int32GetDatum(c->key.shard);
		values[2] = CStringGetTextDatum(c->host);
		values[3] = CStringGetTextDatum(c->port);
		values[4] = CStringGetTextDatum(PQuser(c->conn));
		values[5] = BoolGetDatum(c->xact_depth > 0);
		values[6] = BoolGetDatum(!c->invalidated && !c->broken &&
								 PQstatus(c->conn) == CONNECTION_OK);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * shardfdw.disconnect_all(): close every connection not in use by the
 * current transaction; true if any was closed.
 */
Datum
shardfdw_disconnect_all(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	bool		closed = false;

	if (ConnectionHash == NULL)
		PG_RETURN_BOOL(false);
	hash_seq_init(&scan, ConnectionHash);
	while ((c = hash_seq_search(&scan)) != NULL)
	{
		if (c->conn == NULL)
			continue;
		if (c->commit_deferred)
			shardconn_settle(c);
		if (c->conn == NULL)
			continue;
		if (c->xact_depth > 0 || c->busy)
		{
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot close the connection to %s because it is still in use",
							shardconn_describe(c))));
			continue;
		}
		shardconn_disconnect(c);
		closed = true;
	}
	PG_RETURN_BOOL(closed);
}

/*
 * shardconn_set_transmission_modes: every setting the shards' text
 * conventions fix, in a new GUC nest level (returned).
 */
int
shardconn_set_transmission_modes(void)
{
	return shardconn_set_transmission_modes_for(SHARDCONN_TEXT_ALL);
}

/* shardconn_set_transmission_modes_for: see connection.h. */
int
shardconn_set_transmission_modes_for(int needs)
{
	int			nestlevel = -1;

#define SAVE_SETTING(name, value) \
	do { \
		if (nestlevel < 0) \
			nestlevel = NewGUCNestLevel(); \
		(void) set_config_option((name), (value), PGC_USERSET, \
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, \
								 false); \
	} while (0)

	if ((needs & SHARDCONN_TEXT_DATES) && DateStyle != USE_ISO_DATES)
		SAVE_SETTING("datestyle", "ISO");
	if ((needs & SHARDCONN_TEXT_DATES) && IntervalStyle != INTSTYLE_POSTGRES)
		SAVE_SETTING("intervalstyle", "postgres");
	if ((needs & SHARDCONN_TEXT_FLOATS) && extra_float_digits < 3)
		SAVE_SETTING("extra_float_digits", "3");
	/* the remote search_path is pg_catalog: so must ours be for regproc & co */
	if (needs & SHARDCONN_TEXT_NAMES)
		SAVE_SETTING("search_path", "pg_catalog");
#undef SAVE_SETTING
	return nestlevel;
}

/* shardconn_text_needs: see connection.h. */
int
shardconn_text_needs(Oid type)
{
	switch (getBaseType(type))
	{
		case BOOLOID:
		case CHAROID:
		case NAMEOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case TIDOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NUMERICOID:
		case UUIDOID:
		case INETOID:
		case CIDROID:
		case MACADDROID:
		case MACADDR8OID:
		case BYTEAOID:			/* (either bytea_output reads back) */
		case JSONOID:
		case JSONBOID:
			return 0;
		case FLOAT4OID:
		case FLOAT8OID:
			return SHARDCONN_TEXT_FLOATS;
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INTERVALOID:
			return SHARDCONN_TEXT_DATES;
		default:
			/* reg* types, and anything that may hold them */
			return SHARDCONN_TEXT_ALL;
	}
}

/* shardconn_reset_transmission_modes: undo the above. */
void
shardconn_reset_transmission_modes(int nestlevel)
{
	if (nestlevel < 0)
		return;
	AtEOXact_GUC(true, nestlevel);
}

/* states of a probe (shardconn_probe) */
#define PROBE_DONE			0
#define PROBE_CONNECTING	1
#define PROBE_QUERYING		2

/*
 * Sessions: connections of their own for cluster operations (reshard.c).
 *
 * A session is not in the connection cache and takes no part in the
 * local transaction: each command commits on its own, as in psql.  The
 * caller owns it from shardconn_session_open until shardconn_session_close,
 * which it must reach also on error (PG_FINALLY); the socket counts
 * against the backend's external file descriptors meanwhile.  Every wait
 * has a deadline and checks for interrupts.
 */

/*
 * Wait until s's socket is ready for ev or the deadline passes (then an
 * ERROR names what timed out).
 */
static void
session_wait(ShardSession *s, int ev, TimestampTz deadline, const char *doing)
{
	pgsocket	sock = PQsocket(s->conn);
	long		timeout = ms_until(deadline);

	if (timeout <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("timed out %s on %s", doing, s->what)));
	socket_generation++;		/* (not one of the cached connections') */
	(void) wait_sockets(1, &sock, &ev, timeout);
	socket_generation++;
}

/* A libpq notice receiver that drops the notice. */
static void
ignore_notice(void *arg, const PGresult *res)
{
}

static void session_stop(ShardSession *s);

/* shardconn_session_open: see connection.h. */
void
shardconn_session_open(ShardSession *s, const char **keywords,
					   const char **values, const char *what,
					   long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	s->what = pstrdup(what);
	s->conn = NULL;
	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to %s: too many open files",
						s->what)));
	s->conn = PQconnectStartParams(keywords, values, false);
	if (s->conn == NULL)
	{
		ReleaseExternalFD();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while connecting to %s", s->what)));
	}
	while (PQstatus(s->conn) != CONNECTION_BAD &&
		   st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		session_wait(s, st == PGRES_POLLING_READING ?
					 WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
					 deadline, "connecting");
		st = PQconnectPoll(s->conn);
	}
	if (PQstatus(s->conn) != CONNECTION_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to %s", s->what),
				 errdetail_internal("%s", pchomp(PQerrorMessage(s->conn)))));
	/* the remote NOTICEs ("already exists, skipping") are not ours to show */
	PQsetNoticeReceiver(s->conn, ignore_notice, NULL);
}

/* shardconn_session_exec: see connection.h. */
PGresult *
shardconn_session_exec(ShardSession *s, const char *sql, int nparams,
					   const char *const *params, long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	PGresult   *volatile last = NULL;

	/* (without parameters, the simple protocol: several statements run as
	 * one implicit transaction) */
	if (!(nparams == 0 ? PQsendQuery(s->conn, sql) :
		  PQsendQueryParams(s->conn, sql, nparams, NULL, params, NULL, NULL,
							0)))
		report_remote(ERROR, NULL, s->conn, s->what, sql, NULL);
	PG_TRY();
	{
		for (;;)
		{
			PGresult   *res;

			while (PQisBusy(s->conn))
			{
				session_wait(s, WL_SOCKET_READABLE, deadline,
							 "waiting for an answer");
				if (!PQconsumeInput(s->conn))
					report_remote(ERROR, NULL, s->conn, s->what, sql, NULL);
			}
			res = PQgetResult(s->conn);
			if (res == NULL)
				break;
			if (last)
				PQclear(last);
			last = res;
		}
	}
	PG_CATCH();
	{
		/* a timeout, an interrupt, a lost connection: stop the command */
		if (last)
			PQclear(last);
		session_stop(s);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (last == NULL ||
		(PQresultStatus(last) != PGRES_COMMAND_OK &&
		 PQresultStatus(last) != PGRES_TUPLES_OK))
		report_remote(ERROR, last, s->conn, s->what, sql, NULL);
	return last;
}

/*
 * The command in flight on s is given up: cancel it and read what is left
 * of its answer (5 s at most, without checking for interrupts: this runs
 * while an error is being handled), so that s can be used again; if that
 * fails, close s.
 */
static void
session_stop(ShardSession *s)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   5000);

	if (s->conn == NULL)
		return;
	if (PQstatus(s->conn) == CONNECTION_OK && PQisBusy(s->conn))
		(void) shard_cancel_many(&s->conn, NULL, 1, deadline);
	while (PQstatus(s->conn) == CONNECTION_OK)
	{
		PGresult   *res;

		if (PQisBusy(s->conn))
		{
			long		left = ms_until(deadline);

			if (left <= 0)
				break;
			(void) WaitLatchOrSocket(NULL, WL_SOCKET_READABLE | WL_TIMEOUT |
									 WL_EXIT_ON_PM_DEATH, PQsocket(s->conn),
									 left, PG_WAIT_EXTENSION);
			if (!PQconsumeInput(s->conn))
				break;
			continue;
		}
		res = PQgetResult(s->conn);
		if (res == NULL)
			return;				/* all read: s is usable */
		PQclear(res);
	}
	shardconn_session_close(s);
}

/* shardconn_session_value: see connection.h. */
char *
shardconn_session_value(ShardSession *s, const char *sql, int nparams,
						const char *const *params, long timeout_ms)
{
	PGresult   *res = shardconn_session_exec(s, sql, nparams, params,
											 timeout_ms);
	char	   *v = NULL;

	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		v = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* shardconn_session_close: see connection.h. */
void
shardconn_session_close(ShardSession *s)
{
	if (s->conn == NULL)
		return;
	PQfinish(s->conn);
	s->conn = NULL;
	ReleaseExternalFD();
	socket_generation++;
}

/*
 * shardconn_probe: see connection.h.  The connections are made, queried
 * and closed here, all shards at once, with one deadline; none outlives
 * the call, also on error (the sockets are given back with
 * ReleaseExternalFD).  A probe that cannot connect, fails or is too slow
 * just has no result.  Results are in the caller's memory context's care
 * as PGresults (the caller PQclear()s them).
 */
void
shardconn_probe(ShardProbe *probes, int n, const char *sql,
				const char *application_name, long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	PostgresPollingStatusType *poll = palloc(sizeof(PostgresPollingStatusType) * Max(n, 1));
	int		   *state = palloc0(sizeof(int) * Max(n, 1));
	pgsocket   *socks = palloc(sizeof(pgsocket) * Max(n, 1));
	int		   *events = palloc(sizeof(int) * Max(n, 1));
	int		   *index = palloc(sizeof(int) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		probes[i].result = NULL;
		probes[i].error = NULL;
		probes[i].conn = NULL;
	}
	socket_generation++;
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			ShardProbe *p = &probes[i];
			const char **kw;
			const char **val;

			shardfdw_conn_params(p->server, p->user, p->shard, &kw, &val);
			for (int k = 0; kw[k]; k++)
				if (strcmp(kw[k], "application_name") == 0)
					val[k] = application_name;
			if (!AcquireExternalFD())
				continue;
			p->conn = PQconnectStartParams(kw, val, false);
			if (p->conn == NULL)
			{
				ReleaseExternalFD();
				continue;
			}
			if (PQstatus(p->conn) == CONNECTION_BAD)
				continue;
			poll[i] = PGRES_POLLING_WRITING;
			state[i] = PROBE_CONNECTING;
		}

		for (;;)
		{
			int			k = 0;
			long		timeout;
			int			r;

			for (int i = 0; i < n; i++)
			{
				ShardProbe *p = &probes[i];

				if (state[i] == PROBE_CONNECTING)
				{
					if (poll[i] == PGRES_POLLING_FAILED)
					{
						state[i] = PROBE_DONE;
						continue;
					}
					if (poll[i] != PGRES_POLLING_OK)
					{
						socks[k] = PQsocket(p->conn);
						events[k] = poll[i] == PGRES_POLLING_READING ?
							WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
						index[k++] = i;
						continue;
					}
					/* connected: a small query, sent at once */
					state[i] = PQsendQuery(p->conn, sql) ?
						PROBE_QUERYING : PROBE_DONE;
				}
				if (state[i] != PROBE_QUERYING)
					continue;
				if (!PQconsumeInput(p->conn))
				{
					state[i] = PROBE_DONE;
					continue;
				}
				while (state[i] == PROBE_QUERYING && !PQisBusy(p->conn))
				{
					PGresult   *res = PQgetResult(p->conn);

					if (res == NULL)
						state[i] = PROBE_DONE;
					else if (PQresultStatus(res) == PGRES_TUPLES_OK &&
							 p->result == NULL)
						p->result = res;
					else
						PQclear(res);
				}
				if (state[i] == PROBE_QUERYING)
				{
					socks[k] = PQsocket(p->conn);
					events[k] = WL_SOCKET_READABLE;
					index[k++] = i;
				}
			}
			if (k == 0)
				break;
			timeout = ms_until(deadline);
			if (timeout <= 0)
				break;
			socket_generation++;	/* (a connecting socket may change) */
			r = wait_sockets(k, socks, events, timeout);
			if (r >= 0 && state[index[r]] == PROBE_CONNECTING)
				poll[index[r]] = PQconnectPoll(probes[index[r]].conn);
		}
	}
	PG_CATCH();
	{
		for (int i = 0; i < n; i++)
		{
			if (probes[i].result)
				PQclear(probes[i].result);
			probes[i].result = NULL;
		}
		for (int i = 0; i < n; i++)
			if (probes[i].conn)
			{
				PQfinish(probes[i].conn);
				probes[i].conn = NULL;
				ReleaseExternalFD();
			}
		socket_generation++;
		PG_RE_THROW();
	}
	PG_END_TRY();

	for (int i = 0; i < n; i++)
	{
		ShardProbe *p = &probes[i];

		if (p->conn == NULL)
		{
			p->error = pstrdup("could not start a connection");
			continue;
		}
		/* a probe cut short leaves an unfinished result behind */
		if (state[i] != PROBE_DONE && p->result != NULL)
		{
			PQclear(p->result);
			p->result = NULL;
		}
		if (p->result == NULL)
		{
			char	   *msg = pchomp(PQerrorMessage(p->conn));

			p->error = msg[0] != '\0' ? msg :
				psprintf("no answer within %ld ms", timeout_ms);
		}
		PQfinish(p->conn);
		p->conn = NULL;
		ReleaseExternalFD();
	}
	socket_generation++;
	pfree(poll);
	pfree(state);
	pfree(socks);
	pfree(events);
	pfree(index);
}
