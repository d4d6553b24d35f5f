# t/CutProxy.pm: a TCP proxy for the shardfdw TAP tests that cuts a
# connection when a given command passes through it (failure injection, as
# Citus's failure tests do with mitmproxy).
#
#   use CutProxy;
#   my $p = CutProxy->new(target_port => $shard->port);   # 127.0.0.1
#   ... conninfo 'host=127.0.0.1 port=' . $p->port . ' dbname=postgres'
#   $p->arm('PREPARE TRANSACTION');       # drop it, close both sides
#   $p->arm('COMMIT PREPARED', mode => 'reply');
#                                         # let it through, then cut when the
#                                         # server answers (answer lost)
#   $p->arm('UPDATE', times => 2);        # cut the next 2 connections
#                                         # that send it (default 1)
#   $p->arm_any;                          # cut at the next data, whatever
#                                         # it is (a new connection's
#                                         # startup packet, a statement)
#   $p->blackhole(1)                      new connections to the proxy
#                                         hang in connect() (its listen
#                                         queue is kept full, so the
#                                         kernel drops their SYNs, as a
#                                         host behind a partition would);
#                                         connections made stay up
#   $p->blackhole(0)                      accept again
#   $p->fired        number of cuts since the last arm
#   $p->wait_fired(1)   the same, waiting (10 s at most) for it to be 1
#   $p->connections  number of connections accepted so far
#   $p->disarm; $p->stop;                 (stop also runs at END)
#
# The proxy is a forked child (pure Perl: IO::Socket::INET + IO::Select)
# listening on 127.0.0.1 on a free port; every accepted connection gets
# its own connection to the target.  It is armed through a control file
# that the parent writes (atomically, by rename) and the child reads
# whenever client data arrives: the first chunk of client->server bytes
# that contains the pattern (an empty pattern: any chunk) fires the cut,
# which disarms the proxy (the child removes the control file; with
# times => N it counts down first).  In mode 'drop' the chunk is not
# forwarded: the server never sees the command.  In mode 'reply' it is
# forwarded, and the first server->client bytes of that connection after
# it are dropped instead: the server did the command, the client never
# hears of it.  A cut closes both sides of the connection (the server
# backend sees EOF, as after a client crash).  The child writes a line to the "fired" file before closing
# the sockets, so when the client notices the cut, fired() already says so.
package CutProxy;

use strict;
use warnings;

use Carp;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @proxies;    # live proxies, stopped at END

sub new
{
	my ($class, %o) = @_;
	my $host = $o{target_host} // '127.0.0.1';
	my $tport = $o{target_port} // croak 'target_port needed';
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/cutproxy_$port";
	mkdir $dir or croak "mkdir $dir: $!" unless -d $dir;
	unlink "$dir/control", "$dir/fired", "$dir/connections", "$dir/blackhole",
	  "$dir/state";

	my $listen = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => $port,
		Proto     => 'tcp',
		Listen    => 64,
		ReuseAddr => 1) or croak "cannot listen on 127.0.0.1:$port: $!";

	my $self = bless {
		port        => $port,
		target_host => $host,
		target_port => $tport,
		dir         => $dir,
		parent      => $$,
	}, $class;

	my $pid = fork;
	croak "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# the child: never return into the test (nor run its END blocks)
		eval { $self->_child($listen); };
		if ($@)
		{
			if (open my $fh, '>>', "$dir/error")
			{
				print $fh $@;
				close $fh;
			}
		}
		POSIX::_exit(0);
	}
	close $listen;
	$self->{pid} = $pid;
	push @proxies, $self;
	note "cut proxy $pid: 127.0.0.1:$port -> $host:$tport";
	return $self;
}

sub port { return $_[0]->{port}; }
sub pid  { return $_[0]->{pid}; }

# Arm: cut the first connection whose client->server bytes contain
# pattern (mode 'drop', default, or 'reply': see above).
sub arm
{
	my ($self, $pattern, %o) = @_;
	my $mode = $o{mode} // 'drop';
	my $times = $o{times} // 1;
	croak "bad mode $mode" unless $mode eq 'drop' || $mode eq 'reply';
	croak "bad times $times" unless $times =~ /^[1-9][0-9]*$/;
	croak 'pattern with a newline' if $pattern =~ /\n/;
	unlink "$self->{dir}/fired";
	my $tmp = "$self->{dir}/control.tmp";
	open my $fh, '>', $tmp or croak "$tmp: $!";
	print $fh "$mode\n$pattern\n$times\n";
	close $fh or croak "$tmp: $!";
	rename $tmp, "$self->{dir}/control" or croak "rename $tmp: $!";
	return;
}

