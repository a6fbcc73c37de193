#!/usr/bin/python3
# Measures redis-server and gossipcluster-kvserver clusters of the same shape on loopback and
# prints a markdown table with both and the ratio ours/Redis. Started by bench/side_by_side.sh,
# which owns the work directory and kills every pid this script lists in WORK/pids on exit.
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def now_ms():
    return time.monotonic() * 1000.0


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class Resp:
    """One persistent RESP connection; replies are parsed into str, int, list or BenchError."""

    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise BenchError("connection closed")
            self.buf += chunk

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise BenchError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return BenchError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise BenchError(f"bad reply {line!r}")

    def pipeline(self, *commands):
        out = b""
        for args in commands:
            out += b"*%d\r\n" % len(args)
            for a in args:
                a = str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return [self._reply() for _ in commands]

    def call(self, *args):
        r = self.pipeline(args)[0]
        if isinstance(r, BenchError):
            raise r
        return r


def parse_info(text):
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def parse_nodes(text):
    """CLUSTER NODES -> {id: {'flags': set, 'master': id or '-', 'slots': [...], 'port': int}}."""
    nodes = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 8:
            continue
        addr = f[1].split(",")[0]
        port = int(addr.split("@")[0].rsplit(":", 1)[1] or 0)
        nodes[f[0]] = {"flags": set(f[2].split(",")), "master": f[3], "slots": f[8:],
                       "port": port}
    return nodes


def first_slot(slots):
    for s in slots:
        if not s.startswith("["):
            return int(s.split("-")[0])
    return None


def owner_of(nodes, slot):
    for nid, n in nodes.items():
        for s in n["slots"]:
            if s.startswith("["):
                continue
            lo, _, hi = s.partition("-")
            if int(lo) <= slot <= int(hi or lo):
                return nid
    return None


def port_free(port):
    for p in (port, port + 10000):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


class Cluster:
    """N server processes of one kind on loopback; stop() kills all of them."""

    def __init__(self, kind, binary, work, ports, timeout_ms):
        self.kind, self.binary, self.work = kind, binary, work
        self.ports, self.timeout_ms = list(ports), timeout_ms
        self.procs = {}
        self.conns = {}

    def start_node(self, port):
        d = os.path.join(self.work, f"{self.kind}-{port}")
        os.makedirs(d, exist_ok=True)
        for f in ("nodes.conf",):
            p = os.path.join(d, f)
            if os.path.exists(p):
                os.remove(p)
        args = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled",
                "yes", "--cluster-node-timeout", str(self.timeout_ms), "--cluster-config-file",
                "nodes.conf", "--dir", d, "--logfile", os.path.join(d, "log"), "--save", "",
                "--appendonly", "no", "--daemonize", "no"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(self.work, "pids"), "a") as f:
            f.write(f"{proc.pid}\n")
        self.procs[port] = proc
        if port not in self.ports:
            self.ports.append(port)

    def start(self):
        for p in self.ports:
            if not port_free(p):
                raise BenchError(f"port {p} or {p + 10000} is in use")
        for p in list(self.ports):
            self.start_node(p)
        for p in self.ports:
            self.connect(p)

    def connect(self, port):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.conns[port] = Resp(port)
                self.conns[port].call("PING")
                return
            except (OSError, BenchError):
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.kind} on port {port} does not answer")
                time.sleep(0.02)

    def create(self, replicas):
        addrs = [f"127.0.0.1:{p}" for p in self.ports]
        r = subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas",
                            str(replicas), "--cluster-yes"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise BenchError(f"redis-cli --cluster create failed:\n{r.stdout}{r.stderr}")
        self.wait_converged(60)

    def nodes(self, port):
        return parse_nodes(self.conns[port].call("CLUSTER", "NODES"))

    def info(self, port):
        return parse_info(self.conns[port].call("CLUSTER", "INFO"))

    def converged(self, ports=None):
        ports = ports or self.ports
        for p in ports:
            i = self.info(p)
            if i.get("cluster_state") != "ok" or int(i.get("cluster_known_nodes", 0)) != len(
                    self.ports):
                return False
            for n in self.nodes(p).values():
                if n["flags"] & {"fail", "fail?", "handshake", "noaddr"}:
                    return False
        return True

    def wait_converged(self, limit_s):
        deadline = time.monotonic() + limit_s
        while not self.converged():
            if time.monotonic() > deadline:
                raise BenchError(f"{self.kind}: cluster did not converge in {limit_s} s")
            time.sleep(0.05)

    def kill9(self, port):
        self.procs[port].kill()
        self.procs[port].wait()
        self.conns.pop(port).close()

    def stop(self):
        for c in self.conns.values():
            c.close()
        self.conns.clear()
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()


