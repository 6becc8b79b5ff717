/* The runtime's network code: the pure parts (subnets, addresses, names, resolv.conf,
 * the ruleset text) everywhere, and the host and per-sandbox set-up as root inside a
 * network namespace of the test's own, so the machine's network is never touched:
 * bridge, nftables table, veth pair into a second namespace, eth0's address and route,
 * isolation flags, idempotence, detach. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "net-internal.h"
#include "net-test-ip.h"
#include "runtime.h"

static void test_subnet_parse(void **state)
{
        struct net_subnet s;
        struct nb_error err = {0};

        assert_int_equal(net_subnet_parse("10.88.0.0/16", &s, &err), 0);
        assert_int_equal(s.network, ip("10.88.0.0"));
        assert_int_equal(s.prefix, 16);
        assert_int_equal(net_subnet_parse("172.30.16.0/20", &s, &err), 0);
        assert_int_equal(net_subnet_parse("10.0.0.0/8", &s, &err), 0);

        assert_int_equal(net_subnet_parse("10.88.0.1/16", &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "did you mean 10.88.0.0/16?"));
        assert_int_equal(net_subnet_parse("10.88.0.0/24", &s, &err), -EINVAL); /* too small for every slot */
        assert_non_null(strstr(err.message, "/20"));
        assert_int_equal(net_subnet_parse("10.88.0.0/7", &s, &err), -EINVAL);
        assert_int_equal(net_subnet_parse("10.88.0.0", &s, &err), -EINVAL);
        assert_int_equal(net_subnet_parse("10.88.0.0/", &s, &err), -EINVAL);
        assert_int_equal(net_subnet_parse("10.88.0.0/16x", &s, &err), -EINVAL);
        assert_int_equal(net_subnet_parse("fd00::/64", &s, &err), -EINVAL);
        assert_int_equal(net_subnet_parse("", &s, &err), -EINVAL);
        assert_int_equal(net_subnet_parse(NULL, &s, &err), -EINVAL);
}

static void test_subnet_overlaps(void **state)
{
        struct net_subnet s = {ip("10.88.0.0"), 16};

        assert_true(net_subnet_overlaps(&s, ip("10.88.5.0"), 24));
        assert_true(net_subnet_overlaps(&s, ip("10.0.0.0"), 8));
        assert_true(net_subnet_overlaps(&s, ip("10.88.255.255"), 32));
        assert_false(net_subnet_overlaps(&s, ip("10.89.0.0"), 16));
        assert_false(net_subnet_overlaps(&s, ip("192.168.223.0"), 24));
}

static void test_address_mac_name(void **state)
{
        struct net_subnet s = {ip("10.88.0.0"), 16}, small = {ip("10.1.0.0"), 20};
        struct nb_error err = {0};
        char name[IF_NAMESIZE];
        uint8_t mac[6];
        uint32_t a;

        assert_int_equal(net_sandbox_address(&s, 0, &a, &err), 0);
        assert_int_equal(a, ip("10.88.0.2"));
        assert_int_equal(net_sandbox_address(&s, 3799, &a, &err), 0);
        assert_int_equal(a, ip("10.88.14.217"));
        /* /20: 4096 addresses, network, gateway and broadcast taken. */
        assert_int_equal(net_sandbox_address(&small, 4092, &a, &err), 0);
        assert_int_equal(a, ip("10.1.15.254"));
        assert_int_equal(net_sandbox_address(&small, 4093, &a, &err), -ERANGE);

        net_sandbox_mac(ip("10.88.7.210"), mac);
        assert_memory_equal(mac, ((uint8_t[]){0x02, 0x6e, 10, 88, 7, 210}), 6);

        net_link_name(name, "abcdefghijklmnopqrst");
        assert_string_equal(name, "nbabcdefghijklm");
        assert_int_equal(strlen(name), IF_NAMESIZE - 1);
        net_link_name(name, "x1");
        assert_string_equal(name, "nbx1");
}

