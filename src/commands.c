/*-------------------------------------------------------------------------
 *
 * commands.c
 *		  Statements run on every shard of a server:
 *		  shardfdw.run_on_shards(server, sql [, shards]) and
 *		  shardfdw.create_distributed_table(rel, server [, column [, dist]]);
 *		  the introspection functions; and the check that refuses an ALTER
 *		  SERVER changing the number of shards under rows.
 *
 * Both statement functions send their SQL to every target shard in
 * parallel, inside the remote transactions of the current local
 * transaction (run_batch_on_shards): it commits or rolls back with it, on
 * all shards together (two-phase commit when several shards are used, see
 * xact.c).  Every shard it runs on counts as written, whatever the
 * statement: a statement may write through a function even when it looks
 * like a read.  A shard's error is raised with the remote SQLSTATE and
 * names the shard; the local transaction and so every shard's work is
 * then rolled back.
 *
 * run_on_shards sends the caller's statement as it is (not deparsed), with
 * search_path "$user", public; one row per shard: the shard number, the
 * command tag, and the rows the command reports (NULL when its tag has no
 * count).
 *
 * create_distributed_table creates the local table's definition on every
 * shard (deparse.c writes the statements), then, through SPI on the
 * coordinator, a foreign table of the same columns under a temporary name,
 * copies the rows into it by the ordinary write path (so each row goes to
 * its shard), drops the local table and renames the foreign table; owner,
 * table privileges and serial sequences are carried over.
 *
 * Memory: result rows are in the tuplestore of the function's
 * ReturnSetInfo; PGresults are cleared as soon as they are read.
 * Connections are the session's cached ones (connection.c).
 *
 * The introspection functions: shardfdw.tables() (every shardfdw table
 * with its placement), shardfdw.shards(server) (each shard's conninfo and
 * whether it answers) and shardfdw.table_sizes(server) (each table's row
 * estimate and size on each shard).  The last two ask the shards over
 * connections of their own (shardconn_probe: parallel, closed at once, a
 * deadline), so that an unreachable shard is a row of the answer, not an
 * error.  shardfdw_check_resize, called by the utility hook (shardfdw.c)
 * after an ALTER SERVER changed the number of pN options, probes the same
 * way, on the old configuration, whether a hash or modulo table of the
 * server has a row; there an unreachable shard is an error, since
 * emptiness cannot be shown.  shardfdw_allow_resize lets C code that
 * moves the rows itself bypass it.
 *
 * src/commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "commands.h"
#include "connection.h"
#include "deparse.h"
#include "option.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(shardfdw_run_on_shards);
PG_FUNCTION_INFO_V1(shardfdw_tables);
PG_FUNCTION_INFO_V1(shardfdw_shards);
PG_FUNCTION_INFO_V1(shardfdw_table_sizes);
PG_FUNCTION_INFO_V1(shardfdw_create_distributed_table);

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
 * Run the statements sqls[0 .. nsqls-1], as one batch, on the shards of
 * server in targets, all at once, inside the remote transactions of the
 * current local transaction (as the caller's user mapping); every one of
 * them counts as written, so that commit is two-phase across them.  With
 * user_search_path the batch has set search_path for itself, and
 * shardfdw's own (pg_catalog) is put back in front of the connection's
 * next batch.  Returns the result of the last statement of each shard, in
 * a palloc'd array indexed by shard number (NULL for shards not targeted);
 * the caller PQclear()s them.  A shard's error is raised with its
 * SQLSTATE, naming the shard.
 */
