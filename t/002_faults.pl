# t/002_faults.pl: stopped shard, killed remote backend, cancel and
# statement_timeout, ALTER SERVER reconnect, connect_timeout against a shard
# that never answers, remote errors re-raised with their SQLSTATE.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use ShardTest;

my $c = ShardTest->setup(server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my $keys = $c->key_per_shard;
my $host = $c->shard(0)->host;

# "shard pN (host=H, port=P) of server "cluster"" for shard i
sub shard_name_re
{
	my ($i, $port) = @_;
	$port //= $c->shard($i)->port;
	return qr/shard p$i \(host=\Q$host\E, port=$port\) of server "cluster"/;
}

# ================================================================ (a) stopped shard
note '(a) stopped shard';
my $s2 = $c->shard(2);
$s2->stop('fast');

for my $i (0, 1, 3)
{
	my ($rc, $out, $err) =
	  $c->psql_timed("SELECT val FROM t WHERE id = $keys->[$i]");
	is($rc, 0, "shard 2 down: lookup of id $keys->[$i] on shard $i works")
	  or diag($err);
	is($out, "val $keys->[$i]", "shard 2 down: lookup on shard $i returns the row");
}

for my $q ("SELECT val FROM t WHERE id = $keys->[2]", 'SELECT count(*) FROM t')
{
	my ($rc, $out, $err, $el) = $c->psql_timed($q);
	isnt($rc, 0, "shard 2 down: '$q' fails");
	like($err, qr/could not connect to /, "shard 2 down: '$q': could not connect");
	like($err, shard_name_re(2), "shard 2 down: '$q': error names p2, its host and port");
	cmp_ok($el, '<', 10, "shard 2 down: '$q' failed within connect_timeout (${el}s)");
}

# an INSERT routed to the stopped shard fails too, others are untouched
$s2->start;
for my $q ("SELECT val FROM t WHERE id = $keys->[2]", 'SELECT count(*) FROM t')
{
	my ($rc, $out, $err) = $c->psql_timed($q);
	is($rc, 0, "shard 2 restarted: '$q' works again") or diag($err);
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM t'), '100',
	'shard 2 restarted: all 100 rows are back');

# A session that had connections to all shards while one is stopped and
# restarted: the dead cached connection is replaced transparently.
{
	my $s = $c->session;
	my ($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'session: first count');
	$s2->stop('fast');
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[2]");
	like($err, shard_name_re(2),
		'session: shard 2 stopped under a cached connection: error names p2');
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[0]");
	is($out, "val $keys->[0]", 'session: other shards still usable') or diag($err);
	$s2->start;
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'session: shard 2 back, count works in the same session')
	  or diag($err);
	$s->quit;
}

# ================================================================ (b) killed backend
note '(b) killed remote backend';
my $s1 = $c->shard(1);
my $kill_sql = q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE application_name LIKE 'shardfdw:%'};
my $count_sql = q{SELECT count(*) FROM pg_stat_activity
                   WHERE application_name LIKE 'shardfdw:%'};
