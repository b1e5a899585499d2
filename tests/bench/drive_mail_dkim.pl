#!/usr/bin/perl
# Mail::DKIM (Debian libmail-dkim-perl) verifying the benchmark corpus in one in-process loop.
#
#   drive_mail_dkim.pl EML_DIR 127.0.0.1:PORT
#
# Keys come from the given DNS server through a Net::DNS::Resolver pointed only at it (no
# search list, nothing read from the host's resolver); answers are memoized per name/type for
# the run, as credence's TTL cache does. Prints one JSON line: {"tool", "messages", "passes",
# "seconds", "cpu_seconds", "dns_queries"}. Timing covers reading each file and verifying it.
use strict;
use warnings;
use Mail::DKIM;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;
use Time::HiRes qw(time);

package CachingResolver;
our @ISA = ('Net::DNS::Resolver');
my %cache;
our $queries = 0;
sub send {
    my ($self, $name, $type) = @_;
    my $key = lc($name) . '/' . ($type // 'A');
    return $cache{$key} if exists $cache{$key};
    $queries++;
    return $cache{$key} = $self->SUPER::send($name, $type);
}

package main;

my ($dir, $server) = @ARGV;
die "usage: $0 EML_DIR HOST:PORT\n" unless $dir && $server && $server =~ /^(.+):(\d+)$/;
my ($host, $port) = ($1, $2);
my $res = CachingResolver->new(
    nameservers => [$host], port => $port, recurse => 0, defnames => 0, dnsrch => 0,
    searchlist => [], udp_timeout => 5, tcp_timeout => 5, retry => 1, udppacketsize => 4096);
$res->nameservers($host);  # override whatever new() read from the host configuration
$res->port($port);
Mail::DKIM::DNS::resolver($res);

opendir(my $dh, $dir) or die "$dir: $!\n";
my @files = sort grep { /\.eml$/ } readdir($dh);
closedir($dh);
my $passes = 0;
my $t0 = time();
my ($u0, $s0) = times();
for my $name (@files) {
    open(my $fh, '<:raw', "$dir/$name") or die "$name: $!\n";
    local $/;
    my $data = <$fh>;
    close($fh);
    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT($data);
    $dkim->CLOSE();
    $passes++ if $dkim->result eq 'pass';
}
my $seconds = time() - $t0;
my ($u1, $s1) = times();
my $cpu = ($u1 - $u0) + ($s1 - $s0);
printf("{\"tool\": \"Mail::DKIM %s\", \"messages\": %d, \"passes\": %d, \"seconds\": %.6f, "
       . "\"cpu_seconds\": %.6f, \"dns_queries\": %d}\n", $Mail::DKIM::VERSION, scalar(@files), $passes,
       $seconds, $cpu,
       $CachingResolver::queries);
