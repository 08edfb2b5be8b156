DROP TABLE recon_bank_entries;
DROP TABLE recon_imports;
