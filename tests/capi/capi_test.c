/* Drives libcredence.so through its C ABI only (C99): the example zone and messages of
 * tests/data/example, every accessor, and the error paths (NULL arguments, bad DNS spec,
 * garbage and empty messages). Run under valgrind or ASan to check for leaks.
 *
 *   capi_test DATA_DIR      (DATA_DIR = tests/data/example)
 *
 * Prints one "ok"/"FAIL" line per check; exits 1 if any check failed. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, close, unlink */
#include <credence/credence.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_checks = 0;
static int g_failures = 0;

static void check(int cond, const char* what, int line) {
  ++g_checks;
  if (!cond) {
    ++g_failures;
    printf("FAIL line %d: %s\n", line, what);
  }
}
#define CHECK(cond) check((cond), #cond, __LINE__)
#define CHECK_STR(got, want) \
  check((got) != NULL && strcmp((got), (want)) == 0, #got " == " #want, __LINE__)

static char* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  char* buf;
  long n;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  buf = (char*)malloc((size_t)n + 1);
  if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
    *len = (size_t)n;
  }
  return buf;
}

static const char* g_dir;

/* Verifies DATA_DIR/name with the 192.0.2.1 / mail.example.com / alice@example.com envelope. */
static credence_result_t* verify_file(credence_t* h, const char* name) {
  char path[4096];
  size_t len = 0;
  char* msg;
  char* err = NULL;
  credence_result_t* r;
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  msg = read_file(path, &len);
  if (msg == NULL) {
    printf("FAIL: cannot read %s\n", path);
    ++g_failures;
    return NULL;
  }
  r = credence_verify(h, msg, len, "192.0.2.1", "mail.example.com", "alice@example.com", &err);
  free(msg); /* convention 4: credence copied what it needs */
  if (r == NULL) printf("FAIL: verify %s: %s\n", name, err ? err : "(no message)");
  credence_free(err);
  return r;
}

static credence_t* open_offline(void) {
  char zone[4096];
  char* err = NULL;
  credence_options_t* o = credence_options_create();
  credence_t* h;
  snprintf(zone, sizeof zone, "%s/example.zone", g_dir);
  CHECK(o != NULL);
  CHECK(credence_options_add_zone_file(o, zone, &err) == 0);
  CHECK(credence_options_set_authserv_id(o, "mx.example.net", &err) == 0);
  CHECK(credence_options_set_deadline_ms(o, 5000, &err) == 0);
  credence_options_set_fixed_time(o, 1700000100);
  h = credence_open(o, &err);
  credence_options_destroy(o); /* convention 4: may go right after open */
  CHECK(h != NULL);
  CHECK(err == NULL);
  credence_free(err);
  return h;
}

static void test_library(void) {
  CHECK(credence_abi_version() == CREDENCE_ABI_VERSION);
  CHECK(credence_version() != NULL && strchr(credence_version(), '.') != NULL);
  credence_free(NULL);
}