static PGresult **
run_batch_on_shards(ForeignServer *server, Bitmapset *targets,
					const char *const *sqls, int nsqls, bool user_search_path)
{
	UserMapping *user = GetUserMapping(GetUserId(), server->serverid);
	int			nshards = shardfdw_cluster_size(server);
	ShardConn **conns = palloc0(sizeof(ShardConn *) * nshards);
	PGresult  **results = palloc0(sizeof(PGresult *) * nshards);
	ShardStmt  *stmts = palloc0(sizeof(ShardStmt) * nsqls);
	int			shard;

	for (int i = 0; i < nsqls; i++)
		stmts[i].sql = sqls[i];

	/* connect to all at once, then send to all, then read all */
	shardxact_check_write();
	shardxact_lock_for_write(server, targets);
	shardconn_get_many(server, user, targets, conns);
	shard = -1;
	while ((shard = bms_next_member(targets, shard)) >= 0)
	{
		shardxact_mark_written(conns[shard]);
		shardconn_send_stmts(conns[shard], stmts, nsqls, NULL, NULL);
		if (user_search_path)
			shardconn_queue(conns[shard], "SET LOCAL search_path TO pg_catalog");
	}
	PG_TRY();
	{
		shard = -1;
		while ((shard = bms_next_member(targets, shard)) >= 0)
			results[shard] = shardconn_result(conns[shard]);
	}
	PG_CATCH();
	{
		for (int i = 0; i < nshards; i++)
			PQclear(results[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pfree(conns);
	pfree(stmts);
	return results;
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
	Bitmapset  *targets;
	const char *stmts[2];
	PGresult  **results;
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
	nshards = shardfdw_cluster_size(server);
	targets = target_shards(PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2),
							server, nshards);

	stmts[0] = "SET LOCAL search_path TO \"$user\", public";
	stmts[1] = sql;
	results = run_batch_on_shards(server, targets, stmts, 2, true);
	shard = -1;
	while ((shard = bms_next_member(targets, shard)) >= 0)
	{
		PGresult   *res = results[shard];
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
	pfree(results);
	return (Datum) 0;
}

/* The shardfdw server named srvname (an error if it is not one). */
ForeignServer *
shardfdw_server(const char *srvname)
{
	ForeignServer *server = GetForeignServerByName(srvname, false);

	if (!shardfdw_is_shardfdw_server(server->serverid))
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

/*
 * Refuse rel (open, locked) unless it is an ordinary, non-partitioned,
 * non-inherited, permanent user table without row-level security.
 */
static void
check_local_table(Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	Oid			relid = RelationGetRelid(rel);
	const char *why = NULL;

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		why = "it is partitioned";
	else if (rel->rd_rel->relkind != RELKIND_RELATION)
		why = "it is not an ordinary table";
	else if (rel->rd_rel->relispartition)
		why = "it is a partition";
	else if (has_superclass(relid) || has_subclass(relid))
		why = "it has inheritance parents or children";
	else if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		why = "it is a temporary table";
	else if (IsCatalogRelation(rel))
		why = "it is a system catalog";
	else if (OidIsValid(rel->rd_rel->reloftype))
		why = "it is a typed table";
	else if (rel->rd_rel->relrowsecurity)
		why = "it has row-level security enabled";
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot distribute table \"%s\": %s", name, why),
				 errhint("Only an ordinary table that is not partitioned, inherited, temporary or typed can be distributed.")));
}

/*
 * The distribution the table will have, from the function's arguments
 * (distribution NULL: hash with a column, none without); a column the
 * distribution needs is checked to be one of rel's, and its number is
 * stored in *key (InvalidAttrNumber when there is none).
 */
static ShardDistribution
requested_distribution(Relation rel, const char *column,
					   const char *distribution, AttrNumber *key)
{
	ShardDistribution dist;

	*key = InvalidAttrNumber;
	if (distribution == NULL)
		dist = column ? SHARD_DIST_HASH : SHARD_DIST_NONE;
	else if (strcmp(distribution, "hash") == 0)
		dist = SHARD_DIST_HASH;
	else if (strcmp(distribution, "modulo") == 0)
		dist = SHARD_DIST_MODULO;
	else if (strcmp(distribution, "replicated") == 0)
		dist = SHARD_DIST_REPLICATED;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid distribution \"%s\"", distribution),
				 errhint("Valid values are \"hash\", \"modulo\" and \"replicated\", or NULL.")));
	if (dist == SHARD_DIST_REPLICATED && column != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a replicated table cannot have a distribution column"),
				 errhint("Pass NULL as the distribution column, or use distribution 'hash' or 'modulo'.")));
	if (dist == SHARD_DIST_HASH || dist == SHARD_DIST_MODULO)
	{
		if (column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("distribution \"%s\" requires a distribution column",
							distribution)));
		*key = get_attnum(RelationGetRelid(rel), column);
		if (*key <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							column, RelationGetRelationName(rel))));
	}
	return dist;
}

