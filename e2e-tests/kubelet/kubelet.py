#!/usr/bin/env python3
"""A model of the kubelet's container lifecycle for one pod, with real processes.

Plays the rules of pkg/kubelet/kuberuntime (computePodActions,
computeInitContainerActions, doBackOff, the termination order of sidecars)
on a Pod: every container runs as a real process, with BusyBox as its only
image, in a private mount and PID namespace where its volumeMounts are bind
mounts of one directory per volume. See README.md beside this file for what
it models, from which kubelet source, and what it simplifies.

    kubelet.py POD_FILE (--native-sidecars | --no-native-sidecars) [options]

POD_FILE (`-` for standard input) holds a Pod, a workload with a pod
template, an AdmissionRequest or an AdmissionReview, in JSON (or YAML when
PyYAML is installed). --patch-from RESPONSE applies the JSON patch of an
AdmissionResponse to that object first. The report is printed as JSON on
standard output when the run ends; progress goes to standard error with -v.

Exit status: 0 when the run went to its end (whatever the pod did), 2 on a
usage or input error, 3 when the host cannot run containers (no busybox, no
namespaces).
"""

import argparse
import base64
import copy
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# A container's logs: both streams as `kubectl logs` shows them, and each alone.
STREAMS = ("log", "stdout", "stderr")

BUSYBOX = os.environ.get("KUBELET_BUSYBOX", "/bin/busybox")

# The kubelet's back-off of restarts: pkg/kubelet/kubelet.go (backOffPeriod,
# MaxContainerBackOff), k8s.io/client-go/util/flowcontrol/backoff.go.
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0

# The environment the busybox image gives every container.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
PR_SET_PDEATHSIG = 1

# The running interpreter has libc loaded: no need to look for it.
_libc = ctypes.CDLL(None, use_errno=True)


class InputError(Exception):
    pass


class HostError(Exception):
    pass


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def sys_unshare(flags):
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def sys_mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {source} on {target}",
    )


def sys_pdeathsig(sig):
    _check(_libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0), "prctl")


# --- input -----------------------------------------------------------------


