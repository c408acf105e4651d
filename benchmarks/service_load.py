"""Load on the HTTP service: throughput and p50/p99 latency at concurrency 16, through wrk.

    apt-get install wrk                                   # Debian's wrk 4.1 (needs root)
    .venv/bin/python benchmarks/service_load.py           # both models, 15 s per load run
    .venv/bin/python benchmarks/service_load.py --models ml100k --duration 10 --json out.json
    .venv/bin/python benchmarks/service_load.py --models ml100k ml100k-pipeline --route-times

For each model the script writes the model file and a SQLite ratings store holding its
training ratings into a temporary directory, starts ``latentrec serve --workers 2`` on
127.0.0.1 (a free port), warms both workers up, and then measures with wrk (2 threads, 16
connections, each run bounded by ``--duration`` seconds and ``--max-requests``):

- ``recommendations``: ``GET /users/{id}/recommendations?n=10`` for users drawn uniformly
  from the model's users;
- ``mix``: the same reads, and 10% ``POST /ratings`` (one rating of a random known user for
  a random item, 1-5 stars), so every write re-folds a user that later reads may hit.

Every non-2xx answer and every socket error or timeout counts as an error.  During each
load run a probe reads ``/health`` every 50 ms (:class:`HealthProbe`): how long a request
that is neither a list nor a write waits meanwhile.  Before and after the load runs the
script checks freshness: for ``--fresh-checks`` users it reads the picks, posts a 1-star
rating for the top pick, and reads the picks again over a new connection (so either
worker may answer); the rated title must be gone and the list must have changed.  The
models:

- ``ml100k``: BiasedMF (defaults, seed 0) on all of MovieLens-100K (943 users, 1,682 items);
- ``synthetic``: BiasedMF (defaults, seed 0) on ``latentrec.data.synthetic`` ratings,
  100,000 users x 20,000 items, 2,000,000 ratings;
- ``ml100k-pipeline``: a two-stage pipeline on MovieLens-100K (:func:`ml100k_pipeline`:
  BiasedMF and Popularity candidates, 100 each, fitted on the first 70% of the ratings in
  time; a LightGBM ranker fitted on the next 10%; MMR), served from a pipeline file over
  the same store of all 100,000 ratings, under the same load.

``--route-times`` also times, in this process and before the load, what one list costs
inside the route (resolving the user and ranking, :func:`route_times`): a training user
with nothing stored, and a user folded in from stored ratings (their first request, and
the next ones from the cached state).  For a pipeline it also ranks cached users in
batches of 1, 4, 16 and 64 (:func:`batch_times`, what a worker does with the requests that
queued while its pipeline thread was busy): milliseconds per list, and whether each list
equals the one the user gets alone.

wrk rather than locust: wrk is a C event loop that keeps 16 connections busy with a few
percent of one core, which matters when the server, its two workers and the load
generator share two cores; a Python generator such as locust spends more CPU per request
than the service does.  wrk's Lua hooks draw the users and the 90/10 mix per request and
report the latency percentiles and the per-status counts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

TARGETS = {
    # run: (requests/s at least, p99 ms at most); zero errors for both
    "recommendations": (1000.0, 25.0),
    "mix": (None, 40.0),
}

# The wrk script: `init` reads the users (URL path form and JSON form) and items written
# by this script, `request` draws one request, `response` counts failed statuses and stops
# the thread at its share of --max-requests, `done` prints one JSON line.
WRK_LUA = r"""
local users_path, users_json, items_json = {}, {}, {}
local write_share, limit, seed = 0, 0, 0
local done_count = 0
bad = {}  -- global: done() collects it from each thread with thread:get
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  table.insert(threads, thread)
end

