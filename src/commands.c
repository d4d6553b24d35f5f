/*-------------------------------------------------------------------------
 *
 * commands.c
 *		  Statements run on every shard of a server:
 *		  shardfdw.run_on_shards(server, sql [, shards]).
 *
 * The statement (one SQL statement, sent as it is: it is the caller's, not
 * deparsed, and runs with search_path "$user", public) runs on every shard
 * of the server, or on the listed ones, in parallel, inside the remote
 * transactions of the current local
 * transaction: it commits or rolls back with it, on all shards together
 * (two-phase commit when several shards are used, see xact.c).  Every
 * shard it runs on counts as written, whatever the statement: a statement
 * may write through a function even when it looks like a read.  One row
 * per shard: the shard number, the command tag, and the rows the command
 * reports (NULL when its tag has no count).  A shard's error is raised
 * with the remote SQLSTATE and names the shard; the local transaction and
 * so every shard's work is then rolled back.
 *
 * Memory: the result rows are in the tuplestore of the function's
 * ReturnSetInfo; PGresults are cleared as soon as they are read.
 * Connections are the session's cached ones (connection.c).
 *
 * src/commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "commands.h"
#include "connection.h"
#include "option.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(shardfdw_run_on_shards);

static Bitmapset *target_shards(ArrayType *list, ForeignServer *server,
								int nshards);

/*
 * The shards of server (0 .. nshards-1) named in list, or all of them for
 * a NULL list; an element out of range, or NULL, is an error.
 */
static Bitmapset *
target_shards(ArrayType *list, ForeignServer *server, int nshards)
{
	Bitmapset  *targets = NULL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (list == NULL)
		return bms_add_range(NULL, 0, nshards - 1);
	deconstruct_array(list, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		int			shard;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the list of shards must not contain NULL")));
		shard = DatumGetInt32(elems[i]);
		if (shard < 0 || shard >= nshards)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("server \"%s\" has no shard %d", server->servername,
							shard),
					 errhint("Its shards are numbered 0 to %d.", nshards - 1)));
		targets = bms_add_member(targets, shard);
	}
	return targets;
}

/*
 * shardfdw_run_on_shards: see the file comment.  Returns SETOF (shard int,
 * status text, rows bigint), in shard order.
 */
Datum
shardfdw_run_on_shards(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *srvname;
	char	   *sql;
	ForeignServer *server;
	ForeignDataWrapper *fdw;
	UserMapping *user;
	Bitmapset  *targets;
	ShardConn **conns;
	int			nshards;
	int			shard;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the server and the statement must not be NULL")));
	srvname = NameStr(*PG_GETARG_NAME(0));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);

	server = GetForeignServerByName(srvname, false);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (!OidIsValid(fdw->fdwhandler) ||
		strcmp(get_func_name(fdw->fdwhandler), "shardfdw_handler") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("server \"%s\" is not a shardfdw server", srvname)));
	user = GetUserMapping(GetUserId(), server->serverid);
	nshards = shardfdw_cluster_size(server);
	targets = target_shards(PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2),
							server, nshards);

	/* connect to all at once, then send to all, then read all */
	shardxact_check_write();
	conns = palloc0(sizeof(ShardConn *) * nshards);
	shardconn_get_many(server, user, targets, conns);
	shard = -1;
	while ((shard = bms_next_member(targets, shard)) >= 0)
	{
		ShardStmt	stmts[2];

		/*
		 * The statement runs under PostgreSQL's default search_path, not
		 * under the pg_catalog one shardfdw's own SQL relies on, which is
		 * put back in front of the connection's next batch (and by the
		 * end of the remote transaction anyway).
		 */
		stmts[0].sql = "SET LOCAL search_path TO \"$user\", public";
		stmts[1].sql = sql;
		for (int i = 0; i < 2; i++)
		{
			stmts[i].nparams = 0;
			stmts[i].params = NULL;
			stmts[i].context_sql = NULL;
		}
		shardxact_mark_written(conns[shard]);
		shardconn_send_stmts(conns[shard], stmts, 2, NULL, NULL);
		shardconn_queue(conns[shard], "SET LOCAL search_path TO pg_catalog");
	}
	shard = -1;
	while ((shard = bms_next_member(targets, shard)) >= 0)
	{
		PGresult   *res = shardconn_result(conns[shard]);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		const char *count = PQcmdTuples(res);

		values[0] = Int32GetDatum(shard);
		values[1] = CStringGetTextDatum(PQcmdStatus(res));
		if (*count != '\0')
			values[2] = Int64GetDatum(strtoll(count, NULL, 10));
		else
			nulls[2] = true;
		PQclear(res);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}
	pfree(conns);
	return (Datum) 0;
}
