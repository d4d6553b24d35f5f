/*-------------------------------------------------------------------------
 *
 * connection.h
 *		  Cached shard connections and pipelined batches (connection.c).
 *
 * The remote transaction state kept in a ShardConn (xact_depth, wrote,
 * queued, prefetch_repair, ...) is managed by the transaction layer,
 * xact.c.
 *
 * One ShardConn per (user mapping, shard) and backend, kept in a hash
 * table in CacheMemoryContext for the life of the session (or until
 * invalidated, expired or closed).  Every request to a shard is a "batch":
 * the commands the connection owes (start of the remote transaction,
 * savepoints, queued CLOSE/RELEASE) followed by one statement, sent in
 * libpq pipeline mode with a single sync, so a batch costs one round trip.
 * At most one batch is in flight per connection.
 *
 * include/connection.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_CONNECTION_H
#define SHARDFDW_CONNECTION_H

#include "libpq-fe.h"
#include "storage/latch.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "foreign/foreign.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

/*
 * The savepoint a speculative statement runs under (see
 * shardconn_send_speculative): released in the same batch when the
 * statement succeeds; when it failed, xact.c owes its rollback to the next
 * batch.  At most one exists per connection.
 */
#define SHARDCONN_PREFETCH_SAVEPOINT "shardfdw_prefetch"

/*
 * Statements that run alone in the shard's implicit transaction
 * (shardconn_send_autocommit) and have parameters are prepared on the
 * shard once per connection and SQL text, then only bound and executed:
 * the shard no longer parses and plans every keyed UPDATE (generic plan)
 * or single-row INSERT.  At most this many per connection, first come
 * first kept; later texts are sent unnamed.  The cache is emptied with the
 * connection (the shard's session ends with it).
 */
#define SHARDCONN_MAX_PREPARED 64

typedef struct ShardPrepared
{
	char	   *sql;			/* malloc'd statement text */
	uint32		hash;			/* hash of sql, to skip most strcmp()s */
	bool		ready;			/* exists on the shard (Prepare succeeded) */
	bool		unusable;		/* the shard refused to run it as prepared
								 * (its result type changed): sent unnamed */
} ShardPrepared;

typedef struct ShardConnKey
{
	Oid			umid;			/* user mapping OID */
	int			shard;			/* shard number */
} ShardConnKey;

typedef struct ShardConn ShardConn;

/* One statement of a batch, with its text parameters. */
typedef struct ShardStmt
{
	const char *sql;
	int			nparams;
	const char *const *params;
	const char *context_sql;	/* SQL to name in errors instead (e.g. the
								 * query of a cursor being fetched), or NULL */
} ShardStmt;

/*
 * Called when another user of a connection needs it while a batch sent by
 * "owner" is still in flight: the batch has completed, and the callback
 * must take c->batch_result / c->batch_error (setting them to NULL).
 */
typedef void (*ShardConnAbsorb) (ShardConn *c, void *owner);

struct ShardConn
{
	ShardConnKey key;			/* hash key (must be first) */
	PGconn	   *conn;			/* NULL when not connected */
	Oid			serverid;
	Oid			userid;			/* local user the mapping is for */
	char	   *server_name;	/* malloc'd copy, for messages */
	char	   *host;			/* malloc'd, for messages */
	char	   *port;			/* malloc'd, for messages */
	int			xact_depth;		/* 0: no remote xact; 1: top level; n>1:
								 * savepoints up to subxact level n */
	bool		xact_pending;	/* remote xact start owed to next batch */
	bool		broken;			/* state unknown: drop at end of xact */
	bool		invalidated;	/* server/mapping changed: remake when idle */
	bool		wrote;			/* remote xact modified data */
	char	   *prepared_gid;	/* malloc'd: a PREPARE TRANSACTION of this
								 * local transaction was sent, its fate is
								 * still to be told to the shard */
	bool		commit_deferred;	/* the batch in flight is the COMMIT of
									 * a finished read-only transaction */
	bool		prefetch_repair;	/* a speculative statement failed: the
									 * next batch first rolls back to its
									 * savepoint (see shardconn_send_speculative) */
	int			prefetch_repair_level;	/* xact_depth it was sent at */
	uint32		conninfo_hash;	/* hash of the pN option connected to */
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
	TimestampTz connected_at;
	int			lifetime;		/* connection_lifetime, seconds; 0 = none */
	unsigned int cursor_number; /* for unique cursor names */
	List	   *queued;			/* commands owed to the next batch; in
								 * CacheMemoryContext */

