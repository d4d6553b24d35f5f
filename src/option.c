/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Validation and lookup of shardfdw options.
 *
 * Every option is checked when it is set: the validator function checks
 * names, values, the pN numbering and conninfo syntax; options that depend
 * on the table's columns (distribution_column, modulo on an integer key)
 * are checked by shardfdw_check_table() right after CREATE / ALTER FOREIGN
 * TABLE and again whenever the options are read, so a table altered behind
 * our back still gets a clear error rather than a wrong answer.
 *
 * Invariants: a server's pN options are numbered 0 .. N-1 without gaps;
 * credentials (user and every libpq option libpq marks as secret:
 * password, sslpassword) appear only in user mappings, which only their
 * user and superusers can read; sslcert and sslkey may appear in a user
 * mapping only when a superuser sets them (as in postgres_fdw).
 *
 * src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "libpq-fe.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "deadlock.h"
#include "option.h"

/* Options of shardfdw itself, with the catalogs they may appear in. */
typedef struct ShardOption
{
	const char *name;
	Oid			context;		/* catalog OID where it may appear */
} ShardOption;

static const ShardOption shard_options[] = {
	/* server */
	{"fetch_size", ForeignServerRelationId},
	{"batch_size", ForeignServerRelationId},
	{"updatable", ForeignServerRelationId},
	{"use_remote_estimate", ForeignServerRelationId},
	{"fdw_startup_cost", ForeignServerRelationId},
	{"fdw_tuple_cost", ForeignServerRelationId},
	{"connection_lifetime", ForeignServerRelationId},
	{"extensions", ForeignServerRelationId},
	{"keep_connections", ForeignServerRelationId},
	{"two_phase_commit", ForeignServerRelationId},
	/* user mapping (any other secret libpq option is accepted there too) */
	{"user", UserMappingRelationId},
	{"password", UserMappingRelationId},
	{"sslpassword", UserMappingRelationId},
	{"sslcert", UserMappingRelationId},
	{"sslkey", UserMappingRelationId},
	{"password_required", UserMappingRelationId},
	/* table */
	{"schema_name", ForeignTableRelationId},
	{"table_name", ForeignTableRelationId},
	{"distribution", ForeignTableRelationId},
	{"distribution_column", ForeignTableRelationId},
	{"fetch_size", ForeignTableRelationId},
	{"batch_size", ForeignTableRelationId},
	{"updatable", ForeignTableRelationId},
	{"use_remote_estimate", ForeignTableRelationId},
	/* column */
	{"column_name", AttributeRelationId},
	{NULL, InvalidOid}
};

/* libpq options we never take from the user: we set them ourselves. */
static const char *const reserved_libpq_options[] = {
	"user", "password", "client_encoding", "fallback_application_name",
	"replication", "dbname_override", NULL
};

/*
 * Set when the validator saw table options in this transaction: at
 * pre-commit, every shardfdw table whose options this transaction wrote is
 * checked.  This backs up the utility hook in shardfdw.c, which is not in
 * force for the statement during which the library gets loaded.
 */
static bool table_options_set = false;
static bool xact_callback_registered = false;

static void check_tables_at_commit(XactEvent event, void *arg);

/* libpq's option list, fetched once per backend (malloc'd by libpq). */
static PQconninfoOption *libpq_options = NULL;

static void load_libpq_options(void);
static bool is_libpq_option(const char *name);
static bool is_credential_option(const char *name);
static bool is_shard_option_name(const char *name, int *shard);
static bool is_valid_option(const char *name, Oid context);
static void report_unknown_option(const char *name, Oid context);
static void check_shard_numbering(List *options);
static int	parse_int_option(DefElem *def, int minval);
static double parse_real_option(DefElem *def);
static ShardDistribution parse_distribution(const char *value);

PG_FUNCTION_INFO_V1(shardfdw_validator);

/*
 * Load libpq's list of connection options on first use.  The list is
 * malloc'd by libpq and kept for the life of the backend.
 */
static void
load_libpq_options(void)
{
	if (libpq_options)
		return;
	libpq_options = PQconndefaults();
	if (!libpq_options)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not get libpq's default connection options.")));
}

/*
 * Is name a libpq connection option that may appear on a shardfdw server?
 * Debug options, credentials and those shardfdw sets itself are excluded.
 */
