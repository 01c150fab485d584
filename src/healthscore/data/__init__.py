"""The data contract: its tables and columns (schema), the frames that hold them (tables),
what is checked, blanked or dropped (validate, problems), where the data ends (end), and
the data as it was known at a past date (known).
"""
