# t/010_differential.pl: differential test of shardfdw against plain local
# tables.
#
# One PostgreSQL node holds four shard databases (shard0..shard3) and a
# coordinator database.  The same deterministic data set lives
#   - on the shards, placed as PARTITION BY HASH (id) MODULUS 4 would place
#     it (foreign table d, distribution_column 'id'), placed by id mod 4
#     (foreign table dm, distribution 'modulo'), with shard 3 left empty
#     (foreign table e), in no shard at all (z), and on every shard (r,
#     distribution 'replicated');
#   - in local tables of the coordinator (d_local, e_local, z_local, r_local).
# Several hundred queries are generated from templates with random
# constants (deterministic seed, printed; override with SHARDFDW_DIFF_SEED)
# and run once against the foreign tables and once against the local
# tables; every pair of results must be identical (as ordered lists when the
# query has a total ORDER BY, as multisets otherwise).  An error counts as a
# result: both sides must fail with the same message.
#
# The databases use an ICU en-US default collation, so "C" and default
# orderings really differ, and the coordinator runs in a non-UTC time zone
# while the shards' sessions run in UTC.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seed = $ENV{SHARDFDW_DIFF_SEED} // 20240611;
diag("differential test seed: $seed (set SHARDFDW_DIFF_SEED to change)");
srand($seed);

my $node = PostgreSQL::Test::Cluster->new('diff');
$node->init(extra => [ '--encoding=UTF8', '--locale=C.UTF-8',
		'--locale-provider=icu', '--icu-locale=en-US' ]);
$node->append_conf('postgresql.conf', qq{
max_connections = 40
max_prepared_transactions = 10
log_min_messages = warning
restart_after_crash = on
fsync = off
});
$node->start;

my $host = $node->host;
my $port = $node->port;

# ---------------------------------------------------------------- data
my @texts = (
	'apple', 'Apple', 'APPLE', 'banana', 'Banana', 'cherry', 'éclair',
	'eclair', 'Éclair', 'zebra', 'Zebra', ' lead space', 'trail space ',
	'a b', 'a_b', 'a%b', '', 'ß', 'straße', 'Strasse', 'Ωmega', '100', '20',
	'2', 'x-ray', 'x ray', "o'neil", 'back\\slash', 'naïve', 'Naive',
	'résumé', 'resume', 'ÅNGSTRÖM', 'angstrom', 'ab', 'aB', 'Ab', 'b', 'B',
	'_under', '%pct');
my @floats = ('0', '-0', '1.5', '-2.25', '3.141592653589793', '1e-300',
	'1e300', '-7', '123456.789', 'NaN', 'Infinity', '-Infinity', '0.1',
	'2.5e-5');
my @nums = ('0', '-1', '12345678901234.5678', '-12345678901234.5678',
	'0.0001', '1.5', '2.50', '-3.75', '999999.999999', '42', '-0.5',
	'100.00');

sub rint { my ($a, $b) = @_; return $a + int(rand($b - $a + 1)); }
sub pick { return $_[ int(rand(scalar @_)) ]; }
sub sqlq { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }

my @ids = (1 .. 1990, -5 .. -1, 0, -2147483648, 2147483647, 3000, 3001);
my @rows;
for my $id (@ids)
{
	my %r;
	$r{id} = $id;
	# (the big multiplier would overflow bigint for INT_MIN/INT_MAX ids)
	$r{k} = rand() < 0.05 ? 'NULL' : ($id * 7919 + rint(-50, 50)) * (rand() < 0.1 && abs($id) < 1e6 ? 1000003 : 1);
	$r{g} = rand() < 0.08 ? 'NULL' : rint(0, 9);
	my $t = rand() < 0.07 ? undef : pick(@texts) . (rand() < 0.3 ? ' ' . rint(0, 20) : '');
	$r{t} = defined $t ? sqlq($t) : 'NULL';
	my $tc = rand() < 0.07 ? undef : pick(@texts);
	$r{tc} = defined $tc ? sqlq($tc) : 'NULL';
	$r{n} = rand() < 0.08 ? 'NULL'
	  : rand() < 0.4 ? pick(@nums)
	  : sprintf('%.4f', rand() * 20000 - 10000);
	$r{f} = rand() < 0.08 ? 'NULL'
	  : rand() < 0.3 ? sqlq(pick(@floats)) . '::float8'
	  : sprintf('%.6g', rand() * 2000 - 1000);
	$r{b} = pick('true', 'false', 'NULL');
	$r{d} = rand() < 0.06 ? 'NULL'
	  : "date '2019-12-25' + " . rint(0, 900);
	$r{ts} = rand() < 0.06 ? 'NULL'
	  : "timestamp '2020-01-01 00:00:00' + interval '1 second' * " . rint(0, 80000000);
	$r{tz} = rand() < 0.06 ? 'NULL'
	  : "timestamptz '2020-03-01 00:00:00+00' + interval '1 minute' * " . rint(0, 1000000);
	$r{iv} = rand() < 0.06 ? 'NULL'
	  : sqlq(rint(0, 40) . ' days ' . rint(0, 30) . ' hours ' . rint(0, 59) . ' minutes');
	$r{u} = rand() < 0.06 ? 'NULL'
	  : sqlq(join('', map { sprintf('%x', rint(0, 15)) } 1 .. 32)) . '::uuid';
	my $nel = rint(0, 4);
	$r{arr} = rand() < 0.06 ? 'NULL'
	  : 'ARRAY[' . join(',', map { rand() < 0.1 ? 'NULL' : rint(0, 9) } 1 .. $nel) . ']::int[]';
	push @rows, \%r;
}
my @cols = qw(id k g t tc n f b d ts tz iv u arr);
my $coldefs = 'id int, k bigint, g int, t text, tc text COLLATE "C", '
  . 'n numeric, f float8, b bool, d date, ts timestamp, tz timestamptz, '
  . 'iv interval, u uuid, arr int[]';
my $values = join(",\n",
	map { my $r = $_; '(' . join(', ', map { $r->{$_} } @cols) . ')' } @rows);
my $insert_stage = "INSERT INTO stage VALUES\n$values;\n";
my @rnames = ('zero', 'One', 'two', 'Three', 'four', 'Five', 'six', 'Seven',
	'eight', 'Nine');
my $r_values = join(',', map { "($_, " . sqlq($rnames[$_]) . ", $_ * 1.5)" } 0 .. 9);

for my $s (0 .. 3)
{
	$node->safe_psql('postgres', "CREATE DATABASE shard$s");
	my $sql = qq{
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE stage ($coldefs);
$insert_stage
CREATE TABLE d ($coldefs);
CREATE TABLE dm ($coldefs);
CREATE TABLE e ($coldefs);
CREATE TABLE z ($coldefs);
CREATE TABLE r (g int, name text, w numeric);
INSERT INTO d SELECT * FROM stage
 WHERE satisfies_hash_partition('placement_probe'::regclass, 4, $s, id);
INSERT INTO dm SELECT * FROM stage WHERE ((id % 4) + 4) % 4 = $s;
INSERT INTO e SELECT * FROM d WHERE $s <> 3;
INSERT INTO r VALUES $r_values;
CREATE INDEX ON d (id);
CREATE INDEX ON dm (id);
CREATE INDEX ON e (id);
DROP TABLE stage;
ANALYZE;
};
	$node->safe_psql("shard$s", $sql);
}

$node->safe_psql('postgres', 'CREATE DATABASE coord');
$node->safe_psql('coord', qq{
CREATE EXTENSION shardfdw;
CREATE SERVER cluster FOREIGN DATA WRAPPER shardfdw OPTIONS (
  host '$host', port '$port',
  p0 'dbname=shard0', p1 'dbname=shard1', p2 'dbname=shard2', p3 'dbname=shard3');
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster;
CREATE FOREIGN TABLE d ($coldefs) SERVER cluster
  OPTIONS (table_name 'd', distribution_column 'id');
CREATE FOREIGN TABLE dm ($coldefs) SERVER cluster
  OPTIONS (table_name 'dm', distribution_column 'id', distribution 'modulo');
CREATE FOREIGN TABLE e ($coldefs) SERVER cluster
  OPTIONS (table_name 'e', distribution_column 'id');
CREATE FOREIGN TABLE z ($coldefs) SERVER cluster
  OPTIONS (table_name 'z', distribution_column 'id');
CREATE FOREIGN TABLE r (g int, name text, w numeric) SERVER cluster
  OPTIONS (table_name 'r', distribution 'replicated');
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE stage ($coldefs);
$insert_stage
CREATE TABLE d_local AS SELECT * FROM stage;
CREATE TABLE e_local AS SELECT * FROM stage
 WHERE NOT satisfies_hash_partition('placement_probe'::regclass, 4, 3, id);
CREATE TABLE z_local ($coldefs);
CREATE TABLE r_local (g int, name text, w numeric);
INSERT INTO r_local VALUES $r_values;
DROP TABLE stage;
ANALYZE d_local; ANALYZE e_local; ANALYZE z_local; ANALYZE r_local;
});

# Sanity of the setup itself.
my $nrows = scalar @rows;
is($node->safe_psql('coord', 'SELECT count(*) FROM d_local'), $nrows,
	'local table loaded');
is($node->safe_psql('coord', 'SELECT count(*) FROM d'), $nrows,
	'foreign d sees every row');
is($node->safe_psql('shard3', 'SELECT count(*) FROM e'), '0',
	'shard 3 holds no rows of e');
is($node->safe_psql('coord',
	"SELECT datlocprovider::text || ':' || coalesce(daticulocale, '') FROM pg_database WHERE datname = current_database()"),
	'i:en-US', 'coordinator default collation is ICU en-US');
is($node->safe_psql('coord',
	"SELECT count(*) FROM (VALUES ('apple'), ('Banana')) v(x) WHERE x < 'Banana'"),
	'1', 'default collation orders apple before Banana');