static bool
is_libpq_option(const char *name)
{
	PQconninfoOption *opt;

	load_libpq_options();
	for (int i = 0; reserved_libpq_options[i]; i++)
		if (strcmp(name, reserved_libpq_options[i]) == 0)
			return false;
	for (opt = libpq_options; opt->keyword; opt++)
	{
		if (strcmp(opt->keyword, name) == 0)
			return strchr(opt->dispchar, 'D') == NULL &&
				strchr(opt->dispchar, '*') == NULL;
	}
	return false;
}

/*
 * Is name a libpq option that may appear only in a user mapping: "user",
 * or one that libpq marks as secret (dispchar '*': password, sslpassword)?
 * Server options and pN conninfos are readable by every role.
 */
static bool
is_credential_option(const char *name)
{
	load_libpq_options();
	if (strcmp(name, "user") == 0)
		return true;
	for (PQconninfoOption *opt = libpq_options; opt->keyword; opt++)
	{
		if (strcmp(opt->keyword, name) == 0)
			return strchr(opt->dispchar, '*') != NULL;
	}
	return false;
}

/*
 * Is name of the form pN (N a decimal shard number without leading zeros)?
 * Sets *shard to N.
 */
static bool
is_shard_option_name(const char *name, int *shard)
{
	long		n = 0;
	const char *p;

	if (name[0] != 'p' || name[1] == '\0')
		return false;
	if (name[1] == '0' && name[2] != '\0')
		return false;
	for (p = name + 1; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (*p - '0');
		if (n >= SHARDFDW_MAX_SHARDS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("shard option \"%s\" is out of range", name),
					 errhint("A cluster has at most %d shards, p0 to p%d.",
							 SHARDFDW_MAX_SHARDS, SHARDFDW_MAX_SHARDS - 1)));
	}
	*shard = (int) n;
	return true;
}

/* May option "name" appear in catalog "context"? */
static bool
is_valid_option(const char *name, Oid context)
{
	int			shard;

	for (const ShardOption *opt = shard_options; opt->name; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	if (context == UserMappingRelationId)
		return is_credential_option(name);
	if (context == ForeignServerRelationId)
		return is_shard_option_name(name, &shard) || is_libpq_option(name);
	return false;
}

/*
 * Raise the error for an unknown option, with a hint that lists the valid
 * ones (or says where the option belongs when that is clear).
 */
static void
report_unknown_option(const char *name, Oid context)
{
	StringInfoData buf;

	if (is_credential_option(name) && context != UserMappingRelationId)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" is only allowed in a user mapping",
						name),
				 errhint("Credentials belong in CREATE USER MAPPING ... SERVER ... OPTIONS (user '...', password '...').")));

	initStringInfo(&buf);
	for (const ShardOption *opt = shard_options; opt->name; opt++)
	{
		if (opt->context != context)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
	}
	if (context == ForeignServerRelationId)
		appendStringInfoString(&buf,
							   ", p0 .. pN (shard conninfo), and libpq connection options");

	if (buf.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", name),
				 errhint("Valid options in this context are: %s.", buf.data)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", name),
				 errhint("There are no valid options in this context.")));
}

/*
 * shardfdw_check_conninfo: check a pN conninfo string: it must parse, and
 * must not carry credentials or options shardfdw sets itself.
 */
void
shardfdw_check_conninfo(const char *optname, const char *conninfo)
{
	char	   *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);

	if (opts == NULL)
	{
		char	   *detail = perr ? pchomp(perr) : pstrdup("out of memory");

		if (perr)
			PQfreemem(perr);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid connection string in option \"%s\"", optname),
				 errdetail_internal("%s", detail),
				 errhint("A shard option takes a libpq conninfo such as 'host=10.0.0.1 port=5432 dbname=db0'.")));
	}

	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL)
			continue;
		if (is_credential_option(o->keyword))
		{
			const char *kw = pstrdup(o->keyword);

			PQconninfoFree(opts);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" must not contain \"%s\"",
							optname, kw),
					 errhint("Credentials belong in CREATE USER MAPPING ... SERVER ... OPTIONS (user '...', password '...').")));
		}
		if (!is_libpq_option(o->keyword))
		{
			const char *kw = pstrdup(o->keyword);

			PQconninfoFree(opts);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" must not set \"%s\"", optname, kw),
					 errhint("shardfdw sets this connection option itself.")));
		}
	}
	PQconninfoFree(opts);
}