/*
 * Run sql (generated here, no parameters) through SPI, which the caller
 * has connected, expecting the result code expected; returns the number of
 * rows it processed.
 */
static uint64
spi_run(const char *sql, int expected)
{
	if (SPI_execute(sql, false, 0) != expected)
		elog(ERROR, "shardfdw could not run: %s", sql);
	return SPI_processed;
}

/* The table privileges (relacl) of relid, palloc'd, or NULL for none. */
static Acl *
table_acl(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Acl		   *acl = NULL;
	Datum		datum;
	bool		isnull;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	datum = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relacl, &isnull);
	if (!isnull)
		acl = DatumGetAclPCopy(datum);
	ReleaseSysCache(tup);
	return acl;
}

/*
 * Give the foreign table relid (qualname) the owner and table privileges
 * (acl, NULL for none) that the dropped local table had; column
 * privileges are not carried.
 */
static void
carry_owner_and_acl(const char *qualname, Oid relid, Oid owner, Acl *acl)
{
	Relation	classrel;
	HeapTuple	tup;
	HeapTuple	newtup;
	Datum		values[Natts_pg_class] = {0};
	bool		nulls[Natts_pg_class] = {0};
	bool		replace[Natts_pg_class] = {0};
	Oid		   *members;
	int			nmembers;

	if (owner != GetUserId())
		spi_run(psprintf("ALTER FOREIGN TABLE %s OWNER TO %s", qualname,
						 quote_identifier(GetUserNameFromId(owner, false))),
				SPI_OK_UTILITY);
	if (acl == NULL)
		return;
	classrel = table_open(RelationRelationId, RowExclusiveLock);
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	values[Anum_pg_class_relacl - 1] = PointerGetDatum(acl);
	replace[Anum_pg_class_relacl - 1] = true;
	newtup = heap_modify_tuple(tup, RelationGetDescr(classrel), values, nulls,
							   replace);
	CatalogTupleUpdate(classrel, &newtup->t_self, newtup);
	ReleaseSysCache(tup);
	table_close(classrel, RowExclusiveLock);
	nmembers = aclmembers(acl, &members);
	updateAclDependencies(RelationRelationId, relid, 0, owner, 0, NULL,
						  nmembers, members);
	CommandCounterIncrement();
}

/* A sequence owned by a column (a serial), by the column's name. */
typedef struct OwnedSequence
{
	char	   *sequence;		/* quoted, schema-qualified */
	char	   *column;			/* quoted */
} OwnedSequence;

/*
 * Detach the sequences that the columns of relid own (serial columns), so
 * that they survive its DROP; returns them, a palloc'd List of
 * OwnedSequence.
 */
static List *
release_sequences(Oid relid)
{
	List	   *owned = NIL;
	ListCell   *lc;

	foreach(lc, getOwnedSequences(relid))
	{
		Oid			seq = lfirst_oid(lc);
		Oid			table;
		int32		col;
		char	   *nspname;
		OwnedSequence *o;

		if (!sequenceIsOwned(seq, DEPENDENCY_AUTO, &table, &col))
			continue;
		o = palloc(sizeof(OwnedSequence));
		nspname = get_namespace_name(get_rel_namespace(seq));
		o->sequence = quote_qualified_identifier(nspname, get_rel_name(seq));
		o->column = pstrdup(quote_identifier(get_attname(relid, col, false)));
		spi_run(psprintf("ALTER SEQUENCE %s OWNED BY NONE", o->sequence),
				SPI_OK_UTILITY);
		owned = lappend(owned, o);
	}
	return owned;
}

