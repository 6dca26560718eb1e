/* Versioned schema migrations for the SQL stores. Each entry moves the schema from version i to
 * i+1; the store runs the missing ones at open, inside one transaction.
 *
 * PostgreSQL (schema_pg.c) starts at pl_schema_pg_base: its first entry creates that version
 * whole, and entry i moves it from pl_schema_pg_base + i - 1 to pl_schema_pg_base + i. Both
 * engines always reach the same version number with the same tables. */
#ifndef PL_SCHEMA_H
#define PL_SCHEMA_H

extern const char *const pl_schema_migrations[];
extern const int pl_schema_version;

extern const char *const pl_schema_pg_migrations[];
extern const int pl_schema_pg_base;
extern const int pl_schema_pg_version;

#endif
