#!/usr/bin/env python3
"""Concurrent writers through several `mcp-bridge serve` processes on one database.

  benches/writers.py --db postgres://user@host/db [--writers 16] [--servers 4] [-n 500]
                     [--bin target/release/mcp-bridge] [--env K=V ...]

Starts --servers server processes on the database (SQLite path or PostgreSQL URL),
creates one conversation per writer, and lets --writers threads each send -n
messages as fast as their server answers (one call in flight per writer, writer i
on server i % servers). Prints sends per second over the whole burst, then drains
every inbox through the servers and checks that each message arrived exactly
once and in send order. Rate limits are turned off (MCP_BRIDGE_RATE_LIMITS=off);
MCP_BRIDGE_KEY_FILE is set to a temporary key file unless given.
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time


class Rpc:
    def __init__(self, cmd, env):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env, bufsize=1 << 16)
        self.id = 0
        self.lock = threading.Lock()

    def request(self, method, params=None):
        with self.lock:
            self.id += 1
            want = self.id
            msg = {"jsonrpc": "2.0", "id": want, "method": method}
            if params is not None:
                msg["params"] = params
            self.p.stdin.write((json.dumps(msg) + "\n").encode())
            self.p.stdin.flush()
            while True:
                line = self.p.stdout.readline()
                if not line:
                    raise RuntimeError("server closed stdout")
                resp = json.loads(line)
                if resp.get("id") == want:
                    if "error" in resp:
                        raise RuntimeError(resp["error"])
                    return resp["result"]

    def init(self):
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "writers-bench", "version": "1"}})
        self.p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.p.stdin.flush()

    def call(self, name, args):
        r = self.request("tools/call", {"name": name, "arguments": args})
        if r.get("isError"):
            raise RuntimeError(f"{name}: {r}")
        return r["structuredContent"]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--servers", type=int, default=4)
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--bin", default="target/release/mcp-bridge")
    ap.add_argument("--env", action="append", default=[], help="K=V for the servers")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="writers-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_BRIDGE_")}
    env["MCP_BRIDGE_RATE_LIMITS"] = "off"
    env["MCP_BRIDGE_KEY_FILE"] = os.environ.get("MCP_BRIDGE_KEY_FILE", os.path.join(tmp, "bridge.key"))
    env["XDG_DATA_HOME"] = tmp
    env["XDG_CONFIG_HOME"] = tmp
    # More unread messages than the default per-recipient bound may pile up.
    env["MCP_BRIDGE_LIMITS__MAX_PENDING_MESSAGES"] = str(a.n + 10)
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    servers = [Rpc([a.bin, "serve", "--db", a.db], env) for _ in range(a.servers)]
    for s in servers:
        s.init()
    convs = [servers[0].call("create_conversation", {"my_role": f"w{i}", "partner_role": "reader"})
             for i in range(a.writers)]
    failures = []

    def writer(i):
        s, c = servers[i % a.servers], convs[i]
        try:
            for k in range(a.n):
                s.call("send_to_partner", {"conversation_id": c["conversation_id"], "session_id": "a",
                                           "token": c["session_a_token"], "message": f"w{i} m{k}"})
        except Exception as e:  # reported below
            failures.append(f"writer {i}: {e}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(a.writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = a.writers * a.n
    lost = dup = disorder = 0
    for i, c in enumerate(convs):
        s = servers[(i + 1) % a.servers]  # read through another server than the writer's
        got = []
        while True:
            r = s.call("check_messages", {"conversation_id": c["conversation_id"], "session_id": "b",
                                          "token": c["session_b_token"], "limit": 500})
            got += [m["content"] for m in r["messages"]]
            if not r["messages"]:
                break
        want = [f"w{i} m{k}" for k in range(a.n)]
        lost += len(set(want) - set(got))
        dup += len(got) - len(set(got))
        disorder += int([g for g in got if g in set(want)] != want[:len(got)] and not (set(want) - set(got)))
    for s in servers:
        s.close()
    print(json.dumps({"db": "postgres" if a.db.startswith("postgres") else "sqlite",
                      "writers": a.writers, "servers": a.servers, "sends": total,
                      "seconds": round(elapsed, 3), "sends_per_s": round(total / elapsed, 1),
                      "lost": lost, "duplicated": dup, "out_of_order_conversations": disorder,
                      "failures": failures[:3]}))
    return 0 if not (lost or dup or disorder or failures) else 1


if __name__ == "__main__":
    sys.exit(main())
