# t/020_sqlsmith.pl: fuzz the shardfdw read path with sqlsmith.
#
# Purpose: queries nobody here wrote must not crash the coordinator, must
# not raise internal errors, and must not fail where the same query on
# ordinary local tables holding the same rows succeeds.
#
# Set-up (two PostgreSQL nodes):
#   - node "data" holds the shard databases shard0..shard3 and the
#     database "solo" (the only shard of a one-shard server);
#   - node "coord" holds the database "coord": shardfdw foreign tables of
#     many column types over those shards: hash on int (h_int, h_int2), on
#     text (h_text) and on uuid (h_uuid); modulo on bigint (m_i8);
#     replicated (rep); undistributed (nodist); a one-shard server (solo);
#     rows on two of four shards only (h_gaps); no rows at all (h_none);
#     and the database "twin" (with twin_rev and twin_rnd, the same rows in
#     other orders): ordinary local tables with the same names, columns and
#     rows as the foreign tables.  The twins share the coordinator's
#     instance, so instance-wide functions (statistics, WAL positions)
#     answer alike on both sides.
#   Both sides run as the same non-superuser role "smith", in the same
#   time zone, with the shardfdw extension installed (the same functions).
#
# sqlsmith (--dry-run --exclude-catalog, fixed seeds) generates the queries
# from the coordinator's catalog; data-modifying statements are dropped
# (this test is about the read path; t/011_dml tests writes against twins).
# Every query runs once on the coordinator and once on the twin, each side
# in one long-lived psql session (statement_timeout 2s, SQLSTATEs from
# VERBOSITY verbose), both sides at the same time.
# Result rows are not compared: sqlsmith's queries are nondeterministic.
#
# Asserted:
#   - no backend crash or hang on the coordinator (its server log has no
#     "terminated by signal" / "terminated by exception" line, no query lost
#     its session on the coordinator only or ran for a minute past its
#     statement_timeout, and the server is still up);
#   - no internal error (SQLSTATE XX000) on the coordinator, unless the twin
#     (or a twin with its rows in another order: twin_rev, twin_rnd) raised
#     the same XX000 error, up to numbers (then it is PostgreSQL's
#     own); one that a shard raised is re-checked as below;
#   - no false error: an error on the coordinator for a query the twin ran
#     without error, or (when shardfdw or a shard raised it) with an error
#     of another SQLSTATE class.  Statement timeouts (57014) on either side
#     make a query inconclusive, and errors of one class on both sides are
#     the query's own fault.  sqlsmith picks rows with LIMIT/OFFSET and no
#     ORDER BY, and SQL fixes no evaluation order, so a candidate is
#     re-checked: it is dismissed (and listed) if the twin raises an error
#     of the same class with its rows in another order (twin_rev,
#     twin_rnd) or under another join plan (enable_* planner settings), if
#     the coordinator runs it without error under another join plan, if
#     shardfdw over a single shard holding all rows (twin_solo) raises it
#     too, computed locally on both (the coordinator's plan shape, not the
#     sharding, met the bad value), or if the query with "order by" added
#     to its "(select c from t limit 1 offset k)" subqueries no longer
#     fails on the coordinator, or fails on the twin too.  An error a shard
#     raises because it cannot run the SQL it was sent (classes 42 and 0A)
#     is never dismissed by these.  Last, postgres_fdw is the semantic
#     reference: a candidate is dismissed if the query raises an error of
#     the same class (of the same SQLSTATE for a shard's 42 or 0A) on the
#     database "pgfdw", postgres_fdw foreign tables over the twin's tables
#     (loopback): such an error is inherent to foreign-table semantics
#     (initplan parameters computed when a remote scan starts, shipped
#     clauses evaluated remotely in another order).
# Each offending query is printed (diag) with both sides' errors.  A canary
# query that fails on the coordinator only checks the detector itself.
#
# Environment:
#   SHARDFDW_SQLSMITH_QUERIES   queries per seed before filtering (default 2500)
#   SHARDFDW_SQLSMITH_SEEDS     comma-separated sqlsmith seeds (default 1,2,3,4)
#   SHARDFDW_SQLSMITH_TIMEOUT   statement_timeout (default 2s)
#   SHARDFDW_SQLSMITH_STALL     seconds without output that make a hang (60)
# scripts/sqlsmith.sh runs the long pass through this file.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time usleep);

