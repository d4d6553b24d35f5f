/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA and ANALYZE sampling for shardfdw.
 *
 * IMPORT FOREIGN SCHEMA reads the catalogs of shard p0 only: every shard of
 * a cluster carries the same table definitions, so the first one stands
 * for all of them.  One CREATE FOREIGN TABLE command is produced per remote
 * table, view, foreign table, materialized view and partitioned table; the
 * core then executes them in the local schema.
 *
 * ANALYZE reads the remote size of the table on every shard, then streams
 * the table's rows from all shards at once through one cursor per shard,
 * and keeps a uniform random sample of the union of those rows with
 * reservoir sampling (Vitter's algorithm Z, as the backend's ANALYZE).
 * When the table is large, each shard pre-filters its rows with
 * TABLESAMPLE BERNOULLI so that only a small multiple of the sample size
 * crosses the network.
 *
 * Invariants:
 *	- Every PGresult obtained here is PQclear'd on every path, errors
 *	  included.
 *	- Sampled tuples live in the memory context that was current when the
 *	  sample function was called; per-batch work happens in a child context
 *	  that is reset after each FETCH result.
 *	- Every remote row has the same chance to enter the sample: the
 *	  TABLESAMPLE rate, when one is used, is the same on every shard, and
 *	  the reservoir runs over the union of the shards' rows.
 *	- A replicated table is sampled (and sized) on shard p0 only, since
 *	  every shard holds every row.
 *	- Only this module uses the shard connections while it samples, and it
 *	  collects every batch it sends before sending another on the same
 *	  connection, so batches are sent without an absorb callback.
 *	- When an error interrupts a batch on one shard, the batches still in
 *	  flight on the other shards are cancelled by the transaction-abort
 *	  cleanup of connection.c, as for any scan.
 *
 * src/import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/defrem.h"
#include "commands/vacuum.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "connection.h"
#include "deparse.h"
#include "import.h"
#include "option.h"
#include "shardfdw.h"

/* Parsed options of an IMPORT FOREIGN SCHEMA statement. */
typedef struct ImportOptions
{
	bool		import_collate; /* copy non-default column collations */
	bool		import_not_null;	/* copy NOT NULL constraints */
	char	   *distribution_column;	/* NULL when not given */
	char	   *distribution;	/* NULL when not given */
} ImportOptions;

/* Remote size of the table on one shard. */
typedef struct ShardRelStats
{
	char		relkind;		/* remote pg_class.relkind */
	double		relpages;		/* pages, never negative */
	double		reltuples;		/* estimate; < 0 when unknown */
} ShardRelStats;

/* State of one run of the sample function. */
typedef struct SampleState
{
	Relation	rel;
	AttInMetadata *attinmeta;	/* input functions of rel's columns */
	List	   *retrieved_attrs;	/* attnums, in the order of the SELECT */
	char	  **values;			/* one per column of rel, NULL = null */
	HeapTuple  *rows;			/* the caller's sample array */
	int			targrows;		/* its size */
	int			numrows;		/* valid entries in rows[] */
	double		samplerows;		/* rows seen so far, all shards */
	double		rowstoskip;		/* rows to skip before the next one is
								 * taken; < 0 when to be computed */
	ReservoirStateData rstate;
	MemoryContext sample_cxt;	/* holds the sampled tuples */
	MemoryContext batch_cxt;	/* reset after every FETCH result */
	int			cur_shard;		/* shard whose rows are being converted */
} SampleState;

/* Remote size of a table; $1 is its quoted, qualified name. */
static const char *const rel_stats_sql =
"SELECT c.relkind, "
"GREATEST(c.relpages::pg_catalog.int8, "
"CASE WHEN c.relkind IN ('r', 'm') "
"THEN pg_catalog.pg_relation_size(c.oid) / "
"pg_catalog.current_setting('block_size')::pg_catalog.int8 "
"ELSE 0 END), "
"c.reltuples "
"FROM pg_catalog.pg_class c "
"WHERE c.oid = $1::pg_catalog.regclass";

static void parse_import_options(List *options, ImportOptions *iopts);
static char *build_import_query(ImportForeignSchemaStmt *stmt);
static List *build_import_commands(PGresult *res, ForeignServer *server,
								   const char *remote_schema,
								   ImportOptions *iopts);