def load_documents(path):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as json_error:
        try:
            import yaml  # optional: only for manifests in YAML
        except ImportError:
            raise InputError(f"{path}: not JSON ({json_error}), and PyYAML is not installed")
        try:
            return [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as yaml_error:
            raise InputError(f"{path}: neither JSON nor YAML: {yaml_error}")


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise InputError(f"JSON patch path {path!r} does not start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, tokens):
    for t in tokens:
        doc = doc[int(t)] if isinstance(doc, list) else doc[t]
    return doc


def apply_json_patch(doc, patch):
    """RFC 6902 add, remove, replace, copy, move and test."""
    doc = copy.deepcopy(doc)
    for op in patch:
        kind, tokens = op["op"], json_pointer(op["path"])
        if kind in ("copy", "move"):
            value = copy.deepcopy(_walk(doc, json_pointer(op["from"])))
            if kind == "move":
                doc = apply_json_patch(doc, [{"op": "remove", "path": op["from"]}])
            doc = apply_json_patch(doc, [{"op": "add", "path": op["path"], "value": value}])
            continue
        if kind == "test":
            if _walk(doc, tokens) != op["value"]:
                raise InputError(f"JSON patch test failed at {op['path']}")
            continue
        if not tokens:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op["value"])
                continue
            raise InputError("JSON patch removes the whole document")
        parent, last = _walk(doc, tokens[:-1]), tokens[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = copy.deepcopy(op["value"])
            else:
                raise InputError(f"unknown JSON patch op {kind!r}")
        else:
            if kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise InputError(f"JSON patch replaces a missing {op['path']}")
                parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[last]
            else:
                raise InputError(f"unknown JSON patch op {kind!r}")
    return doc


def unwrap(doc):
    """The object of an AdmissionReview or AdmissionRequest, else the document."""
    if isinstance(doc, dict) and doc.get("kind") == "AdmissionReview" and "request" in doc:
        doc = doc["request"]
    if isinstance(doc, dict) and "object" in doc and "uid" in doc:
        doc = doc["object"]
    return doc


def pod_of(obj):
    """(name, spec) of a Pod, or of the pod template of a workload."""
    if not isinstance(obj, dict):
        raise InputError("the input is not an object")
    kind = obj.get("kind")
    name = (obj.get("metadata") or {}).get("name") or "pod"
    spec = obj.get("spec") or {}
    if kind == "Pod" or (kind is None and "containers" in spec):
        return name, spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        return name, template["spec"]
    raise InputError(f"no pod in a {kind or 'document without kind'}")


def load_pod(path, patch_from=None):
    docs = [unwrap(d) for d in load_documents(path)]
    if patch_from is not None:
        if len(docs) != 1:
            raise InputError("--patch-from needs exactly one document")
        response = None
        for line in open(patch_from, encoding="utf-8").read().splitlines() or [""]:
            line = line.strip()
            if line.startswith("{"):
                response = json.loads(line)
        if response is None:
            raise InputError(f"{patch_from}: no AdmissionResponse (a JSON line)")
        response = response.get("response", response)
        if response.get("allowed") is False:
            raise InputError(f"{patch_from}: the request was rejected: {response.get('status')}")
        if response.get("patch"):
            patch = json.loads(base64.b64decode(response["patch"]))
            docs = [apply_json_patch(docs[0], patch)]
    errors = []
    for doc in docs:
        try:
            return pod_of(doc)
        except InputError as e:
            errors.append(str(e))
    raise InputError("; ".join(errors) or "empty input")


# --- the model's containers ------------------------------------------------


def expand(text, env):
    """$(VAR) expansion of command, args and env values, as the kubelet does
    (third_party/forked/golang/expansion): $$ is one $, an unknown $(VAR)
    stays as written."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    name = text[i + 2 : close]
                    out.append(env[name] if name in env else "$(" + name + ")")
                    i = close + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class Spec:
    """One container of the pod spec, as the model runs it."""

    def __init__(self, raw, kind, index, native_sidecars, notes):
        self.raw = raw
        self.name = raw.get("name") or f"{kind}-{index}"
        self.kind = kind  # "init" or "regular"
        self.index = index
        # Without native sidecar support every init container is a plain one.
        self.restartable = (
            kind == "init" and native_sidecars and raw.get("restartPolicy") == "Always"
        )
        env = {}
        for item in raw.get("env") or []:
            if "value" in item or "valueFrom" not in item:
                env[item["name"]] = expand(str(item.get("value", "")), env)
            else:
                notes.append(f"{self.name}: env {item['name']} uses valueFrom, not passed")
        self.env = env
        command = [expand(str(a), env) for a in raw.get("command") or []]
        args = [expand(str(a), env) for a in raw.get("args") or []]
        # No image metadata here: without a command, the args are the argv.
        self.argv = command + args
        self.working_dir = raw.get("workingDir") or "/"
        self.mounts = raw.get("volumeMounts") or []
        if kind == "init" and not native_sidecars and raw.get("restartPolicy") == "Always":
            notes.append(f"{self.name}: restartPolicy Always ignored, the node has no native sidecars")
        if raw.get("startupProbe") and self.restartable:
            notes.append(f"{self.name}: startupProbe not run, taken as succeeded")


class Instance:
    """One start of a container: the kubelet's container status."""

    def __init__(self, spec, boot, started_at, offsets):
        self.spec = spec
        self.boot = boot
        self.started_at = started_at
        self.finished_at = None
        self.exit_code = None
        self.reason = None  # exited | terminated | reboot | start-error
        self.offsets = offsets  # stream -> byte offset of its log at the start
        self.ends = None  # the same at the end
        self.pid = None  # the mediator, our child
        self.init_pid = None  # the container's PID 1, the mediator's child
        self.stopping = False
        self.started_sync = None  # the sync that started it

    @property
    def running(self):
        return self.finished_at is None


class Backoff:
    """k8s.io/client-go/util/flowcontrol Backoff, without jitter, keyed by container."""

    def __init__(self, scale):
        self.initial = BACKOFF_INITIAL * scale
        self.max = BACKOFF_MAX * scale
        self.entries = {}  # key -> [backoff, last_update]

    def _expired(self, event_time, last_update):
        return event_time - last_update > 2 * self.max

    def in_backoff_since(self, key, event_time, now):
        entry = self.entries.get(key)
        if entry is None or self._expired(now, entry[1]):
            return False
        return now - event_time < entry[0]

    def next(self, key, event_time, now):
        entry = self.entries.get(key)
        if entry is None or self._expired(event_time, entry[1]):
            self.entries[key] = [self.initial, now]
        else:
            entry[0] = min(entry[0] * 2, self.max)
            entry[1] = now


# --- the node: image, volumes, processes -----------------------------------


def build_image(root):
    """A busybox image: every applet linked where busybox installs it, and the
    shared libraries the Debian binary needs."""
    if not os.access(BUSYBOX, os.X_OK):
        raise HostError(f"{BUSYBOX} is missing: apt-get install busybox")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    listing = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True)
    for rel in listing.stdout.split():
        if "/" not in rel or rel == "bin/busybox":
            continue
        dest = os.path.join(root, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.lexists(dest):
            os.symlink("/bin/busybox", dest)
    ldd = subprocess.run(["ldd", BUSYBOX], capture_output=True, text=True)
    for line in ldd.stdout.splitlines():
        for word in line.split():
            if word.startswith("/") and os.path.exists(word):
                dest = os.path.join(root, word.lstrip("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy2(os.path.realpath(word), dest)
    # The top-level directories a container's root gets from the image.
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))


def mount_flags(path):
    """The flags of the mount holding path, which a read-only remount keeps."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st, ms in (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if f & st:
            flags |= ms
    return flags


def bind(source, target, read_only):
    sys_mount(source, target, None, MS_BIND)
    if read_only:
        sys_mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags(target))


def inside(root, path):
    """path (absolute, in the container) under root, refusing to leave it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"path {path!r} has ..")
    return os.path.join(root, *parts)


class Node:
    def __init__(self, pod_name, spec, args):
        self.args = args
        self.pod_name = pod_name
        self.pod_spec = spec
        self.native = args.native_sidecars
        self.restart_policy = spec.get("restartPolicy") or "Always"
        if self.restart_policy not in ("Always", "OnFailure", "Never"):
            raise InputError(f"restartPolicy {self.restart_policy!r}")
        self.notes = []
        self.inits = [
            Spec(c, "init", i, self.native, self.notes) for i, c in enumerate(spec.get("initContainers") or [])
        ]
        self.regulars = [
            Spec(c, "regular", i, self.native, self.notes) for i, c in enumerate(spec.get("containers") or [])
        ]
        if not self.regulars:
            raise InputError("the pod has no containers")
        names = [s.name for s in self.inits + self.regulars]
        if len(set(names)) != len(names):
            raise InputError(f"container names repeat: {names}")
        for s in self.inits + self.regulars:
            if not s.argv:
                raise InputError(f"{s.name}: no command and no args: the harness has no image entrypoint")
        self.volumes = {}
        for v in spec.get("volumes") or []:
            self.volumes[v["name"]] = v
            if "emptyDir" not in v:
                self.notes.append(f"volume {v['name']}: not an emptyDir, given as an empty directory")
        for s in self.inits + self.regulars:
            for m in s.mounts:
                if m.get("name") not in self.volumes:
                    raise InputError(f"{s.name}: volumeMount of an unknown volume {m.get('name')!r}")

        self.dir = os.path.abspath(args.run_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.image = os.path.join(self.dir, "image")
        if os.path.exists(self.image):
            shutil.rmtree(self.image)
        self.image_dirs = build_image(self.image)
        self.volume_dir = os.path.join(self.dir, "volumes")
        self.log_dir = os.path.join(self.dir, "logs")
        self.rootfs_dir = os.path.join(self.dir, "rootfs")
        for d in (self.volume_dir, self.log_dir, self.rootfs_dir):
            if os.path.exists(d):
                shutil.rmtree(d)
            os.makedirs(d)
        for name in self.volumes:
            os.makedirs(os.path.join(self.volume_dir, name))
        for s in self.inits + self.regulars:
            for stream in STREAMS:
                open(self.log_path(s, stream), "wb").close()

        self.t0 = time.monotonic()
        self.boot = 0
        self.boots = [{"started_at": 0.0, "initialized_at": None}]
        self.instances = []  # every start, in order
        self.by_pid = {}
        self.backoff = Backoff(args.time_scale)
        self.phase = "Pending"
        self.terminal_at = None
        self.events = []
        self.syncs = 0

    # -- bookkeeping --

    def now(self):
        return time.monotonic() - self.t0

    def log(self, message):
        self.events.append(f"{self.now():7.3f} {message}")
        if self.args.verbose:
            print(f"kubelet: {self.now():7.3f} {message}", file=sys.stderr, flush=True)

    def log_path(self, spec, stream="log"):
        suffix = ".log" if stream == "log" else f".{stream}.log"
        return os.path.join(self.log_dir, spec.name + suffix)

    def log_sizes(self, spec):
        return {stream: os.path.getsize(self.log_path(spec, stream)) for stream in STREAMS}

    def latest(self, spec):
        """The status of the container in the current pod sandbox."""
        for inst in reversed(self.instances):
            if inst.spec is spec and inst.boot == self.boot:
                return inst
        return None

    def running(self):
        return [i for i in self.instances if i.running]

    # -- processes --

    def start(self, spec):
        """startContainer, after doBackOff: False when in back-off."""
        now = self.now()
        last = self.latest(spec)
        if last is not None and not last.running:
            key = spec.name
            if self.backoff.in_backoff_since(key, last.finished_at, now):
                return False
            self.backoff.next(key, last.finished_at, now)
        inst = Instance(spec, self.boot, now, self.log_sizes(spec))
        inst.started_sync = self.syncs
        self.instances.append(inst)
        number = sum(1 for i in self.instances if i.spec is spec)
        root = os.path.join(self.rootfs_dir, f"{spec.name}.{number}")
        os.makedirs(root)
        log_fds = {
            stream: os.open(self.log_path(spec, stream), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            for stream in STREAMS
        }
        rfd, wfd = os.pipe2(os.O_CLOEXEC)
        harness = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            self._mediator(spec, root, log_fds, wfd, harness)  # never returns
        os.close(wfd)
        for fd in log_fds.values():
            os.close(fd)
        inst.pid = pid
        self.by_pid[pid] = inst
        answer = b""
        while True:
            chunk = os.read(rfd, 4096)
            if not chunk:
                break
            answer += chunk
        os.close(rfd)
        text = answer.decode(errors="replace").strip()
        if text.isdigit():
            inst.init_pid = int(text)
            self.log(f"started {spec.kind} container {spec.name} (start {number}, pid {inst.init_pid})")
        else:
            # The mediator failed before the container ran: reap it now.
            _, status = os.waitpid(pid, 0)
            del self.by_pid[pid]
            self._finish(inst, 128, "start-error")
            for stream in ("log", "stderr"):
                with open(self.log_path(spec, stream), "ab") as f:
                    f.write(f"kubelet.py: cannot start the container: {text}\n".encode())
            inst.ends = self.log_sizes(spec)
            self.log(f"{spec.name} failed to start: {text}")
        return True

    def _mediator(self, spec, root, log_fds, wfd, harness):
        """In the fork: a mount namespace with the container's view, then its
        PID 1 in a new PID namespace. Copies its standard output and error to
        its logs, as the runtime's shim does, waits for it and exits with its
        status."""
        code = 127
        try:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            sys_pdeathsig(signal.SIGKILL)
            if os.getppid() != harness:
                os._exit(code)
            # Only what the container needs stays open: not the harness's output.
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            keep = sorted({wfd, *log_fds.values()})
            low = 3
            for fd in keep:
                os.closerange(low, fd)
                low = fd + 1
            os.closerange(low, 65536)
            sys_unshare(CLONE_NEWNS | CLONE_NEWPID)
            sys_mount(None, "/", None, MS_REC | MS_PRIVATE)
            for d in self.image_dirs:
                target = os.path.join(root, d)
                os.makedirs(target, exist_ok=True)
                bind(os.path.join(self.image, d), target, True)
            for d in ("proc", "tmp", "dev", "etc"):
                os.makedirs(os.path.join(root, d), exist_ok=True)
            with open(os.path.join(root, "etc", "hostname"), "w") as f:
                f.write(self.pod_name + "\n")
            for dev in ("null", "zero"):
                target = os.path.join(root, "dev", dev)
                open(target, "w").close()
                sys_mount(f"/dev/{dev}", target, None, MS_BIND)
            # The runtime mounts in order of depth, so that a deeper mount lands
            # in the volume mounted above it.
            mounts = sorted(spec.mounts, key=lambda m: len([p for p in m["mountPath"].split("/") if p]))
            for m in mounts:
                source = os.path.join(self.volume_dir, m["name"])
                if m.get("subPath"):
                    source = inside(source, m["subPath"])
                    os.makedirs(source, exist_ok=True)  # the kubelet creates a missing subPath
                target = inside(root, m["mountPath"])
                os.makedirs(target, exist_ok=True)
                bind(source, target, bool(m.get("readOnly")))
            env = {"PATH": IMAGE_PATH, "HOSTNAME": self.pod_name, "HOME": "/root"}
            env.update(spec.env)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            child = os.fork()
            if child == 0:
                self._container(spec, root, out_w, err_w, env)  # never returns
            os.close(out_w)
            os.close(err_w)
            os.write(wfd, str(child).encode())
            os.close(wfd)
            # PID 1 gone, the kernel kills the rest of its namespace, which
            # closes the pipes.
            streams = {out_r: log_fds["stdout"], err_r: log_fds["stderr"]}
            while streams:
                ready, _, _ = select.select(list(streams), [], [])
                for fd in ready:
                    data = os.read(fd, 65536)
                    if not data:
                        os.close(fd)
                        del streams[fd]
                        continue
                    os.write(streams[fd], data)
                    os.write(log_fds["log"], data)
            _, status = os.waitpid(child, 0)
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
        except BaseException as e:  # reported to the harness through the pipe
            try:
                os.write(wfd, f"{type(e).__name__}: {e}".encode())
            except OSError:
                pass
        finally:
            os._exit(code & 0xFF)

    def _container(self, spec, root, out_fd, err_fd, env):
        """The container's PID 1: its root, its log, then the argv."""
        try:
            sys_pdeathsig(signal.SIGKILL)
            try:
                sys_mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            except OSError:
                pass
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            os.closerange(3, 65536)
            os.chroot(root)
            os.chdir(inside("/", spec.working_dir))
            argv = spec.argv
            os.execvpe(argv[0], argv, env)
        except BaseException as e:
            try:
                os.write(2, f"kubelet.py: cannot run {spec.argv!r}: {e}\n".encode())
            except OSError:
                pass
        os._exit(128)

    def _finish(self, inst, code, reason):
        inst.finished_at = self.now()
        inst.exit_code = code
        inst.reason = reason
        inst.ends = self.log_sizes(inst.spec)

    def reap(self, block=False):
        """Collects exited containers: the PLEG's relist."""
        while self.by_pid:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            inst = self.by_pid.pop(pid, None)
            if inst is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
            reason = "reboot" if inst.reason == "reboot" else ("terminated" if inst.stopping else "exited")
            self._finish(inst, code, reason)
            self.log(f"{inst.spec.name} exited with {code} ({reason})")
            if block:
                return

    def send(self, inst, sig):
        if inst.running and inst.init_pid:
            try:
                os.kill(inst.init_pid, sig)
            except ProcessLookupError:
                pass

    def wait_all(self, insts, deadline):
        while any(i.running for i in insts) and self.now() < deadline:
            self.reap()
            time.sleep(0.02)
        self.reap()

    def stop(self, insts, grace):
        """killContainer: SIGTERM, then SIGKILL after the grace period. A PID 1
        without a handler for SIGTERM ignores it, as in a container."""
        insts = [i for i in insts if i.running]
        if not insts:
            return
        for i in insts:
            i.stopping = True
            self.log(f"stopping {i.spec.name}")
            self.send(i, signal.SIGTERM)
        self.wait_all(insts, self.now() + grace)
        for i in insts:
            if i.running:
                self.send(i, signal.SIGKILL)
        self.wait_all(insts, self.now() + 5)

    def kill_pod(self, why):
        """Termination order (kuberuntime_termination_order.go): regular and
        plain init containers together, then the sidecars, last one first."""
        self.log(f"killing the pod: {why}")
        grace = self.args.grace_period
        running = self.running()
        self.stop([i for i in running if not i.spec.restartable], grace)
        for spec in reversed(self.inits):
            if spec.restartable:
                self.stop([i for i in self.running() if i.spec is spec], grace)

    # -- the sync loop --

    def compute_init_actions(self):
        """computeInitContainerActions: (initialized, init containers to
        start, kill the pod)."""
        to_start = []
        initialized = any(
            (st := self.latest(s)) is not None and st.running for s in self.regulars
        )
        previously = initialized
        restart_on_failure = self.restart_policy != "Never"
        for i in range(len(self.inits) - 1, -1, -1):
            spec = self.inits[i]
            st = self.latest(spec)
            if st is None:
                if previously and spec.restartable:
                    to_start.append(i)
                continue
            if previously and not spec.restartable:
                continue
            if st.running:
                # A restartable one counts as started once a sync after the
                # one that started it finds it running.
                if spec.restartable and st.started_sync < self.syncs:
                    if i == len(self.inits) - 1:
                        initialized = True
                    elif not previously:
                        to_start.append(i + 1)
            else:
                if spec.restartable:
                    to_start.append(i)
                elif st.exit_code != 0:
                    if not restart_on_failure:
                        return False, [], True
                    to_start.append(i)
                else:
                    if i == len(self.inits) - 1:
                        initialized = True
                    else:
                        to_start.append(i + 1)
            previously = True
        if not previously:
            to_start.append(0)
        return initialized, sorted(set(to_start)), False

    def should_restart(self, spec, st):
        """kubecontainer.ShouldContainerBeRestarted, for a regular container."""
        if st is None:
            return True
        if st.running:
            return False
        if self.restart_policy == "Never":
            return False
        if self.restart_policy == "OnFailure":
            return st.exit_code != 0
        return True

    def sync(self):
        """One SyncPod: False once the pod is terminal."""
        self.syncs += 1
        if not self.inits:
            initialized, init_to_start, failed = True, [], False
        else:
            initialized, init_to_start, failed = self.compute_init_actions()
        if failed:
            self.phase = "Failed"
            self.terminal_at = round(self.now(), 3)
            self.kill_pod("an init container failed and restartPolicy is Never")
            return False
        to_start = []
        if initialized:
            if self.boots[self.boot]["initialized_at"] is None:
                self.boots[self.boot]["initialized_at"] = round(self.now(), 3)
                self.log("the pod is initialized")
            if self.phase == "Pending":
                self.phase = "Running"
            keep = 0
            for spec in self.regulars:
                st = self.latest(spec)
                if st is not None and st.running:
                    keep += 1
                elif self.should_restart(spec, st):
                    to_start.append(spec)
            if keep == 0 and not to_start:
                codes = [self.latest(s).exit_code for s in self.regulars]
                self.phase = "Succeeded" if all(c == 0 for c in codes) else "Failed"
                self.terminal_at = round(self.now(), 3)
                self.kill_pod(f"every container has exited ({self.phase})")
                return False
        for i in init_to_start:
            spec = self.inits[i]
            if not self.start(spec) and not spec.restartable:
                break  # a plain init container in back-off holds the rest
        for spec in to_start:
            self.start(spec)
        return True

    def reboot(self):
        """The node restarts: every process dies, memory-backed volumes are
        emptied, a new pod sandbox runs the init containers again."""
        self.log("node reboot")
        for i in self.running():
            i.reason = "reboot"
            self.send(i, signal.SIGKILL)
        self.wait_all(self.running(), self.now() + 5)
        for name, v in self.volumes.items():
            if (v.get("emptyDir") or {}).get("medium") == "Memory":
                path = os.path.join(self.volume_dir, name)
                shutil.rmtree(path)
                os.makedirs(path)
        self.boot += 1
        self.boots.append({"started_at": round(self.now(), 3), "initialized_at": None})
        self.backoff = Backoff(self.args.time_scale)  # the kubelet's memory is gone
        self.phase = "Pending"

    def run(self):
        reboots = sorted(self.args.reboot_after or [])
        alive = True
        try:
            while True:
                self.reap()
                if reboots and self.now() >= reboots[0]:
                    reboots.pop(0)
                    self.reboot()
                if self.now() >= self.args.duration:
                    break
                alive = self.sync()
                if not alive:
                    break
                # Exits are collected between syncs, so their times are exact
                # to a few milliseconds, as the runtime's FinishedAt.
                until = time.monotonic() + self.args.poll
                while (left := until - time.monotonic()) > 0:
                    time.sleep(min(left, 0.02))
                    self.reap()
            ended = round(self.now(), 3)
            was_running = {
                s.name: self.latest(s) is not None and self.latest(s).running for s in self.inits + self.regulars
            }
            if alive:
                self.kill_pod("the run is over")
        finally:
            for i in self.running():
                self.send(i, signal.SIGKILL)
            self.wait_all(self.running(), self.now() + 5)
        return self.report(ended, was_running)

    def report(self, ended, was_running):
        containers = {}
        for spec in self.inits + self.regulars:
            starts = [i for i in self.instances if i.spec is spec]
            containers[spec.name] = {
                "kind": spec.kind,
                "restartable": spec.restartable,
                "starts": len(starts),
                "exit_codes": [i.exit_code for i in starts],
                "running": was_running[spec.name],
                "log": self.log_path(spec),
                "stdout": self.log_path(spec, "stdout"),
                "stderr": self.log_path(spec, "stderr"),
                "instances": [
                    {
                        "boot": i.boot,
                        "started_at": round(i.started_at, 3),
                        "finished_at": None if i.finished_at is None else round(i.finished_at, 3),
                        "exit_code": i.exit_code,
                        "reason": i.reason,
                        "logs": {
                            stream: [i.offsets[stream], None if i.ends is None else i.ends[stream]]
                            for stream in STREAMS
                        },
                    }
                    for i in starts
                ],
            }
        last_boot = self.boots[-1]
        return {
            "pod": self.pod_name,
            "native_sidecars": self.native,
            "restartPolicy": self.restart_policy,
            "phase": self.phase,
            "initialized": last_boot["initialized_at"] is not None,
            "completed": self.phase in ("Succeeded", "Failed"),
            "completed_at": self.terminal_at,
            "ended_at": ended,
            "boots": self.boots,
            "containers": containers,
            "volumes": {name: os.path.join(self.volume_dir, name) for name in self.volumes},
            "notes": self.notes,
            "events": self.events,
        }


def check_host():
    """Can this host run the model's containers? Raises HostError saying why not."""
    if not os.access(BUSYBOX, os.X_OK):
        raise HostError(f"{BUSYBOX} is missing: apt-get install busybox")
    pid = os.fork()
    if pid == 0:
        try:
            sys_unshare(CLONE_NEWNS | CLONE_NEWPID)
            sys_mount(None, "/", None, MS_REC | MS_PRIVATE)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise HostError("cannot make mount and PID namespaces (root and unshare(2) are needed)")


def interrupted(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="kubelet.py",
        description="Run a pod's containers as real processes under a model of the kubelet's rules.",
    )
    p.add_argument(
        "pod", nargs="?",
        help="Pod, workload, AdmissionRequest or AdmissionReview (JSON; YAML with PyYAML); - for stdin",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--native-sidecars", dest="native_sidecars", action="store_true", default=None,
                      help="the node runs native sidecars (init containers with restartPolicy: Always)")
    mode.add_argument("--no-native-sidecars", dest="native_sidecars", action="store_false",
                      help="the node does not: every init container is a plain one")
    p.add_argument("--check", action="store_true", help="only check that this host can run containers")
    p.add_argument("--patch-from", metavar="RESPONSE", help="apply the JSON patch of this AdmissionResponse first")
    p.add_argument("--duration", type=float, default=5.0, help="seconds the run lasts at most (default 5)")
    p.add_argument("--reboot-after", type=float, action="append", metavar="SECONDS",
                   help="simulate a node reboot at this time (repeatable)")
    p.add_argument("--poll", type=float, default=0.25, help="seconds between two syncs of the pod (default 0.25)")
    p.add_argument("--grace-period", type=float, default=0.5,
                   help="seconds between SIGTERM and SIGKILL when stopping a container (default 0.5)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="factor on the restart back-off (10 s doubling to 5 min); default 1")
    p.add_argument("--run-dir", help="where the volumes, logs and roots go (default: a new temporary directory)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the kubelet's events on standard error")
    args = p.parse_args(argv)
    try:
        check_host()
    except HostError as e:
        print(f"kubelet.py: {e}", file=sys.stderr)
        return 3
    if args.check:
        return 0
    if args.pod is None:
        p.error("the pod to run is missing")
    if args.native_sidecars is None:
        p.error("say whether the node runs native sidecars: --native-sidecars or --no-native-sidecars")
    if args.poll <= 0 or args.duration <= 0 or args.grace_period < 0 or args.time_scale <= 0:
        p.error("--poll, --duration and --time-scale must be positive, --grace-period not negative")
    if args.run_dir is None:
        args.run_dir = tempfile.mkdtemp(prefix="kubelet-")
    try:
        name, spec = load_pod(args.pod, args.patch_from)
        node = Node(name, spec, args)
    except (InputError, OSError, ValueError, KeyError, TypeError) as e:
        print(f"kubelet.py: {e}", file=sys.stderr)
        return 2
    except HostError as e:
        print(f"kubelet.py: {e}", file=sys.stderr)
        return 3
    # A SIGTERM (a test's timeout) ends the run like its end: containers stopped.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = node.run()
    except KeyboardInterrupt:
        print("kubelet.py: interrupted; containers killed", file=sys.stderr)
        return 130
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