my $per_seed = $ENV{SHARDFDW_SQLSMITH_QUERIES} // 2500;
my @seeds = split /\s*,\s*/, ($ENV{SHARDFDW_SQLSMITH_SEEDS} // '1,2,3,4');
my $stmt_timeout = $ENV{SHARDFDW_SQLSMITH_TIMEOUT} // '2s';
diag("sqlsmith: seeds @seeds, $per_seed queries each, statement_timeout $stmt_timeout"
	  . ' (SHARDFDW_SQLSMITH_SEEDS / _QUERIES / _TIMEOUT change them)');

my $sqlsmith = '/usr/bin/sqlsmith';
-x $sqlsmith
  or die "$sqlsmith not found: install the Debian package sqlsmith (scripts/lib.sh does)";

my $tz = 'America/New_York';
my $conf = qq{
max_connections = 40
max_prepared_transactions = 20
shared_buffers = 32MB
fsync = off
timezone = '$tz'
log_statement = none
log_min_messages = warning
log_min_error_statement = panic
};
my $data = PostgreSQL::Test::Cluster->new('data');
$data->init;
$data->append_conf('postgresql.conf', $conf . "restart_after_crash = on\n");
$data->start;
my $coord = PostgreSQL::Test::Cluster->new('coord');
$coord->init;
# A crash must not end the run: every offending query is reported.
$coord->append_conf('postgresql.conf', $conf . "restart_after_crash = on\n");
$coord->start;

# ---------------------------------------------------------------- data
srand(20240612);
sub rint { my ($a, $b) = @_; return $a + int(rand($b - $a + 1)); }
sub pick { return $_[ int(rand(scalar @_)) ]; }
sub sqlq { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }
sub maybe_null { my ($p, $v) = @_; return rand() < $p ? 'NULL' : $v; }

my @texts = ('apple', 'Apple', 'banana', '', ' lead', 'trail ', 'éclair',
	'straße', 'Ωmega', '100', '2', "o'neil", 'a_b', '%', 'zebra', 'x y z',
	'ÅNGSTRÖM', 'null', 'NaN', '[1,2]');
my @jsons = ('{"a": 1}', '{"a": {"b": [1, 2, null]}}', '[1, "two", 3.5]',
	'"str"', '3', 'null', 'true', '{}', '[]', '{"k": "v", "n": -1.5e3}');

# Column definitions shared by the wide tables (same on the coordinator,
# the shards and the twin).
my @wide = (
	[ id => 'int4', sub { maybe_null(0.03, pick(rint(-50, 1000), 0, 2147483647, -2147483648)) } ],
	[ i2 => 'int2', sub { maybe_null(0.15, pick(rint(-300, 300), rint(-300, 300), 32767, -32768, 0)) } ],
	[ i8 => 'int8', sub { maybe_null(0.05, pick(rint(-1000, 100000), rint(-9, 9), '9223372036854775807', '-9223372036854775808')) } ],
	[ num => 'numeric', sub { maybe_null(0.15, pick(sprintf('%.4f', rand() * 2000 - 1000), "'NaN'", "'Infinity'", "'-Infinity'", '0', '12345678901234567890.123', '-0.5')) } ],
	[ f4 => 'float4', sub { maybe_null(0.15, pick(sprintf('%.3f', rand() * 200 - 100), "'NaN'", "'Infinity'", "'-0'", '1e30')) } ],
	[ f8 => 'float8', sub { maybe_null(0.15, pick(sprintf('%.6g', rand() * 2e6 - 1e6), "'NaN'", "'-Infinity'", '0', '1e-300', '3.141592653589793')) } ],
	[ t => 'text', sub { maybe_null(0.1, sqlq(pick(@texts) . (rand() < 0.4 ? ' ' . rint(0, 99) : ''))) } ],
	[ tc => 'text COLLATE "C"', sub { maybe_null(0.15, sqlq(pick(@texts))) } ],
	[ vc => 'varchar(16)', sub { maybe_null(0.15, sqlq(substr(pick(@texts), 0, 16))) } ],
	[ ch => 'char(4)', sub { maybe_null(0.15, sqlq(pick('ab', 'x', '', 'abcd', 'é'))) } ],
	[ u => 'uuid', sub { maybe_null(0.05, sqlq(join('', map { sprintf('%x', rint(0, 15)) } 1 .. 32))) } ],
	[ d => 'date', sub { maybe_null(0.15, pick("date '2020-01-01' + " . rint(-400, 900), "'infinity'", "'-infinity'")) } ],
	[ ts => 'timestamp', sub { maybe_null(0.15, pick("timestamp '2021-06-01 12:00' + interval '1 minute' * " . rint(-600000, 600000), "'infinity'")) } ],
	[ tz => 'timestamptz', sub { maybe_null(0.15, "timestamptz '2021-03-14 01:30:00+00' + interval '1 minute' * " . rint(-600000, 600000)) } ],
	[ tm => 'time', sub { maybe_null(0.15, sqlq(sprintf('%02d:%02d:%02d', rint(0, 23), rint(0, 59), rint(0, 59)))) } ],
	[ iv => 'interval', sub { maybe_null(0.15, sqlq(rint(-3, 40) . ' days ' . rint(0, 30) . ' hours ' . rint(0, 59) . ' minutes')) } ],
	[ b => 'bool', sub { pick('true', 'false', 'NULL') } ],
	[ j => 'jsonb', sub { maybe_null(0.15, sqlq(pick(@jsons))) } ],
	[ js => 'json', sub { maybe_null(0.15, sqlq(pick(@jsons))) } ],
	[ ia => 'int4[]', sub { maybe_null(0.15, sqlq(pick('{}', '{1,2,3}', '{NULL,5}', '{{1,2},{3,4}}', '{' . rint(0, 9) . '}'))) } ],
	[ ta => 'text[]', sub { maybe_null(0.15, sqlq(pick('{}', '{a,b}', '{"x y",NULL}', '{apple,Apple,éclair}'))) } ],
	[ by => 'bytea', sub { maybe_null(0.15, sqlq(pick('\\x', '\\x00ff', '\\xdeadbeef', '\\x' . sprintf('%02x', rint(0, 255))))) } ],
	[ ip => 'inet', sub { maybe_null(0.15, sqlq(pick('10.0.0.' . rint(0, 255), '192.168.1.0/24', '::1', '2001:db8::/32', '0.0.0.0/0'))) } ],
	[ mac => 'macaddr', sub { maybe_null(0.2, sqlq(join(':', map { sprintf('%02x', rint(0, 255)) } 1 .. 6))) } ],
	[ bt => 'varbit', sub { maybe_null(0.2, sqlq(pick('', '1', '1010', '11110000', '0'))) } ],
	[ r => 'int4range', sub { maybe_null(0.2, sqlq(pick('empty', '[1,5)', '(,10]', '[-3,)', '[' . rint(0, 9) . ',' . rint(10, 20) . ')'))) } ],
	[ en => 'mood', sub { maybe_null(0.2, sqlq(pick('sad', 'ok', 'happy'))) } ],
	[ dm => 'posint', sub { maybe_null(0.2, rint(1, 500)) } ],
);
my @narrow = grep { $_->[0] =~ /^(id|t|num|b|d|u)$/ } @wide;
my %coltype = map { $_->[0] => $_->[1] } @wide;
my $types_sql = q{
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
};

# name => [columns, rows, coordinator options, placement]
#   placement: hash:<col>, modulo:<col>, replicated, spread (no
#   distribution column: row i on shard i % 4), solo (one-shard server),
#   gaps (hash on id, but only the rows of shards 0 and 2), none (no rows)
my @tables = (
	[ 'h_int', \@wide, 48, q{distribution_column 'id'}, 'hash:id' ],
	[ 'h_int2', \@narrow, 30, q{distribution_column 'id', fetch_size '3'}, 'hash:id' ],
	[ 'h_text', \@wide, 40, q{distribution_column 't', fetch_size '7'}, 'hash:t' ],
	[ 'h_uuid', \@wide, 40, q{distribution 'hash', distribution_column 'u'}, 'hash:u' ],
	[ 'm_i8', \@wide, 40, q{distribution 'modulo', distribution_column 'i8'}, 'modulo:i8' ],
	[ 'rep', \@wide, 12, q{distribution 'replicated'}, 'replicated' ],
	[ 'nodist', \@wide, 30, q{fetch_size '2'}, 'spread' ],
	[ 'solo', \@wide, 25, q{}, 'solo' ],
	[ 'h_gaps', \@wide, 40, q{distribution_column 'id'}, 'gaps' ],
	[ 'h_none', \@narrow, 0, q{distribution_column 'id'}, 'none' ],
);

# Every shard and twin database gets every table's rows in a stage
# table (with their position, ord) and keeps its share.  The twins hold
# all rows; "twin" in the order the coordinator most likely reads them
# (shard 0's rows first, each shard in its own order), twin_rev in the
# reverse order and twin_rnd shuffled: sqlsmith's queries pick rows with
# LIMIT/OFFSET and no ORDER BY, so an error that only some row order
# raises is not a shardfdw bug (see the re-check below).
my @shard_dbs = map { "shard$_" } 0 .. 3;
my @twin_dbs = qw(twin twin_rev twin_rnd);
my %probe = (id => 'probe_int4', t => 'probe_text', u => 'probe_uuid');
my %dbsql = map { $_ => $types_sql . q{
CREATE TABLE probe_int4 (k int4) PARTITION BY HASH (k);
CREATE TABLE probe_text (k text) PARTITION BY HASH (k);
CREATE TABLE probe_uuid (k uuid) PARTITION BY HASH (k);
} } (@shard_dbs, 'solo', @twin_dbs);
my $coord_sql = '';
my $twin_solo_sql = '';    # see twin_solo below
my $drop_stage = '';
for my $tb (@tables)
{
	my ($name, $cols, $nrows, $opts, $place) = @$tb;
	my $coldefs = join(', ', map { "$_->[0] $_->[1]" } @$cols);
	my $collist = join(', ', map { $_->[0] } @$cols);
	my @rows = map { my $i = $_; '(' . join(', ', $i, map { $_->[2]->() } @$cols) . ')' } 0 .. $nrows - 1;
	my $stage = "CREATE TABLE stage_$name (ord int, $coldefs);\n"
	  . (@rows ? "INSERT INTO stage_$name VALUES\n" . join(",\n", @rows) . ";\n" : '');
	$drop_stage .= "DROP TABLE stage_$name;\n";
	$coord_sql .= "CREATE FOREIGN TABLE $name ($coldefs) SERVER "
	  . ($place eq 'solo' ? 'solo_srv' : 'cluster')
	  . ($opts ne '' ? " OPTIONS ($opts)" : '') . ";\n";
	$twin_solo_sql .= "CREATE FOREIGN TABLE $name ($coldefs) SERVER twin_srv;\n";

	# the shard a row lives on
	my $shard = 'ord * 0';
	if ($place =~ /^(?:hash:(\w+)|gaps)$/)
	{
		my $c = $1 // 'id';
		$shard = "(SELECT min(r) FROM generate_series(0, 3) r"
		  . " WHERE satisfies_hash_partition('$probe{$c}'::regclass, 4, r, $c))";
	}
	elsif ($place =~ /^modulo:(\w+)$/)
	{
		# NULL keys on shard 0, where hash partitioning puts them
		$shard = "coalesce((($1 % 4) + 4) % 4, 0)";
	}
	elsif ($place eq 'spread')
	{
		$shard = 'ord % 4';
	}
	my $gaps = $place eq 'gaps' ? " AND $shard IN (0, 2)" : '';
	for my $db (@shard_dbs)
	{
		(my $s = $db) =~ s/^shard//;
		$dbsql{$db} .= $stage . "CREATE TABLE $name ($coldefs);\n";
		next if $place eq 'solo';
		my $keep = $place eq 'replicated' ? 'true' : "$shard = $s$gaps";
		$dbsql{$db} .= "INSERT INTO $name SELECT $collist FROM stage_$name WHERE $keep ORDER BY ord;\n";
	}
	$dbsql{solo} .= $stage . "CREATE TABLE $name ($coldefs);\n";
	$dbsql{solo} .= "INSERT INTO $name SELECT $collist FROM stage_$name ORDER BY ord;\n"
	  if $place eq 'solo';
	my %order = (twin => "$shard, ord", twin_rev => "$shard DESC, ord DESC",
		twin_rnd => 'hashint4(ord * 31 + 7)');
	for my $db (@twin_dbs)
	{
		$dbsql{$db} .= $stage . "CREATE TABLE $name ($coldefs);\n"
		  . "INSERT INTO $name SELECT $collist FROM stage_$name WHERE true$gaps ORDER BY $order{$db};\n";
	}
}

my $dhost = $data->host;
my $dport = $data->port;
$coord->safe_psql('postgres', 'CREATE ROLE smith LOGIN');
$coord->safe_psql('postgres', "ALTER ROLE smith SET statement_timeout = '$stmt_timeout'");
for my $db (@shard_dbs, 'solo', @twin_dbs)
{
	my $node = $db =~ /^twin/ ? $coord : $data;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, $dbsql{$db} . $drop_stage
		  . "DROP TABLE probe_int4, probe_text, probe_uuid;\nANALYZE;\n");
}
for my $db (@twin_dbs)
{
	$coord->safe_psql($db, q{
CREATE EXTENSION shardfdw;
GRANT USAGE ON SCHEMA shardfdw TO smith;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO smith;
});
}
# twin_solo: the twin's tables through shardfdw on a one-shard server (a
# re-check below: how the coordinator's plans evaluate a query, without
# sharding).
my $chost = $coord->host;
my $cport = $coord->port;
$coord->safe_psql('postgres', 'CREATE DATABASE twin_solo');
$coord->safe_psql('twin_solo', $types_sql . qq{
CREATE EXTENSION shardfdw;
CREATE SERVER twin_srv FOREIGN DATA WRAPPER shardfdw OPTIONS (
  host '$chost', port '$cport', dbname 'twin');
CREATE USER MAPPING FOR CURRENT_USER SERVER twin_srv;
CREATE USER MAPPING FOR smith SERVER twin_srv
  OPTIONS (user 'postgres', password_required 'false');
$twin_solo_sql
GRANT SELECT ON ALL TABLES IN SCHEMA public TO smith;
GRANT USAGE ON SCHEMA shardfdw TO smith;
ANALYZE } . join(', ', map { $_->[0] } @tables) . q{;
});

