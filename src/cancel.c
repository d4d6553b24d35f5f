/*-------------------------------------------------------------------------
 *
 * cancel.c
 *		  Cancel requests to shards that never wait past a deadline.
 *
 * A command given up on a shard (statement_timeout, a user's cancel, an
 * error elsewhere in the statement) is cancelled with the protocol's
 * CancelRequest: a new connection to the shard's server that carries 16
 * bytes (length 16, the code 80877102, the backend's PID and secret key)
 * and is closed by the server once it has signalled the backend.
 *
 * libpq 15's PQcancel makes that connection with a blocking connect() and
 * no timeout.  To a host that drops packets (a network partition, a
 * server whose listen queue is full) it waits out the kernel's SYN
 * retries, about two minutes with Linux's defaults, and the backend cannot
 * service interrupts meanwhile: abort processing, which must end within
 * its deadline, would not.  So the request is sent here, over a
 * non-blocking socket of our own to the address the connection's socket is
 * connected to (getpeername: the same server, also over a Unix socket),
 * for all shards at once, and given up at the caller's deadline.  Like
 * PQcancel, a request counts as done when the server closes the
 * connection (it has signalled the backend by then).
 *
 * The secret key is not in libpq 15's API; the PGcancel copy PQgetCancel
 * returns holds it right after the backend's PID (struct pg_cancel begins
 * with the server's address, the PID and the key in libpq 15, 16 and 17;
 * 18 changed it).  It is read only from a libpq of major version 15 to 17
 * and only when the PID found there is PQbackendPID's and the address
 * family is the socket's; otherwise the request goes through PQcancel,
 * which may block.  A connection whose socket is no longer connected
 * (getpeername fails: reset, or timed out) gets no request at all.
 *
 * Invariants: every socket opened here is closed before
 * shard_cancel_many returns, also on error (PG_FINALLY); each holds an
 * external FD of fd.c meanwhile.  Nothing allocated here outlives the call.
 *
 * src/cancel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>
#include <unistd.h>

#include "libpq/pqcomm.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "cancel.h"
#include "connection.h"

/*
 * The head of libpq 15-17's struct pg_cancel, which PQgetCancel returns:
 * the server's address (SockAddr), the backend's PID, its secret key.
 */
typedef struct Libpq15SockAddr
{
	struct sockaddr_storage addr;
	socklen_t	salen;
} Libpq15SockAddr;				/* (padded to the alignment of addr) */

typedef struct Libpq15CancelHead
{
	Libpq15SockAddr raddr;
	int			be_pid;
	int			be_key;
} Libpq15CancelHead;

typedef enum CancelState
{
	CANCEL_NONE,				/* no request: a NULL entry */
	CANCEL_CONNECTING,			/* waiting for our socket to connect */
	CANCEL_SENT,				/* sent; waiting for the server to close */
	CANCEL_DONE,				/* sent, and the server has closed */
	CANCEL_FAILED				/* could not be sent (why says why) */
} CancelState;

typedef struct CancelRequest
{
	CancelState state;
	pgsocket	sock;			/* PGINVALID_SOCKET when none is open */
	uint32		packet[4];		/* length, code, PID, key; network order */
	char		why[256];		/* a failure's reason */
} CancelRequest;

/* Close r's socket, if open, and give its external FD back. */
static void
close_request(CancelRequest *r)
{
	if (r->sock == PGINVALID_SOCKET)
		return;
	close(r->sock);
	ReleaseExternalFD();
	r->sock = PGINVALID_SOCKET;
}

/* r could not be sent, because of why (copied). */
static void
fail_request(CancelRequest *r, const char *why)
{
	close_request(r);
	r->state = CANCEL_FAILED;
	strlcpy(r->why, why, sizeof(r->why));
}

/* Send r's packet on its connected socket. */
static void
send_packet(CancelRequest *r)
{
	ssize_t		n = send(r->sock, r->packet, sizeof(r->packet), MSG_NOSIGNAL);

	if (n == (ssize_t) sizeof(r->packet))
		r->state = CANCEL_SENT;
	else
		fail_request(r, n < 0 ? strerror(errno) : "short write");
}

/*
 * The cancel request for conn through PQcancel (blocking: used when the
 * secret key cannot be read safely).
 */
static void
blocking_request(CancelRequest *r, PGconn *conn)
{
	PGcancel   *cancel = PQgetCancel(conn);
	char		errbuf[256];

	if (cancel == NULL)
	{
		fail_request(r, "no cancel information for the connection");
		return;
	}
	if (PQcancel(cancel, errbuf, sizeof(errbuf)))
		r->state = CANCEL_DONE;
	else
		fail_request(r, errbuf);
	PQfreeCancel(cancel);
}

/*
 * Start the cancel request for conn on a non-blocking socket of our own.
 * Returns false, with nothing done, if that cannot be done safely (see the
 * file's head); r is then still CANCEL_NONE.
 */
