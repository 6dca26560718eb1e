/* `parley org` and `parley user`: organisations, people, roles and passwords.
 * Passwords never go on the command line (other users can read it in ps): they come from
 * --password-file or standard input, or are generated and printed once. */
#include "signalling/admin.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/admin_util.h"
#include "signalling/nhs.h"
#include "signalling/password.h"
#include "storage/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void org_usage(void)
{
    printf("usage: parley org COMMAND [--data-dir DIR]\n\n"
           "  add  --code CODE --name NAME [--kind practice|network|specialist_service]\n"
           "       [--parent CODE] [--response-target-minutes M] [--require-totp yes|no]\n"
           "       Adds an organisation. CODE is its ODS-style code. Response target 0 (the\n"
           "       default) means \"same working day\" (by 18:30, weekdays).\n"
           "  list List organisations as JSON.\n"
           "  set  --code CODE [--name NAME] [--response-target-minutes M]\n"
           "       [--require-totp yes|no]\n"
           "       Changes an organisation's settings.\n");
}

static void user_usage(void)
{
    printf("usage: parley user COMMAND [--data-dir DIR]\n\n"
           "  add --username U --name \"Display Name\" (--staff --org CODE --role ROLE... |\n"
           "      --patient --nhs-number N --dob YYYY-MM-DD --practice CODE)\n"
           "      [--password-file FILE | --password-stdin] [--kdf-log-n N]\n"
           "      Adds a user. Without a password option a strong one is generated and printed.\n"
           "      Roles: receptionist gp nurse pharmacist clinician specialist practice_admin.\n"
           "  add-role --username U --org CODE --role ROLE\n"
           "  passwd   --username U [--password-file FILE | --password-stdin]\n"
           "           Sets a new password and ends the user's sessions.\n"
           "  disable  --username U     Blocks sign-in and ends the user's sessions.\n"
           "  enable   --username U\n"
           "  reset-totp --username U   Removes two-factor enrolment (lost phone).\n"
           "  import --file FILE [--kdf-log-n N]\n"
           "           Adds many users in one transaction from JSON lines, each like\n"
           "           {\"username\",\"name\",\"password\",\"kind\":\"patient\",\"nhs_number\",\"dob\",\n"
           "            \"practice\":CODE} or {...,\"kind\":\"staff\",\"org\":CODE,\"roles\":[...]}.\n"
           "           All or nothing: one bad line imports none.\n"
           "  list     Lists users as JSON.\n");
}

static int yesno(const char *v, bool *out)
{
    if (!v) return 0;
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")) *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")) *out = false;
    else return -PL_EINVAL;
    return 0;
}

int pl_admin_org_main(int argc, char **argv)
{
    pl_args_t a;
    /* "parley org --help" names no command: answer it before anything opens the data dir. */
    bool want_help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc < 2 || argv[1][0] == '-' || pl_args_parse(&a, argc - 2, argv + 2) < 0 ||
        pl_args_has(&a, "help")) {
        org_usage();
        return want_help || (argc >= 2 && argv[1][0] != '-' && pl_args_has(&a, "help")) ? 0 : 2;
    }
    const char *cmd = argv[1];
    pl_store_t *st = NULL;
    int rc = pl_admin_open_store(&a, &st);
    if (rc < 0) return 1;
    if (!strcmp(cmd, "add")) {
        pl_org_t o = {0};
        const char *code = pl_args_get(&a, "code"), *name = pl_args_get(&a, "name");
        const char *kind = pl_args_get(&a, "kind"), *parent = pl_args_get(&a, "parent");
        const char *target = pl_args_get(&a, "response-target-minutes");
        if (!code || !name) {
            fprintf(stderr, "org add: --code and --name are required\n");
            rc = -PL_EINVAL;
            goto out;
        }
        snprintf(o.code, sizeof o.code, "%s", code);
        snprintf(o.name, sizeof o.name, "%s", name);
        snprintf(o.kind, sizeof o.kind, "%s", kind ? kind : "practice");
        o.response_target_minutes = target ? atoi(target) : 0;
        if ((rc = yesno(pl_args_get(&a, "require-totp"), &o.require_totp)) < 0) goto out;
        if (parent) {
            pl_org_t p;
            if ((rc = pl_store_org_by_code(st, parent, &p)) < 0) {
                fprintf(stderr, "org add: no organisation with code %s\n", parent);
                goto out;
            }
            o.parent_id = p.id;
        }
        int64_t id;
        rc = pl_store_org_create(st, &o, &id);
        if (rc == -PL_ECONFLICT) fprintf(stderr, "org add: code exists or kind is invalid\n");
        if (rc == 0) printf("{\"id\":%lld,\"code\":\"%s\"}\n", (long long)id, o.code);
    } else if (!strcmp(cmd, "list")) {
        json_t *list;
        if ((rc = pl_store_org_list(st, &list)) == 0) {
            json_dumpf(list, stdout, JSON_INDENT(2));
            printf("\n");
            json_decref(list);
        }
    } else if (!strcmp(cmd, "set")) {
        pl_org_t o;
        const char *code = pl_args_get(&a, "code");
        if (!code || (rc = pl_store_org_by_code(st, code, &o)) < 0) {
            fprintf(stderr, "org set: --code must name an organisation\n");
            rc = -PL_EINVAL;
            goto out;
        }
        const char *v;
        bool b;
        if ((v = pl_args_get(&a, "name"))) rc = pl_store_org_set(st, o.id, "name", v);
        if (rc == 0 && (v = pl_args_get(&a, "response-target-minutes")))
            rc = pl_store_org_set(st, o.id, "response_target_minutes", v);
        if (rc == 0 && (v = pl_args_get(&a, "require-totp"))) {
            if ((rc = yesno(v, &b)) == 0)
                rc = pl_store_org_set(st, o.id, "require_totp", b ? "1" : "0");
        }
    } else {
        org_usage();
        rc = -PL_EINVAL;
    }
