#!/usr/bin/env python3
"""End-to-end test of the attach plugin's milter with a real Postfix.

Starts a private Postfix instance from a temporary configuration directory
(its own queue and data directories, smtpd on a free port of 127.0.0.1,
smtpd_milters pointing at mimamori), runs `mimamori run --inproc` with the
attach module's milter enabled, and sends two mails over SMTP with smtplib:
a clean one and one carrying an EICAR file in a ZIP built here. Checks that
reject mode answers the bad one with a 5xx and accepts the clean one, and
that quarantine mode puts the bad one into Postfix's hold queue. Postfix is
stopped and everything removed whatever happens. Only 127.0.0.1 is used.

Exit 77 (skipped) without root or without Postfix.
"""
import io
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from email.message import EmailMessage

SKIP = 77


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def eicar():
    # Assembled here so that no file of the tree is the test file.
    return ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS" +
            "-TEST-FILE!$H+H*").encode()


def clean_mail():
    m = EmailMessage()
    m["From"] = "alice@sender.test"
    m["To"] = "bob@mimamori.test"
    m["Subject"] = "lunch"
    m.set_content("Shall we meet at noon?\n")
    return m


def bad_mail():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.com", eicar())
    m = EmailMessage()
    m["From"] = "billing@sender.test"
    m["To"] = "bob@mimamori.test"
    m["Subject"] = "documents"
    m.set_content("See the attachment.\n")
    m.add_attachment(buf.getvalue(), maintype="application", subtype="zip",
                     filename="docs.zip")
    return m


MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root to run a Postfix instance")
        return SKIP
    postfix = shutil.which("postfix") or "/usr/sbin/postfix"
    postqueue = shutil.which("postqueue") or "/usr/sbin/postqueue"
    if not os.path.exists(postfix) or not os.path.exists(postqueue):
        print("SKIP: Postfix is not installed")
        return SKIP
    mimamori = os.environ["MIMAMORI"]
    top = tempfile.mkdtemp(prefix="mm-milter-")
    os.chmod(top, 0o755)
    pf = os.path.join(top, "postfix")
    os.makedirs(pf)
    # Postfix creates the queue's subdirectories itself but wants the
    # queue and data directories to exist (data owned by its user).
    os.makedirs(os.path.join(top, "queue"), mode=0o755)
    os.makedirs(os.path.join(top, "data"), mode=0o700)
    import pwd
    pw = pwd.getpwnam("postfix")
    os.chown(os.path.join(top, "data"), pw.pw_uid, pw.pw_gid)
    smtp_port, milter_port = free_port(), free_port()
    with open(os.path.join(pf, "main.cf"), "w") as f:
        f.write(f"""\
compatibility_level = 3.6
queue_directory = {top}/queue
data_directory = {top}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.mimamori.test
mydomain = mimamori.test
myorigin = $myhostname
mydestination = mimamori.test
local_transport = discard:
local_recipient_maps =
default_transport = discard:
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_milters = inet:127.0.0.1:{milter_port}
milter_default_action = tempfail
milter_protocol = 6
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
""")
    with open(os.path.join(pf, "master.cf"), "w") as f:
        f.write(MASTER_CF.format(port=smtp_port))

    procs = []
    failures = []
    pf_started = False

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    def start_mimamori(action):
        conf = os.path.join(top, "conf-" + action)
        os.makedirs(conf)
        with open(os.path.join(conf, "00-test.conf"), "w") as f:
            f.write(f"""\
sensor = {{ id = "milter-test"; role = "pc"; }};
host = {{ state_dir = "{top}/state"; run_dir = "{top}/run"; }};
aggregator = {{ enabled = false; }};
modules = {{ attach = {{ enabled = true; sniff = "off";
  milter_socket = "inet:{milter_port}@127.0.0.1"; milter_action = "{action}"; }}; }};
""")
        out = open(os.path.join(top, action + ".out"), "w")
        err = open(os.path.join(top, action + ".err"), "w")
        p = subprocess.Popen([mimamori, "-c", conf, "run", "--inproc", "--for", "120"],
                             stdout=out, stderr=err)
        procs.append(p)
        for _ in range(200):
            with open(os.path.join(top, action + ".err")) as e:
                if "milter listening" in e.read():
                    return p
            if p.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("mimamori did not start its milter: " +
                           open(os.path.join(top, action + ".err")).read())

    def stop_mimamori(p):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def send(msg):
        """Returns (code, text) of the final reply to the message."""
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as s:
            try:
                s.send_message(msg, from_addr=msg["From"], to_addrs=[msg["To"]])
                return 250, ""
            except smtplib.SMTPDataError as e:
                return e.smtp_code, e.smtp_error.decode(errors="replace")
            except smtplib.SMTPRecipientsRefused as e:
                code, text = list(e.recipients.values())[0]
                return code, text.decode(errors="replace")

    def held():
        out = subprocess.run([postqueue, "-c", pf, "-p"], capture_output=True,
                             text=True).stdout
        # A held message's queue id is followed by "!".
        return [l for l in out.splitlines() if l[:1].isalnum() and "!" in l.split()[0]]

    try:
        r = subprocess.run([postfix, "-c", pf, "start"], capture_output=True, text=True)
        if r.returncode != 0:
            log = ""
            if os.path.exists(os.path.join(top, "maillog")):
                log = open(os.path.join(top, "maillog")).read()
            print("postfix start failed:", r.stdout, r.stderr, log)
            return 1
        pf_started = True
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", smtp_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

        # Reject mode.
        p = start_mimamori("reject")
        code, _ = send(clean_mail())
        check(code == 250, f"reject mode: clean mail accepted (got {code})")
        code, text = send(bad_mail())
        check(500 <= code < 600, f"reject mode: EICAR zip refused with 5xx (got {code} {text})")
        check("mm_eicar_test_file" in text, "the 5xx names the rule")
        stop_mimamori(p)
        out = open(os.path.join(top, "reject.out")).read()
        check('"action":"blocked"' in out and '"source":"milter"' in out,
              "an event says the mail was blocked by the milter")
        check('"name":"docs.zip"' in out or 'docs.zip>readme.com' in out,
              "the event names the attachment")

        # Quarantine mode.
        before = len(held())
        p = start_mimamori("quarantine")
        code, _ = send(clean_mail())
        check(code == 250, f"quarantine mode: clean mail accepted (got {code})")
        code, _ = send(bad_mail())
        check(code == 250, f"quarantine mode: EICAR zip accepted for holding (got {code})")
        for _ in range(100):
            if len(held()) > before:
                break
            time.sleep(0.1)
        check(len(held()) == before + 1, f"the bad mail is in the hold queue ({held()})")
        stop_mimamori(p)
        for action in ("reject", "quarantine"):
            err = open(os.path.join(top, action + ".err")).read()
            check("Sanitizer" not in err and "runtime error" not in err,
                  f"{action}: mimamori ran clean under the sanitizers\n{err[-3000:]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if pf_started:
            subprocess.run([postfix, "-c", pf, "stop"], capture_output=True)
            # Wait for the master to go before removing its queue.
            for _ in range(100):
                r = subprocess.run([postfix, "-c", pf, "status"], capture_output=True)
                if r.returncode != 0:
                    break
                time.sleep(0.1)
        if failures and os.environ.get("MM_KEEP"):
            print("kept", top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
