"""The Central's console: cooperatives, lots, gold transfers, jewellers, users, the audit trail."""
