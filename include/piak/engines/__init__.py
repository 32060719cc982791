"""What does the work underneath: database backends (SQLite, Oracle Data Pump over SSH), backup
sets and their storage, encryption, the SIAK database, the data-provision extraction engine."""
