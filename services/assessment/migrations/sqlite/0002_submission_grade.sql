-- A submission's current grade as its own column (the key of grading_json's grade, '' while
-- ungraded), so the per-micro-competency figures are one grouped aggregate, as participants'
-- running counts are for the roll-up. Written with every change to the submission.
ALTER TABLE submissions ADD COLUMN grade TEXT NOT NULL DEFAULT '';
UPDATE submissions SET grade = COALESCE(json_extract(grading_json, '$.grade'), '') WHERE grading_json <> '';