static void append_table_options(StringInfo buf, const char *remote_schema,
								 const char *relname, bool has_dist_column,
								 ImportOptions *iopts);
static PGresult *exec_tuples(ShardConn *conn, const char *sql,
							 int nparams, const char *const *params);
static PGresult *result_tuples(ShardConn *conn, const char *sql);
static void result_command(ShardConn *conn, const char *sql);
static Bitmapset *analyze_shard_set(ShardTableOptions *opts);
static void fetch_rel_stats(Relation rel, ShardConn **conns,
							Bitmapset *shards, ShardRelStats *stats);
static int	shardfdw_acquire_sample_rows(Relation relation, int elevel,
										 HeapTuple *rows, int targrows,
										 double *totalrows,
										 double *totaldeadrows);
static int	sample_fetch_result(SampleState *st, ShardConn **active,
								int idx, const char *fetch_sql,
								int fetch_size);
static void sample_result(SampleState *st, PGresult *res);
static HeapTuple make_sample_tuple(SampleState *st, PGresult *res, int row);
static void sample_error_callback(void *arg);


/*
 * shardfdw_import_schema
 *		Build the CREATE FOREIGN TABLE commands of IMPORT FOREIGN SCHEMA from
 *		the catalogs of shard p0 of the cluster serverOid.
 *
 * Returns a List of palloc'd command strings, allocated in the caller's
 * memory context; the caller owns them.
 */
List *
shardfdw_import_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ImportOptions iopts;
	ForeignServer *server;
	UserMapping *user;
	ShardConn  *conn;
	const char *params[1];
	PGresult   *volatile res = NULL;
	List	   *volatile commands = NIL;

	/* Reject bad options before contacting any shard. */
	parse_import_options(stmt->options, &iopts);

	server = GetForeignServer(serverOid);
	user = GetUserMapping(GetUserId(), serverOid);
	conn = shardconn_get(server, user, 0);

	params[0] = stmt->remote_schema;

	PG_TRY();
	{
		char	   *sql;

		res = exec_tuples(conn,
						  "SELECT 1 FROM pg_catalog.pg_namespace "
						  "WHERE nspname = $1",
						  1, params);
		if (PQntuples(res) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
					 errmsg("schema \"%s\" is not present on shard p0 of server \"%s\"",
							stmt->remote_schema, server->servername)));
		PQclear(res);
		res = NULL;

		sql = build_import_query(stmt);
		res = exec_tuples(conn, sql, 1, params);
		commands = build_import_commands(res, server, stmt->remote_schema,
										 &iopts);
	}
	PG_FINALLY();
	{
		if (res != NULL)
			PQclear(res);
	}
	PG_END_TRY();

	return commands;
}

/*
 * parse_import_options
 *		Fill *iopts from the OPTIONS of IMPORT FOREIGN SCHEMA, with the
 *		defaults for those not given.  Unknown names are an error.
 *
 * Strings in *iopts point into the statement's DefElems.
 */
static void
parse_import_options(List *options, ImportOptions *iopts)
{
	ListCell   *lc;

	iopts->import_collate = true;
	iopts->import_not_null = true;
	iopts->distribution_column = NULL;
	iopts->distribution = NULL;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "import_collate") == 0)
			iopts->import_collate = defGetBoolean(def);
		else if (strcmp(def->defname, "import_not_null") == 0)
			iopts->import_not_null = defGetBoolean(def);
		else if (strcmp(def->defname, "distribution_column") == 0)
		{
			iopts->distribution_column = defGetString(def);
			if (iopts->distribution_column[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"distribution_column\" must not be empty"),
						 errhint("Name the column whose value decides the shard of a row.")));
		}
		else if (strcmp(def->defname, "distribution") == 0)
			iopts->distribution = defGetString(def);
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for IMPORT FOREIGN SCHEMA",
							def->defname),
					 errhint("Valid options are: import_collate, import_not_null, distribution_column, distribution.")));
	}
}

/*
 * build_import_query
 *		Return the remote catalog query listing the columns of the wanted
 *		relations of the remote schema ($1), one row per column ordered by
 *		relation and column number; a relation without columns yields one
 *		row with NULL column fields.
 *
 * Result columns: relname, attname, type, attnotnull, collation name,
 * collation schema (the last two NULL unless the column's collation
 * differs from its type's).  The string is palloc'd in the caller's
 * context.
 */