# pgfdw: the twin's tables through postgres_fdw (loopback), the reference
# for foreign-table semantics (a re-check below).
$coord->safe_psql('postgres', 'CREATE DATABASE pgfdw');
$coord->safe_psql('pgfdw', $types_sql . qq{
CREATE EXTENSION shardfdw;
CREATE EXTENSION postgres_fdw;
CREATE SERVER pgfdw_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (
  host '$chost', port '$cport', dbname 'twin');
CREATE USER MAPPING FOR CURRENT_USER SERVER pgfdw_srv;
CREATE USER MAPPING FOR smith SERVER pgfdw_srv
  OPTIONS (user 'postgres', password_required 'false');
IMPORT FOREIGN SCHEMA public LIMIT TO (} . join(', ', map { $_->[0] } @tables) . q{)
  FROM SERVER pgfdw_srv INTO public;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO smith;
GRANT USAGE ON SCHEMA shardfdw TO smith;
ANALYZE } . join(', ', map { $_->[0] } @tables) . q{;
});
is($coord->safe_psql('pgfdw', 'SELECT count(*) FROM h_int'),
	$coord->safe_psql('twin', 'SELECT count(*) FROM h_int'),
	'pgfdw: the postgres_fdw foreign table h_int shows the twin\'s rows');

$coord->safe_psql('postgres', 'CREATE DATABASE coord');
$coord->safe_psql('coord', $types_sql . qq{
CREATE EXTENSION shardfdw;
CREATE SERVER cluster FOREIGN DATA WRAPPER shardfdw OPTIONS (
  host '$dhost', port '$dport',
  p0 'dbname=shard0', p1 'dbname=shard1', p2 'dbname=shard2', p3 'dbname=shard3');
CREATE SERVER solo_srv FOREIGN DATA WRAPPER shardfdw OPTIONS (
  host '$dhost', port '$dport', dbname 'solo');
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster;
CREATE USER MAPPING FOR CURRENT_USER SERVER solo_srv;
CREATE USER MAPPING FOR smith SERVER cluster
  OPTIONS (user 'postgres', password_required 'false');
CREATE USER MAPPING FOR smith SERVER solo_srv
  OPTIONS (user 'postgres', password_required 'false');
$coord_sql
GRANT SELECT ON ALL TABLES IN SCHEMA public TO smith;
GRANT USAGE ON SCHEMA shardfdw TO smith;
ANALYZE } . join(', ', map { $_->[0] } @tables) . q{;
});

