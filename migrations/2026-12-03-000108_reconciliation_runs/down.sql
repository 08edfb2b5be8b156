DROP TABLE recon_run_items;
DROP TABLE recon_runs;
DROP TABLE recon_provider_rows;
ALTER TABLE recon_imports DROP COLUMN complete;
ALTER TABLE recon_imports DROP CONSTRAINT recon_imports_kind_known;
ALTER TABLE recon_imports ADD CONSTRAINT recon_imports_kind_check CHECK (kind IN ('camt053'));
