"""Tape backends: physical changers and drives (mtx, mt, lsscsi, sg_logs), mhVTL's configuration files, and a
virtual library on tgt. They know tools and file formats, not the database."""