# The set-up SQL of every database, for reproducing a finding by hand
# (coord.sql: the foreign tables; the servers and mappings are below;
# the queries go to tmp_check/sqlsmith_queries.sql).
my $setup_dir = "$PostgreSQL::Test::Utils::tmp_check/sqlsmith_setup";
mkdir $setup_dir;
for my $db (keys %dbsql)
{
	PostgreSQL::Test::Utils::append_to_file("$setup_dir/$db.sql", $dbsql{$db} . $drop_stage);
}
PostgreSQL::Test::Utils::append_to_file("$setup_dir/coord.sql", $coord_sql);

# Every twin must hold exactly the rows the foreign tables show.
for my $tb (@tables)
{
	my ($name, $cols) = @$tb;
	my $collist = join(', ', map { $_->[0] } @$cols);
	my $q = "SELECT count(*) || ':' || coalesce(sum(hashtext(x::text)::numeric), 0)"
	  . " FROM (SELECT $collist FROM $name) x";
	my $got = $coord->safe_psql('coord', $q);
	my @twins = map { $coord->safe_psql($_, $q) } (@twin_dbs, 'twin_solo');
	is(join(' ', @twins), join(' ', ($got) x @twins),
		"foreign table $name shows the twins' rows");
}
# Every row of a hash or modulo table lives on the shard that
# shardfdw.shard_for names for its key (so pruning finds it).
my $misplaced = 0;
for my $tb (@tables)
{
	my ($name, $cols, undef, undef, $place) = @$tb;
	my ($key) = $place =~ /^(?:hash|modulo):(\w+)$/;
	$key = 'id' if $place eq 'gaps';
	next unless defined $key;
	for my $s (0 .. $#shard_dbs)
	{
		my $keys = $data->safe_psql($shard_dbs[$s],
			"SELECT coalesce(string_agg(quote_literal(${key}::text), ','), '') FROM $name WHERE $key IS NOT NULL");
		next if $keys eq '';
		$misplaced += $coord->safe_psql('coord',
			"SELECT count(*) FROM unnest(ARRAY[$keys]::" . $coltype{$key} . '[]) k'
			  . " WHERE shardfdw.shard_for('$name'::regclass, k) <> $s");
	}
}
is($misplaced, 0, 'every row lives on the shard shardfdw.shard_for names');

# ---------------------------------------------------------------- queries
my @queries;
my ($generated, $dropped) = (0, 0);
my $tg = time;
# one sqlsmith per seed, all at once, each into its own file
my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my (@gen, %err);
for my $seed (@seeds)
{
	$err{$seed} = '';
	push @gen, [ $seed, IPC::Run::start(
		[ $sqlsmith, "--target=host=$chost port=$cport dbname=coord user=smith",
			"--seed=$seed", '--dry-run', '--exclude-catalog',
			"--max-queries=$per_seed" ],
		'<', \undef, '>', "$tmp/sqlsmith_gen_$seed.sql", '2>', \$err{$seed}) ];
}
for my $g (@gen)
{
	my ($seed, $h) = @$g;
	$h->finish or die "sqlsmith --seed=$seed failed: $err{$seed}";
	for my $q (split /;[ \t]*\n/, slurp_file("$tmp/sqlsmith_gen_$seed.sql"))
	{
		$q =~ s/;\s*\z//;
		next unless $q =~ /\S/;
		$generated++;
		# Only reads: an INSERT, UPDATE, DELETE or MERGE would change
		# the rows of one side (and sqlsmith's pick nondeterministic rows).
		# A backslash would be a psql meta-command.
		if ($q !~ /\A\s*(select|with)\b/i || $q =~ /\\/)
		{
			$dropped++;
			next;
		}
		push @queries, $q;
	}
	unlink "$tmp/sqlsmith_gen_$seed.sql";
}
diag(sprintf('sqlsmith generated %d statements in %.0fs, %d kept (%d writes dropped)',
	$generated, time - $tg, scalar @queries, $dropped));
cmp_ok(scalar @queries, '>=', 0.8 * $per_seed * @seeds,
	'sqlsmith produced the requested number of read queries');

# The canary fails on the coordinator only: the detector must flag it.
my $canary = "SELECT count(*) FROM h_int WHERE CASE WHEN current_database() = 'coord' THEN 1 / (id - id) ELSE 1 END = 1";
unshift @queries, $canary;
# Every query by number, for reproducing a finding (tmp_check is kept when
# the test fails).
{
	open(my $fh, '>', "$tmp/sqlsmith_queries.sql") or die "cannot write: $!";
	print $fh "-- Q$_\n$queries[$_];\n" for 0 .. $#queries;
	close($fh);
}

# ---------------------------------------------------------------- run
my $psql_set = "\\set VERBOSITY verbose\n\\set SHOW_CONTEXT errors\n";
my %target = map { $_ => [ $coord, $_ ] } ('coord', @twin_dbs, 'twin_solo', 'pgfdw');

# Start psql on one side for queries from..end, in the background (fork
# and exec: the progress of its stderr file is watched); returns
# { side, pid, errfile, size, since }.
sub start_side
{
	my ($side, $from) = @_;
	my ($node, $db) = @{ $target{$side} };
	my $file = "$tmp/sqlsmith_$side.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh $psql_set;
	for my $i ($from .. $#queries)
	{
		print $fh "\\warn ===Q$i===\n$queries[$i];\n";
	}
	print $fh "\\warn ===END===\n";
	close($fh);
	my $errfile = "$tmp/sqlsmith_$side.err";
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null') or die;
		open(STDOUT, '>', '/dev/null') or die;
		open(STDERR, '>', $errfile) or die;
		exec('psql', '-X', '-q', '-h', $node->host, '-p', $node->port,
			'-U', 'smith', '-d', $db, '-f', $file) or POSIX::_exit(127);
	}
	return { side => $side, pid => $pid, errfile => $errfile, size => -1, since => time };
}

# Parse a stderr file into $res->{index} = text; returns the last index
# seen and whether the END marker came.
sub parse_side
{
	my ($errfile, $res) = @_;
	open(my $fh, '<', $errfile) or die "cannot read $errfile: $!";
	my ($cur, $last, $ended) = (undef, undef, 0);
	while (my $line = <$fh>)
	{
		if ($line =~ /^===(?:Q(\d+)|(END))===$/)
		{
			$ended = 1 if defined $2;
			$cur = $1;
			if (defined $1)
			{
				$last = $1;
				$res->{$1} = '';
			}
			next;
		}
		next unless defined $cur;
		$line =~ s/^psql:[^:]*:\d+: //;
		$res->{$cur} .= $line;
	}
	close($fh);
	return ($last, $ended);
}

# Run one statement in a fresh session; returns its stderr.
sub run_one
{
	my ($side, $sql) = @_;
	my ($node, $db) = @{ $target{$side} };
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port,
			'-U', 'smith', '-d', $db ],
		'<', \"$psql_set$sql;\n", '>', \$out, '2>', \$err);
	return $err;
}