	/* the batch in flight */
	bool		busy;			/* a batch is in flight */
	int			batch_left;		/* queries whose results are still due */
	int			batch_syncs;	/* Syncs still due (the setup has its own) */
	bool		setup_pending;	/* session setup owed to the next batch */
	bool		batch_began_xact;	/* batch starts the remote xact: may be
									 * retried on a fresh connection */
	PGresult   *batch_result;	/* result of the last statement */
	PGresult   *batch_error;	/* first error result of the batch */
	ShardStmt  *batch_stmts;	/* malloc'd deep copy of the statements */
	int			batch_nstmts;
	int			batch_nowed;	/* owed commands sent before them */
	int			batch_total;	/* queries of the batch, setup included */
	bool		batch_speculative;	/* last statement runs under the
									 * prefetch savepoint */
	bool		batch_spec_failed;	/* ... and it failed */
	int			batch_err_stmt; /* statement that failed, or -1 */
	bool		batch_lost;		/* connection lost during the batch */
	char	   *lost_message;	/* malloc'd libpq message when lost */
	void	   *owner;			/* who sent the batch (a scan state) */
	ShardConnAbsorb absorb;		/* hands a completed batch to its owner;
								 * NULL: results are checked and dropped */
	bool		keep;			/* keep_connections */
	bool		in_copy;		/* a COPY FROM STDIN is open (its result
								 * not read yet) */
	bool		copy_ended;		/* ... and its end has been sent */
	void	   *copy_owner;		/* who opened the COPY (a modify state) */
	ShardConnAbsorb copy_finish;	/* ends the COPY when another statement
									 * needs the connection */
	bool		batch_autocommit;	/* the batch being sent owes nothing:
									 * its statement runs in the shard's
									 * implicit transaction */
	bool		batch_reuse;	/* the batch being sent may prepare its
								 * statements (shardconn_send_prepared) */
	int64		batch_affected; /* rows the batch's statements changed */
	ShardPrepared *batch_prepare;	/* the batch prepares this statement
									 * first; NULL once its answer came */
	int			batch_prepare_at;	/* query number of that Prepare, or -1 */

	/*
	 * A streamed statement (shardconn_send_stream): its rows arrive one
	 * PGresult each (libpq single-row mode) and are gathered here, at most
	 * stream_chunk at a time: then reading pauses (the socket is left
	 * alone) until the owner takes them (shardconn_stream_take).
	 */
	bool		batch_stream;	/* the batch's statement is streamed */
	bool		stream_alone;	/* ... alone in the shard's implicit
								 * transaction (else in the remote one) */
	bool		stream_single;	/* single-row mode is on for it */
	int			stream_chunk;	/* rows gathered before pausing */
	bool		stream_all;		/* read to the end regardless (settle) */
	bool		stream_discard; /* drop the rows (the batch is abandoned) */
	uint64		stream_received;	/* rows that arrived */
	bool		stream_retried; /* sent again after a lost connection */
	PGresult  **stream_rows;	/* malloc'd array of one-row results */
	int			stream_nrows;
	int			stream_cap;

	/* statements prepared on the shard: shardfdw_sN is prepared[N] */
	ShardPrepared prepared[SHARDCONN_MAX_PREPARED];
	int			nprepared;
};

/*
 * Return the connection to shard "shard" of server for user, connecting
 * (or reconnecting an idle, dead, changed or expired connection) first.
 * The returned ShardConn lives in the session cache: never free it.
 */
extern ShardConn *shardconn_get(ForeignServer *server, UserMapping *user,
								int shard);

/*
 * Same for every shard in "shards"; connections are established in
 * parallel.  out[] is indexed by shard number and must have room for
 * every shard of the server.
 */
extern void shardconn_get_many(ForeignServer *server, UserMapping *user,
							   Bitmapset *shards, ShardConn **out);

/* Next cursor number on this connection. */
extern unsigned int shardconn_cursor_number(ShardConn *c);

/*
 * Queue a command to be sent in front of the next batch of this remote
 * transaction (e.g. CLOSE of a finished cursor).  Dropped at end of xact.
 */
extern void shardconn_queue(ShardConn *c, const char *sql);

/*
 * Send a batch ending with sql (with nparams text parameters) without
 * waiting.  The remote transaction and savepoints are started first when
 * owed.  owner and absorb tag the batch (see ShardConnAbsorb); params are
 * copied.  If another owner's batch is in flight it is completed first.
 */
extern void shardconn_send(ShardConn *c, const char *sql, int nparams,
						   const char *const *params, void *owner,
						   ShardConnAbsorb absorb);

