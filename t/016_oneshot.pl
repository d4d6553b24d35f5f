# t/016_oneshot.pl: a single-shard SELECT outside a transaction block is one
# remote statement (prepared on the shard, run in its implicit transaction,
# rows streamed), and everything that can happen to such a stream.
#
# The shards log every statement (log_statement = all), so the tests can
# tell a streamed statement ("execute shardfdw_s<N>: SELECT ...", nothing
# else) from the cursor path (START TRANSACTION, DECLARE, FETCH, COMMIT).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = ShardTest->setup(shard_conf => "log_statement = 'all'\n");
my $coord = $c->coord;
my $k = $c->key_per_shard;

# a table with 5000 rows of one key, all on shard 1; fetch_size 10
$c->on_all_shards(q{
CREATE TABLE tb (k int, n int, v text);
CREATE TABLE tc (k int, v text)});
$c->shard(1)->safe_psql('postgres', qq{
INSERT INTO tb SELECT $k->[1], g, 'v' || g FROM generate_series(1, 5000) g;
INSERT INTO tc SELECT $k->[1], g::text FROM generate_series(1, 3000) g;
UPDATE tc SET v = 'oops' WHERE v = '2000'});
$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE tb (k int, n int, v text) SERVER cluster
  OPTIONS (distribution_column 'k', fetch_size '10');
CREATE FOREIGN TABLE tc (k int, v int) SERVER cluster
  OPTIONS (distribution_column 'k', fetch_size '10');
CREATE FUNCTION peek(int) RETURNS bigint VOLATILE LANGUAGE sql
  AS 'SELECT count(*) FROM tb WHERE k = $1';
CREATE FUNCTION peek_safe(int) RETURNS bigint VOLATILE LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM tb WHERE k = $1);
EXCEPTION WHEN others THEN
    RETURN -1;
END $$;
});
my $expected = $c->shard(1)->safe_psql('postgres', "SELECT n, v FROM tb WHERE k = $k->[1]");

# what shard i logged while running sql in session s
sub logged
{
	my ($s, $i, $sql) = @_;
	my $log = $c->shard($i)->logfile;
	my $pos = -s $log;
	my ($out, $err) = ShardTest::sq($s, $sql);
	# (the statements of the shard's backend reach the log at once)
	my $text = slurp_file($log, $pos);
	my @st = ($text =~ /LOG:  (?:statement|execute [^:]*): (.*)/g);
	return ($out, $err, join("\n", @st));
}

my $s = $c->session;

# ---------------------------------------------------------------- lookups
note 'lookups outside a transaction block';
{
	my ($out, $err, $st) = logged($s, 0, "SELECT val FROM t WHERE id = $k->[0]");
	is($out, "val $k->[0]", 'lookup: the row');
	like($st, qr/^SELECT val FROM public\.t WHERE \(\(id = $k->[0]\)\)$/m,
		'lookup: the shard ran the SELECT') or diag($st);
	unlike($st, qr/START TRANSACTION|DECLARE|FETCH|COMMIT/,
		'lookup: no transaction command, no cursor on the shard') or diag($st);
	like($st, qr/set_config/, 'lookup: (a new connection: its setup)');
	($out, $err, $st) = logged($s, 0, "SELECT val FROM t WHERE id = $k->[0]");
	my @lines = split /\n/, $st;
	is(scalar @lines, 1, 'second lookup: exactly one statement on the shard') or diag($st);

	ShardTest::sq($s, 'PREPARE look(int) AS SELECT val FROM t WHERE id = $1');
	my @got = map { (ShardTest::sq($s, "EXECUTE look($_)"))[0] } (1 .. 8);
	is(join(',', @got), join(',', map { "val $_" } 1 .. 8),
		'prepared lookups (custom, then generic plans) on every shard');
}

