"""Development helpers run by CI (not part of the public API)."""
