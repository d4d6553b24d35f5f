# t/013_bank.pl: a randomized crash test of two-phase commit (bank transfers).
#
# 200 accounts of 1000 each are spread over the 4 shards (acct), and every
# transfer is logged with its id (xfer).  Concurrent clients (forked perl
# processes running psql) move money between two accounts on different
# shards, with the transfer row, in one transaction: two-phase commit over
# 2 or 3 shards.  A client appends a transfer id to its "acknowledged" file
# only when psql reported COMMIT and exited 0.
#
# Meanwhile the test crashes something at random moments, BANK_ROUNDS times
# (default 50; 500 for a long run):
#   coord_backend  kill -9 of a coordinator backend in a client transaction
#                  (the postmaster restarts after the crash)
#   coord_restart  immediate stop and start of the coordinator
#   shard_restart  immediate stop and start of a shard
#   shard_backend  kill -9 of a busy shard backend (crash restart of a shard)
#   fail:<point>   one transfer with shardfdw.test_fail_point '<point>:crash',
#                  so that each step of the commit protocol is hit as well
# The recovery worker runs on the coordinator every second, and one more
# process (the "recoverer") calls shardfdw.recover_prepared_transactions()
# every 0.1-0.5 s while the clients run, as an operator or a cron job may
# (docs/transactions.md); its backend may be killed too.  Every 10
# crashes, and at the end, the clients are paused, recovery is run until no
# prepared transaction and no commit record is left, and the shards are
# checked directly: the sum of the balances is unchanged, every account's
# balance is 1000 plus what the xfer rows say it received minus what it
# sent (no transfer half-applied), and every acknowledged transfer is there.
# At the end the shards' statement logs are also checked: no gid may get
# both a COMMIT PREPARED and a ROLLBACK PREPARED.
#
# BANK_SEED fixes the test's own random choices (not the clients' timing).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use ShardTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use POSIX ();
use IPC::Run ();

my $ROUNDS   = $ENV{BANK_ROUNDS} // 50;
my $NACCT    = 200;
my $INIT     = 1000;
my $NCLIENTS = 4;
my $CHECK_EVERY = 10;
my @POINTS = qw(before_prepare between_prepares after_prepares
  before_commit_prepared between_commit_prepared);

my $seed = $ENV{BANK_SEED} // (int(time * 1000) ^ $$) % 1_000_000_007;
srand($seed);
note "BANK_SEED=$seed BANK_ROUNDS=$ROUNDS";

# forked clients, killed (with their psql) in END whatever happens
my $parent_pid = $$;
my @kids;

END
{
	if (defined $parent_pid && $$ == $parent_pid)
	{
		for my $pid (@kids)
		{
			kill 'KILL', -$pid;    # its process group: the client and its psql
			kill 'KILL', $pid;
		}
		waitpid($_, 0) for @kids;
	}
}

my $c = ShardTest->setup(
	coord_conf => "restart_after_crash = on\n"
	  . "shared_preload_libraries = 'shardfdw'\n"
	  . "shardfdw.recovery_databases = 'postgres'\n"
	  . "shardfdw.recovery_interval = 1\n",
	shard_conf => "restart_after_crash = on\nlog_statement = 'all'\n",
	server_options => { connect_timeout => '2' });
my $coord = $c->coord;
my @S = (0 .. $ShardTest::NSHARDS - 1);

$c->on_all_shards(q{
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL);
CREATE TABLE xfer (id bigint PRIMARY KEY, src int NOT NULL, dst int NOT NULL,
                   amount int NOT NULL);
});
$coord->safe_psql('postgres', qq{
CREATE FOREIGN TABLE acct (id int, bal bigint) SERVER cluster
  OPTIONS (distribution_column 'id');
CREATE FOREIGN TABLE xfer (id bigint, src int, dst int, amount int) SERVER cluster
  OPTIONS (distribution_column 'id');
INSERT INTO acct SELECT g, $INIT FROM generate_series(1, $NACCT) g;
});