/* Make the sequences owned (release_sequences) owned by qualname's columns. */
static void
attach_sequences(List *owned, const char *qualname)
{
	ListCell   *lc;

	foreach(lc, owned)
	{
		OwnedSequence *o = lfirst(lc);

		spi_run(psprintf("ALTER SEQUENCE %s OWNED BY %s.%s", o->sequence,
						 qualname, o->column),
				SPI_OK_UTILITY);
	}
}

/*
 * shardfdw_create_distributed_table(rel regclass, server name,
 * distribution_column name, distribution text): turn the local table rel
 * into a shardfdw foreign table of server, in the current transaction:
 *
 *	1. check rel and the arguments (the caller owns rel; a table without a
 *	   distribution column that is not replicated must be empty, since
 *	   such a table cannot route an INSERT);
 *	2. create the table on every shard (deparse.c builds the statements;
 *	   run_batch_on_shards runs them, all shards written, so two-phase);
 *	3. create the foreign table under a temporary name, with rel's columns
 *	   (types, collations, NOT NULL, DEFAULTs), and copy rel's rows into
 *	   it through the ordinary write path;
 *	4. drop rel (its serial sequences kept), rename the foreign table to
 *	   rel's name, give it rel's owner and table privileges, and its
 *	   sequences back.
 *
 * Everything runs with search_path pg_catalog so that the generated names
 * are schema-qualified.  Any error rolls back the local transaction and so
 * every shard's part.
 */
Datum
shardfdw_create_distributed_table(PG_FUNCTION_ARGS)
{
	Oid			relid;
	ForeignServer *server;
	const char *column;
	const char *distribution;
	Relation	rel;
	AttrNumber	key;
	ShardDistribution dist;
	List	   *remote;
	const char **sqls;
	PGresult  **results;
	Bitmapset  *targets;
	StringInfoData ft;
	char	   *nspname;
	char	   *relname;
	char	   *qualname;
	char	   *tmpname;
	Oid			owner;
	Acl		   *acl;
	List	   *owned;
	Oid			newrelid;
	uint64		moved;
	int			nshards;
	int			nestlevel;
	int			i;
	ListCell   *lc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table and the server must not be NULL")));
	relid = PG_GETARG_OID(0);
	server = shardfdw_server(NameStr(*PG_GETARG_NAME(1)));
	column = PG_ARGISNULL(2) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(2)));
	distribution = PG_ARGISNULL(3) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(3));

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/* 1. the caller's table, held until commit against every other use */
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	rel = table_open(relid, AccessExclusiveLock);
	check_local_table(rel);
	dist = requested_distribution(rel, column, distribution, &key);
	nspname = get_namespace_name(RelationGetNamespace(rel));
	relname = pstrdup(RelationGetRelationName(rel));
	qualname = quote_qualified_identifier(nspname, relname);
	tmpname = quote_qualified_identifier(nspname,
										 psprintf("shardfdw_new_%u", relid));
	owner = rel->rd_rel->relowner;
	acl = table_acl(relid);
	remote = shardfdw_deparse_create_table(rel, key);

	initStringInfo(&ft);
	appendStringInfo(&ft, "CREATE FOREIGN TABLE %s (", tmpname);
	shardfdw_deparse_column_defs(&ft, rel, true);
	appendStringInfo(&ft, ") SERVER %s OPTIONS (schema_name %s, table_name %s",
					 quote_identifier(server->servername),
					 quote_literal_cstr(nspname), quote_literal_cstr(relname));
	if (column)
		appendStringInfo(&ft, ", distribution_column %s",
						 quote_literal_cstr(column));
	if (distribution)
		appendStringInfo(&ft, ", distribution %s",
						 quote_literal_cstr(distribution));
	appendStringInfoChar(&ft, ')');
	table_close(rel, NoLock);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "shardfdw could not connect to SPI");
	if (dist == SHARD_DIST_NONE &&
		spi_run(psprintf("SELECT 1 FROM %s LIMIT 1", qualname), SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot distribute table \"%s\" without a distribution column: it has rows",
						relname),
				 errdetail("A table with no distribution column cannot route the rows it holds to shards."),
				 errhint("Give a distribution_column, or distribution 'replicated', or empty the table first.")));

	/* 2. the table on every shard */
	nshards = shardfdw_cluster_size(server);
	targets = bms_add_range(NULL, 0, nshards - 1);
	sqls = palloc(sizeof(char *) * list_length(remote));
	i = 0;
	foreach(lc, remote)
		sqls[i++] = lfirst(lc);
	results = run_batch_on_shards(server, targets, sqls, i, false);
	for (i = 0; i < nshards; i++)
		PQclear(results[i]);

	/* 3. the foreign table, and the rows */
	spi_run(ft.data, SPI_OK_UTILITY);
	moved = 0;
	if (dist != SHARD_DIST_NONE)	/* (which cannot route, and is empty) */
		moved = spi_run(psprintf("INSERT INTO %s SELECT * FROM ONLY %s",
								 tmpname, qualname), SPI_OK_INSERT);

	/* 4. the local table gives way */
	owned = release_sequences(relid);
	spi_run(psprintf("DROP TABLE %s", qualname), SPI_OK_UTILITY);
	spi_run(psprintf("ALTER FOREIGN TABLE %s RENAME TO %s", tmpname,
					 quote_identifier(relname)), SPI_OK_UTILITY);
	newrelid = get_relname_relid(relname, get_namespace_oid(nspname, false));
	carry_owner_and_acl(qualname, newrelid, owner, acl);
	attach_sequences(owned, qualname);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);

	ereport(NOTICE,
			(errmsg("table \"%s\" created on %d shards, " UINT64_FORMAT " rows moved",
					relname, nshards, moved)));
	PG_RETURN_VOID();
}

