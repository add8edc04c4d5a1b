#!/usr/bin/env python3
"""Side-by-side comparison of the legacy plugin with p0f (Debian package p0f).

For every capture, runs `p0f -r FILE -o LOG` and `$MIMAMORI replay --pcap FILE
--module legacy` (UTM mode, same p0f.fp), then prints per host the label each
tool gives and whether it calls the host legacy, the agreement rate over all
hosts and the throughput ratio (packets per second, ours / p0f, each measured
as the best of --repeat runs in this same invocation).

  bench/legacy/compare_p0f.py [--mimamori BUILD/mimamori] [--p0f-fp FILE]
                              [--repeat N] [FILE...]

Without FILE, the legacy captures in tests/data are used. Needs p0f in PATH.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(SRC, "tests", "data")
DEFAULT_FILES = [
    "legacy-os/sv_decode-dce_input.pcap",
    "legacy-os/sv_http-protocol-inspect-v2_http.pcap",
    "legacy-os/sv_http-raw-header_input.pcap",
    "legacy-os/sv_output-eve-smb-01_input.pcap",
    "legacy-os/sv_smb2-07_20171220_smb_psexec_add_user.pcap",
    "legacy-os/zeek_dce-rpc_mapi.pcap",
    "legacy-os/zeek_http_pipelined-requests.pcap",
    "legacy-os/zeek_http_version-mismatch.pcap",
    "legacy-os/zeek_krb_smb_gssapi.pcap",
    "legacy-os/zeek_smb_smb1_transaction_request.pcap",
    "zeek-traces/smb_cifs_negotiate_lanman.pcap",
    "zeek-traces/smb_raw_ntlm_in_smb.pcap",
    "zeek-traces/smb_smb1.pcap",
    "chrissanders-packets/passiveosfingerprinting.pcapng",
]
# p0f labels that name an OS past its end of life (p0f gives no verdict).
P0F_LEGACY = re.compile(r"Windows (XP|2000|NT kernel 5\.x|7 or 8|NT kernel 6\.x)")


def run_p0f(path):
    """Return ({ip: label}, packets) from p0f's log for one capture."""
    with tempfile.NamedTemporaryFile(suffix=".log", delete=False) as t:
        log = t.name
    try:
        out = subprocess.run(["p0f", "-r", path, "-o", log], capture_output=True,
                             text=True, check=False).stdout
        labels = {}
        for line in open(log, encoding="utf-8", errors="replace"):
            f = dict(kv.split("=", 1) for kv in line.split("] ", 1)[1].strip().split("|")
                     if "=" in kv)
            if f.get("mod") not in ("syn", "syn+ack") or f.get("os", "???") == "???":
                continue
            side = f["cli"] if f["subj"] == "cli" else f["srv"]
            labels[side.rsplit("/", 1)[0]] = f["os"]
        m = re.search(r"Processed (\d+) packets", out)
        return labels, int(m.group(1)) if m else 0
    finally:
        os.unlink(log)


def run_ours(mimamori, confdir, path):
    """Return ({ip: (label, legacy)}) from the replay's JSON lines."""
    out = subprocess.run([mimamori, "-c", confdir, "replay", "--pcap", path, "--module",
                          "legacy"], capture_output=True, text=True, check=True).stdout
    hosts = {}
    for line in out.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        dev = ev.get("dev") or {}
        ip = dev.get("ip")
        if not ip or ev.get("plugin", {}).get("name") != "legacy":
            continue
        legacy = bool(ev.get("attrs", {}).get("legacy"))
        old = hosts.get(ip, ("", False))
        hosts[ip] = (dev.get("os", old[0]), old[1] or legacy)
    return hosts


def best_time(fn, repeat):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mimamori", default=os.environ.get("MIMAMORI",
                    os.path.join(SRC, "build", "mimamori")))
    ap.add_argument("--p0f-fp", default=os.path.join(DATA, "fingerprint-dbs", "p0f", "p0f.fp"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if shutil.which("p0f") is None:
        sys.exit("p0f not found: apt-get install p0f")
    files = a.files or [os.path.join(DATA, f) for f in DEFAULT_FILES]

    confdir = tempfile.mkdtemp(prefix="legacy-cmp-")
    with open(os.path.join(confdir, "00-sensor.conf"), "w") as f:
        f.write('sensor = { id = "cmp"; site = "bench"; role = "utm"; };\n'
                'host = { log_level = "error"; };\n')
    with open(os.path.join(confdir, "50-legacy.conf"), "w") as f:
        f.write('modules = { legacy = { enabled = true; mode = "utm"; p0f_fp = "%s"; }; };\n'
                % a.p0f_fp)

    rows, agree, total, packets = [], 0, 0, 0
    for path in files:
        p0f_hosts, n = run_p0f(path)
        packets += n
        ours = run_ours(a.mimamori, confdir, path)
        for ip in sorted(set(p0f_hosts) | set(ours)):
            pl = p0f_hosts.get(ip, "-")
            p_leg = bool(P0F_LEGACY.search(pl))
            ol, o_leg = ours.get(ip, ("-", False))
            total += 1
            agree += p_leg == o_leg
            rows.append((os.path.basename(path), ip, pl, "legacy" if p_leg else "-", ol,
                         "LEGACY" if o_leg else "-", "" if p_leg == o_leg else "DIFFERS"))

    w = [max(len(str(r[i])) for r in rows + [("capture", "host", "p0f", "", "mimamori", "", "")])
         for i in range(7)]
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(
        ("capture", "host", "p0f label", "p0f", "mimamori label", "ours", ""))))
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    print("\nagreement on legacy/not legacy: %d of %d hosts (%.0f%%)"
          % (agree, total, 100.0 * agree / max(total, 1)))

    t_p0f = best_time(lambda: [run_p0f(p) for p in files], a.repeat)
    t_ours = best_time(lambda: [run_ours(a.mimamori, confdir, p) for p in files], a.repeat)
    print("throughput over %d packets (best of %d): p0f %.0f pkt/s, mimamori replay %.0f pkt/s,"
          " ratio ours/p0f = %.2f" % (packets, a.repeat, packets / t_p0f, packets / t_ours,
                                      t_p0f / t_ours))
    shutil.rmtree(confdir)


if __name__ == "__main__":
    main()
