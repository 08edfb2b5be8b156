DROP TABLE IF EXISTS tax_remittances;
DROP TABLE IF EXISTS seller_tax_registrations;
ALTER TABLE order_lines DROP COLUMN IF EXISTS tax_code;
ALTER TABLE products DROP COLUMN IF EXISTS tax_code;
