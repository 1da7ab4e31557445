-- A school's participants, in listing order, without scanning the batch: auto-submission, the
-- excellence quota and SubmitSchoolResults read them on every grading at that school.
CREATE INDEX participants_school ON participants (batch_id, school_code, path, teacher_number);
