#!/usr/bin/env python3
"""Hot frames and allocation sites of a JFR recording:  python3 jfr_top.py /tmp/gh.jfr [N]

Reads the recording with `jfr print --json` (JDK's jfr tool on PATH or under JAVA_HOME) and prints markdown:
  * CPU: top N self frames of jdk.ExecutionSample (the method on top of the stack), top N self frames with
    the line number, top N Gatehouse methods anywhere on the stack (inclusive), self time by package group;
  * allocation: jdk.ObjectAllocationSample weight (bytes) by class, by allocating frame (first frame outside
    java.*/jdk.* internals) and by Gatehouse method anywhere on the stack;
  * GC: count and total pause of jdk.GarbageCollection; average JVM CPU from jdk.CPULoad.
ExecutionSample only sees threads running Java code: time in system calls (socket reads and writes, epoll) is
not in these samples; it shows as "sys" CPU in the load benchmark.
"""
import json
import os
import re
import subprocess
import sys
from collections import Counter

OURS = "io.github.gatehouse."
INTERNAL = ("java.", "jdk.", "sun.")


def jfr_events(path, events, depth=64):
    tool = os.path.join(os.environ["JAVA_HOME"], "bin", "jfr") if os.environ.get("JAVA_HOME") else "jfr"
    out = subprocess.run([tool, "print", "--json", "--stack-depth", str(depth), "--events", events, path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["recording"]["events"]


def frame_name(f, line=False):
    m = f.get("method") or {}
    cls = ((m.get("type") or {}).get("name") or "?").replace("/", ".")
    name = cls + "." + (m.get("name") or "?")
    if line and f.get("lineNumber", -1) not in (None, -1):
        name += ":" + str(f["lineNumber"])
    return name


def frames(ev):
    st = ev["values"].get("stackTrace") or {}
    return st.get("frames") or []


def is_recorder(ev):
    """Samples of the flight recorder's own work (JFR.start and its threads) are left out."""
    return any(frame_name(f).startswith("jdk.jfr.") for f in frames(ev))


def thread_group(ev):
    t = ev["values"].get("sampledThread") or ev["values"].get("eventThread") or {}
    return re.sub(r"\d+", "N", t.get("javaName") or t.get("osName") or "?")


def group(name):
    if name.startswith(OURS):
        return "io.github.gatehouse"
    for prefix in ("org.eclipse.jetty.", "java.util.concurrent.", "java.lang.invoke.", "java.util.", "java.lang.",
                   "java.nio.", "sun.nio.", "java.net.", "java.time.", "jdk.internal.", "org.slf4j."):
        if name.startswith(prefix):
            return prefix.rstrip(".") if not prefix.startswith("org.eclipse.jetty.") else \
                "org.eclipse.jetty." + name[len("org.eclipse.jetty."):].split(".")[0]
    return name.rsplit(".", 2)[0]


def duration_s(v):
    if isinstance(v, (int, float)):
        return v / 1e9
    m = re.fullmatch(r"PT(?:(\d+)M)?([\d.]+)S", str(v))
    return (int(m.group(1) or 0) * 60 + float(m.group(2))) if m else 0.0


def table(title, counter, total, n, unit="samples", counts=None):
    """counts: sample counts for byte-weighted tables (ranked by count: a few heavy samples skew the weights)."""
    print("\n### %s\n" % title)
    if counts is None:
        print("| # | frame | %s | %% |" % unit)
        print("|---|---|---|---|")
        for i, (k, v) in enumerate(counter.most_common(n), 1):
            print("| %d | `%s` | %s | %.1f |" % (i, k, "{:,}".format(int(v)), 100.0 * v / total if total else 0))
        return
    nsamples = sum(counts.values())
    print("| # | frame | samples | %% of samples | %s (sampled weight) | %% of weight |" % unit)
    print("|---|---|---|---|---|---|")
    for i, (k, c) in enumerate(counts.most_common(n), 1):
        v = counter[k]
        print("| %d | `%s` | %d | %.1f | %s | %.1f |" % (i, k, c, 100.0 * c / nsamples if nsamples else 0,
              "{:,}".format(int(v)), 100.0 * v / total if total else 0))


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    print("# JFR hot frames: %s\n" % path)

    samples = [ev for ev in jfr_events(path, "jdk.ExecutionSample") if not is_recorder(ev)]
    total = len(samples)
    self_frames, self_lines, ours_incl, groups, ours_self = Counter(), Counter(), Counter(), Counter(), Counter()
    threads = Counter()
    for ev in samples:
        threads[thread_group(ev)] += 1
        fr = frames(ev)
        if not fr:
            continue
        top = frame_name(fr[0])
        self_frames[top] += 1
        self_lines[frame_name(fr[0], line=True)] += 1
        groups[group(top)] += 1
        seen = set()
        first_ours = None
        for f in fr:
            name = frame_name(f)
            if name.startswith(OURS):
                if first_ours is None:
                    first_ours = name
                if name not in seen:
                    ours_incl[name] += 1
                    seen.add(name)
        if first_ours:
            ours_self[first_ours] += 1
    print("jdk.ExecutionSample: %d samples (Java code only; system calls are not sampled)" % total)
    table("CPU: top self frames", self_frames, total, n)
    table("CPU: top self frames with line", self_lines, total, n)
    table("CPU: self time by package", groups, total, 12)
    table("CPU: samples by thread (digits replaced by N)", threads, total, 8)
    table("CPU: Gatehouse methods on the stack (inclusive)", ours_incl, total, n)
    table("CPU: nearest Gatehouse frame of each sample (who called into Jetty/JDK)", ours_self, total, n)

    allocs = [ev for ev in jfr_events(path, "jdk.ObjectAllocationSample") if not is_recorder(ev)]
    weight_total = sum(ev["values"].get("weight", 0) for ev in allocs)
    by_class, by_site, by_ours, by_site_ours = Counter(), Counter(), Counter(), Counter()
    n_class, n_site, n_ours, n_site_ours = Counter(), Counter(), Counter(), Counter()
    for ev in allocs:
        v = ev["values"]
        w = v.get("weight", 0)
        cls = ((v.get("objectClass") or {}).get("name") or "?").replace("/", ".")
        by_class[cls] += w
        n_class[cls] += 1
        fr = frames(ev)
        site = next((frame_name(f, line=True) for f in fr if not frame_name(f).startswith(INTERNAL)),
                    frame_name(fr[0], line=True) if fr else "?")
        by_site[site] += w
        n_site[site] += 1
        seen = set()
        first = None
        for f in fr:
            name = frame_name(f)
            if name.startswith(OURS):
                if first is None:
                    first = frame_name(f, line=True)
                if name not in seen:
                    by_ours[name] += w
                    n_ours[name] += 1
                    seen.add(name)
        first = first or "(no Gatehouse frame: Jetty/JDK on their own)"
        by_site_ours[first] += w
        n_site_ours[first] += 1
    print("\njdk.ObjectAllocationSample: %d samples, %.1f MB sampled weight" % (len(allocs), weight_total / 1e6))
    table("Allocation: by class", by_class, weight_total, n, "bytes", n_class)
    table("Allocation: by allocating frame (first non-JDK frame)", by_site, weight_total, n, "bytes", n_site)
    table("Allocation: by nearest Gatehouse frame", by_site_ours, weight_total, n, "bytes", n_site_ours)
    table("Allocation: Gatehouse methods on the stack (inclusive)", by_ours, weight_total, n, "bytes", n_ours)

    misc = jfr_events(path, "jdk.GarbageCollection,jdk.CPULoad", depth=1)
    gcs = [e for e in misc if e["type"] == "jdk.GarbageCollection"]
    loads = [e["values"] for e in misc if e["type"] == "jdk.CPULoad"]
    pause = sum(duration_s(e["values"].get("sumOfPauses", 0)) for e in gcs)
    print("\n### GC and CPU\n")
    print("- GCs: %d, total pause %.3f s (%s)" % (len(gcs), pause,
          ", ".join("%s x%d" % kv for kv in Counter(e["values"].get("name", "?") for e in gcs).items())))
    if loads:
        avg = lambda k: sum(float(x.get(k, 0)) for x in loads) / len(loads)
        print("- JVM CPU (of the machine's %d cores): user %.0f%%, system %.0f%%; machine total %.0f%%" % (
            os.cpu_count(), 100 * avg("jvmUser"), 100 * avg("jvmSystem"), 100 * avg("machineTotal")))


if __name__ == "__main__":
    main()
