/* credence: the C ABI of the inbound mail-authentication verifier (DKIM RFC 6376/8301/8463,
 * SPF RFC 7208, DMARC RFC 9989, Authentication-Results RFC 8601, a score).
 *
 * Conventions (every function below follows them):
 *
 *  1. Opaque handles. credence_options_t (how to verify), credence_t (a verifier: its resolver,
 *     DNS cache and key cache) and credence_result_t (one message's evaluation). Each is made
 *     by a *_create / credence_open / credence_verify call and released by its own
 *     *_destroy / credence_close call. Destroy functions accept NULL and do nothing.
 *
 *  2. Buffers are pointer + length. The message is `msg`, `msg_len` bytes; it may contain any
 *     byte (NUL included) and need not be NUL-terminated. The envelope strings (client IP,
 *     HELO, MAIL FROM) and paths are NUL-terminated C strings; NULL means "not given".
 *
 *  3. Errors. Functions that can fail take `char** errptr` last. On failure they return NULL
 *     (handle-returning functions) or -1 (int-returning functions) and store a NUL-terminated
 *     message in *errptr; the caller frees it with credence_free(). *errptr must be NULL or a
 *     message from an earlier credence call (that one is freed and replaced). On success
 *     *errptr is left untouched. `errptr` itself may be NULL: the message is then dropped.
 *
 *  4. Who frees what. Only three kinds of memory cross the boundary: handles (destroy them as
 *     in 1), error messages (credence_free) and strings returned by credence_result_* accessors,
 *     which belong to the result: valid until credence_result_destroy(), never freed by the
 *     caller. credence_verify() copies what it needs from its arguments: the caller may reuse
 *     them as soon as it returns. An options object may be destroyed right after
 *     credence_open().
 *
 *  5. Thread-safety. A credence_t is NOT thread-safe: use one per thread (or lock around it).
 *     Handles share nothing with one another, so different threads may use different handles
 *     at the same time; credence_open() and credence_close() may run concurrently from any
 *     threads (they serialise process-wide library setup). credence_result_t accessors are
 *     read-only: a result may be read from several threads at once, and destroyed from any
 *     thread. credence_abi_version(), credence_version() and credence_free() may be called
 *     from any thread at any time.
 *
 *  6. Nothing crosses the boundary but return values. No C++ exception ever leaves a credence
 *     function, and no input (message bytes, envelope strings, option values, NULL pointers,
 *     out-of-range indexes) can abort the process: bad arguments are reported as in 3, and
 *     accessors given NULL or an out-of-range index return NULL / 0 as documented.
 *
 *  7. No threads, no signals. credence starts no thread and installs no signal handler. DNS
 *     (c-ares) runs its event loop inside credence_verify(), in the calling thread, bounded
 *     by the overall deadline. Every file descriptor credence opens is O_CLOEXEC.
 *
 *  8. Verdicts are results, not errors. DNS trouble gives temperror verdicts, a broken
 *     signature fail or permerror: credence_verify() still returns a result, and so does
 *     any sequence of bytes: a message over a limit (size, header fields, signatures) is
 *     judged as far as it was read, with what was left out listed (credence_result_limit)
 *     and the CREDENCE_LIMIT symbol, so a limit never makes a message score better. It fails
 *     only when the arguments are unusable (NULL handle, NULL message with a non-zero length,
 *     an empty message) or memory runs out.
 *
 * Result spellings are RFC 8601's: "pass", "fail", "softfail", "neutral", "none", "policy",
 * "temperror", "permerror".
 */
#ifndef CREDENCE_CREDENCE_H_
#define CREDENCE_CREDENCE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CREDENCE_BUILDING_LIBRARY)
#define CREDENCE_EXPORT __attribute__((visibility("default")))
#else
#define CREDENCE_EXPORT
#endif

/* The ABI this header describes. Bumped on every incompatible change (and the library's
 * SOVERSION with it); compare with credence_abi_version() at run time. */
#define CREDENCE_ABI_VERSION 1

typedef struct credence_options_t credence_options_t;
typedef struct credence_t credence_t;
typedef struct credence_result_t credence_result_t;

