#!/bin/sh
# End-to-end test of the ips plugin's inline (NFQUEUE) mode, in network
# namespaces this test creates and always removes:
#   ns1 (client 10.200.1.2) <-veth-> ns2 (router + sensor) <-veth-> ns3 (server 10.200.2.2)
# ns2 forwards through "iptables -A FORWARD -j NFQUEUE --queue-num N
# --queue-bypass". With `mimamori run --inproc` in ns2 and a drop rule for
# "BLOCKME" to tcp/8080, allowed traffic passes and the BLOCKME flow is
# stopped; after kill -9 of the sensor, traffic flows again (queue bypass).
# Exit 77 (skipped) without root, ip netns, iptables or the built binary.
set -u
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
for c in ip iptables python3; do
	command -v "$c" >/dev/null 2>&1 || { echo "needs $c"; exit 77; }
done
[ -x "${MIMAMORI:-}" ] || { echo "needs \$MIMAMORI"; exit 77; }

tag="mmips$$"
ns1="${tag}c"
ns2="${tag}r"
ns3="${tag}s"
qnum=$(( ($$ % 1000) + 3000 ))
tmp=$(mktemp -d)
pid=""
srv=""
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$srv" ] && kill -9 "$srv" 2>/dev/null
	ip netns del "$ns1" 2>/dev/null
	ip netns del "$ns2" 2>/dev/null
	ip netns del "$ns3" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$ns1" 2>/dev/null || { echo "ip netns not available"; exit 77; }
ip netns add "$ns2" && ip netns add "$ns3" || exit 1
in1() { ip netns exec "$ns1" "$@"; }
in2() { ip netns exec "$ns2" "$@"; }
in3() { ip netns exec "$ns3" "$@"; }
ip link add v1a netns "$ns1" type veth peer name v1b netns "$ns2" || exit 1
ip link add v3a netns "$ns3" type veth peer name v3b netns "$ns2" || exit 1
in1 ip addr add 10.200.1.2/24 dev v1a
in2 ip addr add 10.200.1.1/24 dev v1b
in2 ip addr add 10.200.2.1/24 dev v3b
in3 ip addr add 10.200.2.2/24 dev v3a
for n in "$ns1" "$ns2" "$ns3"; do ip netns exec "$n" ip link set lo up; done
in1 ip link set v1a up
in2 ip link set v1b up
in2 ip link set v3b up
in3 ip link set v3a up
in1 ip route add default via 10.200.1.1
in3 ip route add default via 10.200.2.1
in2 sysctl -qw net.ipv4.ip_forward=1
if ! in2 iptables -A FORWARD -j NFQUEUE --queue-num "$qnum" --queue-bypass 2>"$tmp/ipt.err"; then
	echo "iptables NFQUEUE not available: $(cat "$tmp/ipt.err")"
	exit 77
fi

# The server answers "OK:<what it got>" on tcp/8080.
cat >"$tmp/server.py" <<'PY'
import socketserver
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        try:
            self.request.sendall(b"OK:" + self.request.recv(4096))
        except OSError:
            pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
socketserver.ThreadingTCPServer(("10.200.2.2", 8080), H).serve_forever()
PY
cat >"$tmp/client.py" <<'PY'
import socket, sys
try:
    c = socket.create_connection(("10.200.2.2", 8080), timeout=3)
    c.sendall(sys.argv[1].encode())
    print(c.recv(4096).decode(errors="replace") or "EMPTY")
except OSError as e:
    print("FAIL " + type(e).__name__)
PY
# ip netns exec execs the command, so $! is the process itself.
ip netns exec "$ns3" python3 "$tmp/server.py" &
srv=$!
sleep 0.5
client() { in1 python3 "$tmp/client.py" "$1"; }

# Without a sensor the queue is bypassed.
r=$(client hello0)
[ "$r" = "OK:hello0" ] || { echo "no sensor, expected bypass: $r"; exit 1; }

mkdir -p "$tmp/conf" "$tmp/state" "$tmp/run"
cat >"$tmp/conf/00-sensor.conf" <<CONF
sensor = { id = "inline-test"; site = "test"; role = "utm"; };
host = { state_dir = "$tmp/state"; run_dir = "$tmp/run"; log_level = "info"; user = ""; };
CONF
echo 'drop tcp any any -> any 8080 (msg:"test block"; content:"BLOCKME"; sid:1000001; rev:1;)' \
	>"$tmp/block.rules"
cat >"$tmp/conf/20-ips.conf" <<CONF
modules = { ips = { enabled = true; mode = "inline"; queue_num = $qnum;
  rules = [ "$tmp/block.rules" ]; reputation = [ ]; scan_detection = false; }; };
CONF
ip netns exec "$ns2" "$MIMAMORI" -c "$tmp/conf" run --inproc >"$tmp/sensor.log" 2>&1 &
pid=$!
i=0
until grep -q "inline mode on NFQUEUE $qnum" "$tmp/sensor.log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "sensor did not start:"; cat "$tmp/sensor.log"; exit 1
	fi
	sleep 0.1
done

r=$(client hello1)
[ "$r" = "OK:hello1" ] || { echo "allowed traffic did not pass: $r"; cat "$tmp/sensor.log"; exit 1; }
r=$(client "please BLOCKME now")
case "$r" in
FAIL*) ;;
*) echo "BLOCKME was not blocked: $r"; cat "$tmp/sensor.log"; exit 1 ;;
esac
r=$(client hello2)
[ "$r" = "OK:hello2" ] || { echo "traffic after the block did not pass: $r"; exit 1; }
echo "inline: allowed flow passed, BLOCKME flow dropped"

# A killed sensor must not cut the traffic (--queue-bypass).
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=""
sleep 0.3
r=$(client hello3)
[ "$r" = "OK:hello3" ] || { echo "after kill -9, traffic did not flow: $r"; exit 1; }
r=$(client "BLOCKME again")
[ "$r" = "OK:BLOCKME again" ] || { echo "after kill -9, expected bypass: $r"; exit 1; }
echo "inline: after kill -9 of the sensor traffic still flows"