static char *
build_import_query(ImportForeignSchemaStmt *stmt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf,
						   "SELECT c.relname, a.attname, "
						   "pg_catalog.format_type(a.atttypid, a.atttypmod), "
						   "a.attnotnull, coll.collname, collnsp.nspname "
						   "FROM pg_catalog.pg_class c "
						   "JOIN pg_catalog.pg_namespace n "
						   "ON n.oid = c.relnamespace "
						   "LEFT JOIN pg_catalog.pg_attribute a "
						   "ON a.attrelid = c.oid AND a.attnum > 0 "
						   "AND NOT a.attisdropped "
						   "LEFT JOIN pg_catalog.pg_type t "
						   "ON t.oid = a.atttypid "
						   "LEFT JOIN pg_catalog.pg_collation coll "
						   "ON coll.oid = a.attcollation "
						   "AND a.attcollation <> t.typcollation "
						   "LEFT JOIN pg_catalog.pg_namespace collnsp "
						   "ON collnsp.oid = coll.collnamespace "
						   "WHERE c.relkind IN ('r', 'v', 'f', 'm', 'p') "
						   "AND n.nspname = $1");

	if (stmt->list_type != FDW_IMPORT_SCHEMA_ALL && stmt->table_list != NIL)
	{
		ListCell   *lc;
		bool		first = true;

		appendStringInfoString(&buf, " AND c.relname ");
		if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT)
			appendStringInfoString(&buf, "NOT ");
		appendStringInfoString(&buf, "IN (");
		foreach(lc, stmt->table_list)
		{
			RangeVar   *rv = lfirst_node(RangeVar, lc);

			if (!first)
				appendStringInfoString(&buf, ", ");
			first = false;
			shardfdw_deparse_string_literal(&buf, rv->relname);
		}
		appendStringInfoChar(&buf, ')');
	}

	/*
	 * Partitions are reached through their parent; import them only when
	 * they are named explicitly.
	 */
	if (stmt->list_type != FDW_IMPORT_SCHEMA_LIMIT_TO)
		appendStringInfoString(&buf, " AND NOT c.relispartition");

	appendStringInfoString(&buf, " ORDER BY c.relname, a.attnum");

	return buf.data;
}

/*
 * build_import_commands
 *		Turn the result of build_import_query into one CREATE FOREIGN TABLE
 *		command per relation.
 *
 * Returns a List of command strings palloc'd in the caller's context.
 */
static List *
build_import_commands(PGresult *res, ForeignServer *server,
					  const char *remote_schema, ImportOptions *iopts)
{
	List	   *commands = NIL;
	StringInfoData buf;
	int			ntuples = PQntuples(res);
	int			i = 0;

	if (PQnfields(res) != 6)
		elog(ERROR, "unexpected result shape of the remote catalog query");

	initStringInfo(&buf);

	while (i < ntuples)
	{
		const char *relname = PQgetvalue(res, i, 0);
		bool		first = true;
		bool		has_dist_column = false;

		resetStringInfo(&buf);
		appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (",
						 quote_identifier(relname));

		/* rows of one relation are adjacent: the query orders by relname */
		for (; i < ntuples && strcmp(PQgetvalue(res, i, 0), relname) == 0; i++)
		{
			const char *attname;

			/* a relation without columns comes as one all-NULL row */
			if (PQgetisnull(res, i, 1))
				continue;

			attname = PQgetvalue(res, i, 1);
			if (!first)
				appendStringInfoChar(&buf, ',');
			first = false;

			appendStringInfo(&buf, "\n  %s %s",
							 quote_identifier(attname),
							 PQgetvalue(res, i, 2));

			if (iopts->import_collate &&
				!PQgetisnull(res, i, 4) && !PQgetisnull(res, i, 5))
				appendStringInfo(&buf, " COLLATE %s.%s",
								 quote_identifier(PQgetvalue(res, i, 5)),
								 quote_identifier(PQgetvalue(res, i, 4)));

			if (iopts->import_not_null &&
				strcmp(PQgetvalue(res, i, 3), "t") == 0)
				appendStringInfoString(&buf, " NOT NULL");

			if (iopts->distribution_column != NULL &&
				strcmp(attname, iopts->distribution_column) == 0)
				has_dist_column = true;
		}

		if (!first)
			appendStringInfoChar(&buf, '\n');
		appendStringInfo(&buf, ") SERVER %s\n",
						 quote_identifier(server->servername));
		append_table_options(&buf, remote_schema, relname, has_dist_column,
							 iopts);

		if (iopts->distribution_column != NULL && !has_dist_column)
			ereport(NOTICE,
					(errmsg("table \"%s\" has no column \"%s\" and is imported without a distribution column",
							relname, iopts->distribution_column),
					 errdetail("Reads of this table scan every shard, and rows inserted into it cannot be routed to a shard.")));

		commands = lappend(commands, pstrdup(buf.data));
	}

	pfree(buf.data);
	return commands;
}

