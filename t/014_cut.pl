# t/014_cut.pl: a shard's connection cut (by a TCP proxy, t/CutProxy.pm)
# at every step of the commit protocol, and during recovery and reads.
#
# Shard 1 (p1) is reached through the proxy.  A transaction adds 1 to the
# balance of one account on each of the 4 shards (a pushed-down UPDATE: 4
# writers, two-phase commit).  The connection to shard 1 is cut when the
# UPDATE, the PREPARE TRANSACTION, the abort's ROLLBACK PREPARED (another
# shard refused to prepare) or the COMMIT PREPARED passes: either the
# command is dropped (the shard never sees it) or it goes through and its
# answer is dropped (the shard did it, the coordinator never hears of it).
# Then shardfdw.recover_prepared_transactions() must leave no prepared
# transaction and no record, with the transaction on every shard or on
# none (as the client was told), and say what it did.  Recovery itself is
# cut at its COMMIT PREPARED (before it deletes the record): it reports the
# shard failed, keeps the record, and a second run finishes.  A cut during
# a read gives an error naming the shard, and the next statement works.  A
# cancel request to a port that drops connection attempts gives up at the
# abort deadline.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;
use CutProxy;
use PostgreSQL::Test::Utils;
use Test::More;

# The shards also listen on 127.0.0.1 (the proxy's target); initdb -A
# trust (PostgreSQL::Test::Cluster) lets host 127.0.0.1 in.
my $c = ShardTest->setup(
	coord_conf => "restart_after_crash = on\n",
	shard_conf => "listen_addresses = '127.0.0.1'\nlog_statement = 'all'\n",
	server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my $keys = $c->key_per_shard;
my $in = join ', ', @$keys;
my @S = (0 .. 3);

my $proxy = CutProxy->new(target_port => $c->shard(1)->port);
my $pport = $proxy->port;

$c->on_all_shards('CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL)');
$coord->safe_psql('postgres', qq{
ALTER SERVER cluster OPTIONS (SET p1 'host=127.0.0.1 port=$pport dbname=postgres');
CREATE FOREIGN TABLE acct (id int, bal int) SERVER cluster
  OPTIONS (distribution_column 'id')});
$coord->safe_psql('postgres', "INSERT INTO acct SELECT k, 100 FROM unnest(ARRAY[$in]) k");
$coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.recover_prepared_transactions()');
is($coord->safe_psql('postgres', 'SELECT count(*), sum(bal) FROM acct'), '4|400',
	'setup: the accounts are there, read through the proxy for shard 1');
cmp_ok($proxy->connections, '>', 0, 'setup: shard 1 is reached through the proxy');

# the balance of each shard's account, read on the shards directly
sub balances
{
	return join ',',
	  map { $c->shard($_)->safe_psql('postgres', 'SELECT coalesce(sum(bal), 0) FROM acct') } @S;
}

sub prepared_on
{
	my ($i) = @_;
	return $c->shard($i)->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts');
}

sub prepared_left
{
	my $n = 0;
	$n += prepared_on($_) for @S;
	return $n;
}

sub records
{
	return $coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.commit_records');
}

# Run recovery; returns (what it did as "action:count" pairs, "failed" for
# a shard that failed; the shards that failed; stderr).
sub recover
{
	my ($rc, $out, $err) = $c->psql_timed(q{
CREATE TEMP TABLE r AS SELECT * FROM shardfdw.recover_prepared_transactions();
SELECT coalesce((SELECT string_agg(action || ':' || n, ' ' ORDER BY action)
                   FROM (SELECT CASE WHEN action LIKE 'failed:%' THEN 'failed'
                                     ELSE action END AS action,
                                count(*) AS n
                           FROM r GROUP BY 1) x), ''),
       coalesce((SELECT string_agg(DISTINCT 'p' || shard, ',')
                   FROM r WHERE action LIKE 'failed:%'), '')});
	die "recovery failed: $err" if $rc != 0;
	note("recovery: $out; stderr: $err");
	my ($actions, $failed) = split /\|/, $out, -1;
	return ($actions // '', $failed // '', $err);
}

sub bumped
{
	my ($b) = @_;
	return join ',', map { $_ + 1 } split /,/, $b;
}

my $update = "UPDATE acct SET bal = bal + 1 WHERE id IN ($in)";

# Check the end state of a case: recovery did $actions, then nothing is
# prepared, no record is left, and the transaction is on every shard
# ($applied) or on none.
sub check_end
{
	my ($name, $before, $applied, $actions) = @_;
	my ($did, $failed) = recover();
	is($did, $actions, "$name: recovery did: " . ($actions eq '' ? 'nothing' : $actions));
	is($failed, '', "$name: recovery failed on no shard");
	is(prepared_left(), 0, "$name: no prepared transaction left on any shard");
	is(records(), '0', "$name: no commit record left");
	is(balances(), $applied ? bumped($before) : $before,
		"$name: the transaction is " . ($applied ? 'applied on every shard' : 'on no shard'));
	is((recover())[0], '', "$name: a second recovery has nothing to do");
	return;
}

my $lost_shard = qr/shard p1 \(host=127\.0\.0\.1, port=$pport\) of server "cluster"/;
my $lost = qr/lost connection to $lost_shard/;

# ---------------------------------------------------------------- the UPDATE
note 'the UPDATE cut';
{
	# A fresh connection's first batch (START TRANSACTION, UPDATE) is
	# retried once on a new connection when the old one is found dead:
	# nothing was committed, so the statement succeeds, applied once.
	for my $mode ('drop', 'reply')
	{
		my $name = "UPDATE cut ($mode), first batch of a connection";
		my $before = balances();
		$proxy->arm('UPDATE', mode => $mode);
		my ($rc, $out, $err) = $c->psql_timed("$update;");
		note("stderr: $err");
		is($proxy->fired, 1, "$name: the proxy cut the connection");
		is($rc, 0, "$name: the statement is retried on a new connection and succeeds")
		  or diag($err);
		check_end($name, $before, $rc == 0, $rc == 0 ? 'record removed:4' : '');
	}

	# The retry cut too: the statement fails, applied nowhere.
	{
		my $name = 'UPDATE cut (drop) twice, the retry too';
		my $before = balances();
		$proxy->arm('UPDATE', times => 2);
		my ($rc, $out, $err) = $c->psql_timed("$update;");
		note("stderr: $err");
		is($proxy->fired, 2, "$name: the proxy cut both connections");
		isnt($rc, 0, "$name: the statement fails");
		like($err, qr/ERROR:.*$lost/, "$name: the error names shard 1");
		check_end($name, $before, 0, '');
	}

	# In a transaction that already uses shard 1, the statement fails, and
	# the transaction is rolled back everywhere.
	for my $mode ('drop', 'reply')
	{
		my $name = "UPDATE cut ($mode) in a transaction";
		my $before = balances();
		my $s = $c->session;
		ShardTest::sq($s, 'BEGIN');
		my ($out) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
		is($out, '4', "$name: the transaction read every shard");
		$proxy->arm('UPDATE', mode => $mode);
		my ($o2, $err) = ShardTest::sq($s, "$update;");
		is($proxy->fired, 1, "$name: the proxy cut the connection");
		like($err, qr/ERROR:.*$lost/, "$name: the UPDATE fails, naming shard 1");
		($o2, $err) = ShardTest::sq($s, 'COMMIT');
		is($o2, '', "$name: COMMIT");
		($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
		is($out, '4', "$name: the session's next statement works");
		$s->quit;
		check_end($name, $before, 0, '');
	}
}

# ---------------------------------------------------------------- PREPARE
note 'PREPARE TRANSACTION cut';
{
	# dropped: shard 1 never prepares; the others are rolled back at once
	my $name = 'PREPARE cut (drop)';
	my $before = balances();
	$proxy->arm('PREPARE TRANSACTION');
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($proxy->fired, 1, "$name: the proxy cut the connection");
	isnt($rc, 0, "$name: the transaction fails");
	like($err, qr/ERROR:.*$lost/, "$name: the error names shard 1");
	is(prepared_left(), 0, "$name: the other shards' PREPAREs are rolled back at once");
	check_end($name, $before, 0, '');

	# answer lost: shard 1 prepared, the coordinator aborts; shard 1's
	# prepared transaction has no record and recovery rolls it back
	$name = 'PREPARE cut (reply)';
	$before = balances();
	$proxy->arm('PREPARE TRANSACTION', mode => 'reply');
	($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($proxy->fired, 1, "$name: the proxy cut the connection");
	isnt($rc, 0, "$name: the transaction fails");
	like($err, qr/ERROR:.*$lost/, "$name: the error names shard 1");
	is(prepared_on(1), '1', "$name: shard 1 prepared (the coordinator could not tell it)");
	is(prepared_left(), 1, "$name: the other shards' PREPAREs are rolled back at once");
	is(records(), '0', "$name: no record (the local transaction aborted)");
	check_end($name, $before, 0, 'rolled back:1');
}

# PREPARE cut while the other shards' PREPAREs are still running (a slow
# deferred trigger): the abort stops them (cancel) and rolls back what
# they prepared.  A WARNING that a prepared transaction is left for
# recovery must be true.
{
	my $name = 'PREPARE cut (drop), the other PREPAREs slow';
	for my $i (0, 2, 3)
	{
		$c->shard($i)->safe_psql('postgres', q{
CREATE FUNCTION slow_prepare() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(1);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_prepare AFTER UPDATE ON acct
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_prepare()});
	}
	my $before = balances();
	$proxy->arm('PREPARE TRANSACTION');
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($proxy->fired, 1, "$name: the proxy cut the connection");
	isnt($rc, 0, "$name: the transaction fails");
	like($err, qr/ERROR:.*$lost/, "$name: the error names shard 1");
	my @false;
	while ($err =~ /WARNING:  prepared transaction (\S+) on shard p(\d) .*is left for/g)
	{
		my ($gid, $i) = ($1, $2);
		push @false, "$gid on p$i"
		  if $c->shard($i)->safe_psql('postgres',
			"SELECT count(*) FROM pg_prepared_xacts WHERE gid = '$gid'") ne '1';
	}
	is(join(', ', @false), '',
		"$name: no WARNING says a transaction is left prepared where it is not");
	$c->shard($_)->safe_psql('postgres', 'DROP TRIGGER slow_prepare ON acct') for (0, 2, 3);
	check_end($name, $before, 0, '');
}

# ---------------------------------------------------------------- ROLLBACK PREPARED
note 'ROLLBACK PREPARED cut (another shard refuses to prepare)';
{
	# shard 2 refuses to PREPARE (a deferred constraint trigger); the abort
	# sends ROLLBACK PREPARED to the shards that prepared, shard 1's is cut
	$c->shard(2)->safe_psql('postgres', q{
CREATE FUNCTION refuse_big() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.bal > 100000 THEN RAISE EXCEPTION 'balance too big on shard 2'; END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER refuse_big AFTER UPDATE ON acct
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_big()});
	for my $mode ('drop', 'reply')
	{
		my $name = "ROLLBACK PREPARED cut ($mode)";
		my $before = balances();
		$proxy->arm('ROLLBACK PREPARED', mode => $mode);
		my ($rc, $out, $err) = $c->psql_timed(
			"UPDATE acct SET bal = bal + 1000000 WHERE id IN ($in);");
		note("stderr: $err");
		is($proxy->fired, 1, "$name: the proxy cut the connection");
		isnt($rc, 0, "$name: the transaction fails");
		like($err, qr/ERROR:  balance too big on shard 2/, "$name: with shard 2's error");
		if ($mode eq 'drop')
		{
			like($err, qr/WARNING:  prepared transaction shardfdw_\S+ on $lost_shard is left for shardfdw\.recover_prepared_transactions/,
				"$name: a WARNING names what is left for recovery");
		}
		is(prepared_left(), $mode eq 'drop' ? 1 : 0,
			"$name: " . ($mode eq 'drop' ? 'shard 1 still has it prepared, the others rolled back'
				: 'every shard rolled back'));
		is(records(), '0', "$name: no record (the local transaction aborted)");
		check_end($name, $before, 0, $mode eq 'drop' ? 'rolled back:1' : '');
	}
	$c->shard(2)->safe_psql('postgres', 'DROP TRIGGER refuse_big ON acct');
}

# ---------------------------------------------------------------- a shard only read
note 'the COMMIT of a shard only read cut (the others two-phase)';
for my $iso ('REPEATABLE READ', 'SERIALIZABLE')
{
	# Shard 1 is only read; shards 0, 2 and 3 are written and prepared;
	# then shard 1 gets its one-phase COMMIT, which is cut.  In REPEATABLE
	# READ it is not waited for: the transaction commits.  In SERIALIZABLE
	# it is: the transaction aborts after the PREPAREs, which are rolled
	# back.
	my $name = "COMMIT of a shard only read cut ($iso)";
	my $commits = $iso eq 'REPEATABLE READ';
	my $others = join ', ', @$keys[ 0, 2, 3 ];
	my $before = balances();
	my $s = $c->session;
	ShardTest::sq($s, "BEGIN ISOLATION LEVEL $iso");
	my ($out) = ShardTest::sq($s, "SELECT bal FROM acct WHERE id = $keys->[1]");
	is($out, (split /,/, $before)[1], "$name: shard 1 read");
	ShardTest::sq($s, "UPDATE acct SET bal = bal + 1 WHERE id IN ($others)");
	$proxy->arm('COMMIT TRANSACTION');
	my ($o2, $err) = ShardTest::sq($s, 'COMMIT');
	note("stderr: $err");
	# (in REPEATABLE READ the COMMIT is sent, not waited for)
	is($proxy->wait_fired(1), 1, "$name: the proxy cut the connection");
	if ($commits)
	{
		unlike($err, qr/ERROR:/, "$name: the transaction commits");
		is(records(), '3', "$name: the records of the 3 prepared shards are kept");
	}
	else
	{
		like($err, qr/ERROR:.*$lost/, "$name: the transaction fails, naming shard 1");
		is(records(), '0', "$name: no record");
	}
	is(prepared_left(), 0, "$name: nothing left prepared");
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', "$name: the session's next statement works");
	$s->quit;
	my @want = split /,/, $before;
	if ($commits)
	{
		$want[$_]++ for (0, 2, 3);
	}
	my ($did) = recover();
	is($did, $commits ? 'record removed:3' : '', "$name: recovery did: " . ($commits ? 'record removed:3' : 'nothing'));
	is(prepared_left(), 0, "$name: no prepared transaction left on any shard");
	is(records(), '0', "$name: no commit record left");
	is(balances(), join(',', @want),
		"$name: the transaction is " . ($commits ? 'applied on every shard it wrote' : 'on no shard'));
}

# ---------------------------------------------------------------- COMMIT PREPARED
note 'COMMIT PREPARED cut';
{
	# dropped: the transaction committed (decision made); shard 1 keeps its
	# prepared transaction until recovery commits it
	my $name = 'COMMIT PREPARED cut (drop)';
	my $before = balances();
	$proxy->arm('COMMIT PREPARED');
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($proxy->fired, 1, "$name: the proxy cut the connection");
	is($rc, 0, "$name: the transaction commits") or diag($err);
	unlike($err, qr/ERROR:/, "$name: no error");
	like($err, qr/WARNING:  prepared transaction shardfdw_\S+ on $lost_shard is left for shardfdw\.recover_prepared_transactions/,
		"$name: a WARNING names what is left for recovery");
	is(prepared_on(1), '1', "$name: shard 1 still has it prepared");
	is(prepared_left(), 1, "$name: the other shards committed");
	is(records(), '4', "$name: the records are kept");
	check_end($name, $before, 1, 'committed:1 record removed:3');

	# answer lost: shard 1 committed, the coordinator does not know
	$name = 'COMMIT PREPARED cut (reply)';
	$before = balances();
	$proxy->arm('COMMIT PREPARED', mode => 'reply');
	($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($proxy->fired, 1, "$name: the proxy cut the connection");
	is($rc, 0, "$name: the transaction commits") or diag($err);
	unlike($err, qr/ERROR:/, "$name: no error");
	is(prepared_left(), 0, "$name: every shard committed");
	is(records(), '4', "$name: the records are kept");
	check_end($name, $before, 1, 'record removed:4');
}

# ---------------------------------------------------------------- recovery
note 'recovery cut at its COMMIT PREPARED (before it deletes the record)';
for my $mode ('drop', 'reply')
{
	my $name = "recovery's COMMIT PREPARED cut ($mode)";
	my $before = balances();
	$proxy->arm('COMMIT PREPARED');
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($rc, 0, "$name: the transaction commits, leaving shard 1 prepared") or diag($err);
	is(prepared_on(1), '1', "$name: shard 1 has it prepared");

	$proxy->arm('COMMIT PREPARED', mode => $mode);
	my ($did, $failed, $rerr) = recover();
	is($proxy->fired, 1, "$name: the proxy cut recovery's connection");
	is($did, 'failed:1 record removed:3',
		"$name: recovery reports shard 1 failed, the others' records removed");
	is($failed, 'p1', "$name: the failed shard is p1");
	like($rerr, qr/WARNING:  could not recover the prepared transactions of shard p1 of server "cluster"/,
		"$name: a WARNING names shard 1");
	is(records(), '1', "$name: shard 1's record is kept");
	is(prepared_on(1), $mode eq 'drop' ? '1' : '0',
		"$name: shard 1 " . ($mode eq 'drop' ? 'still has it prepared' : 'committed it'));
	check_end($name, $before, 1, $mode eq 'drop' ? 'committed:1' : 'record removed:1');
}

# recovery's ROLLBACK PREPARED cut: shard 1 prepared, the answer lost,
# the transaction aborted; recovery's ROLLBACK PREPARED of it is cut
{
	my $name = "recovery's ROLLBACK PREPARED cut";
	my $before = balances();
	$proxy->arm('PREPARE TRANSACTION', mode => 'reply');
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	isnt($rc, 0, "$name: the transaction fails, leaving shard 1 prepared");
	is(prepared_on(1), '1', "$name: shard 1 has it prepared");
	$proxy->arm('ROLLBACK PREPARED');
	my ($did, $failed, $rerr) = recover();
	is($proxy->fired, 1, "$name: the proxy cut recovery's connection");
	is($did, 'failed:1', "$name: recovery reports shard 1 failed");
	is($failed, 'p1', "$name: the failed shard is p1");
	is(prepared_on(1), '1', "$name: shard 1 still has it prepared");
	check_end($name, $before, 0, 'rolled back:1');
}

# recovery that cannot even connect to shard 1
{
	my $name = 'recovery cut at connect';
	my $before = balances();
	$proxy->arm('COMMIT PREPARED');
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($rc, 0, "$name: the transaction commits, leaving shard 1 prepared") or diag($err);
	$proxy->arm_any;
	my ($did, $failed, $rerr) = recover();
	is($proxy->fired, 1, "$name: the proxy cut recovery's new connection");
	is($did, 'failed:1 record removed:3', "$name: recovery reports shard 1 failed");
	is($failed, 'p1', "$name: the failed shard is p1");
	is(records(), '1', "$name: shard 1's record is kept");
	check_end($name, $before, 1, 'committed:1');
}

# ---------------------------------------------------------------- connect
note 'a new connection cut at once';
{
	my $name = 'connection cut at its start';
	my $before = balances();
	$proxy->arm_any;
	my ($rc, $out, $err) = $c->psql_timed("$update;");
	note("stderr: $err");
	is($proxy->fired, 1, "$name: the proxy cut the connection");
	isnt($rc, 0, "$name: the transaction fails");
	like($err, qr/ERROR:.*shard p1 .*of server "cluster"/, "$name: the error names shard 1");
	check_end($name, $before, 0, '');
}

# ---------------------------------------------------------------- reads
note 'a read cut';
{
	my $s = $c->session;
	my ($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', 'read: the session reads every shard');

	# in a transaction: an error naming the shard; the next statement works
	ShardTest::sq($s, 'BEGIN');
	($out) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', 'read in a transaction: first read');
	my $conns = $proxy->connections;
	$proxy->arm('acct');
	($out, $err) = ShardTest::sq($s, 'SELECT sum(bal) FROM acct');
	is($proxy->fired, 1, 'read in a transaction: the proxy cut the connection');
	like($err, qr/ERROR:.*$lost/, 'read in a transaction: an error names shard 1');
	is($out, '', 'read in a transaction: no result');
	ShardTest::sq($s, 'ROLLBACK');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', 'read in a transaction: the next statement works');
	is($err, '', 'read in a transaction: without a message');
	cmp_ok($proxy->connections, '>', $conns, 'read in a transaction: on a new connection');

	# a read alone: the batch that begins its remote transaction is retried
	# once on a new connection when the old one is found dead
	$proxy->arm('acct');
	($out, $err) = ShardTest::sq($s, "SELECT bal FROM acct WHERE id = $keys->[1]");
	is($proxy->fired, 1, 'single-shard read: the proxy cut the connection');
	my $bal1 = $c->shard(1)->safe_psql('postgres', 'SELECT bal FROM acct');
	is($out, $bal1, 'single-shard read: retried on a new connection (it began a remote transaction): the right balance');
	is($err, '', 'single-shard read: no message');
	($out, $err) = ShardTest::sq($s, "SELECT bal FROM acct WHERE id = $keys->[1]");
	is($out, $bal1, 'single-shard read: the next statement works');

	$proxy->arm('acct');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($proxy->fired, 1, 'multi-shard read: the proxy cut the connection');
	is($out, '4', 'multi-shard read: retried on a new connection: the right count');
	is($err, '', 'multi-shard read: no message');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', 'multi-shard read: the next statement works');
	$s->quit;
}

# ---------------------------------------------------------------- cancel
note 'a cancel request to a host that drops the connection attempt';
{
	# A statement cancelled while shard 1 runs its query: the cancel request
	# needs a new connection, and the proxy's port now drops connection
	# attempts (as a host behind a partition does).  libpq 15's PQcancel
	# would wait in connect() for the kernel's SYN retries (about two
	# minutes); shardfdw gives up at its abort deadline (30 s), warns and
	# drops the connection.
	# (shard 2, reached directly, is as slow: its cancel works at once)
	$c->shard($_)->safe_psql('postgres',
		'CREATE VIEW slow AS SELECT id, bal FROM acct, pg_sleep(40) AS z') for (1, 2);
	$coord->safe_psql('postgres', qq{
CREATE FOREIGN TABLE slow (id int, bal int) SERVER cluster
  OPTIONS (distribution_column 'id')});
	my $s = $c->session;
	my ($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', 'cancel: the session reaches shard 1 through the proxy');
	ok($proxy->blackhole(1), 'cancel: the proxy drops new connection attempts');
	my $conns = $proxy->connections;
	ShardTest::sq($s, "SET statement_timeout = '1s'");
	my $secs;
	($out, $err, $secs) = ShardTest::sq($s, "SELECT * FROM slow WHERE id IN ($keys->[1], $keys->[2])");
	note("stderr: $err; $secs s");
	like($err, qr/ERROR:  canceling statement due to statement timeout/,
		'cancel: the statement is cancelled');
	like($err, qr/WARNING:  could not send cancel request to shard p1 .*: timed out/,
		'cancel: a warning says the cancel request to shard 1 timed out');
	cmp_ok($secs, '<', 90,
		'cancel: the cancel request gave up at the abort deadline, not after the kernel\'s SYN retries');
	unlike($err, qr/cancel request to shard p2/, 'cancel: the request to shard 2 went through');
	($out) = ShardTest::sq($s, "SELECT string_agg(shard::text, ',' ORDER BY shard) FROM shardfdw.connections() WHERE server_name = 'cluster'");
	is($out, '0,2,3',
		'cancel: shard 2, whose query ended while shard 1\'s request used up the deadline, keeps its connection; shard 1\'s is closed');
	ok($proxy->blackhole(0), 'cancel: the proxy accepts again');
	ShardTest::sq($s, 'RESET statement_timeout');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM acct');
	is($out, '4', 'cancel: the next statement works');
	cmp_ok($proxy->connections, '>', $conns, 'cancel: on a new connection');
	$s->quit;
}

is(prepared_left(), 0, 'the end: no prepared transaction on any shard');
is(records(), '0', 'the end: no commit record');
$proxy->stop;

done_testing();
