# t/001_parallel.pl: shards are read in parallel, and a one-shard lookup
# goes to the owning shard only: its SELECT alone outside a transaction
# block, START TRANSACTION, DECLARE and FETCH in one.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use ShardTest;

my $c = ShardTest->setup(shard_conf => "log_statement = 'all'\n");
my $coord = $c->coord;

# ---------------------------------------------------------------- counts
# (what each shard holds is the fixture ShardTest loaded: not an assertion)
my @per_shard;
for my $i (0 .. 3)
{
	$per_shard[$i] = $c->shard($i)->safe_psql('postgres', 'SELECT count(*) FROM t');
}
is($coord->safe_psql('postgres', 'SELECT count(*) FROM t'),
	'100', 'count(*) over 4 shards');
is( $coord->safe_psql('postgres',
		'SELECT count(*), sum(id), count(DISTINCT val) FROM t'),
	'100|5050|100',
	'aggregates over all rows of the 4 shards');
is( $coord->safe_psql(
		'postgres',
		q{SELECT string_agg(n::text, ',' ORDER BY s) FROM (
            SELECT shardfdw.shard_for('t'::regclass, id) s, count(*) n
              FROM t GROUP BY 1) x}),
	join(',', @per_shard),
	'rows per shard (as shard_for says) match what each shard holds');

# shard_for agrees with the placement done by satisfies_hash_partition
my $keys = $c->key_per_shard;
for my $i (0 .. 3)
{
	ok(defined $keys->[$i], "some id in 1..100 belongs to shard $i");
	is($c->shard($i)->safe_psql('postgres',
			"SELECT count(*) FROM t WHERE id = $keys->[$i]"),
		'1', "shard_for: id $keys->[$i] is on shard $i");
}

# ---------------------------------------------------------------- parallelism
# Every shard has a view whose only row takes 1 s to compute.
$c->on_all_shards(
	q{CREATE VIEW slow AS SELECT pg_sleep(1)::text AS s, 1 AS one});
$coord->safe_psql('postgres',
	q{CREATE FOREIGN TABLE slow (s text, one int) SERVER cluster
          OPTIONS (table_name 'slow')});
# connect once first, so that connection set-up is not what we time
$coord->safe_psql('postgres', 'SELECT count(*) FROM t');

my $t0 = time;
my $res = $coord->safe_psql('postgres', 'SELECT s, one FROM slow');
my $elapsed = time - $t0;
is($res, join("\n", ("|1") x 4), 'one row from each of the 4 slow shards');
cmp_ok($elapsed, '>=', 0.95,
	'the remote pg_sleep(1) ran (scan took at least 1 s)');
cmp_ok($elapsed, '<', 2.5,
	"4 shards x 1 s read in parallel: ${elapsed}s < 2.5 s (sequential: 4 s)");

# the same with a prepared statement and with an aggregate on top
$t0 = time;
$res = $coord->safe_psql('postgres', 'SELECT sum(one), count(s) FROM slow');
$elapsed = time - $t0;
is($res, '4|4', 'aggregate over 4 slow shards');
cmp_ok($elapsed, '<', 2.5, "aggregate over 4 slow shards in ${elapsed}s");

# two slow shards in one query joined locally: still parallel per scan
$t0 = time;
$res = $coord->safe_psql('postgres',
	q{SELECT count(*) FROM slow a, slow b WHERE a.one = b.one});
$elapsed = time - $t0;
is($res, '16', 'self join of the slow table');
cmp_ok($elapsed, '<', 4.5,
	"self join: two parallel scans of 4 shards in ${elapsed}s (sequential: 8 s)");

# ---------------------------------------------------------------- first round trip
# Wait until no shard has a connection from shardfdw left: the sessions
# above ended, and their shard backends have logged everything (the
# COMMIT of a read-only remote transaction is sent without waiting for its
# answer, so it can reach a shard's log after the statement returned).
sub wait_shards_idle
{
	for my $i (0 .. 3)
	{
		defined ShardTest::poll_until($c->shard($i),
			q{SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'shardfdw:%'},
			'0', 30)
		  or die "shard $i still has shardfdw connections after 30 s";
	}
	return;
}

