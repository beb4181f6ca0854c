/* allow.h -- the report servers a process may reach: the answer to
 * server-side request forgery through a branch's `report_server` (an admin
 * must not be able to send the workers to 127.0.0.1, to the cloud's
 * metadata address 169.254.169.254, or anywhere else they can reach).
 *
 * An allow-list holds HOST[:PORT] entries: a name or an IP address (IPv6 in
 * brackets when a port follows), with a port or without one -- then the
 * scheme's default port only (80 for http, 443 for https).  A URL may be
 * given instead of an entry: its host and port (explicit or the scheme's).
 * A URL is allowed when its scheme is http or https and its host and port
 * match an entry; hosts compare without regard to case, IP addresses by
 * value.  URLs are read by libcurl's own parser, the one the fetch uses, so
 * what is checked is what is reached (`http://allowed@evil/` is evil).
 *
 * Names are checked once more where it matters, when a connection is made:
 * tp_allow_address refuses loopback, link-local, unspecified, multicast and
 * reserved addresses (also inside IPv4-mapped, NAT64 and 6to4 IPv6
 * addresses) unless the URL's host is that very address, so a listed name
 * that resolves (or is re-pointed) to one is refused; such an address is
 * reachable only by listing it as an address.  Other addresses a listed
 * name resolves to, private ones included, are the operator's choice.
 */
#ifndef TP_ALLOW_H
#define TP_ALLOW_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/error.h"

#define TP_ALLOW_MAX 64       /* entries */
#define TP_ALLOW_HOST_MAX 256 /* a host name's bytes, with its NUL */

typedef struct tp_allow tp_allow;

/* An empty allow-list (nothing allowed), or NULL when out of memory. */
tp_allow *tp_allow_create(void);
/* NULL is a no-op. */
void tp_allow_destroy(tp_allow *a);

/* Add the entries of `list`: "HOST[:PORT]" or URLs, separated by commas
 * (blanks around each ignored); `source` names where they come from in
 * messages ("--report-server-allow").  0, or TP_EINVAL with err naming the
 * entry (TP_ELIMIT past TP_ALLOW_MAX entries); a refused list adds nothing. */
int tp_allow_add(tp_allow *a, const char *list, const char *source, tp_error *err);

/* The number of entries. */
size_t tp_allow_count(const tp_allow *a);

/* `url` may be used: an http:// or https:// URL whose host and port are on
 * the list `a` (NULL: an empty list).  0 with its host -- lower case, an IP
 * address in its canonical form, IPv6 without brackets -- into `host` when
 * it is not NULL; else TP_ECONFIG with err saying what is refused and what
 * the list holds. */
int tp_allow_url(const tp_allow *a, const char *url, char host[TP_ALLOW_HOST_MAX], tp_error *err);

/* May a connection for `host` (as tp_allow_url gave it) go to the address
 * `sa` (AF_INET or AF_INET6)?  1; or 0 with the reason -- the host, the
 * address and its kind -- into why[n]. */
int tp_allow_address(const char *host, const struct sockaddr *sa, char *why, size_t n);

#endif
