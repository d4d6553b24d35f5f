# t/003_credentials.pl: against shards that ask for a password (scram),
# a role that is not a superuser gets in only with the password of its own
# user mapping, never with the coordinator OS user's password file, and
# never through a cached connection that a superuser made without one.
# (sql/credentials.sql covers the rest with trust authentication.)
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ShardTest;

my $c = ShardTest->setup;
my $coord = $c->coord;
my $remote = 'regress_cred_remote';
my $pw = 'remote_pw';

# Every shard: a role that must give its password, anybody else trusted.
for my $node ($c->shards)
{
	$node->safe_psql(
		'postgres', qq{
SET password_encryption = 'scram-sha-256';
CREATE ROLE $remote LOGIN PASSWORD '$pw';
GRANT SELECT ON t TO $remote;
CREATE VIEW who AS SELECT current_user::text AS remote_user;
GRANT SELECT ON who TO PUBLIC;
});
	my $hba = $node->data_dir . '/pg_hba.conf';
	open my $fh, '>', $hba or die "could not write $hba: $!";
	print $fh "local all $remote scram-sha-256\n",
	  "local all all trust\n",
	  "host all $remote 127.0.0.1/32 scram-sha-256\n",
	  "host all all 127.0.0.1/32 trust\n";
	close $fh;
	$node->reload;
}

# The coordinator's server processes find the remote role's password in
# a password file, as in the coordinator OS user's ~/.pgpass.
my $passfile = $coord->basedir . '/pgpass';
open my $pf, '>', $passfile or die "could not write $passfile: $!";
print $pf "*:*:*:$remote:$pw\n";
close $pf;
chmod 0600, $passfile;
$ENV{PGPASSFILE} = $passfile;
$coord->restart;

# Server cred_pub: the same shards, used through a PUBLIC mapping only.
my @popts = map { "p$_ '" . $c->conninfo($_) . "'" } 0 .. 3;
$coord->safe_psql(
	'postgres', qq{
CREATE ROLE regress_cred_app LOGIN;
GRANT USAGE ON FOREIGN SERVER cluster TO regress_cred_app;
GRANT SELECT ON t TO regress_cred_app;
CREATE FOREIGN TABLE who (remote_user text) SERVER cluster
    OPTIONS (table_name 'who');
GRANT SELECT ON who TO regress_cred_app;
CREATE SERVER cred_pub FOREIGN DATA WRAPPER shardfdw OPTIONS (}
	  . join(', ', @popts) . qq{);
CREATE FOREIGN TABLE who_pub (remote_user text) SERVER cred_pub
    OPTIONS (table_name 'who');
GRANT SELECT ON who_pub TO regress_cred_app;
});

my $who_rows = join("\n", ($remote) x 4);

# Run sql as regress_cred_app in a new session: (rc, stdout, stderr).
sub as_app
{
	my ($sql) = @_;
	my ($rc, $out, $err) =
	  $c->psql_timed("SET ROLE regress_cred_app;\n$sql");
	return ($rc, $out, $err);
}

# Set the options of regress_cred_app's mapping on server cluster.
sub app_mapping
{
	my ($options) = @_;
	$coord->safe_psql(
		'postgres', qq{
DROP USER MAPPING IF EXISTS FOR regress_cred_app SERVER cluster;
CREATE USER MAPPING FOR regress_cred_app SERVER cluster OPTIONS ($options);
});
	return;
}

# ================================================================ the password file works
$coord->safe_psql('postgres',
	"ALTER USER MAPPING FOR CURRENT_USER SERVER cluster OPTIONS (ADD user '$remote')"
);
is($coord->safe_psql('postgres', 'SELECT remote_user FROM who'),
	$who_rows,
	'superuser: a mapping without a password connects with the coordinator\'s password file'
);

# ================================================================ password ''
app_mapping("user '$remote', password ''");
my ($rc, $out, $err) = as_app('SELECT remote_user FROM who');
isnt($rc, 0, "non-superuser, password '': refused");
is($out, '', "non-superuser, password '': no row read through the coordinator's password file");
like($err, qr/ERROR:  password is required/, "non-superuser, password '': password is required");
like($err, qr/Non-superusers must provide a password in the user mapping/,
	"non-superuser, password '': detail");

