#!/usr/bin/env bash
# The Docker engine the docker provider and its tests use, on a fresh Debian machine:
#
#   scripts/docker.sh up     install Debian's docker.io (pinned) when dockerd is missing and
#                            start dockerd when no daemon answers; prints the socket
#   scripts/docker.sh down   stop dockerd if `up` started it (a daemon that was already
#                            running is left alone)
#
# Needs root: installing packages and running dockerd. Nothing is pulled: the provider
# builds its images FROM scratch.
set -euo pipefail
DOCKER_IO_VERSION=20.10.24+dfsg1-1+deb12u1+b6
PIDFILE=/run/geodrill-dockerd.pid
LOG=/var/log/geodrill-dockerd.log
SOCK=/var/run/docker.sock

die() { echo "docker.sh: $*" >&2; exit 1; }

answers() { [ -S "$SOCK" ] && curl -fsS --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }

up() {
	if answers; then
		echo "$SOCK"
		return
	fi
	[ "$(id -u)" = 0 ] || die "no Docker daemon answers on $SOCK and starting one needs root (run as root, or start Docker yourself)"
	if ! command -v dockerd >/dev/null 2>&1; then
		command -v apt-get >/dev/null 2>&1 || die "dockerd not found and no apt-get to install it; install Docker and start it"
		echo "docker.sh: installing docker.io $DOCKER_IO_VERSION (Debian)" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "docker.io=$DOCKER_IO_VERSION" >/dev/null
	fi
	echo "docker.sh: starting dockerd (log: $LOG)" >&2
	# Not through an init system: there may be none. setsid: it outlives this script.
	setsid dockerd --host "unix://$SOCK" >>"$LOG" 2>&1 < /dev/null &
	echo $! > "$PIDFILE"
	for _ in $(seq 1 60); do
		if answers; then
			echo "$SOCK"
			return
		fi
		if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
			rm -f "$PIDFILE"
			die "dockerd exited at start; last lines of $LOG:
$(tail -n 20 "$LOG")"
		fi
		sleep 0.5
	done
	die "dockerd did not answer on $SOCK within 30s; see $LOG"
}

down() {
	[ -f "$PIDFILE" ] || return 0
	pid=$(cat "$PIDFILE")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
	echo "docker.sh: stopped the dockerd it started (pid $pid)" >&2
}

case "${1:-}" in
up) up ;;
down) down ;;
*) die "usage: scripts/docker.sh up|down" ;;
esac
