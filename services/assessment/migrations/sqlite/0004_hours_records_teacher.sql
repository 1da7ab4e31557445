-- A teacher's records in listing order (provider, record). PostgreSQL's generic plan for the
-- listing (LIMIT unknown) otherwise walked the primary key through every record and filtered by
-- teacher, so each push's recount grew with the whole table (issue 16's soak: hours p99 1.3 s ->
-- 3.5 s over ten minutes).
DROP INDEX hours_records_teacher;
CREATE INDEX hours_records_teacher ON hours_records (teacher_number, provider_id, record_id);
