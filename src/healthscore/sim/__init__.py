"""The account simulator's parts; the public entry is :mod:`healthscore.sim.simulate`.

``spec`` (what to simulate), ``world`` (the constants of the simulated market),
``accounts`` (firmographics and contract terms), ``engine`` (the monthly hidden state,
causes, contracts and renewal decisions), ``observe`` (observable rows), ``tables``
(Arrow schemas and chunk assembly), ``run`` (chunks to frames) and ``output``
(Parquet/CSV files and the README).
"""
