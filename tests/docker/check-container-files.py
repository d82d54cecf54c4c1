#!/usr/bin/env python3
"""Checks the container files (Dockerfile, docker-compose.yml, .dockerignore)
against the built service, without Docker and without network.

    check-container-files.py SOURCE_ROOT [SPOT_CANVAS [SPOT_EXCHANGE_SIM]]

The binaries may also come from DOCKER_CHECK_SERVICE and DOCKER_CHECK_SIM (meson
passes them that way, which keeps their names out of this process's command line).

Prints TAP. What it pins (docs/docker.md, "What is verified"):
- every shared library the built binaries load (ldd) comes from a Debian package
  the image installs (dpkg -S), directly linked ones listed by name;
- every environment variable the Dockerfile and the compose file give the service
  is one the service knows (`spot-canvas --print-config`), and the service accepts
  each container's whole environment (--print-config exits 0);
- HEALTHCHECK, EXPOSE, ports, VOLUME and STATE_DIRECTORY agree with the
  configuration; the stop grace period outlasts SHUTDOWN_TIMEOUT_S + watchdog;
- compose wiring: NATS_URL and DATABASE_URL name healthy services, the demo
  points at the simulator, the shards cover 0..SHARD_COUNT-1 once each.

The compose checks need PyYAML (Debian python3-yaml); without it they are
reported as skipped.
"""

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None

# The shutdown watchdog ends the process this long after SHUTDOWN_TIMEOUT_S
# (docs/operations.md, "Signals and shutdown").
WATCHDOG_S = 2
# Variables of the libraries rather than the service that a container may set.
LIBRARY_VARIABLES = {"GSETTINGS_BACKEND", "G_MESSAGES_DEBUG", "G_DEBUG", "TZ", "LANG", "LC_ALL",
                     "PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT"}
SERVERS = ("nats-server", "postgresql", "postgresql-15", "postgresql-common", "timescaledb")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def case(self, name, fn):
        self.n += 1
        try:
            problems = fn() or []
        except SkipCase as skip:
            print("ok %d - %s # SKIP %s" % (self.n, name, skip))
            return
        except Exception as e:  # a crash in a check is a failure of that check
            problems = ["%s: %s" % (type(e).__name__, e)]
        if problems:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            for p in problems:
                print("# " + p)
        else:
            print("ok %d - %s" % (self.n, name))


class SkipCase(Exception):
    pass


# ---------------------------------------------------------------- Dockerfile

class Stage:
    def __init__(self, base, name):
        self.base = base
        self.name = name
        self.instructions = []  # (KEYWORD, rest)

    def all(self, keyword):
        return [rest for kw, rest in self.instructions if kw == keyword]


def parse_dockerfile(path):
    logical = []
    current = ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            stripped = line.strip()
            # Comment lines end nothing: inside a continued instruction they are dropped.
            if stripped.startswith("#"):
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            current += stripped
            if current.strip():
                logical.append(current.strip())
            current = ""
    if current.strip():
        logical.append(current.strip())

    stages = []
    for line in logical:
        kw, _, rest = line.partition(" ")
        kw = kw.upper()
        rest = rest.strip()
        if kw == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append((kw, rest))
    return stages


def stage_chain(stages, stage):
    """The stage and the stages it is built FROM, nearest first."""
    by_name = {s.name: s for s in stages if s.name}
    chain = [stage]
    while chain[-1].base in by_name:
        chain.append(by_name[chain[-1].base])
    return chain


def apt_packages(stage_list):
    pkgs = []
    for stage in stage_list:
        for run in stage.all("RUN"):
            for cmd in re.split(r"&&|;|\|\|", run):
                words = shlex.split(cmd)
                if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                    after = words[words.index("install") + 1:]
                    pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def env_of(stage_list):
    env = {}
    for stage in reversed(stage_list):  # the base first, later ENV wins
        for rest in stage.all("ENV"):
            words = shlex.split(rest)
            if words and "=" not in words[0]:
                env[words[0]] = " ".join(words[1:])
            else:
                for w in words:
                    k, _, v = w.partition("=")
                    env[k] = v
    return env


def last(stage_list, keyword):
    for stage in stage_list:
        found = stage.all(keyword)
        if found:
            return found[-1]
    return None


# ---------------------------------------------------------------- Debian packages

_owners = {}


def path_variants(path):
    variants = [path, os.path.realpath(path)]
    for p in list(variants):
        variants.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    return variants