/*
 * Check that the pN options of a server are p0 .. p(N-1) with no gaps.
 */
static void
check_shard_numbering(List *options)
{
	bool	   *seen;
	int			maxshard = -1;
	ListCell   *lc;

	seen = palloc0(sizeof(bool) * SHARDFDW_MAX_SHARDS);
	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		int			shard;

		if (is_shard_option_name(def->defname, &shard))
		{
			seen[shard] = true;
			maxshard = Max(maxshard, shard);
		}
	}
	for (int i = 0; i <= maxshard; i++)
	{
		if (!seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("shard option \"p%d\" is missing", i),
					 errdetail("Shard options must be numbered p0 to p%d without gaps.",
							   maxshard),
					 errhint("Add p%d, or renumber the shards.", i)));
	}
	pfree(seen);
}

/* Parse an integer option value that must be >= minval. */
static int
parse_int_option(DefElem *def, int minval)
{
	char	   *value = defGetString(def);
	int			result;

	if (!parse_int(value, &result, 0, NULL) || result < minval)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for integer option \"%s\": %s",
						def->defname, value),
				 errhint("The value must be an integer greater than or equal to %d.",
						 minval)));
	return result;
}

/* Parse a non-negative floating-point option value. */
static double
parse_real_option(DefElem *def)
{
	char	   *value = defGetString(def);
	double		result;

	if (!parse_real(value, &result, 0, NULL) || result < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for floating point option \"%s\": %s",
						def->defname, value),
				 errhint("The value must be a non-negative number.")));
	return result;
}

/* Parse the value of the distribution option. */
static ShardDistribution
parse_distribution(const char *value)
{
	if (strcmp(value, "hash") == 0)
		return SHARD_DIST_HASH;
	if (strcmp(value, "modulo") == 0)
		return SHARD_DIST_MODULO;
	if (strcmp(value, "replicated") == 0)
		return SHARD_DIST_REPLICATED;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"distribution\": \"%s\"", value),
			 errhint("Valid values are \"hash\", \"modulo\" and \"replicated\".")));
	return SHARD_DIST_NONE;		/* keep compiler quiet */
}

/*
 * shardfdw_validator: check the options of a shardfdw object when they are
 * set (CREATE / ALTER of the wrapper, server, user mapping, table, column).
 */
Datum
shardfdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	char	   *distribution = NULL;
	bool		has_dist_column = false;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		int			shard;

		if (!is_valid_option(def->defname, catalog))
			report_unknown_option(def->defname, catalog);

		if (catalog == ForeignServerRelationId &&
			is_shard_option_name(def->defname, &shard))
			shardfdw_check_conninfo(def->defname, defGetString(def));
		else if (strcmp(def->defname, "fetch_size") == 0 ||
				 strcmp(def->defname, "batch_size") == 0)
			(void) parse_int_option(def, 1);
		else if (strcmp(def->defname, "connection_lifetime") == 0)
			(void) parse_int_option(def, 0);
		else if (strcmp(def->defname, "fdw_startup_cost") == 0 ||
				 strcmp(def->defname, "fdw_tuple_cost") == 0)
			(void) parse_real_option(def);
		else if (strcmp(def->defname, "use_remote_estimate") == 0 ||
				 strcmp(def->defname, "keep_connections") == 0 ||
				 strcmp(def->defname, "two_phase_commit") == 0 ||
				 strcmp(def->defname, "updatable") == 0)
			(void) defGetBoolean(def);
		else if (strcmp(def->defname, "password_required") == 0)
		{
			if (!defGetBoolean(def) && !superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("password_required=false is superuser-only"),
						 errhint("User mappings with the password_required option set to false may only be created or modified by the superuser.")));
		}
		else if (catalog == UserMappingRelationId &&
				 (strcmp(def->defname, "sslcert") == 0 ||
				  strcmp(def->defname, "sslkey") == 0))
		{
			/* files of the coordinator's OS user: not for every role */
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("sslcert and sslkey are superuser-only"),
						 errhint("User mappings with the sslcert or sslkey options set may only be created or modified by the superuser.")));
		}
		else if (strcmp(def->defname, "extensions") == 0)
			(void) shardfdw_extension_oids(defGetString(def), true);
		else if (strcmp(def->defname, "distribution") == 0)
		{
			distribution = defGetString(def);
			(void) parse_distribution(distribution);
		}
		else if (strcmp(def->defname, "distribution_column") == 0)
		{
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"distribution_column\" must not be empty"),
						 errhint("Name the column whose value decides the shard of a row.")));
			has_dist_column = true;
		}
		else if (strcmp(def->defname, "schema_name") == 0 ||
				 strcmp(def->defname, "table_name") == 0 ||
				 strcmp(def->defname, "column_name") == 0)
		{
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must not be empty", def->defname)));
		}
	}

	if (catalog == ForeignServerRelationId)
		check_shard_numbering(options);

	if (catalog == ForeignTableRelationId)
	{
		ShardDistribution dist = distribution ? parse_distribution(distribution)
			: (has_dist_column ? SHARD_DIST_HASH : SHARD_DIST_NONE);

		if ((dist == SHARD_DIST_HASH || dist == SHARD_DIST_MODULO) &&
			!has_dist_column)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("distribution \"%s\" requires option \"distribution_column\"",
							distribution),
					 errhint("Add OPTIONS (distribution_column 'column') naming the key column.")));
		if (!xact_callback_registered)
		{
			RegisterXactCallback(check_tables_at_commit, NULL);
			xact_callback_registered = true;
		}
		table_options_set = true;

		if (dist == SHARD_DIST_REPLICATED && has_dist_column)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("a replicated table cannot have a distribution column"),
					 errhint("Drop option \"distribution_column\", or use distribution 'hash' or 'modulo'.")));
	}

	PG_RETURN_VOID();
}

