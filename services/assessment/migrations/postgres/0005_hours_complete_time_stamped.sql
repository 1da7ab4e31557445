-- Whether a record's complete_micros is the service's stamp (the push carried no complete_time)
-- rather than the provider's own time. The stamp is not the provider's content: a retry of the
-- same push without complete_time must compare equal to it (UNCHANGED, issue 17 §4), while a
-- push that now carries a time, or carried one first and none now, is other content. Records
-- stored before this column count as carrying their time.
ALTER TABLE hours_records ADD COLUMN complete_time_stamped BOOLEAN NOT NULL DEFAULT FALSE;
