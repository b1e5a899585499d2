# <@LICENSE>
# credence for SpamAssassin 4.0: mail authentication (DKIM, SPF, DMARC) by credence.
# </@LICENSE>

=head1 NAME

Mail::SpamAssassin::Plugin::Credence - DKIM, SPF and DMARC verdicts from credence

=head1 SYNOPSIS

  loadplugin Mail::SpamAssassin::Plugin::Credence /etc/spamassassin/Credence.pm

  credence_socket   /run/credence/credence.sock
  credence_timeout  7

  header   CREDENCE_DMARC_REJECT  eval:check_credence_symbol('CREDENCE_DMARC_REJECT')
  score    CREDENCE_DMARC_REJECT  5.0

=head1 DESCRIPTION

For each message the plugin asks the credence companion service (C<credence serve>) over its
Unix socket (or TCP, C<credence_socket 127.0.0.1:PORT>) to evaluate DKIM, SPF and DMARC with
the SMTP envelope SpamAssassin knows: the client IP and HELO of the first untrusted relay (the
Received field your MX added) and the envelope sender (Return-Path). It tells the service how
long it waits (C<credence_timeout>), and the service answers before that: DNS that has not
answered by then is a temperror verdict, not a missing one.

Rules calling C<check_credence_symbol('NAME')> hit when credence emitted symbol NAME. In the
default C<credence_score_mode rules> they carry their C<score> lines (credence.cf ships scores
for SpamAssassin's scale: a DMARC failure under p=reject is 5.0 on its own), so SpamAssassin's
configuration is the one place where their weights are set. C<check_credence()> is an
informational rule that lists credence's symbols. C<check_credence_forged_ar()> hits when the
message carries an Authentication-Results field with credence's authserv-id (a forgery:
SpamAssassin cannot remove header fields, so it is scored instead; the MTA should strip them).
C<check_credence_unavailable()> hits when there is no verdict (service down, timeout, error).

SpamAssassin can only add X-Spam-* headers, so credence's Authentication-Results value is
available as the template tag _CREDENCEAR_ (e.g. C<add_header all Credence-AR _CREDENCEAR_>);
without a verdict it reads C<none (credence: no verdict: REASON)>.

docs/spamassassin.md has the whole setup.

=head1 CONFIGURATION

=over

=item credence_socket PATH|HOST:PORT (default /run/credence/credence.sock)

=item credence_timeout SECONDS (default 7): how long to wait for the service's answer; the
service is told and answers before it

=item credence_score_mode rules|total|symbols (default rules)

rules: each per-symbol rule carries its C<score> line (SpamAssassin's scale, set in
credence.cf or local.cf). total: C<CREDENCE> carries credence's own score (the weights of
credence.toml, rspamd's scale) and the per-symbol rules are informational. symbols: each
per-symbol rule carries credence's weight for it.

=item credence_fallback 0|1 (default 0): when the socket is absent, run C<credence_path verify>
on the message instead

=item credence_path PATH (default /usr/local/bin/credence, where C<cmake --install> puts it)

=item credence_verify_args ARGS (default empty): extra arguments for the fallback, e.g.
C<--dns 127.0.0.1:53 --config /etc/credence/credence.toml>

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
# An informational hit: SpamAssassin drops hits that score exactly 0.
use constant INFO_SCORE => 0.001;

# The fallback binaries already announced in the log, by path (one line per process).
my %announced;

sub new {
  my ($class, $mailsa) = @_;
  $class = ref($class) || $class;
  my $self = $class->SUPER::new($mailsa);
  bless($self, $class);
  for my $rule (qw(check_credence check_credence_symbol check_credence_forged_ar
                   check_credence_unavailable)) {
    $self->register_eval_rule($rule, $Mail::SpamAssassin::Conf::TYPE_HEAD_EVALS);
  }
  $self->set_config($mailsa->{conf});
  return $self;
}

