# t/004_writes.pl: writes on real, separate servers (issue 7, acceptance 7
# and 9): parallel multi-shard INSERT (each row on the shard shard_for
# names, one statement per shard per batch, shards written concurrently),
# unique and foreign-key violations on one shard during a multi-shard
# INSERT / UPDATE / COPY (statement rolled back on every shard; SQLSTATE,
# detail, constraint and shard kept), the same inside a transaction with
# savepoints, a shard stopped before and in the middle of a statement, a
# shard backend terminated inside a transaction that wrote, COPY with a
# malformed line, COPY of good rows, TRUNCATE rolled back.
#
# Every "nothing of it remains" check compares a fingerprint of the whole
# table on every shard (count, sums, md5 of all rows) with the one taken
# before the statement.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use ShardTest;

my $t_start = time;
my $c = ShardTest->setup(server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my $host = $c->shard(0)->host;
my @S = (0 .. 3);

# ---------------------------------------------------------------- helpers

sub on_shard
{
	my ($i, $sql) = @_;
	return $c->shard($i)->safe_psql('postgres', $sql);
}

# "shard pN (host=H, port=P) of server "cluster""
sub shard_re
{
	my ($i) = @_;
	my $port = $c->shard($i)->port;
	return qr/shard p$i \(host=\Q$host\E, port=$port\) of server "cluster"/;
}

# Fingerprint of all rows of w (and parent) on every shard.
sub snapshot
{
	return join "\n", map {
		on_shard($_, q{
SELECT 'w ' || count(*) || ' ' || md5(coalesce(string_agg(
         id || ':' || coalesce(u::text, '-') || ':' || coalesce(ref::text, '-')
         || ':' || coalesce(val, '-'), ',' ORDER BY id), ''))
  FROM w})
		  . ' / '
		  . on_shard($_, q{
SELECT 'parent ' || count(*) || ' '
       || coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM parent})
	} @S;
}

# Rows of w with ids in lo..hi on each shard, as "c0,c1,c2,c3".
sub counts_between
{
	my ($lo, $hi) = @_;
	return join ',',
	  map { on_shard($_, "SELECT count(*) FROM w WHERE id BETWEEN $lo AND $hi") }
	  @S;
}

# The smallest id in lo..hi that shard_for puts on shard i.
sub key_in
{
	my ($i, $lo, $hi) = @_;
	return $coord->safe_psql('postgres',
		"SELECT min(g) FROM generate_series($lo, $hi) g
          WHERE shardfdw.shard_for('w'::regclass, g) = $i");
}

# The ids lo..hi are on exactly the shards shard_for names: for every shard,
# the ids it holds in lo..hi (count and md5 of the list) are those of
# lo..hi that shard_for gives it.
sub placement_is
{
	my ($lo, $hi, $label) = @_;
	for my $i (@S)
	{
		my $want = $coord->safe_psql('postgres', qq{
SELECT count(*) || ' ' || md5(coalesce(string_agg(g::text, ',' ORDER BY g), ''))
  FROM generate_series($lo, $hi) g
 WHERE shardfdw.shard_for('w'::regclass, g) = $i});
		my $got = on_shard($i, qq{
SELECT count(*) || ' ' || md5(coalesce(string_agg(id::text, ',' ORDER BY id), ''))
  FROM w WHERE id BETWEEN $lo AND $hi});
		is($got, $want, "$label: shard $i holds exactly the ids shard_for gives it ($want)");
	}
	return;
}

# Checks of a remote error in psql's VERBOSITY=verbose stderr.
sub remote_error_ok
{
	my ($err, $label, %e) = @_;
	like($err, qr/ERROR:  $e{sqlstate}: /, "$label: SQLSTATE $e{sqlstate}")
	  or diag($err);
	like($err, qr/ERROR:  $e{sqlstate}: \Q$e{message}\E/, "$label: remote message")
	  if $e{message};
	like($err, qr/DETAIL:  \Q$e{detail}\E/, "$label: remote DETAIL kept")
	  if $e{detail};
	if (defined $e{shard})
	{
		like($err, shard_re($e{shard}), "$label: the error names shard p$e{shard}");
	}
	else
	{
		like($err, qr/shard p\d \(host=/, "$label: the error names a shard");
	}
	if ($e{constraint})
	{
		like($err, qr/"\Q$e{constraint}\E"/,
			"$label: the message names constraint $e{constraint}");
		like($err, qr/CONSTRAINT NAME:  \Q$e{constraint}\E/,
			"$label: the error field CONSTRAINT NAME is $e{constraint}");
	}
	return;
}

my @verbose = (extra_params => [ '-v', 'VERBOSITY=verbose' ]);

# A coordinator session with verbose errors.
sub vsession
{
	my $s = $c->session;
	$s->query_safe('\set VERBOSITY verbose');
	return $s;
}

# Poll sql on shard i until it returns expected; true on success.
sub shard_poll
{
	my ($i, $sql, $expected, $timeout) = @_;
	return defined ShardTest::poll_until($c->shard($i), $sql, $expected,
		$timeout // 30);
}

# the shardfdw backends on a shard in a given state with an INSERT into w
sub fdw_insert_sql
{
	my ($cond) = @_;
	return qq{SELECT count(*) FROM pg_stat_activity
               WHERE application_name LIKE 'shardfdw:%' AND $cond
                 AND query LIKE 'INSERT INTO %w%'};
}

# ---------------------------------------------------------------- schema
# w: hash-distributed on id, a unique column u and a foreign key to parent,
# a table copied to every shard (replicated).
$c->on_all_shards(q{
CREATE TABLE parent (pid int PRIMARY KEY, name text);
CREATE TABLE w (id int PRIMARY KEY, u int UNIQUE, ref int REFERENCES parent (pid),
                val text);
});
$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE parent (pid int, name text) SERVER cluster
    OPTIONS (table_name 'parent', distribution 'replicated');
CREATE FOREIGN TABLE w (id int, u int, ref int, val text) SERVER cluster
    OPTIONS (table_name 'w', distribution_column 'id', batch_size '100');
-- not shippable (not built in, not inlined): forces row-by-row UPDATE
CREATE FUNCTION local_add(int) RETURNS int IMMUTABLE LANGUAGE plpgsql
    AS $$ BEGIN RETURN $1 + 100000; END $$;
-- blocks on advisory lock 4242 when g = at: stops a statement half-way
CREATE FUNCTION gate(g int, at int) RETURNS text VOLATILE LANGUAGE plpgsql AS $$
BEGIN
    IF g = at THEN
        PERFORM pg_advisory_lock_shared(4242);
        PERFORM pg_advisory_unlock_shared(4242);
    END IF;
    RETURN 'gate ' || g;
END $$;
-- see "mid-statement UPDATE" below
CREATE FUNCTION gate_row(id int) RETURNS text VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    s text := shardfdw.shard_for('w'::regclass, id)::text;
    seen text := coalesce(current_setting('gate.seen', true), '');
BEGIN
    IF position(s IN seen) > 0 AND length(seen) = 4
       AND current_setting('gate.done', true) IS DISTINCT FROM 'y' THEN
        PERFORM set_config('gate.done', 'y', false);
        PERFORM set_config('application_name', 'gate p' || s, false);
        PERFORM pg_advisory_lock_shared(4242);
        PERFORM pg_advisory_unlock_shared(4242);
    ELSIF position(s IN seen) = 0 THEN
        PERFORM set_config('gate.seen', seen || s, false);
    END IF;
    RETURN 'gate ' || id;
END $$;
});

# the replicated parent: one INSERT writes every shard
$coord->safe_psql('postgres',
	q{INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 10) g});
for my $i (@S)
{
	is(on_shard($i, q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM parent}),
		'1,2,3,4,5,6,7,8,9,10', "replicated parent: shard $i has all 10 rows");
}