static void test_dns_parse(void **state)
{
        struct net_dns d;

        net_dns_parse(
                "# comment\nnameserver 10.255.255.53\nnameserver 127.0.0.53\nnameserver ::1\n"
                "nameserver fd00::1\nnameserver\t8.8.8.8 # google\nnameserver 1.1.1.1\nnameserver 9.9.9.9\n"
                "search a.example b.example\noptions edns0 trust-ad\nsortlist 10.0.0.0\n",
                &d);
        assert_int_equal(d.n, 3);
        assert_int_equal(d.servers[0], ip("10.255.255.53"));
        assert_int_equal(d.servers[1], ip("8.8.8.8"));
        assert_int_equal(d.servers[2], ip("1.1.1.1"));
        assert_string_equal(d.search, "a.example b.example");
        assert_string_equal(d.options, "edns0 trust-ad");

        net_dns_parse("nameserver 127.0.0.53\noptions edns0\nsearch .\n", &d);
        assert_int_equal(d.n, 0);
        net_dns_parse("", &d);
        assert_int_equal(d.n, 0);
        net_dns_parse("nameserver 0.0.0.0\nnameservers 1.2.3.4\nnameserver 300.1.1.1\n", &d);
        assert_int_equal(d.n, 0);
        net_dns_parse("domain corp.example\r\nnameserver 10.0.0.2\r\n", &d);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.search, "corp.example");
}

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static void test_dns_read_host(void **state)
{
        char dir[] = "/tmp/nb-test-net.XXXXXX", etc[64], resolved[64], cmd[128];
        struct net_dns d;

        assert_non_null(mkdtemp(dir));
        snprintf(etc, sizeof(etc), "%s/resolv.conf", dir);
        snprintf(resolved, sizeof(resolved), "%s/resolved.conf", dir);

        /* systemd-resolved's stub: the upstream list is used instead. */
        write_text(etc, "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch stub.example\n");
        write_text(resolved, "nameserver 192.0.2.53\nsearch up.example\n");
        net_dns_read_host(etc, resolved, &d);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.servers[0], ip("192.0.2.53"));
        assert_string_equal(d.source, resolved);
        assert_string_equal(d.search, "up.example");

        /* Usable servers in /etc/resolv.conf win. */
        write_text(etc, "nameserver 198.51.100.1\n");
        net_dns_read_host(etc, resolved, &d);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.servers[0], ip("198.51.100.1"));
        assert_string_equal(d.source, etc);

        /* Nothing usable anywhere. */
        write_text(etc, "nameserver 127.0.0.1\n");
        unlink(resolved);
        net_dns_read_host(etc, resolved, &d);
        assert_int_equal(d.n, 0);

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_etc_texts(void **state)
{
        struct net_dns d = {
                .servers = {ip("10.0.0.2"), ip("10.0.0.3")}, .n = 2, .source = "/etc/resolv.conf"};
        char buf[512];

        snprintf(d.search, sizeof(d.search), "corp.example");
        assert_true(net_resolv_conf_text(&d, buf, sizeof(buf)) > 0);
        assert_string_equal(
                buf, "# Written by nestbox when the sandbox was created, from the host's /etc/resolv.conf.\n"
                     "nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\n");
        d.n = 0;
        d.search[0] = 0;
        assert_true(net_resolv_conf_text(&d, buf, sizeof(buf)) > 0);
        assert_non_null(strstr(buf, "no resolver"));
        assert_null(strstr(buf, "nameserver "));
        assert_int_equal(net_resolv_conf_text(&d, buf, 20), -ENOBUFS);

        assert_true(net_hosts_text("e2b.local", buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "127.0.0.1\tlocalhost\n127.0.1.1\te2b.local e2b\n::1\tlocalhost "
                                 "ip6-localhost ip6-loopback\n");
        assert_true(net_hosts_text("box", buf, sizeof(buf)) > 0);
        assert_non_null(strstr(buf, "127.0.1.1\tbox\n"));
}

static void test_ruleset_text(void **state)
{
        uint32_t dns[] = {ip("10.255.255.53"), ip("169.254.169.253")};
        char buf[4096];

        assert_true(net_nft_ruleset(buf, sizeof(buf), dns, 2) > 0);
        /* Replaced whole in one transaction, never merged into an older copy. */
        assert_memory_equal(buf, "table inet nestbox\ndelete table inet nestbox\ntable inet nestbox {\n",
                            61);
        assert_non_null(strstr(buf, "elements = { 10.255.255.53, 169.254.169.253 }"));
        assert_non_null(strstr(buf, "\t\tiifname \"nestbox0\" drop\n"));
        assert_non_null(strstr(buf, "ip daddr 169.254.0.0/16 jump refuse"));
        assert_non_null(strstr(buf, "iifname \"nestbox0\" oifname != \"nestbox0\" masquerade"));
        /* DNS to a link-local nameserver is let through before the link-local rule. */
        assert_true(strstr(buf, "ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept") <
                    strstr(buf, "ip daddr 169.254.0.0/16"));

        assert_true(net_nft_ruleset(buf, sizeof(buf), NULL, 0) > 0);
        assert_null(strstr(buf, "elements"));
        assert_int_equal(net_nft_ruleset(buf, 100, dns, 2), -ENOBUFS);
}

/* Chains as `nft -j list chains` gives them: Docker's table, ufw's (no DOCKER-USER), ours,
 * an accepting one, an IPv6 one and a name that cannot go into command text. */
static const char foreign_chains[] =
        "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": \"FORWARD\", \"handle\": 2,"
        " \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": \"DOCKER-USER\", \"handle\": 9}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"ufw\", \"name\": \"FORWARD\", \"handle\": 1,"
        " \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"inet\", \"table\": \"nestbox\", \"name\": \"forward\", \"handle\": 3,"
        " \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"inet\", \"table\": \"open\", \"name\": \"fw\", \"handle\": 1,"
        " \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"accept\"}},"
        "{\"chain\": {\"family\": \"ip6\", \"table\": \"filter\", \"name\": \"FORWARD\", \"handle\": 1,"
        " \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"x y\", \"name\": \"FORWARD\", \"handle\": 1,"
        " \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}}]}";

static void test_foreign_forward(void **state)
{
        struct net_nft_chain t[4];
        json_t *chains = json_loads(foreign_chains, 0, NULL), *rules;
        char *text;

        assert_non_null(chains);
        assert_int_equal(net_nft_foreign_targets(chains, t, 4), 2);
        assert_string_equal(t[0].family, "ip");
        assert_string_equal(t[0].table, "filter");
        assert_string_equal(t[0].chain, "DOCKER-USER"); /* Docker's place for its users' rules */
        assert_string_equal(t[1].table, "ufw");
        assert_string_equal(t[1].chain, "FORWARD");
        assert_int_equal(net_nft_foreign_targets(chains, t, 1), 1);
        json_decref(chains);

        /* A previous daemon's rules (comment "nestbox") are deleted, others' are not. */
        rules = json_loads("{\"nftables\": [{\"chain\": {\"name\": \"DOCKER-USER\"}},"
                           "{\"rule\": {\"chain\": \"DOCKER-USER\", \"handle\": 17, \"comment\": \"nestbox\"}},"
                           "{\"rule\": {\"chain\": \"DOCKER-USER\", \"handle\": 18, \"comment\": \"admin\"}},"
                           "{\"rule\": {\"chain\": \"DOCKER-USER\", \"handle\": 19}}]}",
                           0, NULL);
        assert_non_null(rules);
        assert_int_equal(net_nft_foreign_text(&t[0], rules, "nestbox0", &text), 0);
        assert_string_equal(text,
                            "delete rule ip filter DOCKER-USER handle 17\n"
                            "insert rule ip filter DOCKER-USER oifname \"nestbox0\" ct state established,related "
                            "accept comment \"nestbox\"\n"
                            "insert rule ip filter DOCKER-USER iifname \"nestbox0\" oifname != \"docker0\" "
                            "oifname != \"br-*\" accept comment \"nestbox\"\n");
        free(text);
        json_decref(rules);
}

static void test_etc_write(void **state)
{
        char dir[] = "/tmp/nb-test-net.XXXXXX", layer[64], upper[64], path[128], cmd[128], buf[512];
        const char *layers[] = {NULL, NULL};
        struct net_dns d = {.servers = {ip("10.0.0.2")}, .n = 1, .source = "/etc/resolv.conf"};
        struct nb_error err = {0};
        struct stat st;
        int upper_fd, fd;
        ssize_t n;

        if (geteuid() != 0)
                skip();
        assert_non_null(mkdtemp(dir));
        snprintf(layer, sizeof(layer), "%s/layer", dir);
        snprintf(upper, sizeof(upper), "%s/upper", dir);
        snprintf(path, sizeof(path), "%s/etc", layer);
        assert_int_equal(mkdir(layer, 0755), 0);
        assert_int_equal(mkdir(path, 0751), 0);
        assert_int_equal(chown(path, 0, 42), 0);
        assert_int_equal(mkdir(upper, 0755), 0);
        layers[0] = layer;

        upper_fd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(upper_fd >= 0);
        assert_int_equal(net_etc_write(upper_fd, layers, 1000000, "e2b.local", &d, &err), 0);
        close(upper_fd);

        snprintf(path, sizeof(path), "%s/etc", upper);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0751);
        assert_int_equal(st.st_uid, 1000000);
        assert_int_equal(st.st_gid, 1000042);
        snprintf(path, sizeof(path), "%s/etc/resolv.conf", upper);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_uid, 1000000);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n > 0);
        buf[n] = 0;
        assert_non_null(strstr(buf, "\nnameserver 10.0.0.2\n"));
        snprintf(path, sizeof(path), "%s/etc/hosts", upper);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_uid, 1000000);

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* ---- as root, in a network namespace of our own ------------------------------- */

