"""Payouts: paying cooperatives and jewellers what is available to them, by payout provider."""
