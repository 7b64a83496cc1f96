#!/usr/bin/env bash
#
# znetd copy: taken verbatim from the shared, tested systemd-sandbox recipe (the script,
# its notes and its self-test), so that the system tests do not depend on anything outside
# the repository at test time. Nothing is trimmed or changed: only these lines were added.
# Tests/System/conftest.py drives it: `boot --stop-with=<pytest pid>` (a crashed pytest
# cannot leak a sandbox), `exec PID CMD...`, `stop --fast PID` for every sandbox the session
# booted, even after failures. Needs root, cgroup2 and util-linux (unshare, nsenter).
#
# systemd-sandbox.sh - boot a throw-away systemd (as PID 1) inside private
# namespaces, on a host where systemd is NOT PID 1, for integration tests.
#
#   systemd-sandbox.sh boot [options]          print the sandbox PID (host view
#                                              of its systemd) once it is booted
#   systemd-sandbox.sh exec PID CMD [ARG...]   run CMD inside the sandbox
#   systemd-sandbox.sh stop [options] PID      power it off and clean up
#   systemd-sandbox.sh list                    list live sandboxes (PID ID)
#   systemd-sandbox.sh stop-all [options]      stop every sandbox we know of
#
# boot options:
#   --net=private|host   private network namespace with its own lo (default),
#                        or share the host's network (ports then clash)
#   --target=UNIT        unit to boot (default sandbox.target: sysinit +
#                        sockets + dbus only; multi-user.target also works)
#   --bind=SRC[:DST]     bind-mount a host path into the sandbox (read-write,
#                        the only way for the sandbox to write to the host)
#   --bind-ro=SRC[:DST]  same, read-only
#   --no-mask            do not mask the units that touch the host kernel
#   --timeout=SECS       boot deadline (default 60)
#   --stop-with=PID      stop the sandbox automatically once PID exits
# stop options:
#   --fast               SIGKILL the sandbox's PID 1 (no unit stop jobs)
#   --journal=FILE       save `journalctl -o short-precise` there first
#   --timeout=SECS       graceful poweroff deadline before SIGKILL (default 5)
# environment: SDSANDBOX_STATE_DIR (default /run/systemd-sandbox),
#   SDSANDBOX_SYSTEMD (default /lib/systemd/systemd), SDS_TMPFS_SIZE (size of
#   the RAM upper layer, default 25%), SDSANDBOX_KEEP_STATE=1 (keep state dir)
#
# Isolation: new PID, mount, UTS, IPC, cgroup (+ network) namespaces; the
# root is an overlay of the host's / with a tmpfs upper layer, so nothing the
# sandbox writes reaches the host disk; private tmpfs on /run, /tmp, /var/tmp,
# /var/log/journal, /dev; /sys and /proc/sys read-only; fresh machine-id;
# volatile journal. Root only. Needs cgroup2 (pure or hybrid).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
STATE_ROOT=${SDSANDBOX_STATE_DIR:-/run/systemd-sandbox}
SYSTEMD_BIN=${SDSANDBOX_SYSTEMD:-/lib/systemd/systemd}
INNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Units that would act on the (shared) kernel or are pointless without
# hardware. Most are already skipped by conditions (read-only /sys and
# /proc/sys, container detection); masking them is belt and braces and saves
# boot time.
MASK_UNITS="systemd-modules-load.service systemd-sysctl.service
systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
proc-sys-fs-binfmt_misc.mount systemd-udevd.service systemd-udevd-control.socket
systemd-udevd-kernel.socket systemd-udev-trigger.service
systemd-udev-settle.service systemd-hwdb-update.service
systemd-random-seed.service systemd-pstore.service systemd-timesyncd.service
systemd-journald-audit.socket kmod-static-nodes.service
sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
sys-fs-fuse-connections.mount dev-hugepages.mount
systemd-firstboot.service systemd-repart.service systemd-pcrphase.service
systemd-pcrphase-sysinit.service systemd-machine-id-commit.service
getty.target console-getty.service modprobe@.service"

