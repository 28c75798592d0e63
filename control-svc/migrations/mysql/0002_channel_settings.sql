-- Per-channel settings (Veloera's `other`, `param_override`, `status_code_mapping`, `system_prompt`) and
-- extra upstream headers. VARCHAR sizes keep the row under MySQL's 64 KiB limit; control enforces the same
-- lengths on every backend.
ALTER TABLE channels ADD COLUMN other VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN param_override VARCHAR(1024) NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN status_code_mapping VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN system_prompt VARCHAR(1024) NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN headers VARCHAR(512) NOT NULL DEFAULT '';
