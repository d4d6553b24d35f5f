/*-------------------------------------------------------------------------
 *
 * shard.h
 *		  Row placement and shard pruning (shard.c).
 *
 * include/shard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_SHARD_H
#define SHARDFDW_SHARD_H

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "shardfdw.h"

/*
 * Shard (0 .. nshards-1) that owns the non-NULL key value "key" of type
 * keytype in a hash- or modulo-distributed table.  keytype may differ from
 * the column type when the hash opfamily is cross-type (int2/4/8).
 */
/*
 * The extended hash function that places the rows of a hash-distributed
 * table (that of its distribution column's type).
 */
extern Oid	shard_hash_proc(const ShardTableOptions *opts);

extern int	shard_for_key(const ShardTableOptions *opts, Oid keytype,
						  Datum key);

/*
 * Routing of rows by their distribution key, with the per-type work done
 * once (shard_router_init) and only the hash computed per row.
 */
typedef struct ShardRouter
{
	const ShardTableOptions *opts;
	Oid			keytype;
	FmgrInfo	hashfn;			/* hash distribution: extended hash proc */
} ShardRouter;

/*
 * Prepare r to route keys of type keytype for a hash- or modulo-
 * distributed table (opts must outlive r); fn_mcxt of the hash function
 * is CurrentMemoryContext.
 */
extern void shard_router_init(ShardRouter *r, const ShardTableOptions *opts,
							  Oid keytype);

/*
 * The shard that owns a row whose key is key / isnull.  A NULL key lives
 * where PostgreSQL's hash partitioning puts it (remainder 0); a NULL
 * modulo key is an error.
 */
extern int	shard_route(ShardRouter *r, Datum key, bool isnull);

/*
 * Find pruning conditions on the distribution column among restrictinfos.
 * Returns true with *exprs (key expressions, scalar or array-valued, as
 * flagged in *is_array) when the target shards are the owners of their
 * values; false when every shard must be scanned.
 */
extern bool shard_find_prune_exprs(PlannerInfo *root, RelOptInfo *baserel,
								   const ShardTableOptions *opts,
								   List *restrictinfos,
								   List **exprs, List **is_array);

/*
 * Evaluate prune key expressions and return the set of target shards,
 * palloc'd in CurrentMemoryContext.  exprstates is NIL at plan time, when
 * every expr must be a Const; otherwise it holds the initialized
 * ExprStates, evaluated in econtext.
 */
extern Bitmapset *shard_eval_prune(const ShardTableOptions *opts,
								   List *exprs, List *exprstates,
								   List *is_array, ExprContext *econtext);

/*
 * Does comparing the distribution column under collation collid (the
 * input collation of an equality, of a GROUP BY key, of an equivalence
 * class) decide equality the way placement does?  Only then may it prune
 * shards or keep equal keys on one shard: under another collation, keys
 * equal to each other (say 'abc' and 'ABC' under a case-insensitive one)
 * can live on different shards.  This is the rule of PostgreSQL's
 * partition pruning.
 */
static inline bool
shard_collation_matches(const ShardTableOptions *opts, Oid collid)
{
	return !OidIsValid(opts->dist_collation) || opts->dist_collation == collid;
}

#endif							/* SHARDFDW_SHARD_H */