note 'a client\'s prepared lookups (pgbench -M prepared)';
{
	my @logpos = map { -s $c->shard($_)->logfile } 0 .. 3;
	$coord->pgbench(
		'-n -M prepared -c 1 -t 40', 0, [qr{processed: 40/40}], [qr{^$}],
		'pgbench -M prepared: lookups by key',
		{ '016_lookup' => q{\set k random(1, 100)
SELECT val FROM t WHERE id = :k;
} });
	my ($named, $other) = (0, 0);
	for my $i (0 .. 3)
	{
		my $log = slurp_file($c->shard($i)->logfile, $logpos[$i]);
		$named++ for ($log =~ /LOG:  execute shardfdw_s\d+: SELECT val FROM public\.t WHERE \(\(id = \$1::integer\)\)/g);
		$other++ for ($log =~ /LOG:  (?:statement|execute [^:]*): (?:START TRANSACTION|DECLARE|FETCH)/g);
	}
	note "lookups executed by name on the shards: $named";
	is($other, 0, 'pgbench lookups: no remote transaction and no cursor on any shard');
	# (the first 5 executions use custom plans, with the key written in)
	cmp_ok($named, '>=', 30, 'pgbench lookups: the generic plan\'s lookups run by name, prepared once');
}

note 'statements that keep the cursor path';
{
	my ($out, $err, $st) = logged($s, 0,
		"SELECT val FROM t, generate_series(1, 1) WHERE id = $k->[0]");
	is($out, "val $k->[0]", 'a join with something else: the row');
	like($st, qr/DECLARE/, 'a join with something else: cursor path');
}
{
	my ($out, $err, $st) = logged($s, 0, "SELECT (SELECT val FROM t WHERE id = $k->[0])");
	is($out, "val $k->[0]", 'a subplan: the row');
	like($st, qr/DECLARE/, 'a subplan: cursor path');
	($out, $err, $st) = logged($s, 0, "SELECT val FROM t WHERE id = $k->[0] FOR UPDATE");
	like($st, qr/DECLARE/, 'row locks: cursor path');
	($out, $err, $st) = logged($s, 1, "SELECT count(*) FROM t");
	like($st, qr/DECLARE/, 'several shards: cursor path');
}

note 'in a transaction block: the remote transaction start and one prepared statement';
{
	# (twice: the first time prepares, the second only executes)
	my ($out, $err, $st);
	my $newkey = $coord->safe_psql('postgres', q{
SELECT min(g) FROM generate_series(1000, 2000) g
 WHERE shardfdw.shard_for('t'::regclass, g) = 0});
	# (generic plans, as a client's prepared statements get: the key is a
	# parameter of the remote statements too)
	ShardTest::sq($s, q{SET plan_cache_mode = force_generic_plan;
PREPARE l(int) AS SELECT val FROM t WHERE id = $1;
PREPARE u(int) AS UPDATE t SET val = val WHERE id = $1;
PREPARE i(int) AS INSERT INTO t (id, val) VALUES ($1, 'new')});
	for my $round (1, 2)
	{
		($out, $err, $st) = logged($s, 0,
			"BEGIN; EXECUTE l($k->[0]); EXECUTE u($k->[0]); EXECUTE i($newkey); ROLLBACK;");
	}
	ShardTest::sq($s, 'RESET plan_cache_mode; DEALLOCATE l; DEALLOCATE u; DEALLOCATE i');
	is($out, "val $k->[0]", 'in a block: the lookup\'s row');
	is($err, '', 'in a block: no error') or diag($err);
	my @lines = split /\n/, $st;
	like($lines[0], qr/^START TRANSACTION/, 'in a block: the remote transaction starts')
	  or diag($st);
	like($lines[1] // '', qr/^SELECT val FROM public\.t WHERE \(\(id = \$1::integer\)\)$/,
		'in a block: then the lookup, a prepared statement with a parameter') or diag($st);
	unlike($st, qr/DECLARE|FETCH|CLOSE/, 'in a block: no cursor for a lookup') or diag($st);
	like($st, qr/^UPDATE public\.t .*\$1::integer/m, 'in a block: the UPDATE, prepared')
	  or diag($st);
	like($st, qr/^INSERT INTO public\.t /m, 'in a block: the INSERT') or diag($st);
	my $log = slurp_file($c->shard(0)->logfile);
	my @named = ($log =~ /LOG:  execute shardfdw_s\d+: (SELECT val FROM public\.t|UPDATE public\.t|INSERT INTO public\.t)/g);
	cmp_ok(scalar(@named), '>=', 6,
		'in a block: lookup, UPDATE and INSERT run as named prepared statements') or diag($st);
	like($st, qr/^ABORT TRANSACTION$/m, 'in a block: rolled back') or diag($st);
	is($c->shard(0)->safe_psql('postgres',
		"SELECT count(*) FROM t WHERE id = $newkey"), '0',
		'in a block: the INSERT was rolled back');
}

