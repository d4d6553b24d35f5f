/*-------------------------------------------------------------------------
 *
 * deparse.h
 *		  Building remote SQL text (deparse.c).
 *
 * include/deparse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_DEPARSE_H
#define SHARDFDW_DEPARSE_H

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/relcache.h"
#include "shardfdw.h"

/*
 * True if expr (a clause over baserel) can be evaluated on the shards with
 * the same result it has locally.
 */
extern bool shardfdw_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
									 Expr *expr);

/*
 * Like shardfdw_is_foreign_expr, for an expression of an upper relation
 * (grouping/aggregation) computed over baserel alone: also accepts plain
 * aggregate calls anywhere inside it, but no column of another relation.
 */
extern bool shardfdw_is_foreign_upper_expr(PlannerInfo *root,
										   RelOptInfo *baserel, Expr *expr);

/*
 * Is expr a stable expression of no column that the coordinator computes
 * once per scan and sends as a parameter (like a Param, it must not be a
 * grouping key of a scan: setrefs.c would turn the parameter into a
 * reference to the scan tuple)?
 */
extern bool shardfdw_is_local_value(Node *expr);

/*
 * True if "ORDER BY expr" with btree ordering operator sortop under
 * collation gives the same order on the shards as locally.
 */
extern bool shardfdw_is_shippable_sort(PlannerInfo *root, RelOptInfo *baserel,
									   Expr *expr, Oid sortop, Oid collation);

/* Split RestrictInfos into shippable (*remote) and local (*local) ones. */
extern void shardfdw_classify_conditions(PlannerInfo *root,
										 RelOptInfo *baserel,
										 List *input_conds,
										 List **remote_conds,
										 List **local_conds);

/*
 * The query block one foreign scan sends to its shards.  The planners
 * (shardfdw.c for base relations, join.c and upper.c) describe it here;
 * shardfdw_deparse_query alone turns it into SQL:
 *
 *	SELECT [DISTINCT ON (distinct_on)] <select list>
 *	  FROM <scanrel> [WHERE ...]
 *	  [GROUP BY 1, ..., ngroup] [HAVING having]
 *	  [ORDER BY sort items] [LIMIT limit_count] [OFFSET limit_offset]
 *
 * The select list is the columns attrs_used of a base relation (targets
 * NIL and !use_targets), or the expressions targets over scanrel.  The
 * FROM clause is the base table with its conditions conds, or the join
 * recorded by join.c in scanrel's ShardJoinInfo.
 */
typedef struct ShardRemoteQuery
{
	RelOptInfo *scanrel;		/* base relation or pushed-down join */
	Bitmapset  *attrs_used;		/* base relation: the columns fetched */
	bool		use_targets;	/* the select list is targets */
	List	   *targets;		/* Exprs over scanrel */
	List	   *conds;			/* base relation: its shipped conditions
								 * (RestrictInfos or Exprs) */
	int			ngroup;			/* leading targets that are GROUP BY keys */
	List	   *having;			/* Exprs */
	List	   *distinct_on;	/* Exprs */
	List	   *sort_exprs;		/* ORDER BY expressions, or NIL with: */
	List	   *sort_positions; /* IntList: ORDER BY these targets (1-based) */
	List	   *sort_ops;		/* OidList: ordering operators */
	List	   *sort_nulls_first;	/* IntList */
	int64		limit_count;	/* -1: no LIMIT */
	int64		limit_offset;	/* 0: no OFFSET */
} ShardRemoteQuery;

/* A ShardRemoteQuery reading scanrel with no clause but FROM (palloc'd). */
extern ShardRemoteQuery *shardfdw_remote_query(RelOptInfo *scanrel);

/*
 * The SQL of q, palloc'd.  *retrieved_attrs gets the attnums of the
 * columns fetched (base select list) or 1..n (targets).  Params met are
 * appended to *params_list and printed as $n (with params_list NULL,
 * typed NULL placeholders: EXPLAIN-only text).
 */
extern char *shardfdw_deparse_query(PlannerInfo *root,
									const ShardRemoteQuery *q,
									List **retrieved_attrs,
									List **params_list);

/*
 * Writes.  Every builder returns palloc'd SQL for the foreign table rel
 * (remote names from its options).  returning_attrs (attnums offset by
 * FirstLowInvalidHeapAttributeNumber, as attrs_used) are the columns the
 * local RETURNING needs, fetched with a RETURNING clause; *retrieved_attrs
 * gets their attnums in order (NIL without RETURNING).
 */

