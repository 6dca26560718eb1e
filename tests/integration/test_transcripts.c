/* Integration: transcripts and the record (PROTOCOL 13.4) through the real server. Ann writes
 * to Riverside; Dr Patel replies twice and adds an internal note. The transcript is one ordered
 * list: the practice's with the note, Ann's without. Dr Patel marks a reply entered in error:
 * it stays, flagged with who, when and why, and everyone is told. He files the conversation
 * with a SNOMED CT summary, then files a part of it again: version 2 replaces 1, each with a
 * Bundle waiting in the outbox, and the exported record holds both DocumentReferences. The
 * refusals store nothing: a receptionist, the patient, a note among the parts, a bad code. */
#include "tests/support/consult_fx.h"
#include "tests/support/https.h"
#include "tests/support/rawdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static pl_fixture_t fx;

static int setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000", NULL};
    return pl_fixture_start(&fx, args);
}

static int teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

static json_int_t send(pl_pc_t *c, const char *type, json_int_t conv, const char *body)
{
    json_t *r = cfx_ok(pl_pc_callf(c, CFX_T, "{ss sI ss ss}", "type", type, "conversation_id",
                                   conv, "body", body, "txn_id", cfx_txn()));
    json_int_t id = cfx_jint(json_object_get(r, "message"), "id");
    json_decref(r);
    return id;
}

static json_t *transcript(pl_pc_t *c, json_int_t conv)
{
    json_t *r = cfx_ok(
        pl_pc_callf(c, CFX_T, "{ss sI}", "type", "transcript.get", "conversation_id", conv));
    json_t *t = json_incref(json_object_get(json_object_get(r, "transcript"), "entries"));
    json_decref(r);
    return t;
}

static json_t *entry_of(json_t *entries, json_int_t msg_id)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (json_is_integer(json_object_get(e, "id")) && cfx_jint(e, "id") == msg_id) return e;
    }
    return NULL;
}

static int64_t count(const char *sql)
{
    return cfx_db_int(&fx, sql, 0);
}

/* Rows of sql whose column, as stored bytes (BLOB or BYTEA), hold the plaintext: on either
 * engine, where CAST(... AS TEXT) LIKE would never match a PostgreSQL bytea (hex text). */
static int64_t sealed_rows_with(const char *sql, const char *plaintext)
{
    int64_t n = -1;
    assert_int_equal(rawdb_count_containing(fx.dir, sql, plaintext, strlen(plaintext), &n), 0);
    return n;
}

