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
 * Also here, the introspection functions: shardfdw.tables() (every
 * shardfdw table with its placement), shardfdw.shards(server) (each
 * shard's conninfo and whether it answers) and shardfdw.table_sizes(server)
 * (each table's row estimate and size on each shard).  The last two ask
 * the shards over connections of their own (shardconn_probe: parallel,
 * closed at once, a deadline), so that an unreachable shard is a row of
 * the answer, not an error.
 *
 * src/commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "commands.h"
#include "connection.h"
#include "deparse.h"
#include "option.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(shardfdw_run_on_shards);
PG_FUNCTION_INFO_V1(shardfdw_tables);
PG_FUNCTION_INFO_V1(shardfdw_shards);
PG_FUNCTION_INFO_V1(shardfdw_table_sizes);

/* how long the introspection functions wait for the shards' answers */
#define INTROSPECTION_TIMEOUT_MS 10000

static ShardProbe *probe_all(ForeignServer *server, const char *sql,
							 int *nshards);

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

	server = shardfdw_server(srvname);
	user = GetUserMapping(GetUserId(), server->serverid);
	nshards = shardfdw_cluster_size(server);
	targets = target_shards(PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2),
							server, nshards);

	/* connect to all at once, then send to all, then read all */
	shardxact_check_write();
	conns = palloc0(sizeof(ShardConn *) * nshards);
	shardxact_lock_for_write(server, user, targets);
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

/* The shardfdw server named srvname (an error if it is not one). */
ForeignServer *
shardfdw_server(const char *srvname)
{
	ForeignServer *server = GetForeignServerByName(srvname, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

	if (!OidIsValid(fdw->fdwhandler) ||
		strcmp(get_func_name(fdw->fdwhandler), "shardfdw_handler") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("server \"%s\" is not a shardfdw server", srvname)));
	return server;
}

/*
 * The OIDs of the shardfdw foreign tables (of server serverid, or of any
 * shardfdw server for InvalidOid), ordered by name; a List in the caller's
 * memory context.
 */
List *
shardfdw_table_oids(Oid serverid)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *oids = NIL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "shardfdw could not connect to SPI");
	if (SPI_execute("SELECT ft.ftrelid, ft.ftserver"
					" FROM pg_catalog.pg_foreign_table ft"
					" JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver"
					" JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw"
					" WHERE w.fdwhandler = 'shardfdw.shardfdw_handler'::pg_catalog.regproc"
					" ORDER BY ft.ftrelid::pg_catalog.regclass::pg_catalog.text",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "shardfdw could not list its tables");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc,
														   1, &isnull));
		Oid			server = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc,
															2, &isnull));
		MemoryContext old;

		if (OidIsValid(serverid) && server != serverid)
			continue;
		old = MemoryContextSwitchTo(cxt);
		oids = lappend_oid(oids, relid);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return oids;
}

/*
 * Ask every shard of server sql over probe connections (the caller's user
 * mapping); returns the probes (palloc'd, *nshards of them), whose results
 * the caller PQclear()s.
 */
static ShardProbe *
probe_all(ForeignServer *server, const char *sql, int *nshards)
{
	UserMapping *user = GetUserMapping(GetUserId(), server->serverid);
	ShardProbe *probes;

	*nshards = shardfdw_cluster_size(server);
	probes = palloc0(sizeof(ShardProbe) * *nshards);
	for (int i = 0; i < *nshards; i++)
	{
		probes[i].server = server;
		probes[i].user = user;
		probes[i].shard = i;
	}
	shardconn_probe(probes, *nshards, sql, "shardfdw introspection",
					INTROSPECTION_TIMEOUT_MS);
	return probes;
}

/*
 * shardfdw_tables: SETOF (table_name regclass, server_name text,
 * distribution text, distribution_column name, remote_table text,
 * shards int), one row per shardfdw foreign table.
 */