# connections of the short-lived sessions above may take a moment to go
ok(defined ShardTest::poll_until($s1, $count_sql, '0', 30),
	'no shardfdw connections left on shard 1');
{
	my $s = $c->session;
	my ($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'killed backend: first query');
	is($s1->safe_psql('postgres', $count_sql), '1',
		"shard 1 has one connection with application_name 'shardfdw'");

	# outside a transaction: reconnect transparently
	is($s1->safe_psql('postgres', $kill_sql), '1', 'terminated the shard 1 backend');
	ok(defined ShardTest::poll_until($s1, $count_sql, '0', 30),
		'shard 1 backend is gone');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'outside a transaction: next query reconnects transparently');
	is($err, '', 'outside a transaction: no error or warning') or diag($err);
	is($s1->safe_psql('postgres', $count_sql), '1', 'shard 1 has a new connection');

	# the same for a one-shard lookup
	is($s1->safe_psql('postgres', $kill_sql), '1', 'terminated the shard 1 backend again');
	ok(defined ShardTest::poll_until($s1, $count_sql, '0', 30),
		'shard 1 backend is gone again');
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[1]");
	is($out, "val $keys->[1]", 'outside a transaction: lookup on shard 1 reconnects');
	is($err, '', 'lookup after reconnect: no error') or diag($err);

	# inside a transaction: the error names the shard; after ROLLBACK all is well
	($out, $err) = ShardTest::sq($s, 'BEGIN; SELECT count(*) FROM t');
	is($out, '100', 'in a transaction: first select');
	is($s1->safe_psql('postgres', $kill_sql), '1',
		'terminated the shard 1 backend inside the transaction');
	ok(defined ShardTest::poll_until($s1, $count_sql, '0', 30),
		'shard 1 backend is gone (in transaction)');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	like($err, qr/ERROR/, 'in a transaction: the second select fails');
	like($err, shard_name_re(1), 'in a transaction: the error names p1, host and port');
	($out, $err) = ShardTest::sq($s, 'SELECT 1');
	like($err, qr/current transaction is aborted/,
		'in a transaction: transaction is aborted after the error');
	($out, $err) = ShardTest::sq($s, 'ROLLBACK');
	is($err, '', 'ROLLBACK is clean') or diag($err);
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'after ROLLBACK the session works again') or diag($err);
	is($err, '', 'after ROLLBACK: no error') or diag($err);

	# a transaction that has only touched shards 0 and 3 survives the kill
	# of an idle connection to shard 1 that it has not used yet
	($out, $err) = ShardTest::sq($s,
		"BEGIN; SELECT count(*) FROM t WHERE id IN ($keys->[0], $keys->[3])");
	is($out, '2', 'transaction touching shards 0 and 3');
	is($s1->safe_psql('postgres', $kill_sql), '1', 'terminated idle shard 1 backend');
	ok(defined ShardTest::poll_until($s1, $count_sql, '0', 30),
		'idle shard 1 backend is gone');
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[1]; COMMIT");
	is($out, "val $keys->[1]",
		'in a transaction: first use of shard 1 reconnects transparently')
	  or diag($err);
	is($err, '', 'first use of a dead idle connection in a transaction: no error')
	  or diag($err);

	# A shard lost inside a savepoint: the statement's batches in flight on
	# the other shards are cancelled, and the owed SAVEPOINT at their head
	# must not be what the cancel hits (the ROLLBACK TO that follows would
	# find no savepoint and lose a healthy shard).  A race, so run it many
	# times: the second statement must always fail on p1 alone.
	my $rounds = 30;
	my $bad = 0;
	my $block = q{DO $$BEGIN PERFORM count(*) FROM t;
	              EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'caught: %', SQLERRM; END$$};
	for my $round (1 .. $rounds)
	{
		($out, $err) = ShardTest::sq($s, 'BEGIN; SELECT count(*) FROM t');
		$s1->safe_psql('postgres', $kill_sql);
		ShardTest::poll_until($s1, $count_sql, '0', 30);
		my ($o1, $e1) = ShardTest::sq($s, $block);
		my ($o2, $e2) = ShardTest::sq($s, $block);
		ShardTest::sq($s, 'ROLLBACK');
		my $ok = $e1 =~ /caught: .*shard p1 / && $e2 =~ /caught: .*shard p1 /
		  && $e1 !~ /shard p[023] / && $e2 !~ /shard p[023] /;
		if (!$ok)
		{
			$bad++;
			diag("round $round:\n$e1\n$e2");
		}
	}
	is($bad, 0, "savepoint abort with p1 lost, $rounds rounds: the errors name p1 only, "
		  . 'the healthy shards stay usable');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'after the savepoint rounds the session works') or diag($err);
	$s->quit;
}

# ================================================================ (c) cancel
note '(c) cancel and statement_timeout';
$c->on_all_shards(
	q{CREATE VIEW sleepy AS SELECT pg_sleep(30)::text AS s, 1 AS one});
$coord->safe_psql('postgres',
	q{CREATE FOREIGN TABLE sleepy (s text, one int) SERVER cluster
          OPTIONS (table_name 'sleepy')});