class Ports:
    """Hands out disjoint port ranges per server kind so runs never reuse a just-closed port."""

    def __init__(self, base):
        self.next = base

    def take(self, n):
        while True:
            ports = list(range(self.next, self.next + n))
            self.next += n
            if all(port_free(p) for p in ports):
                return ports


# --- failover -------------------------------------------------------------------------------


def failover_run(kind, binary, work, ports, timeout_ms, poll_ms):
    c = Cluster(kind, binary, work, ports, timeout_ms)
    try:
        c.start()
        c.create(1)
        # Replicas must be synced (a replica that never reached its master may not fail over).
        deadline = time.monotonic() + 30
        while True:
            roles = [parse_info(c.conns[p].call("INFO", "replication")) for p in c.ports]
            if all(r.get("role") == "master" or r.get("master_link_status") == "up"
                   for r in roles):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"{kind}: replicas did not sync")
            time.sleep(0.05)
        # A quiet period as long as the timeout, so every node has fresh PONGs from every node.
        time.sleep(max(1.0, timeout_ms / 1000.0))
        c.wait_converged(30)
        view = c.nodes(c.ports[0])
        victim_id, victim = next((i, n) for i, n in view.items()
                                 if "master" in n["flags"] and first_slot(n["slots"]) is not None)
        slot = first_slot(victim["slots"])
        replicas = {i for i, n in view.items() if n["master"] == victim_id}
        survivors = [p for p in c.ports if p != victim["port"]]
        t0 = now_ms()
        c.kill9(victim["port"])
        t_fail = {}
        t_prom = None
        t_ok = None
        deadline = t0 + timeout_ms * 20 + 10000
        while t_ok is None or len(t_fail) < len(survivors):
            if now_ms() > deadline:
                raise BenchError(f"{kind}: no failover within {deadline - t0:.0f} ms")
            all_ok = True
            for p in survivors:
                nodes_text, info_text = c.conns[p].pipeline(("CLUSTER", "NODES"),
                                                            ("CLUSTER", "INFO"))
                t = now_ms() - t0
                nodes = parse_nodes(nodes_text)
                if p not in t_fail and "fail" in nodes.get(victim_id, {"flags": set()})["flags"]:
                    t_fail[p] = t
                me = next((i for i, n in nodes.items() if "myself" in n["flags"]), None)
                if t_prom is None and me in replicas and "master" in nodes[me]["flags"]:
                    t_prom = t
                if (parse_info(info_text).get("cluster_state") != "ok"
                        or owner_of(nodes, slot) not in replicas):
                    all_ok = False
            if t_ok is None and all_ok:
                t_ok = now_ms() - t0
            time.sleep(poll_ms / 1000.0)
        return max(t_fail.values()), t_prom, t_ok
    finally:
        c.stop()


def bench_failover(args, kinds, ports):
    results = {}
    for timeout in args.failover_timeouts:
        for kind, binary in kinds:
            rows = []
            for run in range(args.runs):
                r = failover_run(kind, binary, args.work, ports[kind].take(6), timeout,
                                 args.poll_ms)
                log(f"failover {kind} timeout {timeout} run {run + 1}/{args.runs}: FAIL on all "
                    f"{r[0]:.0f} ms, promotion {r[1]:.0f} ms, all ok {r[2]:.0f} ms")
                rows.append(r)
            results[(kind, timeout)] = rows
    return results


# --- idle bus cost --------------------------------------------------------------------------