/* ---- Library ------------------------------------------------------------------------------ */

/* The ABI version of the loaded library (CREDENCE_ABI_VERSION when it was built). */
CREDENCE_EXPORT int credence_abi_version(void);
/* The library version, "MAJOR.MINOR.PATCH". Static storage: never free it. */
CREDENCE_EXPORT const char* credence_version(void);
/* Frees an error message (or any memory credence documents as caller-freed). NULL is fine. */
CREDENCE_EXPORT void credence_free(void* ptr);

/* ---- Options ------------------------------------------------------------------------------ */

/* A new options object with the defaults: the system's DNS resolvers (the nameserver lines
 * of /etc/resolv.conf, read by c-ares when credence_open() starts), DNS timeout 2000 ms
 * per try, no zone files, authserv-id "localhost", overall deadline 10000 ms, system clock,
 * no configuration file. Never NULL except when memory is exhausted. */
CREDENCE_EXPORT credence_options_t* credence_options_create(void);
CREDENCE_EXPORT void credence_options_destroy(credence_options_t* options);

/* The DNS server to ask: "HOST", "HOST:PORT" or "[IPV6]:PORT"; HOST is an IP address, never a
 * name. Returns 0, or -1 with *errptr set when `spec` is NULL or does not parse (options are
 * then unchanged). */
CREDENCE_EXPORT int credence_options_set_dns_server(credence_options_t* options,
                                                    const char* spec, char** errptr);
/* Timeout of one DNS try in milliseconds (two tries per question). Returns 0, or -1 when
 * `ms` is 0 or over 60000. */
CREDENCE_EXPORT int credence_options_set_dns_timeout_ms(credence_options_t* options,
                                                        unsigned ms, char** errptr);
/* Adds a BIND-style zone file. With one or more zone files the verifier works offline: every
 * question is answered from the zones and the DNS server is never asked. The file is read
 * (and checked) by credence_open(). Returns 0, or -1 when `path` is NULL or empty. */
CREDENCE_EXPORT int credence_options_add_zone_file(credence_options_t* options,
                                                   const char* path, char** errptr);
/* The authserv-id written into Authentication-Results (RFC 8601 §2.5), usually the MTA host
 * name; also the id whose existing (forged) fields are reported. Returns 0, or -1 when it is
 * not a valid authserv-id (options unchanged). */
CREDENCE_EXPORT int credence_options_set_authserv_id(credence_options_t* options,
                                                     const char* authserv_id, char** errptr);
/* Overall deadline for one credence_verify() call, DNS included, in milliseconds. Questions
 * not answered by then give temperror. Returns 0, or -1 when `ms` is 0 or over 600000. */
CREDENCE_EXPORT int credence_options_set_deadline_ms(credence_options_t* options,
                                                     unsigned ms, char** errptr);
/* Judge signature times (t=, x=) as if the time were `unix_seconds` instead of the system
 * clock (tests, re-verification of stored mail). */
CREDENCE_EXPORT void credence_options_set_fixed_time(credence_options_t* options,
                                                     int64_t unix_seconds);
/* A TOML configuration file ([authres], [limits], [dmarc], [score] ...;
 * docs/configuration.md), read and checked by credence_open(), which fails naming the file,
 * line and key on any error. The authserv-id and deadline set with the setters above take
 * precedence over the file. Returns 0, or -1 when `path` is NULL or empty. */
CREDENCE_EXPORT int credence_options_set_config_file(credence_options_t* options,
                                                     const char* path, char** errptr);

/* ---- Verifier ----------------------------------------------------------------------------- */

/* A verifier built from `options` (which may be destroyed afterwards). Returns NULL with
 * *errptr set when `options` is NULL, a zone or configuration file cannot be read or parsed,
 * or the DNS client cannot be started. */
CREDENCE_EXPORT credence_t* credence_open(const credence_options_t* options, char** errptr);
CREDENCE_EXPORT void credence_close(credence_t* handle);

