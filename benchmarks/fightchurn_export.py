"""Export a fightchurn ChurnSim schema from PostgreSQL to Parquet in the socialnet7-dev layout.

    python benchmarks/fightchurn_export.py postgresql://USER@HOST:PORT/DATABASE SCHEMA OUT_DIR

The tables are read as ``data.source: postgresql://`` reads them (ADBC, the ``sql``
extra: :func:`healthscore.io.sql.connect`), the password from ``HEALTHSCORE_DB_PASSWORD``.
Column types follow ``../shared/data/socialnet7-dev`` (int32 ids, dates, ``is_churn`` a
boolean), so ``configs/socialnet7.yaml`` and ``configs/crm6.yaml`` read the result. How
the seed-3 socialnet7 and the crm6 sets of ``benchmarks/results/`` were made:
``benchmarks/results/fightchurn_data.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from healthscore.io.sql import connect, quote

PASSWORD_ENV = "HEALTHSCORE_DB_PASSWORD"

#: Table -> the types its columns are written with (others as the database gives them).
TYPES: dict[str, dict[str, pa.DataType]] = {
    "account": {"id": pa.int32()},
    "subscription": {"account_id": pa.int32(), "mrr": pa.float64(), "quantity": pa.float64(),
                     "bill_period_months": pa.int16()},
    "event": {"account_id": pa.int32(), "event_type_id": pa.int16(), "user_id": pa.int32(),
              "event_value": pa.float64()},
    "event_type": {"event_type_id": pa.int16()},
    "observation": {"account_id": pa.int32()},
    "active_period": {"account_id": pa.int32()},
}


def export_table(connection, schema: str, table: str, out: Path) -> int:
    """``schema.table`` to ``out/table.parquet``; its row count."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {quote(schema)}.{quote(table)}")
        frame = cursor.fetch_arrow_table()
    for name, kind in TYPES[table].items():
        frame = frame.set_column(frame.schema.get_field_index(name), name, frame[name].cast(kind))
    pq.write_table(frame, out / f"{table}.parquet", compression="zstd")
    return frame.num_rows


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    uri, schema, out = argv[0], argv[1], Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with connect(uri, password_env=PASSWORD_ENV) as connection:
        for table in TYPES:
            print(f"{table}: {export_table(connection, schema, table, out):,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
