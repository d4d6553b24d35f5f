# t/019_split.pl: CALL shardfdw.split_shards(server, new_conninfos) doubles
# the shards of a server (4 -> 8) online.
#
# The shards run with wal_level = logical (ShardTest's four nodes, which
# also hold new places as other databases) and two more servers, new1 and
# new2, hold the other new places.  Layout A puts new shard i (i < 4) on
# the server of old shard i and shards 4..7 on new1/new2; layout B the
# other way round (new shards 4..7 next to their source, old shard i - 4).
# Every cluster has, besides (for the main one) ShardTest's t: a hash table
# H (id int key), a modulo table M, a replicated table R, a hash table
# items distributed by k whose primary key (id) does not hold k (so the
# split needs REPLICA IDENTITY FULL there, temporarily), and a table nd
# without distribution (rows put on each old shard directly).  Each has a
# local twin on the coordinator with the same rows; writes through the
# coordinator go to a table and its twin in one local transaction
# (shardfdw commits atomically with it), so table = twin at every check.
#
#  3. (first) Bad input on the main cluster: N and 2N+1 elements, a NULL
#     element, a password in an element, CALL in a transaction block
#     (25001), an unreachable new place, a non-empty table at one new
#     place (named in the error); after each, nothing was created at any
#     new place, no replication anywhere, p0..p3 unchanged.  A hand-made
#     ALTER SERVER ... ADD p4 is refused while tables have rows.
#  1. The main cluster splits 4 -> 8 while 4 load clients write t and
#     twin (INSERT/UPDATE/DELETE of random keys, 40001 retried) and a
#     differential reader compares queries over H, M, R (counts, sums,
#     GROUP BY a non-key column, ORDER BY ... LIMIT, a join with R, key
#     lookups) with the same queries over the twins, before, during and
#     after the CALL (each phase must have comparisons; every answer must
#     be the twin's).  Afterwards: p0..p7 name the new places; every table
#     equals its twin; each new place holds exactly the rows shard_for
#     gives it (content, per table), checked directly there too (shard_for
#     and satisfies_hash_partition / mod 8 of every key found there); R is
#     whole on all 8; nd's rows stay on shards 0..3 and 4..7 have it empty;
#     replica identities are back; no publication, slot or subscription is
#     left; EXPLAIN shows "Shards: 1 of 8" (also in a session that existed
#     before); writes land on the new places; the same CALL again succeeds
#     and changes nothing; ALTER SERVER ... ADD p8 is refused.
#  2a. A fresh cluster splits paused (move_after_lock:pause) while holding
#     the switch lock: reads (the differential set) complete and equal the
#     twins, a write waits on the coordinator for the split's lock and,
#     once let go, completes on the new place (or, planned for 4 shards,
#     gets 40001 and completes there when retried); transactions that used
#     the old place before the switch get 40001 on a read (of a key now on
#     a shard that did not exist) or a write after it; the same CALL again
#     only succeeds.
#  2b. For every fail point (':error'; ':crash' for move_after_sync and
#     move_after_switch) a fresh cluster: the CALL fails; the old places
#     are untouched; before the switch the server keeps p0..p3 and nothing
#     is left (no replication, copied rows emptied; a crash leaves the 8
#     subscriptions, checked to be there), after it the server already has
#     p0..p7; reads and writes go to the authoritative places and equal
#     the twins; the same CALL again completes the split, leaves nothing
#     behind and does not touch the old places.
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

my $seed = $ENV{SHARDFDW_SPLIT_SEED} // 19019;
note "random seed $seed (set SHARDFDW_SPLIT_SEED to change)";
srand($seed);

# forked load clients and reader, killed (with their psql) in END
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

my $REPL = "wal_level = logical\nmax_wal_senders = 20\nmax_replication_slots = 20\n"
  . "max_logical_replication_workers = 16\nmax_worker_processes = 24\n"
  . "max_sync_workers_per_subscription = 4\nwal_retrieve_retry_interval = '500ms'\n"
  . "max_connections = 60\n";
my $c = ShardTest->setup(
	shard_conf => $REPL,
	coord_conf => "restart_after_crash = on\nmax_connections = 40\n",
	server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my $tmp = $PostgreSQL::Test::Utils::tmp_check;

sub extra_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_buffers = 16MB\nfsync = off\nmax_prepared_transactions = 10\n" . $REPL);
	$node->start;
	return $node;
}
my $new1 = extra_node('new1');
my $new2 = extra_node('new2');
my @all_nodes = ($c->shards, $new1, $new2);

# ---------------------------------------------------------------- helpers


# SQL at a place (dies on error: for the setup)
sub setup_on
{
	my ($p, $sql) = @_;
	return $p->{node}->safe_psql($p->{db}, $sql);
}

