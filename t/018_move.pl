# t/018_move.pl: shardfdw.move_shard moves one shard to a new server online.
#
# The shards run with wal_level = logical; three more servers join: new1
# and new2 (move targets, logical too, so that a moved shard can move
# again) and plain (wal_level = replica, the source of a move that must be
# refused).  Besides t (ShardTest), the cluster has move_items (primary
# key, NOT NULL, UNIQUE, CHECK, an index: the new server's copy must have
# the same shape) and ref (replicated).  Every write to t through the
# coordinator also goes, in the same local transaction, to the local table
# twin: shardfdw commits atomically with the local transaction, so t (read
# through the coordinator) must equal twin at every check.
#
#  1. Shard 1 moves to new1 under a read/write load: 4 forked clients, each
#     a persistent coordinator session, run transactions that read, then
#     insert / update / delete random keys over all shards in t and twin
#     (per-key advisory locks taken in key order serialize clients on a
#     key, so the only errors the load may see are those of the move:
#     40001, or one that says the shard moved).  Afterwards: p1 names
#     new1, t equals twin, new1 holds exactly twin's shard-1 rows (and only
#     shard-1 rows of t and move_items), the created tables have the old
#     shard's shape, nothing is left of the replication (publication, slots,
#     subscription), and reads and writes of shard-1 keys go to new1, also
#     from a session whose connection was cached before the move.  The
#     same CALL once more does nothing.  Then, under a new load, shard 0
#     moves to new1 and shard 1 from new1 on to new2, back to back.
#  2. Shard 2 moves to new2, paused (move_after_lock:pause) while it holds
#     the switch lock: a write to shards 0 and 3 and a read of a shard-2 key
#     complete, a write to a shard-2 key waits on the coordinator for the
#     move's lock and completes on new2 once the move is let go; a
#     transaction that read shard 2 before the switch and writes to it
#     after gets 40001; one that wrote shard 0 before and writes shard 2
#     after commits (on shard 0 and new2).
#  3. Shard 3 is moved again and again between new1 and new2 (a new
#     database each time) with shardfdw.test_fail_point at every step of
#     the move, ':error' and ':crash' (the coordinator restarts; what the
#     crash left behind is checked to be there): the CALL fails, p3 stays
#     (or, after the switch committed, is already the new place), reads
#     and writes go to the authoritative place, and the same CALL run
#     again completes the move and leaves nothing behind.  Then a writer
#     that holds shard 3 past shardfdw.move_switch_timeout makes the move
#     fail and change nothing.  Then shard 2 moves while a two-phase
#     transaction (shards 2 and 0), committed locally, is still prepared
#     on it (coordinator killed before COMMIT PREPARED): the move must not
#     hang until statement_timeout, and after recovery (and, if the move
#     refused, the same CALL again) nothing is left prepared anywhere and
#     t equals twin.  The same when such a transaction becomes in doubt on
#     shard 3's old place during its move (after the initial copy; its
#     COMMIT PREPARED there fails): its part must reach the new place.
#  4. Bad input and prerequisites: CALL in a transaction block (25001),
#     a shard number out of range, a server that is not shardfdw's, an old
#     shard without wal_level = logical (nothing is created anywhere), a
#     non-empty table on the new server (named in the error; once emptied
#     the same CALL completes the move), an unreachable new server.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;

# helpers shared with the other move/split test
*place = \&ShardTest::place;
*new_place = \&ShardTest::new_place;
*touch = \&ShardTest::touch;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use POSIX ();

# forked load clients, killed (with their psql) in END whatever happens
my $parent_pid = $$;
my @kids;

END
{
	if (defined $parent_pid && $$ == $parent_pid)
	{
		for my $pid (@kids)
		{
			kill 'KILL', -$pid;
			kill 'KILL', $pid;
		}
		waitpid($_, 0) for @kids;
	}
}

my $REPL = "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n";
my $c = ShardTest->setup(
	shard_conf => $REPL . "max_connections = 40\n",
	coord_conf => "restart_after_crash = on\nmax_connections = 40\n",
	server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my $tmp = $PostgreSQL::Test::Utils::tmp_check;

sub extra_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"max_connections = 40\nshared_buffers = 16MB\nfsync = off\n"
		  . "max_prepared_transactions = 10\n" . $conf);
	$node->start;
	return $node;
}
my $TARGET_CONF = $REPL . "wal_retrieve_retry_interval = '500ms'\n";
my $new1 = extra_node('new1', $TARGET_CONF);
my $new2 = extra_node('new2', $TARGET_CONF);
my $plain = extra_node('plain', "wal_level = replica\nmax_wal_senders = 10\n");

# ---------------------------------------------------------------- helpers


sub on
{
	my ($p, $sql) = @_;
	return $p->{node}->safe_psql($p->{db}, $sql);
}


# where each shard of server cluster lives now
my @place = map { place($c->shard($_), 'postgres') } 0 .. 3;

# the pN option of a server, as the catalog has it
sub popt
{
	my ($i, $server) = @_;
	$server //= 'cluster';
	return $coord->safe_psql('postgres', qq{
SELECT option_value FROM pg_options_to_table(
         (SELECT srvoptions FROM pg_foreign_server WHERE srvname = '$server'))
 WHERE option_name = 'p$i'});
}

# "<count> rows, md5 <...>" of a table (or a filtered one): compares
# contents across servers (a row as text: (id,val))
sub content_sql
{
	my ($from, $where) = @_;
	$where //= 'true';
	return "SELECT count(*) || ' rows, md5 ' || "
	  . "coalesce(md5(string_agg(x::text, ',' ORDER BY x.id)), '-') "
	  . "FROM $from x WHERE $where";
}

sub twin_content
{
	my ($i) = @_;
	return $coord->safe_psql('postgres',
		content_sql('twin', "shardfdw.shard_for('t'::regclass, x.id) = $i"));
}

# t through the coordinator equals twin
sub twin_check
{
	my ($label) = @_;
	my $r = $coord->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT id, val FROM t EXCEPT SELECT id, val FROM twin) a)
       || ' ' ||
       (SELECT count(*) FROM (SELECT id, val FROM twin EXCEPT SELECT id, val FROM t) b)
       || ' ' || (SELECT count(*) FROM t) || ' ' || (SELECT count(*) FROM twin)});
	my ($a, $b, $nt, $ntw) = split / /, $r;
	is($a, '0', "$label: every row of t (through the coordinator) is in twin");
	is($b, '0', "$label: every row of twin is in t");
	is($nt, $ntw, "$label: t and twin have as many rows ($ntw)");
	return;
}