# ---------------------------------------------------------------- streams
note 'long streams';
{
	my ($out, $err, $st) = logged($s, 1, "SELECT n, v FROM tb WHERE k = $k->[1]");
	is($out, $expected, '5000 rows of one shard, fetch_size 10: all, in order');
	is($err, '', 'no error');
	unlike($st, qr/DECLARE|FETCH/, 'streamed, no cursor');

	# (clock_timestamp() is not shipped, so the LIMIT stays local; being
	# built in and parallel safe, it cannot run a query of its own)
	($out, $err, $st) = logged($s, 1,
		"SELECT count(*), sum(n) FROM (SELECT n FROM tb WHERE k = $k->[1] AND clock_timestamp() IS NOT NULL LIMIT 7) x");
	is($out, '7|28', 'a local LIMIT stops the stream early');
	unlike($st, qr/DECLARE|FETCH/, 'a local LIMIT: streamed') or diag($st);
	($out, $err) = ShardTest::sq($s,
		"SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1] AND 100 / (n - 2500) > -1000 AND clock_timestamp() IS NOT NULL LIMIT 7) x");
	is("$out|$err", '7|', 'a local LIMIT that stops before a failing row: no error');
	($out, $err) = ShardTest::sq($s, "SELECT n, v FROM tb WHERE k = $k->[1]");
	is($out, $expected, 'the connection serves the next stream after that');

	($out, $err) = ShardTest::sq($s, "SELECT n FROM tb WHERE k = $k->[1] AND 100 / (n - 2500) > -1000");
	like($err, qr/ERROR:  division by zero/, 'a remote error in the middle of a stream');
	like($err, qr/shard p1/, 'the error names the shard');
	($out, $err) = ShardTest::sq($s, "SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1]) x");
	is($out, '5000', 'the next statement works');

	($out, $err) = ShardTest::sq($s, "SELECT v FROM tc WHERE k = $k->[1]");
	like($err, qr/ERROR:  invalid input syntax for type integer: "oops"/,
		'a value the local type rejects, in the middle of a stream');
	($out, $err) = ShardTest::sq($s, "SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1]) x");
	is($out, '5000', 'the next statement works');

	# peek() runs a query on the same shard connection while the scan's
	# rows come: a function that is not built in may run a query, so the
	# scan keeps a cursor (a stream would have to be read whole into memory
	# for it)
	($out, $err, $st) = logged($s, 1,
		"SELECT count(*), min(p), max(p), sum(n) FROM (SELECT n, peek($k->[1]) AS p FROM tb WHERE k = $k->[1]) x");
	is($out, '5000|5000|5000|12502500',
		'a nested query needing the connection mid-scan: all rows, right answers');
	is($err, '', 'no error') or diag($err);
	# (a stream's SELECT is logged on its own line, a cursor's after its
	# DECLARE; peek's own query has a cursor in any case)
	unlike($st, qr/^SELECT n FROM public\.tb/m, 'a function that may run a query: not streamed')
	  or diag($st);

	# the scan's own error, read while a function (which catches errors)
	# used the connection, is still the statement's error
	($out, $err) = ShardTest::sq($s,
		"SELECT count(*), min(p) FROM (SELECT n, peek_safe($k->[1]) AS p FROM tb WHERE k = $k->[1] AND 100 / (n - 2500) > -1000) x");
	like($err, qr/ERROR:  division by zero/,
		'a scan\'s error read for a nested query that catches errors: raised by the statement')
	  or diag("out: $out");

	# a cancel while streaming
	($out, $err) = ShardTest::sq($s,
		"SET statement_timeout = '50ms'; SELECT count(*) FROM (SELECT n, pg_sleep(0.001) FROM tb WHERE k = $k->[1]) x; RESET statement_timeout;");
	like($err, qr/canceling statement due to statement timeout/, 'statement_timeout ends a stream');
	($out, $err) = ShardTest::sq($s, "SELECT n, v FROM tb WHERE k = $k->[1]");
	is($out, $expected, 'and the connection serves the next one');
}

