"""Export a fightchurn ChurnSim schema from PostgreSQL to Parquet in the socialnet7-dev layout.

    python benchmarks/fightchurn_export.py SCHEMA OUT_DIR

``psql`` on the PATH reaches the simulator's database (``PGHOST``, ``PGPORT``,
``PGUSER``, ``PGDATABASE``, ``PGPASSWORD`` as libpq reads them). Column types follow
``../shared/data/socialnet7-dev`` (int32 ids, dates, ``is_churn`` a boolean), so the
same ``configs/socialnet7.yaml`` / ``configs/crm6.yaml`` read the result. How the
seed-3 socialnet7 and the crm6 sets of ``benchmarks/results/`` were made:
``benchmarks/results/fightchurn_data.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.parquet as pq

#: Table -> the columns whose type is not what the CSV reader would guess.
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


def export_table(schema: str, table: str, out: Path) -> int:
    """``schema.table`` to ``out/table.parquet`` (via a CSV copy); its row count."""
    staged = out / f"{table}.csv"
    subprocess.run(["psql", "-q", "-c", f"\\copy {schema}.{table} to '{staged}' with csv header"],
                   check=True)
    options = csv.ConvertOptions(column_types=TYPES[table],
                                 timestamp_parsers=["%Y-%m-%d %H:%M:%S", "%Y-%m-%d"])
    frame = csv.read_csv(staged, convert_options=options)
    if table == "observation":  # PostgreSQL writes booleans as t / f
        frame = frame.set_column(frame.schema.get_field_index("is_churn"), "is_churn",
                                 pc.equal(frame["is_churn"], "t"))
    for name in frame.column_names:  # dates stay dates; only events carry a time of day
        if table != "event" and pa.types.is_timestamp(frame.schema.field(name).type):
            frame = frame.set_column(frame.schema.get_field_index(name), name, frame[name].cast(pa.date32()))
    pq.write_table(frame, out / f"{table}.parquet", compression="zstd")
    staged.unlink()
    return frame.num_rows


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    schema, out = argv[0], Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for table in TYPES:
        print(f"{table}: {export_table(schema, table, out):,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
