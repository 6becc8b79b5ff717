/* Other firewalls' forward chains. A base chain that drops by default, like the
 * `ip filter FORWARD` that Docker and ufw leave under iptables-nft, drops sandboxes'
 * traffic whatever our own table accepts: nftables runs every base chain on a hook, and
 * an accept ends only its own chain while a drop is final. So each such chain gets two
 * accepts at its head, for traffic out of the bridge and replies back into it; in a table
 * that has Docker's DOCKER-USER chain they go there instead (the chain Docker keeps for
 * its users' rules: it jumps there first and never flushes it). What a sandbox may
 * reach is still decided by our table, whose refusals are final too. Traffic towards
 * Docker's own bridges stays under Docker's rules.
 *
 * The rules carry the comment "nestbox"; each start deletes the ones it finds before
 * inserting its own, so restarts never pile them up. Like our table, they stay when the
 * daemon stops: sandboxes outlive it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "net-internal.h"

#define FOREIGN_COMMENT "nestbox"
#define DOCKER_USER_CHAIN "DOCKER-USER"

/* Names go into nft command text unquoted: only those that cannot change its meaning. */
static bool plain_name(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > NET_NFT_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_' || s[i] == '-' || s[i] == '.'))
                        return false;
        return true;
}

static const char *field(json_t *o, const char *name)
{
        return json_string_value(json_object_get(o, name));
}

static bool has_chain(json_t *list, const char *family, const char *table, const char *name)
{
        size_t i;
        json_t *item;

        json_array_foreach(list, i, item) {
                json_t *c = json_object_get(item, "chain");

                if (c && strcmp(field(c, "family") ?: "", family) == 0 && strcmp(field(c, "table") ?: "", table) == 0 &&
                    strcmp(field(c, "name") ?: "", name) == 0)
                        return true;
        }
        return false;
}

size_t net_nft_foreign_targets(json_t *chains, struct net_nft_chain *out, size_t max)
{
        json_t *list = json_object_get(chains, "nftables"), *item;
        size_t i, n = 0;

        json_array_foreach(list, i, item) {
                json_t *c = json_object_get(item, "chain");
                const char *family = field(c, "family"), *table = field(c, "table"), *name = field(c, "name");
                const char *hook = field(c, "hook"), *policy = field(c, "policy");
                bool dup = false;

                if (!c || !family || !hook || !policy || strcmp(hook, "forward") != 0 || strcmp(policy, "drop") != 0)
                        continue;
                if (strcmp(family, "ip") != 0 && strcmp(family, "inet") != 0)
                        continue; /* sandboxes speak IPv4 only */
                if (strcmp(family, "inet") == 0 && strcmp(table ?: "", NET_NFT_TABLE) == 0)
                        continue;
                if (!plain_name(table) || !plain_name(name)) {
                        log_warning("network: the forward chain %s %.64s %.64s drops by default and its name "
                                    "cannot be written safely: sandboxes may have no way out",
                                    family, table ?: "?", name ?: "?");
                        continue;
                }
                if (has_chain(list, family, table, DOCKER_USER_CHAIN))
                        name = DOCKER_USER_CHAIN;
                for (size_t k = 0; k < n; k++)
                        dup |= strcmp(out[k].family, family) == 0 && strcmp(out[k].table, table) == 0 &&
                               strcmp(out[k].chain, name) == 0;
                if (dup || n == max)
                        continue;
                snprintf(out[n].family, sizeof(out[n].family), "%s", family);
                snprintf(out[n].table, sizeof(out[n].table), "%s", table);
                snprintf(out[n].chain, sizeof(out[n].chain), "%s", name);
                n++;
        }
        return n;
}

int net_nft_foreign_text(const struct net_nft_chain *c, json_t *rules, const char *bridge, char **ret)
{
        json_t *list = json_object_get(rules, "nftables"), *item;
        char *text = NULL;
        size_t size = 0, i;
        FILE *f;

        *ret = NULL;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        json_array_foreach(list, i, item) {
                json_t *r = json_object_get(item, "rule");
                json_t *handle = json_object_get(r, "handle");

                if (r && json_is_integer(handle) && strcmp(field(r, "comment") ?: "", FOREIGN_COMMENT) == 0 &&
                    strcmp(field(r, "chain") ?: "", c->chain) == 0)
                        fprintf(f, "delete rule %s %s %s handle %lld\n", c->family, c->table, c->chain,
                                (long long)json_integer_value(handle));
        }
        /* Inserted in reverse: each lands at the head. */
        fprintf(f, "insert rule %s %s %s oifname \"%s\" ct state established,related accept comment \"%s\"\n",
                c->family, c->table, c->chain, bridge, FOREIGN_COMMENT);
        fprintf(f,
                "insert rule %s %s %s iifname \"%s\" oifname != \"docker0\" oifname != \"br-*\" accept "
                "comment \"%s\"\n",
                c->family, c->table, c->chain, bridge, FOREIGN_COMMENT);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

int net_nft_open_foreign_forward(const char *bridge, struct nb_error *err)
{
        struct net_nft_chain targets[8];
        json_t *chains = NULL;
        size_t n;
        int r;

        r = net_nft_list_json("list chains", &chains, err);
        if (r < 0)
                return r;
        n = net_nft_foreign_targets(chains, targets, ELEMENTSOF(targets));
        json_decref(chains);
        for (size_t i = 0; i < n; i++) {
                const struct net_nft_chain *c = &targets[i];
                char cmd[sizeof(struct net_nft_chain) + 32], *text = NULL;
                json_t *rules = NULL;

                snprintf(cmd, sizeof(cmd), "list chain %.7s %.64s %.64s", c->family, c->table, c->chain);
                r = net_nft_list_json(cmd, &rules, err);
                if (r >= 0) {
                        r = net_nft_foreign_text(c, rules, bridge, &text);
                        if (r < 0)
                                nb_error_oom(err);
                }
                json_decref(rules);
                if (r >= 0)
                        r = net_nft_run(text, "let sandboxes' traffic through another firewall's forward chain", err);
                free(text);
                if (r < 0)
                        return nb_error_prefix(err, "table %s %s drops forwarded traffic by default", c->family,
                                               c->table);
                log_info("network: table %s %s drops forwarded traffic by default (Docker's or ufw's "
                         "rules); sandboxes' traffic is let through in its chain %s (rules with comment \"%s\")",
                         c->family, c->table, c->chain, FOREIGN_COMMENT);
        }
        return 0;
}
