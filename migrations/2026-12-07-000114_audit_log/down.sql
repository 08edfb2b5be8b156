DROP TABLE IF EXISTS audit_checkpoints;
DROP TABLE IF EXISTS audit_head;
DROP TABLE IF EXISTS audit_log;