/* Verifies one message: every DKIM-Signature, SPF for MAIL FROM and HELO, DMARC, the score
 * and the Authentication-Results field credence adds.
 *  - msg, msg_len: the whole message as received (header, blank line, body); CRLF or LF.
 *  - client_ip: the SMTP client's address ("192.0.2.1", "2001:db8::1"); NULL or "" means
 *    unknown: SPF is not evaluated (spf=none).
 *  - helo: the HELO/EHLO name; NULL or "": the HELO identity is not checked.
 *  - mail_from: the MAIL FROM address without <>; NULL or "": the null sender.
 * Returns a result (destroy it with credence_result_destroy), or NULL with *errptr set when
 * `handle` is NULL, `msg` is NULL with msg_len > 0, msg_len is 0, or memory runs out (see
 * convention 8). Blocks for at most the overall deadline (plus one c-ares timeout slice). */
CREDENCE_EXPORT credence_result_t* credence_verify(credence_t* handle, const char* msg,
                                                   size_t msg_len, const char* client_ip,
                                                   const char* helo, const char* mail_from,
                                                   char** errptr);
/* The same for a host that kept only the first msg_len bytes of a message of total_len bytes
 * (a cap on what it reads): the message is judged as cut (its DKIM body hashes cannot be
 * computed; the score gets CREDENCE_LIMIT). total_len <= msg_len is credence_verify(). */
CREDENCE_EXPORT credence_result_t* credence_verify_prefix(credence_t* handle, const char* msg,
                                                          size_t msg_len, size_t total_len,
                                                          const char* client_ip,
                                                          const char* helo,
                                                          const char* mail_from, char** errptr);
CREDENCE_EXPORT void credence_result_destroy(credence_result_t* result);

/* Appends the evaluation to the history store of the configuration file's [history] section
 * (docs/reports.md), for DMARC aggregate reports. Only when the host asks: the library never
 * writes history on its own. `envelope_to` is the (first) envelope recipient, an address or a
 * domain; NULL or "": unknown. Returns 1 when the record was written; 0 when there is nothing
 * to write (no [history] enabled = true, or the message had no DMARC policy) or it could not
 * be written (the store is down, the disk full, a lock not granted within busy_timeout_ms):
 * the row is dropped and counted, never the message. *errptr is then set, at most once per
 * [history] retry_after_s, to a line for the host's log. -1 with *errptr set when `handle` or
 * `result` is NULL. Bounded by the store's timeouts ([history] busy_timeout_ms,
 * connect_timeout_ms); after a failure, no write is tried for retry_after_s. */
CREDENCE_EXPORT int credence_result_record_history(credence_t* handle,
                                                   const credence_result_t* result,
                                                   const char* envelope_to, char** errptr);

/* ---- Result accessors ----------------------------------------------------------------------
 * Strings belong to the result (convention 4). Given a NULL result, string accessors return
 * NULL and numeric ones 0. */

/* The Authentication-Results field value, one line, without the field name and without a
 * leading space: "mx.example.org; dkim=pass header.d=example.com ...". */
CREDENCE_EXPORT const char* credence_result_authres(const credence_result_t* result);
/* The same value folded for a header (CRLF + TAB between elements, lines <= 78 bytes where
 * possible), starting with a space, ready to follow "Authentication-Results:". */
CREDENCE_EXPORT const char* credence_result_authres_folded(const credence_result_t* result);

/* The score delta: the sum of the symbol weights (positive = more suspicious). */
CREDENCE_EXPORT double credence_result_score(const credence_result_t* result);
/* The score in tenths, rounded half away from zero (2.35 -> 24, -0.25 -> -3), for hosts with
 * integer arithmetic (Exim). */
CREDENCE_EXPORT long credence_result_score_tenths(const credence_result_t* result);

/* The symbols that fired, in a fixed order. name/description return NULL and weight 0 for an
 * index >= count. */