my %res = (coord => {}, twin => {});
my %lost = (coord => {}, twin => {});    # side => { query => 'lost' or 'hung' }

# Run both sides at once, each to its END marker.  A psql that ends early
# (the backend died: the server log tells whether it crashed) or whose
# output stalls for $stall seconds, far beyond statement_timeout (a hang:
# its backend is terminated), marks the query it was running and goes on
# after it in a new session.
my $stall = $ENV{SHARDFDW_SQLSMITH_STALL} // 60;
sub run_sides
{
	my %run = map { $_ => start_side($_, 0) } @_;
	while (%run)
	{
		for my $side (sort keys %run)
		{
			my $r = $run{$side};
			my $how;
			if (waitpid($r->{pid}, WNOHANG) == $r->{pid})
			{
				$how = 'lost';
			}
			else
			{
				my $size = -s $r->{errfile} // 0;
				($r->{size}, $r->{since}) = ($size, time) if $size != $r->{size};
				next if time - $r->{since} < $stall;
				kill 'KILL', $r->{pid};
				waitpid($r->{pid}, 0);
				$how = 'hung';
			}
			my ($last, $ended) = parse_side($r->{errfile}, $res{$side});
			if ($ended)
			{
				delete $run{$side};
				next;
			}
			$last //= 0;
			diag("$side: psql session $how during Q$last; going on after it");
			$lost{$side}{$last} = $how;
			my ($node, $db) = @{ $target{$side} };
			$node->poll_query_until('postgres', 'SELECT true')
			  or die "$side server did not come back after Q$last";
			$node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'smith' AND datname = '$db'")
			  if $how eq 'hung';
			if ($last >= $#queries)
			{
				delete $run{$side};
				next;
			}
			$run{$side} = start_side($side, $last + 1);
		}
		usleep(100_000);
	}
	return;
}

my $t0 = time;
run_sides('coord', 'twin');
my $elapsed = time - $t0;

# ---------------------------------------------------------------- judge
# First error of a side's output: { state, msg, remote } or undef.
sub first_error
{
	my $text = shift;
	return { state => 'LOST', msg => 'session lost' } unless defined $text;
	if ($text =~ /^(?:ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): (.*)$/m)
	{
		my ($state, $msg) = ($1, $2);
		return { state => $state, msg => $msg,
			remote => ($text =~ /^CONTEXT:  remote SQL command/m ? 1 : 0) };
	}
	return { state => 'LOST', msg => $1 }
	  if $text =~ /^(server closed the connection unexpectedly|.*connection to server was lost.*)$/m;
	return undef;
}
sub class_of { return substr($_[0], 0, 2); }

# Same rows in another order, and the query made deterministic: each
# "(select c from t limit 1 offset k)" of sqlsmith gets "order by c".
sub determinize
{
	my $q = shift;
	$q =~ s{\(select (\w+) from (public\.\w+) limit 1 offset (\d+)\)}
		{ ($coltype{$1} // 'json') eq 'json' ? "(select $1 from $2 limit 1 offset $3)"
			: "(select $1 from $2 order by $1 limit 1 offset $3)" }ge;
	return $q;
}

# A coordinator error e that the twin did not raise (or raised in another
# class): is it the query's own, raised under another row order or plan?
# PostgreSQL fixes neither the order of a scan without ORDER BY nor which
# rows reach an expression under another join order.  Returns the reason
# to dismiss it, or undef (a false error).
my @plan_variants = (
	'SET enable_mergejoin = off;',
	'SET enable_hashjoin = off; SET enable_mergejoin = off;',
	'SET enable_nestloop = off;',
	'SET join_collapse_limit = 1; SET from_collapse_limit = 1;');
sub same_class
{
	my ($t, $e) = @_;
	return defined $t && $t->{state} ne 'LOST' && class_of($t->{state}) eq class_of($e->{state});
}
sub order_dependent
{
	my ($i, $e) = @_;
	for my $side ('twin_rev', 'twin_rnd')
	{
		return "$side raises it too" if same_class(first_error(run_one($side, $queries[$i])), $e);
	}
	for my $v (@plan_variants)
	{
		return "the twin raises it too after $v"
		  if same_class(first_error(run_one('twin', "$v\n$queries[$i]")), $e);
		return "no error on the coordinator after $v"
		  unless defined first_error(run_one('coord', "$v\n$queries[$i]"));
	}
	# shardfdw over one shard holding every row, computing the error
	# locally too: the coordinator's plan shape raised it (say, a filter
	# run before an empty join input is seen), not the sharding
	my $s = first_error(run_one('twin_solo', $queries[$i]));
	return 'twin_solo raises it too'
	  if !$e->{remote} && same_class($s, $e) && !$s->{remote};
	my $d = determinize($queries[$i]);
	return undef if $d eq $queries[$i];
	my $c = first_error(run_one('coord', $d));
	return 'ordered subqueries: no error on the coordinator'
	  if !defined $c || $c->{state} eq '57014';
	return 'ordered subqueries: the twin raises it too'
	  if same_class(first_error(run_one('twin', $d)), $c);
	return undef;
}

# An internal error (XX000) of the coordinator itself is dismissed only
# when a twin with its rows in another order raises the very same one (up
# to numbers): PostgreSQL's own function failing on values that an
# order-dependent subquery picked (pg_describe_object on an unknown class,
# say), not shardfdw.  Returns the reason to dismiss it, or undef.
sub twin_raises_same_internal
{
	my ($i, $e) = @_;
	my $norm = $e->{msg} =~ s/\d+/N/gr;
	for my $side ('twin_rev', 'twin_rnd')
	{
		my $t = first_error(run_one($side, $queries[$i]));
		return "$side raises the same XX000: PostgreSQL's own, on other values"
		  if defined $t && $t->{state} eq 'XX000' && ($t->{msg} =~ s/\d+/N/gr) eq $norm;
	}
	return undef;
}

# The reference: does postgres_fdw over the twin's rows raise it too?
# Returns the reason to dismiss it, or undef.
sub pgfdw_raises
{
	my ($i, $e) = @_;
	my $p = first_error(run_one('pgfdw', $queries[$i]));
	return undef unless same_class($p, $e);
	# a shard that cannot run the SQL it was sent: the very same SQLSTATE
	return undef
	  if $e->{remote} && $e->{state} =~ /^(42|0A)/ && $p->{state} ne $e->{state};
	return "postgres_fdw raises it too: $p->{state} $p->{msg}";
}

sub show
{
	my ($i, $why, $extra) = @_;
	my $c = $res{coord}{$i} // '(no output: session lost)';
	my $t = $res{twin}{$i} // '(no output: session lost)';
	s/\s+\z// for $c, $t;
	diag("---- Q$i: $why\n$queries[$i];\n-- coordinator:\n$c\n-- twin:\n"
		  . ($t eq '' ? '(no error)' : $t) . "\n" . ($extra // ''));
	return;
}

my ($ok, $timeouts, $inconclusive, $both) = (0, 0, 0, 0);
my (@crashq, @internal, @false, @core_internal, @dismissed);
my $canary_flagged = 0;
my %warnings;
for my $i (0 .. $#queries)
{
	my $c = $lost{coord}{$i} ? { state => 'LOST', msg => $lost{coord}{$i} } : first_error($res{coord}{$i});
	my $t = $lost{twin}{$i} ? { state => 'LOST', msg => $lost{twin}{$i} } : first_error($res{twin}{$i});
	my $ctext = $res{coord}{$i} // '';
	while ($ctext =~ /^WARNING:  [0-9A-Z]{5}: (.*)$/mg)
	{
		(my $w = $1) =~ s/ p\d+ \(host=[^)]*\)/ pN/g;
		$warnings{$w}++;
	}
	my ($why, $list);
	if (!defined $c)
	{
		$ok++;
	}
	elsif ($c->{state} eq 'LOST')
	{
		($why, $list) = ($c->{msg} eq 'hung'
			? "the query hung on the coordinator (no progress for ${stall}s)"
			: 'the coordinator session was lost', \@crashq)
		  unless defined $t && $t->{state} eq 'LOST';
	}
	elsif ($c->{state} eq 'XX000')
	{
		# (numbers in the message may come from other rows)
		if (defined $t && $t->{state} eq 'XX000'
			&& ($t->{msg} =~ s/\d+/N/gr) eq ($c->{msg} =~ s/\d+/N/gr))
		{
			push @core_internal, $i;
		}
		elsif ($c->{remote})
		{
			($why, $list) = ('internal error (XX000) of a shard', \@internal);
		}
		else
		{
			($why, $list) = ('internal error (XX000) on the coordinator', \@internal);
		}
	}
	elsif ($c->{state} eq '57014')
	{
		$timeouts++;
	}
	elsif (defined $t && ($t->{state} eq '57014' || $t->{state} eq 'LOST'))
	{
		$inconclusive++;
	}
	elsif (!defined $t)
	{
		($why, $list) = ("error $c->{state} on the coordinator only", \@false);
	}
	elsif (class_of($t->{state}) ne class_of($c->{state})
		&& ($c->{remote} || $c->{msg} =~ /shardfdw/))
	{
		($why, $list) = ("error $c->{state} from shardfdw or a shard on the coordinator, "
			  . "$t->{state} on the twin", \@false);
	}
	else
	{
		$both++;
	}
	next unless defined $why;
	# (a shard that cannot run the SQL it was sent is never the query's
	# fault; an internal error of the coordinator never is; one of a shard
	# is PostgreSQL's on the values it was given, judged as other errors)
	my $r;
	$r = twin_raises_same_internal($i, $c)
	  if $list == \@internal && !$c->{remote};
	if ($list == \@false || ($list == \@internal && $c->{remote}))
	{
		$r = order_dependent($i, $c)
		  unless $c->{remote} && $c->{state} =~ /^(42|0A)/;
		$r //= pgfdw_raises($i, $c);
	}
	if ($r)
	{
		push @dismissed, "Q$i: $c->{state} $c->{msg} [$r]";
		next;
	}
	if ($i == 0)
	{
		# the canary: it must be flagged, and is not reported
		$canary_flagged = $list == \@false ? 1 : 0;
		next;
	}
	push @$list, $i;
	my $d = determinize($queries[$i]);
	my $p = $list == \@false ? first_error(run_one('pgfdw', $queries[$i])) : undef;
	show($i, $why, ($d ne $queries[$i] && $list == \@false
		? "-- with ordered subqueries the coordinator still fails:\n"
		  . run_one('coord', $d) : '')
		  . ($list == \@false ? '-- postgres_fdw (pgfdw): '
			  . ($p ? "$p->{state} $p->{msg}" : 'no error') . "\n" : ''));
}
diag("dismissed (order-, plan- or foreign-table-dependent; not counted): $_") for @dismissed;
for my $i (@core_internal)
{
	diag("Q$i: XX000 on both sides (PostgreSQL's own): "
		  . first_error($res{coord}{$i})->{msg});
}
diag("coordinator WARNING ($warnings{$_}x): $_") for sort keys %warnings;
my $nq = scalar(@queries) - 1;
diag(sprintf('%d queries in %.0fs: %d ran without error on the coordinator, '
	  . '%d errors on both sides, %d dismissed, %d coordinator timeouts, '
	  . '%d inconclusive (the twin timed out), %d XX000 of PostgreSQL on both sides',
	$nq, $elapsed, $ok, $both, scalar @dismissed, $timeouts, $inconclusive,
	scalar @core_internal));

# Crashes: the server logs and liveness.
my $crash_re = qr/^.*(?:terminated by signal|terminated by exception|was terminated by).*$/m;
my @signals = (slurp_file($coord->logfile) =~ /$crash_re/g);
diag("coordinator log: $_") for @signals;
diag("data node log (PostgreSQL itself, not counted): $_")
  for (slurp_file($data->logfile) =~ /$crash_re/g);
is(scalar @signals, 0, 'no coordinator backend crashed (server log)');
is(scalar @crashq, 0, 'no query lost its coordinator session or hung');
ok($coord->poll_query_until('postgres', 'SELECT true'), 'coordinator server is up');
is(scalar @internal, 0, 'no internal error (XX000) on the coordinator');
is(scalar @false, 0, 'no error on the coordinator that the twin does not raise');
ok($canary_flagged, 'the canary (an error on the coordinator only) was detected');
cmp_ok($ok, '>=', $nq / 5, 'at least a fifth of the queries ran without error');

$coord->stop;
$data->stop;
done_testing();