note 'the same in a transaction block';
{
	my ($out, $err, $st) = logged($s, 1, "BEGIN; SELECT n, v FROM tb WHERE k = $k->[1]; COMMIT;");
	is($out, $expected, 'in a block: 5000 rows of one shard, all, in order');
	unlike($st, qr/DECLARE|FETCH/, 'in a block: read to its end, so streamed') or diag($st);
	like($st, qr/^START TRANSACTION.*\n^SELECT n, v FROM public\.tb/m,
		'in a block: after the remote transaction start') or diag($st);
	($out, $err, $st) = logged($s, 1,
		"BEGIN; SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1] AND clock_timestamp() IS NOT NULL LIMIT 7) x; COMMIT;");
	is($out, '7', 'in a block: under a local LIMIT');
	like($st, qr/DECLARE/, 'in a block: under a local LIMIT, a cursor') or diag($st);

	# A function that may run a query (not built in, or not parallel safe)
	# could need the connection while the rows come: a stream would have to
	# be read into memory whole then, a cursor reads it fetch_size rows at a
	# time.
	($out, $err, $st) = logged($s, 1,
		"BEGIN; SELECT count(*), min(p), max(p), sum(n) FROM (SELECT n, peek($k->[1]) AS p FROM tb WHERE k = $k->[1]) x; COMMIT;");
	is($out, '5000|5000|5000|12502500',
		'in a block: a nested query needing the connection mid-scan: all rows, right answers');
	is($err, '', 'in a block: no error') or diag($err);
	unlike($st, qr/^SELECT n FROM public\.tb/m, 'in a block: a function that may run a query: not streamed')
	  or diag($st);
	($out, $err, $st) = logged($s, 1,
		"SELECT count(*), max(l) FROM (SELECT n, length(query_to_xml('SELECT 1', false, false, '')::text) AS l "
		  . "FROM tb WHERE k = $k->[1]) x");
	like("$out|$err", qr/^5000\|\d+\|$/, 'alone: a built-in that runs a query (query_to_xml): the rows');
	like($st, qr/DECLARE/, 'alone: a built-in that runs a query: a cursor') or diag($st);
	# a domain's CHECK may call any function: a column of such a domain
	# keeps the cursor, one of a domain without constraints streams
	$coord->safe_psql('postgres', q{
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN anyint AS int;
CREATE FOREIGN TABLE tbd (k int, n posint, v text) SERVER cluster
  OPTIONS (table_name 'tb', distribution_column 'k');
CREATE FOREIGN TABLE tba (k int, n anyint, v text) SERVER cluster
  OPTIONS (table_name 'tb', distribution_column 'k')});
	($out, $err, $st) = logged($s, 1, "SELECT count(n) FROM tbd WHERE k = $k->[1]");
	is("$out|$err", '5000|', 'alone: a column of a domain with a CHECK: the rows');
	unlike($st, qr/^SELECT n FROM public\.tb/m, 'alone: a column of a domain with a CHECK: not streamed')
	  or diag($st);
	like($st, qr/DECLARE/, 'alone: a column of a domain with a CHECK: a cursor') or diag($st);
	($out, $err, $st) = logged($s, 1, "SELECT count(n) FROM tba WHERE k = $k->[1]");
	is("$out|$err", '5000|', 'alone: a column of a domain without constraints: the rows');
	like($st, qr/^SELECT n FROM public\.tb/m, 'alone: a column of a domain without constraints: streamed')
	  or diag($st);
	($out, $err, $st) = logged($s, 1,
		"SELECT count(*), max(l) FROM (SELECT n, length(v || n::text) AS l FROM tb WHERE k = $k->[1]) x");
	is("$out|$err", '5000|9|', 'alone: built-in parallel-safe functions: the rows');
	unlike($st, qr/DECLARE|FETCH/, 'alone: built-in parallel-safe functions: streamed') or diag($st);

	# an error in rows the statement never needs must not end the
	# transaction (a stream would compute them; a cursor does not)
	($out, $err) = ShardTest::sq($s, "BEGIN;");
	($out, $err) = ShardTest::sq($s,
		"SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1] AND 100 / (n - 2500) > -1000 AND clock_timestamp() IS NOT NULL LIMIT 7) x");
	is("$out|$err", '7|', 'in a block: a LIMIT that stops before a failing row: no error');
	($out, $err) = ShardTest::sq($s, "SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1]) x");
	is("$out|$err", '5000|', 'in a block: the transaction goes on');
	($out, $err) = ShardTest::sq($s, "COMMIT;");

	# stopped early: the rest is read and dropped, the remote transaction
	# goes on (a cancel would have ended it)
	($out, $err) = ShardTest::sq($s, "BEGIN; UPDATE tb SET v = 'changed' WHERE k = $k->[1] AND n = 1;");
	($out, $err) = ShardTest::sq($s,
		"SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1] AND clock_timestamp() IS NOT NULL LIMIT 7) x");
	is($out, '7', 'in a block: a local LIMIT stops the stream early');
	($out, $err) = ShardTest::sq($s, "SELECT v FROM tb WHERE k = $k->[1] AND n = 1");
	is($out, 'changed', 'in a block: the next statement sees the transaction\'s own update');
	($out, $err) = ShardTest::sq($s, 'COMMIT');
	is($err, '', 'in a block: it commits');
	is($c->shard(1)->safe_psql('postgres', "SELECT v FROM tb WHERE n = 1"), 'changed',
		'in a block: the update is on the shard');
	$c->shard(1)->safe_psql('postgres', "UPDATE tb SET v = 'v1' WHERE n = 1");

	# SELECT INTO wants one row: a cursor, so that an error in rows it never
	# needs does not end the remote transaction
	$c->on_all_shards('CREATE TABLE td (k int, n int, v text)');
	$c->shard(1)->safe_psql('postgres', qq{
INSERT INTO td SELECT $k->[1], g, 'v' || g FROM generate_series(1, 30) g});
	$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE td (k int, n int, v text) SERVER cluster
  OPTIONS (distribution_column 'k', fetch_size '5');
ANALYZE td});
	my $into = "DO \$\$ DECLARE r record; BEGIN SELECT * INTO r FROM td WHERE k = $k->[1] %s; "
	  . "RAISE NOTICE 'got %%', r.n; END \$\$;";
	($out, $err) = ShardTest::sq($s, "BEGIN; UPDATE td SET v = 'changed' WHERE k = $k->[1] AND n = 1;");
	($out, $err, $st) = logged($s, 1, sprintf($into, 'AND 100 / (n - 20) > -1000'));
	like($err, qr/NOTICE:  got \d+/, 'in a block: SELECT INTO, a row') or diag($err);
	unlike($err, qr/ERROR/, 'in a block: SELECT INTO, no error from a row it never needed');
	like($st, qr/DECLARE/, 'in a block: SELECT INTO, a cursor') or diag($st);
	($out, $err) = ShardTest::sq($s, "SELECT count(*), count(*) FILTER (WHERE v = 'changed') FROM td WHERE k = $k->[1]");
	is("$out|$err", '30|1|', 'in a block: the transaction goes on');
	($out, $err) = ShardTest::sq($s, 'COMMIT');
	is($err, '', 'in a block: it commits');
	is($c->shard(1)->safe_psql('postgres', "SELECT v FROM td WHERE n = 1"), 'changed',
		'in a block: the update is on the shard');

	# a remote error in the middle, under a savepoint
	($out, $err) = ShardTest::sq($s, 'BEGIN; SAVEPOINT a;');
	($out, $err) = ShardTest::sq($s, "SELECT n FROM tb WHERE k = $k->[1] AND 100 / (n - 2500) > -1000");
	like($err, qr/ERROR:  division by zero/, 'in a block: a remote error in the middle of a stream');
	($out, $err) = ShardTest::sq($s, 'ROLLBACK TO a');
	($out, $err) = ShardTest::sq($s, "SELECT count(*) FROM (SELECT n FROM tb WHERE k = $k->[1]) x");
	is($out, '5000', 'in a block: after ROLLBACK TO SAVEPOINT the next stream works');
	($out, $err) = ShardTest::sq($s, 'COMMIT');
	is($err, '', 'in a block: and the transaction commits');
}

