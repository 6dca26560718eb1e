/* `parley demo`: seeds a demo practice so that `make run` has something to sign in to.
 * Passwords are random per data directory (never built in) and kept in demo-logins.json (0600)
 * so that later runs can print them again. Demo NHS numbers are in the 999 range, which the NHS
 * reserves for testing, with valid check digits. */
#include "core/datadir.h"
#include "core/err.h"
#include "core/util.h"
#include "signalling/admin.h"
#include "signalling/admin_util.h"
#include "signalling/nhs.h"
#include "signalling/password.h"
#include "storage/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *code, *name, *kind, *parent;
    int target;
} demo_orgs[] = {
    {"U90001", "Riverside Primary Care Network", "network", NULL, 0},
    {"Y90001", "Riverside Surgery", "practice", "U90001", 0},
    {"Y90002", "Hillside Medical Centre", "practice", "U90001", 240},
    {"R0D01", "Dermatology, City Hospital", "specialist_service", NULL, 0},
};

static const struct {
    const char *username, *name, *org, *role, *dob;
    bool patient;
} demo_users[] = {
    {"dr.patel", "Dr Asha Patel", "Y90001", "gp", NULL, false},
    {"nurse.okafor", "Grace Okafor", "Y90001", "nurse", NULL, false},
    {"reception.jones", "Sam Jones", "Y90001", "receptionist", NULL, false},
    {"admin.smith", "Jo Smith", "Y90001", "practice_admin", NULL, false},
    {"pharm.lee", "Min Lee", "Y90001", "pharmacist", NULL, false},
    {"dr.hughes", "Dr Owen Hughes", "Y90002", "gp", NULL, false},
    {"dr.khan", "Dr Leila Khan", "R0D01", "specialist", NULL, false},
    {"ann.taylor", "Ann Taylor", "Y90001", NULL, "1948-03-12", true},
    {"robert.green", "Robert Green", "Y90001", NULL, "1990-07-01", true},
    {"cara.evans", "Cara Evans", "Y90002", NULL, "1975-11-23", true},
    /* Last, so that the patients' test NHS numbers (by position) stay as they were. */
    {"admin.city", "Priya Shah", "R0D01", "practice_admin", NULL, false},
};
#define N_USERS (sizeof demo_users / sizeof demo_users[0])

/* Riverside Surgery's reply templates, written by its practice admin. */
#define DEMO_TPL_ORG "Y90001"
#define DEMO_TPL_AUTHOR "admin.smith"
static const struct {
    const char *title, *body;
} demo_templates[] = {
    {"Prescription ready", "Your prescription is ready to collect from your nominated pharmacy."},
    {"Please book an appointment",
     "Please call the surgery or book online for an appointment with a GP in the next week."},
    {"Test results normal", "Your recent test results are normal and no action is needed."},
};

/* The n-th valid NHS number in the 999 test range. */
static void test_nhs_number(int n, char out[PL_NHS_LEN + 1])
{
    for (long base = 999000000L + n * 37L;; base++) {
        char cand[24];
        snprintf(cand, sizeof cand, "%09ld0", base % 1000000000L);
        int sum = 0;
        for (int i = 0; i < 9; i++) sum += (cand[i] - '0') * (10 - i);
        int check = 11 - sum % 11;
        if (check == 11) check = 0;
        if (check == 10) continue;
        cand[9] = (char)('0' + check);
        if (pl_nhs_normalise(cand, out) == 0) return;
    }
}

static void print_logins(json_t *logins, bool as_json)
{
    if (as_json) {
        json_dumpf(logins, stdout, JSON_COMPACT);
        printf("\n");
        return;
    }
    printf("\nParley demo logins (https://localhost:8443):\n\n");
    printf("  %-16s %-24s %-22s %s\n", "username", "password", "role", "organisation / NHS no.");
    size_t i;
    json_t *u;
    json_array_foreach(logins, i, u)
    {
        const char *nhs = json_string_value(json_object_get(u, "nhs_number"));
        printf("  %-16s %-24s %-22s %s\n", json_string_value(json_object_get(u, "username")),
               json_string_value(json_object_get(u, "password")),
               json_string_value(json_object_get(u, "role")),
               nhs ? nhs : json_string_value(json_object_get(u, "org")));
    }
    printf("\n");
}

static int seed_templates(pl_store_t *st, int64_t author)
{
    pl_org_t o;
    int rc = pl_store_org_by_code(st, DEMO_TPL_ORG, &o);
    int64_t now = pl_now_ms();
    for (size_t i = 0; rc == 0 && i < sizeof demo_templates / sizeof demo_templates[0]; i++)
        rc = pl_store_tpl_create(st, o.id, demo_templates[i].title, demo_templates[i].body, author,
                                 now, NULL);
    return rc;
}

/* The specialist service's specialties and targets, and an information-sharing agreement with
 * Riverside Surgery for a year: proposed by Riverside's admin, accepted by the service's. */
