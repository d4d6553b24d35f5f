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
#include "utils/relcache.h"
#include "shardfdw.h"

/*
 * True if expr (a clause over baserel) can be evaluated on the shards with
 * the same result it has locally.
 */
extern bool shardfdw_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
									 Expr *expr);

/* Split RestrictInfos into shippable (*remote) and local (*local) ones. */
extern void shardfdw_classify_conditions(PlannerInfo *root,
										 RelOptInfo *baserel,
										 List *input_conds,
										 List **remote_conds,
										 List **local_conds);

/*
 * Append "SELECT cols FROM rel [WHERE conds]" for baserel to buf.
 * *retrieved_attrs gets the attnums fetched, in order; Params met in
 * remote_conds (RestrictInfos) are appended to *params_list and printed as
 * $n, n being their 1-based position in that list.
 */
extern void shardfdw_deparse_select(StringInfo buf, PlannerInfo *root,
									RelOptInfo *baserel,
									Bitmapset *attrs_used,
									List *remote_conds,
									List **retrieved_attrs,
									List **params_list);

/* "SELECT cols FROM rel" fetching every column, for ANALYZE. */
extern void shardfdw_deparse_analyze_sql(StringInfo buf, Relation rel,
										 List **retrieved_attrs);

/* Quoted, schema-qualified remote name of a foreign table. */
extern void shardfdw_deparse_relation(StringInfo buf, Relation rel);

/* Append val as an SQL string literal (E'' form when needed). */
extern void shardfdw_deparse_string_literal(StringInfo buf, const char *val);

#endif							/* SHARDFDW_DEPARSE_H */
