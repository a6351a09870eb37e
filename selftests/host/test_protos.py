"""Protocols other than HTTP/1.x, inferred in the kernel and counted exactly:
Redis, PostgreSQL and DNS (UDP and TCP) against real peers, and a connection
of no known protocol counted as plain TCP with its exact bytes."""

import os
import subprocess
import sys

import dbpeers
import otlp
import scale
from asserts import ASSERT_EQ, ASSERT_TRUE, log
from servers import HERE, PYTHON, spawn

DB = "db.client.operation.duration"
DB_SERVER = "kerno.db.server.operation.duration"
DNS = "dns.lookup.duration"
DNS_SERVER = "kerno.dns.server.duration"
TCP_METRICS = ("kerno.tcp.client.connection.duration", "kerno.tcp.server.connection.duration",
               "kerno.tcp.client.connection.io", "kerno.tcp.server.connection.io")
HTTP_METRICS = ("http.client.request.duration", "http.server.request.duration")


def counts(points, metric, where, *keys):
    return otlp.counts_by(otlp.select(points, metric, where), *keys)


def drops_of(points, pids):
    out = {}
    for pid in pids:
        got = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"process.pid": pid}),
                              "reason")
        got = {r: n for r, n in got.items() if n}
        if got:
            out[pid] = got
    return out


def check_clean(points, pids, what):
    """Nothing lost of these processes' traffic, nothing of it counted as
    another protocol (plain TCP or HTTP)."""
    node = otlp.sum_values([p for p in otlp.select(points, "kerno.capture.drops")
                            if "process.pid" not in p.resource], "reason")
    log(f"node-wide drops: { {r: n for r, n in node.items() if n} }")
    ASSERT_EQ(drops_of(points, pids), {}, f"drops of the {what} processes")
    other = {(p.metric, p.get("process.pid")) for p in points
             if p.metric in TCP_METRICS + HTTP_METRICS and p.get("process.pid") in pids}
    ASSERT_EQ(sorted(other), [], f"{what} traffic counted as plain TCP or HTTP")


def test_protos_redis(ctx):
    # redis-benchmark sends whole pipelines of 16: it does exactly n when 16 divides n.
    n = scale.requests(100000, minimum=1600) // 16 * 16
    errors = 100
    redis = dbpeers.Redis(ctx.cleanup)
    agent = ctx.agent()
    bench_pid, out, rc = dbpeers.run_client(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port), "-n", str(n), "-P", "16",
         "-t", "get,set", "-q"])
    log(out.strip().replace("\r", "\n").splitlines()[-1] if out.strip() else "no output")
    ASSERT_EQ(rc, 0, "redis-benchmark exit code")
    # A string key, then list commands on it: WRONGTYPE errors; unknown commands: ERR.
    script = "SET kerno:str v\n" + "LPUSH kerno:str x\n" * errors + "NOSUCHCMD a\n" * errors
    cli = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out, _ = cli.communicate(script, timeout=60)
    ASSERT_EQ(out.count("WRONGTYPE"), errors, "WRONGTYPE replies redis-cli printed")
    ASSERT_EQ(out.count("ERR unknown command"), errors, "ERR replies redis-cli printed")
    dbpeers.settle()
    agent.stop()
    points = agent.points()

    keys = ("db.operation.name", "db.response.status_code")
    # redis-benchmark asks for two settings before it starts (CONFIG GET save, appendonly).
    bench = {("SET", None): n, ("GET", None): n, ("CONFIG", None): 2}
    ASSERT_EQ(counts(points, DB, {"process.pid": bench_pid, "db.system.name": "redis",
                                  "server.port": redis.port}, *keys),
              bench, "redis-benchmark's commands by (name, error)")
    # redis-cli reading commands from stdin first asks for the command docs (a reply
    # nested 13 deep).
    client = {("COMMAND", None): 1, ("SET", None): 1, ("LPUSH", "WRONGTYPE"): errors,
              ("NOSUCHCMD", "ERR"): errors}
    ASSERT_EQ(counts(points, DB, {"process.pid": cli.pid}, *keys), client,
              "redis-cli's commands by (name, error)")
    server = dict(bench)
    for key, count in client.items():
        server[key] = server.get(key, 0) + count
    ASSERT_EQ(counts(points, DB_SERVER, {"process.pid": redis.pid, "server.port": redis.port},
                     *keys), server, "redis-server's commands by (name, error)")
    check_clean(points, [bench_pid, cli.pid, redis.pid], "Redis")