/*
 * shardfdw_cluster_size: number of shards of a server (count of its pN
 * options; a server without any is a one-shard cluster).
 */
int
shardfdw_cluster_size(ForeignServer *server)
{
	int			n = 0;
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		int			shard;

		if (is_shard_option_name(def->defname, &shard))
			n = Max(n, shard + 1);
	}
	return Max(n, 1);
}

/*
 * shardfdw_shard_conninfo: the pN option of shard (NULL when the server has
 * none: a one-shard cluster); points into server->options.
 */
const char *
shardfdw_shard_conninfo(ForeignServer *server, int shard)
{
	char		pname[16];
	ListCell   *lc;

	snprintf(pname, sizeof(pname), "p%d", shard);
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, pname) == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * shardfdw_connection_lifetime: connection_lifetime of a server, in
 * seconds (0: connections live as long as the session).
 */
int
shardfdw_connection_lifetime(ForeignServer *server)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "connection_lifetime") == 0)
			return parse_int_option(def, 0);
	}
	return 0;
}

/*
 * shardfdw_two_phase_commit: does a transaction that wrote on several of
 * server's shards commit them with two-phase commit?  The
 * two_phase_commit option; by default, yes when the server has several
 * shards.
 */
bool
shardfdw_two_phase_commit(ForeignServer *server)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "two_phase_commit") == 0)
			return defGetBoolean(def);
	}
	return shardfdw_cluster_size(server) > 1;
}

/*
 * Default hash operator classes by type, cached for the session: looking
 * one up scans pg_opclass (there is no syscache for it), which showed as
 * the largest coordinator cost of short statements.  The cache lives in
 * CacheMemoryContext and is emptied whenever pg_opclass changes.
 */
typedef struct HashOpclassEntry
{
	Oid			type;			/* hash key */
	Oid			opclass;		/* InvalidOid: the type has none */
} HashOpclassEntry;

static HTAB *HashOpclassCache = NULL;

/* hash_opclass_inval: any change to pg_opclass empties the cache */
static void
hash_opclass_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	HashOpclassEntry *entry;

	hash_seq_init(&status, HashOpclassCache);
	while ((entry = hash_seq_search(&status)) != NULL)
		hash_search(HashOpclassCache, &entry->type, HASH_REMOVE, NULL);
}

/*
 * shardfdw_default_hash_opclass: the default hash operator class of type
 * (InvalidOid if there is none), from the session cache.
 */