/*
 * Same with several statements (e.g. DECLARE and the first FETCH); the
 * batch's result is that of the last one.
 */
extern void shardconn_send_stmts(ShardConn *c, const ShardStmt *stmts,
								 int nstmts, void *owner,
								 ShardConnAbsorb absorb);

/*
 * Send sql as a statement of its own, outside any remote transaction: the
 * shard runs and commits it in its implicit transaction (one round trip).
 * Only for a connection with no remote transaction, when xact.c allows
 * it (shardxact_may_autocommit).  Read the result with shardconn_result.
 */
/*
 * Like shardconn_send_stmts (no owner), for statements that run again and
 * again (row-by-row writes): each text with parameters is prepared on the
 * shard once per connection, as for shardconn_send_autocommit.  When the
 * batch has completed, c->batch_affected is the sum of the rows its
 * statements inserted, updated or deleted.
 */
extern void shardconn_send_prepared(ShardConn *c, const ShardStmt *stmts,
									int nstmts);

extern void shardconn_send_autocommit(ShardConn *c, const char *sql,
									  int nparams, const char *const *params);

/*
 * Send the SELECT sql prepared once per connection and text, with its rows
 * streamed: alone, like shardconn_send_autocommit (in the shard's implicit
 * transaction), or else in c's remote transaction, after (and in the same
 * round trip as) the commands that transaction owes.  The batch counts as ready (shardconn_poll,
 * shardconn_wait_any) whenever chunk rows have arrived or it has ended.
 * The owner takes the rows with shardconn_stream_take; once the
 * connection is no longer busy, shardconn_result gives the statement's
 * final result (or raises its error).  Another user of the connection
 * reads the rest of the stream into memory and hands it to absorb first.
 */
extern void shardconn_send_stream(ShardConn *c, const char *sql,
								  int nparams, const char *const *params,
								  int chunk, bool alone, void *owner,
								  ShardConnAbsorb absorb);

/*
 * The owner of c's stream no longer wants its rows.  A stream alone is
 * cancelled; one in a remote transaction is read to its end and its rows
 * dropped when the connection is next needed (a cancel would end that
 * transaction), and an error it ends with is raised then.
 */
extern void shardconn_drop_stream(ShardConn *c, void *owner);

/*
 * The rows of c's stream gathered so far (*nrows of them): a malloc'd
 * array of PGresults (each usually of one row), which the caller frees
 * (PQclear each, then free), or NULL.  Reading resumes.
 */
extern PGresult **shardconn_stream_take(ShardConn *c, int *nrows);

/*
 * Like shardconn_send_stmts, for a batch whose last statement (a FETCH)
 * the executor has not asked for yet: it runs under a savepoint of its
 * own, so that its failure does not abort the remote transaction.  Use
 * shardconn_speculative_error on the completed batch before
 * shardconn_result.  The savepoint is released in the same batch when the
 * statement succeeds, and rolled back in front of the connection's next
 * batch when it failed, whoever completes the batch (an orphaned batch's
 * failure is then simply forgotten).
 */
extern void shardconn_send_speculative(ShardConn *c, const ShardStmt *stmts,
									   int nstmts, void *owner,
									   ShardConnAbsorb absorb);

/*
 * Wait for c's batch; if it was sent speculatively and its last statement
 * failed, return the remote error as an ErrorData palloc'd in
 * CurrentMemoryContext (to be raised with ReThrowError when the rows are
 * really needed), and consume the batch.  Otherwise return NULL and leave
 * the batch to shardconn_result.
 */
extern struct ErrorData *shardconn_speculative_error(ShardConn *c);

/*
 * A shard to read a replicated table from: one this user already has a
 * remote transaction or connection on, else one picked by backend.
 */
extern int	shardconn_pick_any(UserMapping *user, int nshards);

/*
 * The owner of the batch in flight gives it up (e.g. a scan ends with a
 * prefetch pending): its results will be checked and dropped by the next
 * user of the connection.
 */
extern void shardconn_orphan(ShardConn *c, void *owner);

/*
 * Has c's batch completed (or, for a stream, gathered a chunk: then c is
 * still busy, see shardconn_send_stream)?  Reads what has arrived without
 * blocking.
 */
extern bool shardconn_poll(ShardConn *c);

/*
 * Wait until the batch of at least one of the busy connections in conns[]
 * (NULL entries ignored) has completed (or a stream's chunk is ready, as
 * for shardconn_poll); return its index.  Checks for interrupts while
 * waiting, and runs the distributed deadlock detector when the wait lasts.
 * Returns -1 if none is busy.
 */