# the table t at place p holds exactly twin's rows of shard i
sub shard_content
{
	my ($label, $i, $p) = @_;
	is(on($p, content_sql('t')), twin_content($i),
		"$label: t on $p->{name} holds exactly twin's rows of shard $i");
	return;
}

# what is left of a move's replication from src to dst
sub leftovers
{
	my ($src, $dst) = @_;
	return sprintf('publications %s, slots at the old place %s, subscriptions %s, '
		  . 'slots at the new place %s',
		on($src, 'SELECT count(*) FROM pg_publication'),
		$src->{node}->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
		$dst->{node}->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription'),
		$dst->{node}->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'));
}
my $NOTHING_LEFT = 'publications 0, slots at the old place 0, subscriptions 0, '
  . 'slots at the new place 0';

# CALL shardfdw.move_shard on the coordinator: (exit code, stdout, stderr)
sub call_move
{
	my ($server, $shard, $conninfo, %o) = @_;
	my $sql = "\\set VERBOSITY verbose\nSET statement_timeout = '"
	  . ($o{timeout} // '150s') . "';\n";
	$sql .= "SET shardfdw.test_fail_point = '$o{fail}';\n" if $o{fail};
	$sql .= "SET shardfdw.move_switch_timeout = '$o{switch_timeout}';\n"
	  if $o{switch_timeout};
	$sql .= "CALL shardfdw.move_shard('$server', $shard, '$conninfo');\n";
	return $c->psql_timed($sql);
}

# SQL on the coordinator (errors verbose, 20 s at most)
sub coord_sql
{
	my ($sql) = @_;
	return $c->psql_timed("\\set VERBOSITY verbose\nSET statement_timeout = '20s';\n$sql");
}

sub set_both
{
	my ($k, $v) = @_;
	return coord_sql("BEGIN;\nUPDATE t SET val = '$v' WHERE id = $k;\n"
		  . "UPDATE twin SET val = '$v' WHERE id = $k;\nCOMMIT;");
}

sub insert_both
{
	my ($k, $v) = @_;
	return coord_sql("BEGIN;\nINSERT INTO t VALUES ($k, '$v');\n"
		  . "INSERT INTO twin VALUES ($k, '$v');\nCOMMIT;");
}

# a key of shard i that has a row
sub key_of
{
	my ($i) = @_;
	return $coord->safe_psql('postgres',
		"SELECT min(id) FROM twin WHERE shardfdw.shard_for('t'::regclass, id) = $i");
}

# a key of shard i not used yet
my $next_new = 100000;

sub new_key
{
	my ($i) = @_;
	my $k = $coord->safe_psql('postgres', qq{
SELECT min(g) FROM generate_series($next_new, $next_new + 1000) g
 WHERE shardfdw.shard_for('t'::regclass, g) = $i});
	$next_new = $k + 1;
	return $k;
}

# Reads and writes of shard i's keys go to place p (and nowhere else
# checked here): an update and an insert through the coordinator (with
# twin), found at p, and a read through the coordinator.
sub check_lands_on
{
	my ($label, $i, $p) = @_;
	my $k = key_of($i);
	my $v = "written after $label";
	my ($rc, $out, $err) = set_both($k, $v);
	is($rc, 0, "$label: an update of a shard-$i key succeeds") or diag($err);
	is(on($p, "SELECT val FROM t WHERE id = $k"), $v,
		"$label: the update is on $p->{name}");
	my $kn = new_key($i);
	($rc, $out, $err) = insert_both($kn, $v);
	is($rc, 0, "$label: an insert of a new shard-$i key succeeds") or diag($err);
	is(on($p, "SELECT count(*) FROM t WHERE id = $kn"), '1',
		"$label: the insert is on $p->{name}");
	($rc, $out, $err) = coord_sql("SELECT val FROM t WHERE id = $k");
	is($out, $v, "$label: a read of the shard-$i key through the coordinator gives the new value")
	  or diag($err);
	return;
}

# the columns, constraints and indexes of a table at place p (names of
# constraints and indexes left out)
sub shape
{
	my ($p, $tbl) = @_;
	return on($p, qq{
SELECT (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod)
                          || CASE WHEN attnotnull THEN ' not null' ELSE '' END,
                          ', ' ORDER BY attnum)
          FROM pg_attribute
         WHERE attrelid = '$tbl'::regclass AND attnum > 0 AND NOT attisdropped)
       || ' | ' ||
       coalesce((SELECT string_agg(pg_get_constraintdef(oid), ', '
                                   ORDER BY pg_get_constraintdef(oid))
                   FROM pg_constraint WHERE conrelid = '$tbl'::regclass), '')
       || ' | ' ||
       coalesce((SELECT string_agg(d, ', ' ORDER BY d)
                   FROM (SELECT regexp_replace(pg_get_indexdef(indexrelid),
                                               '^(CREATE (UNIQUE )?INDEX )\\S+ ', '\\1') AS d
                           FROM pg_index WHERE indrelid = '$tbl'::regclass) i), '')});
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

# wait until the coordinator's log, from offset pos, matches re
sub wait_log
{
	my ($pos, $re, $timeout) = @_;
	my $t0 = time;
	while (time - $t0 < $timeout)
	{
		return 1 if slurp_file($coord->logfile, $pos) =~ $re;
		usleep(50_000);
	}
	return 0;
}

# a coordinator session: verbose errors (SQLSTATE shown), a backstop
sub session
{
	my $s = $c->session;
	$s->set_query_timer_restart;
	ShardTest::sq($s, '\set VERBOSITY verbose');
	ShardTest::sq($s, "SET statement_timeout = '120s'");
	return $s;
}


# the other move target
sub other_node
{
	my ($node) = @_;
	return $node->name eq 'new1' ? $new2 : $new1;
}

# ---------------------------------------------------------------- the data

$c->on_all_shards(q{
CREATE TABLE move_items (id int PRIMARY KEY, code text NOT NULL UNIQUE,
                         n int CHECK (n >= 0), note text);
CREATE INDEX move_items_n ON move_items (n);
CREATE TABLE ref (id int PRIMARY KEY, v text);
INSERT INTO ref SELECT g, 'ref ' || g FROM generate_series(1, 20) g;
});
$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE move_items (id int, code text, n int, note text) SERVER cluster
  OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE ref (id int, v text) SERVER cluster
  OPTIONS (distribution 'replicated');
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(101, 2000) g;
INSERT INTO move_items
  SELECT g, 'code ' || g, g % 7, CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g END
    FROM generate_series(1, 600) g;
CREATE TABLE twin (id int PRIMARY KEY, val text);
INSERT INTO twin SELECT id, val FROM t;
CREATE TABLE load_log (id bigserial PRIMARY KEY, client int NOT NULL, seq int NOT NULL);
SELECT count(*) FROM shardfdw.recover_prepared_transactions();
});
is($coord->safe_psql('postgres', 'SELECT count(*) FROM twin'), '2000',
	'setup: t has 2000 rows, copied to twin');