# ---------------------------------------------------------------- generator
my @existing = map { $_->{id} } @rows;
sub rid
{
	my $x = rand();
	return pick(@existing) if $x < 0.75;
	return pick(-2147483648, 2147483647, 0, -3) if $x < 0.85;
	return rint(4000, 100000);    # does not exist
}
sub ridlist
{
	my $n = rint(1, 8);
	my @l = map { rid() } 1 .. $n;
	push @l, 'NULL' if rand() < 0.2;
	return join(', ', @l);
}
sub rtext { return rand() < 0.8 ? sqlq(pick(@texts)) : sqlq(pick(@texts) . ' ' . rint(0, 20)); }
sub rdate { return "date '" . sprintf('2020-%02d-%02d', rint(1, 12), rint(1, 28)) . "'"; }
sub rts
{
	return "timestamp '" . sprintf('%d-%02d-%02d %02d:%02d:%02d',
		rint(2020, 2022), rint(1, 12), rint(1, 28), rint(0, 23), rint(0, 59), rint(0, 59)) . "'";
}
sub rtz
{
	return "timestamptz '" . sprintf('2020-%02d-%02d %02d:%02d:00%s',
		rint(3, 12), rint(1, 28), rint(0, 23), rint(0, 59),
		pick('+00', '-05', '+05:30', '', ' America/New_York')) . "'";
}
sub rnum { return rand() < 0.3 ? pick(@nums) : sprintf('%.3f', rand() * 20000 - 10000); }
sub rlikepat
{
	return sqlq(pick('a%', '%a%', 'A%', '_pple%', '%e', '%é%', 'é%', '% %', '',
		'%', 'a\\_b%', 'a\\%b%', '__', 'b_', '%1_', 'x_ray%', 'straße%',
		'%ß%', 'Ω%', '%space%', ' %', "o'%"));
}
sub rregex
{
	return sqlq(pick('^a', '^[A-Z]', 'e$', '[0-9]+$', '^.{2}$', 'é', '^$',
		'an+a', '(?i)apple', '\\s', '^[^a-z]', 'ß|ss', '^x.ray'));
}
sub cmpop { return pick('=', '<>', '<', '<=', '>', '>='); }

sub atom
{
	my $c = shift;
	my @a = (
		sub { "$c.id " . cmpop() . ' ' . rid() },
		sub { "$c.k " . cmpop() . ' ' . (rint(-100, 16000000) . (rand() < 0.5 ? '::bigint' : '')) },
		sub { "$c.g " . cmpop() . ' ' . rint(0, 9) },
		sub { "$c.g IS NULL" },
		sub { "$c.g IS NOT NULL" },
		sub { my $a = rint(-10, 2000); "$c.id BETWEEN $a AND " . ($a + rint(0, 300)) },
		sub { my $a = rint(-10, 2000); "$c.id NOT BETWEEN $a AND " . ($a + rint(0, 1800)) },
		sub { "$c.k BETWEEN SYMMETRIC " . rint(0, 9000000) . ' AND ' . rint(0, 9000000) },
		sub { "$c.g IN (" . join(', ', map { rint(0, 9) } 1 .. rint(1, 4)) . (rand() < 0.4 ? ', NULL' : '') . ')' },
		sub { "$c.g NOT IN (" . join(', ', map { rint(0, 9) } 1 .. rint(1, 4)) . (rand() < 0.2 ? ', NULL' : '') . ')' },
		sub { "$c.g = ANY(ARRAY[" . join(', ', map { rint(0, 9) } 1 .. rint(1, 4)) . '])' },
		sub { "$c.g <> ALL(ARRAY[" . join(', ', map { rint(0, 9) } 1 .. rint(1, 4)) . '])' },
		sub { "$c.t IS DISTINCT FROM " . rtext() },
		sub { "$c.t IS NOT DISTINCT FROM " . (rand() < 0.2 ? 'NULL' : rtext()) },
		sub { "$c.g IS DISTINCT FROM " . (rand() < 0.3 ? 'NULL' : rint(0, 9)) },
		sub { "$c.t LIKE " . rlikepat() },
		sub { "$c.t ILIKE " . rlikepat() },
		sub { "$c.t NOT LIKE " . rlikepat() },
		sub { "$c.tc LIKE " . rlikepat() },
		sub { "$c.t NOT ILIKE " . rlikepat() },
		sub { "$c.t ~ " . rregex() },
		sub { "$c.t ~* " . rregex() },
		sub { "$c.tc !~ " . rregex() },
		sub { "$c.t SIMILAR TO " . sqlq(pick('a%', '%(an|pp)%', '[A-Z]%', '%[0-9]')) },
		sub { "COALESCE($c.g, -1) " . cmpop() . ' ' . rint(-1, 9) },
		sub { "COALESCE($c.t, 'none') = " . pick("'none'", rtext()) },
		sub { "CASE WHEN $c.g < 3 THEN 'lo' WHEN $c.g < 7 THEN 'mid' ELSE 'hi' END = " . sqlq(pick('lo', 'mid', 'hi')) },
		sub { "CASE $c.g WHEN 1 THEN $c.id WHEN 2 THEN -$c.id::bigint ELSE 0 END > " . rint(-500, 500) },
		sub { "$c.n::int " . cmpop() . ' ' . rint(-5000, 5000) },
		sub { "$c.id::text LIKE " . sqlq(rint(1, 19) . '%') },
		sub { "$c.k::text = " . sqlq(rint(0, 99)) },
		sub { "$c.f::numeric > " . rnum() },
		sub { "($c.id::bigint * 3 + $c.g) % 7 = " . rint(0, 6) },
		# Arithmetic on id is widened: the INT_MIN/INT_MAX rows would
		# overflow, and SQL does not fix the order in which ANDed clauses
		# run, so a shipped clause may meet a row that a local clause would
		# have filtered first (an error on one side only, not a wrong
		# answer).
		sub { "$c.id % 4 = " . rint(-3, 3) },
		sub { "-$c.id::bigint < " . rint(-2000, 10) },
		sub { "$c.k::numeric - $c.id::numeric * 7919 BETWEEN -10 AND 10" },
		sub { "lower($c.t) = " . sqlq(lc(pick(@texts))) },
		sub { "upper($c.t) LIKE " . sqlq(uc(pick('A', 'É', 'STRA', 'Z', 'B')) . '%') },
		sub { "length($c.t) " . cmpop() . ' ' . rint(0, 8) },
		sub { "substr($c.t, 2, 3) = " . sqlq(pick('ppl', 'ana', 'cla', 'ebr', 'tra', '')) },
		sub { "$c.t || 'x' = " . sqlq(pick(@texts) . 'x') },
		sub { "concat($c.t, $c.g) LIKE " . sqlq(pick('a', 'b', 'A', 'z') . '%' . rint(0, 9)) },
		sub { "starts_with($c.t, " . sqlq(pick('a', 'A', 'é', 'x', '')) . ')' },
		sub { "position(" . sqlq(pick('a', 'e', ' ', 'ß')) . " in $c.t) > " . rint(0, 3) },
		sub { "btrim($c.t) <> $c.t" },
		sub { "replace($c.t, 'a', 'o') = " . sqlq(pick('opple', 'bonono', 'zebro', 'o b')) },
		sub { "$c.t ^@ " . sqlq(pick('a', 'B', 'é', 'x')) },
		sub { "$c.d + " . rint(-30, 30) . ' > ' . rdate() },
		sub { "$c.d - interval '1 month' < " . rts() },
		sub { "$c.d " . cmpop() . ' ' . rdate() },
		sub { "$c.d IN (" . join(', ', map { rdate() } 1 .. 3) . ')' },
		sub { "date_trunc('month', $c.ts) = " . sprintf("timestamp '2021-%02d-01'", rint(1, 12)) },
		sub { "date_trunc(" . sqlq(pick('day', 'hour', 'year', 'week')) . ", $c.ts) > " . rts() },
		sub { "extract(dow from $c.ts) = " . rint(0, 6) },
		sub { "extract(year from $c.d) = " . rint(2019, 2022) },
		sub { "date_part('month', $c.d) " . cmpop() . ' ' . rint(1, 12) },
		sub { "$c.ts " . cmpop() . ' ' . rts() },
		sub { "$c.ts::date = " . rdate() },
		sub { "$c.tz " . cmpop() . ' ' . rtz() },
		sub { "$c.tz::date = " . rdate() },
		sub { "extract(hour from $c.tz) = " . rint(0, 23) },
		sub { "$c.ts AT TIME ZONE 'UTC' < " . rtz() },
		sub { "$c.tz AT TIME ZONE 'Asia/Tokyo' > " . rts() },
		sub { "$c.ts + $c.iv > " . rts() },
		sub { "$c.iv " . cmpop() . " interval '" . rint(0, 40) . " days " . rint(0, 23) . " hours'" },
		sub { "justify_hours($c.iv) > interval '20 days'" },
		sub { "round($c.n, 1) " . cmpop() . ' ' . rnum() },
		sub { "trunc($c.n) = " . pick(0, -1, 42, 12345678901234, 1, 2) },
		sub { "abs($c.n) < " . rint(0, 5000) },
		sub { "$c.n % 3 = " . pick(0, 1, 2, '1.5') },
		sub { "$c.n " . cmpop() . ' ' . rnum() },
		sub { "$c.n * 2 = " . pick('0', '-2', '3.00', '84', '24691357802469.1356') },
		sub { "$c.f " . cmpop() . ' ' . pick(sprintf('%.2f', rand() * 2000 - 1000), "'NaN'", "'Infinity'", "'-Infinity'", '0', "'-0'") },
		sub { "$c.f::text LIKE " . sqlq(pick('%e%', '-%', 'N%', '%.5', '0', '-0')) },
		sub { "$c.f * 2 > $c.n" },
		sub { "$c.b" },
		sub { "NOT $c.b" },
		sub { "$c.b IS TRUE" },
		sub { "$c.b IS NOT FALSE" },
		sub { "$c.b IS UNKNOWN" },
		sub { "$c.b IS DISTINCT FROM true" },
		sub { "$c.b = ($c.g > " . rint(0, 9) . ')' },
		sub { "$c.tc " . cmpop() . ' ' . rtext() },
		sub { "$c.t COLLATE \"C\" " . cmpop() . ' ' . rtext() },
		sub { "$c.t " . cmpop() . ' ' . rtext() . ' COLLATE "C"' },
		sub { "$c.t " . cmpop() . ' ' . rtext() },
		sub { "$c.tc COLLATE \"default\" " . cmpop() . ' ' . rtext() },
		sub { "$c.t IN (" . join(', ', map { rtext() } 1 .. rint(1, 4)) . (rand() < 0.3 ? ', NULL' : '') . ')' },
		sub { "$c.t NOT IN (" . join(', ', map { rtext() } 1 .. rint(1, 4)) . ')' },
		sub { "lower($c.tc) > " . rtext() },
		sub { "$c.arr @> ARRAY[" . rint(0, 9) . ']' },
		sub { "$c.arr <@ ARRAY[" . join(',', map { rint(0, 9) } 1 .. 4) . ']' },
		sub { "$c.arr && ARRAY[" . rint(0, 9) . ', ' . rint(0, 9) . ']' },
		sub { "cardinality($c.arr) " . cmpop() . ' ' . rint(0, 4) },
		sub { "$c.arr[1] = " . rint(0, 9) },
		sub { rint(0, 9) . " = ANY($c.arr)" },
		sub { "array_length($c.arr, 1) > " . rint(0, 3) },
		sub { "$c.arr IS NULL" },
		sub { "$c.arr = '{}'" },
		sub { "$c.u " . pick('<', '>') . ' ' . sqlq(sprintf('%x', rint(0, 15)) . '0000000-0000-0000-0000-000000000000') . '::uuid' },
		sub { "$c.u::text LIKE " . sqlq(sprintf('%x', rint(0, 15)) . '%') },
		sub { "NULLIF($c.g, " . rint(0, 9) . ') IS NULL' },
		sub { "GREATEST($c.g, " . rint(0, 9) . ') = ' . rint(0, 9) },
		sub { "LEAST($c.n, 0) < " . rnum() },
		sub { "$c.id IS NULL" },
		sub { "$c.id = (SELECT max(id) FROM \@L WHERE g = " . rint(0, 9) . ')' },
		sub { "$c.id IN (SELECT id FROM \@L WHERE g = " . rint(0, 9) . ' AND id < ' . rint(0, 2000) . ')' },
		sub { "$c.k = $c.id::bigint * 7919" },
		sub { "row($c.g, $c.id) < row(" . rint(0, 9) . ', ' . rint(0, 2000) . ')' },
		sub { "to_char($c.d, 'YYYY-MM') = " . sqlq(sprintf('2020-%02d', rint(1, 12))) },
		sub { "$c.d < current_date" },
		sub { "$c.t = $c.tc" },    # collation conflict: same error on both sides
		sub { "$c.t COLLATE \"C\" = $c.tc" },
		sub { "$c.t > $c.tc COLLATE \"C\"" },
		sub { "($c.g > " . rint(0, 9) . ") IS NOT TRUE" },
	);
	return pick(@a)->();
}

