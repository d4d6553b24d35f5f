# t/015_deadlock.pl: the distributed deadlock detector.
#
# Two (or three) coordinator sessions lock rows on different shards in
# opposite orders.  No shard sees a cycle, so without the detector they
# would wait for each other forever; statement_timeout (60 s) is the
# backstop that makes such a failure visible instead of a hang.  The
# detector must cancel exactly one of them with 40P01 (the others go on
# and commit), leave a plain lock wait alone, and catch a backend that
# waits for itself through two servers.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $c = ShardTest->setup();
my $coord = $c->coord;
my $k = $c->key_per_shard;

# a new session with verbose errors (SQLSTATE shown) and a backstop
sub session
{
	my $s = $c->session;
	ShardTest::sq($s, '\set VERBOSITY verbose');
	ShardTest::sq($s, "SET statement_timeout = '60s'");
	return $s;
}

# wait until n tagged sessions of shard i wait for a lock
sub lock_waiters
{
	my ($i, $n) = @_;
	return defined ShardTest::poll_until($c->shard($i), q{
SELECT count(*) FROM pg_stat_activity
 WHERE wait_event_type = 'Lock' AND application_name LIKE 'shardfdw:%'}, $n, 30);
}

sub val_of
{
	my ($id) = @_;
	my $s = $coord->safe_psql('postgres', "SELECT shardfdw.shard_for('t'::regclass, $id)");
	return $c->shard($s)->safe_psql('postgres', "SELECT val FROM t WHERE id = $id");
}

# ---------------------------------------------------------------- the tag
{
	my $s = session();
	my ($pid) = ShardTest::sq($s, 'SELECT pg_backend_pid()');
	my $sysid = $coord->safe_psql('postgres',
		'SELECT system_identifier FROM pg_control_system()');
	ShardTest::sq($s, "SELECT count(*) FROM t WHERE id = $k->[2]");
	is($c->shard(2)->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'shardfdw:$sysid:$pid'"),
		'1', 'a shard connection is tagged shardfdw:<system identifier>:<pid>');
	$s->quit;
}

# ---------------------------------------------------------------- two sessions
note 'two sessions, two shards, opposite orders';
{
	my $a = session();
	my $b = session();
	ShardTest::sq($a, 'BEGIN');
	ShardTest::sq($a, "UPDATE t SET val = 'a' WHERE id = $k->[0]");
	ShardTest::sq($b, 'BEGIN');
	ShardTest::sq($b, "UPDATE t SET val = 'b' WHERE id = $k->[1]");
	my $t0 = time;
	ShardTest::send_async($a, "UPDATE t SET val = 'a' WHERE id = $k->[1];");
	ok(lock_waiters(1, '1'), 'session a waits on shard 1');
	ShardTest::send_async($b, "UPDATE t SET val = 'b' WHERE id = $k->[0];");
	my (undef, $ea) = ShardTest::wait_async($a);
	my (undef, $eb) = ShardTest::wait_async($b);
	note sprintf('the deadlock ended after %.1f s', time - $t0);
	my @victims = grep { $_->[1] =~ /ERROR:  40P01: distributed deadlock detected/ }
	  ([ 'a', $ea ], [ 'b', $eb ]);
	is(scalar @victims, 1, 'exactly one session gets 40P01 distributed deadlock detected')
	  or diag("a: $ea\nb: $eb");
	my $victim = @victims ? $victims[0][0] : '';
	my $verr = @victims ? $victims[0][1] : '';
	like($verr, qr/DETAIL:  shardfdw:\d+:\d+ waits for shardfdw:\d+:\d+ on shard p[01] of server "cluster"\.\nshardfdw:\d+:\d+ waits for shardfdw:\d+:\d+ on shard p[01] of server "cluster"\./,
		'the error details the cycle, edge by edge');
	my ($sa, $sb) = ($victim eq 'a') ? ('b', 'a') : ('a', 'b');
	my %sess = (a => $a, b => $b);
	unlike($victim eq 'a' ? $eb : $ea, qr/ERROR/, 'the other session\'s UPDATE succeeds');
	my (undef, $ce) = ShardTest::sq($sess{$sa}, 'COMMIT');
	is($ce, '', 'the survivor commits');
	ShardTest::sq($sess{$sb}, 'ROLLBACK');
	is(join(',', val_of($k->[0]), val_of($k->[1])), "$sa,$sa",
		'the survivor\'s writes are on both shards, the victim\'s on none');
	$a->quit;
	$b->quit;
}

