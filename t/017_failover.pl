# t/017_failover.pl: reads of a replicated table survive dead shards.
#
# A replicated table (distribution 'replicated') has a full copy on every
# shard, and a read goes to any one of them.  Shards are stopped one after
# another: while one copy is up, reads from new sessions (each picks its
# own first shard) still give the whole table, retried on the next shard
# within connect_timeout; with every shard down the read fails and names a
# shard.  A write to a replicated table still needs every copy: with a
# shard down it fails and leaves no copy changed.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = ShardTest->setup(server_options => { connect_timeout => '2' });
my $coord = $c->coord;

$c->on_all_shards(q{
CREATE TABLE rep (id int PRIMARY KEY, v text);
INSERT INTO rep SELECT g, 'v' || g FROM generate_series(1, 50) g});
$coord->safe_psql('postgres', q{
CREATE FOREIGN TABLE rep (id int, v text) SERVER cluster
  OPTIONS (distribution 'replicated')});

# n reads, each from a new coordinator session: "count|sum" each
sub reads
{
	my ($n) = @_;
	my @got;
	for (1 .. $n)
	{
		my ($rc, $out, $err) = $c->psql_timed('SELECT count(*), sum(id) FROM rep');
		push @got, $rc == 0 ? $out : "error: $err";
	}
	return @got;
}

is_deeply([ reads(4) ], [ ('50|1275') x 4 ], 'every shard up: the whole table');

for my $down (0 .. 2)
{
	$c->shard($down)->stop('immediate');
	my @got = reads(6);
	is_deeply(\@got, [ ('50|1275') x 6 ],
		'shards p0..p' . $down . ' down: reads from 6 new sessions all give the whole table')
	  or diag(join "\n", @got);
}

$c->shard(3)->stop('immediate');
{
	my ($rc, $out, $err) = $c->psql_timed('SELECT count(*) FROM rep');
	isnt($rc, 0, 'every shard down: the read fails');
	like($err, qr/could not connect to shard p\d .*of server "cluster"/,
		'every shard down: the error names a shard');
}

# writes need every copy
$c->shard($_)->start for (0 .. 3);
$c->shard(2)->stop('immediate');
{
	my ($rc, $out, $err) = $c->psql_timed(q{INSERT INTO rep VALUES (51, 'new')});
	isnt($rc, 0, 'a shard down: a write to the replicated table fails');
	like($err, qr/shard p2/, 'the error names the shard that is down');
}
$c->shard(2)->start;
is(join(',', map { $c->shard($_)->safe_psql('postgres', 'SELECT count(*) FROM rep') } 0 .. 3),
	'50,50,50,50', 'the failed write changed no copy');
is_deeply([ reads(4) ], [ ('50|1275') x 4 ], 'every shard back: the whole table');

done_testing();
