"""Payments: gateways (sandbox, Stripe) behind one interface, payments, refunds, webhooks."""