out:
    pl_store_close(st);
    if (rc < 0) fprintf(stderr, "parley org %s: %s\n", cmd, pl_strerror(rc));
    return rc < 0 ? 1 : 0;
}

static int user_add(pl_store_t *st, pl_args_t *a)
{
    const char *username = pl_args_get(a, "username"), *name = pl_args_get(a, "name");
    bool patient = pl_args_has(a, "patient"), staff = pl_args_has(a, "staff");
    if (!username || !name || patient == staff) {
        fprintf(stderr, "user add: --username, --name and one of --patient/--staff are required\n");
        return -PL_EINVAL;
    }
    char nhs[PL_NHS_LEN + 1] = "";
    pl_org_t practice = {0};
    const char *dob = pl_args_get(a, "dob");
    if (patient) {
        const char *n = pl_args_get(a, "nhs-number"), *pr = pl_args_get(a, "practice");
        if (!n || pl_nhs_normalise(n, nhs) < 0) {
            fprintf(stderr, "user add: --nhs-number is missing or fails the check digit\n");
            return -PL_EINVAL;
        }
        if (!dob || strlen(dob) != 10 || dob[4] != '-' || dob[7] != '-') {
            fprintf(stderr, "user add: --dob must be YYYY-MM-DD\n");
            return -PL_EINVAL;
        }
        if (!pr || pl_store_org_by_code(st, pr, &practice) < 0 ||
            strcmp(practice.kind, "practice") != 0) {
            fprintf(stderr, "user add: --practice must be a practice's code\n");
            return -PL_EINVAL;
        }
    }
    unsigned roles[16];
    int64_t org_ids[16];
    int nroles = 0;
    if (staff) {
        const char *org = pl_args_get(a, "org");
        pl_org_t o;
        if (!org || pl_store_org_by_code(st, org, &o) < 0) {
            fprintf(stderr, "user add: --org must name an organisation\n");
            return -PL_EINVAL;
        }
        for (int i = 0; i < a->n && nroles < 16; i++) {
            if (strcmp(a->keys[i], "role") != 0) continue;
            unsigned r = pl_role_from_name(a->vals[i]);
            if (!r) {
                fprintf(stderr, "user add: unknown role %s\n", a->vals[i]);
                return -PL_EINVAL;
            }
            org_ids[nroles] = o.id;
            roles[nroles++] = r;
        }
        if (!nroles) {
            fprintf(stderr, "user add: staff need at least one --role\n");
            return -PL_EINVAL;
        }
    }
    char pw[300], hash[PL_PASSWORD_HASH_MAX];
    bool generated = false;
    int rc = pl_admin_password(a, pw, sizeof pw, &generated);
    if (rc < 0) return rc;
    const char *ln = pl_args_get(a, "kdf-log-n");
    rc = pl_password_hash(pw, ln ? atoi(ln) : 0, hash, sizeof hash);
    if (rc == 0) rc = pl_store_begin(st);
    int64_t id = 0;
    if (rc == 0)
        rc = pl_store_user_create(st, patient ? PL_USER_PATIENT : PL_USER_STAFF, username, name,
                                  hash, patient ? nhs : NULL, dob, practice.id, &id);
    for (int i = 0; rc == 0 && i < nroles; i++)
        rc = pl_store_membership_add(st, id, org_ids[i], roles[i]);
    if (rc == 0) rc = pl_store_commit(st);
    else pl_store_rollback(st);
    if (rc == -PL_ECONFLICT) fprintf(stderr, "user add: username or NHS number already exists\n");
    if (rc == 0) {
        printf("{\"id\":%lld,\"username\":\"%s\"", (long long)id, username);
        if (generated) printf(",\"password\":\"%s\"", pw); /* shown once, to the admin */
        printf("}\n");
    }
    pl_wipe(pw, sizeof pw);
    pl_wipe(hash, sizeof hash);
    return rc;
}

