#!/usr/bin/env bash
# Runs a command in a network namespace whose only way out is a veth into an empty namespace
# (IPv6 off), then prints how many packets left by that veth: the check that a local cluster,
# the chart installed on it, the demo or the test suite send nothing off this machine.
#
#   sudo hack/closed_netns.sh make test
#   sudo hack/closed_netns.sh bash -c '.venv/bin/hyperpod-deps cluster up && ...'
#
# Exits with the command's status, or 3 if the command passed but a packet left.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root: it creates network namespaces" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

closed="hpd-closed-$$"
void="hpd-void-$$"
cleanup() { ip netns del "$closed" 2>/dev/null || true; ip netns del "$void" 2>/dev/null || true; }
trap cleanup EXIT

ip netns add "$closed"
ip netns add "$void"
for ns in "$closed" "$void"; do
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip link add veth-out netns "$closed" type veth peer name veth-in netns "$void"
ip -n "$closed" addr add 198.18.0.1/30 dev veth-out
ip -n "$void" addr add 198.18.0.2/30 dev veth-in
ip -n "$closed" link set veth-out up
ip -n "$void" link set veth-in up
ip -n "$closed" route add default via 198.18.0.2

sent() { ip netns exec "$closed" cat /sys/class/net/veth-out/statistics/tx_packets; }
seen="$(mktemp)"
if command -v tcpdump >/dev/null; then  # what arrives in the empty namespace, to name a leak
	ip netns exec "$void" tcpdump -l -nn -i veth-in -c 100 >"$seen" 2>/dev/null &
	sleep 1
fi
before=$(sent)
echo "==> running in network namespace $closed (only exit: veth-out into the empty namespace $void)"
status=0
# nsenter, not `ip netns exec`: that also remounts /sys for the namespace, which hides the cgroup
# mounts runc needs to start the chart's pods as containers.
nsenter --net="/run/netns/$closed" -- "$@" || status=$?
left=$(( $(sent) - before ))
echo "==> command exited $status; packets that left the namespace by veth-out: $left"
if [ "$left" -gt 0 ]; then
	echo "==> what arrived in the empty namespace (tcpdump, if installed):"
	sleep 1
	cat "$seen"
	[ "$status" -ne 0 ] || status=3
fi
rm -f "$seen"
exit "$status"