# Arm: cut at the next client->server data of any connection.
sub arm_any
{
	my ($self, %o) = @_;
	return $self->arm('', %o);
}

sub disarm
{
	my ($self) = @_;
	unlink "$self->{dir}/control";
	return;
}

# Is the proxy still armed (nothing fired yet)?
sub armed
{
	my ($self) = @_;
	return -e "$self->{dir}/control" ? 1 : 0;
}

# How many cuts since the last arm (the proxy disarms itself after one).
sub fired
{
	my ($self) = @_;
	open my $fh, '<', "$self->{dir}/fired" or return 0;
	my @lines = <$fh>;
	close $fh;
	return scalar @lines;
}

# fired(), once it reaches n or after timeout seconds (default 10): for a
# cut that the client does not wait for (a command whose answer it does
# not read at once).
sub wait_fired
{
	my ($self, $n, $timeout) = @_;
	$timeout //= 10;
	for (1 .. $timeout * 20)
	{
		last if $self->fired >= $n;
		Time::HiRes::usleep(50_000);
	}
	return $self->fired;
}

# Blackhole the proxy's port (on true) or open it again (on false); returns
# once the child has done it (10 s at most), with whether it has.
sub blackhole
{
	my ($self, $on) = @_;
	my $want = $on ? 'blackhole' : 'open';
	if ($on)
	{
		open my $fh, '>', "$self->{dir}/blackhole" or croak "blackhole: $!";
		close $fh;
	}
	else
	{
		unlink "$self->{dir}/blackhole";
	}
	for (1 .. 200)
	{
		my $state = -e "$self->{dir}/state" ? slurp_file("$self->{dir}/state") : 'open';
		return 1 if $state eq $want;
		Time::HiRes::usleep(50_000);
	}
	return 0;
}

# How many connections the proxy has accepted.
sub connections
{
	my ($self) = @_;
	open my $fh, '<', "$self->{dir}/connections" or return 0;
	my $n = <$fh>;
	close $fh;
	chomp $n if defined $n;
	return $n // 0;
}

sub stop
{
	my ($self) = @_;
	local $?;    # (waitpid would change the test's exit status)
	return if !$self->{pid} || $self->{parent} != $$;
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	note "cut proxy $self->{pid} stopped";
	$self->{pid} = undef;
	if (-s "$self->{dir}/error")
	{
		diag("cut proxy error: " . slurp_file("$self->{dir}/error"));
	}
	return;
}

sub DESTROY
{
	my ($self) = @_;
	$self->stop;
	return;
}

END
{
	local $?;
	$_->stop for @proxies;
	@proxies = ();
}

# ---------------------------------------------------------------- child