static bool in_own_netns;

static int run(const char *cmd)
{
        int r = system(cmd);

        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* A second namespace, as a sandbox's: a thread unshares and hands its fd back. */
static void *make_netns(void *arg)
{
        int *fd = arg;

        if (unshare(CLONE_NEWNET) == 0)
                *fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        return NULL;
}

static int sandbox_netns(void)
{
        pthread_t t;
        int fd = -1;

        assert_int_equal(pthread_create(&t, NULL, make_netns, &fd), 0);
        pthread_join(t, NULL);
        assert_true(fd >= 0);
        return fd;
}

static void test_host_and_sandbox(void **state)
{
        struct net_dns dns = {.servers = {ip("10.255.255.53")}, .n = 1};
        struct net_host h, again;
        struct nb_error err = {0};
        bool fatal = true;
        int ns, r;
        char cmd[512];

        if (!in_own_netns)
                skip();
        /* A route that collides with the subnet is a configuration error. */
        assert_int_equal(
                run("ip link add nbt-dummy type veth peer name nbt-peer && ip link set nbt-dummy up && "
                    "ip addr add 10.66.1.1/24 dev nbt-dummy"),
                0);
        r = net_host_setup(&h, "10.66.0.0/16", &dns, &fatal, &err);
        assert_int_equal(r, -EADDRINUSE);
        assert_true(fatal);
        assert_non_null(strstr(err.message, "10.66.1.0/24 dev nbt-dummy"));
        assert_non_null(strstr(err.message, "--subnet"));

        r = net_host_setup(&h, "10.99.0.0/16", &dns, &fatal, &err);
        if (r < 0 && !fatal) {
                print_message("host set-up not possible here (%s); skipping\n", err.message);
                skip();
        }
        assert_int_equal(r, 0);
        assert_true(h.enabled);
        assert_int_equal(h.gateway, ip("10.99.0.1"));
        assert_int_equal(h.mtu, 1500); /* no default route in this namespace */
        /* Again, as on a restart: nothing doubled. */
        assert_int_equal(net_host_setup(&again, "10.99.0.0/16", &dns, &fatal, &err), 0);
        assert_int_equal(again.bridge_index, h.bridge_index);
        assert_int_equal(run("test $(nft list tables | grep -c 'table inet nestbox') = 1"), 0);
        assert_int_equal(
                run("test \"$(ip -o -4 addr show dev nestbox0 | awk '{print $4}')\" = 10.99.0.1/32"), 0);
        assert_int_equal(run("ip route show 10.99.0.0/16 | grep -q 'dev nestbox0'"), 0);
        assert_int_equal(run("test $(cat /proc/sys/net/ipv4/ip_forward) = 1"), 0);
        assert_int_equal(run("ip -d link show nestbox0 | grep -q '02:6e:62:00:00:01'"), 0);
        assert_int_equal(run("ip -o link | grep -q nbp"), 1); /* the veth probe is gone */

        ns = sandbox_netns();
        assert_int_equal(net_sandbox_attach(&h, "abcdefghijklmnopqrst", 5, ns, &err), 0);
        assert_int_equal(run("ip -d link show nbabcdefghijklm | grep -q 'master nestbox0'"), 0);
        assert_int_equal(run("bridge -d link show dev nbabcdefghijklm | grep -q 'learning off flood off'"),
                         0);
        assert_int_equal(run("bridge -d link show dev nbabcdefghijklm | grep -q 'isolated on'"), 0);
        assert_int_equal(run("bridge fdb show dev nbabcdefghijklm | grep -q '02:6e:0a:63:00:07 master "
                             "nestbox0 static'"),
                         0);
        assert_int_equal(run("ip neigh show 10.99.0.7 dev nestbox0 | grep -q '02:6e:0a:63:00:07 PERMANENT'"),
                         0);
        snprintf(cmd, sizeof(cmd),
                 "nsenter --net=/proc/%d/fd/%d sh -c \"ip -o -4 addr show dev eth0 | grep -q '10.99.0.7/32' "
                 "&& "
                 "ip route show default | grep -q 'via 10.99.0.1 dev eth0 proto static onlink' && "
                 "ip link show eth0 | grep -q 'mtu 1500 .*state UP' && ip link show eth0 | grep -q "
                 "02:6e:0a:63:00:07\"",
                 (int)getpid(), ns);
        assert_int_equal(run(cmd), 0);
        /* The same name twice is refused, not merged. */
        assert_int_equal(net_sandbox_attach(&h, "abcdefghijklmnopqrst", 6, ns, &err), -EEXIST);

        /* Cut off: both ends down, no route left inside. */
        assert_int_equal(net_sandbox_cut("abcdefghijklmnopqrst", ns, &err), 0);
        assert_int_equal(run("ip -o link show nbabcdefghijklm | grep -q 'state DOWN'"), 0);
        snprintf(cmd, sizeof(cmd),
                 "nsenter --net=/proc/%d/fd/%d sh -c 'ip link show eth0 | grep -q \"state DOWN\" && "
                 "test -z \"$(ip -4 route show)\"'",
                 (int)getpid(), ns);
        assert_int_equal(run(cmd), 0);
        assert_int_equal(net_sandbox_cut("nosuchsandbox", ns, &err), 0);

        assert_int_equal(net_sandbox_detach("abcdefghijklmnopqrst", &err), 0);
        assert_int_equal(run("ip link show nbabcdefghijklm 2>/dev/null"), 1);
        snprintf(cmd, sizeof(cmd), "nsenter --net=/proc/%d/fd/%d ip link show eth0 2>/dev/null",
                 (int)getpid(), ns);
        assert_int_equal(run(cmd), 1);                                         /* the pair went together */
        assert_int_equal(net_sandbox_detach("abcdefghijklmnopqrst", &err), 0); /* none: fine */
        close(ns);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subnet_parse),     cmocka_unit_test(test_subnet_overlaps),
                cmocka_unit_test(test_address_mac_name), cmocka_unit_test(test_dns_parse),
                cmocka_unit_test(test_dns_read_host),    cmocka_unit_test(test_etc_texts),
                cmocka_unit_test(test_ruleset_text),     cmocka_unit_test(test_foreign_forward),
                cmocka_unit_test(test_etc_write),
                cmocka_unit_test(test_host_and_sandbox),
        };

        /* Everything below happens in a namespace of our own: the machine's network stays
         * as it is (and the namespace disappears with this process). */
        in_own_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0 && system("ip link set lo up") == 0;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
