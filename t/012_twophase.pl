# t/012_twophase.pl: two-phase commit across shards, with failures injected
# at every step of the protocol.
#
# A transaction adds 1 to the balance of one account on each of the 4
# shards (a pushed-down UPDATE: 4 writers, so two-phase commit).  The
# coordinator backend is killed (SIGKILL, through the test-only GUC
# shardfdw.test_fail_point) before PREPARE (the decision records written,
# not committed), between the PREPAREs, after them, before the COMMIT
# PREPAREDs (the local transaction committed) and between them; or the
# statement is paused at each of these steps while a shard is stopped
# (between the PREPAREs / COMMIT PREPAREDs: the shard already handled, or
# one not yet).  A connection cut at each step is t/014_cut.pl.  After the
# restart, shardfdw.recover_prepared_transactions() must leave no prepared
# transaction and no record, with the transaction applied on every shard
# (it committed locally) or on none (it did not), and say what it did.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = ShardTest->setup(
	coord_conf => "restart_after_crash = on\n",
	server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my $keys = $c->key_per_shard;
my $in = join ', ', @$keys;
my @S = (0 .. 3);

$c->on_all_shards('CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL)');
$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE acct (id int, bal int) SERVER cluster
  OPTIONS (distribution_column 'id')});
$coord->safe_psql('postgres', "INSERT INTO acct SELECT k, 100 FROM unnest(ARRAY[$in]) k");
# (that INSERT was two-phase too: clear its records)
$coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.recover_prepared_transactions()');

# the balance of each shard's account, "b0,b1,b2,b3"
sub balances
{
	return join ',',
	  map { $c->shard($_)->safe_psql('postgres', 'SELECT coalesce(sum(bal), 0) FROM acct') } @S;
}

sub prepared_left
{
	my $n = 0;
	$n += $c->shard($_)->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') for @S;
	return $n;
}

sub records
{
	return $coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.commit_records');
}

# what recovery did: "action:count" pairs
sub recover
{
	my $out = $coord->safe_psql('postgres', q{
SELECT string_agg(action || ':' || n, ' ' ORDER BY action)
  FROM (SELECT action, count(*) AS n
          FROM shardfdw.recover_prepared_transactions() GROUP BY action) x});
	return $out;
}

sub wait_coord_up
{
	for (1 .. 600)
	{
		# (psql may exit before IPC::Run has written its input: EPIPE)
		return 1 if eval { $coord->psql('postgres', 'SELECT 1') == 0 };
		usleep(100_000);
	}
	return 0;
}

# wait (up to 30 s) until no prepared transaction and no record is left
sub wait_resolved
{
	for (1 .. 300)
	{
		return 1 if prepared_left() == 0 && records() eq '0';
		usleep(100_000);
	}
	return 0;
}

sub bumped
{
	my ($b) = @_;
	return join ',', map { $_ + 1 } split /,/, $b;
}

# ---------------------------------------------------------------- crashes
note 'the coordinator killed at each step';
for my $case (
	[ 'before_prepare',          0, '' ],
	[ 'between_prepares',        0, 'rolled back:1' ],
	[ 'after_prepares',          0, 'rolled back:4' ],
	[ 'before_commit_prepared',  1, 'committed:4' ],
	[ 'between_commit_prepared', 1, 'committed:3 record removed:1' ])
{
	my ($point, $applied, $actions) = @$case;
	my $before = balances();
	my ($rc, $out, $err) = $c->psql_timed(
		"SET shardfdw.test_fail_point = '$point:crash';\n"
		  . "UPDATE acct SET bal = bal + 1 WHERE id IN ($in);");
	isnt($rc, 0, "$point: the coordinator backend died in the statement");
	ok(wait_coord_up(), "$point: the coordinator is back after crash recovery");
	is(recover(), $actions, "$point: recovery did: " . ($actions eq '' ? 'nothing' : $actions));
	is(prepared_left(), 0, "$point: no prepared transaction left on any shard");
	is(records(), '0', "$point: no commit record left");
	is(balances(), $applied ? bumped($before) : $before,
		"$point: the transaction is " . ($applied ? 'applied on every shard' : 'on no shard'));
}

# ---------------------------------------------------------------- a shard stopped
note 'a shard stopped at a step';
my $logfile = $coord->logfile;
my $flag = $PostgreSQL::Test::Utils::tmp_check . '/pause_flag';

