"""Training sets: the cutoff calendar (timeline), outcomes and censoring (labels), and
the build that joins them with the features (pipeline).
"""
