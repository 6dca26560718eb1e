/* Versioned schema migrations for the SQL stores. Each entry moves the schema from version i to
 * i+1; the store runs the missing ones at open, inside one transaction. */
#ifndef PL_SCHEMA_H
#define PL_SCHEMA_H

extern const char *const pl_schema_migrations[];
extern const int pl_schema_version;

#endif