/* One JSON line of `user import`. */
static int import_one(pl_store_t *st, json_t *u, int log_n, int lineno)
{
    const char *username = json_string_value(json_object_get(u, "username"));
    const char *name = json_string_value(json_object_get(u, "name"));
    const char *pw = json_string_value(json_object_get(u, "password"));
    const char *kind = json_string_value(json_object_get(u, "kind"));
    if (!username || !name || !pw || !kind || pl_password_policy_check(pw) < 0) {
        fprintf(stderr, "line %d: username, name, kind and a password of 8+ characters needed\n",
                lineno);
        return -PL_EINVAL;
    }
    bool patient = strcmp(kind, "patient") == 0;
    char nhs[PL_NHS_LEN + 1] = "", hash[PL_PASSWORD_HASH_MAX];
    const char *dob = json_string_value(json_object_get(u, "dob"));
    const char *orgcode = json_string_value(json_object_get(u, patient ? "practice" : "org"));
    pl_org_t o;
    if (!orgcode || pl_store_org_by_code(st, orgcode, &o) < 0) {
        fprintf(stderr, "line %d: unknown organisation\n", lineno);
        return -PL_EINVAL;
    }
    if (patient && (pl_nhs_normalise(json_string_value(json_object_get(u, "nhs_number")), nhs) < 0 ||
                    !dob || strcmp(o.kind, "practice") != 0)) {
        fprintf(stderr, "line %d: patients need a valid nhs_number, dob and practice\n", lineno);
        return -PL_EINVAL;
    }
    int rc = pl_password_hash(pw, log_n, hash, sizeof hash);
    int64_t id = 0;
    if (rc == 0)
        rc = pl_store_user_create(st, patient ? PL_USER_PATIENT : PL_USER_STAFF, username, name,
                                  hash, patient ? nhs : NULL, dob ? dob : "", o.id, &id);
    if (rc == 0 && !patient) {
        size_t i;
        json_t *r;
        unsigned roles = 0;
        json_array_foreach(json_object_get(u, "roles"), i, r) roles |=
            pl_role_from_name(json_string_value(r));
        if (!roles) {
            fprintf(stderr, "line %d: staff need known roles\n", lineno);
            return -PL_EINVAL;
        }
        rc = pl_store_membership_add(st, id, o.id, roles);
    }
    if (rc == -PL_ECONFLICT) fprintf(stderr, "line %d: username or NHS number exists\n", lineno);
    return rc;
}

static int user_import(pl_store_t *st, pl_args_t *a)
{
    const char *file = pl_args_get(a, "file"), *ln = pl_args_get(a, "kdf-log-n");
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f) {
        fprintf(stderr, "user import: --file must name a readable file\n");
        return -PL_EINVAL;
    }
    int rc = pl_store_begin(st), lineno = 0, n = 0;
    char line[4096];
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == 0) continue;
        json_t *u = json_loads(line, 0, NULL);
        if (!json_is_object(u)) {
            fprintf(stderr, "line %d: not a JSON object\n", lineno);
            rc = -PL_EINVAL;
        } else {
            rc = import_one(st, u, ln ? atoi(ln) : 0, lineno);
            n += rc == 0;
        }
        json_decref(u);
        pl_wipe(line, sizeof line);
    }
    fclose(f);
    if (rc == 0) rc = pl_store_commit(st);
    else pl_store_rollback(st);
    if (rc == 0) printf("{\"imported\":%d}\n", n);
    return rc;
}