# ---------------------------------------------------------------- three sessions
note 'three sessions, a cycle over three shards';
{
	my @s = map { session() } 0 .. 2;
	my @pid = map { (ShardTest::sq($_, 'SELECT pg_backend_pid()'))[0] } @s;
	# the victim is the member with the greatest tag (same system
	# identifier: the greatest pid, compared as text)
	my $v = (sort { "$pid[$b]" cmp "$pid[$a]" } 0 .. 2)[0];
	my $u = ($v + 2) % 3;    # waits for the victim
	my $w = ($v + 1) % 3;    # waits for u
	my @before = map { val_of($k->[$_]) } 0 .. 2;
	for my $i (0 .. 2)
	{
		ShardTest::sq($s[$i], 'BEGIN');
		ShardTest::sq($s[$i], "UPDATE t SET val = 's$i' WHERE id = $k->[$i]");
	}
	for my $i (0 .. 2)
	{
		my $next = ($i + 1) % 3;
		ShardTest::send_async($s[$i], "UPDATE t SET val = 's$i' WHERE id = $k->[$next];");
		ok(lock_waiters($next, '1'), "session $i waits on shard $next") if $i < 2;
	}
	my (undef, $ev) = ShardTest::wait_async($s[$v]);
	like($ev, qr/ERROR:  40P01: distributed deadlock detected/,
		'the session with the greatest tag gets 40P01');
	like($ev, qr/(waits for [^\n]*\n[^\n]*){2}waits for/,
		'the error details a cycle of three edges');
	my (undef, $eu) = ShardTest::wait_async($s[$u]);
	is($eu, '', 'the session that waited for the victim goes on');
	# (u rolls back: had it committed, w's remote REPEATABLE READ
	# transaction would fail to update the row u changed, 40001)
	ShardTest::sq($s[$u], 'ROLLBACK');
	my (undef, $ew) = ShardTest::wait_async($s[$w]);
	is($ew, '', 'and so does the last one');
	my (undef, $cw) = ShardTest::sq($s[$w], 'COMMIT');
	is($cw, '', 'the last one commits');
	ShardTest::sq($s[$v], 'ROLLBACK');
	my @want = @before;
	$want[$u] = "s$w";
	$want[$w] = "s$w";
	is(join(',', map { val_of($k->[$_]) } 0 .. 2), join(',', @want),
		'the committed writes are there, none of the victim\'s');
	$_->quit for @s;
}

# ---------------------------------------------------------------- no deadlock
note 'a plain lock wait is left alone';
{
	my $a = session();
	my $b = session();
	ShardTest::sq($a, 'BEGIN');
	ShardTest::sq($a, "UPDATE t SET val = 'wait a' WHERE id = $k->[3]");
	ShardTest::sq($b, 'BEGIN');
	ShardTest::sq($b, "UPDATE t SET val = 'wait b' WHERE id = $k->[0]");
	ShardTest::send_async($b, "UPDATE t SET val = 'wait b' WHERE id = $k->[3];");
	ok(lock_waiters(3, '1'), 'session b waits on shard 3 for session a');
	# several detector intervals (1 s) pass while b waits
	sleep 3;
	# (a rolls back: had it committed, b's remote REPEATABLE READ
	# transaction would fail with 40001, as with postgres_fdw)
	ShardTest::sq($a, 'ROLLBACK');
	my (undef, $eb) = ShardTest::wait_async($b);
	is($eb, '', 'session b, which only waited, gets no error');
	my (undef, $cb) = ShardTest::sq($b, 'COMMIT');
	is($cb, '', 'session b commits');
	is(val_of($k->[3]) . ',' . val_of($k->[0]), 'wait b,wait b', 'session b\'s writes are there');
	$a->quit;
	$b->quit;
}