# A one-row lookup by key.  Alone (outside a transaction block), the owning
# shard runs just the SELECT, with the key (one statement in its implicit
# transaction, no cursor); in a transaction block it sees START
# TRANSACTION and the SELECT (in that order, as the first batch; no cursor
# for a result expected to be small), then COMMIT.  The other shards see
# nothing at all either way.
for my $block (0, 1)
{
	for my $owner (0 .. 3)
	{
		my $key = $keys->[$owner];
		my $how = $block ? 'in a transaction block' : 'alone';
		wait_shards_idle();
		my @offset = map { -s $_->logfile } $c->shards;

		my $sql = "SELECT id, val FROM t WHERE id = $key";
		$sql = "BEGIN; $sql; COMMIT;" if $block;
		is($coord->safe_psql('postgres', $sql),
			"$key|val $key", "lookup of id $key $how (owned by shard $owner)");

		# The owner may log the deferred COMMIT only after the lookup has
		# returned: wait for it, with a deadline, before reading the log.
		my $deadline = time + 30;
		while ($block
			&& slurp_file($c->shard($owner)->logfile, $offset[$owner])
			!~ /LOG:\s+(?:statement|execute [^:]*):\s+COMMIT\b/ && time < $deadline)
		{
			usleep(20_000);
		}

		for my $i (0 .. 3)
		{
			my $log = slurp_file($c->shard($i)->logfile, $offset[$i]);
			# statements as logged by log_statement (simple or extended protocol)
			my @stmts;
			while ($log =~ /LOG:\s+(?:statement|execute [^:]*):\s+(\S+(?: \S+)?)/g)
			{
				push @stmts, $1;
			}
			# a new connection's session setup rides in front of the first batch
			@stmts = grep { !/set_config/ } @stmts;
			if ($i == $owner && $block)
			{
				my @verbs = map { (split / /)[0] } @stmts;
				is( join(' ', @verbs),
					'START SELECT COMMIT',
					"lookup of id $key $how: shard $i got START TRANSACTION, SELECT, COMMIT in that order"
				) or diag("shard $i log:\n$log");
				like($log, qr/START TRANSACTION ISOLATION LEVEL REPEATABLE READ/,
					"lookup of id $key $how: remote transaction is REPEATABLE READ");
				like($log, qr/SELECT id, val FROM public\.t WHERE \(\(id = $key\)\)/,
					"lookup of id $key $how: the SELECT carries the key");
			}
			elsif ($i == $owner)
			{
				my @verbs = map { (split / /)[0] } @stmts;
				is(join(' ', @verbs), 'SELECT',
					"lookup of id $key $how: shard $i got one statement, the SELECT")
				  or diag("shard $i log:\n$log");
				like($log, qr/SELECT id, val FROM public\.t WHERE \(\(id = $key\)\)/,
					"lookup of id $key $how: the SELECT carries the key");
			}
			else
			{
				unlike($log, qr/SELECT|DECLARE|START TRANSACTION|FETCH/,
					"lookup of id $key $how: shard $i (not the owner) was not touched")
				  or diag("shard $i log:\n$log");
			}
		}
	}
}

# A lookup with IN over keys of two shards touches exactly those two.
{
	wait_shards_idle();
	my @offset = map { -s $_->logfile } $c->shards;
	is( $coord->safe_psql('postgres',
			"SELECT count(*) FROM t WHERE id IN ($keys->[1], $keys->[3])"),
		'2', 'lookup of two keys on shards 1 and 3');
	for my $i (0 .. 3)
	{
		my $log = slurp_file($c->shard($i)->logfile, $offset[$i]);
		if ($i == 1 || $i == 3)
		{
			like($log, qr/START TRANSACTION.*DECLARE.*FETCH/s,
				"IN lookup: shard $i got START TRANSACTION, DECLARE, FETCH");
		}
		else
		{
			unlike($log, qr/DECLARE/, "IN lookup: shard $i not touched");
		}
	}
}

done_testing();