# ================================================================ parallel writes
note 'parallel writes';

# (a) 5000 rows by INSERT ... VALUES, batch_size 100: every row on its shard,
# one multi-row INSERT per shard per batch (from the shards' statement logs).
# (An INSERT ... SELECT streams with COPY instead: (c) below.)
{
	my @logpos = map { -s $c->shard($_)->logfile } @S;
	my $values = join ', ',
	  map { sprintf "(%d, %d, %d, 'w%d')", $_, $_, $_ % 10 + 1, $_ } 1 .. 5000;
	my ($rc, $out, $err) = $c->psql_timed(
		"INSERT INTO w VALUES $values", @verbose);
	is($rc, 0, 'INSERT of 5000 rows over 4 shards') or diag($err);
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM w'), '5000',
		'5000 rows read back through the coordinator');
	placement_is(1, 5000, 'INSERT of 5000 rows');

	# batches of 100 rows in insertion order (g): the statements each shard
	# must get is the number of batches with a row for it, and the rows of
	# its statements add up to its rows
	my %want = map { split /\|/ } split /\n/, $coord->safe_psql('postgres', q{
SELECT s, count(DISTINCT (g - 1) / 100) || ' ' || count(*) FROM (
    SELECT g, shardfdw.shard_for('w'::regclass, g) s
      FROM generate_series(1, 5000) g) x GROUP BY s});
	for my $i (@S)
	{
		my $log = slurp_file($c->shard($i)->logfile, $logpos[$i]);
		my ($nstmt, $nrows, $maxrows) = (0, 0, 0);
		for my $line (split /\n/, $log)
		{
			next unless $line =~ /LOG:  execute [^:]*: (INSERT INTO .*)$/;
			my $stmt = $1;
			next unless $stmt =~ /^INSERT INTO (?:"?public"?\.)?"?w"? /;
			my $k = () = $stmt =~ /\(\$\d+, \$\d+, \$\d+, \$\d+\)/g;
			$nstmt++;
			$nrows += $k;
			$maxrows = $k if $k > $maxrows;
		}
		is("$nstmt $nrows", $want{$i},
			"shard $i got one multi-row INSERT per batch of 100 that has rows for it, "
			  . "with all its rows ($want{$i}: statements rows)");
		cmp_ok($maxrows, '<=', 100, "shard $i: no statement has more than batch_size rows");
	}
}

# (b) concurrency, shown without timing: one shard's table is locked on the
# shard, so its INSERT waits; meanwhile each other shard must already have
# run its part of the same statement (state 'idle in transaction', last
# query the INSERT).  A coordinator writing shards one after the other would
# not have sent anything to the shards after the blocked one.  Done with
# every shard blocked in turn, so no order of the shards can pass it.
{
	my $s = vsession();
	ShardTest::sq($s, 'SELECT count(*) FROM w');    # connections made
	my $base = 6001;
	for my $x (@S)
	{
		my ($lo, $hi) = ($base, $base + 39);
		$base += 40;
		is($coord->safe_psql('postgres', qq{
SELECT count(DISTINCT shardfdw.shard_for('w'::regclass, g))
  FROM generate_series($lo, $hi) g}), '4', "ids $lo..$hi route to all 4 shards");
		my $blocker = $c->shard($x)->background_psql('postgres');
		my $values = join ', ', map { "($_, $_, 1, 'conc')" } $lo .. $hi;
		$blocker->query_safe('BEGIN; LOCK TABLE w IN SHARE MODE');
		ShardTest::send_async($s, "INSERT INTO w VALUES $values;");
		ok(shard_poll($x, fdw_insert_sql(q{wait_event_type = 'Lock'}), '1'),
			"shard $x locked: its INSERT waits for the lock");
		for my $j (grep { $_ != $x } @S)
		{
			ok(shard_poll($j, fdw_insert_sql(q{state = 'idle in transaction'}), '1'),
				"shard $x blocked: shard $j has already run its INSERT of the same statement");
		}
		$blocker->query_safe('COMMIT');
		$blocker->quit;
		my ($out, $err) = ShardTest::wait_async($s);
		is($err, '', "shard $x unlocked: the INSERT completes") or diag($err);
		placement_is($lo, $hi, "INSERT with shard $x blocked");
	}
	$s->quit;
}