sub _child
{
	my ($self, $listen) = @_;
	my $dir = $self->{dir};
	my $parent = $self->{parent};
	my $nconn = 0;
	my %pair;    # fileno of either side -> { client, server, id, cut }

	$SIG{PIPE} = 'IGNORE';
	$SIG{TERM} = $SIG{INT} = sub { POSIX::_exit(0); };
	# let go of what the test has open (pipes to psql, log files)
	for my $fd (3 .. 1023)
	{
		POSIX::close($fd) unless $fd == fileno($listen);
	}

	my $sel = IO::Select->new($listen);

	my $record = sub {
		my ($line) = @_;
		open my $fh, '>>', "$dir/fired" or die "$dir/fired: $!";
		print $fh "$line\n";
		close $fh or die "$dir/fired: $!";
	};
	my $close_pair = sub {
		my ($p) = @_;
		for my $s ($p->{client}, $p->{server})
		{
			next unless defined $s;
			delete $pair{ fileno($s) } if defined fileno($s);
			$sel->remove($s);
			close $s;
		}
	};
	my $write_all = sub {
		my ($s, $buf) = @_;
		my $off = 0;
		while ($off < length $buf)
		{
			my $n = syswrite($s, $buf, length($buf) - $off, $off);
			return 0 unless defined $n;
			$off += $n;
		}
		return 1;
	};
	my $control = sub {
		open my $fh, '<', "$dir/control" or return undef;
		my $mode = <$fh>;
		my $pattern = <$fh>;
		my $times = <$fh>;
		close $fh;
		return undef unless defined $mode && defined $pattern && defined $times;
		chomp $mode;
		chomp $pattern;
		chomp $times;
		return { mode => $mode, pattern => $pattern, times => $times };
	};
	# one cut done: count down, or disarm
	my $count_down = sub {
		my ($ctl) = @_;
		if ($ctl->{times} > 1)
		{
			open my $fh, '>', "$dir/control.child" or die "$dir/control.child: $!";
			print $fh "$ctl->{mode}\n$ctl->{pattern}\n" . ($ctl->{times} - 1) . "\n";
			close $fh or die "$dir/control.child: $!";
			rename "$dir/control.child", "$dir/control" or die "rename: $!";
		}
		else
		{
			unlink "$dir/control";
		}
	};

	# blackhole: a listener with a queue of one, filled by connections
	# nobody accepts; further connection attempts get no SYN-ACK
	my ($holed, @fill) = (0);
	my $listener = sub {
		my ($backlog) = @_;
		my $l = IO::Socket::INET->new(
			LocalAddr => '127.0.0.1',
			LocalPort => $self->{port},
			Proto     => 'tcp',
			Listen    => $backlog,
			ReuseAddr => 1) or die "cannot listen on 127.0.0.1:$self->{port}: $!";
		return $l;
	};
	my $set_state = sub {
		my ($state) = @_;
		open my $fh, '>', "$dir/state.tmp" or die "$dir/state.tmp: $!";
		print $fh $state;
		close $fh or die "$dir/state.tmp: $!";
		rename "$dir/state.tmp", "$dir/state" or die "rename: $!";
	};

	for (;;)
	{
		POSIX::_exit(0) if getppid() != $parent;
		if (-e "$dir/blackhole" && !$holed)
		{
			$sel->remove($listen);
			close $listen;
			$listen = $listener->(0);
			# (the first one fills the queue; the second, which would
			# hang, gives up after a second)
			for (1 .. 2)
			{
				my $f = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
					PeerPort => $self->{port}, Proto => 'tcp', Timeout => 1);
				push @fill, $f if $f;
			}
			die "blackhole: the listen queue could not be filled" unless @fill;
			$holed = 1;
			$set_state->('blackhole');
		}
		elsif (!-e "$dir/blackhole" && $holed)
		{
			close $_ for @fill;
			@fill = ();
			close $listen;
			$listen = $listener->(64);
			$sel->add($listen);
			$holed = 0;
			$set_state->('open');
		}
		my @ready = $sel->can_read(0.5);
		for my $fh (@ready)
		{
			if ($fh == $listen)
			{
				my $client = $listen->accept or next;
				my $server = IO::Socket::INET->new(
					PeerAddr => $self->{target_host},
					PeerPort => $self->{target_port},
					Proto    => 'tcp',
					Timeout  => 5);
				$nconn++;
				if (open my $cf, '>', "$dir/connections.tmp")
				{
					print $cf "$nconn\n";
					close $cf;
					rename "$dir/connections.tmp", "$dir/connections";
				}
				if (!$server)
				{
					close $client;
					next;
				}
				my $p = { client => $client, server => $server, id => $nconn,
						  tail => '' };
				$pair{ fileno($client) } = $p;
				$pair{ fileno($server) } = $p;
				$sel->add($client, $server);
				next;
			}
			my $p = $pair{ fileno($fh) // -1 };
			next unless $p;    # (closed earlier in this round)
			my $buf = '';
			my $n = sysread($fh, $buf, 65536);
			if (!$n)
			{
				$close_pair->($p);
				next;
			}
			if ($fh == $p->{client})
			{
				my $ctl = $control->();
				if ($ctl && !$p->{cut}
					&& ($ctl->{pattern} eq ''
						|| index($p->{tail} . $buf, $ctl->{pattern}) >= 0))
				{
					$count_down->($ctl);
					if ($ctl->{mode} eq 'drop')
					{
						$record->("drop\t$ctl->{pattern}\tconnection $p->{id}");
						$close_pair->($p);
						next;
					}
					$p->{cut} = $ctl;         # at the server's next bytes
				}
				$p->{tail} = substr($p->{tail} . $buf, -256);
				$close_pair->($p) unless $write_all->($p->{server}, $buf);
			}
			else
			{
				if ($p->{cut})
				{
					$record->("reply\t$p->{cut}{pattern}\tconnection $p->{id}");
					$close_pair->($p);
					next;
				}
				$close_pair->($p) unless $write_all->($p->{client}, $buf);
			}
		}
	}
}

1;