def _pg_client(pg, argv):
    pid, out, rc = dbpeers.run_client(argv + ["-h", "127.0.0.1", "-p", str(pg.port),
                                              "-U", pg.USER, "postgres"])
    return pid, out, rc


def test_protos_postgres(ctx):
    n = scale.requests(5000, minimum=500)
    failing = 1000
    pg = dbpeers.Postgres(ctx.cleanup)
    pid, out, rc = _pg_client(pg, ["pgbench", "-i", "-q"])
    ASSERT_EQ(rc, 0, f"pgbench -i exit code ({out.strip()[-200:]})")
    agent = ctx.agent()
    # The default sslmode (prefer) asks for TLS first; the server says no.
    bench_pid, out, rc = _pg_client(pg, ["pgbench", "-n", "-S", "-t", str(n)])
    ASSERT_EQ(rc, 0, f"pgbench -S exit code ({out.strip()[-200:]})")
    ext_pid, out, rc = _pg_client(pg, ["pgbench", "-n", "-S", "-M", "extended", "-t", str(n)])
    ASSERT_EQ(rc, 0, f"pgbench -M extended exit code ({out.strip()[-200:]})")
    prep_pid, out, rc = _pg_client(pg, ["pgbench", "-n", "-S", "-M", "prepared", "-t", str(n)])
    ASSERT_EQ(rc, 0, f"pgbench -M prepared exit code ({out.strip()[-200:]})")
    sql = os.path.join(pg.dir, "failing.sql")
    with open(sql, "w") as f:
        f.write("SELECT 1/0;\n" * (failing - 100) + "SELECT * FROM kerno_no_such_table;\n" * 100)
    psql_pid, out, rc = _pg_client(pg, ["psql", "-X", "-q", "-f", sql])
    ASSERT_EQ(out.count("division by zero"), failing - 100, "errors psql printed (22012)")
    ASSERT_EQ(out.count("does not exist"), 100, "errors psql printed (42P01)")
    dbpeers.settle()
    agent.stop()
    points = agent.points()

    keys = ("db.operation.name", "db.response.status_code")
    where = {"db.system.name": "postgresql", "server.port": pg.port}
    # Before its transactions pgbench runs two queries of its own, simple ones
    # whatever -M says: the scale (SELECT count(*) FROM pgbench_branches) and the
    # partitioning of pgbench_accounts.
    ASSERT_EQ(counts(points, DB, dict(where, **{"process.pid": bench_pid}), *keys),
              {("SELECT", None): n + 2}, "pgbench -S (simple protocol) by (operation, status)")
    ASSERT_EQ(counts(points, DB, dict(where, **{"process.pid": ext_pid}), *keys),
              {("SELECT", None): n + 2}, "pgbench -M extended by (operation, status)")
    prep = counts(points, DB, dict(where, **{"process.pid": prep_pid}), *keys)
    log(f"pgbench -M prepared: {prep}")
    ASSERT_EQ(prep, {("SELECT", None): 3, ("EXECUTE", None): n},
              "pgbench -M prepared by (operation, status)")
    ASSERT_EQ(counts(points, DB, dict(where, **{"process.pid": psql_pid}), *keys),
              {("SELECT", "22012"): failing - 100, ("SELECT", "42P01"): 100},
              "psql's failing statements by (operation, SQLSTATE)")
    server = counts(points, DB_SERVER, where, "db.response.status_code")
    ASSERT_EQ(server, {(None,): 3 * n + 7, ("22012",): failing - 100, ("42P01",): 100},
              "the backends' requests by SQLSTATE")
    backends = sorted({p.get("process.pid") for p in otlp.select(points, DB_SERVER, where)})
    check_clean(points, [bench_pid, ext_pid, prep_pid, psql_pid] + backends, "PostgreSQL")