my $active_sql = q{SELECT count(*) FROM pg_stat_activity
                    WHERE application_name LIKE 'shardfdw:%' AND state = 'active'};
{
	my $s = $c->session;
	my ($out, $err, $el) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'cancel: first query');

	($out, $err, $el) =
	  ShardTest::sq($s, "SET statement_timeout = '1s'; SELECT * FROM sleepy");
	like($err, qr/canceling statement due to statement timeout/,
		'statement_timeout cancels a long remote query');
	cmp_ok($el, '<', 3, "statement_timeout 1s: query ended in ${el}s (remote: 30 s)");
	for my $i (0 .. 3)
	{
		my $w = ShardTest::poll_until($c->shard($i), $active_sql, '0', 5);
		ok(defined $w, "statement_timeout: remote query on shard $i no longer active");
	}
	($out) = ShardTest::sq($s,
		q{SELECT count(*) FROM shardfdw.connections() WHERE valid AND NOT in_transaction});
	is($out, '4',
		'statement_timeout: the 4 connections were cleaned up and kept, out of transaction');
	($out, $err) = ShardTest::sq($s, 'RESET statement_timeout; SELECT count(*) FROM t');
	is($out, '100', 'statement_timeout: next query in the same session works');
	is($err, '', 'statement_timeout: next query clean') or diag($err);

	# pg_cancel_backend from another session during a long remote query
	my ($pid) = ShardTest::sq($s, 'SELECT pg_backend_pid()');
	ShardTest::send_async($s, 'SELECT * FROM sleepy;');
	for my $i (0 .. 3)
	{
		ok(defined ShardTest::poll_until($c->shard($i), $active_sql, '1', 20),
			"pg_cancel_backend: remote query running on shard $i");
	}
	my $t0 = time;
	is($coord->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"),
		't', 'pg_cancel_backend of the coordinator backend');
	($out, $err) = ShardTest::wait_async($s);
	$el = time - $t0;
	like($err, qr/canceling statement due to user request/,
		'pg_cancel_backend cancels the query');
	cmp_ok($el, '<', 5, "pg_cancel_backend: query ended ${el}s after the cancel");
	for my $i (0 .. 3)
	{
		my $w = ShardTest::poll_until($c->shard($i), $active_sql, '0', 5);
		ok(defined $w, "pg_cancel_backend: remote query on shard $i no longer active");
	}
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'pg_cancel_backend: next query in the same session works');
	is($err, '', 'pg_cancel_backend: next query clean') or diag($err);

	# cancel inside an explicit transaction, then ROLLBACK and go on
	($out, $err) = ShardTest::sq($s,
		"BEGIN; SELECT count(*) FROM t; SET LOCAL statement_timeout = '500ms'; SELECT * FROM sleepy");
	like($err, qr/canceling statement due to statement timeout/,
		'statement_timeout inside a transaction');
	($out, $err) = ShardTest::sq($s, 'ROLLBACK; SELECT count(*) FROM t');
	is($out, '100', 'after cancel in a transaction and ROLLBACK: session works');
	is($err, '', 'after cancel in a transaction and ROLLBACK: clean') or diag($err);
	$s->quit;
}

# ================================================================ (d) ALTER SERVER
note '(d) ALTER SERVER';
{
	my $good = $c->conninfo(1);
	my $badport = PostgreSQL::Test::Cluster::get_free_port();
	my $bad = $c->conninfo(1, $badport);
	my $s = $c->session;
	my ($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'alter server: first query');
	($out) = ShardTest::sq($s,
		q{SELECT shard, port, valid FROM shardfdw.connections() ORDER BY shard});
	is($out,
		join("\n", map { "$_|" . $c->shard($_)->port . '|t' } 0 .. 3),
		'connections(): one valid connection per shard with its port');

	$coord->safe_psql('postgres', "ALTER SERVER cluster OPTIONS (SET p1 '$bad')");
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[1]");
	like($err, qr/could not connect to/, 'p1 with a wrong port: lookup on shard 1 fails');
	like($err, shard_name_re(1, $badport), 'p1 with a wrong port: error names p1 and the new port');
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[0]");
	is($out, "val $keys->[0]", 'p1 with a wrong port: shard 0 still works') or diag($err);

	$coord->safe_psql('postgres', "ALTER SERVER cluster OPTIONS (SET p1 '$good')");
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'p1 set back: the session works again') or diag($err);
	($out) = ShardTest::sq($s,
		q{SELECT port, valid FROM shardfdw.connections() WHERE shard = 1});
	is($out, $c->shard(1)->port . '|t', 'connections(): shard 1 reconnected to the right port');

	# changing a port to another live server is picked up by an idle cached
	# connection: point p1 at shard 3's server and see shard 3's rows
	$coord->safe_psql('postgres',
		"ALTER SERVER cluster OPTIONS (SET p1 '" . $c->conninfo(3) . "')");
	# id keys->[1] is routed to p1, which now is shard 3's server: no row
	($out, $err) = ShardTest::sq($s, "SELECT count(*) FROM t WHERE id = $keys->[1]");
	is($out, '0', 'ALTER SERVER: the cached connection to p1 was remade to the new port')
	  or diag($err);
	($out) = ShardTest::sq($s,
		q{SELECT port FROM shardfdw.connections() WHERE shard = 1});
	is($out, $c->shard(3)->port, 'connections(): p1 now connected to the new port');
	$coord->safe_psql('postgres', "ALTER SERVER cluster OPTIONS (SET p1 '$good')");

	# connect_timeout against a server that accepts TCP but never answers
	my $hole = IO::Socket::INET->new(
		Listen => 16,
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Proto => 'tcp',
		ReuseAddr => 1) or die "cannot listen: $!";
	my $hport = $hole->sockport;
	$coord->safe_psql('postgres',
		"ALTER SERVER cluster OPTIONS (SET p1 'host=127.0.0.1 port=$hport dbname=postgres')");
	my $t0 = time;
	($out, $err) = ShardTest::sq($s, "SELECT val FROM t WHERE id = $keys->[1]");
	my $el = time - $t0;
	like($err, qr/could not connect to shard p1 \(host=127\.0\.0\.1, port=$hport\)/,
		'unresponsive shard: error names p1, host and port');
	like($err, qr/timed out/, 'unresponsive shard: error says it timed out');
	cmp_ok($el, '>=', 1.5, "unresponsive shard: waited for connect_timeout (${el}s)");
	cmp_ok($el, '<', 10, "unresponsive shard: gave up within connect_timeout (${el}s)");
	# the same from a fresh session (no cached connection yet)
	my ($rc, $o2, $e2, $el2) =
	  $c->psql_timed("SELECT val FROM t WHERE id = $keys->[1]");
	like($e2,
		qr/could not connect to shard p1 \(host=127\.0\.0\.1, port=$hport\) of server "cluster"/,
		'unresponsive shard, fresh session: error names p1, host, port and server');
	cmp_ok($el2, '<', 10, "unresponsive shard, fresh session: gave up in ${el2}s");
	close $hole;
	$coord->safe_psql('postgres', "ALTER SERVER cluster OPTIONS (SET p1 '$good')");
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($out, '100', 'p1 set back after the timeout: the session works') or diag($err);
	$s->quit;
}

