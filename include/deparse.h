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

/*
 * Like shardfdw_is_foreign_expr, for an expression of an upper relation
 * (grouping/aggregation) computed over baserel alone: also accepts plain
 * aggregate calls anywhere inside it, but no column of another relation.
 */
extern bool shardfdw_is_foreign_upper_expr(PlannerInfo *root,
										   RelOptInfo *baserel, Expr *expr);

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

/*
 * Append the SQL text of expr (accepted by shardfdw_is_foreign_expr or
 * shardfdw_is_foreign_upper_expr) over baserel, columns unqualified as in
 * shardfdw_deparse_select.  Params are added to *params_list and printed
 * as $n; with params_list NULL, typed NULL placeholders are printed.
 */
extern void shardfdw_deparse_expr(StringInfo buf, PlannerInfo *root,
								  RelOptInfo *baserel, Expr *expr,
								  List **params_list);

/*
 * Append one ORDER BY item: "expr ASC|DESC NULLS FIRST|LAST", or
 * "expr USING op NULLS ..." when sortop is not the default ordering
 * operator of expr's type.  Params as for shardfdw_deparse_expr.
 */
extern void shardfdw_deparse_sort_item(StringInfo buf, PlannerInfo *root,
									   RelOptInfo *baserel, Expr *expr,
									   Oid sortop, bool nulls_first,
									   List **params_list);

/* "SELECT cols FROM rel" fetching every column, for ANALYZE. */
extern void shardfdw_deparse_analyze_sql(StringInfo buf, Relation rel,
										 List **retrieved_attrs);

/* Quoted, schema-qualified remote name of a foreign table. */
extern void shardfdw_deparse_relation(StringInfo buf, Relation rel);

/* Append val as an SQL string literal (E'' form when needed). */
extern void shardfdw_deparse_string_literal(StringInfo buf, const char *val);

#endif							/* SHARDFDW_DEPARSE_H */
