"""Orders: cart, checkout, placing (reserving stock and gold), expiry, fulfilment, refunds."""