# (c) INSERT ... SELECT streams: one COPY per shard for all of its rows (from
# the shards' logs), and the COPYs start in parallel: with one shard's table
# locked, its COPY waits for the lock while every other shard's COPY of the
# same statement is already open (waiting for rows), whichever shard is
# locked.
{
	my @logpos = map { -s $c->shard($_)->logfile } @S;
	my ($rc, $out, $err) = $c->psql_timed(
		q{INSERT INTO w SELECT g, g, g % 10 + 1, 'c' || g
            FROM generate_series(9001, 14000) g}, @verbose);
	is($rc, 0, 'INSERT ... SELECT of 5000 rows over 4 shards') or diag($err);
	placement_is(9001, 14000, 'INSERT ... SELECT of 5000 rows');
	for my $i (@S)
	{
		my $log = slurp_file($c->shard($i)->logfile, $logpos[$i]);
		my $copies = () = $log =~ /LOG:  statement: COPY (?:"?public"?\.)?"?w"? /g;
		my $inserts = () = $log =~ /LOG:  execute [^:]*: INSERT INTO (?:"?public"?\.)?"?w"? /g;
		is("$copies $inserts", '1 0',
			"shard $i got its rows of the INSERT ... SELECT in one COPY, no INSERT");
	}

	my $s = vsession();
	ShardTest::sq($s, 'SELECT count(*) FROM w');    # connections made
	my $base = 15001;
	my $copy_sql = sub {
		my ($cond) = @_;
		return qq{SELECT count(*) FROM pg_stat_activity
                   WHERE application_name LIKE 'shardfdw:%' AND $cond
                     AND query LIKE 'COPY %w%'};
	};
	for my $x (@S)
	{
		my ($lo, $hi) = ($base, $base + 39);
		$base += 40;
		my $blocker = $c->shard($x)->background_psql('postgres');
		$blocker->query_safe('BEGIN; LOCK TABLE w IN SHARE MODE');
		ShardTest::send_async($s,
			"INSERT INTO w SELECT g, g, 1, 'copy' FROM generate_series($lo, $hi) g;");
		ok(shard_poll($x, $copy_sql->(q{wait_event_type = 'Lock'}), '1'),
			"shard $x locked: its COPY waits for the lock");
		for my $j (grep { $_ != $x } @S)
		{
			ok(shard_poll($j, $copy_sql->(q{state = 'active' AND wait_event = 'ClientRead'}), '1'),
				"shard $x blocked: shard $j has the COPY of the same statement open");
		}
		$blocker->query_safe('COMMIT');
		$blocker->quit;
		my ($out, $err) = ShardTest::wait_async($s);
		is($err, '', "shard $x unlocked: the INSERT ... SELECT completes") or diag($err);
		placement_is($lo, $hi, "INSERT ... SELECT with shard $x blocked");
	}
	$s->quit;
}

# (d) keyed UPDATEs and single-row INSERTs from a client's prepared
# statements (pgbench -M prepared), each alone in its local transaction:
# each runs in its shard's implicit transaction, and one with parameters
# (the UPDATE's generic plan, the INSERT) is prepared on the shard once per
# connection and then executed by name (from the shards' statement logs).
{
	my @logpos = map { -s $c->shard($_)->logfile } @S;
	$coord->pgbench(
		'-n -M prepared -c 1 -t 60', 0, [qr{processed: 60/60}], [qr{^$}],
		'pgbench -M prepared: keyed UPDATE and single-row INSERT',
		{
			'004_keyed' => q{\set k random(1, 5000)
\set n random(300000000, 2000000000)
UPDATE w SET val = val WHERE id = :k;
INSERT INTO w VALUES (:n, :n, 1, 'pgbench');
}
		});
	my ($named_upd, $unnamed_param_upd, $named_ins, $unnamed_ins, $prepares,
		$xact) = (0, 0, 0, 0, 0, 0);
	for my $i (@S)
	{
		my $log = slurp_file($c->shard($i)->logfile, $logpos[$i]);
		for my $line (split /\n/, $log)
		{
			$named_upd++ if $line =~ /LOG:  execute shardfdw_s\d+: UPDATE public\.w /;
			$unnamed_param_upd++
			  if $line =~ /LOG:  execute <unnamed>: UPDATE public\.w .*\$1/;
			$named_ins++ if $line =~ /LOG:  execute shardfdw_s\d+: INSERT INTO public\.w /;
			$unnamed_ins++ if $line =~ /LOG:  execute <unnamed>: INSERT INTO public\.w /;
			$xact++ if $line =~ /LOG:  (?:statement|execute [^:]*): (?:START TRANSACTION|COMMIT)/;
		}
		my %names = map { $_ => 1 } ($log =~ /LOG:  execute (shardfdw_s\d+): INSERT INTO public\.w /g);
		$prepares += keys %names;
	}
	note("keyed UPDATEs by name $named_upd, INSERTs by name $named_ins, "
		  . "unnamed INSERTs $unnamed_ins, distinct INSERT statements $prepares");
	is($xact, 0, 'pgbench keyed statements: no START TRANSACTION or COMMIT on any shard');
	is($unnamed_param_upd + $unnamed_ins, 0,
		'pgbench keyed statements: no statement with parameters was sent unnamed');
	is($named_ins, 60, 'pgbench: all 60 INSERTs executed by name');
	cmp_ok($prepares, '<=', 4, 'pgbench: one prepared INSERT per shard connection');
	cmp_ok($named_upd, '>', 0, 'pgbench: the generic plan\'s UPDATEs executed by name');
	$coord->safe_psql('postgres', q{DELETE FROM w WHERE val = 'pgbench'});
}

# ================================================================ unique violations
note 'unique violation on one shard';

