/* `parley keys ...`: the at-rest key hierarchy's admin commands (rotate). See docs/SECURITY.md
 * "At rest". */
#ifndef PL_KEYS_CLI_H
#define PL_KEYS_CLI_H

/* argv[0] is "keys". Exit status: 0 done, 1 the command failed (nothing changed, or the state
 * said on stderr), 2 usage. */
int pl_keys_cli_main(int argc, char **argv);

#endif
