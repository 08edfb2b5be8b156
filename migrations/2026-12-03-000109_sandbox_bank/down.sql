DROP TABLE sandbox_bank_entries;
