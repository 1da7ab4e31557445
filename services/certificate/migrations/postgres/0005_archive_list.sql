-- ListCertificateArchives (issue 17): a school's or a jurisdiction's archive jobs, newest first.
CREATE INDEX archives_path ON archives (path, create_micros);