static void test_transcript_entered_in_error_and_filing(void **s)
{
    pl_pc_t *ann = cfx_open_as(&fx, "ann.taylor"), *gp = cfx_open_as(&fx, "dr.patel");
    pl_pc_t *rec = cfx_open_as(&fx, "reception.jones");
    json_decref(pl_pc_subscribe(ann, -1, CFX_T));
    json_t *r = cfx_ok(pl_pc_callf(ann, CFX_T, "{ss ss ss ss ss}", "type", "conversation.create",
                                   "txn_id", cfx_txn(), "kind", "clinical", "subject",
                                   "Rash on my arm", "body", "It has spread since Monday."));
    json_int_t conv = cfx_jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    json_int_t m2 = send(gp, "conversation.send", conv, "Please use the cream twice a day.");
    json_int_t note = send(gp, "conversation.note", conv, "Check the allergy list first.");
    json_int_t m3 = send(gp, "conversation.send", conv, "And send a photo in a week.");

    /* One ordered list; the practice sees its note, Ann does not. */
    json_t *staff = transcript(gp, conv), *mine = transcript(ann, conv);
    assert_non_null(entry_of(staff, note));
    assert_string_equal(cfx_jstr(entry_of(staff, note), "kind"), "note");
    assert_null(entry_of(mine, note));
    assert_non_null(entry_of(mine, m2));
    char *txt = json_dumps(mine, JSON_COMPACT);
    assert_null(strstr(txt, "allergy"));
    free(txt);
    json_int_t prev = 0;
    size_t i;
    json_t *e;
    json_array_foreach(staff, i, e)
    {
        assert_true(cfx_jint(e, "at") >= prev);
        prev = cfx_jint(e, "at");
    }
    assert_string_equal(cfx_jstr(entry_of(staff, m2), "author"), "Dr Asha Patel");
    assert_string_equal(cfx_jstr(entry_of(staff, m2), "organisation"), "Riverside Surgery");
    json_t *first = json_array_get(staff, 0);
    assert_string_equal(cfx_jstr(first, "role"), "patient");
    assert_true(json_is_null(json_object_get(first, "organisation")));
    json_decref(staff);
    json_decref(mine);

    /* Entered in error: kept, flagged, told. */
    cfx_refused(pl_pc_callf(rec, CFX_T, "{ss sI ss}", "type", "message.mark_error", "message_id",
                            m2, "reason", "wrong"),
                "forbidden", "the practice's clinicians keep the record");
    cfx_refused(pl_pc_callf(ann, CFX_T, "{ss sI ss}", "type", "message.mark_error", "message_id",
                            m2, "reason", "wrong"),
                "forbidden", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss}", "type", "message.mark_error", "message_id",
                            m2, "reason", "bad\x01"),
                "bad_request", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss}", "type", "message.mark_error", "message_id",
                            (json_int_t)999999, "reason", "x"),
                "not_found", "no such message");
    assert_int_equal(count("SELECT count(*) FROM messages WHERE error_at IS NOT NULL"), 0);
    r = cfx_ok(pl_pc_callf(gp, CFX_T, "{ss sI ss}", "type", "message.mark_error", "message_id", m2,
                           "reason", "Sent to the wrong patient"));
    json_t *err = json_object_get(json_object_get(r, "message"), "entered_in_error");
    assert_string_equal(cfx_jstr(err, "reason"), "Sent to the wrong patient");
    assert_string_equal(cfx_jstr(err, "by_name"), "Dr Asha Patel");
    json_decref(r);
    json_t *ev = cfx_event(ann, "message.entered_in_error", &e);
    assert_int_equal(cfx_jint(e, "message_id"), m2);
    json_decref(ev);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI ss}", "type", "message.mark_error", "message_id", m2,
                            "reason", "again"),
                "conflict", "this message is already marked entered in error");
    mine = transcript(ann, conv);
    json_t *flagged = entry_of(mine, m2);
    assert_non_null(flagged); /* still there */
    assert_string_equal(cfx_jstr(json_object_get(flagged, "entered_in_error"), "reason"),
                        "Sent to the wrong patient");
    assert_null(json_object_get(json_object_get(flagged, "entered_in_error"), "by"));
    json_decref(mine);
    /* The reason is sealed at rest like the message. */
    assert_int_equal(sealed_rows_with("SELECT error_reason FROM messages", "wrong patient"), 0);

    /* Filing: refusals store nothing. */
    cfx_refused(pl_pc_callf(rec, CFX_T, "{ss sI}", "type", "conversation.file", "conversation_id",
                            conv),
                "forbidden", NULL);
    cfx_refused(pl_pc_callf(ann, CFX_T, "{ss sI}", "type", "conversation.file", "conversation_id",
                            conv),
                "forbidden", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI s[I]}", "type", "conversation.file",
                            "conversation_id", conv, "message_ids", note),
                "bad_request", "message_ids must be messages of this conversation, not internal notes");
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI s{ss ss}}", "type", "conversation.file",
                            "conversation_id", conv, "summary", "code", "12ab", "display", "Rash"),
                "bad_request", NULL);
    cfx_refused(pl_pc_callf(gp, CFX_T, "{ss sI s[II]}", "type", "conversation.file",
                            "conversation_id", conv, "message_ids", m2, m2),
                "bad_request", NULL);
    assert_int_equal(count("SELECT count(*) FROM filings"), 0);
    assert_int_equal(count("SELECT count(*) FROM outbox"), 0);

    /* Version 1: everything, with a coded summary. */
    r = cfx_ok(pl_pc_callf(gp, CFX_T, "{ss sI s{ss ss}}", "type", "conversation.file",
                           "conversation_id", conv, "summary", "code", "271807003", "display",
                           "Eruption of skin"));
    json_t *f = json_object_get(r, "filing");
    assert_int_equal(cfx_jint(f, "version"), 1);
    assert_int_equal(json_array_size(json_object_get(f, "parts")), 3);
    assert_string_equal(cfx_jstr(json_object_get(f, "summary"), "code"), "271807003");
    assert_string_equal(cfx_jstr(f, "outbox"), "pending");
    json_int_t f1 = cfx_jint(f, "id");
    json_decref(r);
    /* Version 2: a part of it, replacing version 1. */
    r = cfx_ok(pl_pc_callf(gp, CFX_T, "{ss sI s[I]}", "type", "conversation.file",
                           "conversation_id", conv, "message_ids", m3));
    f = json_object_get(r, "filing");
    assert_int_equal(cfx_jint(f, "version"), 2);
    assert_int_equal(cfx_jint(f, "replaces_id"), f1);
    assert_int_equal(json_array_size(json_object_get(f, "parts")), 1);
    json_decref(r);
    r = cfx_ok(pl_pc_callf(gp, CFX_T, "{ss sI}", "type", "filing.list", "conversation_id", conv));
    assert_int_equal(json_array_size(json_object_get(r, "filings")), 2);
    json_decref(r);
    assert_int_equal(count("SELECT count(*) FROM outbox WHERE status = 'pending'"), 2);
    /* The rendering is sealed at rest. */
    assert_int_equal(sealed_rows_with("SELECT html FROM filings", "cream"), 0);

    /* The record now holds both versions, the second replacing the first. */
    char token[128], hdr[200], path[64];
    assert_int_equal(pl_pc_login(fx.port, "dr.patel", pl_fixture_password(&fx, "dr.patel"), NULL,
                                 token, sizeof token, NULL),
                     200);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
    snprintf(path, sizeof path, "/api/v1/patients/%lld/fhir",
             (long long)pl_fixture_user_id(&fx, "ann.taylor"));
    pl_http_resp_t resp;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", path, hdr, NULL, 0, CFX_T, &resp),
                     0);
    assert_int_equal(resp.status, 200);
    json_t *bundle = json_loads(resp.body, 0, NULL);
    pl_http_resp_free(&resp);
    assert_non_null(bundle);
    int docs = 0, replaces = 0, in_error = 0;
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        json_t *res = json_object_get(e, "resource");
        const char *type = cfx_jstr(res, "resourceType");
        if (!strcmp(type, "DocumentReference")) {
            docs++;
            replaces += json_array_size(json_object_get(res, "relatesTo")) > 0;
        }
        if (!strcmp(type, "Communication") &&
            !strcmp(cfx_jstr(res, "status"), "entered-in-error"))
            in_error++;
    }
    assert_int_equal(docs, 2);
    assert_int_equal(replaces, 1);
    assert_int_equal(in_error, 1);
    json_decref(bundle);
    pl_pc_destroy(rec);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcript_entered_in_error_and_filing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