static void test_pass(credence_t* h) {
  credence_result_t* r = verify_file(h, "01-rsa-sha256-pass.eml");
  const char* json;
  size_t json_len = 0;
  size_t i, n;
  int saw_dkim_pass = 0;
  CHECK(r != NULL);
  if (r == NULL) return;
  CHECK(credence_result_dkim_count(r) == 1);
  CHECK_STR(credence_result_dkim_result(r, 0), "pass");
  CHECK_STR(credence_result_dkim_reason(r, 0), "");
  CHECK_STR(credence_result_dkim_domain(r, 0), "example.com");
  CHECK_STR(credence_result_dkim_selector(r, 0), "rsa2048");
  CHECK(credence_result_dkim_result(r, 1) == NULL);
  CHECK(credence_result_dkim_domain(r, 99) == NULL);
  /* The example zone has no SPF or DMARC records. */
  CHECK_STR(credence_result_spf(r), "none");
  CHECK_STR(credence_result_spf_helo(r), "none");
  CHECK_STR(credence_result_dmarc(r), "none");
  CHECK_STR(credence_result_dmarc_policy(r), "");
  CHECK_STR(credence_result_dmarc_disposition(r), "none");
  CHECK_STR(credence_result_dmarc_from_domain(r), "example.com");
  CHECK(credence_result_dmarc_reason(r) != NULL);
  /* No ARC sets. */
  CHECK_STR(credence_result_arc(r), "none");
  CHECK_STR(credence_result_arc_reason(r), "");
  CHECK_STR(credence_result_arc_sealers(r), "");
  CHECK(credence_result_arc_override(r) == 0);
  /* A-R: our authserv-id first, no leading space, one line; folded starts with a space. */
  CHECK(strncmp(credence_result_authres(r), "mx.example.net;", 15) == 0);
  CHECK(strstr(credence_result_authres(r), "dkim=pass") != NULL);
  CHECK(strstr(credence_result_authres(r), "header.d=example.com") != NULL);
  CHECK(strchr(credence_result_authres(r), '\n') == NULL);
  CHECK(credence_result_authres_folded(r)[0] == ' ');
  CHECK(strstr(credence_result_authres_folded(r), "dkim=pass") != NULL);
  /* Score: DKIM pass is -0.2 by default; the sum of symbol weights is the score. */
  n = credence_result_symbol_count(r);
  CHECK(n >= 1);
  {
    double sum = 0;
    for (i = 0; i < n; ++i) {
      CHECK(credence_result_symbol_name(r, i) != NULL);
      CHECK(credence_result_symbol_description(r, i) != NULL);
      sum += credence_result_symbol_weight(r, i);
      if (strcmp(credence_result_symbol_name(r, i), "CREDENCE_DKIM_PASS") == 0) saw_dkim_pass = 1;
    }
    CHECK(sum - credence_result_score(r) < 1e-9 && credence_result_score(r) - sum < 1e-9);
  }
  CHECK(saw_dkim_pass);
  CHECK(credence_result_symbol_name(r, n) == NULL);
  CHECK(credence_result_symbol_weight(r, n) == 0);
  CHECK(credence_result_score(r) < 0);
  CHECK(credence_result_score_tenths(r) == (long)(credence_result_score(r) * 10 - 0.5));
  CHECK(credence_result_forged_authres_count(r) == 0);
  CHECK(credence_result_forged_authres_index(r, 0) == (size_t)-1);
  json = credence_result_json(r, &json_len);
  CHECK(json != NULL && json_len == strlen(json));
  CHECK(json != NULL && json[0] == '{' && json[json_len - 1] == '}');
  CHECK(json != NULL && strstr(json, "\"authentication_results\"") != NULL);
  CHECK(json != NULL && strstr(json, "\"dkim\"") != NULL);
  CHECK(credence_result_json(r, NULL) == json);
  credence_result_destroy(r);
}

static void test_verdicts(credence_t* h) {
  credence_result_t* r = verify_file(h, "02-ed25519-pass.eml");
  if (r != NULL) {
    CHECK(credence_result_dkim_count(r) == 1);
    CHECK_STR(credence_result_dkim_result(r, 0), "pass");
    CHECK_STR(credence_result_dkim_selector(r, 0), "ed25519");
    credence_result_destroy(r);
  }
  r = verify_file(h, "03-tampered-body.eml");
  if (r != NULL) {
    CHECK_STR(credence_result_dkim_result(r, 0), "fail");
    CHECK_STR(credence_result_dkim_reason(r, 0), "body_hash_mismatch");
    CHECK(strstr(credence_result_authres(r), "dkim=fail") != NULL);
    CHECK(credence_result_score(r) > 0);
    CHECK(credence_result_score_tenths(r) > 0);
    credence_result_destroy(r);
  }
  r = verify_file(h, "04-testing-key.eml");
  if (r != NULL) {
    CHECK(credence_result_dkim_count(r) == 1);
    CHECK_STR(credence_result_dkim_selector(r, 0), "testing");
    credence_result_destroy(r);
  }
}