sub set_config {
  my ($self, $conf) = @_;
  my @cmds = (
    { setting => 'credence_socket', default => '/run/credence/credence.sock',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
    { setting => 'credence_timeout', default => 7,
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_NUMERIC },
    { setting => 'credence_fallback', default => 0,
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_BOOL },
    { setting => 'credence_path', default => '/usr/local/bin/credence',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
    { setting => 'credence_verify_args', default => '',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
    { setting => 'credence_score_mode', default => 'rules',
      type => $Mail::SpamAssassin::Conf::CONF_TYPE_STRING },
  );
  $conf->{parser}->register_commands(\@cmds);
}

# The tags exist for every message, verdict or not, so a template never shows a literal
# _CREDENCEAR_: they read the result when the headers are written.
sub check_start {
  my ($self, $params) = @_;
  my $pms = $params->{permsgstatus};
  $pms->set_tag('CREDENCEAR', sub {
    my $p = shift;
    my $obj = $p->{credence_result};
    return 'none (credence: not asked)' unless exists $p->{credence_result};
    return 'none (credence: no verdict: ' . ($p->{credence_error} || 'unknown') . ')'
      unless $obj;
    my $ar = $obj->{authentication_results};
    $ar = '' unless defined $ar;
    $ar =~ s/^\s+//;
    return $ar;
  });
  $pms->set_tag('CREDENCESCORE', sub {
    my $p = shift;
    my $obj = $p->{credence_result};
    return 'none' unless $obj;
    return sprintf('%.1f', $obj->{score} || 0);
  });
  return;
}

# Percent-encodes a header-line value (bytes outside VCHAR, and "%").
sub _encode {
  my ($v) = @_;
  $v = '' unless defined $v;
  $v =~ s/([^\x21-\x24\x26-\x7e])/sprintf('%%%02X', ord($1))/ge;
  return $v;
}

# The SMTP envelope as SpamAssassin sees it: the client IP and HELO of the first untrusted
# relay (the Received field your MX added, with trusted_networks/internal_networks set), and
# the envelope sender (Return-Path, or envelope_sender_header). Without a Received field from
# an untrusted relay there is no client IP: SPF is not evaluated (spf=none). Without an
# envelope sender the sender is null: SPF checks postmaster@HELO (RFC 7208 §2.4).
sub _envelope {
  my ($pms) = @_;
  my ($ip, $helo) = ('', '');
  my $relay = $pms->{relays_external} && $pms->{relays_external}->[0];
  if ($relay) {
    $ip = $relay->{ip} || '';
    $helo = $relay->{helo} || '';
    $ip = _client_ip_of_received($pms, $ip) if $ip ne '';
  }
  my $from = $pms->get('EnvelopeFrom:addr', undef);
  $from = '' unless defined $from;
  $from =~ s/^<|>$//g;
  dbg("credence: envelope ip=%s helo=%s from=%s%s", $ip || '(none)', $helo || '(none)',
      $from || '<>', $ip eq '' ? ' (no untrusted Received field: SPF not evaluated)' : '');
  return ($ip, $helo, $from);
}

# SpamAssassin's Received parser takes the first address literal of the field, wherever it
# is. Postfix writes the client's HELO before its own view and keeps a HELO's spaces and
# brackets ("EHLO x y [192.0.2.7]" gives "from x y [192.0.2.7] (unknown [IP])"), so that
# literal can be one the sender wrote (an address the From domain's SPF lists: SPF and DMARC
# pass). The client is the first literal of the from clause's first comment, where the MTA
# writes what it saw ("from HELO (RDNS [IP])", Exim's "from NAME ([IP] helo=X)"), outside
# helo= and ident= tokens; else the from word itself (Exim's "from [IP] (helo=X)"). Read in the
# topmost Received field that names SpamAssassin's address.
sub _client_ip_of_received {
  my ($pms, $ip) = @_;
  for my $field ($pms->{msg}->get_header('Received')) {
    my $text = $field;
    $text =~ s/\r?\n[ \t]+/ /g;
    next unless index(lc $text, '[' . lc($ip) . ']') >= 0
             || index(lc $text, '[ipv6:' . lc($ip) . ']') >= 0;
    my ($word, $rest) = $text =~ /^\s*from\s+(\S+)(.*)\z/is or return $ip;
    my $client;
    if ($rest =~ /^[^(]*\(((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*)\)/s) {  # the first comment
      my $comment = $1;
      $comment =~ s/\b(?:helo|ident)=\S*//gi;
      $client = lc $1 if $comment =~ /\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/i;
    }
    $client = lc $1 if !defined $client && $word =~ /^\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/i;
    return $ip unless defined $client;
    dbg("credence: Received field names %s, the client is %s", $ip, $client) if $client ne lc $ip;
    return $client;
  }
  return $ip;
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

# The wait in seconds (credence_timeout, at least 0.1).
sub _timeout {
  my ($conf) = @_;
  my $t = untaint_var($conf->{credence_timeout});
  $t = 7 unless defined $t && $t =~ /^\d+(?:\.\d+)?$/;
  return $t < 0.1 ? 0.1 : $t;
}

# Asks the service. Returns (decoded answer, undef) or (undef, error text).
sub _ask_service {
  my ($self, $pms, $msg, $ip, $helo, $from) = @_;
  my $conf = $pms->{conf};
  # spamassassin and spamd run under taint mode (-T): configuration values are tainted.
  my $where = untaint_var($conf->{credence_socket});
  my $timeout = _timeout($conf);
  my $deadline = time + $timeout;
  my $sock;
  if ($where =~ m{^/}) {
    $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $where, Timeout => $timeout);
    # Only a missing socket file is "absent" (the fallback's case); a socket this user may
    # not reach says so ("Permission denied": see the socket's group, docs/spamassassin.md).
    return (undef, 'absent') if !$sock && $!{ENOENT};
  } else {
    $sock = IO::Socket::INET->new(PeerAddr => $where, Proto => 'tcp', Timeout => $timeout);
  }
  return (undef, "cannot connect to $where: $!") unless $sock;
  my $line = join(' ', PROTOCOL_TAG, 'VERIFY', length($msg), 'ip=' . _encode($ip),
                  'helo=' . _encode($helo), 'from=' . _encode($from),
                  'timeout=' . int($timeout * 1000)) . "\n";
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
  return (undef, sprintf('no answer within %.1f s', $timeout))
    unless defined $len && $len =~ /^(\d{1,9})$/;
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
  my $timeout = _timeout($conf);
  my @extra = split(' ', $conf->{credence_verify_args});
  my @cmd = ($path, 'verify', '--format', 'json', '--quiet');
  push @cmd, '--client-ip', $ip if $ip ne '';
  push @cmd, '--helo', $helo if $helo ne '';
  push @cmd, '--mail-from', $from if $from ne '';
  # Two tries per DNS question within a fifth of the wait each (at most the 60 s credence
  # takes), unless the admin chose.
  my $dns_ms = int($timeout * 1000 / 5) || 1;
  $dns_ms = 60000 if $dns_ms > 60000;
  push @cmd, '--dns-timeout', $dns_ms
    unless grep { $_ eq '--dns-timeout' } @extra;
  push @cmd, @extra, '-';
  # Arguments go to exec as a list (no shell); taint mode still wants them untainted.
  @cmd = map { untaint_var($_) } @cmd;
  local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
  delete local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
  unless ($announced{$path}++) {
    my $version = `$path --version 2>/dev/null` || 'version unknown';
    chomp $version;
    info("credence: the socket is absent: running $path ($version) for each message");
  }
  my ($in, $outfh, $err) = (gensym, gensym, gensym);
  my $pid = eval { open3($in, $outfh, $err, @cmd) };
  return (undef, "cannot run $path: $@") unless $pid;
  print $in $msg;
  close($in);
  my $out = '';
  my $deadline = time + $timeout;
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

# The evaluation for this message, asked once and kept on the PerMsgStatus; undef without a
# verdict ($pms->{credence_error} says why).
sub _result {
  my ($self, $pms) = @_;
  return $pms->{credence_result} if exists $pms->{credence_result};
  my $msg = $pms->{msg}->get_pristine();
  my ($ip, $helo, $from) = _envelope($pms);
  my ($obj, $err) = $self->_ask_service($pms, $msg, $ip, $helo, $from);
  if (!$obj && $err eq 'absent') {
    if ($pms->{conf}->{credence_fallback}) {
      ($obj, $err) = $self->_run_verify($pms, $msg, $ip, $helo, $from);
    } else {
      $err = 'socket ' . $pms->{conf}->{credence_socket} . ' absent';
    }
  }
  if ($obj && $obj->{error}) {
    $err = 'service error: ' . ($obj->{code} || '?') . ": $obj->{error}";
    $obj = undef;
  }
  info("credence: no verdict: $err") unless $obj;
  $pms->{credence_result} = $obj;
  $pms->{credence_error} = $err;
  return $obj;
}

sub _mode {
  my ($pms) = @_;
  my $mode = $pms->{conf}->{credence_score_mode} || 'rules';
  return $mode =~ /^(?:rules|total|symbols)$/ ? $mode : 'rules';
}

# header CREDENCE eval:check_credence()
# Lists credence's symbols and score. Carries credence's score in "total" mode; informational
# otherwise.
sub check_credence {
  my ($self, $pms) = @_;
  my $obj = $self->_result($pms);
  return 0 unless $obj;
  my $rule = $pms->get_current_eval_rule_name();
  my @symbols = map { sprintf('%s(%+.2f)', $_->{name}, $_->{weight}) } @{ $obj->{symbols} || [] };
  my $score = $obj->{score} || 0;
  $pms->test_log(sprintf('credence score %+.2f: %s', $score,
                         @symbols ? join(' ', @symbols) : 'no symbols'), $rule);
  $score = INFO_SCORE if _mode($pms) ne 'total' || $score == 0;
  $pms->got_hit($rule, '', ruletype => 'header', score => $score);
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
    my $rule = $pms->get_current_eval_rule_name();
    $pms->test_log($s->{description}, $rule)
      if defined $s->{description} && $s->{description} ne '';
    my $mode = _mode($pms);
    return 1 if $mode eq 'rules';  # the rule's own score line
    my $w = $mode eq 'symbols' ? ($s->{weight} || 0) : 0;
    $pms->got_hit($rule, '', ruletype => 'header', score => ($w == 0 ? INFO_SCORE : $w));
    return 0;
  }
  return 0;
}

# header CREDENCE_FORGED_AR eval:check_credence_forged_ar()
# RFC 8601 §5: an Authentication-Results field that carries our authserv-id and was not added
# by our MTA is a forgery. SpamAssassin cannot remove it; this rule scores it.
sub check_credence_forged_ar {
  my ($self, $pms) = @_;
  my $obj = $self->_result($pms);
  return 0 unless $obj;
  my $forged = $obj->{forged_authentication_results};
  return 0 unless ref $forged eq 'ARRAY' && @$forged;
  my $rule = $pms->get_current_eval_rule_name();
  $pms->test_log(sprintf('%d field(s) with authserv-id %s', scalar @$forged,
                         _authserv_id($obj)), $rule);
  return 1;
}

# header CREDENCE_UNAVAILABLE eval:check_credence_unavailable()
sub check_credence_unavailable {
  my ($self, $pms) = @_;
  return 0 if $self->_result($pms);
  my $rule = $pms->get_current_eval_rule_name();
  $pms->test_log($pms->{credence_error} || 'no verdict', $rule);
  return 1;
}

sub _authserv_id {
  my ($obj) = @_;
  my $ar = $obj->{authentication_results} || '';
  return $ar =~ /^\s*([^;\s]+)/ ? $1 : '?';
}

1;
