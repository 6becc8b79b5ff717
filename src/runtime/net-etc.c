/* The sandbox's /etc/resolv.conf and /etc/hosts, written into its overlay upper dir
 * before the overlay is mounted: from then on they are the sandbox's own files, which
 * it may edit like any other.
 *
 * Nameservers are the host's, read once when serve starts (the nftables table lets
 * DNS through to exactly these): /etc/resolv.conf, or, when that names only loopback
 * resolvers (systemd-resolved's 127.0.0.53 stub, unreachable from a sandbox's own
 * loopback), the upstream servers systemd-resolved lists in its own resolv.conf. Only
 * IPv4 servers count: sandboxes have no IPv6 route. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net-internal.h"
#include "runtime.h"

#define RESOLV_CONF_MAX 16384 /* larger is not a resolv.conf */

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r';
}

/* The value of "key <value>" on line (one line, not NUL-terminated), or NULL. */
static const char *line_value(const char *line, size_t len, const char *key, size_t *ret_len)
{
        size_t k = strlen(key), i;

        if (len <= k || strncmp(line, key, k) != 0 || !is_space(line[k]))
                return NULL;
        for (i = k; i < len && is_space(line[i]); i++)
                ;
        while (len > i && is_space(line[len - 1]))
                len--;
        *ret_len = len - i;
        return line + i;
}

void net_dns_parse(const char *text, struct net_dns *ret)
{
        const char *p = text;

        *ret = (struct net_dns){0};
        while (p && *p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p), vlen;
                const char *v;

                if ((v = line_value(p, len, "nameserver", &vlen))) {
                        char addr[INET_ADDRSTRLEN];
                        struct in_addr in;
                        size_t alen = strcspn(v, " \t\r#;");

                        if (alen > vlen)
                                alen = vlen;
                        if (alen < sizeof(addr)) {
                                memcpy(addr, v, alen);
                                addr[alen] = 0;
                                /* 127/8 is the host's own loopback; 0.0.0.0 means "this host" too. */
                                if (inet_pton(AF_INET, addr, &in) == 1 && (ntohl(in.s_addr) >> 24) != 127 &&
                                    in.s_addr != 0 && ret->n < NET_DNS_MAX)
                                        ret->servers[ret->n++] = ntohl(in.s_addr);
                        }
                } else if ((v = line_value(p, len, "search", &vlen)) ||
                           (v = line_value(p, len, "domain", &vlen))) {
                        /* The last of search/domain wins, as in glibc. */
                        snprintf(ret->search, sizeof(ret->search), "%.*s", (int)vlen, v);
                } else if ((v = line_value(p, len, "options", &vlen))) {
                        snprintf(ret->options, sizeof(ret->options), "%.*s", (int)vlen, v);
                }
                p = nl ? nl + 1 : NULL;
        }
}