extern int	shardconn_wait_any(ShardConn **conns, int n);

/*
 * One wait, of at most timeout ms (-1: none), until one of socks[0 .. n-1]
 * is ready for its events[i], or the latch is set, or the postmaster dies
 * (then the backend exits), with a wait event set made for it and freed,
 * also on error: the WaitEventSetWait result (0: timed out); *ev is the
 * event, its user_data the socket's index.  The caller resets the latch.
 */
extern int	shardconn_wait_many(int n, pgsocket *socks, int *events,
								long timeout, WaitEvent *ev);

/*
 * Wait for c's batch and return the result of its statement; the caller
 * owns it (PQclear).  A remote error is raised as an ERROR carrying the
 * remote SQLSTATE, naming the shard.
 */
extern PGresult *shardconn_result(ShardConn *c);

/* shardconn_send + shardconn_result; returns the result (caller PQclears). */
extern PGresult *shardconn_exec(ShardConn *c, const char *sql, int nparams,
								const char *const *params);

/* Run a command and check that it succeeded. */
extern void shardconn_command(ShardConn *c, const char *sql);

/*
 * Raise a remote error at elevel from res (PQclear'd here), with a context
 * naming the shard and the remote SQL.
 */
extern void shardconn_report(int elevel, PGresult *res, ShardConn *c,
							 const char *sql);

/*
 * Cancel the batch in flight on c, if any, and discard its results.
 * Returns false (and marks c broken) if that did not work in time.
 */
extern bool shardconn_abandon(ShardConn *c);

/*
 * The same for conns[0 .. n-1] (NULL entries skipped; entries may be set
 * to NULL) at once, one deadline for all; ok[i] tells each one's success.
 */
extern void shardconn_abandon_many(ShardConn **conns, int n, bool *ok);

/*
 * COPY FROM STDIN on a shard (modify.c): shardconn_copy_begin starts it
 * (after what the remote transaction owes: two round trips), rows are
 * streamed with shardconn_copy_put (complete lines of COPY text; the wait
 * when the socket is full checks for interrupts), shardconn_copy_end
 * sends the end, and shardconn_copy_result waits for the shard's answer
 * (raising its error) and returns the row count.  A COPY still open at
 * abort is ended with an error message by shardconn_abandon.  While it is
 * open, any other statement sent on c first calls finish(c, owner), which
 * must end it (copy_end, copy_result): e.g. the scan feeding an INSERT ...
 * SELECT that reads the same shard.  The owner stays valid while the COPY
 * is open (the COPY ends with its statement, or at abort).
 */
extern void shardconn_copy_begin(ShardConn *c, const char *sql,
								 void *owner, ShardConnAbsorb finish);

/*
 * The same on conns[0 .. n-1] (NULL entries skipped) at once: still two
 * round trips in all, whatever n.
 */
extern void shardconn_copy_begin_many(ShardConn **conns, int n,
									  const char *sql, void *owner,
									  ShardConnAbsorb finish);
extern void shardconn_copy_put(ShardConn *c, const char *data, int len);
extern void shardconn_copy_end(ShardConn *c);
extern uint64 shardconn_copy_result(ShardConn *c);

/*
 * shardconn_copy_result, with the shard's "COPY t, line N" in an error's
 * context replaced by what the caller's input calls that row: "line
 * lines[N - 1]" (rows_of NULL: a COPY FROM's input lines) or "row
 * lines[N - 1] of <rows_of>".  lines has nlines entries, one per row of
 * this COPY, in order.
 */
extern uint64 shardconn_copy_result_mapped(ShardConn *c, const uint64 *lines,
										   int nlines, const char *rows_of);

/*
 * For the transaction layer (xact.c) -----------------------------------
 */

/* Iterate over every cached connection (see connection.c). */
extern void shardconn_scan_begin(HASH_SEQ_STATUS *scan);
extern ShardConn *shardconn_scan_next(HASH_SEQ_STATUS *scan);
extern void shardconn_scan_end(HASH_SEQ_STATUS *scan);

/*
 * Complete the batch in flight on c (if any) and hand it to its owner, or,
 * for an orphaned batch, check and drop its results.
 */
extern void shardconn_settle(ShardConn *c);

/*
 * Run one command on c during abort processing (interrupts held): bounded
 * wait, errors reported as WARNING.  Returns success.
 */
extern bool shardconn_run_in_abort(ShardConn *c, const char *sql);