CREDENCE_EXPORT size_t credence_result_symbol_count(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_symbol_name(const credence_result_t* result,
                                                        size_t index);
CREDENCE_EXPORT double credence_result_symbol_weight(const credence_result_t* result,
                                                     size_t index);
CREDENCE_EXPORT const char* credence_result_symbol_description(const credence_result_t* result,
                                                               size_t index);

/* One entry per DKIM-Signature field, top first. For an index >= count: NULL. result is an
 * RFC 8601 spelling; reason a short name ("body_hash_mismatch", "" for pass); domain is d=,
 * selector s= ("" when the signature could not be read). */
CREDENCE_EXPORT size_t credence_result_dkim_count(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_dkim_result(const credence_result_t* result,
                                                        size_t index);
CREDENCE_EXPORT const char* credence_result_dkim_reason(const credence_result_t* result,
                                                        size_t index);
CREDENCE_EXPORT const char* credence_result_dkim_domain(const credence_result_t* result,
                                                        size_t index);
CREDENCE_EXPORT const char* credence_result_dkim_selector(const credence_result_t* result,
                                                          size_t index);

/* SPF for the MAIL FROM identity (postmaster@HELO for the null sender) and for HELO;
 * "none" when the client IP was not given. */
CREDENCE_EXPORT const char* credence_result_spf(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_spf_helo(const credence_result_t* result);

/* DMARC: the result ("pass", "fail", "none", "temperror", "permerror"); the policy the Domain
 * Owner asked for ("none", "quarantine", "reject"; "" when there is no record); the
 * disposition credence recommends ("none", "quarantine", "reject"); the RFC5322.From domain
 * ("" when none could be extracted). */
CREDENCE_EXPORT const char* credence_result_dmarc(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_dmarc_policy(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_dmarc_disposition(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_dmarc_from_domain(const credence_result_t* result);
/* Why DMARC gave its result, as the Authentication-Results reason= says it (for a temperror
 * "_dmarc.example.com: REFUSED: the DNS server does not answer (recurse) for this name: ...");
 * "" for a pass and for a result without a reason. */
CREDENCE_EXPORT const char* credence_result_dmarc_reason(const credence_result_t* result);

/* ARC (RFC 8617, docs/arc.md): the chain validation result ("none", "pass", "fail"); why it
 * failed ("" for none and pass; "structure", "too_many_sets", "sealed_fail", "chain_status",
 * "message_signature", "seal", "key_dns_error", "not_evaluated"); the sealing domains, instance
 * 1 first, comma-separated ("" when there are none). credence_result_arc_override: 1 when a
 * trusted sealer's word set the DMARC disposition to none (DMARC itself stays "fail"), else 0
 * (also for NULL). The strings belong to the result; NULL for a NULL result. */
CREDENCE_EXPORT const char* credence_result_arc(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_arc_reason(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_arc_sealers(const credence_result_t* result);
CREDENCE_EXPORT int credence_result_arc_override(const credence_result_t* result);

/* Existing Authentication-Results fields carrying our authserv-id: forgeries a host should
 * remove (RFC 8601 §5). Each index counts header fields of the message as given, top first,
 * from 0 (fields a limit skipped included); index() returns (size_t)-1 for i >= count. */
CREDENCE_EXPORT size_t credence_result_forged_authres_count(const credence_result_t* result);
CREDENCE_EXPORT size_t credence_result_forged_authres_index(const credence_result_t* result,
                                                            size_t i);

/* What a limit left out of the evaluation, one sentence each ("header section over 1048576
 * bytes: 20 fields after it not read"); count 0 when the whole message was evaluated. NULL
 * for i >= count. */
CREDENCE_EXPORT size_t credence_result_limit_count(const credence_result_t* result);
CREDENCE_EXPORT const char* credence_result_limit(const credence_result_t* result, size_t i);

/* 1 when `field_value` (the bytes after "Authentication-Results:") carries this handle's
 * authserv-id (RFC 8601 §5: such a field from outside is a forgery to remove), else 0 (also
 * for NULL arguments). For hosts that must remove forgeries without a result, e.g. after
 * credence_verify() ran out of memory. */
CREDENCE_EXPORT int credence_authres_is_ours(const credence_t* handle, const char* field_value,
                                             size_t len);

/* The whole evaluation as one JSON object (the schema of `credence verify --format json`;
 * docs/cli.md), UTF-8, NUL-terminated; *len (when len is not NULL) gets its length. */
CREDENCE_EXPORT const char* credence_result_json(const credence_result_t* result, size_t* len);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CREDENCE_CREDENCE_H_ */
