/* OpenDKIM's library (libopendkim, Debian libopendkim-dev) verifying the benchmark corpus in
 * one in-process loop.
 *
 *   drive_opendkim EML_DIR 127.0.0.1 PORT
 *
 * libopendkim's DNS goes through its documented hooks (dkim_dns_set_query_start/_waitreply/
 * _cancel/_init/_close) to a tiny UDP (TCP on truncation) client for the given server only:
 * the host's resolver is never initialised or asked. Raw replies are memoized per name/type
 * for the run, as credence's TTL cache does. A message passes when its chosen signature has
 * DKIM_SIGFLAG_PASSED and a matching body hash (DKIM_SIG_CHECK). Prints one JSON line:
 * {"tool", "messages", "passes", "seconds", "cpu_seconds",
 * "dns_queries"}; timing covers reading each file and
 * verifying it.
 *
 * Build: cc -O2 -o drive_opendkim drive_opendkim.c -lopendkim
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <opendkim/dkim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY 65536
#define MAX_CACHE 4096

struct cached {
  char key[300];
  unsigned char *reply;
  size_t len;
};
static struct cached cache[MAX_CACHE];
static size_t cache_used;
static struct sockaddr_in server;
static int queries;

struct query {
  size_t len;
};

static int build_query(const char *name, int type, unsigned char *out, size_t cap) {
  size_t n = 0;
  unsigned short id = (unsigned short)(rand() & 0xffff);
  unsigned char head[12] = {id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(out, head, 12);
  n = 12;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    if (l == 0 || l > 63 || n + l + 6 > cap) break;
    out[n++] = (unsigned char)l;
    memcpy(out + n, p, l);
    n += l;
    p += l;
    if (*p == '.') p++;
  }
  out[n++] = 0;
  out[n++] = (unsigned char)(type >> 8);
  out[n++] = (unsigned char)type;
  out[n++] = 0;
  out[n++] = 1; /* class IN */
  return (int)n;
}

static ssize_t ask_tcp(const unsigned char *q, int qlen, unsigned char *buf, size_t buflen) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(s, (struct sockaddr *)&server, sizeof server) != 0) { close(s); return -1; }
  unsigned char lenb[2] = {(unsigned char)(qlen >> 8), (unsigned char)qlen};
  if (write(s, lenb, 2) != 2 || write(s, q, qlen) != qlen) { close(s); return -1; }
  size_t got = 0, want = 2;
  unsigned char hdr[2];
  while (got < want) {
    ssize_t r = read(s, hdr + got, want - got);
    if (r <= 0) { close(s); return -1; }
    got += (size_t)r;
  }
  want = ((size_t)hdr[0] << 8) | hdr[1];
  if (want > buflen) want = buflen;
  got = 0;
  while (got < want) {
    ssize_t r = read(s, buf + got, want - got);
    if (r <= 0) { close(s); return -1; }
    got += (size_t)r;
  }
  close(s);
  return (ssize_t)got;
}

static ssize_t ask(const char *name, int type, unsigned char *buf, size_t buflen) {
  unsigned char q[512];
  int qlen = build_query(name, type, q, sizeof q);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct timeval tv = {5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t n = -1;
  if (sendto(s, q, qlen, 0, (struct sockaddr *)&server, sizeof server) == qlen)
    n = recv(s, buf, buflen, 0);
  close(s);
  if (n >= 12 && (buf[2] & 0x02)) n = ask_tcp(q, qlen, buf, buflen); /* TC bit */
  return n;
}

static int q_start(void *srv, int type, unsigned char *name, unsigned char *buf, size_t buflen,
                   void **qh) {
  (void)srv;
  struct query *h = calloc(1, sizeof *h);
  char key[300];
  snprintf(key, sizeof key, "%d/%s", type, (const char *)name);
  for (size_t i = 0; i < cache_used; i++) {
    if (strcmp(cache[i].key, key) == 0) {
      h->len = cache[i].len < buflen ? cache[i].len : buflen;
      memcpy(buf, cache[i].reply, h->len);
      *qh = h;
      return 0;
    }
  }
  queries++;
  ssize_t n = ask((const char *)name, type, buf, buflen);
  if (n < 0) { free(h); return -1; }
  h->len = (size_t)n;
  if (cache_used < MAX_CACHE) {
    snprintf(cache[cache_used].key, sizeof cache[cache_used].key, "%s", key);
    cache[cache_used].reply = malloc((size_t)n);
    memcpy(cache[cache_used].reply, buf, (size_t)n);
    cache[cache_used].len = (size_t)n;
    cache_used++;
  }
  *qh = h;
  return 0;
}

static int q_wait(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error,
                  int *dnssec) {
  (void)srv;
  (void)to;
  *bytes = ((struct query *)qh)->len;
  if (error) *error = 0;
  if (dnssec) *dnssec = DKIM_DNSSEC_UNKNOWN;
  return DKIM_DNS_SUCCESS;
}

static int q_cancel(void *srv, void *qh) {
  (void)srv;
  free(qh);
  return 0;
}

static int q_init(void **srv) {
  *srv = NULL;
  return 0;
}

static void q_close(void *srv) { (void)srv; }

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s EML_DIR HOST PORT\n", argv[0]);
    return 2;
  }
  memset(&server, 0, sizeof server);
  server.sin_family = AF_INET;
  server.sin_port = htons((unsigned short)atoi(argv[3]));
  if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1) return 2;

  DKIM_LIB *lib = dkim_init(NULL, NULL);
  if (!lib) return 1;
  dkim_dns_set_init(lib, q_init);
  dkim_dns_set_close(lib, q_close);
  dkim_dns_set_query_start(lib, q_start);
  dkim_dns_set_query_waitreply(lib, q_wait);
  dkim_dns_set_query_cancel(lib, q_cancel);

  DIR *dir = opendir(argv[1]);
  if (!dir) { perror(argv[1]); return 1; }
  size_t count = 0, cap = 1024;
  char **files = malloc(cap * sizeof *files);
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l < 4 || strcmp(e->d_name + l - 4, ".eml") != 0) continue;
    if (count == cap) files = realloc(files, (cap *= 2) * sizeof *files);
    files[count] = malloc(strlen(argv[1]) + l + 2);
    sprintf(files[count++], "%s/%s", argv[1], e->d_name);
  }
  closedir(dir);
  qsort(files, count, sizeof *files, by_name);

  static unsigned char data[1 << 22];
  int passes = 0;
  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  for (size_t i = 0; i < count; i++) {
    FILE *f = fopen(files[i], "rb");
    if (!f) continue;
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    DKIM_STAT status;
    DKIM *dkim = dkim_verify(lib, (unsigned char *)files[i], NULL, &status);
    if (!dkim) continue;
    status = dkim_chunk(dkim, data, n);
    if (status == DKIM_STAT_OK) status = dkim_chunk(dkim, NULL, 0);
    if (status == DKIM_STAT_OK) status = dkim_eom(dkim, NULL);
    DKIM_SIGINFO *sig = dkim_getsignature(dkim);
    if (status == DKIM_STAT_OK && sig && DKIM_SIG_CHECK(sig)) passes++;
    dkim_free(dkim);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
  printf("{\"tool\": \"libopendkim %d.%d.%d\", \"messages\": %zu, \"passes\": %d, "
         "\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"dns_queries\": %d}\n",
         (int)(dkim_libversion() >> 24), (int)((dkim_libversion() >> 16) & 0xff),
         (int)((dkim_libversion() >> 8) & 0xff), count, passes, seconds, cpu, queries);
  dkim_close(lib);
  return 0;
}