/*
 * INSERT INTO t [AS r<alias_varno>] (target_attrs) VALUES ($1, ...), ...
 * for nrows rows, [on_conflict] [RETURNING ...].  Parameters are numbered
 * row by row, column by column.
 */
extern char *shardfdw_deparse_insert(Relation rel, List *target_attrs,
									 int nrows, const char *on_conflict,
									 Index alias_varno,
									 Bitmapset *returning_attrs,
									 List **retrieved_attrs);

/*
 * The ON CONFLICT clause of an INSERT into rel (a base relation of the
 * target, possibly made for the purpose): "ON CONFLICT [(conflict_attrs)]
 * DO NOTHING", or "... DO UPDATE SET col = expr, ... [WHERE where]" whose
 * expressions read the target (as r<relid>.col: the INSERT must name the
 * target so) and EXCLUDED (Vars of excluded_varno).  NULL when an
 * expression cannot be evaluated on the shards or needs a parameter.
 */
extern char *shardfdw_deparse_on_conflict(PlannerInfo *root, RelOptInfo *rel,
										  Index excluded_varno, bool do_update,
										  List *conflict_attrs,
										  List *set_attrs, List *set_exprs,
										  Expr *where);

/*
 * UPDATE t SET col = $2, ... WHERE ctid = $1 [RETURNING ...]: one row,
 * identified by its ctid on its shard, the new values of target_attrs.
 */
extern char *shardfdw_deparse_update(Relation rel, List *target_attrs,
									 Bitmapset *returning_attrs,
									 List **retrieved_attrs);

/* DELETE FROM t WHERE ctid = $1 [RETURNING ...]. */
extern char *shardfdw_deparse_delete(Relation rel, Bitmapset *returning_attrs,
									 List **retrieved_attrs);

/*
 * A whole UPDATE or DELETE sent to the shards: UPDATE t SET col = expr,
 * ... (target_attrs, target_exprs; CMD_UPDATE) or DELETE FROM t, WHERE
 * remote_conds (RestrictInfos over baserel), [RETURNING ...].  Params
 * are added to *params_list as in shardfdw_deparse_query.
 */
extern char *shardfdw_deparse_direct_modify(PlannerInfo *root,
											RelOptInfo *baserel,
											CmdType operation,
											List *target_attrs,
											List *target_exprs,
											List *remote_conds,
											Bitmapset *returning_attrs,
											List **retrieved_attrs,
											List **params_list);

/*
 * The same over a pushed-down inner join of the target table (targetrel)
 * with one other table: UPDATE t rN SET col = expr, ... FROM other rM, or
 * DELETE FROM t rN USING other rM, WHERE the join's conditions and the
 * target's remote conditions, columns qualified by alias.  No RETURNING.
 */
extern char *shardfdw_deparse_direct_modify_join(PlannerInfo *root,
												 RelOptInfo *joinrel,
												 RelOptInfo *targetrel,
												 CmdType operation,
												 List *target_attrs,
												 List *target_exprs,
												 List **params_list);

/* COPY t (target_attrs) FROM STDIN, in text format. */
extern char *shardfdw_deparse_copy(Relation rel, List *target_attrs);

/*
 * TRUNCATE t1, t2, ... [RESTART IDENTITY] [CASCADE] for the foreign tables
 * rels (Relations of one server).
 */
extern char *shardfdw_deparse_truncate(List *rels, DropBehavior behavior,
									   bool restart_seqs);

/* "SELECT cols FROM rel" fetching every column, for ANALYZE. */
extern void shardfdw_deparse_analyze_sql(StringInfo buf, Relation rel,
										 List **retrieved_attrs);

/* Quoted, schema-qualified remote name of a foreign table. */
extern void shardfdw_deparse_relation(StringInfo buf, Relation rel);

/* Append val as an SQL string literal (E'' form when needed). */
extern void shardfdw_deparse_string_literal(StringInfo buf, const char *val);

/*
 * The query a shard answers with (schema, table, rows estimate, bytes) for
 * each of the n tables schemas[i].names[i] it has (shardfdw.table_sizes);
 * palloc'd.
 */
extern char *shardfdw_deparse_table_sizes(char **schemas, char **names, int n);

/*
 * Shard moves (reshard.c).  qnames are quoted, schema-qualified table
 * names; results are palloc'd.
 *
 * shardfdw_deparse_move_definitions: one row per table (ord, exists, the
 * DDL that creates it elsewhere, needs REPLICA IDENTITY FULL (also when
 * the identity does not cover columns[i], when not NULL), has
 * generated columns, relkind, relreplident), run on the shard's old place.
 * shardfdw_deparse_move_exists: (ord, exists) per table.
 */
