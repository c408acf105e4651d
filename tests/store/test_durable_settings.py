"""The settings that make a commit durable, on the connections the store writes through:
SQLite flushes its log at every commit (``synchronous=FULL`` in WAL mode), PostgreSQL waits
for its log flush before a commit returns (``synchronous_commit`` on).  The service answers
a write after its commit (tests/service/test_durable_ack.py traces the flush on SQLite);
a connection setting that skipped the flush would make that answer a promise the disk has
not kept.  (The test PostgreSQL server itself runs with fsync=off, see pgserver.py: the
check here is the client's side.)"""


def test_write_connections_wait_for_the_disk(store):
    with store.db.write() as conn:
        if store.dialect == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() != "off"
