/* Admin and demo subcommands of the parley binary: `parley org ...`, `parley user ...` and
 * `parley demo`. They open the store directly (the server need not run; SQLite's locking makes
 * it safe while it does) and print results to stdout. */
#ifndef PL_ADMIN_H
#define PL_ADMIN_H

int pl_admin_org_main(int argc, char **argv);
int pl_admin_user_main(int argc, char **argv);
int pl_admin_demo_main(int argc, char **argv);

#endif