/*
 * Set by shardfdw_allow_resize (see commands.h): while true,
 * shardfdw_check_resize lets any change of a server's shard count pass.
 */
static bool allow_resize = false;

/*
 * Servers whose options an ALTER SERVER of this transaction changed, with
 * their number of shards before (in TopTransactionContext; reset at the
 * end of the transaction).
 */
typedef struct PendingResize
{
	ForeignServer *old;
	int			old_nshards;
} PendingResize;

static List *pending_resizes = NIL;
static bool resize_callback_registered = false;

/*
 * At pre-commit, the changes not checked yet (an ALTER SERVER that the
 * utility hook did not wrap: the one that loaded the library); at the end,
 * forget them.
 */
static void
resize_xact_callback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_PRE_COMMIT ||
		 event == XACT_EVENT_PARALLEL_PRE_COMMIT) && pending_resizes != NIL)
	{
		/* (the check reads the catalog with SPI: it needs a snapshot) */
		PushActiveSnapshot(GetTransactionSnapshot());
		shardfdw_check_resizes();
		PopActiveSnapshot();
	}
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
			 event == XACT_EVENT_PARALLEL_COMMIT ||
			 event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		pending_resizes = NIL;
}

/* shardfdw_note_server_alter: see commands.h. */
void
shardfdw_note_server_alter(Oid serverid)
{
	MemoryContext old;
	PendingResize *p;
	ListCell   *lc;

	if (allow_resize)
		return;
	foreach(lc, pending_resizes)
		if (((PendingResize *) lfirst(lc))->old->serverid == serverid)
			return;				/* (the first version is the one to compare) */
	if (!resize_callback_registered)
	{
		RegisterXactCallback(resize_xact_callback, NULL);
		resize_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	p = palloc(sizeof(PendingResize));
	p->old = GetForeignServer(serverid);
	p->old_nshards = shardfdw_cluster_size(p->old);
	pending_resizes = lappend(pending_resizes, p);
	MemoryContextSwitchTo(old);
}

/* shardfdw_check_resizes: see commands.h. */
void
shardfdw_check_resizes(void)
{
	while (pending_resizes != NIL)
	{
		PendingResize *p = linitial(pending_resizes);
		ForeignServer *now;

		pending_resizes = list_delete_first(pending_resizes);
		now = GetForeignServerExtended(p->old->serverid, FSV_MISSING_OK);
		if (now != NULL)
			shardfdw_check_resize(p->old, p->old_nshards,
								  shardfdw_cluster_size(now));
	}
}

/* shardfdw_allow_resize: see commands.h. */
void
shardfdw_allow_resize(bool allow)
{
	allow_resize = allow;
}

/* shardfdw_is_shardfdw_server: see commands.h. */
bool
shardfdw_is_shardfdw_server(Oid serverid)
{
	ForeignServer *server = GetForeignServerExtended(serverid, FSV_MISSING_OK);
	ForeignDataWrapper *fdw;

	if (server == NULL)
		return false;
	fdw = GetForeignDataWrapper(server->fdwid);
	return OidIsValid(fdw->fdwhandler) &&
		strcmp(get_func_name(fdw->fdwhandler), "shardfdw_handler") == 0;
}

/*
 * shardfdw_check_resize: see commands.h.  One probe query per shard of the
 * old configuration asks, for every hash or modulo table of the server at
 * once, whether it has a row there.
 */
void
shardfdw_check_resize(ForeignServer *old, int old_nshards, int new_nshards)
{
	List	   *oids;
	char	  **schemas;
	char	  **names;
	char	  **locals;
	ShardProbe *probes;
	int			nshards;
	int			n = 0;
	ListCell   *lc;

	if (allow_resize || old_nshards == new_nshards)
		return;
	oids = shardfdw_table_oids(old->serverid);
	schemas = palloc(sizeof(char *) * Max(list_length(oids), 1));
	names = palloc(sizeof(char *) * Max(list_length(oids), 1));
	locals = palloc(sizeof(char *) * Max(list_length(oids), 1));
	foreach(lc, oids)
	{
		ShardTableOptions opts;

		shardfdw_get_table_options(lfirst_oid(lc), &opts);
		if (opts.distribution != SHARD_DIST_HASH &&
			opts.distribution != SHARD_DIST_MODULO)
			continue;
		schemas[n] = opts.schema_name;
		names[n] = opts.table_name;
		locals[n] = get_rel_name(opts.relid);
		n++;
	}
	if (n == 0)
		return;

	/*
	 * Hold the old shards' writes back to the end of the transaction, so
	 * that no row arrives between the look and the commit of the change.
	 */
	{
		LOCKTAG		tag;

		shardxact_shard_locktag(&tag, old->serverid, -1);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	probes = probe_all(old, shardfdw_deparse_tables_nonempty(schemas, names, n),
					   &nshards);
	for (int s = 0; s < nshards; s++)
	{
		PGresult   *res = probes[s].result;
		int			full = -1;

		if (res == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot change the number of shards of server \"%s\" from %d to %d",
							old->servername, old_nshards, new_nshards),
					 errdetail("Shard p%d did not answer, so its distributed tables cannot be shown to be empty: %s",
							   s, probes[s].error ? probes[s].error : "no answer"),
					 errhint("Empty the distributed tables first, or copy their rows to a server that has the new number of shards.")));
		for (int t = 0; t < n && full < 0; t++)
			if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, t), "t") == 0)
				full = t;
		PQclear(res);
		probes[s].result = NULL;
		if (full >= 0)
		{
			for (int r = s + 1; r < nshards; r++)
				PQclear(probes[r].result);
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot change the number of shards of server \"%s\" from %d to %d",
							old->servername, old_nshards, new_nshards),
					 errdetail("Foreign table \"%s\" has rows, and where a row lives depends on the number of shards.",
							   locals[full]),
					 errhint("Empty the distributed tables first, or copy their rows to a server that has the new number of shards.")));
		}
	}
}