extern char *shardfdw_deparse_move_definitions(char **qnames, char **columns,
											   int n);
extern char *shardfdw_deparse_move_exists(char **qnames, int n);

/* The other statements of a move: name is the move's publication, slot
 * and subscription name; arg as noted per kind. */
typedef enum ShardMoveSql
{
	MOVE_SQL_WAL_LEVEL,
	MOVE_SQL_HAS_ROWS,			/* arg: table */
	MOVE_SQL_TRUNCATE,			/* arg: table list */
	MOVE_SQL_IDENTITY_DEFAULT,	/* arg: table */
	MOVE_SQL_IDENTITY_NOTHING,	/* arg: table */
	MOVE_SQL_DROP_PUBLICATION,
	MOVE_SQL_CREATE_SLOT,
	MOVE_SQL_DROP_SLOT,
	MOVE_SQL_HAS_SUBSCRIPTION,
	MOVE_SQL_SUBSCRIPTION_CONNINFO,
	MOVE_SQL_CREATE_SUBSCRIPTION,	/* arg: conninfo of the old place */
	MOVE_SQL_DISABLE_SUBSCRIPTION,
	MOVE_SQL_DROP_SUBSCRIPTION,
	MOVE_SQL_SUBSCRIPTION_WORKERS,
	MOVE_SQL_SLOT_ACTIVE,
	MOVE_SQL_SYNC_STATE,
	MOVE_SQL_RECEIVED,			/* arg: an LSN of the old place */
	MOVE_SQL_CURRENT_LSN,
	MOVE_SQL_IN_DOUBT,			/* arg: this coordinator's gid prefix */
	MOVE_SQL_PREPARED_ANY,		/* arg: a timestamptz of the shard */
	MOVE_SQL_NOW,
	MOVE_SQL_PLACE,
	MOVE_SQL_PUBLICATION_COMMENT,
	MOVE_SQL_FLUSH
} ShardMoveSql;

extern char *shardfdw_deparse_move(ShardMoveSql kind, const char *name,
								   const char *arg);

/* count(*) of a table, of the rows filter (if not NULL) keeps */
extern char *shardfdw_deparse_move_count(const char *qname, const char *filter);

/*
 * CREATE PUBLICATION name FOR TABLE each with its filter (NULL: none),
 * with REPLICA IDENTITY FULL first on the tables whose set_full is not 0
 * (the identity they had, recorded in a comment on the publication)
 */
extern char *shardfdw_deparse_move_publication(const char *name, char **qnames,
											   char **filters,
											   const char *set_full, int n);

/*
 * The row filter that keeps the rows of a table (opts, remote distribution
 * column column) whose shard is remainder in a layout of modulus shards
 * (a split); NULL when every row is kept (a replicated table).
 */
extern char *shardfdw_deparse_split_filter(const ShardTableOptions *opts,
										   const char *column, int modulus,
										   int remainder);

/*
 * The query a shard answers with one boolean per table (true: the table
 * schemas[i].names[i] has at least one row there), n > 0; palloc'd.
 */
extern char *shardfdw_deparse_tables_nonempty(char **schemas, char **names,
											  int n);

/*
 * Append the column definitions of the local table rel to buf: name, type
 * with typmod, COLLATE when not the type's, NOT NULL, and DEFAULT when
 * with_defaults; dropped columns skipped.  Every name outside pg_catalog
 * is schema-qualified only if the caller runs it with search_path
 * pg_catalog.  Identity and generated columns are refused.
 */
extern void shardfdw_deparse_column_defs(StringInfo buf, Relation rel,
										 bool with_defaults);

/*
 * The statements that create the local table rel on a shard, under the
 * same schema and name (shardfdw.create_distributed_table): CREATE TABLE
 * with the columns (no defaults: the coordinator computes them), then its
 * PRIMARY KEY, UNIQUE and CHECK constraints and its other indexes.  Every
 * name outside pg_catalog is schema-qualified.  Foreign keys and exclusion
 * constraints are refused, and so, when unique_key is a column, is a
 * unique index without it.  A List of palloc'd strings, in order.
 */
extern List *shardfdw_deparse_create_table(Relation rel,
										   AttrNumber unique_key);

#endif							/* SHARDFDW_DEPARSE_H */
