/*-------------------------------------------------------------------------
 *
 * cancel.h
 *		  Cancel requests to shards with a deadline (cancel.c).
 *
 * include/cancel.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SHARDFDW_CANCEL_H
#define SHARDFDW_CANCEL_H

#include "libpq-fe.h"
#include "datatype/timestamp.h"

/*
 * Ask the server behind each of conns[0 .. n-1] (NULL entries skipped) to
 * cancel the command it runs: all requests at once, none waiting past
 * deadline.  labels[i] names the shard in the WARNING about a request that
 * could not be sent or was not taken in time (labels NULL: no warnings).
 * Returns how many requests the servers took.  Interrupts are checked while waiting unless they are held;
 * every socket opened is closed, also on error.
 */
extern int	shard_cancel_many(PGconn **conns, const char **labels, int n,
							  TimestampTz deadline);

#endif							/* SHARDFDW_CANCEL_H */
