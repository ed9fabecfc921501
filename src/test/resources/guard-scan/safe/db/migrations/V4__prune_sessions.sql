CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
DELETE FROM sessions WHERE expires_at < now() - interval '30 days';
-- DROP TABLE sessions;  (not yet)
INSERT INTO audit(note) VALUES ('DROP TABLE is only text here');