note 'a WindowAgg above the scan in a block: a cursor (a run condition stops it early)';
{
	my ($out, $err, $st) = logged($s, 1,
		"BEGIN; SELECT n FROM (SELECT n, row_number() OVER () AS rn FROM tb WHERE k = $k->[1] "
		  . "AND 100 / (n - 2500) > -1000) s WHERE rn <= 3; COMMIT;");
	my @rows = split /\n/, $out;
	is(scalar(@rows) . "|$err", '3|', 'in a block: rows up to the run condition, no error from rows never needed')
	  or diag("$out\n$err");
	like($st, qr/DECLARE/, 'in a block: under a WindowAgg, a cursor') or diag($st);
}

note 'a shard backend killed in the middle of a stream in a block: no row twice';
{
	# 3000 rows of 10 kB: more than the sockets hold, so the shard is still
	# sending when it is killed, after the coordinator has returned rows
	$c->on_all_shards('CREATE TABLE tw (k int, n int, v text)');
	$c->shard(1)->safe_psql('postgres', qq{
ALTER TABLE tw ALTER v SET STORAGE EXTERNAL;
INSERT INTO tw SELECT $k->[1], g, repeat('x', 10000) FROM generate_series(1, 3000) g});
	$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE tw (k int, n int, v text) SERVER cluster
  OPTIONS (distribution_column 'k')});
	my $s2 = $c->session;
	ShardTest::sq($s2, 'BEGIN');
	ShardTest::send_async($s2,
		"SELECT n, length(v), pg_sleep(0.001) FROM tw WHERE k = $k->[1];");
	my $killed = ShardTest::poll_until($c->shard(1), q{
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE query LIKE '%public.tw%' AND pid <> pg_backend_pid()
   AND wait_event = 'ClientWrite'}, '1', 30);
	ok(defined $killed, 'the shard backend was killed while it was sending rows');
	my ($out, $err) = ShardTest::wait_async($s2);
	my @n = ($out =~ /^(\d+)\|10000\|/mg);
	my %seen;
	my @twice = grep { $seen{$_}++ } @n;
	is(scalar(@twice), 0, 'no row came twice') or diag(scalar(@n) . ' rows, ' . scalar(@twice) . ' twice');
	like($err, qr/ERROR/, 'the lost connection is an error') or diag("rows: " . scalar(@n));
	ShardTest::sq($s2, 'ROLLBACK');
	($out, $err) = ShardTest::sq($s2, "SELECT count(*), count(DISTINCT n) FROM tw WHERE k = $k->[1]");
	is("$out|$err", '3000|3000|', 'the session goes on, on a new connection');
	$s2->quit;
}