is(join(' ', map { popt($_) } 0 .. 3), join(' ', map { $_->{conn} } @place),
	'setup: p0..p3 are the shards\' conninfos');
my $items_coord = $coord->safe_psql('postgres', content_sql('move_items'));
like($items_coord, qr/^600 rows/, 'setup: move_items has 600 rows');

# ---------------------------------------------------------------- 4a. bad input
note 'bad input and prerequisites';
{
	my ($rc, $out, $err) = $c->psql_timed("LOAD 'shardfdw';\nSHOW shardfdw.move_switch_timeout;");
	is($out, '10s', 'shardfdw.move_switch_timeout defaults to 10s') or diag($err);

	my $target = new_place($new1, 'badinput');

	($rc, $out, $err) = $c->psql_timed("\\set VERBOSITY verbose\nBEGIN;\n"
		  . "CALL shardfdw.move_shard('cluster', 0, '$target->{conn}');\n");
	like($err, qr/ERROR:  25001:/, 'CALL move_shard in a transaction block: SQLSTATE 25001');

	for my $bad (4, -1)
	{
		($rc, $out, $err) = call_move('cluster', $bad, $target->{conn});
		isnt($rc, 0, "shard $bad of a 4-shard server: the CALL fails");
		like($err, qr/ERROR:[^\n]*(shard|p-?\d)/i, "shard $bad: the error is about the shard")
		  or diag($err);
	}

	$coord->safe_psql('postgres', q{
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER not_sharded FOREIGN DATA WRAPPER dummy_fdw});
	($rc, $out, $err) = call_move('not_sharded', 0, $target->{conn});
	isnt($rc, 0, 'a server of another foreign-data wrapper: the CALL fails');
	like($err, qr/ERROR:[^\n]*(not_sharded|shardfdw)/,
		'a server of another wrapper: the error names the server or shardfdw') or diag($err);
	($rc, $out, $err) = call_move('no_such_server', 0, $target->{conn});
	isnt($rc, 0, 'a server that does not exist: the CALL fails');
	like($err, qr/ERROR:[^\n]*no_such_server/, 'a server that does not exist: the error names it')
	  or diag($err);

	is(on($target, q{SELECT count(*) FROM pg_class WHERE relname IN ('t', 'move_items', 'ref')}),
		'0', 'bad input: no table was created on the target');
	is(leftovers($place[0], $target), $NOTHING_LEFT,
		'bad input: no publication, slot or subscription was created');
	is(join(' ', map { popt($_) } 0 .. 3), join(' ', map { $_->{conn} } @place),
		'bad input: p0..p3 unchanged');

	# an old shard without wal_level = logical: a one-shard server on plain
	my $pp = place($plain, 'postgres');
	$plain->safe_psql('postgres', q{
CREATE TABLE t2 (id int PRIMARY KEY, v text);
INSERT INTO t2 SELECT g, 'v' || g FROM generate_series(1, 10) g});
	$coord->safe_psql('postgres', qq{
CREATE SERVER cluster2 FOREIGN DATA WRAPPER shardfdw
  OPTIONS (p0 '$pp->{conn}', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster2;
CREATE FOREIGN TABLE t2 (id int, v text) SERVER cluster2
  OPTIONS (table_name 't2', distribution_column 'id')});
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM t2'), '10',
		'wal_level replica: the one-shard server cluster2 works');
	my $wt = new_place($new1, 'walcheck');
	($rc, $out, $err) = call_move('cluster2', 0, $wt->{conn});
	isnt($rc, 0, 'wal_level replica on the old shard: the CALL fails');
	like($err, qr/wal_level/, 'wal_level replica: the error names wal_level') or diag($err);
	is(popt(0, 'cluster2'), $pp->{conn}, 'wal_level replica: p0 of cluster2 unchanged');
	is(on($wt, q{SELECT count(*) FROM pg_class WHERE relname = 't2'}), '0',
		'wal_level replica: no table created on the new server');
	is(leftovers($pp, $wt), $NOTHING_LEFT,
		'wal_level replica: no publication, slot or subscription created');
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM t2'), '10',
		'wal_level replica: cluster2 still reads its shard');
}

# ---------------------------------------------------------------- 1. under load
note 'move shard 1 under a concurrent read/write load';

my $LOAD_DIR = "$tmp/move_load";
my $NKEYS = 3000;
my $NCLIENTS = 4;

# One load transaction of client n (ShardTest::twin_load_txn).
sub load_txn
{
	my ($n, $seq) = @_;
	return ShardTest::twin_load_txn($n, $seq, $NKEYS);
}