my $before = snapshot();
my $k2 = key_in(2, 1, 5000);    # an existing id on shard 2

# (a) multi-shard INSERT of 400 rows, row 350 a duplicate of an id on shard 2:
# streamed to every shard's COPY, the error told by the row of the INSERT
{
	my ($rc, $out, $err) = $c->psql_timed(qq{
INSERT INTO w
SELECT CASE WHEN g = 20350 THEN $k2 ELSE g END, g, 1, 'dup'
  FROM generate_series(20001, 20400) g}, @verbose);
	isnt($rc, 0, 'INSERT with a duplicate key on shard 2 fails');
	remote_error_ok($err, 'INSERT duplicate',
		sqlstate => '23505',
		message => 'duplicate key value violates unique constraint "w_pkey"',
		detail => "Key (id)=($k2) already exists.",
		constraint => 'w_pkey',
		shard => 2);
	like($err, qr/COPY w, row 350 of the rows inserted\b/,
		'INSERT duplicate: the error names row 350 of the INSERT');
	is(counts_between(20001, 20400), '0,0,0,0',
		'INSERT duplicate: no row of the statement on any shard');
	is(snapshot(), $before, 'INSERT duplicate: every shard as before');
}

# trap rows: on shard 1, a row whose u is what an UPDATE gives a row of
# shard 1; on some shard, the id a moved row of shard 3 gets
my $k1 = key_in(1, 1, 1000);
my $t1 = key_in(1, 90001, 91000);
my $k3 = key_in(3, 1, 1000);
my $moved_to = $coord->safe_psql('postgres',
	"SELECT shardfdw.shard_for('w'::regclass, 200000 + $k3)");
$coord->safe_psql('postgres', qq{
INSERT INTO w VALUES ($t1, 100000 + $k1, 1, 'trap'), (200000 + $k3, 300000, 1, 'trap')});
is(on_shard(1, "SELECT val FROM w WHERE id = $t1"), 'trap', 'trap row on shard 1');
$before = snapshot();

# (b) UPDATE pushed down whole to all shards
{
	my $sql = 'UPDATE w SET u = u + 100000 WHERE id <= 1000';
	like($coord->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $sql"),
		qr/Foreign Update/, 'UPDATE u = u + 100000 is pushed down whole');
	my ($rc, $out, $err) = $c->psql_timed($sql, @verbose);
	isnt($rc, 0, 'pushed-down UPDATE hitting a unique value on shard 1 fails');
	remote_error_ok($err, 'pushed-down UPDATE duplicate',
		sqlstate => '23505',
		message => 'duplicate key value violates unique constraint "w_u_key"',
		detail => 'Key (u)=(' . (100000 + $k1) . ') already exists.',
		constraint => 'w_u_key',
		shard => 1);
	is(snapshot(), $before, 'pushed-down UPDATE duplicate: every shard as before');
}

# (c) the same UPDATE row by row (a local function in SET)
{
	my $sql = 'UPDATE w SET u = local_add(u) WHERE id <= 1000';
	unlike($coord->safe_psql('postgres', "EXPLAIN (VERBOSE, COSTS OFF) $sql"),
		qr/Foreign Update/, 'UPDATE u = local_add(u) runs row by row');
	my ($rc, $out, $err) = $c->psql_timed($sql, @verbose);
	isnt($rc, 0, 'row-by-row UPDATE hitting a unique value on shard 1 fails');
	remote_error_ok($err, 'row-by-row UPDATE duplicate',
		sqlstate => '23505',
		detail => 'Key (u)=(' . (100000 + $k1) . ') already exists.',
		constraint => 'w_u_key',
		shard => 1);
	is(snapshot(), $before, 'row-by-row UPDATE duplicate: every shard as before');
}

# (d) an UPDATE moving rows between shards, one moved row hits an id
{
	my ($rc, $out, $err) =
	  $c->psql_timed('UPDATE w SET id = id + 200000 WHERE id <= 1000', @verbose);
	isnt($rc, 0, 'UPDATE moving rows onto an existing id fails');
	remote_error_ok($err, 'moving UPDATE duplicate',
		sqlstate => '23505',
		detail => 'Key (id)=(' . (200000 + $k3) . ') already exists.',
		constraint => 'w_pkey',
		shard => $moved_to);
	is(snapshot(), $before, 'moving UPDATE duplicate: every shard as before');
}

# (e) COPY of 300 rows over all shards, line 250 a duplicate id of shard 3
{
	my $k3b = key_in(3, 1, 5000);
	my $data = join '',
	  map { ($_ == 250 ? $k3b : 40000 + $_) . "\t" . (40000 + $_) . "\t1\tcopy\n" }
	  1 .. 300;
	my ($rc, $out, $err) = $c->psql_timed("COPY w FROM STDIN;\n$data\\.\n", @verbose);
	isnt($rc, 0, 'COPY with a duplicate key on shard 3 fails');
	remote_error_ok($err, 'COPY duplicate',
		sqlstate => '23505',
		detail => "Key (id)=($k3b) already exists.",
		constraint => 'w_pkey',
		shard => 3);
	like($err, qr/COPY w, line 250\b/, 'COPY duplicate: the error gives input line 250');
	is(counts_between(40001, 40300), '0,0,0,0', 'COPY duplicate: no row of it on any shard');
	is(snapshot(), $before, 'COPY duplicate: every shard as before');

	# a long COPY is cut into COPYs of 65536 rows per shard: a duplicate in
	# a later one (line 290000, after more than 65536 rows for shard 3) is
	# still told by its input line; a header line counts as a line
	$data = "id\tu\tref\tval\n" . join '',
	  map { ($_ == 289999 ? $k3b : 400000 + $_) . "\t" . (400000 + $_) . "\t1\tbig\n" }
	  1 .. 300000;
	($rc, $out, $err) = $c->psql_timed(
		"COPY w FROM STDIN WITH (FORMAT text, HEADER true);\n$data\\.\n", @verbose);
	isnt($rc, 0, 'long COPY with a duplicate key on shard 3 fails');
	like($err, qr/ERROR:  23505:/, 'long COPY duplicate: SQLSTATE 23505');
	like($err, qr/COPY w, line 290000\b/, 'long COPY duplicate: the error gives input line 290000');
	is(counts_between(400001, 700000), '0,0,0,0', 'long COPY duplicate: no row of it on any shard');
	is(snapshot(), $before, 'long COPY duplicate: every shard as before');
}

