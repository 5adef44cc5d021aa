#!/usr/bin/env python3
"""Summarise a run directory written by run.sh:  python3 report.py /tmp/bench/results/<stamp> [--all]

Adapted from shared/bench/report.py. For each peer x mode x test the rep with the highest requests/sec is kept
("best of N"). Ratios compare rps with the reference peers (Jetty ProxyHandler, nginx, LittleProxy, Squid) in the
same mode and test of the same run directory; "-" where that peer has no such mode or was not run.
"""
import csv
import re
import sys
from collections import OrderedDict

REFS = [("jetty-proxy", "Jetty"), ("nginx", "nginx"), ("littleproxy", "LittleProxy"), ("squid", "Squid")]
TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * TIME_UNITS[m.group(2)] if m else None


def parse_wrk(path):
    r = {"rps": None, "p50": None, "p99": None, "p999": None, "requests": 0, "bytes": 0, "non2xx": 0, "sockerr": 0}
    try:
        text = open(path).read()
    except OSError:
        return r
    b = re.search(r"^BENCH (.*)$", text, re.M)   # exact counters from lua/bench.lua done()
    if b:
        kv = dict(x.split("=") for x in b.group(1).split())
        n, dur = int(kv["requests"]), int(kv["duration_us"])
        r.update(rps=n / (dur / 1e6) if dur else None, requests=n, bytes=int(kv["bytes"]),
                 p50=int(kv["p50_us"]) / 1000, p99=int(kv["p99_us"]) / 1000, p999=int(kv["p999_us"]) / 1000,
                 non2xx=int(kv["status_err"]),
                 sockerr=sum(int(kv[k]) for k in ("connect_err", "read_err", "write_err", "timeout_err")))
        return r
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, text, re.M)
        if m:
            r[key] = ms(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    return r


def fmt(v, f="{:.0f}"):
    return "-" if v is None else f.format(v)


def cpu_us(row):
    n = row["requests"] or 0
    return float(row["cpu_s"]) * 1e6 / n if n else None


def main():
    out = sys.argv[1]
    rows = list(csv.DictReader(open(out + "/runs.tsv"), delimiter="\t"))
    groups = OrderedDict()
    for row in rows:
        row.update(parse_wrk(row["raw"]))
        groups.setdefault((row["peer"], row["mode"], row["test"]), []).append(row)
    best = OrderedDict((k, max(v, key=lambda x: x["rps"] or 0)) for k, v in groups.items())
    direct = {test: b["rps"] for (peer, _, test), b in best.items() if peer == "direct"}

    def ref(peer, mode, test):
        return best.get((peer, mode, test))

    def ratio(a, b):
        return a / b if a and b else None

    print("# Gatehouse load benchmark\n")
    print("```\n" + open(out + "/meta.txt").read().strip() + "\n```\n")
    print("Best of the reps by rps (`reps`: every rep's rps). p50/p99 from wrk's histogram (no coordinated-omission")
    print("correction). CPU us/req = user+sys CPU of the proxy's process tree during the measured run / requests.")
    print("RSS = peak summed VmRSS of the process tree. `x Jetty` etc. = this row's rps / that peer's rps in the same")
    print("mode and test (Jetty = Jetty 12 ProxyHandler). `other CPU s` = CPU used by unrelated processes during the")
    print("run (2 cores = 20 CPU s per 10 s run): high values mean the machine was busy and the row is pessimistic.\n")
    hdr = ["peer", "mode", "test", "rps", "reps", "x direct", "p50 ms", "p99 ms", "CPU us/req", "RSS MB"] + \
          ["x " + label for _, label in REFS] + ["errors", "other CPU s"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for (peer, mode, test), b in best.items():
        cells = [peer, mode, test, fmt(b["rps"]), "/".join(fmt(r["rps"]) for r in groups[(peer, mode, test)]),
                 fmt(ratio(b["rps"], direct.get(test)), "{:.2f}"),
                 fmt(b["p50"], "{:.2f}"), fmt(b["p99"], "{:.2f}"), fmt(cpu_us(b)), b["rss_mb"]]
        for rp, _ in REFS:
            r = ref(rp, mode, test)
            cells.append("-" if r is None or rp == peer else fmt(ratio(b["rps"], r["rps"]), "{:.2f}"))
        errs = b["non2xx"] + b["sockerr"]
        cells += [str(errs), b.get("others_cpu_s", "-")]
        print("| " + " | ".join(cells) + " |")

    gh = [(k, b) for k, b in best.items() if k[0] == "gatehouse"]
    if gh:
        print("\n## Gatehouse against each reference peer\n")
        print("rps ratio > 1: Gatehouse serves more requests/s; CPU ratio > 1: Gatehouse spends more CPU per request.\n")
        print("| mode | test | peer | Gatehouse rps | peer rps | rps ratio | Gatehouse CPU us/req | peer CPU us/req | CPU ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (peer, mode, test), b in gh:
            for rp, label in REFS:
                r = ref(rp, mode, test)
                if r is None:
                    continue
                print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    mode, test, label, fmt(b["rps"]), fmt(r["rps"]), fmt(ratio(b["rps"], r["rps"]), "{:.2f}"),
                    fmt(cpu_us(b)), fmt(cpu_us(r)), fmt(ratio(cpu_us(b), cpu_us(r)), "{:.2f}")))

    if "--all" in sys.argv:
        print("\n## every rep\n")
        print("| rep | peer | mode | test | rps | p50 | p99 | p99.9 | CPU s | CPU us/req | RSS MB | origin/req | other CPU s | non2xx | sockerr |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            n = row["requests"] or 0
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                row["rep"], row["peer"], row["mode"], row["test"], fmt(row["rps"]), fmt(row["p50"], "{:.2f}"),
                fmt(row["p99"], "{:.2f}"), fmt(row["p999"], "{:.2f}"), row["cpu_s"], fmt(cpu_us(row)), row["rss_mb"],
                fmt(int(row["origin_reqs"]) / n if n else None, "{:.2f}"), row["others_cpu_s"], row["non2xx"],
                row["sockerr"]))


if __name__ == "__main__":
    main()