Datum
shardfdw_tables(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *oids;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	oids = shardfdw_table_oids(InvalidOid);
	foreach(lc, oids)
	{
		ShardTableOptions opts;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		const char *dist;

		shardfdw_get_table_options(lfirst_oid(lc), &opts);
		switch (opts.distribution)
		{
			case SHARD_DIST_HASH:
				dist = "hash";
				break;
			case SHARD_DIST_MODULO:
				dist = "modulo";
				break;
			case SHARD_DIST_REPLICATED:
				dist = "replicated";
				break;
			default:
				dist = "none";
				break;
		}
		values[0] = ObjectIdGetDatum(opts.relid);
		values[1] = CStringGetTextDatum(GetForeignServer(opts.serverid)->servername);
		values[2] = CStringGetTextDatum(dist);
		if (opts.dist_attno > 0)
		{
			Name		col = palloc0(NAMEDATALEN);

			namestrcpy(col, get_attname(opts.relid, opts.dist_attno, false));
			values[3] = NameGetDatum(col);
		}
		else
			nulls[3] = true;
		values[4] = CStringGetTextDatum(quote_qualified_identifier(opts.schema_name,
																   opts.table_name));
		values[5] = Int32GetDatum(opts.nshards);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * shardfdw_shards: SETOF (shard int, conninfo text, reachable bool,
 * detail text) for a server: its pN options (which hold no secrets: the
 * validator keeps passwords in user mappings) and whether the shard
 * answers a query now, as the caller's user mapping.
 */
Datum
shardfdw_shards(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ForeignServer *server;
	ShardProbe *probes;
	int			nshards;

	InitMaterializedSRF(fcinfo, 0);
	server = shardfdw_server(NameStr(*PG_GETARG_NAME(0)));
	probes = probe_all(server, "SELECT 1", &nshards);
	for (int i = 0; i < nshards; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		char		pname[16];
		ListCell   *lc;

		snprintf(pname, sizeof(pname), "p%d", i);
		nulls[1] = true;
		foreach(lc, server->options)
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			if (strcmp(def->defname, pname) == 0)
			{
				values[1] = CStringGetTextDatum(defGetString(def));
				nulls[1] = false;
			}
		}
		values[0] = Int32GetDatum(i);
		values[2] = BoolGetDatum(probes[i].result != NULL);
		if (probes[i].result != NULL)
		{
			nulls[3] = true;
			PQclear(probes[i].result);
		}
		else
			values[3] = CStringGetTextDatum(probes[i].error ? probes[i].error : "");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * shardfdw_table_sizes: SETOF (table_name regclass, shard int,
 * rows_estimate bigint, bytes bigint) for the shardfdw tables of a server:
 * the shard's pg_class.reltuples and pg_total_relation_size of each
 * table's remote table.  A shard that does not answer gives NULLs (and a
 * WARNING naming it); a remote table missing on a shard gives no row.
 */
Datum
shardfdw_table_sizes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ForeignServer *server;
	List	   *oids;
	ShardTableOptions *opts;
	char	  **schemas;
	char	  **names;
	ShardProbe *probes;
	int			nshards;
	int			n;
	int			i;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	server = shardfdw_server(NameStr(*PG_GETARG_NAME(0)));
	oids = shardfdw_table_oids(server->serverid);
	n = list_length(oids);
	opts = palloc(sizeof(ShardTableOptions) * Max(n, 1));
	schemas = palloc(sizeof(char *) * Max(n, 1));
	names = palloc(sizeof(char *) * Max(n, 1));
	i = 0;
	foreach(lc, oids)
	{
		shardfdw_get_table_options(lfirst_oid(lc), &opts[i]);
		schemas[i] = opts[i].schema_name;
		names[i] = opts[i].table_name;
		i++;
	}
	probes = probe_all(server, shardfdw_deparse_table_sizes(schemas, names, n),
					   &nshards);
	for (int s = 0; s < nshards; s++)
	{
		PGresult   *res = probes[s].result;

		if (res == NULL)
		{
			ereport(WARNING,
					(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
					 errmsg("shard p%d of server \"%s\" did not answer",
							s, server->servername),
					 probes[s].error ? errdetail_internal("%s", probes[s].error) : 0));
			for (int t = 0; t < n; t++)
			{
				Datum		values[4];
				bool		nulls[4] = {false, false, true, true};

				values[0] = ObjectIdGetDatum(opts[t].relid);
				values[1] = Int32GetDatum(s);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 values, nulls);
			}
			continue;
		}
		for (int t = 0; t < n; t++)
			for (int r = 0; r < PQntuples(res); r++)
			{
				Datum		values[4];
				bool		nulls[4] = {false, false, false, false};

				if (strcmp(PQgetvalue(res, r, 0), opts[t].schema_name) != 0 ||
					strcmp(PQgetvalue(res, r, 1), opts[t].table_name) != 0)
					continue;
				values[0] = ObjectIdGetDatum(opts[t].relid);
				values[1] = Int32GetDatum(s);
				values[2] = Int64GetDatum(strtoll(PQgetvalue(res, r, 2), NULL, 10));
				values[3] = Int64GetDatum(strtoll(PQgetvalue(res, r, 3), NULL, 10));
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 values, nulls);
			}
		PQclear(res);
	}
	return (Datum) 0;
}
