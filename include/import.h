/*-------------------------------------------------------------------------
 *
 * import.h
 *		  IMPORT FOREIGN SCHEMA and ANALYZE sampling (import.c).
 *
 * include/import.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_IMPORT_H
#define SHARDFDW_IMPORT_H

#include "foreign/fdwapi.h"

extern List *shardfdw_import_schema(ImportForeignSchemaStmt *stmt,
									Oid serverOid);
extern bool shardfdw_analyze_table(Relation relation,
								   AcquireSampleRowsFunc *func,
								   BlockNumber *totalpages);

#endif							/* SHARDFDW_IMPORT_H */