static bool
begin_request(CancelRequest *r, PGconn *conn)
{
	struct sockaddr_storage peer;
	socklen_t	peer_len = sizeof(peer);
	PGcancel   *cancel;
	Libpq15CancelHead *head;
	int			pid = PQbackendPID(conn);
	int			key;
	bool		known;

	if (PQlibVersion() / 10000 < 15 || PQlibVersion() / 10000 > 17 ||
		pid == 0 || PQsocket(conn) < 0)
		return false;
	if (getpeername(PQsocket(conn), (struct sockaddr *) &peer, &peer_len) < 0)
	{
		/* (reset or timed out: PQcancel would only block on the address) */
		char		why[256];

		snprintf(why, sizeof(why), "the connection is gone: %s",
				 strerror(errno));
		fail_request(r, why);
		return true;
	}
	if ((cancel = PQgetCancel(conn)) == NULL)
		return false;
	head = (Libpq15CancelHead *) cancel;
	known = head->be_pid == pid && head->raddr.addr.ss_family == peer.ss_family;
	key = head->be_key;
	PQfreeCancel(cancel);
	if (!known)
		return false;

	r->packet[0] = pg_hton32(16);
	r->packet[1] = pg_hton32(CANCEL_REQUEST_CODE);
	r->packet[2] = pg_hton32((uint32) pid);
	r->packet[3] = pg_hton32((uint32) key);

	if (!AcquireExternalFD())
	{
		fail_request(r, "too many open files");
		return true;
	}
	r->sock = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
					 0);
	if (r->sock < 0)
	{
		char		why[256];

		ReleaseExternalFD();
		r->sock = PGINVALID_SOCKET;
		snprintf(why, sizeof(why), "could not create a socket: %s",
				 strerror(errno));
		fail_request(r, why);
		return true;
	}
	if (connect(r->sock, (struct sockaddr *) &peer, peer_len) == 0)
		send_packet(r);
	else if (errno == EINPROGRESS || errno == EINTR)
		r->state = CANCEL_CONNECTING;
	else
		fail_request(r, strerror(errno));
	return true;
}

/* r's socket is writable while it connects: send, or fail. */
static void
finish_connect(CancelRequest *r)
{
	int			err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(r->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0)
		fail_request(r, strerror(err));
	else
		send_packet(r);
}

/* r's socket is readable after the packet went: done at EOF or error. */
static void
read_close(CancelRequest *r)
{
	char		buf[64];
	ssize_t		n = recv(r->sock, buf, sizeof(buf), 0);

	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
							errno == EINTR)))
		return;					/* (nothing is expected; wait on) */
	close_request(r);
	r->state = CANCEL_DONE;
}

/*
 * Wait, until deadline, while any of reqs[0 .. n-1] is connecting or
 * waiting for its server to close, moving each on as its socket gets
 * ready.  Interrupts are checked at each latch wakeup.
 */
static void
wait_requests(CancelRequest *reqs, int n, TimestampTz deadline)
{
	pgsocket   *socks = palloc(sizeof(pgsocket) * Max(n, 1));
	int		   *events = palloc(sizeof(int) * Max(n, 1));
	int		   *which = palloc(sizeof(int) * Max(n, 1));

	for (;;)
	{
		WaitEvent	ev;
		CancelRequest *r;
		int			pending = 0;
		long		left = (long) ((deadline - GetCurrentTimestamp()) / 1000);

		for (int i = 0; i < n; i++)
		{
			if (reqs[i].state != CANCEL_CONNECTING &&
				reqs[i].state != CANCEL_SENT)
				continue;
			socks[pending] = reqs[i].sock;
			events[pending] = reqs[i].state == CANCEL_CONNECTING ?
				WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE;
			which[pending++] = i;
		}
		if (pending == 0 || left <= 0)
			break;
		if (shardconn_wait_many(pending, socks, events, left, &ev) == 0)
			continue;			/* (timed out: the deadline ends the loop) */
		if (ev.events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		r = &reqs[which[(int) (intptr_t) ev.user_data]];
		if (r->state == CANCEL_CONNECTING)
			finish_connect(r);
		else
			read_close(r);
	}
	pfree(socks);
	pfree(events);
	pfree(which);
}

/*
 * shard_cancel_many: see cancel.h.  A request still connecting at the
 * deadline, or sent but not taken (the server has not closed), has failed
 * ("timed out").
 */
int
shard_cancel_many(PGconn **conns, const char **labels, int n,
				  TimestampTz deadline)
{
	CancelRequest *reqs = palloc0(sizeof(CancelRequest) * Max(n, 1));
	int			sent = 0;

	for (int i = 0; i < n; i++)
		reqs[i].sock = PGINVALID_SOCKET;

	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			if (conns[i] == NULL)
				continue;
			if (!begin_request(&reqs[i], conns[i]))
				blocking_request(&reqs[i], conns[i]);
		}
		wait_requests(reqs, n, deadline);
	}
	PG_FINALLY();
	{
		for (int i = 0; i < n; i++)
			close_request(&reqs[i]);
	}
	PG_END_TRY();

	for (int i = 0; i < n; i++)
	{
		CancelRequest *r = &reqs[i];

		if (r->state == CANCEL_CONNECTING || r->state == CANCEL_SENT)
			fail_request(r, "timed out");
		if (r->state == CANCEL_DONE)
			sent++;
		else if (r->state == CANCEL_FAILED && labels != NULL)
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not send cancel request to %s: %s",
							labels[i], r->why)));
	}
	pfree(reqs);
	return sent;
}
