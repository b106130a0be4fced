"""Default rules: TOML files read by `listhygiene.rules_loader` (this package holds data only)."""