# The loop of client n (a forked process), until $LOAD_DIR/stop exists.
sub client_main
{
	my ($n) = @_;
	srand($$ ^ int(time * 1000));
	# no TAP output from here (BackgroundPsql notes every query)
	open my $null, '>', '/dev/null' or die $!;
	my $tb = Test::More->builder;
	$tb->output($null);
	$tb->failure_output($null);
	$tb->todo_output($null);
	open my $log, '>>', "$PostgreSQL::Test::Utils::log_path/018_move_client$n.log" or die $!;
	$log->autoflush(1);
	my %st = map { $_ => 0 } qw(committed readonly retry moved other warning);
	my @other;
	my $s = $coord->background_psql('postgres', on_error_stop => 0);
	$s->set_query_timer_restart;
	ShardTest::sq($s, '\set VERBOSITY verbose');
	ShardTest::sq($s, "SET statement_timeout = '60s'");
	my $seq = 0;
	while (!-e "$LOAD_DIR/stop")
	{
		$seq++;
		my ($write, $sql) = load_txn($n, $seq);
		my (undef, $err) = ShardTest::sq($s, $sql);
		# the first error is the cause (25P02 and a silent ROLLBACK follow)
		my ($state, $msg) = $err =~ /ERROR:  ([0-9A-Z]{5}): ([^\n]*)/;
		if (!defined $state)
		{
			$st{ $write ? 'committed' : 'readonly' }++;
		}
		elsif ($state eq '40001')
		{
			$st{retry}++;
		}
		elsif ($msg =~ /\bmov(e|ed|ing)\b/i)
		{
			$st{moved}++;
		}
		else
		{
			$st{other}++;
			push @other, "$state: $msg" if @other < 5;
		}
		if ($err =~ /WARNING:/)
		{
			$st{warning}++;
			push @other, "WARNING in: $err" if @other < 5;
		}
		if ($err ne '')
		{
			(my $e = $err) =~ s/\n(?=.)/\n    /g;
			printf $log "%.3f txn %d: %s\n", time, $seq, $e;
		}
		ShardTest::sq($s, 'ROLLBACK') if defined $state && $state ne '25P02';
	}
	$s->quit;
	open my $out, '>', "$LOAD_DIR/stats.$n.tmp" or die $!;
	print $out join("\n", (map { "$_=$st{$_}" } sort keys %st), map { "msg=$_" } @other), "\n";
	close $out;
	rename "$LOAD_DIR/stats.$n.tmp", "$LOAD_DIR/stats.$n" or die $!;
	return;
}

sub start_load
{
	mkdir $LOAD_DIR;
	unlink "$LOAD_DIR/stop", map { "$LOAD_DIR/stats.$_" } 1 .. $NCLIENTS;
	for my $n (1 .. $NCLIENTS)
	{
		my $pid = fork;
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			# never run the END blocks (they would stop the servers)
			POSIX::setpgid(0, 0);
			eval { client_main($n); 1 } or do
			{
				if (open my $fh, '>', "$LOAD_DIR/died.$n") { print $fh "$@"; close $fh; }
			};
			POSIX::_exit(0);
		}
		push @kids, $pid;
	}
	return;
}

# Stop the clients; returns the summed statistics (ShardTest::stop_clients).
sub stop_load
{
	return ShardTest::stop_clients(\@kids, $LOAD_DIR, $NCLIENTS);
}