sub filt
{
	my $c = shift;
	my $x = rand();
	return atom($c) if $x < 0.35;
	return atom($c) . ' AND ' . atom($c) if $x < 0.6;
	return '(' . atom($c) . ' OR ' . atom($c) . ')' if $x < 0.75;
	return 'NOT (' . atom($c) . ')' if $x < 0.82;
	return '(' . atom($c) . ' OR ' . atom($c) . ') AND ' . atom($c) if $x < 0.9;
	return 'NOT (' . atom($c) . ' AND ' . atom($c) . ') AND ' . atom($c) if $x < 0.95;
	return '(' . atom($c) . ' AND ' . atom($c) . ') OR NOT ' . atom($c);
}

# select list pieces
my $all = 'x.id, x.k, x.g, x.t, x.tc, x.n, x.f, x.b, x.d, x.ts, x.tz, x.iv, x.u, x.arr';
sub some_cols
{
	my @c = grep { rand() < 0.4 } qw(k g t tc n f b d ts tz iv u arr);
	return join(', ', 'x.id', map { "x.$_" } @c);
}
sub order_key
{
	return pick('x.t', 'x.t COLLATE "C"', 'x.tc', 'x.n', 'x.f', 'x.d', 'x.ts',
		'x.tz', 'x.iv', 'x.g', 'x.b', 'x.k', 'x.u', 'x.arr', 'lower(x.t)',
		'x.tc COLLATE "default"')
	  . pick('', ' DESC', ' ASC')
	  . pick('', ' NULLS FIRST', ' NULLS LAST');
}

