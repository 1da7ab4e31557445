-- Archive jobs resume by themselves (issue 17 §8): the replica building a job renews its lease
-- here as it records progress; a PENDING or RUNNING job whose lease lapsed (its replica
-- stopped) is claimed by another replica and built again. Jobs from before this column have a
-- lapsed lease (0).
ALTER TABLE archives ADD COLUMN lease_micros BIGINT NOT NULL DEFAULT 0;
