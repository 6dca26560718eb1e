/* `parley export fhir`: a patient's record as a FHIR R4 Bundle (signalling/export_cli.c). */
#ifndef PL_EXPORT_CLI_H
#define PL_EXPORT_CLI_H

/* argv[0] is "export". Exit status: 0 written, 1 failed (no such patient, store error),
 * 2 usage. */
int pl_export_cli_main(int argc, char **argv);

#endif
