# <@LICENSE>
# credence for SpamAssassin 4.0: mail authentication (DKIM, SPF, DMARC) by credence.
# </@LICENSE>

=head1 NAME

Mail::SpamAssassin::Plugin::Credence - DKIM, SPF and DMARC verdicts from credence

=head1 SYNOPSIS

  loadplugin Mail::SpamAssassin::Plugin::Credence /etc/spamassassin/Credence.pm

  credence_socket   /run/credence/credence.sock
  credence_timeout  10

  header   CREDENCE  eval:check_credence()

=head1 DESCRIPTION

For each message the plugin asks the credence companion service (C<credence serve>) over its
Unix socket (or TCP, C<credence_socket 127.0.0.1:PORT>) to evaluate DKIM, SPF and DMARC with
the SMTP envelope SpamAssassin knows: the client IP and HELO of the first external relay and
the envelope sender. When the socket is absent it runs C<credence verify --format json> on the
message instead (C<credence_fallback 0> turns that off).

The rule calling C<check_credence()> gets credence's score as a dynamic hit whose description
lists credence's symbols. Rules calling C<check_credence_symbol('NAME')> hit when credence
emitted symbol NAME; in C<credence_score_mode symbols> they carry the symbol's weight and the
C<check_credence()> rule is informational. docs/spamassassin.md has the whole setup.

SpamAssassin can only add X-Spam-* headers, so credence's Authentication-Results value is
available as the template tag _CREDENCEAR_ (e.g. C<add_header all Credence-AR _CREDENCEAR_>).

=head1 CONFIGURATION

=over

=item credence_socket PATH|HOST:PORT (default /run/credence/credence.sock)

=item credence_timeout SECONDS (default 10)

=item credence_fallback 0|1 (default 1): run C<credence_path verify> when the socket is absent

=item credence_path PATH (default /usr/bin/credence)

=item credence_verify_args ARGS (default empty): extra arguments for the fallback, e.g.
C<--dns 127.0.0.1:53 --config /etc/credence/credence.toml>

=item credence_score_mode total|symbols (default total)

=back

=cut

package Mail::SpamAssassin::Plugin::Credence;

use strict;
use warnings;
use re 'taint';

use Mail::SpamAssassin::Plugin;
use Mail::SpamAssassin::Logger;
use Mail::SpamAssassin::Util qw(untaint_var);
use IO::Socket::UNIX;
use IO::Socket::INET;
use IO::Select;
use IPC::Open3;
use Symbol qw(gensym);
use JSON::PP;
use Time::HiRes qw(time);

our @ISA = qw(Mail::SpamAssassin::Plugin);

use constant PROTOCOL_TAG => 'CREDENCE/1';
use constant MAX_RESPONSE => 16 * 1024 * 1024;

sub new {
  my ($class, $mailsa) = @_;
  $class = ref($class) || $class;
  my $self = $class->SUPER::new($mailsa);
  bless($self, $class);
  $self->register_eval_rule('check_credence', $Mail::SpamAssassin::Conf::TYPE_HEAD_EVALS);
  $self->register_eval_rule('check_credence_symbol', $Mail::SpamAssassin::Conf::TYPE_HEAD_EVALS);
  $self->set_config($mailsa->{conf});
  return $self;
}