# ================================================================ (e) remote error
note '(e) remote error';
$c->on_all_shards(q{CREATE VIEW divz AS SELECT id, 1 / (id - id) AS boom FROM t});
$coord->safe_psql('postgres',
	q{CREATE FOREIGN TABLE divz (id int, boom int) SERVER cluster
          OPTIONS (table_name 'divz', distribution_column 'id')});
{
	my ($rc, $out, $err) = $c->psql_timed('SELECT * FROM divz',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($rc, 0, 'remote division by zero fails');
	like($err, qr/ERROR:  22012: division by zero/,
		'remote division by zero is re-raised with SQLSTATE 22012');
	like($err, qr/CONTEXT:.*shard p\d \(host=\Q$host\E, port=\d+\) of server "cluster"/s,
		'remote error: CONTEXT names the shard, host and port');
	like($err, qr/CONTEXT:.*remote SQL command.*divz/s,
		'remote error: CONTEXT shows the remote SQL (the query on divz)');

	# a one-shard lookup names the owning shard exactly
	($rc, $out, $err) = $c->psql_timed("SELECT * FROM divz WHERE id = $keys->[2]",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:  22012:/, 'lookup: SQLSTATE 22012');
	like($err, qr/CONTEXT:.*${\ shard_name_re(2)}/s,
		'lookup: CONTEXT names the owning shard p2');

	# in a session: the error does not break the session
	my $s = $c->session;
	my ($o, $e) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($o, '100', 'session before remote error');
	($o, $e) = ShardTest::sq($s, 'SELECT * FROM divz');
	like($e, qr/division by zero/, 'session: remote error');
	($o, $e) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($o, '100', 'session: works after the remote error') or diag($e);
	is($e, '', 'session: clean after the remote error') or diag($e);
	$s->quit;
}

# ================================================================ (f) frozen shard
note '(f) a frozen shard backend at the end of a transaction';
{
	# With keep_connections off, the end of a read-only transaction closes
	# its connections: it must not wait for the COMMIT answer of a shard
	# whose backend is stopped (SIGSTOP), with interrupts held.
	$coord->safe_psql('postgres', q{ALTER SERVER cluster OPTIONS (ADD keep_connections 'false')});
	my $s = $c->session;
	my ($o, $e) = ShardTest::sq($s, 'BEGIN; SELECT count(*) FROM t');
	is($o, '100', 'frozen shard: the transaction read every shard');
	my $pid = $c->shard(0)->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity
           WHERE application_name LIKE 'shardfdw:%' AND state = 'idle in transaction'});
	like($pid, qr/^\d+$/, 'frozen shard: shard 0 has the session\'s remote transaction');
	kill 'STOP', $pid;
	my ($o2, $e2, $el) = ShardTest::sq($s, 'COMMIT');
	kill 'CONT', $pid;
	is($e2, '', 'frozen shard: COMMIT succeeds') or diag($e2);
	cmp_ok($el, '<', 20, "frozen shard: COMMIT does not wait for the stopped backend (${el}s)");
	($o, $e) = ShardTest::sq($s, 'SELECT count(*) FROM t');
	is($o, '100', 'frozen shard: the session works after it') or diag($e);
	$s->quit;
	$coord->safe_psql('postgres', 'ALTER SERVER cluster OPTIONS (DROP keep_connections)');
}

done_testing();
