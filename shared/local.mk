# shared: see docs/DEVELOPING.md