Oid
shardfdw_default_hash_opclass(Oid type)
{
	HashOpclassEntry *entry;
	bool		found;
	Oid			opclass;

	if (HashOpclassCache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(HashOpclassEntry);
		ctl.hcxt = CacheMemoryContext;
		HashOpclassCache = hash_create("shardfdw hash opclasses", 16, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterSyscacheCallback(CLAOID, hash_opclass_inval, (Datum) 0);
	}

	entry = hash_search(HashOpclassCache, &type, HASH_FIND, NULL);
	if (entry)
		return entry->opclass;

	/* look up before entering: the scan can process invalidations */
	opclass = GetDefaultOpClass(type, HASH_AM_OID);
	entry = hash_search(HashOpclassCache, &type, HASH_ENTER, &found);
	entry->opclass = opclass;
	return opclass;
}

/*
 * The session's cache of parsed table options.  Reading them means two
 * catalog lookups, turning both option arrays into DefElem lists and
 * parsing them: per execution of a keyed INSERT that was a tenth of the
 * coordinator's own work (BeginForeignModify, IsForeignRelUpdatable and
 * GetForeignModifyBatchSize each read them).  Entries and their strings
 * live in TableOptionsCxt (under CacheMemoryContext).  Any change to a
 * foreign table, server, schema or function (the "extensions" option
 * names extensions, whose objects are functions), and any relcache
 * invalidation (renamed tables and columns), empties the whole cache: the
 * callbacks only bump TableOptionsInvals, and the next lookup drops the
 * entries.  An entry read while an invalidation arrived is not kept.
 */
typedef struct TableOptionsEntry
{
	Oid			relid;			/* hash key */
	ShardTableOptions opts;		/* strings and list in TableOptionsCxt */
} TableOptionsEntry;

static HTAB *TableOptionsCache = NULL;
static MemoryContext TableOptionsCxt = NULL;
static uint64 TableOptionsInvals = 0;	/* invalidations seen */
static uint64 TableOptionsBuilt = 0;	/* ... when the cache was emptied */

static void read_table_options(Oid relid, ShardTableOptions *opts);

/* syscache callback: every entry may be stale */
static void
table_options_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	TableOptionsInvals++;
}

/* relcache callback: the same */
static void
table_options_relinval(Datum arg, Oid relid)
{
	TableOptionsInvals++;
}

/* *dst = *src with its strings and list copied into CurrentMemoryContext */
static void
copy_table_options(ShardTableOptions *dst, const ShardTableOptions *src)
{
	*dst = *src;
	dst->schema_name = pstrdup(src->schema_name);
	dst->table_name = pstrdup(src->table_name);
	dst->shippable_extensions = list_copy(src->shippable_extensions);
}

/*
 * shardfdw_get_table_options: see option.h.  From the session cache when
 * it has the table; otherwise read and checked (read_table_options), then
 * kept.
 */
