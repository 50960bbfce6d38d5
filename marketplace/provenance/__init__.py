"""Provenance: cooperatives, certified gold lots, evidence and the hash-chained custody events."""
