/*
 * ca/upgrade.c — migrating an instance's store to this build's schema
 * (ca/store.h lists the versions), after an automatic backup.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"
#include "conf/conf.h"

static int
schema_of(const struct conf *conf, uint32_t *verp)
{
	struct store *st = NULL;
	int r;

	if ((r = store_open(conf->store_dir, conf->store_map_size,
	    STORE_RDONLY | STORE_EXISTING, &st)) != LY_OK)
		return r;
	*verp = store_schema(st);
	store_close(st);
	return LY_OK;
}

static char *
default_backup(const struct conf *conf, uint32_t from)
{
	char ts[21], name[96];
	size_t i, j;

	ly_time_fmt(ly_now(), ts);
	/* 2026-12-02T05:45:50Z → 20261202T054550Z: a plain file name. */
	for (i = 0, j = 0; ts[i] != '\0'; i++)
		if (ts[i] != '-' && ts[i] != ':')
			ts[j++] = ts[i];
	ts[j] = '\0';
	snprintf(name, sizeof(name), "backup-before-upgrade-v%u-%s.tar", from,
	    ts);
	return ly_path_join(conf->dir, name);
}

static int
migrate(const struct conf *conf, uint32_t from, const char *path,
    const struct ca_backup_info *bi, const char *actor)
{
	struct store *st = NULL;
	json_t *o = NULL;
	char *detail = NULL;
	int r = LY_ERR_ALLOC;

	if ((o = json_pack("{s:i, s:i, s:s, s:s}", "from", (int)from, "to",
	    STORE_SCHEMA_VERSION, "backup", path, "backup_sha256",
	    bi->sha256)) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	if ((r = store_open(conf->store_dir, conf->store_map_size,
	    STORE_EXISTING | STORE_UPGRADE, &st)) != LY_OK ||
	    (r = store_upgrade(st, actor, detail)) != LY_OK ||
	    (r = ca_backup_record(st, path, bi, actor)) != LY_OK)
		goto out;
 out:
	store_close(st);
	json_decref(o);
	free(detail);
	return r;
}

int
ca_upgrade(const char *dir, const char *backup, const char *actor,
    uint32_t *fromp, char **backupp)
{
	struct ca_backup_info bi;
	struct conf *conf = NULL;
	struct ca *ca = NULL;
	char *path = NULL;
	uint32_t from = 0;
	int r;

	if ((r = conf_load(dir, NULL, &conf)) != LY_OK ||
	    (r = schema_of(conf, &from)) != LY_OK)
		goto out;
	if (from >= STORE_SCHEMA_VERSION) {
		r = ly_fail(LY_ERR_STATE, "the store is at schema version %u "
		    "already: nothing to upgrade", from);
		goto out;
	}
	if ((path = backup != NULL ? strdup(backup) :
	    default_backup(conf, from)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* Read-only: an older store opens no other way until it is migrated. */
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = ca_backup_write(ca, path, &bi)) != LY_OK)
		goto out;
	ca_close(ca);
	ca = NULL;
	if ((r = migrate(conf, from, path, &bi, actor)) != LY_OK)
		goto out;
	*fromp = from;
	*backupp = path;
	path = NULL;
 out:
	ca_close(ca);
	conf_free(conf);
	free(path);
	return r;
}
