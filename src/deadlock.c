/*-------------------------------------------------------------------------
 *
 * deadlock.c
 *		  The distributed deadlock detector.
 *
 * Two coordinator transactions that lock the same rows on two shards in
 * opposite orders wait for each other forever: each shard sees only one
 * waiting edge, never a cycle, so no shard's deadlock detector fires.
 * This module finds such cycles from the coordinator side.
 *
 * Tags.  Every shard connection a backend makes has an application_name
 * starting with the backend's tag, "shardfdw:<system identifier>:<pid>"
 * (option.c puts it there), so a shard's pg_stat_activity tells which
 * coordinator backend each of its sessions works for.  A backend runs one
 * transaction at a time, so the tag names its current transaction.
 *
 * Detection.  When a statement has waited shardfdw.deadlock_timeout on the
 * shards without a word (connection.c, wait_statement), and the backend has
 * remote transactions open, it asks every shard of every server those
 * transactions are on, in parallel and over connections of its own (its
 * cached ones are busy), which tagged sessions wait for a lock held by
 * which other tagged sessions (pg_blocking_pids).  Those edges, tag to
 * tag, form the wait graph.  If a cycle runs through this backend, the
 * cycle's member with the greatest tag is the victim: every member
 * computes the same one, and only the victim cancels itself, with ERROR
 * 40P01 (deadlock detected); its abort processing cancels its remote
 * statements and rolls back its remote transactions, which releases the
 * locks.  A member that has seen the same cycle at two consecutive checks
 * (the victim had a whole interval to act and did not, e.g. because it
 * belongs to a coordinator with the detector off) cancels itself too.
 * The check is repeated while the wait lasts: after deadlock_timeout, then
 * at intervals that double (up to SHARDFDW_DEADLOCK_MAX_BACKOFF times
 * deadlock_timeout) while no cycle is seen, so that a long wait that is no
 * deadlock (a slow query, a lock held long) costs few probes.
 *
 * Invariants.  Nothing here changes any state of the cached connections;
 * the probe connections live only inside shardfdw_deadlock_check.  A
 * shard that cannot be asked in time contributes no edges (a cycle through
 * it is found at a later check, or not at all while it is unreachable).
 * The edges come from the shards at slightly different moments; a cycle
 * assembled from edges of different transactions of the same backends is
 * possible in principle, and would cancel a transaction that could have
 * gone on (a retryable error, never a wrong result).  Cycles that include
 * a wait on a lock of the coordinator itself are not seen.
 *
 * src/deadlock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "connection.h"
#include "deadlock.h"
#include "option.h"

/* application_name of the detector's own connections (no tag) */
#define DETECTOR_APPNAME "shardfdw deadlock detector"

/* how long a check waits for the shards' answers */
#define PROBE_TIMEOUT_MS 5000

/*
 * The wait edges of one shard: tagged sessions waiting for a lock, and
 * the tagged sessions that block them (hard or soft: ahead of them in the
 * lock's queue).  Tags are the first word of application_name.  (No
 * filter on wait_event_type: pg_stat_activity hides it for other roles'
 * sessions, and pg_blocking_pids is empty for a session that does not
 * wait.)
 */
#define EDGE_SQL \
	"SELECT pg_catalog.split_part(w.application_name, ' ', 1)," \
	" pg_catalog.split_part(b.application_name, ' ', 1)" \
	" FROM pg_catalog.pg_stat_activity w" \
	" CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(w.pid)) AS x(pid)" \
	" JOIN pg_catalog.pg_stat_activity b ON b.pid = x.pid" \
	" WHERE w.application_name LIKE 'shardfdw:%'" \
	" AND b.application_name LIKE 'shardfdw:%'"

/* One edge of the wait graph: waiter waits for blocker on a shard. */
typedef struct WaitEdge
{
	char	   *waiter;
	char	   *blocker;
	const char *server_name;
	int			shard;
} WaitEdge;

/* shardfdw.deadlock_timeout, ms; 0: the detector is off */
static int	deadlock_timeout_ms = 1000;

/* the tag, and the process it was made for */
static char tag[64];
static int	tag_pid = 0;

/* the last cycle this backend saw without being its victim */
static int	sightings = 0;
static TimestampTz last_sighting = 0;
static TimestampTz sighting_xact = 0;	/* start of its local transaction */

static List *probe_edges(MemoryContext cxt);
static bool find_path(List *edges, const char *from, const char *to,
					  List **visited, List **path);

