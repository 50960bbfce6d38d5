"""The cooperative officer's workspace: its lots, their custody chains and where the gold went."""
