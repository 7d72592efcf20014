-- Which Xet file first used each xorb: the bytes an upload added to the
-- store are the xorbs its file was the first to use (the storage panel).
-- Rows from before this migration are filled in by the server at start.

ALTER TABLE xorbs ADD COLUMN first_file BYTEA;
CREATE INDEX xorbs_first_file ON xorbs (first_file);
