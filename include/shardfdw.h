/*-------------------------------------------------------------------------
 *
 * shardfdw.h
 *		  Types shared by every module of shardfdw.
 *
 * A shardfdw server is a cluster of N shards (p0 .. p(N-1)); a shardfdw
 * foreign table is one logical table whose rows live on those shards
 * according to its distribution.  ShardTableOptions is the parsed form of
 * the table's and its server's options; ShardRelInfo is what the planner
 * keeps in RelOptInfo->fdw_private for a base relation.
 *
 * Invariants:
 *	- nshards >= 1; shard numbers are 0 .. nshards-1.
 *	- dist_attno != InvalidAttrNumber exactly when distribution is
 *	  SHARD_DIST_HASH or SHARD_DIST_MODULO.
 *
 * include/shardfdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_H
#define SHARDFDW_H

#include "access/attnum.h"
#include "nodes/bitmapset.h"
#include "nodes/pathnodes.h"
#include "nodes/primnodes.h"
#include "foreign/foreign.h"

/* Hard upper bound on shards in one cluster (p0 .. p4095). */
#define SHARDFDW_MAX_SHARDS 4096

/* Defaults of the cost and fetch options. */
#define SHARDFDW_DEFAULT_FETCH_SIZE 100
#define SHARDFDW_DEFAULT_BATCH_SIZE 100
#define SHARDFDW_DEFAULT_STARTUP_COST 100.0
#define SHARDFDW_DEFAULT_TUPLE_COST 0.01

/* How the rows of a table are placed on the shards. */
typedef enum ShardDistribution
{
	SHARD_DIST_NONE,			/* rows anywhere: scan all, cannot route */
	SHARD_DIST_HASH,			/* PARTITION BY HASH placement */
	SHARD_DIST_MODULO,			/* integer key mod N */
	SHARD_DIST_REPLICATED		/* every shard holds every row */
} ShardDistribution;

/*
 * Parsed options of one foreign table together with those of its server.
 * Strings are palloc'd in the caller's memory context.
 */
typedef struct ShardTableOptions
{
	Oid			relid;
	Oid			serverid;
	int			nshards;
	char	   *schema_name;	/* remote schema (never NULL) */
	char	   *table_name;		/* remote table (never NULL) */
	ShardDistribution distribution;
	AttrNumber	dist_attno;		/* distribution column, or 0 */
	Oid			dist_type;		/* its type */
	Oid			dist_collation; /* its collation */
	Oid			dist_hash_opfamily; /* default hash opfamily of dist_type */
	int			fetch_size;
	int			batch_size;		/* rows per shard per INSERT statement */
	bool		updatable;		/* INSERT, UPDATE, DELETE allowed */
	bool		use_remote_estimate;
	Cost		fdw_startup_cost;
	Cost		fdw_tuple_cost;
	List	   *shippable_extensions;	/* OIDs of extensions named in
										 * "extensions" */
} ShardTableOptions;

/*
 * Planner state of a shardfdw base relation (RelOptInfo->fdw_private).
 * Allocated in the planner's memory context.
 */
typedef struct ShardRelInfo
{
	ShardTableOptions opts;
	ForeignTable *table;
	ForeignServer *server;
	UserMapping *user;

	/* WHERE clauses split into shippable and local ones (RestrictInfos) */
	List	   *remote_conds;
	List	   *local_conds;
	QualCost	local_conds_cost;
	Selectivity local_conds_sel;

	/* columns the query needs from the shards */
	Bitmapset  *attrs_used;

	/*
	 * Shard pruning.  When prunable, the target shards are the owners of
	 * the values of prune_exprs (each yields a key, or an array of keys when
	 * the matching prune_is_array entry is 1).  static_shards is set when
	 * every prune expression is a Const, est_shards estimates the target
	 * count otherwise.
	 */
	bool		prunable;
	List	   *prune_exprs;
	List	   *prune_is_array; /* IntList, parallel to prune_exprs */
	Bitmapset  *static_shards;	/* NULL with prunable && all Consts means
								 * "no shard" */
	bool		prune_static;	/* prune_exprs are all Consts */
	int			est_shards;

	/* estimates */
	double		rows;
	int			width;
	Cost		startup_cost;
	Cost		total_cost;
	double		retrieved_rows;

	/* for EXPLAIN and error messages */
	char	   *relation_name;

	/* a join of two shardfdw tables pushed to the shards, else NULL */
	struct ShardJoinInfo *join;
} ShardRelInfo;