/*
 * append_table_options
 *		Append the OPTIONS clause of one imported table to buf.
 *
 * distribution_column is given only to tables that have that column.  The
 * distribution is given to every table, except that "hash" and "modulo",
 * which need a distribution column, are left out for tables without one.
 */
static void
append_table_options(StringInfo buf, const char *remote_schema,
					 const char *relname, bool has_dist_column,
					 ImportOptions *iopts)
{
	appendStringInfoString(buf, "OPTIONS (schema_name ");
	shardfdw_deparse_string_literal(buf, remote_schema);
	appendStringInfoString(buf, ", table_name ");
	shardfdw_deparse_string_literal(buf, relname);

	if (has_dist_column)
	{
		appendStringInfoString(buf, ", distribution_column ");
		shardfdw_deparse_string_literal(buf, iopts->distribution_column);
	}

	if (iopts->distribution != NULL &&
		(has_dist_column ||
		 iopts->distribution_column == NULL ||
		 (strcmp(iopts->distribution, "hash") != 0 &&
		  strcmp(iopts->distribution, "modulo") != 0)))
	{
		appendStringInfoString(buf, ", distribution ");
		shardfdw_deparse_string_literal(buf, iopts->distribution);
	}

	appendStringInfoChar(buf, ')');
}

/*
 * exec_tuples
 *		Run a query on conn and return its result, which must carry rows;
 *		anything else is raised as an error.  The caller owns the result.
 */
static PGresult *
exec_tuples(ShardConn *conn, const char *sql, int nparams,
			const char *const *params)
{
	PGresult   *res = shardconn_exec(conn, sql, nparams, params);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		shardconn_report(ERROR, res, conn, sql);
	return res;
}

/*
 * result_tuples
 *		Wait for the batch in flight on conn, whose statement is sql, and
 *		return its result, which must carry rows.  The caller owns it.
 */
static PGresult *
result_tuples(ShardConn *conn, const char *sql)
{
	PGresult   *res = shardconn_result(conn);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		shardconn_report(ERROR, res, conn, sql);
	return res;
}

/*
 * result_command
 *		Wait for the batch in flight on conn, whose statement is the command
 *		sql, and check that it succeeded.
 */
static void
result_command(ShardConn *conn, const char *sql)
{
	PGresult   *res = shardconn_result(conn);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		shardconn_report(ERROR, res, conn, sql);
	PQclear(res);
}

/*
 * analyze_shard_set
 *		The shards ANALYZE reads: p0 alone for a replicated table, every
 *		shard otherwise.  The set is palloc'd in the caller's context.
 */
static Bitmapset *
analyze_shard_set(ShardTableOptions *opts)
{
	Bitmapset  *shards = NULL;
	int			shard;

	if (opts->distribution == SHARD_DIST_REPLICATED)
		return bms_make_singleton(0);

	for (shard = 0; shard < opts->nshards; shard++)
		shards = bms_add_member(shards, shard);
	return shards;
}

/*
 * fetch_rel_stats
 *		Read the remote relkind, size in pages and row estimate of rel on
 *		every shard in shards, querying them in parallel, into stats[],
 *		which is indexed by shard number.
 */
