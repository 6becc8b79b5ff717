/* `nestbox keys create|list|revoke`: works on the catalog directly, so it needs
 * access to the state directory (root on the server's machine). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../catalog/catalog.h"
#include "cli.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: nestbox keys [--state-dir DIR] create [NAME]\n"
                   "       nestbox keys [--state-dir DIR] list\n"
                   "       nestbox keys [--state-dir DIR] revoke ID|NAME\n");
}

int cmd_keys(int argc, char **argv)
{
        static const struct option options[] = {
                {"state-dir", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *state_dir = DEFAULT_STATE_DIR;
        struct catalog *cat = NULL;
        struct nb_error err = {0};
        char path[4096];
        int c, r, status = 1;

        while ((c = getopt_long(argc, argv, "+s:h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        state_dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        snprintf(path, sizeof(path), "%s/catalog.db", state_dir);
        r = catalog_open(path, &cat, &err);
        if (r < 0) {
                fprintf(stderr, "nestbox: %s\n", err.message);
                return 1;
        }
        if (strcmp(argv[optind], "create") == 0) {
                struct catalog_key *key = NULL;
                char *secret = NULL;

                r = catalog_key_create(cat, optind + 1 < argc ? argv[optind + 1] : "cli", &secret, &key, &err);
                if (r >= 0) {
                        printf("%s\n", secret);
                        fprintf(stderr, "created key %s; it is shown only now, keep it safe\n", key->id);
                        status = 0;
                }
                free(secret);
                catalog_key_free(key);
        } else if (strcmp(argv[optind], "list") == 0) {
                struct catalog_key **keys = NULL;
                size_t n = 0;

                r = catalog_key_list(cat, &keys, &n, &err);
                if (r >= 0) {
                        printf("%-36s %-20s %-12s %s\n", "ID", "NAME", "PREFIX", "CREATED");
                        for (size_t i = 0; i < n; i++) {
                                time_t t = (time_t)(keys[i]->created_at / 1000);
                                char when[32];

                                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
                                printf("%-36s %-20s %-12s %s\n", keys[i]->id, keys[i]->name, keys[i]->prefix, when);
                                catalog_key_free(keys[i]);
                        }
                        free(keys);
                        status = 0;
                }
        } else if (strcmp(argv[optind], "revoke") == 0 && optind + 1 < argc) {
                r = catalog_key_revoke(cat, argv[optind + 1], &err);
                if (r >= 0) {
                        fprintf(stderr, "revoked %s\n", argv[optind + 1]);
                        status = 0;
                }
        } else {
                usage(stderr);
                status = 2;
                r = 0;
        }
        if (r < 0)
                fprintf(stderr, "nestbox: %s\n", err.message);
        catalog_close(cat);
        return status;
}