# Stop the load and check what its clients saw; load_log is emptied for
# the next run.
sub stop_load_and_check
{
	my ($label) = @_;
	my $st = stop_load();
	is($st->{stopped}, $NCLIENTS, "$label: every load client stopped when told");
	is($st->{finished}, $NCLIENTS, "$label: every load client ran to its end")
	  or diag(join "\n", @{ $st->{msg} });
	is($st->{other} // 0, 0, "$label: the load saw no error but 40001 or a move-related one")
	  or diag(join "\n", @{ $st->{msg} });
	is($st->{warning} // 0, 0, "$label: the load saw no WARNING")
	  or diag(join "\n", @{ $st->{msg} });
	note sprintf("$label: load: %d write transactions committed, %d reads, %d got 40001, "
		  . '%d a move error', map { $_ // 0 } @$st{qw(committed readonly retry moved)});
	is(load_count(), $st->{committed} // 0,
		"$label: load_log holds exactly the write transactions the clients saw commit");
	$coord->safe_psql('postgres', 'TRUNCATE load_log');
	return;
}

sub load_count
{
	return $coord->safe_psql('postgres', 'SELECT count(*) FROM load_log');
}

# wait until the load has committed at least n transactions (60 s)
sub wait_load
{
	my ($n) = @_;
	return defined ShardTest::poll_until($coord,
		"SELECT count(*) >= $n FROM load_log", 't', 60);
}

{
	my $old = $place[1];
	my $dst = place($new1, 'postgres');
	my $items_old = on($old, content_sql('move_items'));
	my $ref_old = on($old, content_sql('ref'));
	my %shape_old = map { $_ => shape($old, $_) } qw(t move_items ref);

	# a session whose shard-1 connection is cached before the move
	my $k = key_of(1);
	my $cached = session();
	my ($v) = ShardTest::sq($cached, "SELECT val FROM t WHERE id = $k");
	is($v, "val $k", 'under load: a session reads a shard-1 key before the move');

	start_load();
	ok(wait_load(20), 'under load: the load is committing transactions');
	my $n_start = load_count();
	my ($rc, $out, $err) = call_move('cluster', 1, $dst->{conn});
	my $n_end = load_count();
	is($rc, 0, 'under load: the move of shard 1 to new1 succeeds') or diag($err);
	like($err, qr/NOTICE:/, 'under load: the move reports its progress as NOTICEs');
	note "the move's messages:\n$err";
	note "load: $n_start transactions committed before the CALL, "
	  . ($n_end - $n_start) . ' while it ran';
	ok(wait_load($n_end + 20), 'under load: the load goes on committing after the move');
	stop_load_and_check('under load');

	is(popt(1), $dst->{conn}, 'under load: p1 names new1');
	is(join(' ', map { popt($_) } 0, 2, 3), join(' ', map { $place[$_]{conn} } 0, 2, 3),
		'under load: p0, p2, p3 unchanged');
	twin_check('under load');
	shard_content('under load', 1, $dst);
	my $ids = on($dst, q{SELECT coalesce(string_agg(id::text, ','), '') FROM t});
	is($coord->safe_psql('postgres', qq{
SELECT count(*) FROM unnest('{$ids}'::int[]) id WHERE shardfdw.shard_for('t'::regclass, id) <> 1}),
		'0', 'under load: every row of t on new1 belongs to shard 1');
	$ids = on($dst, q{SELECT coalesce(string_agg(id::text, ','), '') FROM move_items});
	is($coord->safe_psql('postgres', qq{
SELECT count(*) FROM unnest('{$ids}'::int[]) id
 WHERE shardfdw.shard_for('move_items'::regclass, id) <> 1}),
		'0', 'under load: every row of move_items on new1 belongs to shard 1');
	is(on($dst, content_sql('move_items')), $items_old,
		'under load: move_items on new1 is the old shard\'s');
	is(on($dst, content_sql('ref')), $ref_old,
		'under load: the replicated table ref on new1 is the old shard\'s');
	for my $tbl (qw(t move_items ref))
	{
		is(shape($dst, $tbl), $shape_old{$tbl},
			"under load: $tbl on new1 has the old shard's columns, NOT NULLs, constraints and indexes");
	}
	is($coord->safe_psql('postgres', content_sql('move_items')), $items_coord,
		'under load: move_items through the coordinator unchanged');
	is($coord->safe_psql('postgres', 'SELECT count(*), sum(id) FROM ref'), '20|210',
		'under load: ref through the coordinator unchanged');
	is(leftovers($old, $dst), $NOTHING_LEFT,
		'under load: no publication, slot or subscription left');

	# reads and writes of shard-1 keys now go to new1
	check_lands_on('under load, after the move', 1, $dst);
	$k = key_of(1);
	on($dst, "UPDATE t SET val = 'direct on new1' WHERE id = $k");
	$coord->safe_psql('postgres', "UPDATE twin SET val = 'direct on new1' WHERE id = $k");
	($rc, $out, $err) = coord_sql("SELECT val FROM t WHERE id = $k");
	is($out, 'direct on new1', 'under load: a new session reads shard-1 keys from new1')
	  or diag($err);
	($v) = ShardTest::sq($cached, "SELECT val FROM t WHERE id = $k");
	is($v, 'direct on new1',
		'under load: the session with a connection cached before the move reads from new1');
	my (undef, $werr) = ShardTest::sq($cached,
		"BEGIN;\nUPDATE t SET val = 'cached write' WHERE id = $k;\n"
		  . "UPDATE twin SET val = 'cached write' WHERE id = $k;\nCOMMIT;");
	is($werr, '', 'under load: the cached session writes a shard-1 key');
	is(on($dst, "SELECT val FROM t WHERE id = $k"), 'cached write',
		'under load: the cached session\'s write is on new1');
	isnt(on($old, "SELECT val FROM t WHERE id = $k"), 'cached write',
		'under load: ... and not on the old shard');
	$cached->quit;
	twin_check('under load, at the end');

	# the same CALL once more: p1 already names new1, nothing is left
	($rc, $out, $err) = call_move('cluster', 1, $dst->{conn});
	is($rc, 0, 'under load: the same CALL after the move succeeds (nothing to do)')
	  or diag($err);
	is(popt(1), $dst->{conn}, 'under load: after the repeated CALL p1 still names new1');
	is(leftovers($old, $dst), $NOTHING_LEFT,
		'under load: after the repeated CALL nothing is left');
	twin_check('under load, after the repeated CALL');
	shard_content('under load, after the repeated CALL', 1, $dst);
	$place[1] = $dst;
}

note 'two more moves under load, back to back: shard 0 to new1, shard 1 from new1 to new2';
{
	my @old = @place[ 0, 1 ];
	my @dst = (new_place($new1, 'lb0'), new_place($new2, 'lb1'));
	start_load();
	ok(wait_load(20), 'two moves under load: the load is committing transactions');
	my ($rc, $out, $err) = call_move('cluster', 0, $dst[0]{conn});
	is($rc, 0, 'two moves under load: shard 0 moves to new1/lb0') or diag($err);
	($rc, $out, $err) = call_move('cluster', 1, $dst[1]{conn});
	is($rc, 0, 'two moves under load: shard 1 moves from new1 to new2/lb1') or diag($err);
	my $n_end = load_count();
	ok(wait_load($n_end + 20), 'two moves under load: the load goes on committing after them');
	stop_load_and_check('two moves under load');
	is(join(' ', map { popt($_) } 0 .. 3),
		join(' ', map { $_->{conn} } @dst, @place[ 2, 3 ]),
		'two moves under load: p0, p1 name the new places, p2, p3 unchanged');
	twin_check('two moves under load');
	for my $i (0, 1)
	{
		shard_content('two moves under load', $i, $dst[$i]);
		is(leftovers($old[$i], $dst[$i]), $NOTHING_LEFT,
			"two moves under load: nothing left of the move of shard $i");
		check_lands_on("two moves under load, shard $i", $i, $dst[$i]);
	}
	@place[ 0, 1 ] = @dst;
}

# ---------------------------------------------------------------- 2. the switch lock
note 'while the move holds the switch lock of shard 2';
{
	my $old = $place[2];
	my $dst = place($new2, 'postgres');
	my $flag = "$tmp/move_pause";
	touch($flag);
	my ($k0, $k2, $k3) = map { key_of($_) } 0, 2, 3;
	my $v2 = $coord->safe_psql('postgres', "SELECT val FROM twin WHERE id = $k2");

	my $m = session();
	my ($mpid) = ShardTest::sq($m, 'SELECT pg_backend_pid()');
	ShardTest::sq($m, "SET shardfdw.test_fail_point = 'move_after_lock:pause:$flag'");
	my $pos = -s $coord->logfile;
	ShardTest::send_async($m, "CALL shardfdw.move_shard('cluster', 2, '$dst->{conn}');");
	ok(wait_log($pos, qr/test fail point move_after_lock: pausing/, 90),
		'switch lock: the move of shard 2 paused holding the switch lock');

	my ($rc, $out, $err) = coord_sql("BEGIN;\n"
		  . "UPDATE t SET val = 'paused 0' WHERE id = $k0;\n"
		  . "UPDATE twin SET val = 'paused 0' WHERE id = $k0;\n"
		  . "UPDATE t SET val = 'paused 3' WHERE id = $k3;\n"
		  . "UPDATE twin SET val = 'paused 3' WHERE id = $k3;\nCOMMIT;");
	is($rc, 0, 'switch lock: a write to keys of shards 0 and 3 completes') or diag($err);
	is(on($place[0], "SELECT val FROM t WHERE id = $k0") . ', '
		  . on($place[3], "SELECT val FROM t WHERE id = $k3"),
		'paused 0, paused 3', 'switch lock: the write is on shards 0 and 3');
	($rc, $out, $err) = coord_sql("SELECT val FROM t WHERE id = $k2");
	is($rc, 0, 'switch lock: a read of a shard-2 key completes') or diag($err);
	is($out, $v2, 'switch lock: the read gives the key\'s value');

	# a transaction that reads shard 2 now and writes it after the switch
	my $r = session();
	ShardTest::sq($r, 'BEGIN');
	my ($rv, $rerr) = ShardTest::sq($r, "SELECT val FROM t WHERE id = $k2");
	is($rv, $v2, 'switch lock: a transaction reads a shard-2 key') or diag($rerr);

	# a transaction that writes shard 0 now and shard 2 after the switch
	my $x = session();
	my $k2b = $coord->safe_psql('postgres',
		"SELECT min(id) FROM twin WHERE id > $k2 AND shardfdw.shard_for('t'::regclass, id) = 2");
	my $k0b = $coord->safe_psql('postgres',
		"SELECT min(id) FROM twin WHERE id > $k0 AND shardfdw.shard_for('t'::regclass, id) = 0");
	my (undef, $xerr) = ShardTest::sq($x, "BEGIN;\nUPDATE t SET val = 'span' WHERE id = $k0b;\n"
		  . "UPDATE twin SET val = 'span' WHERE id = $k0b;");
	is($xerr, '', 'switch lock: a transaction writes a shard-0 key') or diag($xerr);

	# a write to shard 2 waits for the move
	my $w = session();
	my ($wpid) = ShardTest::sq($w, 'SELECT pg_backend_pid()');
	ShardTest::send_async($w, "BEGIN;\nUPDATE t SET val = 'waited' WHERE id = $k2;\n"
		  . "UPDATE twin SET val = 'waited' WHERE id = $k2;\nCOMMIT;");
	ok(defined ShardTest::poll_until($coord, qq{
SELECT count(*) FROM pg_stat_activity WHERE pid = $wpid AND wait_event_type = 'Lock'},
			'1', 30),
		'switch lock: a write to a shard-2 key waits for a lock on the coordinator');
	is($coord->safe_psql('postgres', "SELECT $mpid = ANY (pg_blocking_pids($wpid))"), 't',
		'switch lock: the waiting write is blocked by the move\'s backend');
	is(on($old, "SELECT val FROM t WHERE id = $k2"), $v2,
		'switch lock: the waiting write has not reached the old shard');

	unlink $flag;
	my (undef, $merr) = ShardTest::wait_async($m);
	unlike($merr, qr/ERROR/, 'switch lock: the move completes once let go') or diag($merr);
	my (undef, $werr) = ShardTest::wait_async($w);
	unlike($werr, qr/ERROR/, 'switch lock: the waiting write completes') or diag($werr);
	is(popt(2), $dst->{conn}, 'switch lock: p2 names new2');
	is(on($dst, "SELECT val FROM t WHERE id = $k2"), 'waited',
		'switch lock: the write that waited is on new2');
	isnt(on($old, "SELECT val FROM t WHERE id = $k2"), 'waited',
		'switch lock: ... and not on the old shard');

	(undef, $rerr) = ShardTest::sq($r, "UPDATE t SET val = 'stale' WHERE id = $k2");
	like($rerr, qr/ERROR:  40001:/,
		'switch lock: a transaction that read shard 2 before the switch and writes after gets 40001');
	ShardTest::sq($r, 'ROLLBACK');

	(undef, $xerr) = ShardTest::sq($x, "UPDATE t SET val = 'span' WHERE id = $k2b;\n"
		  . "UPDATE twin SET val = 'span' WHERE id = $k2b;\nCOMMIT;");
	is($xerr, '',
		'switch lock: a transaction that wrote shard 0 before the switch writes shard 2 after it and commits')
	  or diag($xerr);
	is(on($place[0], "SELECT val FROM t WHERE id = $k0b") . ', '
		  . on($dst, "SELECT val FROM t WHERE id = $k2b"),
		'span, span', 'switch lock: its writes are on shard 0 and on new2');
	isnt(on($old, "SELECT val FROM t WHERE id = $k2b"), 'span',
		'switch lock: ... and not on the old shard 2');
	$_->quit for $m, $w, $r, $x;

	twin_check('switch lock');
	shard_content('switch lock', 2, $dst);
	is(leftovers($old, $dst), $NOTHING_LEFT,
		'switch lock: no publication, slot or subscription left');
	$place[2] = $dst;
}

# ---------------------------------------------------------------- 3. failures
note 'a failure at each step of the move, then the same CALL again';
{
	my $n = 0;
	for my $case (
		[ 'move_after_tables',       'error' ],
		[ 'move_after_subscription', 'error' ],
		[ 'move_after_sync',         'error' ],
		[ 'move_after_lock',         'error' ],
		[ 'move_before_switch',      'error' ],
		[ 'move_after_switch',       'error' ],
		[ 'move_after_tables',       'crash' ],
		[ 'move_after_subscription', 'crash' ],
		[ 'move_after_sync',         'crash' ],
		[ 'move_after_lock',         'crash' ],
		[ 'move_before_switch',      'crash' ],
		[ 'move_after_switch',       'crash' ])
	{
		my ($point, $action) = @$case;
		my $name = "$point:$action";
		$n++;
		my $src = $place[3];
		my $dst = new_place(other_node($src->{node}), "m$n");
		my $pos = -s $coord->logfile;
		my ($rc, $out, $err) = call_move('cluster', 3, $dst->{conn}, fail => $name);
		isnt($rc, 0, "$name: the CALL fails");
		if ($action eq 'crash')
		{
			ok(wait_coord_up(), "$name: the coordinator is back after the crash");
			like(slurp_file($coord->logfile, $pos), qr/test fail point \Q$point\E: crashing/,
				"$name: the backend was killed at the point");
			if ($point eq 'move_after_tables')
			{
				is(on($dst, q{SELECT count(*) FROM pg_class WHERE relname IN ('t', 'move_items', 'ref')}),
					'3', "$name: the crash left the created tables on $dst->{name}");
			}
			else
			{
				is($dst->{node}->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription'), '1',
					"$name: the crash left its subscription on $dst->{name} for the re-run to clean up");
			}
		}
		else
		{
			like($err, qr/ERROR:.*test fail point \Q$point\E/,
				"$name: the error is the injected one") or diag($err);
		}
		my $switched = $point eq 'move_after_switch';
		is(popt(3), $switched ? $dst->{conn} : $src->{conn},
			"$name: p3 " . ($switched ? 'already names the new place' : 'is unchanged'));
		check_lands_on($name, 3, $switched ? $dst : $src);

		($rc, $out, $err) = call_move('cluster', 3, $dst->{conn});
		is($rc, 0, "$name: the same CALL again succeeds") or diag($err);
		is(popt(3), $dst->{conn}, "$name: p3 names $dst->{name}");
		is(leftovers($src, $dst), $NOTHING_LEFT,
			"$name: no publication, slot or subscription left");
		twin_check($name);
		shard_content($name, 3, $dst);
		$place[3] = $dst;
	}
}

note 'a writer holds shard 3 past shardfdw.move_switch_timeout';
{
	my $src = $place[3];
	my $dst = new_place(other_node($src->{node}), 'sw');
	my $flag = "$tmp/move_pause_sw";
	touch($flag);
	my $m = session();
	ShardTest::sq($m, "SET shardfdw.test_fail_point = 'move_after_sync:pause:$flag'");
	ShardTest::sq($m, "SET shardfdw.move_switch_timeout = '1s'");
	my $pos = -s $coord->logfile;
	ShardTest::send_async($m, "CALL shardfdw.move_shard('cluster', 3, '$dst->{conn}');");
	ok(wait_log($pos, qr/test fail point move_after_sync: pausing/, 90),
		'switch timeout: the move paused after the initial copy');
	my $k = key_of(3);
	my $w = session();
	ShardTest::sq($w, 'BEGIN');
	my (undef, $werr) = ShardTest::sq($w, "UPDATE t SET val = 'held' WHERE id = $k");
	ShardTest::sq($w, "UPDATE twin SET val = 'held' WHERE id = $k");
	is($werr, '', 'switch timeout: a transaction writes a shard-3 key and stays open');
	unlink $flag;
	my (undef, $merr) = ShardTest::wait_async($m);
	like($merr, qr/ERROR:[^\n]*tim/i,
		'switch timeout: the move fails, saying it timed out') or diag($merr);
	(undef, $werr) = ShardTest::sq($w, 'COMMIT');
	is($werr, '', 'switch timeout: the writer commits');
	$_->quit for $m, $w;
	is(popt(3), $src->{conn}, 'switch timeout: p3 unchanged');
	is(on($src, "SELECT val FROM t WHERE id = $k"), 'held',
		'switch timeout: the write is on the old place');
	check_lands_on('switch timeout', 3, $src);

	my ($rc, $out, $err) = call_move('cluster', 3, $dst->{conn});
	is($rc, 0, 'switch timeout: the same CALL again succeeds') or diag($err);
	is(popt(3), $dst->{conn}, "switch timeout: p3 names $dst->{name}");
	is(leftovers($src, $dst), $NOTHING_LEFT,
		'switch timeout: no publication, slot or subscription left');
	twin_check('switch timeout');
	shard_content('switch timeout', 3, $dst);
	$place[3] = $dst;
}

note 'a transaction left prepared on the shard by a crash of the coordinator';
{
	# Shards 2 and 0 prepared, the local transaction (and twin) committed,
	# the coordinator killed before COMMIT PREPARED: recovery must commit
	# shard 2's part, wherever shard 2 is by then.  The move may refuse
	# while it is in doubt (then recovery, and the same CALL again), or go
	# on; either way nothing may be left prepared and t must equal twin.
	my $src = $place[2];
	my $dst = new_place(other_node($src->{node}), 'pp');
	my ($ka, $kb) = (key_of(2), key_of(0));
	my ($rc, $out, $err) = $c->psql_timed(
		"SET shardfdw.test_fail_point = 'before_commit_prepared:crash';\nBEGIN;\n"
		  . "UPDATE t SET val = 'in doubt' WHERE id IN ($ka, $kb);\n"
		  . "UPDATE twin SET val = 'in doubt' WHERE id IN ($ka, $kb);\nCOMMIT;\n");
	isnt($rc, 0, 'in doubt: the coordinator died after its local commit');
	ok(wait_coord_up(), 'in doubt: the coordinator is back');
	is($coord->safe_psql('postgres', "SELECT val FROM twin WHERE id = $ka"), 'in doubt',
		'in doubt: the local transaction committed');
	is(on($src, 'SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()'), '1',
		"in doubt: shard 2 ($src->{name}) holds the prepared transaction");

	($rc, $out, $err) = call_move('cluster', 2, $dst->{conn}, timeout => '60s');
	note "in doubt: the move with the transaction in doubt: exit $rc\n$err";
	$coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.recover_prepared_transactions()');
	if ($rc != 0)
	{
		unlike($err, qr/statement timeout/,
			'in doubt: the move does not hang until statement_timeout (it fails or goes on)');
		($rc, $out, $err) = call_move('cluster', 2, $dst->{conn});
		is($rc, 0, 'in doubt: after recovery the same CALL succeeds') or diag($err);
	}
	is(popt(2), $dst->{conn}, "in doubt: p2 names $dst->{name}");
	my $prepared = 0;
	$prepared += $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts')
	  for $c->shards, $new1, $new2;
	is($prepared, 0, 'in doubt: no prepared transaction left anywhere (the old place included)');
	is(on($dst, "SELECT val FROM t WHERE id = $ka"), 'in doubt',
		'in doubt: the committed transaction\'s shard-2 part is at the new place');
	twin_check('in doubt');
	shard_content('in doubt', 2, $dst);
	is(leftovers($src, $dst), $NOTHING_LEFT, 'in doubt: no publication, slot or subscription left');
	$place[2] = $dst;
}

note 'a transaction becomes in doubt on the moving shard during the move';
{
	# The move of shard 3 pauses after its initial copy.  Meanwhile a
	# two-phase transaction over shards 3 and 0 commits locally, and its
	# COMMIT PREPARED on shard 3 fails (its backend there is terminated):
	# the transaction stays prepared on the old place of shard 3, for
	# recovery.  The move goes on; after it (or, if it refused, after
	# recovery and the same CALL again) and recovery, the transaction must
	# be complete on shard 3's new place and nothing left prepared.
	my $src = $place[3];
	my $dst = new_place(other_node($src->{node}), 'idm');
	my ($f1, $f2) = ("$tmp/move_pause_idm1", "$tmp/move_pause_idm2");
	touch($f1);
	touch($f2);
	my $m = session();
	ShardTest::sq($m, "SET shardfdw.test_fail_point = 'move_after_sync:pause:$f1'");
	my $pos = -s $coord->logfile;
	ShardTest::send_async($m, "CALL shardfdw.move_shard('cluster', 3, '$dst->{conn}');");
	ok(wait_log($pos, qr/test fail point move_after_sync: pausing/, 90),
		'in doubt during the move: the move of shard 3 paused after its initial copy');

	my ($ka, $kb) = (key_of(3), key_of(0));
	my $kn = new_key(3);
	my $tx = session();
	my ($tpid) = ShardTest::sq($tx, 'SELECT pg_backend_pid()');
	ShardTest::sq($tx, "SET shardfdw.test_fail_point = 'before_commit_prepared:pause:$f2'");
	$pos = -s $coord->logfile;
	ShardTest::send_async($tx, "BEGIN;\n"
		  . "UPDATE t SET val = 'doubt' WHERE id IN ($ka, $kb);\n"
		  . "UPDATE twin SET val = 'doubt' WHERE id IN ($ka, $kb);\n"
		  . "INSERT INTO t VALUES ($kn, 'doubt');\nINSERT INTO twin VALUES ($kn, 'doubt');\n"
		  . "COMMIT;");
	ok(wait_log($pos, qr/test fail point before_commit_prepared: pausing/, 30),
		'in doubt during the move: a transaction over shards 3 and 0 paused after its local commit');
	is($src->{node}->safe_psql($src->{db}, qq{
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database()
   AND application_name ~ '^shardfdw:[0-9]+:$tpid(\$|[^0-9])'}), '1',
		'in doubt during the move: its backend on shard 3 is terminated');
	unlink $f2;
	my (undef, $terr) = ShardTest::wait_async($tx);
	like($terr, qr/WARNING:/, 'in doubt during the move: its COMMIT PREPARED on shard 3 failed')
	  or diag($terr);
	is(on($src, 'SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()'), '1',
		"in doubt during the move: the old place $src->{name} holds it prepared");

	unlink $f1;
	my (undef, $merr) = ShardTest::wait_async($m);
	note "in doubt during the move: the move said:\n$merr";
	$_->quit for $m, $tx;
	$coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.recover_prepared_transactions()');
	if ($merr =~ /ERROR/)
	{
		my ($rc, $out, $err) = call_move('cluster', 3, $dst->{conn});
		is($rc, 0, 'in doubt during the move: after recovery the same CALL succeeds')
		  or diag($err);
		$coord->safe_psql('postgres',
			'SELECT count(*) FROM shardfdw.recover_prepared_transactions()');
	}
	is(popt(3), $dst->{conn}, "in doubt during the move: p3 names $dst->{name}");
	my $prepared = 0;
	$prepared += $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts')
	  for $c->shards, $new1, $new2;
	is($prepared, 0,
		'in doubt during the move: no prepared transaction left anywhere (the old place included)');
	is(on($dst, "SELECT val FROM t WHERE id = $ka") . ', '
		  . on($dst, "SELECT count(*) FROM t WHERE id = $kn"),
		'doubt, 1',
		'in doubt during the move: the committed transaction\'s shard-3 part is at the new place');
	twin_check('in doubt during the move');
	shard_content('in doubt during the move', 3, $dst);
	is(leftovers($src, $dst), $NOTHING_LEFT,
		'in doubt during the move: no publication, slot or subscription left');
	$place[3] = $dst;
}

# ---------------------------------------------------------------- 4b. the new server
note 'the new server: a non-empty table, then unreachable';
{
	my $src = $place[0];
	my $dst = new_place($new2, 'nonempty');
	on($dst, q{
CREATE TABLE move_items (id int PRIMARY KEY, code text NOT NULL UNIQUE,
                         n int CHECK (n >= 0), note text);
INSERT INTO move_items VALUES (999999, 'stray', 1, NULL)});
	my ($rc, $out, $err) = call_move('cluster', 0, $dst->{conn});
	isnt($rc, 0, 'a non-empty table on the new server: the CALL fails');
	like($err, qr/ERROR:[^\n]*move_items/, 'non-empty table: the error names move_items')
	  or diag($err);
	is(popt(0), $src->{conn}, 'non-empty table: p0 unchanged');
	check_lands_on('non-empty table', 0, $src);

	on($dst, 'TRUNCATE move_items');
	($rc, $out, $err) = call_move('cluster', 0, $dst->{conn});
	is($rc, 0, 'non-empty table: once emptied, the same CALL succeeds') or diag($err);
	is(popt(0), $dst->{conn}, "non-empty table: p0 names $dst->{name}");
	is(leftovers($src, $dst), $NOTHING_LEFT,
		'non-empty table: no publication, slot or subscription left');
	shard_content('non-empty table', 0, $dst);
	is(on($dst, content_sql('move_items')), on($src, content_sql('move_items')),
		'non-empty table: move_items on the new place is the old shard\'s (the stray row gone)');
	$place[0] = $dst;

	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dead = 'host=' . $new1->host . " port=$port dbname=postgres";
	($rc, $out, $err) = call_move('cluster', 0, $dead);
	isnt($rc, 0, 'an unreachable new server: the CALL fails');
	like($err, qr/connect/i, 'unreachable: the error says it could not connect') or diag($err);
	is(popt(0), $dst->{conn}, 'unreachable: p0 unchanged');
	check_lands_on('unreachable', 0, $dst);
}

twin_check('at the end');
is($coord->safe_psql('postgres', content_sql('move_items')), $items_coord,
	'at the end: move_items through the coordinator unchanged by all the moves');
is($coord->safe_psql('postgres', 'SELECT count(*), sum(id) FROM ref'), '20|210',
	'at the end: ref through the coordinator unchanged');
my $prepared = 0;
$prepared += $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts')
  for $c->shards, $new1, $new2;
is($prepared, 0, 'at the end: no prepared transaction left on any server');

done_testing();