static int seed_advice(pl_store_t *st)
{
    pl_org_t practice, service;
    pl_user_t u;
    int64_t now = pl_now_ms(), id = 0, a_gp = 0, a_svc = 0;
    int rc = pl_store_org_by_code(st, "Y90001", &practice);
    if (rc == 0) rc = pl_store_org_by_code(st, "R0D01", &service);
    if (rc == 0 && (rc = pl_store_user_by_username(st, "admin.smith", &u)) == 0) a_gp = u.id;
    pl_user_wipe(&u);
    if (rc == 0 && (rc = pl_store_user_by_username(st, "admin.city", &u)) == 0) a_svc = u.id;
    pl_user_wipe(&u);
    json_t *sp = json_pack("[ss]", "Dermatology", "Skin lesions (suspected cancer)");
    if (rc == 0) rc = pl_store_service_set(st, service.id, sp, 72, 4);
    json_decref(sp);
    pl_agreement_t a = {.practice_id = practice.id,
                        .service_id = service.id,
                        .starts_at = now - 60000,
                        .ends_at = now + 366LL * 24 * 3600 * 1000,
                        .proposed_by = a_gp,
                        .proposed_org_id = practice.id,
                        .proposed_at = now};
    snprintf(a.shares, sizeof a.shares, "identified");
    if (rc == 0) rc = pl_store_agreement_create(st, &a, &id);
    if (rc == 0) rc = pl_store_agreement_accept(st, id, a_svc, now);
    return rc;
}

static int seed(pl_store_t *st, int log_n, json_t *logins)
{
    int64_t tpl_author = 0;
    int rc = pl_store_begin(st);
    for (size_t i = 0; rc == 0 && i < sizeof demo_orgs / sizeof demo_orgs[0]; i++) {
        pl_org_t o = {0}, parent;
        snprintf(o.code, sizeof o.code, "%s", demo_orgs[i].code);
        snprintf(o.name, sizeof o.name, "%s", demo_orgs[i].name);
        snprintf(o.kind, sizeof o.kind, "%s", demo_orgs[i].kind);
        o.response_target_minutes = demo_orgs[i].target;
        if (demo_orgs[i].parent && pl_store_org_by_code(st, demo_orgs[i].parent, &parent) == 0)
            o.parent_id = parent.id;
        rc = pl_store_org_create(st, &o, NULL);
    }
    for (size_t i = 0; rc == 0 && i < N_USERS; i++) {
        char pw[32], hash[PL_PASSWORD_HASH_MAX], nhs[PL_NHS_LEN + 1] = "";
        pl_org_t o;
        int64_t id;
        if ((rc = pl_store_org_by_code(st, demo_users[i].org, &o)) < 0) break;
        if ((rc = pl_admin_random_password(pw, sizeof pw)) < 0) break;
        if ((rc = pl_password_hash(pw, log_n, hash, sizeof hash)) < 0) break;
        if (demo_users[i].patient) test_nhs_number((int)i, nhs);
        rc = pl_store_user_create(st, demo_users[i].patient ? PL_USER_PATIENT : PL_USER_STAFF,
                                  demo_users[i].username, demo_users[i].name, hash,
                                  demo_users[i].patient ? nhs : NULL, demo_users[i].dob, o.id,
                                  &id);
        if (rc == 0 && !demo_users[i].patient)
            rc = pl_store_membership_add(st, id, o.id, pl_role_from_name(demo_users[i].role));
        if (rc == 0 && strcmp(demo_users[i].username, DEMO_TPL_AUTHOR) == 0) tpl_author = id;
        json_t *u = json_pack("{sI ss ss ss ss}", "id", (json_int_t)id, "username",
                              demo_users[i].username, "password", pw, "role",
                              demo_users[i].patient ? "patient" : demo_users[i].role, "org",
                              demo_users[i].org);
        if (demo_users[i].patient) json_object_set_new(u, "nhs_number", json_string(nhs));
        json_array_append_new(logins, u);
        pl_wipe(pw, sizeof pw);
    }
    if (rc == 0) rc = seed_templates(st, tpl_author);
    if (rc == 0) rc = seed_advice(st);
    if (rc == 0) return pl_store_commit(st);
    pl_store_rollback(st);
    return rc;
}

int pl_admin_demo_main(int argc, char **argv)
{
    pl_args_t a;
    if (pl_args_parse(&a, argc - 1, argv + 1) < 0 || pl_args_has(&a, "help")) {
        printf("usage: parley demo [--data-dir DIR] [--json] [--kdf-log-n N]\n\n"
               "Seeds a demo network, two practices and a specialist service with staff and\n"
               "patients (random passwords), and reply templates for Riverside Surgery, then\n"
               "prints the logins and the patients' NHS numbers. Run again to print them\n"
               "again; it never seeds twice.\n"
               "--kdf-log-n lowers the password hashing cost (tests only; default 17).\n");
        return pl_args_has(&a, "help") ? 0 : 2;
    }
    pl_store_t *st = NULL;
    if (pl_admin_open_store(&a, &st) < 0) return 1;
    const char *dir = pl_args_get(&a, "data-dir");
    char path[1024];
    pl_datadir_path(dir ? dir : "./var", "demo-logins.json", path, sizeof path);
    bool as_json = pl_args_has(&a, "json");
    pl_org_t o;
    int rc = 0;
    json_t *logins = NULL;
    if (pl_store_org_by_code(st, "Y90001", &o) == 0) {
        logins = json_load_file(path, 0, NULL);
        if (!logins) {
            fprintf(stderr, "demo data exists but %s is missing: use `parley user passwd`\n",
                    path);
            rc = -PL_ENOTFOUND;
        }
    } else {
        const char *ln = pl_args_get(&a, "kdf-log-n");
        logins = json_array();
        rc = seed(st, ln ? atoi(ln) : 0, logins);
        if (rc == 0) {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
            if (!f || json_dumpf(logins, f, JSON_INDENT(2)) < 0) rc = -PL_EIO;
            if (f) fclose(f);
        }
    }
    if (rc == 0) print_logins(logins, as_json);
    else fprintf(stderr, "parley demo: %s\n", pl_strerror(rc));
    json_decref(logins);
    pl_store_close(st);
    return rc < 0 ? 1 : 0;
}