static void
fetch_rel_stats(Relation rel, ShardConn **conns, Bitmapset *shards,
				ShardRelStats *stats)
{
	StringInfoData relname;
	const char *params[1];
	int			shard;

	initStringInfo(&relname);
	shardfdw_deparse_relation(&relname, rel);
	params[0] = relname.data;

	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
		shardconn_send(conns[shard], rel_stats_sql, 1, params, stats, NULL);

	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		PGresult   *res = result_tuples(conns[shard], rel_stats_sql);
		bool		ok;

		ok = (PQntuples(res) == 1 && PQnfields(res) == 3 &&
			  !PQgetisnull(res, 0, 0));
		if (ok)
		{
			stats[shard].relkind = PQgetvalue(res, 0, 0)[0];
			stats[shard].relpages = PQgetisnull(res, 0, 1) ? 0.0 :
				strtod(PQgetvalue(res, 0, 1), NULL);
			stats[shard].reltuples = PQgetisnull(res, 0, 2) ? -1.0 :
				strtod(PQgetvalue(res, 0, 2), NULL);
			if (stats[shard].relpages < 0)
				stats[shard].relpages = 0;
		}
		PQclear(res);
		if (!ok)
			elog(ERROR, "unexpected result of the remote size query on shard p%d",
				 shard);
	}

	pfree(relname.data);
}

/*
 * shardfdw_analyze_table
 *		AnalyzeForeignTable: provide the sample function and the total
 *		number of pages of the table, summed over its shards (at least 1).
 */
bool
shardfdw_analyze_table(Relation relation, AcquireSampleRowsFunc *func,
					   BlockNumber *totalpages)
{
	ShardTableOptions opts;
	ForeignTable *table;
	ForeignServer *server;
	UserMapping *user;
	Bitmapset  *shards;
	ShardConn **conns;
	ShardRelStats *stats;
	double		pages = 0;
	int			shard;

	shardfdw_get_table_options(RelationGetRelid(relation), &opts);
	table = GetForeignTable(RelationGetRelid(relation));
	server = GetForeignServer(table->serverid);
	user = GetUserMapping(relation->rd_rel->relowner, table->serverid);

	shards = analyze_shard_set(&opts);
	conns = (ShardConn **) palloc0(sizeof(ShardConn *) * opts.nshards);
	stats = (ShardRelStats *) palloc0(sizeof(ShardRelStats) * opts.nshards);

	shardconn_get_many(server, user, shards, conns);
	fetch_rel_stats(relation, conns, shards, stats);

	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
		pages += stats[shard].relpages;

	*func = shardfdw_acquire_sample_rows;
	*totalpages = (BlockNumber) Max(1.0, Min(pages, (double) MaxBlockNumber));

	pfree(stats);
	pfree(conns);
	bms_free(shards);
	return true;
}

/*
 * shardfdw_acquire_sample_rows
 *		AcquireSampleRowsFunc: fill rows[] with a uniform random sample of at
 *		most targrows rows of the table, drawn from all of its shards.
 *
 * Returns the number of rows sampled.  The tuples are allocated in the
 * memory context current at the call, and belong to the caller.
 * *totalrows gets the number of rows of the table: the exact count for a
 * shard read in full, the remote estimate for a shard read through
 * TABLESAMPLE.  Dead rows are not visible remotely: *totaldeadrows is 0.
 */