/*
 * A join of two base shardfdw tables computed on each shard: the tables
 * are co-located (same distribution, joined on the key), or one side is
 * replicated, or both sides live on the same single shard.
 */
typedef struct ShardJoinInfo
{
	JoinType	jointype;		/* INNER, LEFT, RIGHT, FULL, SEMI, ANTI */
	RelOptInfo *outerrel;
	RelOptInfo *innerrel;
	List	   *joinclauses;	/* Exprs: ON, or the EXISTS condition */
	List	   *otherclauses;	/* Exprs: filters above the join, shipped */
	List	   *local_exprs;	/* Exprs evaluated on the coordinator */
	bool		any_one;		/* both sides replicated */
	Bitmapset  *targets;		/* target shards (unless any_one) */
	struct ShardRelInfo *prune_side;	/* side whose run-time key
										 * conditions choose the shards,
										 * or NULL */
	List	   *group_safe_vars;	/* distribution columns that never mix
									 * shards in the join's output */
} ShardJoinInfo;

/*
 * fdw_private of a shardfdw ForeignPath of a base relation or a join: a
 * List indexed by these, made by shardfdw_path_private (NIL for a
 * parameterized path: no limit, no DISTINCT ON).
 */
typedef enum ShardPathPrivateIndex
{
	ShardPathPrivateLimit,		/* Integer: LIMIT each shard applies (rows
								 * the query can need), 0 for none */
	ShardPathPrivateDistinctOn, /* List: DISTINCT ON key Exprs each shard
								 * applies, or NIL */
	ShardPathPrivateCount		/* number of entries */
} ShardPathPrivateIndex;

/*
 * fdw_private of a shardfdw ForeignScan: a List indexed by these.
 */
typedef enum ShardScanPrivateIndex
{
	ShardScanPrivateSql,		/* String: remote SELECT, params as $n */
	ShardScanPrivateRetrievedAttrs, /* IntList: attnums fetched, in order */
	ShardScanPrivateFetchSize,	/* Integer: rows per FETCH */
	ShardScanPrivateNShards,	/* Integer: N of the cluster */
	ShardScanPrivateTargets,	/* IntList: shards after plan-time pruning */
	ShardScanPrivatePruneMode,	/* Integer: ShardPruneMode */
	ShardScanPrivateNumRemoteParams,	/* Integer: leading fdw_exprs that
										 * are remote query params; the
										 * rest are prune keys */
	ShardScanPrivatePruneIsArray,	/* IntList, one per prune key expr */
	ShardScanPrivateSortAttnos, /* IntList: merge keys (scan tuple attnos);
								 * NIL: rows are appended, not merged */
	ShardScanPrivateSortOps,	/* OidList: their ordering operators */
	ShardScanPrivateSortCollations, /* OidList: their collations */
	ShardScanPrivateSortNullsFirst, /* IntList: 1 for NULLS FIRST */

	/* scans of an upper relation (scanrelid 0): grouped / aggregated */
	ShardScanPrivateRelid,		/* Integer: OID of the foreign table */
	ShardScanPrivateCombine,	/* List: the combine plan (combine.c's own
								 * encoding), NIL for base and join scans */
	ShardScanPrivateRelations,	/* String: what a scanrelid-0 scan reads,
								 * for EXPLAIN */
	ShardScanPrivateMergeKeys,	/* String: the merge keys, for EXPLAIN */
	ShardScanPrivateLimitCount, /* Integer: rows to return after the merge,
								 * -1 for no limit */
	ShardScanPrivateLimitOffset,	/* Integer: rows to skip first */
	ShardScanPrivateSetProcessed,	/* Integer: a direct modification counts
									 * its rows into es_processed (its
									 * ModifyTable sets the command tag) */
	ShardScanPrivateCount		/* number of entries */
} ShardScanPrivateIndex;

/* How a scan's target shards are decided. */
typedef enum ShardPruneMode
{
	SHARD_PRUNE_NONE,			/* the Targets list is final */
	SHARD_PRUNE_RUNTIME,		/* evaluate the prune key exprs at executor
								 * start and at every rescan */
	SHARD_PRUNE_ANY_ONE			/* replicated: any one shard will do */
} ShardPruneMode;

/* How an upper-relation scan turns shard rows into its output. */
typedef enum ShardCombineMode
{
	SHARD_COMBINE_NONE,			/* base scan, or aggregation done whole on
								 * each shard: rows are final */
	SHARD_COMBINE_PARTIAL		/* shards return partial aggregates per
								 * group; combine.c folds them */
} ShardCombineMode;