static void test_forged_authres(credence_t* h) {
  static const char msg[] =
      "Authentication-Results: other.example; dkim=pass\r\n"
      "Authentication-Results: mx.example.net; dkim=pass header.d=example.com\r\n"
      "From: <alice@example.com>\r\n"
      "Subject: forged\r\n"
      "\r\n"
      "body\r\n";
  char* err = NULL;
  credence_result_t* r = credence_verify(h, msg, sizeof msg - 1, NULL, NULL, NULL, &err);
  CHECK(r != NULL);
  if (r == NULL) {
    credence_free(err);
    return;
  }
  CHECK(credence_result_forged_authres_count(r) == 1);
  CHECK(credence_result_forged_authres_index(r, 0) == 1);
  CHECK(credence_result_dkim_count(r) == 0);
  CHECK(strstr(credence_result_authres(r), "dkim=none") != NULL);
  CHECK_STR(credence_result_spf(r), "none"); /* no client IP: SPF not evaluated */
  credence_result_destroy(r);
}

/* The message may hold any byte, NUL included, and needs no terminator. */
static void test_binary_message(credence_t* h) {
  static const char msg[] = "From: <a@example.com>\nSubject: x\n\nbody\0with NUL\n";
  char* err = NULL;
  credence_result_t* r = credence_verify(h, msg, sizeof msg - 1, "", "", "", &err);
  CHECK(r != NULL);
  CHECK(err == NULL);
  credence_result_destroy(r);
  credence_free(err);
}

