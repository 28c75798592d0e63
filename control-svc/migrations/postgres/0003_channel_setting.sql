-- Veloera's per-channel `setting` JSON (stream_support, thinking_to_content, force_format, proxy).
ALTER TABLE channels ADD COLUMN setting TEXT NOT NULL DEFAULT '';
