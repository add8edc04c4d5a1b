#!/usr/bin/env python3
"""Conformance of the ips plugin with suricata-verify.

For every case directory (one holding a test.yaml) under a suricata-verify
tests directory, this script picks the pcap and the rules, decides whether
the case is applicable to mimamori (its rules must load completely, it must
not need a custom Suricata command line, and it must have alert checks on
fields we emit), runs `mimamori replay --module ips` over it and compares
the alerts per signature id and count with the alert checks of test.yaml.
It prints a table and the pass rate over the applicable cases.

With --pass-list FILE it also asserts that every case named in FILE (one
per line, '#' comments) still passes, and exits 1 when one does not, so the
list of passing cases cannot silently shrink. Exit 77 when the tests
directory is absent (ctest reports the test as skipped).

Only the Python standard library is used; test.yaml is read with the small
YAML-subset parser below (block mappings and lists, scalars, quoted
strings, literal blocks, comments), which is all suricata-verify uses.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The Suricata version whose expected output we aim for: filters and cases
# with requires min-version/lt-version are judged against it.
EMULATED_VERSION = (9, 0, 0)

# Builtin detections of the plugin (scans, reputation), not rule alerts.
BUILTIN_SIDS = set(range(9000001, 9000011))


# ---- a YAML subset -------------------------------------------------------

class YamlError(Exception):
    pass


def _strip_comment(line):
    """Remove a '#' comment that is not inside quotes."""
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


def _scalar(text):
    text = text.strip()
    if text == "":
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        if text[0] == "'":
            return inner.replace("''", "'")
        return bytes(inner, "utf-8").decode("unicode_escape")
    if text in ("true", "yes", "True", "on"):
        return True
    if text in ("false", "no", "False", "off"):
        return False
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?\d+\.\d+", text):
        return float(text) if text.count(".") == 1 else text
    if text.startswith("[") and text.endswith("]"):
        body = text[1:-1].strip()
        return [_scalar(x) for x in body.split(",")] if body else []
    return text


def _split_key(text):
    """'key: value' -> (key, value) or None when text is not a mapping."""
    m = re.match(r"""^("[^"]*"|'[^']*'|[^'"\s][^:]*?)\s*:(\s+(.*))?$""", text)
    if not m:
        return None
    key = m.group(1)
    if key[0] in "'\"":
        key = key[1:-1]
    return key, (m.group(3) or "")


def parse_yaml(text):
    """Parse the block-style YAML subset suricata-verify uses."""
    raw = text.expandtabs(8).split("\n")
    lines = []  # (indent, content, raw index)
    for idx, line in enumerate(raw):
        s = _strip_comment(line)
        if s.strip() == "" or s.strip() in ("---", "%YAML 1.1"):
            continue
        if s.startswith("%"):
            continue
        lines.append((len(s) - len(s.lstrip(" ")), s.strip(), idx))
    pos = [0]

    def block_scalar(indent, idx):
        # Literal block ('|'): the raw lines more indented than the key.
        out, j = [], idx + 1
        block_indent = None
        while j < len(raw):
            r = raw[j].expandtabs(8)
            if r.strip() == "":
                out.append("")
                j += 1
                continue
            ind = len(r) - len(r.lstrip(" "))
            if ind <= indent:
                break
            if block_indent is None:
                block_indent = ind
            out.append(r[block_indent:])
            j += 1
        while pos[0] < len(lines) and lines[pos[0]][2] < j:
            pos[0] += 1
        return "\n".join(out).rstrip("\n") + "\n"

    def value_after(text, indent, idx):
        if text in ("|", "|-", ">", ">-"):
            return block_scalar(indent, idx)
        if text == "":
            if pos[0] < len(lines) and (lines[pos[0]][0] > indent or
                                        (lines[pos[0]][0] == indent and
                                         lines[pos[0]][1].startswith("- "))):
                return node(lines[pos[0]][0])
            return None
        # A plain scalar may continue on more indented lines (folded).
        while (pos[0] < len(lines) and lines[pos[0]][0] > indent and
               text[0] not in "'\"" and _split_key(lines[pos[0]][1]) is None):
            text += " " + lines[pos[0]][1]
            pos[0] += 1
        return _scalar(text)

    def node(indent):
        if pos[0] >= len(lines):
            return None
        first = lines[pos[0]][1]
        if first == "-" or first.startswith("- "):
            return seq(indent)
        if _split_key(first) is None:
            pos[0] += 1
            return _scalar(first)
        return mapping(indent)

    def mapping(indent, first_inline=None):
        out = {}
        while pos[0] < len(lines):
            ind, s, idx = lines[pos[0]]
            if first_inline is not None:
                ind, s = first_inline
                first_inline = None
            elif ind != indent:
                if ind > indent:
                    raise YamlError("unexpected indent at line %d" % (idx + 1))
                break
            if s.startswith("- "):
                break
            kv = _split_key(s)
            if kv is None:
                raise YamlError("expected 'key: value' at line %d" % (idx + 1))
            pos[0] += 1
            out[kv[0]] = value_after(kv[1], indent, idx)
        return out

    def seq(indent):
        out = []
        while pos[0] < len(lines):
            ind, s, idx = lines[pos[0]]
            if ind != indent or not (s == "-" or s.startswith("- ")):
                break
            rest = s[1:].strip()
            if rest == "":
                pos[0] += 1
                out.append(node(lines[pos[0]][0]) if pos[0] < len(lines) else None)
                continue
            kv = _split_key(rest)
            if kv is None or rest[0] in "'\"[":
                pos[0] += 1
                out.append(_scalar(rest))
                continue
            # "- key: value" opens a mapping whose keys sit at the column
            # of "key".
            inner = indent + (len(s) - len(rest))
            lines[pos[0]] = (inner, rest, idx)
            out.append(mapping(inner))
        return out

    if not lines:
        return {}
    result = node(lines[0][0])
    if pos[0] != len(lines):
        raise YamlError("trailing content at line %d" % (lines[pos[0]][2] + 1))
    return result


# ---- versions and requirements -------------------------------------------

def _version(v):
    parts = [int(x) for x in re.findall(r"\d+", str(v))][:3]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def requires_ok(req):
    """None when the requirements hold for us, else the reason."""
    if not isinstance(req, dict):
        return None
    for key, val in req.items():
        if key == "min-version" and EMULATED_VERSION < _version(val):
            return "needs Suricata >= %s" % val
        if key == "lt-version" and EMULATED_VERSION >= _version(val):
            return "only for Suricata < %s" % val
        if key == "gt-version" and EMULATED_VERSION <= _version(val):
            return "needs Suricata > %s" % val
        if key == "version":
            want = _version(val)
            n = len(re.findall(r"\d+", str(val)))
            if EMULATED_VERSION[:n] != want[:n]:
                return "only for Suricata %s" % val
        if key in ("features", "script", "lambda", "files"):
            return "needs Suricata build feature (%s)" % key
    return None


# ---- expected alerts -------------------------------------------------------

def _ours(alert, key):
    """The value our alert event has for an EVE alert field, or KeyError."""
    if key == "event_type":
        return "alert"
    if key == "alert.signature_id":
        return alert["rule"]["id"]
    if key == "alert.gid":
        return alert.get("attrs", {}).get("gid", 1)
    if key == "alert.rev":
        return alert["rule"].get("rev", 0)
    if key == "alert.signature":
        return alert["rule"].get("name", "")
    if key == "alert.action":
        return "blocked" if alert.get("action") == "blocked" else "allowed"
    if key == "src_ip":
        return alert.get("src", {}).get("ip")
    if key == "dest_ip":
        return alert.get("dst", {}).get("ip")
    if key == "src_port":
        return alert.get("src", {}).get("port")
    if key == "dest_port":
        return alert.get("dst", {}).get("port")
    if key == "proto":
        return str(alert.get("proto", "")).upper()
    if key == "app_proto":
        return alert.get("app")
    if key == "tls.sni":
        return alert.get("attrs", {}).get("sni")
    if key == "http.hostname":
        return alert.get("attrs", {}).get("http_host")
    if key == "http.url":
        return alert.get("attrs", {}).get("http_uri")
    raise KeyError(key)


# Keys that only identify which packet/transaction the alert came from; we
# compare without them (the reason column says so).
RELAXED_KEYS = {"pcap_cnt", "tx_id", "flow_id"}


def alert_filters(checks):
    """Split the checks into alert filters we can compare and notes."""
    filters, notes, unsupported = [], [], set()
    for chk in checks or []:
        if not isinstance(chk, dict) or "filter" not in chk:
            continue  # shell or other check types
        f = chk["filter"] or {}
        match = f.get("match") or {}
        if f.get("filename") not in (None, "eve.json"):
            continue
        is_alert = match.get("event_type") == "alert" or (
            "event_type" not in match and any(str(k).startswith("alert.") for k in match))
        if not is_alert:
            continue
        why = requires_ok(f.get("requires"))
        if why:
            notes.append("filter skipped: " + why)
            continue
        want = {}
        relaxed = False
        for k, v in match.items():
            if k in RELAXED_KEYS:
                notes.append("ignores " + k)
                relaxed = True
                continue
            try:
                _ours({"rule": {"id": 0}}, k)
            except KeyError:
                unsupported.add(k)
                relaxed = True
                continue
            want[k] = v
        filters.append({"count": f.get("count"), "match": want, "relaxed": relaxed})
    # Filters that differ only in the fields we ignore (e.g. one per
    # pcap_cnt) become one filter expecting the sum of their counts.
    merged = []
    for f in filters:
        same = [m for m in merged if m["match"] == f["match"] and (m["relaxed"] or f["relaxed"])]
        if same and isinstance(f["count"], int) and isinstance(same[0]["count"], int):
            same[0]["count"] += f["count"]
            same[0]["relaxed"] = True
        else:
            merged.append(dict(f))
    return merged, sorted(set(notes)), sorted(unsupported)


def count_matching(alerts, match):
    n = 0
    for a in alerts:
        ok = True
        for k, v in match.items():
            got = _ours(a, k)
            if k == "proto" and isinstance(v, str):
                v = v.upper()
            if got != v and str(got) != str(v):
                ok = False
                break
        n += ok
    return n


# ---- one case ---------------------------------------------------------------

def find_cases(root):
    cases = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        if "test.yaml" in files:
            cases.append(d)
    return sorted(cases)


def pick_file(case, spec, ext, preferred):
    if spec:
        p = os.path.normpath(os.path.join(case, spec))
        return p if os.path.exists(p) else None
    if preferred and os.path.exists(os.path.join(case, preferred)):
        return os.path.join(case, preferred)
    found = sorted(f for f in os.listdir(case) if f.endswith(ext))
    return os.path.join(case, found[0]) if len(found) == 1 else None


def parse_args_list(args, case):
    """Suricata arguments -> (threshold file, simulate ips, midstream, reason)."""
    threshold, ips, midstream, unknown = None, False, False, []
    toks = []
    for a in args or []:
        toks += str(a).split()
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "--set" and i + 1 < len(toks):
            key, _, val = toks[i + 1].partition("=")
            if key == "threshold-file":
                threshold = os.path.normpath(val.replace("${TEST_DIR}", case))
            elif key == "stream.midstream":
                midstream = val in ("true", "yes", "1")
            elif not key.startswith("stream."):
                unknown.append("--set " + key)
            i += 2
            continue
        if t == "-k" and i + 1 < len(toks):
            i += 2  # checksum validation: we do not validate checksums
            continue
        if t == "--simulate-ips":
            ips = True
        else:
            unknown.append(t)
        i += 1
    return threshold, ips, midstream, ("needs " + ", ".join(unknown)) if unknown else None


def case_vars(case):
    """Address and port groups of the case's suricata.yaml, as the ips
    'vars' value ("NAME=VALUE; ..."), or ''."""
    path = os.path.join(case, "suricata.yaml")
    try:
        with open(path, encoding="utf-8") as f:
            y = parse_yaml(f.read())
    except (OSError, UnicodeDecodeError, YamlError, IndexError, KeyError):
        return ""
    groups = (y or {}).get("vars") if isinstance(y, dict) else None
    out = []
    for kind in ("address-groups", "port-groups"):
        g = groups.get(kind) if isinstance(groups, dict) else None
        if isinstance(g, dict):
            for k, v in g.items():
                if v is not None:
                    out.append("%s=%s" % (k, v))
    return "; ".join(out)


SUMMARY_RE = re.compile(r"rules: (\d+) loaded, (\d+) skipped(?: \((.*)\))?")


def run_case(case, root, opt, confdir):
    name = os.path.relpath(case, root)
    row = {"case": name, "applicable": False, "expected": "", "got": "", "result": "skip",
           "reason": ""}
    try:
        with open(os.path.join(case, "test.yaml"), encoding="utf-8") as f:
            y = parse_yaml(f.read()) or {}
    except (OSError, UnicodeDecodeError, YamlError) as e:
        row["reason"] = "test.yaml unreadable: %s" % e
        return row
    why = requires_ok(y.get("requires"))
    if why:
        row["reason"] = why
        return row
    if y.get("command"):
        row["reason"] = "custom Suricata command line (%s)" % (
            "reputation files" if "reputation" in y["command"] else "options")
        return row
    filters, notes, unsupported = alert_filters(y.get("checks"))
    if not filters:
        row["reason"] = "no alert checks (protocol logging test)"
        return row
    if unsupported:
        notes.append("compares without " + ",".join(unsupported))
    pcap = pick_file(case, y.get("pcap") if isinstance(y.get("pcap"), str) else None,
                     ".pcap", "input.pcap")
    if pcap is None:
        row["reason"] = "no pcap"
        return row
    rules = pick_file(case, y.get("rules"), ".rules", "test.rules")
    if rules is None:
        row["reason"] = "no rules file"
        return row
    threshold, ips, midstream, why = parse_args_list(y.get("args"), case)
    if why:
        row["reason"] = why
        return row
    cmd = [opt.mimamori, "-c", confdir]
    variables = case_vars(case)
    if opt.plugin_dir:
        cmd += ["--plugin-dir", opt.plugin_dir]
    cmd += ["replay", "--pcap", pcap, "--rules", rules, "--module", "ips"]
    if threshold:
        cmd += ["--threshold", threshold]
    if ips:
        cmd += ["--set", "ips.mode=inline", "--set", "ips.queue_num=-1"]
    if midstream:
        cmd += ["--set", "ips.midstream=true"]
    if variables:
        cmd += ["--set", "ips.vars=" + variables]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        row.update(applicable=True, result="FAIL", reason="replay timed out")
        return row
    m = SUMMARY_RE.search(p.stderr)
    if "runtime error:" in p.stderr or "Sanitizer" in p.stderr:
        row.update(applicable=True, result="FAIL",
                   reason="sanitizer report: " + p.stderr.strip()[-200:])
        return row
    if p.returncode != 0 or m is None:
        row.update(applicable=True, result="FAIL",
                   reason="replay failed (exit %d): %s" % (p.returncode,
                                                         p.stderr.strip()[-200:]))
        return row
    if int(m.group(2)) > 0:
        row["reason"] = "unsupported rule keywords:" + (m.group(3) or "").replace(" ", "")
        return row
    if int(m.group(1)) == 0:
        row["reason"] = "no rules loaded"
        return row
    alerts = []
    for line in p.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if (ev.get("kind") == "alert" and ev.get("plugin", {}).get("name") == "ips" and
                ev.get("rule", {}).get("ns") == "ips" and
                ev["rule"].get("id") not in BUILTIN_SIDS):
            alerts.append(ev)
    row["applicable"] = True
    exp, got, bad = [], [], []
    for f in filters:
        n = count_matching(alerts, f["match"])
        sid = f["match"].get("alert.signature_id", "*")
        extra = "".join("," + k.split(".")[-1] + "=" + str(v) for k, v in f["match"].items()
                        if k not in ("event_type", "alert.signature_id"))
        exp.append("%s%s:%s" % (sid, extra, f["count"]))
        got.append("%s%s:%d" % (sid, extra, n))
        if f["count"] is not None and n != f["count"]:
            bad.append(str(sid))
    row["expected"] = " ".join(exp)
    row["got"] = " ".join(got)
    row["result"] = "FAIL" if bad else "pass"
    row["reason"] = ("; ".join(notes)) if notes else ""
    if bad:
        row["reason"] = ("count differs for sid " + ",".join(bad) + "; " + row["reason"]).rstrip(
            "; ")
    return row


def default_tests_dir():
    shared = os.environ.get("MM_SHARED_DATA")
    if not shared:
        src = os.environ.get("MM_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..",
                                                              "..", "..")
        shared = os.path.join(src, "..", "shared", "data")
    return os.path.join(shared, "suricata-verify", "tests")


def make_confdir(opt):
    d = tempfile.mkdtemp(prefix="mm-sv-")
    src = opt.source_dir or os.path.normpath(os.path.join(os.path.dirname(__file__), "..",
                                                           "..", ".."))
    sensor = os.path.join(src, "conf.d", "00-sensor.conf")
    if os.path.exists(sensor):
        shutil.copy(sensor, d)
    # Only the ips module, with Suricata's default variables, and without
    # the builtin scan and reputation detections (not part of a rule test).
    with open(os.path.join(d, "20-ips.conf"), "w", encoding="utf-8") as f:
        f.write('modules = { ips = { enabled = true;\n'
                '  home_net = "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]";\n'
                '  external_net = "!$HOME_NET";\n'
                '  reputation = [ ];\n'
                '  scan_detection = false;\n'
                '}; };\n')
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", default=None, help="suricata-verify tests directory")
    ap.add_argument("--mimamori", default=os.environ.get("MIMAMORI"))
    ap.add_argument("--plugin-dir", default=os.environ.get("MM_PLUGIN_DIR"))
    ap.add_argument("--source-dir", default=os.environ.get("MM_SOURCE_DIR"))
    ap.add_argument("--pass-list", help="assert that every case listed here passes")
    ap.add_argument("--write-pass-list", help="write the passing cases to this file")
    ap.add_argument("cases", nargs="*", help="only these cases (relative names)")
    opt = ap.parse_args()
    root = opt.tests or default_tests_dir()
    if not os.path.isdir(root):
        print("suricata-verify tests not found at %s: skipped" % root)
        return 77
    if not opt.mimamori or not os.access(opt.mimamori, os.X_OK):
        print("the mimamori binary is needed (--mimamori or $MIMAMORI)")
        return 77
    confdir = make_confdir(opt)
    rows = []
    try:
        for case in find_cases(root):
            name = os.path.relpath(case, root)
            if opt.cases and name not in opt.cases:
                continue
            rows.append(run_case(case, root, opt, confdir))
    finally:
        shutil.rmtree(confdir, ignore_errors=True)

    w = max([len(r["case"]) for r in rows] + [4])
    print("%-*s  %-4s  %-6s  %-28s  %-28s  %s" % (w, "case", "appl", "result", "expected",
                                                   "got", "reason"))
    for r in rows:
        print("%-*s  %-4s  %-6s  %-28s  %-28s  %s" % (w, r["case"], "yes" if r["applicable"]
                                                      else "no", r["result"], r["expected"],
                                                      r["got"], r["reason"]))
    appl = [r for r in rows if r["applicable"]]
    passed = [r for r in appl if r["result"] == "pass"]
    rate = 100.0 * len(passed) / len(appl) if appl else 0.0
    print("\n%d cases, %d applicable, %d pass, %d fail: pass rate %.1f%% of applicable cases" %
          (len(rows), len(appl), len(passed), len(appl) - len(passed), rate))
    if opt.write_pass_list:
        with open(opt.write_pass_list, "w", encoding="utf-8") as f:
            f.write("# suricata-verify cases the ips plugin passes "
                    "(tests/plugins/ips/suricata_verify.py)\n")
            for r in passed:
                f.write(r["case"] + "\n")
    if opt.pass_list:
        want = []
        with open(opt.pass_list, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    want.append(line)
        ok = {r["case"] for r in passed}
        seen = {r["case"] for r in rows}
        lost = [c for c in want if c not in ok and (not opt.cases or c in opt.cases)]
        if lost:
            for c in lost:
                print("REGRESSION: %s %s" % (c, "no longer passes" if c in seen
                                              else "is missing from the tests directory"))
            return 1
        print("all %d listed cases pass" % len(want))
    return 0


if __name__ == "__main__":
    sys.exit(main())
