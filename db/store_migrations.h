/* SPDX-License-Identifier: ISC */
/*
 * store_migrations.h - the numbered migrations of db/migrations/, embedded
 * by scripts/embed-sql.  The table ends with a zero version.
 */
#ifndef CAMPAIGN_STORE_MIGRATIONS_H
#define CAMPAIGN_STORE_MIGRATIONS_H

struct store_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct store_migration store_migrations[];

#endif