def dpkg_owners(paths):
    """Owning packages of many paths with one dpkg -S (each call reads every file list)."""
    pending = sorted({v for p in paths if p not in _owners for v in path_variants(p)})
    found = {}
    if pending:
        r = subprocess.run(["dpkg", "-S"] + pending, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            owners, _, where = line.partition(": ")
            found[where.strip()] = owners.split(",")[0].strip().split(":")[0]
    for p in paths:
        if p not in _owners:
            _owners[p] = next((found[v] for v in path_variants(p) if v in found), None)
    return {p: _owners[p] for p in paths}


def dpkg_owner(path):
    return dpkg_owners([path])[path]


_ldd = {}
# Sanitizer runtimes come with -Db_sanitize build directories, never with the image.
SANITIZER_LIB = re.compile(r"lib(asan|ubsan|lsan|tsan|hwasan)\.so")


def ldd_libraries(binary):
    if binary in _ldd:
        return _ldd[binary]
    r = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    libs = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if SANITIZER_LIB.match(line):
            continue
        if "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" (")[0].strip()
            if target.startswith("/"):
                libs.append(target)
            elif "not found" in line:
                raise RuntimeError("ldd: %s" % line)
        elif line.startswith("/"):
            libs.append(line.split(" (")[0])
    _ldd[binary] = libs
    dpkg_owners(libs)
    return libs


def needed_names(binary):
    r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


_installed = None


def installed_fields():
    global _installed
    if _installed is None:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Essential}\t${Pre-Depends}\t${Depends}\n"],
                           capture_output=True, text=True, check=True)
        _installed = {}
        for line in r.stdout.splitlines():
            name, essential, pre, dep = (line.split("\t") + ["", "", ""])[:4]
            _installed[name] = (essential == "yes", pre + "," + dep)
    return _installed


def closure(roots):
    info = installed_fields()
    seen = set()
    pending = list(roots)
    while pending:
        p = pending.pop()
        if p in seen:
            continue
        seen.add(p)
        if p not in info:
            continue
        for clause in info[p][1].split(","):
            alts = [a.strip().split(" ")[0].split(":")[0] for a in clause.split("|") if a.strip()]
            if not alts:
                continue
            chosen = next((a for a in alts if a in info), alts[0])
            pending.append(chosen)
    return seen


def base_image_packages():
    return closure([p for p, (ess, _) in installed_fields().items() if ess])


def check_libraries(binary, listed, what):
    problems = []
    listed = set(listed)
    provided = closure(listed) | base_image_packages()
    for name in needed_names(binary):
        if SANITIZER_LIB.match(name):
            continue
        path = next((l for l in ldd_libraries(binary) if os.path.basename(l) == name), None)
        if path is None:
            problems.append("%s: NEEDED %s not resolved by ldd" % (what, name))
            continue
        pkg = dpkg_owner(path)
        if pkg is None:
            problems.append("%s: %s belongs to no Debian package" % (what, path))
        elif pkg not in listed and pkg not in base_image_packages():
            problems.append("%s links %s (package %s), which the image does not install by name"
                            % (what, name, pkg))
    for lib in ldd_libraries(binary):
        pkg = dpkg_owner(lib)
        if pkg is None:
            problems.append("%s: %s belongs to no Debian package" % (what, lib))
        elif pkg not in provided:
            problems.append("%s loads %s from %s, which the image's packages do not pull in"
                            % (what, lib, pkg))
    return problems


# ---------------------------------------------------------------- the service

def known_variables(binary):
    r = subprocess.run([binary, "--print-config"], capture_output=True, text=True, env=base_env())
    if r.returncode != 0:
        raise RuntimeError("--print-config failed: " + r.stderr.strip())
    return parse_config(r.stdout)