app_mapping("user '$remote'");
($rc, $out, $err) = as_app('SELECT remote_user FROM who');
isnt($rc, 0, 'non-superuser, no password: refused');
like($err, qr/Non-superusers must provide a password in the user mapping/,
	'non-superuser, no password: detail');

# ================================================================ the mapping's password only
app_mapping("user '$remote', password 'wrong'");
($rc, $out, $err) = as_app('SELECT remote_user FROM who');
isnt($rc, 0, 'non-superuser, wrong password: refused');
like($err, qr/password authentication failed for user "$remote"/,
	'non-superuser, wrong password: the shard refuses it (no fallback to the password file)');

app_mapping("user '$remote', password '$pw'");
($rc, $out, $err) = as_app('SELECT remote_user FROM who');
is($rc, 0, 'non-superuser, right password: connects') or diag($err);
is($out, $who_rows, 'non-superuser, right password: reads every shard as the mapped role');
($rc, $out, $err) = as_app('SELECT count(*) FROM t');
is($out, '100', 'non-superuser, right password: reads t');

# A role the shards trust: the password is not asked for, so not proven.
my $osuser = $coord->safe_psql('postgres', 'SELECT current_user');
app_mapping("user '$osuser', password '$pw'");
($rc, $out, $err) = as_app('SELECT remote_user FROM who');
isnt($rc, 0, 'non-superuser, trusted remote role: refused');
like($err, qr/Non-superuser cannot connect if the server does not request a password/,
	'non-superuser, trusted remote role: detail');

# ================================================================ PUBLIC mapping, cached connections
# The superuser's connections, made with the mapping's password, may serve
# the non-superuser in the same session.
$coord->safe_psql('postgres',
	"CREATE USER MAPPING FOR PUBLIC SERVER cred_pub OPTIONS (user '$remote', password '$pw')"
);
{
	my $s = $c->session;
	my ($o, $e) = ShardTest::sq($s, 'SELECT remote_user FROM who_pub');
	is($o, $who_rows, 'PUBLIC mapping with the password: superuser reads');
	($o, $e) = ShardTest::sq($s, 'SET ROLE regress_cred_app');
	($o, $e) = ShardTest::sq($s, 'SELECT remote_user FROM who_pub');
	is($o, $who_rows,
		'PUBLIC mapping with the password: the non-superuser may reuse connections that used it'
	) or diag($e);
	ShardTest::sq($s, 'RESET ROLE');
	$s->quit;
}

# Without a password, the superuser's connections came from the password
# file: the non-superuser may not read through them.
$coord->safe_psql('postgres',
	"ALTER USER MAPPING FOR PUBLIC SERVER cred_pub OPTIONS (DROP password)");
{
	my $s = $c->session;
	my ($o, $e) = ShardTest::sq($s, 'SELECT remote_user FROM who_pub');
	is($o, $who_rows, 'PUBLIC mapping without a password: superuser reads (password file)');
	($o, $e) = ShardTest::sq($s,
		"SELECT count(*) FROM shardfdw.connections() WHERE server_name = 'cred_pub'");
	is($o, '4', 'PUBLIC mapping without a password: 4 cached connections');
	ShardTest::sq($s, 'SET ROLE regress_cred_app');
	($o, $e) = ShardTest::sq($s, 'SELECT remote_user FROM who_pub');
	is($o, '', 'PUBLIC mapping without a password: the non-superuser reads nothing');
	like($e, qr/ERROR:  password is required/,
		'PUBLIC mapping without a password: the non-superuser is refused the cached connections'
	);
	ShardTest::sq($s, 'RESET ROLE');
	($o, $e) = ShardTest::sq($s, 'SELECT remote_user FROM who_pub');
	is($o, $who_rows, 'PUBLIC mapping without a password: the superuser still reads');
	$s->quit;
}

done_testing();