# ================================================================ foreign keys
note 'foreign keys on the shards';

# parent 11 written on every shard, then removed from shard 3 only
$coord->safe_psql('postgres', q{INSERT INTO parent VALUES (11, 'p11')});
is(join(',', map { on_shard($_, 'SELECT count(*) FROM parent WHERE pid = 11') } @S),
	'1,1,1,1', 'replicated INSERT of parent 11 on every shard');
on_shard(3, 'DELETE FROM parent WHERE pid = 11');
$before = snapshot();

{
	my ($rc, $out, $err) = $c->psql_timed(q{
INSERT INTO w SELECT g, g, 11, 'fk' FROM generate_series(110001, 110400) g}, @verbose);
	isnt($rc, 0, 'INSERT referencing a parent missing on shard 3 fails');
	remote_error_ok($err, 'INSERT FK',
		sqlstate => '23503',
		message => 'insert or update on table "w" violates foreign key constraint "w_ref_fkey"',
		detail => 'Key (ref)=(11) is not present in table "parent".',
		constraint => 'w_ref_fkey',
		shard => 3);
	is(counts_between(110001, 110400), '0,0,0,0', 'INSERT FK: no row of it on any shard');
	is(snapshot(), $before, 'INSERT FK: every shard as before');

	($rc, $out, $err) =
	  $c->psql_timed('UPDATE w SET ref = 11 WHERE id <= 1000', @verbose);
	isnt($rc, 0, 'UPDATE to a parent missing on shard 3 fails');
	remote_error_ok($err, 'UPDATE FK',
		sqlstate => '23503',
		detail => 'Key (ref)=(11) is not present in table "parent".',
		constraint => 'w_ref_fkey',
		shard => 3);
	is(snapshot(), $before, 'UPDATE FK: every shard as before');

	# the same row by row (random() keeps the SET local), in batches
	($rc, $out, $err) = $c->psql_timed(
		'UPDATE w SET ref = 11 + (random() * 0)::int WHERE id <= 1000', @verbose);
	isnt($rc, 0, 'row-by-row UPDATE to a parent missing on shard 3 fails');
	remote_error_ok($err, 'row-by-row UPDATE FK',
		sqlstate => '23503',
		detail => 'Key (ref)=(11) is not present in table "parent".',
		constraint => 'w_ref_fkey',
		shard => 3);
	like($err, qr/UPDATE public\.w SET ref = \$2 WHERE ctid = \$1/,
		'row-by-row UPDATE FK: the error shows the row statement');
	is(snapshot(), $before, 'row-by-row UPDATE FK: every shard as before');

	my $data = join '', map { (110000 + $_) . "\t" . (110000 + $_) . "\t11\tfk\n" } 1 .. 200;
	($rc, $out, $err) = $c->psql_timed("COPY w FROM STDIN;\n$data\\.\n", @verbose);
	isnt($rc, 0, 'COPY referencing a parent missing on shard 3 fails');
	remote_error_ok($err, 'COPY FK',
		sqlstate => '23503',
		detail => 'Key (ref)=(11) is not present in table "parent".',
		constraint => 'w_ref_fkey',
		shard => 3);
	# a foreign key is checked when the statement ends, after the last
	# line, as PostgreSQL does: no line (and no shard's own line count)
	unlike($err, qr/COPY w, line/, 'COPY FK: the error names no line, as for a local COPY');
	is(snapshot(), $before, 'COPY FK: every shard as before');

	# a referenced row of the replicated parent cannot be deleted
	($rc, $out, $err) = $c->psql_timed('DELETE FROM parent WHERE pid = 1', @verbose);
	isnt($rc, 0, 'DELETE of a referenced parent row fails');
	remote_error_ok($err, 'replicated DELETE FK',
		sqlstate => '23503',
		constraint => 'w_ref_fkey');
	is(snapshot(), $before, 'replicated DELETE FK: every shard as before');

	# a replicated INSERT that conflicts on one shard writes no shard
	on_shard(2, q{INSERT INTO parent VALUES (12, 'only on shard 2')});
	$before = snapshot();
	($rc, $out, $err) =
	  $c->psql_timed(q{INSERT INTO parent VALUES (12, 'p12')}, @verbose);
	isnt($rc, 0, 'replicated INSERT conflicting on shard 2 fails');
	remote_error_ok($err, 'replicated INSERT duplicate',
		sqlstate => '23505',
		detail => 'Key (pid)=(12) already exists.',
		constraint => 'parent_pkey',
		shard => 2);
	is(join(',', map { on_shard($_, 'SELECT count(*) FROM parent WHERE pid = 12') } @S),
		'0,0,1,0', 'replicated INSERT duplicate: only shard 2 has its own row 12');
	is(snapshot(), $before, 'replicated INSERT duplicate: every shard as before');
	on_shard(2, 'DELETE FROM parent WHERE pid = 12');
}