# ---------------------------------------------------------------- detector off
note 'with the detector off, only statement_timeout ends the wait';
{
	my $a = session();
	my $b = session();
	ShardTest::sq($_, "SET shardfdw.deadlock_timeout = 0") for $a, $b;
	ShardTest::sq($_, "SET statement_timeout = '4s'") for $a, $b;
	ShardTest::sq($a, 'BEGIN');
	ShardTest::sq($a, "UPDATE t SET val = 'off a' WHERE id = $k->[0]");
	ShardTest::sq($b, 'BEGIN');
	ShardTest::sq($b, "UPDATE t SET val = 'off b' WHERE id = $k->[1]");
	ShardTest::send_async($a, "UPDATE t SET val = 'off a' WHERE id = $k->[1];");
	ok(lock_waiters(1, '1'), 'off: session a waits on shard 1');
	ShardTest::send_async($b, "UPDATE t SET val = 'off b' WHERE id = $k->[0];");
	my (undef, $ea) = ShardTest::wait_async($a);
	my (undef, $eb) = ShardTest::wait_async($b);
	like("$ea$eb", qr/57014: canceling statement due to statement timeout/,
		'off: the deadlock lasts until statement_timeout');
	unlike("$ea$eb", qr/40P01/, 'off: no 40P01');
	ShardTest::sq($_, 'ROLLBACK') for $a, $b;
	$a->quit;
	$b->quit;
}

# ---------------------------------------------------------------- a silent victim
note 'the victim\'s detector is off: the other member ends the cycle';
{
	my @s = map { session() } 0 .. 1;
	my @pid = map { (ShardTest::sq($_, 'SELECT pg_backend_pid()'))[0] } @s;
	my $v = "$pid[0]" gt "$pid[1]" ? 0 : 1;    # the victim by the rule
	my $o = 1 - $v;
	ShardTest::sq($s[$v], 'SET shardfdw.deadlock_timeout = 0');
	ShardTest::sq($s[$_], 'BEGIN') for 0, 1;
	ShardTest::sq($s[$_], "UPDATE t SET val = 'quiet $_' WHERE id = $k->[$_]") for 0, 1;
	ShardTest::send_async($s[0], "UPDATE t SET val = 'quiet 0' WHERE id = $k->[1];");
	ok(lock_waiters(1, '1'), 'quiet: session 0 waits on shard 1');
	ShardTest::send_async($s[1], "UPDATE t SET val = 'quiet 1' WHERE id = $k->[0];");
	my (undef, $eo) = ShardTest::wait_async($s[$o]);
	like($eo, qr/ERROR:  40P01: distributed deadlock detected/,
		'quiet: the other member cancels itself when the victim does not act');
	my (undef, $ev) = ShardTest::wait_async($s[$v]);
	is($ev, '', 'quiet: the chosen victim goes on');
	ShardTest::sq($s[$o], 'ROLLBACK');
	my (undef, $cv) = ShardTest::sq($s[$v], 'COMMIT');
	is($cv, '', 'quiet: and commits');
	is(val_of($k->[0]) . ',' . val_of($k->[1]), "quiet $v,quiet $v",
		'quiet: its writes are on both shards');
	$_->quit for @s;
}

# ---------------------------------------------------------------- itself
note 'a backend waiting for itself through two servers';
{
	my @p = map { "p$_ '" . $c->conninfo($_) . "'" } 0 .. 3;
	$coord->safe_psql('postgres', 'CREATE SERVER cluster2 FOREIGN DATA WRAPPER shardfdw OPTIONS ('
		  . join(', ', @p) . q{);
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster2;
CREATE FOREIGN TABLE t2 (id int, val text) SERVER cluster2
    OPTIONS (table_name 't', distribution_column 'id');});
	my $s = session();
	my $before = val_of($k->[2]);
	ShardTest::sq($s, 'BEGIN');
	ShardTest::sq($s, "UPDATE t SET val = 'self 1' WHERE id = $k->[2]");
	my ($out, $err) = ShardTest::sq($s, "UPDATE t2 SET val = 'self 2' WHERE id = $k->[2]");
	# (both servers reach the same shard p2: either may report the edge)
	like($err, qr/ERROR:  40P01: distributed deadlock detected\nDETAIL:  (shardfdw:\d+:\d+) waits for \1 on shard p2 of server "cluster2?"\./,
		'its second connection waiting for its first is a cycle of one');
	ShardTest::sq($s, 'ROLLBACK');
	is(val_of($k->[2]), $before, 'nothing of it is left');
	$s->quit;
}

done_testing();
