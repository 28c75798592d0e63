-- Veloera's per-channel `setting` JSON (stream_support, thinking_to_content, force_format, proxy).
ALTER TABLE channels ADD COLUMN setting VARCHAR(512) NOT NULL DEFAULT '';
