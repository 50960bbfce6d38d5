"""The jeweller's workspace: the application, gold held per lot, pieces and their backing."""
