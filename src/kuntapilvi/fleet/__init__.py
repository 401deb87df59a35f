"""Rolling a change out to every stack it affects: fingerprints, waves, ledger, runners."""