static int
shardfdw_acquire_sample_rows(Relation relation, int elevel,
							 HeapTuple *rows, int targrows,
							 double *totalrows, double *totaldeadrows)
{
	ShardTableOptions opts;
	ForeignTable *table;
	ForeignServer *server;
	UserMapping *user;
	Bitmapset  *shards;
	ShardConn **conns;
	ShardConn **active;
	ShardRelStats *stats;
	double	   *rows_seen;
	char	  **fetch_sql;
	char	  **close_sql;
	char	  **declare_sql;
	StringInfoData sql;
	SampleState st;
	double		total_reltuples = 0;
	double		percent = 0;
	bool		can_tablesample = true;
	int			fetch_size;
	int			nshards;
	int			shard;

	shardfdw_get_table_options(RelationGetRelid(relation), &opts);
	table = GetForeignTable(RelationGetRelid(relation));
	server = GetForeignServer(table->serverid);
	user = GetUserMapping(relation->rd_rel->relowner, table->serverid);
	nshards = opts.nshards;
	fetch_size = Max(opts.fetch_size, 1);

	shards = analyze_shard_set(&opts);
	conns = (ShardConn **) palloc0(sizeof(ShardConn *) * nshards);
	active = (ShardConn **) palloc0(sizeof(ShardConn *) * nshards);
	stats = (ShardRelStats *) palloc0(sizeof(ShardRelStats) * nshards);
	rows_seen = (double *) palloc0(sizeof(double) * nshards);
	fetch_sql = (char **) palloc0(sizeof(char *) * nshards);
	close_sql = (char **) palloc0(sizeof(char *) * nshards);
	declare_sql = (char **) palloc0(sizeof(char *) * nshards);

	shardconn_get_many(server, user, shards, conns);
	fetch_rel_stats(relation, conns, shards, stats);

	/*
	 * Pre-sample on the shards when the table is large.  One rate serves all
	 * shards so that every row keeps the same chance; it is only usable
	 * when every shard knows its row count and its relation kind accepts
	 * TABLESAMPLE.
	 */
	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		char		kind = stats[shard].relkind;

		if (stats[shard].reltuples < 0 ||
			(kind != 'r' && kind != 'm' && kind != 'p'))
			can_tablesample = false;
		else
			total_reltuples += stats[shard].reltuples;
	}
	if (can_tablesample && targrows > 0 &&
		total_reltuples > 10.0 * targrows)
		percent = Min(100.0, 100.0 * 1.5 * targrows / total_reltuples);

	initStringInfo(&sql);
	memset(&st, 0, sizeof(st));
	shardfdw_deparse_analyze_sql(&sql, relation, &st.retrieved_attrs);
	if (percent > 0)
		appendStringInfo(&sql, " TABLESAMPLE BERNOULLI (%.9g)", percent);

	st.rel = relation;
	st.attinmeta = TupleDescGetAttInMetadata(RelationGetDescr(relation));
	st.values = (char **) palloc0(sizeof(char *) *
								  RelationGetDescr(relation)->natts);
	st.rows = rows;
	st.targrows = targrows;
	st.numrows = 0;
	st.samplerows = 0;
	st.rowstoskip = -1;
	st.sample_cxt = CurrentMemoryContext;
	st.batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "shardfdw analyze batch",
										 ALLOCSET_DEFAULT_SIZES);
	st.cur_shard = -1;
	if (targrows > 0)
		reservoir_init_selection_state(&st.rstate, targrows);

	/* Open one cursor per shard, all shards at once. */
	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		unsigned int cursor = shardconn_cursor_number(conns[shard]);

		declare_sql[shard] = psprintf("DECLARE c%u CURSOR FOR %s",
									  cursor, sql.data);
		fetch_sql[shard] = psprintf("FETCH %d FROM c%u", fetch_size, cursor);
		close_sql[shard] = psprintf("CLOSE c%u", cursor);
		shardconn_send(conns[shard], declare_sql[shard], 0, NULL, &st, NULL);
	}
	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
		result_command(conns[shard], declare_sql[shard]);

	/*
	 * Stream the rows.  A shard gets its next FETCH as soon as its previous
	 * one is in, before the rows of that one are sampled, so the shards keep
	 * working while we do.
	 */
	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		shardconn_send(conns[shard], fetch_sql[shard], 0, NULL, &st, NULL);
		active[shard] = conns[shard];
	}

	for (;;)
	{
		int			idx;

		CHECK_FOR_INTERRUPTS();
		vacuum_delay_point();

		idx = shardconn_wait_any(active, nshards);
		if (idx < 0)
			break;

		rows_seen[idx] += sample_fetch_result(&st, active, idx,
											  fetch_sql[idx], fetch_size);
		MemoryContextReset(st.batch_cxt);
	}

	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
		shardconn_command(conns[shard], close_sql[shard]);

	/* Shards read in full give exact counts; others, their estimate. */
	*totalrows = 0;
	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
		*totalrows += (percent > 0) ? stats[shard].reltuples :
			rows_seen[shard];
	*totaldeadrows = 0;

	ereport(elevel,
			(errmsg("\"%s\": table contains %.0f rows on %d of %d shards, %.0f rows read, %d rows in sample",
					RelationGetRelationName(relation), *totalrows,
					bms_num_members(shards), nshards, st.samplerows,
					st.numrows)));

	MemoryContextDelete(st.batch_cxt);
	pfree(st.values);
	pfree(sql.data);
	shard = -1;
	while ((shard = bms_next_member(shards, shard)) >= 0)
	{
		pfree(declare_sql[shard]);
		pfree(fetch_sql[shard]);
		pfree(close_sql[shard]);
	}
	pfree(declare_sql);
	pfree(fetch_sql);
	pfree(close_sql);
	pfree(rows_seen);
	pfree(stats);
	pfree(active);
	pfree(conns);
	bms_free(shards);

	return st.numrows;
}