static int read_text(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = 0;

        if (fd < 0)
                return -errno;
        while (len < size - 1) {
                ssize_t n = read(fd, buf + len, size - 1 - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = 0;
        return 0;
}

void net_dns_read_host(const char *etc_path, const char *resolved_path, struct net_dns *ret)
{
        _cleanup_free_ char *text = malloc(RESOLV_CONF_MAX);

        *ret = (struct net_dns){0};
        if (!text)
                return;
        if (read_text(etc_path, text, RESOLV_CONF_MAX) >= 0) {
                net_dns_parse(text, ret);
                ret->source = etc_path;
        }
        if (ret->n == 0 && resolved_path && read_text(resolved_path, text, RESOLV_CONF_MAX) >= 0) {
                struct net_dns upstream;

                net_dns_parse(text, &upstream);
                if (upstream.n > 0) {
                        /* The stub's search domains are the same list; take both from one file. */
                        *ret = upstream;
                        ret->source = resolved_path;
                }
        }
}

int net_resolv_conf_text(const struct net_dns *dns, char *buf, size_t size)
{
        size_t len = 0;
        int n;

        n = snprintf(buf, size, "# Written by nestbox when the sandbox was created, from the host's %s.\n",
                     dns->source ? dns->source : "resolv.conf");
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        len = (size_t)n;
        if (dns->n == 0) {
                n = snprintf(
                        buf + len, size - len,
                        "# The host lists no resolver a sandbox can reach: name resolution fails here.\n");
                if (n < 0 || (size_t)n >= size - len)
                        return -ENOBUFS;
                len += (size_t)n;
        }
        for (size_t i = 0; i < dns->n; i++) {
                char a[INET_ADDRSTRLEN];
                struct in_addr in = {.s_addr = htonl(dns->servers[i])};

                inet_ntop(AF_INET, &in, a, sizeof(a));
                n = snprintf(buf + len, size - len, "nameserver %s\n", a);
                if (n < 0 || (size_t)n >= size - len)
                        return -ENOBUFS;
                len += (size_t)n;
        }
        if (dns->search[0]) {
                n = snprintf(buf + len, size - len, "search %s\n", dns->search);
                if (n < 0 || (size_t)n >= size - len)
                        return -ENOBUFS;
                len += (size_t)n;
        }
        if (dns->options[0]) {
                n = snprintf(buf + len, size - len, "options %s\n", dns->options);
                if (n < 0 || (size_t)n >= size - len)
                        return -ENOBUFS;
                len += (size_t)n;
        }
        return (int)len;
}

int net_hosts_text(const char *hostname, char *buf, size_t size)
{
        size_t short_len = strcspn(hostname, ".");
        int n;

        /* Debian's layout: the hostname on 127.0.1.1 resolves with or without eth0 (a
         * sandbox without internet access has none). */
        if (hostname[short_len] == '.' && short_len > 0)
                n = snprintf(buf, size,
                             "127.0.0.1\tlocalhost\n127.0.1.1\t%s %.*s\n::1\tlocalhost ip6-localhost "
                             "ip6-loopback\n",
                             hostname, (int)short_len, hostname);
        else
                n = snprintf(
                        buf, size,
                        "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
                        hostname);
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        return n;
}

static int write_file_at(int dirfd, const char *name, const char *text, size_t len, uint32_t uid_base)
{
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t)len)
                return errno ? -errno : -EIO;
        /* Root inside owns it; 0644 regardless of the daemon's umask. */
        if (fchown(fd, uid_base, uid_base) < 0 || fchmod(fd, 0644) < 0)
                return -errno;
        return 0;
}

int net_etc_write(int upper_fd, const char *const *layers, uint32_t uid_base, const char *hostname,
                  const struct net_dns *dns, struct nb_error *err)
{
        _cleanup_close_ int etc_fd = -EBADF;
        struct stat st = {.st_mode = S_IFDIR | 0755};
        char resolv[1024], hosts[512];
        int r, n_resolv, n_hosts;

        n_resolv = net_resolv_conf_text(dns, resolv, sizeof(resolv));
        n_hosts = net_hosts_text(hostname, hosts, sizeof(hosts));
        if (n_resolv < 0 || n_hosts < 0)
                return nb_error_set(err, -ENOBUFS,
                                    "the sandbox's /etc/resolv.conf or /etc/hosts is too long");

        /* etc/ in the upper dir shadows the template's attributes of /etc: copy them, as
         * overlayfs' own copy-up would (layer ids 0..65535 are the sandbox's from uid_base). */
        for (size_t i = 0; layers && layers[i]; i++) {
                char path[4096];
                struct stat lst;

                if (snprintf(path, sizeof(path), "%s/etc", layers[i]) >= (int)sizeof(path))
                        continue;
                if (lstat(path, &lst) == 0) {
                        if (!S_ISDIR(lst.st_mode))
                                return 0; /* a template whose /etc is no directory gets nothing from us */
                        st = lst;
                        break;
                }
        }
        if (st.st_uid >= RUNTIME_UID_RANGE || st.st_gid >= RUNTIME_UID_RANGE)
                st.st_uid = st.st_gid = 0;

        if (mkdirat(upper_fd, "etc", 0700) < 0)
                return nb_error_set_errno(err, -errno, "cannot create etc/ in the sandbox's upper dir");
        etc_fd = openat(upper_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (etc_fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open etc/ in the sandbox's upper dir");
        r = write_file_at(etc_fd, "resolv.conf", resolv, (size_t)n_resolv, uid_base);
        if (r >= 0)
                r = write_file_at(etc_fd, "hosts", hosts, (size_t)n_hosts, uid_base);
        if (r < 0)
                return nb_error_set_errno(err, r,
                                          "cannot write the sandbox's /etc/resolv.conf and /etc/hosts");
        if (fchown(etc_fd, uid_base + st.st_uid, uid_base + st.st_gid) < 0 ||
            fchmod(etc_fd, st.st_mode & 07777) < 0)
                return nb_error_set_errno(err, -errno,
                                          "cannot set the owner of etc/ in the sandbox's upper dir");
        return 0;
}