# Each generator returns [sql, ordered].  Table tokens: @D main foreign
# table (d, dm or e), @E e, @Z z (empty), @R r (replicated), @M dm, @H d,
# @L d_local (local on both sides).
my @templates = (
	# plain filters
	[ 14, sub { [ "SELECT $all FROM \@D x WHERE " . filt('x'), 0 ] } ],
	[ 6, sub { [ 'SELECT ' . some_cols() . " FROM \@D x WHERE " . filt('x'), 0 ] } ],
	[ 5, sub { [ "SELECT count(*) FROM \@D x WHERE " . filt('x'), 1 ] } ],
	# ordered, total
	[ 6, sub {
		[ 'SELECT ' . some_cols() . " FROM \@D x WHERE " . filt('x')
			. ' ORDER BY ' . order_key() . ', ' . order_key() . ', x.id' . pick('', ' DESC'), 1 ] } ],
	# ordered, not total: compare as multiset
	[ 2, sub { [ "SELECT x.g, x.t FROM \@D x WHERE " . filt('x') . ' ORDER BY ' . order_key(), 0 ] } ],
	# LIMIT / OFFSET with total order
	[ 5, sub {
		[ 'SELECT ' . some_cols() . " FROM \@D x WHERE " . filt('x')
			. ' ORDER BY ' . order_key() . ', x.id' . pick('', ' DESC')
			. ' LIMIT ' . rint(0, 30) . (rand() < 0.5 ? ' OFFSET ' . rint(0, 50) : ''), 1 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x ORDER BY x.id LIMIT 5 OFFSET " . rint(0, 2100), 1 ] } ],
	# aggregates
	[ 4, sub {
		[ "SELECT count(*), count(x.g), sum(x.k), sum(x.n), avg(x.n), min(x.t), max(x.t), min(x.tc), max(x.tc COLLATE \"C\"), min(x.f), max(x.f), min(x.d), max(x.ts), min(x.tz), max(x.iv), bool_and(x.b), bool_or(x.b) FROM \@D x WHERE " . filt('x'), 1 ] } ],
	[ 6, sub {
		my $gk = pick('x.g', 'x.b', 'x.g % 3', 'lower(x.tc)', 'date_trunc(\'month\', x.ts)', 'x.t', 'x.tc', 'x.arr');
		[ "SELECT $gk AS gk, count(*), sum(x.k), avg(x.n), min(x.d), max(x.ts), bool_and(x.b), "
			. "string_agg(x.t, '|' ORDER BY x.t, x.id), array_agg(x.id ORDER BY x.id) FILTER (WHERE x.id < 60) "
			. "FROM \@D x WHERE " . filt('x') . " GROUP BY 1"
			. (rand() < 0.5 ? ' HAVING count(*) > ' . rint(0, 30) : '')
			. ' ORDER BY 1 NULLS FIRST', 1 ] } ],
	[ 2, sub {
		[ "SELECT x.g, x.b, count(*), sum(x.n) FROM \@D x WHERE " . filt('x')
			. ' GROUP BY ROLLUP (x.g, x.b) HAVING sum(x.n) IS NOT NULL', 0 ] } ],
	[ 2, sub {
		[ "SELECT count(DISTINCT x.t), count(DISTINCT x.tc), count(DISTINCT x.g) FROM \@D x WHERE " . filt('x'), 1 ] } ],
	# DISTINCT
	[ 3, sub { [ 'SELECT DISTINCT ' . pick('x.t', 'x.tc', 'x.g, x.b', 'lower(x.t)', 'x.arr', 'x.d') . " FROM \@D x WHERE " . filt('x'), 0 ] } ],
	[ 2, sub { [ "SELECT DISTINCT x.g, x.b FROM \@D x WHERE " . filt('x') . ' ORDER BY 1 DESC NULLS LAST, 2 NULLS FIRST', 1 ] } ],
	[ 1, sub { [ "SELECT DISTINCT ON (x.g) x.g, x.id, x.t FROM \@D x WHERE " . filt('x') . ' ORDER BY x.g, x.id DESC', 1 ] } ],
	# window functions
	[ 4, sub {
		[ "SELECT x.id, row_number() OVER (PARTITION BY x.g ORDER BY x.n NULLS LAST, x.id), "
			. "sum(x.n) OVER (PARTITION BY x.g), rank() OVER (ORDER BY x.t), "
			. "dense_rank() OVER (ORDER BY x.tc DESC), lag(x.id) OVER (ORDER BY x.id), "
			. "count(*) OVER (ORDER BY x.d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > 0 "
			. "FROM \@D x WHERE " . filt('x'), 0 ] } ],
	# key lookups and pruning
	[ 8, sub { [ "SELECT $all FROM \@D x WHERE x.id = " . rid(), 0 ] } ],
	[ 6, sub { [ "SELECT x.id, x.t FROM \@D x WHERE x.id IN (" . ridlist() . ')', 0 ] } ],
	[ 4, sub { [ "SELECT x.id, x.n FROM \@D x WHERE x.id = ANY(ARRAY[" . ridlist() . '])', 0 ] } ],
	[ 2, sub { [ "SELECT x.id FROM \@D x WHERE x.id = ANY('{" . join(',', map { rid() } 1 .. 5) . "}')", 0 ] } ],
	[ 3, sub { [ "SELECT x.id, x.g FROM \@D x WHERE x.id = " . rid() . ' OR x.id = ' . rid() . (rand() < 0.5 ? ' OR x.id IN (' . ridlist() . ')' : ''), 0 ] } ],
	[ 3, sub { [ "SELECT x.id, x.t FROM \@D x WHERE x.id = " . rid() . '::' . pick('bigint', 'smallint', 'int', 'numeric') , 0 ] } ],
	[ 3, sub { [ "SELECT x.id, x.t FROM \@D x WHERE x.id IN (" . ridlist() . ') AND ' . filt('x'), 0 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x WHERE x.id = NULL", 0 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x WHERE x.id IN (NULL, NULL)", 0 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x WHERE x.id = ANY(NULL::int[])", 0 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x WHERE x.id <> ALL(ARRAY[" . ridlist() . "]) AND x.id < 50", 0 ] } ],
	[ 2, sub { [ "SELECT x.id FROM \@D x WHERE x.id = " . rid() . ' AND x.id = ' . rid(), 0 ] } ],
	[ 2, sub { [ "SELECT x.id FROM \@D x WHERE x.id = " . rint(1, 50) . ' + ' . rint(0, 50), 0 ] } ],
	[ 2, sub { [ "SELECT x.id FROM \@D x WHERE (x.id = " . rid() . ' AND x.g = ' . rint(0, 9) . ') OR x.id = ' . rid(), 0 ] } ],
	# prepared statements
	[ 5, sub {
		my $mode = pick('force_generic_plan', 'force_custom_plan', 'auto');
		my $n = 'p' . int(rand(1e9));
		my $sql = "SET plan_cache_mode = $mode; PREPARE $n(int, int) AS SELECT x.id, x.t, x.g FROM \@D x WHERE x.id = \$1 OR x.id = \$2;";
		$sql .= " EXECUTE $n(" . rid() . ', ' . (rand() < 0.2 ? 'NULL' : rid()) . ');' for 1 .. 6;
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 0 ] } ],
	[ 4, sub {
		my $mode = pick('force_generic_plan', 'force_custom_plan');
		my $n = 'p' . int(rand(1e9));
		my $sql = "SET plan_cache_mode = $mode; PREPARE $n(int[]) AS SELECT x.id, x.n FROM \@D x WHERE x.id = ANY(\$1);";
		$sql .= " EXECUTE $n(ARRAY[" . ridlist() . ']);' for 1 .. 4;
		$sql .= " EXECUTE $n(NULL);";
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 0 ] } ],
	[ 4, sub {
		my $mode = pick('force_generic_plan', 'force_custom_plan');
		my $n = 'p' . int(rand(1e9));
		my $sql = "SET plan_cache_mode = $mode; PREPARE $n(int, text, numeric, timestamp) AS SELECT x.id FROM \@D x WHERE (x.g = \$1 OR x.t LIKE \$2) AND x.n > \$3 AND x.ts < \$4;";
		$sql .= " EXECUTE $n(" . (rand() < 0.2 ? 'NULL' : rint(0, 9)) . ', ' . rlikepat() . ', ' . rnum() . ', ' . rts() . ');' for 1 .. 6;
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 0 ] } ],
	[ 2, sub {
		my $n = 'p' . int(rand(1e9));
		my $sql = "SET plan_cache_mode = force_generic_plan; PREPARE $n(bigint) AS SELECT x.id FROM \@D x WHERE x.id = \$1;";
		$sql .= " EXECUTE $n(" . rid() . ');' for 1 .. 5;
		$sql .= " EXECUTE $n(5000000000);";
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 0 ] } ],
	# joins
	[ 5, sub {
		[ "SELECT x.id, y.g, x.t FROM \@D x JOIN \@L y ON x.id = y.id WHERE " . filt('x') . ' AND ' . filt('y'), 0 ] } ],
	[ 4, sub {
		[ "SELECT x.id, y.id, y.t FROM \@D x JOIN " . pick('@H', '@M', '@E') . ' y ON y.id = x.id WHERE ' . filt('x'), 0 ] } ],
	[ 3, sub {
		[ "SELECT count(*), sum(x.id::bigint * y.id), min(x.t || y.t) FROM \@D x JOIN " . pick('@E', '@H', '@L') . ' y ON x.g = y.g AND x.b = y.b WHERE x.id < ' . rint(50, 600) . ' AND y.id < ' . rint(50, 600), 1 ] } ],
	[ 2, sub {
		[ "SELECT x.id, y.id FROM \@D x JOIN \@E y ON x.t = y.t AND x.tc = y.tc WHERE x.id < " . rint(100, 2000), 0 ] } ],
	[ 3, sub {
		[ "SELECT x.id, r.name, r.w FROM \@D x LEFT JOIN \@R r ON r.g = x.g WHERE " . filt('x'), 0 ] } ],
	[ 2, sub {
		[ "SELECT x.id, y.id FROM \@D x FULL JOIN \@Z y ON x.id = y.id WHERE x.id < " . rint(0, 100), 0 ] } ],
	[ 2, sub {
		[ "SELECT x.id, y.k FROM \@D x LEFT JOIN \@E y ON y.id = x.id AND y.g = " . rint(0, 9) . ' WHERE x.id BETWEEN ' . rint(0, 1000) . ' AND ' . rint(1000, 2000), 0 ] } ],
	[ 5, sub {
		[ "SET enable_hashjoin = off; SET enable_mergejoin = off; SELECT y.id, x.t, x.n FROM \@L y JOIN \@D x ON x.id = y.id"
			. pick('', ' + 1', ' * 2') . ' WHERE y.g = ' . rint(0, 9) . ' AND y.id < ' . rint(0, 600)
			. (rand() < 0.5 ? ' AND ' . filt('x') : '') . '; RESET enable_hashjoin; RESET enable_mergejoin;', 0 ] } ],
	[ 3, sub {
		[ "SET enable_hashjoin = off; SET enable_mergejoin = off; SELECT x.id, y.id FROM \@D x JOIN \@E y ON y.id = x.id WHERE "
			. filt('x') . ' AND x.id < ' . rint(0, 400) . '; RESET enable_hashjoin; RESET enable_mergejoin;', 0 ] } ],
	[ 2, sub {
		[ "SET enable_hashjoin = off; SET enable_mergejoin = off; SELECT x.id, y.id FROM \@D x JOIN \@E y ON y.k > x.k AND y.g = x.g WHERE x.id < "
			. rint(0, 40) . ' AND y.id < ' . rint(0, 300) . '; RESET enable_hashjoin; RESET enable_mergejoin;', 0 ] } ],
	[ 2, sub {
		[ "SET enable_hashjoin = off; SET enable_mergejoin = off; SELECT y.id, x.id FROM \@L y LEFT JOIN \@D x ON x.id = y.id AND x.t LIKE "
			. rlikepat() . ' WHERE y.id < ' . rint(0, 300) . '; RESET enable_hashjoin; RESET enable_mergejoin;', 0 ] } ],
	# correlated subqueries
	[ 3, sub {
		[ "SELECT y.id, (SELECT count(*) FROM \@E x WHERE x.id = y.id), (SELECT max(x.t) FROM \@D x WHERE x.id = y.id + 1) FROM \@L y WHERE y.g = "
			. rint(0, 9) . ' AND y.id < ' . rint(0, 400), 0 ] } ],
	[ 3, sub {
		[ "SELECT x.id FROM \@D x WHERE " . pick('', 'NOT ') . "EXISTS (SELECT 1 FROM \@E y WHERE y.id = x.id AND y.g = x.g) AND " . filt('x'), 0 ] } ],
	[ 2, sub {
		[ "SELECT x.id, x.n FROM \@D x WHERE x.n > (SELECT avg(n) FROM \@E WHERE g = " . rint(0, 9) . ') AND ' . filt('x'), 0 ] } ],
	[ 2, sub {
		[ "SELECT x.id FROM \@L x WHERE x.g = " . rint(0, 9) . " AND x.t = (SELECT y.t FROM \@D y WHERE y.id = x.id)", 0 ] } ],
	[ 2, sub {
		[ "SELECT x.id FROM \@D x WHERE x.id IN (SELECT y.id FROM \@E y WHERE " . filt('y') . ') AND ' . filt('x'), 0 ] } ],
	[ 1, sub {
		[ "SELECT x.id FROM \@D x WHERE x.id = ANY(ARRAY(SELECT y.id FROM \@L y WHERE y.g = " . rint(0, 9) . ' AND y.id < ' . rint(0, 500) . '))', 0 ] } ],
	# set operations
	[ 4, sub {
		[ "SELECT x.id, x.t FROM \@D x WHERE " . filt('x') . ' ' . pick('UNION', 'UNION ALL', 'EXCEPT', 'INTERSECT', 'EXCEPT ALL')
			. " SELECT y.id, y.t FROM " . pick('@E', '@Z', '@L', '@H') . ' y WHERE ' . filt('y'), 0 ] } ],
	# empty tables
	[ 2, sub { [ "SELECT count(*), sum(x.n), max(x.t), bool_and(x.b), string_agg(x.t, ',') FROM \@Z x WHERE " . filt('x'), 1 ] } ],
	[ 1, sub { [ "SELECT x.g, count(*) FROM \@Z x GROUP BY x.g", 0 ] } ],
	[ 1, sub { [ "SELECT $all FROM \@Z x WHERE x.id = " . rid(), 0 ] } ],
	# replicated table
	[ 3, sub { [ "SELECT r.g, r.name, r.w FROM \@R r WHERE r.name " . pick('LIKE', 'ILIKE', '>', '<') . ' ' . sqlq(pick('t%', 'T%', 'S%', 'f', 'n%')), 0 ] } ],
	[ 1, sub { [ "SELECT r.name FROM \@R r ORDER BY r.name COLLATE \"C\"", 1 ] } ],
	[ 1, sub { [ "SELECT r.name FROM \@R r ORDER BY r.name", 1 ] } ],
	# CTE
	[ 2, sub {
		[ "WITH c AS " . pick('', 'MATERIALIZED ') . "(SELECT x.id, x.g, x.n FROM \@D x WHERE " . filt('x')
			. ") SELECT c.g, count(*), sum(c.n) FROM c GROUP BY c.g ORDER BY c.g NULLS LAST", 1 ] } ],
	# deliberate errors: same on both sides
	[ 1, sub { [ "SELECT count(*) FROM \@D x WHERE x.n / 0 > 1", 1 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x WHERE x.id = " . rid() . " AND x.t::int > 0", 0 ] } ],
	[ 1, sub { [ "SELECT x.id FROM \@D x WHERE x.id = 'abc'", 0 ] } ],
);

my $totalw = 0;
$totalw += $_->[0] for @templates;
sub gen_query
{
	my $x = rand($totalw);
	for my $t (@templates)
	{
		return $t->[1]->() if ($x -= $t->[0]) < 0;
	}
	return $templates[-1][1]->();
}

# ---------------------------------------------------------------- aggregates
# A second pool of templates for the push-downs of grouping, aggregation,
# ORDER BY (merged shard streams), LIMIT/OFFSET and DISTINCT.  Aggregates
# are pushed whole (one target shard, replicated table, GROUP BY including
# id), as partials combined on the coordinator (count, sum/avg of integer
# and numeric input, min, max, bool_and/bool_or/every, bit_and/bit_or, sum
# of float/interval), or computed locally (anything else); the templates
# mix all three.
#
# Only values with a single representation per equality class are grouped
# on or fed to min/max, as the result of a tie would depend on the input
# order: float 0/-0 (min(f) + 0 folds -0 into 0), interval '1 day' vs
# '24 hours' (justify_hours), numeric 2.5 vs 2.50 (the data has one scale
# per value).  Float sums and averages depend on the order of additions
# and are compared rounded.  FETCH FIRST ... WITH TIES is compared as a
# set.

# simple filters for FILTER (WHERE ...); one is stable (not shippable)
sub fatom
{
	return pick(
		sub { 'x.g > ' . rint(0, 9) },
		sub { 'x.g IS NULL' },
		sub { 'x.b' },
		sub { 'NOT x.b' },
		sub { 'x.t LIKE ' . rlikepat() },
		sub { 'x.t < ' . rtext() },
		sub { 'x.tc >= ' . rtext() },
		sub { 'x.id % 2 = 0' },
		sub { 'x.id < ' . rint(0, 2000) },
		sub { 'x.n > ' . rnum() },
		sub { 'x.d < ' . rdate() },
		sub { 'x.ts > ' . rts() },
		sub { 'x.tz < ' . rtz() },
		sub { 'x.tz::date > ' . rdate() },
		sub { 'x.f > ' . rint(-500, 500) },
		sub { 'x.arr @> ARRAY[' . rint(0, 9) . ']' },
		sub { 'x.t IS NOT NULL' },
	)->();
}
sub fsuffix { return rand() < 0.3 ? ' FILTER (WHERE ' . fatom() . ')' : ''; }

# combinable aggregates (and expressions over them); the argument is the
# FILTER suffix
my @comb_aggs = (
	sub { "count(*)$_[0]" },
	sub { "count(x.k)$_[0]" },
	sub { "count(x.t)$_[0]" },
	sub { "count(x.arr)$_[0]" },
	sub { "sum(x.id)$_[0]" },
	sub { "sum(x.g)$_[0]" },
	sub { "sum(x.g::int2)$_[0]" },
	sub { "sum(x.k)$_[0]" },
	sub { "sum(x.n)$_[0]" },
	sub { "sum(x.n * 2)$_[0]" },
	sub { "sum(x.iv)$_[0]" },
	sub { "avg(x.id)$_[0]" },
	sub { "avg(x.g)$_[0]" },
	sub { "avg(x.g::int2)$_[0]" },
	sub { "avg(x.k)$_[0]" },
	sub { "avg(x.n)$_[0]" },
	sub { "min(x.id)$_[0]" },
	sub { "max(x.id)$_[0]" },
	sub { "min(x.k)$_[0]" },
	sub { "max(x.k)$_[0]" },
	sub { "min(x.t)$_[0]" },
	sub { "max(x.t)$_[0]" },
	sub { "min(x.tc)$_[0]" },
	sub { "max(x.tc)$_[0]" },
	sub { "min(lower(x.t))$_[0]" },
	sub { "max(length(x.t))$_[0]" },
	sub { "min(x.n)$_[0]" },
	sub { "max(x.n)$_[0]" },
	sub { "(min(x.f)$_[0]) + 0" },
	sub { "(max(x.f)$_[0]) + 0" },
	sub { "min(x.d)$_[0]" },
	sub { "max(x.d)$_[0]" },
	sub { "min(x.ts)$_[0]" },
	sub { "max(x.ts)$_[0]" },
	sub { "min(x.tz)$_[0]" },
	sub { "max(x.tz)$_[0]" },
	sub { "min(justify_hours(x.iv))$_[0]" },
	sub { "count(x.u)$_[0]" },
	sub { "min(x.u::text)$_[0]" },
	sub { "min(x.arr)$_[0]" },
	sub { "max(x.arr)$_[0]" },
	sub { "bool_and(x.b)$_[0]" },
	sub { "bool_or(x.b)$_[0]" },
	sub { "every(x.g > 2)$_[0]" },
	sub { "bit_and(x.g)$_[0]" },
	sub { "bit_or(x.g)$_[0]" },
	sub { "bit_and(x.k)$_[0]" },
	sub { "bit_or(x.id)$_[0]" },
	sub { "round((sum(x.f)$_[0])::numeric, 6)" },
	# expressions over aggregates
	sub { "count(*)$_[0] * 2 + 1" },
	sub { "sum(x.n)$_[0] / NULLIF(count(x.n)$_[0], 0)" },
	sub { "max(x.id)::bigint - min(x.id)$_[0]" },
	sub { "coalesce(sum(x.k)$_[0], 0) + count(*)" },
	sub { "CASE WHEN count(*)$_[0] > 10 THEN 'many' ELSE 'few' END" },
	sub { "round(avg(x.n)$_[0], 2)" },
	sub { "max(x.t)$_[0] || '/' || min(x.tc) COLLATE \"default\"" },
	sub { "(bool_and(x.b) OR bool_or(x.b)$_[0]) IS NULL" },
	sub { "avg(x.id)$_[0] * 2" },
	sub { "sum(x.g)$_[0]::numeric / NULLIF(count(*), 0)" },
);
# not combinable: aggregation then runs locally (or whole on one shard)
my @noncomb_aggs = (
	sub { "string_agg(x.t, ',' ORDER BY x.t, x.id)$_[0]" },
	sub { "string_agg(x.tc, '|' ORDER BY x.tc DESC NULLS FIRST, x.id)$_[0]" },
	sub { "string_agg(x.t, ';' ORDER BY x.t COLLATE \"C\", x.id)$_[0]" },
	sub { "count(DISTINCT x.g)$_[0]" },
	sub { "count(DISTINCT x.t)$_[0]" },
	sub { "sum(DISTINCT x.g)$_[0]" },
	sub { "array_agg(x.id ORDER BY x.id)$_[0]" },
	sub { "array_agg(x.g ORDER BY x.g DESC NULLS LAST, x.id)$_[0]" },
	sub { "stddev(x.n)$_[0]" },
	sub { "variance(x.id)$_[0]" },
	sub { "stddev_pop(x.k)$_[0]" },
	sub { "var_samp(x.g)$_[0]" },
	# float8_accum raises an overflow for 1e300 squared unless an
	# infinity or NaN came first: an error that depends on the input
	# order, so the huge values are left out of these two
	sub { "round(stddev(CASE WHEN abs(x.f) < 1e6 THEN x.f END)$_[0]::numeric, 6)" },
	sub { "round(avg(CASE WHEN abs(x.f) < 1e6 THEN x.f END)$_[0]::numeric, 6)" },
	sub { "avg(x.iv)$_[0]" },
	sub { "min(x.t COLLATE \"C\")$_[0]" },
	sub { "max(x.tc COLLATE \"default\")$_[0]" },
	sub { "percentile_cont(0.5) WITHIN GROUP (ORDER BY x.n)$_[0]" },
	sub { "percentile_disc(0.25) WITHIN GROUP (ORDER BY x.t)$_[0]" },
	sub { "mode() WITHIN GROUP (ORDER BY x.g)$_[0]" },
	sub { "json_agg(x.g ORDER BY x.id)$_[0]::text" },
	sub { "max(x.tz::text)$_[0]" },
	sub { "corr(x.g, x.id)$_[0] IS NULL" },
);
sub agg_list
{
	my ($n, $pnc) = @_;
	my @l;
	for (1 .. $n)
	{
		my $fs = fsuffix();
		push @l, rand() < $pnc ? pick(@noncomb_aggs)->($fs) : pick(@comb_aggs)->($fs);
	}
	return @l;
}

# GROUP BY keys: [select expressions, a HAVING predicate on them]
my @group_keys = (
	[ ['x.g'], sub { 'x.g > ' . rint(0, 9) } ],
	[ ['x.t'], sub { 'x.t < ' . rtext() } ],
	[ ['x.tc'], sub { 'x.tc >= ' . rtext() } ],
	[ ['x.b'], sub { 'x.b IS NOT FALSE' } ],
	[ ['x.d'], sub { 'x.d > ' . rdate() } ],
	[ ["date_trunc('month', x.ts)"], sub { "date_trunc('month', x.ts) < " . rts() } ],
	[ ['x.g % 3'], sub { 'x.g % 3 <> ' . rint(0, 2) } ],
	[ ['lower(x.t)'], sub { "lower(x.t) LIKE " . rlikepat() } ],
	[ ['x.g', 'x.b'], sub { 'x.g IS NOT NULL' } ],
	[ ['x.tc', 'x.b'], sub { 'x.b' } ],
	[ ['x.b', 'x.g % 3'], sub { 'x.g % 3 = ' . rint(0, 2) } ],
	[ ['extract(year from x.d)'], sub { 'extract(year from x.d) > 2019' } ],
	[ ['x.arr'], sub { 'cardinality(x.arr) > ' . rint(0, 3) } ],
	[ ['x.tz::date'], sub { 'x.tz::date > ' . rdate() } ],
	[ ["date_trunc('day', x.tz)"], sub { "date_trunc('day', x.tz) > " . rtz() } ],
	[ ['length(x.t)'], sub { 'length(x.t) > ' . rint(0, 8) } ],
	[ ['x.u IS NULL'], sub { 'true' } ],
	[ ['trunc(x.n) % 5'], sub { 'trunc(x.n) % 5 > 0' } ],
	[ ['x.k % 10'], sub { 'x.k % 10 < 5' } ],
	[ ["CASE WHEN x.g < 5 THEN 'lo' ELSE 'hi' END"], sub { "CASE WHEN x.g < 5 THEN 'lo' ELSE 'hi' END = 'lo'" } ],
	[ ['x.id % 4'], sub { 'x.id % 4 <> 0' } ],
	[ ['x.tc COLLATE "default"'], sub { 'true' } ],
	[ ['x.t', 'x.g'], sub { 'x.g < 5' } ],
);
sub agg_having
{
	my $kp = shift;
	return pick(
		sub { 'count(*) > ' . rint(0, 40) },
		sub { 'sum(x.n) > ' . rnum() },
		sub { 'min(x.t) < ' . rtext() },
		sub { 'bool_or(x.b)' },
		sub { 'count(*) FILTER (WHERE x.b) >= ' . rint(1, 5) },
		sub { 'max(x.id) % 2 = 0' },
		sub { 'avg(x.k) > ' . rint(0, 8000000) },
		sub { 'count(DISTINCT x.g) > 2' },
		sub { 'string_agg(x.t, \'\') LIKE \'%a%\'' },
		sub { $kp->() },
		sub { $kp->() . ' AND count(*) > ' . rint(0, 10) },
		sub { '(' . $kp->() . ' OR max(x.d) > ' . rdate() . ')' },
	)->();
}
# an ORDER BY over output positions 1..$n in random order and directions
sub positions_order
{
	my $n = shift;
	my @p = (1 .. $n);
	for (my $i = $#p; $i > 0; $i--) { my $j = int(rand($i + 1)); @p[$i, $j] = @p[$j, $i]; }
	return join(', ', map { $_ . pick('', ' DESC', ' ASC') . pick('', ' NULLS FIRST', ' NULLS LAST') } @p);
}
# predicates that no row satisfies
sub empty_pred
{
	return pick('x.id > 2147483647', 'x.g > 100', "x.t = 'no such text'",
		'x.id BETWEEN 5000 AND 6000', 'x.id = ' . rint(4000, 100000),
		'x.k < -1000000000', 'x.id IN (4001, 4002, NULL)', 'x.d > date \'2030-01-01\'',
		'x.id = 7 AND x.id = 8', 'x.n > 1e20', 'x.tz < timestamptz \'1999-01-01 00:00+00\'');
}
sub order_key_using
{
	return pick('x.t USING ~<~', 'x.t USING ~>~', 'x.tc USING ~<~', 'x.g USING >',
		'x.n USING <', 'x.d USING >', 'x.k USING <')
	  . pick('', ' NULLS FIRST', ' NULLS LAST');
}
sub limit_clause
{
	my $s = ' LIMIT ' . pick(rint(0, 30), rint(0, 5), 1, 'ALL', 'NULL');
	$s .= ' OFFSET ' . pick(rint(0, 50), 0, rint(100, 2100)) if rand() < 0.4;
	return $s;
}
# A filter without atoms that can raise an error (x.n::int overflows on
# some rows): under a LIMIT, or a merge that stops early, whether the
# erring row is reached depends on the order the rows come in.
sub safe_filt
{
	my $c = shift;
	for (1 .. 100)
	{
		my $f = filt($c);
		return $f unless $f =~ /::int\b/;
	}
	return "$c.g IS NOT NULL";
}
sub maybe_filt { return rand() < 0.7 ? ' WHERE ' . safe_filt('x') : ''; }

my @agg_templates = (
	# GROUP BY non-key columns: partial aggregates combined, or local
	[ 30, sub {
		my $gk = pick(@group_keys);
		my @keys = @{ $gk->[0] };
		my @aggs = agg_list(rint(1, 6), rand() < 0.3 ? 0.25 : 0);
		my $sql = 'SELECT ' . join(', ', @keys, @aggs) . ' FROM @D x' . maybe_filt()
		  . ' GROUP BY ' . join(', ', @keys);
		$sql .= ' HAVING ' . agg_having($gk->[1]) if rand() < 0.35;
		return [ $sql, 0 ] if rand() < 0.2;
		# total: the group keys are unique per row
		$sql .= ' ORDER BY ' . (rand() < 0.2 ? (scalar(@keys) + 1) . ' DESC, ' : '')
		  . positions_order(scalar @keys);
		$sql .= ' LIMIT ' . rint(0, 8) . (rand() < 0.3 ? ' OFFSET ' . rint(0, 5) : '') if rand() < 0.2;
		[ $sql, 1 ] } ],
	# group keys not in the output, aggregates only in HAVING
	[ 4, sub {
		my $gk = pick(@group_keys);
		my @keys = @{ $gk->[0] };
		[ 'SELECT ' . join(', ', agg_list(rint(1, 3), 0)) . ' FROM @D x' . maybe_filt()
			. ' GROUP BY ' . join(', ', @keys), 0 ] } ],
	[ 4, sub {
		my $gk = pick(@group_keys);
		my @keys = @{ $gk->[0] };
		[ 'SELECT ' . join(', ', @keys) . ' FROM @D x' . maybe_filt()
			. ' GROUP BY ' . join(', ', @keys)
			. (rand() < 0.7 ? ' HAVING ' . agg_having($gk->[1]) : '')
			. ' ORDER BY ' . positions_order(scalar @keys), 1 ] } ],
	# without GROUP BY, over filters
	[ 10, sub {
		my $sql = 'SELECT ' . join(', ', agg_list(rint(1, 8), rand() < 0.3 ? 0.3 : 0))
		  . ' FROM @D x' . maybe_filt();
		$sql .= ' HAVING count(*) > ' . rint(0, 500) if rand() < 0.15;
		[ $sql, 1 ] } ],
	# GROUP BY the distribution column: shipped whole
	[ 10, sub {
		my @keys = rand() < 0.3 ? ('x.id', pick('x.g', 'x.t', 'x.b')) : ('x.id');
		my $sql = 'SELECT ' . join(', ', @keys, agg_list(rint(1, 5), 0.4)) . ' FROM @D x'
		  . ' WHERE ' . pick(safe_filt('x'), 'x.id < ' . rint(0, 300), 'x.id IN (' . ridlist() . ')', 'x.g = ' . rint(0, 9))
		  . ' GROUP BY ' . join(', ', @keys);
		$sql .= ' HAVING ' . pick('count(*) > 0', 'sum(x.n) > ' . rnum(), 'x.id % 3 = 0', 'min(x.t) > ' . rtext(), 'bool_or(x.b)') if rand() < 0.3;
		$sql .= ' ORDER BY 1' . pick('', ' DESC');
		$sql .= ' LIMIT ' . rint(0, 20) if rand() < 0.3;
		[ $sql, 1 ] } ],
	# one shard: WHERE id = k or id IN (...)
	[ 10, sub {
		my $w = pick('x.id = ' . rid(), 'x.id = ' . rid(), 'x.id IN (' . ridlist() . ')',
			'x.id IN (' . join(', ', map { $_ * 4 + rint(0, 3) } 1 .. 3) . ')',
			'x.id = ' . rid() . ' AND ' . fatom(), 'x.id = ANY(ARRAY[' . ridlist() . '])');
		return [ 'SELECT ' . join(', ', agg_list(rint(1, 6), 0.4)) . " FROM \@D x WHERE $w", 1 ]
		  if rand() < 0.6;
		my $gk = pick(@group_keys);
		my @keys = @{ $gk->[0] };
		[ 'SELECT ' . join(', ', @keys, agg_list(rint(1, 4), 0.4)) . " FROM \@D x WHERE $w"
			. ' GROUP BY ' . join(', ', @keys)
			. (rand() < 0.3 ? ' HAVING ' . agg_having($gk->[1]) : '')
			. ' ORDER BY ' . positions_order(scalar @keys), 1 ] } ],
	# empty input
	[ 8, sub {
		my $from = pick('@D x WHERE ' . empty_pred(), '@D x WHERE ' . empty_pred(),
			'@Z x', '@Z x WHERE ' . safe_filt('x'), '@E x WHERE x.id = ' . rid());
		my $sql = 'SELECT ' . join(', ', agg_list(rint(1, 8), 0.2)) . " FROM $from";
		return [ $sql, 1 ] if rand() < 0.7;
		[ "SELECT x.g, " . join(', ', agg_list(rint(1, 3), 0.2)) . " FROM $from GROUP BY x.g", 0 ] } ],
	# the modulo, shard-empty and replicated tables
	[ 6, sub {
		my $t = pick('@M', '@E', '@Z');
		my $gk = pick(@group_keys);
		my @keys = @{ $gk->[0] };
		[ 'SELECT ' . join(', ', @keys, agg_list(rint(1, 5), 0.2)) . " FROM $t x" . maybe_filt()
			. ' GROUP BY ' . join(', ', @keys) . ' ORDER BY ' . positions_order(scalar @keys), 1 ] } ],
	[ 5, sub {
		my $w = rand() < 0.5 ? ' WHERE r.g ' . cmpop() . ' ' . rint(0, 9) : '';
		my @a = ('count(*)', 'sum(r.g)', 'avg(r.g)', 'sum(r.w)', 'avg(r.w)', 'min(r.name)',
			'max(r.name COLLATE "C")', 'bit_or(r.g)', "string_agg(r.name, ',' ORDER BY r.name)",
			'array_agg(r.g ORDER BY r.w DESC)', 'count(DISTINCT r.g % 3)', 'stddev(r.w)',
			'bool_and(r.w > 3)', 'max(r.w) FILTER (WHERE r.name LIKE \'%e%\')');
		my @s = map { pick(@a) } 1 .. rint(1, 5);
		return [ 'SELECT ' . join(', ', @s) . " FROM \@R r$w", 1 ] if rand() < 0.5;
		my $k = pick('r.g % 3', 'r.g', 'length(r.name)', 'r.name > \'n\'');
		[ "SELECT $k, " . join(', ', @s) . " FROM \@R r$w GROUP BY 1"
			. (rand() < 0.3 ? ' HAVING count(*) > 1' : '') . ' ORDER BY 1', 1 ] } ],
	# aggregation over sorted input (GroupAggregate over merged streams)
	[ 5, sub {
		my $gk = pick(@group_keys);
		my @keys = @{ $gk->[0] };
		[ 'SET enable_hashagg = off; SELECT ' . join(', ', @keys, agg_list(rint(1, 4), 0.5))
			. ' FROM @D x' . maybe_filt() . ' GROUP BY ' . join(', ', @keys)
			. ' ORDER BY ' . positions_order(scalar @keys) . '; RESET enable_hashagg;', 1 ] } ],
	# ORDER BY, total (id last), with or without LIMIT/OFFSET
	[ 14, sub {
		my $keys = join(', ', map { rand() < 0.15 ? order_key_using() : order_key() } 1 .. rint(1, 2));
		my $w = maybe_filt();
		my $lim = ($w eq '' || rand() < 0.6) ? limit_clause() : '';
		[ 'SELECT ' . some_cols() . " FROM \@D x$w ORDER BY $keys, x.id"
			. pick('', ' DESC', ' NULLS FIRST') . $lim, 1 ] } ],
	[ 3, sub {
		[ 'SELECT x.id, x.' . pick(qw(t tc n f d ts tz iv g b k u arr)) . ' FROM @D x ORDER BY x.id'
			. pick('', ' DESC') . limit_clause(), 1 ] } ],
	# FETCH FIRST ... WITH TIES: the ties make the result a well-defined set
	[ 4, sub {
		my $k = pick('x.g', 'x.b', 'x.t', 'x.tc', 'x.g % 3', 'x.d', 'x.g DESC NULLS LAST', 'x.b NULLS FIRST');
		[ "SELECT x.id, x.g, x.b, x.t FROM \@D x" . maybe_filt() . " ORDER BY $k FETCH FIRST "
			. rint(1, 12) . ' ROWS WITH TIES', 0 ] } ],
	# LIMIT without ORDER BY: only the number of rows is deterministic
	[ 8, sub {
		my $inner = 'SELECT ' . pick('x.id', 'x.t', '*') . ' FROM @D x' . maybe_filt()
		  . ' LIMIT ' . rint(0, 60) . (rand() < 0.4 ? ' OFFSET ' . pick(rint(0, 40), rint(100, 2000)) : '');
		[ "SELECT count(*) FROM ($inner) s", 1 ] } ],
	[ 3, sub {
		my $inner = 'SELECT x.id, x.g FROM @D x' . maybe_filt() . ' ORDER BY ' . order_key()
		  . ', x.id LIMIT ' . rint(0, 60) . (rand() < 0.4 ? ' OFFSET ' . rint(0, 40) : '');
		[ "SELECT count(*), sum(s.id), max(s.g) FROM ($inner) s", 1 ] } ],
	# DISTINCT
	[ 6, sub {
		my @c = map { pick('x.g', 'x.b', 'x.t', 'x.tc', 'x.d', 'lower(x.t)', 'x.g % 3', 'x.arr', "date_trunc('month', x.ts)") } 1 .. rint(1, 2);
		[ (rand() < 0.3 ? 'SET enable_hashagg = off; ' : '') . 'SELECT DISTINCT ' . join(', ', @c)
			. ' FROM @D x' . maybe_filt() . ' ORDER BY ' . positions_order(scalar @c)
			. (rand() < 0.3 ? ' LIMIT ' . rint(1, 10) : '') . '; RESET enable_hashagg;', 1 ] } ],
	[ 5, sub {
		my $k = pick('x.g', 'x.b', 'x.t', 'x.tc', 'x.d', 'lower(x.t)', 'x.g % 3');
		my $dir = pick('', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST');
		[ "SELECT DISTINCT ON ($k) $k, x.id, x.t, x.n FROM \@D x" . maybe_filt()
			. " ORDER BY $k$dir, " . (rand() < 0.5 ? order_key() . ', ' : '') . 'x.id' . pick('', ' DESC')
			. (rand() < 0.3 ? ' LIMIT ' . rint(1, 6) : ''), 1 ] } ],
	# merge joins over sorted shard streams
	[ 3, sub {
		my $c = pick('t', 'tc', 'n', 'd', 'g', 'id');
		[ "SET enable_hashjoin = off; SET enable_nestloop = off; SELECT x.id, y.id FROM \@D x JOIN \@L y ON x.$c = y.$c WHERE x.id < "
			. rint(0, 300) . ' AND y.id < ' . rint(0, 300) . '; RESET enable_hashjoin; RESET enable_nestloop;', 0 ] } ],
	# prepared aggregates, generic plans with $1 on id
	[ 6, sub {
		my $n = 'p' . int(rand(1e9));
		my $mode = pick('force_generic_plan', 'force_generic_plan', 'force_custom_plan');
		my $kind = rint(0, 3);
		my ($params, $body, @args);
		my $aggs = join(', ', agg_list(rint(1, 5), 0.25));
		if ($kind == 0)
		{
			$params = 'int';
			$body = "SELECT $aggs FROM \@D x WHERE x.id = \$1";
			@args = map { rand() < 0.15 ? 'NULL' : rid() } 1 .. 5;
		}
		elsif ($kind == 1)
		{
			$params = 'int, int';
			$body = "SELECT x.g, $aggs FROM \@D x WHERE x.id IN (\$1, \$2) GROUP BY x.g ORDER BY 1";
			@args = map { rid() . ', ' . rid() } 1 .. 4;
		}
		elsif ($kind == 2)
		{
			$params = 'int[]';
			$body = "SELECT $aggs FROM \@D x WHERE x.id = ANY(\$1)";
			@args = ((map { 'ARRAY[' . ridlist() . ']' } 1 .. 4), 'NULL');
		}
		else
		{
			$params = 'int';
			$body = "SELECT x.id, $aggs FROM \@D x WHERE x.id > \$1 GROUP BY x.id ORDER BY 1 LIMIT 4";
			@args = map { rint(-10, 2000) } 1 .. 4;
		}
		my $sql = "SET plan_cache_mode = $mode; PREPARE $n($params) AS $body;";
		$sql .= " EXECUTE $n($_);" for @args;
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 1 ] } ],
	[ 2, sub {
		my $n = 'p' . int(rand(1e9));
		my $sql = "SET plan_cache_mode = force_generic_plan; PREPARE $n(int, int) AS SELECT x.id, x.t FROM \@D x ORDER BY x.t, x.id LIMIT \$1 OFFSET \$2;";
		$sql .= " EXECUTE $n(" . rint(0, 10) . ', ' . rint(0, 30) . ');' for 1 .. 3;
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 1 ] } ],
);
push @agg_templates, (
	# rescans: correlated subqueries over grouped, aggregated and sorted
	# foreign scans with a parameter from the outer row
	[ 6, sub {
		my $sub = pick(
			'(SELECT count(*) FROM @D x WHERE x.g = y.g)',
			'(SELECT sum(x.n) FROM @D x WHERE x.id = y.id + 1)',
			'(SELECT max(x.t) FROM @D x WHERE x.g = y.g AND x.b)',
			'(SELECT avg(x.k) FILTER (WHERE x.g = y.g) FROM @D x WHERE x.id < ' . rint(0, 500) . ')',
			q{(SELECT string_agg(x.t, ',' ORDER BY x.t, x.id) FROM @D x WHERE x.id IN (y.id, y.id + 4))},
			'(SELECT x.t FROM @D x WHERE x.g = y.g ORDER BY x.t DESC NULLS LAST, x.id LIMIT 1)',
			'(SELECT array_agg(s.c ORDER BY s.g) FROM (SELECT x.g, count(*) c FROM @D x WHERE x.id < y.id + 50 GROUP BY x.g) s)',
			'(SELECT min(x.d) FROM @D x WHERE x.id BETWEEN y.id AND y.id + 30)');
		[ "SELECT y.id, $sub FROM \@L y WHERE y.g = " . rint(0, 9) . ' AND y.id < ' . rint(0, 300), 0 ] } ],
	[ 3, sub {
		[ "SELECT y.id, s.* FROM \@L y, LATERAL (SELECT x.g, count(*), max(x.n) FROM \@D x WHERE x.id < y.id GROUP BY x.g ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 2) s WHERE y.id < "
			. rint(0, 60) . ' AND y.g = ' . rint(0, 9), 0 ] } ],
	# aggregated foreign subqueries joined, unioned, windowed
	[ 3, sub {
		[ "SELECT s.g, s.c, y.id FROM (SELECT x.g, count(*) c FROM \@D x" . maybe_filt()
			. " GROUP BY x.g) s JOIN \@L y ON y.id = s.c", 0 ] } ],
	[ 2, sub {
		[ "SELECT x.g, count(*), sum(x.n) FROM \@D x WHERE " . safe_filt('x') . " GROUP BY x.g UNION ALL SELECT NULL, count(*), sum(y.n) FROM \@E y WHERE " . safe_filt('y'), 0 ] } ],
	[ 2, sub {
		[ "SELECT x.g, count(*), rank() OVER (ORDER BY count(*) DESC, x.g), sum(sum(x.k)) OVER () FROM \@D x" . maybe_filt() . ' GROUP BY x.g ORDER BY 1', 1 ] } ],
	[ 2, sub {
		[ "SELECT DISTINCT count(*) FROM \@D x" . maybe_filt() . ' GROUP BY ' . pick('x.g', 'x.t', 'x.d', 'x.b') . ' ORDER BY 1', 1 ] } ],
	[ 2, sub {
		[ "SELECT x.g, x.b, count(*), sum(x.n), max(x.t) FROM \@D x" . maybe_filt()
			. ' GROUP BY ' . pick('ROLLUP (x.g, x.b)', 'CUBE (x.g, x.b)', 'GROUPING SETS ((x.g), (x.b), ())'), 0 ] } ],
	# parameters in FILTER and HAVING of a shipped aggregation
	[ 3, sub {
		my $n = 'p' . int(rand(1e9));
		my $sql = 'SET plan_cache_mode = ' . pick('force_generic_plan', 'force_custom_plan')
		  . "; PREPARE $n(int, numeric) AS SELECT x.g, count(*) FILTER (WHERE x.id < \$1), sum(x.n) FILTER (WHERE x.n > \$2), avg(x.k) FROM \@D x"
		  . ' GROUP BY x.g HAVING max(x.n) > $2 OR count(*) < $1 ORDER BY 1;';
		$sql .= " EXECUTE $n(" . rint(-10, 2000) . ', ' . rnum() . ');' for 1 .. 3;
		[ $sql . " DEALLOCATE $n; RESET plan_cache_mode;", 1 ] } ],
	# a scrollable cursor over aggregated and sorted scans
	[ 2, sub {
		my $q = pick('SELECT x.g, count(*), sum(x.n) FROM @D x GROUP BY x.g ORDER BY 1',
			'SELECT x.id, x.t FROM @D x ORDER BY x.t, x.id LIMIT 40',
			'SELECT x.id, count(*) FROM @D x WHERE x.id < 100 GROUP BY x.id ORDER BY 1');
		[ "BEGIN; DECLARE c SCROLL CURSOR FOR $q; FETCH 3 c; FETCH BACKWARD 2 c; FETCH ABSOLUTE 5 c; FETCH LAST c; FETCH RELATIVE -3 c; MOVE FIRST c; FETCH 2 c; COMMIT;", 1 ] } ],
);
# joins (pushed down when co-located on the key, with a replicated side,
# or pruned to one shard), with aggregates, ORDER BY, LIMIT and DISTINCT
sub join_pair { return @{ pick([ '@H', '@E' ], [ '@H', '@H' ], [ '@M', '@M' ], [ '@E', '@H' ], [ '@D', '@E' ], [ '@H', '@M' ]) }; }
push @agg_templates, (
	[ 4, sub {
		my ($a, $b) = join_pair();
		[ "SELECT x.g, count(*), sum(y.n), max(y.t), avg(y.k), bool_or(y.b) FROM $a x JOIN $b y ON x.id = y.id"
			. ' WHERE ' . safe_filt('x') . ' GROUP BY x.g' . (rand() < 0.3 ? ' HAVING count(*) > ' . rint(0, 50) : '')
			. ' ORDER BY 1 NULLS FIRST', 1 ] } ],
	[ 3, sub {
		my ($a, $b) = join_pair();
		[ "SELECT x.id, count(*), min(y.t), string_agg(y.tc, ',' ORDER BY y.tc) FROM $a x "
			. pick('JOIN', 'LEFT JOIN') . " $b y ON y.id = x.id WHERE x.id < " . rint(0, 400)
			. ' GROUP BY x.id ORDER BY 1' . pick('', ' DESC') . ' LIMIT ' . rint(1, 20), 1 ] } ],
	[ 4, sub {
		my ($a, $b) = join_pair();
		[ "SELECT x.id, x.t, y.g, y.n FROM $a x " . pick('JOIN', 'LEFT JOIN', 'FULL JOIN') . " $b y ON x.id = y.id"
			. (rand() < 0.5 ? ' AND y.g > ' . rint(0, 9) : '')
			. (rand() < 0.5 ? ' WHERE ' . safe_filt('x') : '')
			. ' ORDER BY ' . pick('x.t', 'x.t DESC NULLS FIRST', 'y.n', 'y.g DESC', 'x.d NULLS FIRST', 'x.tc')
			. ', x.id, y.id' . limit_clause(), 1 ] } ],
	[ 3, sub {
		[ "SELECT x.id, r.name, r.w FROM \@D x JOIN \@R r ON r.g = x.g" . maybe_filt()
			. ' ORDER BY ' . pick('r.name', 'r.w DESC', 'r.name COLLATE "C"', 'x.t') . ', x.id' . limit_clause(), 1 ] } ],
	[ 3, sub {
		[ "SELECT r.name, count(*), sum(x.n), min(x.t), avg(x.id) FROM \@D x "
			. pick('JOIN', 'LEFT JOIN') . " \@R r ON r.g = x.g" . maybe_filt() . ' GROUP BY r.name ORDER BY 1 NULLS FIRST', 1 ] } ],
	[ 2, sub {
		my ($a, $b) = join_pair();
		[ "SELECT DISTINCT x.g, y.b FROM $a x JOIN $b y ON x.id = y.id WHERE " . safe_filt('y') . ' ORDER BY 1, 2', 1 ] } ],
	[ 2, sub {
		my ($a, $b) = join_pair();
		[ "SELECT count(*), count(x.id), count(y.id), sum(y.k) FROM $a x FULL JOIN $b y ON x.id = y.id AND y.g > " . rint(0, 9)
			. ' AND x.b', 1 ] } ],
	[ 3, sub {
		my ($a, $b) = join_pair();
		[ "SELECT count(*), sum(x.k), max(x.t) FROM $a x WHERE " . pick('', 'NOT ')
			. "EXISTS (SELECT 1 FROM $b y WHERE y.id = x.id AND " . safe_filt('y') . ')', 1 ] } ],
	[ 2, sub {
		my ($a, $b) = join_pair();
		[ "SELECT x.id, y.t FROM $a x JOIN $b y ON x.id = y.id WHERE x.id = " . rid()
			. (rand() < 0.5 ? ' ORDER BY y.t LIMIT 1' : ''), 1 ] } ],
);
my $agg_totalw = 0;
$agg_totalw += $_->[0] for @agg_templates;
sub gen_agg_query
{
	my $x = rand($agg_totalw);
	for my $t (@agg_templates)
	{
		return $t->[1]->() if ($x -= $t->[0]) < 0;
	}
	return $agg_templates[-1][1]->();
}

# $NG queries from the general mix, then $NA from the aggregate, sort,
# limit and distinct pool.
my $NG = $ENV{SHARDFDW_DIFF_QUERIES} // 700;
my $NA = $ENV{SHARDFDW_DIFF_AGG_QUERIES} // 1100;
my $NQ = $NG + $NA;
my (@qtext, @qforeign, @qlocal, @qordered);
my %localname = (d => 'd_local', dm => 'd_local', e => 'e_local');
for my $i (1 .. $NQ)
{
	my ($sql, $ordered) = @{ $i <= $NG ? gen_query() : gen_agg_query() };
	my $main = pick('d', 'd', 'dm', 'e');
	my %f = (D => $main, E => 'e', Z => 'z', R => 'r', M => 'dm', H => 'd', L => 'd_local');
	my %l = (D => $localname{$main}, E => 'e_local', Z => 'z_local', R => 'r_local',
		M => 'd_local', H => 'd_local', L => 'd_local');
	(my $fs = $sql) =~ s/\@([A-Z])\b/$f{$1}/g;
	(my $ls = $sql) =~ s/\@([A-Z])\b/$l{$1}/g;
	push @qtext, $fs;
	push @qforeign, $fs;
	push @qlocal, $ls;
	push @qordered, $ordered;
}

# ---------------------------------------------------------------- run
sub run_chunk
{
	my ($queries, $from) = @_;
	my $script = "\\set VERBOSITY terse\n\\pset null '<NULL>'\n"
	  . "\\pset fieldsep '\xe2\x94\x82'\n\\pset tuples_only off\n\\pset footer on\n"
	  . "SET TimeZone = 'America/New_York';\nSET extra_float_digits = 1;\n";
	for my $i ($from .. $#$queries)
	{
		my $q = $queries->[$i];
		$q .= ';' unless $q =~ /;\s*$/;
		$script .= "\\echo ===Q$i===\n\\warn ===Q$i===\n$q\n";
	}
	$script .= "\\echo ===END===\n\\warn ===END===\n";
	my ($out, $err) = ('', '');
	# Through a file, so that a psql that exits early (crash) does not
	# leave IPC::Run writing into a closed pipe.
	my $file = "$PostgreSQL::Test::Utils::tmp_check/diff_batch.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh $script;
	close($fh);
	$node->psql('coord', "\\i $file\n", stdout => \$out, stderr => \$err,
		on_error_stop => 0, extra_params => [ '-P', 'format=unaligned' ]);
	return ($out, $err);
}

# Run all queries in one psql session.  If the session dies (a backend
# crash), the query it was running gets the error psql printed, the server
# is waited for, and the rest runs in a new session.
sub run_batch
{
	my ($queries) = @_;
	my (%o, %e);
	my $from = 0;
	while ($from <= $#$queries)
	{
		my ($out, $err) = run_chunk($queries, $from);
		my $last = $from;
		my $ended = 0;
		for my $pair ([ \$out, \%o ], [ \$err, \%e ])
		{
			my ($text, $h) = @$pair;
			my $cur;
			for my $line (split /\n/, $$text, -1)
			{
				if ($line =~ /^===(Q(\d+)|END)===$/)
				{
					$cur = defined $2 ? $2 : undef;
					$last = $2 if defined $2 && $2 > $last;
					$ended = 1 unless defined $2;
					next;
				}
				next unless defined $cur;
				$line =~ s/^psql:[^:]*:\d+: //;
				# error positions depend on the table names' lengths
				$line =~ s/ at character \d+$//;
				push @{ $h->{$cur} }, $line;
			}
		}
		last if $ended;
		diag("psql session ended during Q$last (backend crash?); continuing after it");
		push @{ $e{$last} }, 'SESSION LOST';
		$node->poll_query_until('coord', 'SELECT true')
		  or die "server did not come back after Q$last";
		$from = $last + 1;
	}
	my @res;
	for my $i (0 .. $#$queries)
	{
		push @res, { out => $o{$i} // [], err => $e{$i} // [] };
	}
	return \@res;
}

my $t0 = time;
my $fres = run_batch(\@qforeign);
my $t1 = time;
my $lres = run_batch(\@qlocal);
my $t2 = time;
diag(sprintf('%d queries: foreign side %ds, local side %ds', $NQ, $t1 - $t0, $t2 - $t1));

sub normalize
{
	my ($r, $ordered) = @_;
	my @out = @{ $r->{out} };
	# Every statement prints a header line, data lines and "(N rows)";
	# for a multiset comparison, sort the data lines of each result.
	unless ($ordered)
	{
		my (@res, @block);
		my $in = 0;
		for my $l (@out)
		{
			if (!$in) { push @res, $l; $in = 1; @block = (); next; }
			if ($l =~ /^\(\d+ rows?\)$/)
			{
				push @res, sort(@block), $l;
				$in = 0;
				next;
			}
			push @block, $l;
		}
		push @res, sort @block if $in;
		@out = @res;
	}
	my @err = grep { $_ ne '' } @{ $r->{err} };
	return join("\n", @out, map { "STDERR: $_" } @err) . "\n";
}

my ($nonempty, $errors, $mismatches, $silent) = (0, 0, 0, 0);
for my $i (0 .. $NQ - 1)
{
	my $f = normalize($fres->[$i], $qordered[$i]);
	my $l = normalize($lres->[$i], $qordered[$i]);
	$nonempty++ if grep { /^\((\d+) rows?\)$/ && $1 > 0 } @{ $lres->[$i]{out} };
	$errors++ if @{ $lres->[$i]{err} };
	# (a query that printed nothing was swallowed, say by a stray quote)
	$silent++ unless grep { $_ ne '' } @{ $lres->[$i]{out} }, @{ $lres->[$i]{err} };
	my $name = "Q$i: $qtext[$i]";
	$name =~ s/\s+/ /g;
	$name =~ s/#/\\#/g;
	my $ok = is($f, $l, $name);
	$mismatches++ unless $ok;
	if (!$ok)
	{
		diag("Q$i foreign SQL:\n$qforeign[$i]\nQ$i local SQL:\n$qlocal[$i]");
	}
}
diag("queries: $NQ, non-empty results: $nonempty, errors (both sides): $errors, mismatches: $mismatches");
cmp_ok($NQ, '>=', 1600, 'at least 1600 generated queries');
cmp_ok($NA, '>=', 1000, 'at least 1000 aggregate/sort/limit/distinct queries');
cmp_ok($nonempty, '>=', $NQ / 3, 'at least a third of the queries returned rows');
cmp_ok($errors, '<', $NQ / 10, 'errors are rare');
is($silent, 0, 'every query printed a result or an error');

# ---------------------------------------------------------------- push-down
sub explain_v
{
	my $q = shift;
	return $node->safe_psql('coord', "SET TimeZone = 'America/New_York'; EXPLAIN (VERBOSE, COSTS OFF) $q");
}
my $ex = explain_v("SELECT id, t FROM d WHERE g = 3 AND t LIKE 'a%'");
like($ex, qr/Remote SQL:.*WHERE.*\bg\b.*3/s, 'simple filter is pushed down');
like($ex, qr/Remote SQL:.*WHERE.*(?:~~|LIKE)/s, 'LIKE is pushed down');
$ex = explain_v("SELECT * FROM d WHERE id = 42");
like($ex, qr/Remote SQL:.*WHERE.*\bid\b/s, 'key lookup pushed down');
like($ex, qr/Shards: 1 of 4/, 'key lookup hits one shard');
$ex = explain_v("SELECT * FROM dm WHERE id IN (1, 5, 9)");
like($ex, qr/Shards: 1 of 4/, 'modulo IN list on one residue hits one shard');
$ex = explain_v("SELECT * FROM d WHERE tc < 'b' AND n > 10 AND arr @> ARRAY[1]");
like($ex, qr/Remote SQL:.*WHERE.*tc.*<.*n.*>.*arr.*@>/s, 'C-collated, numeric and array quals pushed down');
$ex = explain_v("SELECT * FROM d WHERE ts >= timestamp '2020-05-01' AND d < date '2021-01-01'");
like($ex, qr/Remote SQL:.*WHERE.*ts.*d/s, 'date/timestamp quals pushed down');
$ex = explain_v("SELECT * FROM r WHERE g = 1");
like($ex, qr/Shards: 1 of 4/, 'replicated table read from one shard');
$ex = explain_v("SELECT g, count(*), sum(n) FROM d GROUP BY g");
like($ex, qr/Combine: count -> sum/, 'GROUP BY g: partial counts combined by sum');
like($ex, qr/Remote SQL:.*count\(\*\).*GROUP BY/s, 'GROUP BY g: grouped on the shards');
$ex = explain_v("SELECT id, count(*), string_agg(t, ',' ORDER BY t) FROM d GROUP BY id");
like($ex, qr/aggregated whole/, 'GROUP BY id: aggregated whole on the shards');
like($ex, qr/Remote SQL:.*string_agg.*GROUP BY/s, 'GROUP BY id: ordered aggregate shipped');
$ex = explain_v("SELECT id, t FROM d ORDER BY t LIMIT 5");
like($ex, qr/Merge: t\b/, 'ORDER BY t: shard streams merged');
like($ex, qr/Remote SQL:.*ORDER BY.*\bt\b.*LIMIT 5/s, 'ORDER BY t LIMIT 5: sort and limit shipped');
$ex = explain_v("SELECT count(*), min(t), bool_or(b) FROM d WHERE id = 42");
like($ex, qr/aggregated whole/, 'aggregate over one shard shipped whole');
like($ex, qr/Shards: 1 of 4/, 'aggregate over one shard hits one shard');

$node->stop;
done_testing();
