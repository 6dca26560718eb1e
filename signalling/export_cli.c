/* `parley export fhir --patient NHSNUMBER`: one patient's whole record as a FHIR R4 Bundle
 * (signalling/record.c), on standard output or into a file created mode 0600. It is the
 * practice's own copy of patient data leaving Parley, so it is audited (record.export, by the
 * operator: actor 0) in the same transaction that reads it. The NHS number is never printed or
 * logged. */
#include "signalling/export_cli.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/admin_util.h"
#include "signalling/nhs.h"
#include "signalling/record.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: parley export fhir --patient NHSNUMBER [--out FILE] [--data-dir DIR]\n\n"
           "Writes the patient's whole record (their conversations of every kind, video\n"
           "consultations, advice requests with the consent recorded, case discussions and\n"
           "filed transcripts) as a FHIR R4 Bundle of type collection, to standard output or\n"
           "to FILE (created mode 0600). Resource ids are stable: a second export names every\n"
           "resource the same way. The export is recorded in the audit trail.\n");
}

/* Writes all of text to fd: 0 or -PL_EIO. */
static int write_all(int fd, const char *text, size_t len)
{
    while (len) {
        ssize_t n = write(fd, text, len);
        if (n < 0) return -PL_EIO;
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fhir_main(const pl_args_t *a)
{
    const char *nhs_in = pl_args_get(a, "patient"), *out = pl_args_get(a, "out");
    char nhs[PL_NHS_LEN + 1];
    if (!nhs_in || pl_nhs_normalise(nhs_in, nhs) < 0) {
        fprintf(stderr, "export fhir: --patient must be a valid NHS number\n");
        return 2;
    }
    pl_store_t *st = NULL;
    if (pl_admin_open_store(a, &st) < 0) return 1;
    int64_t pid = 0, now = pl_now_ms();
    json_t *bundle = NULL;
    int rc = pl_store_begin(st);
    if (rc == 0) rc = pl_store_patient_by_nhs(st, nhs, &pid);
    if (rc == 0) rc = pl_record_export(st, pid, now, &bundle);
    if (rc == 0)
        rc = pl_store_audit(st, 0, "record.export", "patient", pid, pid, "cli", NULL, now);
    if (rc == 0) rc = pl_store_commit(st);
    else pl_store_rollback(st);
    pl_store_close(st);
    pl_wipe(nhs, sizeof nhs);
    if (rc == -PL_ENOTFOUND) {
        fprintf(stderr, "export fhir: no patient with that NHS number\n");
        return 1;
    }
    if (rc < 0) {
        json_decref(bundle);
        fprintf(stderr, "export fhir: %s\n", pl_strerror(rc));
        return 1;
    }
    char *text = json_dumps(bundle, JSON_INDENT(2));
    json_decref(bundle);
    if (!text) return 1;
    size_t len = strlen(text);
    int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : STDOUT_FILENO;
    rc = fd < 0 ? -PL_EIO : write_all(fd, text, len);
    if (rc == 0) rc = write_all(fd, "\n", 1);
    if (out && fd >= 0 && close(fd) < 0) rc = -PL_EIO;
    pl_wipe(text, len);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "export fhir: cannot write %s\n", out ? out : "standard output");
        return 1;
    }
    return 0;
}

int pl_export_cli_main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    pl_args_t a;
    if (pl_args_parse(&a, argc - 2, argv + 2) < 0) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "fhir")) return fhir_main(&a);
    fprintf(stderr, "export: unknown format %s\n", argv[1]);
    usage();
    return 2;
}