note 'a write in a function, in a session where shardfdw is loaded by it';
{
	# The library is not preloaded: the first statement of a new session that
	# touches a foreign table from inside a function or DO loads it in the
	# middle of that statement.  The write is still not the whole
	# transaction: it must not commit on its shard alone.
	my @free = split /\n/, $coord->safe_psql('postgres', q{
SELECT g FROM generate_series(5000, 6000) g
 WHERE shardfdw.shard_for('t'::regclass, g) = 2 LIMIT 2});
	$coord->safe_psql('postgres', q{
CREATE FUNCTION ins_then_fail(int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO t VALUES ($1, 'half');
    RAISE EXCEPTION 'boom';
END $$});
	my ($rc, $out, $err) = $c->psql_timed("SELECT ins_then_fail($free[0])");
	like($err, qr/boom/, 'a function that writes, then fails (fresh session)');
	is($c->shard(2)->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $free[0]"), '0',
		'its write did not commit on the shard');
	($rc, $out, $err) = $c->psql_timed(
		"DO \$\$ BEGIN INSERT INTO t VALUES ($free[1], 'half'); RAISE EXCEPTION 'boom'; END \$\$");
	like($err, qr/boom/, 'a DO block that writes, then fails (fresh session)');
	is($c->shard(2)->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $free[1]"), '0',
		'its write did not commit on the shard');

	# A procedure (and a DO block) that loads the library, commits, writes
	# again and fails: the COMMIT inside it does not end the CALL, so the
	# write after it still belongs to a transaction that is more than it.
	my @more = split /\n/, $coord->safe_psql('postgres', q{
SELECT g FROM generate_series(6001, 8000) g
 WHERE shardfdw.shard_for('t'::regclass, g) = 2 LIMIT 4});
	$coord->safe_psql('postgres', q{
CREATE TABLE mid_local (id int);
CREATE PROCEDURE ins_commit_ins_fail(a int, b int) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO t VALUES (a, 'first');
    COMMIT;
    INSERT INTO t VALUES (b, 'second');
    INSERT INTO mid_local VALUES (b);
    RAISE EXCEPTION 'boom';
END $$});
	($rc, $out, $err) = $c->psql_timed("CALL ins_commit_ins_fail($more[0], $more[1])");
	like($err, qr/boom/, 'a procedure that writes, commits, writes, then fails (fresh session)');
	is($c->shard(2)->safe_psql('postgres',
			"SELECT string_agg(val, ',' ORDER BY id) FROM t WHERE id IN ($more[0], $more[1])"),
		'first', 'only its write before the COMMIT is on the shard');
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM mid_local'), '0',
		'its local write after the COMMIT is rolled back too');
	($rc, $out, $err) = $c->psql_timed(
		"DO \$\$ BEGIN INSERT INTO t VALUES ($more[2], 'first'); COMMIT; "
		  . "INSERT INTO t VALUES ($more[3], 'second'); INSERT INTO t VALUES ($more[3] + 100000, 'third'); "
		  . "END \$\$");
	is($rc, 0, 'a DO block that writes, commits and writes twice works (fresh session)')
	  or diag($err);
	is($c->shard(2)->safe_psql('postgres',
			"SELECT string_agg(val, ',' ORDER BY id) FROM t WHERE id IN ($more[2], $more[3])"),
		'first,second', 'both of its transactions are on the shard');
}

