-- Chat-content logging (issue 7): the prompt and answer a relay recorded while `LogContentEnabled` was on, each
-- cut at `LogContentMaxBytes`. NULL when nothing was recorded; separate columns so sums and counts never read them.
ALTER TABLE logs ADD COLUMN content_prompt TEXT NULL;
ALTER TABLE logs ADD COLUMN content_answer TEXT NULL;
