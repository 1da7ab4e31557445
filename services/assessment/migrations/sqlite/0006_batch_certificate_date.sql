-- The date a batch's certificates print (发证日期, issue 21): the office's acceptance date, set
-- with UpdateBatch before the batch is certified; NULL prints the day it was certified. ISO text
-- (YYYY-MM-DD) like the batch's other dates.
ALTER TABLE batches ADD COLUMN certificate_date TEXT;
