"""deploy/: the manifests render and are least privilege, install.sh, the image's runtime
root filesystem, and the capability checks the manifests rely on (issue 10)."""

import base64
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

import yaml

import httpclient
import otlp
from agent import Agent
from asserts import ASSERT_EQ, ASSERT_GE, ASSERT_TRUE, FATAL, log
from servers import PYTHON
from test_agent import check_usage_error, run_cli
from test_http1 import CLIENT, SERVER

NS = "kerno"
# Issue 9's resources: what Nanobe joins telemetry with. (api group, resource)
ISSUE9_RESOURCES = {
    ("", "pods"), ("", "services"), ("", "nodes"), ("", "namespaces"), ("", "events"),
    ("apps", "replicasets"), ("apps", "deployments"), ("apps", "statefulsets"),
    ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"),
}
READ_VERBS = {"get", "list", "watch"}
# Issue 10: the capabilities Preon may add; NET_ADMIN only with tc programs.
PREON_MAY_ADD = {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE", "NET_ADMIN"}
# Issue 10: read-only hostPath mounts that must be there, and the only writable ones.
PREON_READONLY_HOST = {"/sys/kernel/btf", "/proc", "/var/log/pods"}
PREON_WRITABLE_HOST = {"/sys/fs/bpf", "/var/lib/kerno/preon"}
TRANSPORT_PORT = 4318

# The rendered base, kind and name.
EXPECTED_RESOURCES = [
    ("Namespace", "kerno"),
    ("ServiceAccount", "kerno-nanobe"), ("ServiceAccount", "kerno-preon"),
    ("ClusterRole", "kerno-nanobe"), ("ClusterRole", "kerno-preon"),
    ("ClusterRoleBinding", "kerno-nanobe"), ("ClusterRoleBinding", "kerno-preon"),
    ("ConfigMap", "kerno-nanobe"),
    ("Secret", "kerno-ca"), ("Secret", "kerno-cloud-token"), ("Secret", "kerno-internal-token"),
    ("Secret", "kerno-nanobe-tls"), ("Secret", "kerno-s3"), ("Secret", "kerno-spool-key"),
    ("Service", "kerno-nanobe"),
    ("Deployment", "nanobe"), ("DaemonSet", "preon"),
    ("NetworkPolicy", "kerno-default-deny"), ("NetworkPolicy", "kerno-nanobe-egress"),
    ("NetworkPolicy", "kerno-nanobe-from-preon"), ("NetworkPolicy", "kerno-preon-egress"),
]

ROOTFS_CACHE = "/var/cache/kerno-selftests"
DEBIAN_MIRROR = os.environ.get("KERNO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBOOTSTRAP_TIMEOUT_S = 280


def deploy_dir(ctx):
    return os.path.join(ctx.repo, "deploy")


def install_sh(ctx):
    return os.path.join(deploy_dir(ctx), "install.sh")


def render(ctx):
    res = run_cli(["kubectl", "kustomize", deploy_dir(ctx)], timeout=60)
    if res.returncode != 0:
        FATAL(f"kubectl kustomize deploy/ failed ({res.returncode}): {res.stderr.strip()}")
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def named(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(found) != 1:
        FATAL(f"expected one {kind} {name}, found {len(found)}")
    return found[0]


def find_keys(node, key, path=""):
    """[(path, value)] of every mapping entry named key, anywhere in node."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append((f"{path}.{k}", v))
            found += find_keys(v, key, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += find_keys(v, key, f"{path}[{i}]")
    return found


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def containers(workload):
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def mib(quantity):
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, mult in units.items():
        if str(quantity).endswith(suffix):
            return float(str(quantity)[:-2]) * mult
    return int(quantity) / (1024 * 1024)


def benchmark_peak_rss_mib(ctx):
    """The agent's peak RSS, newest run, from BENCHMARKS.md."""
    with open(os.path.join(ctx.repo, "BENCHMARKS.md")) as f:
        for line in f:
            if line.startswith("| agent peak RSS"):
                # The first figure of the row, bold or not: "| **27.9 MiB** |".
                m = re.search(r"\|\s*\**([\d.]+) MiB", line[len("| agent peak RSS"):])
                if not m:
                    FATAL(f"BENCHMARKS.md: no figure in MiB in {line.strip()!r}")
                return float(m.group(1))
    FATAL("BENCHMARKS.md has no 'agent peak RSS' row")


def has_tc_programs(ctx):
    for path in glob.glob(os.path.join(ctx.repo, "kern", "*.bpf.c")):
        with open(path) as f:
            if re.search(r'SEC\("(tc|tcx|classifier)', f.read()):
                return True
    return False


# ---- the security properties, checked on the base and on install.sh's output ----

class Policy:
    """Collects every violation of issue 10's properties in `problems` (one line each), so a
    test can assert that a good configuration has none and that a bad one is caught."""

    def __init__(self, ctx, docs):
        self.ctx, self.docs, self.problems = ctx, docs, []
        for check in (self.no_privilege_anywhere, self.services, self.rbac, self.network_policies,
                      self.nanobe, self.preon):
            check()

    def expect(self, cond, what):
        if not cond:
            self.problems.append(what)

    def equal(self, actual, expected, what):
        self.expect(actual == expected, f"{what}: expected {expected!r}, actual {actual!r}")

    def no_privilege_anywhere(self):
        for path, value in find_keys(self.docs, "privileged"):
            self.equal(value, False, path)
        for key in ("hostPort", "nodePort"):
            self.equal(find_keys(self.docs, key), [], f"{key} anywhere")
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            for path, value in find_keys(self.docs, key):
                self.equal(value, False, path)
        for d in self.docs:
            if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                self.equal(d["metadata"].get("namespace"), NS, f"namespace of {d['kind']} {d['metadata']['name']}")

    def services(self):
        services = by_kind(self.docs, "Service")
        self.equal([s["metadata"]["name"] for s in services], ["kerno-nanobe"], "Services")
        for s in services:
            spec = s["spec"]
            self.equal(spec.get("type"), "ClusterIP", "kerno-nanobe type (no NodePort, no LoadBalancer)")
            self.equal(spec.get("selector"), {"app.kubernetes.io/name": "nanobe"}, "kerno-nanobe selector")
            self.equal([p["port"] for p in spec["ports"]], [TRANSPORT_PORT], "kerno-nanobe ports")
            for key in ("externalIPs", "loadBalancerIP", "externalName"):
                self.expect(key not in spec, f"kerno-nanobe has {key}")

    def rbac(self):
        granted = {}
        for role in by_kind(self.docs, "ClusterRole") + by_kind(self.docs, "Role"):
            name = role["metadata"]["name"]
            pairs = set()
            for rule in role["rules"]:
                self.expect(set(rule["verbs"]) <= READ_VERBS, f"{name} verbs {rule['verbs']} beyond get/list/watch")
                for field in ("verbs", "resources", "apiGroups"):
                    self.expect("*" not in rule.get(field, []), f"{name} has a wildcard in {field}")
                for field in ("nonResourceURLs", "resourceNames"):
                    self.expect(field not in rule, f"{name} has {field}")
                pairs |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
            granted[name] = pairs
        self.equal(granted.get("kerno-nanobe"), ISSUE9_RESOURCES, "kerno-nanobe: exactly issue 9's resources")
        preon = granted.get("kerno-preon", set())
        self.expect(preon <= ISSUE9_RESOURCES, f"kerno-preon beyond issue 9's resources: {preon - ISSUE9_RESOURCES}")
        self.expect(("", "pods") in preon, "kerno-preon cannot read pods")
        for name, pairs in granted.items():
            self.equal({r for _, r in pairs} & {"secrets", "configmaps"}, set(), f"{name} reads Secrets/ConfigMaps")
        for binding in by_kind(self.docs, "ClusterRoleBinding") + by_kind(self.docs, "RoleBinding"):
            name = binding["metadata"]["name"]
            self.equal(binding["roleRef"]["name"], name, f"{name} binds its own role")
            self.equal([(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]],
                       [("ServiceAccount", name, NS)], f"{name} subjects")

    def network_policies(self):
        policies = by_kind(self.docs, "NetworkPolicy")
        deny = [p for p in policies if p["spec"]["podSelector"] == {}]
        self.equal(len(deny), 1, "policies selecting every pod of the namespace")
        for p in deny:
            self.expect("Ingress" in p["spec"]["policyTypes"], "the catch-all policy does not cover ingress")
            self.equal(p["spec"].get("ingress", []), [], "ingress rules of the catch-all policy")
        self.equal(ingress_edges(policies), [("nanobe", "preon", (("TCP", TRANSPORT_PORT),))],
                   "ingress admitted (Preon -> Nanobe only)")

    def containers_common(self, workload):
        name = workload["metadata"]["name"]
        self.equal(pod_spec(workload).get("securityContext", {}).get("seccompProfile"),
                   {"type": "RuntimeDefault"}, f"{name} seccomp profile")
        for c in containers(workload):
            sc, what = c.get("securityContext", {}), f"{name}/{c['name']}"
            self.equal(sc.get("readOnlyRootFilesystem"), True, f"{what} readOnlyRootFilesystem")
            self.equal(sc.get("allowPrivilegeEscalation"), False, f"{what} allowPrivilegeEscalation")
            self.equal(sc.get("capabilities", {}).get("drop"), ["ALL"], f"{what} capabilities dropped")
            for kind in ("requests", "limits"):
                self.equal(sorted(c.get("resources", {}).get(kind, {})), ["cpu", "memory"], f"{what} {kind}")

    def preon(self):
        preon = named(self.docs, "DaemonSet", "preon")
        self.containers_common(preon)
        (c,) = pod_spec(preon)["containers"]
        self.equal(c["args"], ["preon"], "Preon's command")
        added = set(c["securityContext"]["capabilities"].get("add", []))
        self.expect(added <= PREON_MAY_ADD, f"Preon adds {added - PREON_MAY_ADD}")
        self.expect({"BPF", "PERFMON"} <= added, f"Preon lacks BPF or PERFMON: {added}")
        if not has_tc_programs(self.ctx):
            self.expect("NET_ADMIN" not in added, "Preon adds NET_ADMIN without tc programs")
        mounts = host_mounts(preon)
        for path in sorted(PREON_READONLY_HOST):
            self.equal(mounts.get(path), True, f"Preon mounts {path} read-only")
        self.equal({p for p, ro in mounts.items() if not ro}, PREON_WRITABLE_HOST, "Preon's writable hostPath mounts")
        self.equal(secrets_mounted(preon), ["kerno-ca", "kerno-internal-token", "kerno-spool-key"],
                   "Secrets Preon mounts")
        self.equal(apparmor(preon), {"preon": "unconfined"}, "Preon's AppArmor overrides (bpffs pins)")
        peak = benchmark_peak_rss_mib(self.ctx)
        self.expect(mib(c["resources"]["requests"]["memory"]) >= peak,
                    f"Preon's memory request is below the measured peak RSS {peak} MiB")

    def nanobe(self):
        nanobe = named(self.docs, "Deployment", "nanobe")
        self.containers_common(nanobe)
        pod_sc = pod_spec(nanobe).get("securityContext", {})
        (c,) = pod_spec(nanobe)["containers"]
        sc = c["securityContext"]
        self.equal(c["args"], ["nanobe"], "Nanobe's command")
        self.equal(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")), True, "Nanobe runAsNonRoot")
        self.expect(sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, "Nanobe runs as uid 0")
        self.equal(sc["capabilities"].get("add", []), [], "capabilities Nanobe adds")
        self.equal(host_mounts(nanobe), {}, "Nanobe's hostPath mounts")
        self.equal(apparmor(nanobe), {}, "Nanobe's AppArmor overrides")


def ingress_edges(policies):
    """Every ingress the policies admit: (target pods, source pods, ports)."""
    edges = []
    for p in policies:
        target = p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name", "*")
        for rule in p["spec"].get("ingress", []):
            ports = tuple((x.get("protocol"), x.get("port")) for x in rule.get("ports", []))
            for src in rule.get("from") or [{"anywhere": True}]:
                if set(src) != {"podSelector"}:
                    edges.append((target, "outside the namespace or anywhere", ports))
                else:
                    edges.append((target, src["podSelector"].get("matchLabels", {})
                                  .get("app.kubernetes.io/name", "*"), ports))
    return edges


def host_mounts(workload):
    """{host path: readOnly} of the pod's hostPath volumes as its containers mount them."""
    host = {v["name"]: v["hostPath"]["path"] for v in pod_spec(workload).get("volumes", [])
            if "hostPath" in v}
    mounts = {}
    for c in containers(workload):
        for m in c.get("volumeMounts", []):
            if m["name"] in host:
                mounts[host[m["name"]]] = bool(m.get("readOnly", False))
    return mounts


def apparmor(workload):
    """{container: profile} set by annotation or securityContext.appArmorProfile."""
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    annotations = workload["spec"]["template"]["metadata"].get("annotations") or {}
    found = {k[len(prefix):]: v for k, v in annotations.items() if k.startswith(prefix)}
    for c in containers(workload):
        profile = c.get("securityContext", {}).get("appArmorProfile")
        if profile:
            found[c["name"]] = profile.get("type", "").lower()
    return found


def secrets_mounted(workload):
    return sorted(v["secret"]["secretName"] for v in pod_spec(workload).get("volumes", []) if "secret" in v)


def check_policy(ctx, docs):
    problems = Policy(ctx, docs).problems
    ASSERT_EQ(problems, [], "violations of issue 10's least privilege")


def test_deploy_renders(ctx):
    """Exactly these resources, each labelled as Kerno's (--uninstall finds them by it).
    Compared sorted: kustomize versions order them differently."""
    docs = render(ctx)
    ASSERT_EQ(sorted((d["kind"], d["metadata"]["name"]) for d in docs), sorted(EXPECTED_RESOURCES),
              "rendered resources")
    unlabelled = [(d["kind"], d["metadata"]["name"]) for d in docs
                  if d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != "kerno"]
    ASSERT_EQ(unlabelled, [], "resources without app.kubernetes.io/part-of=kerno")
    for w in by_kind(docs, "DaemonSet") + by_kind(docs, "Deployment"):
        ASSERT_EQ(w["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/part-of"), "kerno",
                  f"{w['metadata']['name']} pods labelled as Kerno's")


def test_deploy_policy(ctx):
    check_policy(ctx, render(ctx))


def test_deploy_policy_catches_violations(ctx):
    """Each violation the policy test exists for, made in a copy of the base, is reported
    (a check that cannot fail is no check)."""
    base = render(ctx)

    def preon(d):
        return pod_spec(d)["containers"][0]

    def nanobe(d):
        return pod_spec(d)["containers"][0]

    cases = [
        ("DaemonSet", "preon", lambda d: preon(d)["securityContext"].update(privileged=True), "privileged"),
        ("DaemonSet", "preon", lambda d: pod_spec(d).update(hostNetwork=True), "hostNetwork"),
        ("Deployment", "nanobe", lambda d: nanobe(d)["ports"][0].update(hostPort=4318), "hostPort"),
        ("Service", "kerno-nanobe", lambda d: d["spec"].update(type="NodePort"), "type"),
        ("Service", "kerno-nanobe", lambda d: d["spec"].update(type="LoadBalancer"), "type"),
        ("ClusterRole", "kerno-preon", lambda d: d["rules"][0].update(verbs=["*"]), "wildcard in verbs"),
        ("ClusterRole", "kerno-preon", lambda d: d["rules"][0].update(verbs=["get", "patch"]), "beyond get"),
        ("ClusterRole", "kerno-nanobe", lambda d: d["rules"][0].update(resources=["*"]), "wildcard in resources"),
        ("ClusterRole", "kerno-preon", lambda d: d["rules"][0]["resources"].append("secrets"), "Secrets"),
        ("NetworkPolicy", "kerno-nanobe-from-preon", lambda d: d["spec"]["ingress"].append({}), "ingress admitted"),
        ("NetworkPolicy", "kerno-nanobe-from-preon",
         lambda d: d["spec"]["ingress"][0]["from"][0].update(namespaceSelector={}), "ingress admitted"),
        ("NetworkPolicy", "kerno-default-deny", lambda d: d["spec"].update(policyTypes=["Egress"]),
         "does not cover ingress"),
        ("Deployment", "nanobe", lambda d: nanobe(d)["securityContext"].update(readOnlyRootFilesystem=False),
         "readOnlyRootFilesystem"),
        ("DaemonSet", "preon", lambda d: preon(d)["securityContext"].update(readOnlyRootFilesystem=False),
         "readOnlyRootFilesystem"),
        ("DaemonSet", "preon", lambda d: preon(d)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
         "capabilities dropped"),
        ("DaemonSet", "preon", lambda d: preon(d)["securityContext"]["capabilities"]["add"].append("SYS_ADMIN"),
         "Preon adds {'SYS_ADMIN'}"),
        ("DaemonSet", "preon", lambda d: preon(d)["securityContext"]["capabilities"]["add"].append("NET_ADMIN"),
         "NET_ADMIN without tc"),
        ("DaemonSet", "preon", lambda d: [m.pop("readOnly") for m in preon(d)["volumeMounts"]
                                          if m["name"] == "host-proc"], "writable hostPath"),
        ("DaemonSet", "preon", lambda d: preon(d)["volumeMounts"].append({"name": "pod-logs", "mountPath": "/x"}),
         "writable hostPath"),
        ("Deployment", "nanobe", lambda d: nanobe(d)["securityContext"].update(runAsNonRoot=False),
         "runAsNonRoot"),
        ("Deployment", "nanobe", lambda d: nanobe(d)["securityContext"].update(runAsUser=0), "uid 0"),
        ("Deployment", "nanobe", lambda d: nanobe(d)["securityContext"].update(
            appArmorProfile={"type": "Unconfined"}), "Nanobe's AppArmor"),
        ("Deployment", "nanobe", lambda d: nanobe(d)["securityContext"]["capabilities"].update(add=["BPF"]),
         "capabilities Nanobe adds"),
        ("Deployment", "nanobe", lambda d: pod_spec(d)["volumes"].append({"name": "h", "hostPath": {"path": "/"}})
         or nanobe(d)["volumeMounts"].append({"name": "h", "mountPath": "/h", "readOnly": True}),
         "Nanobe's hostPath"),
    ]
    for kind, name, change, expected in cases:
        docs = json.loads(json.dumps(base))
        change(named(docs, kind, name))
        problems = Policy(ctx, docs).problems
        ASSERT_TRUE(any(expected in p for p in problems),
                    f"a {kind} {name} changed to violate '{expected}' is reported", repr(problems))


# ---- install.sh ----

def test_deploy_shellcheck(ctx):
    for script in ("install.sh", "runtime-packages.sh"):
        res = run_cli(["shellcheck", os.path.join(deploy_dir(ctx), script)], timeout=120)
        ASSERT_EQ(res.returncode, 0, f"shellcheck deploy/{script}: {res.stdout.strip()[:2000]}")


def test_deploy_install_help(ctx):
    """--help exits 0 and documents every option install.sh parses and every resource it
    creates; a bad option is one line and exit code 2."""
    res = run_cli([install_sh(ctx), "--help"])
    ASSERT_EQ(res.returncode, 0, "install.sh --help exit code")
    with open(install_sh(ctx)) as f:
        parser = f.read().split("parse_args() {", 1)[1].split("\n}\n", 1)[0]
    options = sorted(set(re.findall(r"--[a-z][a-z0-9-]+", parser)))
    ASSERT_GE(len(options), 15, "options found in parse_args")
    for opt in options:
        ASSERT_TRUE(re.search(rf"^\s+(-\w, )?{re.escape(opt)}\b", res.stdout, re.M), f"--help documents {opt}")
    for kind, name in EXPECTED_RESOURCES:
        ASSERT_TRUE(name in res.stdout, f"--help names {kind} {name}")
    ASSERT_TRUE("deploy/install.sh --tag" in res.stdout, "--help shows the one command")
    check_usage_error(run_cli([install_sh(ctx), "--bogus"]), "install.sh --bogus", mention="--bogus")
    check_usage_error(run_cli([install_sh(ctx), "--timeout", "soon"]), "install.sh --timeout soon",
                      mention="timeout")
    check_usage_error(run_cli([install_sh(ctx), "--create-bucket", "--bucket", "b"]),
                      "install.sh --create-bucket without --region", mention="region")
    check_usage_error(run_cli([install_sh(ctx), "--s3-role-arn", "role"]), "install.sh --s3-role-arn role",
                      mention="ARN")


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=30)


def check_certificates(secrets, tmp):
    for name, key in (("kerno-ca", "ca.crt"), ("kerno-nanobe-tls", "tls.crt"), ("kerno-nanobe-tls", "tls.key")):
        with open(os.path.join(tmp, key), "wb") as f:
            f.write(secrets[name][key])
    ca, crt, key = (os.path.join(tmp, k) for k in ("ca.crt", "tls.crt", "tls.key"))
    res = openssl("verify", "-CAfile", ca, "-purpose", "sslserver", crt)
    ASSERT_EQ(res.returncode, 0, f"Nanobe's certificate verifies against the CA: {res.stdout + res.stderr}")
    text = openssl("x509", "-in", crt, "-noout", "-ext", "subjectAltName").stdout.decode()
    sans = sorted(re.findall(r"DNS:([^,\s]+)", text))
    ASSERT_EQ(sans, sorted(["kerno-nanobe", "kerno-nanobe.kerno", "kerno-nanobe.kerno.svc",
                            "kerno-nanobe.kerno.svc.cluster.local"]), "certificate names")
    pub_crt = openssl("x509", "-in", crt, "-noout", "-pubkey").stdout
    pub_key = openssl("pkey", "-in", key, "-pubout").stdout
    ASSERT_TRUE(pub_crt and pub_crt == pub_key, "tls.key is the certificate's key")
    ca_text = openssl("x509", "-in", ca, "-noout", "-text").stdout.decode()
    ASSERT_TRUE("CA:TRUE, pathlen:0" in ca_text, "the CA signs end certificates only", ca_text[:300])
    for name, data in secrets.items():
        for k, v in data.items():
            ASSERT_TRUE(b"PRIVATE KEY" not in v or (name, k) == ("kerno-nanobe-tls", "tls.key"),
                        f"no private key but Nanobe's in {name}/{k} (the CA key is deleted)")


def install_render(ctx, args, env=None):
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("KERNO_S3_")}
    run_env.update(env or {})
    res = subprocess.run([install_sh(ctx), "--render", *args], capture_output=True, text=True,
                         timeout=120, env=run_env, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        FATAL(f"install.sh --render {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()}")
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def secret_data(docs):
    return {s["metadata"]["name"]: {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
            for s in by_kind(docs, "Secret")}


def role_annotations(docs, account):
    """A ServiceAccount's annotations but the config checksum every resource carries."""
    annotations = named(docs, "ServiceAccount", account)["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k != "kerno.dev/config-checksum"}


def test_deploy_install_render(ctx):
    """What install.sh applies, rendered without a cluster: the same least privilege as the
    base, the chosen image, the settings, and complete Secrets with a certificate chain that
    verifies."""
    tmp = tempfile.mkdtemp(prefix="kerno-deploy-")
    ctx.cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
    token_file = os.path.join(tmp, "cloud-token")
    with open(token_file, "w") as f:
        f.write("cloud-secret-123\n")
    docs = install_render(ctx, ["--tag", "v9.8.7", "--image", "registry.example:5000/kerno",
                                "--bucket", "logs-bucket", "--prefix", "team/kerno", "--region", "eu-west-1",
                                "--cloud-url", "wss://cloud.example/v1", "--cloud-token-file", token_file],
                          env={"KERNO_S3_ACCESS_KEY_ID": "AKIDEXAMPLE", "KERNO_S3_SECRET_ACCESS_KEY": "s3cr3t"})
    ASSERT_EQ(sorted((d["kind"], d["metadata"]["name"]) for d in docs), sorted(EXPECTED_RESOURCES),
              "install.sh applies exactly the base's resources")
    check_policy(ctx, docs)
    images = {c["image"] for w in by_kind(docs, "DaemonSet") + by_kind(docs, "Deployment") for c in containers(w)}
    ASSERT_EQ(images, {"registry.example:5000/kerno:v9.8.7"}, "images")
    ASSERT_EQ(named(docs, "ConfigMap", "kerno-nanobe")["data"],
              {"KERNO_S3_BUCKET": "logs-bucket", "KERNO_S3_PREFIX": "team/kerno", "KERNO_S3_REGION": "eu-west-1",
               "KERNO_S3_ENDPOINT": "", "KERNO_CLOUD_URL": "wss://cloud.example/v1"}, "Nanobe's settings")
    secrets = secret_data(docs)
    ASSERT_EQ({n: sorted(d) for n, d in secrets.items()},
              {"kerno-ca": ["ca.crt"], "kerno-cloud-token": ["token"], "kerno-internal-token": ["token"],
               "kerno-nanobe-tls": ["tls.crt", "tls.key"], "kerno-s3": ["access-key-id", "secret-access-key"],
               "kerno-spool-key": ["nanobe", "preon"]}, "Secret keys")
    ASSERT_EQ(secrets.get("kerno-cloud-token", {}).get("token"), b"cloud-secret-123", "cloud token")
    ASSERT_EQ(secrets.get("kerno-s3", {}).get("access-key-id"), b"AKIDEXAMPLE", "S3 key id")
    ASSERT_EQ(secrets.get("kerno-s3", {}).get("secret-access-key"), b"s3cr3t", "S3 secret key")
    random_values = [secrets["kerno-internal-token"]["token"], secrets["kerno-spool-key"]["preon"],
                     secrets["kerno-spool-key"]["nanobe"]]
    ASSERT_EQ([len(base64.b64decode(v)) for v in random_values], [32, 32, 32], "random secrets are 32 bytes")
    ASSERT_EQ(len(set(random_values)), 3, "token and spool keys all differ")
    check_certificates(secrets, tmp)
    checksums = {w["spec"]["template"]["metadata"]["annotations"]["kerno.dev/config-checksum"]
                 for w in by_kind(docs, "DaemonSet") + by_kind(docs, "Deployment")}
    ASSERT_EQ(len(checksums), 1, "one config checksum on both pod templates")
    ASSERT_EQ(role_annotations(docs, "kerno-nanobe"), {}, "no IRSA annotation with static keys")

    # IRSA: the role goes on Nanobe's ServiceAccount and no S3 key is stored.
    arn = "arn:aws:iam::123456789012:role/kerno-nanobe"
    docs = install_render(ctx, ["--tag", "t", "--bucket", "b", "--s3-role-arn", arn])
    ASSERT_EQ(role_annotations(docs, "kerno-nanobe"), {"eks.amazonaws.com/role-arn": arn}, "IRSA annotation")
    ASSERT_EQ(role_annotations(docs, "kerno-preon"), {}, "Preon's ServiceAccount has no role")
    secrets = secret_data(docs)
    ASSERT_EQ((secrets.get("kerno-s3"), secrets.get("kerno-cloud-token")), ({}, {}),
              "no S3 key and no cloud token stored when none was given")


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: closed
  cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}
users:
- name: nobody
  user: {{token: not-a-token}}
contexts:
- name: closed
  context: {{cluster: closed, user: nobody}}
{current}
"""


def test_deploy_install_context(ctx):
    """install.sh's first check, against a real kubectl: no current context, an unknown
    context, and an API server that does not answer each stop it with one line and exit code
    2, before it creates or deletes anything. (Its steps against a cluster need the fake API
    server of the Kubernetes issue.)"""
    tmp = tempfile.mkdtemp(prefix="kerno-kubeconfig-")
    ctx.cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
    port = free_closed_port()
    configs = {}
    for name, current in (("current", "current-context: closed"), ("none", "")):
        configs[name] = os.path.join(tmp, f"{name}.yaml")
        with open(configs[name], "w") as f:
            f.write(KUBECONFIG.format(port=port, current=current))

    def run(config, *args):
        env = dict(os.environ, KUBECONFIG=config, HOME=tmp, TMPDIR=tmp)
        return subprocess.run([install_sh(ctx), *args], capture_output=True, text=True, timeout=120,
                              env=env, stdin=subprocess.DEVNULL)

    unreachable = rf"API server of context 'closed' \(https://127\.0\.0\.1:{port}\) does not answer"
    check_usage_error(run(configs["current"], "--tag", "t"), "install.sh with an unreachable API server",
                      mention=unreachable)
    check_usage_error(run(configs["current"], "--uninstall"), "install.sh --uninstall, unreachable",
                      mention=unreachable)
    check_usage_error(run(configs["none"], "--tag", "t"), "install.sh without a current context",
                      mention="no current context")
    check_usage_error(run(configs["current"], "--context", "elsewhere", "--tag", "t"),
                      "install.sh --context elsewhere", mention="context 'elsewhere' does not exist")
    ASSERT_EQ(glob.glob(os.path.join(tmp, "kerno-install.*")), [],
              "install.sh leaves no work directory (its Secrets) behind")


def free_closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deploy_iam_policy(ctx):
    res = run_cli([install_sh(ctx), "--print-iam-policy", "--bucket", "my-logs", "--prefix", "prod/kerno"])
    ASSERT_EQ(res.returncode, 0, f"--print-iam-policy exit code ({res.stderr.strip()})")
    try:
        policy = json.loads(res.stdout)
    except json.JSONDecodeError as exc:
        FATAL(f"--print-iam-policy printed no JSON ({exc}): {res.stdout[:300]}")
    ASSERT_EQ(policy, {"Version": "2012-10-17", "Statement": [{
        "Sid": "KernoWriteUnderPrefix", "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        "Resource": "arn:aws:s3:::my-logs/prod/kerno/*"}]}, "IAM policy: writes and multipart, prefix only")


# ---- the capabilities the manifests grant, against the agent's own checks ----

def preon_capabilities(ctx):
    (c,) = pod_spec(named(render(ctx), "DaemonSet", "preon"))["containers"]
    return c["securityContext"]["capabilities"]["add"]


def with_only_caps(caps):
    """setpriv argv: root whose bounding (hence effective) set is exactly caps."""
    keep = ",".join(["-all"] + [f"+{c.lower()}" for c in caps])
    return ["setpriv", f"--bounding-set={keep}", "--inh-caps=-all", "--"]


def test_deploy_missing_capability(ctx):
    """Each capability `kerno run` needs, taken away alone: exit code 2 and one line naming
    it. CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, so it goes with them."""
    data = tempfile.mkdtemp(prefix="kerno-caps-")
    ctx.cleanup.callback(shutil.rmtree, data, ignore_errors=True)
    base = [ctx.kerno, "run", "--data-dir", data, "--duration", "1"]
    for cap in ("BPF", "PERFMON", "SYS_PTRACE"):
        drop = f"-{cap.lower()}" + (",-sys_admin" if cap in ("BPF", "PERFMON") else "")
        res = run_cli(["setpriv", f"--bounding-set={drop}", "--inh-caps=-all", "--"] + base)
        check_usage_error(res, f"kerno run without CAP_{cap}", mention=rf"^kerno: missing capability CAP_{cap} ")
        ASSERT_TRUE(f"capabilities.add: [{cap}]" in res.stderr, f"the message says how to grant CAP_{cap}",
                    res.stderr.strip())
    # CAP_PERFMON alone may go while CAP_SYS_ADMIN stays: the kernel accepts either.
    res = run_cli(["setpriv", "--bounding-set=-perfmon", "--inh-caps=-all", "--"] + base)
    ASSERT_EQ(res.returncode, 0, f"kerno run with CAP_SYS_ADMIN instead of CAP_PERFMON: {res.stderr.strip()}")


def test_deploy_preon_capabilities_suffice(ctx):
    """The agent runs and measures with exactly the capabilities the DaemonSet grants (no
    CAP_SYS_ADMIN): exact counts on both sides, and the server's executable name read from
    /proc/PID/exe of a process with more capabilities than the agent (CAP_SYS_PTRACE)."""
    caps = preon_capabilities(ctx)
    log(f"Preon's capabilities: {caps}")
    wrapper = os.path.join(tempfile.mkdtemp(prefix="kerno-caps-"), "kerno")
    ctx.cleanup.callback(shutil.rmtree, os.path.dirname(wrapper), ignore_errors=True)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec " + " ".join(with_only_caps(caps)) + f' "{ctx.kerno}" "$@"\n')
    os.chmod(wrapper, 0o755)
    server = ctx.pyserver()
    agent = Agent(wrapper, ctx.cleanup)
    n = 5
    ASSERT_EQ(httpclient.get(server.port, "/ok", n), [200] * n, "statuses")
    agent.stop()
    points = agent.points()
    server_pts = otlp.select(points, SERVER, {"process.pid": server.pid})
    ASSERT_EQ(otlp.total_count(server_pts), n, "server-side count")
    ASSERT_EQ(otlp.total_count(otlp.select(points, CLIENT, {"process.pid": os.getpid(),
                                                           "server.port": server.port})), n, "client-side count")
    exe = os.path.basename(os.path.realpath(PYTHON))
    ASSERT_EQ({p.resource.get("process.executable.name") for p in server_pts}, {exe},
              "process.executable.name from /proc/PID/exe (not the comm fallback)")


# ---- the image: its runtime root filesystem, built with debootstrap ----

def dockerfile(ctx):
    with open(os.path.join(deploy_dir(ctx), "Dockerfile")) as f:
        return f.read()


def runtime_packages(ctx, binary):
    res = run_cli([os.path.join(deploy_dir(ctx), "runtime-packages.sh"), binary], timeout=60)
    if res.returncode != 0:
        FATAL(f"runtime-packages.sh {binary} failed: {res.stderr.strip()}")
    return res.stdout.split()


def runtime_rootfs(suite, packages):
    """A cached `debootstrap --variant=minbase` of suite with packages; built once per list."""
    key = hashlib.sha256(f"{suite}\n{DEBIAN_MIRROR}\n{' '.join(packages)}".encode()).hexdigest()[:12]
    root = os.path.join(ROOTFS_CACHE, f"rootfs-{suite}-{key}")
    if os.path.exists(os.path.join(root, ".kerno-complete")):
        log(f"cached root filesystem {root}")
        return root
    os.makedirs(ROOTFS_CACHE, exist_ok=True)
    partial = root + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite, partial, DEBIAN_MIRROR]
    log(" ".join(argv))
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        FATAL(f"debootstrap took longer than {DEBOOTSTRAP_TIMEOUT_S}s (mirror {DEBIAN_MIRROR})")
    if res.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        FATAL(f"debootstrap failed ({res.returncode}): {(res.stdout + res.stderr)[-1500:]}")
    open(os.path.join(partial, ".kerno-complete"), "w").close()
    # Only the newest list is kept: the cache stays one root filesystem (about 200 MB).
    for old in glob.glob(os.path.join(ROOTFS_CACHE, f"rootfs-{suite}-*")):
        if old != partial:
            shutil.rmtree(old, ignore_errors=True)
    os.rename(partial, root)
    return root


def test_deploy_image_chroot(ctx):
    """The Dockerfile's runtime stage: Debian's slim base plus the packages
    runtime-packages.sh derives from the binary. The same list, debootstrapped, runs the
    shipped binary (build/kerno, not the sanitizer build) with every symbol bound at load."""
    text = dockerfile(ctx)
    suite = re.search(r"^ARG DEBIAN_SUITE=(\S+)$", text, re.M)
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    if not suite:
        FATAL("deploy/Dockerfile has no ARG DEBIAN_SUITE=...")
    suite = suite.group(1)
    ASSERT_EQ(froms, ["debian:${DEBIAN_SUITE}", "debian:${DEBIAN_SUITE}-slim"], "Dockerfile stages")
    ASSERT_TRUE("deploy/runtime-packages.sh build/kerno > /runtime-packages" in text,
                "the build stage derives the package list with runtime-packages.sh")
    ASSERT_TRUE("apt-get install -y --no-install-recommends $(cat /tmp/runtime-packages)" in text,
                "the runtime stage installs exactly that list")
    # The build stage cannot run here (no container engine): at least every package it
    # installs must exist in Debian's archive under that name.
    build_stage = text.split("AS build", 1)[1].split("\nFROM ", 1)[0]
    install = re.search(r"apt-get install -y --no-install-recommends((?:[^\n]*\\\n)+)", build_stage)
    build_packages = re.findall(r"[a-z0-9][a-z0-9.+-]+", re.sub(r"\\\n", " ", install.group(1))) if install else []
    ASSERT_GE(len(build_packages), 10, "packages the build stage installs")
    shown = subprocess.run(["apt-cache", "show", "--no-all-versions", *build_packages], capture_output=True,
                           text=True, timeout=120).stdout
    known = set(re.findall(r"^Package: (\S+)$", shown, re.M))
    unknown = [p for p in build_packages if p not in known]
    ASSERT_EQ(unknown, [], "build-stage packages Debian does not have")
    binary = os.path.join(ctx.repo, "build", "kerno")
    if not os.path.exists(binary):
        FATAL(f"{binary} not found: run make")
    packages = runtime_packages(ctx, binary)
    log(f"runtime packages: {packages}")
    ASSERT_TRUE({"libbpf1", "libelf1", "libjansson4", "zlib1g"} <= set(packages),
                "the list holds the libraries kerno links today", repr(packages))
    root = runtime_rootfs(suite, packages)
    name = f"kerno-test-{os.getpid()}"
    shutil.copy2(binary, os.path.join(root, "usr", "local", "bin", name))
    ctx.cleanup.callback(os.unlink, os.path.join(root, "usr", "local", "bin", name))
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LD_BIND_NOW": "1"}
    for args in (["version"], ["run", "--help"]):
        host = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
        res = subprocess.run([chroot, root, f"/usr/local/bin/{name}", *args], capture_output=True,
                             text=True, timeout=30, env=env)
        what = "kerno " + " ".join(args)
        ASSERT_EQ(res.returncode, 0, f"{what} in the runtime root filesystem: {res.stderr.strip()}")
        ASSERT_EQ(res.stdout, host.stdout, f"{what}: same output as on the build host")
