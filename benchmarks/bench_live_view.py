"""What the app's live view costs a search (issue "Performance", target 6: at most 10% of its throughput).

    python benchmarks/bench_live_view.py             # 3 interleaved pairs, about 10-15 minutes on 2 cores
    python benchmarks/bench_live_view.py --reps 5 --profile

The same search (built-in `shapes` data, seed preset, shortened: --epochs x --steps child steps, 2 controller
steps per epoch) runs, interleaved, --reps times each way:

  A  without the app: `python -m enas --runs-dir TMP search --preset seed --dataset shapes ...` (the CLI);
  B  with the app: `streamlit run app/main.py` and a real Chromium (Playwright) that picks the same settings in
     the sidebar, presses "Start ENAS" and keeps the page open on the run's live view (redrawn every 2 s, its
     charts every 6 s) until the run's store says it finished. The run's stored configuration is checked against A's.

Throughput, read the same way from each run's store (`RunStore.events`):
  search img/s  (the headline) child images trained / wall time of the search phase, from the store's
                "running" status event to its "finished" one (child steps, controller steps, checkpoints);
  step img/s    child images / the summed time of the child_step events (their `images_per_s` fields),
                i.e. the child-training loop alone.
Both runs use the same torch thread count (OMP_NUM_THREADS/MKL_NUM_THREADS = --threads), by default the app's:
it runs the engine in a thread of the streamlit server process with one core fewer than the machine has, left
to the page (`engine_threads` in app/registry.py). The browser and the script reruns share the cores with training; that is the
cost being measured.

Also recorded for B: CPU seconds of the streamlit server (split by thread: the engine's, torch's workers,
everything else = script reruns, websocket, ...) and of the browser's processes, and the load average.
--profile additionally samples the server with `py-spy record` during one extra B run (top functions).
Prints a table and writes benchmarks/results/live_view.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.registry import engine_threads  # noqa: E402
from enas.config import Config  # noqa: E402
from enas.runs.store import RunStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SLOW = 120_000  # ms, Playwright timeouts: the machine is busy training
CLK = os.sysconf("SC_CLK_TCK")


# --- the configuration ----------------------------------------------------------------------------
def bench_config(epochs: int, steps: int, ctrl_steps: int) -> Config:
    return Config.from_dict({"dataset": "shapes", "epochs": epochs, "steps_per_epoch": steps,
                             "controller_steps": ctrl_steps}, preset="seed")


def differing(config: Config) -> dict:
    """The fields where `config` differs from the seed preset (set on the CLI and in the sidebar)."""
    seed = Config.from_dict({}, preset="seed").to_dict()
    return {k: v for k, v in config.to_dict().items() if seed[k] != v}


def env_for(threads: int, **extra) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **extra}


# --- reading a run's throughput ------------------------------------------------------------------
def throughput(runs_dir: Path, name: str) -> dict:
    store = RunStore.open(runs_dir, name)
    try:
        config = store.config()
        status = store.status()
        statuses = store.events("status")
        steps = store.events("child_step")
        epochs = store.events("epoch")
    finally:
        store.close()
    if status != "finished":
        raise RuntimeError(f"run {name} ended {status!r}, not finished")
    t0 = min(e["t"] for e in statuses if e["status"] == "running")
    t1 = max(e["t"] for e in statuses if e["status"] == "finished")
    images = sum(e["images_per_s"] * e["seconds"] for e in epochs)   # exact: images counted by the engine
    step_images = config.batch_size * len(steps)                     # every capped step is a full batch
    step_time = sum(config.batch_size / e["images_per_s"] for e in steps)
    return {"search_img_s": images / (t1 - t0), "step_img_s": step_images / step_time,
            "search_s": t1 - t0, "images": round(images), "child_steps": len(steps),
            "step_img_s_median": statistics.median(e["images_per_s"] for e in steps),
            "epoch_s": [round(e["seconds"], 2) for e in epochs], "config": config}


# --- CPU accounting from /proc -------------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """user + system CPU seconds of process `pid` (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def thread_cpu(pid: int) -> dict:
    """{tid: (name, CPU seconds)} of every thread of `pid`."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (comm, (int(fields[11]) + int(fields[12])) / CLK)
    return out


def descendants(pid: int) -> list:
    """Every process below `pid` (via /proc/*/stat parent links)."""
    parent = {}
    for p in Path("/proc").glob("[0-9]*"):
        try:
            parent[int(p.name)] = int(p.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    out, frontier = [], [pid]
    while frontier:
        kids = [c for c, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


# --- A: the CLI ----------------------------------------------------------------------------------
def run_cli(config: Config, threads: int, work: Path, tag: str) -> dict:
    runs = work / f"runs-{tag}"
    flags = []
    for k, v in differing(config).items():
        flags += ["--" + k.replace("_", "-"), ",".join(v) if isinstance(v, list) else str(v)]
    cmd = [sys.executable, "-m", "enas", "--runs-dir", str(runs), "search", "--preset", "seed", "--name", tag, *flags]
    load = os.getloadavg()
    t = time.perf_counter()
    with open(work / f"{tag}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(threads), stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n" + (work / f"{tag}.log").read_text()[-3000:])
    r = throughput(runs, tag)
    r.update(kind="A", wall_s=wall, cli_cpu_s=usage.ru_utime + usage.ru_stime, load_before=load, load_after=os.getloadavg(),
             command=" ".join(cmd[1:]).replace(str(runs), "TMP"))
    return r


# --- B: the app in a browser ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: Path, threads: int, log_path: Path):
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
                             "--server.headless", "true", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env_for(threads, ENAS_RUNS_DIR=str(runs)), stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 90
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, log, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > end:
            stop_server(proc, log)
            raise RuntimeError("the server did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.3)


def stop_server(proc, log):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def choose(page, sidebar, label: str, option: str):
    """Pick `option` in the sidebar's selectbox `label`."""
    from playwright.sync_api import expect
    box = sidebar.get_by_role("combobox", name=label, exact=True)
    for attempt in range(3):   # a rerun that redraws the sidebar can swallow the click that opens the list
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError; try again
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    expect(box).to_have_value(option)


def set_number(sidebar, label: str, value):
    from playwright.sync_api import expect
    field = sidebar.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))


def db_status(db: Path) -> str | None:
    """The run's status from its database, read-only (None while it cannot be read)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()
        finally:
            con.close()
        return json.loads(row[0]) if row else None
    except sqlite3.Error:
        return None


def run_app(config: Config, threads: int, work: Path, tag: str, timeout: float, profile: Path | None = None) -> dict:
    from playwright.sync_api import expect, sync_playwright

    runs = work / f"runs-{tag}"
    server, log, url = start_server(runs, threads, work / f"{tag}.server.log")
    spy = None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(SLOW)
                expect.set_options(timeout=SLOW)
                page.goto(url)
                sidebar = page.get_by_test_id("stSidebar")
                start = sidebar.get_by_role("button", name="Start ENAS")
                expect(start).to_be_enabled()
                choose(page, sidebar, "preset", "seed")
                # the preset's callback has set every field once the seed preset's 100 epochs show
                expect(sidebar.get_by_label("epochs", exact=True)).to_have_value("100")
                page.wait_for_timeout(1000)
                for title in ("Child training", "Controller"):
                    sidebar.get_by_text(title, exact=True).click()
                wanted = differing(config)
                for attempt in range(3):   # set, let the reruns settle, check every field again
                    for name, value in wanted.items():
                        if name == "dataset":
                            choose(page, sidebar, "dataset", value)
                        else:
                            set_number(sidebar, name.replace("_", " "), value)
                    page.wait_for_timeout(1500)
                    shown = {name: sidebar.get_by_role("combobox", name="dataset", exact=True).input_value()
                             if name == "dataset" else sidebar.get_by_label(name.replace("_", " "),
                                                                            exact=True).input_value()
                             for name in wanted}
                    if shown == {k: str(v) for k, v in wanted.items()}:
                        break
                else:
                    raise RuntimeError(f"the sidebar shows {shown}, not {wanted}")
                expect(sidebar.get_by_text("Search space: 512,000,000 architectures")).to_be_visible()
                before = set(runs.glob("*")) if runs.exists() else set()
                # CPU is counted from the click, so the window covers the whole search phase
                browser_pids = [pid for pid in descendants(os.getpid()) if pid != server.pid
                                and pid not in descendants(server.pid)]
                cpu0 = {"server": proc_cpu(server.pid), "threads": thread_cpu(server.pid),
                        "browser": sum(proc_cpu(q) for q in browser_pids)}
                load = os.getloadavg()
                t_click = time.perf_counter()
                start.click()
                # the live view: the controller's current sample appears once the first step is done
                expect(page.locator("svg:has(path.chain)").first).to_be_visible()
                new = [d for d in runs.glob("*") if d not in before and (d / "run.db").is_file()]
                if len(new) != 1:
                    raise RuntimeError(f"expected one new run in {runs}, found {new}")
                db = new[0] / "run.db"
                if profile is not None:
                    spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--rate", "50",
                                            "--threads", "--format", "raw", "--output", str(profile),
                                            "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
                end = time.monotonic() + timeout
                seen = dict(cpu0["threads"])   # threads that end keep their last reading
                while (status := db_status(db)) not in ("finished", "failed", "stopped"):
                    if time.monotonic() > end or server.poll() is not None:
                        raise RuntimeError(f"run {db.parent.name} did not finish (status {status})")
                    time.sleep(1.0)
                    seen.update(thread_cpu(server.pid))
                wall = time.perf_counter() - t_click
                browser_pids = [pid for pid in descendants(os.getpid()) if pid != server.pid
                                and pid not in descendants(server.pid) and comm(pid) != "py-spy"]
                seen.update(thread_cpu(server.pid))
                cpu1 = {"server": proc_cpu(server.pid), "threads": seen,
                        "browser": sum(proc_cpu(q) for q in browser_pids)}
                if spy is not None:
                    spy.send_signal(2)   # SIGINT: py-spy writes its output and exits
                    spy.wait(60)
                page.wait_for_timeout(1500)   # let the page draw the final state (not timed)
                page.screenshot(path=str(work / f"{tag}.png"))
            finally:
                browser.close()
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        stop_server(server, log)
    r = throughput(runs, db.parent.name)
    if r["config"] != config:
        raise RuntimeError(f"the app's run has a different configuration: {differing(r['config'])} "
                           f"instead of {differing(config)}")
    # per thread, sampled every second: the engine's thread and torch's workers live through the run; script
    # reruns run in short-lived threads, mostly missed by the sampling, so they are in "rest"
    threads_cpu = {}
    for tid, (name, sec) in cpu1["threads"].items():
        sec -= cpu0["threads"].get(tid, (name, 0.0))[1]
        if sec >= 0.05:
            threads_cpu[f"{name}:{tid}"] = round(sec, 2)
    threads_cpu = dict(sorted(threads_cpu.items(), key=lambda kv: -kv[1])[:6])
    threads_cpu["rest"] = round(cpu1["server"] - cpu0["server"] - sum(threads_cpu.values()), 2)
    r.update(kind="B", wall_s=wall, load_before=load, load_after=os.getloadavg(),
             server_cpu_s=cpu1["server"] - cpu0["server"], browser_cpu_s=cpu1["browser"] - cpu0["browser"],
             server_threads_cpu_s=threads_cpu)
    return r


# --- profile summary -----------------------------------------------------------------------------
def summarize_profile(raw: Path, top: int = 15) -> dict:
    """py-spy's raw (collapsed) stacks -> share of samples per thread and top self/inclusive functions."""
    by_thread, self_, incl, total = {}, {}, {}, 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        n = int(n)
        total += n
        frames = stack.split(";")
        by_thread[frames[0]] = by_thread.get(frames[0], 0) + n
        self_[frames[-1]] = self_.get(frames[-1], 0) + n
        for f in set(frames[1:]):
            incl[f] = incl.get(f, 0) + n

    def share(d):
        return [(k, round(v / total, 4)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]
    return {"samples": total, "threads": share(by_thread), "self": share(self_), "inclusive": share(incl)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="pairs of A and B runs, interleaved (median reported)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=80, help="child steps per epoch")
    ap.add_argument("--controller-steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=engine_threads(),
                    help="torch threads in both (OMP_NUM_THREADS); default the app's: one fewer than the CPUs")
    ap.add_argument("--kinds", default="AB", help="which runs (AB; B alone to look at the page's CPU)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds one app run may take")
    ap.add_argument("--profile", action="store_true", help="then one more B run under py-spy record")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "live_view.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, screenshots)")
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is absent (apt-get install chromium)")

    config = bench_config(args.epochs, args.steps, args.controller_steps)
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    print(f"config (seed preset +) {differing(config)}; torch threads {args.threads}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()}; work folder {work}", flush=True)
    rows = []
    try:
        for i in range(args.reps):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")   # alternate, so drift hits both alike
            for kind in [k for k in order if k in args.kinds]:
                tag = f"{kind.lower()}{i}"
                r = (run_cli(config, args.threads, work, tag) if kind == "A"
                     else run_app(config, args.threads, work, tag, args.timeout))
                r["rep"] = i
                rows.append(r)
                extra = (f", server CPU {r['server_cpu_s']:.1f} s (threads {r['server_threads_cpu_s']}), "
                         f"browser CPU {r['browser_cpu_s']:.1f} s" if kind == "B"
                         else f", CLI CPU {r['cli_cpu_s']:.1f} s (whole process)")
                print(f"  rep {i} {kind}: search {r['search_img_s']:7.1f} img/s, steps {r['step_img_s']:7.1f} img/s, "
                      f"search phase {r['search_s']:.1f} s, load {r['load_before'][0]:.2f}{extra}", flush=True)
        profile = None
        if args.profile:
            raw = work / "profile.txt"
            try:
                r = run_app(config, args.threads, work, "profile", args.timeout, profile=raw)
                profile = {"search_img_s": r["search_img_s"], "step_img_s": r["step_img_s"],
                           **(summarize_profile(raw) if raw.exists() else {"error": "py-spy wrote nothing"})}
            except Exception as e:  # noqa: BLE001 - the measurement stands without the profile
                profile = {"error": f"{type(e).__name__}: {str(e)[:500]}"}
                print(f"profile run failed: {profile['error']}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    if set(args.kinds) != {"A", "B"}:
        return   # one kind alone: the lines above are the result

    def med(kind, key):
        return statistics.median(r[key] for r in rows if r["kind"] == kind)

    summary = {}
    print(f"\n{'throughput (median of ' + str(args.reps) + ')':<28}{'A img/s':>10}{'B img/s':>10}{'B/A':>8}"
          f"{'overhead':>10}")
    for key, title in (("search_img_s", "search phase (headline)"), ("step_img_s", "child steps only")):
        a, b = med("A", key), med("B", key)
        summary[key] = {"A": a, "B": b, "B_over_A": b / a, "overhead_pct": 100 * (1 - b / a)}
        print(f"{title:<28}{a:10.1f}{b:10.1f}{b / a:8.3f}{100 * (1 - b / a):9.1f}%")
    b_rows = [r for r in rows if r["kind"] == "B"]
    cpu = {"server_cpu_s": statistics.median(r["server_cpu_s"] for r in b_rows),
           "browser_cpu_s": statistics.median(r["browser_cpu_s"] for r in b_rows),
           "search_s_B": med("B", "search_s"), "search_s_A": med("A", "search_s")}
    print(f"B, per run (median): search phase {cpu['search_s_B']:.1f} s (A: {cpu['search_s_A']:.1f} s); "
          f"streamlit server CPU {cpu['server_cpu_s']:.1f} s; browser CPU {cpu['browser_cpu_s']:.1f} s")
    verdict = "met" if summary["search_img_s"]["overhead_pct"] <= 10 else "NOT met"
    print(f"target 6 (live view costs at most 10% of the search's throughput): {verdict}")
    if profile and "threads" in profile:
        print("\npy-spy of the server during one more B run: share of samples by thread, then top functions (self)")
        for k, s in profile["threads"][:8]:
            print(f"  {s:6.1%}  {k}")
        for k, s in profile["self"][:12]:
            print(f"  {s:6.1%}  {k}")
    for r in rows:
        r["config"] = differing(r["config"])
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "python": platform.python_version(), "torch_threads": args.threads, "reps": args.reps,
              "config": {"preset": "seed", **differing(config)}, "metric": {
                  "search_img_s": "child images / (t of the store's 'finished' status event - t of 'running')",
                  "step_img_s": "child images / sum of batch_size / images_per_s over the child_step events"},
              "summary": summary, "cpu_B": cpu, "target_met": verdict == "met",
              "load_average_end": os.getloadavg(), "runs": rows, "profile": profile}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