local function read_lines(path, into)
  for line in io.lines(path) do into[#into + 1] = line end
end

function init(args)
  read_lines(args[1], users_path)
  read_lines(args[2], users_json)
  read_lines(args[3], items_json)
  write_share = tonumber(args[4])
  limit = tonumber(args[5])
  seed = tonumber(args[6]) + 7919 * thread_id
  math.randomseed(seed)
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
  local u = math.random(#users_path)
  if write_share > 0 and math.random() < write_share then
    local body = '{"ratings":[{"user_id":' .. users_json[u] .. ',"item_id":'
      .. items_json[math.random(#items_json)] .. ',"rating":' .. math.random(5) .. '}]}'
    return wrk.format("POST", "/ratings", json_headers, body)
  end
  return wrk.format("GET", "/users/" .. users_path[u] .. "/recommendations?n=10")
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad[status] = (bad[status] or 0) + 1
  end
  done_count = done_count + 1
  if limit > 0 and done_count >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local statuses = {}
  for _, thread in ipairs(threads) do
    local b = thread:get("bad")
    for status, n in pairs(b) do statuses[status] = (statuses[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(statuses) do parts[#parts + 1] = '"' .. status .. '":' .. n end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"bad_statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
"""


def machine() -> dict:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        .stdout.splitlines()[0]
        .strip()
        if shutil.which("wrk")
        else None,
    }


# ------------------------------------------------------------------ models and stores
def ml100k_data():
    from latentrec.datasets import movielens

    return movielens("100k")


def synthetic_data(n_users: int, n_items: int, n_ratings: int):
    from latentrec.data.synthetic import synthetic

    return synthetic(n_users, n_items, n_ratings, random_state=0)


def ml100k_pipeline(data):
    """The served pipeline of the ``ml100k-pipeline`` case, fitted on ``data``'s first 80%
    in time (candidates on the first 70%, the ranker on the next 10%)."""
    from latentrec.evaluation import time_slices
    from latentrec.models import BiasedMF, Popularity
    from latentrec.pipeline import MMR, LearnedRanker, Pipeline

    slices = time_slices(data)
    ranker = LearnedRanker(n_estimators=100, num_threads=1)
    pipe = Pipeline(
        [BiasedMF(random_state=0), Popularity()], ranker, [MMR(0.7, pool=50)], n_candidates=100
    )
    return pipe.fit(slices.early, slices.valid)


def fit_model(name: str, data):
    """The model (or pipeline) a case serves."""
    from latentrec.models import BiasedMF

    if name.endswith("-pipeline"):
        return ml100k_pipeline(data)
    return BiasedMF(random_state=0).fit(data)


def build(name: str, data, workdir: Path) -> tuple[Path, str, list, list]:
    """Train, save the model, seed the store; return (model path, store URL, users, items)."""
    model_path = workdir / f"{name}.npz"
    store_path = workdir / f"{name}.db"
    store_url = f"sqlite:///{store_path}"
    users, items = list(data.users.ids), list(data.items.ids)
    if model_path.exists() and store_path.exists():
        # --workdir from an earlier run: the same seeds make the same model and store,
        # but the earlier run's writes stay in the store.
        print(f"  {name}: reusing {model_path} and {store_path}", flush=True)
        return model_path, store_url, users, items
    started = time.perf_counter()
    model = fit_model(name, data)
    model.save(model_path)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    seed_store(store_url, data)
    print(
        f"  {name}: {data.n_users} users x {data.n_items} items, {data.nnz} ratings; "
        f"trained and saved in {trained:.1f} s, store seeded in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return model_path, store_url, users, items


def seed_store(store_url: str, data) -> None:
    """The model's training ratings (and titles) into the store, the service's truth."""
    from latentrec.store import open_store

    with open_store(store_url) as store:
        store.import_interactions(data)


# ------------------------------------------------------------------ one list, in-process
def route_times(name: str, model_path: Path, store_url: str, users: list, workdir: Path,
                count: int = 200, seed: int = 0) -> dict:  # fmt: skip
    """Milliseconds one list costs inside the recommendations route, in this process.

    What the route runs after its id checks: ``LiveUsers.resolve`` (the user's state) and
    ``live.recommend`` (the top 10).  For ``count`` users drawn from ``users``: as
    training users with nothing stored (a fresh, empty store), and as users with their
    ratings stored (the benchmark's store): their first request folds them in, the next
    ones start from the cached state.  Median and p90 over the users.  BLAS and numba run
    on one thread, as in the service's workers (``latentrec serve``).
    """
    import numba
    from threadpoolctl import threadpool_limits

    picked = random.Random(seed).sample([str(u) for u in users], min(count, len(users)))
    empty = workdir / f"{name}-route-times-empty.db"
    empty.unlink(missing_ok=True)
    out = {}
    numba.set_num_threads(1)
    with threadpool_limits(1):
        for label, url in (("training user", f"sqlite:///{empty}"), ("stored ratings", store_url)):
            for key, ms in list_times(model_path, url, picked).items():
                if label == "training user" and key == "first":
                    continue  # nothing to fold in: the same work as the next requests
                key = label if label == "training user" else f"{label}, {key}"
                out[key] = {
                    "users": len(picked),
                    "p50_ms": round(float(np.percentile(ms, 50)), 3),
                    "p90_ms": round(float(np.percentile(ms, 90)), 3),
                }
                print(f"  {name} route time, {key}: {out[key]}", flush=True)
        if name.endswith("-pipeline"):
            out["batches"] = batch_times(model_path, store_url, picked)
            print(f"  {name} batches: {out['batches']}", flush=True)
    return out


def batch_times(model_path: Path, store_url: str, users: list, sizes=(1, 4, 16, 64)) -> dict:
    """A served pipeline's lists ranked in batches, as a worker's queue ranks the requests
    that waited (``live.pipeline_recommend_many``, top 10, cached users): milliseconds
    per list for each batch size (median over the batches), and whether every list of a
    batch equals the user's list ranked alone (items, fallback; the largest relative
    score difference, float32 rounding).  Empty when the service has no batched path."""
    from latentrec.service import live as live_module
    from latentrec.service.app import create_app
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    many = getattr(live_module, "pipeline_recommend_many", None)
    if many is None:
        return {}
    out = {}
    with open_store(store_url) as store:
        app = create_app(Settings(model_path=str(model_path)), store=store)
        served, live = app.state.holder.current, app.state.live
        states = [live.resolve(served, user) for user in users]
        alone = [many(served, [(state, None)], 10)[0] for state in states]
        for size in sizes:
            per_list, differ, worst = [], 0, 0.0
            for start in range(0, len(states) - size + 1, size):
                group = states[start : start + size]
                started = time.perf_counter()
                lists = many(served, [(state, None) for state in group], 10)
                per_list.append(1000 * (time.perf_counter() - started) / size)
                for got, want in zip(lists, alone[start : start + size], strict=True):
                    if not np.array_equal(got[0], want[0]) or got[2] != want[2]:
                        differ += 1
                    elif got[1].size:
                        scale = np.maximum(np.abs(want[1]), 1e-12)
                        worst = max(worst, float(np.max(np.abs(got[1] - want[1]) / scale)))
            out[f"batch {size}"] = {
                "lists": len(per_list) * size,
                "ms_per_list_p50": round(float(np.median(per_list)), 3),
                "lists_differing": differ,
                "max_rel_score_diff": worst,
            }
    return out


def list_times(model_path: Path, store_url: str, users: list) -> dict:
    """Milliseconds of resolve + recommend per user: ``first`` (from an empty cache) and
    ``cached`` (two more requests each)."""
    from latentrec.service.app import create_app
    from latentrec.service.live import recommend
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    with open_store(store_url) as store:
        app = create_app(Settings(model_path=str(model_path)), store=store)
        served, live = app.state.holder.current, app.state.live
        for user in users[:5]:  # compile and warm up before timing
            recommend(served, live.resolve(served, user), 10)
        live.cache.clear()
        times = {"first": [], "cached": []}
        for user in users:
            for when in ("first", "cached", "cached"):
                started = time.perf_counter()
                recommend(served, live.resolve(served, user), 10)
                times[when].append(1000 * (time.perf_counter() - started))
    return {when: np.asarray(ms) for when, ms in times.items()}


# ------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(model_path: Path, store_url: str, workers: int, log_path: Path, env=None):
    """`latentrec serve` on a free loopback port; yields (port, pid); always stops it."""
    port = free_port()
    cli = Path(sys.executable).with_name("latentrec")
    command = [
        str(cli),
        "serve",
        "--model",
        str(model_path),
        "--store",
        store_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"latentrec serve exited with {proc.returncode}; see {log_path}"
                    )
                try:
                    status, _ = call(port, "GET", "/health")
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"latentrec serve did not start in 180 s; see {log_path}")
                time.sleep(0.2)
            yield port, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_warm(port: int, workers: int, timeout: float = 900) -> float | None:
    """Wait until every worker says its user cache is warm (``/health`` field ``warm``).

    Returns the seconds waited, or None when the service does not report warming.
    """
    started = time.monotonic()
    warm = set()
    while len(warm) < workers:
        status, body = call(port, "GET", "/health")
        if status != 200 or "warm" not in body:
            return None
        if body["warm"]:
            warm.add(body["worker_pid"])
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the workers were not warm after {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def call(port: int, method: str, path: str, body=None) -> tuple[int, object]:
    """One request over a new connection (so the kernel may hand it to either worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else None)
    finally:
        conn.close()


def user_path(user_id) -> str:
    return urllib.parse.quote(str(user_id), safe="")


def picks(port: int, user_id) -> list:
    status, body = call(port, "GET", f"/users/{user_path(user_id)}/recommendations?n=10")
    if status != 200:
        raise RuntimeError(f"recommendations for {user_id!r} answered {status}: {body}")
    return [item["item_id"] for item in body["items"]]


def freshness(port: int, users: list, n: int, rng: random.Random) -> dict:
    """Rate each user's top pick 1 star; the next read must drop it and change the list."""
    failures = []
    for user_id in rng.sample(users, n):
        before = picks(port, user_id)
        status, body = call(
            port,
            "POST",
            "/ratings",
            {"ratings": [{"user_id": str(user_id), "item_id": str(before[0]), "rating": 1}]},
        )
        if status // 100 != 2:
            failures.append(f"user {user_id!r}: POST /ratings answered {status}: {body}")
            continue
        after = picks(port, user_id)
        if str(before[0]) in map(str, after) or after == before:
            failures.append(f"user {user_id!r}: picks unchanged after rating {before[0]!r}")
    return {"checked": n, "failures": failures}


# ------------------------------------------------------------------ wrk
def run_wrk(port, workdir, users, items, *, write_share, duration, max_requests, seed):
    users_path = workdir / "users_path.txt"
    users_json = workdir / "users_json.txt"
    items_json = workdir / "items_json.txt"
    users_path.write_text("".join(user_path(u) + "\n" for u in users))
    users_json.write_text("".join(json.dumps(str(u)) + "\n" for u in users))
    items_json.write_text("".join(json.dumps(str(i)) + "\n" for i in items))
    script = workdir / "load.lua"
    script.write_text(WRK_LUA)
    threads = 2
    command = [
        "wrk",
        f"-t{threads}",
        "-c16",
        f"-d{duration}s",
        "--timeout",
        "2s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(users_path),
        str(users_json),
        str(items_json),
        str(write_share),
        str(max_requests // threads),
        str(seed),
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    seconds = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": result["requests"],
        "seconds": round(seconds, 2),
        "rps": round(result["requests"] / seconds, 1),
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "errors": errors,
        "error_kinds": {
            k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]
        },
        "bad_statuses": result["bad_statuses"],
        # wrk stops each thread at its share of --max-requests but still waits out the
        # duration, so a capped run's rate is a lower bound.
        "capped": max_requests > 0 and result["requests"] >= max_requests - threads,
    }


class HealthProbe:
    """During a load run, ``GET /health`` every ``every`` seconds over a new connection
    (either worker may answer): how long a request that is neither a list nor a write
    waits while the load runs.  ``summary()``: the probes' count, errors, p50/p99/max ms."""

    def __init__(self, port: int, every: float = 0.05):
        self.port = port
        self.every = every
        self.ms: list[float] = []
        self.errors = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="health-probe", daemon=True)

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            started = time.perf_counter()
            try:
                status, _ = call(self.port, "GET", "/health")
            except OSError:
                status = 0
            if status == 200:
                self.ms.append(1000 * (time.perf_counter() - started))
            else:
                self.errors += 1

    def __enter__(self) -> HealthProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join()

    def summary(self) -> dict:
        ms = np.asarray(self.ms) if self.ms else np.full(1, np.nan)
        return {
            "probes": len(self.ms),
            "errors": self.errors,
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2),
        }


def profile(pid: int, args, label: str):
    """With --profile DIR: py-spy samples the server and its workers during one load run."""
    if args.profile is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{label}.txt"
    print(f"  profiling into {out}", flush=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw",
         "--rate", "200", "--duration", str(args.duration), "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process ``root`` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    procs = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces; the fields after its ")" are fixed.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            procs[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += procs.get(pid, (0, 0))[1]
        todo.extend(child for child, (ppid, _) in procs.items() if ppid == pid)
    return total / tick


def native_http(root: int) -> dict:
    """Which of uvicorn's native speed-ups the server's worker processes have loaded.

    uvicorn's "auto" loop and HTTP parser pick uvloop and httptools when they are
    installed (the ``serve`` extra's ``uvicorn[standard]``) and fall back to asyncio and
    h11 silently; the shared libraries mapped into the workers tell which ran.
    """
    found = {"uvloop": False, "httptools": False}
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                children.append(stat.parent)
    for proc in children:
        with contextlib.suppress(OSError):
            maps = (proc / "maps").read_text()
            for name in found:
                found[name] = found[name] or f"/{name}/" in maps
    return found


def verdict(name: str, run: str, r: dict) -> str:
    if name.endswith("-pipeline"):
        return "no target"  # the targets are a plain model's
    min_rps, max_p99 = TARGETS[run]
    ok = r["errors"] == 0 and r["p99_ms"] <= max_p99 and (min_rps is None or r["rps"] >= min_rps)
    return "meets" if ok else "misses"


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_model(name, data, args, workdir: Path) -> dict:
    model_path, store_url, users, items = build(name, data, workdir)
    rng = random.Random(args.seed)
    out = {"name": name, "users": len(users), "items": len(items), "ratings": data.nnz}
    if args.route_times:
        out["route_times"] = route_times(name, model_path, store_url, users, workdir)
    if args.no_load:
        return out
    env = dict(item.split("=", 1) for item in args.server_env)
    log_path = workdir / f"{name}.log"
    out["server_env"] = env
    with serving(model_path, store_url, args.workers, log_path, env) as (port, pid):
        # The service folds every stored user in at start; measure the steady state.
        out["warm_wait_s"] = wait_warm(port, args.workers)
        if out["warm_wait_s"] is not None:
            print(f"  {name}: workers warm after {out['warm_wait_s']:.1f} s", flush=True)
        out["native_http"] = native_http(pid)
        print(f"  {name}: workers run with {out['native_http']}", flush=True)
        # Warm-up: both workers load, compile and fill their caches before timing.
        run_wrk(
            port, workdir, users, items,
            write_share=0.1, duration=args.warmup, max_requests=0, seed=args.seed + 1,
        )  # fmt: skip
        out["fresh_before"] = freshness(port, users, args.fresh_checks, rng)
        for run, share in (("recommendations", 0.0), ("mix", 0.1)):
            out[f"load_before_{run}"] = load_average()
            profiler = profile(pid, args, f"{name}-{run}")
            cpu_before = cpu_seconds(pid)
            wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            with HealthProbe(port) as probe:
                result = run_wrk(
                    port, workdir, users, items,
                    write_share=share, duration=args.duration, max_requests=args.max_requests,
                    seed=args.seed,
                )  # fmt: skip
            result["health"] = probe.summary()
            wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU per request: what the load costs whatever else shares the machine.
            served = cpu_seconds(pid) - cpu_before
            result["server_cpu_ms_per_request"] = round(1000 * served / result["requests"], 3)
            result["wrk_cpu_s"] = round(
                wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime,
                2,
            )
            if profiler is not None:
                profiler.wait()
            result["verdict"] = verdict(name, run, result)
            out[run] = result
            print(f"  {name} {run}: {result}", flush=True)
        out["fresh_after"] = freshness(port, users, args.fresh_checks, rng)
    # uvicorn's supervisor restarts a worker that dies or misses its health check.
    log = log_path.read_text(errors="replace")
    out["worker_restarts"] = log.count("died")
    return out


def report(results: list[dict]) -> None:
    print()
    for res in results:
        for key, t in res.get("route_times", {}).items():
            if key == "batches":
                for size, b in t.items():
                    print(f"{res['name']}: ranked in a {size}: {b['ms_per_list_p50']:.2f} ms "
                          f"a list, {b['lists_differing']} of {b['lists']} lists differ from "
                          f"alone, scores within {b['max_rel_score_diff']:.1e}")  # fmt: skip
                continue
            print(f"{res['name']}: one list in the route, {key}: p50 {t['p50_ms']:.2f} ms, "
                  f"p90 {t['p90_ms']:.2f} ms ({t['users']} users)")  # fmt: skip
    results = [res for res in results if "recommendations" in res]
    if not results:
        return
    print(
        "| model | run | requests | req/s | p50 ms | p99 ms | max ms | errors | "
        "server CPU ms/request | /health p50 ms | /health p99 ms | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        for run in ("recommendations", "mix"):
            r = res[run]
            print(
                f"| {res['name']} | {run} | {r['requests']} | {r['rps']:.0f} | "
                f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['errors']} | "
                f"{r['server_cpu_ms_per_request']:.2f} | {r['health']['p50_ms']:.1f} | "
                f"{r['health']['p99_ms']:.1f} | {r['verdict']} |"
            )
    for res in results:
        for when in ("fresh_before", "fresh_after"):
            f = res[when]
            state = "all visible" if not f["failures"] else f"{len(f['failures'])} FAILED"
            print(f"{res['name']} {when}: {f['checked']} ratings read back, {state}")
            for failure in f["failures"]:
                print(f"    {failure}")
        print(f"{res['name']}: uvicorn workers restarted {res['worker_restarts']} times")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        choices=("ml100k", "synthetic", "ml100k-pipeline"),
        default=["ml100k", "synthetic"],
    )
    parser.add_argument(
        "--route-times",
        action="store_true",
        help="time one list inside the route, in-process, before each model's load runs",
    )
    parser.add_argument("--no-load", action="store_true", help="skip the server and the load runs")
    parser.add_argument("--duration", type=int, default=15, help="seconds per load run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up load")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="requests per load run at most"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh-checks", type=int, default=20)
    parser.add_argument("--synthetic-size", type=int, nargs=3, default=(100_000, 20_000, 2_000_000),
                        metavar=("USERS", "ITEMS", "RATINGS"))  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (repeatable), e.g. OPENBLAS_NUM_THREADS=1",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the models, stores and server logs here (reused by a later run) "
        "instead of a temporary directory",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server with py-spy (pip install py-spy) during each load run; "
        "collapsed stacks go to DIR",
    )
    args = parser.parse_args()
    bad = [item for item in args.server_env if "=" not in item or item.startswith("=")]
    if bad:
        parser.error(f"--server-env takes NAME=VALUE, got {bad[0]!r}")
    if shutil.which("wrk") is None and not args.no_load:
        print("wrk is not installed: apt-get install wrk (Debian/Ubuntu), or build it from "
              "https://github.com/wg/wrk", file=sys.stderr)  # fmt: skip
        return 1
    info = machine()
    print(f"machine: {info}", flush=True)
    results = []
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="latentrec-")))
        else:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        for name in args.models:
            print(f"{name}: building", flush=True)
            data = (
                ml100k_data() if name.startswith("ml100k") else synthetic_data(*args.synthetic_size)
            )
            results.append(bench_model(name, data, args, workdir))
    report(results)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
