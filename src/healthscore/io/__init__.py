"""Every file format the project reads or writes, and nothing else.

``sources`` reads a data source onto the contract, ``files`` reads small tables and
writes atomically, ``datasets`` keeps training sets with their provenance, ``staging``
commits a folder of outputs as one step, ``columns`` reads a wide Parquet file a few
columns (or some accounts' rows) at a time.
"""
