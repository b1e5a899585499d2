#!/usr/bin/perl
# Independent second signer for the differential corpus: Mail::DKIM::Signer (Debian
# libmail-dkim-perl). Reads a message on stdin (LF or CRLF), prints the DKIM-Signature field
# (CRLF-terminated) on stdout.
#   sign_mail_dkim.pl KEYFILE SELECTOR DOMAIN ALGORITHM METHOD TIMESTAMP [EXPIRATION]
use strict;
use warnings;
use Mail::DKIM::Signer;
use Mail::DKIM::TextWrap;

my ($keyfile, $selector, $domain, $algorithm, $method, $timestamp, $expiration) = @ARGV;
die "usage: $0 KEYFILE SELECTOR DOMAIN ALGORITHM METHOD TIMESTAMP [EXPIRATION]\n"
  unless defined $timestamp;
my %args = (
  Algorithm => $algorithm,
  Method    => $method,
  Domain    => $domain,
  Selector  => $selector,
  KeyFile   => $keyfile,
  Timestamp => $timestamp,
);
$args{Expiration} = $expiration if defined $expiration;
my $dkim = Mail::DKIM::Signer->new(%args);
binmode STDIN;
while (my $line = <STDIN>) {
  chomp $line;
  $line =~ s/\015$//;
  $dkim->PRINT("$line\015\012");
}
$dkim->CLOSE;
my $sig = $dkim->signature or die "no signature made\n";
my $text = $sig->as_string;
$text =~ s/\015?\012/\015\012/g;
binmode STDOUT;
print $text, "\015\012";
