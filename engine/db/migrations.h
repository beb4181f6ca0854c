/* migrations.h -- the schema migrations compiled into tillpipe (generated
 * from sql/NNN_name.sql at build time, in version order). */
#ifndef TP_MIGRATIONS_H
#define TP_MIGRATIONS_H

typedef struct tp_migration {
    int version;      /* NNN of the file name */
    const char *name; /* the rest of the file name */
    const char *sql;  /* the whole file */
} tp_migration;

extern const tp_migration tp_migrations[];
extern const int tp_migration_count;

#endif
