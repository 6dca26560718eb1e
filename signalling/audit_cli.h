/* `parley audit ...`: the audit trail's admin commands (verify, checkpoint, export). See
 * docs/SECURITY.md "Accountability". */
#ifndef PL_AUDIT_CLI_H
#define PL_AUDIT_CLI_H

/* argv[0] is "audit". Exit status: 0 fine, 1 the trail was tampered with (verify) or the
 * command failed, 2 usage, I/O or key errors. */
int pl_audit_cli_main(int argc, char **argv);

#endif