note 'a one-shard write that is not all of its transaction never commits alone';
{
	# In the extended protocol everything up to Sync is one implicit
	# transaction: a pipeline's INSERT is not alone when a local write came
	# before it or another statement comes after it.  Nor is an INSERT whose
	# VALUES wrote locally (here a row whose deferred trigger fails at
	# COMMIT).
	my @keys = split /\n/, $coord->safe_psql('postgres', q{
SELECT g FROM generate_series(8001, 9000) g
 WHERE shardfdw.shard_for('t'::regclass, g) = 2 LIMIT 4});
	$coord->safe_psql('postgres', q{
CREATE TABLE pl_local (x int);
CREATE FUNCTION dl_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'deferred boom';
END $$;
CREATE CONSTRAINT TRIGGER dl_fail AFTER INSERT ON pl_local
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.x = 99) EXECUTE FUNCTION dl_fail();
CREATE FUNCTION wl() RETURNS text VOLATILE LANGUAGE sql
  AS $$ INSERT INTO pl_local VALUES (99) RETURNING 'wrote'::text $$});
	my $pipeline = sub {
		my ($name, @sql) = @_;
		my $file = "$PostgreSQL::Test::Utils::tmp_check/$name.pgb";
		open my $fh, '>', $file or die "$file: $!";
		print $fh join("\n", '\startpipeline', @sql, '\endpipeline'), "\n";
		close $fh;
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'pgbench', '-n', '-t', '1', '-M', 'extended', '-f', $file,
				'-h', $coord->host, '-p', $coord->port, 'postgres' ],
			'>', \$out, '2>', \$err);
		return $err;
	};
	my $err = $pipeline->('pipe_before', 'INSERT INTO pl_local VALUES (1);',
		"INSERT INTO t VALUES ($keys[0], 'pipe');", 'SELECT 1/0;');
	like($err, qr/division by zero/, 'pipeline: a local write, the INSERT, then an error');
	is($c->shard(2)->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $keys[0]"), '0',
		'pipeline: the INSERT after a local write did not commit on its shard');
	$err = $pipeline->('pipe_after', "INSERT INTO t VALUES ($keys[1], 'pipe');", 'SELECT 1/0;');
	like($err, qr/division by zero/, 'pipeline: the INSERT, then an error');
	is($c->shard(2)->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $keys[1]"), '0',
		'pipeline: the INSERT before an error did not commit on its shard');
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM pl_local'), '0',
		'pipeline: nor did the local write');
	$err = $pipeline->('pipe_alone', "INSERT INTO t VALUES ($keys[2], 'pipe');");
	is($c->shard(2)->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $keys[2]"), '1',
		'pipeline: an INSERT alone before its Sync commits') or diag($err);
	my ($rc, $out);
	($rc, $out, $err) = $c->psql_timed("INSERT INTO t VALUES ($keys[3], wl())");
	like($err, qr/deferred boom/, 'an INSERT whose VALUES wrote locally, failing at COMMIT');
	is($c->shard(2)->safe_psql('postgres', "SELECT count(*) FROM t WHERE id = $keys[3]"), '0',
		'it did not commit on its shard');

	# a client's prepared INSERT (Bind, Describe, Execute and Sync at once)
	# is still one statement alone on its shard
	my $file = "$PostgreSQL::Test::Utils::tmp_check/ins_alone.pgb";
	open my $fh, '>', $file or die "$file: $!";
	print $fh "INSERT INTO t VALUES ($keys[3], 'alone');\n";
	close $fh;
	my $pos = -s $c->shard(2)->logfile;
	IPC::Run::run([ 'pgbench', '-n', '-t', '1', '-M', 'prepared', '-f', $file,
			'-h', $coord->host, '-p', $coord->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	my $log = slurp_file($c->shard(2)->logfile, $pos);
	like($log, qr/execute \S+: INSERT INTO public\.t/, 'pgbench -M prepared: the INSERT reached its shard')
	  or diag("$err\n$log");
	unlike($log, qr/START TRANSACTION|COMMIT/, 'pgbench -M prepared: alone, without a remote transaction')
	  or diag($log);
}

note 'writes by a trigger that logical replication fires: not a client statement';
{
	# The apply worker of a subscription runs an ENABLE ALWAYS trigger with
	# no portal: its two writes are one transaction, not statements alone
	# (before, the first committed on its shard at once, the second then
	# failed, and every retry of the apply failed on the first's key).
	my $pub = PostgreSQL::Test::Cluster->new('pub');
	$pub->init(allows_streaming => 'logical');
	$pub->start;
	$pub->safe_psql('postgres', q{
CREATE TABLE src (id int PRIMARY KEY);
CREATE PUBLICATION src_pub FOR TABLE src});
	$coord->safe_psql('postgres', q{
CREATE TABLE src (id int PRIMARY KEY);
CREATE FUNCTION src_to_t() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.t VALUES (NEW.id, 'replicated');
    INSERT INTO public.t VALUES (NEW.id + 1, 'replicated');
    RETURN NEW;
END $$;
CREATE TRIGGER src_to_t AFTER INSERT ON src FOR EACH ROW EXECUTE FUNCTION src_to_t();
ALTER TABLE src ENABLE ALWAYS TRIGGER src_to_t});
	my $pubconn = $pub->connstr . ' dbname=postgres';
	$coord->safe_psql('postgres', "CREATE SUBSCRIPTION src_sub CONNECTION '$pubconn' PUBLICATION src_pub");
	my $logpos = -s $coord->logfile;
	$pub->safe_psql('postgres', 'INSERT INTO src VALUES (900001)');
	ok($coord->poll_query_until('postgres', 'SELECT count(*) = 1 FROM src WHERE id = 900001'),
		'replication: the row reached the subscriber');
	is($coord->safe_psql('postgres',
			"SELECT string_agg(id || ':' || val, ',' ORDER BY id) FROM t WHERE id IN (900001, 900002)"),
		'900001:replicated,900002:replicated', 'replication: both writes of its trigger are on the shards, once');
	my $log = slurp_file($coord->logfile, $logpos);
	unlike($log, qr/committed on its shard alone|duplicate key/,
		'replication: the apply did not fail') or diag($log);
	$coord->safe_psql('postgres', 'DROP SUBSCRIPTION src_sub');
	$pub->stop;
}

note 'a prepared statement whose result type a remote ALTER changed';
{
	ShardTest::sq($s, q{SET plan_cache_mode = force_generic_plan;
PREPARE g(int) AS SELECT n, v FROM tb WHERE k = $1 AND n = 7});
	my ($out, $err, $st);
	($out, $err, $st) = logged($s, 1, "EXECUTE g($k->[1])") for 1 .. 2;
	is($out, '7|v7', 'the lookup');
	my $log = slurp_file($c->shard(1)->logfile);
	like($log, qr/execute shardfdw_s\d+: SELECT n, v FROM public\.tb/, 'it ran by name on the shard');
	$c->shard(1)->safe_psql('postgres', 'ALTER TABLE tb ALTER n TYPE bigint');
	($out, $err) = ShardTest::sq($s, "EXECUTE g($k->[1])");
	like($err, qr/cached plan must not change result type/, 'the next execution fails once')
	  or diag("out: $out");
	my $pos = -s $c->shard(1)->logfile;
	($out, $err) = ShardTest::sq($s, "EXECUTE g($k->[1])");
	is("$out|$err", '7|v7|', 'then the statement works again');
	$log = slurp_file($c->shard(1)->logfile, $pos);
	like($log, qr/execute <unnamed>: SELECT n, v FROM public\.tb/, 'sent unnamed') or diag($log);
	$c->shard(1)->safe_psql('postgres', 'ALTER TABLE tb ALTER n TYPE int');
	($out, $err) = ShardTest::sq($s, "EXECUTE g($k->[1]); DEALLOCATE g; RESET plan_cache_mode");
	is("$out|$err", '7|v7|', 'and after the type went back');
}

$s->quit;
done_testing();