# ================================================================ savepoints
note 'errors inside a transaction with savepoints';
$before = snapshot();
{
	my $s = vsession();
	my $kd = key_in(0, 1, 5000);
	my $copyfile = PostgreSQL::Test::Utils::tempdir() . '/savepoint_copy.data';
	PostgreSQL::Test::Utils::append_to_file($copyfile,
		join('', map { (60400 + $_) . "\t" . (60400 + $_) . "\t11\tC\n" } 1 .. 50));
	my @steps = (
		# [ sql, expect error (regexp) or undef ]
		[ q{BEGIN}, undef ],
		[ q{INSERT INTO w SELECT g, g, 2, 'A' FROM generate_series(60001, 60200) g}, undef ],
		[ q{SAVEPOINT a}, undef ],
		[ q{INSERT INTO w SELECT g, g, 2, 'X' FROM generate_series(60201, 60300) g}, undef ],
		[ q{RELEASE SAVEPOINT a}, undef ],
		[ q{SAVEPOINT b}, undef ],
		[ qq{INSERT INTO w SELECT CASE WHEN g = 60390 THEN $kd ELSE g END, g, 2, 'B'
               FROM generate_series(60301, 60400) g}, qr/ERROR:  23505: .*w_pkey/ ],
		[ q{ROLLBACK TO SAVEPOINT b}, undef ],
		[ q{UPDATE w SET val = 'A2' WHERE id BETWEEN 60001 AND 60200}, undef ],
		[ q{SAVEPOINT c}, undef ],
		[ q{UPDATE w SET u = local_add(u) WHERE id <= 1000}, qr/ERROR:  23505: .*w_u_key/ ],
		[ q{ROLLBACK TO SAVEPOINT c}, undef ],
		[ q{SAVEPOINT d}, undef ],
		[ q{UPDATE w SET ref = 11 WHERE id <= 1000}, qr/ERROR:  23503: .*w_ref_fkey/ ],
		[ q{ROLLBACK TO SAVEPOINT d}, undef ],
		[ q{SAVEPOINT e},  undef ],
		# (\copy from a file: COPY FROM STDIN cannot be fed to a
		# background psql)
		[ "\\copy w FROM '$copyfile'", qr/ERROR:  23503: .*w_ref_fkey/ ],
		[ q{ROLLBACK TO SAVEPOINT e}, undef ],
		[ q{INSERT INTO w SELECT g, g, 3, 'D' FROM generate_series(60501, 60600) g}, undef ],
		[ q{SELECT count(*) FROM w WHERE id BETWEEN 60001 AND 60600}, undef, '400' ],
		[ q{COMMIT}, undef ],
	);
	for my $st (@steps)
	{
		my ($sql, $want_err, $want_out) = @$st;
		my ($out, $err) = ShardTest::sq($s, $sql);
		my $name = (split /\n/, $sql)[0];
		$name =~ s/\s+/ /g;
		if ($want_err)
		{
			like($err, $want_err, "transaction: '$name' fails as expected");
			like($err, qr/shard p\d \(host=/, "transaction: '$name': the error names the shard");
		}
		else
		{
			is($err, '', "transaction: '$name' succeeds") or diag($err);
		}
		is($out, $want_out, "transaction: '$name' returns $want_out") if defined $want_out;
	}
	$s->quit;
}
placement_is(60001, 60300, 'transaction: rows of A and X (released savepoint a) committed');
placement_is(60501, 60600, 'transaction: rows inserted after the rollbacks committed');
is(counts_between(60301, 60400), '0,0,0,0',
	'transaction: rows of the INSERT rolled back to savepoint b on no shard');
is(counts_between(60401, 60450), '0,0,0,0',
	'transaction: rows of the COPY rolled back to savepoint e on no shard');
is(join(',', map { on_shard($_,
	"SELECT count(*) FILTER (WHERE val = 'A2') || '/' || count(*) FROM w WHERE id BETWEEN 60001 AND 60200") } @S),
	$coord->safe_psql('postgres', q{
SELECT string_agg(n || '/' || n, ',' ORDER BY s) FROM (
    SELECT shardfdw.shard_for('w'::regclass, g) s, count(*) n
      FROM generate_series(60001, 60200) g GROUP BY 1) x}),
	'transaction: the UPDATE between the savepoints committed on every shard');
# the rest of w (ids <= 1000, traps) is untouched: compare without the new rows
on_shard($_, 'DELETE FROM w WHERE id BETWEEN 60001 AND 60600') for @S;
is(snapshot(), $before, 'transaction: apart from its committed rows, every shard as before');

# ================================================================ stopped shard
note 'a shard stopped';
$before = snapshot();
my $s2 = $c->shard(2);
{
	my $s = vsession();
	my ($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM w');
	is($err, '', 'stopped shard: session connected to all shards') or diag($err);
	$s2->stop('fast');

	($out, $err) = ShardTest::sq($s,
		q{INSERT INTO w SELECT g, g, 1, 'down' FROM generate_series(130001, 130400) g});
	like($err, qr/ERROR:  08\w\w\w: .*(could not connect to|lost connection to) /,
		'shard 2 stopped: multi-shard INSERT fails with a connection error');
	like($err, shard_re(2), 'shard 2 stopped: the INSERT error names p2');

	($out, $err) = ShardTest::sq($s, q{UPDATE w SET val = val || '!' WHERE id <= 1000});
	like($err, qr/ERROR:  08\w\w\w: .*(could not connect to|lost connection to) /,
		'shard 2 stopped: UPDATE across shards fails with a connection error');
	like($err, shard_re(2), 'shard 2 stopped: the UPDATE error names p2');

	($out, $err) = ShardTest::sq($s, q{UPDATE w SET u = local_add(u) WHERE id <= 1000});
	like($err, shard_re(2), 'shard 2 stopped: row-by-row UPDATE error names p2');

	# a fresh session, no cached connection
	my ($rc, $o2, $e2) = $c->psql_timed(
		q{INSERT INTO w SELECT g, g, 1, 'down' FROM generate_series(130001, 130400) g},
		@verbose);
	isnt($rc, 0, 'shard 2 stopped, fresh session: INSERT fails');
	like($e2, shard_re(2), 'shard 2 stopped, fresh session: the error names p2');

	$s2->start;
	is(snapshot(), $before, 'shard 2 back: nothing of the failed statements on any shard');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM w WHERE id <= 5000');
	is($out, '5000', 'shard 2 back: the same session reads all shards again');
	is($err, '', 'shard 2 back: no error') or diag($err);
	($out, $err) = ShardTest::sq($s,
		q{INSERT INTO w SELECT g, g, 1, 'up' FROM generate_series(130001, 130400) g});
	is($err, '', 'shard 2 back: the same session writes all shards again') or diag($err);
	placement_is(130001, 130400, 'INSERT after shard 2 came back');
	ShardTest::sq($s, 'DELETE FROM w WHERE id BETWEEN 130001 AND 130400');
	is(snapshot(), $before, 'pushed-down DELETE of those rows on every shard');
	$s->quit;
}

# In the middle of a statement: the INSERT ... SELECT waits in gate() at
# row 250 of 400 after two batches went to every shard's COPY; shard 2 is
# stopped (immediate) and the statement goes on.
{
	my $ctl = $c->session;
	$ctl->query_safe('SELECT pg_advisory_lock(4242)');
	my $s = vsession();
	ShardTest::send_async($s,
		q{INSERT INTO w SELECT g, g, 1, gate(g, 70250) FROM generate_series(70001, 70400) g;});
	ok(defined ShardTest::poll_until($coord,
			q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted},
			'1', 30),
		'mid-statement: the INSERT waits at row 250');
	for my $i (@S)
	{
		ok(shard_poll($i, q{SELECT count(*) FROM pg_stat_activity
                             WHERE application_name LIKE 'shardfdw:%' AND state = 'active'
                               AND wait_event = 'ClientRead' AND query LIKE 'COPY %w%'}, '1'),
			"mid-statement: shard $i has the COPY of the INSERT open");
	}
	is($coord->safe_psql('postgres', q{SELECT count(*) > 0 FROM generate_series(70301, 70400) g
                                        WHERE shardfdw.shard_for('w'::regclass, g) = 2}),
		't', 'mid-statement: the last batch has rows for shard 2');
	$s2->stop('immediate');
	$ctl->query_safe('SELECT pg_advisory_unlock(4242)');
	my ($out, $err) = ShardTest::wait_async($s);
	like($err, qr/ERROR:/, 'mid-statement: the INSERT fails after shard 2 stopped');
	like($err, shard_re(2), 'mid-statement: the error names p2');
	like($err, qr/ERROR:  08006: lost connection to /,
		'mid-statement: the error says the connection was lost');
	unlike($err, qr/COMMIT/, 'mid-statement: the error is not at COMMIT') or diag($err);
	$s2->start;
	is(counts_between(70001, 70400), '0,0,0,0',
		'mid-statement: no row of the INSERT on any shard');
	is(snapshot(), $before, 'mid-statement: every shard as before');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM w WHERE id <= 5000');
	is($out, '5000', 'mid-statement: the session works again') or diag($err);

	# The same with a row-by-row UPDATE of every shard's rows (ids 1..1000),
	# first one row per statement (batch_size 1), then in batches of 100
	# rows per shard.  The order in which the scan returns rows is not
	# fixed, so gate_row() picks the moment: the first row whose shard has
	# had an earlier row (so an earlier write, or one queued) once rows of
	# all 4 shards have gone by.  It names that shard in its
	# application_name and waits; that shard is stopped, so its next write
	# (batch_size 1: this row's; batched: its batch, sent when the statement's
	# executor run ends) fails in the middle of the statement, after the other shards
	# were written (batch_size 1) or while their batches are sent.
	for my $bs (1, 100)
	{
		$coord->safe_psql('postgres', "ALTER FOREIGN TABLE w OPTIONS (SET batch_size '$bs')");
		$ctl->query_safe('SELECT pg_advisory_lock(4242)');
		ShardTest::sq($s, "SET gate.seen = ''; SET gate.done = 'n'");
		ShardTest::send_async($s, q{UPDATE w SET val = gate_row(id) WHERE id <= 1000;});
		my $victim = '';
		my $deadline = time + 30;
		while (time < $deadline)
		{
			$victim = $coord->safe_psql('postgres',
				q{SELECT substr(application_name, 7) FROM pg_stat_activity
	               WHERE application_name LIKE 'gate p%' AND wait_event_type = 'Lock'});
			last if $victim ne '';
			usleep(50_000);
		}
		like($victim, qr/^[0-3]$/,
			"mid-statement UPDATE (batch $bs): waits after rows of every shard, before a write to p$victim");
		$victim = 2 unless $victim =~ /^[0-3]$/;
		my $vnode = $c->shard($victim);
		$vnode->stop('immediate');
		$ctl->query_safe('SELECT pg_advisory_unlock(4242)');
		($out, $err) = ShardTest::wait_async($s);
		like($err, qr/ERROR:  08006: lost connection to /,
			"mid-statement UPDATE (batch $bs): fails with a lost connection after shard $victim stopped");
		like($err, shard_re($victim), "mid-statement UPDATE (batch $bs): the error names p$victim");
		unlike($err, qr/COMMIT/, "mid-statement UPDATE (batch $bs): the error is not at COMMIT")
		  or diag($err);
		$vnode->start;
		is(snapshot(), $before, "mid-statement UPDATE (batch $bs): every shard as before");
		($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM w WHERE id <= 5000');
		is($out, '5000', "mid-statement UPDATE (batch $bs): the session works again") or diag($err);
		is($err, '', "mid-statement UPDATE (batch $bs): no error") or diag($err);
	}
	$coord->safe_psql('postgres', "ALTER FOREIGN TABLE w OPTIONS (SET batch_size '100')");
	$s->quit;
	$ctl->quit;
}

# ================================================================ terminated backend
note 'a shard backend terminated inside a transaction that wrote';
$before = snapshot();
{
	my $s1 = $c->shard(1);
	my $kill = q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE application_name LIKE 'shardfdw:%' AND state = 'idle in transaction'};
	my $gone = q{SELECT count(*) FROM pg_stat_activity
                  WHERE application_name LIKE 'shardfdw:%' AND state = 'idle in transaction'};
	my $s = vsession();

	# COMMIT after the kill
	my ($out, $err) = ShardTest::sq($s,
		q{BEGIN; INSERT INTO w SELECT g, g, 1, 'T' FROM generate_series(80001, 80200) g});
	is($err, '', 'terminate: INSERT in a transaction') or diag($err);
	is($s1->safe_psql('postgres', $kill), '1', 'terminated the shard 1 backend');
	ok(shard_poll(1, $gone, '0'), 'shard 1 backend is gone');
	($out, $err) = ShardTest::sq($s, 'COMMIT');
	like($err, qr/ERROR:/, 'terminate: COMMIT fails');
	like($err, shard_re(1), 'terminate: the COMMIT error names p1');
	is(counts_between(80001, 80200), '0,0,0,0',
		'terminate: no row of the transaction on any shard');
	is(snapshot(), $before, 'terminate: every shard as before');
	on_shard($_, 'DELETE FROM w WHERE id BETWEEN 80001 AND 80200') for @S;
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM w WHERE id <= 5000');
	is($out, '5000', 'terminate: the session works after the failed COMMIT') or diag($err);

	# the next statement after the kill
	($out, $err) = ShardTest::sq($s,
		q{BEGIN; INSERT INTO w SELECT g, g, 1, 'T' FROM generate_series(80001, 80200) g});
	is($err, '', 'terminate: INSERT in a second transaction') or diag($err);
	is($s1->safe_psql('postgres', $kill), '1', 'terminated the shard 1 backend again');
	ok(shard_poll(1, $gone, '0'), 'shard 1 backend is gone again');
	($out, $err) = ShardTest::sq($s, q{UPDATE w SET val = 'T2' WHERE id BETWEEN 80001 AND 80200});
	like($err, qr/ERROR:/, 'terminate: the next statement of the transaction fails');
	like($err, shard_re(1), 'terminate: that error names p1');
	($out, $err) = ShardTest::sq($s, 'COMMIT');
	is(snapshot(), $before, 'terminate: after the failed transaction every shard as before');
	($out, $err) = ShardTest::sq($s, 'SELECT count(*) FROM w WHERE id <= 5000');
	is($out, '5000', 'terminate: the session works again') or diag($err);
	is($err, '', 'terminate: no error') or diag($err);
	$s->quit;
}

# ================================================================ COPY
note 'COPY FROM STDIN';
$before = snapshot();
{
	my $good = join '', map { (120000 + $_) . "\t" . (120000 + $_) . "\t" . ($_ % 10 + 1) . "\tc$_\n" } 1 .. 3000;
	my $bad = $good;
	# line 2500 malformed
	$bad =~ s/^122500\t[^\n]*$/abc\t122500\t1\tbad/m;
	my ($rc, $out, $err) = $c->psql_timed("COPY w FROM STDIN;\n$bad\\.\n", @verbose);
	isnt($rc, 0, 'COPY with a malformed line 2500 fails');
	like($err, qr/ERROR:  22P02: invalid input syntax for type integer: "abc"/,
		'COPY malformed: invalid input syntax');
	like($err, qr/CONTEXT:  COPY w, line 2500, column id: "abc"/,
		'COPY malformed: the error gives line 2500 and the column');
	is(counts_between(120001, 123000), '0,0,0,0',
		'COPY malformed: none of the 2499 rows before it on any shard');
	is(snapshot(), $before, 'COPY malformed: every shard as before');

	# missing column on the last line
	my $short = $good;
	$short =~ s/^123000\t[^\n]*$/123000\t123000/m;
	($rc, $out, $err) = $c->psql_timed("COPY w FROM STDIN;\n$short\\.\n", @verbose);
	isnt($rc, 0, 'COPY with a short last line fails');
	like($err, qr/COPY w, line 3000/, 'COPY short line: the error gives line 3000');
	is(snapshot(), $before, 'COPY short line: every shard as before');

	($rc, $out, $err) = $c->psql_timed("COPY w FROM STDIN;\n$good\\.\n", @verbose);
	is($rc, 0, 'COPY of 3000 good rows') or diag($err);
	placement_is(120001, 123000, 'COPY of 3000 rows');
	is($coord->safe_psql('postgres',
			q{SELECT count(*), sum(u), count(DISTINCT val) FROM w WHERE id BETWEEN 120001 AND 123000}),
		'3000|' . (3000 * 120000 + 3000 * 3001 / 2) . '|3000',
		'COPY of 3000 rows: values read back through the coordinator');
}

# ================================================================ TRUNCATE
note 'TRUNCATE rolled back';
$before = snapshot();
{
	my $s = vsession();
	my ($out, $err) = ShardTest::sq($s, 'BEGIN; TRUNCATE w; SELECT count(*) FROM w');
	is($out, '0', 'TRUNCATE in a transaction: the transaction sees no row');
	is($err, '', 'TRUNCATE in a transaction: no error') or diag($err);
	($out, $err) = ShardTest::sq($s, 'ROLLBACK');
	is($err, '', 'ROLLBACK of the TRUNCATE') or diag($err);
	is(snapshot(), $before, 'TRUNCATE rolled back: every shard keeps its rows');
	($out, $err) = ShardTest::sq($s,
		'BEGIN; TRUNCATE w; SAVEPOINT x; INSERT INTO w VALUES (1, 1, 1, 1); ROLLBACK TO x; ROLLBACK');
	is($err, '', 'TRUNCATE then savepoint rolled back, then ROLLBACK') or diag($err);
	is(snapshot(), $before, 'every shard still keeps its rows');
	$s->quit;
}

# ================================================================ final check
# every row of w on every shard is on the shard PARTITION BY HASH gives it
for my $i (@S)
{
	is(on_shard($i, qq{SELECT count(*) FROM w
        WHERE NOT satisfies_hash_partition('placement_probe'::regclass, 4, $i, id)}),
		'0', "shard $i: every row of w is placed as PARTITION BY HASH places it");
}
note sprintf('004_writes took %.1f s', time - $t_start);

done_testing();
