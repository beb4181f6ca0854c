/* allow.c -- see allow.h. */
#include "allow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char host[TP_ALLOW_HOST_MAX]; /* lower case; an IP address canonical, no brackets */
    int port;                     /* 0: the scheme's default port */
} entry;

struct tp_allow {
    entry e[TP_ALLOW_MAX];
    size_t n;
};

tp_allow *tp_allow_create(void)
{
    return calloc(1, sizeof(tp_allow));
}

void tp_allow_destroy(tp_allow *a)
{
    free(a);
}

size_t tp_allow_count(const tp_allow *a)
{
    return a ? a->n : 0;
}

/* ------------------------------------------------------------ hosts */

/* An IP address's canonical text into out (n bytes): 1; 0 when `s` is not
 * one. */
static int canonical_ip(const char *s, char *out, size_t n)
{
    unsigned char b[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, s, b) == 1)
        return inet_ntop(AF_INET, b, out, (socklen_t)n) != NULL;
    if (inet_pton(AF_INET6, s, b) == 1)
        return inet_ntop(AF_INET6, b, out, (socklen_t)n) != NULL;
    return 0;
}

/* A host as entries and URLs keep it: an IP address canonical, a name in
 * lower case (letters, digits, '-', '_', '.'; not starting with '-' or
 * '.').  0, or -1 when it is neither. */
static int normal_host(const char *s, size_t len, char out[TP_ALLOW_HOST_MAX])
{
    char h[TP_ALLOW_HOST_MAX];
    if (len == 0 || len >= sizeof h)
        return -1;
    memcpy(h, s, len);
    h[len] = '\0';
    if (canonical_ip(h, out, TP_ALLOW_HOST_MAX))
        return 0;
    if (h[0] == '-' || h[0] == '.')
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
            return -1;
        out[i] = (char)tolower(ch);
    }
    out[len] = '\0';
    return 0;
}

/* A URL's scheme, host and port, read by libcurl as the fetch reads it:
 * 0, or -1 with what is wrong in why. */
static int url_parts(const char *url, char host[TP_ALLOW_HOST_MAX], int *port, int *https,
                     const char **why)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL;
    int rc = -1;
    *why = "not a URL";
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        size_t len = strlen(h);
        const char *start = h;
        if (len >= 2 && h[0] == '[' && h[len - 1] == ']') { /* IPv6; a zone id is refused */
            start++;
            len -= 2;
        }
        *https = strcmp(scheme, "https") == 0;
        *port = (int)strtol(p, NULL, 10);
        if (!*https && strcmp(scheme, "http") != 0)
            *why = "not an http:// or https:// URL";
        else if (normal_host(start, len, host) < 0)
            *why = "not a host name or IP address";
        else
            rc = 0;
    }
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

/* ------------------------------------------------------------ entries */

/* "HOST", "HOST:PORT", "[IPV6]", "[IPV6]:PORT", a bare IPv6 address, or a
 * URL: 0 with *e, else -1. */
static int parse_entry(const char *s, size_t len, entry *e)
{
    char buf[512];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strstr(buf, "://")) {
        int https;
        const char *why;
        return url_parts(buf, e->host, &e->port, &https, &why);
    }
    const char *host = buf, *port = NULL;
    size_t hlen = len;
    char *colon = strrchr(buf, ':');
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || (close[1] && close[1] != ':'))
            return -1;
        host = buf + 1;
        hlen = (size_t)(close - host);
        port = close[1] ? close + 2 : NULL;
    } else if (colon && strchr(buf, ':') == colon) { /* one colon: HOST:PORT */
        hlen = (size_t)(colon - buf);
        port = colon + 1;
    } /* (more than one: a bare IPv6 address) */
    e->port = 0;
    if (port) {
        char *end;
        long v = strtol(port, &end, 10);
        if (!*port || *end || v < 1 || v > 65535 || !isdigit((unsigned char)*port))
            return -1;
        e->port = (int)v;
    }
    return normal_host(host, hlen, e->host);
}

