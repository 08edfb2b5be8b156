DROP TABLE vault_cards; DROP TABLE vault_keys; DROP TABLE vault_master;