void
shardfdw_get_table_options(Oid relid, ShardTableOptions *opts)
{
	TableOptionsEntry *entry;
	uint64		invals;
	bool		found;

	if (TableOptionsCache == NULL)
	{
		TableOptionsCxt = AllocSetContextCreate(CacheMemoryContext,
												"shardfdw table options",
												ALLOCSET_SMALL_SIZES);
		CacheRegisterSyscacheCallback(FOREIGNTABLEREL, table_options_inval,
									  (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, table_options_inval,
									  (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, table_options_inval,
									  (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, table_options_inval,
									  (Datum) 0);
		CacheRegisterRelcacheCallback(table_options_relinval, (Datum) 0);
		TableOptionsBuilt = TableOptionsInvals - 1;
	}
	if (TableOptionsBuilt != TableOptionsInvals)
	{
		HASHCTL		ctl;

		MemoryContextReset(TableOptionsCxt);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TableOptionsEntry);
		ctl.hcxt = TableOptionsCxt;
		TableOptionsCache = hash_create("shardfdw table options", 16, &ctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		TableOptionsBuilt = TableOptionsInvals;
	}

	entry = hash_search(TableOptionsCache, &relid, HASH_FIND, NULL);
	if (entry != NULL)
	{
		copy_table_options(opts, &entry->opts);
		return;
	}

	invals = TableOptionsInvals;
	read_table_options(relid, opts);
	if (invals != TableOptionsInvals || TableOptionsBuilt != invals)
		return;					/* (read while something changed) */
	{
		MemoryContext old = MemoryContextSwitchTo(TableOptionsCxt);

		entry = hash_search(TableOptionsCache, &relid, HASH_ENTER, &found);
		copy_table_options(&entry->opts, opts);
		MemoryContextSwitchTo(old);
	}
}

/*
 * read_table_options: fill *opts from the options of foreign table
 * relid and of its server, and check the options that depend on the
 * table's columns.  Memory is palloc'd in CurrentMemoryContext.
 */
static void
read_table_options(Oid relid, ShardTableOptions *opts)
{
	ForeignTable *table = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(table->serverid);
	char	   *distribution = NULL;
	char	   *dist_column = NULL;
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->relid = relid;
	opts->serverid = server->serverid;
	opts->nshards = shardfdw_cluster_size(server);
	opts->fetch_size = SHARDFDW_DEFAULT_FETCH_SIZE;
	opts->batch_size = SHARDFDW_DEFAULT_BATCH_SIZE;
	opts->updatable = true;
	opts->fdw_startup_cost = SHARDFDW_DEFAULT_STARTUP_COST;
	opts->fdw_tuple_cost = SHARDFDW_DEFAULT_TUPLE_COST;

	/* server options first: table options override them */
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "fetch_size") == 0)
			opts->fetch_size = parse_int_option(def, 1);
		else if (strcmp(def->defname, "batch_size") == 0)
			opts->batch_size = parse_int_option(def, 1);
		else if (strcmp(def->defname, "updatable") == 0)
			opts->updatable = defGetBoolean(def);
		else if (strcmp(def->defname, "use_remote_estimate") == 0)
			opts->use_remote_estimate = defGetBoolean(def);
		else if (strcmp(def->defname, "fdw_startup_cost") == 0)
			opts->fdw_startup_cost = parse_real_option(def);
		else if (strcmp(def->defname, "fdw_tuple_cost") == 0)
			opts->fdw_tuple_cost = parse_real_option(def);
		else if (strcmp(def->defname, "extensions") == 0)
			opts->shippable_extensions =
				shardfdw_extension_oids(defGetString(def), false);
	}
	foreach(lc, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "fetch_size") == 0)
			opts->fetch_size = parse_int_option(def, 1);
		else if (strcmp(def->defname, "batch_size") == 0)
			opts->batch_size = parse_int_option(def, 1);
		else if (strcmp(def->defname, "updatable") == 0)
			opts->updatable = defGetBoolean(def);
		else if (strcmp(def->defname, "use_remote_estimate") == 0)
			opts->use_remote_estimate = defGetBoolean(def);
		else if (strcmp(def->defname, "schema_name") == 0)
			opts->schema_name = defGetString(def);
		else if (strcmp(def->defname, "table_name") == 0)
			opts->table_name = defGetString(def);
		else if (strcmp(def->defname, "distribution") == 0)
			distribution = defGetString(def);
		else if (strcmp(def->defname, "distribution_column") == 0)
			dist_column = defGetString(def);
	}
	if (opts->schema_name == NULL)
		opts->schema_name = get_namespace_name(get_rel_namespace(relid));
	if (opts->table_name == NULL)
		opts->table_name = get_rel_name(relid);

	if (distribution)
		opts->distribution = parse_distribution(distribution);
	else
		opts->distribution = dist_column ? SHARD_DIST_HASH : SHARD_DIST_NONE;

	if (dist_column &&
		(opts->distribution == SHARD_DIST_HASH ||
		 opts->distribution == SHARD_DIST_MODULO))
	{
		int32		typmod;
		Oid			opclass;

		opts->dist_attno = get_attnum(relid, dist_column);
		if (opts->dist_attno == InvalidAttrNumber || opts->dist_attno < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("distribution column \"%s\" does not exist in foreign table \"%s\"",
							dist_column, get_rel_name(relid)),
					 errhint("Option \"distribution_column\" must name a column of the table.")));
		get_atttypetypmodcoll(relid, opts->dist_attno, &opts->dist_type,
							  &typmod, &opts->dist_collation);

		if (opts->distribution == SHARD_DIST_MODULO &&
			opts->dist_type != INT2OID && opts->dist_type != INT4OID &&
			opts->dist_type != INT8OID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("distribution \"modulo\" requires an integer distribution column"),
					 errdetail("Column \"%s\" has type %s.", dist_column,
							   format_type_be(opts->dist_type)),
					 errhint("Use distribution 'hash' for keys of other types.")));

		opclass = shardfdw_default_hash_opclass(opts->dist_type);
		if (!OidIsValid(opclass))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("distribution column \"%s\" has type %s, which has no default hash operator class",
							dist_column, format_type_be(opts->dist_type)),
					 errhint("Distribute on a column of a hashable type.")));
		opts->dist_hash_opfamily = get_opclass_family(opclass);
	}
}

