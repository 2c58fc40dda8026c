# man: see docs/DEVELOPING.md
