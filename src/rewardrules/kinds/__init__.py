"""One module per rule kind: its compiled plan and its pure evaluation functions.

Each function takes the rule's plan, its slice of the customer's state (a count, a window's
totals, nothing), the purchase as the rules see it and the amounts left by earlier rules,
and returns the new slice, the new amounts and ledger entries. None of them mutates its
inputs, reads a clock or does I/O; the engine decides which rule runs when.
"""