int tp_allow_add(tp_allow *a, const char *list, const char *source, tp_error *err)
{
    entry got[TP_ALLOW_MAX];
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        const char *end = p + strcspn(p, ",");
        const char *s = p, *e = end;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (a->n + n >= TP_ALLOW_MAX)
            return tp_error_set(err, TP_ELIMIT, "%s: more than %d report servers", source,
                                TP_ALLOW_MAX);
        if (parse_entry(s, (size_t)(e - s), &got[n]) < 0)
            return tp_error_set(err, TP_EINVAL,
                                "%s: \"%.*s\" is not HOST[:PORT] (a host name or IP address, "
                                "[IPv6]:PORT, or an http:// or https:// URL)",
                                source, (int)(e - s > 200 ? 200 : e - s), s);
        n++;
        p = *end ? end + 1 : end;
    }
    if (n == 0)
        return tp_error_set(err, TP_EINVAL, "%s: no report server given (HOST[:PORT],...)", source);
    memcpy(a->e + a->n, got, n * sizeof *got);
    a->n += n;
    return TP_OK;
}

/* "host:port, host, ..." into out (n bytes), shortened with "..." */
static void list_text(const tp_allow *a, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; a && i < a->n && len < n; i++) {
        int v6 = strchr(a->e[i].host, ':') != NULL;
        char port[16] = "";
        if (a->e[i].port)
            snprintf(port, sizeof port, ":%d", a->e[i].port);
        len += (size_t)snprintf(out + len, n - len, "%s%s%s%s%s", i ? ", " : "",
                                v6 && *port ? "[" : "", a->e[i].host, v6 && *port ? "]" : "", port);
    }
    if (len >= n && n > 4)
        memcpy(out + n - 4, "...", 4);
    if (!out[0])
        snprintf(out, n, "nothing");
}

int tp_allow_url(const tp_allow *a, const char *url, char host[TP_ALLOW_HOST_MAX], tp_error *err)
{
    char h[TP_ALLOW_HOST_MAX];
    int port = 0, https = 0;
    const char *why;
    if (url_parts(url, h, &port, &https, &why) < 0)
        return tp_error_set(err, TP_ECONFIG, "%.200s: %s", url, why);
    for (size_t i = 0; a && i < a->n; i++) {
        const entry *e = &a->e[i];
        if (strcmp(e->host, h) == 0 && (e->port ? e->port == port : port == (https ? 443 : 80))) {
            if (host)
                memcpy(host, h, sizeof h);
            return TP_OK;
        }
    }
    char list[400];
    list_text(a, list, sizeof list);
    return tp_error_set(err, TP_ECONFIG,
                        "report server %s%s%s:%d is not on the allow-list (the default report "
                        "server, --report-server-allow or $TILLPIPE_REPORT_SERVER_ALLOW: %s)",
                        strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "", port, list);
}

/* ------------------------------------------------------------ addresses */

/* The kind of an IPv4 address that only a literal entry reaches, or NULL. */
static const char *special_v4(const unsigned char *b)
{
    if (b[0] == 0)
        return "unspecified";
    if (b[0] == 127)
        return "loopback";
    if (b[0] == 169 && b[1] == 254)
        return "link-local (cloud metadata)";
    if (b[0] >= 224 && b[0] <= 239)
        return "multicast";
    if (b[0] >= 240)
        return "reserved";
    return NULL;
}

/* The IPv4 address inside an IPv6 one (mapped, compatible, NAT64, 6to4):
 * its 4 bytes, or NULL. */
static const unsigned char *embedded_v4(const unsigned char *b)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const unsigned char zero[12] = {0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return b + 12;
    if (memcmp(b, zero, 12) == 0 && (b[12] | b[13] | b[14]) != 0) /* not :: or ::1 */
        return b + 12;
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
        return b + 2;
    return NULL;
}

static const char *special_v6(const unsigned char *b)
{
    static const unsigned char zero[15] = {0};
    const unsigned char *v4 = embedded_v4(b);
    if (v4)
        return special_v4(v4);
    if (memcmp(b, zero, 15) == 0)
        return b[15] == 1 ? "loopback" : b[15] == 0 ? "unspecified" : NULL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link-local";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return "site-local";
    if (b[0] == 0xff)
        return "multicast";
    return NULL;
}

int tp_allow_address(const char *host, const struct sockaddr *sa, char *why, size_t n)
{
    char text[INET6_ADDRSTRLEN] = "?";
    const char *kind = NULL;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        kind = special_v4((const unsigned char *)&s4->sin_addr);
        inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        kind = special_v6(s6->sin6_addr.s6_addr);
        inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
    } else {
        snprintf(why, n, "%s: not an IP address", host);
        return 0;
    }
    /* the host is that very address: an entry named it */
    if (!kind || strcmp(host, text) == 0)
        return 1;
    snprintf(why, n,
             "%s resolves to %s, a %s address: such an address is reached only when the "
             "allow-list names it as an address",
             host, text, kind);
    return 0;
}