# which shard owns each account
my %ids_of;
for my $line (split /\n/, $coord->safe_psql('postgres', qq{
SELECT id, shardfdw.shard_for('acct'::regclass, id) FROM generate_series(1, $NACCT) id}))
{
	my ($id, $s) = split /\|/, $line;
	push @{ $ids_of{$s} }, $id;
}
is(join(',', map { scalar @{ $ids_of{$_} // [] } } @S),
	join(',', map { $c->shard($_)->safe_psql('postgres', 'SELECT count(*) FROM acct') } @S),
	'the accounts are on the shards shard_for names');

# ---------------------------------------------------------------- helpers

# psql on node without dying: (exit code, stdout)
sub query
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres', $sql, stdout => \$out, stderr => \$err,
		on_error_stop => 1);
	return ($rc, $out);
}

sub prepared_left
{
	my $n = 0;
	for my $i (@S)
	{
		$n += $c->shard($i)->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts');
	}
	return $n;
}

sub records
{
	return $coord->safe_psql('postgres', 'SELECT count(*) FROM shardfdw.commit_records');
}

sub wait_coord_up
{
	for (1 .. 600)
	{
		return 1 if (query($coord, 'SELECT 1'))[0] == 0;
		usleep(100_000);
	}
	return 0;
}

# Run recovery until no prepared transaction and no record is left (the
# worker runs too); at most 60 s.  False if something is left.
sub recover_all
{
	my $t0 = time;
	while (time - $t0 < 60)
	{
		query($coord, 'SELECT count(*) FROM shardfdw.recover_prepared_transactions()');
		return 1 if prepared_left() == 0 && records() eq '0';
		usleep(200_000);
	}
	return 0;
}

# Wait until the log of node, from offset pos, matches re; the offset
# just after the match, or undef after timeout seconds.
sub wait_log
{
	my ($node, $pos, $re, $timeout) = @_;
	my $t0 = time;
	while (time - $t0 < $timeout)
	{
		my $text = slurp_file($node->logfile, $pos);
		return $pos + $+[0] if $text =~ $re;
		usleep(50_000);
	}
	return undef;
}

my $READY = qr/database system is ready to accept connections/;

# files shared with the clients
my $dir = "$PostgreSQL::Test::Utils::tmp_check/bank_$$";
mkdir $dir or die "mkdir $dir: $!";

# The environment of the clients' psql (the coordinator, no hang).
sub client_env
{
	my ($app) = @_;
	return (%ENV,
		PGHOST => $coord->host,
		PGPORT => $coord->port,
		PGDATABASE => 'postgres',
		PGAPPNAME => $app,
		PGCONNECT_TIMEOUT => '2',
		PGOPTIONS => '-c statement_timeout=20s');
}

# A transfer between two accounts on different shards, as a psql script:
# the smaller account id is updated first (no distributed deadlock).
sub transfer_sql
{
	my ($tid, $prefix) = @_;
	my $s1 = $S[ int rand @S ];
	my @others = grep { $_ != $s1 } @S;
	my $s2 = $others[ int rand @others ];
	my $src = $ids_of{$s1}[ int rand @{ $ids_of{$s1} } ];
	my $dst = $ids_of{$s2}[ int rand @{ $ids_of{$s2} } ];
	my $amt = 1 + int rand 100;
	my %delta = ($src => -$amt, $dst => $amt);
	my ($lo, $hi) = sort { $a <=> $b } ($src, $dst);
	return ($prefix // '')
	  . "BEGIN;\n"
	  . "UPDATE acct SET bal = bal + ($delta{$lo}) WHERE id = $lo;\n"
	  . "UPDATE acct SET bal = bal + ($delta{$hi}) WHERE id = $hi;\n"
	  . "INSERT INTO xfer VALUES ($tid, $src, $dst, $amt);\n"
	  . "COMMIT;\n";
}

# Run a psql script on the coordinator: (exit code, stdout, stderr); exit
# code -1 if psql was still running after 120 s (killed then) or could
# not be run.
sub run_psql
{
	my ($sql, $app) = @_;
	my ($out, $err) = ('', '');
	local %ENV = client_env($app);
	my $file = "$dir/script.$$.sql";
	write_file_atomic($file, $sql);
	my $rc;
	eval {
		IPC::Run::run([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-f', $file ],
			'<', '/dev/null', '>', \$out, '2>', \$err, IPC::Run::timeout(120));
		$rc = $? >> 8;
		1;
	} or do {
		$rc = -1;
		$err .= "psql timed out or failed to run: $@";
	};
	return ($rc, $out, $err);
}

# ---------------------------------------------------------------- clients

# the initial INSERT was two-phase: clear its records
ok(recover_all(), 'recovery after the initial load leaves nothing');

sub write_file_atomic
{
	my ($path, $text) = @_;
	open my $fh, '>', "$path.tmp" or die "$path.tmp: $!";
	print $fh $text;
	close $fh;
	rename "$path.tmp", $path or die "rename $path: $!";
}

sub read_file_or_empty
{
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	my $t = <$fh>;
	close $fh;
	return $t // '';
}

# The loop of client n: transfers until $dir/stop exists; idle while
# $dir/pause exists (saying so in $dir/paused.n with the pause's number).
# Client 0 is the recoverer: it runs recovery instead of transfers.
sub client_main
{
	my ($n) = @_;
	srand($seed * 31 + $n * 7919 + $$);
	open my $ack, '>>', "$dir/acked.$n" or die $!;
	$ack->autoflush(1);
	open my $log, '>>', "$PostgreSQL::Test::Utils::log_path/013_bank_client$n.log" or die $!;
	$log->autoflush(1);
	my ($seq, $ok, $failed, $timeouts) = (0, 0, 0, 0);
	while (!-e "$dir/stop")
	{
		my $pause = read_file_or_empty("$dir/pause");
		if ($pause ne '')
		{
			write_file_atomic("$dir/paused.$n", $pause)
			  if read_file_or_empty("$dir/paused.$n") ne $pause;
			usleep(50_000);
			next;
		}
		if ($n == 0)
		{
			# the recoverer, as an operator or a cron job would run it
			my ($rc, $out, $err) = run_psql(
				"SELECT count(*) FROM shardfdw.recover_prepared_transactions();\n",
				'bank_recover');
			if ($rc == 0) { $ok++; }
			else
			{
				$failed++;
				$timeouts++ if $rc == -1;
				$err =~ s/\n(?=.)/\n    /g;
				printf $log "%.3f recovery: exit %d: %s", time, $rc, $err;
			}
			usleep(100_000 + int rand 400_000);
			next;
		}
		$seq++;
		my $tid = $n * 10_000_000 + $seq;
		my ($rc, $out, $err) = run_psql(transfer_sql($tid), 'bank');
		if ($rc == 0 && $out =~ /^COMMIT$/m && $out !~ /^ROLLBACK$/m)
		{
			print $ack "$tid\n";
			$ok++;
		}
		else
		{
			$failed++;
			$timeouts++ if $rc == -1;
			$err =~ s/\n(?=.)/\n    /g;
			printf $log "%.3f transfer %d: exit %d: %s", time, $tid, $rc, $err;
			usleep(50_000 + int rand 200_000);
		}
	}
	write_file_atomic("$dir/stats.$n", "$ok $failed $timeouts");
	return;
}

for my $n (0 .. $NCLIENTS)
{
	my $pid = fork;
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# never run the END blocks (they would stop the servers) nor
		# print TAP output here
		POSIX::setpgid(0, 0);
		eval { client_main($n); 1 } or print STDERR "client $n died: $@";
		POSIX::_exit(0);
	}
	push @kids, $pid;
}

my $pause_no = 0;

# Pause the clients; true when every one said it is idle (at most 60 s).
sub pause_clients
{
	$pause_no++;
	write_file_atomic("$dir/pause", "$pause_no");
	my $t0 = time;
	while (time - $t0 < 60)
	{
		return 1
		  if !grep { read_file_or_empty("$dir/paused.$_") ne "$pause_no" } 0 .. $NCLIENTS;
		usleep(50_000);
	}
	return 0;
}

sub resume_clients
{
	unlink "$dir/pause";
}

# Acknowledged transfer ids (complete lines only).
sub acked_ids
{
	my @ids;
	for my $n (1 .. $NCLIENTS)
	{
		my $t = read_file_or_empty("$dir/acked.$n");
		$t =~ s/[^\n]*\z//;
		push @ids, split /\n/, $t;
	}
	return @ids;
}

# ---------------------------------------------------------------- checks

# Check the shards directly; label names the moment.  Returns the number
# of transfers present.
sub check_invariants
{
	my ($label, $final) = @_;
	my (%bal, %xfer, @dup_acct, @dup_xfer);
	for my $i (@S)
	{
		my $node = $c->shard($i);
		for my $line (split /\n/, $node->safe_psql('postgres', 'SELECT id, bal FROM acct'))
		{
			my ($id, $b) = split /\|/, $line;
			push @dup_acct, $id if exists $bal{$id};
			$bal{$id} = $b;
		}
		for my $line (split /\n/,
			$node->safe_psql('postgres', 'SELECT id, src, dst, amount FROM xfer'))
		{
			my ($id, $src, $dst, $amt) = split /\|/, $line;
			push @dup_xfer, $id if exists $xfer{$id};
			$xfer{$id} = [ $src, $dst, $amt ];
		}
	}
	is(scalar(keys %bal) . ' accounts, ' . scalar(@dup_acct) . ' duplicated',
		"$NACCT accounts, 0 duplicated", "$label: every account once");
	my $sum = 0;
	$sum += $_ for values %bal;
	is($sum, $NACCT * $INIT, "$label: the sum of the balances is unchanged");

	# no half-applied transfer: each balance is what the xfer rows say
	my %expect = map { $_ => $INIT } 1 .. $NACCT;
	for my $x (values %xfer)
	{
		my ($src, $dst, $amt) = @$x;
		$expect{$src} -= $amt;
		$expect{$dst} += $amt;
	}
	my @bad = grep { ($bal{$_} // 'missing') ne $expect{$_} } sort { $a <=> $b } keys %expect;
	is(scalar(@bad), 0,
		"$label: every balance matches the logged transfers (no half-applied transfer)")
	  or diag('accounts whose balance disagrees with xfer (id: balance, expected): '
		  . join(', ', map { "$_: " . ($bal{$_} // 'missing') . ", $expect{$_}" }
			  @bad[ 0 .. ($#bad < 19 ? $#bad : 19) ]));
	is(scalar(@dup_xfer), 0, "$label: no transfer id twice");

	my @acked = acked_ids();
	my @missing = grep { !exists $xfer{$_} } @acked;
	is(scalar(@missing), 0, "$label: every acknowledged transfer is present")
	  or diag('acknowledged but missing: '
		  . join(', ', @missing[ 0 .. ($#missing < 19 ? $#missing : 19) ]));
	note sprintf('%s: %d transfers acknowledged, %d present', $label,
		scalar(@acked), scalar(keys %xfer));
	return scalar(keys %xfer);
}

sub check_clean
{
	my ($label) = @_;
	ok(recover_all(), "$label: recovery leaves no prepared transaction and no record");
	is(prepared_left(), 0, "$label: no prepared transaction on any shard");
	is(records(), '0', "$label: no row in shardfdw.commit_records");
}


# ---------------------------------------------------------------- crashes

my %crashes;    # kind => count
my $ncrash = 0;
my %skipped;    # kinds that could not be done in a round
my $fp_seq = 0;

# A busy client backend of node (pids), by a query that must not die.
sub busy_backends
{
	my ($node, $where) = @_;
	my ($rc, $out) = query($node, qq{
SELECT pid FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
   AND state IN ('active', 'idle in transaction') AND $where});
	return $rc == 0 ? grep { /^\d+$/ } split /\n/, $out : ();
}

# kill -9 a busy backend of node; true if the postmaster saw it die by
# SIGKILL (then it has restarted).
sub kill_backend
{
	my ($node, $where) = @_;
	for (1 .. 20)
	{
		my @pids = busy_backends($node, $where);
		if (@pids)
		{
			my $pid = $pids[ int rand @pids ];
			my $pos = -s $node->logfile;
			# (gone already: try another one)
			if (!kill 'KILL', $pid)
			{
				usleep(50_000);
				next;
			}
			# (none if it was exiting by itself; the postmaster logs a
			# crash at once)
			my $at = wait_log($node, $pos,
				qr/server process \(PID $pid\) was terminated by signal 9/, 3);
			return 0 unless defined $at;
			defined wait_log($node, $at, $READY, 60)
			  or die $node->name . ' did not come back after a crash';
			return 1;
		}
		usleep(50_000);
	}
	return 0;
}

sub crash_round
{
	my $r = rand;
	if ($r < 0.25)
	{
		my $point = $POINTS[ int rand @POINTS ];
		my $pos = -s $coord->logfile;
		my $tid = 90_000_000 + ++$fp_seq;
		my ($rc, $out, $err) = run_psql(
			transfer_sql($tid, "SET shardfdw.test_fail_point = '$point:crash';\n"),
			'bank_fail_point');
		my $at = $rc != 0
		  ? wait_log($coord, $pos, qr/test fail point \Q$point\E: crashing/, 3)
		  : undef;
		if (!defined $at)
		{
			note "fail point $point not reached (exit $rc): $err";
			$skipped{"fail:$point"}++;
			return undef;
		}
		defined wait_log($coord, $at, $READY, 60)
		  or die 'the coordinator did not come back after a crash';
		return "fail:$point";
	}
	elsif ($r < 0.5)
	{
		return 'coord_backend' if kill_backend($coord, "application_name IN ('bank', 'bank_recover')");
		$skipped{coord_backend}++;
		return undef;
	}
	elsif ($r < 0.65)
	{
		$coord->stop('immediate');
		usleep(int rand 500_000);
		$coord->start;
		return 'coord_restart';
	}
	elsif ($r < 0.85)
	{
		my $node = $c->shard($S[ int rand @S ]);
		$node->stop('immediate');
		usleep(int rand 500_000);
		$node->start;
		return 'shard_restart';
	}
	else
	{
		my $node = $c->shard($S[ int rand @S ]);
		return 'shard_backend' if kill_backend($node, 'true');
		$skipped{shard_backend}++;
		return undef;
	}
}

my $t_start = time;
my %spent;      # seconds spent crashing and restarting, by kind
my $attempts = 0;
my $present = 0;
while ($ncrash < $ROUNDS && $attempts < 3 * $ROUNDS + 10)
{
	$attempts++;
	usleep(100_000 + int rand 900_000);
	my $t1 = time;
	my $kind = crash_round();
	wait_coord_up() or die 'the coordinator is not up';
	$spent{ defined $kind ? ($kind =~ s/:.*//r) : 'no crash' } += time - $t1;
	next unless defined $kind;
	$crashes{$kind}++;
	$ncrash++;
	if ($ncrash % $CHECK_EVERY == 0 && $ncrash < $ROUNDS)
	{
		my $label = "after $ncrash crashes";
		$t1 = time;
		ok(pause_clients(), "$label: the clients pause");
		$spent{'pausing the clients'} += time - $t1;
		check_clean($label);
		check_invariants($label);
		resume_clients();
	}
}

# ---------------------------------------------------------------- the end

write_file_atomic("$dir/stop", '1');
my %left = map { $_ => 1 } @kids;
my $t0 = time;
while (%left && time - $t0 < 180)
{
	for my $pid (keys %left)
	{
		delete $left{$pid} if waitpid($pid, POSIX::WNOHANG()) == $pid;
	}
	usleep(50_000) if %left;
}
ok(!%left, 'every client stopped by itself') or diag('clients still running: ' . join ' ', keys %left);
@kids = keys %left;    # (END kills those)

ok(wait_coord_up(), 'the coordinator is up at the end');
check_clean('at the end');
$present = check_invariants('at the end');
ok($present > 0, 'some transfers were committed');

my ($nok, $nfailed, $ntimeouts) = (0, 0, 0);
for my $n (1 .. $NCLIENTS)
{
	my ($o, $f, $t) = split / /, read_file_or_empty("$dir/stats.$n");
	$nok += $o // 0;
	$nfailed += $f // 0;
	$ntimeouts += $t // 0;
}
my ($rok, $rfailed) = split / /, read_file_or_empty("$dir/stats.0");
note sprintf('clients: %d transfers acknowledged, %d failed (%d psql timeouts); '
	  . '%d transfers present (with %d fail-point transfers tried); '
	  . 'recoverer: %d runs, %d failed',
	$nok, $nfailed, $ntimeouts, $present, $fp_seq, $rok // 0, $rfailed // 0);
note "crash points: $ncrash in $attempts rounds, "
  . sprintf('%.0f s; ', time - $t_start)
  . join(', ', map { "$_: $crashes{$_}" } sort keys %crashes);
note 'seconds spent: '
  . join(', ', map { sprintf('%s: %.0f', $_, $spent{$_}) } sort keys %spent);
note 'rounds without a crash: ' . join(', ', map { "$_: $skipped{$_}" } sort keys %skipped)
  if %skipped;
cmp_ok($ncrash, '>=', $ROUNDS, "at least $ROUNDS crash points");

# crashes the test did not cause (a signal other than SIGKILL, a PANIC, an
# assertion failure) in any server's log
my @unexpected;
for my $node ($coord, $c->shards)
{
	for my $line (split /\n/, slurp_file($node->logfile))
	{
		push @unexpected, $node->name . ": $line"
		  if $line =~ /terminated by signal (\d+)/ && $1 != 9
		  || $line =~ /\bPANIC:|^TRAP:|terminated by exception/;
	}
}
is(scalar(@unexpected), 0, 'no crash the test did not cause in the server logs')
  or diag(join("\n", @unexpected[ 0 .. ($#unexpected < 19 ? $#unexpected : 19) ]));
# No gid may be both committed and rolled back on a shard (the shards log
# every statement: log_statement = 'all'): that would be a transaction
# whose commit was decided, then rolled back by recovery on some shard.
# "lost" when the ROLLBACK PREPARED came first (that shard's part of the
# transaction is gone), "raced" when the COMMIT PREPARED won (the data is
# right this time, but by luck).
{
	my (@lost, @raced);
	for my $node ($c->shards)
	{
		my (%commit, %rollback);
		my $i = 0;
		for my $line (split /\n/, slurp_file($node->logfile))
		{
			$i++;
			$commit{$1} //= $i if $line =~ /execute <unnamed>: COMMIT PREPARED '([^']+)'/;
			$rollback{$1} //= $i if $line =~ /execute <unnamed>: ROLLBACK PREPARED '([^']+)'/;
		}
		for my $gid (sort grep { $rollback{$_} } keys %commit)
		{
			push @{ $rollback{$gid} < $commit{$gid} ? \@lost : \@raced },
			  $node->name . ": $gid";
		}
	}
	is(scalar(@lost) + scalar(@raced), 0,
		'no gid got both COMMIT PREPARED and ROLLBACK PREPARED (shard statement logs)')
	  or diag('committed transactions that recovery tried to roll back: lost: '
		  . (@lost ? join(', ', @lost) : 'none') . '; raced: '
		  . (@raced ? join(', ', @raced) : 'none'));
}
{
	my $log = slurp_file($coord->logfile);
	my $left = () = $log =~ /is left for shardfdw\.recover_prepared_transactions/g;
	my $worker_err = () = $log =~ /background worker "shardfdw recovery [^"]*" \(PID \d+\) exited with exit code 1/g;
	my $resolved = () = $log =~ /shardfdw recovery worker resolved/g;
	note "coordinator log: $left prepared transactions left for recovery, "
	  . "$resolved worker runs that resolved something, $worker_err worker exits with an error";
}

done_testing();