/*
 * shardfdw_check_table: check the column-dependent options of a freshly
 * created or altered foreign table of ours (raises the errors).
 */
void
shardfdw_check_table(Oid relid)
{
	ShardTableOptions opts;

	read_table_options(relid, &opts);	/* (not the cache: check afresh) */
}

/*
 * shardfdw_conn_params: libpq keyword/value arrays for one shard, in
 * CurrentMemoryContext.  Precedence, lowest first: server libpq options,
 * the shard's pN conninfo, the user mapping; then the settings that make
 * the session's text I/O unambiguous, which cannot be overridden.
 */
void
shardfdw_conn_params(ForeignServer *server, UserMapping *user, int shard,
					 const char ***keywords, const char ***values)
{
	shardfdw_conn_params_at(server, user, shard, NULL, keywords, values);
}

/*
 * shardfdw_conn_params_at: as shardfdw_conn_params, with conninfo (when
 * not NULL) in place of the shard's pN option: the parameters of a shard
 * at a new place (a move, a split), before pN says so.
 */
void
shardfdw_conn_params_at(ForeignServer *server, UserMapping *user, int shard,
						const char *conninfo, const char ***keywords,
						const char ***values)
{
	List	   *kw = NIL;
	List	   *val = NIL;
	char		pname[16];
	char	   *user_options = NULL;
	char	   *user_appname = NULL;
	StringInfoData opt;
	ListCell   *lc;
	ListCell   *lc2;
	int			n;
	int			i;

	snprintf(pname, sizeof(pname), "p%d", shard);

	/*
	 * Defaults that any option below overrides: TCP keepalives, so that a
	 * shard cut off by a silent network partition is noticed (after about
	 * a minute) instead of waited for forever.  (Unix sockets ignore them.)
	 */
	kw = lappend(kw, "keepalives");
	val = lappend(val, "1");
	kw = lappend(kw, "keepalives_idle");
	val = lappend(val, "30");
	kw = lappend(kw, "keepalives_interval");
	val = lappend(val, "10");
	kw = lappend(kw, "keepalives_count");
	val = lappend(val, "3");
	kw = lappend(kw, "tcp_user_timeout");
	val = lappend(val, "60000");

	/* server-level libpq options */
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (is_libpq_option(def->defname))
		{
			kw = lappend(kw, def->defname);
			val = lappend(val, defGetString(def));
		}
	}

	/*
	 * The shard's own conninfo: its pN option, or the conninfo given in
	 * its place (also when the server has no pN: a one-shard cluster).
	 */
	if (conninfo == NULL)
		conninfo = shardfdw_shard_conninfo(server, shard);
	if (conninfo != NULL)
	{
		PQconninfoOption *copts;
		char	   *perr = NULL;

		copts = PQconninfoParse(conninfo, &perr);
		if (copts == NULL)
		{
			if (perr)
				PQfreemem(perr);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid connection string in option \"%s\"", pname)));
		}
		for (PQconninfoOption *o = copts; o->keyword; o++)
		{
			if (o->val == NULL)
				continue;
			kw = lappend(kw, pstrdup(o->keyword));
			val = lappend(val, pstrdup(o->val));
		}
		PQconninfoFree(copts);
	}

	/* the user mapping: credentials, client certificate */
	foreach(lc, user->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (is_credential_option(def->defname) ||
			strcmp(def->defname, "sslcert") == 0 ||
			strcmp(def->defname, "sslkey") == 0)
		{
			kw = lappend(kw, def->defname);
			val = lappend(val, defGetString(def));
		}
	}

	/* later entries override earlier ones: keep only the last of each */
	n = list_length(kw);
	*keywords = palloc0(sizeof(char *) * (n + 4));
	*values = palloc0(sizeof(char *) * (n + 4));
	i = 0;
	forboth(lc, kw, lc2, val)
	{
		const char *k = lfirst(lc);
		bool		overridden = false;

		for (ListCell *lc3 = lnext(kw, lc); lc3; lc3 = lnext(kw, lc3))
			if (strcmp(k, (char *) lfirst(lc3)) == 0)
				overridden = true;
		if (overridden)
			continue;
		if (strcmp(k, "options") == 0)
		{
			user_options = lfirst(lc2);
			continue;
		}
		if (strcmp(k, "application_name") == 0)
		{
			user_appname = lfirst(lc2);
			continue;
		}
		(*keywords)[i] = k;
		(*values)[i] = lfirst(lc2);
		i++;
	}

	/*
	 * Fixed session settings, passed in the startup packet so they cost no
	 * round trip: unambiguous text I/O and a search_path that makes every
	 * unqualified name in our SQL a built-in.
	 */
	initStringInfo(&opt);
	if (user_options)
		appendStringInfo(&opt, "%s ", user_options);
	appendStringInfoString(&opt,
						   "-c search_path=pg_catalog -c TimeZone=UTC "
						   "-c DateStyle=ISO -c IntervalStyle=postgres "
						   "-c extra_float_digits=3");
	(*keywords)[i] = "options";
	(*values)[i] = opt.data;
	i++;
	/*
	 * application_name starts with this backend's deadlock tag (see
	 * deadlock.c), which the shards' pg_stat_activity shows to the
	 * distributed deadlock detector; the user's application_name follows.
	 */
	(*keywords)[i] = "application_name";
	(*values)[i] = user_appname ?
		psprintf("%s %s", shardfdw_deadlock_tag(), user_appname) :
		pstrdup(shardfdw_deadlock_tag());
	i++;
	(*keywords)[i] = "client_encoding";
	(*values)[i] = GetDatabaseEncodingName();
	i++;
	(*keywords)[i] = NULL;
	(*values)[i] = NULL;
}