static int user_lookup(pl_store_t *st, pl_args_t *a, pl_user_t *u)
{
    const char *username = pl_args_get(a, "username");
    if (!username) {
        fprintf(stderr, "--username is required\n");
        return -PL_EINVAL;
    }
    int rc = pl_store_user_by_username(st, username, u);
    if (rc == -PL_ENOTFOUND) fprintf(stderr, "no user %s\n", username);
    return rc;
}

int pl_admin_user_main(int argc, char **argv)
{
    pl_args_t a;
    /* "parley org --help" names no command: answer it before anything opens the data dir. */
    bool want_help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc < 2 || argv[1][0] == '-' || pl_args_parse(&a, argc - 2, argv + 2) < 0 ||
        pl_args_has(&a, "help")) {
        user_usage();
        return want_help || (argc >= 2 && argv[1][0] != '-' && pl_args_has(&a, "help")) ? 0 : 2;
    }
    const char *cmd = argv[1];
    pl_store_t *st = NULL;
    if (pl_admin_open_store(&a, &st) < 0) return 1;
    int rc = 0;
    pl_user_t u;
    if (!strcmp(cmd, "add")) {
        rc = user_add(st, &a);
    } else if (!strcmp(cmd, "import")) {
        rc = user_import(st, &a);
    } else if (!strcmp(cmd, "list")) {
        json_t *list;
        if ((rc = pl_store_user_list(st, &list)) == 0) {
            json_dumpf(list, stdout, JSON_INDENT(2));
            printf("\n");
            json_decref(list);
        }
    } else if (!strcmp(cmd, "add-role")) {
        pl_org_t o;
        unsigned role = pl_role_from_name(pl_args_get(&a, "role"));
        const char *org = pl_args_get(&a, "org");
        if ((rc = user_lookup(st, &a, &u)) == 0) {
            if (!role || !org || pl_store_org_by_code(st, org, &o) < 0 || u.kind != PL_USER_STAFF) {
                fprintf(stderr, "add-role: needs a staff user, --org CODE and a known --role\n");
                rc = -PL_EINVAL;
            } else {
                rc = pl_store_membership_add(st, u.id, o.id, role);
            }
        }
    } else if (!strcmp(cmd, "passwd")) {
        char pw[300], hash[PL_PASSWORD_HASH_MAX];
        bool generated = false;
        if ((rc = user_lookup(st, &a, &u)) == 0 &&
            (rc = pl_admin_password(&a, pw, sizeof pw, &generated)) == 0) {
            const char *ln = pl_args_get(&a, "kdf-log-n");
            rc = pl_password_hash(pw, ln ? atoi(ln) : 0, hash, sizeof hash);
            if (rc == 0) rc = pl_store_user_set_password(st, u.id, hash);
            if (rc == 0) rc = pl_store_sessions_delete_user(st, u.id);
            if (rc == 0 && generated) printf("{\"password\":\"%s\"}\n", pw);
        }
        pl_wipe(pw, sizeof pw);
        pl_wipe(hash, sizeof hash);
    } else if (!strcmp(cmd, "disable") || !strcmp(cmd, "enable")) {
        bool dis = !strcmp(cmd, "disable");
        if ((rc = user_lookup(st, &a, &u)) == 0) rc = pl_store_user_set_disabled(st, u.id, dis);
        if (rc == 0 && dis) rc = pl_store_sessions_delete_user(st, u.id);
    } else if (!strcmp(cmd, "reset-totp")) {
        if ((rc = user_lookup(st, &a, &u)) == 0)
            rc = pl_store_user_set_totp(st, u.id, NULL, 0, false, -1);
    } else {
        user_usage();
        rc = -PL_EINVAL;
    }
    pl_user_wipe(&u);
    pl_store_close(st);
    if (rc < 0) fprintf(stderr, "parley user %s: %s\n", cmd, pl_strerror(rc));
    return rc < 0 ? 1 : 0;
}
