-- Per-channel settings (Veloera's `other`, `param_override`, `status_code_mapping`, `system_prompt`) and
-- extra upstream headers.
ALTER TABLE channels ADD COLUMN other TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN param_override TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN status_code_mapping TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN system_prompt TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN headers TEXT NOT NULL DEFAULT '';
