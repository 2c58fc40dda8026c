# cli: see docs/DEVELOPING.md