def socket_bytes(bus_ports):
    """Per established TCP socket touching a bus port: (bytes_acked, bytes_received)."""
    out = subprocess.run(["ss", "-tinH", "state", "established"], capture_output=True, text=True,
                         check=True).stdout
    result = {}
    key = None
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            f = line.split()
            key = None
            if len(f) >= 4:
                local, peer = f[-2], f[-1]
                lp = int(local.rsplit(":", 1)[1])
                pp = int(peer.rsplit(":", 1)[1])
                if lp in bus_ports or pp in bus_ports:
                    key = (local, peer)
            continue
        if key is None:
            continue
        acked = re.search(r"bytes_acked:(\d+)", line)
        recv = re.search(r"bytes_received:(\d+)", line)
        result[key] = (int(acked.group(1)) if acked else 0, int(recv.group(1)) if recv else 0)
        key = None
    return result


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def run_ns(pid):
    """CPU time of every thread of pid in ns (schedstat's sum_exec_runtime, not tick-sampled)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # the thread ended between listdir and open
    return total


def idle_run(kind, binary, work, ports, timeout_ms, settle_s, window_s):
    c = Cluster(kind, binary, work, ports, timeout_ms)
    try:
        c.start()
        c.create(0)
        time.sleep(settle_s)
        bus = {p + 10000 for p in c.ports}
        pids = [c.procs[p].pid for p in c.ports]
        sent0 = sum(int(c.info(p)["cluster_stats_messages_sent"]) for p in c.ports)
        cpu0 = sum(cpu_ticks(pid) for pid in pids)
        ns0 = sum(run_ns(pid) for pid in pids)
        s0 = socket_bytes(bus)
        t0 = time.monotonic()
        time.sleep(window_s)
        s1 = socket_bytes(bus)
        t1 = time.monotonic()
        cpu1 = sum(cpu_ticks(pid) for pid in pids)
        ns1 = sum(run_ns(pid) for pid in pids)
        sent1 = sum(int(c.info(p)["cluster_stats_messages_sent"]) for p in c.ports)
        dt = t1 - t0
        n = len(c.ports)
        # Sockets alive at both ends of the window; one that closed in between loses its count.
        both = s0.keys() & s1.keys()
        out_bytes = sum(s1[k][0] - s0[k][0] for k in both)
        in_bytes = sum(s1[k][1] - s0[k][1] for k in both)
        if len(both) != len(s1) or len(both) != len(s0):
            log(f"idle {kind}: {len(s0)} bus sockets before, {len(s1)} after, {len(both)} in both")
        return {
            "bytes_sent": out_bytes / dt / n,
            "bytes_received": in_bytes / dt / n,
            "msgs": (sent1 - sent0) / dt / n,
            "cpu_s_per_min": (cpu1 - cpu0) / CLK_TCK / n / (dt / 60.0),
            "sched_s_per_min": (ns1 - ns0) / 1e9 / n / (dt / 60.0),
            "sockets": len(both),
        }
    finally:
        c.stop()


def bench_idle(args, kinds, ports):
    results = {}
    for n in args.idle_nodes:
        for timeout in args.idle_timeouts:
            for kind, binary in kinds:
                r = idle_run(kind, binary, args.work, ports[kind].take(n), timeout, args.settle,
                             args.window)
                log(f"idle {kind} N={n} timeout {timeout}: {r['bytes_sent']:.0f} B/s sent, "
                    f"{r['bytes_received']:.0f} B/s received, {r['msgs']:.2f} msgs/s, "
                    f"{r['cpu_s_per_min']:.3f} CPU s/min per node ({r['sched_s_per_min']:.3f} by "
                    f"schedstat), {r['sockets']} sockets")
                results[(kind, n, timeout)] = r
    return results


# --- convergence ----------------------------------------------------------------------------


def convergence_runs(kind, binary, work, ports, spare_ports, timeout_ms, runs, poll_ms):
    c = Cluster(kind, binary, work, ports, timeout_ms)
    times = []
    try:
        c.start()
        c.create(0)
        time.sleep(max(1.0, timeout_ms / 1000.0))
        for run in range(runs):
            port = spare_ports[run]
            members = list(c.ports)
            c.start_node(port)
            c.connect(port)
            new_id = c.conns[port].call("CLUSTER", "MYID")
            contact = members[run % len(members)]
            t0 = now_ms()
            c.conns[contact].call("CLUSTER", "MEET", "127.0.0.1", port)
            waiting = set(members)
            newcomer_done = False
            deadline = t0 + 120000
            while waiting or not newcomer_done:
                if now_ms() > deadline:
                    raise BenchError(f"{kind}: {len(waiting)} nodes never learnt the newcomer")
                for p in list(waiting):
                    n = c.nodes(p).get(new_id)
                    if n and not n["flags"] & {"handshake", "noaddr", "fail?", "fail"}:
                        waiting.discard(p)
                if not newcomer_done:
                    view = c.nodes(port)
                    newcomer_done = len(view) == len(members) + 1 and not any(
                        v["flags"] & {"handshake", "noaddr"} for v in view.values())
                t = now_ms() - t0
                time.sleep(poll_ms / 1000.0)
            times.append(t)
            log(f"convergence {kind} N={len(members)} timeout {timeout_ms} run {run + 1}/{runs}: "
                f"{t:.0f} ms")
            c.wait_converged(120)
        return times
    finally:
        c.stop()


def bench_convergence(args, kinds, ports):
    results = {}
    for timeout in args.conv_timeouts:
        for kind, binary in kinds:
            base = ports[kind].take(args.conv_nodes + args.conv_runs)
            results[(kind, timeout)] = convergence_runs(
                kind, binary, args.work, base[:args.conv_nodes], base[args.conv_nodes:], timeout,
                args.conv_runs, args.poll_ms)
    return results


# --- the table ------------------------------------------------------------------------------


def ratio_cell(ours, redis, goal):
    if not redis:
        return "n/a", ""
    r = ours / redis
    # Two decimals, or three when two would round a miss onto the goal.
    shown = f"{r:.3f}" if goal is not None and f"{r:.2f}" == f"{goal:.2f}" else f"{r:.2f}"
    if goal is None:
        return shown, ""
    return shown, f"<= {goal} " + ("met" if r <= goal else "**missed**")


def mmm(values):
    return (f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}",
            statistics.median(values))


def print_table(args, failover, idle, conv):
    print("| measurement | shape | Redis 7.0.15 | gossipcluster-kvserver | ours/Redis | goal |")
    print("|---|---|---:|---:|---:|---|")
    # FAIL may not come before the node timeout (the timeout means unreachable that long), so its
    # goal is a floor, checked on the fastest run. The failover goal is set at timeout 1000; at
    # 3000 the floor alone (3000 ms) is already about 0.55 of Redis's median.
    names = [("kill → FAIL on all nodes", 0, None), ("kill → replica promoted", 1, None),
             ("kill → all nodes ok with the new owner", 2, 0.55)]
    for timeout in args.failover_timeouts if failover else []:
        for label, col, goal in names:
            rc, rm = mmm([r[col] for r in failover[("redis", timeout)]])
            ours = [r[col] for r in failover[("ours", timeout)]]
            oc, om = mmm(ours)
            ratio, g = ratio_cell(om, rm, goal if timeout == 1000 else None)
            if col == 0:
                g = f">= {timeout} ms " + ("met" if min(ours) >= timeout else "**missed**")
            print(f"| {label}, ms min / median / max | 3+3, timeout {timeout}, "
                  f"{len(failover[('ours', timeout)])} runs | {rc} | {oc} | {ratio} | {g} |")
    for n in args.idle_nodes if idle else []:
        for timeout in args.idle_timeouts:
            r, o = idle[("redis", n, timeout)], idle[("ours", n, timeout)]
            shape = f"N={n}, timeout {timeout}, {args.window:.0f} s"
            for label, key, fmt_, goal in (("idle bus bytes sent/s per node", "bytes_sent",
                                            "{:,.0f}", 1.0),
                                           ("idle messages sent/s per node", "msgs", "{:.2f}",
                                            None),
                                           ("idle CPU s per minute per node, utime+stime",
                                            "cpu_s_per_min", "{:.3f}", 0.5),
                                           ("idle CPU s per minute per node, schedstat",
                                            "sched_s_per_min", "{:.3f}", 0.5)):
                ratio, g = ratio_cell(o[key], r[key], goal)
                print(f"| {label} | {shape} | {fmt_.format(r[key])} | {fmt_.format(o[key])} | "
                      f"{ratio} | {g} |")
    for timeout in args.conv_timeouts if conv else []:
        rc, rm = mmm(conv[("redis", timeout)])
        oc, om = mmm(conv[("ours", timeout)])
        ratio, g = ratio_cell(om, rm, 0.25)
        print(f"| MEET → every node knows the newcomer, ms min / median / max | N={args.conv_nodes}, "
              f"timeout {timeout}, {len(conv[('ours', timeout)])} runs | {rc} | {oc} | {ratio} | "
              f"{g} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--redis", required=True)
    ap.add_argument("--kvserver", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--parts", default="failover,idle,convergence")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--poll-ms", type=float, default=10.0)
    ap.add_argument("--conv-runs", type=int, default=3)
    ap.add_argument("--conv-nodes", type=int, default=30)
    ap.add_argument("--port-base", type=int, default=5000)
    args = ap.parse_args()
    args.failover_timeouts = [1000, 3000]
    args.idle_nodes = [6, 30]
    args.idle_timeouts = [15000, 3000]
    args.conv_timeouts = [15000, 3000]
    if args.quick:
        args.runs = min(args.runs, 2)
        args.window = min(args.window, 5.0)
        args.settle = min(args.settle, 2.0)
        args.conv_runs = 1
        args.conv_timeouts = [3000]
    if not 1 <= args.runs <= 1000 or args.window <= 0 or not 1 <= args.conv_runs <= 20:
        ap.error("--runs 1..1000, --window > 0, --conv-runs 1..20")
    kinds = [("redis", args.redis), ("ours", args.kvserver)]
    # redis-server and the kvserver each get their own port range (and bus ports 10000 above).
    ports = {"redis": Ports(args.port_base), "ours": Ports(args.port_base + 4000)}

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    parts = set(args.parts.split(","))
    unknown = parts - {"failover", "idle", "convergence"}
    if unknown:
        ap.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    failover = bench_failover(args, kinds, ports) if "failover" in parts else None
    idle = bench_idle(args, kinds, ports) if "idle" in parts else None
    conv = bench_convergence(args, kinds, ports) if "convergence" in parts else None
    print_table(args, failover, idle, conv)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"side_by_side: {e}", file=sys.stderr)
        sys.exit(1)