def test_protos_dns(ctx):
    n = scale.requests(1000, minimum=200)
    nx = n // 10
    dns = dbpeers.Dnsmasq(ctx.cleanup)
    agent = ctx.agent()
    names = [f"h{i}.ok.test" for i in range(n - nx)] + [f"n{i}.missing.test" for i in range(nx)]
    udp_pid, out = dbpeers.dig(dns, names)
    ASSERT_EQ((out.count("status: NOERROR"), out.count("status: NXDOMAIN")), (n - nx, nx),
              "answers dig printed over UDP")
    tcp_names = names[:50] + names[-10:]
    tcp_pid, out = dbpeers.dig(dns, tcp_names, tcp=True)
    ASSERT_EQ((out.count("status: NOERROR"), out.count("status: NXDOMAIN")), (50, 10),
              "answers dig printed over TCP")
    dbpeers.settle()
    agent.stop()
    points = agent.points()

    keys = ("network.transport", "dns.question.type", "error.type")
    ASSERT_EQ(counts(points, DNS, {"process.pid": udp_pid, "server.port": dns.port}, *keys),
              {("udp", "A", None): n - nx, ("udp", "A", "NXDOMAIN"): nx},
              "dig's UDP queries by (type, rcode)")
    ASSERT_EQ(counts(points, DNS, {"process.pid": tcp_pid, "server.port": dns.port}, *keys),
              {("tcp", "A", None): 50, ("tcp", "A", "NXDOMAIN"): 10},
              "dig's TCP queries by (type, rcode)")
    # dnsmasq forks a child for each TCP connection: its answers are the children's,
    # and a child gone before the agent looked it up has no executable name.
    ASSERT_EQ(counts(points, DNS_SERVER, {"server.port": dns.port}, *keys),
              {("udp", "A", None): n - nx, ("udp", "A", "NXDOMAIN"): nx, ("tcp", "A", None): 50,
               ("tcp", "A", "NXDOMAIN"): 10}, "dnsmasq's answers by (transport, type, rcode)")
    children = sorted({p.get("process.pid") for p in otlp.select(points, DNS_SERVER,
                                                                 {"server.port": dns.port})})
    check_clean(points, [udp_pid, tcp_pid, dns.pid] + children, "DNS")


ECHO_SERVER = """
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print("PORT", srv.getsockname()[1], flush=True)
while True:
    conn, _ = srv.accept()
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.close()
"""

ECHO_CLIENT = """
import socket, sys
port, conns, rounds, size = map(int, sys.argv[1:])
for c in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    for r in range(rounds):
        msg = bytes((c * 7 + r + i) % 251 for i in range(size))
        s.sendall(msg)
        got = b""
        while len(got) < size:
            got += s.recv(size - len(got))
        assert got == msg
    s.close()
"""


def test_protos_plain_tcp(ctx):
    conns, rounds, size = 5, 20, 1000
    server = spawn([PYTHON, "-c", ECHO_SERVER], ctx.cleanup, stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split()[1])
    agent = ctx.agent()
    client = subprocess.Popen([PYTHON, "-c", ECHO_CLIENT, str(port), str(conns), str(rounds),
                               str(size)])
    ASSERT_EQ(client.wait(60), 0, "echo client exit code")
    dbpeers.settle()
    agent.stop()
    points = agent.points()

    total = conns * rounds * size
    for role, pid, peer in (("client", client.pid, "server.port"),
                            ("server", server.pid, "server.port")):
        where = {"process.pid": pid, peer: port}
        dur = otlp.select(points, f"kerno.tcp.{role}.connection.duration", where)
        ASSERT_EQ(otlp.total_count(dur), conns, f"{role}: plain TCP connections counted")
        io = otlp.sum_values(otlp.select(points, f"kerno.tcp.{role}.connection.io", where),
                             "network.io.direction")
        ASSERT_EQ(io, {"receive": total, "transmit": total}, f"{role}: plain TCP bytes")
        ASSERT_EQ(drops_of(points, [pid]), {}, f"{role}: drops")
        parsed = [p.metric for p in points if p.get("process.pid") == pid and
                  p.metric in HTTP_METRICS + (DB, DB_SERVER, DNS, DNS_SERVER)]
        ASSERT_EQ(parsed, [], f"{role}: echo traffic parsed as a known protocol")
    ASSERT_TRUE(sys.version_info >= (3, 7), "python")