sub set_config {
  my ($self, $conf) = @_;
  my @cmds = (
    { setting => 'credence_socket', default => '/run/credence/credence.sock',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
    { setting => 'credence_timeout', default => 10,
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_NUMERIC },
    { setting => 'credence_fallback', default => 1,
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_BOOL },
    { setting => 'credence_path', default => '/usr/bin/credence',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
    { setting => 'credence_verify_args', default => '',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
    { setting => 'credence_score_mode', default => 'total',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
  );
  $conf->{parser}->register_commands(\@cmds);
}

# Percent-encodes a header-line value (bytes outside VCHAR, and "%").
sub _encode {
  my ($v) = @_;
  $v = '' unless defined $v;
  $v =~ s/([^\x21-\x24\x26-\x7e])/sprintf('%%%02X', ord($1))/ge;
  return $v;
}

sub _envelope {
  my ($pms) = @_;
  my ($ip, $helo) = ('', '');
  my $relay = $pms->{relays_external} && $pms->{relays_external}->[0];
  if ($relay) {
    $ip = $relay->{ip} || '';
    $helo = $relay->{helo} || '';
  }
  my $from = $pms->get('EnvelopeFrom:addr', undef);
  $from = '' unless defined $from;
  $from =~ s/^<|>$//g;
  return ($ip, $helo, $from);
}

# Reads exactly $n bytes (or fewer on EOF / timeout) from $sock.
sub _read_n {
  my ($sock, $n, $deadline) = @_;
  my $buf = '';
  my $sel = IO::Select->new($sock);
  while (length($buf) < $n) {
    my $left = $deadline - time;
    return undef if $left <= 0 || !$sel->can_read($left);
    my $got = sysread($sock, $buf, $n - length($buf), length($buf));
    return undef if !defined $got;
    last if $got == 0;
  }
  return $buf;
}

sub _read_line {
  my ($sock, $deadline) = @_;
  my $line = '';
  while (length($line) < 32) {
    my $c = _read_n($sock, 1, $deadline);
    return undef if !defined $c || $c eq '';
    return $line if $c eq "\n";
    $line .= $c;
  }
  return undef;
}

# Asks the service. Returns (decoded answer, undef) or (undef, error text).
sub _ask_service {
  my ($self, $pms, $msg, $ip, $helo, $from) = @_;
  my $conf = $pms->{conf};
  # spamassassin and spamd run under taint mode (-T): configuration values are tainted.
  my $where = untaint_var($conf->{credence_socket});
  my $timeout = untaint_var($conf->{credence_timeout});
  my $sock;
  if ($where =~ m{^/}) {
    return (undef, 'absent') unless -S $where;
    $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $where, Timeout => $timeout);
  } else {
    $sock = IO::Socket::INET->new(PeerAddr => $where, Proto => 'tcp', Timeout => $timeout);
  }
  return (undef, "cannot connect to $where: $!") unless $sock;
  my $deadline = time + $timeout;
  my $line = join(' ', PROTOCOL_TAG, 'VERIFY', length($msg), 'ip=' . _encode($ip),
                  'helo=' . _encode($helo), 'from=' . _encode($from)) . "\n";
  my $out = $line . $msg;
  my $sel = IO::Select->new($sock);
  while (length $out) {
    my $left = $deadline - time;
    return (undef, 'timeout sending') if $left <= 0 || !$sel->can_write($left);
    my $n = syswrite($sock, $out);
    return (undef, "write: $!") unless defined $n;
    substr($out, 0, $n, '');
  }
  my $len = _read_line($sock, $deadline);
  return (undef, 'no answer (timeout or closed)') unless defined $len && $len =~ /^(\d{1,9})$/;
  $len = $1;
  return (undef, 'answer too large') if $len > MAX_RESPONSE;
  my $json = _read_n($sock, $len, $deadline);
  close($sock);
  return (undef, 'truncated answer') unless defined $json && length($json) == $len;
  my $obj = eval { JSON::PP->new->utf8->decode($json) };
  return (undef, "bad JSON: $@") unless ref $obj eq 'HASH';
  return ($obj, undef);
}

# Runs `credence verify --format json` on the message. Same return as _ask_service.
sub _run_verify {
  my ($self, $pms, $msg, $ip, $helo, $from) = @_;
  my $conf = $pms->{conf};
  my $path = untaint_var($conf->{credence_path});
  return (undef, "fallback $path not executable") unless -x $path;
  my @cmd = ($path, 'verify', '--format', 'json', '--quiet');
  push @cmd, '--client-ip', $ip if $ip ne '';
  push @cmd, '--helo', $helo if $helo ne '';
  push @cmd, '--mail-from', $from if $from ne '';
  push @cmd, split(' ', $conf->{credence_verify_args});
  push @cmd, '-';
  # Arguments go to exec as a list (no shell); taint mode still wants them untainted.
  @cmd = map { untaint_var($_) } @cmd;
  local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
  delete local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
  my ($in, $outfh, $err) = (gensym, gensym, gensym);
  my $pid = eval { open3($in, $outfh, $err, @cmd) };
  return (undef, "cannot run $path: $@") unless $pid;
  print $in $msg;
  close($in);
  my $out = '';
  my $deadline = time + $conf->{credence_timeout};
  my $sel = IO::Select->new($outfh);
  while (1) {
    my $left = $deadline - time;
    if ($left <= 0 || !$sel->can_read($left)) {
      kill 'TERM', $pid;
      waitpid($pid, 0);
      return (undef, 'fallback timed out');
    }
    my $n = sysread($outfh, $out, 65536, length $out);
    last if !$n;
    last if length($out) > MAX_RESPONSE;
  }
  waitpid($pid, 0);
  my ($first) = split(/\n/, $out, 2);
  return (undef, 'fallback printed nothing') unless defined $first && $first ne '';
  my $obj = eval { JSON::PP->new->utf8->decode($first) };
  return (undef, "fallback: bad JSON: $@") unless ref $obj eq 'HASH';
  return ($obj, undef);
}

# The evaluation for this message, asked once and kept on the PerMsgStatus.
sub _result {
  my ($self, $pms) = @_;
  return $pms->{credence_result} if exists $pms->{credence_result};
  my $msg = $pms->{msg}->get_pristine();
  my ($ip, $helo, $from) = _envelope($pms);
  my ($obj, $err) = $self->_ask_service($pms, $msg, $ip, $helo, $from);
  if (!$obj && $err eq 'absent' && $pms->{conf}->{credence_fallback}) {
    dbg("credence: socket absent, running credence verify");
    ($obj, $err) = $self->_run_verify($pms, $msg, $ip, $helo, $from);
  }
  if (!$obj) {
    info("credence: no verdict: $err");
  } elsif ($obj->{error}) {
    info("credence: service error: " . ($obj->{code} || '?') . ": $obj->{error}");
    $obj = undef;
  }
  $pms->{credence_result} = $obj;
  if ($obj) {
    my $ar = $obj->{authentication_results};
    $ar = '' unless defined $ar;
    $ar =~ s/^\s+//;
    $pms->set_tag('CREDENCEAR', $ar);
    $pms->set_tag('CREDENCESCORE', sprintf('%.1f', $obj->{score} || 0));
  }
  return $obj;
}

# header CREDENCE eval:check_credence()
sub check_credence {
  my ($self, $pms) = @_;
  my $rule = $pms->get_current_eval_rule_name();
  my $obj = $self->_result($pms);
  return 0 unless $obj;
  my @symbols = map { sprintf('%s(%+.2f)', $_->{name}, $_->{weight}) } @{ $obj->{symbols} || [] };
  my $score = $obj->{score} || 0;
  # A hit needs a non-zero score; in "symbols" mode the per-symbol rules carry the weights.
  $score = 0.001 if $pms->{conf}->{credence_score_mode} eq 'symbols' || $score == 0;
  $pms->got_hit($rule, 'CREDENCE: ', ruletype => 'header', score => $score,
                description => 'credence: ' . (@symbols ? join(' ', @symbols) : 'no symbols'));
  return 0;
}

# header CREDENCE_DKIM_PASS eval:check_credence_symbol('CREDENCE_DKIM_PASS')
sub check_credence_symbol {
  my ($self, $pms, $name) = @_;
  return 0 unless defined $name;
  my $obj = $self->_result($pms);
  return 0 unless $obj;
  foreach my $s (@{ $obj->{symbols} || [] }) {
    next unless $s->{name} eq $name;
    return 1 unless $pms->{conf}->{credence_score_mode} eq 'symbols';
    my $w = $s->{weight} || 0;
    $w = 0.001 if $w == 0;
    my $rule = $pms->get_current_eval_rule_name();
    $pms->got_hit($rule, 'CREDENCE: ', ruletype => 'header', score => $w,
                  description => 'credence: ' . ($s->{description} || $name));
    return 0;
  }
  return 0;
}

1;
