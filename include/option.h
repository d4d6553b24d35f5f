/*-------------------------------------------------------------------------
 *
 * option.h
 *		  Validation and lookup of shardfdw options (option.c).
 *
 * include/option.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_OPTION_H
#define SHARDFDW_OPTION_H

#include "shardfdw.h"

/* Number of shards of a cluster server: count of pN options, at least 1. */
extern int	shardfdw_cluster_size(ForeignServer *server);

/*
 * Fill *opts from the options of foreign table relid and its server.
 * Strings and lists are palloc'd in CurrentMemoryContext.
 */
extern void shardfdw_get_table_options(Oid relid, ShardTableOptions *opts);

/* the default hash opclass of a type (InvalidOid: none), cached */
extern Oid	shardfdw_default_hash_opclass(Oid type);

/*
 * Build NULL-terminated libpq keyword/value arrays for one shard: server
 * libpq options, overridden by the pN conninfo, then the user mapping, then
 * the fixed session settings.  Arrays are palloc'd in CurrentMemoryContext.
 */
extern void shardfdw_conn_params(ForeignServer *server, UserMapping *user,
								 int shard, const char ***keywords,
								 const char ***values);

/* The same, with conninfo instead of the shard's pN option (if not NULL). */
extern void shardfdw_conn_params_at(ForeignServer *server, UserMapping *user,
									int shard, const char *conninfo,
									const char ***keywords,
									const char ***values);

/* The shard's pN option (NULL if none), pointing into server->options. */
extern const char *shardfdw_shard_conninfo(ForeignServer *server, int shard);

/* Check a pN-style conninfo (raises the error, naming optname). */
extern void shardfdw_check_conninfo(const char *optname, const char *conninfo);

/* Remote name of a column (column_name option, else the local name). */
extern char *shardfdw_column_name(Oid relid, AttrNumber attno);

/* OIDs of the extensions listed in an "extensions" option value. */
extern List *shardfdw_extension_oids(const char *extensions, bool warn);

/* Check the column-dependent options of a foreign table (raises errors). */
extern void shardfdw_check_table(Oid relid);

/* Integer-valued option parsing shared with connection.c */
extern int	shardfdw_connection_lifetime(ForeignServer *server);

/* two_phase_commit of a server (default: on with several shards) */
extern bool shardfdw_two_phase_commit(ForeignServer *server);

#endif							/* SHARDFDW_OPTION_H */