def parse_config(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            out[k] = v
    return out


def base_env():
    """A clean environment for the binary: the container's variables are added to
    it, nothing of the caller's leaks in except the sanitizers' settings."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def print_config(binary, env):
    full = base_env()
    full.update(env)
    r = subprocess.run([binary, "--print-config"], capture_output=True, text=True, env=full)
    return r.returncode, r.stdout, r.stderr.strip()


def addr_port(addr):
    return addr.rsplit(":", 1)[1]


def addr_host(addr):
    return addr.rsplit(":", 1)[0]


# ---------------------------------------------------------------- compose

_interp = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, env):
    """Compose interpolation with the given variables (defaults when unset)."""
    if not isinstance(value, str):
        return value

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, default = m.group(2), m.group(3) or ""
        if name in env and (op != ":-" or env[name] != ""):
            return env[name]
        return default if op else ""
    return _interp.sub(sub, value)


def environment_of(service, vars_):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: interpolate(str(v), vars_) for k, v in env.items()}


def host_port_of(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port


def mount_of(volume_entry):
    if isinstance(volume_entry, dict):
        return volume_entry.get("source"), volume_entry.get("target")
    parts = volume_entry.split(":")
    return parts[0], parts[1]


def published(port_entry):
    """(host port, container port) of a ports entry."""
    parts = str(port_entry).split(":")
    return parts[-2] if len(parts) >= 2 else None, parts[-1].split("/")[0]


def grace_seconds(text):
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(ms|us|h|m|s)", str(text)):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}[unit]
    return total


# ---------------------------------------------------------------- main

def main():
    args = sys.argv[1:]
    root = args[0] if args else None
    binary = args[1] if len(args) > 1 else os.environ.get("DOCKER_CHECK_SERVICE")
    sim = args[2] if len(args) > 2 else os.environ.get("DOCKER_CHECK_SIM") or None
    if not root or not binary:
        print("usage: check-container-files.py SOURCE_ROOT [SPOT_CANVAS [SPOT_EXCHANGE_SIM]]", file=sys.stderr)
        return 2
    dockerfile = os.path.join(root, "Dockerfile")
    compose_file = os.path.join(root, "docker-compose.yml")
    ignore_file = os.path.join(root, ".dockerignore")

    stages = parse_dockerfile(dockerfile)
    names = {s.name: s for s in stages if s.name}
    final = stages[-1]
    runtime_chain = stage_chain(stages, final)
    runtime_pkgs = apt_packages(runtime_chain)
    runtime_env = env_of(runtime_chain)
    config = known_variables(binary)
    tap = Tap()

    def t_stages():
        p = []
        build = names.get("build")
        if build is None:
            return ["no stage named build"]
        if build.base not in ("debian:12", "debian:bookworm"):
            p.append("build stage is FROM %s, not debian:12" % build.base)
        runtime_root = runtime_chain[-1]
        if not re.match(r"debian:(12|bookworm)(-slim)?$", runtime_root.base):
            p.append("runtime is FROM %s, not debian:12" % runtime_root.base)
        if final.name != "runtime":
            p.append("the last stage (docker build's default) is %s, not runtime" % final.name)
        runs = " ".join(build.all("RUN"))
        if not re.search(r"meson setup .*--buildtype[= ]release", runs):
            p.append("build stage does not run meson setup --buildtype=release")
        if not re.search(r"meson install .*--destdir", runs):
            p.append("build stage does not run meson install --destdir")
        if not re.search(r"cd data/web && npm ci", runs):
            p.append("build stage does not run npm ci in data/web")
        if "-Dweb_assets=enabled" not in runs:
            p.append("build stage does not force -Dweb_assets=enabled (a missing bundle would go unnoticed)")
        for s in runtime_chain:
            if s.all("COPY") and any("node_modules" in c for c in s.all("COPY")):
                p.append("runtime copies node_modules")
        return p

    def t_libraries():
        return check_libraries(binary, runtime_pkgs, "spot-canvas")

    def t_runtime_extras():
        p = []
        for must, why in (("glib-networking", "GIO TLS module for wss:// and https://"),
                          ("ca-certificates", "trust store for Coinbase's TLS")):
            if must not in runtime_pkgs:
                p.append("runtime does not install %s (%s)" % (must, why))
        for pkg in runtime_pkgs:
            if pkg.startswith(SERVERS):
                p.append("runtime installs %s: servers belong in their own containers" % pkg)
        return p

    def healthcheck_cmd():
        hc = last(runtime_chain, "HEALTHCHECK")
        if hc is None:
            raise RuntimeError("no HEALTHCHECK")
        m = re.search(r"\bCMD\s+(.*)$", hc)
        cmd = m.group(1)
        if cmd.startswith("["):
            raise RuntimeError("HEALTHCHECK uses the exec form; the port could not follow HTTP_ADDR")
        return cmd

    def run_healthcheck(env, curl_exit):
        tmp = tempfile.mkdtemp(prefix="docker-check-")
        try:
            log = os.path.join(tmp, "args")
            for tool in ("curl", "wget"):
                with open(os.path.join(tmp, tool), "w") as f:
                    f.write("#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\nexit %d\n" % (log, curl_exit))
                os.chmod(os.path.join(tmp, tool), 0o755)
            full = {"PATH": tmp + ":/usr/bin:/bin"}
            full.update(env)
            r = subprocess.run(["/bin/sh", "-c", healthcheck_cmd()], env=full, capture_output=True, text=True)
            args = open(log).read().split("\n") if os.path.exists(log) else []
            return r.returncode, [a for a in args if a]
        finally:
            shutil.rmtree(tmp)

    def t_healthcheck():
        p = []
        cmd = healthcheck_cmd()
        tool = shlex.split(cmd.split(";")[-1])[0]
        tool_path = shutil.which(tool) or "/usr/bin/" + tool
        owner = dpkg_owner(tool_path)
        if owner not in runtime_pkgs:
            p.append("HEALTHCHECK runs %s (package %s), which the runtime does not install" % (tool, owner))
        expose = [e.split("/")[0] for e in " ".join(s for st in runtime_chain for s in st.all("EXPOSE")).split()]
        port = addr_port(runtime_env.get("HTTP_ADDR", config["HTTP_ADDR"]))
        if port not in expose:
            p.append("EXPOSE %s does not include HTTP_ADDR's port %s" % (expose, port))
        rc, args = run_healthcheck(runtime_env, 0)
        urls = [a for a in args if a.startswith("http")]
        if rc != 0 or urls != ["http://127.0.0.1:%s/health" % port]:
            p.append("HEALTHCHECK with the image's ENV asked %s (exit %d), not http://127.0.0.1:%s/health"
                     % (urls, rc, port))
        env2 = dict(runtime_env, HTTP_ADDR="0.0.0.0:9317")
        rc, args = run_healthcheck(env2, 0)
        if "http://127.0.0.1:9317/health" not in args:
            p.append("HEALTHCHECK does not follow HTTP_ADDR=0.0.0.0:9317: %s" % args)
        rc, _ = run_healthcheck(runtime_env, 22)
        if rc == 0:
            p.append("HEALTHCHECK reports healthy when the request fails")
        return p

    def t_env():
        p = []
        unknown = sorted(set(runtime_env) - set(config) - LIBRARY_VARIABLES)
        if unknown:
            p.append("Dockerfile ENV names variables the service does not know: %s" % ", ".join(unknown))
        rc, out, err = print_config(binary, runtime_env)
        if rc != 0:
            p.append("the service refuses the image's ENV: %s" % err)
            return p
        eff = parse_config(out)
        if addr_host(eff["HTTP_ADDR"]) not in ("0.0.0.0", "", "[::]"):
            p.append("HTTP_ADDR=%s does not listen on every interface inside the container" % eff["HTTP_ADDR"])
        volumes = " ".join(s for st in runtime_chain for s in st.all("VOLUME"))
        if eff["STATE_DIRECTORY"] not in volumes:
            p.append("STATE_DIRECTORY=%s is not a VOLUME (%s)" % (eff["STATE_DIRECTORY"], volumes))
        if eff.get("DBUS_BUS") != "none":
            p.append("DBUS_BUS=%s: a container has no bus" % eff.get("DBUS_BUS"))
        for name, stage in names.items():
            if name == "build":
                continue
            extra = sorted(set(env_of(stage_chain(stages, stage))) - set(config) - LIBRARY_VARIABLES)
            if extra:
                p.append("stage %s sets unknown variables %s" % (name, extra))
        return p

    def t_process():
        p = []
        user = last(runtime_chain, "USER")
        if user is None or user.split(":")[0] in ("root", "0"):
            p.append("the runtime runs as %s, not a non-root user" % user)
        if last(runtime_chain, "STOPSIGNAL") != "SIGTERM":
            p.append("STOPSIGNAL is %s, not SIGTERM" % last(runtime_chain, "STOPSIGNAL"))
        entry = last(runtime_chain, "ENTRYPOINT") or ""
        copies = " ".join(s for st in runtime_chain for s in st.all("COPY"))
        exe = (re.findall(r'"(/[^"]+)"', entry) or [""])[0]
        if not exe or exe not in copies:
            p.append("ENTRYPOINT %s is not a file the runtime copies from the build" % entry)
        return p

    def t_demo():
        demo = names.get("demo")
        if demo is None:
            raise SkipCase("no demo stage")
        chain = stage_chain(stages, demo)
        pkgs = apt_packages(chain)
        p = []
        for must in ("nats-server", "postgresql-15"):
            if must not in pkgs:
                p.append("demo stage does not install %s (it runs the embedded servers)" % must)
        if sim is None:
            raise SkipCase("spot-exchange-sim not built")
        p += check_libraries(sim, pkgs, "spot-exchange-sim")
        copies = " ".join(s for st in chain for s in st.all("COPY"))
        if "spot-exchange-sim" not in copies:
            p.append("demo stage does not copy spot-exchange-sim")
        return p

    def t_dockerignore():
        patterns = [l.strip() for l in open(ignore_file) if l.strip() and not l.startswith("#")]

        def ignored(path):
            hit = False
            for pat in patterns:
                neg = pat.startswith("!")
                pat = pat.lstrip("!").rstrip("/")
                pat_re = pat.replace("**/", "*")
                parts = path.split("/")
                prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
                if any(fnmatch.fnmatchcase(pre, pat) for pre in prefixes) or fnmatch.fnmatchcase(path, pat_re):
                    hit = not neg
            return hit
        p = []
        for needed in ("meson.build", "meson_options.txt", "src/main.c", "src/meson.build", "data/meson.build",
                       "data/web/package.json", "data/web/package-lock.json", "data/web/src",
                       "data/templates/index.html", "migrations", "tests/meson.build", "tools/meson.build",
                       "po"):
            if ignored(needed):
                p.append(".dockerignore excludes %s, which the build needs" % needed)
        for junk in (".git", "data/web/node_modules", "build", "build-docker2", "builddir"):
            if not ignored(junk):
                p.append(".dockerignore lets %s into the build context" % junk)
        for st in stages:
            for c in st.all("COPY"):
                if "--from" in c:
                    continue
                for src in shlex.split(c)[:-1]:
                    if src != "." and (not os.path.exists(os.path.join(root, src)) or ignored(src)):
                        p.append("COPY %s: missing from the build context" % src)
        return p

    for name, fn in (("dockerfile-stages", t_stages),
                     ("runtime-libraries-from-listed-packages", t_libraries),
                     ("runtime-tls-no-servers", t_runtime_extras),
                     ("healthcheck-port-follows-http-addr", t_healthcheck),
                     ("dockerfile-env-known-and-valid", t_env),
                     ("runtime-user-signal-entrypoint", t_process),
                     ("demo-stage-has-sim-and-servers", t_demo),
                     ("dockerignore-keeps-sources-drops-builds", t_dockerignore)):
        tap.case(name, fn)

    # ------------------------------------------------------------ compose
    compose = None
    if yaml is not None:
        with open(compose_file) as f:
            compose = yaml.safe_load(f)
    vars_ = {}  # compose run with an empty shell environment: every default applies

    def need_compose():
        if compose is None:
            raise SkipCase("PyYAML (python3-yaml) not installed")
        return compose["services"]

    def ours(services):
        """Services built from this Dockerfile: those run the service (or the sim)."""
        return {n: s for n, s in services.items() if isinstance(s.get("build"), dict)
                and s["build"].get("context") == "."}

    def is_service(s):
        return "entrypoint" not in s  # the simulator overrides the entrypoint

    def t_compose_build():
        services = need_compose()
        p = []
        for n, s in ours(services).items():
            target = s["build"].get("target")
            if target not in names:
                p.append("%s builds target %s, not a stage of the Dockerfile" % (n, target))
            df = s["build"].get("dockerfile", "Dockerfile")
            if not os.path.exists(os.path.join(root, df)):
                p.append("%s: %s does not exist" % (n, df))
        if not ours(services):
            p.append("no service is built from the Dockerfile")
        return p

    def t_compose_env():
        services = need_compose()
        p = []
        for n, s in ours(services).items():
            if not is_service(s):
                continue
            env = environment_of(s, vars_)
            unknown = sorted(set(env) - set(config) - LIBRARY_VARIABLES)
            if unknown:
                p.append("%s: variables the service does not know: %s" % (n, ", ".join(unknown)))
                continue
            target_env = env_of(stage_chain(stages, names[s["build"]["target"]]))
            merged = dict(target_env, **env)
            rc, out, err = print_config(binary, merged)
            if rc != 0:
                p.append("%s: the service refuses its environment: %s" % (n, err))
                continue
            eff = parse_config(out)
            port = addr_port(eff["HTTP_ADDR"])
            cports = [published(e)[1] for e in s.get("ports", [])]
            if port not in cports:
                p.append("%s publishes %s, not HTTP_ADDR's port %s" % (n, cports, port))
            mounts = dict((t, src) for src, t in map(mount_of, s.get("volumes", [])))
            if eff["STATE_DIRECTORY"] not in mounts:
                p.append("%s: no volume at STATE_DIRECTORY=%s" % (n, eff["STATE_DIRECTORY"]))
            elif mounts[eff["STATE_DIRECTORY"]] not in (compose.get("volumes") or {}):
                p.append("%s: state volume %s is not declared" % (n, mounts[eff["STATE_DIRECTORY"]]))
            grace = grace_seconds(s.get("stop_grace_period", "10s"))
            if grace <= int(eff["SHUTDOWN_TIMEOUT_S"]) + WATCHDOG_S:
                p.append("%s: stop_grace_period %ss does not outlast SHUTDOWN_TIMEOUT_S=%s + %d s watchdog"
                         % (n, grace, eff["SHUTDOWN_TIMEOUT_S"], WATCHDOG_S))
            if s.get("stop_signal", "SIGTERM") != "SIGTERM":
                p.append("%s: stop_signal %s" % (n, s.get("stop_signal")))
        return p

    def t_compose_servers():
        services = need_compose()
        declared = compose.get("volumes") or {}
        p = []
        for n, s in ours(services).items():
            if not is_service(s):
                continue
            env = environment_of(s, vars_)
            deps = s.get("depends_on") or {}
            for var, port_default in (("NATS_URL", 4222), ("DATABASE_URL", 5432)):
                if var not in env:
                    continue
                for url in env[var].split(","):
                    host, port = host_port_of(url)
                    server = services.get(host)
                    if server is None:
                        p.append("%s: %s names %s, not a compose service" % (n, var, host))
                        continue
                    if not (isinstance(deps, dict) and deps.get(host, {}).get("condition") == "service_healthy"):
                        p.append("%s does not wait for %s to be healthy" % (n, host))
                    if "healthcheck" not in server:
                        p.append("%s has no healthcheck" % host)
                    if not any(mount_of(v)[0] in declared for v in server.get("volumes", [])):
                        p.append("%s keeps its data in no named volume" % host)
                    if var == "NATS_URL":
                        cmd = server.get("command") or []
                        cmd = cmd if isinstance(cmd, list) else shlex.split(cmd)
                        if "-js" not in cmd and "--jetstream" not in cmd:
                            p.append("%s runs without JetStream (-js)" % host)
                        if (port or port_default) != 4222 and "-p" not in cmd:
                            p.append("%s: NATS port %s" % (host, port))
                    else:
                        image = interpolate(server.get("image", ""), vars_)
                        if not re.match(r"timescale/timescaledb:.*pg15", image):
                            p.append("%s runs %s, not timescale/timescaledb pg15" % (host, image))
                        senv = environment_of(server, vars_)
                        u = urllib.parse.urlsplit(url)
                        want = (senv.get("POSTGRES_USER"), senv.get("POSTGRES_PASSWORD"), senv.get("POSTGRES_DB"))
                        got = (u.username, u.password, u.path.lstrip("/"))
                        if want != got:
                            p.append("%s: DATABASE_URL user/password/database %s differ from %s's %s"
                                     % (n, got[0::2], host, want[0::2]))
        return p

    def t_compose_demo():
        services = need_compose()
        demo = {n: s for n, s in services.items() if "demo" in (s.get("profiles") or [])}
        if not demo:
            return ["no service in profile demo"]
        p = []
        apps = {n: s for n, s in demo.items() if n in ours(services) and is_service(s)}
        if len(apps) != 1:
            return ["profile demo has %d spot-canvas services, expected 1" % len(apps)]
        n, s = next(iter(apps.items()))
        env = environment_of(s, vars_)
        for var in ("NATS_URL", "DATABASE_URL"):
            if env.get(var):
                p.append("%s sets %s: demo data would reach a shared server" % (n, var))
        target = s["build"]["target"]
        if not {"nats-server", "postgresql-15"} <= set(apt_packages(stage_chain(stages, names[target]))):
            p.append("%s runs target %s, which lacks the embedded servers" % (n, target))
        for var in ("COINBASE_WS_URL", "COINBASE_REST_URL"):
            host, port = host_port_of(env.get(var, ""))
            simsvc = demo.get(host)
            if simsvc is None:
                p.append("%s: %s=%s is not a service of profile demo" % (n, var, env.get(var)))
                continue
            cmd = [interpolate(c, vars_) for c in simsvc.get("command", [])]
            if "--port" not in cmd or cmd[cmd.index("--port") + 1] != str(port):
                p.append("%s: %s port %s is not the simulator's --port" % (n, var, port))
            if "--host" not in cmd or cmd[cmd.index("--host") + 1] not in ("0.0.0.0", "::"):
                p.append("%s listens on loopback only" % host)
            if (s.get("depends_on") or {}).get(host, {}).get("condition") != "service_healthy":
                p.append("%s does not wait for %s to be healthy" % (n, host))
        if env.get("PRODUCTS") != "all":
            p.append("%s: PRODUCTS=%s, not all (the simulator's products)" % (n, env.get("PRODUCTS")))
        return p

    def t_compose_shards():
        services = need_compose()
        p = []
        shards = {}
        for n, s in ours(services).items():
            if not is_service(s):
                continue
            env = environment_of(s, vars_)
            count = int(env.get("SHARD_COUNT", "1"))
            if count > 1:
                shards[n] = (s, env, count)
                if "shards" not in (s.get("profiles") or []):
                    p.append("%s has SHARD_COUNT=%d outside profile shards" % (n, count))
        if not shards:
            return ["no service with SHARD_COUNT > 1"]
        counts = {c for _, _, c in shards.values()}
        if len(counts) != 1:
            return ["shards disagree on SHARD_COUNT: %s" % sorted(counts)]
        count = counts.pop()
        indexes = sorted(int(e.get("SHARD_INDEX", "0")) for _, e, _ in shards.values())
        if indexes != list(range(count)):
            p.append("SHARD_INDEX values %s do not cover 0..%d once each" % (indexes, count - 1))
        for var in ("NATS_URL", "DATABASE_URL", "PRODUCTS"):
            values = {e.get(var) for _, e, _ in shards.values()}
            if len(values) != 1:
                p.append("shards disagree on %s: %s" % (var, values))
        hosts = [published(x)[0] for s, _, _ in shards.values() for x in s.get("ports", [])]
        if len(hosts) != len(set(hosts)):
            p.append("shards publish the same host port: %s" % hosts)
        states = [mount_of(v)[0] for s, e, _ in shards.values() for v in s.get("volumes", [])
                  if mount_of(v)[1] == e.get("STATE_DIRECTORY")]
        if len(states) != len(shards) or len(set(states)) != len(states):
            p.append("shards must each have their own state volume (journal): %s" % states)
        return p

    def t_compose_prometheus():
        services = need_compose()
        prom = services.get("prometheus")
        if prom is None:
            raise SkipCase("no prometheus service")
        script = "\n".join(prom.get("command", []))
        m = re.search(r"<<'EOF'\n(.*?)\nEOF", script, re.S)
        if m is None:
            return ["prometheus: no inline configuration found"]
        p = []
        conf = yaml.safe_load(m.group(1))
        for job in conf["scrape_configs"]:
            for sc in job["static_configs"]:
                for target in sc["targets"]:
                    host, port = target.rsplit(":", 1)
                    s = services.get(host)
                    if s is None:
                        p.append("prometheus scrapes %s, not a compose service" % target)
                        continue
                    env = environment_of(s, vars_)
                    want = addr_port(env.get("HTTP_ADDR", runtime_env["HTTP_ADDR"]))
                    if port != want:
                        p.append("prometheus scrapes %s, the service listens on %s" % (target, want))
        promtool = shutil.which("promtool")
        if promtool:
            with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
                f.write(m.group(1))
                f.flush()
                r = subprocess.run([promtool, "check", "config", f.name], capture_output=True, text=True)
                if r.returncode != 0:
                    p.append("promtool check config: %s" % (r.stdout + r.stderr).strip())
        return p

    for name, fn in (("compose-builds-known-targets", t_compose_build),
                     ("compose-env-known-valid-and-consistent", t_compose_env),
                     ("compose-nats-and-database-wired", t_compose_servers),
                     ("compose-demo-offline-on-simulator", t_compose_demo),
                     ("compose-shards-cover-every-index", t_compose_shards),
                     ("compose-prometheus-targets", t_compose_prometheus)):
        tap.case(name, fn)

    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