/*
 * Planner state of an aggregate pushed to the shards
 * (RelOptInfo->fdw_private of the grouped upper relation).
 */
typedef struct ShardUpperInfo
{
	ShardRelInfo *base;			/* the scanned foreign table */
	RelOptInfo *scanrel;
	ShardCombineMode mode;
	List	   *group_exprs;	/* GROUP BY expressions */
	List	   *group_sgrefs;	/* IntList: their sortgrouprefs */
	List	   *group_eqops;	/* OidList */
	List	   *group_collations;	/* OidList */
	List	   *aggs;			/* Aggrefs, each once */
	List	   *agg_kinds;		/* IntList (partial mode) */
	List	   *agg_combinefns; /* OidList (partial mode) */
	List	   *partial_types;	/* OidList (partial mode): the partial
								 * columns the shards return */
	Expr	   *distinct_expr;	/* x of the DISTINCT aggregates: the shards
								 * group by it too (partial mode), or NULL */
	List	   *agg_is_distinct;	/* IntList, parallel to aggs */
	List	   *remote_having;	/* HAVING quals shipped (whole mode) */
	List	   *local_having;	/* HAVING quals evaluated locally */

	/*
	 * ORDER BY and LIMIT shipped with the query block (ORDERED and FINAL
	 * stages).  scan_only: the block is a plain scan or join (no grouping);
	 * its output columns are the Vars the final target needs.
	 */
	bool		scan_only;
	List	   *sort_exprs;
	List	   *sort_ops;
	List	   *sort_colls;
	List	   *sort_nulls_first;
	bool		has_limit;
	int64		limit_count;	/* -1: no LIMIT, only OFFSET */
	int64		limit_offset;
} ShardUpperInfo;

/* expr without the binary-compatible relabelings on top of it */
static inline Expr *
strip_relabel(Expr *expr)
{
	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return expr;
}

/*
 * What the GetForeignPlan of a base relation, a join (join.c) or an upper
 * relation (upper.c) puts into the plan's fdw_private, as a struct:
 * shardfdw_make_fdw_private turns it into the List indexed by
 * ShardScanPrivateIndex.  Allocated in the planner's memory context.
 */
typedef struct ShardScanPlan
{
	char	   *sql;			/* the remote SELECT */
	List	   *retrieved_attrs;
	int			nparams;		/* remote query parameters (leading
								 * fdw_exprs) */
	ShardPruneMode mode;
	List	   *targets;		/* IntList: shards, SHARD_PRUNE_NONE */
	List	   *prune_exprs;	/* SHARD_PRUNE_RUNTIME: key expressions */
	List	   *prune_is_array;
	List	   *sort_attnos;	/* merge keys (scan tuple attnos) */
	List	   *sort_ops;
	List	   *sort_colls;
	List	   *sort_nulls_first;
	ShardUpperInfo *upper;		/* NULL for a base-relation or join scan */
	char	   *relations;		/* scanrelid 0: what is read, for EXPLAIN */
	char	   *merge_keys;		/* merge keys, for EXPLAIN */
	int64		limit_count;	/* applied by the scan: -1 none */
	int64		limit_offset;
	bool		set_processed;	/* direct modification: count rows */
} ShardScanPlan;

/* log base 2, for sort and merge costs */
#define SHARDFDW_LOG2(x)  (log(x) / 0.693147180559945)

/* shardfdw.c */
extern int	shardfdw_explain_shard_list_max;
extern List *shardfdw_make_fdw_private(ShardRelInfo *fpinfo,
									   ShardScanPlan *sp);
extern void shardfdw_plan_targets(PlannerInfo *root, RelOptInfo *baserel,
								  ShardRelInfo *fpinfo, List *clauses,
								  ShardScanPlan *sp);
extern void shardfdw_targets_from_join(ShardRelInfo *fp, ShardScanPlan *sp);
extern void shardfdw_check_ctid_conditions(RelOptInfo *rel,
										   ShardRelInfo *fpinfo,
										   ShardScanPlan *sp);
extern char *shardfdw_merge_key_names(PlannerInfo *root, List *exprs,
									  bool qualify);
extern bool shardfdw_sort_keys(PlannerInfo *root, RelOptInfo *rel,
							   List *pathkeys, List **attnos, List **ops,
							   List **colls, List **nulls_first,
							   List **exprs);
extern int64 shardfdw_remote_limit(PlannerInfo *root, RelOptInfo *rel,
								   List *pathkeys);
extern List *shardfdw_path_private(int64 limit, List *distinct_on);

#endif							/* SHARDFDW_H */