static void test_errors(credence_t* h) {
  char* err = NULL;
  credence_options_t* o = credence_options_create();
  static const char garbage[] = "\x01\x02 this is not : a message\n\x7f\xff\n";
  static const char msg[] = "From: <a@example.com>\n\nx\n";

  /* NULL handles and arguments: -1 / NULL with a message, never a crash. */
  CHECK(credence_verify(NULL, msg, sizeof msg - 1, NULL, NULL, NULL, &err) == NULL);
  CHECK(err != NULL && strstr(err, "handle") != NULL);
  /* *errptr set from before: freed and replaced (convention 3). */
  CHECK(credence_verify(h, NULL, 10, NULL, NULL, NULL, &err) == NULL);
  CHECK(err != NULL && strstr(err, "NULL") != NULL);
  CHECK(credence_verify(h, msg, 0, NULL, NULL, NULL, &err) == NULL);
  CHECK(err != NULL && strstr(err, "empty") != NULL);
  CHECK(credence_verify(h, "", 0, NULL, NULL, NULL, &err) == NULL);
  CHECK(err != NULL && strstr(err, "not a message") != NULL);
  /* errptr may be NULL: the message is dropped. */
  CHECK(credence_verify(h, "", 0, NULL, NULL, NULL, NULL) == NULL);
  /* Any non-empty bytes are judged (convention 8): no header fields is no From, which scores
   * like a DMARC reject rather than being waved through as "not a message". */
  {
    credence_result_t* g = credence_verify(h, garbage, sizeof garbage - 1, NULL, NULL, NULL, &err);
    CHECK(g != NULL);
    CHECK(strcmp(credence_result_dmarc(g), "permerror") == 0);
    /* The reason of a permerror is the A-R's reason= ("no From field" or so). */
    CHECK(credence_result_dmarc_reason(g)[0] != '\0');
    CHECK(strstr(credence_result_authres(g), credence_result_dmarc_reason(g)) != NULL);
    CHECK(credence_result_score_tenths(g) >= 20);
    credence_result_destroy(g);
    g = credence_verify(h, "\n\n\n", 3, NULL, NULL, NULL, &err);
    CHECK(g != NULL && credence_result_score_tenths(g) >= 20);
    credence_result_destroy(g);
  }
  /* A prefix of a larger message: judged as cut, the cut named, CREDENCE_LIMIT added. */
  {
    credence_result_t* p = credence_verify_prefix(h, msg, sizeof msg - 1, 1000000, NULL, NULL,
                                                  NULL, &err);
    CHECK(p != NULL);
    CHECK(credence_result_limit_count(p) == 1);
    CHECK(strstr(credence_result_limit(p, 0), "message of 1000000 bytes") != NULL);
    CHECK(credence_result_limit(p, 1) == NULL);
    int limit_symbol = 0;
    for (size_t i = 0; i < credence_result_symbol_count(p); ++i) {
      if (strcmp(credence_result_symbol_name(p, i), "CREDENCE_LIMIT") == 0) limit_symbol = 1;
    }
    CHECK(limit_symbol);
    credence_result_destroy(p);
    CHECK(credence_result_limit_count(NULL) == 0);
  }
  /* Forged A-R recognition without a result. */
  {
    static const char ours[] = " MX.example.net; dmarc=pass";
    static const char other[] = " (comment) mx.other.example; dmarc=pass";
    CHECK(credence_authres_is_ours(h, ours, sizeof ours - 1) == 1);
    CHECK(credence_authres_is_ours(h, other, sizeof other - 1) == 0);
    CHECK(credence_authres_is_ours(NULL, ours, sizeof ours - 1) == 0);
    CHECK(credence_authres_is_ours(h, NULL, 0) == 0);
  }
  CHECK(credence_open(NULL, &err) == NULL);
  CHECK(credence_options_set_dns_server(NULL, "127.0.0.1", &err) == -1);

  /* Bad DNS server specs. */
  CHECK(credence_options_set_dns_server(o, "dns.example.com", &err) == -1);
  CHECK(credence_options_set_dns_server(o, "127.0.0.1:99999", &err) == -1);
  CHECK(credence_options_set_dns_server(o, "", &err) == -1);
  CHECK(credence_options_set_dns_server(o, NULL, &err) == -1);
  CHECK(credence_options_set_dns_server(o, "127.0.0.1:5353", &err) == 0);
  CHECK(credence_options_set_dns_server(o, "[::1]:5353", &err) == 0);
  /* Other setters. */
  CHECK(credence_options_set_authserv_id(o, "bad id;", &err) == -1);
  CHECK(credence_options_set_authserv_id(o, "", &err) == -1);
  CHECK(credence_options_set_authserv_id(o, NULL, &err) == -1);
  CHECK(credence_options_set_deadline_ms(o, 0, &err) == -1);
  CHECK(credence_options_set_dns_timeout_ms(o, 0, &err) == -1);
  CHECK(credence_options_set_dns_timeout_ms(o, 700000, &err) == -1);
  CHECK(credence_options_set_dns_timeout_ms(o, 60001, &err) == -1);  /* c-ares's bound */
  CHECK(credence_options_add_zone_file(o, NULL, &err) == -1);
  CHECK(credence_options_add_zone_file(o, "", &err) == -1);
  CHECK(credence_options_set_config_file(o, NULL, &err) == -1);
  credence_options_set_fixed_time(NULL, 0);

  /* A zone file that does not exist fails at open. */
  CHECK(credence_options_add_zone_file(o, "/nonexistent/credence.zone", &err) == 0);
  CHECK(credence_open(o, &err) == NULL);
  CHECK(err != NULL && strstr(err, "/nonexistent/credence.zone") != NULL);
  credence_options_destroy(o);

  /* Accessors given NULL. */
  CHECK(credence_result_authres(NULL) == NULL);
  CHECK(credence_result_score(NULL) == 0);
  CHECK(credence_result_score_tenths(NULL) == 0);
  CHECK(credence_result_symbol_count(NULL) == 0);
  CHECK(credence_result_dkim_count(NULL) == 0);
  CHECK(credence_result_spf(NULL) == NULL);
  CHECK(credence_result_dmarc(NULL) == NULL);
  CHECK(credence_result_dmarc_reason(NULL) == NULL);
  CHECK(credence_result_arc(NULL) == NULL);
  CHECK(credence_result_arc_reason(NULL) == NULL);
  CHECK(credence_result_arc_sealers(NULL) == NULL);
  CHECK(credence_result_arc_override(NULL) == 0);
  CHECK(credence_result_json(NULL, NULL) == NULL);
  CHECK(credence_result_forged_authres_index(NULL, 0) == (size_t)-1);
  credence_result_destroy(NULL);
  credence_close(NULL);
  credence_options_destroy(NULL);
  credence_free(err);
}

