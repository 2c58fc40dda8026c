# broker: see docs/DEVELOPING.md