/*
 * The same for sqls[i] on conns[i] (NULL entries skipped), all at once,
 * one deadline for all; ok[i] tells each one's success.  An error with
 * SQLSTATE fine_sqlstate (if not NULL) counts as success, without a
 * WARNING.  Used at commit and abort, where nothing may raise an error.
 */
extern void shardconn_run_in_abort_many(ShardConn **conns, const char **sqls,
										int n, bool *ok,
										const char *fine_sqlstate);

/*
 * Is c's remote transaction still open and not failed, as far as can be
 * told without a round trip?  For an idle connection in a remote
 * transaction.
 */
extern bool shardconn_transaction_healthy(ShardConn *c);

/* Forget the results of c's last batch. */
extern void shardconn_clear_batch(ShardConn *c);

/* Close c's connection and forget its remote transaction state. */
extern void shardconn_disconnect(ShardConn *c);

/* "pN (host=..., port=...)", palloc'd: how messages name a shard. */
extern char *shardconn_describe(ShardConn *c);

/*
 * Make this backend print values the way the shards' sessions read them
 * (DateStyle ISO, IntervalStyle postgres, extra_float_digits 3) until
 * shardconn_reset_transmission_modes(level) with the level returned.
 */
extern int	shardconn_set_transmission_modes(void);
extern void shardconn_reset_transmission_modes(int nestlevel);

/*
 * Which of those settings the text form of a type depends on
 * (shardconn_text_needs), so that converting values sets only those, and
 * only when the session's differ: shardconn_set_transmission_modes_for
 * returns -1 when it set nothing (reset accepts -1).  Setting them costs
 * more than converting a short row.
 */
#define SHARDCONN_TEXT_DATES	0x01	/* DateStyle, IntervalStyle */
#define SHARDCONN_TEXT_FLOATS	0x02	/* extra_float_digits */
#define SHARDCONN_TEXT_NAMES	0x04	/* search_path (reg* types) */
#define SHARDCONN_TEXT_ALL		0x07
extern int	shardconn_text_needs(Oid type);
extern int	shardconn_set_transmission_modes_for(int needs);

/*
 * A probe: one query run on one shard over a connection of its own, made
 * and closed by shardconn_probe, for work that cannot wait for the shard's
 * cached connection because that one is busy (the deadlock detector, which
 * runs while this backend waits on a shard).
 */
typedef struct ShardProbe
{
	ForeignServer *server;		/* in */
	UserMapping *user;			/* in */
	int			shard;			/* in */
	PGresult   *result;			/* out: the rows, or NULL when the shard
								 * could not be asked in time; the caller
								 * PQclear()s it */
	char	   *error;			/* out, when result is NULL: why (palloc'd) */
	PGconn	   *conn;			/* private to shardconn_probe */
} ShardProbe;

/*
 * Run the read-only query sql on each probe's shard, all at once, over
 * new connections (application_name set to application_name) that are
 * closed before returning; give up on what has not answered after
 * timeout_ms.  Unreachable shards and failed queries are not errors (no
 * result); interrupts are (everything is closed first).
 */
extern void shardconn_probe(ShardProbe *probes, int n, const char *sql,
							const char *application_name, long timeout_ms);


/*
 * A session: a connection of its own for cluster operations (reshard.c),
 * outside the cache and the local transaction (each command commits on its
 * own).  The caller must call shardconn_session_close, also on error.
 */
typedef struct ShardSession
{
	PGconn	   *conn;			/* NULL when closed */
	char	   *what;			/* names it in messages; palloc'd */
} ShardSession;

/* Connect s (keywords/values as shardfdw_conn_params gives), or ERROR. */
extern void shardconn_session_open(ShardSession *s, const char **keywords,
								   const char **values, const char *what,
								   long timeout_ms);

/*
 * Run sql (with parameters: extended protocol; without: simple protocol,
 * which allows several statements in one implicit transaction) and return
 * the last result, which the caller PQclears.  A remote error is raised
 * with its SQLSTATE and names the session; so is a timeout.
 */
extern PGresult *shardconn_session_exec(ShardSession *s, const char *sql,
										int nparams,
										const char *const *params,
										long timeout_ms);

/* The first column of the first row (palloc'd; NULL if none or null). */
extern char *shardconn_session_value(ShardSession *s, const char *sql,
									 int nparams, const char *const *params,
									 long timeout_ms);

/* Close s (no-op when closed). */
extern void shardconn_session_close(ShardSession *s);

#endif							/* SHARDFDW_CONNECTION_H */