# SQL at a place for a check: its output, or "ERROR: ..." (the place may
# lack a table when the split did not do its job)
sub on
{
	my ($p, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $p->{node}->psql($p->{db}, $sql, stdout => \$out, stderr => \$err);
	return $rc == 0 && $err !~ /ERROR/ ? $out : "ERROR at $p->{name}: $err";
}

sub num
{
	my ($x) = @_;
	return $x =~ /^-?\d+$/ ? $x : 1_000_000;
}


# the 8 new places of a split, new databases named <tag>_n<i>
sub new_places
{
	my ($tag, $layout) = @_;
	my @p;
	for my $i (0 .. 7)
	{
		my $next_to_old = $layout eq 'A' ? $i < 4 : $i >= 4;
		my $node = $next_to_old ? $c->shard($i % 4) : ($i % 2 ? $new2 : $new1);
		push @p, new_place($node, "${tag}_n$i");
	}
	return @p;
}

# SQL text[] of conninfos (undef: NULL)
sub arr
{
	return 'ARRAY[' . join(', ', map { defined $_ ? "'$_'" : 'NULL' } @_) . ']::text[]';
}

sub conns { return map { $_->{conn} } @_; }

# the pN options of a server, "p0=... p1=..."
sub popts
{
	my ($server) = @_;
	return $coord->safe_psql('postgres', qq{
SELECT string_agg(option_name || '=' || option_value, ' '
                  ORDER BY substr(option_name, 2)::int)
  FROM pg_options_to_table(
         (SELECT srvoptions FROM pg_foreign_server WHERE srvname = '$server'))
 WHERE option_name ~ '^p[0-9]+\$'});
}

sub expect_popts
{
	my @p = @_;
	return join ' ', map { "p$_=$p[$_]{conn}" } 0 .. $#p;
}

# "<count> rows, md5 <...>" of a table (or a filtered one), as a scalar
# subquery: compares contents across servers (a row as text)
sub content_sql
{
	my ($from, $where, $okey) = @_;
	return "(SELECT count(*) || ' rows, md5 ' || "
	  . "coalesce(md5(string_agg(x::text, ',' ORDER BY x.$okey)), '-') "
	  . "FROM $from x WHERE $where)";
}

sub wait_coord_up
{
	for (1 .. 600)
	{
		return 1 if eval { $coord->psql('postgres', 'SELECT 1') == 0 };
		usleep(100_000);
	}
	return 0;
}

# wait until the coordinator's log, from offset pos, matches re (true), or
# a backend died (false)
sub wait_log
{
	my ($pos, $re, $timeout, $pid) = @_;
	my $t0 = time;
	while (time - $t0 < $timeout)
	{
		my $log = slurp_file($coord->logfile, $pos);
		return 1 if $log =~ $re;
		return 0 if $log =~ /terminated by signal|terminating any other active server processes/;
		return 0 if defined $pid && $log =~ /\[$pid\][^\n]*ERROR:/;    # (that backend failed)
		usleep(50_000);
	}
	return 0;
}


# a coordinator session: verbose errors (SQLSTATE shown), a backstop
sub session
{
	wait_coord_up();    # (after a crash, the coordinator restarts)
	my $s = $c->session;
	$s->set_query_timer_restart;
	ShardTest::sq($s, '\set VERBOSITY verbose');
	ShardTest::sq($s, "SET statement_timeout = '120s'");
	return $s;
}

# ShardTest::sq that survives the end of the session (a crashed
# coordinator): (stdout, stderr)
sub ssq
{
	my ($s, $sql) = @_;
	my @r = eval { ShardTest::sq($s, $sql) };
	return @r ? @r : ('', "SESSION LOST: $@");
}

sub swait
{
	my ($s) = @_;
	my @r = eval { ShardTest::wait_async($s) };
	return @r ? @r : ('', "SESSION LOST: $@");
}

sub squit
{
	eval { $_->quit } for @_;
	return;
}

# SQL on the coordinator (errors verbose, 20 s at most)
sub coord_sql
{
	my ($sql) = @_;
	return $c->psql_timed("\\set VERBOSITY verbose\nSET statement_timeout = '20s';\n$sql");
}

# CALL shardfdw.split_shards on the coordinator: (exit code, stdout, stderr)
sub call_split
{
	my ($server, $arrsql, %o) = @_;
	my $sql = "\\set VERBOSITY verbose\nSET statement_timeout = '"
	  . ($o{timeout} // '120s') . "';\n";
	$sql .= "SET shardfdw.test_fail_point = '$o{fail}';\n" if $o{fail};
	$sql .= "CALL shardfdw.split_shards('$server', $arrsql);\n";
	my ($rc, $out, $err) = $c->psql_timed($sql);
	# (a crashed coordinator restarts: wait for it)
	wait_coord_up() if $rc != 0;
	return ($rc, $out, $err);
}

# ---------------------------------------------------------------- clusters
#
# A cluster: {server, q (schema prefix of its coordinator tables), old (4
# places), new (8 places), names (H, M, R), hrange, tables (each: remote,
# ft, twin, kind, dkey, okey), w (the table check_lands_on writes)}.

sub tables_of
{
	my ($cl) = @_;
	my $q = $cl->{q};
	my ($h, $m, $r) = @{ $cl->{names} }{qw(H M R)};
	return [
		{ remote => $h, ft => "$q$h", twin => "$q${h}_l", kind => 'hash', dkey => 'id', okey => 'id' },
		{ remote => $m, ft => "$q$m", twin => "$q${m}_l", kind => 'modulo', dkey => 'id', okey => 'id' },
		{ remote => $r, ft => "$q$r", twin => "$q${r}_l", kind => 'replicated', okey => 'g' },
		{ remote => 'items', ft => "${q}items", twin => "${q}items_l", kind => 'hash', dkey => 'k', okey => 'id' },
		{ remote => 'nd', ft => "${q}nd", twin => "${q}nd_l", kind => 'none', okey => 'id' },
	];
}

# the cluster's tables on old place r (nd's rows: ids r*1000+1 .. +25)
sub create_old_tables
{
	my ($cl, $r) = @_;
	my ($h, $m, $rr) = @{ $cl->{names} }{qw(H M R)};
	setup_on($cl->{old}[$r], qq{
CREATE TABLE $h (id int PRIMARY KEY, g int, n numeric(12,2), v text);
CREATE TABLE $m (id int PRIMARY KEY, g int, n numeric(12,2), v text);
CREATE TABLE $rr (g int PRIMARY KEY, name text NOT NULL);
CREATE TABLE items (id int PRIMARY KEY, k int NOT NULL, v text);
CREATE INDEX items_k ON items (k);
CREATE TABLE nd (id int PRIMARY KEY, v text);
INSERT INTO nd SELECT g, 'nd $r/' || g FROM generate_series($r * 1000 + 1, $r * 1000 + 25) g;
});
	return;
}

# foreign tables and twins on the coordinator, rows loaded through both
sub create_foreign
{
	my ($cl) = @_;
	my ($s, $q) = @{$cl}{qw(server q)};
	my ($h, $m, $r) = @{ $cl->{names} }{qw(H M R)};
	my ($hlo, $hhi) = @{ $cl->{hrange} };
	my ($mlo, $mhi) = @{ $cl->{mrange} };
	my $ni = $cl->{nitems};
	my $row = q{id, CASE WHEN id % 13 = 0 THEN NULL ELSE abs(id) % 7 END,
            ((id * 37) % 1000) / 10.0, 'v' || id};
	$coord->safe_psql('postgres', qq{
CREATE FOREIGN TABLE $q$h (id int, g int, n numeric(12,2), v text) SERVER $s
  OPTIONS (schema_name 'public', table_name '$h', distribution_column 'id');
CREATE FOREIGN TABLE $q$m (id int, g int, n numeric(12,2), v text) SERVER $s
  OPTIONS (schema_name 'public', table_name '$m', distribution_column 'id',
           distribution 'modulo');
CREATE FOREIGN TABLE $q$r (g int, name text) SERVER $s
  OPTIONS (schema_name 'public', table_name '$r', distribution 'replicated');
CREATE FOREIGN TABLE ${q}items (id int, k int, v text) SERVER $s
  OPTIONS (schema_name 'public', table_name 'items', distribution_column 'k');
CREATE FOREIGN TABLE ${q}nd (id int, v text) SERVER $s
  OPTIONS (schema_name 'public', table_name 'nd');
CREATE TABLE $q${h}_l (id int PRIMARY KEY, g int, n numeric(12,2), v text);
CREATE TABLE $q${m}_l (id int PRIMARY KEY, g int, n numeric(12,2), v text);
CREATE TABLE $q${r}_l (g int PRIMARY KEY, name text NOT NULL);
CREATE TABLE ${q}items_l (id int PRIMARY KEY, k int NOT NULL, v text);
CREATE TABLE ${q}nd_l (id int PRIMARY KEY, v text);
INSERT INTO $q$h SELECT $row FROM generate_series($hlo, $hhi) id;
INSERT INTO $q${h}_l SELECT $row FROM generate_series($hlo, $hhi) id;
INSERT INTO $q$m SELECT $row FROM generate_series($mlo, $mhi) id;
INSERT INTO $q${m}_l SELECT $row FROM generate_series($mlo, $mhi) id;
INSERT INTO $q$r SELECT g, 'name ' || g FROM generate_series(0, 5) g;
INSERT INTO $q${r}_l SELECT g, 'name ' || g FROM generate_series(0, 5) g;
INSERT INTO ${q}items SELECT id, (id * 7919) % 503, 'item ' || id FROM generate_series(1, $ni) id;
INSERT INTO ${q}items_l SELECT id, (id * 7919) % 503, 'item ' || id FROM generate_series(1, $ni) id;
INSERT INTO ${q}nd_l SELECT g, 'nd ' || r || '/' || g
  FROM generate_series(0, 3) r, generate_series(r * 1000 + 1, r * 1000 + 25) g;
});
	return;
}

# a fresh cluster (server and schema <s>) for one split
sub make_cluster
{
	my ($s, $layout) = @_;
	my $cl = {
		server => $s,
		q => "$s.",
		names => { H => 't', M => 'mt', R => 'ref' },
		hrange => [ -20, 379 ],
		mrange => [ -20, 279 ],
		nitems => 200,
		w => { ft => "$s.t", twin => "$s.t_l", remote => 't', vcol => 'v' },
	};
	$cl->{old} = [ map { new_place($c->shard($_), "${s}_o$_") } 0 .. 3 ];
	$cl->{new} = [ new_places($s, $layout) ];
	$cl->{tables} = tables_of($cl);
	create_old_tables($cl, $_) for 0 .. 3;
	$coord->safe_psql('postgres', "CREATE SCHEMA $s;\n"
		  . "CREATE SERVER $s FOREIGN DATA WRAPPER shardfdw OPTIONS ("
		  . join(', ', map { "p$_ '$cl->{old}[$_]{conn}'" } 0 .. 3)
		  . ", connect_timeout '2');\n"
		  . "CREATE USER MAPPING FOR CURRENT_USER SERVER $s;");
	create_foreign($cl);
	return $cl;
}

# ---------------------------------------------------------------- checks

# every table of the cluster through the coordinator equals its twin
sub twin_check
{
	my ($cl, $label) = @_;
	my $sql = join("\nUNION ALL\n", map {
			"SELECT '$_->{ft}', "
			  . "(SELECT count(*) FROM (SELECT * FROM $_->{ft} EXCEPT ALL SELECT * FROM $_->{twin}) a), "
			  . "(SELECT count(*) FROM (SELECT * FROM $_->{twin} EXCEPT ALL SELECT * FROM $_->{ft}) b), "
			  . "(SELECT count(*) FROM $_->{twin})"
	} @{ $cl->{tables} });
	my ($rc, $out, $err) = coord_sql($sql);
	is($err, '', "$label: the twin comparison query runs") or diag($err);
	my %res = map { my @f = split /\|/; ($f[0] => \@f) } split /\n/, $out;
	for my $t (@{ $cl->{tables} })
	{
		my $r = $res{ $t->{ft} } // [ $t->{ft}, '?', '?', '?' ];
		is("$r->[1] $r->[2]", '0 0',
			"$label: $t->{ft} through the coordinator equals its twin ($r->[3] rows): "
			  . 'no row missing, none extra');
	}
	return;
}

# what new shard i of 8 must hold, from the twins
sub expected_contents
{
	my ($cl, $i) = @_;
	my @parts;
	for my $t (@{ $cl->{tables} })
	{
		my $where =
			$t->{kind} eq 'replicated' ? 'true'
		  : $t->{kind} eq 'none' ? ($i < 4 ? "x.id BETWEEN $i * 1000 + 1 AND $i * 1000 + 999" : 'false')
		  : "shardfdw.shard_for('$t->{ft}'::regclass, x.$t->{dkey}) = $i";
		push @parts, "'$t->{remote}: ' || " . content_sql($t->{twin}, $where, $t->{okey});
	}
	return $coord->safe_psql('postgres', 'SELECT ' . join(" || E'\\n' || ", @parts));
}

# what a place holds
sub actual_contents
{
	my ($cl, $p) = @_;
	my @parts = map { "'$_->{remote}: ' || " . content_sql("public.$_->{remote}", 'true', $_->{okey}) }
	  @{ $cl->{tables} };
	return on($p, 'SELECT ' . join(" || E'\\n' || ", @parts));
}

# "<n> tables, <m> rows": the cluster's tables that exist at a place, and
# their rows
sub place_state
{
	my ($cl, $p) = @_;
	my $names = join(', ', map { "'$_->{remote}'" } @{ $cl->{tables} });
	return on($p, qq{
SELECT count(*) || ' tables, ' ||
       coalesce(sum((xpath('/row/c/text()',
                           query_to_xml(format('SELECT count(*) AS c FROM %s', oid::regclass),
                                        false, true, '')))[1]::text::bigint), 0) || ' rows'
  FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname IN ($names)});
}

# the contents of the cluster's tables at its old places
sub old_contents
{
	my ($cl) = @_;
	return join("\n", map { my $p = $_; "$p->{name}: " . actual_contents($cl, $p) } @{ $cl->{old} });
}

# tables at the old places whose replica identity is not DEFAULT
sub old_identities
{
	my ($cl) = @_;
	my $n = 0;
	$n += num(on($_, q{SELECT count(*) FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relreplident <> 'd'}))
	  for @{ $cl->{old} };
	return $n;
}

sub in_list { return join(', ', map { "'$_'" } @_); }

# what is left of a split's replication: subscriptions at the new places,
# slots for the old places' databases, publications at either;
# $like restricts subscriptions to names matching it
sub leftovers
{
	my ($cl, $like) = @_;
	my ($subs, $slots, $pubs) = (0, 0, 0);
	my (%newdbs, %olddbs, %node);
	for my $p (@{ $cl->{new} })
	{
		push @{ $newdbs{ $p->{node}->name } }, $p->{db};
		$node{ $p->{node}->name } = $p->{node};
	}
	for my $p (@{ $cl->{old} })
	{
		push @{ $olddbs{ $p->{node}->name } }, $p->{db};
		$node{ $p->{node}->name } = $p->{node};
	}
	my $subfilter = defined $like ? " AND s.subname LIKE '$like'" : '';
	for my $n (sort keys %newdbs)
	{
		$subs += $node{$n}->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription s '
			  . 'JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname IN ('
			  . in_list(@{ $newdbs{$n} }) . ")$subfilter");
	}
	for my $n (sort keys %olddbs)
	{
		$slots += $node{$n}->safe_psql('postgres',
			'SELECT count(*) FROM pg_replication_slots WHERE database IN ('
			  . in_list(@{ $olddbs{$n} }) . ')');
	}
	$pubs += num(on($_, 'SELECT count(*) FROM pg_publication')) for @{ $cl->{old} }, @{ $cl->{new} };
	return "subscriptions $subs, slots $slots, publications $pubs";
}
my $NOTHING_LEFT = 'subscriptions 0, slots 0, publications 0';

# Reads and writes of the cluster's keys of shard i (in the current layout)
# go to place p: an update and an insert (with the twin), found at p, and
# a read through the coordinator.
my $next_new = 100000;

sub check_lands_on
{
	my ($cl, $label, $i, $p) = @_;
	my $w = $cl->{w};
	my $k = $coord->safe_psql('postgres',
		"SELECT min(id) FROM $w->{twin} WHERE shardfdw.shard_for('$w->{ft}'::regclass, id) = $i");
	my $v = "written after $label";
	my ($rc, $out, $err) = coord_sql("BEGIN;\nUPDATE $w->{ft} SET $w->{vcol} = '$v' WHERE id = $k;\n"
		  . "UPDATE $w->{twin} SET $w->{vcol} = '$v' WHERE id = $k;\nCOMMIT;");
	is($rc . $err, '0', "$label: an update of a shard-$i key succeeds") or diag($err);
	is(on($p, "SELECT $w->{vcol} FROM public.$w->{remote} WHERE id = $k"), $v,
		"$label: the update is at $p->{name}");
	my $kn = $coord->safe_psql('postgres', qq{
SELECT min(g) FROM generate_series($next_new, $next_new + 1000) g
 WHERE shardfdw.shard_for('$w->{ft}'::regclass, g) = $i});
	$kn = $next_new + 5000 if $kn eq '';    # (no such shard: the insert must fail)
	$next_new = $kn + 1;
	($rc, $out, $err) = coord_sql("BEGIN;\nINSERT INTO $w->{ft} (id, $w->{vcol}) VALUES ($kn, '$v');\n"
		  . "INSERT INTO $w->{twin} (id, $w->{vcol}) VALUES ($kn, '$v');\nCOMMIT;");
	is($rc . $err, '0', "$label: an insert of a new shard-$i key succeeds") or diag($err);
	is(on($p, "SELECT count(*) FROM public.$w->{remote} WHERE id = $kn"), '1',
		"$label: the insert is at $p->{name}");
	($rc, $out, $err) = coord_sql("SELECT $w->{vcol} FROM $w->{ft} WHERE id = $k");
	is($out, $v, "$label: a read of the key through the coordinator gives the new value")
	  or diag($err);
	return;
}

sub explain_lookup
{
	my ($cl) = @_;
	my ($rc, $out, $err) = coord_sql("EXPLAIN (COSTS OFF) SELECT * FROM $cl->{w}{ft} WHERE id = 42");
	return $out . $err;
}

# Everything a completed split must have done.
sub verify_split
{
	my ($cl, $label) = @_;
	is(popts($cl->{server}), expect_popts(@{ $cl->{new} }),
		"$label: the server has p0..p7, naming the new places in order");
	twin_check($cl, $label);
	for my $i (0 .. 7)
	{
		is(actual_contents($cl, $cl->{new}[$i]), expected_contents($cl, $i),
			"$label: new shard $i ($cl->{new}[$i]{name}) holds exactly its rows of every table "
			  . '(hash/modulo: shard_for = i; replicated: all; nd: old shard i\'s, or none)');
	}
	is(leftovers($cl), $NOTHING_LEFT, "$label: no subscription, slot or publication left");
	is(old_identities($cl), 0, "$label: replica identities at the old places are DEFAULT again");
	like(explain_lookup($cl), qr/Shards: 1 of 8\b/, "$label: EXPLAIN of a key lookup shows 'Shards: 1 of 8'");
	return;
}

# ---------------------------------------------------------------- differential queries
#
# Over H (hash), M (modulo), R (replicated): every query has a total order
# or one row, so results compare as text.

sub rk
{
	my ($cl) = @_;
	my ($lo, $hi) = @{ $cl->{hrange} };
	return $lo - 20 + int rand($hi - $lo + 41);
}

my @DIFF = (
	sub { 'SELECT count(*), sum(id), sum(n), min(v), max(v), count(g) FROM @H' },
	sub { my $a = rk($_[0]); "SELECT count(*), sum(n) FROM \@H WHERE id BETWEEN $a AND " . ($a + int rand 400) },
	sub { 'SELECT g, count(*), sum(n), min(id), max(id) FROM @H GROUP BY g ORDER BY g' },
	sub { 'SELECT id, n FROM @H ORDER BY n DESC NULLS LAST, id LIMIT ' . (1 + int rand 15) },
	sub { 'SELECT id, g, n, v FROM @H ORDER BY id DESC LIMIT ' . (1 + int rand 10) . ' OFFSET ' . int rand 30 },
	sub { 'SELECT r.name, count(*), sum(h.n) FROM @H h JOIN @R r ON h.g = r.g GROUP BY r.name ORDER BY r.name' },
	sub
	{
		my $cl = $_[0];
		'SELECT h.id, h.v, r.name FROM @H h JOIN @R r ON r.g = h.g WHERE h.id IN ('
		  . join(', ', map { rk($cl) } 1 .. 4) . ') ORDER BY h.id';
	},
	sub { 'SELECT id, g, n, v FROM @H WHERE id = ' . rk($_[0]) },
	sub
	{
		my $cl = $_[0];
		'SELECT id, v FROM @H WHERE id = ANY (ARRAY[' . join(', ', map { rk($cl) } 1 .. 6) . ']) ORDER BY id';
	},
	sub { 'SELECT count(DISTINCT g), count(*) FILTER (WHERE n > 50) FROM @H' },
	sub { 'SELECT g, count(*), sum(n), max(v) FROM @M WHERE id < ' . rk($_[0]) . ' GROUP BY g ORDER BY g' },
	sub { 'SELECT count(*), sum(id), sum(n) FROM @M' },
	sub
	{
		my $cl = $_[0];
		'SELECT id, n, v FROM @M WHERE id IN (' . join(', ', map { rk($cl) } 1 .. 4) . ') ORDER BY id';
	},
	sub { 'SELECT id, v FROM @M ORDER BY id LIMIT ' . (1 + int rand 12) },
	sub { 'SELECT g, name FROM @R ORDER BY g' },
	sub
	{
		'SELECT r.g, r.name, count(h.id) FROM @R r LEFT JOIN @H h ON h.g = r.g AND h.id < '
		  . rk($_[0]) . ' GROUP BY r.g, r.name ORDER BY r.g';
	},
);

# (query on the cluster's tables, the same on the twins)
sub render
{
	my ($cl, $tmpl) = @_;
	my %f = map { $_ => $cl->{q} . $cl->{names}{$_} } qw(H M R);
	my %l = map { $_ => $cl->{q} . $cl->{names}{$_} . '_l' } qw(H M R);
	(my $fq = $tmpl) =~ s/\@([HMR])\b/$f{$1}/g;
	(my $lq = $tmpl) =~ s/\@([HMR])\b/$l{$1}/g;
	return ($fq, $lq);
}

# run a list of queries in one psql; returns (outputs by index, errors
# by index)
sub run_queries
{
	my ($qs) = @_;
	my $script = "\\set VERBOSITY verbose\nSET statement_timeout = '20s';\n";
	for my $i (0 .. $#$qs)
	{
		$script .= "\\echo ===Q$i===\n\\warn ===Q$i===\n$qs->[$i];\n";
	}
	$script .= "\\echo ===END===\n\\warn ===END===\n";
	my ($out, $err) = ('', '');
	$coord->psql('postgres', $script, stdout => \$out, stderr => \$err, on_error_stop => 0);
	my (%o, %e, %seen);
	for my $pair ([ $out, \%o ], [ $err, \%e ])
	{
		my ($text, $h) = @$pair;
		my $cur;
		for my $line (split /\n/, $text)
		{
			if ($line =~ /^===(?:Q(\d+)|END)===$/)
			{
				$cur = $1;
				$seen{$cur} = 1 if defined $cur && $h == \%o;
				next;
			}
			push @{ $h->{$cur} }, $line if defined $cur;
		}
	}
	# (a query whose marker psql did not print never ran: session lost)
	$e{$_} //= ['NOT RUN (session lost?)'] for grep { !$seen{$_} } 0 .. $#$qs;
	return (\%o, \%e);
}

# Every differential query once (random constants): each answer must be
# the twins'.
sub diff_once
{
	my ($cl, $label) = @_;
	my (@fq, @lq);
	for my $g (@DIFF)
	{
		my ($f, $l) = render($cl, $g->($cl));
		push @fq, $f;
		push @lq, $l;
	}
	my ($fo, $fe) = run_queries(\@fq);
	my ($lo, $le) = run_queries(\@lq);
	my @bad;
	for my $i (0 .. $#fq)
	{
		my $a = join("\n", @{ $fo->{$i} // [] });
		my $b = join("\n", @{ $lo->{$i} // [] });
		my $ea = join("\n", @{ $fe->{$i} // [] });
		my $eb = join("\n", @{ $le->{$i} // [] });
		push @bad, "$fq[$i]\n  shardfdw: " . ($ea ne '' ? "ERROR $ea" : $a) . "\n  twins:    "
		  . ($eb ne '' ? "ERROR $eb" : $b)
		  if $a ne $b || $ea ne '' || $eb ne '';
	}
	is(scalar @bad, 0, "$label: " . scalar(@fq) . ' differential queries give the twins\' answers')
	  or diag(join "\n", @bad);
	return;
}

# ---------------------------------------------------------------- the main cluster

my $main = {
	server => 'cluster',
	q => '',
	names => { H => 'dh', M => 'dm', R => 'dr' },
	hrange => [ -50, 2949 ],
	mrange => [ -50, 1449 ],
	nitems => 600,
	w => { ft => 't', twin => 'twin', remote => 't', vcol => 'val' },
};
$main->{old} = [ map { place($c->shard($_), 'postgres') } 0 .. 3 ];
$main->{new} = [ new_places('sm', 'A') ];
$main->{tables} = [
	{ remote => 't', ft => 't', twin => 'twin', kind => 'hash', dkey => 'id', okey => 'id' },
	@{ tables_of($main) } ];
create_old_tables($main, $_) for 0 .. 3;
create_foreign($main);
$coord->safe_psql('postgres', q{
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(101, 2000) g;
CREATE TABLE twin (id int PRIMARY KEY, val text);
INSERT INTO twin SELECT id, val FROM t;
CREATE TABLE load_log (id bigserial PRIMARY KEY, client int NOT NULL, seq int NOT NULL);
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
});
is($coord->safe_psql('postgres', 'SELECT count(*) FROM twin'), '2000',
	'setup: t has 2000 rows, copied to twin');
is(popts('cluster'), expect_popts(@{ $main->{old} }), 'setup: p0..p3 of cluster are the 4 shards');
twin_check($main, 'setup');
like(explain_lookup($main), qr/Shards: 1 of 4\b/, 'setup: EXPLAIN of a key lookup shows "Shards: 1 of 4"');
diff_once($main, 'setup');

# ---------------------------------------------------------------- 3. bad input
note 'bad input';
{
	my @n = @{ $main->{new} };
	my $old_popts = popts('cluster');

	my $nothing_created = sub {
		my ($label, $stray) = @_;
		my @st = map { place_state($main, $n[$_]) } 0 .. 7;
		my @want = map { defined $stray && $_ == $stray ? '1 tables, 1 rows' : '0 tables, 0 rows' } 0 .. 7;
		is(join('; ', @st), join('; ', @want),
			"$label: no table was created (or filled) at any new place");
		is(leftovers($main), $NOTHING_LEFT, "$label: no subscription, slot or publication was created");
		is(popts('cluster'), $old_popts, "$label: p0..p3 unchanged, no p4");
	};

	my ($rc, $out, $err) = call_split('cluster', arr(conns(@n[ 0 .. 3 ])));
	isnt($rc, 0, '4 new places for 4 shards: the CALL fails');
	like($err, qr/ERROR:[^\n]*(\b8\b|twice|double|2N|2 \* )/i,
		'4 new places: the error says 8 are needed') or diag($err);
	$nothing_created->('4 new places');

	($rc, $out, $err) = call_split('cluster', arr(conns(@n), 'host=' . $new1->host . ' port=' . $new1->port . ' dbname=sm_extra'));
	isnt($rc, 0, '9 new places for 4 shards: the CALL fails');
	like($err, qr/ERROR:[^\n]*(\b8\b|twice|double|2N|2 \* )/i,
		'9 new places: the error says 8 are needed') or diag($err);
	$nothing_created->('9 new places');

	($rc, $out, $err) = call_split('cluster', arr(conns(@n[ 0 .. 4 ]), undef, conns(@n[ 6, 7 ])));
	isnt($rc, 0, 'a NULL new place: the CALL fails');
	like($err, qr/ERROR:[^\n]*null/i, 'a NULL new place: the error says NULL') or diag($err);
	$nothing_created->('a NULL new place');

	($rc, $out, $err) = call_split('cluster',
		arr(conns(@n[ 0 .. 6 ]), "$n[7]{conn} password=secret"));
	isnt($rc, 0, 'a password in a new conninfo: the CALL fails');
	like($err, qr/ERROR:[^\n]*password/i, 'a password in a new conninfo: the error says password')
	  or diag($err);
	$nothing_created->('a password in a new conninfo');

	($rc, $out, $err) = $c->psql_timed("\\set VERBOSITY verbose\nBEGIN;\n"
		  . "CALL shardfdw.split_shards('cluster', " . arr(conns(@n)) . ");\n");
	like($err, qr/ERROR:  25001:/, 'CALL split_shards in a transaction block: SQLSTATE 25001');
	$nothing_created->('in a transaction block');

	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dead = 'host=' . $new1->host . " port=$port dbname=sm_n3";
	($rc, $out, $err) = call_split('cluster', arr(conns(@n[ 0 .. 2 ]), $dead, conns(@n[ 4 .. 7 ])));
	isnt($rc, 0, 'an unreachable new place: the CALL fails');
	like($err, qr/connect/i, 'an unreachable new place: the error says it could not connect')
	  or diag($err);
	$nothing_created->('an unreachable new place');

	# a non-empty table at new place 6 (the others are checked first or not:
	# nothing may be created anywhere)
	setup_on($n[6], q{
CREATE TABLE items (id int PRIMARY KEY, k int NOT NULL, v text);
INSERT INTO items VALUES (999999, 1, 'stray')});
	($rc, $out, $err) = call_split('cluster', arr(conns(@n)));
	isnt($rc, 0, 'a non-empty table at new place 6: the CALL fails');
	like($err, qr/ERROR:[^\n]*items/, 'a non-empty table: the error names items') or diag($err);
	$nothing_created->('a non-empty table at new place 6', 6);

	($rc, $out, $err) = coord_sql("ALTER SERVER cluster OPTIONS (ADD p4 '$n[4]{conn}');");
	isnt($rc, 0, 'ALTER SERVER ... ADD p4 by hand while tables have rows: refused');
	like($err, qr/cannot change the number of shards/,
		'ALTER SERVER ... ADD p4: the error says the number of shards cannot change') or diag($err);
	is(popts('cluster'), $old_popts, 'ALTER SERVER ... ADD p4: p0..p3 unchanged, no p4');
	# (had it been let through: back to 4 shards, for the rest of the test)
	coord_sql("ALTER SERVER cluster OPTIONS (DROP p4);") if $rc == 0;

	# emptied, the table stays there for the split to fill
	on($n[6], 'TRUNCATE items');
	twin_check($main, 'after the bad input');
}

# ---------------------------------------------------------------- 1. under load
note 'split 4 -> 8 under a read/write load and a differential reader';

my $LOAD_DIR = "$tmp/split_load";
my $NKEYS = 3000;
my $NCLIENTS = 4;

# One load transaction of client n (ShardTest::twin_load_txn).
sub load_txn
{
	my ($n, $seq) = @_;
	return ShardTest::twin_load_txn($n, $seq, $NKEYS);
}

sub quiet_child
{
	open my $null, '>', '/dev/null' or die $!;
	my $tb = Test::More->builder;
	$tb->output($null);
	$tb->failure_output($null);
	$tb->todo_output($null);
	return;
}

sub child_session
{
	my $s = $coord->background_psql('postgres', on_error_stop => 0);
	$s->set_query_timer_restart;
	ShardTest::sq($s, '\set VERBOSITY verbose');
	ShardTest::sq($s, "SET statement_timeout = '60s'");
	return $s;
}

# The loop of load client n, until $LOAD_DIR/stop exists.  A transaction
# that gets 40001 is rolled back and run again (5 times at most).
sub client_main
{
	my ($n) = @_;
	srand($$ ^ int(time * 1000));
	quiet_child();
	open my $log, '>>', "$PostgreSQL::Test::Utils::log_path/019_split_client$n.log" or die $!;
	$log->autoflush(1);
	my %st = map { $_ => 0 } qw(committed readonly retry gaveup other warning);
	my @other;
	my $s = child_session();
	my $seq = 0;
	while (!-e "$LOAD_DIR/stop")
	{
		$seq++;
		my ($write, $sql) = load_txn($n, $seq);
		for my $try (1 .. 6)
		{
			my (undef, $err) = ShardTest::sq($s, $sql);
			# the first error is the cause (25P02 and a silent ROLLBACK follow)
			my ($state, $msg) = $err =~ /ERROR:  ([0-9A-Z]{5}): ([^\n]*)/;
			if ($err =~ /WARNING:/)
			{
				$st{warning}++;
				push @other, "WARNING in: $err" if @other < 5;
			}
			if ($err ne '')
			{
				(my $e = $err) =~ s/\n(?=.)/\n    /g;
				printf $log "%.3f txn %d try %d: %s\n", time, $seq, $try, $e;
			}
			ShardTest::sq($s, 'ROLLBACK') if defined $state && $state ne '25P02';
			if (!defined $state)
			{
				$st{ $write ? 'committed' : 'readonly' }++;
				last;
			}
			if ($state ne '40001')
			{
				$st{other}++;
				push @other, "$state: $msg" if @other < 5;
				last;
			}
			$st{retry}++;
			if ($try == 6) { $st{gaveup}++; }
		}
	}
	$s->quit;
	open my $out, '>', "$LOAD_DIR/stats.$n.tmp" or die $!;
	print $out join("\n", (map { "$_=$st{$_}" } sort keys %st), map { "msg=$_" } @other), "\n";
	close $out;
	rename "$LOAD_DIR/stats.$n.tmp", "$LOAD_DIR/stats.$n" or die $!;
	return;
}

# The differential reader: random queries over the cluster's H, M, R and
# the same over the twins, in one persistent session; each comparison is a
# line "<start> <end> <ok|retry|error|mismatch>" of $LOAD_DIR/reader.log,
# the first bad ones are described in $LOAD_DIR/reader.bad.
sub reader_main
{
	my ($cl) = @_;
	srand($$ ^ int(time * 1000));
	quiet_child();
	open my $log, '>>', "$LOAD_DIR/reader.log" or die $!;
	$log->autoflush(1);
	my $nbad = 0;
	my $s = child_session();
	while (!-e "$LOAD_DIR/stop")
	{
		my ($fq, $lq) = render($cl, $DIFF[ int rand @DIFF ]->($cl));
		my $t0 = time;
		my ($fo, $fe) = ShardTest::sq($s, "$fq;");
		my ($lo, $le) = ShardTest::sq($s, "$lq;");
		my $t1 = time;
		my $status =
			$fe =~ /ERROR:  40001:/ ? 'retry'
		  : ($fe ne '' || $le ne '') ? 'error'
		  : $fo ne $lo ? 'mismatch'
		  : 'ok';
		printf $log "%.6f %.6f %s\n", $t0, $t1, $status;
		if ($status ne 'ok' && $nbad++ < 10)
		{
			open my $b, '>>', "$LOAD_DIR/reader.bad" or die $!;
			printf $b "%.6f %s: %s\n  shardfdw: %s%s\n  twins:    %s%s\n", $t0, $status, $fq,
			  $fo, ($fe ne '' ? " [$fe]" : ''), $lo, ($le ne '' ? " [$le]" : '');
			close $b;
		}
	}
	$s->quit;
	touch("$LOAD_DIR/reader.done");
	return;
}

sub fork_kid
{
	my ($name, $code) = @_;
	my $pid = fork;
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# never run the END blocks (they would stop the servers)
		POSIX::setpgid(0, 0);
		eval { $code->(); 1 } or do
		{
			if (open my $fh, '>', "$LOAD_DIR/died.$name") { print $fh "$@"; close $fh; }
		};
		POSIX::_exit(0);
	}
	push @kids, $pid;
	return;
}

sub start_load_and_reader
{
	my ($cl) = @_;
	mkdir $LOAD_DIR;
	unlink "$LOAD_DIR/stop", "$LOAD_DIR/reader.log", "$LOAD_DIR/reader.bad", "$LOAD_DIR/reader.done",
	  map { "$LOAD_DIR/stats.$_" } 1 .. $NCLIENTS;
	for my $n (1 .. $NCLIENTS)
	{
		fork_kid("client$n", sub { client_main($n) });
	}
	fork_kid('reader', sub { reader_main($cl) });
	return;
}

# the reader's comparisons so far: [start, end, status]
sub reader_log
{
	return [] unless -e "$LOAD_DIR/reader.log";
	return [ map { [ split / / ] } grep { /^\d/ } split /\n/, slurp_file("$LOAD_DIR/reader.log") ];
}

sub wait_reader
{
	my ($cond, $timeout) = @_;
	my $t0 = time;
	while (time - $t0 < $timeout)
	{
		return 1 if $cond->(reader_log());
		usleep(100_000);
	}
	return 0;
}

sub load_count
{
	return $coord->safe_psql('postgres', 'SELECT count(*) FROM load_log');
}

sub wait_load
{
	my ($n, $timeout) = @_;
	return defined ShardTest::poll_until($coord, "SELECT count(*) >= $n FROM load_log", 't',
		$timeout // 60);
}

# Stop the clients and the reader; returns the summed load statistics
# (ShardTest::stop_clients).
sub stop_all
{
	return ShardTest::stop_clients(\@kids, $LOAD_DIR, $NCLIENTS);
}

{
	my $cl = $main;
	my $old_before = old_contents($cl);

	# a session that used the shards before the split
	my $cached = session();
	my ($v) = ssq($cached, 'SELECT val FROM t WHERE id = 42');
	is($v, 'val 42', 'under load: a session reads t before the split');
	my ($ex) = ssq($cached, 'EXPLAIN (COSTS OFF) SELECT * FROM t WHERE id = 42');
	like($ex, qr/Shards: 1 of 4\b/, 'under load: that session\'s EXPLAIN shows "Shards: 1 of 4"');

	start_load_and_reader($cl);
	ok(wait_load(20), 'under load: the load is committing transactions');
	ok(wait_reader(sub { scalar(grep { $_->[2] eq 'ok' } @{ $_[0] }) >= 20 }, 60),
		'under load: the differential reader is comparing answers');
	my $n_start = load_count();
	my $t_start = time;
	my ($rc, $out, $err) = call_split('cluster', arr(conns(@{ $cl->{new} })));
	my $t_end = time;
	my $n_end = load_count();
	is($rc, 0, 'under load: the split of cluster 4 -> 8 succeeds') or diag($err);
	note "the split's messages:\n$err";
	note sprintf('the split took %.1f s; load: %d transactions committed before the CALL, %d while it ran',
		$t_end - $t_start, $n_start, $n_end - $n_start);
	my $wait = $rc == 0 ? 60 : 5;    # (after a failure, do not wait long)
	ok(wait_load($n_end + 20, $wait), 'under load: the load goes on committing after the split');
	ok(wait_reader(sub { scalar(grep { $_->[0] > $t_end && $_->[2] eq 'ok' } @{ $_[0] }) >= 20 }, $wait),
		'under load: the differential reader goes on after the split');
	my $st = stop_all();

	is($st->{stopped}, $NCLIENTS + 1, 'under load: the load clients and the reader stopped when told');
	is($st->{finished}, $NCLIENTS, 'under load: every load client ran to its end')
	  or diag(join "\n", @{ $st->{msg} });
	ok(-e "$LOAD_DIR/reader.done", 'under load: the reader ran to its end')
	  or diag(join "\n", @{ $st->{msg} });
	is($st->{other} // 0, 0, 'under load: the load saw no error but 40001')
	  or diag(join "\n", @{ $st->{msg} });
	is($st->{warning} // 0, 0, 'under load: the load saw no WARNING')
	  or diag(join "\n", @{ $st->{msg} });
	is($st->{gaveup} // 0, 0, 'under load: no load transaction got 40001 six times in a row');
	note sprintf('load: %d write transactions committed, %d reads, %d 40001 (retried)',
		map { $_ // 0 } @$st{qw(committed readonly retry)});
	is(load_count(), $st->{committed} // 0,
		'under load: load_log holds exactly the write transactions the clients saw commit');

	my $rl = reader_log();
	my %by = (before => 0, during => 0, after => 0);
	my %status;
	for my $r (@$rl)
	{
		$status{ $r->[2] }++;
		next unless $r->[2] eq 'ok';
		if ($r->[1] < $t_start) { $by{before}++; }
		elsif ($r->[0] >= $t_start && $r->[1] <= $t_end) { $by{during}++; }
		elsif ($r->[0] > $t_end) { $by{after}++; }
	}
	my $bad = -e "$LOAD_DIR/reader.bad" ? slurp_file("$LOAD_DIR/reader.bad") : '';
	note sprintf('differential reader: %d comparisons (%s); equal before %d, during %d, after %d',
		scalar(@$rl), join(', ', map { "$_ $status{$_}" } sort keys %status), @by{qw(before during after)});
	is($status{mismatch} // 0, 0,
		'differential reader: every answer equals the twins\' (before, during and after the split)')
	  or diag($bad);
	is($status{error} // 0, 0, 'differential reader: no query failed (but for 40001)') or diag($bad);
	ok($by{before} > 0, "differential reader: answers compared before the split ($by{before})");
	ok($by{during} > 0, "differential reader: answers compared during the split ($by{during})");
	ok($by{after} > 0, "differential reader: answers compared after the split ($by{after})");

	verify_split($cl, 'under load');

	# every key found at new place i belongs to shard i: shard_for, and
	# PostgreSQL's own hash partitioning (MODULUS 8) or key mod 8
	for my $i (0 .. 7)
	{
		my $p = $cl->{new}[$i];
		my (@checks, @missing);
		for my $t (grep { $_->{kind} eq 'hash' || $_->{kind} eq 'modulo' } @{ $cl->{tables} })
		{
			my $keys = on($p, "SELECT coalesce(string_agg($t->{dkey}::text, ','), '') FROM public.$t->{remote}");
			if ($keys !~ /^[-0-9,]*$/)
			{
				push @missing, "$t->{remote}: $keys";
				next;
			}
			my $own = $t->{kind} eq 'hash'
			  ? "satisfies_hash_partition('placement_probe'::regclass, 8, $i, key)"
			  : "((key % 8) + 8) % 8 = $i";
			push @checks, "SELECT '$t->{remote}', count(*) FILTER (WHERE shardfdw.shard_for('$t->{ft}'::regclass, key) IS DISTINCT FROM $i), "
			  . "count(*) FILTER (WHERE NOT ($own)), count(*) FROM unnest('{$keys}'::int[]) key";
		}
		my $res = @checks ? $coord->safe_psql('postgres', join("\nUNION ALL\n", @checks) . "\nORDER BY 1") : '';
		my @wrong = (@missing, grep { my @f = split /\|/; $f[1] != 0 || $f[2] != 0 || $f[3] == 0 } split /\n/, $res);
		is(join('; ', @wrong), '',
			"under load: every key at new shard $i has shard_for = $i and PostgreSQL's remainder $i "
			  . '(each table non-empty there)') or diag($res);
	}
	is(on($cl->{new}[$_], 'SELECT count(*) FROM nd'), '0', "under load: nd is there, empty, on new shard $_")
	  for 4 .. 7;

	# reads and writes after the split: fresh sessions, and the session
	# whose connections were made before it
	check_lands_on($cl, 'under load, after the split, shard 1', 1, $cl->{new}[1]);
	check_lands_on($cl, 'under load, after the split, shard 5', 5, $cl->{new}[5]);
	($ex) = ssq($cached, 'EXPLAIN (COSTS OFF) SELECT * FROM t WHERE id = 42');
	like($ex, qr/Shards: 1 of 8\b/,
		'under load: the session from before the split now plans "Shards: 1 of 8"');
	my $k = $coord->safe_psql('postgres', q{
SELECT min(id) FROM twin WHERE shardfdw.shard_for('t'::regclass, id) = 6});
	$k = -1 if $k eq '';
	on($cl->{new}[6], "UPDATE t SET val = 'direct on new 6' WHERE id = $k");
	coord_sql("UPDATE twin SET val = 'direct on new 6' WHERE id = $k");
	($v) = ssq($cached, "SELECT val FROM t WHERE id = $k");
	is($v, 'direct on new 6', 'under load: the session from before the split reads from the new shard 6');
	squit($cached);
	diff_once($cl, 'under load, after the split');
	twin_check($cl, 'under load, at the end');

	# the same CALL once more: nothing to do
	my $contents = join "\n", map { actual_contents($cl, $_) } @{ $cl->{new} };
	($rc, $out, $err) = call_split('cluster', arr(conns(@{ $cl->{new} })));
	is($rc, 0, 'under load: the same CALL after the split succeeds (nothing to do)') or diag($err);
	is(popts('cluster'), expect_popts(@{ $cl->{new} }), 'under load: after it p0..p7 unchanged');
	is(join("\n", map { actual_contents($cl, $_) } @{ $cl->{new} }), $contents,
		'under load: after it the new places hold the same rows');
	is(leftovers($cl), $NOTHING_LEFT, 'under load: after it nothing is left');

	($rc, $out, $err) = coord_sql("ALTER SERVER cluster OPTIONS (ADD p8 '$cl->{old}[0]{conn}');");
	like($err, qr/cannot change the number of shards/,
		'under load: ALTER SERVER ... ADD p8 by hand is refused after the split too') or diag($err);
	is(popts('cluster'), expect_popts(@{ $cl->{new} }), 'under load: p0..p7 unchanged, no p8');
}

# ---------------------------------------------------------------- 2a. the switch lock
note 'while the split holds the switch lock';
{
	my $cl = make_cluster('sp', 'B');
	my $s = $cl->{server};
	twin_check($cl, 'switch lock, before');
	my $flag = "$tmp/split_pause";
	touch($flag);
	# keys (by PostgreSQL's MODULUS 8 remainders): k (old shard 1, new 5)
	# for a read-then-read transaction, k2 (old 2, new 6) for the held
	# write, k3 (old 3, new 3) for a read-then-write transaction
	my ($k, $k2, $k3) = split /\|/, $coord->safe_psql('postgres', qq{
SELECT min(id) FILTER (WHERE satisfies_hash_partition('placement_probe'::regclass, 8, 5, id)),
       min(id) FILTER (WHERE satisfies_hash_partition('placement_probe'::regclass, 8, 6, id)),
       min(id) FILTER (WHERE satisfies_hash_partition('placement_probe'::regclass, 8, 3, id))
  FROM sp.t_l WHERE id > 0});
	is($coord->safe_psql('postgres', "SELECT shardfdw.shard_for('sp.t'::regclass, $k) || ' '
		  || shardfdw.shard_for('sp.t'::regclass, $k2) || ' ' || shardfdw.shard_for('sp.t'::regclass, $k3)"),
		'1 2 3', 'switch lock: before the split, the keys are on shards 1, 2, 3');
	my $v2 = $coord->safe_psql('postgres', "SELECT v FROM sp.t_l WHERE id = $k2");

	my $m = session();
	my ($mpid) = ssq($m, 'SELECT pg_backend_pid()');
	ssq($m, "SET shardfdw.test_fail_point = 'move_after_lock:pause:$flag'");
	my $pos = -s $coord->logfile;
	ShardTest::send_async($m, "CALL shardfdw.split_shards('$s', " . arr(conns(@{ $cl->{new} })) . ');');
	ok(wait_log($pos, qr/test fail point move_after_lock: pausing/, 90, $mpid),
		'switch lock: the split paused holding the switch lock');

	# transactions that use the old places before the switch
	my $r = session();
	ssq($r, 'BEGIN');
	my ($rv, $rerr) = ssq($r, "SELECT v FROM sp.t WHERE id = $k");
	is($rv, "v$k", 'switch lock: a transaction reads a key (old shard 1, new shard 5)') or diag($rerr);
	my $r2 = session();
	ssq($r2, 'BEGIN');
	($rv, $rerr) = ssq($r2, "SELECT v FROM sp.t WHERE id = $k3");
	is($rv, "v$k3", 'switch lock: another transaction reads a key (old shard 3, new shard 3)') or diag($rerr);

	# reads are not held back
	diff_once($cl, 'switch lock, reads while it is held');
	twin_check($cl, 'switch lock, while it is held');

	# a write waits for the split
	my $w = session();
	my ($wpid) = ssq($w, 'SELECT pg_backend_pid()');
	ShardTest::send_async($w, "BEGIN;\nUPDATE sp.t SET v = 'waited' WHERE id = $k2;\n"
		  . "UPDATE sp.t_l SET v = 'waited' WHERE id = $k2;\nCOMMIT;");
	ok(defined ShardTest::poll_until($coord, qq{
SELECT count(*) FROM pg_stat_activity WHERE pid = $wpid AND wait_event_type = 'Lock'}, '1', 30),
		'switch lock: a write waits for a lock on the coordinator');
	is($coord->safe_psql('postgres', "SELECT $mpid = ANY (pg_blocking_pids($wpid))"), 't',
		'switch lock: the waiting write is blocked by the split\'s backend');
	is(on($cl->{old}[2], "SELECT v FROM t WHERE id = $k2"), $v2,
		'switch lock: the waiting write has not reached the old shard 2');

	unlink $flag;
	my (undef, $merr) = swait($m);
	unlike($merr, qr/ERROR|SESSION LOST|connection/, 'switch lock: the split completes once let go')
	  or diag($merr);
	# The held-back write was planned for 4 shards: it may complete (at the
	# new place) or fail with 40001, and then, retried, complete there.
	my (undef, $werr) = swait($w);
	my ($wstate) = $werr =~ /ERROR:  ([0-9A-Z]{5}):/;
	note "switch lock: the write that waited said: $werr";
	ok(!defined $wstate || $wstate eq '40001',
		'switch lock: the write that waited completes or gets 40001 (nothing else)') or diag($werr);
	if (defined $wstate && $wstate eq '40001')
	{
		(undef, $werr) = ssq($w, "BEGIN;\nUPDATE sp.t SET v = 'waited' WHERE id = $k2;\n"
			  . "UPDATE sp.t_l SET v = 'waited' WHERE id = $k2;\nCOMMIT;");
	}
	unlike($werr, qr/ERROR|SESSION LOST|connection/,
		'switch lock: the write that waited (retried after a 40001) completes') or diag($werr);
	is(popts($s), expect_popts(@{ $cl->{new} }), 'switch lock: p0..p7 name the new places');
	is($coord->safe_psql('postgres', "SELECT shardfdw.shard_for('sp.t'::regclass, $k) || ' '
		  || shardfdw.shard_for('sp.t'::regclass, $k2) || ' ' || shardfdw.shard_for('sp.t'::regclass, $k3)"),
		'5 6 3', 'switch lock: after the split, shard_for puts the keys on shards 5, 6, 3');
	is(on($cl->{new}[6], "SELECT v FROM t WHERE id = $k2"), 'waited',
		'switch lock: the write that waited is on the new shard 6');
	isnt(on($cl->{old}[2], "SELECT v FROM t WHERE id = $k2"), 'waited',
		'switch lock: ... and not on the old shard 2');

	(undef, $rerr) = ssq($r, "SELECT v FROM sp.t WHERE id = $k");
	like($rerr, qr/ERROR:  40001:/,
		'switch lock: a transaction that read before the switch and reads after it gets 40001');
	ssq($r, 'ROLLBACK');
	(undef, $rerr) = ssq($r2, "UPDATE sp.t SET v = 'stale' WHERE id = $k3");
	like($rerr, qr/ERROR:  40001:/,
		'switch lock: a transaction that read before the switch and writes after it gets 40001');
	ssq($r2, 'ROLLBACK');
	squit($m, $w, $r, $r2);
	isnt((coord_sql("SELECT v FROM sp.t WHERE id = $k3"))[1], 'stale',
		'switch lock: the refused write is nowhere');

	verify_split($cl, 'switch lock');
	diff_once($cl, 'switch lock, after');

	my ($rc, $out, $err) = call_split($s, arr(conns(@{ $cl->{new} })));
	is($rc, 0, 'switch lock: the same CALL again succeeds') or diag($err);
	verify_split($cl, 'switch lock, after the same CALL again');
}

# ---------------------------------------------------------------- 2b. failures
note 'a failure at each step of the split, then the same CALL again';
{
	my $n = 0;
	for my $case (
		[ 'move_after_tables',       'error' ],
		[ 'move_after_subscription', 'error' ],
		[ 'move_after_sync',         'error' ],
		[ 'move_after_lock',         'error' ],
		[ 'move_before_switch',      'error' ],
		[ 'move_after_switch',       'error' ],
		[ 'move_after_sync',         'crash' ],
		[ 'move_after_switch',       'crash' ])
	{
		my ($point, $action) = @$case;
		my $name = "$point:$action";
		$n++;
		my $cl = make_cluster("f$n", $n % 2 ? 'B' : 'A');
		my $s = $cl->{server};
		my $arr = arr(conns(@{ $cl->{new} }));
		my $old0 = old_contents($cl);
		my $pos = -s $coord->logfile;
		my ($rc, $out, $err) = call_split($s, $arr, fail => $name);
		isnt($rc, 0, "$name: the CALL fails");
		my $switched = $point eq 'move_after_switch';
		if ($action eq 'crash')
		{
			ok(wait_coord_up(), "$name: the coordinator is back after the crash");
			like(slurp_file($coord->logfile, $pos), qr/test fail point \Q$point\E: crashing/,
				"$name: the backend was killed at the point");
			is(leftovers($cl, 'shardfdw\_split%') =~ /^subscriptions (\d+)/ ? $1 : -1, 8,
				"$name: the crash left its 8 subscriptions for the re-run to clean up");
		}
		else
		{
			like($err, qr/ERROR:.*test fail point \Q$point\E/, "$name: the error is the injected one")
			  or diag($err);
			if (!$switched)
			{
				is(leftovers($cl), $NOTHING_LEFT, "$name: no subscription, slot or publication left");
				my @st = map { place_state($cl, $_) } @{ $cl->{new} };
				is(scalar(grep { !/, 0 rows$/ } @st), 0, "$name: the rows copied to the new places are gone")
				  or diag(join "\n", @st);
				is(old_identities($cl), 0, "$name: replica identities at the old places are DEFAULT again");
			}
		}
		is(old_contents($cl), $old0, "$name: the old places are untouched");
		is(popts($s), expect_popts(@{ $switched ? $cl->{new} : $cl->{old} }),
			"$name: the server " . ($switched ? 'already has p0..p7 at the new places' : 'still has p0..p3 at the old places'));
		like(explain_lookup($cl), $switched ? qr/Shards: 1 of 8\b/ : qr/Shards: 1 of 4\b/,
			"$name: a key lookup reads 1 of " . ($switched ? 8 : 4) . ' shards');
		if ($switched)
		{
			check_lands_on($cl, "$name, shard 1", 1, $cl->{new}[1]);
			check_lands_on($cl, "$name, shard 6", 6, $cl->{new}[6]);
		}
		else
		{
			check_lands_on($cl, "$name, shard 1", 1, $cl->{old}[1]);
			check_lands_on($cl, "$name, shard 2", 2, $cl->{old}[2]);
		}
		twin_check($cl, $name);
		diff_once($cl, $name);

		my $old1 = old_contents($cl);
		($rc, $out, $err) = call_split($s, $arr);
		is($rc, 0, "$name: the same CALL again succeeds") or diag($err);
		verify_split($cl, "$name, re-run");
		is(old_contents($cl), $old1, "$name: the re-run did not touch the old places");
		check_lands_on($cl, "$name, re-run, shard 7", 7, $cl->{new}[7]);
		diff_once($cl, "$name, re-run");
	}
}

# ---------------------------------------------------------------- the end
my ($subs, $slots, $pubs, $prepared) = (0, 0, 0, 0);
for my $node (@all_nodes)
{
	$subs += $node->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription');
	$slots += $node->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots');
	$prepared += $node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts');
	for my $db (split /\n/, $node->safe_psql('postgres',
		'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate'))
	{
		$pubs += $node->safe_psql($db, 'SELECT count(*) FROM pg_publication');
	}
}
is("subscriptions $subs, slots $slots, publications $pubs", $NOTHING_LEFT,
	'at the end: no subscription, slot or publication on any server');
is($prepared, 0, 'at the end: no prepared transaction left on any server');
twin_check($main, 'at the end');

done_testing();
