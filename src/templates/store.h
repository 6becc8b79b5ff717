/* The template store: template directories on disk, registered in the catalog.
 *
 * A template on disk is <templates_dir>/<name>/template.json plus its layer
 * directories (usually <templates_dir>/<name>/rootfs), owned by real host ids
 * 0..65535 as mmdebstrap made them. template.json:
 *
 *   {"name":"base","aliases":["base"],"layers":["rootfs"],"defaultUser":"user",
 *    "defaultWorkdir":"/home/user","envs":{},"cpuCount":2,"memoryMB":512,
 *    "diskSizeMB":1024,"noNewPrivs":false,"envdVersion":"0.6.4"}
 *
 * Only "layers" is required. Layers are paths relative to the template's own
 * directory, top-most first; they may reach a sibling template ("../base/rootfs")
 * but never leave templates_dir and never cross a symlink. Optional keys and
 * defaults: name (= directory name; must match when given), aliases [],
 * defaultUser "root", defaultWorkdir "/", envs {}, cpuCount 2, memoryMB 512,
 * diskSizeMB 1024, noNewPrivs true, envdVersion NESTBOX_ENVD_VERSION,
 * startCmd / readyCmd none. Unknown keys are ignored.
 */
#pragma once

#include <stdbool.h>

#include "../base/error.h"

struct catalog;
struct catalog_template;

/* [a-z0-9][a-z0-9._-]{0,63}: template names and aliases. */
#define TEMPLATE_NAME_MAX 64

/** True when name is a valid template name or alias. */
bool template_name_valid(const char *name);

/** Reads and validates <templates_dir>/<name>/template.json. On success *ret is a
 *  catalog template with id = name and layers made absolute (templates_dir is
 *  resolved with realpath first). -EINVAL (err says what) for a broken template,
 *  -ENOENT when the directory or its template.json is missing. */
int template_store_load(const char *templates_dir, const char *name, struct catalog_template **ret,
                        struct nb_error *err);

/** Registers every valid template directory of templates_dir in the catalog (an
 *  upsert: unchanged templates are not rewritten). Entries starting with '.' are
 *  skipped silently (builds in progress); broken templates are skipped with a
 *  warning in the log. Returns how many templates were registered, or -errno when
 *  templates_dir itself cannot be read. Templates removed from disk stay in the
 *  catalog (sandboxes may still use them); delete them with catalog_template_delete(). */
int template_store_scan(struct catalog *c, const char *templates_dir, struct nb_error *err);
