# t/ShardTest.pm: shared setup of the shardfdw TAP tests.
#
#   use FindBin;
#   use lib $FindBin::RealBin;      # (scripts/test.sh also passes -I <tree>)
#   use ShardTest;
#
#   my $c = ShardTest->setup(shard_conf => "log_statement = 'all'",
#                            server_options => { connect_timeout => '2' });
#   $c->{coord}            PostgreSQL::Test::Cluster of the coordinator
#   $c->{shards}[i]        PostgreSQL::Test::Cluster of shard i (p<i>)
#
# Every node is a real, separate server with its own port.  Each shard gets
# table t(id int primary key, val text) holding those of ids 1..100 that
# PostgreSQL's PARTITION BY HASH (id) ... MODULUS 4 puts in its REMAINDER
# (checked with satisfies_hash_partition on a probe parent, as sql/init.sql
# does).  The coordinator gets the extension, server "cluster" with
# p<i> 'host=... port=... dbname=postgres', a user mapping for the current
# user and foreign table t (distribution_column id).
package ShardTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use Time::HiRes qw(time usleep);

our $NSHARDS = 4;

# Build and start the coordinator and the shards.
sub setup
{
	my ($class, %opt) = @_;
	my $self = bless { shards => [] }, $class;

	for my $i (0 .. $NSHARDS - 1)
	{
		my $node = PostgreSQL::Test::Cluster->new("shard$i");
		$node->init;
		$node->append_conf('postgresql.conf',
			"max_connections = 20\nshared_buffers = 16MB\nfsync = off\n"
			  . "max_prepared_transactions = 10\n"    # two-phase commit
			  . ($opt{shard_conf} // ''));
		$node->start;
		push @{ $self->{shards} }, $node;
	}
	my $coord = PostgreSQL::Test::Cluster->new('coord');
	$coord->init;
	$coord->append_conf('postgresql.conf',
		"max_connections = 20\nshared_buffers = 16MB\nfsync = off\n"
		  . ($opt{coord_conf} // ''));
	$coord->start;
	$self->{coord} = $coord;

	for my $i (0 .. $NSHARDS - 1)
	{
		$self->{shards}[$i]->safe_psql(
			'postgres', qq{
CREATE TABLE placement_probe (id int) PARTITION BY HASH (id);
CREATE TABLE t (id int PRIMARY KEY, val text);
INSERT INTO t SELECT g, 'val ' || g FROM generate_series(1, 100) g
 WHERE satisfies_hash_partition('placement_probe'::regclass, $NSHARDS, $i, g);
});
	}

	my @popts;
	for my $i (0 .. $NSHARDS - 1)
	{
		push @popts, "p$i '" . $self->conninfo($i) . "'";
	}
	my $extra = $opt{server_options} // {};
	push @popts, "$_ '$extra->{$_}'" for sort keys %$extra;
	$coord->safe_psql(
		'postgres', qq{
CREATE EXTENSION shardfdw;
CREATE SERVER cluster FOREIGN DATA WRAPPER shardfdw OPTIONS (
    } . join(",\n    ", @popts) . qq{);
CREATE USER MAPPING FOR CURRENT_USER SERVER cluster;
CREATE FOREIGN TABLE t (id int, val text) SERVER cluster
    OPTIONS (schema_name 'public', table_name 't', distribution_column 'id');
});
	return $self;
}

sub coord  { return $_[0]->{coord}; }
sub shard  { return $_[0]->{shards}[ $_[1] ]; }
sub shards { return @{ $_[0]->{shards} }; }

# libpq conninfo of shard i (optionally with another port).
sub conninfo
{
	my ($self, $i, $port) = @_;
	my $node = $self->{shards}[$i];
	$port //= $node->port;
	return 'host=' . $node->host . " port=$port dbname=postgres";
}

# Run sql on every shard (safe_psql).
sub on_all_shards
{
	my ($self, $sql) = @_;
	$_->safe_psql('postgres', $sql) for $self->shards;
	return;
}

# For every shard, the smallest id in 1..100 it owns according to
# shardfdw.shard_for (coordinator), as an array ref indexed by shard.
sub key_per_shard
{
	my ($self) = @_;
	my $out = $self->{coord}->safe_psql(
		'postgres', q{
SELECT s, min(id) FROM (
    SELECT id, shardfdw.shard_for('t'::regclass, id) AS s
      FROM generate_series(1, 100) id) x
 GROUP BY s ORDER BY s});
	my @keys;
	for my $line (split /\n/, $out)
	{
		my ($s, $k) = split /\|/, $line;
		$keys[$s] = $k;
	}
	return \@keys;
}

# Run sql with psql on node (default coordinator) without dying on error.
# Returns (exit code, stdout, stderr, elapsed seconds).  Extra psql
# parameters may be given, e.g. ['-v', 'VERBOSITY=verbose'].
sub psql_timed
{
	my ($self, $sql, %p) = @_;
	my $node = $p{node} // $self->{coord};
	my ($out, $err) = ('', '');
	my $t0 = time;
	my $rc = $node->psql(
		'postgres', $sql,
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1,
		extra_params => $p{extra_params} // []);
	return ($rc, $out, $err, time - $t0);
}

# Poll sql on node until it returns expected, at most timeout seconds.
# Returns elapsed seconds, or undef on timeout.
sub poll_until
{
	my ($node, $sql, $expected, $timeout) = @_;
	my $t0 = time;
	while (time - $t0 < $timeout)
	{
		my $r = $node->safe_psql('postgres', $sql);
		return time - $t0 if $r eq $expected;
		usleep(50_000);
	}
	return undef;
}

# ---------------------------------------------------------------- sessions
#
# A persistent psql session on the coordinator (PostgreSQL::Test::
# BackgroundPsql, ON_ERROR_STOP off), so that connections cached by
# shardfdw survive between statements.

sub session
{
	my ($self, $node) = @_;
	$node //= $self->{coord};
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	return $s;
}

# Run sql in session s; returns (stdout, stderr, elapsed seconds).  stderr
# is that of this statement only.
sub sq
{
	my ($s, $sql) = @_;
	$s->{stderr} = '';
	my $t0 = time;
	my $out = $s->query($sql);
	my $err = $s->{stderr};
	$s->{stderr} = '';
	return ($out, $err, time - $t0);
}

# Start sql in session s without waiting for it.
sub send_async
{
	my ($s, $sql) = @_;
	$s->{stderr} = '';
	$s->{stdout} = '';
	$s->{stdin} .= "$sql\n";
	$s->{run}->pump_nb;
	return;
}

# Wait until sql sent with send_async completes (a marker is appended);
# returns (stdout, stderr).
sub wait_async
{
	my ($s) = @_;
	my ($out, undef) = $s->query('SELECT 1 AS async_done_marker');
	my $err = $s->{stderr};
	$s->{stderr} = '';
	$out =~ s/\n?1$//;
	return ($out, $err);
}


# ---------------------------------------------------------------- moves and splits
#
# Shared by t/018_move.pl and t/019_split.pl.

# A place a shard can live: a database on a node, and its pN conninfo.
sub place
{
	my ($node, $db) = @_;
	return {
		node => $node,
		db => $db,
		conn => 'host=' . $node->host . ' port=' . $node->port . " dbname=$db",
		name => $node->name . "/$db"
	};
}

# a new database on node, as a place
sub new_place
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	return place($node, $db);
}

# create (or truncate) file f
# Stop the forked load clients in @$kids (and anything else forked there,
# e.g. a reader): create $dir/stop, wait up to 120 s for them to exit, kill
# what is left; @$kids is emptied.  Returns the summed statistics the
# clients 1 .. $nclients wrote to $dir/stats.N ("key=value" lines): stopped
# (processes that exited when told), finished (clients that wrote theirs),
# msg (their "msg" lines and the $dir/died.* files), and the other keys
# summed.
sub stop_clients
{
	my ($kids, $dir, $nclients) = @_;
	touch("$dir/stop");
	my %done;
	my $t0 = time;
	while (keys %done < @$kids && time - $t0 < 120)
	{
		for my $pid (@$kids)
		{
			$done{$pid} = 1 if !$done{$pid} && waitpid($pid, POSIX::WNOHANG()) != 0;
		}
		usleep(100_000);
	}
	my %tot = (finished => 0, stopped => scalar(keys %done), msg => []);
	for my $pid (grep { !$done{$_} } @$kids)
	{
		kill 'KILL', -$pid;
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}
	@$kids = ();
	for my $f (glob "$dir/died.*")
	{
		push @{ $tot{msg} }, "$f: " . slurp_file($f);
	}
	for my $n (1 .. $nclients)
	{
		next unless -e "$dir/stats.$n";
		$tot{finished}++;
		for my $line (split /\n/, slurp_file("$dir/stats.$n"))
		{
			my ($k, $v) = split /=/, $line, 2;
			if ($k eq 'msg') { push @{ $tot{msg} }, "client $n: $v"; }
			else { $tot{$k} += $v; }
		}
	}
	return \%tot;
}

sub touch
{
	my ($f) = @_;
	open my $fh, '>', $f or die "$f: $!";
	close $fh;
	return;
}

# One load transaction of client n (its seq-th) on table t and its local
# twin, keys 1..nkeys: (is it a write, its SQL).
sub twin_load_txn
{
	my ($n, $seq, $nkeys) = @_;
	if (rand() < 0.15)
	{
		my $k = 1 + int rand $nkeys;
		return (0, "SELECT count(*), sum(id) FROM t WHERE id BETWEEN $k AND $k + 200;");
	}
	my %op;
	my $nk = 1 + int rand 4;
	$op{ 1 + int rand $nkeys } = (qw(upsert upsert update update delete))[ int rand 5 ]
	  while keys %op < $nk;
	my @keys = sort { $a <=> $b } keys %op;
	my $v = "c${n}s$seq";
	my $sql = "BEGIN;\n";
	# serialize clients on a key (in key order: no deadlock), so that the
	# local twin and the shards see the same order of writes
	$sql .= "SELECT pg_advisory_xact_lock($_);\n" for @keys;
	# read first: a read before the switch and a write after is the 40001 case
	$sql .= "SELECT val FROM t WHERE id = $_;\n" for @keys;
	# (now and then a pause there, so that a switch falls in between)
	$sql .= "SELECT pg_sleep(0.02);\n" if rand() < 0.3;
	for my $k (@keys)
	{
		if ($op{$k} eq 'upsert')
		{
			$sql .= "DELETE FROM t WHERE id = $k;\nDELETE FROM twin WHERE id = $k;\n"
			  . "INSERT INTO t VALUES ($k, '$v');\nINSERT INTO twin VALUES ($k, '$v');\n";
		}
		elsif ($op{$k} eq 'update')
		{
			$sql .= "UPDATE t SET val = '$v' WHERE id = $k;\n"
			  . "UPDATE twin SET val = '$v' WHERE id = $k;\n";
		}
		else
		{
			$sql .= "DELETE FROM t WHERE id = $k;\nDELETE FROM twin WHERE id = $k;\n";
		}
	}
	$sql .= "INSERT INTO load_log (client, seq) VALUES ($n, $seq);\nCOMMIT;";
	return (1, $sql);
}

1;
