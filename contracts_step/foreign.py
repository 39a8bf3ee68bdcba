"""What a migration does with a creation of its deployer that matches a plan entry but does not
carry this stack's claim (contracts_step/migrate.py says why), and the stack config key that
chooses.  The standard library only: the settings read it on the program's first path, before any
chain library is needed."""

FOREIGN_POLICIES = ("refuse", "adopt", "deploy")
FOREIGN_CONTRACTS_KEY = "keep-cd:foreignContracts"
