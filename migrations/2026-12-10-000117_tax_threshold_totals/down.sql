DROP TABLE tax_threshold_totals;