# Run the UPDATE paused at point; stop a shard there ($pick: its number,
# default 1, or a sub called at the pause that returns it); let it go on.
# Returns the statement's stderr (and, in list context, the shard stopped).
sub stop_shard_at
{
	my ($point, $pick) = @_;
	$pick //= 1;
	my $s = $c->session;
	ShardTest::sq($s, "SET shardfdw.test_fail_point = '$point:pause:$flag'");
	open my $fh, '>', $flag or die $!;
	close $fh;
	my $pos = -s $logfile;
	ShardTest::send_async($s, "UPDATE acct SET bal = bal + 1 WHERE id IN ($in);");
	my $paused = 0;
	for (1 .. 600)
	{
		if (slurp_file($logfile, $pos) =~ /test fail point \Q$point\E: pausing/)
		{
			$paused = 1;
			last;
		}
		usleep(50_000);
	}
	ok($paused, "$point: the statement paused");
	my $victim = ref $pick ? $pick->() : $pick;
	$c->shard($victim)->stop('immediate');
	unlink $flag;
	my ($out, $err) = ShardTest::wait_async($s);
	$s->quit;
	$c->shard($victim)->start;
	return wantarray ? ($err, $victim) : $err;
}

# At a pause: the shards that have $n prepared transactions (0 or 1),
# checking that $expect shards have one.
sub shards_with_prepared
{
	my ($name, $n, $expect) = @_;
	my @p = map { $c->shard($_)->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') } @S;
	is(scalar(grep { $_ eq '1' } @p), $expect,
		"$name: $expect shard(s) with a prepared transaction at the pause");
	my @which = grep { $p[$_] eq $n } @S;
	return @which ? $which[0] : 1;
}

# A shard stopped at every step.  Which shard the protocol handles first
# (between_prepares: the one prepared alone; between_commit_prepared: the
# one committed alone) is the connection cache's order: it is read on the
# shards at the pause, and each case picks its shard by it.
for my $case (
	# [ name, point, shard to stop, commits?, recovery does ]
	[ 'before_prepare, shard 1 stopped', 'before_prepare', 1, 0, '' ],
	[ 'between_prepares, the prepared shard stopped', 'between_prepares',
	  sub { shards_with_prepared('between_prepares', 1, 1) }, 1,
	  'committed:1 record removed:3' ],
	[ 'between_prepares, an unprepared shard stopped', 'between_prepares',
	  sub { shards_with_prepared('between_prepares', 0, 1) }, 0, '' ],
	[ 'before_commit_prepared, shard 1 stopped', 'before_commit_prepared', 1, 1,
	  'committed:1 record removed:3' ],
	[ 'between_commit_prepared, the committed shard stopped', 'between_commit_prepared',
	  sub { shards_with_prepared('between_commit_prepared', 0, 3) }, 1,
	  'record removed:4' ],
	[ 'between_commit_prepared, an uncommitted shard stopped', 'between_commit_prepared',
	  sub { shards_with_prepared('between_commit_prepared', 1, 3) }, 1,
	  'committed:1 record removed:3' ])
{
	my ($name, $point, $pick, $commits, $actions) = @$case;
	my $left = $actions =~ /committed:1/ ? 1 : 0;    # on the stopped shard
	my $before = balances();
	my ($err, $victim) = stop_shard_at($point, $pick);
	if ($commits)
	{
		unlike($err, qr/ERROR:/, "$name: the transaction commits") or diag($err);
	}
	else
	{
		like($err, qr/ERROR:/, "$name: the transaction fails");
	}
	if ($left)
	{
		like($err, qr/WARNING:.*shard p$victim .*left for shardfdw.recover_prepared_transactions/,
			"$name: a WARNING says what is left for recovery on shard $victim");
	}
	else
	{
		# (when the abort's cancel catches a shard's PREPARE TRANSACTION
		# as it starts, that shard's transaction is left failed: the
		# abort rolls it back before ROLLBACK PREPARED, which then finds
		# nothing, and no WARNING is due)
		unlike($err, qr/left for shardfdw.recover_prepared_transactions/,
			"$name: no WARNING of something left for recovery");
	}
	is(prepared_left(), $left,
		"$name: " . ($left ? "shard $victim still has it prepared after its restart"
			: 'nothing prepared on any shard'));
	is(records(), $commits ? '4' : '0',
		"$name: " . ($commits ? 'the records are kept' : 'no record'));
	is(recover(), $actions, "$name: recovery did: " . ($actions eq '' ? 'nothing' : $actions));
	is(prepared_left(), 0, "$name: no prepared transaction left on any shard");
	is(records(), '0', "$name: no commit record left");
	is(balances(), $commits ? bumped($before) : $before,
		"$name: the transaction is " . ($commits ? 'applied on every shard' : 'on no shard'));
}

{
	# after the PREPAREs: the transaction commits; shard 1 keeps its
	# prepared transaction until recovery commits it
	my $before = balances();
	my $err = stop_shard_at('after_prepares');
	unlike($err, qr/ERROR:/, 'after_prepares, shard 1 stopped: the transaction commits')
	  or diag($err);
	like($err, qr/WARNING:.*left for shardfdw.recover_prepared_transactions/,
		'after_prepares, shard 1 stopped: a WARNING says what is left for recovery');
	is($c->shard(1)->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '1',
		'after_prepares, shard 1 stopped: shard 1 still has it prepared after its restart');
	is(records(), '4', 'after_prepares, shard 1 stopped: the records are kept');

	# recovery killed after its COMMIT PREPARED, before deleting the record
	my ($rc, $out, $err2) = $c->psql_timed(
		"SET shardfdw.test_fail_point = 'before_record_delete:crash';\n"
		  . 'SELECT * FROM shardfdw.recover_prepared_transactions();');
	isnt($rc, 0, 'recovery killed before deleting a record');
	ok(wait_coord_up(), 'the coordinator is back');
	is(recover(), 'record removed:4', 'recovery again: the committed records are removed');
	is(prepared_left(), 0, 'after_prepares, shard 1 stopped: nothing prepared at the end');
	is(records(), '0', 'after_prepares, shard 1 stopped: no record at the end');
	is(balances(), bumped($before), 'after_prepares, shard 1 stopped: applied on every shard');
}

# ---------------------------------------------------------------- a shard down
note 'recovery with a shard down';
{
	# shard 2 down: it is reported failed, the others are done
	my $before = balances();
	$c->shard(2)->stop('immediate');
	my ($rc, $out, $err) = $c->psql_timed(
		q{SELECT shard, split_part(action, ':', 1) FROM shardfdw.recover_prepared_transactions()});
	is($rc, 0, 'recovery with shard 2 down completes');
	is($out, '2|failed', 'recovery with shard 2 down: shard 2 is reported failed');
	like($err, qr/WARNING:  could not recover the prepared transactions of shard p2/,
		'recovery with shard 2 down: a WARNING names the shard');
	$c->shard(2)->start;
	is(recover(), '', 'recovery with shard 2 back: nothing to do');
	is(balances(), $before, 'recovery with a shard down changed nothing');
}

# ---------------------------------------------------------------- one-phase
note 'one-phase cases';
{
	my $before = balances();
	$coord->safe_psql('postgres', "UPDATE acct SET bal = bal + 1 WHERE id = $keys->[2]");
	is(records(), '0', 'one shard written: no record (one-phase)');
	$coord->safe_psql('postgres', 'ALTER SERVER cluster OPTIONS (ADD two_phase_commit \'false\')');
	$coord->safe_psql('postgres', "UPDATE acct SET bal = bal + 1 WHERE id IN ($in)");
	is(records(), '0', 'two_phase_commit false: no record (one-phase)');
	is(prepared_left(), 0, 'two_phase_commit false: nothing prepared');
	$coord->safe_psql('postgres', 'ALTER SERVER cluster OPTIONS (DROP two_phase_commit)');
	my @b = split /,/, $before;
	$b[$_]++ for @S;
	$b[2]++;
	is(balances(), join(',', @b), 'one-phase writes applied');
}

# ---------------------------------------------------------------- the worker
note 'the recovery background worker';
{
	$coord->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'shardfdw'
shardfdw.recovery_databases = 'postgres'
shardfdw.recovery_interval = 1
});
	$coord->restart;
	ok(defined ShardTest::poll_until($coord,
			q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'shardfdw recovery'},
			'1', 30),
		'worker: one recovery worker runs for database postgres');

	# the coordinator killed after its local commit: the worker, restarted
	# with the server, commits the prepared transactions
	my $before = balances();
	my ($rc, $out, $err) = $c->psql_timed(
		"SET shardfdw.test_fail_point = 'before_commit_prepared:crash';\n"
		  . "UPDATE acct SET bal = bal + 1 WHERE id IN ($in);");
	isnt($rc, 0, 'worker: the coordinator backend died after its local commit');
	ok(wait_coord_up(), 'worker: the coordinator is back');
	my $done = wait_resolved();
	ok($done, 'worker: no prepared transaction and no record left, without a manual run');
	is(balances(), bumped($before), 'worker: the transaction is applied on every shard');

	# a COMMIT PREPARED that failed (shard 1 stopped) is retried once the
	# shard is back
	$before = balances();
	$err = stop_shard_at('after_prepares');
	like($err, qr/WARNING:.*left for shardfdw.recover_prepared_transactions/,
		'worker: a COMMIT PREPARED failed on shard 1');
	$done = wait_resolved();
	ok($done, 'worker: shard 1\'s prepared transaction committed once it is back');
	is(balances(), bumped($before), 'worker: applied on every shard');
}

done_testing();