/*
 * shardfdw_column_name: remote name of column attno of foreign table relid
 * (its column_name option, else its local name); palloc'd.
 */
char *
shardfdw_column_name(Oid relid, AttrNumber attno)
{
	List	   *options = GetForeignColumnOptions(relid, attno);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "column_name") == 0)
			return defGetString(def);
	}
	return get_attname(relid, attno, false);
}

/*
 * shardfdw_extension_oids: parse a comma-separated list of extension names
 * into a List of OIDs (palloc'd).  Unknown names are skipped, with a
 * WARNING when warn is set (so a dump with them still restores).
 */
List *
shardfdw_extension_oids(const char *extensions, bool warn)
{
	List	   *result = NIL;
	List	   *names;
	ListCell   *lc;

	if (!SplitIdentifierString(pstrdup(extensions), ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"extensions\": \"%s\"",
						extensions),
				 errhint("List extension names separated by commas.")));
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		Oid			oid = get_extension_oid(name, true);

		if (OidIsValid(oid))
			result = lappend_oid(result, oid);
		else if (warn)
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("extension \"%s\" is not installed", name)));
	}
	return result;
}

/*
 * At pre-commit of a transaction that set shardfdw table options, check
 * the column-dependent options of every table whose pg_foreign_table row
 * it wrote (a bad option then fails the transaction, never a later query).
 */
static void
check_tables_at_commit(XactEvent event, void *arg)
{
	Relation	ftrel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *relids = NIL;
	ListCell   *lc;
	ForeignDataWrapper *fdw;

	if (!table_options_set)
		return;
	if (event != XACT_EVENT_PRE_COMMIT &&
		event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
	{
		table_options_set = false;
		return;
	}
	table_options_set = false;
	fdw = GetForeignDataWrapperByName("shardfdw", true);
	if (fdw == NULL)
		return;

	ftrel = table_open(ForeignTableRelationId, AccessShareLock);
	scan = systable_beginscan(ftrel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_foreign_table ft = (Form_pg_foreign_table) GETSTRUCT(tup);

		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)))
			relids = lappend_oid(relids, ft->ftrelid);
	}
	systable_endscan(scan);
	table_close(ftrel, AccessShareLock);

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);

		if (GetForeignServer(GetForeignTable(relid)->serverid)->fdwid ==
			fdw->fdwid)
			shardfdw_check_table(relid);
	}
}
