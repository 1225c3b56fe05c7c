"""Reading and mapping front-database rows must keep pace with the database itself.

A NATIONAL-EXCHANGE front database holds one committed batch of N case-event rows
(``up_pro_process``, default 100 000) of a stored case. Timed, through the same SQLAlchemy
engine and driver: **raw_select**, a plain ``SELECT`` of the same listed columns of the batch's
rows, fetched; **frontdb_sync**, what the FRONTDB binding does with them before TBS-1.0
validation — the batch read in one snapshot with its manifest and marker check (TBS-LP-022,
-053), every value read by its profile type and checked (L1, TBS-LP-012, -031 to -034), and
each row mapped to its case-event record (TBS-LP-107). The median of ``--runs`` runs each;
the figure is the throughput ratio (raw time / frontdb time). Last line:
``ratio: frontdb_sync/raw_select=X.XX`` (target ≥ 0.25).

    python benchmarks/frontdb.py [--rows 100000] [--runs 3] [--url mysql+pymysql://root@127.0.0.1:3306/test]

Without ``--url`` (or TONGBAN_BENCH_FRONTDB_URL) the front database is a SQLite file.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid

import sqlalchemy as sa

from tongban.connectors.frontdb.database import FrontDatabase, Marker
from tongban.connectors.frontdb.mapping import NationalExchange
from tongban.connectors.frontdb.profile import load_profile
from tongban.connectors.frontdb.rows import read_row

CASE = "11440103007493637K4440120012002202611020007"
SOURCE_ROW = {"row_guid": "0f1e2d3c-4b5a-4697-8877-665544332211", "org_code": "11440103007493637K",
              "org_name": "广州市荔湾区卫生健康局"}


def fill(db: FrontDatabase, rows: int) -> Marker:
    batch = "BENCH000001"
    cols = ["row_guid", "cd_operation", "cd_time", "cd_batch", "data_source", "project_no", "process_name",
            "event_name", "handle_user_name", "handle_explain", "event_start_time"]
    insert = sa.text(f"INSERT INTO up_pro_process ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
    manifest = sa.text("INSERT INTO tb_batch_row (cd_batch, table_name, row_guid) VALUES (:b, 'up_pro_process', :g)")
    chunk = 5000
    for start in range(0, rows, chunk):
        data = [{"row_guid": f"{i:08d}-0000-4000-8000-000000000000", "cd_operation": "I",
                 "cd_time": "2026-11-06 09:34:57", "cd_batch": batch, "data_source": "001", "project_no": CASE,
                 "process_name": "审核", "event_name": "1" if i % 3 else "9", "handle_user_name": "赵六",
                 "handle_explain": "材料齐全，现场核查符合卫生要求，同意。",
                 "event_start_time": f"2026-11-{4 + i % 2:02d} {8 + i % 10:02d}:{i % 60:02d}:{(i // 60) % 60:02d}"}
                for i in range(start, min(rows, start + chunk))]
        with db.engine.begin() as conn:
            conn.execute(insert, data)
            conn.execute(manifest, [{"b": batch, "g": d["row_guid"]} for d in data])
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tb_batch (row_guid, cd_operation, cd_time, cd_batch, row_count) "
                             "VALUES ('bench-marker', 'I', '2026-11-06 09:35:00', :b, :n)"), {"b": batch, "n": rows})
    return db.markers(None)[0]


def raw_select(db: FrontDatabase, spec) -> int:
    cols = ", ".join(spec.columns)
    with db.engine.connect() as conn:
        return len(conn.execute(sa.text(f"SELECT {cols} FROM up_pro_process WHERE cd_batch = 'BENCH000001'")).all())


def frontdb_sync(db: FrontDatabase, marker: Marker, profile, spec, mapper: NationalExchange) -> int:
    read = db.read_batch(marker)
    assert len(read.manifest) == marker.row_count
    mapped = 0
    for raw in read.rows["up_pro_process"]:
        values, errors = read_row(profile, spec, raw)
        if errors:
            continue
        mapped += len(mapper.linked_events("up_pro_process", values, SOURCE_ROW))
    return mapped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get("TONGBAN_BENCH_FRONTDB_URL"))
    args = ap.parse_args()
    profile = load_profile("NATIONAL-EXCHANGE")
    tables = profile.tables_for({"CASE_REPORTER"})
    spec = profile.tables["up_pro_process"]
    with tempfile.TemporaryDirectory() as tmp:
        drop = None
        url = args.url
        if url is None:
            url = f"sqlite:///{tmp}/front.db"
        else:  # a database of its own on the server, dropped at the end
            admin = sa.create_engine(url)
            name = f"bench_{uuid.uuid4().hex[:10]}"
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            url = sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)

            def drop() -> None:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE {name}")
        db = FrontDatabase(url, profile, tables)
        try:
            db.create_schema()
            marker = fill(db, args.rows)
            mapper = NationalExchange(profile, None)
            raw_times, sync_times = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                n_raw = raw_select(db, spec)
                raw_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                n_mapped = frontdb_sync(db, marker, profile, spec, mapper)
                sync_times.append(time.perf_counter() - t0)
            assert n_raw == args.rows and n_mapped == args.rows, (n_raw, n_mapped)
            raw, sync = statistics.median(raw_times), statistics.median(sync_times)
            print(f"front database: {db.dialect} ({db.safe_url.split('@')[-1]}), {args.rows} case-event rows")
            print(f"raw_select   median {raw:.3f} s  ({args.rows / raw:,.0f} rows/s)")
            print(f"frontdb_sync median {sync:.3f} s  ({args.rows / sync:,.0f} rows/s)  read, checked, mapped")
            print(f"ratio: frontdb_sync/raw_select={raw / sync:.2f}")
        finally:
            db.close()
            if drop:
                drop()


if __name__ == "__main__":
    main()