die() { echo "systemd-sandbox: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b - a}'; }

cgroup2_root() {
    if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        echo /sys/fs/cgroup
    elif [ -d /sys/fs/cgroup/unified ] &&
         [ "$(stat -f -c %T /sys/fs/cgroup/unified)" = cgroup2fs ]; then
        echo /sys/fs/cgroup/unified
    else
        die "no cgroup2 hierarchy found (need /sys/fs/cgroup or /sys/fs/cgroup/unified)"
    fi
}

# Stage 2: runs as PID 1 of the new namespaces; builds the root and execs
# systemd. Everything mounted here is invisible to the host.
stage2() {
    local sd=$1 M R E u n src dst ro
    # Refuse to touch anything unless we really are PID 1 of a new PID
    # namespace inside a new mount namespace.
    [ $$ = 1 ] || die "stage2 must be PID 1 of a new PID namespace"
    [ "$(readlink /proc/self/ns/mnt)" != "$SDS_HOST_MNTNS" ] || die "stage2 not in a private mount namespace"
    M=$sd/mnt
    R=$M/root
    mount -t tmpfs -o mode=0755,size="${SDS_TMPFS_SIZE:-25%}" sdsandbox "$M"
    mkdir -p "$M/upper" "$M/work" "$R"
    mount -t overlay -o "lowerdir=/,upperdir=$M/upper,workdir=$M/work" sdsandbox-root "$R"

    # Other real file systems mounted below / (separate /usr, /home, ...)
    # get their own overlay, so they are visible but stay untouched.
    n=0
    findmnt -rn -o TARGET,FSTYPE | while read -r dst u; do
        case $dst in /|/proc*|/sys*|/dev*|/run*|/tmp*|/var/tmp*|"$STATE_ROOT"*|*\\*) continue ;; esac
        case $u in ext2|ext3|ext4|xfs|btrfs|zfs|f2fs|overlay|erofs|squashfs|vfat|jfs|reiserfs) ;; *) continue ;; esac
        n=$((n + 1))
        mkdir -p "$M/ov$n/u" "$M/ov$n/w"
        [ -d "$R$dst" ] || continue
        mount -t overlay -o "lowerdir=$dst,upperdir=$M/ov$n/u,workdir=$M/ov$n/w" sdsandbox-ov "$R$dst"
    done

    # /proc: own instance (PID ns); kernel-global knobs read-only.
    mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
    for u in sys sysrq-trigger irq bus fs; do
        [ -e "$R/proc/$u" ] || continue
        mount --bind "$R/proc/$u" "$R/proc/$u"
        mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/$u"
    done
    if [ "${SDS_NET:-private}" = private ]; then
        # net.* sysctls are per network namespace: let the sandbox set them.
        mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
        mount -o remount,bind,rw,nosuid,nodev,noexec "$R/proc/sys/net"
    fi

    # /sys read-only (stops udev & friends), cgroup2 rooted at our cgroup ns.
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"

    # Minimal /dev: no host block devices, no kmsg, own devpts.
    mount -t tmpfs -o mode=0755,nosuid,size=4m sdsandbox-dev "$R/dev"
    for u in null zero full random urandom tty; do
        : > "$R/dev/$u"
        mount --bind "/dev/$u" "$R/dev/$u"
    done
    : > "$R/dev/console"
    mount --bind /dev/null "$R/dev/console"
    mkdir -m 0755 "$R/dev/pts" "$R/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$R/dev/pts"
    ln -s pts/ptmx "$R/dev/ptmx"
    chmod 1777 "$R/dev/shm"
    ln -s /proc/self/fd "$R/dev/fd"
    ln -s /proc/self/fd/0 "$R/dev/stdin"
    ln -s /proc/self/fd/1 "$R/dev/stdout"
    ln -s /proc/self/fd/2 "$R/dev/stderr"

    # Private scratch space (systemd-tmpfiles cleans these at boot).
    mount -t tmpfs -o mode=0755,nosuid,nodev sdsandbox-run "$R/run"
    mount -t tmpfs -o mode=1777,nosuid,nodev sdsandbox-tmp "$R/tmp"
    mount -t tmpfs -o mode=1777,nosuid,nodev sdsandbox-vartmp "$R/var/tmp"
    mkdir -p "$R/var/log/journal"
    mount -t tmpfs -o mode=2755,nosuid,nodev sdsandbox-journal "$R/var/log/journal"

    # Host paths explicitly requested.
    while IFS= read -r u; do
        [ -n "$u" ] || continue
        ro=${u%%|*}; u=${u#*|}
        src=${u%%:*}; dst=${u#*:}
        [ "$u" = "$src" ] && dst=$src
        if [ -d "$src" ]; then mkdir -p "$R$dst"; else mkdir -p "$(dirname "$R$dst")"; : > "$R$dst"; fi
        mount --rbind "$src" "$R$dst"
        [ "$ro" = ro ] && mount -o remount,bind,ro "$R$dst"
    done <<< "${SDS_BINDS:-}"

    # Configuration (lands in the tmpfs upper layer only).
    E=$R/etc
    mkdir -p "$E/systemd/system" "$E/systemd/journald.conf.d" "$E/systemd/system.conf.d"
    rm -f "$E/machine-id"
    tr -d '-' < /proc/sys/kernel/random/uuid > "$E/machine-id"
    echo "$SDS_HOSTNAME" > "$E/hostname"
    cat > "$E/systemd/journald.conf.d/50-sandbox.conf" <<'EOF'
[Journal]
Storage=volatile
RateLimitIntervalSec=0
ForwardToSyslog=no
ForwardToWall=no
ForwardToConsole=no
ReadKMsg=no
EOF
    cat > "$E/systemd/system.conf.d/50-sandbox.conf" <<'EOF'
[Manager]
DefaultTimeoutStartSec=30s
DefaultTimeoutStopSec=10s
EOF
    cat > "$E/systemd/system/sandbox.target" <<'EOF'
[Unit]
Description=systemd-sandbox minimal target (sysinit, sockets, dbus)
Requires=sysinit.target sockets.target
Wants=dbus.service
After=sysinit.target sockets.target dbus.service
AllowIsolate=yes
EOF
    if [ "${SDS_MASK:-1}" = 1 ]; then
        for u in $MASK_UNITS; do ln -sfn /dev/null "$E/systemd/system/$u"; done
    fi

    # Limits like a real boot: PID 1 normally runs with a huge hard NOFILE
    # (services then get 1024:524288); no core files in the tmpfs.
    ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null || true
    ulimit -Sn 1024
    ulimit -Sc 0

    cd "$R"
    mkdir -p .sdsandbox-oldroot
    pivot_root . .sdsandbox-oldroot
    cd /
    umount -l /.sdsandbox-oldroot
    rmdir /.sdsandbox-oldroot
    # Shared propagation, as on a real boot: systemd skips this itself in a container, and
    # without it the mounts it makes in a helper's namespace (a unit's credentials directory,
    # LoadCredential=) never reach the unit.
    mount --make-rshared /
    exec env -i container=systemd-sandbox container_uuid="$(cat /etc/machine-id)" \
        PATH="$INNER_PATH" LANG=C.UTF-8 \
        "$SYSTEMD_BIN" --system --unit="$SDS_TARGET" --show-status=no
}

inner_env() {
    echo env -i PATH="$INNER_PATH" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" SYSTEMD_PAGER=cat
}

# Resolve a sandbox state dir from the PID printed by `boot`.
state_of() {
    local pid=$1 f
    [[ $pid =~ ^[0-9]+$ ]] || die "not a PID: $pid"
    for f in "$STATE_ROOT"/*/pid; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$pid" ] && { dirname "$f"; return 0; }
    done
    return 1
}

# True if PID is alive AND still is the systemd we booted for state dir $2
# (guards against PID reuse after a crash or a reboot).
ours() {
    alive "$1" && grep -qE "/sdsandbox-$(basename "$2")(/|\$)" "/proc/$1/cgroup" 2>/dev/null
}

alive() {  # running and not a zombie
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

nsexec() {
    local pid=$1; shift
    # shellcheck disable=SC2046
    nsenter -t "$pid" -a -- $(inner_env) "$@"
}

cmd_exec() {
    [ $# -ge 2 ] || die "usage: exec PID CMD [ARG...]"
    local pid=$1 sd; shift
    sd=$(state_of "$pid") || die "PID $pid is not a sandbox started by this script"
    ours "$pid" "$sd" || die "sandbox $pid is not running"
    # shellcheck disable=SC2046
    exec nsenter -t "$pid" -a -- $(inner_env) "$@"
}

cg_kill() {  # SIGKILL everything in our sandbox cgroup $1 (and below)
    local cg=$1 p
    [ -d "$cg" ] || return 0
    case $(basename "$cg") in sdsandbox-*) ;; *) return 1 ;; esac
    if [ -e "$cg/cgroup.kill" ]; then
        echo 1 > "$cg/cgroup.kill" 2>/dev/null || true
    else
        for p in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do
            kill -s KILL "$p" 2>/dev/null || true
        done
    fi
}

cleanup_state() {  # $1 = state dir
    local sd=$1 id cg i
    id=$(basename "$sd")
    cg=$(cat "$sd/cgroup" 2>/dev/null || true)
    if [ -n "$cg" ] && [ -d "$cg" ]; then
        for i in $(seq 200); do
            find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [ -d "$cg" ] || break
            # still populated after 2 s: something survived, kill it
            [ "$i" = 40 ] && cg_kill "$cg"
            sleep 0.05
        done
        [ -d "$cg" ] && echo "systemd-sandbox: warning: cgroup $cg not removed" >&2
    fi
    if mountpoint -q "$sd/mnt" 2>/dev/null; then
        echo "systemd-sandbox: warning: $sd/mnt is mounted on the host; leaving $sd" >&2
        return 0
    fi
    [ -n "${SDSANDBOX_KEEP_STATE:-}" ] || rm -rf -- "$sd"
}

cmd_stop() {
    local fast=0 journal="" timeout=5 pid sd upid t0 i
    while [ $# -gt 0 ]; do
        case $1 in
            --fast) fast=1 ;;
            --journal=*) journal=${1#*=} ;;
            --timeout=*) timeout=${1#*=} ;;
            -*) die "unknown stop option $1" ;;
            *) pid=$1 ;;
        esac
        shift
    done
    [ -n "${pid:-}" ] || die "usage: stop [--fast] [--journal=FILE] PID"
    sd=$(state_of "$pid") || die "PID $pid is not a sandbox started by this script"
    upid=$(cat "$sd/unshare.pid" 2>/dev/null || true)
    t0=$(now)
    if ours "$pid" "$sd"; then
        if [ -n "$journal" ]; then
            nsexec "$pid" journalctl --no-pager -o short-precise > "$journal" 2>&1 || true
        fi
        if [ $fast = 1 ]; then
            kill -s KILL "$pid" 2>/dev/null || true
        else
            kill -s RTMIN+4 "$pid" 2>/dev/null || true
            for i in $(seq $((timeout * 20))); do alive "$pid" || break; sleep 0.05; done
            if ours "$pid" "$sd"; then kill -s KILL "$pid" 2>/dev/null || true; fi
        fi
        for i in $(seq 200); do alive "$pid" || break; sleep 0.05; done
    fi
    if [ -n "$upid" ]; then
        for i in $(seq 100); do alive "$upid" || break; sleep 0.05; done
    fi
    cleanup_state "$sd"
    echo "systemd-sandbox: stopped $pid in $(since "$t0")s" >&2
}

cmd_list() {
    local f
    for f in "$STATE_ROOT"/*/pid; do
        [ -f "$f" ] || continue
        if ours "$(cat "$f")" "$(dirname "$f")"; then
            echo "$(cat "$f") $(basename "$(dirname "$f")")"
        else
            echo "$(cat "$f") $(basename "$(dirname "$f")") (dead)"
        fi
    done
}

cmd_stop_all() {
    local f sd
    for f in "$STATE_ROOT"/*/pid; do
        [ -f "$f" ] || continue
        cmd_stop "$@" "$(cat "$f")" || true
    done
    # state dirs whose boot never got as far as writing a pid
    for sd in "$STATE_ROOT"/*/; do
        [ -d "$sd" ] && [ ! -f "$sd/pid" ] && cleanup_state "${sd%/}"
    done
    return 0
}

cmd_boot() {
    local net=private target=sandbox.target binds="" mask=1 timeout=60 stopwith=""
    local id sd cg cgroot orig upid pid="" t0 state i a deadline
    booted=""
    for a in "$@"; do
        case $a in
            --net=private|--net=host) net=${a#*=} ;;
            --target=*) target=${a#*=} ;;
            --bind=*) binds+="rw|${a#*=}"$'\n' ;;
            --bind-ro=*) binds+="ro|${a#*=}"$'\n' ;;
            --no-mask) mask=0 ;;
            --timeout=*) timeout=${a#*=} ;;
            --stop-with=*) stopwith=${a#*=} ;;
            *) die "unknown boot option $a" ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "must run as root"
    while IFS= read -r a; do
        [ -n "$a" ] || continue
        a=${a#*|}; a=${a%%:*}
        [ -e "$a" ] || die "bind source $a does not exist"
    done <<< "$binds"
    [ -x "$SYSTEMD_BIN" ] || die "$SYSTEMD_BIN not found"
    t0=$(now)
    id=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    sd=$STATE_ROOT/$id
    cgroot=$(cgroup2_root)
    orig=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
    cg=$cgroot/sdsandbox-$id
    # Interrupted or failed before the end: kill whatever got started (it all
    # lives in our cgroup) and remove the state again.
    trap 'rc=$?; trap - EXIT INT TERM
          if [ -z "${booted:-}" ]; then
              cg_kill "$cg"; [ -d "$sd" ] && cleanup_state "$sd"
          fi; exit $rc' EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$sd/mnt"
    echo "$cg" > "$sd/cgroup"
    mkdir "$cg"

    local -a ns=(--pid --fork --mount --propagation private --uts --ipc --cgroup)
    [ "$net" = private ] && ns+=(--net)
    # The launcher joins the fresh cgroup first, so that it becomes the root
    # of the sandbox's cgroup namespace. setsid: immune to the caller's ^C.
    SDS_NET=$net SDS_TARGET=$target SDS_BINDS=$binds SDS_MASK=$mask \
    SDS_HOSTNAME=sandbox-$id SDS_HOST_MNTNS=$(readlink /proc/self/ns/mnt) \
    setsid bash -c 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/unshare.pid" && shift 2 && exec unshare "$@"' \
        _ "$cg" "$sd" "${ns[@]}" -- "$SELF" __stage2 "$sd" \
        < /dev/null > "$sd/console.log" 2>&1 &
    disown $!   # not our job to wait for; keeps bash quiet if it is killed

    for i in $(seq 400); do
        upid=$(cat "$sd/unshare.pid" 2>/dev/null || true)
        if [ -n "$upid" ]; then
            pid=$(cut -d' ' -f1 "/proc/$upid/task/$upid/children" 2>/dev/null ||
                  pgrep -P "$upid" 2>/dev/null | head -n1 || true)
            [ -n "$pid" ] && break
        fi
        sleep 0.01
    done
    if [ -z "${pid:-}" ]; then
        cat "$sd/console.log" >&2
        cleanup_state "$sd"
        die "namespace launcher did not start"
    fi
    echo "$pid" > "$sd/pid"
    # The launcher only had to be in the cgroup while unsharing; move it back
    # so the sandbox's root cgroup holds no foreign process (cgroup v2's
    # "no internal processes" rule would block controller delegation).
    echo "$upid" > "$cgroot$orig/cgroup.procs" 2>/dev/null || true

    # Wait for PID 1 to reach a final boot state. Before its private socket
    # exists systemctl fails at once, hence the loop.
    state=""
    deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
        if ! alive "$pid"; then
            cat "$sd/console.log" >&2
            cleanup_state "$sd"
            die "sandbox systemd exited during boot"
        fi
        state=$(timeout $((deadline - SECONDS + 1)) nsenter -t "$pid" -a -- $(inner_env) \
            systemctl is-system-running --wait 2>/dev/null || true)
        # "offline" = could not connect yet (PID 1 still setting up).
        case $state in running|degraded|maintenance|stopping) break ;; esac
        sleep 0.05
    done
    case $state in
        running) ;;
        degraded)
            echo "systemd-sandbox: warning: sandbox $pid is degraded; failed units:" >&2
            nsexec "$pid" systemctl --failed --no-legend >&2 || true ;;
        *)
            nsexec "$pid" journalctl --no-pager -o short-precise -n 40 >&2 || true
            cmd_stop --fast "$pid" || true
            die "sandbox did not boot (state '${state:-unknown}')" ;;
    esac
    # systemd registers on the system bus a moment after dbus comes up.
    if nsexec "$pid" systemctl -q is-active dbus.service 2>/dev/null; then
        for i in $(seq 200); do
            nsexec "$pid" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus NameHasOwner s org.freedesktop.systemd1 2>/dev/null |
                grep -q true && break
            sleep 0.025
        done
    fi
    if [ -n "$stopwith" ]; then
        # Watcher: polls once a second; exits on its own if the sandbox is
        # stopped first.
        setsid bash -c 'while kill -0 "$1" && kill -0 "$3"; do sleep 1; done 2>/dev/null
                        kill -0 "$3" 2>/dev/null && exec "$2" stop "$3"' \
            _ "$stopwith" "$SELF" "$pid" < /dev/null > /dev/null 2>&1 &
    fi
    booted=1
    echo "systemd-sandbox: booted $pid ($id) in $(since "$t0")s, state $state" >&2
    echo "$pid"
}

case ${1:-} in
    boot) shift; cmd_boot "$@" ;;
    exec) shift; cmd_exec "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    list) cmd_list ;;
    stop-all) shift; cmd_stop_all "$@" ;;
    __stage2) shift; stage2 "$@" ;;
    *) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