/* shardfdw_deadlock_init: see deadlock.h. */
void
shardfdw_deadlock_init(void)
{
	DefineCustomIntVariable("shardfdw.deadlock_timeout",
							"Time a statement waits on the shards before the distributed deadlock detector runs.",
							"The check repeats at this interval while the wait lasts; 0 turns the detector off.",
							&deadlock_timeout_ms,
							1000, 0, INT_MAX / 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* shardfdw_deadlock_tag: see deadlock.h. */
const char *
shardfdw_deadlock_tag(void)
{
	if (tag_pid != MyProcPid)
	{
		snprintf(tag, sizeof(tag), "shardfdw:" UINT64_FORMAT ":%d",
				 GetSystemIdentifier(), MyProcPid);
		tag_pid = MyProcPid;
	}
	return tag;
}

/* shardfdw_deadlock_check_after: see deadlock.h. */
long
shardfdw_deadlock_check_after(void)
{
	return deadlock_timeout_ms > 0 ? deadlock_timeout_ms : -1;
}

/*
 * Ask the shards for their wait edges (see the file comment); returns a
 * List of WaitEdge allocated in cxt.  Empty when this backend has no
 * remote transaction open.
 */
static List *
probe_edges(MemoryContext cxt)
{
	HASH_SEQ_STATUS scan;
	ShardConn  *c;
	List	   *pairs = NIL;	/* serverid, userid, serverid, ... */
	ShardProbe *probes = NULL;
	int			nprobes = 0;
	int			max = 0;
	List	   *edges = NIL;

	shardconn_scan_begin(&scan);
	while ((c = shardconn_scan_next(&scan)) != NULL)
	{
		bool		seen = false;

		if (c->conn == NULL || c->xact_depth == 0)
			continue;
		for (int i = 0; i < list_length(pairs); i += 2)
			if (list_nth_oid(pairs, i) == c->serverid &&
				list_nth_oid(pairs, i + 1) == c->userid)
				seen = true;
		if (!seen)
			pairs = lappend_oid(lappend_oid(pairs, c->serverid), c->userid);
	}
	if (pairs == NIL)
		return NIL;

	for (int i = 0; i < list_length(pairs); i += 2)
	{
		ForeignServer *server = GetForeignServer(list_nth_oid(pairs, i));
		UserMapping *user = GetUserMapping(list_nth_oid(pairs, i + 1),
										   server->serverid);
		int			nshards = shardfdw_cluster_size(server);

		max += nshards;
		probes = probes == NULL ? palloc(sizeof(ShardProbe) * max) :
			repalloc(probes, sizeof(ShardProbe) * max);
		for (int s = 0; s < nshards; s++)
		{
			probes[nprobes].server = server;
			probes[nprobes].user = user;
			probes[nprobes].shard = s;
			nprobes++;
		}
	}
	if (nprobes == 0)
		return NIL;

	shardconn_probe(probes, nprobes, EDGE_SQL, DETECTOR_APPNAME,
					PROBE_TIMEOUT_MS);

	/* copy the edges out of the PGresults, which are freed here */
	for (int i = 0; i < nprobes; i++)
	{
		PGresult   *res = probes[i].result;

		if (res == NULL)
			continue;
		for (int r = 0; r < PQntuples(res); r++)
		{
			WaitEdge   *e = MemoryContextAlloc(cxt, sizeof(WaitEdge));

			e->waiter = MemoryContextStrdup(cxt, PQgetvalue(res, r, 0));
			e->blocker = MemoryContextStrdup(cxt, PQgetvalue(res, r, 1));
			e->server_name = probes[i].server->servername;
			e->shard = probes[i].shard;
			edges = lappend(edges, e);
		}
		PQclear(res);
	}
	pfree(probes);
	return edges;
}

/*
 * Depth-first search for a path of edges from "from" to "to" (from == to:
 * a cycle).  On success *path holds the edges, first to last.  *visited
 * collects the tags already explored.
 */
static bool
find_path(List *edges, const char *from, const char *to, List **visited,
		  List **path)
{
	ListCell   *lc;

	foreach(lc, *visited)
		if (strcmp((char *) lfirst(lc), from) == 0)
			return false;
	*visited = lappend(*visited, (char *) from);

	foreach(lc, edges)
	{
		WaitEdge   *e = lfirst(lc);

		if (strcmp(e->waiter, from) != 0)
			continue;
		*path = lappend(*path, e);
		if (strcmp(e->blocker, to) == 0 ||
			find_path(edges, e->blocker, to, visited, path))
			return true;
		*path = list_delete_last(*path);
	}
	return false;
}

/* shardfdw_deadlock_check: see deadlock.h. */
bool
shardfdw_deadlock_check(void)
{
	MemoryContext cxt;
	MemoryContext old;
	const char *self;
	List	   *edges;
	List	   *visited = NIL;
	List	   *cycle = NIL;
	const char *victim = NULL;
	StringInfoData detail;
	ListCell   *lc;
	TimestampTz now;

	/* only in a statement's normal processing, with catalog access */
	if (deadlock_timeout_ms <= 0 || InterruptHoldoffCount > 0 ||
		CritSectionCount > 0 || !IsTransactionState())
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext,
								"shardfdw deadlock check",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	self = shardfdw_deadlock_tag();
	edges = probe_edges(cxt);

	if (!find_path(edges, self, self, &visited, &cycle))
	{
		sightings = 0;
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return false;
	}

	initStringInfo(&detail);
	foreach(lc, cycle)
	{
		WaitEdge   *e = lfirst(lc);

		if (victim == NULL || strcmp(e->waiter, victim) > 0)
			victim = e->waiter;
		appendStringInfo(&detail, "%s%s waits for %s on shard p%d of server \"%s\".",
						 detail.len > 0 ? "\n" : "",
						 e->waiter, e->blocker, e->shard, e->server_name);
	}

	now = GetCurrentTimestamp();
	if (strcmp(victim, self) != 0)
	{
		/* the victim ends it; unless it did not, by the next check */
		if (sightings > 0 &&
			sighting_xact == GetCurrentTransactionStartTimestamp() &&
			!TimestampDifferenceExceeds(last_sighting, now,
										3 * deadlock_timeout_ms + PROBE_TIMEOUT_MS))
			sightings++;
		else
			sightings = 1;
		last_sighting = now;
		sighting_xact = GetCurrentTransactionStartTimestamp();
		if (sightings < 2)
		{
			ereport(DEBUG1,
					(errmsg_internal("shardfdw: distributed deadlock seen, left to %s",
									 victim),
					 errdetail_internal("%s", detail.data)));
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			return true;
		}
	}

	sightings = 0;
	MemoryContextSwitchTo(old);
	ereport(ERROR,
			(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
			 errmsg("distributed deadlock detected"),
			 errdetail_internal("%s", detail.data),
			 errhint("This transaction (%s) was cancelled to end a cycle of lock waits across shards; it can be retried.",
					 self)));
}