def test_protos_mariadb(ctx):
    n = scale.requests(1000, minimum=200)
    missing, duplicate = 100, 50
    db = dbpeers.MariaDB(ctx.cleanup)
    agent = ctx.agent()
    sql = os.path.join(db.dir, "queries.sql")
    with open(sql, "w") as f:
        f.write("CREATE DATABASE kerno;\nUSE kerno;\n"
                "CREATE TABLE t (id INT PRIMARY KEY, v INT);\n")
        f.write("".join(f"INSERT INTO t VALUES ({i}, {i * 3});\n" for i in range(n)))
        f.write("".join(f"SELECT v FROM t WHERE id = {i};\n" for i in range(n)))
        f.write("SELECT * FROM kerno_no_such_table;\n" * missing)
        f.write("".join(f"INSERT INTO t VALUES ({i}, 0);\n" for i in range(duplicate)))
    with open(sql) as f:
        cli = subprocess.Popen(["mariadb", "-h", "127.0.0.1", "-P", str(db.port), "-u", "root",
                                "--batch", "--force"], stdin=f, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        out, _ = cli.communicate(timeout=240)
    ASSERT_EQ((out.count("ERROR 1146"), out.count("ERROR 1062")), (missing, duplicate),
              "errors the mariadb client printed (1146 no such table, 1062 duplicate key)")
    dbpeers.settle()
    agent.stop()
    points = agent.points()

    keys = ("db.operation.name", "db.response.status_code")
    # The client asks for the server's version comment first (a SELECT); USE is COM_INIT_DB.
    expected = {("CREATE", None): 2, ("USE", None): 1, ("INSERT", None): n,
                ("INSERT", "1062"): duplicate, ("SELECT", None): n + 1,
                ("SELECT", "1146"): missing}
    where = {"db.system.name": "mysql", "server.port": db.port}
    ASSERT_EQ(counts(points, DB, dict(where, **{"process.pid": cli.pid}), *keys), expected,
              "the mariadb client's statements by (operation, error code)")
    ASSERT_EQ(counts(points, DB_SERVER, dict(where, **{"process.pid": db.pid}), *keys), expected,
              "mariadbd's statements by (operation, error code)")
    check_clean(points, [cli.pid, db.pid], "MariaDB")


def _build_mysql_stmt(workdir):
    """selftests/host/mysql_stmt.c against Debian's libmariadb-dev, into workdir."""
    out = os.path.join(workdir, "kerno-mystmt")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, "mysql_stmt.c"), *flags],
                   check=True)
    return out


def test_protos_mariadb_prepared(ctx):
    """Server-side prepared statements: COM_STMT_PREPARE, COM_STMT_EXECUTE with
    binary result sets and errors, COM_STMT_CLOSE (no response)."""
    n = scale.requests(2000, minimum=200)
    fails = 70
    db = dbpeers.MariaDB(ctx.cleanup)
    client = _build_mysql_stmt(db.dir)
    agent = ctx.agent()
    pid, out, rc = dbpeers.run_client([client, str(db.port), str(n), str(fails)])
    ASSERT_EQ((rc, out.strip()), (0, f"selects {n} rows {n} fails {fails}"),
              "the prepared-statement client's own count")
    dbpeers.settle()
    agent.stop()
    points = agent.points()

    keys = ("db.operation.name", "db.response.status_code")
    # CREATE DATABASE, USE (COM_INIT_DB), CREATE TABLE, INSERT: text queries.
    expected = {("CREATE", None): 2, ("USE", None): 1, ("INSERT", None): 1,
                ("PREPARE", None): 2, ("EXECUTE", None): n, ("EXECUTE", "1062"): fails}
    where = {"db.system.name": "mysql", "server.port": db.port}
    ASSERT_EQ(counts(points, DB, dict(where, **{"process.pid": pid}), *keys), expected,
              "the client's prepared statements by (operation, error code)")
    ASSERT_EQ(counts(points, DB_SERVER, dict(where, **{"process.pid": db.pid}), *keys), expected,
              "mariadbd's prepared statements by (operation, error code)")
    check_clean(points, [pid, db.pid], "MariaDB prepared statements")