/*
 * sample_fetch_result
 *		Take the result of the FETCH fetch_sql that has come in on
 *		active[idx], ask that shard for its next batch unless its cursor is
 *		exhausted (then active[idx] is set to NULL), and sample the rows.
 *
 * Returns the number of rows the FETCH returned.  The result is cleared
 * here, on error too.
 */
static int
sample_fetch_result(SampleState *st, ShardConn **active, int idx,
					const char *fetch_sql, int fetch_size)
{
	PGresult   *volatile res = NULL;
	int			ntuples;

	res = result_tuples(active[idx], fetch_sql);
	ntuples = PQntuples(res);

	PG_TRY();
	{
		if (ntuples < fetch_size)
			active[idx] = NULL; /* cursor exhausted */
		else
			shardconn_send(active[idx], fetch_sql, 0, NULL, st, NULL);

		st->cur_shard = idx;
		sample_result(st, res);
	}
	PG_FINALLY();
	{
		PQclear(res);
	}
	PG_END_TRY();

	return ntuples;
}

/*
 * sample_result
 *		Feed the rows of one FETCH result to the reservoir of st.
 *
 * The first targrows rows fill the reservoir; after that, each row replaces
 * a random one with the probability that keeps the sample uniform, the
 * number of rows to skip between replacements being drawn by
 * reservoir_get_next_S.  Only rows that enter the sample are converted.
 */
static void
sample_result(SampleState *st, PGresult *res)
{
	ErrorContextCallback errcallback;
	int			ntuples = PQntuples(res);
	int			nretrieved = list_length(st->retrieved_attrs);
	int			row;

	/* with no column retrieved, the remote SELECT list is a dummy */
	if (nretrieved > 0 && PQnfields(res) != nretrieved)
		elog(ERROR, "remote ANALYZE query returned %d columns, expected %d",
			 PQnfields(res), nretrieved);

	if (st->targrows <= 0)
	{
		st->samplerows += ntuples;
		return;
	}

	errcallback.callback = sample_error_callback;
	errcallback.arg = (void *) st;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (row = 0; row < ntuples; row++)
	{
		if (st->numrows < st->targrows)
			st->rows[st->numrows++] = make_sample_tuple(st, res, row);
		else
		{
			if (st->rowstoskip < 0)
				st->rowstoskip = reservoir_get_next_S(&st->rstate,
													  st->samplerows,
													  st->targrows);
			if (st->rowstoskip <= 0)
			{
				int			k;

				k = (int) (st->targrows *
						   sampler_random_fract(&st->rstate.randstate));
				Assert(k >= 0 && k < st->targrows);
				heap_freetuple(st->rows[k]);
				st->rows[k] = make_sample_tuple(st, res, row);
			}
			st->rowstoskip -= 1;
		}
		st->samplerows += 1;
	}

	error_context_stack = errcallback.previous;
}

/*
 * make_sample_tuple
 *		Convert row of res into a tuple of the relation; columns not
 *		retrieved are NULL.
 *
 * The conversion runs in the batch context; the returned tuple is a copy
 * in the sample context, owned by ANALYZE's caller.
 */
static HeapTuple
make_sample_tuple(SampleState *st, PGresult *res, int row)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->batch_cxt);
	int			natts = st->attinmeta->tupdesc->natts;
	HeapTuple	tuple;
	ListCell   *lc;
	int			field = 0;

	memset(st->values, 0, sizeof(char *) * natts);
	foreach(lc, st->retrieved_attrs)
	{
		int			attnum = lfirst_int(lc);

		if (attnum > 0 && attnum <= natts && !PQgetisnull(res, row, field))
			st->values[attnum - 1] = PQgetvalue(res, row, field);
		field++;
	}

	tuple = BuildTupleFromCStrings(st->attinmeta, st->values);

	MemoryContextSwitchTo(st->sample_cxt);
	tuple = heap_copytuple(tuple);
	MemoryContextSwitchTo(oldcxt);

	return tuple;
}

/*
 * sample_error_callback
 *		Error context for the conversion of sampled rows: name the table
 *		and the shard the row came from.
 */
static void
sample_error_callback(void *arg)
{
	SampleState *st = (SampleState *) arg;

	errcontext("converting a row of foreign table \"%s\" from shard p%d",
			   RelationGetRelationName(st->rel), st->cur_shard);
}