/* A DNS server where nothing answers: verification still returns a result, with temperror,
 * within the deadline. */
static void test_dns_down(const char* message_name) {
  char* err = NULL;
  credence_options_t* o = credence_options_create();
  credence_t* h;
  CHECK(credence_options_set_dns_server(o, "127.0.0.1:9", &err) == 0);
  CHECK(credence_options_set_dns_timeout_ms(o, 200, &err) == 0);
  CHECK(credence_options_set_deadline_ms(o, 1000, &err) == 0);
  h = credence_open(o, &err);
  credence_options_destroy(o);
  CHECK(h != NULL);
  if (h != NULL) {
    credence_result_t* r = verify_file(h, message_name);
    CHECK(r != NULL);
    if (r != NULL) {
      CHECK_STR(credence_result_dkim_result(r, 0), "temperror");
      CHECK_STR(credence_result_spf(r), "temperror");
      credence_result_destroy(r);
    }
    credence_close(h);
  }
  credence_free(err);
}

/* Writes `text` to a new temporary file; its path goes to `path` (PATH_MAX-sized). */
static int write_temp(const char* text, char* path) {
  int fd;
  size_t len = strlen(text);
  strcpy(path, "/tmp/credence-capi-XXXXXX");
  fd = mkstemp(path);
  if (fd < 0) return -1;
  if (write(fd, text, len) != (ssize_t)len) {
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

/* A TOML configuration file: its authserv-id and weights apply; explicit setters win; a bad
 * file fails credence_open() naming the file and the key. */
static void test_config_file(void) {
  char zone[4096], good[64], bad[64];
  char* err = NULL;
  credence_options_t* o;
  credence_t* h;
  snprintf(zone, sizeof zone, "%s/example.zone", g_dir);
  CHECK(write_temp("authserv_id = \"cfg.example\"\n"
                   "[score.weights]\nCREDENCE_DKIM_PASS = -3.0\n", good) == 0);
  CHECK(write_temp("authserv_id = \"cfg.example\"\nno_such_key = 1\n", bad) == 0);

  o = credence_options_create();
  CHECK(credence_options_add_zone_file(o, zone, &err) == 0);
  CHECK(credence_options_set_config_file(o, good, &err) == 0);
  credence_options_set_fixed_time(o, 1700000100);
  h = credence_open(o, &err);
  CHECK(h != NULL);
  if (h != NULL) {
    credence_result_t* r = verify_file(h, "01-rsa-sha256-pass.eml");
    if (r != NULL) {
      CHECK(strncmp(credence_result_authres(r), "cfg.example;", 12) == 0);
      CHECK(credence_result_score_tenths(r) <= -30);
      credence_result_destroy(r);
    }
    credence_close(h);
  }
  /* An explicit authserv-id wins over the file's. */
  CHECK(credence_options_set_authserv_id(o, "explicit.example", &err) == 0);
  h = credence_open(o, &err);
  CHECK(h != NULL);
  if (h != NULL) {
    credence_result_t* r = verify_file(h, "01-rsa-sha256-pass.eml");
    if (r != NULL) {
      CHECK(strncmp(credence_result_authres(r), "explicit.example;", 17) == 0);
      credence_result_destroy(r);
    }
    credence_close(h);
  }
  /* A bad file: open fails, naming the file and the key. */
  CHECK(credence_options_set_config_file(o, bad, &err) == 0);
  CHECK(credence_open(o, &err) == NULL);
  CHECK(err != NULL && strstr(err, bad) != NULL && strstr(err, "no_such_key") != NULL);
  CHECK(credence_options_set_config_file(o, "/nonexistent/credence.toml", &err) == 0);
  CHECK(credence_open(o, &err) == NULL);
  credence_options_destroy(o);
  credence_free(err);
  unlink(good);
  unlink(bad);
}

/* credence_result_record_history: only when the host asks, and only with [history] enabled;
 * a store that cannot be written costs the row (0, a log line), never the verdict. */
static void test_history(void) {
  char zone_path[4096], zone[64], cfg[64], broken[64], db[64], text[512];
  char* zone_text;
  size_t len = 0;
  char* err = NULL;
  credence_options_t* o;
  credence_t* h;
  credence_result_t* r;
  snprintf(zone_path, sizeof zone_path, "%s/example.zone", g_dir);
  zone_text = read_file(zone_path, &len);
  CHECK(zone_text != NULL);
  if (zone_text == NULL) return;
  zone_text = realloc(zone_text, len + 200);
  strcpy(zone_text + len, "\n_dmarc IN TXT \"v=DMARC1; p=none; rua=mailto:d@example.com\"\n");
  CHECK(write_temp(zone_text, zone) == 0);
  free(zone_text);
  strcpy(db, "/tmp/credence-capi-db-XXXXXX");
  CHECK(mkstemp(db) >= 0);
  snprintf(text, sizeof text,
           "[history]\nenabled = true\nstore = \"sqlite:%s\"\n", db);
  CHECK(write_temp(text, cfg) == 0);
  CHECK(write_temp("[history]\nenabled = true\nstore = \"sqlite:/nonexistent/dir/h.db\"\n"
                   "retry_after_s = 3600\n", broken) == 0);

  o = credence_options_create();
  CHECK(credence_options_add_zone_file(o, zone, &err) == 0);
  CHECK(credence_options_set_config_file(o, cfg, &err) == 0);
  credence_options_set_fixed_time(o, 1700000100);
  h = credence_open(o, &err);
  CHECK(h != NULL);
  if (h != NULL) {
    r = verify_file(h, "01-rsa-sha256-pass.eml");
    if (r != NULL) {
      CHECK(strcmp(credence_result_dmarc(r), "pass") == 0);
      CHECK(credence_result_record_history(h, r, "bob@example.net", &err) == 1);
      CHECK(err == NULL);
      CHECK(credence_result_record_history(h, r, NULL, &err) == 1);
      CHECK(credence_result_record_history(NULL, r, NULL, &err) == -1);
      CHECK(err != NULL);
      credence_free(err);
      err = NULL;
      credence_result_destroy(r);
    }
    credence_close(h);
  }
  /* A store that cannot be opened: 0, and once a line for the host's log. */
  CHECK(credence_options_set_config_file(o, broken, &err) == 0);
  h = credence_open(o, &err);
  CHECK(h != NULL);
  if (h != NULL) {
    r = verify_file(h, "01-rsa-sha256-pass.eml");
    if (r != NULL) {
      CHECK(strcmp(credence_result_dmarc(r), "pass") == 0);
      CHECK(credence_result_record_history(h, r, "bob@example.net", &err) == 0);
      CHECK(err != NULL && strstr(err, "record not written") != NULL);
      credence_free(err);
      err = NULL;
      CHECK(credence_result_record_history(h, r, "bob@example.net", &err) == 0);
      CHECK(err == NULL); /* rate-limited: once per retry_after_s */
      credence_result_destroy(r);
    }
    credence_close(h);
  }
  credence_options_destroy(o);
  /* Without [history]: nothing to write. */
  h = open_offline();
  if (h != NULL) {
    r = verify_file(h, "01-rsa-sha256-pass.eml");
    if (r != NULL) {
      CHECK(credence_result_record_history(h, r, "bob@example.net", &err) == 0);
      CHECK(err == NULL);
      credence_result_destroy(r);
    }
    credence_close(h);
  }
  unlink(zone);
  unlink(cfg);
  unlink(broken);
  unlink(db);
  snprintf(text, sizeof text, "%s-wal", db);
  unlink(text);
  snprintf(text, sizeof text, "%s-shm", db);
  unlink(text);
}

int main(int argc, char** argv) {
  credence_t* h;
  if (argc != 2) {
    fprintf(stderr, "usage: %s tests/data/example\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  test_library();
  h = open_offline();
  if (h != NULL) {
    test_pass(h);
    test_verdicts(h);
    test_forged_authres(h);
    test_binary_message(h);
    test_errors(h);
    credence_close(h);
  }
  test_config_file();
  test_history();
  test_dns_down("01-rsa-sha256-pass.eml");
  printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
