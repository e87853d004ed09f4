"""The portal's job statuses (SPEC §2) that the client reasons about; standard library only."""

# A job in one of these changes no more.
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "DELETED"})
# Final without results to give.
UNSUCCESSFUL_STATUSES = frozenset({"FAILED", "CANCELLED", "DELETED"})
