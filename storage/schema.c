/* Schema, version by version. Never edit a shipped migration: add a new one. Columns holding
 * sensitive text are BLOBs sealed with AES-256-GCM (storage/aead.h). */
#include "storage/schema.h"

const char *const pl_schema_migrations[] = {
    /* 1: identity, sessions, messaging, events, audit */
    "CREATE TABLE orgs ("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('practice','network','specialist_service')),"
    "  parent_id INTEGER REFERENCES orgs(id),"
    "  response_target_minutes INTEGER NOT NULL DEFAULT 0,"
    "  require_totp INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  kind INTEGER NOT NULL CHECK (kind IN (1,2)),"
    "  username TEXT NOT NULL UNIQUE,"
    "  display_name TEXT NOT NULL,"
    "  password_hash TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  totp_enabled INTEGER NOT NULL DEFAULT 0,"
    "  totp_secret BLOB,"
    "  totp_last_step INTEGER NOT NULL DEFAULT -1,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE patients ("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id),"
    "  nhs_number TEXT NOT NULL UNIQUE,"
    "  dob TEXT NOT NULL,"
    "  practice_id INTEGER NOT NULL REFERENCES orgs(id));"
    "CREATE TABLE memberships ("
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  roles INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, org_id));"
    "CREATE INDEX memberships_org ON memberships(org_id);"
    "CREATE TABLE sessions ("
    "  token_hash TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  last_seen_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user_id);"
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('admin','clinical')),"
    "  subject BLOB NOT NULL,"
    "  answers BLOB,"
    "  status TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (status IN ('new','in_progress','awaiting_patient','closed')),"
    "  assignee_user_id INTEGER REFERENCES users(id),"
    "  assignee_role TEXT,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  create_txn TEXT NOT NULL,"
    "  waiting_since INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (patient_id, create_txn));"
    "CREATE INDEX conversations_org ON conversations(org_id, id);"
    "CREATE INDEX conversations_patient ON conversations(patient_id, id);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id),"
    "  seq INTEGER NOT NULL,"
    "  sender_id INTEGER NOT NULL REFERENCES users(id),"
    "  internal INTEGER NOT NULL DEFAULT 0,"
    "  txn_id TEXT NOT NULL,"
    "  body BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (sender_id, txn_id));"
    /* seq numbers what the patient sees, 1..n with no gaps; an internal note takes the seq of
     * the message it follows, so notes neither show as gaps nor can be counted. */
    "CREATE UNIQUE INDEX messages_seq ON messages(conversation_id, seq) WHERE internal = 0;"
    "CREATE INDEX messages_order ON messages(conversation_id, seq, internal, id);"
    "CREATE TABLE receipts ("
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id),"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  delivered_seq INTEGER NOT NULL DEFAULT 0,"
    "  read_seq INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (conversation_id, user_id));"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  conversation_id INTEGER NOT NULL,"
    "  org_id INTEGER NOT NULL,"
    "  patient_id INTEGER NOT NULL,"
    "  staff_only INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX events_org ON events(org_id, id);"
    "CREATE INDEX events_patient ON events(patient_id, id);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  actor_id INTEGER NOT NULL,"
    "  action TEXT NOT NULL,"
    "  resource_type TEXT NOT NULL,"
    "  resource_id INTEGER NOT NULL,"
    "  patient_id INTEGER,"
    "  ip TEXT,"
    "  request_id TEXT);",
    /* 2: reply templates, kept per practice. Canned text written by staff, never about one
     * patient, so it is stored in plain text. A deleted template keeps its row (deleted = 1). */
    "CREATE TABLE reply_templates ("
    "  id INTEGER PRIMARY KEY,"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  title TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_by INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_by INTEGER NOT NULL REFERENCES users(id),"
    "  updated_at INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0,1)));"
    "CREATE INDEX reply_templates_org ON reply_templates(org_id);",
    /* 3: video consultations. A consultation belongs to a conversation (its chat, receipts,
     * events and transcript are the conversation's), so conversations gain the kind 'video'.
     * SQLite cannot change a CHECK constraint in place, so the table is rebuilt: copied aside,
     * dropped, created again under its own name and refilled. Foreign keys are deferred to the
     * commit, and the refill gives messages and receipts their parent rows back before it.
     * (Renaming a new table into place instead would leave them counted as orphans.)
     * sessions is rebuilt the same way to gain scope_consultation_id: a session opened from a
     * consultation link may act only on that consultation (signalling/authz.c). Written so that
     * it can run again over its own result without failing: tests rewind schema_version. */
    "PRAGMA defer_foreign_keys = ON;"
    "CREATE TEMP TABLE conversations_copy AS SELECT * FROM conversations;"
    "DROP TABLE conversations;"
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('admin','clinical','video')),"
    "  subject BLOB NOT NULL,"
    "  answers BLOB,"
    "  status TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (status IN ('new','in_progress','awaiting_patient','closed')),"
    "  assignee_user_id INTEGER REFERENCES users(id),"
    "  assignee_role TEXT,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  create_txn TEXT NOT NULL,"
    "  waiting_since INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (patient_id, create_txn));"
    "INSERT INTO conversations SELECT * FROM temp.conversations_copy;"
    "DROP TABLE temp.conversations_copy;"
    "CREATE INDEX conversations_org ON conversations(org_id, id);"
    "CREATE INDEX conversations_patient ON conversations(patient_id, id);"
    /* status: booked -> waiting (the patient is in the waiting room) -> in_call (admitted) ->
     * ended; booked or waiting -> cancelled. */
    "CREATE TABLE IF NOT EXISTS consultations ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id),"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  clinician_user_id INTEGER NOT NULL REFERENCES users(id),"
    "  scheduled_at INTEGER,"
    "  status TEXT NOT NULL DEFAULT 'booked'"
    "    CHECK (status IN ('booked','waiting','in_call','ended','cancelled')),"
    "  created_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  ended_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS consultations_org ON consultations(org_id, id);"
    "CREATE INDEX IF NOT EXISTS consultations_patient ON consultations(patient_id, id);"
    "CREATE INDEX IF NOT EXISTS consultations_conversation ON consultations(conversation_id);"
    /* A patient's join links: only the SHA-256 of the token is kept. device_hash binds a link
     * to the first device that passed the date-of-birth check. */
    "CREATE TABLE IF NOT EXISTS consult_links ("
    "  id INTEGER PRIMARY KEY,"
    "  consultation_id INTEGER NOT NULL REFERENCES consultations(id),"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  device_hash TEXT,"
    "  claimed_at INTEGER,"
    "  dob_failures INTEGER NOT NULL DEFAULT 0,"
    "  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0,1)));"
    "CREATE INDEX IF NOT EXISTS consult_links_consultation ON consult_links(consultation_id);"
    /* Everyone beyond the booking: colleagues invited (invited_by set) and, once the media
     * layer reports it, who joined the call and whether they are in it now. */
    "CREATE TABLE IF NOT EXISTS consult_participants ("
    "  consultation_id INTEGER NOT NULL REFERENCES consultations(id),"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  invited_by INTEGER REFERENCES users(id),"
    "  invited_at INTEGER,"
    "  joined_at INTEGER,"
    "  left_at INTEGER,"
    "  present INTEGER NOT NULL DEFAULT 0 CHECK (present IN (0,1)),"
    "  PRIMARY KEY (consultation_id, user_id));"
    "CREATE TEMP TABLE sessions_copy AS SELECT token_hash, user_id, created_at, last_seen_at, "
    "  expires_at FROM sessions;"
    "DROP TABLE sessions;"
    "CREATE TABLE sessions ("
    "  token_hash TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  last_seen_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  scope_consultation_id INTEGER REFERENCES consultations(id));"
    "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) "
    "  SELECT * FROM temp.sessions_copy;"
    "DROP TABLE temp.sessions_copy;"
    "CREATE INDEX sessions_user ON sessions(user_id);",

    /* 4: guests in a consultation, an interpreter or a carer invited from outside the practice.
     * A guest is a users row with guest_role set and kind 2 in the table (kind's CHECK cannot
     * change without rebuilding a table half the schema points at); the store reports it as
     * PL_USER_GUEST. It has no password that can verify, no memberships and no patient row,
     * and its only sessions are scoped to the one consultation (POST /api/v1/join). Its link
     * is a consult_links row with user_id set; NULL stays the patient's. A guest waits and is
     * admitted like the patient: waiting_at and admitted_at are its own. */
    "ALTER TABLE users ADD COLUMN guest_role TEXT CHECK (guest_role IN ('interpreter','carer'));"
    "ALTER TABLE consult_links ADD COLUMN user_id INTEGER REFERENCES users(id);"
    "ALTER TABLE consult_participants ADD COLUMN waiting_at INTEGER;"
    "ALTER TABLE consult_participants ADD COLUMN admitted_at INTEGER;",

    /* 5: attachments (photos and PDFs) on conversation messages. The bytes are stored once per
     * content, keyed by their SHA-256 and sealed (AES-256-GCM with the data key, the hash as
     * associated data) in the database itself, so that every node of a cluster sharing the
     * store can serve them. An attachment row is one upload to one conversation; message_id
     * is set when a message carries it (until then only its uploader may use it). filename is
     * sealed: a name can say who it is about. */
    "CREATE TABLE blobs ("
    "  sha256 TEXT PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  sealed BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE attachments ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id),"
    "  sha256 TEXT NOT NULL REFERENCES blobs(sha256),"
    "  content_type TEXT NOT NULL"
    "    CHECK (content_type IN ('image/jpeg','image/png','image/heic','application/pdf')),"
    "  size INTEGER NOT NULL,"
    "  filename BLOB NOT NULL,"
    "  uploaded_by INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  message_id INTEGER REFERENCES messages(id));"
    "CREATE INDEX attachments_conversation ON attachments(conversation_id, id);"
    "CREATE INDEX attachments_message ON attachments(message_id);",

    /* 6: professional-to-professional advice. A specialist service is an orgs row of kind
     * specialist_service with its specialties (a JSON array of names) and response targets.
     * An agreement between a practice and a service is proposed by an admin of one side and
     * accepted by an admin of the other; it is in force from acceptance while now is within
     * [starts_at, ends_at) and nobody has ended it. shares says what the service may see of
     * the patients: 'identified' (name, NHS number, date of birth) or 'pseudonymised'.
     * An advice request's thread is a conversation of kind 'advice' (org_id the practice),
     * so messages, receipts, typing, attachments and transcripts work as for any other; its
     * events carry the service as peer_org_id and no patient_id, so the service's staff get
     * them and the patient does not (it is a conversation between professionals). The
     * conversations table is rebuilt for its CHECK, as in migration 3. */
    "ALTER TABLE orgs ADD COLUMN specialties TEXT;"
    "ALTER TABLE orgs ADD COLUMN routine_target_hours INTEGER NOT NULL DEFAULT 72;"
    "ALTER TABLE orgs ADD COLUMN urgent_target_hours INTEGER NOT NULL DEFAULT 4;"
    "ALTER TABLE events ADD COLUMN peer_org_id INTEGER;"
    "CREATE INDEX events_peer_org ON events(peer_org_id, id) WHERE peer_org_id IS NOT NULL;"
    "CREATE TABLE agreements ("
    "  id INTEGER PRIMARY KEY,"
    "  practice_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  service_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  shares TEXT NOT NULL CHECK (shares IN ('identified','pseudonymised')),"
    "  starts_at INTEGER NOT NULL,"
    "  ends_at INTEGER NOT NULL,"
    "  proposed_by INTEGER NOT NULL REFERENCES users(id),"
    "  proposed_org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  proposed_at INTEGER NOT NULL,"
    "  accepted_by INTEGER REFERENCES users(id),"
    "  accepted_at INTEGER,"
    "  ended_by INTEGER REFERENCES users(id),"
    "  ended_at INTEGER,"
    "  CHECK (ends_at > starts_at));"
    "CREATE INDEX agreements_pair ON agreements(practice_id, service_id);"
    "CREATE INDEX agreements_service ON agreements(service_id);"
    "PRAGMA defer_foreign_keys = ON;"
    "CREATE TEMP TABLE conversations_copy AS SELECT * FROM conversations;"
    "DROP TABLE conversations;"
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('admin','clinical','video','advice')),"
    "  subject BLOB NOT NULL,"
    "  answers BLOB,"
    "  status TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (status IN ('new','in_progress','awaiting_patient','closed')),"
    "  assignee_user_id INTEGER REFERENCES users(id),"
    "  assignee_role TEXT,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  create_txn TEXT NOT NULL,"
    "  waiting_since INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (patient_id, create_txn));"
    "INSERT INTO conversations SELECT * FROM temp.conversations_copy;"
    "DROP TABLE temp.conversations_copy;"
    "CREATE INDEX conversations_org ON conversations(org_id, id);"
    "CREATE INDEX conversations_patient ON conversations(patient_id, id);"
    "CREATE TABLE advice_requests ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations(id),"
    "  practice_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  service_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  agreement_id INTEGER NOT NULL REFERENCES agreements(id),"
    "  specialty TEXT NOT NULL,"
    "  urgency TEXT NOT NULL CHECK (urgency IN ('routine','urgent')),"
    "  question BLOB NOT NULL,"
    "  summary BLOB NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (status IN ('new','in_progress','awaiting_gp','closed')),"
    "  specialist_id INTEGER REFERENCES users(id),"
    "  outcome TEXT CHECK (outcome IN ('advice_given','referral','seen_elsewhere')),"
    "  consent_by INTEGER NOT NULL REFERENCES users(id),"
    "  consent_at INTEGER NOT NULL,"
    "  created_by INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  due_at INTEGER NOT NULL,"
    "  closed_at INTEGER,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX advice_practice ON advice_requests(practice_id, id);"
    "CREATE INDEX advice_service ON advice_requests(service_id, id);",

    /* 7: live escalation. A consultation whose room_id names another consultation takes place
     * in that one's media room: how a GP brings their patient, in an ordinary consultation
     * of the patient's own (link, waiting room, chat), into the call of an advice thread with
     * the specialist. No REFERENCES: the application keeps it, and SQLite cannot drop a
     * column a foreign key uses. */
    "ALTER TABLE consultations ADD COLUMN room_id INTEGER;"
    "CREATE INDEX consultations_room ON consultations(room_id) WHERE room_id IS NOT NULL;",

    /* 8: case discussions (MDT). A clinician of a practice opens one about a patient of
     * theirs and invites professionals of the practice and of services with an agreement in
     * force that shares the patient's identity. Its thread is a conversation of kind 'case'
     * (org_id the practice, so it is stored with the patient); access is membership, so its
     * events carry case_id and no patient, and reach the members only. A member takes part
     * for one organisation (org_id), which is how an ended agreement takes their access away.
     * The conversations table is rebuilt for its CHECK, as in migration 6. */
    "ALTER TABLE events ADD COLUMN case_id INTEGER;"
    "CREATE INDEX events_case ON events(case_id, id) WHERE case_id IS NOT NULL;"
    "PRAGMA defer_foreign_keys = ON;"
    "CREATE TEMP TABLE conversations_copy AS SELECT * FROM conversations;"
    "DROP TABLE conversations;"
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('admin','clinical','video','advice','case')),"
    "  subject BLOB NOT NULL,"
    "  answers BLOB,"
    "  status TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (status IN ('new','in_progress','awaiting_patient','closed')),"
    "  assignee_user_id INTEGER REFERENCES users(id),"
    "  assignee_role TEXT,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  create_txn TEXT NOT NULL,"
    "  waiting_since INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (patient_id, create_txn));"
    "INSERT INTO conversations SELECT * FROM temp.conversations_copy;"
    "DROP TABLE temp.conversations_copy;"
    "CREATE INDEX conversations_org ON conversations(org_id, id);"
    "CREATE INDEX conversations_patient ON conversations(patient_id, id);"
    "CREATE TABLE cases ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations(id),"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','closed')),"
    "  created_by INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  closed_by INTEGER REFERENCES users(id),"
    "  closed_at INTEGER);"
    "CREATE INDEX cases_org ON cases(org_id, id);"
    "CREATE TABLE case_members ("
    "  case_id INTEGER NOT NULL REFERENCES cases(id),"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  added_by INTEGER NOT NULL REFERENCES users(id),"
    "  added_at INTEGER NOT NULL,"
    "  PRIMARY KEY (case_id, user_id));"
    "CREATE INDEX case_members_user ON case_members(user_id);",

    /* 9: the tamper-evident audit trail (storage/store_sqlite_audit.c, docs/SECURITY.md
     * "Accountability"). Each audit row gains who-as-what (role, org_id), the outcome and the
     * user agent, and its link in a hash chain: hash = SHA-256(prev_hash || canonical(row)),
     * both lowercase hex. SQLite has no SHA-256, so rows already present are chained in C by
     * the store, in the same transaction as this migration (pl__sq_audit_chain_existing).
     * audit_checkpoints holds Ed25519 signatures over (checkpoint id, audit id, hash,
     * signed_at). The triggers make both tables append-only for the application: a row may
     * be given its hash once and never changed or deleted after. They stop bugs, not an
     * attacker who can write the file; the chain and the signatures are what catch that. */
    "ALTER TABLE audit ADD COLUMN role TEXT;"
    "ALTER TABLE audit ADD COLUMN org_id INTEGER;"
    "ALTER TABLE audit ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok'"
    "  CHECK (outcome IN ('ok','denied','failed'));"
    "ALTER TABLE audit ADD COLUMN user_agent TEXT;"
    "ALTER TABLE audit ADD COLUMN prev_hash TEXT;"
    "ALTER TABLE audit ADD COLUMN hash TEXT;"
    "CREATE TABLE audit_checkpoints ("
    "  id INTEGER PRIMARY KEY,"
    "  audit_id INTEGER NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  signed_at INTEGER NOT NULL,"
    "  signature TEXT NOT NULL);"
    "CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit WHEN OLD.hash IS NOT NULL"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints"
    "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
    "CREATE TRIGGER audit_checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints"
    "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;",

    /* 10: transcripts filed to the record (storage/store_sqlite_transcript.c). A message is
     * never deleted: a clinician marks it entered in error, with a reason (sealed, under the
     * message's own AAD family "msgerr:<conversation>"), and it stays in the transcript,
     * flagged. Filing a conversation keeps a version of its transcript (the parts chosen, an
     * optional SNOMED CT summary, the HTML rendering sealed under "filing:<conversation>");
     * filing again adds the next version, which replaces the last. The outbox holds what is
     * still to be written back to the record system, in the filing's own transaction: the
     * Bundle (sealed under "outbox:<filing>"), how often it has been tried, when to try next,
     * and whether it was delivered or dead-lettered. */
    "ALTER TABLE messages ADD COLUMN error_by INTEGER;"
    "ALTER TABLE messages ADD COLUMN error_at INTEGER;"
    "ALTER TABLE messages ADD COLUMN error_reason BLOB;"
    "CREATE TABLE filings ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id),"
    "  patient_id INTEGER NOT NULL REFERENCES users(id),"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  version INTEGER NOT NULL,"
    "  replaces_id INTEGER REFERENCES filings(id),"
    "  filed_by INTEGER NOT NULL REFERENCES users(id),"
    "  filed_at INTEGER NOT NULL,"
    "  parts TEXT NOT NULL,"
    "  summary_code TEXT,"
    "  summary_display TEXT,"
    "  html BLOB NOT NULL,"
    "  UNIQUE (conversation_id, version));"
    "CREATE INDEX filings_patient ON filings(patient_id, id);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  filing_id INTEGER NOT NULL UNIQUE REFERENCES filings(id),"
    "  org_id INTEGER NOT NULL REFERENCES orgs(id),"
    "  bundle BLOB NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','dead')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  sent_at INTEGER);"
    "CREATE INDEX outbox_due ON outbox(status, next_at);",

    /* 11: who accessed a patient's data (audit.patient, audit.mine, `parley audit export`) is
     * read by patient: an index, so those reads do not scan the whole trail. */
    "CREATE INDEX audit_patient ON audit(patient_id, id) WHERE patient_id IS NOT NULL;",

    /* 12: one data key per organisation (storage/store_sqlite_keys.c). Each row holds a 32-byte
     * AES-256 data key sealed under the master key in var/data.key (AAD
     * "data-key:<id>:org:<org>", ":legacy" appended for the legacy key), so a row moved to
     * another id or organisation fails to open. org_id NULL is the shared key, for what belongs
     * to no single organisation (attachment bytes deduplicated across organisations, TOTP
     * secrets). A retired key seals nothing new and stays to open what it sealed. legacy marks
     * the key that sealed everything written before this version (without a key id), adopted at
     * the upgrade: retired from the start. Sealed values now name their key in a header
     * (storage/aead.h), so no other table changes. */
    "CREATE TABLE data_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  org_id INTEGER REFERENCES orgs(id),"
    "  legacy INTEGER NOT NULL DEFAULT 0 CHECK (legacy IN (0,1)),"
    "  wrapped BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  retired_at INTEGER);"
    "CREATE INDEX data_keys_current ON data_keys(org_id, id) WHERE retired_at IS NULL;",
    /* 13: a conversation's messages newest first, for history pages: without it every page
     * read and sorted the whole conversation (found slowing as conversations grew). */
    "CREATE INDEX messages_conv_id ON messages(conversation_id, id);",
};

const int pl_schema_version = (int)(sizeof pl_schema_migrations / sizeof pl_schema_migrations[0]);
