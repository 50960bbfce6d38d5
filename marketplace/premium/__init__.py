"""Community premium: the dated rate policy and exchange rates it is computed with."""
